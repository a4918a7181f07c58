//! The host-side /dev/shm of a container whose IPC namespace others may join (`--ipc
//! shareable`), as Docker keeps `containers/<id>/mounts/shm`: a tmpfs the daemon mounts
//! before the container starts and binds in, so that a container started later with `--ipc
//! container:<it>` binds the same one (a joiner's /dev/shm must be its donor's, or POSIX
//! shared memory would not be shared along with the SysV objects of the namespace).

use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use super::error::DaemonError;

/// Where the shareable /dev/shm of the container whose directory is `dir` is mounted.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("mounts").join("shm")
}

/// Mounts a fresh tmpfs of `size` bytes at [`path`] (what a previous run left there, after a
/// crash, is unmounted first: a container starts with an empty /dev/shm, as under Docker).
pub fn mount_fresh(dir: &Path, size: i64) -> Result<PathBuf, DaemonError> {
    unmount(dir)?;
    let mounts = dir.join("mounts");
    // The tmpfs root is world-writable (1777) like every /dev/shm: the private directory
    // above keeps other users of the host away from it.
    crate::fsperm::ensure_dir(&mounts, crate::fsperm::DIR_PRIVATE).map_err(|source| DaemonError::Io {
        what: "create",
        path: mounts.clone(),
        source,
    })?;
    let p = path(dir);
    crate::fsperm::ensure_dir(&p, crate::fsperm::DIR_PRIVATE).map_err(|source| DaemonError::Io { what: "create", path: p.clone(), source })?;
    let data = format!("mode=1777,size={size}");
    mount(Some("shm"), &p, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, Some(data.as_str()))
        .map_err(|e| DaemonError::Setup(format!("mount the shareable /dev/shm at {}: {e}", p.display())))?;
    Ok(p)
}

/// Unmounts the shareable /dev/shm of the container whose directory is `dir`, if mounted.
/// Detached: a container that joined it keeps its own bind of it until it ends.
pub fn unmount(dir: &Path) -> Result<(), DaemonError> {
    let p = path(dir);
    crate::storage::overlay::unmount_stacked(&p).map_err(|e| DaemonError::Setup(format!("unmount the shareable /dev/shm at {}: {e}", p.display())))
}

/// Whether the shareable /dev/shm of the container whose directory is `dir` is mounted.
pub fn is_mounted(dir: &Path) -> bool {
    crate::storage::overlay::is_mountpoint(&path(dir))
}
