//! Following a container's json-file log: what attach and `logs -f` stream to clients.
//!
//! A follower holds the log file open from the moment it is asked for (before the container
//! starts, for `run`), so the container's removal cannot take unread lines away, and
//! auto-removal waits until the container's followers have read its log to the end, as
//! Docker removes a container only after its attach streams are drained.

use super::{ContainerEvent, Daemon};
use crate::logs::cursor::Cursor;
use crate::logs::jsonfile::Entry;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

pub use crate::logs::cursor::ReadFrom;

/// How often a follower looks for new lines.
const POLL: Duration = Duration::from_millis(25);

/// Followers still reading each container's log (container id → how many).
pub struct Readers {
    active: watch::Sender<HashMap<String, usize>>,
}

impl Default for Readers {
    fn default() -> Self {
        Readers { active: watch::channel(HashMap::new()).0 }
    }
}

impl Readers {
    /// Waits until no follower of container `id` is left with unread lines, at most
    /// `timeout` (a client that stops reading holds its follower back); true if none is.
    pub async fn drained(&self, id: &str, timeout: Duration) -> bool {
        let mut rx = self.active.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|m| !m.contains_key(id))).await.is_ok_and(|r| r.is_ok())
    }

    fn add(&self, id: &str) {
        self.active.send_modify(|m| *m.entry(id.to_owned()).or_default() += 1);
    }

    fn release(&self, id: &str) {
        self.active.send_modify(|m| {
            if let Some(n) = m.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    m.remove(id);
                }
            }
        });
    }
}

/// A follower's registration in [`Readers`], released once it has read the log to its end
/// (or has given up).
struct ReaderGuard {
    daemon: Arc<Daemon>,
    id: String,
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        self.daemon.readers.release(&self.id);
    }
}

/// Streams log entries of container `id` into the returned channel: the existing ones
/// (from `from`), then new ones while `follow` and the container runs. The stream ends after
/// the container exits and its log has been drained. Dropping the receiver stops it.
pub fn follow(daemon: Arc<Daemon>, id: String, from: ReadFrom, follow: bool) -> mpsc::Receiver<Entry> {
    let (tx, rx) = mpsc::channel(256);
    // Subscribe before looking at the state, so an exit in between is not missed.
    let mut events = daemon.subscribe();
    // Opened and registered here rather than in the task: `run` starts the container as soon
    // as the attach is answered, and the container may be gone before the task first runs.
    let cursor = match daemon.containers.get(&id) {
        Ok(c) => Cursor::open_registered(Path::new(&c.log_path), from).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    daemon.readers.add(&id);
    let mut guard = Some(ReaderGuard { daemon: daemon.clone(), id: id.clone() });
    tokio::spawn(async move {
        let mut cursor = match cursor {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("follow the log of {id}: {e}");
                return;
            }
        };
        let mut done = !follow;
        loop {
            let entries = match cursor.read() {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::warn!("{e}");
                    return;
                }
            };
            if done {
                // Everything the container wrote is in hand: its removal may go ahead.
                guard.take();
            }
            for e in entries {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ContainerEvent::Exited { id: eid, .. }) | Ok(ContainerEvent::Removed { id: eid, .. }) if eid == id => done = true,
                    Err(broadcast::error::RecvError::Closed) => done = true,
                    _ => {}
                },
                _ = tokio::time::sleep(POLL) => {
                    if daemon.containers.get(&id).map(|c| c.state.status == super::container::Status::Exited).unwrap_or(true) {
                        done = true;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    });
    rx
}
