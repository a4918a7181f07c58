//! `berth-runtime init`: the container's pid 1 before it becomes the user's process. It is a
//! fresh single-threaded exec of this binary inside the new namespaces, so it may allocate and
//! use any library. It reads its [`InitConfig`], sets the container up, reports ready (or the
//! error) to `create`, blocks on the exec fifo until `start`, then execve's process.args.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use super::spawn::{ENV_CONFIG_FD, ENV_PASSED_FD, ENV_PRESERVE_FDS, ENV_STATUS_FD};
use super::{InitConfig, InitStatus, Setup};
use crate::runtime::error::RuntimeError;
use crate::runtime::{capabilities, namespaces, rootfs, tty};

/// Everything needed after the fifo opens; prepared while errors can still be reported.
struct Prepared {
    fifo: OwnedFd,
    /// /proc/self/fd of the host, when the container has no /proc of its own to reopen the
    /// fifo through (no mount namespace: init only chroots).
    proc_fd_dir: Option<OwnedFd>,
    exec: ExecPlan,
}

/// The resolved execve of the container process.
pub(super) struct ExecPlan {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    no_new_privs: bool,
    /// The seccomp profile still to install (after no_new_privs, right before execve).
    seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

fn env_fd(name: &str) -> Option<RawFd> {
    std::env::var(name).ok()?.parse().ok().filter(|fd| *fd > 2)
}

/// Entry point of `berth-runtime init`; returns only on failure.
pub fn main() -> ExitCode {
    let (Some(cfg_fd), Some(st_fd)) = (env_fd(ENV_CONFIG_FD), env_fd(ENV_STATUS_FD)) else {
        eprintln!("berth-runtime init: internal command, run by `create` only");
        return ExitCode::FAILURE;
    };
    let preserve = std::env::var(ENV_PRESERVE_FDS).ok().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    // Before anything else: whatever the caller leaked must not be reachable, e.g. as a
    // process.cwd of /proc/self/fd/N pointing at a host directory (CVE-2024-21626).
    let mut keep = vec![cfg_fd, st_fd];
    keep.extend(std::env::var(ENV_PASSED_FD).unwrap_or_default().split(',').filter_map(|n| n.parse::<RawFd>().ok()).filter(|fd| *fd > 2));
    close_leaked_fds(&keep, preserve);
    // SAFETY: `spawn` passed us these two pipe ends (named in our environment) and nothing
    // else in this fresh process owns them.
    let (mut cfg_file, mut status) = unsafe { (File::from_raw_fd(cfg_fd), File::from_raw_fd(st_fd)) };
    let mut buf = Vec::with_capacity(32 * 1024);
    let setup_msg: Setup =
        match cfg_file.read_to_end(&mut buf).map_err(|e| e.to_string()).and_then(|_| serde_json::from_slice(&buf).map_err(|e| e.to_string())) {
            Ok(c) => c,
            Err(e) => {
                report(&mut status, InitStatus::Error(format!("init: reading config: {e}")));
                return ExitCode::FAILURE;
            }
        };
    drop(cfg_file);
    let cfg = match setup_msg {
        Setup::Create(c) => c,
        Setup::Exec(c) => return super::join::main(&c, status),
    };
    let prepared = match setup(&cfg) {
        Ok(p) => p,
        Err(msg) => {
            report(&mut status, InitStatus::Error(msg));
            return ExitCode::FAILURE;
        }
    };
    // Nobody reading means whoever created us died before we were ready (a window the
    // parent-death signal cannot cover): a container nobody will start or delete must not
    // wait on its exec fifo forever.
    if !report(&mut status, InitStatus::Ready) {
        return ExitCode::FAILURE;
    }
    // Closing the status pipe is what tells `create` we are done.
    drop(status);
    exec_after_start(prepared, cfg.preserve_fds)
}

/// Closes every fd above stderr except `keep` and the preserved fds 3..3+`preserve`.
fn close_leaked_fds(keep: &[RawFd], preserve: u32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> = dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    for fd in fds {
        if fd > 2 && fd >= 3 + preserve as RawFd && !keep.contains(&fd) {
            // SAFETY: closing a descriptor this fresh process inherited and does not use
            // (the read_dir handle is already closed, so it is not among them, or it is
            // gone and close fails harmlessly with EBADF).
            unsafe { libc::close(fd) };
        }
    }
}

/// Sends `msg` to the creator; false when it could not be delivered.
pub(super) fn report(status: &mut File, msg: InitStatus) -> bool {
    match serde_json::to_vec(&msg) {
        Ok(mut line) => {
            line.push(b'\n');
            status.write_all(&line).is_ok()
        }
        Err(_) => false,
    }
}

/// Blocks until `start` opens the fifo, then becomes the user's process.
fn exec_after_start(p: Prepared, preserve: u32) -> ExitCode {
    // Re-opening through /proc turns our O_PATH handle into a write end; this blocks until
    // `start` opens the fifo for reading.
    let opened = match &p.proc_fd_dir {
        Some(dir) => nix::fcntl::openat(dir, p.fifo.as_raw_fd().to_string().as_str(), OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()),
        None => open(format!("/proc/self/fd/{}", p.fifo.as_raw_fd()).as_str(), OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()),
    };
    let w = match opened {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("berth-runtime init: open exec fifo: {e}");
            return ExitCode::from(126);
        }
    };
    let mut w = File::from(w);
    if let Err(e) = w.write_all(b"0") {
        eprintln!("berth-runtime init: write exec fifo: {e}");
        return ExitCode::from(126);
    }
    drop(p.fifo);
    // The write end stays open (close-on-exec) until execve succeeds or we exit: `start`
    // reads to EOF, so it returns once the user's process runs, as runc's does.
    let msg = exec_process(&p.exec, preserve);
    drop(w);
    eprintln!("berth-runtime init: {msg}");
    ExitCode::from(127)
}

