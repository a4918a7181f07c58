//! The supervisor: plays containerd. Serves containerd's gRPC API (containers, tasks, events,
//! version, namespaces) on a unix socket, keeps container metadata on disk, starts one shim
//! per task and talks to it over ttrpc. Everything needed to find a task again is on disk,
//! so a restarted supervisor re-attaches to the shims that survived it.

pub mod config;
pub mod events;
pub mod leases;
mod recovery;
mod relay;
pub mod server;
pub mod shim_client;
pub mod shim_launch;
pub mod store;
mod task;
pub mod tasks;
pub mod ttrpc_events;

use std::path::{Path, PathBuf};

pub use server::{connect, run};

/// Where the supervisor listens and keeps its state.
#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC socket (`--address`).
    pub address: PathBuf,
    /// Persistent metadata (`--root`).
    pub root: PathBuf,
    /// Volatile state: bundles, shim sockets (`--state`).
    pub state: PathBuf,
    /// Binary the shims run as `<bin> --address A publish --topic T --namespace NS`.
    pub publish_binary: PathBuf,
    /// Which shim serves `io.containerd.runc.v2`.
    pub runc_shim: shim_launch::RuncShim,
}

/// gRPC metadata header carrying the namespace, as in containerd.
pub const NAMESPACE_HEADER: &str = "containerd-namespace";
/// Runtime name of berth's own shim.
pub const BERTH_RUNTIME: &str = "io.containerd.berth.v2";

/// Errors of the supervisor library.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A filesystem call failed.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// A name (namespace, container id) is not usable as a path component.
    #[error("invalid {what} {name:?}")]
    InvalidName { what: &'static str, name: String },
    /// No such container or task.
    #[error("{what} {id} not found in namespace {ns}")]
    NotFound { what: &'static str, ns: String, id: String },
    /// It already exists.
    #[error("{what} {id} already exists in namespace {ns}")]
    AlreadyExists { what: &'static str, ns: String, id: String },
    /// Invalid request.
    #[error("{0}")]
    Invalid(String),
    /// The shim could not be started or answered with an error.
    #[error("container {id}: shim {call}: {msg}")]
    Shim { id: String, call: &'static str, code: i32, msg: String },
    /// The gRPC server failed.
    #[error("gRPC server on {path}: {source}")]
    Serve { path: PathBuf, source: tonic::transport::Error },
    /// A namespace that still holds containers cannot go.
    #[error("namespace {0} must be empty, but it still has containers")]
    NotEmpty(String),
    /// A blocking task (a shim call) died before answering.
    #[error("blocking task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Another supervisor already serves this socket.
    #[error("{0}: another supervisor is already listening there")]
    InUse(PathBuf),
}

impl SupervisorError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        SupervisorError::Io { what, path: path.to_path_buf(), source }
    }

    pub(crate) fn shim(id: &str, call: &'static str, e: ttrpc::Error) -> Self {
        let (code, msg) = match e {
            ttrpc::Error::RpcStatus(s) => (s.code.value(), s.message),
            other => (tonic::Code::Unavailable as i32, other.to_string()),
        };
        SupervisorError::Shim { id: id.into(), call, code, msg }
    }
}

impl From<SupervisorError> for tonic::Status {
    fn from(e: SupervisorError) -> Self {
        let code = match &e {
            SupervisorError::NotFound { .. } => tonic::Code::NotFound,
            SupervisorError::AlreadyExists { .. } => tonic::Code::AlreadyExists,
            SupervisorError::NotEmpty(_) => tonic::Code::FailedPrecondition,
            SupervisorError::InvalidName { .. } | SupervisorError::Invalid(_) => tonic::Code::InvalidArgument,
            SupervisorError::Shim { code, .. } => tonic::Code::from_i32(*code),
            _ => tonic::Code::Internal,
        };
        // The shim/runtime's own message (e.g. `executable file not found in $PATH`) reaches the client.
        tonic::Status::new(code, e.to_string())
    }
}

/// Checks that `name` is a single, safe path component.
pub fn check_name(what: &'static str, name: &str) -> Result<(), SupervisorError> {
    let ok = !name.is_empty() && name.len() <= 255 && name != "." && name != ".." && !name.contains('/') && !name.contains('\0');
    if ok {
        Ok(())
    } else {
        Err(SupervisorError::InvalidName { what, name: name.into() })
    }
}
