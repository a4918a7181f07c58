//! `GET /containers/json`: which containers a listing shows — `all`, `limit` and the
//! `filters` Docker's `ps` takes. Every filter name Docker knows is either applied here or
//! refused by name; none is ignored.

use super::container::{Container, Status};
use super::{Daemon, DaemonError};
use crate::api::filters::{FilterError, Filters};

/// Filters applied below (every one Docker's `ps` has).
const APPLIED: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "exited",
    "ancestor",
    "before",
    "since",
    "health",
    "volume",
    "network",
    "publish",
    "expose",
    "isolation",
    "is-task",
];
/// Values of the `health` filter (`none`: no healthcheck).
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];
/// Docker's container state words (what the `status` filter takes).
const STATES: &[&str] = &["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/// What `GET /containers/json` was asked for.
#[derive(Debug, Default)]
pub struct ListOptions {
    pub all: bool,
    /// Only the `limit` most recently created (any state), when > 0.
    pub limit: i64,
    pub filters: Filters,
}

/// A compiled `id`/`name` pattern: Docker matches them as regular expressions.
fn patterns(f: &Filters, name: &str) -> Result<Vec<regex::Regex>, FilterError> {
    f.get(name).iter().map(|p| regex::Regex::new(p).map_err(|_| FilterError::BadValue { name: name.to_owned(), value: p.clone() })).collect()
}

/// Whether `labels` has every `key` or `key=value` of the `label` filter.
fn labels_match(f: &Filters, c: &Container) -> bool {
    let labels = c.config.labels.clone().unwrap_or_default();
    f.get("label").iter().all(|want| match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(want.as_str()),
    })
}

/// The sources and destinations of container `c`'s mounts as `docker inspect` lists them
/// (what the `volume` filter matches; Docker does not list `--tmpfs` mounts).
fn mounts_of(c: &Container) -> Vec<String> {
    super::mountpoints::inspect(&c.host_config)
        .iter()
        .flat_map(|m| [m["Source"].as_str().unwrap_or_default().to_owned(), m["Destination"].as_str().unwrap_or_default().to_owned()])
        .filter(|s| !s.is_empty())
        .collect()
}

/// The networks container `c` is on, by name and by id (the `network` filter takes either).
fn networks_of(c: &Container) -> Vec<String> {
    c.networks.iter().flat_map(|(name, e)| [name.clone(), e.network_id.clone()]).collect()
}

/// The host ports container `c` publishes while it runs, as (port, proto).
fn published_of(c: &Container) -> Vec<(u16, String)> {
    c.sandbox.iter().flat_map(|sb| sb.ports.iter().map(|p| (p.host_port, p.proto.clone()))).collect()
}

/// The ports container `c` exposes, as (port, proto).
fn exposed_of(c: &Container) -> Vec<(u16, String)> {
    c.config.exposed_ports.iter().flatten().filter_map(|(k, _)| super::network::plan::port_key(k).ok()).collect()
}

/// Whether a checked `publish`/`expose` value (`port[-port][/proto]`) matches one of `ports`.
fn port_filter_matches(value: &str, ports: &[(u16, String)]) -> bool {
    let (range, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let (a, b) = range.split_once('-').unwrap_or((range, range));
    let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) else { return false };
    ports.iter().any(|(p, pr)| (a..=b).contains(p) && pr.eq_ignore_ascii_case(proto))
}

/// Checks a `publish`/`expose` value as Docker reads it: `port[-port][/proto]`, no ':'.
fn check_port_filter(key: &str, value: &str) -> Result<(), DaemonError> {
    if value.contains(':') {
        return Err(DaemonError::BadRequest(format!("filter for '{key}' should not contain ':': {value}")));
    }
    let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let port = |p: &str| p.parse::<u16>().ok();
    let range_ok = match ports.split_once('-') {
        Some((a, b)) => port(a).zip(port(b)).is_some_and(|(a, b)| a <= b),
        None => port(ports).is_some(),
    };
    if !range_ok || !["tcp", "udp", "sctp"].contains(&proto.to_ascii_lowercase().as_str()) {
        return Err(DaemonError::BadRequest(format!("error while looking up for {key} {value}: invalid port or protocol")));
    }
    Ok(())
}

