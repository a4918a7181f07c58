//! The write side of `docker cp` (`PUT`): a tar extracted into a directory of the container,
//! entries made as Docker's untar makes them (what is there replaced, a directory over a
//! directory kept, owner, mode, mtime and xattrs from the header, or the container's user
//! with `copyUIDGID`). Every entry's directory is resolved inside the rootfs (links followed
//! there, the archive's own too, as Docker's untar follows them inside its chroot) and held
//! open; the entry is then made relative to that descriptor without following its name, so
//! neither the archive nor a container swapping directories for symlinks reaches the host.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};

use super::{path_in, ContainerFs, CpError};
use crate::inroot::fd_path;

/// The `PUT` query's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    /// `noOverwriteDirNonDir`: refuse to replace a directory with a non-directory or the
    /// reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// `copyUIDGID`: everything owned by the container's user.
    pub copy_uid_gid: bool,
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Extracts `body` (a tar, possibly gzip or zstd compressed) into directory `path` of `fs`.
pub(super) fn extract(
    fs: &ContainerFs,
    path: &str,
    read_only: bool,
    opts: &ExtractOptions,
    chown: Option<(u32, u32)>,
    body: impl Read,
) -> Result<(), CpError> {
    if path.is_empty() {
        return Err(CpError::EmptyPath);
    }
    let abs = super::container_path(path);
    // Every link followed, the last too, as Docker's EvalSymlinks: extracting "into a link
    // to a directory" extracts into that directory.
    let dest = match fs.root.open_path(Path::new(&abs), OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(libc::ENOENT) => return Err(CpError::NotFound { path: path.to_owned(), container: fs.name.clone() }),
        Err(e) => return Err(CpError::io("lstat", &abs, e.source)),
    };
    let st = nix::sys::stat::fstat(&dest).map_err(|e| CpError::io("lstat", &abs, errno(e)))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(CpError::NotADirectory);
    }
    if read_only {
        return Err(CpError::ReadOnly);
    }
    let dest_path = path_in(&fs.root, &dest).ok_or_else(|| CpError::io("resolve", &abs, io::Error::from_raw_os_error(libc::EXDEV)))?;
    let mut x = Extractor { fs, dest: dest_path, opts: *opts, chown, dirs: Vec::new() };
    let mut archive = tar::Archive::new(decompressed(body)?);
    let entries = archive.entries().map_err(|e| CpError::Archive(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| CpError::Archive(e.to_string()))?;
        x.entry(entry)?;
    }
    // Directory times last: making their entries changed them.
    for (dir, mtime) in x.dirs.iter().rev() {
        if let Ok(fd) = fs.root.open_path(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW) {
            let t = nix::sys::time::TimeSpec::new(*mtime, 0);
            let _ = nix::sys::stat::futimens(&fd, &t, &t);
        }
    }
    Ok(())
}

/// `body` decompressed as Docker's `DecompressStream` does for gzip and zstd; plain tar
/// passes through.
fn decompressed<'a>(body: impl Read + 'a) -> Result<Box<dyn Read + 'a>, CpError> {
    let mut r = BufReader::with_capacity(64 * 1024, body);
    let head = r.fill_buf().map_err(|e| CpError::Archive(e.to_string()))?.to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(|e| CpError::Archive(e.to_string()))?)
    } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(CpError::Archive("bzip2 and xz compressed archives are not supported by berth: send a plain, gzip or zstd tar".into()));
    } else {
        Box::new(r)
    })
}

struct Extractor<'a> {
    fs: &'a ContainerFs,
    /// The destination directory's path in the container.
    dest: PathBuf,
    opts: ExtractOptions,
    chown: Option<(u32, u32)>,
    /// Directories made or updated, with the mtime they get at the end.
    dirs: Vec<(PathBuf, i64)>,
}

/// `name` from an archive as a path below the destination: `.` and empty parts dropped,
/// `..` taken lexically, a leading `/` ignored (Docker's untar joins it to the destination);
/// what climbs above the destination is refused. Empty: the destination itself.
fn below(name: &[u8], dest: &Path) -> Result<PathBuf, CpError> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for p in name.split(|b| *b == b'/') {
        match p {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(CpError::Archive(format!("{:?} is outside of {:?}", String::from_utf8_lossy(name), dest.display().to_string())));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.iter().map(|p| OsStr::from_bytes(p)).collect())
}

