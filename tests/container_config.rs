//! What `docker run` asks of a container's process and cgroup is what it gets, seen from
//! inside the container (its /proc) or from its cgroup's files (issue 13: security and
//! resources): capabilities (Docker's default set, --cap-drop ALL, --cap-add), --read-only,
//! --security-opt no-new-privileges, --ulimit, --oom-score-adj, --domainname, --cpus,
//! --cpu-shares, --cpuset-cpus, --memory with Docker's swap default, --memory-reservation,
//! --memory-swappiness, --oom-kill-disable. Both modes, the docker CLI 28.x.

mod common;

use common::{docker_ok, TestDaemon};
use std::path::{Path, PathBuf};

/// A line of /proc/self/status in a fresh container run with `flags`.
fn status_line(d: &TestDaemon, flags: &[&str], key: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "grep", key, "/proc/self/status"]);
    docker_ok(d, &args).split_whitespace().nth(1).unwrap_or_default().to_owned()
}

/// The content of a container's cgroup file: v1 `<controller>/<parent>/<id>/<file>`, or the
/// unified tree's `<parent>/<id>/<v2 file>`.
fn cgroup(d: &TestDaemon, id: &str, controller: &str, v1: &str, v2: &str) -> String {
    let p = Path::new("/sys/fs/cgroup").join(controller).join(&d.cgroup_parent).join(id).join(v1);
    let p = if p.exists() { p } else { PathBuf::from("/sys/fs/cgroup").join(&d.cgroup_parent).join(id).join(v2) };
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_owned()
}

fn config_flow(d: &TestDaemon) {
    d.import_busybox();
    // Capabilities: Docker's default set, none, and one added to none.
    assert_eq!(status_line(d, &[], "CapEff"), "00000000a80425fb", "Docker's default capability set");
    assert_eq!(status_line(d, &["--cap-drop", "ALL"], "CapEff"), "0000000000000000");
    assert_eq!(status_line(d, &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"], "CapEff"), "0000000000001000");
    assert_eq!(status_line(d, &["--cap-drop", "chown"], "CapEff"), "00000000a80425fa");
    assert_eq!(status_line(d, &[], "NoNewPrivs"), "0");
    assert_eq!(status_line(d, &["--security-opt", "no-new-privileges"], "NoNewPrivs"), "1");

    // A read-only root refuses writes; /dev/shm stays writable, as under Docker.
    let out = docker_ok(d, &["run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x 2>&1; echo rc=$?; touch /dev/shm/y && echo shm-ok"]);
    assert!(out.contains("Read-only file system") && out.contains("rc=1") && out.contains("shm-ok"), "{out}");
    let out = docker_ok(d, &["run", "--rm", "busybox", "sh", "-c", "touch /x && echo writable"]);
    assert_eq!(out, "writable\n");

    // Process limits and identity of the host.
    let out = docker_ok(d, &["run", "--rm", "--ulimit", "nofile=1024:2048", "busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn"]);
    assert_eq!(out, "1024\n2048\n");
    assert_eq!(docker_ok(d, &["run", "--rm", "--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj"]), "500\n");
    let out = docker_ok(
        d,
        &["run", "--rm", "-h", "box", "--domainname", "example.test", "busybox", "cat", "/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname"],
    );
    assert_eq!(out, "box\nexample.test\n");

    // Resources, from the container's cgroup.
    let id = docker_ok(
        d,
        &[
            "run",
            "-d",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--memory",
            "64m",
            "--memory-reservation",
            "32m",
            "--memory-swappiness",
            "10",
            "--oom-kill-disable",
            "--pids-limit",
            "32",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let id = id.trim();
    if Path::new("/sys/fs/cgroup/cpu").exists() {
        assert_eq!(cgroup(d, id, "cpu", "cpu.cfs_quota_us", ""), "50000");
        assert_eq!(cgroup(d, id, "cpu", "cpu.cfs_period_us", ""), "100000");
        assert_eq!(cgroup(d, id, "cpu", "cpu.shares", ""), "512");
        assert_eq!(cgroup(d, id, "cpuset", "cpuset.cpus", ""), "0");
        assert_eq!(cgroup(d, id, "memory", "memory.limit_in_bytes", ""), "67108864");
        assert_eq!(cgroup(d, id, "memory", "memory.soft_limit_in_bytes", ""), "33554432");
        assert_eq!(cgroup(d, id, "memory", "memory.swappiness", ""), "10");
        assert!(cgroup(d, id, "memory", "memory.oom_control", "").contains("oom_kill_disable 1"));
        if Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
            assert_eq!(cgroup(d, id, "memory", "memory.memsw.limit_in_bytes", ""), "134217728", "swap defaults to twice the memory");
        }
    } else {
        assert_eq!(cgroup(d, id, "", "", "cpu.max"), "50000 100000");
        assert_eq!(cgroup(d, id, "", "", "memory.max"), "67108864");
    }
    // And from inside: its own cgroup at each controller's root, read-only, as under Docker.
    let (files, want) = if Path::new("/sys/fs/cgroup/cpu").exists() {
        ("memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us", "67108864\n32\n50000\n100000\n")
    } else {
        ("memory.max pids.max cpu.max", "67108864\n32\n50000 100000\n")
    };
    let inside = docker_ok(d, &["exec", id, "sh", "-c", &format!("cd /sys/fs/cgroup && cat {files}")]);
    assert_eq!(inside, want, "the limits seen inside the container");
    let write = docker_ok(
        d,
        &[
            "exec",
            id,
            "sh",
            "-c",
            &format!("echo 1 > /sys/fs/cgroup/{} 2>/dev/null && echo wrote || echo refused", files.split(' ').nth(1).unwrap_or_default()),
        ],
    );
    assert_eq!(write, "refused\n", "its cgroup files are read-only inside");
    docker_ok(d, &["rm", "-f", id]);
}

#[test]
fn the_process_and_cgroup_get_what_docker_run_asks_modular() {
    config_flow(&TestDaemon::modular("ccm"));
}

#[test]
fn the_process_and_cgroup_get_what_docker_run_asks_monolithic() {
    config_flow(&TestDaemon::monolithic("cco"));
}
