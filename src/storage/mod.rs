//! Container root filesystems built from image layers: overlay2 (layers stacked by
//! overlayfs) or vfs (a full copy per container), chosen with `berthd --storage-driver`.

pub mod beneath;
pub mod diff;
pub mod init_layer;
pub mod overlay;
pub mod status;
pub mod tarball;
pub mod tree;
pub mod vfs;

use diff::Changes;
pub use overlay::StorageError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The storage driver a daemon uses.
#[derive(Clone)]
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

    /// What `docker info` shows of the driver (`DriverStatus`), read off the host.
    pub fn status(&self) -> Vec<(String, String)> {
        match self {
            Driver::Overlay2(o) => status::overlay(o.dir()),
            // Docker's vfs driver reports nothing either.
            Driver::Vfs(_) => Vec::new(),
        }
    }

    /// Where container `id`'s init layer goes (inside its own directory, removed with it).
    fn init_dir(&self, id: &str) -> PathBuf {
        match self {
            Driver::Overlay2(o) => o.dir().join(id).join("init"),
            Driver::Vfs(v) => v.dir().join(id).join("init"),
        }
    }

    /// Makes container `id`'s rootfs from `lowers` (topmost layer first) under its init
    /// layer ([`init_layer`]); returns its path.
    pub fn mount(&self, id: &str, lowers: &[PathBuf]) -> Result<PathBuf, StorageError> {
        let layers = init_layer::over(&self.init_dir(id), lowers)?;
        match self {
            Driver::Overlay2(o) => o.mount(id, &layers),
            Driver::Vfs(v) => v.mount(id, &layers),
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

    /// Container `id`'s changes against its image's layers `lowers` (topmost first);
    /// none for a container whose filesystem was never made (never started).
    pub fn changes(&self, id: &str, lowers: &[PathBuf]) -> Result<Changes, StorageError> {
        match self {
            Driver::Overlay2(o) => {
                let upper = o.upper(id);
                if upper.is_dir() {
                    Changes::from_upper(&upper)
                } else {
                    Ok(Changes::default())
                }
            }
            // Against the init layer too: its mount points are not the container's changes.
            Driver::Vfs(v) => match v.rootfs(id) {
                Some(rootfs) => Changes::between(&rootfs, &init_layer::over(&self.init_dir(id), lowers)?),
                None => Ok(Changes::default()),
            },
        }
    }

    /// Writes container `id`'s whole filesystem (its image's layers `lowers`, topmost
    /// first, with its changes on top) as a tar to `out`.
    pub fn export(&self, id: &str, lowers: &[PathBuf], out: impl Write) -> Result<(), StorageError> {
        let layers: Vec<PathBuf> = match self {
            Driver::Overlay2(o) => {
                let init = self.init_dir(id);
                let with_init = if init.is_dir() { init_layer::over(&init, lowers)? } else { lowers.to_vec() };
                std::iter::once(o.upper(id)).filter(|u| u.is_dir()).chain(with_init).collect()
            }
            Driver::Vfs(v) => match v.rootfs(id) {
                Some(rootfs) => vec![rootfs],
                None => lowers.to_vec(),
            },
        };
        diff::write_merged(&tree::Merged::of(&layers)?, out)
    }
}
