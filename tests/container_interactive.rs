//! Interactive containers: `run -i` (stdin through `OpenStdin`/`StdinOnce` and the attach
//! stream), `run -t`/`-it` (a pty as the init's stdio, raw streams, resize, exit codes),
//! `attach` and its detach keys, driven by the real docker CLIs (28.x and Debian's 20.10)
//! and by the berth client, in both modes.

mod common;

use common::pty::{on_a_terminal, on_a_terminal_steps};
use common::{docker_bin_cmd, wait_until, TestDaemon, DOCKER_28};
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Debian's docker.io client.
const DOCKER_20: &str = "/usr/bin/docker";
/// The berth client, in the lists of clients.
const BERTH: &str = "berth";
/// Every client under test.
const CLIENTS: [&str; 3] = [DOCKER_28, DOCKER_20, BERTH];
/// The caller's terminal: 40 rows by 100 columns.
const TERM: (u16, u16) = (40, 100);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Client `bin` (a docker CLI, or [`BERTH`]) pointed at `d`.
fn client_cmd(bin: &str, d: &TestDaemon) -> Command {
    if bin == BERTH {
        let mut c = Command::new(common::berth_bin());
        c.arg("-H").arg(d.host());
        return c;
    }
    assert!(std::path::Path::new(bin).exists(), "{bin} is missing: the README's test command installs it");
    docker_bin_cmd(bin, d)
}

/// Runs client `bin` against `d` with `input` as its stdin (then closed).
fn client_with_input(bin: &str, d: &TestDaemon, args: &[&str], input: &[u8]) -> Output {
    let mut child = client_cmd(bin, d).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn docker");
    let mut w = child.stdin.take().expect("docker stdin");
    w.write_all(input).expect("write docker stdin");
    drop(w);
    child.wait_with_output().expect("docker output")
}

/// The shell line that runs client `bin` against `d` (for a terminal).
fn client_line(bin: &str, d: &TestDaemon) -> String {
    if bin == BERTH {
        return format!("{} -H {}", common::berth_bin().display(), d.host());
    }
    format!("DOCKER_HOST={} DOCKER_CONFIG={} {bin}", d.host(), d.dir.path().join("docker-config").display())
}

/// `run -i` with each client: the input reaches the container, its end closes the
/// container's stdin (StdinOnce), and the exit code comes back.
fn stdin_flow(d: &TestDaemon) {
    for bin in CLIENTS {
        let out = client_with_input(bin, d, &["run", "-i", "--rm", "busybox", "cat"], b"hi\n");
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "hi\n".into()), "{bin}: stderr: {}\n{}", text(&out.stderr), d.log());

        // More than a pipe holds, then EOF: all of it arrives, and the process sees the end.
        let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let out = client_with_input(bin, d, &["run", "-i", "--rm", "busybox", "sh", "-c", "wc -c; echo end; exit 5"], &big);
        assert_eq!(text(&out.stdout).split_whitespace().collect::<Vec<_>>(), ["200000", "end"], "{bin}: {}", text(&out.stderr));
        assert_eq!(out.status.code(), Some(5), "{bin}: {}", text(&out.stderr));
    }
    // `create -i` then `start -ai`: the same StdinOnce attach, to a created container.
    for bin in [DOCKER_28, DOCKER_20] {
        common::docker_ok(d, &["create", "-i", "--name", "later", "busybox", "sh", "-c", "cat; exit 6"]);
        let out = client_with_input(bin, d, &["start", "-ai", "later"], b"to a created one\n");
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(6), "to a created one\n".into()), "{bin}: {}", text(&out.stderr));
        common::docker_ok(d, &["rm", "later"]);
    }
    // Without -i, the container's stdin is empty: `cat` ends at once.
    let out = client_with_input(DOCKER_28, d, &["run", "--rm", "busybox", "cat"], b"not for you\n");
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), String::new()), "{}", text(&out.stderr));
}

#[test]
fn run_i_feeds_stdin_to_the_container_and_its_end_closes_it_modular() {
    let d = TestDaemon::modular("itinm");
    d.import_busybox();
    stdin_flow(&d);
}

#[test]
fn run_i_feeds_stdin_to_the_container_and_its_end_closes_it_monolithic() {
    let d = TestDaemon::monolithic("itino");
    d.import_busybox();
    stdin_flow(&d);
}

