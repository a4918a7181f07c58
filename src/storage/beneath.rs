//! Reading a directory tree that someone else may be changing (a running container's upper
//! dir or full copy) without ever leaving it: the tree's root is held open (a
//! [`crate::inroot::InRoot`] that refuses every symlink on the way), and every path below it
//! is resolved from that descriptor with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)`, so
//! a directory swapped for a symlink to `/etc` between the walk and the read fails instead
//! of reading the host's files. Files are first opened `O_PATH`
//! (which opens no device and blocks on no fifo), checked against what the walk saw, and
//! only then reopened for reading through their own descriptor.

use super::StorageError;
use crate::inroot::{fd_path, InRoot};
use nix::fcntl::OFlag;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The root of a tree, held open.
#[derive(Debug)]
pub struct Root {
    tree: InRoot,
    path: PathBuf,
}

fn read_err(path: PathBuf) -> impl FnOnce(io::Error) -> StorageError {
    move |source| StorageError::Read { path, source }
}

impl Root {
    /// Opens the tree at `path` (itself trusted: a directory of the daemon's store).
    pub fn open(path: &Path) -> Result<Arc<Root>, StorageError> {
        let tree = InRoot::open(path).map_err(|e| StorageError::Read { path: path.to_path_buf(), source: e.source })?.without_symlinks();
        Ok(Arc::new(Root { tree, path: path.to_path_buf() }))
    }

    /// The tree whose root directory `fd` holds (`path` is for messages only): a directory
    /// resolved elsewhere, e.g. inside a container's rootfs, taken exactly as resolved.
    pub fn from_fd(fd: OwnedFd, path: PathBuf) -> Arc<Root> {
        Arc::new(Root { tree: InRoot::from_fd(fd, path.clone()).without_symlinks(), path })
    }

    /// The host path of `rel` (for messages only: never opened).
    pub fn display(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// Opens `rel` with `flags`, following no symlink in any component; a symlink as the
    /// last component is opened itself when `flags` has `O_PATH | O_NOFOLLOW`.
    fn open_at(&self, rel: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
        self.tree.open_path(rel, flags | OFlag::O_NOFOLLOW).map_err(|e| e.source)
    }

    /// The metadata of `rel` itself (a symlink's own, not its target's).
    pub fn lstat(&self, rel: &Path) -> io::Result<Metadata> {
        File::from(self.open_at(rel, OFlag::O_PATH)?).metadata()
    }

    /// The entries of directory `rel` sorted by name, each with its own metadata. What is
    /// removed or replaced while it is read (a running container's churn) is left out, as
    /// Docker's archiver skips what it can no longer stat. Sorted, so that walks and the
    /// tars made from them are reproducible.
    pub fn entries(&self, rel: &Path) -> Result<Vec<(OsString, Metadata)>, StorageError> {
        let fd = match self.open_at(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if is_gone(&e) => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::Read { path: self.display(rel), source: e }),
        };
        // A second descriptor of the directory to open its entries from while `Dir` reads it
        // (openat does not move the shared read offset).
        let at = fd.try_clone().map_err(read_err(self.display(rel)))?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(|e| StorageError::Read { path: self.display(rel), source: e.into() })?;
        let mut out = Vec::new();
        for e in dir.iter() {
            let e = e.map_err(|e| StorageError::Read { path: self.display(rel), source: e.into() })?;
            let bytes = e.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = OsString::from(std::ffi::OsStr::from_bytes(bytes));
            let opened = nix::fcntl::openat(&at, e.file_name(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty());
            let md = match opened {
                Ok(fd) => File::from(fd).metadata(),
                Err(nix::Error::ENOENT) => continue,
                Err(e) => Err(e.into()),
            };
            out.push((name.clone(), md.map_err(read_err(self.display(&rel.join(&name))))?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Whether directory `rel` is marked opaque (`trusted.overlay.opaque=y`).
    pub fn is_opaque(&self, rel: &Path) -> bool {
        self.open_at(rel, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .ok()
            .and_then(|fd| get_xattr(&fd_path(fd.as_fd()), std::ffi::OsStr::new("trusted.overlay.opaque")))
            .is_some_and(|v| v == b"y")
    }

    /// Opens `rel` if it is still of the type the walk saw as `md`, with its metadata now (a
    /// file replaced by another file, as an editor saves, is the new one). `None` when it
    /// was removed, or replaced by something of another type (a symlink, above all),
    /// meanwhile: the caller leaves it out.
    pub fn entry(&self, rel: &Path, md: &Metadata) -> Result<Option<(Entry, Metadata)>, StorageError> {
        let path = self.display(rel);
        let fd = match self.open_at(rel, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(StorageError::Read { path, source: e }),
        };
        let now = File::from(fd.try_clone().map_err(read_err(path.clone()))?).metadata().map_err(read_err(path.clone()))?;
        if now.file_type() != md.file_type() {
            return Ok(None);
        }
        Ok(Some((Entry { fd, path, is_symlink: now.file_type().is_symlink() }, now)))
    }
}

/// Whether a failed resolution means the entry is no longer what the walk saw: removed,
/// a component replaced by a symlink or a non-directory, or moved while being resolved.
fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR | libc::EXDEV | libc::EAGAIN))
}

/// One entry of a tree, held by an `O_PATH` descriptor.
#[derive(Debug)]
pub struct Entry {
    fd: OwnedFd,
    path: PathBuf,
    is_symlink: bool,
}

impl Entry {
    /// The regular file opened for reading (through its descriptor, not its path).
    pub fn open_file(&self) -> Result<File, StorageError> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(fd_path(self.fd.as_fd()))
            .map_err(read_err(self.path.clone()))
    }

    /// The target of the symlink.
    pub fn read_link(&self) -> Result<PathBuf, StorageError> {
        nix::fcntl::readlinkat(&self.fd, "").map(PathBuf::from).map_err(|e| StorageError::Read { path: self.path.clone(), source: e.into() })
    }

    /// The entry's extended attributes (none for a symlink: Linux has no call that reads
    /// them through a descriptor on the kernels berth supports, and only `trusted.*` and
    /// `security.*` names can be set on one).
    pub fn xattrs(&self) -> Vec<(OsString, Vec<u8>)> {
        if self.is_symlink {
            return Vec::new();
        }
        let p = fd_path(self.fd.as_fd());
        list_xattrs(&p).into_iter().filter_map(|n| get_xattr(&p, &n).map(|v| (n, v))).collect()
    }
}

/// Calls a getxattr-like `call(buf, len)` with a buffer grown until the value fits.
fn sized_read(mut call: impl FnMut(*mut libc::c_void, usize) -> isize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = call(buf.as_mut_ptr().cast(), buf.len());
        if n >= 0 {
            buf.truncate(n as usize);
            return Some(buf);
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) || buf.len() >= 1 << 20 {
            return None;
        }
        buf.resize(buf.len() * 4, 0);
    }
}

fn c_path(p: &Path) -> Option<std::ffi::CString> {
    std::ffi::CString::new(p.as_os_str().as_bytes()).ok()
}

/// The names of the xattrs of what `p` leads to, following the last link: the xattr crate
/// only has the `l*` calls, which would read the `/proc/self/fd` link itself.
fn list_xattrs(p: &Path) -> Vec<OsString> {
    let Some(cp) = c_path(p) else { return Vec::new() };
    // SAFETY: `cp` is a NUL-terminated path; the buffer pointer and length describe
    // memory `sized_read` owns for the duration of the call.
    let raw = sized_read(|buf, len| unsafe { libc::listxattr(cp.as_ptr(), buf.cast(), len) }).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|n| !n.is_empty()).map(|n| OsString::from(std::ffi::OsStr::from_bytes(n))).collect()
}

