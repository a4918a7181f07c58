//! Who may reach what berth stores or listens on: directories, files and unix sockets get
//! explicit modes whatever the umask (Docker's and containerd's modes), an existing store is
//! tightened at start with a warning naming each path, and a socket is only ever bound over
//! nothing or over a stale socket of our own.
//!
//! The rule: nothing under `--root` or `--exec-root` is reachable by other local users. The
//! gatekeeper directories (root 0710, exec-root 0710, image 0700, containers 0710, overlay2
//! 0710, state dirs 0700) alone close the store; files are 0600 as well, so that a directory
//! opened up by mistake still hides configs (environment secrets), logs and records. Content
//! that belongs to containers (layer trees, a container's upper dir) keeps its own modes: the
//! container must see exactly what its image holds.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use nix::sys::stat::Mode;

/// A directory only its owner enters: image store, state dirs, bundles, runtime state (runc's
/// `/run/runc` is 0700 too).
pub const DIR_PRIVATE: u32 = 0o700;
/// A directory its group may traverse but not list, and others not enter (Docker's root,
/// `containers` and `overlay2` since CVE-2021-41091; the exec-root, so that the API group
/// reaches a socket placed there).
pub const DIR_TRAVERSE: u32 = 0o710;
/// The root directory of a container's filesystem (an overlay upper dir, a vfs copy): what
/// every image and Docker have, so that non-root users in the container can use `/`.
pub const DIR_ROOTFS: u32 = 0o755;
/// A file of berth's state: container configs (the environment holds secrets), logs,
/// records, blobs, bundles' config.json.
pub const FILE_PRIVATE: u32 = 0o600;
/// The subdirectory of a container's directory with the files Docker manages in it
/// (/etc/hosts, ...): the container's content, which its non-root users read (0644), and which
/// the store's tightening leaves alone (the container directory around it is 0700).
pub const CONTAINER_ETC_DIR: &str = "etc";
/// The Engine API socket: root and the API group (`berthd -G`), as dockerd's.
pub const SOCKET_API: u32 = 0o660;
/// Supervisor, shim, events and console sockets: their owner only.
pub const SOCKET_PRIVATE: u32 = 0o600;
/// The umask every long-lived role runs under, as dockerd forces it: what the roles create
/// without an explicit mode (layer trees, upper dirs) and what containers inherit is then the
/// same whatever umask started them.
pub const DEFAULT_UMASK: u32 = 0o022;
/// The group that may use the Engine API by default, if it exists (dockerd's is `docker`).
pub const DEFAULT_API_GROUP: &str = "berth";

/// Errors of socket binding and group lookup.
#[derive(Debug, thiserror::Error)]
pub enum PermError {
    /// A file system or socket call failed.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    /// Something that is not a socket sits where a socket should be bound.
    #[error("{path} exists and is {kind}, not a socket; refusing to replace it")]
    NotASocket { path: PathBuf, kind: &'static str },
    /// A socket of another user sits where ours should be bound.
    #[error("{path} is a socket owned by uid {owner}, not by us (uid {ours}); refusing to replace it")]
    NotOurs { path: PathBuf, owner: u32, ours: u32 },
    /// A process answers on the socket path: another instance is running.
    #[error("{path}: a process is listening on this socket already (another instance running?); refusing to replace it")]
    Live { path: PathBuf },
    /// The group named for a socket does not exist.
    #[error("group {0:?} not found")]
    NoSuchGroup(String),
}

impl From<PermError> for io::Error {
    fn from(e: PermError) -> Self {
        let kind = match &e {
            PermError::Io { source, .. } => source.kind(),
            PermError::NotASocket { .. } | PermError::NotOurs { .. } | PermError::Live { .. } => io::ErrorKind::AlreadyExists,
            PermError::NoSuchGroup(_) => io::ErrorKind::NotFound,
        };
        io::Error::new(kind, e)
    }
}

/// Sets the process umask to [`DEFAULT_UMASK`]. Call it first thing in a role's main, before
/// any thread exists (the umask is process-wide).
pub fn set_default_umask() {
    nix::sys::stat::umask(Mode::from_bits_truncate(DEFAULT_UMASK));
}

/// Creates `path` and its missing parents, each with exactly `mode` (the umask cannot narrow
/// or widen it); directories that exist are left as they are. For directories that may not
/// be berth's own (a runtime root, a socket's parent); berth's own use [`ensure_dir`].
pub fn create_dir_all(path: &Path, mode: u32) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists and is not a directory", path.display())));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent, mode)?;
    }
    match fs::DirBuilder::new().mode(mode).create(path) {
        // Created with mode less the umask, never wider; now exactly mode.
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes sure berth's own directory `path` exists with no access beyond `mode`: created (with
/// missing parents) with exactly `mode`; an existing one loses the bits `mode` does not have
/// and is given to us if another user owns it, each with a warning naming the path.
pub fn ensure_dir(path: &Path, mode: u32) -> io::Result<()> {
    create_dir_all(path, mode)?;
    tighten(path, mode, true)
}

/// Options that create a file with mode 0600 ([`FILE_PRIVATE`]); the umask can only narrow it.
pub fn private_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_PRIVATE);
    o
}

