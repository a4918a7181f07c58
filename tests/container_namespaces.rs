//! `--pid`, `--ipc`, `--uts` and `--cgroupns` (issue 13, security), seen from inside the
//! container: `host` shares the host's namespace, `container:<name>` a running container's
//! (for IPC only a `shareable` one's, with its /dev/shm), `none` has no /dev/shm; the
//! defaults are private (the cgroup namespace: the host's on this cgroup v1 host, as Docker's).
//! Both modes, docker CLI 28.x and 20.10.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}")).expect("ns link").to_string_lossy().into_owned()
}

fn run(d: &TestDaemon, bin: &str, args: &[&str], script: &str) -> String {
    docker_bin_ok(bin, d, &[&["run", "--rm"][..], args, &["busybox", "sh", "-c", script]].concat())
}

fn namespaces_flow(d: &mut TestDaemon) {
    d.import_busybox();
    let links = "for n in pid ipc uts; do readlink /proc/self/ns/$n; done";
    for bin in [DOCKER, DOCKER_20] {
        // Defaults: all private.
        let own = run(d, bin, &[], links);
        for (line, kind) in own.lines().zip(["pid", "ipc", "uts"]) {
            assert_ne!(line, host_ns(kind), "{bin}: a private {kind} namespace");
        }
        // host: the host's, its processes and its name.
        let shared = run(d, bin, &["--pid", "host", "--ipc", "host", "--uts", "host"], &format!("{links}; hostname"));
        let host_name = nix::unistd::gethostname().expect("hostname").to_string_lossy().into_owned();
        assert_eq!(shared, format!("{}\n{}\n{}\n{host_name}\n", host_ns("pid"), host_ns("ipc"), host_ns("uts")), "{bin}");
        let host_init = std::fs::read_to_string("/proc/1/comm").expect("host init");
        assert_eq!(run(d, bin, &["--pid", "host"], "cat /proc/1/comm"), host_init, "{bin}: the host's pid 1");
    }

    // container:<name>: the donor's pid namespace (its sleep is pid 1), and a shareable
    // donor's IPC namespace with its /dev/shm: what one writes there the other reads.
    let donor = docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "1000"]);
    let donor_ns = docker_bin_ok(DOCKER, d, &["exec", "donor", "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc"]);
    docker_bin_ok(DOCKER, d, &["exec", "donor", "sh", "-c", "echo from-donor > /dev/shm/note"]);
    let donor_shm = d.root().join("containers").join(donor.trim()).join("mounts/shm");
    assert!(d.mounts().contains(&donor_shm.to_string_lossy().into_owned()), "the shareable /dev/shm is a mount of its own on the host");
    for bin in [DOCKER, DOCKER_20] {
        let joined = run(d, bin, &["--pid", "container:donor"], "readlink /proc/self/ns/pid; cat /proc/1/comm");
        let donor_pid_ns = donor_ns.lines().next().unwrap_or_default();
        assert_eq!(joined, format!("{donor_pid_ns}\nsleep\n"), "{bin}");
        let script = "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat /dev/shm/note; echo from-joiner > /dev/shm/back";
        let joined = run(d, bin, &["--pid", "container:donor", "--ipc", "container:donor"], script);
        assert_eq!(joined, format!("{donor_ns}from-donor\n"), "{bin}: the donor's IPC namespace and /dev/shm");
        assert_eq!(docker_bin_ok(DOCKER, d, &["exec", "donor", "cat", "/dev/shm/back"]), "from-joiner\n", "{bin}");
    }
    // A private IPC namespace cannot be joined (Docker's message).
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "loner", "busybox", "sleep", "1000"]);
    let out = docker_bin_cmd(DOCKER, d).args(["run", "--rm", "--ipc", "container:loner", "busybox", "true"]).output().expect("docker run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-shareable IPC"), "{out:?}");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "loner"]);
    if !d.monolithic {
        // A daemon restart keeps the running donor's /dev/shm mounted and joinable.
        d.kill_daemon();
        d.start();
        let joined = run(d, DOCKER, &["--ipc", "container:donor"], "cat /dev/shm/note");
        assert_eq!(joined, "from-donor\n", "joined after a berthd restart");
    }
    // A stopped donor's namespaces cannot be joined, and its /dev/shm is unmounted.
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "donor"]);
    assert!(common::wait_until(10, || !d.mounts().contains(&donor_shm.to_string_lossy().into_owned())), "the stopped donor's /dev/shm is unmounted");
    for mode in ["--pid", "--ipc"] {
        let out = docker_bin_cmd(DOCKER, d).args(["run", "--rm", mode, "container:donor", "busybox", "true"]).output().expect("docker run");
        assert!(String::from_utf8_lossy(&out.stderr).contains("non running container"), "{mode}: {out:?}");
    }
    assert_eq!(
        docker_bin_ok(DOCKER, d, &["ps", "-aq", "--filter", "status=created"]),
        "",
        "refused starts leave nothing but their created containers removed by --rm"
    );
    // Restarted, a shareable container gets a fresh /dev/shm again.
    docker_bin_ok(DOCKER, d, &["start", "donor"]);
    assert_eq!(docker_bin_ok(DOCKER, d, &["exec", "donor", "ls", "/dev/shm"]), "", "a fresh /dev/shm");
    assert!(d.mounts().contains(&donor_shm.to_string_lossy().into_owned()));

    // cgroupns: the host's by default on cgroup v1 (as Docker's), one of its own with
    // `private`, where the container's cgroup is the root of every hierarchy.
    let host_cg = host_ns("cgroup");
    for bin in [DOCKER, DOCKER_20] {
        let script = "readlink /proc/self/ns/cgroup; grep ':memory:' /proc/self/cgroup";
        let own = run(d, bin, &[], script);
        assert!(own.starts_with(&format!("{host_cg}\n")), "{bin}: the host's cgroup namespace by default: {own}");
        assert!(own.contains(&d.cgroup_parent), "{bin}: its cgroup path as the host sees it: {own}");
        let private = run(d, bin, &["--cgroupns", "private"], script);
        let mut lines = private.lines();
        assert_ne!(lines.next(), Some(host_cg.as_str()), "{bin}: a cgroup namespace of its own");
        assert!(lines.next().is_some_and(|l| l.ends_with(":memory:/")), "{bin}: its cgroup is the root: {private}");
        let host = run(d, bin, &["--cgroupns", "host"], "readlink /proc/self/ns/cgroup");
        assert_eq!(host, format!("{host_cg}\n"), "{bin}");
    }
    let mode = docker_bin_ok(DOCKER, d, &["inspect", "-f", "{{.HostConfig.CgroupnsMode}} {{.HostConfig.IpcMode}}", "donor"]);
    assert_eq!(mode, "host shareable\n");

    // none: a private IPC namespace without /dev/shm.
    assert_eq!(run(d, DOCKER, &["--ipc", "none"], "grep -c ' /dev/shm ' /proc/self/mountinfo || true"), "0\n");
    docker_bin_ok(DOCKER, d, &["rm", "-f", donor.trim()]);
}

