//! Restart policies (`--restart`): which exits bring a container back, after what back-off,
//! and the pending restarts that a stop, kill, start or removal cancels. The rules are
//! Docker's: `always` and `unless-stopped` restart on any exit, `on-failure[:N]` on a
//! non-zero one (at most N times), none after the user stopped or killed the container;
//! the back-off starts at 100 ms and doubles up to a minute, from 100 ms again after a run
//! of 10 s or more. When the daemon starts, `always` containers are started whatever stopped
//! them, `unless-stopped` and `on-failure` ones unless the user did.

use super::container::{Container, Status};
use super::Daemon;
use crate::api::types::{HostConfig, RestartPolicy};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first back-off.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest back-off.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long starts the back-off over.
const RESET_AFTER: Duration = Duration::from_secs(10);

/// A checked restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    UnlessStopped,
    /// At most `max` restarts (0: no limit).
    OnFailure {
        max: u32,
    },
}

impl Policy {
    /// Checks `p` as Docker does, with Docker's messages.
    pub fn parse(p: &RestartPolicy) -> Result<Policy, String> {
        let count = p.maximum_retry_count;
        let only_on_failure = || {
            let mut m = "invalid restart policy: maximum retry count can only be used with 'on-failure'".to_owned();
            if count < 0 {
                m.push_str(" and cannot be negative");
            }
            m
        };
        let fixed = |policy| if count == 0 { Ok(policy) } else { Err(only_on_failure()) };
        match p.name.as_str() {
            // An empty name with any count is "no", as older clients sent it.
            "" => Ok(Policy::No),
            "no" => fixed(Policy::No),
            "always" => fixed(Policy::Always),
            "unless-stopped" => fixed(Policy::UnlessStopped),
            "on-failure" => match u32::try_from(count) {
                Ok(max) => Ok(Policy::OnFailure { max }),
                Err(_) if count < 0 => Err("invalid restart policy: maximum retry count cannot be negative".into()),
                Err(_) => Err(format!("invalid restart policy: maximum retry count {count} is too large")),
            },
            other => Err(format!("invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")),
        }
    }

    /// The policy of a stored container (one that passed [`check`] at create).
    fn of(c: &Container) -> Policy {
        Policy::parse(&c.host_config.restart_policy).unwrap_or(Policy::No)
    }
}

/// Checks the restart policy of a create, and its combination with `AutoRemove`.
pub fn check(hc: &HostConfig) -> Result<(), String> {
    let policy = Policy::parse(&hc.restart_policy)?;
    if hc.auto_remove && policy != Policy::No {
        return Err("can't create 'AutoRemove' container with restart policy".into());
    }
    Ok(())
}

/// Whether an exit with `exit_code` brings the container back, after `restarts` restarts.
pub fn after_exit(policy: Policy, exit_code: i64, manually_stopped: bool, restarts: u32) -> bool {
    if manually_stopped {
        return false;
    }
    match policy {
        Policy::No => false,
        Policy::Always | Policy::UnlessStopped => true,
        Policy::OnFailure { max } => exit_code != 0 && (max == 0 || restarts < max),
    }
}

/// Whether the daemon starts an exited container when it starts.
pub fn at_daemon_start(policy: Policy, exit_code: i64, manually_stopped: bool, restarts: u32) -> bool {
    match policy {
        Policy::Always => true,
        _ => after_exit(policy, exit_code, manually_stopped, restarts),
    }
}