/// The last steps of every container process (init and exec): no_new_privs, seccomp, no
/// fd but stdio and the preserved ones across execve, clean signals, execve. Returns only
/// on failure, with the message.
pub(super) fn exec_process(p: &ExecPlan, preserve: u32) -> String {
    if let Err(e) = p.no_new_privs.then(nix::sys::prctl::set_no_new_privs).unwrap_or(Ok(())) {
        return format!("no_new_privs: {e}");
    }
    if let Some(profile) = &p.seccomp
        && let Err(e) = crate::runtime::seccomp::apply(profile)
    {
        return format!("seccomp: {e}");
    }
    close_fds_on_exec(preserve);
    reset_signals();
    let e = nix::unistd::execve(&p.path, &p.argv, &p.envp).err();
    format!("exec {:?}: {}", p.path, e.map(|e| e.to_string()).unwrap_or_default())
}

/// Gives the user process a clean signal state, as runc's Go init effectively does: an
/// ignored disposition survives execve, and the Rust runtime ignores SIGPIPE while callers
/// may ignore others (even glibc-internal 32/33) or block some. SIGHUP/SIGINT stay ignored if
/// they were (nohup semantics, like Go).
fn reset_signals() {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
    /// The kernel's struct sigaction; all-zero means SIG_DFL, no flags, empty mask.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };
    for sig in 1..=64 {
        if matches!(sig, libc::SIGKILL | libc::SIGSTOP | libc::SIGHUP | libc::SIGINT) {
            continue;
        }
        // SAFETY: rt_sigaction with a valid, live struct and no old-action pointer; the raw
        // syscall (not glibc's wrapper) also reaches glibc's reserved signals 32 and 33.
        // Setting SIG_DFL runs no code; we are single-threaded and about to execve.
        unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &dfl as *const KernelSigaction, std::ptr::null::<KernelSigaction>(), 8usize) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Marks every descriptor above stderr and the preserved ones close-on-exec: nothing of
/// ours (status pipe, console socket, ...) reaches the container process.
fn close_fds_on_exec(preserve: u32) {
    let first = 3 + preserve;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on a range of fd numbers;
    // no memory is involved.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return;
    }
    // Kernels before 5.11: one fcntl per open fd.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> = dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|fd| *fd >= first as RawFd) {
        // SAFETY: F_SETFD on a number that may or may not be open only sets a flag or fails
        // with EBADF; no memory is involved.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

fn setup(cfg: &InitConfig) -> Result<Prepared, String> {
    let id = cfg.id.as_str();
    let fail = |e: RuntimeError| format!("unable to start container process: {e}");
    let spec = &cfg.spec;
    let process = spec.process().as_ref().ok_or_else(|| fail(RuntimeError::InvalidSpec { id: id.into(), reason: "no process".into() }))?;

    // Our own session, like runc: the container is not part of the caller's job control.
    let _ = nix::unistd::setsid();

    for (flag, path) in &cfg.join {
        namespaces::join(id, CloneFlags::from_bits_truncate(*flag), path).map_err(fail)?;
    }
    if cfg.new_cgroup_ns {
        // The parent moved us into the container's cgroup before sending the config, so the
        // new namespace is rooted there.
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| fail(RuntimeError::sys(id, "unshare(CLONE_NEWCGROUP)", e)))?;
    }
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| fail(RuntimeError::io(id, "write", "/proc/self/oom_score_adj", e)))?;
    }

    // The fifo lives outside the rootfs: hold it (O_PATH, opens without blocking) across
    // pivot_root.
    let fifo = match cfg.fifo_fd {
        // SAFETY: the parent passed this descriptor to us for exactly this use; nothing
        // else in this process owns it.
        Some(fd) => {
            let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
            nix::fcntl::fcntl(&owned, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
                .map_err(|e| fail(RuntimeError::sys(id, "fcntl(exec fifo)", e)))?;
            owned
        }
        None => open(&cfg.fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| fail(RuntimeError::sys(id, format!("open {}", cfg.fifo.display()), e)))?,
    };

    // Connected by `create` (as runc does): the socket usually sits in a directory of the
    // caller's that a user namespace's root may not enter.
    let console = match cfg.console_fd {
        // SAFETY: the parent passed this connected socket for exactly this use; nothing else
        // in this process owns it.
        Some(fd) => {
            let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
            nix::fcntl::fcntl(&owned, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
                .map_err(|e| fail(RuntimeError::sys(id, "fcntl(console socket)", e)))?;
            Some(std::os::unix::net::UnixStream::from(owned))
        }
        None => None,
    };
    let mut proc_fd_dir = None;
    if cfg.new_mount_ns {
        rootfs::prepare(id, spec, &cfg.rootfs).map_err(fail)?;
        // Opened after the rootfs was bound onto itself: mounts made through it land on that
        // bind, which pivot_root takes along.
        let root = rootfs::open_root(id, &cfg.rootfs).map_err(fail)?;
        let cgroup = rootfs::CgroupView { paths: &cfg.cgroup, namespaced: cfg.new_cgroup_ns };
        rootfs::mount_all(id, spec, &root, &cgroup).map_err(fail)?;
        if rootfs::needs_dev(spec) {
            rootfs::setup_dev(id, spec, &root).map_err(fail)?;
        }
        drop(root);
        rootfs::pivot(id, &cfg.rootfs).map_err(fail)?;
    } else {
        proc_fd_dir = Some(
            open("/proc/self/fd", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| fail(RuntimeError::sys(id, "open /proc/self/fd", e)))?,
        );
        nix::unistd::chroot(&cfg.rootfs).map_err(|e| fail(RuntimeError::sys(id, format!("chroot {}", cfg.rootfs.display()), e)))?;
        nix::unistd::chdir("/").map_err(|e| fail(RuntimeError::sys(id, "chdir /", e)))?;
    }

    if cfg.new_uts_ns {
        if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(h).map_err(|e| fail(RuntimeError::sys(id, format!("sethostname {h:?}"), e)))?;
        }
        if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
            set_domainname(d).map_err(|e| fail(RuntimeError::sys(id, format!("setdomainname {d:?}"), e)))?;
        }
    }
    if cfg.new_net_ns {
        namespaces::loopback_up(id).map_err(fail)?;
    }
    // Through the container's own /proc, before readonlyPaths makes /proc/sys read-only;
    // validation made sure each one belongs to a namespace the container owns.
    for (key, value) in spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()).into_iter().flatten() {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| fail(RuntimeError::io(id, "write sysctl", &path, e)))?;
    }

    let cwd = PathBuf::from(process.cwd());
    if !cwd.is_absolute() {
        return Err(fail(RuntimeError::InvalidSpec { id: id.into(), reason: format!("process.cwd {} is not absolute", cwd.display()) }));
    }
    rootfs::ensure_dir(id, &cwd).map_err(fail)?;
    if cfg.new_mount_ns {
        rootfs::finalize(id, spec).map_err(fail)?;
    }

    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        let persona = match p.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        // SAFETY: personality(2) takes one integer and touches no memory of ours.
        if unsafe { libc::personality(persona) } < 0 {
            return Err(fail(RuntimeError::sys(id, format!("personality({persona:#x})"), nix::errno::Errno::last())));
        }
    }
    let console = console.map(|sock| (sock, cfg.new_mount_ns));
    let exec = become_process(id, process, console, cfg.pdeathsig, spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()))?;
    Ok(Prepared { fifo, proc_fd_dir, exec })
}

