//! Prune filters (`until`, `label`, `label!`) as Docker reads them, and `POST
//! /containers/prune`: every stopped container passing them is removed (destroy events
//! included), with the bytes that frees.

use super::container::{Container, Status};
use super::{Daemon, DaemonError};
use crate::api::filters::{FilterError, Filters};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::collections::HashMap;

/// Answer of `POST /containers/prune`.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainersPruneReport {
    /// Ids removed; null when none, as Docker answers.
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// A time as Docker's prune `until` takes it (`GetTimestamp`): Unix seconds with an optional
/// fraction, a duration before `now` (`24h`), an RFC 3339 time, or a date/time without a
/// zone (UTC).
pub fn parse_until(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, DaemonError> {
    let bad = || {
        DaemonError::BadRequest(format!(
            "invalid filter 'until={value}': not a time (Unix seconds, RFC 3339 or YYYY-MM-DD[THH:MM[:SS]]) nor a duration (e.g. 24h, 10m)"
        ))
    };
    if value.bytes().next().is_some_and(|b| b.is_ascii_digit()) && value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return crate::api::timestamp::parse("until", value).ok().flatten().ok_or_else(bad);
    }
    if let Some(d) = crate::api::timestamp::go_duration(value) {
        return Ok(now - chrono::Duration::nanoseconds(i64::try_from(d).map_err(|_| bad())?));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(bad);
    }
    Err(bad())
}

/// The `until` bound of prune filters `f` (at most one value, as in Docker).
pub fn until_of(f: &Filters) -> Result<Option<DateTime<Utc>>, DaemonError> {
    match f.get("until") {
        [] => Ok(None),
        [v] => parse_until(v, Utc::now()).map(Some),
        _ => Err(DaemonError::BadRequest("more than one until filter specified".into())),
    }
}

/// Whether `labels` has a `key` or `key=value` filter value.
fn has_label(labels: &HashMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(want),
    }
}

/// Whether `labels` passes `label` (all of them present) and `label!` (none present).
pub fn labels_pass(f: &Filters, labels: &HashMap<String, String>) -> bool {
    f.get("label").iter().all(|w| has_label(labels, w)) && !f.get("label!").iter().any(|w| has_label(labels, w))
}

/// Whether a container counts as stopped for prune: not running, paused or restarting.
fn is_stopped(c: &Container) -> bool {
    c.state.status != Status::Running && !c.state.restarting
}

impl Daemon {
    /// `POST /containers/prune[?filters=]` (`until`, `label`, `label!`).
    pub async fn prune_containers(&self, f: &Filters) -> Result<ContainersPruneReport, DaemonError> {
        f.only(&["until", "label", "label!"]).map_err(|e| match e {
            FilterError::Unknown(k) => DaemonError::BadRequest(format!("invalid filter '{k}'")),
            e => e.into(),
        })?;
        let until = until_of(f)?;
        let mut report = ContainersPruneReport::default();
        for c in self.containers.list() {
            if !is_stopped(&c) || until.is_some_and(|u| c.created > u) || !labels_pass(f, &c.config.labels.clone().unwrap_or_default()) {
                continue;
            }
            let (rw, _) = self.container_size(&c, self.images.get(&c.image_id).ok().as_ref());
            match self.remove(&c.id, false).await {
                Ok(()) => {
                    report.containers_deleted.get_or_insert_with(Vec::new).push(c.id.clone());
                    report.space_reclaimed += rw;
                }
                // Started, or removed by somebody else, in between: not pruned.
                Err(e) => tracing::info!("prune {}: {e}", c.id),
            }
        }
        // Docker's record of the prune itself, with the bytes it freed.
        self.event_log.publish(
            "container",
            "prune",
            "",
            std::collections::BTreeMap::from([("reclaimed".to_owned(), report.space_reclaimed.to_string())]),
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_takes_unix_seconds_durations_and_dates_and_refuses_the_rest() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        assert_eq!(parse_until("1600000000", now).ok().map(|t| t.timestamp()), Some(1_600_000_000));
        assert_eq!(parse_until("1h30m", now).ok().map(|t| t.timestamp()), Some(1_700_000_000 - 5400));
        assert_eq!(parse_until("2023-11-14", now).ok().map(|t| t.timestamp()), Some(1_699_920_000));
        assert_eq!(parse_until("2023-11-14T22:13:20Z", now).ok().map(|t| t.timestamp()), Some(1_700_000_000));
        for bad in ["", "yesterday", "10x", "12:00"] {
            assert!(parse_until(bad, now).is_err(), "{bad}");
        }
    }
}
