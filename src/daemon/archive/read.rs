//! The read side of `docker cp`: what is at a container path (`HEAD`) and its tar (`GET`).
//! The path's parent directory is resolved inside the rootfs (symlinks followed there, as
//! Docker resolves them in the container's root) and held open; from it on, the walk goes
//! through [`crate::storage::beneath`], which follows no symlink at all, so a directory the
//! container swaps for a symlink to `/` mid-copy is skipped, not followed to the host.

use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;

use super::{base_name, container_path, go_file_mode, path_in, ContainerFs, CpError, PathStat};
use crate::inroot::InRootError;
use crate::storage::beneath::Root;
use crate::storage::tarball::TarWriter;
use crate::storage::tree::Node;

/// A path of a container opened for `GET`: its stat, and what its tar is written from.
pub struct Source {
    /// What `X-Docker-Container-Path-Stat` says.
    pub stat: PathStat,
    /// The directory the source is in (or the source directory itself), held open.
    root: Arc<Root>,
    /// The source in `root`: its name, or empty when `root` is the source.
    rel: PathBuf,
    md: Metadata,
    /// The source's name in the tar (Docker's rebase: the path's last element).
    rebase: String,
}

impl Source {
    /// Opens `path` (as the request gave it) in the container: the last component is the
    /// entry itself (a symlink stays a symlink) unless the path ends in `/` or `/.`.
    pub fn open(fs: &ContainerFs, path: &str) -> Result<Source, CpError> {
        if path.is_empty() {
            return Err(CpError::EmptyPath);
        }
        let abs = container_path(path);
        let not_found = || CpError::NotFound { path: path.to_owned(), container: fs.name.clone() };
        let fail = |e: InRootError| if e.errno() == Some(libc::ENOENT) { not_found() } else { CpError::io("lstat", &abs, e.source) };
        let follow_last = abs == "/" || abs.ends_with('/') || abs.ends_with("/.");
        let (dir, rel) = if follow_last {
            (fs.root.open_path(Path::new(&abs), OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(fail)?, PathBuf::new())
        } else {
            let (parent, name) = abs.rsplit_once('/').unwrap_or(("", &abs));
            let parent = if parent.is_empty() { "/" } else { parent };
            (fs.root.open_path(Path::new(parent), OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(fail)?, PathBuf::from(name))
        };
        // The directory exactly as resolved, held from here on.
        let root = Root::from_fd(dir, fs.root.host_path(Path::new(&abs)));
        let md = match root.lstat(&rel) {
            Ok(md) => md,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(not_found()),
            Err(e) => return Err(CpError::io("lstat", &abs, e)),
        };
        let link_target = if md.file_type().is_symlink() { link_target(fs, &abs, &root, &rel) } else { String::new() };
        let mtime = chrono::DateTime::from_timestamp(md.mtime(), md.mtime_nsec().clamp(0, 999_999_999) as u32)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let stat = PathStat { name: base_name(&abs), size: md.size() as i64, mode: go_file_mode(md.mode()), mtime, link_target };
        Ok(Source { stat, rebase: base_name(&abs), root, rel, md })
    }

    /// Writes the tar: the source under its name, a directory with everything below it;
    /// links are written as links, never followed.
    pub fn write_tar(&self, out: &mut dyn Write) -> Result<(), CpError> {
        let fail = |e: crate::storage::StorageError| CpError::io("archive", &self.stat.name, std::io::Error::other(e.to_string()));
        let mut w = TarWriter::new(out);
        self.walk(&mut w, &self.rel, Path::new(&self.rebase), &self.md).map_err(fail)?;
        w.finish().map_err(fail)?;
        Ok(())
    }

    fn walk(&self, w: &mut TarWriter<&mut dyn Write>, rel: &Path, name: &Path, md: &Metadata) -> Result<(), crate::storage::StorageError> {
        w.entry(name, &Node { root: self.root.clone(), rel: rel.to_path_buf(), md: md.clone() })?;
        if md.is_dir() {
            for (child, cmd) in self.root.entries(rel)? {
                // Path::join would drop a leading "./", which a `DIR/.` copy's names need (and a
                // copy of `/` has names "/bin", ...).
                let mut child_name = name.as_os_str().to_owned();
                if !name.as_os_str().as_encoded_bytes().ends_with(b"/") {
                    child_name.push("/");
                }
                child_name.push(&child);
                self.walk(w, &rel.join(&child), Path::new(&child_name), &cmd)?;
            }
        }
        Ok(())
    }
}

/// Where the symlink at `abs` leads inside the container, every link followed there; for a
/// dangling one, its target taken from its directory (Docker's `FollowSymlinkInScope`
/// gives as much as it can resolve).
fn link_target(fs: &ContainerFs, abs: &str, root: &Root, rel: &Path) -> String {
    if let Some(p) = fs.root.resolve(Path::new(abs)).ok().and_then(|fd| path_in(&fs.root, &fd)) {
        return p.display().to_string();
    }
    let Ok(target) = root
        .entry(
            rel,
            &match root.lstat(rel) {
                Ok(md) => md,
                Err(_) => return String::new(),
            },
        )
        .map(|e| e.and_then(|(entry, _)| entry.read_link().ok()))
    else {
        return String::new();
    };
    let Some(target) = target else { return String::new() };
    let target = target.to_string_lossy();
    if target.starts_with('/') {
        container_path(&target)
    } else {
        let parent = abs.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        container_path(&format!("{parent}/{target}"))
    }
}
