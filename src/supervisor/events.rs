//! The event exchange: everything published goes to every subscriber whose filters match.
//!
//! Filters are understood loosely: each filter is a comma-separated list of clauses
//! `topic==X`, `topic~=X` (substring), `namespace==X` (quotes optional); an event matches a
//! filter when all its understood clauses hold (unknown clauses are ignored), and matches a
//! subscription when any filter matches (or there are none).

use prost::Message;
use tokio::sync::broadcast;

use crate::proto::containerd::types::Envelope;

/// Fan-out of events to subscribers.
#[derive(Clone)]
pub struct Exchange {
    tx: broadcast::Sender<Envelope>,
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange { tx: broadcast::channel(1024).0 }
    }
}

impl Exchange {
    /// Publishes `event` (type name e.g. `containerd.events.TaskExit`) on `topic`.
    pub fn publish<M: Message>(&self, ns: &str, topic: &str, type_name: &str, event: &M) {
        let any = prost_types::Any { type_url: type_name.into(), value: event.encode_to_vec() };
        self.forward(Envelope {
            timestamp: Some(now()),
            namespace: ns.into(),
            topic: topic.into(),
            event: Some(any),
        });
    }

    /// Sends a ready envelope.
    pub fn forward(&self, env: Envelope) {
        tracing::debug!(topic = env.topic, ns = env.namespace, "event");
        let _ = self.tx.send(env);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.tx.subscribe()
    }
}

/// Now as a protobuf timestamp.
pub fn now() -> prost_types::Timestamp {
    let n = chrono::Utc::now();
    prost_types::Timestamp { seconds: n.timestamp(), nanos: n.timestamp_subsec_nanos() as i32 }
}

/// Whether `env` passes `filters` (see the module doc).
pub fn matches(filters: &[String], env: &Envelope) -> bool {
    if filters.is_empty() {
        return true;
    }
    filters.iter().any(|f| {
        f.split(',').all(|clause| {
            let clause = clause.trim();
            let (key, op, val) = if let Some((k, v)) = clause.split_once("==") {
                (k, "==", v)
            } else if let Some((k, v)) = clause.split_once("~=") {
                (k, "~=", v)
            } else {
                return true;
            };
            let val = val.trim().trim_matches('"');
            let field = match key.trim() {
                "topic" => &env.topic,
                "namespace" => &env.namespace,
                _ => return true,
            };
            if op == "==" { field == val } else { field.contains(val) }
        })
    })
}

/// Topics the supervisor generates itself from shim calls (init processes only); copies
/// that shims publish are dropped so subscribers see each event once. Exec exits are not
/// generated here: they come from the shim.
const OWN_TOPICS: &[&str] = &["/tasks/exit", "/tasks/create", "/tasks/start", "/tasks/delete"];

/// Whether `env` (published by a shim) duplicates an event the supervisor sends itself.
pub fn generated_here(env: &Envelope) -> bool {
    if !OWN_TOPICS.contains(&env.topic.as_str()) {
        return false;
    }
    if env.topic == "/tasks/exit"
        && let Some(any) = &env.event
        && let Ok(e) = crate::proto::containerd::events::TaskExit::decode(any.value.as_slice())
    {
        return e.id.is_empty() || e.id == e.container_id;
    }
    true
}
