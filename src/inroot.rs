//! Paths inside a directory tree taken as `/`: a container's rootfs (mount points, device
//! nodes, the cwd), and later the daemon's reads and writes in one (`docker cp`, /etc/passwd,
//! managed files such as /etc/hosts). The tree's root is held open and every path is
//! resolved from that descriptor by the kernel with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)` (the `pathrs` crate, libpathrs, which runc uses too): an absolute
//! symlink means the tree's own root, `..` stops at it, and `/proc/self/root`-style magic
//! links are refused. Every operation returns or works on a descriptor, so a directory
//! swapped for a symlink to the host after the lookup cannot redirect what is done with it
//! (the CVE-2019-19921 / CVE-2021-30465 class of runc bugs).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Permissions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use pathrs::flags::{OpenFlags, ResolverFlags};

/// How many symlinks one path may go through (Linux's own limit for one lookup).
const MAX_LINKS: usize = 40;

/// A failed operation inside a tree: what was done, the path as asked (inside the tree), and
/// the system error (`ELOOP` for a symlink loop, `ENOTDIR` for a file in the middle, ...).
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct InRootError {
    /// The operation, e.g. "mkdir".
    pub op: &'static str,
    /// The path inside the tree, as given.
    pub path: PathBuf,
    /// What the kernel (or the resolver) said.
    pub source: io::Error,
}

impl InRootError {
    fn new(op: &'static str, path: &Path, source: io::Error) -> Self {
        InRootError { op, path: path.to_path_buf(), source }
    }

