//! overlay2-style container rootfs: the image's extracted layers as read-only lower dirs,
//! a private upper and work dir per container, mounted at `<root>/overlay2/<id>/merged`.
//! When the absolute lowerdir list would not fit the page the kernel takes for mount options,
//! the layers are named by short symlinks in `<root>/overlay2/l/` (like Docker's) and the
//! mount is made with relative paths from a thread whose cwd is `<root>/overlay2`.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};

/// Errors of the overlay driver.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A directory could not be made or removed.
    #[error("overlay {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// mount(2)/umount2(2) failed.
    #[error("{call} {path}: {errno}")]
    Mount { call: &'static str, path: PathBuf, errno: nix::Error },
    /// `--storage-driver` named a driver berth does not have.
    #[error("unknown storage driver {0:?} (berth has overlay2 and vfs)")]
    UnknownDriver(String),
    /// Copying a layer into a vfs rootfs failed.
    #[error("vfs copy {path}: {source}")]
    Copy { path: PathBuf, source: std::io::Error },
    /// A file of a layer or container could not be read (diff, export).
    #[error("read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A tar entry could not be written (the reader went away, or the disk is full).
    #[error("write archive entry {path}: {source}")]
    Archive { path: PathBuf, source: std::io::Error },
}

/// The kernel takes at most a page of mount options.
const PAGE: usize = 4096;

/// The overlay driver rooted at `<root>/overlay2`.
#[derive(Clone)]
pub struct Overlay {
    dir: PathBuf,
}

impl Overlay {
    /// Opens the driver's directory under the daemon root.
    pub fn new(root: &Path) -> Result<Self, StorageError> {
        let dir = root.join("overlay2");
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_TRAVERSE).map_err(|source| StorageError::Io { path: dir.clone(), source })?;
        Ok(Overlay { dir })
    }

    /// The driver's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Container `id`'s upper dir: everything it changed, deletions as whiteouts.
    pub fn upper(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("upper")
    }

    /// Where container `id`'s rootfs is mounted.
    pub fn merged(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("merged")
    }

    /// Makes the container's upper, work and merged dirs (idempotent). The upper dir is the
    /// container's `/` (0755, what it changes later is its own); the rest is private.
    pub fn prepare(&self, id: &str) -> Result<(), StorageError> {
        use crate::fsperm::{DIR_PRIVATE, DIR_ROOTFS, DIR_TRAVERSE};
        let base = self.dir.join(id);
        crate::fsperm::ensure_dir(&base, DIR_TRAVERSE).map_err(|source| StorageError::Io { path: base.clone(), source })?;
        for (sub, mode) in [("upper", DIR_ROOTFS), ("work", DIR_PRIVATE), ("merged", DIR_PRIVATE)] {
            let p = base.join(sub);
            crate::fsperm::create_dir_all(&p, mode).map_err(|source| StorageError::Io { path: p.clone(), source })?;
        }
        Ok(())
    }

    /// Mounts the rootfs of container `id` over `lowers` (topmost layer first); returns the
    /// mount point. Already mounted → nothing to do.
    pub fn mount(&self, id: &str, lowers: &[PathBuf]) -> Result<PathBuf, StorageError> {
        self.prepare(id)?;
        let merged = self.merged(id);
        if is_mountpoint(&merged) {
            return Ok(merged);
        }
        let lower = lowers.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>().join(":");
        let base = self.dir.join(id);
        let data = format!("lowerdir={lower},upperdir={},workdir={}", base.join("upper").display(), base.join("work").display());
        if data.len() < PAGE {
            mount(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(data.as_str())).map_err(|errno| StorageError::Mount {
                call: "mount overlay",
                path: merged.clone(),
                errno,
            })?;
            return Ok(merged);
        }
        let mut short = Vec::new();
        for l in lowers {
            short.push(self.short_link(l)?);
        }
        let data = format!("lowerdir={},upperdir={id}/upper,workdir={id}/work", short.join(":"));
        if data.len() >= PAGE {
            return Err(StorageError::Mount { call: "mount overlay (too many layers)", path: merged, errno: nix::Error::E2BIG });
        }
        let dir = self.dir.clone();
        let target = merged.clone();
        // cwd is per process; a thread that unshares its fs context may chdir alone.
        std::thread::spawn(move || -> Result<(), nix::Error> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
            nix::unistd::chdir(&dir)?;
            mount(Some("overlay"), &target, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
        })
        .join()
        .unwrap_or(Err(nix::Error::EIO))
        .map_err(|errno| StorageError::Mount { call: "mount overlay (short lowerdirs)", path: merged.clone(), errno })?;
        Ok(merged)
    }

    /// `l/<name>`: a short symlink to layer dir `layer`, named by a hash of its path.
    fn short_link(&self, layer: &Path) -> Result<String, StorageError> {
        use sha2::Digest;
        let name: String = hex::encode(sha2::Sha256::digest(layer.as_os_str().as_encoded_bytes())).chars().take(20).collect();
        let l = self.dir.join("l");
        crate::fsperm::ensure_dir(&l, crate::fsperm::DIR_PRIVATE).map_err(|source| StorageError::Io { path: l.clone(), source })?;
        let link = l.join(&name);
        if std::fs::read_link(&link).ok().as_deref() != Some(layer) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(layer, &link).map_err(|source| StorageError::Io { path: link.clone(), source })?;
        }
        Ok(format!("l/{name}"))
    }

    /// Unmounts the rootfs of container `id` if mounted.
    pub fn unmount(&self, id: &str) -> Result<(), StorageError> {
        let merged = self.merged(id);
        unmount_stacked(&merged).map_err(|errno| StorageError::Mount { call: "umount2", path: merged.clone(), errno })
    }

    /// Unmounts and deletes everything of container `id`.
    pub fn remove(&self, id: &str) -> Result<(), StorageError> {
        self.unmount(id)?;
        let p = self.dir.join(id);
        match std::fs::remove_dir_all(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StorageError::Io { path: p, source }),
        }
    }
}

/// Lazily unmounts whatever is mounted at `path` until nothing is (mounts can be stacked);
/// EINVAL once another unmount (a concurrent purge) got there first is no error.
pub fn unmount_stacked(path: &Path) -> Result<(), nix::Error> {
    for _ in 0..8 {
        if !is_mountpoint(path) {
            return Ok(());
        }
        match umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL) if !is_mountpoint(path) => return Ok(()),
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Whether `path` is a mount point, per /proc/self/mountinfo.
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let want = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(want.as_ref()))
}