impl Extractor<'_> {
    fn entry(&mut self, mut entry: tar::Entry<'_, impl Read>) -> Result<(), CpError> {
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink) {
            return Ok(()); // metadata of the next entry, which the reader applied
        }
        let raw = entry.path_bytes().into_owned();
        let rel = below(&raw, &self.dest)?;
        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            // The destination itself ("." or "/"): Docker leaves it as it is.
            return Ok(());
        };
        let full = self.dest.join(&rel);
        let parent_path = full.parent().unwrap_or(Path::new("/")).to_path_buf();
        let parent = self.parent(&parent_path)?;
        let is_dir = kind == tar::EntryType::Directory;
        let existing = nix::sys::stat::fstatat(&parent, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).ok();
        if let Some(st) = existing {
            let was_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if self.opts.no_overwrite_dir_non_dir && was_dir != is_dir {
                let (what, with) = if was_dir { ("directory", "non-directory") } else { ("non-directory", "directory") };
                return Err(CpError::Overwrite { what, with, path: full.display().to_string(), dest: self.dest.display().to_string() });
            }
            if !(was_dir && is_dir) {
                remove_at(parent.as_fd(), &name).map_err(|e| CpError::io("remove", &full, e))?;
            }
        }
        let h = entry.header().clone();
        let mode = h.mode().map_err(|e| CpError::Archive(e.to_string()))? & 0o7777;
        let (uid, gid) = match self.chown {
            Some(ids) => ids,
            None => (h.uid().map_err(|e| CpError::Archive(e.to_string()))? as u32, h.gid().map_err(|e| CpError::Archive(e.to_string()))? as u32),
        };
        let mtime = h.mtime().unwrap_or(0) as i64;
        let xattrs: Vec<(OsString, Vec<u8>)> = match entry.pax_extensions() {
            Ok(Some(exts)) => exts
                .filter_map(Result::ok)
                .filter_map(|e| Some((OsStr::from_bytes(e.key_bytes().strip_prefix(b"SCHILY.xattr.")?).to_os_string(), e.value_bytes().to_vec())))
                .collect(),
            _ => Vec::new(),
        };
        let io_err = |op: &'static str| {
            let full = &full;
            move |e: io::Error| CpError::io(op, full, e)
        };
        match kind {
            tar::EntryType::Directory => {
                if existing.is_none() {
                    nix::sys::stat::mkdirat(&parent, name.as_os_str(), Mode::from_bits_truncate(0o700)).map_err(|e| io_err("mkdir")(errno(e)))?;
                }
                let fd = nix::fcntl::openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_err("open")(errno(e)))?;
                own(&fd, uid, gid, mode, &xattrs).map_err(io_err("chown"))?;
                self.dirs.push((full.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = nix::fcntl::openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| io_err("create")(errno(e)))?;
                let mut file = std::fs::File::from(fd);
                io::copy(&mut entry, &mut file).map_err(io_err("write"))?;
                let fd = OwnedFd::from(file);
                own(&fd, uid, gid, mode, &xattrs).map_err(io_err("chown"))?;
                let t = nix::sys::time::TimeSpec::new(mtime, 0);
                nix::sys::stat::futimens(&fd, &t, &t).map_err(|e| io_err("utimes")(errno(e)))?;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or_else(|| CpError::Archive(format!("symlink {full:?} without a target")))?.into_owned();
                nix::unistd::symlinkat(OsStr::from_bytes(&target), &parent, name.as_os_str()).map_err(|e| io_err("symlink")(errno(e)))?;
                nix::unistd::fchownat(&parent, name.as_os_str(), Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| io_err("lchown")(errno(e)))?;
                let t = nix::sys::time::TimeSpec::new(mtime, 0);
                nix::sys::stat::utimensat(&parent, name.as_os_str(), &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink)
                    .map_err(|e| io_err("utimes")(errno(e)))?;
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().ok_or_else(|| CpError::Archive(format!("hard link {full:?} without a target")))?.into_owned();
                let target = self.dest.join(below(&target, &self.dest)?);
                let (tdir, tname) = match (target.parent(), target.file_name()) {
                    (Some(d), Some(n)) => (d.to_path_buf(), n.to_os_string()),
                    _ => return Err(CpError::Archive(format!("hard link {full:?} to the destination itself"))),
                };
                let tparent = self.parent(&tdir)?;
                // Flags 0: a symlink as the target is linked itself, never followed.
                nix::unistd::linkat(&tparent, tname.as_os_str(), &parent, name.as_os_str(), AtFlags::empty())
                    .map_err(|e| io_err("link")(errno(e)))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let sflag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                let dev = nix::sys::stat::makedev(major as u64, minor as u64);
                nix::sys::stat::mknodat(&parent, name.as_os_str(), sflag, Mode::from_bits_truncate(0o600), dev)
                    .map_err(|e| io_err("mknod")(errno(e)))?;
                let fd = nix::fcntl::openat(&parent, name.as_os_str(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| io_err("open")(errno(e)))?;
                own_path(&fd, uid, gid, mode).map_err(io_err("chown"))?;
            }
            other => return Err(CpError::Archive(format!("{full:?}: tar entry type {other:?} is not supported by berth"))),
        }
        Ok(())
    }

    /// The directory `dir` (a container path) held open, resolved inside the rootfs; made
    /// (0755, root's, as Docker's untar makes missing parents) if missing.
    fn parent(&self, dir: &Path) -> Result<OwnedFd, CpError> {
        match self.fs.root.open_path(dir, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Ok(fd) => Ok(fd),
            Err(e) if e.errno() == Some(libc::ENOENT) => self.fs.root.mkdir_all(dir, 0o755).map_err(|e| CpError::io("mkdir", dir, e.source)),
            Err(e) => Err(CpError::io("open", dir, e.source)),
        }
    }
}

