//! The real docker CLI talks to berthd (issue 2, item 3): the machine image's 28.x client,
//! which negotiates down to API 1.41, and Debian's docker.io 20.10 client.

mod common;

use common::TestDaemon;

fn docker(bin: &str, d: &TestDaemon, args: &[&str]) -> std::process::Output {
    common::docker_bin_cmd(bin, d).args(args).output().expect("run docker")
}

fn docker_ok(bin: &str, d: &TestDaemon, args: &[&str]) -> String {
    let out = docker(bin, d, args);
    assert!(
        out.status.success(),
        "{bin} {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log().lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn docker_flow(bin: &str, tag: &str) {
    assert!(std::path::Path::new(bin).exists(), "{bin} is missing: the README's test command installs docker.io");
    let d = TestDaemon::modular(tag);
    d.import_busybox();
    let v = docker_ok(bin, &d, &["version"]);
    assert!(v.contains("1.41"), "server API version shown: {v}");
    assert_eq!(docker_ok(bin, &d, &["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    let out = docker(bin, &d, &["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let id = docker_ok(bin, &d, &["run", "-d", "--name", "web", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.1; done"]);
    assert_eq!(id.trim().len(), 64);
    let ps = docker_ok(bin, &d, &["ps"]);
    assert!(ps.contains("web") && ps.contains("Up"), "{ps}");
    assert!(common::wait_until(10, || docker_ok(bin, &d, &["logs", "web"]).contains("tick")));
    docker_ok(bin, &d, &["stop", "-t", "1", "web"]);
    assert!(docker_ok(bin, &d, &["ps", "-a"]).contains("Exited"));
    docker_ok(bin, &d, &["rm", "web"]);
    assert!(!docker_ok(bin, &d, &["ps", "-a"]).contains("web"));
}

#[test]
fn docker_cli_28_runs_containers_through_berthd() {
    docker_flow(common::DOCKER_28, "dk28");
}

#[test]
fn debian_docker_cli_20_10_runs_containers_through_berthd() {
    docker_flow("/usr/bin/docker", "dk20");
}
