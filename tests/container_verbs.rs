//! Daily verbs (issue 14): `docker restart` (a stop with its timeout, then a start: a new
//! process, the policy's RestartCount untouched), `docker rename` (running or not; a taken or
//! unchanged name refused), `docker top` (the host's ps, only the container's processes, with
//! the caller's ps options), `docker diff` (the container's own changes: the mount points the
//! runtime needs are in its init layer, not among them). Both modes, docker CLI 28.x and 20.10.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn inspect(bin: &str, d: &TestDaemon, name: &str, format: &str) -> String {
    docker_bin_ok(bin, d, &["inspect", "-f", format, name]).trim().to_owned()
}

fn fails_saying(bin: &str, d: &TestDaemon, args: &[&str], says: &str) {
    let out = docker_bin_cmd(bin, d).args(args).output().expect("docker");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(says), "{bin} {args:?}: {err}");
}

fn verbs_flow(d: &TestDaemon) {
    d.import_busybox();
    for (bin, name) in [(DOCKER, "v28"), (DOCKER_20, "v20")] {
        docker_bin_ok(bin, d, &["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
        let pid = inspect(bin, d, name, "{{.State.Pid}}");

        // top: the container's sleep, with ps's own columns, and the caller's options.
        let top = docker_bin_ok(bin, d, &["top", name]);
        let mut lines = top.lines();
        assert!(lines.next().is_some_and(|h| h.contains("PID") && h.contains("CMD")), "{bin}: {top}");
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 1, "{bin}: only the container's processes: {top}");
        assert!(rows[0].contains(&pid) && rows[0].ends_with("sleep 1000"), "{bin}: {top}");
        let top = docker_bin_ok(bin, d, &["top", name, "-o", "pid,comm"]);
        assert_eq!(top.split_whitespace().collect::<Vec<_>>(), ["PID", "COMMAND", pid.as_str(), "sleep"], "{bin}");
        fails_saying(bin, d, &["top", name, "--no-such-ps-option"], "Error running ps");

        // restart: a new process; a manual restart is no policy restart.
        docker_bin_ok(bin, d, &["restart", "-t", "0", name]);
        assert_eq!(inspect(bin, d, name, "{{.State.Running}} {{.RestartCount}}"), "true 0", "{bin}");
        assert_ne!(inspect(bin, d, name, "{{.State.Pid}}"), pid, "{bin}: restarted");

        // rename: running, then stopped; the old name is free again.
        let renamed = format!("{name}-renamed");
        docker_bin_ok(bin, d, &["rename", name, &renamed]);
        assert_eq!(inspect(bin, d, &renamed, "{{.Name}} {{.State.Running}}"), format!("/{renamed} true"), "{bin}");
        fails_saying(bin, d, &["inspect", name], "No such");
        docker_bin_ok(bin, d, &["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
        fails_saying(bin, d, &["rename", &renamed, name], "is already in use");
        fails_saying(bin, d, &["rename", &renamed, &renamed], "same name");
        fails_saying(bin, d, &["rename", &renamed, "bad/name"], "Invalid container name");
        docker_bin_ok(bin, d, &["stop", "-t", "0", &renamed]);
        fails_saying(bin, d, &["top", &renamed], "is not running");
        // restart of a stopped container starts it.
        docker_bin_ok(bin, d, &["restart", &renamed]);
        assert_eq!(inspect(bin, d, &renamed, "{{.State.Running}}"), "true", "{bin}");
        docker_bin_ok(bin, d, &["rm", "-f", name, &renamed]);
    }
    // diff: added, changed and deleted paths, and nothing of the runtime's own mount points.
    docker_bin_ok(
        DOCKER,
        d,
        &["run", "--name", "dv", "busybox", "sh", "-c", "mkdir /newdir && echo x > /newdir/f && rm /bin/ls && echo y >> /etc/group"],
    );
    for bin in [DOCKER, DOCKER_20] {
        let diff = docker_bin_ok(bin, d, &["diff", "dv"]);
        let mut lines: Vec<&str> = diff.lines().collect();
        lines.sort();
        assert_eq!(lines, ["A /newdir", "A /newdir/f", "C /bin", "C /etc", "C /etc/group", "D /bin/ls"], "{bin}: {diff}");
    }
    docker_bin_ok(DOCKER, d, &["run", "--name", "clean", "busybox", "true"]);
    assert_eq!(docker_bin_ok(DOCKER, d, &["diff", "clean"]), "", "a container that changed nothing");
    docker_bin_ok(DOCKER, d, &["rm", "dv", "clean"]);

    // The berth client has the same verbs.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "bv", "busybox", "sh", "-c", "mkdir -p /made; exec sleep 1000"]);
    assert!(common::wait_until(10, || d.berth_ok(&["diff", "bv"]) == "A /made\n"), "berth diff: {}", d.berth_ok(&["diff", "bv"]));
    d.berth_ok(&["rename", "bv", "bv2"]);
    let pid = inspect(DOCKER, d, "bv2", "{{.State.Pid}}");
    assert_eq!(d.berth_ok(&["restart", "-t", "0", "bv2"]), "bv2\n");
    assert_eq!(inspect(DOCKER, d, "bv2", "{{.Name}} {{.State.Running}}"), "/bv2 true");
    assert_ne!(inspect(DOCKER, d, "bv2", "{{.State.Pid}}"), pid, "berth restart made a new process");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "bv2"]);
    assert_eq!(docker_bin_ok(DOCKER, d, &["ps", "-aq"]), "", "nothing left");
}

#[test]
fn restart_rename_and_top_work_as_dockers_modular() {
    verbs_flow(&TestDaemon::modular("vbm"));
}

#[test]
fn restart_rename_and_top_work_as_dockers_monolithic() {
    verbs_flow(&TestDaemon::monolithic("vbmo"));
}
