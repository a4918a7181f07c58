//! The container's root filesystem, set up by init inside its new mount namespace: mount
//! propagation, the rootfs bind, config.json mounts, /dev, pivot_root, masked and read-only
//! paths.

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use super::error::RuntimeError;

type R = Result<(), RuntimeError>;

/// Parsed mount options: flags to set, flags for a second propagation call, fs data.
#[derive(Debug)]
struct MountOpts {
    flags: MsFlags,
    propagation: MsFlags,
    data: Vec<String>,
}

fn parse_options(opts: &[String]) -> MountOpts {
    let mut m = MountOpts { flags: MsFlags::empty(), propagation: MsFlags::empty(), data: Vec::new() };
    for o in opts {
        let (set, clear) = match o.as_str() {
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable" | "runbindable" => {
                m.propagation |= propagation_flags(o).unwrap_or(MsFlags::empty());
                continue;
            }
            // Options of other runtimes that have no kernel meaning here.
            "tmpcopyup" | "nofollow" | "rro" | "rnosuid" | "rnodev" | "rnoexec" => continue,
            _ => {
                m.data.push(o.clone());
                continue;
            }
        };
        m.flags |= set;
        m.flags &= !clear;
    }
    m
}

fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

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

/// Joins `unsafe_path` onto `root` resolving symlinks as if `root` were `/`, so that a
/// symlink inside the image can never point a mount outside the rootfs.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> PathBuf {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    // Components still to resolve, front first; ".." kept as a component.
    fn parts(p: &Path) -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_owned()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    }
    let mut queue: VecDeque<OsString> = parts(unsafe_path).into();
    let mut out = PathBuf::new();
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            // Popping at the root stays at the root: ".." cannot climb out.
            out.pop();
            continue;
        }
        let candidate = out.join(&name);
        match fs::read_link(root.join(&candidate)) {
            Ok(target) if links < 255 => {
                links += 1;
                if target.is_absolute() {
                    out = PathBuf::new();
                }
                for n in parts(&target).into_iter().rev() {
                    queue.push_front(n);
                }
            }
            _ => out = candidate,
        }
    }
    root.join(out)
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

fn dest_of(id: &str, rootfs: &Path, m: &Mount) -> Result<PathBuf, RuntimeError> {
    let d = m.destination();
    if !d.is_absolute() {
        return Err(RuntimeError::InvalidSpec { id: id.to_owned(), reason: format!("mount destination {} is not absolute", d.display()) });
    }
    Ok(secure_join(rootfs, d))
}

/// Step 2: every mount of config.json, in order; `cgroup` mounts show `cgroup`.
pub fn mount_all(id: &str, spec: &Spec, rootfs: &Path, cgroup: &CgroupView) -> R {
    let Some(mounts) = spec.mounts() else { return Ok(()) };
    for m in mounts {
        mount_one(id, rootfs, m, cgroup)?;
    }
    Ok(())
}

