//! `GET /info` (`docker info`) says what is true of this host and of berth's containers:
//! each claim is checked against the host, or from a container's own view.

mod common;

use common::{docker_ok, TestDaemon};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `docker info` of the real docker CLI (28.x), as JSON.
fn info(d: &TestDaemon) -> Value {
    let out = docker_ok(d, &["info", "--format", "{{json .}}"]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("docker info is not JSON ({e}): {out}"))
}

/// Where a container's cgroup file of v1 controller `ctrl` (or of the v2 tree) is.
fn cgroup_file(d: &TestDaemon, id: &str, v1: (&str, &str), v2: &str) -> PathBuf {
    let p = Path::new("/sys/fs/cgroup").join(v1.0).join(&d.cgroup_parent).join(id).join(v1.1);
    if p.exists() {
        p
    } else {
        Path::new("/sys/fs/cgroup").join(&d.cgroup_parent).join(id).join(v2)
    }
}

fn os_pretty_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release").expect("/etc/os-release");
    text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_owned()).expect("PRETTY_NAME")
}

fn info_is_true(d: &TestDaemon) {
    d.import_busybox();
    let i = info(d);
    assert_eq!(i["OperatingSystem"].as_str(), Some(os_pretty_name().as_str()), "{i}");
    // The switch of the daemon's network namespace (the test's own), not the host's.
    let forwarding = d.netns.run_ok("cat", &["/proc/sys/net/ipv4/ip_forward"]).trim() == "1";
    assert_eq!(i["IPv4Forwarding"].as_bool(), Some(forwarding));
    assert!(i["NFd"].as_u64().is_some_and(|n| n > 0) && i["NGoroutines"].as_u64().is_some_and(|n| n > 0), "{i}");

    // Driver status: the backing filesystem of the daemon's root, and d_type.
    let rows = i["DriverStatus"].as_array().cloned().unwrap_or_default();
    let row = |k: &str| rows.iter().find(|r| r[0] == k).and_then(|r| r[1].as_str()).map(str::to_owned);
    let fs = std::process::Command::new("stat").args(["-f", "-c", "%T"]).arg(d.root()).output().expect("stat -f");
    let fs = String::from_utf8_lossy(&fs.stdout).trim().to_owned();
    let expected = match fs.as_str() {
        "ext2/ext3" => "extfs",
        "tmpfs" => "tmpfs",
        "xfs" => "xfs",
        "btrfs" => "btrfs",
        other => panic!("backing filesystem {other} not covered by this test"),
    };
    assert_eq!(row("Backing Filesystem").as_deref(), Some(expected), "{rows:?}");
    assert_eq!(row("Supports d_type").as_deref(), Some("true"), "{rows:?}");

    // The limits it claims are the limits a container gets.
    docker_ok(d, &["run", "-d", "--name", "lim", "--memory", "32m", "--pids-limit", "7", "busybox", "sleep", "100"]);
    let id = docker_ok(d, &["inspect", "-f", "{{.Id}}", "lim"]).trim().to_owned();
    if i["MemoryLimit"] == true {
        let f = cgroup_file(d, &id, ("memory", "memory.limit_in_bytes"), "memory.max");
        assert_eq!(std::fs::read_to_string(&f).map(|s| s.trim().to_owned()).ok().as_deref(), Some("33554432"), "{}", f.display());
    }
    if i["PidsLimit"] == true {
        let f = cgroup_file(d, &id, ("pids", "pids.max"), "pids.max");
        assert_eq!(std::fs::read_to_string(&f).map(|s| s.trim().to_owned()).ok().as_deref(), Some("7"), "{}", f.display());
    }
    assert_eq!(i["MemoryLimit"], Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() || i["CgroupVersion"] == "2");
    assert_eq!(i["SwapLimit"], Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() || i["CgroupVersion"] == "2");

    // No protection is claimed that the container does not have.
    let status = docker_ok(d, &["exec", "lim", "cat", "/proc/self/status"]);
    let seccomp = status.lines().find_map(|l| l.strip_prefix("Seccomp:")).map(str::trim).unwrap_or("?").to_owned();
    let claims_seccomp = i["SecurityOptions"].as_array().is_some_and(|o| o.iter().any(|s| s.as_str().is_some_and(|s| s.contains("seccomp"))));
    assert_eq!(claims_seccomp, seccomp == "2", "SecurityOptions {} but the container's Seccomp: {seccomp}", i["SecurityOptions"]);
    // Every container gets Docker's default profile, and docker info says so as dockerd does.
    assert_eq!(i["SecurityOptions"], serde_json::json!(["name=seccomp,profile=builtin"]));
    assert_eq!(seccomp, "2", "{status}");
    docker_ok(d, &["rm", "-f", "lim"]);
}

#[test]
fn info_says_what_is_true_of_the_host_and_the_containers_modular() {
    info_is_true(&TestDaemon::modular("infom"));
}

#[test]
fn info_says_what_is_true_of_the_host_and_the_containers_monolithic() {
    info_is_true(&TestDaemon::monolithic("infoo"));
}
