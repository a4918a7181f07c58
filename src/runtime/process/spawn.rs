//! Spawning the container init the runc way: a raw `clone` used like fork (with the new
//! namespace flags), after which the child does only async-signal-safe system calls and
//! execve's `/proc/self/exe init`. This is what makes `create` safe to call from a
//! multi-threaded process (the monolithic daemon): nothing in the child allocates or takes a
//! lock another thread might have held at clone time.
//!
//! Self-protection (CVE-2019-5736): the re-executed binary runs inside the container's
//! namespaces, so `/proc/<its pid>/exe` must not be a writable handle on the host's berth
//! binary. When the child has its own mount namespace, it bind-mounts the binary read-only
//! onto itself there and execs through that mount (a few mount calls, no copy); otherwise it
//! execs a sealed memfd copy, made once per process and cached.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sched::CloneFlags;
use nix::unistd::{pipe2, Pid};

use crate::runtime::error::RuntimeError;

/// Env var carrying the fd init reads its [`super::InitConfig`] from.
pub const ENV_CONFIG_FD: &str = "_BERTH_INIT_CONFIG_FD";
/// Env var carrying the fd init reports ready/error on.
pub const ENV_STATUS_FD: &str = "_BERTH_INIT_STATUS_FD";
/// Env var carrying the number of fds (from 3 on) passed through to the container process.
pub const ENV_PRESERVE_FDS: &str = "_BERTH_INIT_PRESERVE_FDS";
/// Names the fds `spawn` passed on (`pass`, comma-separated), which init keeps while it
/// closes leaked ones.
pub const ENV_PASSED_FD: &str = "_BERTH_INIT_PASSED_FD";
/// At most this many fds go through `pass`.
pub const MAX_PASSED: usize = 2;
/// Test-only escape hatch: `1` turns the binary protection off, so tests can show that they
/// would notice its absence.
pub const ENV_UNSAFE_NO_PROTECT: &str = "BERTH_UNSAFE_NO_MEMFD";

/// How the child reaches the binary it re-executes.
enum Exe {
    /// execve this path as is (protection disabled).
    Plain(CString),
    /// Bind the path (first) read-only onto itself in the child's new mount namespace, then
    /// execve it; the mount holding it (second) is made a slave first, so that bind never
    /// propagates to the host.
    RoBind(CString, CString),
    /// execveat this sealed memfd.
    Memfd(RawFd),
}

/// A sealed memfd copy of the binary at `exe`, made once per process (the monolithic daemon
/// creates many containers; the copy costs a few ms for a big binary).
fn sealed_copy(id: &str, exe: &Path) -> Result<RawFd, RuntimeError> {
    use std::sync::Mutex;
    static CACHE: Mutex<Vec<(std::path::PathBuf, OwnedFd)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, fd)) = cache.iter().find(|(p, _)| p == exe) {
        return Ok(fd.as_raw_fd());
    }
    let src = File::open(exe).map_err(|e| RuntimeError::io(id, "open init binary", exe, e))?;
    let fd = crate::runtime::memfd::sealed_copy(&src).map_err(|e| RuntimeError::io(id, "memfd copy of", exe, e))?;
    let raw = fd.as_raw_fd();
    cache.push((exe.to_owned(), fd));
    Ok(raw)
}

fn choose_exe(id: &str, exe: &Path, flags: CloneFlags) -> Result<Exe, RuntimeError> {
    if std::env::var_os(ENV_UNSAFE_NO_PROTECT).is_some_and(|v| v == "1") {
        return Ok(Exe::Plain(cstr(id, exe.as_os_str().as_bytes())?));
    }
    if flags.contains(CloneFlags::CLONE_NEWNS) && !flags.contains(CloneFlags::CLONE_NEWUSER) {
        // The real path: a bind mount onto /proc/self/exe would not mean the binary.
        if let Ok(real) = std::fs::canonicalize(exe) {
            // Only the mount holding the binary is made a slave: the host's other shared
            // mounts stay peers, so a container's `rshared` bind still sends its mounts back.
            let holder = crate::mountinfo::holding(&real).map(|m| m.mount_point).unwrap_or_else(|| "/".into());
            return Ok(Exe::RoBind(cstr(id, real.as_os_str().as_bytes())?, cstr(id, holder.as_os_str().as_bytes())?));
        }
    }
    Ok(Exe::Memfd(sealed_copy(id, exe)?))
}

/// A freshly cloned init, waiting for its configuration.
pub struct Spawned {
    /// Host pid of the init.
    pub pid: Pid,
    /// Write end of the config pipe.
    pub config: File,
    /// Read end of the status pipe.
    pub status: File,
    /// With a new user namespace: write a byte (after the id maps) to let the child go on.
    pub userns_go: Option<File>,
    /// The numbers the `pass` fds have in the init, in order.
    pub passed: Vec<RawFd>,
}