/// The value of xattr `name` of what `p` leads to, following the last link.
fn get_xattr(p: &Path, name: &std::ffi::OsStr) -> Option<Vec<u8>> {
    let cp = c_path(p)?;
    let cn = std::ffi::CString::new(name.as_bytes()).ok()?;
    // SAFETY: both strings are NUL-terminated; the buffer pointer and length describe
    // memory `sized_read` owns for the duration of the call.
    sized_read(|buf, len| unsafe { libc::getxattr(cp.as_ptr(), cn.as_ptr(), buf, len) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_directory_swapped_for_a_symlink_out_of_the_tree_is_refused_not_followed() {
        let base = crate::image::store::TempDir(std::env::temp_dir().join(format!("berth-beneath-{}", crate::util::random_id())));
        let (tree, outside) = (base.0.join("tree"), base.0.join("outside"));
        std::fs::create_dir_all(tree.join("d")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(tree.join("d/f"), b"inside").expect("write");
        std::fs::write(outside.join("f"), b"host secret").expect("write");
        let root = Root::open(&tree).expect("open");
        let md = root.lstat(Path::new("d/f")).expect("lstat");
        assert_eq!(root.entries(Path::new("d")).expect("list").len(), 1);
        // The swap a running container can make between the walk and the read.
        std::fs::rename(tree.join("d"), tree.join("old")).expect("rename");
        std::os::unix::fs::symlink(&outside, tree.join("d")).expect("symlink");
        assert!(root.entries(Path::new("d")).expect("list").is_empty(), "listed a directory through a symlink");
        assert!(root.lstat(Path::new("d/f")).is_err(), "stat through a symlink");
        assert!(root.entry(Path::new("d/f"), &md).expect("entry").is_none(), "opened through a symlink");
        let dir_md = root.lstat(Path::new("old")).expect("lstat");
        assert!(root.entry(Path::new("d"), &dir_md).expect("entry").is_none(), "a directory that became a symlink");
        let link = root.lstat(Path::new("d")).expect("the symlink itself");
        assert!(link.file_type().is_symlink());
        let (e, _) = root.entry(Path::new("d"), &link).expect("entry").expect("still a symlink");
        assert_eq!(e.read_link().expect("readlink"), outside);
        // The walk's file moved elsewhere in the tree, read through its descriptor.
        let (moved, now) = root.entry(Path::new("old/f"), &md).expect("entry").expect("still a file");
        assert_eq!(now.ino(), md.ino());
        let mut s = String::new();
        std::io::Read::read_to_string(&mut moved.open_file().expect("open"), &mut s).expect("read");
        assert_eq!(s, "inside");
        assert!(root.lstat(Path::new("../outside/f")).is_err(), "escaped with ..");
        assert!(root.lstat(&outside.join("f")).is_err(), "escaped with an absolute path");
    }
}
