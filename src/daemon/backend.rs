//! Where containers actually run. Modular mode hands them to a supervisor over containerd's
//! gRPC API; monolithic mode runs them as the daemon's own children. The daemon calls
//! both the same way.

use super::{monolithic::Monolithic, supervisor_client::SupervisorClient};
use crate::logs::LogTarget;
use serde_json::Value;

/// What the backend reports of a container's task as it happens.
#[derive(Debug, Clone)]
pub enum TaskEvent {
    /// Its init process ended.
    Exit(ExitEvent),
    /// The kernel's OOM killer acted in its memory cgroup (containerd's TaskOOM).
    Oom { id: String },
}

/// A container's process ended.
#[derive(Debug, Clone)]
pub struct ExitEvent {
    pub id: String,
    pub exit_code: i64,
    pub exited_at: chrono::DateTime<chrono::Utc>,
}

/// What the backend knows of a container's task, for reconciliation after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    /// The container's process runs; `paused` when its processes are frozen.
    Running {
        pid: i32,
        paused: bool,
    },
    /// Created but never started: its init waits for `start`, the user's process never ran.
    Created {
        pid: i32,
    },
    Stopped {
        exit_code: i64,
    },
    Missing,
}

/// Errors of a backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The runtime refused to create or start the container or an exec (its own message).
    #[error("failed to create task for container: {0}")]
    Start(String),
    /// The backend has no task (or exec process) by this id.
    #[error("no task for container {0}")]
    NotFound(String),
    /// The task's state forbids the call.
    #[error("{0}")]
    Conflict(String),
    /// The supervisor could not be reached, or went away mid-call.
    #[error("supervisor unavailable: {0}")]
    Unavailable(String),
    /// The supervisor answered with an error of its own.
    #[error("supervisor: {}", .0.message())]
    Supervisor(#[source] tonic::Status),
    /// A container record the supervisor kept from an earlier run could not be replaced.
    #[error("cannot replace the supervisor's earlier record: {0}")]
    Leftover(#[source] super::reconcile::PurgeError),
    /// The supervisor's address is unusable.
    #[error("supervisor address: {0}")]
    Address(#[source] tonic::transport::Error),
    /// The in-process runtime failed (monolithic mode).
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A process's stdio could not be set up.
    #[error(transparent)]
    Stdio(#[from] crate::stdio::StdioError),
    /// A terminal's console socket failed.
    #[error(transparent)]
    Console(#[from] crate::runtime::console::ConsoleError),
    /// A terminal call (window size) failed.
    #[error(transparent)]
    Terminal(#[from] crate::terminal::TerminalError),
    /// A file or thread call of the backend failed.
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: std::path::PathBuf, source: std::io::Error },
    /// A spec or process could not be encoded or decoded.
    #[error("{what}: {source}")]
    Json { what: &'static str, source: serde_json::Error },
    /// The containerd namespace is not a valid name.
    #[error("{0}")]
    Namespace(String),
    /// The runtime options could not be encoded.
    #[error("encode the runtime options: {0}")]
    Options(#[source] containerd_shim_protos::protobuf::Error),
    /// A blocking task of the backend died.
    #[error("{what}: {source}")]
    Task { what: &'static str, source: tokio::task::JoinError },
    /// A container's statistics could not be read or encoded.
    #[error("container statistics: {0}")]
    Metrics(String),
    /// The monolithic launcher thread is gone (or dropped the request).
    #[error("the container launcher thread is gone")]
    LauncherGone,
}

impl BackendError {
    /// An I/O error of `path` while doing `what`.
    pub fn io(what: &'static str, path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        BackendError::Io { what, path: path.into(), source }
    }
}

/// The backend of a running daemon.
pub enum Backend {
    Modular(SupervisorClient),
    Monolithic(Monolithic),
}

impl Backend {
    /// Creates and starts container `id` from `spec`, its output going to the json-file log
    /// and its stdin read from the fifo `stdin` (empty: /dev/null). With `process.terminal`
    /// in the spec, the init gets a pty whose master the shim (or this daemon) holds.
    pub async fn start(&self, id: &str, spec: &Value, log: &LogTarget, stdin: &str) -> Result<i32, BackendError> {
        match self {
            Backend::Modular(s) => s.start(id, spec, log, stdin).await,
            Backend::Monolithic(m) => m.start(id, spec, log, stdin).await,
        }
    }

    /// Closes the container init's stdin once what is in its fifo has been read (CloseIO).
    pub async fn close_stdin(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.exec_close_stdin(id, "").await,
            Backend::Monolithic(m) => {
                m.exec_close_stdin(&super::monolithic::init_key(id));
                Ok(())
            }
        }
    }

    /// Sets the window size of the container init's terminal.
    pub async fn resize(&self, id: &str, width: u32, height: u32) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.exec_resize(id, "", width, height).await,
            Backend::Monolithic(m) => m.exec_resize(&super::monolithic::init_key(id), width, height),
        }
    }

    /// Sends `signal` to the container's init.
    pub async fn kill(&self, id: &str, signal: i32) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.kill(id, signal).await,
            Backend::Monolithic(m) => m.kill(id, signal).await,
        }
    }

    /// Freezes every process of the container (`runc pause`, containerd's Pause).
    pub async fn pause(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.pause(id, true).await,
            Backend::Monolithic(m) => m.pause(id, true).await,
        }
    }

    /// Thaws a paused container (`runc resume`, containerd's Resume).
    pub async fn resume(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.pause(id, false).await,
            Backend::Monolithic(m) => m.pause(id, false).await,
        }
    }

    /// Applies new cgroup limits (`linux.resources` JSON) to a running container's task
    /// (containerd's Task.Update, `runc update`).
    pub async fn update(&self, id: &str, resources: &Value) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.update(id, resources).await,
            Backend::Monolithic(m) => m.update(id, resources).await,
        }
    }

    /// The cgroup statistics of running container `id` whose init is `pid`: (type url,
    /// encoded `io.containerd.cgroups.v1.Metrics` or `.v2.Metrics`); None without a task.
    pub async fn metrics(&self, id: &str, pid: i32) -> Result<Option<(String, Vec<u8>)>, BackendError> {
        match self {
            Backend::Modular(s) => s.metrics(id).await,
            Backend::Monolithic(m) => m.metrics(pid).await,
        }
    }

    /// Releases what the backend holds for an exited container.
    pub async fn delete(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.delete(id).await,
            Backend::Monolithic(m) => m.delete(id).await,
        }
    }

    /// The task's status as the backend sees it now.
    pub async fn status(&self, id: &str) -> Result<TaskStatus, BackendError> {
        match self {
            Backend::Modular(s) => s.status(id).await,
            Backend::Monolithic(m) => m.status(id).await,
        }
    }

    /// Name and version of the component below the daemon, for `/version`.
    pub fn component(&self) -> (&'static str, &'static str) {
        match self {
            Backend::Modular(_) => ("berth-supervisor", env!("CARGO_PKG_VERSION")),
            Backend::Monolithic(_) => ("berth-runtime (in-process, monolithic)", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Starts `process` (an OCI process) in running container `id` as `exec_id`, its stdio on
    /// the fifos `stdio` (stdin, stdout, stderr; empty: none); returns its pid.
    pub async fn exec(&self, id: &str, exec_id: &str, process: &Value, stdio: [String; 3]) -> Result<i32, BackendError> {
        match self {
            Backend::Modular(s) => s.exec(id, exec_id, process, stdio).await,
            Backend::Monolithic(m) => m.exec(id, exec_id, process, stdio).await,
        }
    }

    /// Waits for exec process `exec_id` of container `id`; its exit code. Its output has
    /// been written to its fifos when this returns.
    pub async fn exec_wait(&self, id: &str, exec_id: &str) -> Result<i64, BackendError> {
        match self {
            Backend::Modular(s) => s.exec_wait(id, exec_id).await,
            Backend::Monolithic(m) => m.exec_wait(exec_id).await,
        }
    }

    /// Tells the exec process its stdin ended, where closing our end of the fifo does not
    /// (the stdin copier holds it open for reading and writing, in either mode).
    pub async fn exec_close_stdin(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.exec_close_stdin(id, exec_id).await,
            Backend::Monolithic(m) => {
                m.exec_close_stdin(exec_id);
                Ok(())
            }
        }
    }

    /// Sets the window size of exec process `exec_id`'s terminal.
    pub async fn exec_resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.exec_resize(id, exec_id, width, height).await,
            Backend::Monolithic(m) => m.exec_resize(exec_id, width, height),
        }
    }

    /// Releases what the backend holds for an exited exec process.
    pub async fn exec_delete(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Modular(s) => s.exec_delete(id, exec_id).await,
            Backend::Monolithic(_) => Ok(()),
        }
    }
}
