//! Restart policies (issue 13, process life): `--restart on-failure:N`, `always` and
//! `unless-stopped` bring a container back as Docker's do, counted in RestartCount, with the
//! container's own output showing each run; a stop or kill by the user is final; a berthd
//! restart starts what the policy says. Both modes; docker CLI 28.x and 20.10 and berth.

mod common;

use common::http::{get, post_json};
use common::{berth_at, docker_bin_cmd, docker_bin_ok, pid_alive, wait_until, TestDaemon};
use serde_json::Value;
use std::time::Duration;

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn inspect(d: &TestDaemon, id: &str) -> Value {
    let r = get(d, &format!("/containers/{id}/json"));
    assert_eq!(r.status, 200, "inspect {id}: {}", r.text());
    serde_json::from_slice(&r.body).expect("inspect JSON")
}

fn restart_count(d: &TestDaemon, id: &str) -> i64 {
    inspect(d, id)["RestartCount"].as_i64().expect("RestartCount")
}

fn status(d: &TestDaemon, id: &str) -> String {
    inspect(d, id)["State"]["Status"].as_str().expect("State.Status").to_owned()
}

fn pid(d: &TestDaemon, id: &str) -> i32 {
    inspect(d, id)["State"]["Pid"].as_i64().expect("State.Pid") as i32
}

/// How many times the container's command ran, by the lines it printed on each start.
fn runs(d: &TestDaemon, id: &str) -> usize {
    String::from_utf8_lossy(&d.berth(&["logs", id]).stdout).lines().filter(|l| *l == "ran").count()
}

