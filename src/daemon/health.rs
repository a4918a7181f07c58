//! Healthchecks (`HEALTHCHECK`, `--health-*`): a probe run as an exec in the container every
//! interval, its verdict in `State.Health` and in `docker ps`. Docker's rules: the first
//! probe one interval after the start; exit 0 is healthy and resets the failing streak;
//! `retries` failures in a row make it unhealthy, except that failures within the start
//! period do not count; a probe that outlives its timeout fails; the last five probes are
//! kept, their output cut at 4 KiB.

use super::container::Status;
use super::Daemon;
use crate::api::types::{ExecConfig, Health, HealthConfig, HealthResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Docker's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
/// Probes kept in `State.Health.Log`.
const KEPT: usize = 5;
/// Bytes of a probe's output kept.
const MAX_OUTPUT: usize = 4096;

/// The container's healthcheck with the image's filling what it leaves unset, as Docker
/// merges them; None without either.
pub fn effective(own: Option<&HealthConfig>, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let (Some(own), Some(img)) = (own, image) else {
        return own.or(image).cloned();
    };
    let or = |a: i64, b: i64| if a == 0 { b } else { a };
    Some(HealthConfig {
        test: if own.test.is_empty() { img.test.clone() } else { own.test.clone() },
        interval: or(own.interval, img.interval),
        timeout: or(own.timeout, img.timeout),
        start_period: or(own.start_period, img.start_period),
        start_interval: or(own.start_interval, img.start_interval),
        retries: or(own.retries, img.retries),
    })
}

/// Checks a create's healthcheck, with Docker's messages.
pub fn check(h: &HealthConfig) -> Result<(), String> {
    for (name, v) in [("Interval", h.interval), ("Timeout", h.timeout), ("StartPeriod", h.start_period), ("StartInterval", h.start_interval)] {
        if v != 0 && v < 1_000_000 {
            return Err(format!("{name} in Healthcheck cannot be less than 1ms"));
        }
    }
    if h.retries < 0 {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    match h.test.first().map(String::as_str) {
        None | Some("NONE") => Ok(()),
        Some("CMD") | Some("CMD-SHELL") if h.test.len() > 1 => Ok(()),
        Some(kind @ ("CMD" | "CMD-SHELL")) => Err(format!("Healthcheck.Test: {kind} needs a command")),
        Some(other) => Err(format!("Healthcheck.Test: unknown type {other:?} (expected NONE, CMD or CMD-SHELL)")),
    }
}

/// The probe's argv; None when the healthcheck is off (`NONE`, or no test).
fn probe_argv(h: &HealthConfig) -> Option<Vec<String>> {
    match h.test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]),
        _ => None,
    }
}

/// The health a container starts with: `starting` when it has an active healthcheck.
pub fn at_start(h: Option<&HealthConfig>) -> Option<Health> {
    h.and_then(probe_argv).map(|_| Health { status: "starting".into(), ..Default::default() })
}

fn nanos(v: i64, default: Duration) -> Duration {
    u64::try_from(v).ok().filter(|&n| n > 0).map(Duration::from_nanos).unwrap_or(default)
}

