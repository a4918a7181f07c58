//! The container process: spawning init (`spawn`), what init does (`init`), the PATH lookup
//! (`exec`), and the messages between `create` and init.

pub mod exec;
pub mod init;
pub mod join;
pub mod spawn;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What the parent sends `berth-runtime init` over the config pipe: set up a new container
/// (`create`) or join a running one (`exec`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Setup {
    /// Become the init of a new container.
    Create(Box<InitConfig>),
    /// Join an existing container and exec a process in it.
    Exec(Box<ExecConfig>),
}

/// What `exec` sends the joining process.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecConfig {
    /// Container id (for error context).
    pub id: String,
    /// The process to run (args, env, cwd, user, capabilities, ...).
    pub process: oci_spec::runtime::Process,
    /// Namespaces to join, user namespace first (clone flag bits, /proc/<init>/ns/<x>).
    pub join: Vec<(i32, PathBuf)>,
    /// Chroot here after joining (a container without its own mount namespace).
    pub chroot: Option<PathBuf>,
    /// process.terminal: connect here and send the pty master.
    pub console_socket: Option<PathBuf>,
    /// The container's seccomp profile, applied last.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// fds 3..3+N are passed to the process.
    pub preserve_fds: u32,
}

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
    /// The exec fifo, opened O_PATH by the parent (init's number for it).
    #[serde(default)]
    pub fifo_fd: Option<i32>,
    /// Re-applied after changing uid (the kernel clears it on credential changes).
    pub pdeathsig: Option<i32>,
    /// Namespaces to join by path (clone flag bits, path).
    pub join: Vec<(i32, PathBuf)>,
    /// Where the container's cgroup is in each hierarchy (what `cgroup` mounts show).
    pub cgroup: crate::runtime::cgroups::CgroupPaths,
    /// Unshare a cgroup namespace once in the cgroup.
    pub new_cgroup_ns: bool,
    /// Whether init is in a new mount namespace (then it sets up the rootfs and pivots;
    /// otherwise it only chroots).
    pub new_mount_ns: bool,
    /// Whether init is in a new network namespace (then it brings lo up).
    pub new_net_ns: bool,
    /// process.terminal: the console socket, connected by the parent (init's number for
    /// it); init sends the pty master over it.
    #[serde(default)]
    pub console_fd: Option<i32>,
    /// Whether init is in a new UTS namespace (then it sets the hostname).
    pub new_uts_ns: bool,
    /// fds 3..3+N are passed to the process.
    pub preserve_fds: u32,
}

/// What init reports back over the status pipe (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitStatus {
    /// Set up; now blocking on the exec fifo.
    Ready,
    /// `exec`: the host pid of the process that will exec (its own status may come first).
    Pid(i32),
    /// Setup failed with this message.
    Error(String),
}
