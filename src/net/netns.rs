//! Network namespaces as files: a container's namespace is made before the container (so its
//! links and addresses are ready when the runtime joins it) and kept alive by a bind mount of
//! its nsfs file, as Docker keeps `/var/run/docker/netns/<sandbox>`. Work inside one runs on a
//! thread of its own that joins it: the namespace is per thread, and the daemon's other
//! threads never change theirs.

use std::fs::File;
use std::io;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

/// Makes a new network namespace and binds it at `path` (a new file; its directory must
/// exist). Its loopback is down, as in any new namespace.
pub fn create(path: &Path) -> io::Result<()> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> io::Result<()> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET)?;
        // The thread's own namespace file: /proc/self would name the main thread's.
        let own = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
        nix::mount::mount(Some(own.as_str()), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
        Ok(())
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Unbinds and removes a namespace file; the namespace itself ends with its last process.
/// A file already gone is not an error.
pub fn remove(path: &Path) -> io::Result<()> {
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `path` is a bound network namespace (an nsfs file), not a plain file left by a
/// crash between its creation and its bind.
pub fn is_bound(path: &Path) -> bool {
    // nsfs's magic number.
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == NSFS_MAGIC)
}

/// Runs `f` on a new thread that has joined the namespace at `path` (`None`: the caller's
/// namespace), and returns its result.
pub fn run_in<T: Send + 'static>(path: Option<&Path>, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    let ns = path.map(File::open).transpose()?;
    std::thread::spawn(move || -> io::Result<T> {
        if let Some(ns) = ns {
            nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)?;
        }
        Ok(f())
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
