//! The container process: spawning init (`spawn`), what init does (`init`), the PATH lookup
//! (`exec`), and the messages between `create` and init.

pub mod exec;
pub mod init;
pub mod spawn;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What `create` sends init over the config pipe.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitConfig {
    /// Container id (for error context).
    pub id: String,
    /// The whole config.json.
    pub spec: oci_spec::runtime::Spec,
    /// Absolute host path of the rootfs.
    pub rootfs: PathBuf,
    /// Host path of the exec fifo.
    pub fifo: PathBuf,
    /// Re-applied after changing uid (the kernel clears it on credential changes).
    pub pdeathsig: Option<i32>,
    /// Namespaces to join by path (clone flag bits, path).
    pub join: Vec<(i32, PathBuf)>,
    /// Unshare a cgroup namespace once in the cgroup.
    pub new_cgroup_ns: bool,
    /// Whether init is in a new mount namespace (then it sets up the rootfs and pivots;
    /// otherwise it only chroots).
    pub new_mount_ns: bool,
    /// Whether init is in a new network namespace (then it brings lo up).
    pub new_net_ns: bool,
    /// process.terminal: connect here and send the pty master.
    pub console_socket: Option<PathBuf>,
    /// Whether init is in a new UTS namespace (then it sets the hostname).
    pub new_uts_ns: bool,
}

/// What init reports back over the status pipe (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitStatus {
    /// Set up; now blocking on the exec fifo.
    Ready,
    /// Setup failed with this message.
    Error(String),
}
