//! The daemon's event log (`GET /events`, `docker events`): what happened to containers and
//! images, as Docker reports it (`Type`, `Action`, `Actor` with attributes, `time`,
//! `timeNano`, and the older `status`/`id`/`from`). The last [`KEEP`] events are kept for
//! `since`; subscribers get every later one live. Filters as Docker's: `type`, `container`,
//! `image`, `event`, `label`; any other key is refused by name.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::api::filters::Filters;

/// Events kept for `since` (Docker keeps 256).
const KEEP: usize = 1024;

/// The filter keys `/events` knows (besides these Docker has daemon/network/volume/... ones
/// for objects berth has no events of yet: refused by name rather than matching nothing).
pub const FILTER_KEYS: &[&str] = &["type", "container", "image", "event", "label", "network", "volume"];

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `container` or `image`.
    pub typ: &'static str,
    /// `create`, `start`, `die`, `health_status: healthy`, `pull`, ...
    pub action: String,
    /// The container's id, or the image's reference or id.
    pub actor: String,
    /// `name`, `image`, `exitCode`, `signal`, labels...
    pub attributes: BTreeMap<String, String>,
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
}

impl Event {
    /// Docker's JSON for this event.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "Type": self.typ,
            "Action": self.action,
            "Actor": { "ID": self.actor, "Attributes": self.attributes },
            "scope": "local",
            "time": self.time_nano.div_euclid(1_000_000_000),
            "timeNano": self.time_nano,
        });
        // The fields of the API before 1.22, still sent (and read by older clients).
        if self.typ == "container" || self.typ == "image" {
            v["status"] = json!(self.action);
            v["id"] = json!(self.actor);
            if let Some(image) = self.attributes.get("image").filter(|_| self.typ == "container") {
                v["from"] = json!(image);
            }
        }
        v
    }
}

/// The log and its live subscribers.
pub struct EventLog {
    kept: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog { kept: Mutex::new(VecDeque::with_capacity(KEEP)), live: broadcast::channel(KEEP).0 }
    }
}

impl EventLog {
    /// Records an event now.
    pub fn publish(&self, typ: &'static str, action: impl Into<String>, actor: &str, attributes: BTreeMap<String, String>) {
        let time_nano = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let ev = Event { typ, action: action.into(), actor: actor.to_owned(), attributes, time_nano };
        tracing::debug!(typ, action = %ev.action, actor, "event");
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() == KEEP {
            kept.pop_front();
        }
        kept.push_back(ev.clone());
        // Sent under the lock: a subscriber taken with `since` sees each event once.
        let _ = self.live.send(ev);
    }

    /// The kept events at or after `since` (nanoseconds) and a receiver of every later one.
    pub fn since(&self, since: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let past = match since {
            Some(t) => kept.iter().filter(|e| e.time_nano >= t).cloned().collect(),
            None => Vec::new(),
        };
        (past, self.live.subscribe())
    }
}

/// Parses a `since`/`until` value as the docker CLI sends it: Unix seconds with an optional
/// fraction (`1700000000.123456789`), or an RFC 3339 time; nanoseconds since the epoch.
pub fn parse_time(name: &str, v: &str) -> Result<i64, String> {
    let bad = || format!("invalid value for {name}: {v:?} (Unix seconds, with an optional fraction, or an RFC 3339 time)");
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return t.timestamp_nanos_opt().ok_or_else(bad);
    }
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
    secs.checked_mul(1_000_000_000).and_then(|s| s.checked_add(nanos)).ok_or_else(bad)
}

/// Whether `ev` passes `filters` (already checked to hold only [`FILTER_KEYS`]): every key
/// given must match one of its values.
pub fn matches(ev: &Event, filters: &Filters) -> bool {
    let any = |key: &str, f: &dyn Fn(&str) -> bool| {
        let vals = filters.get(key);
        vals.is_empty() || vals.iter().any(|v| f(v))
    };
    let attr = |k: &str| ev.attributes.get(k).map(String::as_str).unwrap_or_default();
    any("type", &|v| v == ev.typ)
        // Docker: a health_status/exec_* filter without its detail matches every detail.
        && any("event", &|v| v == ev.action || (!v.contains(':') && ev.action.split_once(':').is_some_and(|(head, _)| head == v)))
        && any("container", &|v| ev.typ == "container" && (v == ev.actor || v == attr("name") || (v.len() >= 12 && ev.actor.starts_with(v))))
        && any("network", &|v| ev.typ == "network" && (v == ev.actor || v == attr("name") || (v.len() >= 12 && ev.actor.starts_with(v))))
        && any("volume", &|v| ev.typ == "volume" && v == ev.actor)
        && any("image", &|v| if ev.typ == "image" { v == ev.actor || v == attr("name") } else { v == attr("image") })
        && any("label", &|v| match v.split_once('=') {
            Some((k, want)) => ev.attributes.get(k).is_some_and(|have| have == want),
            None => ev.attributes.contains_key(v),
        })
}