fn mount_one(id: &str, rootfs: &Path, m: &Mount, cgroup: &CgroupView) -> R {
    let dest = dest_of(id, rootfs, m)?;
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    if is_bind {
        let src_is_dir = fs::metadata(&source).map(|md| md.is_dir()).map_err(|e| RuntimeError::io(id, "bind mount source", &source, e))?;
        make_target(id, &dest, src_is_dir)?;
        let bind_flags = opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
        mnt(id, Some(&source), &dest, None, bind_flags, None)?;
        // A bind mount ignores other flags; they take a remount.
        let rest = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !rest.is_empty() {
            let keep = locked_flags(&dest);
            mnt(id, None, &dest, None, rest | keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT, None)?;
        }
    } else if typ == "cgroup" || typ == "cgroup2" {
        make_target(id, &dest, true)?;
        mount_cgroup(id, rootfs, &dest, &opts, cgroup)?;
    } else {
        make_target(id, &dest, true)?;
        let data = opts.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        mnt(id, Some(&source), &dest, Some(typ), opts.flags, data)?;
    }
    if !opts.propagation.is_empty() {
        mnt(id, None, &dest, None, opts.propagation, None)?;
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

/// A cgroup mount. Pure v2: a cgroup2 mount. v1 or hybrid (runc's layout): a tmpfs with one
/// directory per v1 hierarchy the container joins, named like the host's mount point
/// (`memory`, `cpu,cpuacct`, plus a symlink per co-mounted subsystem), each showing the
/// container's own cgroup: a fresh mount of the hierarchy in a cgroup namespace, else a bind
/// of the host's directory. Hierarchies the container does not join (name=systemd,
/// net_cls, ...) are not shown: a bind would expose the host's tree. The tmpfs is read-only
/// if the mount asks for it.
fn mount_cgroup(id: &str, rootfs: &Path, dest: &Path, opts: &MountOpts, view: &CgroupView) -> R {
    let flags = opts.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY | MsFlags::MS_RELATIME);
    if super::cgroups::is_v2() {
        return mnt(id, Some(Path::new("cgroup2")), dest, Some("cgroup2"), flags, None);
    }
    // Read before our own mounts below `rootfs` show up in it.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| RuntimeError::io(id, "read", "/proc/self/mountinfo", e))?;
    let hierarchies = super::cgroups::v1_hierarchies(&mountinfo, Some(rootfs));
    mnt(id, Some(Path::new("tmpfs")), dest, Some("tmpfs"), flags & !MsFlags::MS_RDONLY, Some("mode=755"))?;
    for h in hierarchies.iter().filter(|h| h.joined()) {
        let Some(name) = h.mount_point.file_name() else { continue };
        let source = h.mount_point.join(view.paths.of_hierarchy(&h.subsystems));
        if !view.namespaced && !source.is_dir() {
            // A hierarchy the cgroup library left out (nothing of ours to show there).
            continue;
        }
        let target = dest.join(name);
        make_target(id, &target, true)?;
        if view.namespaced {
            let data = h.subsystems.join(",");
            mnt(id, Some(Path::new("cgroup")), &target, Some("cgroup"), flags, Some(&data))?;
        } else {
            mnt(id, Some(&source), &target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            let keep = locked_flags(&target);
            mnt(id, None, &target, None, flags | keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT, None)?;
        }
        let name = name.to_string_lossy();
        for sub in name.split(',').filter(|s| *s != name) {
            let link = dest.join(sub);
            if fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(&*name, &link).map_err(|e| RuntimeError::io(id, "symlink", &link, e))?;
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let keep = locked_flags(dest);
        mnt(id, None, dest, None, flags | keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT, None)?;
    }
    Ok(())
}

/// Flags a bind remount must keep (the kernel refuses to clear locked ones).
fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else { return MsFlags::empty() };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (s, ms) in [(FsFlags::ST_NOSUID, MsFlags::MS_NOSUID), (FsFlags::ST_NODEV, MsFlags::MS_NODEV), (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC)] {
        if f.contains(s) {
            m |= ms;
        }
    }
    m
}

fn make_target(id: &str, dest: &Path, dir: bool) -> R {
    if dir {
        fs::create_dir_all(dest).map_err(|e| RuntimeError::io(id, "mkdir mount point", dest, e))
    } else {
        if let Some(p) = dest.parent() {
            fs::create_dir_all(p).map_err(|e| RuntimeError::io(id, "mkdir", p, e))?;
        }
        if !dest.exists() {
            fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o644)
                .open(dest)
                .map_err(|e| RuntimeError::io(id, "create mount point", dest, e))?;
        }
        Ok(())
    }
}

/// Whether /dev gets populated: not when config.json bind-mounts the host's /dev.
pub fn needs_dev(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind"))
    })
}

/// The devices every container gets (runc's defaults).
fn default_devices() -> Vec<(&'static str, u64, u64)> {
    vec![("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
}

/// Step 3: device nodes (mknod, or a bind of the host's node when mknod is refused), the
/// /dev symlinks, and /dev/ptmx pointing into the container's devpts.
pub fn setup_dev(id: &str, spec: &Spec, rootfs: &Path) -> R {
    let dev = secure_join(rootfs, Path::new("/dev"));
    fs::create_dir_all(&dev).map_err(|e| RuntimeError::io(id, "mkdir", &dev, e))?;
    let old = nix::sys::stat::umask(Mode::empty());
    let r = (|| {
        for (name, major, minor) in default_devices() {
            make_dev(id, &dev.join(name), SFlag::S_IFCHR, major, minor, 0o666, None, None)?;
        }
        for d in spec.linux().as_ref().and_then(|l| l.devices().as_ref()).into_iter().flatten() {
            make_spec_dev(id, rootfs, d)?;
        }
        Ok(())
    })();
    nix::sys::stat::umask(old);
    r?;
    for (link, target) in
        [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")]
    {
        let p = dev.join(link);
        if link == "core" && !Path::new("/proc/kcore").exists() {
            continue;
        }
        if fs::symlink_metadata(&p).is_err() {
            std::os::unix::fs::symlink(target, &p).map_err(|e| RuntimeError::io(id, "symlink", &p, e))?;
        }
    }
    let ptmx = dev.join("ptmx");
    if dev.join("pts/ptmx").exists() {
        let _ = fs::remove_file(&ptmx);
        std::os::unix::fs::symlink("pts/ptmx", &ptmx).map_err(|e| RuntimeError::io(id, "symlink", &ptmx, e))?;
    }
    Ok(())
}

fn make_spec_dev(id: &str, rootfs: &Path, d: &LinuxDevice) -> R {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return Ok(()),
    };
    let path = secure_join(rootfs, d.path());
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).map_err(|e| RuntimeError::io(id, "mkdir", p, e))?;
    }
    let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
    make_dev(id, &path, kind, d.major() as u64, d.minor() as u64, mode, d.uid(), d.gid())
}