/// The container's running pid once it is running with a pid other than `old`.
fn wait_running_anew(d: &TestDaemon, id: &str, old: i32) -> i32 {
    assert!(
        wait_until(20, || status(d, id) == "running" && pid(d, id) != old && pid(d, id) > 0),
        "{id} is running again: {}\n{}",
        inspect(d, id)["State"],
        d.log().lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    pid(d, id)
}

fn sigkill(pid: i32) {
    // SAFETY: kill(2) on a pid read from the container's record, with a valid signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill {pid}");
}

fn on_failure_flow(d: &TestDaemon) {
    d.import_busybox();
    let script = "echo ran; exit 1";
    let mut ids: Vec<String> = [DOCKER, DOCKER_20]
        .iter()
        .map(|bin| docker_bin_ok(bin, d, &["run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", script]).trim().to_owned())
        .collect();
    ids.push(d.berth_ok(&["run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", script]).trim().to_owned());
    for id in &ids {
        assert!(wait_until(20, || restart_count(d, id) == 2 && status(d, id) == "exited"), "{id}: {}", inspect(d, id)["State"]);
        let st = inspect(d, id)["State"].clone();
        assert_eq!((st["ExitCode"].as_i64(), st["Restarting"].as_bool(), st["Running"].as_bool()), (Some(1), Some(false), Some(false)));
        assert_eq!(runs(d, id), 3, "the first run and two restarts");
        let ps = docker_bin_ok(DOCKER_20, d, &["ps", "-a", "--filter", &format!("id={id}"), "--format", "{{.Status}}"]);
        assert!(ps.starts_with("Exited (1)"), "{ps}");
    }
    // A clean exit is no failure.
    let id = docker_bin_ok(DOCKER, d, &["run", "-d", "--restart", "on-failure", "busybox", "sh", "-c", "echo ran"]);
    let id = id.trim();
    assert!(wait_until(10, || status(d, id) == "exited"));
    assert_eq!((restart_count(d, id), runs(d, id)), (0, 1));
}

#[test]
fn on_failure_2_on_exit_1_runs_three_times_and_ends_exited_1_with_restart_count_2_modular() {
    on_failure_flow(&TestDaemon::modular("rsof"));
}

#[test]
fn on_failure_2_on_exit_1_runs_three_times_and_ends_exited_1_with_restart_count_2_monolithic() {
    on_failure_flow(&TestDaemon::monolithic("rsofm"));
}

fn always_flow(d: &TestDaemon) {
    d.import_busybox();
    let script = "echo ran; exec sleep 1000";
    for (bin, policy) in [(DOCKER, "always"), (DOCKER_20, "unless-stopped")] {
        let id = docker_bin_ok(bin, d, &["run", "-d", "--restart", policy, "busybox", "sh", "-c", script]);
        let id = id.trim();
        let first = wait_running_anew(d, id, 0);
        // A SIGKILL from outside is a crash: the container comes back, counted.
        sigkill(first);
        let second = wait_running_anew(d, id, first);
        assert!(!pid_alive(first));
        assert_eq!((restart_count(d, id), runs(d, id)), (1, 2), "{policy}");
        // `docker stop` is final: after it the container stays exited, well past the
        // back-off (200 ms now) that a restart would have waited.
        docker_bin_ok(bin, d, &["stop", "-t", "1", id]);
        assert!(!pid_alive(second));
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!((status(d, id).as_str(), restart_count(d, id), runs(d, id)), ("exited", 1, 2), "{policy}: stopped for good");
        // A start by the user starts the count over; a `docker kill` is final as well.
        docker_bin_ok(bin, d, &["start", id]);
        let third = wait_running_anew(d, id, second);
        assert_eq!(restart_count(d, id), 0);
        docker_bin_ok(bin, d, &["kill", id]);
        assert!(wait_until(10, || !pid_alive(third)));
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!((status(d, id).as_str(), runs(d, id)), ("exited", 3), "{policy}: killed for good");
        docker_bin_ok(bin, d, &["rm", id]);
    }
}

#[test]
fn always_and_unless_stopped_come_back_after_a_sigkill_and_stop_or_kill_is_final_modular() {
    always_flow(&TestDaemon::modular("rsal"));
}

#[test]
fn always_and_unless_stopped_come_back_after_a_sigkill_and_stop_or_kill_is_final_monolithic() {
    always_flow(&TestDaemon::monolithic("rsalm"));
}

fn restarting_flow(d: &TestDaemon) {
    d.import_busybox();
    // Exits at once, again and again: the back-off grows (100 ms, 200, 400, 800, 1.6 s...),
    // so the container spends most of its time restarting.
    let id = docker_bin_ok(DOCKER, d, &["run", "-d", "--restart", "always", "busybox", "sh", "-c", "echo ran; exit 3"]);
    let id = id.trim();
    assert!(wait_until(20, || restart_count(d, id) >= 5 && status(d, id) == "restarting"), "{}", inspect(d, id)["State"]);
    let st = inspect(d, id)["State"].clone();
    assert_eq!((st["Running"].as_bool(), st["Restarting"].as_bool(), st["ExitCode"].as_i64()), (Some(true), Some(true), Some(3)));
    let ps = docker_bin_ok(DOCKER, d, &["ps", "--format", "{{.ID}} {{.Status}}"]);
    assert!(ps.contains(&id[..12]) && ps.contains("Restarting (3)"), "listed by ps as restarting: {ps}");
    let out = docker_bin_cmd(DOCKER, d).args(["rm", id]).output().expect("docker rm");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("restarting container"), "{out:?}");
    let out = docker_bin_cmd(DOCKER, d).args(["kill", id]).output().expect("docker kill");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is restarting"), "{out:?}");
    // A stop cancels the pending restart.
    let count = restart_count(d, id);
    docker_bin_ok(DOCKER, d, &["stop", id]);
    std::thread::sleep(Duration::from_millis(1500));
    let st = inspect(d, id)["State"].clone();
    assert_eq!((st["Status"].as_str(), st["Restarting"].as_bool()), (Some("exited"), Some(false)));
    assert_eq!(restart_count(d, id), count);
    docker_bin_ok(DOCKER, d, &["rm", id]);
}