impl super::Daemon {
    /// Records event `action` of container `c`: its name, image and labels as attributes,
    /// with `extra` (`exitCode`, `signal`, `execID`...).
    pub(super) fn container_event(&self, c: &super::container::Container, action: &str, extra: &[(&str, String)]) {
        let mut attributes: BTreeMap<String, String> = c.config.labels.clone().unwrap_or_default().into_iter().collect();
        attributes.insert("name".into(), c.name.trim_start_matches('/').to_owned());
        attributes.insert("image".into(), c.image_name.clone());
        attributes.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        self.event_log.publish("container", action, &c.id, attributes);
    }

    /// Records event `action` of container `id`, if it exists.
    pub(super) fn container_event_of(&self, id: &str, action: &str, extra: &[(&str, String)]) {
        if let Ok(c) = self.containers.get(id) {
            self.container_event(&c, action, extra);
        }
    }

    /// Records image event `action` (`pull`, `tag`, `untag`, `delete`, `import`, `save`...)
    /// of `actor` (an image id or reference), naming `name`.
    pub fn image_event(&self, action: &str, actor: &str, name: &str) {
        self.event_log.publish("image", action, actor, BTreeMap::from([("name".to_owned(), name.to_owned())]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &'static str, action: &str, actor: &str, attrs: &[(&str, &str)]) -> Event {
        let attributes = attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Event { typ, action: action.into(), actor: actor.into(), attributes, time_nano: 1_700_000_000_123_456_789 }
    }

    fn f(pairs: &[(&str, &str)]) -> Filters {
        pairs.iter().fold(Filters::default(), |f, (k, v)| f.add(k, v))
    }

    #[test]
    fn events_serialize_as_dockers() {
        let v = ev("container", "die", "abc", &[("name", "web"), ("image", "busybox"), ("exitCode", "3")]).to_json();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "die");
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!((v["status"].as_str(), v["id"].as_str(), v["from"].as_str()), (Some("die"), Some("abc"), Some("busybox")));
        assert_eq!((v["time"].as_i64(), v["timeNano"].as_i64()), (Some(1_700_000_000), Some(1_700_000_000_123_456_789)));
    }

    #[test]
    fn filters_match_as_dockers() {
        let e = ev("container", "health_status: healthy", "0123456789abcdef", &[("name", "web"), ("image", "busybox"), ("tier", "db")]);
        assert!(matches(&e, &f(&[])));
        assert!(matches(&e, &f(&[("event", "health_status")])), "a detail-less health_status matches");
        assert!(matches(&e, &f(&[("event", "health_status: healthy")])));
        assert!(!matches(&e, &f(&[("event", "health_status: unhealthy")])));
        assert!(matches(&e, &f(&[("container", "web"), ("type", "container")])));
        assert!(matches(&e, &f(&[("container", "0123456789ab")])), "an id prefix");
        assert!(!matches(&e, &f(&[("container", "other")])));
        assert!(matches(&e, &f(&[("image", "busybox"), ("label", "tier=db")])));
        assert!(matches(&e, &f(&[("label", "tier")])));
        assert!(!matches(&e, &f(&[("label", "tier=web")])));
        assert!(matches(&e, &f(&[("event", "die"), ("event", "health_status")])), "values of one key are alternatives");
        assert!(!matches(&e, &f(&[("type", "image")])));
        let i = ev("image", "tag", "busybox:latest", &[("name", "busybox:latest")]);
        assert!(matches(&i, &f(&[("type", "image"), ("image", "busybox:latest")])));
        assert!(!matches(&i, &f(&[("container", "busybox:latest")])));
    }

    #[test]
    fn times_parse_as_the_cli_sends_them() {
        assert_eq!(parse_time("since", "1700000000"), Ok(1_700_000_000_000_000_000));
        assert_eq!(parse_time("since", "1700000000.5"), Ok(1_700_000_000_500_000_000));
        assert_eq!(parse_time("until", "1970-01-01T00:00:01Z"), Ok(1_000_000_000));
        for bad in ["soon", "1.2.3", "1.x", "1.1234567891"] {
            assert!(parse_time("since", bad).expect_err(bad).contains("since"), "{bad}");
        }
    }

    #[test]
    fn since_replays_kept_events_and_the_receiver_gets_later_ones() {
        let log = EventLog::default();
        log.publish("container", "create", "a", BTreeMap::new());
        let (past, mut rx) = log.since(Some(0));
        assert_eq!(past.len(), 1);
        log.publish("container", "start", "a", BTreeMap::new());
        assert_eq!(rx.try_recv().map(|e| e.action), Ok("start".to_owned()));
        assert!(log.since(None).0.is_empty(), "no since: live only");
    }
}
