//! Healthchecks (issue 13, process life): `--health-cmd` and its timing run a probe inside
//! the container; a passing one shows `healthy` in inspect and `docker ps`, a failing one
//! `unhealthy` after its retries, a probe past its timeout fails; `--no-healthcheck` has
//! none; the `health` filter of ps. Both modes, docker CLI 28.x and 20.10.

mod common;

use common::http::post_json;
use common::{docker_bin_cmd, docker_bin_ok, wait_until, TestDaemon};
use serde_json::Value;

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn health(d: &TestDaemon, id: &str) -> Value {
    let out = docker_bin_ok(DOCKER, d, &["inspect", "-f", "{{json .State.Health}}", id]);
    serde_json::from_str(out.trim()).expect("State.Health JSON")
}

fn status(d: &TestDaemon, id: &str) -> String {
    health(d, id)["Status"].as_str().unwrap_or_default().to_owned()
}

fn ps_status(d: &TestDaemon, id: &str) -> String {
    docker_bin_ok(DOCKER, d, &["ps", "-a", "--filter", &format!("id={id}"), "--format", "{{.Status}}"]).trim().to_owned()
}

fn health_flow(d: &TestDaemon) {
    d.import_busybox();
    for bin in [DOCKER, DOCKER_20] {
        // Passing: healthy, with the probe's own output, listed by the health filter.
        let args = ["run", "-d", "--health-cmd", "echo probing from $(hostname); test -e /tmp/ok", "--health-interval", "200ms"];
        let id = docker_bin_ok(bin, d, &[&args[..], &["busybox", "sh", "-c", "touch /tmp/ok; exec sleep 1000"]].concat());
        let id = id.trim();
        assert!(wait_until(20, || status(d, id) == "healthy"), "{bin}: {}", health(d, id));
        let h = health(d, id);
        let last = &h["Log"].as_array().expect("Log")[h["Log"].as_array().map_or(0, |l| l.len()) - 1];
        assert_eq!(last["ExitCode"], 0);
        assert_eq!(last["Output"].as_str(), Some(format!("probing from {}\n", &id[..12]).as_str()), "the probe ran inside the container");
        assert!(ps_status(d, id).ends_with("(healthy)"), "{}", ps_status(d, id));
        let listed = docker_bin_ok(bin, d, &["ps", "-q", "--no-trunc", "--filter", "health=healthy"]);
        assert!(listed.lines().any(|l| l == id), "{listed}");

        // The probe's file goes: unhealthy after three failures (the default retries).
        docker_bin_ok(bin, d, &["exec", id, "rm", "/tmp/ok"]);
        let mut seen = Vec::new();
        assert!(
            wait_until(20, || {
                let h = health(d, id);
                seen.push((h["Status"].as_str().unwrap_or_default().to_owned(), h["FailingStreak"].as_i64().unwrap_or(-1)));
                h["Status"] == "unhealthy"
            }),
            "{bin}: {seen:?}"
        );
        for (st, streak) in &seen {
            assert!(st == "healthy" || st == "unhealthy" && *streak >= 3, "{bin}: unhealthy only after 3 failures: {seen:?}");
        }
        assert!(ps_status(d, id).ends_with("(unhealthy)"), "{}", ps_status(d, id));
        docker_bin_ok(bin, d, &["rm", "-f", id]);
    }

    // A probe that outlives its timeout fails; retries 1 makes one failure enough.
    let id = docker_bin_ok(
        DOCKER,
        d,
        &[
            "run",
            "-d",
            "--health-cmd",
            "sleep 5",
            "--health-timeout",
            "300ms",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let id = id.trim();
    assert!(wait_until(20, || status(d, id) == "unhealthy"), "{}", health(d, id));
    let out = health(d, id)["Log"][0]["Output"].as_str().unwrap_or_default().to_owned();
    assert!(out.contains("exceeded timeout"), "{out}");
    assert_eq!(health(d, id)["Log"][0]["ExitCode"], -1);
    docker_bin_ok(DOCKER, d, &["rm", "-f", id]);

    // Before its first probe a container is starting; --no-healthcheck has no health at all.
    let id = docker_bin_ok(DOCKER, d, &["run", "-d", "--health-cmd", "true", "--health-interval", "1h", "busybox", "sleep", "1000"]);
    let id = id.trim();
    assert_eq!(status(d, id), "starting");
    assert!(ps_status(d, id).ends_with("(health: starting)"), "{}", ps_status(d, id));
    let none = docker_bin_ok(DOCKER, d, &["run", "-d", "--no-healthcheck", "busybox", "sleep", "1000"]);
    let none = none.trim();
    assert_eq!(docker_bin_ok(DOCKER, d, &["inspect", "-f", "{{json .State.Health}}", none]).trim(), "null");
    assert_eq!(docker_bin_ok(DOCKER, d, &["ps", "-q", "--no-trunc", "--filter", "health=none"]).trim(), none);
    docker_bin_ok(DOCKER, d, &["rm", "-f", id, none]);
}

#[test]
fn a_passing_probe_is_healthy_a_failing_one_unhealthy_after_its_retries_modular() {
    health_flow(&TestDaemon::modular("hcm"));
}

#[test]
fn a_passing_probe_is_healthy_a_failing_one_unhealthy_after_its_retries_monolithic() {
    health_flow(&TestDaemon::monolithic("hcmo"));
}

#[test]
fn bad_healthchecks_are_refused_by_name_and_create_nothing() {
    let d = TestDaemon::modular("hcbad");
    d.import_busybox();
    let r = post_json(&d, "/containers/create", r#"{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["SHELL","true"]}}"#);
    assert_eq!(r.status, 400);
    assert!(r.message().contains("SHELL"), "{}", r.message());
    let r = post_json(&d, "/containers/create", r#"{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Interval":1000}}"#);
    assert_eq!((r.status, r.message()), (400, "Interval in Healthcheck cannot be less than 1ms".to_owned()));
    let out = docker_bin_cmd(DOCKER, &d)
        .args(["run", "-d", "--health-cmd", "true", "--health-retries", "-1", "busybox", "true"])
        .output()
        .expect("docker run");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("etries"), "{out:?}");
    assert_eq!(docker_bin_ok(DOCKER, &d, &["ps", "-aq"]), "", "nothing created");
}