/// Creates (or truncates) `path` for writing as a private file, like `File::create`.
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    private_file().write(true).create(true).truncate(true).open(path)
}

/// Takes from `path` (not following a symlink) the permission bits `max` does not have, and
/// with `own` gives it to us if another user owns it; warns naming the path and both modes.
fn tighten(path: &Path, max: u32, own: bool) -> io::Result<()> {
    let md = fs::symlink_metadata(path)?;
    if md.file_type().is_symlink() {
        // A link berth did not make (an admin's root on another disk): check its target.
        let target = fs::metadata(path)?;
        return fix_mode(path, &target, max, own);
    }
    fix_mode(path, &md, max, own)
}

fn fix_mode(path: &Path, md: &fs::Metadata, max: u32, own: bool) -> io::Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    if own && md.uid() != euid {
        tracing::warn!(path = %path.display(), owner = md.uid(), "{} was owned by uid {}: giving it to uid {euid}", path.display(), md.uid());
        std::os::unix::fs::chown(path, Some(euid), None)?;
    }
    let old = md.mode() & 0o7777;
    let new = old & max;
    if new != old {
        tracing::warn!(path = %path.display(), old = format!("{old:o}"), new = format!("{new:o}"), "mode of {} was {old:o}, reachable beyond {max:o}: set to {new:o}", path.display());
        fs::set_permissions(path, fs::Permissions::from_mode(new))?;
    }
    Ok(())
}

/// Tightens what is below `dir`: subdirectories to at most `dir_max`, regular files to at
/// most `file_max`, `depth` levels down (0: only `dir`'s own entries). Never follows a link
/// and never enters another file system (a mounted rootfs). Best effort: failures are warned.
pub fn tighten_tree(dir: &Path, dir_max: u32, file_max: u32, depth: usize) {
    let Ok(top) = fs::symlink_metadata(dir) else {
        return;
    };
    if !top.is_dir() {
        return;
    }
    walk(dir, top.dev(), dir_max, file_max, depth);
}

/// [`tighten_tree`], leaving `dir`'s entry named `skip` (and what is below it) as it is.
fn tighten_tree_except(dir: &Path, dir_max: u32, file_max: u32, depth: usize, skip: &str) {
    let Ok(top) = fs::symlink_metadata(dir) else {
        return;
    };
    if top.is_dir() {
        walk_except(dir, top.dev(), dir_max, file_max, depth, Some(skip));
    }
}

fn walk(dir: &Path, dev: u64, dir_max: u32, file_max: u32, depth: usize) {
    walk_except(dir, dev, dir_max, file_max, depth, None)
}

fn walk_except(dir: &Path, dev: u64, dir_max: u32, file_max: u32, depth: usize, skip: Option<&str>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if skip.is_some_and(|s| e.file_name() == s) {
            continue;
        }
        let p = e.path();
        let Ok(md) = fs::symlink_metadata(&p) else {
            continue;
        };
        if md.dev() != dev {
            continue;
        }
        let max = if md.is_dir() {
            dir_max
        } else if md.is_file() {
            file_max
        } else {
            continue;
        };
        if let Err(err) = fix_mode(&p, &md, max, false) {
            tracing::warn!("tighten {}: {err}", p.display());
        }
        if md.is_dir() && depth > 0 {
            walk(&p, dev, dir_max, file_max, depth - 1);
        }
    }
}

/// Tightens an existing daemon store at start (directories berth makes from now on get
/// their modes when made): each container's directory and files (config with its
/// environment, log), the image metadata and blobs, the storage drivers' per-container
/// directories. Layer trees and upper dirs are content and are not touched.
pub fn secure_daemon_store(root: &Path) {
    for (dir, max) in [("image", DIR_PRIVATE), ("containers", DIR_TRAVERSE), ("overlay2", DIR_TRAVERSE), ("vfs", DIR_TRAVERSE)] {
        let p = root.join(dir);
        if let Err(e) = tighten(&p, max, true)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!("tighten {}: {e}", p.display());
        }
    }
    let image = root.join("image");
    tighten_tree(&image, DIR_PRIVATE, FILE_PRIVATE, 0);
    for (sub, depth) in [("configs", 1), ("layerdb", 4), ("blobs", 2)] {
        tighten_tree(&image.join(sub), DIR_PRIVATE, FILE_PRIVATE, depth);
    }
    // containers/<id>/{config.v2.json, <id>-json.log*, <log>.readers/...}
    tighten_tree(&root.join("containers"), DIR_TRAVERSE, FILE_PRIVATE, 0);
    // (Not containers/<id>/etc: /etc/hosts and the like, which the container reads.)
    if let Ok(rd) = fs::read_dir(root.join("containers")) {
        for e in rd.flatten() {
            tighten_tree_except(&e.path(), DIR_PRIVATE, FILE_PRIVATE, 3, CONTAINER_ETC_DIR);
        }
    }
    // overlay2/<id> and vfs/<id> hold the container's upper dir or copy: the wrappers are
    // tightened, not what is inside.
    for driver in ["overlay2", "vfs"] {
        tighten_tree(&root.join(driver), DIR_TRAVERSE, FILE_PRIVATE, 0);
    }
}