    /// The errno, if the failure was a system call's.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// The errno of a libpathrs error when it has one (so callers and messages see ENOENT,
/// ELOOP, ...), else its whole message chain.
fn io_of(e: pathrs::error::Error) -> io::Error {
    if let pathrs::error::ErrorKind::OsError(Some(n)) = e.kind() {
        return io::Error::from_raw_os_error(n);
    }
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    io::Error::other(msg)
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// `/proc/self/fd/N` of `fd`: a magic link naming exactly the inode (and mount) `fd` holds, so
/// calls that only take a path (mount(2), xattrs, reopening) reach that and nothing a path
/// could be redirected to.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// A directory tree held open; every path given to it is taken relative to its root.
#[derive(Debug)]
pub struct InRoot {
    root: pathrs::Root,
    host: PathBuf,
}

impl InRoot {
    /// Opens the tree at `host` (itself trusted: the path to the tree is not resolved inside
    /// anything).
    pub fn open(host: &Path) -> Result<InRoot, InRootError> {
        let root = pathrs::Root::open(host).map_err(|e| InRootError::new("open root", host, io_of(e)))?;
        Ok(InRoot { root, host: host.to_path_buf() })
    }

    /// The tree whose root `fd` holds (a directory); `host` is for messages only.
    pub fn from_fd(fd: OwnedFd, host: PathBuf) -> InRoot {
        InRoot { root: pathrs::Root::from_fd(fd), host }
    }

    /// The same tree, but a symlink anywhere in a path is refused (ELOOP) instead of followed;
    /// a symlink as the last component is still opened itself with `O_PATH | O_NOFOLLOW`.
    pub fn without_symlinks(mut self) -> InRoot {
        self.root.set_resolver_flags(ResolverFlags::NO_SYMLINKS);
        self
    }

    /// The tree's host path as it was opened (for messages and for reading `/proc` links).
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The host path of `path` inside the tree, for messages only: never opened.
    pub fn host_path(&self, path: &Path) -> PathBuf {
        self.host.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// An `O_PATH` handle on what `path` leads to, symlinks (the last one too) followed
    /// inside the tree.
    pub fn resolve(&self, path: &Path) -> Result<OwnedFd, InRootError> {
        let fail = |e| InRootError::new("resolve", path, e);
        match self.openat2(path, OFlag::O_PATH) {
            Some(r) => r.map_err(fail),
            None => self.root.resolve(path).map(OwnedFd::from).map_err(|e| fail(io_of(e))),
        }
    }

    /// Like [`InRoot::resolve`], but a symlink as the last component is the handle's target.
    pub fn resolve_nofollow(&self, path: &Path) -> Result<OwnedFd, InRootError> {
        let fail = |e| InRootError::new("resolve", path, e);
        match self.openat2(path, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Some(r) => r.map_err(fail),
            None => self.root.resolve_nofollow(path).map(OwnedFd::from).map_err(|e| fail(io_of(e))),
        }
    }

    /// Opens `path` with `flags` in one `openat2` (`O_CLOEXEC` always); with `O_PATH |
    /// O_NOFOLLOW` a symlink as the last component is opened itself.
    pub fn open_path(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, InRootError> {
        let fail = |e| InRootError::new("open", path, e);
        // O_NOCTTY as pathrs adds it (openat2 refuses it beside O_PATH).
        let noctty = if flags.contains(OFlag::O_PATH) { OFlag::empty() } else { OFlag::O_NOCTTY };
        if let Some(r) = self.openat2(path, flags | noctty) {
            return r.map_err(fail);
        }
        let flags = OpenFlags::from_bits_retain((flags | OFlag::O_CLOEXEC).bits() as u64);
        self.root.open_subpath(path, flags).map(OwnedFd::from).map_err(|e| fail(io_of(e)))
    }

    /// Opens the regular file at `path` for reading (e.g. the image's /etc/passwd). Anything
    /// else there (a fifo that would block, a device) is refused with `EINVAL`.
    pub fn open_read(&self, path: &Path) -> Result<File, InRootError> {
        let fd = self.open_path(path, OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_NONBLOCK)?;
        let file = File::from(fd);
        let md = file.metadata().map_err(|e| InRootError::new("stat", path, e))?;
        if !md.is_file() {
            return Err(InRootError::new("open", path, io::Error::from_raw_os_error(libc::EINVAL)));
        }
        Ok(file)
    }

    /// The directory at `path`, created (mode `mode`, less the umask) with any missing
    /// parents; a handle on it. Symlinks on the way are followed inside the tree, dangling
    /// ones too (their target is created, as `mkdir -p` inside a chroot would); a
    /// non-directory on the way is `ENOTDIR`, a symlink loop `ELOOP`.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd, InRootError> {
        if let Some(fd) = self.mkdir_fast(path, mode) {
            return Ok(fd);
        }
        let at = self.expand(path)?;
        self.mkdir_expanded(&at, mode).map_err(|e| InRootError::new("mkdir", path, e))
    }

    /// [`InRoot::mkdir_all`]'s common cases in a few syscalls: the directory exists (most
    /// mount points), or only its last component is missing. pathrs' mkdir_all reopens its
    /// handles through a verified procfs (some forty syscalls a call: a third of a
    /// container's start when every mount point went through it). None sends the caller
    /// to the general path (deeper missing parents, links, old kernels).
    fn mkdir_fast(&self, path: &Path, mode: u32) -> Option<OwnedFd> {
        let dir = OFlag::O_PATH | OFlag::O_DIRECTORY;
        match self.openat2(path, dir) {
            Some(Ok(fd)) => return Some(fd),
            Some(Err(e)) if e.raw_os_error() == Some(libc::ENOENT) => {}
            _ => return None,
        }
        let (parent, name) = split(path)?;
        if !matches!(Path::new(name).components().next(), Some(Component::Normal(_))) {
            return None;
        }
        let parent = self.openat2(parent, dir)?.ok()?;
        // Only this name is created, never followed: a dangling link (or anything made there
        // meanwhile) fails the O_NOFOLLOW open below and takes the general path.
        match nix::sys::stat::mkdirat(&parent, name, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(_) => return None,
        }
        nix::fcntl::openat(&parent, name, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).ok()
    }

    /// One `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from the root (with
    /// `RESOLVE_NO_SYMLINKS` for [`InRoot::without_symlinks`]), the same lookup pathrs makes,
    /// without the procfs walk pathrs does to describe a failure (a missing path is common
    /// here). None where the kernel has no openat2 (before 5.6): pathrs emulates it.
    fn openat2(&self, path: &Path, flags: OFlag) -> Option<io::Result<OwnedFd>> {
        use rustix::fs::{Mode as RMode, OFlags, ResolveFlags};
        let mut resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        if self.root.resolver_flags().contains(ResolverFlags::NO_SYMLINKS) {
            resolve |= ResolveFlags::NO_SYMLINKS;
        }
        let oflags = OFlags::from_bits_retain((flags | OFlag::O_CLOEXEC).bits() as u32);
        // EAGAIN: a rename or mount somewhere raced the scoped lookup; the kernel asks for a
        // retry (pathrs retries as well).
        for _ in 0..128 {
            match rustix::fs::openat2(self.root.as_fd(), path, oflags, RMode::empty(), resolve) {
                Err(rustix::io::Errno::AGAIN) => continue,
                Err(rustix::io::Errno::NOSYS) => return None,
                r => return Some(r.map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()))),
            }
        }
        Some(Err(io::Error::from_raw_os_error(libc::EAGAIN)))
    }

    fn mkdir_expanded(&self, at: &Path, mode: u32) -> io::Result<OwnedFd> {
        self.root.mkdir_all(at, &Permissions::from_mode(mode)).map(OwnedFd::from).map_err(io_of)
    }

    /// A handle on the file at `path` (a mount point for a file, a managed file), created
    /// empty with mode `mode` (less the umask), and missing parents 0755, if nothing is
    /// there. What is there already is taken as is, symlinks followed inside the tree (a
    /// dangling one's target is created). Open it for writing with [`InRoot::open_path`].
    pub fn create_file(&self, path: &Path, mode: u32) -> Result<OwnedFd, InRootError> {
        let fail = |e| InRootError::new("create", path, e);
        let at = self.expand(path)?;
        match self.root.resolve(&at) {
            Ok(h) => return Ok(h.into()),
            Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) => {}
            Err(e) => return Err(fail(io_of(e))),
        }
        let (parent, name) = split(&at).ok_or_else(|| fail(io::Error::from_raw_os_error(libc::EISDIR)))?;
        let dir = self.mkdir_expanded(parent, 0o755).map_err(fail)?;
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        match nix::fcntl::openat(&dir, name, flags, Mode::from_bits_truncate(mode)) {
            Ok(fd) => Ok(fd),
            // Made meanwhile by someone else: whatever it is now, but never through a link.
            Err(nix::Error::EEXIST) => nix::fcntl::openat(&dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(errno)
                .and_then(refuse_symlink)
                .map_err(fail),
            Err(e) => Err(fail(errno(e))),
        }
    }

    /// Makes a device node or fifo `kind` at `path` (missing parents 0755) and returns a
    /// handle on it. The last component is never followed: anything already there, a
    /// symlink too, is `EEXIST`.
    pub fn mknod(&self, path: &Path, kind: SFlag, mode: u32, dev: u64) -> Result<OwnedFd, InRootError> {
        let fail = |e| InRootError::new("mknod", path, e);
        let (dir, name) = self.parent_of(path, "mknod")?;
        nix::sys::stat::mknodat(&dir, name.as_os_str(), kind, Mode::from_bits_truncate(mode), dev).map_err(|e| fail(errno(e)))?;
        nix::fcntl::openat(&dir, name.as_os_str(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| fail(errno(e)))
    }

    /// Makes a symlink at `path` (missing parents 0755) pointing to `target`, stored as
    /// given. The last component is never followed: anything there is `EEXIST`.
    pub fn symlink(&self, path: &Path, target: &Path) -> Result<(), InRootError> {
        let (dir, name) = self.parent_of(path, "symlink")?;
        nix::unistd::symlinkat(target, &dir, name.as_os_str()).map_err(|e| InRootError::new("symlink", path, errno(e)))
    }

    /// Removes the non-directory at `path` (a symlink itself, not its target).
    pub fn remove_file(&self, path: &Path) -> Result<(), InRootError> {
        let (dir, name) = self.parent_of(path, "remove")?;
        nix::unistd::unlinkat(&dir, name.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir).map_err(|e| InRootError::new("remove", path, errno(e)))
    }

    /// The directory holding `path` (created if missing) and the last component's name.
    fn parent_of(&self, path: &Path, op: &'static str) -> Result<(OwnedFd, OsString), InRootError> {
        let (parent, name) = split(path).ok_or_else(|| InRootError::new(op, path, io::Error::from_raw_os_error(libc::EINVAL)))?;
        let dir = self.mkdir_all(parent, 0o755).map_err(|e| InRootError::new(op, path, e.source))?;
        Ok((dir, name.to_os_string()))
    }

    /// `path` with every symlink that exists along it replaced by its target, read through
    /// the tree's descriptor and taken inside the tree (absolute targets from its root, `..`
    /// stopping at it), missing components kept as named. This only picks WHICH path inside
    /// the tree to create, so that a dangling link's target gets created as Docker and runc
    /// do (the kernel's resolver has no "create through a dangling link"); the creating
    /// calls then resolve that path again with the kernel's in-root resolver, so a swap in
    /// between still cannot leave the tree.
    fn expand(&self, path: &Path) -> Result<PathBuf, InRootError> {
        let mut todo: VecDeque<OsString> = parts(path).into();
        let mut out = PathBuf::from("/");
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                out.pop();
                continue;
            }
            let next = out.join(&name);
            let handle = match self.root.resolve_nofollow(&next) {
                Ok(h) => OwnedFd::from(h),
                Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) => {
                    out = next;
                    continue;
                }
                Err(e) => return Err(InRootError::new("resolve", path, io_of(e))),
            };
            let is_link =
                nix::sys::stat::fstat(&handle).map_err(|e| InRootError::new("stat", path, errno(e)))?.st_mode & libc::S_IFMT == libc::S_IFLNK;
            if !is_link {
                out = next;
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(InRootError::new("resolve", path, io::Error::from_raw_os_error(libc::ELOOP)));
            }
            let target = PathBuf::from(nix::fcntl::readlinkat(&handle, "").map_err(|e| InRootError::new("readlink", &next, errno(e)))?);
            if target.is_absolute() {
                out = PathBuf::from("/");
            }
            for p in parts(&target).into_iter().rev() {
                todo.push_front(p);
            }
        }
        Ok(out)
    }
}

