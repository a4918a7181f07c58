//! The shim: plays containerd-shim-runc-v2. One resident process per container (started by
//! `start`), a child subreaper that holds the container's stdio, writes its logs, reaps it,
//! records its exit status on disk and serves containerd's shim v2 Task API over ttrpc.
//!
//! Nothing here depends on the supervisor being alive once `start` has returned.

mod container;
pub mod events;
mod process;
pub mod reaper;
pub mod runtime;
pub mod service;
pub mod start;
mod task;

// Read by the daemon too (monolithic mode's stats and OOM events), so they live in the
// runtime layer.
pub use crate::runtime::cgroups::{metrics, of_pid as cgroup, oom};

use std::path::{Path, PathBuf};

pub use service::serve;
pub use start::{delete_action, start};

/// Options of the shim command line (containerd's flags).
#[derive(Debug, Clone, Default)]
pub struct ShimArgs {
    /// argv[0] the shim was started under (re-used for the resident re-exec).
    pub argv0: String,
    /// containerd namespace (`-namespace`).
    pub namespace: String,
    /// Container id (`-id`).
    pub id: String,
    /// Supervisor (containerd) socket (`-address`).
    pub address: String,
    /// Binary used to publish events (`-publish-binary`); empty = do not publish.
    pub publish_binary: String,
    /// Bundle directory (`-bundle`, else the working directory).
    pub bundle: Option<PathBuf>,
    /// Socket the resident shim serves on (`-socket`, set by `start` for the resident).
    pub socket: Option<PathBuf>,
    /// `-debug`.
    pub debug: bool,
}

/// Errors of the shim library.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// A filesystem or process call failed.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// The OCI runtime failed; `msg` is the runtime's own message.
    #[error("container {id}: runtime {call} failed: {msg}")]
    Runtime { id: String, call: String, msg: String },
    /// No container with that id in this shim.
    #[error("container {0}: not found")]
    NotFound(String),
    /// The container id is already used in this shim.
    #[error("container {0}: already exists")]
    AlreadyExists(String),
    /// The request is not valid in the container's current state.
    #[error("container {id}: {msg}")]
    Precondition { id: String, msg: String },
    /// The request is malformed or asks for something unsupported.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The ttrpc server could not be set up.
    #[error("ttrpc on {socket}: {source}")]
    Ttrpc { socket: String, source: ttrpc::Error },
    /// A terminal's console socket failed.
    #[error(transparent)]
    Console(#[from] crate::runtime::console::ConsoleError),
    /// The process's stdio could not be set up.
    #[error(transparent)]
    Stdio(#[from] crate::stdio::StdioError),
    /// A terminal call (window size) failed.
    #[error(transparent)]
    Terminal(#[from] crate::terminal::TerminalError),
    /// The resident shim did not come up.
    #[error("shim for {id} did not start on {socket}: {reason}")]
    StartFailed { id: String, socket: String, reason: String },
}

impl ShimError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        ShimError::Io { what, path: path.to_path_buf(), source }
    }

    /// The ttrpc status this error is reported as (containerd maps codes to errdefs).
    pub fn to_ttrpc(&self) -> ttrpc::Error {
        let code = match self {
            ShimError::NotFound(_) => ttrpc::Code::NOT_FOUND,
            ShimError::AlreadyExists(_) => ttrpc::Code::ALREADY_EXISTS,
            ShimError::Precondition { .. } => ttrpc::Code::FAILED_PRECONDITION,
            ShimError::Invalid(_) => ttrpc::Code::INVALID_ARGUMENT,
            _ => ttrpc::Code::UNKNOWN,
        };
        ttrpc::Error::RpcStatus(ttrpc::get_status(code, self.to_string()))
    }
}

/// Converts an RFC 3339 time to a protobuf (rust-protobuf) timestamp.
pub fn pb_timestamp(rfc3339: &str) -> containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp {
    let mut ts = containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp::new();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) {
        ts.seconds = t.timestamp();
        ts.nanos = t.timestamp_subsec_nanos() as i32;
    }
    ts
}
