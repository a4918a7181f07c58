//! Step 3 of the rootfs: the container's /dev nodes (runc's defaults and config.json's
//! devices), made with mknod inside the rootfs, or bound from the host's same node when mknod
//! is refused; the /dev symlinks and /dev/ptmx.

use std::path::Path;

use nix::fcntl::AtFlags;
use nix::sys::stat::{makedev, Mode, SFlag};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};

use super::{bind_onto, in_root, mount_point, BindSource, R};
use crate::inroot::InRoot;
use crate::runtime::error::RuntimeError;

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
/// /dev symlinks, and /dev/ptmx pointing into the container's devpts; all inside `root`.
pub fn setup_dev(id: &str, spec: &Spec, root: &InRoot) -> R {
    let dev = Path::new("/dev");
    root.mkdir_all(dev, 0o755).map_err(in_root(id, "mkdir"))?;
    let old = nix::sys::stat::umask(Mode::empty());
    let r = (|| {
        for (name, major, minor) in default_devices() {
            make_dev(id, root, &dev.join(name), SFlag::S_IFCHR, makedev(major, minor), 0o666, None, None)?;
        }
        for d in spec.linux().as_ref().and_then(|l| l.devices().as_ref()).into_iter().flatten() {
            make_spec_dev(id, root, d)?;
        }
        Ok(())
    })();
    nix::sys::stat::umask(old);
    r?;
    for (link, target) in
        [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")]
    {
        if link == "core" && !Path::new("/proc/kcore").exists() {
            continue;
        }
        match root.symlink(&dev.join(link), Path::new(target)) {
            Err(e) if e.errno() != Some(libc::EEXIST) => return Err(in_root(id, "symlink")(e)),
            _ => {}
        }
    }
    let ptmx = dev.join("ptmx");
    if root.resolve(&dev.join("pts/ptmx")).is_ok() {
        let _ = root.remove_file(&ptmx);
        root.symlink(&ptmx, Path::new("pts/ptmx")).map_err(in_root(id, "symlink"))?;
    }
    Ok(())
}

fn make_spec_dev(id: &str, root: &InRoot, d: &LinuxDevice) -> R {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return Ok(()),
    };
    let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
    make_dev(id, root, d.path(), kind, makedev(d.major() as u64, d.minor() as u64), mode, d.uid(), d.gid())
}

#[allow(clippy::too_many_arguments)]
fn make_dev(id: &str, root: &InRoot, path: &Path, kind: SFlag, dev: u64, mode: u32, uid: Option<u32>, gid: Option<u32>) -> R {
    match root.mknod(path, kind, mode, dev) {
        Ok(fd) => {
            if uid.is_some() || gid.is_some() {
                nix::unistd::fchownat(&fd, "", uid.map(Uid::from_raw), gid.map(Gid::from_raw), AtFlags::AT_EMPTY_PATH)
                    .map_err(|e| RuntimeError::sys(id, format!("chown device {}", path.display()), e))?;
            }
            Ok(())
        }
        // Already provided (e.g. by a bind mount from config.json).
        Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
        Err(e) if (kind == SFlag::S_IFCHR || kind == SFlag::S_IFBLK) && matches!(e.errno(), Some(libc::EPERM | libc::EACCES)) => {
            // mknod refused (e.g. nodev or no CAP_MKNOD): bind the host's node at the same
            // path instead (runc's fallback), only if it is the very device asked for.
            let host = Path::new("/").join(path.strip_prefix("/").unwrap_or(path));
            let same = nix::sys::stat::stat(&host).is_ok_and(|st| st.st_mode & libc::S_IFMT == kind.bits() && st.st_rdev == dev);
            if !same {
                return Err(RuntimeError::sys(
                    id,
                    format!("mknod {} (and the host's {} is not that device to bind)", path.display(), host.display()),
                    e.errno().map(nix::errno::Errno::from_raw).unwrap_or(nix::errno::Errno::EPERM),
                ));
            }
            let t = mount_point(id, root, path, false)?;
            bind_onto(id, BindSource::Host(&host), false, &t).map(drop)
        }
        Err(e) => Err(in_root(id, "mknod")(e)),
    }
}