#[allow(clippy::too_many_arguments)]
fn make_dev(id: &str, path: &Path, kind: SFlag, major: u64, minor: u64, mode: u32, uid: Option<u32>, gid: Option<u32>) -> R {
    if fs::symlink_metadata(path).is_ok() {
        // Already provided (e.g. by a bind mount from config.json).
        return Ok(());
    }
    match mknod(path, kind, Mode::from_bits_truncate(mode), makedev(major, minor)) {
        Ok(()) => {
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(path, uid, gid).map_err(|e| RuntimeError::io(id, "chown device", path, e))?;
            }
            Ok(())
        }
        Err(_) if kind == SFlag::S_IFCHR || kind == SFlag::S_IFBLK => {
            // mknod refused (e.g. nodev or no CAP_MKNOD): bind the host's node instead.
            let host = Path::new("/dev").join(path.file_name().unwrap_or_default());
            make_target(id, path, false)?;
            mnt(id, Some(&host), path, None, MsFlags::MS_BIND, None)
        }
        Err(e) => Err(RuntimeError::sys(id, format!("mknod {}", path.display()), e)),
    }
}

/// Step 4: pivot_root into the rootfs and drop the old root (the runc way: pivot_root(".", ".")
/// then a lazy unmount of the old root stacked underneath).
pub fn pivot(id: &str, rootfs: &Path) -> R {
    nix::unistd::chdir(rootfs).map_err(|e| RuntimeError::sys(id, format!("chdir {}", rootfs.display()), e))?;
    // pivot_root also refuses a shared current root (rootfsPropagation "shared" with the
    // rootfs on a mount other than "/"); that root is detached right below.
    mnt(id, None, Path::new("/"), None, MsFlags::MS_PRIVATE, None)?;
    nix::unistd::pivot_root(".", ".").map_err(|e| RuntimeError::sys(id, "pivot_root", e))?;
    // The old root must not propagate our unmount back to the host.
    mnt(id, None, Path::new("."), None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| RuntimeError::sys(id, "umount old root", e))?;
    nix::unistd::chdir("/").map_err(|e| RuntimeError::sys(id, "chdir /", e))
}

/// Step 5 (after pivot_root): masked paths, read-only paths, read-only root, and the
/// propagation rootfsPropagation asks for on the container's "/".
pub fn finalize(id: &str, spec: &Spec) -> R {
    let linux = spec.linux().as_ref();
    for p in linux.and_then(|l| l.readonly_paths().as_ref()).into_iter().flatten() {
        let path = Path::new(p);
        if fs::symlink_metadata(path).is_err() {
            continue;
        }
        mnt(id, Some(path), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
        let keep = locked_flags(path);
        mnt(id, None, path, None, keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None)?;
    }
    for p in linux.and_then(|l| l.masked_paths().as_ref()).into_iter().flatten() {
        let path = Path::new(p);
        match fs::symlink_metadata(path) {
            Err(_) => continue,
            Ok(md) if md.is_dir() => mnt(id, Some(Path::new("tmpfs")), path, Some("tmpfs"), MsFlags::MS_RDONLY, None)?,
            Ok(_) => mnt(id, Some(Path::new("/dev/null")), path, None, MsFlags::MS_BIND, None)?,
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        let keep = locked_flags(Path::new("/"));
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

/// Creates `cwd` inside the container if it is missing (runc does too), 0755.
pub fn ensure_dir(id: &str, dir: &Path) -> R {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| RuntimeError::io(id, "mkdir cwd", dir, e))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
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

    #[test]
    fn secure_join_keeps_symlinks_inside_root() {
        let dir = std::env::temp_dir().join(format!("berth-sj-{}", std::process::id()));
        let _ = fs::create_dir_all(dir.join("a"));
        let _ = std::os::unix::fs::symlink("/etc", dir.join("a/abs"));
        let _ = std::os::unix::fs::symlink("../../../..", dir.join("a/up"));
        assert_eq!(secure_join(&dir, Path::new("/a/abs/x")), dir.join("etc/x"));
        assert_eq!(secure_join(&dir, Path::new("/a/up/y")), dir.join("y"));
        assert_eq!(secure_join(&dir, Path::new("/../../z")), dir.join("z"));
        let _ = fs::remove_dir_all(&dir);
    }
}
