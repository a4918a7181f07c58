//! The container's root filesystem, set up by init inside its new mount namespace: mount
//! propagation, the rootfs bind, config.json mounts, /dev, pivot_root, masked and read-only
//! paths. Every path config.json names inside the container is resolved inside the rootfs
//! by [`crate::inroot`] and acted on through the descriptor it returns.

use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{fstatvfs, FsFlags};
use oci_spec::runtime::{Mount, Spec};

use super::error::RuntimeError;
use crate::inroot::{fd_path, InRoot, InRootError};
use crate::mountopts::{parse_options, propagation_flags, MountOpts};

mod dev;

pub use dev::{needs_dev, setup_dev};

type R = Result<(), RuntimeError>;

fn mnt(id: &str, src: Option<&Path>, dst: &Path, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> R {
    mount(src, dst, fstype, flags, data).map_err(|e| {
        RuntimeError::sys(
            id,
            format!(
                "mount {} on {} (type {}, flags {flags:?}, data {:?})",
                src.map(|s| s.display().to_string()).unwrap_or_default(),
                dst.display(),
                fstype.unwrap_or(""),
                data.unwrap_or("")
            ),
            e,
        )
    })
}

/// linux.rootfsPropagation as mount flags (None when config.json does not set it).
fn root_propagation(spec: &Spec) -> Option<MsFlags> {
    spec.linux().as_ref().and_then(|l| l.rootfs_propagation().as_deref()).and_then(propagation_flags)
}

/// Step 1 (before anything is mounted): make the host's mounts invisible to propagation
/// (rootfsPropagation, default rslave) and bind the rootfs onto itself so it is a mount
/// point pivot_root accepts. The container's own "/" gets rootfsPropagation in [`finalize`].
pub fn prepare(id: &str, spec: &Spec, rootfs: &Path) -> R {
    let early = match root_propagation(spec) {
        None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        // An unbindable mount refuses the bind below: private (the same, minus that) until
        // [`finalize`].
        Some(p) if p.contains(MsFlags::MS_UNBINDABLE) => (p - MsFlags::MS_UNBINDABLE) | MsFlags::MS_PRIVATE,
        Some(p) => p,
    };
    mnt(id, None, Path::new("/"), None, early, None)?;
    // pivot_root refuses a new root whose parent mount is shared; made private before the
    // bind, the bind is not shared either (runc's rootfsParentMountPrivate). That mount is
    // outside the rootfs, so nothing the container keeps changes.
    make_containing_mount_private(id, rootfs)?;
    mnt(id, Some(rootfs), rootfs, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
}

/// Makes the mount that `path` lives on private: the nearest of `path` and its ancestors
/// that is a mount point (a propagation change on any other directory fails with EINVAL).
fn make_containing_mount_private(id: &str, path: &Path) -> R {
    for dir in path.ancestors() {
        match mount(None::<&str>, dir, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EINVAL) => continue,
            Err(e) => return Err(RuntimeError::sys(id, format!("make the mount of {} private", dir.display()), e)),
        }
    }
    Ok(())
}

/// A mount point inside the rootfs, held by descriptor from its resolution to the mount, so
/// a path component swapped for a symlink meanwhile cannot move the mount elsewhere (onto
/// the host above all): the mount goes onto the descriptor (`move_mount`, or mount(2) on its
/// `/proc/self/fd` link), as runc does.
struct Target {
    fd: OwnedFd,
    /// The path as config.json names it, for messages.
    shown: PathBuf,
}

impl Target {
    fn proc_path(&self) -> PathBuf {
        fd_path(self.fd.as_fd())
    }
}

/// An in-root failure as the runtime reports it: the path as config.json names it.
fn in_root<'a>(id: &'a str, what: &'static str) -> impl FnOnce(InRootError) -> RuntimeError + 'a {
    move |e| RuntimeError::io(id, what, e.path, e.source)
}

fn errno(e: rustix::io::Errno) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error())
}

/// Opens the rootfs (after [`prepare`] bound it onto itself, so the handle is that mount's
/// root): everything config.json names inside it is resolved from here.
pub fn open_root(id: &str, rootfs: &Path) -> Result<InRoot, RuntimeError> {
    InRoot::open(rootfs).map_err(|e| RuntimeError::io(id, "open rootfs", rootfs, e.source))
}