#[test]
fn host_and_container_namespaces_are_shared_and_the_defaults_private_modular() {
    namespaces_flow(&mut TestDaemon::modular("nsm"));
}

#[test]
fn host_and_container_namespaces_are_shared_and_the_defaults_private_monolithic() {
    namespaces_flow(&mut TestDaemon::monolithic("nsmo"));
}

#[test]
fn bad_namespace_modes_are_refused_by_name_and_create_nothing() {
    let d = TestDaemon::modular("nsbad");
    d.import_busybox();
    for (args, says) in [
        (&["--uts", "host", "-h", "myhost"][..], "hostname and the UTS mode"),
        (&["--ipc", "sideways"][..], "sideways"),
        (&["--pid", "container:"][..], "pid mode"),
        (&["--ipc", "host", "--shm-size", "1m"][..], "ShmSize and IpcMode"),
        (&["--cgroupns", "sideways"][..], "cgroupns"),
    ] {
        let out = docker_bin_cmd(DOCKER, &d).args(["create"]).args(args).args(["busybox", "true"]).output().expect("docker create");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.to_lowercase().contains(&says.to_lowercase()), "{args:?}: {err}");
    }
    let r = common::http::post_json(&d, "/containers/create", r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"PidMode":"container:"}}"#);
    assert_eq!((r.status, r.message()), (400, "invalid HostConfig.PidMode: \"container:\"".to_owned()));
    assert_eq!(docker_bin_ok(DOCKER, &d, &["ps", "-aq"]), "", "nothing created");
}
