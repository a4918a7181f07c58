//! The joining side of `exec`: a fresh `berth-runtime init` in the host's namespaces enters
//! every namespace of the running container (setns on fds opened before the first join),
//! then forks, because only children enter a joined pid namespace. The fork uses
//! CLONE_PARENT so the process that will exec is the caller's child (it can wait for it);
//! this intermediate reports that pid and exits.

use std::fs::File;
use std::process::ExitCode;

use nix::sched::CloneFlags;

use super::init::{become_process, exec_process, report};
use super::{ExecConfig, InitStatus};
use crate::runtime::error::RuntimeError;
use crate::runtime::tty;

/// Entry point for [`super::Setup::Exec`]; `status` is the report pipe.
pub fn main(cfg: &ExecConfig, mut status: File) -> ExitCode {
    match enter(cfg) {
        Ok(console) => fork_and_exec(cfg, status, console),
        Err(msg) => {
            report(&mut status, InitStatus::Error(msg));
            ExitCode::FAILURE
        }
    }
}

/// Connects the console socket (a host path) and joins the namespaces; chroots when the
/// container has no mount namespace of its own.
fn enter(cfg: &ExecConfig) -> Result<Option<std::os::unix::net::UnixStream>, String> {
    let id = cfg.id.as_str();
    let fail = |e: RuntimeError| format!("exec failed: {e}");
    let console = match &cfg.console_socket {
        Some(p) => Some(tty::connect(id, p).map_err(fail)?),
        None => None,
    };
    // All opened first: once in the container's mount namespace, /proc is its /proc.
    let mut fds = Vec::with_capacity(cfg.join.len());
    for (flag, path) in &cfg.join {
        let f = File::open(path).map_err(|e| fail(RuntimeError::io(id, "open namespace", path, e)))?;
        fds.push((CloneFlags::from_bits_truncate(*flag), f, path));
    }
    for (flag, f, path) in fds {
        nix::sched::setns(f, flag).map_err(|e| fail(RuntimeError::sys(id, format!("setns {}", path.display()), e)))?;
    }
    if let Some(root) = &cfg.chroot {
        nix::unistd::chroot(root).map_err(|e| fail(RuntimeError::sys(id, format!("chroot {}", root.display()), e)))?;
        nix::unistd::chdir("/").map_err(|e| fail(RuntimeError::sys(id, "chdir /", e)))?;
    }
    Ok(console)
}

fn fork_and_exec(cfg: &ExecConfig, mut status: File, console: Option<std::os::unix::net::UnixStream>) -> ExitCode {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: fork-like clone (null stack) of a single-threaded process: the child owns a
    // full copy of our memory with no lock held by another thread, so it may go on running
    // ordinary Rust code.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if ret < 0 {
        report(&mut status, InitStatus::Error(format!("exec failed: container {}: clone: {}", cfg.id, nix::errno::Errno::last())));
        return ExitCode::FAILURE;
    }
    if ret > 0 {
        // The intermediate: hand over the pid and go; the caller reaps us.
        report(&mut status, InitStatus::Pid(ret as i32));
        return ExitCode::SUCCESS;
    }
    // Our own session, as runc's exec: not part of the caller's job control.
    let _ = nix::unistd::setsid();
    let msg = match become_process(&cfg.id, &cfg.process, console.map(|sock| (sock, false)), None, cfg.seccomp.as_ref()) {
        Ok(plan) => exec_process(&plan, cfg.preserve_fds),
        Err(msg) => msg,
    };
    report(&mut status, InitStatus::Error(msg));
    ExitCode::from(127)
}