/// `run -it` with each client: a shell on a pty of the caller's size, whose exit code
/// comes back; `docker logs` of a terminal container shows its output, raw.
fn terminal_flow(d: &TestDaemon) {
    for bin in CLIENTS {
        let line = format!("{} run -it --rm busybox sh", client_line(bin, d));
        // The 20.10 CLI sends the size just after the start (28.x with the create): the
        // shell waits for it, 10 s at most.
        let input = b"echo typed-$((2+3)); tty; i=0; until [ \"$(stty size)\" = '40 100' ] || [ $i = 100 ]; do sleep 0.1; i=$((i+1)); done; echo size-$(stty size | tr ' ' x)\nexit 3\n";
        let out = on_a_terminal(&line, TERM, input, &[]);
        assert!(out.text.contains("typed-5") && out.text.contains("/dev/pts/0"), "{bin}: {:?} {}", out.text, out.status);
        assert!(out.text.contains("size-40x100"), "{bin}: the terminal has the caller's size: {:?}\n{}", out.text, d.log());
        assert_eq!(out.status.code(), Some(3), "{bin}: {:?}\n{}", out.text, d.log());
    }
    for bin in CLIENTS {
        let out = client_cmd(bin, d)
            .args(["run", "-t", "--name", "t1", "busybox", "sh", "-c", "echo one; echo two > /dev/console; exit 2"])
            .output()
            .expect("run -t");
        assert_eq!(out.status.code(), Some(2), "{bin}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "one\r\ntwo\r\n", "{bin}: a terminal's output, raw (no stream headers); /dev/console is the terminal");
        let logs = client_cmd(bin, d).args(["logs", "t1"]).output().expect("logs");
        assert_eq!(text(&logs.stdout), "one\r\ntwo\r\n", "{bin}: {}", text(&logs.stderr));
        common::docker_ok(d, &["rm", "t1"]);
    }
    // A terminal's unfinished line (a prompt) reaches the log, hence attach, at once.
    common::docker_ok(d, &["run", "-dt", "--name", "p", "busybox", "sh", "-c", "printf prompt-; exec sleep 1000"]);
    let logs = || text(&common::docker(d, &["logs", "p"]).stdout);
    assert!(wait_until(10, || logs() == "prompt-"), "{:?}", logs());
    common::docker_ok(d, &["rm", "-f", "p"]);
}

#[test]
fn run_it_gives_the_container_a_terminal_and_returns_its_exit_code_modular() {
    let d = TestDaemon::modular("ittym");
    d.import_busybox();
    terminal_flow(&d);
}

#[test]
fn run_it_gives_the_container_a_terminal_and_returns_its_exit_code_monolithic() {
    let d = TestDaemon::monolithic("ittyo");
    d.import_busybox();
    terminal_flow(&d);
}

/// The size of container `name`'s terminal as `stty` reads it inside.
fn stty_size(d: &TestDaemon, name: &str) -> String {
    let out = docker_bin_cmd(DOCKER_28, d).args(["exec", name, "stty", "-F", "/proc/1/fd/0", "size"]).output().expect("docker exec");
    text(&out.stdout).trim().to_owned()
}

/// `POST /containers/{id}/resize` changes the size the container's terminal has inside;
/// `HostConfig.ConsoleSize` is its size at start; a container without a terminal cannot be
/// resized.
fn resize_flow(d: &TestDaemon) {
    let created = common::http::post_json(
        d,
        "/containers/create?name=r1",
        r#"{"Image":"busybox","Cmd":["sh"],"Tty":true,"OpenStdin":true,"HostConfig":{"ConsoleSize":[31,91]}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let started = common::http::post_json(d, "/containers/r1/start", "");
    assert_eq!(started.status, 204, "{}", started.text());
    assert!(wait_until(10, || stty_size(d, "r1") == "31 91"), "start size: {:?}", stty_size(d, "r1"));
    let r = common::http::post_json(d, "/containers/r1/resize?h=33&w=77", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(stty_size(d, "r1"), "33 77");
    let r = common::http::post_json(d, "/containers/r1/resize?h=x&w=77", "");
    assert_eq!(r.status, 400, "{}", r.text());

    d.berth_ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    let r = common::http::post_json(d, "/containers/plain/resize?h=10&w=10", "");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("no terminal"), "{}", r.text());
    d.berth_ok(&["rm", "-f", "r1", "plain"]);
}

#[test]
fn resize_changes_the_terminal_size_inside_the_container_modular() {
    let d = TestDaemon::modular("itrsm");
    d.import_busybox();
    resize_flow(&d);
}

#[test]
fn resize_changes_the_terminal_size_inside_the_container_monolithic() {
    let d = TestDaemon::monolithic("itrso");
    d.import_busybox();
    resize_flow(&d);
}

/// An attach ended by the detach keys: the docker CLIs see the keys themselves and report
/// them as an error of `attach` (as with Docker); berth leaves them to the daemon and
/// ends with 0.
fn detached(bin: &str, out: &common::pty::TermOutput) {
    if bin == BERTH {
        assert_eq!(out.status.code(), Some(0), "{bin}: {:?}", out.text);
    } else {
        assert!(out.text.contains("read escape sequence"), "{bin}: {:?}", out.text);
    }
}

/// `attach` (each client) to a running `-it` container: input reaches it and its output comes
/// back; ctrl-p ctrl-q (or `--detach-keys`) detaches and leaves it running; `exit` in the
/// shell ends the attach with the container's exit code.
fn attach_flow(d: &TestDaemon) {
    for (i, bin) in CLIENTS.into_iter().enumerate() {
        let name = format!("a{i}");
        common::docker_ok(d, &["run", "-dit", "--name", &name, "busybox", "sh"]);
        let docker = client_line(bin, d);

        // The detach keys are typed once the client shows the container's output: before
        // the client makes the terminal raw, its line discipline would take ctrl-q itself.
        let steps: &[(&str, &[u8])] = &[("", b"echo ready-$((1+1))\n"), ("ready-2", b"touch /tmp/was-here\n\x10\x11")];
        let out = on_a_terminal_steps(&format!("{docker} attach {name}"), TERM, steps, &[]);
        assert!(
            wait_until(10, || common::docker(d, &["exec", &name, "ls", "/tmp/was-here"]).status.success()),
            "{bin}: input before the detach keys: {:?}",
            out.text
        );
        detached(bin, &out);
        let running = common::docker_ok(d, &["inspect", "-f", "{{.State.Running}}", &name]);
        assert_eq!(running.trim(), "true", "{bin}: {:?}", out.text);

        let steps: &[(&str, &[u8])] = &[("", b"echo ready-$((2+2))\n"), ("ready-4", b"\x18")];
        let out = on_a_terminal_steps(&format!("{docker} attach --detach-keys ctrl-x {name}"), TERM, steps, &[]);
        detached(bin, &out);

        let out = on_a_terminal(&format!("{docker} attach {name}"), TERM, b"echo back-$((40+2))\nexit 7\n", &[]);
        assert!(out.text.contains("back-42"), "{bin}: {:?}", out.text);
        assert_eq!(out.status.code(), Some(7), "{bin}: {:?}", out.text);
        common::docker_ok(d, &["rm", &name]);

        // `run -it` detached with ctrl-p ctrl-q: the CLI ends with 0, the container runs on.
        let steps: &[(&str, &[u8])] = &[("", b"echo up-$((3+3))\n"), ("up-6", b"\x10\x11")];
        let out = on_a_terminal_steps(&format!("{docker} run -it --name {name} busybox sh"), TERM, steps, &[]);
        assert_eq!(out.status.code(), Some(0), "{bin}: {:?}", out.text);
        let running = common::docker_ok(d, &["inspect", "-f", "{{.State.Running}}", &name]);
        assert_eq!(running.trim(), "true", "{bin}: {:?}", out.text);
        common::docker_ok(d, &["rm", "-f", &name]);
    }
    // Detach keys the daemon cannot read are refused by name, before anything is attached.
    common::docker_ok(d, &["run", "-dit", "--name", "bad", "busybox", "sh"]);
    let out = client_cmd(BERTH, d).args(["attach", "--no-stdin", "--detach-keys", "ctrl-1", "bad"]).output().expect("berth attach");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Invalid detach keys (ctrl-1)"), "{}", text(&out.stderr));
    common::docker_ok(d, &["rm", "-f", "bad"]);
    // A stopped container cannot be attached to (as docker says).
    common::docker_ok(d, &["create", "-it", "--name", "stopped", "busybox", "sh"]);
    let out = client_cmd(BERTH, d).args(["attach", "stopped"]).output().expect("berth attach");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("You cannot attach to a stopped container, start it first"), "{}", text(&out.stderr));
    common::docker_ok(d, &["rm", "stopped"]);
}

#[test]
fn attach_to_a_terminal_container_carries_input_and_output_and_detaches_modular() {
    let d = TestDaemon::modular("itatm");
    d.import_busybox();
    attach_flow(&d);
}

#[test]
fn attach_to_a_terminal_container_carries_input_and_output_and_detaches_monolithic() {
    let d = TestDaemon::monolithic("itato");
    d.import_busybox();
    attach_flow(&d);
}

/// In modular mode the shim holds the container's stdin fifo: a berthd killed and started
/// again leaves the stdin of a `run -di` container open (its `cat` runs on), and an attach
/// to the new berthd feeds it.
#[test]
fn the_stdin_of_a_container_outlives_a_berthd_restart_modular() {
    let mut d = TestDaemon::modular("itrst");
    d.import_busybox();
    common::docker_ok(&d, &["run", "-d", "-i", "--name", "c", "busybox", "cat"]);
    d.kill_daemon();
    d.start();
    let running = common::docker_ok(&d, &["inspect", "-f", "{{.State.Running}}", "c"]);
    assert_eq!(running.trim(), "true", "the container's stdin was closed with berthd");
    // The CLI's attach ends with the container (it waits for its exit): it runs meanwhile.
    let mut attach = docker_bin_cmd(DOCKER_28, &d)
        .args(["attach", "c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker attach");
    // Its input stays open: the end of a non-StdinOnce attach's input ends its output too.
    let mut input = attach.stdin.take().expect("stdin");
    input.write_all(b"after-restart\n").expect("write");
    let logs = || text(&common::docker(&d, &["logs", "c"]).stdout);
    assert!(wait_until(10, || logs().contains("after-restart")), "{:?}\n{}", logs(), d.log());
    common::docker_ok(&d, &["kill", "c"]);
    drop(input);
    let out = attach.wait_with_output().expect("docker attach");
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "after-restart\n", "the attach streamed the container's output");
    common::docker_ok(&d, &["rm", "c"]);
}

/// `exec -it` detached with ctrl-p ctrl-q (each client): the client ends and the exec's
/// shell runs on; exec detach keys the daemon cannot read are refused at create.
fn exec_detach_flow(d: &TestDaemon) {
    common::docker_ok(d, &["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let shells = || {
        let ps = text(&common::docker(d, &["exec", "box", "ps", "-o", "comm"]).stdout);
        ps.lines().filter(|l| l.trim() == "sh").count()
    };
    for (i, bin) in CLIENTS.into_iter().enumerate() {
        let steps: &[(&str, &[u8])] = &[("", b"echo ready-$((1+1))\n"), ("ready-2", b"\x10\x11")];
        let out = on_a_terminal_steps(&format!("{} exec -it box sh", client_line(bin, d)), TERM, steps, &[]);
        detached(bin, &out);
        // The detached shells still run (their stdin was not closed).
        assert_eq!(shells(), i + 1, "{bin}: {:?}", out.text);
    }
    let r = common::http::post_json(d, "/containers/box/exec", r#"{"Cmd":["sh"],"Tty":true,"AttachStdin":true,"DetachKeys":"ctrl-1"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("Invalid detach keys (ctrl-1)"), "{}", r.text());
    common::docker_ok(d, &["rm", "-f", "box"]);
}

#[test]
fn exec_it_detaches_with_the_detach_keys_and_the_process_runs_on_modular() {
    let d = TestDaemon::modular("itexm");
    d.import_busybox();
    exec_detach_flow(&d);
}

#[test]
fn exec_it_detaches_with_the_detach_keys_and_the_process_runs_on_monolithic() {
    let d = TestDaemon::monolithic("itexo");
    d.import_busybox();
    exec_detach_flow(&d);
}

/// The same after a restart with a terminal: a `run -dit` shell survives berthd's SIGKILL,
/// and an attach to the new berthd types into it, reads its output and ends with its code.
#[test]
fn a_terminal_container_outlives_a_berthd_restart_and_takes_an_attach_modular() {
    let mut d = TestDaemon::modular("itrtt");
    d.import_busybox();
    common::docker_ok(&d, &["run", "-dit", "--name", "t", "busybox", "sh"]);
    d.kill_daemon();
    d.start();
    let line = format!("{} attach t", client_line(DOCKER_28, &d));
    let out = on_a_terminal(&line, TERM, b"echo back-$((40+2))\nexit 7\n", &[]);
    assert!(out.text.contains("back-42"), "{:?}\n{}", out.text, d.log());
    assert_eq!(out.status.code(), Some(7), "{:?}", out.text);
    common::docker_ok(&d, &["rm", "t"]);
}

/// `run -i` without a terminal proxies the signals its client gets to the container (the
/// docker CLIs do it themselves, berth too: docker's default `--sig-proxy`).
fn sig_proxy_flow(d: &TestDaemon) {
    use std::io::{BufRead, BufReader};
    let script = "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done";
    for bin in CLIENTS {
        let mut child = client_cmd(bin, d)
            .args(["run", "-i", "--name", "sp", "busybox", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn client");
        let input = child.stdin.take();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let ready = rx.recv_timeout(std::time::Duration::from_secs(30));
        if ready.as_deref() != Ok("ready") {
            let _ = child.kill();
            panic!("{bin}: the container did not say ready: {ready:?}");
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).expect("signal the client");
        // The container ends by its trap: the client's end comes with it.
        let ended = wait_until(30, || child.try_wait().is_ok_and(|s| s.is_some()));
        if !ended {
            let _ = child.kill();
        }
        let status = child.wait().expect("wait client");
        let rest: Vec<String> = rx.iter().collect();
        assert_eq!((status.code(), rest), (Some(9), vec!["got-term".to_owned()]), "{bin}\n{}", d.log());
        drop(input);
        common::docker_ok(d, &["rm", "-f", "sp"]);
    }
}

#[test]
fn run_i_proxies_signals_to_the_container_modular() {
    let d = TestDaemon::modular("itsgm");
    d.import_busybox();
    sig_proxy_flow(&d);
}

#[test]
fn run_i_proxies_signals_to_the_container_monolithic() {
    let d = TestDaemon::monolithic("itsgo");
    d.import_busybox();
    sig_proxy_flow(&d);
}

/// berth-supervisor takes a task with a terminal from a real dockerd (20.10): `docker run
/// -it` on it gets a shell on a pty, `run -i` its stdin, and their exit codes come back.
#[test]
fn real_dockerd_on_berth_supervisor_runs_interactive_containers() {
    let tmp = common::TempDir::new("itdkd");
    let s = common::engines::DockerdOnSupervisor::start(tmp.path());
    s.import_busybox();
    let env = s.docker_env();
    let line = format!("{DOCKER_20} run -it --rm --network none busybox sh");
    let out = on_a_terminal(&line, TERM, b"echo typed-$((2+3)); tty\nexit 3\n", &env);
    assert!(out.text.contains("typed-5") && out.text.contains("/dev/pts/0"), "{:?}\n{}", out.text, s.log());
    assert_eq!(out.status.code(), Some(3), "{:?}", out.text);
    let mut cmd = s.docker_cmd();
    cmd.args(["run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c", "cat; exit 4"]);
    let out = {
        let mut c = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn docker");
        c.stdin.take().expect("stdin").write_all(b"through dockerd\n").expect("write");
        c.wait_with_output().expect("docker")
    };
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(4), "through dockerd\n".into()), "{}", text(&out.stderr));
}

/// Under containerd's runc shim (`--default-runtime io.containerd.runc.v2`, its output
/// logged by `berth logger`): `run -t` gets a terminal whose unfinished line (a prompt)
/// reaches the log at once (the logger logs a terminal's output read by read), and whose
/// exit code comes back; `run -i` is refused by name, as that shim keeps no writer of its
/// own on the stdin fifo (its client would have to, and berthd's restarts would close it).
#[test]
fn run_t_works_and_run_i_is_refused_under_containerd_runc_shim_modular() {
    let d = TestDaemon::modular_with("itrunc", &["--default-runtime", "io.containerd.runc.v2"]);
    d.import_busybox();
    let out = client_cmd(DOCKER_28, &d).args(["run", "-t", "--rm", "busybox", "sh", "-c", "tty; exit 3"]).output().expect("run -t");
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(3), "/dev/pts/0\r\n".into()), "{}", text(&out.stderr));
    common::docker_ok(&d, &["run", "-dt", "--name", "p", "busybox", "sh", "-c", "printf prompt-; exec sleep 1000"]);
    let logs = || text(&common::docker(&d, &["logs", "p"]).stdout);
    assert!(wait_until(10, || logs() == "prompt-"), "{:?}", logs());
    common::docker_ok(&d, &["rm", "-f", "p"]);
    let out = client_with_input(DOCKER_28, &d, &["run", "-i", "--rm", "busybox", "cat"], b"via runc\n");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("OpenStdin (-i) is not supported under io.containerd.runc.v2"), "{}", text(&out.stderr));
}
