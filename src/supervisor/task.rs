//! One task as the supervisor knows it: a container's init under its shim, the shim client,
//! and the exit once known (watched by everyone who waits for it).

use std::path::PathBuf;
use std::time::Duration;

use containerd_shim_protos::api as shimapi;
use tokio::sync::watch;

use super::shim_client::Shim;
use crate::proto::containerd::v1::types::Status;

/// A task's exit.
#[derive(Debug, Clone)]
pub struct Exit {
    pub pid: u32,
    pub status: u32,
    pub at: prost_types::Timestamp,
}

/// One task (a container's init process under its shim).
pub struct Task {
    pub ns: String,
    pub id: String,
    pub bundle: PathBuf,
    pub pid: u32,
    pub stdout: String,
    pub stderr: String,
    /// None when the shim is gone (found dead at start-up).
    pub client: Option<Shim>,
    pub runtime_name: String,
    pub(super) exit: watch::Sender<Option<Exit>>,
    /// Held while Start runs: the exit of a process that dies at once must not be published
    /// before its TaskStart (dockerd would mark the container running again).
    pub(super) start_gate: tokio::sync::Mutex<()>,
}

impl Task {
    /// The exit, if known.
    pub fn exit(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Waits for the exit.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.subscribe();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                // Sender lives in self: cannot happen while self is borrowed.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A protobuf (rust-protobuf) timestamp as prost's.
pub(super) fn pb_ts(ts: &containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: ts.seconds, nanos: ts.nanos }
}

/// An RFC 3339 time as a prost timestamp (now when unreadable).
pub(super) fn rfc_ts(s: &str) -> prost_types::Timestamp {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 },
        Err(_) => super::events::now(),
    }
}

/// A shim's process status as containerd's.
pub(super) fn shim_status(s: shimapi::Status) -> Status {
    match s {
        shimapi::Status::CREATED => Status::Created,
        shimapi::Status::RUNNING => Status::Running,
        shimapi::Status::STOPPED => Status::Stopped,
        shimapi::Status::PAUSED => Status::Paused,
        shimapi::Status::PAUSING => Status::Pausing,
        _ => Status::Unknown,
    }
}