/// Duplicates `fd` to a close-on-exec descriptor numbered `min` or above, so that dup2 onto
/// 0/1/2 in the child can never clobber it, nor can it land among the preserved fds.
fn high_fd(id: &str, fd: RawFd, min: RawFd) -> Result<OwnedFd, RuntimeError> {
    let borrowed = unsafe_borrow(fd);
    let n = fcntl(borrowed, FcntlArg::F_DUPFD_CLOEXEC(min)).map_err(|e| RuntimeError::sys(id, format!("fcntl(F_DUPFD_CLOEXEC, {fd})"), e))?;
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
/// execs `exe` as `berth runtime init`, keeping fds 3..3+`preserve_fds` open.
pub fn spawn(
    id: &str,
    exe: &Path,
    flags: CloneFlags,
    stdio: Option<[RawFd; 3]>,
    pdeathsig: Option<i32>,
    preserve_fds: u32,
    pass: &[RawFd],
) -> Result<Spawned, RuntimeError> {
    if pass.len() > MAX_PASSED {
        return Err(RuntimeError::Init { id: id.into(), msg: format!("{} fds to pass to init (at most {MAX_PASSED})", pass.len()) });
    }
    let (cfg_r, cfg_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys(id, "pipe2", e))?;
    let (st_r, st_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys(id, "pipe2", e))?;
    // The child's ends must be >= 3 and stay close-on-exec in this (possibly
    // multi-threaded) process: only the child clears the flag, so a concurrent fork+exec
    // elsewhere in the daemon never inherits them.
    let min = 3 + preserve_fds as RawFd;
    let cfg_r = {
        let hi = high_fd(id, cfg_r.as_raw_fd(), min)?;
        drop(cfg_r);
        hi
    };
    let st_w = {
        let hi = high_fd(id, st_w.as_raw_fd(), min)?;
        drop(st_w);
        hi
    };
    // Fds the init gets as they are: ones it could not open by path itself (the exec fifo
    // below a runtime root, the console socket in a caller's private dir: a user
    // namespace's root may not enter them).
    let passed: Vec<OwnedFd> = pass.iter().map(|fd| high_fd(id, *fd, min)).collect::<Result<_, _>>()?;
    let passed_list = passed.iter().map(|f| f.as_raw_fd().to_string()).collect::<Vec<_>>().join(",");
    let stdio_fds: Option<[OwnedFd; 3]> = match stdio {
        Some([a, b, c]) => Some([high_fd(id, a, min)?, high_fd(id, b, min)?, high_fd(id, c, min)?]),
        None => None,
    };

    // Everything the child touches is prepared here, before clone.
    let exe = choose_exe(id, exe, flags)?;
    // `berth runtime init` rather than argv[0] = berth-runtime: the role is picked by the
    // subcommand, so it holds whatever argv[0] the exec ends up with (a memfd, or a tool
    // such as valgrind that sets argv[0] to the binary's own path).
    let argv_c = [cstr(id, b"berth")?, cstr(id, b"runtime")?, cstr(id, b"init")?];
    let env_c = [
        cstr(id, format!("{ENV_CONFIG_FD}={}", cfg_r.as_raw_fd()).as_bytes())?,
        cstr(id, format!("{ENV_STATUS_FD}={}", st_w.as_raw_fd()).as_bytes())?,
        cstr(id, format!("{ENV_PRESERVE_FDS}={preserve_fds}").as_bytes())?,
        cstr(id, format!("{ENV_PASSED_FD}={passed_list}").as_bytes())?,
    ];
    let argv: [*const libc::c_char; 4] = [argv_c[0].as_ptr(), argv_c[1].as_ptr(), argv_c[2].as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 5] = [env_c[0].as_ptr(), env_c[1].as_ptr(), env_c[2].as_ptr(), env_c[3].as_ptr(), std::ptr::null()];
    let child_stdio: [RawFd; 3] = match &stdio_fds {
        Some(f) => [f[0].as_raw_fd(), f[1].as_raw_fd(), f[2].as_raw_fd()],
        None => [-1, -1, -1],
    };
    let mut keep = [-1; 2 + MAX_PASSED];
    keep[0] = cfg_r.as_raw_fd();
    keep[1] = st_w.as_raw_fd();
    for (slot, f) in keep[2..].iter_mut().zip(&passed) {
        *slot = f.as_raw_fd();
    }
    // The parent's pipe ends: never to be passed on, even if they sit among the fds the
    // caller claims to preserve.
    let parents = [cfg_w.as_raw_fd(), st_r.as_raw_fd()];
    // A child in a new user namespace waits for its id maps, then becomes the namespace's
    // root before execve, so that the exec keeps its capabilities there.
    let userns = if flags.contains(CloneFlags::CLONE_NEWUSER) {
        let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys(id, "pipe2", e))?;
        Some((r, w))
    } else {
        None
    };
    let go_fds = userns.as_ref().map(|(r, w)| [r.as_raw_fd(), w.as_raw_fd()]).unwrap_or([-1, -1]);
    let clone_flags = (flags.bits() as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong;

    // SAFETY: clone with a null stack behaves like fork: the child runs on a copy-on-write
    // copy of this thread's stack. Only this thread exists in the child, so the child below
    // restricts itself to async-signal-safe raw system calls on data prepared above and
    // ends in execve or _exit, never returning into Rust code that could allocate or lock.
    let ret = unsafe { libc::syscall(libc::SYS_clone, clone_flags, 0usize, 0usize, 0usize, 0usize) };
    if ret == 0 {
        // SAFETY: we are the child; see above. All pointers point into memory copied from
        // the parent that stays valid until execve.
        unsafe { child(pdeathsig, child_stdio, keep, (preserve_fds, parents), go_fds, &exe, argv.as_ptr(), envp.as_ptr()) }
    }
    if ret < 0 {
        return Err(RuntimeError::sys(id, format!("clone({flags:?})"), nix::errno::Errno::last()));
    }
    let pid = Pid::from_raw(ret as i32);
    drop(cfg_r);
    drop(st_w);
    drop(stdio_fds);
    let userns_go = userns.map(|(r, w)| {
        drop(r);
        File::from(w)
    });
    let passed = passed.iter().map(|f| f.as_raw_fd()).collect();
    Ok(Spawned { pid, config: File::from(cfg_w), status: File::from(st_r), userns_go, passed })
}

/// The child between clone and execve: async-signal-safe calls only.
///
/// # Safety
/// Must only be called in the child of a fork-like clone, with valid NUL-terminated
/// argument arrays.
// The arguments stay separate plain values: the child may not allocate or build structs
// behind the parent's back between clone and execve.
#[allow(clippy::too_many_arguments)]
unsafe fn child(
    pdeathsig: Option<i32>,
    stdio: [RawFd; 3],
    keep: [RawFd; 2 + MAX_PASSED],
    (preserve_fds, parents): (u32, [RawFd; 2]),
    userns_go: [RawFd; 2],
    exe: &Exe,
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
            if fd >= 0 && libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                libc::_exit(125);
            }
        }
        if userns_go[0] >= 0 {
            // Our copy of the write end goes first, so a dead parent means EOF.
            libc::close(userns_go[1]);
            let mut b = 0u8;
            // EOF without the byte means the parent gave up: do not go on unmapped.
            if libc::read(userns_go[0], &mut b as *mut u8 as *mut libc::c_void, 1) != 1 {
                libc::_exit(125);
            }
            libc::close(userns_go[0]);
            // Root of the new namespace (if mapped); failures surface later as init errors.
            libc::setresgid(0, 0, 0);
            libc::setresuid(0, 0, 0);
        }
        for fd in (3..3 + preserve_fds as RawFd).filter(|fd| !parents.contains(fd) && !userns_go.contains(fd)) {
            // The caller's fds to pass on: may be close-on-exec in a library caller.
            libc::fcntl(fd, libc::F_SETFD, 0);
        }
        match exe {
            Exe::Plain(p) => {
                libc::execve(p.as_ptr(), argv, envp);
            }
            Exe::RoBind(p, holder) => {
                let none = std::ptr::null::<libc::c_char>();
                let nodata = std::ptr::null::<libc::c_void>();
                // First keep the bind from propagating to the host (its mount a slave),
                // then make the binary a read-only mount of its own.
                if libc::mount(none, holder.as_ptr(), none, libc::MS_SLAVE, nodata) < 0
                    || libc::mount(p.as_ptr(), p.as_ptr(), none, libc::MS_BIND, nodata) < 0
                    || libc::mount(none, p.as_ptr(), none, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY, nodata) < 0
                {
                    libc::_exit(124);
                }
                libc::execve(p.as_ptr(), argv, envp);
            }
            Exe::Memfd(fd) => {
                libc::syscall(libc::SYS_execveat, *fd, c"".as_ptr(), argv, envp, libc::AT_EMPTY_PATH);
            }
        }
        libc::_exit(127)
    }
}