/// The back-off after `previous` for a run of `ran`.
pub fn next_delay(previous: Option<Duration>, ran: Duration) -> Duration {
    match previous {
        Some(d) if ran < RESET_AFTER => (d * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

/// The back-off of each container and its pending restart.
#[derive(Default)]
pub struct Restarts {
    by_id: Mutex<HashMap<String, Entry>>,
    tokens: AtomicU64,
}

#[derive(Default)]
struct Entry {
    delay: Option<Duration>,
    pending: Option<u64>,
}

impl Restarts {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        f(&mut self.by_id.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Makes a restart of `id` pending, after the back-off for a run of `ran` (none with
    /// `ran` None); returns its token and delay.
    pub fn schedule(&self, id: &str, ran: Option<Duration>) -> (u64, Duration) {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        self.with(|m| {
            let e = m.entry(id.to_owned()).or_default();
            let delay = match ran {
                Some(ran) => {
                    let d = next_delay(e.delay, ran);
                    e.delay = Some(d);
                    d
                }
                None => Duration::ZERO,
            };
            e.pending = Some(token);
            (token, delay)
        })
    }

    /// Whether `token` is still `id`'s pending restart; it is pending no more afterwards.
    pub fn claim(&self, id: &str, token: u64) -> bool {
        self.with(|m| match m.get_mut(id) {
            Some(e) if e.pending == Some(token) => {
                e.pending = None;
                true
            }
            _ => false,
        })
    }

    /// Cancels `id`'s pending restart; returns whether there was one.
    pub fn cancel(&self, id: &str) -> bool {
        self.with(|m| m.get_mut(id).and_then(|e| e.pending.take()).is_some())
    }

    /// Forgets `id`, back-off included (a user's start, a removal).
    pub fn forget(&self, id: &str) {
        self.with(|m| m.remove(id));
    }
}

impl Daemon {
    /// After container `id`'s exit is recorded and released: makes a restart pending when
    /// its policy asks for one (counted in `RestartCount`, the state "restarting" meanwhile).
    pub(super) fn restart_after_exit(self: &Arc<Self>, id: &str) -> bool {
        let Ok(c) = self.containers.get(id) else { return false };
        if c.state.status != Status::Exited || !after_exit(Policy::of(&c), c.state.exit_code, c.manually_stopped, c.restart_count) {
            return false;
        }
        let ran = match (c.state.started_at, c.state.finished_at) {
            (Some(s), Some(f)) => (f - s).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        let (token, delay) = self.restarts.schedule(id, Some(ran));
        if let Err(e) = self.containers.record(id, |c| {
            c.state.restarting = true;
            c.restart_count += 1;
        }) {
            tracing::warn!(id, "restart count not on disk: {e}");
        }
        tracing::info!(id, ?delay, count = c.restart_count + 1, "restarting per the container's restart policy");
        self.spawn_restart(id, token, delay);
        true
    }

    /// The containers the daemon starts as it starts, chosen before the reconcile (which
    /// handles those that exited while it was away): exited ones their policy starts at a
    /// daemon start, and those whose pending restart the previous daemon did not make.
    pub(super) fn restarts_at_daemon_start(&self) -> Vec<String> {
        self.containers
            .list()
            .into_iter()
            .filter(|c| c.state.status == Status::Exited && c.state.started_at.is_some())
            .filter(|c| c.state.restarting || at_daemon_start(Policy::of(c), c.state.exit_code, c.manually_stopped, c.restart_count))
            .map(|c| c.id)
            .collect()
    }

    /// Starts `ids` (from [`restarts_at_daemon_start`](Self::restarts_at_daemon_start)).
    pub(super) fn restart_at_daemon_start(self: &Arc<Self>, ids: Vec<String>) {
        for id in ids {
            let (token, delay) = self.restarts.schedule(&id, None);
            let _ = self.containers.record(&id, |c| c.state.restarting = true);
            self.spawn_restart(&id, token, delay);
        }
    }

    /// Cancels a pending restart of `c` (a stop, kill or removal by the user): afterwards it
    /// is plainly exited. Returns whether one was pending.
    pub(super) fn cancel_restart(&self, c: &Container) -> bool {
        let pending = self.restarts.cancel(&c.id);
        if c.state.restarting {
            let _ = self.containers.record(&c.id, |c| c.state.restarting = false);
        }
        pending || c.state.restarting
    }

    fn spawn_restart(self: &Arc<Self>, id: &str, token: u64, delay: Duration) {
        let (d, id) = (self.clone(), id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Under the ops lock, so a stop, start or removal meanwhile either came first
            // (and cancelled this restart) or waits for it.
            let _g = d.ops.lock().await;
            if !d.restarts.claim(&id, token) {
                return;
            }
            match d.start_locked(&id).await {
                Ok(()) => tracing::info!(id, "restarted"),
                Err(e) => {
                    tracing::warn!(id, "restart: {e}");
                    let msg = e.to_string();
                    let _ = d.containers.record(&id, |c| {
                        c.state.restarting = false;
                        c.state.error = msg;
                    });
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, count: i64) -> Result<Policy, String> {
        Policy::parse(&RestartPolicy { name: name.into(), maximum_retry_count: count })
    }

    #[test]
    fn policies_parse_with_dockers_rules_and_messages() {
        assert_eq!(policy("", 3), Ok(Policy::No));
        assert_eq!(policy("no", 0), Ok(Policy::No));
        assert_eq!(policy("always", 0), Ok(Policy::Always));
        assert_eq!(policy("unless-stopped", 0), Ok(Policy::UnlessStopped));
        assert_eq!(policy("on-failure", 0), Ok(Policy::OnFailure { max: 0 }));
        assert_eq!(policy("on-failure", 2), Ok(Policy::OnFailure { max: 2 }));
        assert!(policy("always", 2).expect_err("count").contains("only be used with 'on-failure'"));
        assert!(policy("always", -1).expect_err("negative").contains("cannot be negative"));
        assert!(policy("on-failure", -1).expect_err("negative").contains("cannot be negative"));
        assert!(policy("sometimes", 0).expect_err("unknown").contains("unknown policy 'sometimes'"));
        let hc =
            HostConfig { auto_remove: true, restart_policy: RestartPolicy { name: "always".into(), maximum_retry_count: 0 }, ..Default::default() };
        assert!(check(&hc).expect_err("--rm").contains("AutoRemove"));
    }

    #[test]
    fn which_exits_restart() {
        let of = Policy::OnFailure { max: 2 };
        assert!(!after_exit(Policy::No, 1, false, 0));
        assert!(after_exit(Policy::Always, 0, false, 100));
        assert!(after_exit(Policy::UnlessStopped, 0, false, 0));
        assert!(after_exit(of, 1, false, 0) && after_exit(of, 1, false, 1));
        assert!(!after_exit(of, 1, false, 2), "at most two restarts");
        assert!(!after_exit(of, 0, false, 0), "a clean exit is no failure");
        assert!(after_exit(Policy::OnFailure { max: 0 }, 137, false, 1000), "0 is no limit");
        for p in [Policy::Always, Policy::UnlessStopped, of] {
            assert!(!after_exit(p, 1, true, 0), "{p:?}: a stop by the user is final");
        }
        assert!(at_daemon_start(Policy::Always, 0, true, 0), "always comes back with the daemon");
        assert!(!at_daemon_start(Policy::UnlessStopped, 0, true, 0));
        assert!(at_daemon_start(Policy::UnlessStopped, 0, false, 0));
        assert!(!at_daemon_start(Policy::No, 1, false, 0));
    }

    #[test]
    fn the_back_off_doubles_to_a_minute_and_starts_over_after_a_long_run() {
        let short = Duration::from_secs(1);
        let mut d = None;
        let mut seen = Vec::new();
        for _ in 0..12 {
            d = Some(next_delay(d, short));
            seen.push(d.unwrap_or_default().as_millis());
        }
        assert_eq!(&seen[..4], [100, 200, 400, 800]);
        assert_eq!(*seen.last().unwrap_or(&0), 60_000);
        assert_eq!(next_delay(d, Duration::from_secs(10)), FIRST_DELAY);
    }

    #[test]
    fn a_cancelled_or_superseded_restart_cannot_be_claimed() {
        let r = Restarts::default();
        let (t1, d1) = r.schedule("c", Some(Duration::ZERO));
        assert_eq!(d1, FIRST_DELAY);
        assert!(r.cancel("c"));
        assert!(!r.claim("c", t1), "cancelled");
        let (t2, d2) = r.schedule("c", Some(Duration::ZERO));
        assert_eq!(d2, FIRST_DELAY * 2, "the back-off survives a cancel");
        let (t3, _) = r.schedule("c", None);
        assert!(!r.claim("c", t2), "superseded");
        assert!(r.claim("c", t3));
        assert!(!r.claim("c", t3), "claimed once");
        r.forget("c");
        assert_eq!(r.schedule("c", Some(Duration::ZERO)).1, FIRST_DELAY, "forgotten with its back-off");
    }
}