#[test]
fn a_restarting_container_is_listed_as_such_cannot_be_removed_and_a_stop_cancels_it_modular() {
    restarting_flow(&TestDaemon::modular("rsrs"));
}

#[test]
fn a_restarting_container_is_listed_as_such_cannot_be_removed_and_a_stop_cancels_it_monolithic() {
    restarting_flow(&TestDaemon::monolithic("rsrsm"));
}

/// Containers: `crashed` (always, SIGKILLed while berthd is away in modular mode; dying with
/// it in monolithic mode), `stopped` (always, stopped by the user), `held` (unless-stopped,
/// stopped by the user), `plain` (no policy).
fn daemon_restart_flow(mut d: TestDaemon) {
    d.import_busybox();
    let script = "echo ran; exec sleep 1000";
    let run = |name: &str, policy: &str| {
        docker_bin_ok(DOCKER, &d, &["run", "-d", "--name", name, "--restart", policy, "busybox", "sh", "-c", script]);
        wait_running_anew(&d, name, 0)
    };
    let crashed = run("crashed", "always");
    run("stopped", "always");
    run("held", "unless-stopped");
    run("plain", "no");
    docker_bin_ok(DOCKER, &d, &["stop", "-t", "1", "stopped", "held"]);
    d.kill_daemon();
    if !d.monolithic {
        sigkill(crashed);
    }
    assert!(wait_until(10, || !pid_alive(crashed)));
    d.start();
    wait_running_anew(&d, "crashed", crashed);
    wait_running_anew(&d, "stopped", 0);
    assert_eq!((runs(&d, "crashed"), runs(&d, "stopped")), (2, 2));
    // Exited while berthd was away: a restart of the policy's, counted; started with the
    // daemon: not counted (Docker's).
    assert_eq!((restart_count(&d, "crashed"), restart_count(&d, "stopped")), (1, 0));
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(status(&d, "held"), "exited", "unless-stopped stays stopped");
    assert_eq!(runs(&d, "held"), 1);
    let plain = status(&d, "plain");
    assert_eq!(plain, if d.monolithic { "exited" } else { "running" }, "no policy: as it was");
    for n in ["crashed", "stopped", "held", "plain"] {
        docker_bin_ok(DOCKER, &d, &["rm", "-f", n]);
    }
}

#[test]
fn after_a_berthd_restart_always_containers_run_and_unless_stopped_ones_stay_stopped_modular() {
    daemon_restart_flow(TestDaemon::modular("rsdr"));
}

#[test]
fn after_a_berthd_restart_always_containers_run_and_unless_stopped_ones_stay_stopped_monolithic() {
    daemon_restart_flow(TestDaemon::monolithic("rsdrm"));
}

#[test]
fn bad_restart_policies_are_refused_by_name_and_create_nothing() {
    let d = TestDaemon::modular("rsbad");
    d.import_busybox();
    for (args, says) in [
        (&["--restart", "sometimes"][..], "unknown policy 'sometimes'"),
        (&["--restart", "always:3"][..], "maximum retry count can only be used with 'on-failure'"),
        (&["--restart", "on-failure:-1"][..], "cannot be negative"),
    ] {
        for bin in [DOCKER, DOCKER_20] {
            let out = docker_bin_cmd(bin, &d).args(["run", "-d"]).args(args).args(["busybox", "true"]).output().expect("docker run");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && err.contains(says), "{bin} {args:?}: {err}");
        }
        let out = berth_at(&d.host(), &[&["run", "-d"][..], args, &["busybox", "true"]].concat());
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(says), "berth {args:?}: {out:?}");
    }
    let r = post_json(
        &d,
        "/containers/create",
        r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}"#,
    );
    assert_eq!((r.status, r.message()), (400, "can't create 'AutoRemove' container with restart policy".to_owned()));
    assert_eq!(docker_bin_ok(DOCKER, &d, &["ps", "-aq"]), "", "nothing created");
}
