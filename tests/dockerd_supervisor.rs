//! Real dockerd 20.10 runs on berth-supervisor (`dockerd --containerd=<supervisor socket>`),
//! with berth's shim serving dockerd's default runtime io.containerd.runc.v2 (runc as the
//! OCI runtime, as dockerd asks). Everything runs on private paths with networking off.

mod common;

use common::engines::DockerdOnSupervisor;
use common::{wait_until, TempDir};

/// berth-supervisor + dockerd on a temp dir; the stack is dropped (with its containers and
/// shims) before the directory.
fn start(tag: &str) -> (DockerdOnSupervisor, TempDir) {
    let tmp = TempDir::new(tag);
    (DockerdOnSupervisor::start(tmp.path()), tmp)
}

#[test]
fn docker_run_rm_echo() {
    let (s, _tmp) = start("dk1");
    s.import_busybox();
    let out = s.docker_ok(&["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    let out = s.docker(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "exit code comes back through events");
}

#[test]
fn docker_detached_exec_pause_stats_stop() {
    let (s, _tmp) = start("dk2");
    s.import_busybox();
    let id = s.docker_ok(&["run", "-d", "--network", "none", "busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]);
    let id = id.trim();
    let exec = s.docker(&["exec", id, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(exec.status.code(), Some(3), "exec exit code: {}", String::from_utf8_lossy(&exec.stderr));
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "in-exec\n");

    // dockerd also records (un)pausing when the /tasks/paused and /tasks/resumed events
    // come in, which may be after its call returned: a late paused event marks the
    // container Paused again until the resumed one follows.
    let paused = || s.docker_ok(&["ps", "--format", "{{.Status}}"]).contains("Paused");
    s.docker_ok(&["pause", id]);
    assert!(wait_until(10, paused), "paused");
    s.docker_ok(&["unpause", id]);
    assert!(wait_until(10, || !paused()), "unpaused");

    let top = s.docker_ok(&["top", id]);
    assert!(top.contains("sh -c"), "top: {top}");
    let stats = s.docker_ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", id]);
    assert!(!stats.trim().is_empty());
    // Block I/O reaches dockerd's stats: 8 MiB written from inside is charged to the
    // container's cgroup. Direct I/O is issued by the writer itself; buffered pages could be
    // written back by the kernel's flusher first (a busy machine), charged to no container.
    s.docker_ok(&["exec", id, "dd", "if=/dev/zero", "of=/blk", "bs=1M", "count=8", "oflag=direct", "conv=fsync"]);
    let io = s.docker_ok(&["stats", "--no-stream", "--format", "{{.BlockIO}}", id]);
    let written = io.split('/').nth(1).map(str::trim).unwrap_or("");
    assert!(written.ends_with("MB") && !written.starts_with('0'), "BlockIO {io:?}: the 8 MiB write is not counted");

    s.docker_ok(&["stop", "-t", "5", id]);
    let state = s.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id]);
    assert_eq!(state.trim(), "exited 0", "stopped by SIGTERM");
    s.docker_ok(&["rm", id]);
}
