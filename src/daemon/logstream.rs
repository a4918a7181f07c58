//! Following a container's json-file log: what attach and `logs -f` stream to clients.

use super::{ContainerEvent, Daemon};
use crate::logs::jsonfile::{self, Entry};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How often a follower looks for new lines.
const POLL: Duration = Duration::from_millis(25);

/// Where a follower starts reading.
pub enum ReadFrom {
    Start,
    End,
    /// A byte offset (just past lines already sent by other means).
    At(u64),
}

/// Streams log entries of container `id` into the returned channel: the existing ones
/// (from `from`), then new ones while `follow` and the container runs. The stream ends after
/// the container exits and its log has been drained. Dropping the receiver stops it.
pub fn follow(daemon: Arc<Daemon>, id: String, from: ReadFrom, follow: bool) -> mpsc::Receiver<Entry> {
    let (tx, rx) = mpsc::channel(256);
    // Subscribe before looking at the state, so an exit in between is not missed.
    let mut events = daemon.subscribe();
    tokio::spawn(async move {
        let Ok(c) = daemon.containers.get(&id) else { return };
        let path = PathBuf::from(&c.log_path);
        let mut offset = match from {
            ReadFrom::Start => 0,
            ReadFrom::End => std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            ReadFrom::At(o) => o,
        };
        let mut done = !follow;
        loop {
            // The writer rotated the file under us: finish the old generation first.
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len < offset {
                let mut old = path.clone().into_os_string();
                old.push(".1");
                if let Ok((entries, _)) = jsonfile::read_from(std::path::Path::new(&old), offset) {
                    for e in entries {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                }
                offset = 0;
            }
            let (entries, next) = match jsonfile::read_from(&path, offset) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("{e}");
                    return;
                }
            };
            offset = next;
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
