//! Events the shim publishes (TaskCreate, TaskStart, TaskExit, TaskDelete, exec and pause
//! events, TaskOOM) through containerd's publish binary:
//! `<publish-binary> --address A publish --topic T --namespace NS`, the event Any on stdin.
//! One thread publishes them in order; publishing never blocks the caller, and a dead
//! supervisor only costs dropped events (the exit is also recorded on disk).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;

use super::reaper::Reaper;

/// How long one publish may take before the next one goes ahead.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

enum Msg {
    Event(String, Vec<u8>),
    /// Answered once everything queued before it is published.
    Flush(Sender<()>),
    /// Set-up is over once everything queued before it is published.
    SetUpDone,
}

/// Sends events to the supervisor (or containerd) that started this shim.
#[derive(Clone)]
pub struct Publisher {
    tx: Option<Sender<Msg>>,
}

impl Publisher {
    /// A publisher running `binary`; one that drops everything when `binary` or `address` is empty.
    pub fn new(binary: &str, address: &str, namespace: &str, reaper: Arc<Reaper>) -> Self {
        if binary.is_empty() || address.is_empty() {
            return Publisher { tx: None };
        }
        let (tx, rx) = channel();
        let (binary, address, namespace) = (binary.to_owned(), address.to_owned(), namespace.to_owned());
        let spawned = std::thread::Builder::new().name("publisher".into()).spawn(move || run(rx, &binary, &address, &namespace, &reaper));
        match spawned {
            Ok(_) => Publisher { tx: Some(tx) },
            Err(e) => {
                tracing::warn!("cannot start event publisher: {e}");
                Publisher { tx: None }
            }
        }
    }

    /// Queues `event` (e.g. `containerd.events.TaskExit`) on `topic` (e.g. `/tasks/exit`).
    pub fn publish(&self, topic: &str, type_url: &str, event: &impl Message) {
        let Some(tx) = &self.tx else { return };
        let mut any = Any::new();
        any.type_url = type_url.to_owned();
        let Ok(value) = event.write_to_bytes() else { return };
        any.value = value;
        if let Ok(payload) = any.write_to_bytes() {
            let _ = tx.send(Msg::Event(topic.to_owned(), payload));
        }
    }

    /// Sheds the shim's start-up code from its memory (see `footprint`) once the events
    /// queued so far are published: the init's TaskStart is the last thing set-up does, and
    /// the publisher's own code and spawns are part of the steady state.
    pub fn set_up_done(&self) {
        match &self.tx {
            Some(tx) => {
                let _ = tx.send(Msg::SetUpDone);
            }
            None => crate::footprint::shed_code(),
        }
    }

    /// Waits (at most `timeout`) until every queued event is published: the shim calls
    /// this before exiting, so its last events (exit, delete) are not lost.
    pub fn flush(&self, timeout: Duration) {
        let Some(tx) = &self.tx else { return };
        let (done_tx, done_rx) = channel();
        if tx.send(Msg::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(timeout);
        }
    }
}

fn run(rx: Receiver<Msg>, binary: &str, address: &str, namespace: &str, reaper: &Reaper) {
    for msg in rx {
        let (topic, payload) = match msg {
            Msg::Event(t, p) => (t, p),
            Msg::Flush(done) => {
                let _ = done.send(());
                continue;
            }
            Msg::SetUpDone => {
                crate::footprint::shed_code();
                continue;
            }
        };
        let child = Command::new(binary)
            .arg("--address")
            .arg(address)
            .arg("publish")
            .arg("--topic")
            .arg(&topic)
            .arg("--namespace")
            .arg(namespace)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("publish {topic} via {binary}: {e}");
                continue;
            }
        };
        // The reaper owns every exit in this process: wait through it, never with wait().
        let done = reaper.watch(child.id() as i32);
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&payload);
        }
        match done.recv_timeout(PUBLISH_TIMEOUT) {
            Ok(0) => tracing::debug!(topic, "published"),
            Ok(code) => tracing::debug!(topic, code, "publish failed"),
            Err(_) => tracing::debug!(topic, "publish still running after {PUBLISH_TIMEOUT:?}"),
        }
    }
}