/// From rlimits to capabilities: turns this process (inside the container's namespaces and
/// root) into `process`'s identity, with `console` (if any) as its terminal (and, when its flag
/// says so, a container init's, as its /dev/console too), and resolves the
/// executable. Shared by init and exec.
pub(super) fn become_process(
    id: &str,
    process: &oci_spec::runtime::Process,
    console: Option<(std::os::unix::net::UnixStream, bool)>,
    pdeathsig: Option<i32>,
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<ExecPlan, String> {
    let fail = |e: RuntimeError| format!("unable to start container process: {e}");
    let cwd = PathBuf::from(process.cwd());
    if !cwd.is_absolute() {
        return Err(fail(RuntimeError::InvalidSpec { id: id.into(), reason: format!("process.cwd {} is not absolute", cwd.display()) }));
    }
    for rl in process.rlimits().iter().flatten() {
        set_rlimit(rl).map_err(|e| fail(RuntimeError::sys(id, format!("setrlimit {:?}", rl.typ()), e)))?;
    }

    if let Some((sock, mount_console)) = console {
        let size =
            process.console_size().as_ref().map(|b| (u16::try_from(b.height()).unwrap_or(u16::MAX), u16::try_from(b.width()).unwrap_or(u16::MAX)));
        let slave = tty::setup(id, sock, size, (process.user().uid(), process.user().gid())).map_err(fail)?;
        if mount_console {
            tty::mount_console(id, &slave).map_err(fail)?;
        }
    }
    // The working directory is entered as root first (runc's order: the user may lack
    // search permission on the way there) and checked while getcwd is certainly allowed: a
    // seccomp profile installed below may refuse it. Retried as the user if refused now.
    let cwd_entered = nix::unistd::chdir(&cwd).is_ok();
    if cwd_entered {
        verify_cwd(id).map_err(fail)?;
    }
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    let mut late_seccomp = seccomp.cloned();
    if !no_new_privs && let Some(profile) = late_seccomp.take() {
        // Without no_new_privs installing a filter needs CAP_SYS_ADMIN: do it while we still
        // have it (runc's order); the remaining setup calls then run under the filter.
        crate::runtime::seccomp::apply(&profile).map_err(|e| format!("unable to start container process: container {id}: {e}"))?;
    }
    let caps = process.capabilities().as_ref();
    if let Some(caps) = caps {
        capabilities::drop_bounding(id, caps).map_err(fail)?;
    }
    let user = process.user();
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    }
    let groups: Vec<Gid> = user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&groups).map_err(|e| fail(RuntimeError::sys(id, "setgroups", e)))?;
    nix::unistd::setgid(Gid::from_raw(user.gid())).map_err(|e| fail(RuntimeError::sys(id, format!("setgid {}", user.gid()), e)))?;
    nix::unistd::setuid(Uid::from_raw(user.uid())).map_err(|e| fail(RuntimeError::sys(id, format!("setuid {}", user.uid()), e)))?;
    if let Some(sig) = pdeathsig {
        // Changing credentials cleared it.
        let sig = nix::sys::signal::Signal::try_from(sig).map_err(|e| fail(RuntimeError::sys(id, "parent death signal", e)))?;
        nix::sys::prctl::set_pdeathsig(sig).map_err(|e| fail(RuntimeError::sys(id, "prctl(PR_SET_PDEATHSIG)", e)))?;
    }
    // The process's capabilities from here on: a non-root user's CAP_DAC_OVERRIDE (say)
    // counts for its cwd and for finding its executable, as it will after execve.
    if let Some(caps) = caps {
        capabilities::apply(id, caps).map_err(fail)?;
    }
    if !cwd_entered {
        nix::unistd::chdir(&cwd).map_err(|e| fail(RuntimeError::sys(id, format!("chdir {}", cwd.display()), e)))?;
        verify_cwd(id).map_err(fail)?;
    }

    let args = process.args().clone().unwrap_or_default();
    let Some(cmd) = args.first() else {
        return Err(fail(RuntimeError::InvalidSpec { id: id.into(), reason: "process.args must not be empty".into() }));
    };
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let path = super::exec::look_path(cmd, &env).map_err(|e| format!("unable to start container process: {e}"))?;
    let c = |s: &str| CString::new(s).map_err(|_| fail(RuntimeError::InvalidSpec { id: id.into(), reason: format!("{s:?} contains a NUL byte") }));
    let path = c(&path.to_string_lossy())?;
    let argv = args.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
    let envp = env.iter().map(|e| c(e)).collect::<Result<Vec<_>, _>>()?;
    Ok(ExecPlan { path, argv, envp, no_new_privs, seccomp: late_seccomp })
}