/// Adds a probe's result to `health`: `in_start_period` failures do not count.
pub fn record(health: &mut Health, result: HealthResult, retries: i64, in_start_period: bool) {
    let retries = if retries > 0 { retries } else { DEFAULT_RETRIES };
    if result.exit_code == 0 {
        health.status = "healthy".into();
        health.failing_streak = 0;
    } else if !in_start_period {
        health.failing_streak += 1;
        if health.failing_streak >= retries {
            health.status = "unhealthy".into();
        }
    }
    health.log.push(result);
    let extra = health.log.len().saturating_sub(KEPT);
    health.log.drain(..extra);
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Daemon {
    /// Probes container `id` for as long as this run of it lasts (it is running with the
    /// start time it has now).
    pub(super) fn watch_health(self: &Arc<Self>, id: &str) {
        let Ok(c) = self.containers.get(id) else { return };
        let Some(h) = c.config.healthcheck.clone() else { return };
        let Some(argv) = probe_argv(&h) else { return };
        let Some(run) = c.state.started_at else { return };
        let (d, id) = (self.clone(), id.to_owned());
        tokio::spawn(async move {
            let interval = nanos(h.interval, DEFAULT_INTERVAL);
            let timeout = nanos(h.timeout, DEFAULT_TIMEOUT);
            let start_period = nanos(h.start_period, Duration::ZERO);
            loop {
                let in_start_period = (chrono::Utc::now() - run).to_std().unwrap_or_default() < start_period;
                let wait = if in_start_period && h.start_interval > 0 { nanos(h.start_interval, interval) } else { interval };
                tokio::time::sleep(wait).await;
                let this_run = |c: &super::container::Container| c.state.status == Status::Running && c.state.started_at == Some(run);
                match d.containers.get(&id) {
                    Ok(c) if this_run(&c) && c.state.paused => continue,
                    Ok(c) if this_run(&c) => {}
                    _ => return,
                }
                let in_start_period = (chrono::Utc::now() - run).to_std().unwrap_or_default() < start_period;
                let result = d.probe(&id, &argv, timeout).await;
                let mut changed = None;
                let recorded = d.containers.record(&id, |c| {
                    if this_run(c) {
                        let health = c.state.health.get_or_insert_with(Default::default);
                        let before = health.status.clone();
                        record(health, result, h.retries, in_start_period);
                        if health.status != before {
                            tracing::info!(id = %c.id, status = %health.status, "health status");
                            changed = Some(health.status.clone());
                        }
                    }
                });
                if let (Ok(c), Some(status)) = (recorded, changed) {
                    d.container_event(&c, &format!("health_status: {status}"), &[]);
                }
            }
        });
    }

    /// Runs the probe `argv` in container `id` as an exec; its exit code and output (a
    /// probe that cannot run, or outlives `timeout`, fails with -1).
    async fn probe(self: &Arc<Self>, id: &str, argv: &[String], timeout: Duration) -> HealthResult {
        let start = now();
        let fail = |output: String| HealthResult { start: start.clone(), end: now(), exit_code: -1, output };
        let config = ExecConfig { cmd: Some(argv.to_vec()), attach_stdout: true, attach_stderr: true, ..Default::default() };
        let exec_id = match self.exec_create(id, config) {
            Ok(e) => e,
            Err(e) => return fail(e.to_string()),
        };
        let mut session = match self.exec_start(&exec_id, false, None).await {
            Ok(s) => s,
            Err(e) => return fail(e.to_string()),
        };
        let (stdout, stderr) = (session.stdout.take(), session.stderr.take());
        let run = async {
            // Both outputs to their end (a probe blocked on a full pipe would never exit),
            // then the exit code.
            let read = |r: Option<tokio::net::unix::pipe::Receiver>| async move {
                let mut buf = Vec::new();
                if let Some(r) = r {
                    let _ = r.take(MAX_OUTPUT as u64 * 4).read_to_end(&mut buf).await;
                }
                buf
            };
            let (mut out, err) = tokio::join!(read(stdout), read(stderr));
            out.extend(err);
            (session.exit_code().await, out)
        };
        let result = tokio::time::timeout(timeout, run).await;
        self.execs.forget(&exec_id);
        match result {
            Ok((code, mut out)) => {
                out.truncate(MAX_OUTPUT);
                HealthResult { start, end: now(), exit_code: code, output: String::from_utf8_lossy(&out).into_owned() }
            }
            Err(_) => fail(format!("Health check exceeded timeout ({timeout:?})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(test: &[&str]) -> HealthConfig {
        HealthConfig { test: test.iter().map(|s| s.to_string()).collect(), ..Default::default() }
    }

    fn probe(code: i64) -> HealthResult {
        HealthResult { exit_code: code, ..Default::default() }
    }

    #[test]
    fn the_containers_healthcheck_fills_from_the_images() {
        let img = HealthConfig { interval: 5, retries: 2, ..hc(&["CMD", "true"]) };
        let own = HealthConfig { interval: 7, ..Default::default() };
        let h = effective(Some(&own), Some(&img)).expect("merged");
        assert_eq!((h.test, h.interval, h.retries), (vec!["CMD".to_owned(), "true".to_owned()], 7, 2));
        assert_eq!(effective(None, Some(&img)), Some(img.clone()));
        assert_eq!(effective(None, None), None);
        assert_eq!(at_start(effective(Some(&hc(&["NONE"])), Some(&img)).as_ref()), None, "NONE turns the image's off");
        assert_eq!(at_start(Some(&hc(&["CMD-SHELL", "exit 0"]))).map(|h| h.status), Some("starting".to_owned()));
    }

    #[test]
    fn bad_healthchecks_are_refused_with_dockers_words() {
        assert!(check(&HealthConfig { interval: 10, ..hc(&["CMD", "true"]) })
            .expect_err("1ms")
            .contains("Interval in Healthcheck cannot be less than 1ms"));
        assert!(check(&HealthConfig { retries: -1, ..hc(&["CMD", "true"]) }).expect_err("retries").contains("cannot be negative"));
        assert!(check(&hc(&["SHELL", "true"])).expect_err("type").contains("SHELL"));
        assert!(check(&hc(&["CMD"])).is_err());
        assert!(check(&hc(&["CMD-SHELL", "curl -f localhost"])).is_ok() && check(&hc(&["NONE"])).is_ok());
        assert_eq!(probe_argv(&hc(&["CMD-SHELL", "exit", "3"])), Some(vec!["/bin/sh".into(), "-c".into(), "exit 3".into()]));
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy_and_one_success_healthy() {
        let mut h = Health { status: "starting".into(), ..Default::default() };
        record(&mut h, probe(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0), "the start period does not count");
        record(&mut h, probe(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        record(&mut h, probe(-1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        record(&mut h, probe(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            record(&mut h, probe(0), 2, false);
        }
        assert_eq!(h.log.len(), KEPT);
    }
}
