//! The runtime's error type: every variant names the container and what failed, so a line in
//! a shim or daemon log is enough to find the cause.

use std::path::PathBuf;

/// Errors returned by [`crate::runtime::Runtime`].
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// runc's wording: engines parse "container does not exist".
    #[error("container does not exist: {id}")]
    NotFound { id: String },
    /// runc's wording: "container with id exists".
    #[error("container with id exists: {id}")]
    Exists { id: String },
    /// The id cannot be used as a directory name.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// config.json could not be read or parsed.
    #[error("container {id}: loading spec {}: {source}", path.display())]
    Spec { id: String, path: PathBuf, source: oci_spec::OciSpecError },
    /// config.json asks for something invalid or unsupported.
    #[error("container {id}: invalid spec: {reason}")]
    InvalidSpec { id: String, reason: String },
    /// A filesystem operation failed.
    #[error("container {id}: {what} {}: {source}", path.display())]
    Io { id: String, what: &'static str, path: PathBuf, source: std::io::Error },
    /// A system call failed.
    #[error("container {id}: {syscall}: {source}")]
    Sys { id: String, syscall: String, source: nix::errno::Errno },
    /// Creating, configuring or removing the container's cgroup failed.
    #[error("container {id}: cgroup {path}: {msg}")]
    Cgroup { id: String, path: String, msg: String },
    /// linux.resources asks for a limit that cannot be applied on this host (no such
    /// controller or file, no cgroup-v2 form, or a value the kernel rejects): the create or
    /// update fails, as with runc, rather than run the container without it.
    #[error("container {id}: linux.resources.{field}: {reason}")]
    ResourceRefused { id: String, field: String, reason: String },
    /// The container init reported an error (or died) before it was ready. The message keeps
    /// runc's text, e.g. `exec: "x": executable file not found in $PATH`.
    #[error("{msg}")]
    Init { id: String, msg: String },
    /// The operation needs a live container.
    #[error("container {id}: container not running (status {status})")]
    NotRunning { id: String, status: String },
    /// The operation needs a container in another state.
    #[error("container {id}: {msg}")]
    BadState { id: String, msg: String },
    /// Persisted state could not be read or written.
    #[error("container {id}: state {}: {source}", path.display())]
    State { id: String, path: PathBuf, source: std::io::Error },
    /// A command-line value (an exec flag, an update value) is invalid.
    #[error("container {id}: {reason}")]
    InvalidArgument { id: String, reason: String },
    /// A feature this runtime does not implement yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl RuntimeError {
    /// Shorthand for [`RuntimeError::Io`].
    pub(crate) fn io(id: &str, what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io { id: id.to_owned(), what, path: path.into(), source }
    }
    /// Shorthand for [`RuntimeError::Sys`].
    pub(crate) fn sys(id: &str, syscall: impl Into<String>, source: nix::errno::Errno) -> Self {
        RuntimeError::Sys { id: id.to_owned(), syscall: syscall.into(), source }
    }
    /// Whether this is the "container does not exist" error.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::NotFound { .. })
    }
}
