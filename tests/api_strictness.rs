//! The Engine API is as strict as Docker's (issue 11, items 11 and 12): version prefixes are
//! checked with Docker's messages, bad query values are 400 instead of being ignored, a
//! string `Cmd`/`Entrypoint` is a StrSlice, every error body is JSON and never echoes binary
//! input, a client that never finishes its headers is cut off, and `stop` completes when the
//! client goes away. Raw HTTP over the unix socket (as curl would send it) and the docker CLI.

mod common;

use common::http::{get, post_json, raw, Reply};
use common::{docker_cmd, docker_ok, wait_until, TestDaemon};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Asserts a 400 whose JSON message contains `want`.
fn assert_400(r: &Reply, want: &str, what: &str) {
    assert_eq!(r.status, 400, "{what}: want 400, got {} {}", r.status, r.text());
    let m = r.message();
    assert!(m.contains(want), "{what}: message {m:?} does not contain {want:?}");
}

fn both_modes(tag: &str, f: impl Fn(&TestDaemon)) {
    for monolithic in [false, true] {
        let d = TestDaemon::with_args(&format!("{tag}{}", if monolithic { "m" } else { "" }), monolithic, &[]);
        f(&d);
    }
}

#[test]
fn version_prefixes_outside_the_supported_range_are_refused_with_dockers_messages() {
    both_modes("apiver", |d| {
        assert_400(&get(d, "/v0.1/version"), "client version 0.1 is too old. Minimum supported API version is 1.12", "/v0.1/");
        assert_400(&get(d, "/v99.99/version"), "client version 99.99 is too new. Maximum supported API version is 1.41", "/v99.99/");
        assert_400(&get(d, "/v1.42/containers/json"), "is too new", "/v1.42/");
        for ok in ["/v1.41/version", "/v1.24/version", "/v1.12/_ping", "/version"] {
            assert_eq!(get(d, ok).status, 200, "{ok}");
        }
    });
}

#[test]
fn bad_tail_since_until_filters_limit_and_t_values_are_400() {
    both_modes("apiq", |d| {
        d.import_busybox();
        docker_ok(d, &["run", "-d", "--name", "q1", "busybox", "sleep", "60"]);
        assert_400(&get(d, "/containers/q1/logs?stdout=1&tail=abc"), "tail", "tail=abc");
        assert_400(&get(d, "/containers/q1/logs?stdout=1&since=yesterday"), "since", "since=yesterday");
        assert_400(&get(d, "/containers/q1/logs?stdout=1&until=1.x"), "until", "until=1.x");
        assert_400(&get(d, "/containers/json?filters=%7Bnot-json"), "filters", "filters not JSON");
        assert_400(&get(d, "/containers/json?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D"), "invalid filter 'colour'", "unknown filter");
        assert_400(&get(d, "/containers/json?filters=%7B%22status%22%3A%5B%22sleepy%22%5D%7D"), "sleepy", "bad status value");
        assert_400(&get(d, "/containers/json?filters=%7B%22health%22%3A%5B%22fine%22%5D%7D"), "fine", "bad health value");
        assert_400(&get(d, "/containers/json?filters=%7B%22publish%22%3A%5B%221%3A2%22%5D%7D"), "should not contain ':'", "bad publish value");
        assert_400(&get(d, "/containers/json?limit=many"), "limit", "limit=many");
        assert_400(&post_json(d, "/containers/q1/stop?t=soon", ""), "t", "t=soon");
        // details is served now (tests/container_logs.rs shows what it prints).
        assert_eq!(get(d, "/containers/q1/logs?stdout=1&details=1").status, 200);
        let out = docker_cmd(d).args(["pull", "--platform", "linux/arm64", "localhost:1/busybox"]).output().expect("docker pull");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("linux/arm64") && err.contains("not supported"), "pull --platform: {err}");
        // Booleans read as Docker's BoolValue: `yes` is true.
        docker_ok(d, &["create", "--name", "q2", "busybox", "true"]);
        let all = get(d, "/containers/json?all=yes");
        assert!(all.text().contains("/q2"), "all=yes did not list the created container: {}", all.text());
        docker_ok(d, &["rm", "q2"]);
        // Nothing was done by the refused stop.
        assert!(docker_ok(d, &["ps"]).contains("q1"), "the refused stop stopped the container");
        // Valid values are taken.
        assert_eq!(get(d, "/containers/q1/logs?stdout=1&tail=all&since=0").status, 200);
        assert_eq!(get(d, "/containers/json?limit=1&size=1").status, 200);
        docker_ok(d, &["rm", "-f", "q1"]);
    });
}

