//! `pause`/`unpause`, and `commit` pausing the container while it reads its changes
//! (Docker's `--pause=true` default), in both modes. The witness is the container's cgroup
//! freezer.

mod common;

use common::TestDaemon;
use serde_json::Value;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `ps` line of container `name` (empty when it is not listed).
fn ps_line(d: &TestDaemon, name: &str) -> String {
    d.berth_ok(&["ps"]).lines().find(|l| l.ends_with(name)).unwrap_or_default().to_owned()
}

/// (State.Status, State.Running, State.Paused) from `inspect`.
fn inspect_state(d: &TestDaemon, name: &str) -> (String, bool, bool) {
    let v: Value = serde_json::from_str(&d.berth_ok(&["inspect", name])).expect("inspect prints JSON");
    let st = &v[0]["State"];
    (st["Status"].as_str().unwrap_or_default().to_owned(), st["Running"].as_bool().unwrap_or_default(), st["Paused"].as_bool().unwrap_or_default())
}

fn pause_freezes_the_container_and_unpause_thaws_it(d: &TestDaemon) {
    d.import_busybox();
    let id = d.berth_ok(&["run", "-d", "--name", "ticker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.05; done"]);
    let id = id.trim();
    assert_eq!(d.frozen(id), Some(false), "a running container is not frozen");

    assert_eq!(d.berth_ok(&["pause", "ticker"]).trim(), "ticker");
    assert_eq!(d.frozen(id), Some(true), "pause froze the container's cgroup");
    let line = ps_line(d, "ticker");
    assert!(line.contains("Up") && line.contains("(Paused)"), "ps shows it up and paused: {line}");
    assert_eq!(inspect_state(d, "ticker"), ("paused".into(), true, true));
    let again = d.berth(&["pause", "ticker"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr_of(&again).contains("is already paused"), "{}", stderr_of(&again));

    assert_eq!(d.berth_ok(&["unpause", "ticker"]).trim(), "ticker");
    assert_eq!(d.frozen(id), Some(false), "unpause thawed it");
    let line = ps_line(d, "ticker");
    assert!(line.contains("Up") && !line.contains("Paused"), "ps shows it up again: {line}");
    assert_eq!(inspect_state(d, "ticker"), ("running".into(), true, false));
    let ticks = d.berth_ok(&["logs", "ticker"]).matches("tick").count();
    assert!(common::wait_until(10, || d.berth_ok(&["logs", "ticker"]).matches("tick").count() > ticks + 2), "thawed, it runs on");
    let again = d.berth(&["unpause", "ticker"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr_of(&again).contains("is not paused"), "{}", stderr_of(&again));

    // Killing a paused container thaws it, so that the SIGKILL of `rm -f` lands.
    d.berth_ok(&["pause", "ticker"]);
    d.berth_ok(&["rm", "-f", "ticker"]);
    assert_eq!(d.berth_ok(&["ps", "-a", "-q"]).trim(), "");
    assert!(common::wait_until(10, || d.container_pids().is_empty()), "no process of it is left");

    d.berth_ok(&["run", "--name", "done", "busybox", "true"]);
    let out = d.berth(&["pause", "done"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("is not running"), "only a running container pauses: {}", stderr_of(&out));
    d.berth_ok(&["rm", "done"]);
}

#[test]
fn modular_pause_freezes_the_container_and_unpause_thaws_it() {
    pause_freezes_the_container_and_unpause_thaws_it(&TestDaemon::modular("pause"));
}

#[test]
fn monolithic_pause_freezes_the_container_and_unpause_thaws_it() {
    pause_freezes_the_container_and_unpause_thaws_it(&TestDaemon::monolithic("mpause"));
}

/// Runs `berth args` (a commit) while watching container `id`'s freezer; returns whether it
/// was seen frozen at any point.
fn seen_frozen_during(d: &TestDaemon, id: &str, args: &[&str]) -> bool {
    std::thread::scope(|s| {
        let commit = s.spawn(|| d.berth_ok(args));
        let mut seen = false;
        while !commit.is_finished() {
            seen |= d.frozen(id) == Some(true);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        commit.join().expect("commit");
        seen
    })
}

/// Bytes the container writes before it is committed: enough that reading its changes takes
/// far longer than the 1 ms between two looks at the freezer.
const BIG: &str = "4000000";

fn commit_pauses_the_container_unless_told_not_to(d: &TestDaemon) {
    d.import_busybox();
    let script = format!("head -c {BIG} /dev/urandom > /big; echo ready; sleep 1000");
    let id = d.berth_ok(&["run", "-d", "--name", "busy", "busybox", "sh", "-c", &script]);
    let id = id.trim();
    assert!(common::wait_until(20, || d.berth_ok(&["logs", "busy"]).contains("ready")), "the container wrote its file");

    assert!(seen_frozen_during(d, id, &["commit", "busy", "snap:paused"]), "commit froze the container while it read the changes");
    assert_eq!(d.frozen(id), Some(false), "and thawed it afterwards");
    assert!(!ps_line(d, "busy").contains("Paused"), "ps shows it running: {}", ps_line(d, "busy"));

    assert!(!seen_frozen_during(d, id, &["commit", "--pause=false", "busy", "snap:live"]), "--pause=false leaves it running");
    for image in ["snap:paused", "snap:live"] {
        let out = d.berth_ok(&["run", "--rm", image, "wc", "-c", "/big"]);
        assert_eq!(out.split_whitespace().next(), Some(BIG), "{image} holds the file");
    }

    // A container the user paused stays paused through a commit.
    d.berth_ok(&["pause", "busy"]);
    d.berth_ok(&["commit", "busy", "snap:again"]);
    assert_eq!(d.frozen(id), Some(true), "commit leaves a paused container paused");
    assert!(ps_line(d, "busy").contains("(Paused)"));
    d.berth_ok(&["rm", "-f", "busy"]);
    assert!(common::wait_until(10, || d.container_pids().is_empty()), "no process of it is left");
}

#[test]
fn modular_commit_pauses_the_container_unless_told_not_to() {
    commit_pauses_the_container_unless_told_not_to(&TestDaemon::modular("cpause"));
}

#[test]
fn monolithic_commit_pauses_the_container_unless_told_not_to() {
    commit_pauses_the_container_unless_told_not_to(&TestDaemon::monolithic("mcpause"));
}
