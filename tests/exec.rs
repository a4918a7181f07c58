//! `exec`: extra processes in a running container, through berthd's exec API
//! (`/containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`), driven by the real
//! docker CLI and by the berth client, in both modes.

mod common;

use common::pty::on_a_terminal;
use common::TestDaemon;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Debian's docker.io client.
const DOCKER: &str = "/usr/bin/docker";

/// Runs a client (`berth -H ...` or docker with DOCKER_HOST) with `stdin` as its input.
fn client(d: &TestDaemon, docker: bool, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = if docker {
        assert!(std::path::Path::new(DOCKER).exists(), "{DOCKER} is missing: the README's test command installs docker.io");
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", d.host()).env("DOCKER_CONFIG", d.dir.path().join("docker-config"));
        c
    } else {
        let mut c = Command::new(common::berth_bin());
        c.arg("-H").arg(d.host());
        c
    };
    cmd.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn client");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("client stdin");
        w.write_all(input.as_bytes()).expect("write client stdin");
    }
    child.wait_with_output().expect("client output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The behaviour every client sees, in one daemon: output and exit codes, stdin, env and
/// working directory, detached execs, and the refusals.
fn exec_flow(d: &TestDaemon, docker: bool) {
    let run = |args: &[&str]| client(d, docker, args, None);
    d.berth_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);

    let out = run(&["exec", "box", "echo", "hi"]);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "hi\n".into()), "stderr: {}", text(&out.stderr));

    let out = run(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");

    let out = client(d, docker, &["exec", "-i", "box", "sh", "-c", "cat; echo end"], Some("line one\nline two\n"));
    assert_eq!(text(&out.stdout), "line one\nline two\nend\n", "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));

    let out = run(&["exec", "-e", "GREETING=hello", "-w", "/tmp", "box", "sh", "-c", "echo $GREETING; pwd"]);
    assert_eq!(text(&out.stdout), "hello\n/tmp\n");

    let out = run(&["exec", "-u", "1000:1000", "box", "id"]);
    assert!(text(&out.stdout).starts_with("uid=1000 gid=1000"), "stdout: {} stderr: {}", text(&out.stdout), text(&out.stderr));

    let out = run(&["exec", "-d", "box", "sh", "-c", "echo detached > /tmp/mark"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(common::wait_until(10, || text(&run(&["exec", "box", "cat", "/tmp/mark"]).stdout) == "detached\n"));

    let out = run(&["exec", "box", "no-such-command"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(text(&out.stderr).contains("executable file not found"), "stderr: {}", text(&out.stderr));

    let out = run(&["exec", "no-such-container", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("No such container: no-such-container"), "stderr: {}", text(&out.stderr));

    d.berth_ok(&["pause", "box"]);
    let out = run(&["exec", "box", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("is paused, unpause the container before exec"), "stderr: {}", text(&out.stderr));
    d.berth_ok(&["unpause", "box"]);

    d.berth_ok(&["stop", "-t", "1", "box"]);
    let out = run(&["exec", "box", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("is not running"), "stderr: {}", text(&out.stderr));
    d.berth_ok(&["rm", "box"]);
}

#[test]
fn docker_exec_runs_commands_in_a_running_container_modular() {
    let d = TestDaemon::modular("exdm");
    d.import_busybox();
    exec_flow(&d, true);
}

#[test]
fn docker_exec_runs_commands_in_a_running_container_monolithic() {
    let d = TestDaemon::monolithic("exdo");
    d.import_busybox();
    exec_flow(&d, true);
}

#[test]
fn berth_exec_runs_commands_in_a_running_container_modular() {
    let d = TestDaemon::modular("exbm");
    d.import_busybox();
    exec_flow(&d, false);
}

#[test]
fn berth_exec_runs_commands_in_a_running_container_monolithic() {
    let d = TestDaemon::monolithic("exbo");
    d.import_busybox();
    exec_flow(&d, false);
}

#[test]
fn exec_inspect_reports_the_exit_code_and_an_unknown_exec_is_not_found() {
    let d = TestDaemon::modular("exin");
    d.import_busybox();
    d.berth_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let curl = |args: &[&str]| {
        let out = Command::new("curl").arg("-sS").arg("--unix-socket").arg(d.socket()).args(args).output().expect("curl");
        text(&out.stdout)
    };
    let created = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"Cmd":["sh","-c","echo hi; exit 7"],"AttachStdout":true,"AttachStderr":true}"#,
        "http://localhost/v1.41/containers/box/exec",
    ]);
    let id = serde_json::from_str::<serde_json::Value>(&created).expect("exec create answer")["Id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(id.len(), 64, "{created}");
    let before: serde_json::Value = serde_json::from_str(&curl(&[&format!("http://localhost/exec/{id}/json")])).expect("inspect");
    assert_eq!((before["Running"].as_bool(), before["ExitCode"].is_null()), (Some(false), true), "{before}");
    // Without an upgrade the output comes back as the body, framed.
    let body = curl(&["-H", "Content-Type: application/json", "-d", "{}", &format!("http://localhost/exec/{id}/start")]);
    assert!(body.ends_with("hi\n"), "{body:?}");
    let after: serde_json::Value = serde_json::from_str(&curl(&[&format!("http://localhost/exec/{id}/json")])).expect("inspect");
    assert_eq!(after["ExitCode"].as_i64(), Some(7), "{after}");
    assert_eq!(after["ProcessConfig"]["entrypoint"], "sh");
    let again = curl(&["-H", "Content-Type: application/json", "-d", "{}", &format!("http://localhost/exec/{id}/start")]);
    assert!(again.contains("has already been started"), "{again}");
    let resize = curl(&["-X", "POST", &format!("http://localhost/exec/{id}/resize?h=10&w=20")]);
    assert!(resize.contains("is not running"), "{resize}");
    let missing = curl(&["http://localhost/exec/nope/json"]);
    assert!(missing.contains("No such exec instance: nope"), "{missing}");
    d.berth_ok(&["rm", "-f", "box"]);
}

/// The caller's terminal: 40 rows by 100 columns.
const TERM: (u16, u16) = (40, 100);

/// `exec -it` with each client: an interactive shell on a pty of the caller's size, whose
/// exit code comes back; `exec -t` alone.
fn exec_terminal_flow(d: &TestDaemon) {
    d.berth_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let berth = format!("{} -H {}", common::berth_bin().display(), d.host());
    let docker = format!("DOCKER_HOST={} DOCKER_CONFIG={} {DOCKER}", d.host(), d.dir.path().join("docker-config").display());
    for client in [&berth, &docker] {
        let out = on_a_terminal(&format!("{client} exec -it box sh"), TERM, b"echo typed-$((2+3)); tty\nexit 4\n", &[]);
        assert!(out.text.contains("typed-5") && out.text.contains("/dev/pts/"), "{client}: {:?} {}", out.text, out.status);
        assert_eq!(out.status.code(), Some(4), "{client}: {:?}", out.text);

        let out = on_a_terminal(&format!("{client} exec -t box sh -c 'tty; exit 3'"), TERM, b"", &[]);
        assert!(out.text.contains("/dev/pts/"), "{client}: {:?} {}", out.text, out.status);
        assert_eq!(out.status.code(), Some(3), "{client}: {:?}", out.text);
    }
    // berth sends the size with the start, so the process sees it from its first instruction.
    let out = on_a_terminal(&format!("{berth} exec -it box stty size"), TERM, b"", &[]);
    assert!(out.text.contains("40 100"), "{:?} {}", out.text, out.status);
    d.berth_ok(&["rm", "-f", "box"]);
}

#[test]
fn exec_with_a_terminal_modular() {
    let d = TestDaemon::modular("exttym");
    d.import_busybox();
    exec_terminal_flow(&d);
}

#[test]
fn exec_with_a_terminal_monolithic() {
    let d = TestDaemon::monolithic("exttyo");
    d.import_busybox();
    exec_terminal_flow(&d);
}
