//! Exit status as containers report it, written once: the process's exit code, or 128 plus
//! the number of the signal that killed it (a shell's `$?`, Docker's `ExitCode`).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::wait::WaitStatus;

/// The exit code of a process that ended (`waitpid`); None for a stop or continue report.
pub fn from_wait(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(signaled(sig as i32)),
        _ => None,
    }
}

/// The exit code of a finished `std::process::Child`.
pub fn from_std(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| signaled(status.signal().unwrap_or(0)))
}

/// The code of a process killed by signal `sig`.
pub fn signaled(sig: i32) -> i32 {
    128 + sig
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn exits_keep_their_code_and_signals_become_128_plus_the_number() {
        let pid = Pid::from_raw(1);
        assert_eq!(from_wait(WaitStatus::Exited(pid, 5)), Some(5));
        assert_eq!(from_wait(WaitStatus::Signaled(pid, Signal::SIGTERM, false)), Some(143));
        assert_eq!(from_wait(WaitStatus::Signaled(pid, Signal::SIGKILL, true)), Some(137));
        assert_eq!(from_wait(WaitStatus::Stopped(pid, Signal::SIGSTOP)), None);
        assert_eq!(from_std(ExitStatus::from_raw(5 << 8)), 5);
        assert_eq!(from_std(ExitStatus::from_raw(libc::SIGTERM)), 143);
    }
}
