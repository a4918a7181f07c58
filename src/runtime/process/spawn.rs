//! Spawning the container init the runc way: a raw `clone` used like fork (with the new
//! namespace flags), after which the child does only async-signal-safe system calls and
//! execve's `/proc/self/exe init`. This is what makes `create` safe to call from a
//! multi-threaded process (the monolithic daemon): nothing in the child allocates or takes a
//! lock another thread might have held at clone time.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sched::CloneFlags;
use nix::unistd::{Pid, pipe2};

use crate::runtime::error::RuntimeError;

/// Env var carrying the fd init reads its [`super::InitConfig`] from.
pub const ENV_CONFIG_FD: &str = "_BERTH_INIT_CONFIG_FD";
/// Env var carrying the fd init reports ready/error on.
pub const ENV_STATUS_FD: &str = "_BERTH_INIT_STATUS_FD";

/// A freshly cloned init, waiting for its configuration.
pub struct Spawned {
    /// Host pid of the init.
    pub pid: Pid,
    /// Write end of the config pipe.
    pub config: File,
    /// Read end of the status pipe.
    pub status: File,
}

/// Duplicates `fd` to a close-on-exec descriptor numbered 3 or above, so that dup2 onto
/// 0/1/2 in the child can never clobber it.
fn high_fd(id: &str, fd: RawFd) -> Result<OwnedFd, RuntimeError> {
    let borrowed = unsafe_borrow(fd);
    let n = fcntl(borrowed, FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(|e| RuntimeError::sys(id, format!("fcntl(F_DUPFD_CLOEXEC, {fd})"), e))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: callers pass descriptors that stay open for the duration of the borrow (the
    // caller's stdio fds, which `create` documents it does not close, or pipes we own).
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

fn cstr(id: &str, s: &[u8]) -> Result<CString, RuntimeError> {
    CString::new(s).map_err(|_| RuntimeError::InvalidSpec { id: id.to_owned(), reason: "string contains a NUL byte".into() })
}

/// Clones the init with `flags` (plus SIGCHLD, so the caller reaps it with waitpid) and
/// execs `exe` as `berth-runtime init`.
pub fn spawn(
    id: &str,
    exe: &Path,
    flags: CloneFlags,
    stdio: Option<[RawFd; 3]>,
    pdeathsig: Option<i32>,
) -> Result<Spawned, RuntimeError> {
    let (cfg_r, cfg_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys(id, "pipe2", e))?;
    let (st_r, st_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys(id, "pipe2", e))?;
    // The child's ends must be >= 3 and stay close-on-exec in this (possibly
    // multi-threaded) process: only the child clears the flag, so a concurrent fork+exec
    // elsewhere in the daemon never inherits them.
    let cfg_r = {
        let hi = high_fd(id, cfg_r.as_raw_fd())?;
        drop(cfg_r);
        hi
    };
    let st_w = {
        let hi = high_fd(id, st_w.as_raw_fd())?;
        drop(st_w);
        hi
    };
    let stdio_fds: Option<[OwnedFd; 3]> = match stdio {
        Some([a, b, c]) => Some([high_fd(id, a)?, high_fd(id, b)?, high_fd(id, c)?]),
        None => None,
    };

    // Everything the child touches is prepared here, before clone.
    let exe_c = cstr(id, exe.as_os_str().as_bytes())?;
    let argv_c = [cstr(id, b"berth-runtime")?, cstr(id, b"init")?];
    let env_c = [
        cstr(id, format!("{ENV_CONFIG_FD}={}", cfg_r.as_raw_fd()).as_bytes())?,
        cstr(id, format!("{ENV_STATUS_FD}={}", st_w.as_raw_fd()).as_bytes())?,
    ];
    let argv: [*const libc::c_char; 3] = [argv_c[0].as_ptr(), argv_c[1].as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 3] = [env_c[0].as_ptr(), env_c[1].as_ptr(), std::ptr::null()];
    let child_stdio: [RawFd; 3] = match &stdio_fds {
        Some(f) => [f[0].as_raw_fd(), f[1].as_raw_fd(), f[2].as_raw_fd()],
        None => [-1, -1, -1],
    };
    let keep = [cfg_r.as_raw_fd(), st_w.as_raw_fd()];
    let clone_flags = (flags.bits() as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong;

    // SAFETY: clone with a null stack behaves like fork: the child runs on a copy-on-write
    // copy of this thread's stack. Only this thread exists in the child, so the child below
    // restricts itself to async-signal-safe raw system calls on data prepared above and
    // ends in execve or _exit, never returning into Rust code that could allocate or lock.
    let ret = unsafe { libc::syscall(libc::SYS_clone, clone_flags, 0usize, 0usize, 0usize, 0usize) };
    if ret == 0 {
        // SAFETY: we are the child; see above. All pointers point into memory copied from
        // the parent that stays valid until execve.
        unsafe { child(pdeathsig, child_stdio, keep, exe_c.as_ptr(), argv.as_ptr(), envp.as_ptr()) }
    }
    if ret < 0 {
        return Err(RuntimeError::sys(id, format!("clone({flags:?})"), nix::errno::Errno::last()));
    }
    let pid = Pid::from_raw(ret as i32);
    drop(cfg_r);
    drop(st_w);
    drop(stdio_fds);
    Ok(Spawned { pid, config: File::from(cfg_w), status: File::from(st_r) })
}

/// The child between clone and execve: async-signal-safe calls only.
///
/// # Safety
/// Must only be called in the child of a fork-like clone, with valid NUL-terminated
/// argument arrays.
unsafe fn child(
    pdeathsig: Option<i32>,
    stdio: [RawFd; 3],
    keep: [RawFd; 2],
    exe: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> ! {
    // SAFETY (whole block): raw system calls on plain integers and pointers the caller
    // guarantees valid; none allocates.
    unsafe {
        if let Some(sig) = pdeathsig
            && libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) != 0
        {
            libc::_exit(125);
        }
        for (target, fd) in stdio.iter().enumerate() {
            // dup2 clears close-on-exec on the new descriptor.
            if *fd >= 0 && libc::dup2(*fd, target as RawFd) < 0 {
                libc::_exit(125);
            }
        }
        for fd in keep {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                libc::_exit(125);
            }
        }
        libc::execve(exe, argv, envp);
        libc::_exit(127)
    }
}
