//! The OOM killer in a container's memory cgroup (issue 14): Docker's `oom` event and
//! `State.OOMKilled`, reset by the next start. Seen from the inside too: the process the
//! kernel killed exits 137 and the cgroup's own count says so. Both modes (the shim's
//! TaskOOM through the supervisor; the daemon's own watch).

mod common;

use common::{docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";

fn now() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

fn oom_flow(d: &TestDaemon) {
    d.import_busybox();
    let t0 = now();
    // busybox tail keeps a line without newlines whole: it grows until the kernel kills it;
    // the shell outlives it and reports how it ended.
    docker_bin_ok(
        DOCKER,
        d,
        &["run", "-d", "--name", "hog", "-m", "16m", "busybox", "sh", "-c", "head -c 256m /dev/zero | tail; echo tail=$?; exec sleep 1000"],
    );
    let logs = || docker_bin_ok(DOCKER, d, &["logs", "hog"]);
    assert!(common::wait_until(60, || logs().contains("tail=")), "the hog never ended: {}", logs());
    assert_eq!(logs().trim(), "tail=137", "killed by SIGKILL");
    // Inside: the container's own memory cgroup counted the kill.
    let control = docker_bin_ok(
        DOCKER,
        d,
        &["exec", "hog", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || cat /sys/fs/cgroup/memory.events"],
    );
    let kills: u64 = control.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    assert!(kills >= 1, "{control}");
    let inspect = |f: &str| docker_bin_ok(DOCKER, d, &["inspect", "-f", f, "hog"]).trim().to_owned();
    assert!(common::wait_until(10, || inspect("{{.State.OOMKilled}}") == "true"), "OOMKilled: {}", inspect("{{json .State}}"));
    assert_eq!(inspect("{{.State.Running}}"), "true");
    let ev = docker_bin_ok(
        DOCKER,
        d,
        &["events", "--since", &t0, "--until", &now(), "--filter", "event=oom", "--format", "{{.Action}} {{.Actor.Attributes.name}}"],
    );
    assert_eq!(ev, "oom hog\n");
    // A new start clears it, as Docker's.
    docker_bin_ok(DOCKER, d, &["restart", "-t", "0", "hog"]);
    assert_eq!(inspect("{{.State.OOMKilled}}"), "false");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "hog"]);
}

#[test]
fn an_oom_kill_is_an_event_and_marks_the_container_modular() {
    let d = TestDaemon::modular("oom");
    oom_flow(&d);
}

#[test]
fn an_oom_kill_is_an_event_and_marks_the_container_monolithic() {
    let d = TestDaemon::monolithic("oomm");
    oom_flow(&d);
}