/// The group of the Engine API socket: `name` (a group name or number) when given, else
/// [`DEFAULT_API_GROUP`] if it exists, else root's group.
pub fn api_socket_group(name: Option<&str>) -> Result<u32, PermError> {
    let lookup = crate::accounts::host_gid;
    match name {
        Some(n) => n.parse::<u32>().ok().or_else(|| lookup(n)).ok_or_else(|| PermError::NoSuchGroup(n.to_owned())),
        None => Ok(lookup(DEFAULT_API_GROUP).unwrap_or(0)),
    }
}

/// Lets group `gid` traverse (not list) directory `dir`, berth's own: for an API socket that
/// lives in the exec-root.
pub fn allow_group_traverse(dir: &Path, gid: u32) -> io::Result<()> {
    if gid == 0 {
        return Ok(());
    }
    std::os::unix::fs::chown(dir, None, Some(gid))?;
    let mode = fs::metadata(dir)?.mode() & 0o7777;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o010))
}

fn kind_of(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        "a regular file"
    } else if ft.is_fifo() {
        "a fifo"
    } else {
        "a device"
    }
}

/// Makes `path` free for a new socket: nothing there, or a stale socket of ours (nothing
/// answers) that is removed. A live socket, another user's socket, or anything that is not a
/// socket (a regular file, a directory, a symlink) is refused and left alone.
pub fn claim_socket_path(path: &Path) -> Result<(), PermError> {
    let io_err = |what, source| PermError::Io { what, path: path.to_path_buf(), source };
    let md = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("inspect", e)),
    };
    if !md.file_type().is_socket() {
        return Err(PermError::NotASocket { path: path.to_path_buf(), kind: kind_of(md.file_type()) });
    }
    let ours = nix::unistd::geteuid().as_raw();
    if md.uid() != ours {
        return Err(PermError::NotOurs { path: path.to_path_buf(), owner: md.uid(), ours });
    }
    if answers(path).map_err(|e| io_err("probe existing socket", e))? {
        return Err(PermError::Live { path: path.to_path_buf() });
    }
    match fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "removed stale socket");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove stale socket", e)),
    }
}