impl Daemon {
    /// The containers a listing shows, newest first.
    pub fn list_containers(&self, opts: &ListOptions) -> Result<Vec<Container>, DaemonError> {
        let f = &opts.filters;
        f.only(APPLIED)?;
        // A malformed port filter is refused as Docker does.
        for key in ["publish", "expose"] {
            for v in f.get(key) {
                check_port_filter(key, v)?;
            }
        }
        // berth runs no swarm tasks: `is-task=true` matches none, `false` all.
        let is_task = f.bool("is-task")?;
        // Linux has one isolation, "default" (dockerd on Linux skips this filter; a value
        // that can match nothing here is refused rather than ignored).
        if let Some(v) = f.get("isolation").iter().find(|v| !v.is_empty() && !v.eq_ignore_ascii_case("default")) {
            return Err(DaemonError::BadRequest(format!("invalid filter 'isolation={v}': containers on Linux have only the \"default\" isolation")));
        }
        for s in f.get("status") {
            if !STATES.contains(&s.as_str()) {
                return Err(FilterError::BadValue { name: "status".into(), value: s.clone() }.into());
            }
        }
        for h in f.get("health") {
            if !HEALTH.contains(&h.as_str()) {
                return Err(FilterError::BadValue { name: "health".into(), value: h.clone() }.into());
            }
        }
        let exited: Vec<i64> = f
            .get("exited")
            .iter()
            .map(|v| v.parse().map_err(|_| FilterError::BadValue { name: "exited".into(), value: v.clone() }))
            .collect::<Result<_, _>>()?;
        let (ids, names) = (patterns(f, "id")?, patterns(f, "name")?);
        // Containers named by `before`/`since` must exist, as in Docker.
        let created_of = |which: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, DaemonError> {
            let mut bound = None;
            for v in f.get(which) {
                let c = self.containers.get(&self.containers.resolve(v)?)?;
                bound = Some(c.created);
            }
            Ok(bound)
        };
        let (before, since) = (created_of("before")?, created_of("since")?);
        let ancestors: Vec<Vec<String>> =
            f.get("ancestor").iter().filter_map(|a| self.images.get(a).ok()).map(|i| i.config.rootfs.diff_ids).collect();
        // A `status` filter lists every state, as Docker's does.
        let all = opts.all || opts.limit > 0 || !f.get("status").is_empty();
        let mut cs: Vec<Container> = self
            .containers
            .list()
            .into_iter()
            .filter(|c| all || c.state.status == Status::Running || c.state.restarting)
            .filter(|c| ids.is_empty() || ids.iter().any(|r| r.is_match(&c.id)))
            .filter(|c| names.is_empty() || names.iter().any(|r| r.is_match(&c.name)))
            .filter(|c| labels_match(f, c))
            .filter(|c| f.get("status").is_empty() || f.get("status").iter().any(|s| s == c.state_name()))
            .filter(|c| {
                exited.is_empty() || (c.state.status == Status::Exited && c.state.started_at.is_some() && exited.contains(&c.state.exit_code))
            })
            .filter(|c| {
                let health = c.state.health.as_ref().map_or("none", |h| h.status.as_str());
                f.get("health").is_empty() || f.get("health").iter().any(|h| h == health)
            })
            .filter(|c| f.get("volume").is_empty() || f.get("volume").iter().any(|v| mounts_of(c).iter().any(|m| m == v)))
            .filter(|c| f.get("network").is_empty() || f.get("network").iter().any(|n| networks_of(c).contains(n)))
            .filter(|c| f.get("publish").iter().all(|v| port_filter_matches(v, &published_of(c))))
            .filter(|c| f.get("expose").iter().all(|v| port_filter_matches(v, &exposed_of(c))))
            .filter(|_| is_task != Some(true))
            .filter(|c| before.is_none_or(|t| c.created < t))
            .filter(|c| since.is_none_or(|t| c.created > t))
            .collect();
        if !f.get("ancestor").is_empty() {
            // The image or one made on top of it (its layers start with the ancestor's).
            cs.retain(|c| {
                let Ok(img) = self.images.get(&c.image_id) else {
                    return false;
                };
                let layers = &img.config.rootfs.diff_ids;
                ancestors.iter().any(|a| layers.starts_with(a) && (!a.is_empty() || layers.is_empty()))
            });
        }
        cs.sort_by_key(|c| std::cmp::Reverse(c.created));
        if opts.limit > 0 {
            cs.truncate(opts.limit as usize);
        }
        Ok(cs)
    }
}
