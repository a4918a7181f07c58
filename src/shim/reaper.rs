//! The shim is a child subreaper: one thread `waitpid(-1)`s for every child and orphan, and
//! hands exit statuses to whoever watches that pid (runtime invocations, container inits).
//! Nothing else in the shim may call `wait` on a child, or it would race this thread.

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::waitpid;

/// Exits not yet claimed are forgotten after this long (orphans nobody waits for).
const UNCLAIMED_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Table {
    watched: HashMap<i32, Sender<i32>>,
    unclaimed: HashMap<i32, (i32, Instant)>,
}

/// Collects exits of every child of this process.
#[derive(Default)]
pub struct Reaper {
    table: Mutex<Table>,
}

impl Reaper {
    /// Starts the reaper thread. Call once, after becoming a subreaper.
    pub fn start() -> Arc<Reaper> {
        let reaper = Arc::new(Reaper::default());
        let r = reaper.clone();
        let spawned = std::thread::Builder::new().name("reaper".into()).spawn(move || r.run());
        if let Err(e) = spawned {
            tracing::error!("cannot start reaper thread: {e}");
        }
        reaper
    }

    /// Returns a channel that receives `pid`'s exit status (code or 128+signal), even if it
    /// was already reaped before this call.
    pub fn watch(&self, pid: i32) -> Receiver<i32> {
        let (tx, rx) = channel();
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((status, _)) = t.unclaimed.remove(&pid) {
            let _ = tx.send(status);
        } else {
            t.watched.insert(pid, tx);
        }
        rx
    }

    /// Hands `pid`'s exit `status` to its watcher (the reaper thread; unit tests stand in for it).
    pub(super) fn record(&self, pid: i32, status: i32) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = t.watched.remove(&pid) {
            let _ = tx.send(status);
            return;
        }
        let now = Instant::now();
        t.unclaimed.retain(|_, (_, at)| now.duration_since(*at) < UNCLAIMED_TTL);
        t.unclaimed.insert(pid, (status, now));
    }

    fn run(&self) {
        loop {
            match waitpid(None::<nix::unistd::Pid>, None) {
                Ok(ws) => {
                    if let (Some(pid), Some(code)) = (ws.pid(), crate::exitcode::from_wait(ws)) {
                        tracing::debug!(pid = pid.as_raw(), code, "reaped");
                        self.record(pid.as_raw(), code);
                    }
                }
                Err(Errno::ECHILD) => std::thread::sleep(Duration::from_millis(20)),
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::warn!("waitpid: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}
