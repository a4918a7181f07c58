//! A container's init layer (Docker's `<id>-init`): the mount points the runtime binds or
//! mounts over (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, `/dev/console`, `/proc`,
//! `/sys`, `/dev/pts`, `/dev/shm`) and the `/etc/mtab` link, in a read-only layer of their own
//! between the image and the container's changes. Made once per container; without it the
//! runtime would make them in the container's own layer, where `commit` and `docker diff`
//! would take them for the container's changes.

use std::path::{Path, PathBuf};

use super::overlay::StorageError;

/// Directories of the layer.
const DIRS: &[&str] = &["dev/pts", "dev/shm", "proc", "sys", "etc"];
/// Empty files of the layer.
const FILES: &[&str] = &["etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console"];
/// Symlinks of the layer: (path, target).
const LINKS: &[(&str, &str)] = &[("etc/mtab", "/proc/mounts")];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

/// Makes the init layer at `dir` unless it is there: built beside it and renamed into place,
/// so a crash midway leaves no half-made layer.
pub fn ensure(dir: &Path) -> Result<(), StorageError> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    crate::fsperm::ensure_dir(parent, crate::fsperm::DIR_TRAVERSE).map_err(io(parent))?;
    let tmp = PathBuf::from(format!("{}.tmp", dir.display()));
    let _ = std::fs::remove_dir_all(&tmp);
    crate::fsperm::create_dir_all(&tmp, crate::fsperm::DIR_ROOTFS).map_err(io(&tmp))?;
    for d in DIRS {
        let p = tmp.join(d);
        crate::fsperm::create_dir_all(&p, crate::fsperm::DIR_ROOTFS).map_err(io(&p))?;
    }
    for f in FILES {
        let p = tmp.join(f);
        std::fs::OpenOptions::new().write(true).create_new(true).open(&p).map_err(io(&p))?;
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).map_err(io(&p))?;
    }
    for (link, target) in LINKS {
        let p = tmp.join(link);
        std::os::unix::fs::symlink(target, &p).map_err(io(&p))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))
}

/// `lowers` (topmost first) with the init layer at `dir` made and put on top.
pub fn over(dir: &Path, lowers: &[PathBuf]) -> Result<Vec<PathBuf>, StorageError> {
    ensure(dir)?;
    Ok(std::iter::once(dir.to_path_buf()).chain(lowers.iter().cloned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_holds_the_mount_points_and_goes_on_top() {
        let base = std::env::temp_dir().join(format!("berth-init-layer-{}", std::process::id()));
        let dir = base.join("c1").join("init");
        let lowers = over(&dir, &[PathBuf::from("/image/l1")]).expect("init layer");
        assert_eq!(lowers, [dir.clone(), PathBuf::from("/image/l1")]);
        for f in FILES {
            assert!(dir.join(f).is_file(), "{f}");
        }
        assert!(dir.join("proc").is_dir() && dir.join("dev/shm").is_dir());
        assert_eq!(std::fs::read_link(dir.join("etc/mtab")).expect("mtab"), Path::new("/proc/mounts"));
        ensure(&dir).expect("made once, found after");
        assert!(!PathBuf::from(format!("{}.tmp", dir.display())).exists(), "no temp dir left");
        let _ = std::fs::remove_dir_all(&base);
    }
}
