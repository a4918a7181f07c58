//! `--pid`, `--ipc` and `--uts` (issue 13, security), seen from inside the container: `host`
//! shares the host's namespace, `container:<name>` a running container's PID namespace (IPC
//! joins are refused by name for now), `none` has no /dev/shm; the defaults are private.
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

fn namespaces_flow(d: &TestDaemon) {
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

    // container:<name>: the donor's pid namespace (its sleep is pid 1); an IPC join is
    // refused by name; a stopped donor's namespaces cannot be joined.
    let donor = docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "1000"]);
    let donor_ns = docker_bin_ok(DOCKER, d, &["exec", "donor", "readlink", "/proc/self/ns/pid"]);
    for bin in [DOCKER, DOCKER_20] {
        let joined = run(d, bin, &["--pid", "container:donor"], "readlink /proc/self/ns/pid; cat /proc/1/comm");
        assert_eq!(joined, format!("{donor_ns}sleep\n"), "{bin}");
    }
    let out = docker_bin_cmd(DOCKER, d).args(["run", "--rm", "--ipc", "container:donor", "busybox", "true"]).output().expect("docker run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("IpcMode container:donor"), "{out:?}");
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "donor"]);
    let out = docker_bin_cmd(DOCKER, d).args(["run", "--rm", "--pid", "container:donor", "busybox", "true"]).output().expect("docker run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("non running container"), "{out:?}");
    assert_eq!(
        docker_bin_ok(DOCKER, d, &["ps", "-aq", "--filter", "status=created"]),
        "",
        "refused starts leave nothing but their created containers removed by --rm"
    );

    // none: a private IPC namespace without /dev/shm.
    assert_eq!(run(d, DOCKER, &["--ipc", "none"], "grep -c ' /dev/shm ' /proc/self/mountinfo || true"), "0\n");
    docker_bin_ok(DOCKER, d, &["rm", "-f", donor.trim()]);
}

#[test]
fn host_and_container_namespaces_are_shared_and_the_defaults_private_modular() {
    namespaces_flow(&TestDaemon::modular("nsm"));
}

#[test]
fn host_and_container_namespaces_are_shared_and_the_defaults_private_monolithic() {
    namespaces_flow(&TestDaemon::monolithic("nsmo"));
}

#[test]
fn bad_namespace_modes_are_refused_by_name_and_create_nothing() {
    let d = TestDaemon::modular("nsbad");
    d.import_busybox();
    for (args, says) in [
        (&["--uts", "host", "-h", "myhost"][..], "hostname and the UTS mode"),
        (&["--ipc", "sideways"][..], "sideways"),
        (&["--pid", "container:"][..], "pid mode"),
    ] {
        let out = docker_bin_cmd(DOCKER, &d).args(["create"]).args(args).args(["busybox", "true"]).output().expect("docker create");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.to_lowercase().contains(&says.to_lowercase()), "{args:?}: {err}");
    }
    let r = common::http::post_json(&d, "/containers/create", r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"PidMode":"container:"}}"#);
    assert_eq!((r.status, r.message()), (400, "invalid HostConfig.PidMode: \"container:\"".to_owned()));
    assert_eq!(docker_bin_ok(DOCKER, &d, &["ps", "-aq"]), "", "nothing created");
}