/// The mount point for `dest`: a directory, or a file for a bind of a file, created inside
/// the rootfs (with missing parents) when missing.
fn mount_point(id: &str, root: &InRoot, dest: &Path, dir: bool) -> Result<Target, RuntimeError> {
    let fd = if dir { root.mkdir_all(dest, 0o755) } else { root.create_file(dest, 0o644) }.map_err(in_root(id, "make mount point"))?;
    Ok(Target { fd, shown: dest.to_path_buf() })
}

/// mount(2) onto a target's descriptor; messages name the target as config.json does.
fn mnt_at(id: &str, src: Option<&Path>, t: &Target, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> R {
    mount(src, &t.proc_path(), fstype, flags, data).map_err(|e| {
        RuntimeError::sys(
            id,
            format!(
                "mount {} on {} (type {}, flags {flags:?}, data {:?})",
                src.map(|s| s.display().to_string()).unwrap_or_default(),
                t.shown.display(),
                fstype.unwrap_or(""),
                data.unwrap_or("")
            ),
            e,
        )
    })
}

/// What a bind mount shows.
enum BindSource<'a> {
    /// A host path (config.json's source, or a host device node).
    Host(&'a Path),
    /// What a descriptor holds (a path bound onto itself).
    Fd(BorrowedFd<'a>),
}

/// Binds `source` onto `t`: a detached copy of it (`open_tree`, recursive for `rec`) moved
/// onto the target's descriptor, so no path is resolved at the target again. Returns the new
/// mount's root, on which later flag and propagation changes are made.
fn bind_onto(id: &str, source: BindSource, rec: bool, t: &Target) -> Result<Target, RuntimeError> {
    use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if rec {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let (tree, shown) = match source {
        BindSource::Host(p) => (open_tree(rustix::fs::CWD, p, flags), p.display().to_string()),
        BindSource::Fd(fd) => (open_tree(fd, "", flags | OpenTreeFlags::AT_EMPTY_PATH), t.shown.display().to_string()),
    };
    let tree = match tree {
        // Kernels before 5.2, and valgrind (examples/link-order.sh profiles under it), have no
        // open_tree: bind with mount(2) instead.
        Err(rustix::io::Errno::NOSYS) => return bind_by_mount(id, source, rec, t),
        r => r.map_err(|e| RuntimeError::sys(id, format!("open_tree {shown} (to bind on {})", t.shown.display()), errno(e)))?,
    };
    move_mount(&tree, "", &t.fd, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
        .map_err(|e| RuntimeError::sys(id, format!("move_mount {shown} onto {}", t.shown.display()), errno(e)))?;
    Ok(Target { fd: tree, shown: t.shown.clone() })
}

/// [`bind_onto`] without open_tree: mount(2) binds `source` onto the target's descriptor, and
/// the new mount's root is opened by the target's path (read off the descriptor), which
/// leaves the window runc's reopenAfterMount has; only where open_tree is missing.
fn bind_by_mount(id: &str, source: BindSource, rec: bool, t: &Target) -> Result<Target, RuntimeError> {
    let src = match source {
        BindSource::Host(p) => p.to_path_buf(),
        BindSource::Fd(fd) => fd_path(fd),
    };
    let flags = if rec { MsFlags::MS_BIND | MsFlags::MS_REC } else { MsFlags::MS_BIND };
    mount(Some(&src), &t.proc_path(), None::<&str>, flags, None::<&str>)
        .map_err(|e| RuntimeError::sys(id, format!("bind {} on {}", src.display(), t.shown.display()), e))?;
    let at = fs::read_link(t.proc_path()).map_err(|e| RuntimeError::io(id, "readlink mount point", &t.shown, e))?;
    let fd = nix::fcntl::open(&at, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RuntimeError::sys(id, format!("open the bind mount on {}", t.shown.display()), e))?;
    Ok(Target { fd, shown: t.shown.clone() })
}

/// Remounts the mount whose root `top` holds with `flags` (plus the flags the kernel keeps
/// locked): how a bind gets its options.
fn remount(id: &str, top: &Target, flags: MsFlags) -> R {
    let keep = locked_flags(top.fd.as_fd());
    mnt_at(id, None, top, None, flags | keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT, None)
}

/// The root of the mount just made on `t` (mount(2) left `t` naming the directory
/// underneath): the same path resolved again inside the rootfs, accepted only if it is still
/// the path `t` had. A swap in between is refused (runc's reopenAfterMount); what remains is
/// the window runc has too, and only mounts inside the rootfs can be reached through it.
fn reopen_after_mount(id: &str, root: &InRoot, t: &Target) -> Result<Target, RuntimeError> {
    let moved = || RuntimeError::InvalidSpec { id: id.into(), reason: format!("mount point {} moved while it was being mounted", t.shown.display()) };
    let before = fs::read_link(t.proc_path()).map_err(|e| RuntimeError::io(id, "readlink mount point", &t.shown, e))?;
    // The rootfs as the kernel names it (the bundle path may go through symlinks).
    let host = fs::read_link(fd_path(root.as_fd())).map_err(|e| RuntimeError::io(id, "readlink rootfs", root.host(), e))?;
    let rel = before.strip_prefix(&host).map_err(|_| moved())?;
    let fd = root.resolve(&Path::new("/").join(rel)).map_err(in_root(id, "reopen mount point"))?;
    let top = Target { fd, shown: t.shown.clone() };
    if fs::read_link(top.proc_path()).ok().as_deref() != Some(before.as_path()) {
        return Err(moved());
    }
    Ok(top)
}

fn destination<'m>(id: &str, m: &'m Mount) -> Result<&'m Path, RuntimeError> {
    let d = m.destination();
    if !d.is_absolute() {
        return Err(RuntimeError::InvalidSpec { id: id.to_owned(), reason: format!("mount destination {} is not absolute", d.display()) });
    }
    Ok(d)
}

/// Step 2: every mount of config.json, in order, each destination resolved inside `root`;
/// `cgroup` mounts show `cgroup`.
pub fn mount_all(id: &str, spec: &Spec, root: &InRoot, cgroup: &CgroupView) -> R {
    let Some(mounts) = spec.mounts() else { return Ok(()) };
    for m in mounts {
        mount_one(id, root, m, cgroup)?;
    }
    Ok(())
}

fn mount_one(id: &str, root: &InRoot, m: &Mount, cgroup: &CgroupView) -> R {
    let dest = destination(id, m)?;
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    // The new mount's root when it is known without looking the path up again.
    let (t, top) = if is_bind {
        let src_is_dir = fs::metadata(&source).map(|md| md.is_dir()).map_err(|e| RuntimeError::io(id, "bind mount source", &source, e))?;
        let t = mount_point(id, root, dest, src_is_dir)?;
        let top = bind_onto(id, BindSource::Host(&source), opts.flags.contains(MsFlags::MS_REC), &t)?;
        // A bind mount ignores other flags; they take a remount.
        let rest = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !rest.is_empty() {
            remount(id, &top, rest)?;
        }
        (t, Some(top))
    } else if typ == "cgroup" || typ == "cgroup2" {
        let t = mount_point(id, root, dest, true)?;
        let top = mount_cgroup(id, root, &t, &opts, cgroup)?;
        (t, top)
    } else {
        let t = mount_point(id, root, dest, true)?;
        let data = opts.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        mnt_at(id, Some(&source), &t, Some(typ), opts.flags, data)?;
        (t, None)
    };
    if !opts.propagation.is_empty() {
        let top = match top {
            Some(top) => top,
            None => reopen_after_mount(id, root, &t)?,
        };
        mnt_at(id, None, &top, None, opts.propagation, None)?;
    }
    Ok(())
}

/// What a `cgroup` mount shows the container: its own cgroup.
#[derive(Debug, Clone, Copy)]
pub struct CgroupView<'a> {
    /// The container's cgroup below each hierarchy root (see `cgroups::resolve_path`); its
    /// directories exist when init mounts.
    pub paths: &'a super::cgroups::CgroupPaths,
    /// Whether init is in a cgroup namespace of its own (rooted at that cgroup).
    pub namespaced: bool,
}

/// Whether a container of `spec` mounts its own cgroup directories of a v1 host (a `cgroup`
/// mount): then they must exist before init sets up its mounts.
pub fn binds_v1_cgroups(spec: &Spec) -> bool {
    !super::cgroups::is_v2() && spec.mounts().iter().flatten().any(|m| matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")))
}

/// A cgroup mount on `t`. Pure v2: a cgroup2 mount. v1 or hybrid (runc's layout): a tmpfs
/// with one directory per v1 hierarchy the container joins, named like the host's mount
/// point (`memory`, `cpu,cpuacct`, plus a symlink per co-mounted subsystem), each showing the
/// container's own cgroup: a fresh mount of the hierarchy in a cgroup namespace, else a bind
/// of the host's directory. Hierarchies the container does not join (name=systemd,
/// net_cls, ...) are not shown: a bind would expose the host's tree. The tmpfs is read-only
/// if the mount asks for it. Inside the fresh tmpfs (only this mount namespace sees it)
/// everything is made relative to its root's descriptor, which is returned (None for v2).
fn mount_cgroup(id: &str, root: &InRoot, t: &Target, opts: &MountOpts, view: &CgroupView) -> Result<Option<Target>, RuntimeError> {
    let flags = opts.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY | MsFlags::MS_RELATIME);
    if super::cgroups::is_v2() {
        return mnt_at(id, Some(Path::new("cgroup2")), t, Some("cgroup2"), flags, None).map(|()| None);
    }
    // Read before our own mounts below the rootfs show up in it.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| RuntimeError::io(id, "read", "/proc/self/mountinfo", e))?;
    let hierarchies = super::cgroups::v1_hierarchies(&mountinfo, Some(root.host()));
    mnt_at(id, Some(Path::new("tmpfs")), t, Some("tmpfs"), flags & !MsFlags::MS_RDONLY, Some("mode=755"))?;
    let tmpfs = reopen_after_mount(id, root, t)?;
    for h in hierarchies.iter().filter(|h| h.joined()) {
        let Some(name) = h.mount_point.file_name() else { continue };
        let source = h.mount_point.join(view.paths.of_hierarchy(&h.subsystems));
        if !view.namespaced && !source.is_dir() {
            // A hierarchy the cgroup library left out (nothing of ours to show there).
            continue;
        }
        let shown = t.shown.join(name);
        let sys = |what: &str| {
            let shown = shown.clone();
            let what = what.to_owned();
            move |e| RuntimeError::sys(id, format!("{what} {}", shown.display()), e)
        };
        match nix::sys::stat::mkdirat(&tmpfs.fd, name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(sys("mkdir")(e)),
        }
        let fd = nix::fcntl::openat(&tmpfs.fd, name, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(sys("open"))?;
        let sub = Target { fd, shown: shown.clone() };
        if view.namespaced {
            let data = h.subsystems.join(",");
            mnt_at(id, Some(Path::new("cgroup")), &sub, Some("cgroup"), flags, Some(&data))?;
        } else {
            let top = bind_onto(id, BindSource::Host(&source), true, &sub)?;
            remount(id, &top, flags)?;
        }
        let name = name.to_string_lossy();
        for co in name.split(',').filter(|s| *s != name) {
            match nix::unistd::symlinkat(&*name, &tmpfs.fd, co) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(RuntimeError::sys(id, format!("symlink {}", t.shown.join(co).display()), e)),
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        remount(id, &tmpfs, flags)?;
    }
    Ok(Some(tmpfs))
}

/// Flags a bind remount of the mount `fd` is on must keep (the kernel refuses to clear
/// locked ones).
fn locked_flags(fd: BorrowedFd) -> MsFlags {
    let Ok(st) = fstatvfs(fd) else { return MsFlags::empty() };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (s, ms) in [(FsFlags::ST_NOSUID, MsFlags::MS_NOSUID), (FsFlags::ST_NODEV, MsFlags::MS_NODEV), (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC)] {
        if f.contains(s) {
            m |= ms;
        }
    }
    m
}

/// Step 4: pivot_root into the rootfs and drop the old root (the runc way: pivot_root(".", ".")
/// then a lazy unmount of the old root stacked underneath).
pub fn pivot(id: &str, rootfs: &Path) -> R {
    let old_root = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RuntimeError::sys(id, "open / (the old root)", e))?;
    nix::unistd::chdir(rootfs).map_err(|e| RuntimeError::sys(id, format!("chdir {}", rootfs.display()), e))?;
    // pivot_root also refuses a shared current root (rootfsPropagation "shared" with the
    // rootfs on a mount other than "/"); that root is detached right below.
    mnt(id, None, Path::new("/"), None, MsFlags::MS_PRIVATE, None)?;
    nix::unistd::pivot_root(".", ".").map_err(|e| RuntimeError::sys(id, "pivot_root", e))?;
    // The old root is now stacked on the new one, and "." still names the new root's
    // directory underneath (mount(2) does not cross the mount on the last component, only
    // umount2 does): enter the old root itself, as runc does, or the change below would make
    // every mount of the container a slave (dropping a "shared" that config.json asked for).
    nix::unistd::fchdir(&old_root).map_err(|e| RuntimeError::sys(id, "fchdir to the old root", e))?;
    drop(old_root);
    // The old root must not propagate our unmount back to the host.
    mnt(id, None, Path::new("."), None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| RuntimeError::sys(id, "umount old root", e))?;
    nix::unistd::chdir("/").map_err(|e| RuntimeError::sys(id, "chdir /", e))
}

/// Step 5 (after pivot_root): masked paths, read-only paths, read-only root, and the
/// propagation rootfsPropagation asks for on the container's "/". The paths are resolved
/// inside the container's root like mount destinations and mounted on by descriptor.
pub fn finalize(id: &str, spec: &Spec) -> R {
    let linux = spec.linux().as_ref();
    let root = open_root(id, Path::new("/"))?;
    let mut proc_checked = false;
    // The target of each path, None when it does not exist (skipped, as runc does).
    let mut target = |p: &str| -> Result<Option<Target>, RuntimeError> {
        let fd = match root.resolve(Path::new(p)) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(in_root(id, "resolve")(e)),
        };
        if !proc_checked {
            check_proc_fd(id)?;
            proc_checked = true;
        }
        Ok(Some(Target { fd, shown: PathBuf::from(p) }))
    };
    for p in linux.and_then(|l| l.readonly_paths().as_ref()).into_iter().flatten() {
        let Some(t) = target(p)? else { continue };
        let top = bind_onto(id, BindSource::Fd(t.fd.as_fd()), true, &t)?;
        remount(id, &top, MsFlags::MS_RDONLY)?;
    }
    for p in linux.and_then(|l| l.masked_paths().as_ref()).into_iter().flatten() {
        let Some(t) = target(p)? else { continue };
        let is_dir = nix::sys::stat::fstat(&t.fd).map_err(|e| RuntimeError::sys(id, format!("stat {p}"), e))?.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if is_dir {
            mnt_at(id, Some(Path::new("tmpfs")), &t, Some("tmpfs"), MsFlags::MS_RDONLY, None)?;
        } else {
            bind_onto(id, BindSource::Host(Path::new("/dev/null")), false, &t)?;
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        let keep = locked_flags(root.as_fd());
        mnt(id, None, Path::new("/"), None, keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None)?;
    }
    // Only now: "shared" before pivot_root would have been refused by it, and
    // "(r)unbindable" refuses the binds of the rootfs and of readonlyPaths. Private is what
    // the bind of a private mount already gave (runc skips it too).
    match root_propagation(spec) {
        Some(p) if !p.contains(MsFlags::MS_PRIVATE) => mnt(id, None, Path::new("/"), None, p, None),
        _ => Ok(()),
    }
}

/// After pivot_root, mount(2) reaches a descriptor through the container's own /proc: it
/// must be a procfs (config.json's proc mount), not a directory of the image.
fn check_proc_fd(id: &str) -> R {
    match nix::sys::statfs::statfs("/proc/self/fd") {
        Ok(st) if st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC => Ok(()),
        _ => Err(RuntimeError::InvalidSpec {
            id: id.into(),
            reason: "maskedPaths and readonlyPaths need a proc mount on /proc (they are mounted on through /proc/self/fd)".into(),
        }),
    }
}

/// Creates `cwd` inside the container if it is missing (runc does too), 0755, resolved
/// inside the container's root.
pub fn ensure_dir(id: &str, dir: &Path) -> R {
    let root = open_root(id, Path::new("/"))?;
    if root.resolve(dir).is_ok_and(|fd| nix::sys::stat::fstat(&fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)) {
        return Ok(());
    }
    let fd = root.mkdir_all(dir, 0o755).map_err(in_root(id, "mkdir cwd"))?;
    let _ = nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(0o755));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&["nosuid".into(), "ro".into(), "rprivate".into(), "mode=755".into(), "size=1k".into()]);
        assert!(o.flags.contains(MsFlags::MS_NOSUID | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(o.data, vec!["mode=755", "size=1k"]);
    }
}
