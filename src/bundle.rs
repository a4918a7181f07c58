//! The on-disk contract between the supervisor and a shim: the files a shim keeps in a task's
//! bundle directory (its address, the init pid, the runtime options, the exit record), where a
//! shim's socket lives, and the rootfs mounts a shim makes on `<bundle>/rootfs`. Both sides read
//! and write them through this module only, so neither imports the other.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use sha2::{Digest, Sha256};

/// Name of the exit record in a bundle.
pub const EXIT_FILE: &str = "exit.json";
/// Name of the file holding the shim's ttrpc address in a bundle.
pub const ADDRESS_FILE: &str = "address";
/// Runtime options the shim was created with (used by `delete` when the shim is gone).
pub const OPTIONS_FILE: &str = "options.json";
/// The init pid file the runtime writes.
pub const PID_FILE: &str = "init.pid";
/// The directory the container's root filesystem is mounted on.
pub const ROOTFS_DIR: &str = "rootfs";

/// `<bundle>/exit.json`: the init's exit, written the moment it is known.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExitRecord {
    /// The init's pid.
    pub pid: i32,
    /// Exit code, or 128 + signal number.
    pub exit_status: i32,
    /// RFC 3339.
    pub exited_at: String,
}

/// Reads `<bundle>/exit.json`, if present and valid.
pub fn read_exit(bundle: &Path) -> Option<ExitRecord> {
    crate::util::read_json(&bundle.join(EXIT_FILE)).ok()
}

/// Writes `<bundle>/exit.json` (atomically, private).
pub fn write_exit(bundle: &Path, rec: &ExitRecord) -> std::io::Result<()> {
    crate::util::write_json(&bundle.join(EXIT_FILE), rec)
}

/// Removes a previous run's exit record.
pub fn clear_exit(bundle: &Path) {
    let _ = std::fs::remove_file(bundle.join(EXIT_FILE));
}

/// Reads `<bundle>/init.pid`.
pub fn read_pid(bundle: &Path) -> Option<i32> {
    std::fs::read_to_string(bundle.join(PID_FILE)).ok()?.trim().parse().ok()
}

/// Reads the shim's ttrpc address from `<bundle>/address`.
pub fn read_address(bundle: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(bundle.join(ADDRESS_FILE)).map(|s| s.trim().to_owned())
}

/// The supervisor socket path of an address (`unix://` optional).
pub fn strip_unix(addr: &str) -> &str {
    addr.strip_prefix("unix://").unwrap_or(addr)
}

/// containerd-style socket path: `<dir of the supervisor socket>/s/<24 hex of sha256(address+ns+id)>`.
pub fn socket_path(address: &str, namespace: &str, id: &str) -> PathBuf {
    let address = strip_unix(address);
    let mut h = Sha256::new();
    h.update(address.as_bytes());
    h.update(namespace.as_bytes());
    h.update(id.as_bytes());
    let hex = hex::encode(h.finalize());
    let dir = Path::new(address).parent().unwrap_or_else(|| Path::new("/run/berth"));
    dir.join("s").join(&hex[..24])
}

/// One containerd-style rootfs mount (`Mount` of CreateTaskRequest).
#[derive(Debug, Clone, Copy)]
pub struct RootfsMount<'a> {
    /// Filesystem type; empty or `bind` for a bind mount.
    pub kind: &'a str,
    /// Source (device, directory, or `overlay`).
    pub source: &'a str,
    /// Mount options; those that are not flags are filesystem data.
    pub options: &'a [String],
}

/// A rootfs mount failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct MountError {
    /// What was being done.
    pub what: &'static str,
    /// The path it was done on.
    pub path: PathBuf,
    /// The system error.
    #[source]
    pub source: std::io::Error,
}

/// Mounts containerd-style rootfs mounts on `<bundle>/rootfs`.
pub fn mount_rootfs(bundle: &Path, mounts: &[RootfsMount<'_>]) -> Result<(), MountError> {
    let target = bundle.join(ROOTFS_DIR);
    std::fs::create_dir_all(&target).map_err(|source| MountError { what: "create rootfs dir", path: target.clone(), source })?;
    for m in mounts {
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for o in m.options {
            match o.as_str() {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" => {}
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                other => data.push(other.to_owned()),
            }
        }
        let data = data.join(",");
        let fstype = if m.kind.is_empty() || m.kind == "bind" { None } else { Some(m.kind) };
        mount(Some(m.source), &target, fstype, flags, (!data.is_empty()).then_some(data.as_str())).map_err(|e| MountError {
            what: "mount rootfs",
            path: target.clone(),
            source: e.into(),
        })?;
    }
    Ok(())
}

/// Unmounts `<bundle>/rootfs` (lazily, every stacked mount; best effort).
pub fn unmount_rootfs(bundle: &Path) {
    let target = bundle.join(ROOTFS_DIR);
    while umount2(&target, MntFlags::MNT_DETACH).is_ok() {}
}