#[test]
fn a_string_cmd_and_entrypoint_are_accepted_as_one_element_lists() {
    both_modes("apistr", |d| {
        d.import_busybox();
        let r = post_json(d, "/containers/create?name=strs", r#"{"Image":"busybox","Entrypoint":"echo","Cmd":"from-a-string"}"#);
        assert_eq!(r.status, 201, "{}", r.text());
        let inspect = docker_ok(d, &["inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "strs"]);
        assert_eq!(inspect.trim(), r#"["echo"] ["from-a-string"]"#);
        docker_ok(d, &["start", "-a", "strs"]);
        assert_eq!(docker_ok(d, &["logs", "strs"]), "from-a-string\n");
        let r = post_json(d, "/containers/create", r#"{"Image":"busybox","Cmd":7}"#);
        assert_400(&r, "Cmd", "numeric Cmd");
        docker_ok(d, &["rm", "strs"]);
    });
}

#[test]
fn every_error_body_is_json_including_413_405_and_bad_bodies() {
    both_modes("apijson", |d| {
        let r = raw(d, "DELETE", b"/_ping", "", b"");
        assert_eq!(r.status, 405, "{}", r.text());
        assert!(!r.message().is_empty());
        let r = post_json(d, "/containers/create", "{not json");
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(!r.message().is_empty());
        let big = format!(r#"{{"Image":"busybox","Env":["X={}"]}}"#, "a".repeat(8 << 20));
        let r = post_json(d, "/containers/create", &big);
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(!r.message().is_empty());
        let r = get(d, "/no/such/endpoint");
        assert_eq!(r.status, 404);
        assert!(!r.message().is_empty());
        assert_eq!(get(d, "/_ping").status, 200, "the daemon still serves");
    });
}

#[test]
fn errors_never_echo_binary_or_control_input() {
    both_modes("apibin", |d| {
        // An escape sequence and a NUL in a container name (percent-encoded in the path).
        let r = get(d, "/containers/%1b%5b2J%00evil/json");
        assert_eq!(r.status, 404, "{}", r.text());
        let m = r.message();
        assert!(!m.contains('\u{1b}') && !m.contains('\0'), "message echoes control bytes: {m:?}");
        assert!(m.contains("evil"), "message still names the input: {m:?}");
        // Invalid UTF-8 and a terminal escape in a JSON body field.
        let mut body = br#"{"Image":"bad"#.to_vec();
        body.extend_from_slice(b"\xff\xfe\x1b]0;pwned\x07");
        body.extend_from_slice(br#""}"#);
        let r = raw(d, "POST", b"/containers/create", "Content-Type: application/json\r\n", &body);
        assert!(r.status >= 400, "{}", r.text());
        assert!(
            !r.body.contains(&0x1b) && !r.body.contains(&0x07) && !r.body.windows(2).any(|w| w == b"\xff\xfe"),
            "body echoes binary input: {:?}",
            r.text()
        );
        // A long input is cut.
        let long = format!("/containers/{}/json", "x".repeat(20_000));
        let r = get(d, &long);
        assert!(r.body.len() < 4096, "a 20000-byte name was echoed in a {}-byte body", r.body.len());
    });
}

#[test]
fn a_connection_that_never_finishes_its_headers_is_closed() {
    let d = TestDaemon::modular("apislow");
    let mut slow = UnixStream::connect(d.socket()).expect("connect");
    slow.write_all(b"GET /_ping HTTP/1.1\r\nHost: berth\r\nX-Drip: 1\r\n").expect("partial headers");
    let started = Instant::now();
    // Other clients are served while the slow one hangs.
    assert_eq!(get(&d, "/_ping").status, 200);
    slow.set_read_timeout(Some(Duration::from_secs(60))).expect("read timeout");
    let mut buf = [0u8; 512];
    // The daemon either closes the connection (EOF / reset) or answers 408 and closes it;
    // it never keeps waiting for the rest of the headers.
    loop {
        match slow.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(40), "slow connection held for {waited:?}");
    assert!(waited >= Duration::from_secs(5), "closed after {waited:?}, before the header timeout");
    assert_eq!(get(&d, "/_ping").status, 200, "the daemon still serves");
}

#[test]
fn ps_filters_select_as_dockers_do() {
    both_modes("apips", |d| {
        d.import_busybox();
        docker_ok(d, &["create", "--name", "f-created", "--label", "tier=db", "busybox", "true"]);
        docker_ok(d, &["run", "--name", "f-exited", "--label", "tier=web", "busybox", "true"]);
        docker_ok(d, &["run", "-d", "--name", "f-running", "--label", "tier=web", "busybox", "sleep", "60"]);
        let names = |args: &[&str]| {
            let mut all = vec!["ps", "--format", "{{.Names}}"];
            all.extend_from_slice(args);
            let mut v: Vec<String> = docker_ok(d, &all).lines().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(names(&[]), ["f-running"]);
        assert_eq!(names(&["-a", "--filter", "label=tier=web"]), ["f-exited", "f-running"]);
        assert_eq!(names(&["-a", "--filter", "label=tier"]).len(), 3);
        assert_eq!(names(&["--filter", "status=exited"]), ["f-exited"]);
        assert_eq!(names(&["--filter", "status=created"]), ["f-created"]);
        assert_eq!(names(&["-a", "--filter", "name=f-run"]), ["f-running"]);
        assert_eq!(names(&["-a", "--filter", "exited=0"]), ["f-exited"]);
        assert_eq!(names(&["-a", "--filter", "ancestor=busybox"]).len(), 3);
        assert_eq!(names(&["-a", "--filter", "since=f-created"]), ["f-exited", "f-running"]);
        assert_eq!(names(&["-a", "--filter", "before=f-running"]), ["f-created", "f-exited"]);
        assert_eq!(names(&["-a", "-n", "1"]), ["f-running"]);
        let id = docker_ok(d, &["inspect", "-f", "{{.Id}}", "f-exited"]);
        assert_eq!(names(&["-a", "--filter", &format!("id={}", &id[..12])]), ["f-exited"]);
        assert_eq!(names(&["-a", "--filter", "health=none"]).len(), 3, "none has a healthcheck");
        assert!(names(&["-a", "--filter", "health=healthy"]).is_empty());
        // No container has a volume or a published port (berth has neither yet).
        assert!(names(&["-a", "--filter", "volume=v"]).is_empty());
        assert!(names(&["-a", "--filter", "publish=80"]).is_empty());
        assert_eq!(names(&["-a", "--filter", "network=bridge"]).len(), 3);
        assert!(names(&["-a", "--filter", "network=none"]).is_empty());
        let out = docker_cmd(d).args(["ps", "--filter", "colour=red"]).output().expect("docker ps");
        assert!(
            !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("invalid filter 'colour'"),
            "unknown filter accepted: {out:?}"
        );
        docker_ok(d, &["rm", "-f", "f-created", "f-exited", "f-running"]);
    });
}

#[test]
fn stop_completes_after_the_client_goes_away() {
    both_modes("apistop", |d| {
        d.import_busybox();
        // PID 1 ignores SIGTERM, so only the timeout's SIGKILL stops it.
        docker_ok(d, &["run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]);
        let mut client = docker_cmd(d).args(["stop", "-t", "4", "stubborn"]).spawn().expect("docker stop");
        std::thread::sleep(Duration::from_secs(2));
        // The user gives up (Ctrl-C) 2 s in, before the timeout.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(client.id() as i32), nix::sys::signal::Signal::SIGINT);
        let _ = client.wait();
        let interrupted = Instant::now();
        let running = || docker_ok(d, &["inspect", "-f", "{{.State.Running}}", "stubborn"]).trim() == "true";
        assert!(running(), "SIGTERM was not ignored as the test needs");
        assert!(wait_until(5, || !running()), "container still running 5 s after the interrupted stop");
        assert!(interrupted.elapsed() < Duration::from_secs(5));
        assert!(d.container_pids().is_empty(), "processes left: {:?}", d.container_pids());
        docker_ok(d, &["rm", "stubborn"]);
    });
}
