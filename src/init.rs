//! berth's minimal init for `docker run --init` (Docker's docker-init, tini): PID 1 of the
//! container runs the user's command as its child, forwards every signal it receives to it,
//! reaps every zombie that is reparented to it, and exits with the child's status (128 + the
//! signal number if a signal ended it). Signals are taken synchronously with sigwait: all are
//! blocked, so none is dropped as one without a handler would be for a namespace's init.

use std::ffi::CString;

use nix::errno::Errno;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execvp, fork, ForkResult, Pid};

/// Why the init could not run its child.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// No command after the options.
    #[error("no command to run")]
    NoCommand,
    /// A system call of the init itself failed.
    #[error("{0}: {1}")]
    Sys(&'static str, Errno),
}

/// The exit status of a shell for a command that could not be executed: 127 not found,
/// 126 found but not runnable.
fn exec_failure_code(e: Errno) -> i32 {
    if e == Errno::ENOENT {
        127
    } else {
        126
    }
}

/// Runs `argv` as the child and supervises it; returns the exit status for the init.
pub fn run(argv: &[CString]) -> Result<i32, InitError> {
    let program = argv.first().ok_or(InitError::NoCommand)?;
    let all = SigSet::all();
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old)).map_err(|e| InitError::Sys("sigprocmask", e))?;
    // SAFETY: the init is single-threaded here (a role's main, before any thread), so the
    // child may run anything until it execs.
    let child = match unsafe { fork() }.map_err(|e| InitError::Sys("fork", e))? {
        ForkResult::Child => {
            // The command starts as it would without an init: default dispositions (Rust's
            // runtime ignores SIGPIPE, which exec would pass on) and the mask it was given.
            for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
                // SAFETY: SIG_DFL installs no handler; nothing else runs in the forked child.
                let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
            }
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let Err(err) = execvp(program, argv);
            eprintln!("berth init: exec {}: {err}", program.to_string_lossy());
            // SAFETY: leaving the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(exec_failure_code(err)) };
        }
        ForkResult::Parent { child } => child,
    };
    loop {
        let sig = all.wait().map_err(|e| InitError::Sys("sigwait", e))?;
        if sig == Signal::SIGCHLD {
            if let Some(code) = reap(child)? {
                return Ok(code);
            }
            continue;
        }
        // The child may be gone already (its SIGCHLD is then pending): nothing to forward to.
        match kill(child, sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(InitError::Sys("kill", e)),
        }
    }
}

/// Reaps every child that has ended (orphans reparented to the init too); the code of `main`
/// if it was among them.
fn reap(main: Pid) -> Result<Option<i32>, InitError> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(code),
            Ok(ws) => {
                if ws.pid() == Some(main) {
                    code = crate::exitcode::from_wait(ws).or(code);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(InitError::Sys("waitpid", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_cannot_be_executed_ends_as_in_a_shell() {
        assert_eq!(exec_failure_code(Errno::ENOENT), 127);
        assert_eq!(exec_failure_code(Errno::EACCES), 126);
    }
}
