//! `docker run --init` (issue 13, process life): PID 1 is berth's init (the multicall binary's
//! docker-init role, bound at /sbin/docker-init), which runs the command with default signal
//! dispositions, reaps an orphan reparented to it, forwards `docker stop`'s SIGTERM to the
//! command and exits with its status. Both modes, docker CLI 28.x and 20.10.

mod common;

use common::docker_bin_ok as ok;

use common::{docker_bin_cmd, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";

fn init_flow(d: &TestDaemon) {
    d.import_busybox();
    for bin in [DOCKER, "/usr/bin/docker"] {
        let out = ok(bin, d, &["run", "--rm", "--init", "busybox", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"]);
        assert_eq!(out.trim_end(), "/sbin/docker-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline", "{bin}");
        // The command (the init's child, grep itself here) ignores and blocks nothing.
        let out = ok(bin, d, &["run", "--rm", "--init", "busybox", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
        assert_eq!(out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", "{bin}");
        // Without --init the command is PID 1 itself.
        assert_eq!(ok(bin, d, &["run", "--rm", "busybox", "sh", "-c", "cat /proc/1/comm; true"]), "sh\n");
    }

    // The command's exit status is the container's.
    let out = docker_bin_cmd(DOCKER, d).args(["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"]).output().expect("docker run");
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));

    // An orphan (a background sleep whose shell exited) is reparented to the init, which
    // reaps it: its /proc entry goes away instead of staying a zombie. The orphan is watched
    // by its pid (printed by the shell that forks it), so the check cannot run before the
    // child has exec'd. The loop ends as soon as it is gone; only a failure waits 10 s.
    let script = "p=$(sh -c 'sleep 0.3 >/dev/null & echo $!'); i=0; \
                  while [ -e /proc/$p ] && [ $i -lt 100 ]; do usleep 100000; i=$((i+1)); done; \
                  if [ -e /proc/$p ]; then grep -s State /proc/$p/status; echo not-reaped; else echo reaped; fi";
    assert_eq!(ok(DOCKER, d, &["run", "--rm", "--init", "busybox", "sh", "-c", script]).trim(), "reaped");

    // `docker stop` signals PID 1; the init passes SIGTERM to the command, which dies of it
    // (143), where a bare `sleep` as PID 1 would ignore it until the SIGKILL 60 s later (137).
    let id = ok(DOCKER, d, &["run", "-d", "--init", "busybox", "sleep", "1000"]);
    let id = id.trim();
    ok(DOCKER, d, &["stop", "-t", "60", id]);
    assert_eq!(ok(DOCKER, d, &["inspect", "-f", "{{.State.ExitCode}}", id]).trim(), "143");
    ok(DOCKER, d, &["rm", id]);
}

/// A daemon whose `--init-path` is the static release build: the debug build the tests run
/// is dynamically linked, and its loader is not in the container.
fn daemon(tag: &str, monolithic: bool) -> TestDaemon {
    let init = common::shipped_static();
    TestDaemon::with_args(tag, monolithic, &["--init-path", &init.to_string_lossy()])
}

#[test]
fn init_is_pid_1_reaps_orphans_forwards_signals_and_returns_the_status_modular() {
    init_flow(&daemon("initm", false));
}

#[test]
fn init_is_pid_1_reaps_orphans_forwards_signals_and_returns_the_status_monolithic() {
    init_flow(&daemon("inito", true));
}

#[test]
fn a_dynamically_linked_init_is_refused_at_start_naming_init_path() {
    let d = TestDaemon::with_args("initdyn", false, &["--init-path", "/bin/sh"]);
    d.import_busybox();
    let out = docker_bin_cmd(DOCKER, &d).args(["run", "--rm", "--init", "busybox", "true"]).output().expect("docker run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("/bin/sh is dynamically linked") && err.contains("--init-path"), "{err}");
}
