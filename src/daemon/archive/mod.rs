//! `docker cp` (`GET`/`HEAD`/`PUT /containers/{id}/archive`): reading and writing paths of a
//! container's root filesystem, running or not. The rootfs is the storage driver's (the
//! overlay's merged directory in the daemon's mount namespace, mounted for the copy when the
//! container is not running): berth bind-mounts no volumes or host directories into
//! containers, and a container's tmpfs mounts live only in its own mount namespace, which
//! Docker's `cp` does not see either. Every path is resolved from the rootfs' descriptor by
//! the kernel's in-root resolver ([`crate::inroot`]) and every file is then reached
//! relative to a held directory descriptor, never by a string path again, so a symlink in the
//! container (or one swapped in while the copy runs) can never lead to the host's files.

mod extract;
mod read;

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::container::Status;
use super::{Daemon, DaemonError};
use crate::inroot::{fd_path, InRoot};

pub use extract::ExtractOptions;
pub use read::Source;

/// What a copy cannot do, in Docker's words where it has them.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// The path does not exist in the container (404).
    #[error("Could not find the file {path} in container {container}")]
    NotFound { path: String, container: String },
    /// `PUT` to something that is not a directory (400).
    #[error("extraction point is not a directory")]
    NotADirectory,
    /// `PUT` into a container with a read-only rootfs (400).
    #[error("container rootfs is marked read-only")]
    ReadOnly,
    /// `path` missing or empty (400).
    #[error("bad parameter: path cannot be empty")]
    EmptyPath,
    /// The uploaded archive is malformed or names something it may not (400).
    #[error("invalid archive: {0}")]
    Archive(String),
    /// The archive would replace a directory with a non-directory or the reverse, with
    /// `noOverwriteDirNonDir` (400).
    #[error("cannot overwrite {what} {path:?} with {with} {dest:?}")]
    Overwrite { what: &'static str, with: &'static str, path: String, dest: String },
    /// `copyUIDGID` with a container user that cannot be resolved (400).
    #[error("{0}")]
    User(String),
    /// A file operation in the container failed (500).
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: String, source: std::io::Error },
}

impl CpError {
    fn io(op: &'static str, path: impl AsRef<Path>, source: impl Into<std::io::Error>) -> CpError {
        CpError::Io { op, path: path.as_ref().display().to_string(), source: source.into() }
    }
}

impl From<CpError> for DaemonError {
    fn from(e: CpError) -> Self {
        match e {
            CpError::NotFound { .. } => DaemonError::NotFound(e.to_string()),
            CpError::Io { .. } => DaemonError::Setup(e.to_string()),
            _ => DaemonError::BadRequest(e.to_string()),
        }
    }
}

/// Go's `os.FileMode` bits, which `PathStat.mode` carries (not the `st_mode` layout).
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// `st_mode` as Go's `os.FileMode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => go_mode::DIR,
        libc::S_IFLNK => go_mode::SYMLINK,
        libc::S_IFBLK => go_mode::DEVICE,
        libc::S_IFCHR => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        libc::S_IFIFO => go_mode::NAMED_PIPE,
        libc::S_IFSOCK => go_mode::SOCKET,
        _ => 0,
    };
    for (bit, go) in [(libc::S_ISUID, go_mode::SETUID), (libc::S_ISGID, go_mode::SETGID), (libc::S_ISVTX, go_mode::STICKY)] {
        if st_mode & bit != 0 {
            m |= go;
        }
    }
    m
}

/// `X-Docker-Container-Path-Stat`: what is at a path (the last symlink not followed).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` ([`go_file_mode`]).
    pub mode: u32,
    pub mtime: String,
    /// For a symlink: the path it leads to, resolved in the container.
    pub link_target: String,
}

impl PathStat {
    /// The header's value: the JSON, base64.
    pub fn header_value(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// `path` as Docker takes it: made absolute and cleaned, with a trailing `/` or `/.` kept
/// (they mean "the directory itself, link followed" and "its contents").
pub fn container_path(path: &str) -> String {
    let mut clean: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                clean.pop();
            }
            p => clean.push(p),
        }
    }
    let mut out = format!("/{}", clean.join("/"));
    if path.ends_with("/.") || path == "." {
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push('.');
    } else if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Go's `filepath.Base`.
fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Containers whose rootfs a copy is using, with how many copies: their mount is kept while
/// any is (a stop releasing the container's mounts leaves it to the last copy, so that a
/// start meanwhile reuses the one mount instead of stacking a second overlay on the same
/// upper directory).
#[derive(Debug, Default)]
pub struct Claims(std::sync::Mutex<HashMap<String, usize>>);

impl Claims {
    /// Whether a copy holds container `id`'s rootfs.
    pub fn busy(&self, id: &str) -> bool {
        self.0.lock().map(|m| m.contains_key(id)).unwrap_or(false)
    }

    fn take(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(id.to_owned()).or_default() += 1;
        }
    }

    /// Drops one claim; true when it was the last.
    fn give_back(&self, id: &str) -> bool {
        let Ok(mut m) = self.0.lock() else { return false };
        match m.get_mut(id) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                m.remove(id);
                true
            }
        }
    }
}

