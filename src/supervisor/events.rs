//! The event exchange: everything published goes to every subscriber whose filters match.
//!
//! Filters are understood loosely: each filter is a comma-separated list of clauses
//! `topic==X`, `topic~=X` (a regex; anchors `^`/`$` honoured, otherwise a substring),
//! `namespace==X` (values may be quoted with `"`, `|` or `/`); an event matches a
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
        self.forward(Envelope { timestamp: Some(now()), namespace: ns.into(), topic: topic.into(), event: Some(any) });
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

/// Strips containerd filter quoting: `"v"`, `|v|` or `/v/`.
fn unquote(v: &str) -> &str {
    for q in ['"', '|', '/'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// The regular expressions clients actually send for `~=` (`^/tasks/`, `exit$`, plain
/// text): anchors are honoured, everything else is matched as a substring.
fn regex_lite_match(pattern: &str, field: &str) -> bool {
    let (start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => field == p,
        (true, false) => field.starts_with(p),
        (false, true) => field.ends_with(p),
        (false, false) => field.contains(p),
    }
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
            let val = unquote(val.trim());
            let field = match key.trim() {
                "topic" => &env.topic,
                "namespace" => &env.namespace,
                _ => return true,
            };
            if op == "==" {
                field == val
            } else {
                regex_lite_match(val, field)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(ns: &str, topic: &str) -> Envelope {
        Envelope { timestamp: None, namespace: ns.into(), topic: topic.into(), event: None }
    }

    #[test]
    fn dockerd_subscription_filter_matches_task_events_of_its_namespace() {
        let f = vec!["namespace==moby,topic~=|^/tasks/|".to_owned()];
        assert!(matches(&f, &env("moby", "/tasks/exit")));
        assert!(!matches(&f, &env("other", "/tasks/exit")));
        assert!(!matches(&f, &env("moby", "/containers/create")));
        assert!(matches(&[r#"topic=="/tasks/exit""#.to_owned()], &env("x", "/tasks/exit")));
    }
}