/// Whether a listener answers on socket `path`; a non-blocking connect, so a listener with a
/// full backlog counts as live instead of hanging the probe.
fn answers(path: &Path) -> io::Result<bool> {
    let fd = nix::sys::socket::socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
    let addr = UnixAddr::new(path)?;
    match nix::sys::socket::connect(fd.as_raw_fd(), &addr) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINPROGRESS) => Ok(true),
        Err(nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::ENOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Binds and listens on a unix socket at `path` whose mode is `mode` (and group `gid`) from
/// the instant it exists, whatever the umask: the socket inode gets `mode` before bind(2), which
/// creates the file with that mode less the umask (never wider); the group and the exact mode
/// follow. `path` is claimed first ([`claim_socket_path`]); missing parents are made 0700.
pub fn bind_unix(path: &Path, mode: u32, gid: Option<u32>) -> Result<std::os::unix::net::UnixListener, PermError> {
    let io_err = |what, source| PermError::Io { what, path: path.to_path_buf(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent, DIR_PRIVATE).map_err(|e| PermError::Io { what: "create socket directory", path: parent.to_path_buf(), source: e })?;
    }
    claim_socket_path(path)?;
    let fd: OwnedFd = nix::sys::socket::socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| io_err("create socket for", e.into()))?;
    // Linux keeps a mode on the socket's own inode, and bind(2) gives it to the file.
    nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(|e| io_err("fchmod socket for", e.into()))?;
    let addr = UnixAddr::new(path).map_err(|e| io_err("socket address", e.into()))?;
    nix::sys::socket::bind(fd.as_raw_fd(), &addr).map_err(|e| io_err("bind", e.into()))?;
    let finish = || -> io::Result<()> {
        if let Some(g) = gid {
            std::os::unix::fs::lchown(path, None, Some(g))?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        nix::sys::socket::listen(&fd, Backlog::MAXCONN)?;
        Ok(())
    };
    if let Err(e) = finish() {
        let _ = fs::remove_file(path);
        return Err(io_err("set up socket", e));
    }
    Ok(std::os::unix::net::UnixListener::from(fd))
}

/// [`bind_unix`] for tokio (call inside a runtime).
pub fn bind_unix_tokio(path: &Path, mode: u32, gid: Option<u32>) -> Result<tokio::net::UnixListener, PermError> {
    let l = bind_unix(path, mode, gid)?;
    let io_err = |source| PermError::Io { what: "register socket", path: path.to_path_buf(), source };
    l.set_nonblocking(true).map_err(io_err)?;
    tokio::net::UnixListener::from_std(l).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("berth-fsperm-{tag}-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        fs::create_dir(&p).expect("temp dir");
        p
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).expect("stat").mode() & 0o7777
    }

    #[test]
    fn created_dirs_have_exactly_the_mode_and_existing_ones_are_narrowed_not_widened() {
        let t = temp("dirs");
        let deep = t.join("a/b/c");
        ensure_dir(&deep, DIR_TRAVERSE).expect("ensure");
        for p in [t.join("a"), t.join("a/b"), deep.clone()] {
            assert_eq!(mode(&p), 0o710, "{}", p.display());
        }
        fs::set_permissions(&deep, fs::Permissions::from_mode(0o755)).expect("chmod");
        ensure_dir(&deep, DIR_TRAVERSE).expect("ensure again");
        assert_eq!(mode(&deep), 0o710);
        fs::set_permissions(&deep, fs::Permissions::from_mode(0o700)).expect("chmod");
        ensure_dir(&deep, DIR_TRAVERSE).expect("ensure narrower");
        assert_eq!(mode(&deep), 0o700, "a narrower mode is kept");
        fs::write(t.join("file"), b"x").expect("write");
        assert!(ensure_dir(&t.join("file"), DIR_PRIVATE).is_err(), "a file is not a directory");
        fs::remove_dir_all(&t).expect("cleanup");
    }

    #[test]
    fn tighten_tree_stops_at_its_depth_and_never_follows_links() {
        let t = temp("tree");
        fs::create_dir_all(t.join("d1/d2")).expect("mkdir");
        for f in ["f0", "d1/f1", "d1/d2/f2"] {
            fs::write(t.join(f), b"x").expect("write");
            fs::set_permissions(t.join(f), fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let outside = temp("outside");
        fs::write(outside.join("o"), b"x").expect("write");
        fs::set_permissions(outside.join("o"), fs::Permissions::from_mode(0o644)).expect("chmod");
        std::os::unix::fs::symlink(outside.join("o"), t.join("d1/link")).expect("symlink");
        tighten_tree(&t, 0o700, 0o600, 1);
        assert_eq!(mode(&t.join("f0")), 0o600);
        assert_eq!(mode(&t.join("d1/f1")), 0o600);
        assert_eq!(mode(&t.join("d1/d2")), 0o700);
        assert_eq!(mode(&t.join("d1/d2/f2")), 0o644, "below the depth");
        assert_eq!(mode(&outside.join("o")), 0o644, "a link's target is not ours");
        fs::remove_dir_all(&t).expect("cleanup");
        fs::remove_dir_all(&outside).expect("cleanup");
    }

    #[test]
    fn a_socket_is_bound_with_its_mode_and_only_over_a_stale_socket() {
        let t = temp("sock");
        let p = t.join("s.sock");
        let l = bind_unix(&p, SOCKET_PRIVATE, None).expect("bind");
        assert_eq!(mode(&p), 0o600);
        assert!(matches!(bind_unix(&p, SOCKET_PRIVATE, None), Err(PermError::Live { .. })));
        drop(l);
        let _l = bind_unix(&p, SOCKET_API, None).expect("over a stale socket");
        assert_eq!(mode(&p), 0o660);
        let f = t.join("file");
        fs::write(&f, b"keep").expect("write");
        assert!(matches!(bind_unix(&f, SOCKET_PRIVATE, None), Err(PermError::NotASocket { .. })));
        assert_eq!(fs::read(&f).expect("still there"), b"keep");
        let link = t.join("link");
        std::os::unix::fs::symlink(&f, &link).expect("symlink");
        let dir = t.join("dir");
        fs::create_dir(&dir).expect("mkdir");
        for (p, kind) in [(&link, "a symbolic link"), (&dir, "a directory")] {
            match bind_unix(p, SOCKET_PRIVATE, None) {
                Err(PermError::NotASocket { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{}: {other:?}", p.display()),
            }
        }
        assert!(fs::symlink_metadata(&link).expect("link kept").file_type().is_symlink());
        assert!(dir.is_dir(), "dir kept");
        fs::remove_dir_all(&t).expect("cleanup");
    }
}