/// A copy's hold on a container's rootfs mount; dropped, it gives the mount back (unmounted
/// when the container is not running and no other copy holds it).
struct Claim {
    daemon: Arc<Daemon>,
    id: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (d, id) = (self.daemon.clone(), self.id.clone());
        let release = async move {
            let _g = d.ops.lock().await;
            if !d.cp.give_back(&id) {
                return;
            }
            let running = d.containers.get(&id).is_ok_and(|c| c.state.status == Status::Running);
            if !running && let Err(e) = d.overlay.unmount(&id) {
                tracing::warn!(id, "after a copy: {e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(release);
            }
            Err(_) => tracing::warn!(id = self.id, "a copy ended outside the runtime: its rootfs mount is left to the container's next release"),
        }
    }
}

/// A container's root filesystem held open for one copy.
pub struct ContainerFs {
    _claim: Claim,
    /// The container's ID.
    pub id: String,
    /// The container's name or ID as the request gave it (for Docker's messages).
    pub name: String,
    /// The rootfs.
    pub root: InRoot,
}

impl Daemon {
    /// Opens container `name`'s root filesystem for a copy, mounting it if the container is
    /// not running.
    pub async fn cp_open(self: &Arc<Self>, name: &str) -> Result<ContainerFs, DaemonError> {
        let id = self.containers.resolve(name)?;
        // Under the ops lock: a start, stop or removal does not interleave with the mount.
        let _g = self.ops.lock().await;
        let c = self.containers.get(&id)?;
        let image = self.images.get(&c.image_id)?;
        let rootfs = self.overlay.mount(&id, &self.lowers(&image))?;
        self.cp.take(&id);
        // From here on the claim is given back however this ends.
        let claim = Claim { daemon: self.clone(), id: id.clone() };
        let root = InRoot::open(&rootfs)?;
        Ok(ContainerFs { _claim: claim, id, name: name.to_owned(), root })
    }

    /// `HEAD /containers/{id}/archive`: what is at `path`.
    pub fn cp_stat(&self, fs: &ContainerFs, path: &str) -> Result<PathStat, DaemonError> {
        Ok(Source::open(fs, path)?.stat)
    }

    /// `GET /containers/{id}/archive`: the source at `path`, ready to be written as a tar.
    pub fn cp_source(&self, fs: &ContainerFs, path: &str) -> Result<Source, DaemonError> {
        let src = Source::open(fs, path)?;
        self.container_event_of(&fs.id, "archive-path", &[]);
        Ok(src)
    }

    /// `PUT /containers/{id}/archive`: extracts the tar `body` into directory `path`.
    pub fn cp_extract(&self, fs: &ContainerFs, path: &str, opts: ExtractOptions, body: impl std::io::Read) -> Result<(), DaemonError> {
        let c = self.containers.get(&fs.id)?;
        let chown = if opts.copy_uid_gid {
            let image = self.images.get(&c.image_id)?;
            // As Docker: the container's user (its own, else its image's); none, no change.
            let spec = if c.config.user.is_empty() { &image.config.config.user } else { &c.config.user };
            if spec.is_empty() {
                None
            } else {
                let u = super::user::resolve(&fs.root, spec).map_err(|e| CpError::User(e.to_string()))?;
                Some((u.uid, u.gid))
            }
        } else {
            None
        };
        extract::extract(fs, path, c.host_config.readonly_rootfs, &opts, chown, body)?;
        self.container_event_of(&fs.id, "extract-to-dir", &[]);
        Ok(())
    }
}

/// `fd`'s path inside `root` ("/" for the root itself); None when it is not below it (moved
/// out of the tree by a rename, which openat2 cannot reach but a held handle can follow).
fn path_in(root: &InRoot, fd: &OwnedFd) -> Option<PathBuf> {
    let host = std::fs::read_link(fd_path(fd.as_fd())).ok()?;
    let rel = host.strip_prefix(root.host()).ok()?;
    Some(Path::new("/").join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_with_a_trailing_slash_or_dot_kept() {
        for (given, want) in [
            ("foo", "/foo"),
            ("/foo/../bar//baz", "/bar/baz"),
            ("/tmp/", "/tmp/"),
            ("/tmp/.", "/tmp/."),
            ("/", "/"),
            (".", "/."),
            ("/.", "/."),
            ("/../..", "/"),
        ] {
            assert_eq!(container_path(given), want, "{given}");
        }
        assert_eq!(base_name("/tmp/x/"), "x");
        assert_eq!(base_name("/tmp/."), ".");
        assert_eq!(base_name("/"), "/");
    }

    #[test]
    fn modes_carry_gos_file_mode_bits() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o4755 & 0o777), (1 << 23) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFCHR | 0o666), (1 << 26) | (1 << 21) | 0o666);
        assert_eq!(go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777), (1 << 31) | (1 << 20) | 0o777);
    }
}
