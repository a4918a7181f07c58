//! overlay2-style container rootfs: the image's extracted layers as read-only lower dirs,
//! a private upper and work dir per container, mounted at `<root>/overlay2/<id>/merged`.

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
}

/// The overlay driver rooted at `<root>/overlay2`.
pub struct Overlay {
    dir: PathBuf,
}

impl Overlay {
    /// Opens the driver's directory under the daemon root.
    pub fn new(root: &Path) -> Result<Self, StorageError> {
        let dir = root.join("overlay2");
        std::fs::create_dir_all(&dir).map_err(|source| StorageError::Io { path: dir.clone(), source })?;
        Ok(Overlay { dir })
    }

    /// Where container `id`'s rootfs is mounted.
    pub fn merged(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("merged")
    }

    /// Makes the container's upper, work and merged dirs (idempotent).
    pub fn prepare(&self, id: &str) -> Result<(), StorageError> {
        for sub in ["upper", "work", "merged"] {
            let p = self.dir.join(id).join(sub);
            std::fs::create_dir_all(&p).map_err(|source| StorageError::Io { path: p.clone(), source })?;
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
        let data = format!(
            "lowerdir={lower},upperdir={},workdir={}",
            base.join("upper").display(),
            base.join("work").display()
        );
        mount(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
            .map_err(|errno| StorageError::Mount { call: "mount overlay", path: merged.clone(), errno })?;
        Ok(merged)
    }

    /// Unmounts the rootfs of container `id` if mounted.
    pub fn unmount(&self, id: &str) -> Result<(), StorageError> {
        let merged = self.merged(id);
        if is_mountpoint(&merged) {
            umount2(&merged, MntFlags::MNT_DETACH)
                .map_err(|errno| StorageError::Mount { call: "umount2", path: merged.clone(), errno })?;
        }
        Ok(())
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

/// Whether `path` is a mount point, per /proc/self/mountinfo.
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let want = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(want.as_ref()))
}