/// A cwd reached through a leaked fd or a symlink out of the root would be "(unreachable)"
/// (runc's CVE-2024-21626 check).
fn verify_cwd(id: &str) -> Result<(), RuntimeError> {
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(RuntimeError::InvalidSpec {
            id: id.into(),
            reason: "current working directory is outside of container mount namespace root -- possible container breakout detected".into(),
        }),
    }
}

fn set_domainname(d: &str) -> Result<(), nix::errno::Errno> {
    // SAFETY: pointer and length describe a live byte slice.
    let r = unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) };
    if r != 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(())
    }
}

fn set_rlimit(rl: &oci_spec::runtime::PosixRlimit) -> Result<(), nix::errno::Errno> {
    use nix::sys::resource::Resource as X;
    use oci_spec::runtime::PosixRlimitType as T;
    let res = match rl.typ() {
        T::RlimitCpu => X::RLIMIT_CPU,
        T::RlimitFsize => X::RLIMIT_FSIZE,
        T::RlimitData => X::RLIMIT_DATA,
        T::RlimitStack => X::RLIMIT_STACK,
        T::RlimitCore => X::RLIMIT_CORE,
        T::RlimitRss => X::RLIMIT_RSS,
        T::RlimitNproc => X::RLIMIT_NPROC,
        T::RlimitNofile => X::RLIMIT_NOFILE,
        T::RlimitMemlock => X::RLIMIT_MEMLOCK,
        T::RlimitAs => X::RLIMIT_AS,
        T::RlimitLocks => X::RLIMIT_LOCKS,
        T::RlimitSigpending => X::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => X::RLIMIT_MSGQUEUE,
        T::RlimitNice => X::RLIMIT_NICE,
        T::RlimitRtprio => X::RLIMIT_RTPRIO,
        T::RlimitRttime => X::RLIMIT_RTTIME,
    };
    nix::sys::resource::setrlimit(res, rl.soft(), rl.hard())
}
