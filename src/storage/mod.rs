//! Container root filesystems built from image layers: overlay2 (layers stacked by
//! overlayfs) or vfs (a full copy per container), chosen with `berthd --storage-driver`.

pub mod overlay;
pub mod vfs;

pub use overlay::StorageError;
use std::path::{Path, PathBuf};

/// The storage driver a daemon uses.
pub enum Driver {
    Overlay2(overlay::Overlay),
    Vfs(vfs::Vfs),
}

impl Driver {
    /// Opens driver `name` ("overlay2" or "vfs") under the daemon root.
    pub fn open(root: &Path, name: &str) -> Result<Driver, StorageError> {
        match name {
            "overlay2" | "overlay" | "" => Ok(Driver::Overlay2(overlay::Overlay::new(root)?)),
            "vfs" => Ok(Driver::Vfs(vfs::Vfs::new(root)?)),
            other => Err(StorageError::UnknownDriver(other.to_owned())),
        }
    }

    /// The driver's name as `docker info` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Overlay2(_) => "overlay2",
            Driver::Vfs(_) => "vfs",
        }
    }

    /// Makes container `id`'s rootfs from `lowers` (topmost layer first); returns its path.
    pub fn mount(&self, id: &str, lowers: &[PathBuf]) -> Result<PathBuf, StorageError> {
        match self {
            Driver::Overlay2(o) => o.mount(id, lowers),
            Driver::Vfs(v) => v.mount(id, lowers),
        }
    }

    /// Releases container `id`'s rootfs (keeping its changes).
    pub fn unmount(&self, id: &str) -> Result<(), StorageError> {
        match self {
            Driver::Overlay2(o) => o.unmount(id),
            Driver::Vfs(_) => Ok(()),
        }
    }

    /// Deletes everything of container `id`.
    pub fn remove(&self, id: &str) -> Result<(), StorageError> {
        match self {
            Driver::Overlay2(o) => o.remove(id),
            Driver::Vfs(v) => v.remove(id),
        }
    }
}
