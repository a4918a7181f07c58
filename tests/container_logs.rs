//! `docker logs` options as Docker reads them (issue 14): `--since` and `--until` bound the
//! lines by their times (both inclusive), `--tail N` keeps the last N, `--timestamps`
//! prefixes each line with its RFC 3339 time, `--details` with its (empty) attributes. The
//! docker CLIs 28.x and 20.10 and the berth client print the same; a bad time is refused.
//! Both modes.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// The same output from docker 28, docker 20.10 and berth.
fn all_same(d: &TestDaemon, args: &[&str]) -> String {
    let ours = d.berth_ok(args);
    for bin in [DOCKER, DOCKER_20] {
        assert_eq!(docker_bin_ok(bin, d, args), ours, "{bin} {args:?} differs from berth");
    }
    ours
}

fn logs_flow(d: &TestDaemon) {
    d.import_busybox();
    docker_bin_ok(DOCKER, d, &["run", "--name", "lg", "busybox", "sh", "-c", "for l in a b c d e; do echo $l; done"]);
    let stamped = all_same(d, &["logs", "--timestamps", "lg"]);
    let times: Vec<&str> = stamped.lines().map(|l| l.split_once(' ').map(|(t, _)| t).unwrap_or_default()).collect();
    let lines: Vec<&str> = stamped.lines().map(|l| l.split_once(' ').map(|(_, l)| l).unwrap_or_default()).collect();
    assert_eq!(lines, ["a", "b", "c", "d", "e"], "{stamped}");
    for t in &times {
        assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z') && t.len() == 30, "RFC 3339 with nanoseconds: {t}");
    }
    assert_eq!(all_same(d, &["logs", "lg"]), "a\nb\nc\nd\ne\n");
    assert_eq!(all_same(d, &["logs", "--tail", "2", "lg"]), "d\ne\n");
    assert_eq!(all_same(d, &["logs", "-n", "0", "lg"]), "");
    // Bounds at a line's own time include it (lines read in one chunk share a time).
    let between =
        |lo: &str, hi: &str| -> String { lines.iter().zip(&times).filter(|(_, t)| **t >= lo && **t <= hi).map(|(l, _)| format!("{l}\n")).collect() };
    assert_eq!(all_same(d, &["logs", "--since", times[2], "lg"]), between(times[2], "9"));
    assert_eq!(all_same(d, &["logs", "--until", times[1], "lg"]), between("0", times[1]));
    let window = between(times[1], times[3]);
    let last = window.lines().last().map(|l| format!("{l}\n")).unwrap_or_default();
    assert_eq!(all_same(d, &["logs", "--since", times[1], "--until", times[3], "--tail", "1", "lg"]), last);
    // A duration is sent as whole seconds (docker's GetTimestamp): "0s" is the start of
    // the current second, so it holds every line once the clock is past the last one's.
    let last_second = chrono::DateTime::parse_from_rfc3339(times[4]).map(|t| t.timestamp()).unwrap_or_default();
    assert!(common::wait_until(3, || chrono::Utc::now().timestamp() > last_second));
    assert_eq!(all_same(d, &["logs", "--since", "1h", "--until", "0s", "lg"]), "a\nb\nc\nd\ne\n");
    assert_eq!(all_same(d, &["logs", "--until", "2000-01-01T00:00:00Z", "lg"]), "");
    assert_eq!(all_same(d, &["logs", "--details", "--tail", "1", "lg"]), " e\n");
    let both = all_same(d, &["logs", "--details", "--timestamps", "--tail", "1", "lg"]);
    assert_eq!(both, format!("{}  e\n", times[4]));

    // A bad time: the CLIs refuse it; so does the daemon, by name.
    for bin in [DOCKER, DOCKER_20] {
        let out = docker_bin_cmd(bin, d).args(["logs", "--since", "yesterday", "lg"]).output().expect("docker");
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("yesterday"), "{bin}");
    }
    let out = d.berth(&["logs", "--until", "yesterday", "lg"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("yesterday"));
    let raw = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", &d.socket().to_string_lossy()])
        .arg("http://berth/v1.41/containers/lg/logs?stdout=1&since=yesterday")
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&raw.stdout), "400");
    docker_bin_ok(DOCKER, d, &["rm", "lg"]);
}

#[test]
fn logs_options_match_docker_modular() {
    let d = TestDaemon::modular("clog");
    logs_flow(&d);
}

#[test]
fn logs_options_match_docker_monolithic() {
    let d = TestDaemon::monolithic("clogm");
    logs_flow(&d);
}