/// Owner, then mode (a chown clears set-id bits), then xattrs of the file or directory `fd`.
fn own(fd: &OwnedFd, uid: u32, gid: u32, mode: u32, xattrs: &[(OsString, Vec<u8>)]) -> io::Result<()> {
    nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(errno)?;
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).map_err(errno)?;
    for (name, value) in xattrs {
        // As Docker: a filesystem that refuses an attribute does not fail the copy.
        if let Err(e) = xattr::set(fd_path(fd.as_fd()), name, value) {
            tracing::warn!(name = %name.to_string_lossy(), "xattr not set: {e}");
        }
    }
    Ok(())
}

/// Owner and mode of the node `fd` holds (`O_PATH`), through its magic link.
fn own_path(fd: &OwnedFd, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    let p = fd_path(fd.as_fd());
    nix::unistd::fchownat(nix::fcntl::AT_FDCWD, &p, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::empty()).map_err(errno)?;
    nix::sys::stat::fchmodat(nix::fcntl::AT_FDCWD, &p, Mode::from_bits_truncate(mode), nix::sys::stat::FchmodatFlags::FollowSymlink).map_err(errno)
}

/// Removes `name` in directory `dir`, a directory with everything in it, never following a
/// link.
fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => return Ok(()),
        Err(nix::Error::EISDIR) => {}
        Err(e) => return Err(errno(e)),
    }
    let sub =
        nix::fcntl::openat(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map_err(errno)?;
    let at = sub.try_clone()?;
    let mut d = nix::dir::Dir::from_fd(sub).map_err(errno)?;
    let names: Vec<OsString> = d
        .iter()
        .filter_map(Result::ok)
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    for n in names {
        remove_at(at.as_fd(), &n)?;
    }
    match nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_stay_below_the_destination() {
        let d = Path::new("/dest");
        assert_eq!(below(b"a/b", d).expect("plain"), PathBuf::from("a/b"));
        assert_eq!(below(b"/etc/passwd", d).expect("absolute"), PathBuf::from("etc/passwd"));
        assert_eq!(below(b"./a/../b/", d).expect("dots"), PathBuf::from("b"));
        assert_eq!(below(b".", d).expect("itself"), PathBuf::new());
        for bad in [&b"../x"[..], b"a/../../x", b"/../etc"] {
            assert!(matches!(below(bad, d), Err(CpError::Archive(m)) if m.contains("outside")), "{}", String::from_utf8_lossy(bad));
        }
    }
}
