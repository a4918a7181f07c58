//! Signal forwarding of a foreground `run` or `exec` (runc's): the signals sent to the
//! runtime process go to the container's process, and with a terminal of ours SIGWINCH
//! resizes the container's pty instead (the kernel then signals its foreground group).

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

use super::RuntimeError;
use crate::terminal::Resizer;

/// The signals a foreground `run`/`exec` forwards.
const FORWARDED: [Signal; 11] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// The forwarded signals, blocked in this thread (and every thread started after).
pub struct Forwarder(SigSet);

impl Forwarder {
    /// Blocks the forwarded signals. Call before any thread exists, so the forwarding
    /// thread's sigwait gets them all; the container process starts with an empty mask.
    pub fn block(id: &str) -> Result<Self, RuntimeError> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(|e| RuntimeError::sys(id, "sigprocmask", e))?;
        Ok(Forwarder(set))
    }

    /// Forwards every blocked signal to `pid` from a background thread for as long as this
    /// process lives; SIGWINCH goes to `resizer` when there is one.
    pub fn forward_to(self, pid: i32, resizer: Option<Resizer>) {
        let pid = nix::unistd::Pid::from_raw(pid);
        let set = self.0;
        std::thread::spawn(move || {
            while let Ok(sig) = set.wait() {
                match (&resizer, sig) {
                    (Some(r), Signal::SIGWINCH) => r.sync(),
                    _ => {
                        let _ = nix::sys::signal::kill(pid, sig);
                    }
                }
            }
        });
    }
}
