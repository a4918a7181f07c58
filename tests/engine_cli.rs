//! The `docker run` flow end to end through every role, driven by berth's own client
//! (issue 2, items 2 and 6), in both modes.

mod common;

use common::TestDaemon;
use std::io::{Read, Write};

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_echo_prints_hi(d: &TestDaemon) {
    d.import_busybox();
    let out = d.berth_ok(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    // --rm removed it.
    assert_eq!(d.berth_ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn modular_run_rm_echo_prints_hi_and_leaves_no_container() {
    run_echo_prints_hi(&TestDaemon::modular("echo"));
}

#[test]
fn monolithic_run_rm_echo_prints_hi_and_leaves_no_container() {
    run_echo_prints_hi(&TestDaemon::monolithic("mecho"));
}

#[test]
fn container_exit_code_becomes_berths_exit_code() {
    let d = TestDaemon::modular("exit");
    d.import_busybox();
    let out = d.berth(&["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_of(&out), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err\n"));
}

/// Lines each `run --rm` below prints in one burst right before it exits: enough that the
/// daemon is still streaming them when the exit (and, with --rm, the removal) comes.
const BURST_LINES: usize = 20_000;
/// Runs per mode: each one used to lose the tail of its output often enough that 40 runs
/// failed in nearly every test run before the fix.
const RM_RUNS: usize = 40;

fn every_run_rm_prints_all_its_output(d: &TestDaemon) {
    d.import_busybox();
    let expected: String = (1..=BURST_LINES).map(|i| format!("{i}\n")).collect();
    let lines = BURST_LINES.to_string();
    for run in 0..RM_RUNS {
        let out = d.berth(&["run", "--rm", "busybox", "seq", "1", &lines]);
        assert!(out.status.success(), "run {run} failed: {}", String::from_utf8_lossy(&out.stderr));
        let got = stdout_of(&out);
        assert!(got == expected, "run {run} printed {} of {BURST_LINES} lines (last: {:?})", got.lines().count(), got.lines().last());
        let out = d.berth_ok(&["run", "--rm", "busybox", "echo", "hi"]);
        assert_eq!(out, "hi\n", "run {run}: a one-line container keeps its line");
    }
    assert!(common::wait_until(10, || d.berth_ok(&["ps", "-a", "-q"]).trim().is_empty()), "--rm removed every container");
}

#[test]
fn modular_run_rm_never_loses_output_written_just_before_the_exit() {
    every_run_rm_prints_all_its_output(&TestDaemon::modular("rmout"));
}

#[test]
fn monolithic_run_rm_never_loses_output_written_just_before_the_exit() {
    every_run_rm_prints_all_its_output(&TestDaemon::monolithic("mrmout"));
}

fn detached_lifecycle(d: &TestDaemon) {
    d.import_busybox();
    let id = d.berth_ok(&["run", "-d", "--name", "web", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.1; done"]);
    assert_eq!(id.trim().len(), 64, "run -d prints the full id: {id:?}");
    let ps = d.berth_ok(&["ps"]);
    assert!(ps.lines().any(|l| l.ends_with("web") && l.contains("Up")), "ps lists web as up:\n{ps}");
    assert!(common::wait_until(10, || d.berth_ok(&["logs", "web"]).matches("tick").count() >= 3));
    d.berth_ok(&["stop", "-t", "1", "web"]);
    let ps = d.berth_ok(&["ps", "-a"]);
    assert!(ps.lines().any(|l| l.ends_with("web") && l.contains("Exited (137)")), "web exited after stop:\n{ps}");
    assert_eq!(d.berth_ok(&["rm", "web"]).trim(), "web");
    assert!(!d.berth_ok(&["ps", "-a"]).contains("web"));
    assert!(d.container_pids().is_empty(), "no container process is left");
}

#[test]
fn modular_detached_container_is_listed_logs_stops_and_is_removed() {
    detached_lifecycle(&TestDaemon::modular("web"));
}

#[test]
fn monolithic_detached_container_is_listed_logs_stops_and_is_removed() {
    detached_lifecycle(&TestDaemon::monolithic("mweb"));
}

#[test]
fn unknown_command_in_the_container_exits_127_and_leaves_nothing_running() {
    let d = TestDaemon::modular("e127");
    d.import_busybox();
    let out = d.berth(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("executable file not found"), "stderr names the problem: {err}");
    assert!(common::wait_until(5, || d.berth_ok(&["ps", "-a", "-q"]).trim().is_empty()));
    assert!(d.container_pids().is_empty());
}

#[test]
fn unknown_image_is_a_clear_error_and_creates_nothing() {
    let d = TestDaemon::modular("noimg");
    let out = d.berth(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No such image") || err.contains("nosuchimage"), "stderr: {err}");
    assert_eq!(d.berth_ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn malformed_json_to_the_api_gets_400_with_a_message() {
    let d = TestDaemon::modular("badjson");
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect");
    let body = "{\"Image\": ";
    write!(
        s,
        "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read response");
    assert!(resp.starts_with("HTTP/1.1 400"), "status line: {resp}");
    assert!(resp.contains("\"message\":\"invalid JSON"), "body names the problem: {resp}");
    assert_eq!(d.berth_ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn unknown_role_name_is_refused_with_the_list_of_roles() {
    let dir = common::TempDir::new("role");
    let link = dir.path().join("berth-nosuchrole");
    std::os::unix::fs::symlink(common::berth_bin(), &link).expect("symlink");
    let out = std::process::Command::new(&link).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown role") && err.contains("berthd") && err.contains("berth-runtime"), "{err}");
}

#[test]
fn version_and_info_answer() {
    let d = TestDaemon::modular("ver");
    let v = d.berth_ok(&["version"]);
    assert!(v.contains("1.41"), "{v}");
    let i = d.berth_ok(&["info"]);
    assert!(i.contains("overlay2"), "{i}");
}

#[test]
fn install_links_beside_the_binary_keeps_the_binary_and_links_every_role() {
    let dir = common::TempDir::new("links");
    let bin = dir.path().join("berth");
    std::fs::copy(common::berth_bin(), &bin).expect("copy binary");
    let st = std::process::Command::new(&bin).arg("install-links").arg(dir.path()).status().expect("install-links");
    assert!(st.success());
    assert!(std::fs::symlink_metadata(&bin).expect("binary").file_type().is_file(), "the binary itself stays");
    // Shims take containerd's single-dash flags (`-v` prints the version), the rest --help.
    for (role, flag) in
        [("berthd", "--help"), ("berth-supervisor", "--help"), ("berth-runtime", "--help"), ("berth-shim", "-v"), ("containerd-shim-berth-v2", "-v")]
    {
        let out = std::process::Command::new(dir.path().join(role)).arg(flag).output().expect("run role");
        assert!(out.status.success(), "{role} {flag} works through its link");
    }
}

#[test]
fn unknown_log_driver_or_log_option_is_refused_at_create() {
    let d = TestDaemon::modular("logopt");
    d.import_busybox();
    let out = d.berth(&["run", "--rm", "--log-opt", "max-sise=1k", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown log opt 'max-sise'"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = d.berth(&["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log driver named 'syslog'"));
    assert_eq!(d.berth_ok(&["ps", "-a", "-q"]).trim(), "");
}

fn rotating_logs_keep_max_file_generations(d: &TestDaemon) {
    d.import_busybox();
    d.berth_ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 1000 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    assert!(common::wait_until(20, || d.berth_ok(&["ps", "-a"]).contains("Exited (0)")));
    let dir = std::fs::read_dir(d.root().join("containers")).expect("containers").flatten().next().expect("one container").path();
    let logs: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().filter(|e| e.file_name().to_string_lossy().contains("-json.log")).collect();
    assert!(!logs.is_empty() && logs.len() <= 3, "at most max-file generations: {:?}", logs.iter().map(|e| e.file_name()).collect::<Vec<_>>());
    for e in &logs {
        assert!(e.metadata().expect("meta").len() <= 4096 + 200, "{:?} stays near max-size", e.file_name());
    }
    let out = d.berth_ok(&["logs", "chatty"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"line-999"), "the newest lines are intact");
    let first: usize = lines[0].trim_start_matches("line-").parse().expect("numbered");
    assert_eq!(lines.len(), 1000 - first, "no gap inside what was kept");
    d.berth_ok(&["rm", "chatty"]);
}

#[test]
fn modular_logs_rotate_by_max_size_and_max_file() {
    rotating_logs_keep_max_file_generations(&TestDaemon::modular("rotate"));
}

#[test]
fn monolithic_logs_rotate_by_max_size_and_max_file() {
    rotating_logs_keep_max_file_generations(&TestDaemon::monolithic("mrotate"));
}

#[test]
fn a_berth_whose_argv0_a_wrapper_replaced_takes_its_role_from_berth_role() {
    // valgrind and similar wrappers exec the binary with argv[0] = its path: "berth", the
    // client. A berth that re-executes itself also sets BERTH_ROLE, which then picks the role.
    let root = common::TempDir::new("roleenv");
    let as_runtime = std::process::Command::new(common::berth_bin())
        .env("BERTH_ROLE", "berth-runtime")
        .arg("--root")
        .arg(root.path())
        .arg("list")
        .output()
        .expect("run");
    assert!(as_runtime.status.success(), "stderr: {}", String::from_utf8_lossy(&as_runtime.stderr));
    assert!(stdout_of(&as_runtime).starts_with("ID "), "berth-runtime's list table: {}", stdout_of(&as_runtime));
    // An explicit role argument still wins (the container init runs as `berth runtime init`
    // with BERTH_ROLE inherited from the runtime), and without the variable `berth` is the client.
    let explicit = std::process::Command::new(common::berth_bin())
        .env("BERTH_ROLE", "berthd")
        .args(["runtime", "--root"])
        .arg(root.path())
        .arg("list")
        .output()
        .expect("run");
    assert!(stdout_of(&explicit).starts_with("ID "), "{}", String::from_utf8_lossy(&explicit.stderr));
    let client = std::process::Command::new(common::berth_bin()).env_remove("BERTH_ROLE").arg("list").output().expect("run");
    assert!(!client.status.success() && String::from_utf8_lossy(&client.stderr).contains("unrecognized subcommand"), "the client has no `list`");
}

/// `run` whose client stops reading while the container writes far more than the stream's
/// buffers hold, with a log that rotates (1k, 2 files) hundreds of times meanwhile: the
/// daemon's follower falls hundreds of deleted generations behind and still delivers every
/// line in order, because the log's writer hands each new file to registered readers.
fn attach_with_a_stalled_client_loses_no_line_to_rotation(d: &TestDaemon) {
    d.import_busybox();
    let pad = "x".repeat(90);
    let script = format!("i=0; while [ $i -lt 8000 ]; do echo line-$i-{pad}; i=$((i+1)); done");
    let mut client = std::process::Command::new(common::berth_bin())
        .arg("-H")
        .arg(d.host())
        .args(["run", "--name", "stalled", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn berth run");
    // Nobody reads the client's stdout until the container is done.
    let exited = common::wait_until(120, || d.berth_ok(&["ps", "-a"]).contains("Exited (0)"));
    let mut text = String::new();
    client.stdout.take().expect("stdout").read_to_string(&mut text).expect("read");
    let status = client.wait().expect("wait");
    assert!(exited, "the container finished");
    assert!(status.success(), "berth run: {status}");
    let want: Vec<String> = (0..8000).map(|i| format!("line-{i}-{pad}")).collect();
    let got: Vec<&str> = text.lines().collect();
    let first_wrong = want.iter().zip(&got).position(|(w, g)| w != g);
    assert_eq!((got.len(), first_wrong), (8000, None), "every line, in order");
    d.berth_ok(&["rm", "stalled"]);
}

#[test]
fn modular_attach_with_a_stalled_client_loses_no_line_to_rotation() {
    attach_with_a_stalled_client_loses_no_line_to_rotation(&TestDaemon::modular("stall"));
}

#[test]
fn monolithic_attach_with_a_stalled_client_loses_no_line_to_rotation() {
    attach_with_a_stalled_client_loses_no_line_to_rotation(&TestDaemon::monolithic("stall"));
}
