//! The vfs driver: each container gets a full copy of its image's layers under
//! `<root>/vfs/<id>/rootfs`, applied bottom-up with overlay whiteouts honoured (a 0:0 char
//! device deletes, `trusted.overlay.opaque=y` empties the directory first). Slow and big,
//! but needs no overlayfs.

use super::overlay::StorageError;
use super::tree::{is_opaque, is_whiteout};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The vfs driver rooted at `<root>/vfs`.
#[derive(Clone)]
pub struct Vfs {
    dir: PathBuf,
}

fn copy_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Copy { path: path.to_path_buf(), source }
}

impl Vfs {
    /// Opens the driver's directory under the daemon root.
    pub fn new(root: &Path) -> Result<Self, StorageError> {
        let dir = root.join("vfs");
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_TRAVERSE).map_err(|source| StorageError::Io { path: dir.clone(), source })?;
        Ok(Vfs { dir })
    }

    /// The driver's directory (`<root>/vfs`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Container `id`'s full copy, if it was made (completely): it is made at first start.
    pub fn rootfs(&self, id: &str) -> Option<PathBuf> {
        let base = self.dir.join(id);
        base.join(".complete").exists().then(|| base.join("rootfs"))
    }

    /// Copies `lowers` (topmost first) into container `id`'s rootfs once; returns its path.
    pub fn mount(&self, id: &str, lowers: &[PathBuf]) -> Result<PathBuf, StorageError> {
        let base = self.dir.join(id);
        let rootfs = base.join("rootfs");
        // The marker makes a copy interrupted by a crash start over rather than run half-made.
        let done = base.join(".complete");
        if done.exists() {
            return Ok(rootfs);
        }
        let _ = std::fs::remove_dir_all(&rootfs);
        crate::fsperm::ensure_dir(&base, crate::fsperm::DIR_TRAVERSE).map_err(copy_err(&base))?;
        crate::fsperm::create_dir_all(&rootfs, crate::fsperm::DIR_ROOTFS).map_err(copy_err(&rootfs))?;
        let mut links = Links::new();
        for layer in lowers.iter().rev() {
            apply_dir(layer, &rootfs, &mut links)?;
        }
        crate::fsperm::create_private(&done).map_err(copy_err(&done))?;
        Ok(rootfs)
    }

    /// Deletes everything of container `id`.
    pub fn remove(&self, id: &str) -> Result<(), StorageError> {
        let p = self.dir.join(id);
        match std::fs::remove_dir_all(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StorageError::Io { path: p, source: e }),
            _ => Ok(()),
        }
    }
}

fn remove_any(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

fn copy_meta(src: &Path, dst: &Path, md: &std::fs::Metadata) -> Result<(), StorageError> {
    let link = md.file_type().is_symlink();
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid())).map_err(copy_err(dst))?;
    if !link {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777)).map_err(copy_err(dst))?;
    }
    if let Ok(names) = xattr::list(src) {
        for n in names {
            if n.to_string_lossy().starts_with("trusted.overlay.") {
                continue;
            }
            if let Ok(Some(v)) = xattr::get(src, &n) {
                let _ = xattr::set(dst, &n, &v);
            }
        }
    }
    let t = filetime::FileTime::from_last_modification_time(md);
    let _ = filetime::set_symlink_file_times(dst, t, t);
    Ok(())
}

/// Files of the layers with several links, by (dev, inode), and where their first copy went:
/// their other names become hard links to that copy, as in the layer.
type Links = std::collections::HashMap<(u64, u64), PathBuf>;

/// Applies the extracted layer `src` on top of `dst`.
fn apply_dir(src: &Path, dst: &Path, links: &mut Links) -> Result<(), StorageError> {
    if is_opaque(src)
        && let Ok(rd) = std::fs::read_dir(dst)
    {
        for e in rd.flatten() {
            remove_any(&e.path());
        }
    }
    let rd = std::fs::read_dir(src).map_err(copy_err(src))?;
    let mut dirs = Vec::new();
    for e in rd {
        let e = e.map_err(copy_err(src))?;
        let s = e.path();
        let d = dst.join(e.file_name());
        let md = std::fs::symlink_metadata(&s).map_err(copy_err(&s))?;
        if is_whiteout(&md) {
            remove_any(&d);
            continue;
        }
        let ft = md.file_type();
        if ft.is_dir() {
            if !std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
                remove_any(&d);
                std::fs::create_dir(&d).map_err(copy_err(&d))?;
            }
            apply_dir(&s, &d, links)?;
            dirs.push((s, d, md));
            continue;
        }
        remove_any(&d);
        if ft.is_symlink() {
            let target = std::fs::read_link(&s).map_err(copy_err(&s))?;
            std::os::unix::fs::symlink(&target, &d).map_err(copy_err(&d))?;
        } else if ft.is_file() {
            let key = (md.dev(), md.ino());
            match links.get(&key).filter(|_| md.nlink() > 1) {
                Some(first) if std::fs::hard_link(first, &d).is_ok() => continue,
                _ => {
                    std::fs::copy(&s, &d).map_err(copy_err(&d))?;
                    if md.nlink() > 1 {
                        links.insert(key, d.clone());
                    }
                }
            }
        } else {
            let kind = if ft.is_char_device() {
                nix::sys::stat::SFlag::S_IFCHR
            } else if ft.is_block_device() {
                nix::sys::stat::SFlag::S_IFBLK
            } else if ft.is_fifo() {
                nix::sys::stat::SFlag::S_IFIFO
            } else {
                continue; // sockets are not image content
            };
            nix::sys::stat::mknod(&d, kind, nix::sys::stat::Mode::from_bits_truncate(md.mode() & 0o7777), md.rdev())
                .map_err(|e| StorageError::Copy { path: d.clone(), source: e.into() })?;
        }
        copy_meta(&s, &d, &md)?;
    }
    // Directory metadata last: copying into them changed their mtimes.
    for (s, d, md) in dirs {
        copy_meta(&s, &d, &md)?;
    }
    Ok(())
}