/// The root directory's descriptor.
impl AsFd for InRoot {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }
}

/// The normal and `..` components of `p` (root and `.` dropped).
fn parts(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// `path`'s parent and last name; None for the root (or a path ending in `..`).
fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    Some((path.parent()?, path.file_name()?))
}

fn refuse_symlink(fd: OwnedFd) -> io::Result<OwnedFd> {
    let st = nix::sys::stat::fstat(&fd).map_err(errno)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    /// A tree with hostile links next to an "outside" directory standing for the host.
    struct Fixture {
        base: crate::image::store::TempDir,
        tree: PathBuf,
        outside: PathBuf,
    }

    fn fixture() -> Fixture {
        let base = crate::image::store::TempDir(std::env::temp_dir().join(format!("berth-inroot-{}", crate::util::random_id())));
        let (tree, outside) = (base.0.join("tree"), base.0.join("outside"));
        std::fs::create_dir_all(tree.join("etc")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(tree.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").expect("write");
        std::fs::write(outside.join("canary"), b"host").expect("write");
        std::fs::write(tree.join("file"), b"").expect("write");
        symlink(&outside, tree.join("abs")).expect("symlink");
        symlink("/etc", tree.join("etclink")).expect("symlink");
        symlink("../../../../../../..", tree.join("up")).expect("symlink");
        symlink("b", tree.join("a")).expect("symlink");
        symlink("a", tree.join("b")).expect("symlink");
        symlink("/made/by/link", tree.join("dangling")).expect("symlink");
        Fixture { base, tree, outside }
    }

    fn listing(dir: &Path) -> Vec<OsString> {
        let mut v: Vec<OsString> = std::fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name()).collect();
        v.sort();
        v
    }

    #[test]
    fn an_absolute_symlink_leads_to_the_trees_own_directory() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open");
        let mut s = String::new();
        io::Read::read_to_string(&mut r.open_read(Path::new("/etclink/passwd")).expect("read"), &mut s).expect("read");
        assert!(s.starts_with("root:"), "{s}");
        // A link to the host's directory is that path inside the tree: absent here.
        assert_eq!(r.resolve(Path::new("/abs/canary")).expect_err("resolved out").errno(), Some(libc::ENOENT));
        let d = r.mkdir_all(Path::new("/abs/sub"), 0o755).expect("mkdir through the link");
        let inside = std::fs::metadata(r.host_path(&f.outside).join("sub")).expect("made inside the tree");
        assert_eq!(nix::sys::stat::fstat(&d).expect("fstat").st_ino, inside.ino());
        assert_eq!(listing(&f.outside), ["canary"]);
        let _ = f.base;
    }

    #[test]
    fn dot_dot_above_the_root_stops_at_the_root() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open");
        let via_up = r.resolve(Path::new("/up/etc/passwd")).expect("resolve");
        let via_dots = r.resolve(Path::new("/../../../etc/passwd")).expect("resolve");
        let direct = std::fs::metadata(f.tree.join("etc/passwd")).expect("stat").ino();
        assert_eq!(nix::sys::stat::fstat(&via_up).expect("fstat").st_ino, direct);
        assert_eq!(nix::sys::stat::fstat(&via_dots).expect("fstat").st_ino, direct);
        r.mkdir_all(Path::new("/up/../../x"), 0o755).expect("mkdir");
        assert!(f.tree.join("x").is_dir());
        assert!(!f.base.0.join("x").exists(), "created above the root");
    }

    #[test]
    fn a_symlink_loop_is_eloop_for_every_operation() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open");
        assert_eq!(r.resolve(Path::new("/a/x")).expect_err("loop").errno(), Some(libc::ELOOP));
        assert_eq!(r.mkdir_all(Path::new("/a/x"), 0o755).expect_err("loop").errno(), Some(libc::ELOOP));
        assert_eq!(r.create_file(Path::new("/b"), 0o644).expect_err("loop").errno(), Some(libc::ELOOP));
        assert_eq!(r.mknod(Path::new("/a/null"), SFlag::S_IFIFO, 0o600, 0).expect_err("loop").errno(), Some(libc::ELOOP));
    }

    #[test]
    fn a_file_in_the_middle_of_a_path_is_enotdir() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open");
        assert_eq!(r.mkdir_all(Path::new("/file/sub"), 0o755).expect_err("through a file").errno(), Some(libc::ENOTDIR));
        assert_eq!(r.create_file(Path::new("/file/sub/f"), 0o644).expect_err("through a file").errno(), Some(libc::ENOTDIR));
        assert_eq!(r.resolve(Path::new("/file/x")).expect_err("through a file").errno(), Some(libc::ENOTDIR));
    }

    #[test]
    fn creating_through_a_dangling_last_link_creates_its_target_inside_the_tree() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open");
        let fd = r.create_file(Path::new("/dangling"), 0o644).expect("create");
        let made = std::fs::symlink_metadata(f.tree.join("made/by/link")).expect("target made in the tree");
        assert!(made.is_file());
        assert_eq!(nix::sys::stat::fstat(&fd).expect("fstat").st_ino, made.ino());
        assert!(!Path::new("/made/by/link").exists(), "made on the host");
        // The link itself is left as it was; a node is never made over it.
        assert!(std::fs::symlink_metadata(f.tree.join("dangling")).expect("link").file_type().is_symlink());
        assert_eq!(r.mknod(Path::new("/dangling"), SFlag::S_IFIFO, 0o600, 0).expect_err("over a link").errno(), Some(libc::EEXIST));
        assert_eq!(r.symlink(Path::new("/abs"), Path::new("/x")).expect_err("over a link").errno(), Some(libc::EEXIST));
    }

    #[test]
    fn a_directory_swapped_for_a_host_symlink_after_creation_is_not_followed_by_the_handle() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open");
        let d = r.mkdir_all(Path::new("/mnt/point"), 0o755).expect("mkdir");
        std::fs::rename(f.tree.join("mnt"), f.tree.join("old")).expect("rename");
        symlink(&f.outside, f.tree.join("mnt")).expect("symlink");
        // The handle still names the directory made, wherever it went.
        let target = std::fs::read_link(fd_path(d.as_fd())).expect("readlink");
        assert_eq!(target, f.tree.join("old/point"));
        // And a fresh resolution stays in the tree.
        assert_eq!(r.resolve(Path::new("/mnt/point")).expect_err("out").errno(), Some(libc::ENOENT));
        assert_eq!(listing(&f.outside), ["canary"]);
    }

    #[test]
    fn without_symlinks_any_link_on_the_way_is_refused_but_a_last_one_opens_itself() {
        let f = fixture();
        let r = InRoot::open(&f.tree).expect("open").without_symlinks();
        assert_eq!(r.open_path(Path::new("etclink/passwd"), OFlag::O_PATH).expect_err("followed").errno(), Some(libc::ELOOP));
        let l = r.open_path(Path::new("etclink"), OFlag::O_PATH | OFlag::O_NOFOLLOW).expect("the link itself");
        assert_eq!(nix::fcntl::readlinkat(&l, "").expect("readlink"), OsStr::new("/etc"));
    }
}
