//! Real engines run containers with berth-runtime as their OCI runtime (runc's part):
//! Debian's dockerd 20.10 with `--add-runtime berth=<berth-runtime>` and `docker run
//! --runtime berth`, and containerd 1.6's own runc shim (containerd-shim-runc-v2) with
//! `ctr run --runc-binary <berth-runtime>`. Every test starts private engines on its own
//! temp dir (socket, roots, exec-root, namespace, cgroup parent; no host networking) and
//! shows that berth-runtime, not runc, holds the container: `berth-runtime state` reads the
//! state the shim's runtime wrote under its --root.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::engines::{cgroup_dirs, pids_mentioning, tail, Containerd, Dockerd, BUSYBOX_IMAGE, CTR};
use common::{role, wait_until, TempDir};

/// A container that runs until SIGTERM (busybox sh as pid 1 has no default TERM action).
const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

/// Whether /sys/fs/cgroup is cgroup v2 only (else v1 controllers, maybe plus cgroup2 at
/// /sys/fs/cgroup/unified).
fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `berth-runtime --root <root> state <id>` as JSON, None when it fails (no such container).
fn berth_state(root: &Path, id: &str) -> Option<serde_json::Value> {
    common::runtime_state(&role("berth-runtime"), root, id)
}

/// `sh -c <line>` on a pseudo terminal whose window is 30 rows by 100 columns; killed
/// after 60 s.
fn in_pty(line: &str, env: &[(&str, String)]) -> common::pty::TermOutput {
    common::pty::on_a_terminal(line, (30, 100), b"", env)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What a container prints in a terminal once the engine has passed the client's window
/// size on (polled: `docker run -it` and `ctr run -t` resize the pty only after the start).
const TTY_PROBE: &str = "i=0; until [ \"$(stty size 2>/dev/null)\" = \"30 100\" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done; tty; stty size";

// ---------------------------------------------------------------------------------------
// dockerd --add-runtime berth=<berth-runtime>

/// containerd + dockerd (with the `berth` runtime) on one temp dir, dropped in field order:
/// dockerd (its containers and cgroups), containerd (its shims), then the directory.
struct Docker {
    dockerd: Dockerd,
    _containerd: Containerd,
    tmp: TempDir,
}

impl Docker {
    fn start(tag: &str) -> Self {
        Self::start_with(tag, &[])
    }

    /// [`Docker::start`] with more dockerd flags.
    fn start_with(tag: &str, extra: &[&str]) -> Self {
        common::need(Dockerd::installed() && Containerd::installed(), "dockerd and containerd (Debian's docker.io and containerd)");
        let tmp = TempDir::new(tag);
        let containerd = Containerd::start(&tmp.path().join("c"));
        let mut flags = vec!["--add-runtime".to_owned(), format!("berth={}", role("berth-runtime").display())];
        flags.extend(extra.iter().map(|f| f.to_string()));
        let dockerd = Dockerd::start(&tmp.path().join("d"), &containerd.socket(), &flags);
        dockerd.import_busybox();
        Docker { dockerd, _containerd: containerd, tmp }
    }

    fn docker(&self, args: &[&str]) -> Output {
        self.dockerd.docker(args)
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        self.dockerd.docker_ok(args)
    }

    /// `docker run --runtime berth --network none <args>`.
    fn run_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["run", "--runtime", "berth", "--network", "none"];
        v.extend_from_slice(args);
        v
    }

    /// Starts a detached container with the berth runtime and returns its full id.
    fn run_detached(&self, args: &[&str]) -> String {
        let mut v = Self::run_args(&["-d"]);
        v.extend_from_slice(args);
        self.docker_ok(&v).trim().to_owned()
    }

    /// The --root dockerd 20.10 gives every runc-shim runtime it starts (the shim adds the
    /// namespace): `<exec-root>/runtime-runc/moby`.
    fn runtime_root(&self) -> PathBuf {
        self.dockerd.exec_root().join("runtime-runc/moby")
    }

    /// The host directory of container `id` in controller `ctl` (v1) or in the unified
    /// hierarchy (v2).
    fn cgroup_dir(&self, ctl: &str, id: &str) -> PathBuf {
        let base = if pure_v2() { PathBuf::from("/sys/fs/cgroup") } else { Path::new("/sys/fs/cgroup").join(ctl) };
        base.join(&self.dockerd.cgroup_parent).join(id)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_owned()
    }

    fn inspect(&self, id: &str, format: &str) -> String {
        self.docker_ok(&["inspect", "-f", format, id]).trim().to_owned()
    }
}

#[test]
fn docker_run_rm_with_the_berth_runtime_prints_output_and_returns_the_exit_code() {
    let s = Docker::start("rke1");
    assert_eq!(s.docker_ok(&Docker::run_args(&["--rm", "busybox", "echo", "hi"])), "hi\n");
    let out = s.docker(&Docker::run_args(&["--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]));
    assert_eq!(out.status.code(), Some(3), "exit code: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // A process that cannot start: berth-runtime's error reaches docker through the shim
    // (runc's JSON log), and docker maps "no such file" to 127 as it does with runc.
    let out = s.docker(&Docker::run_args(&["--rm", "busybox", "/no/such/binary"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(127), "stderr: {err}");
    assert!(err.contains("exec: \"/no/such/binary\"") && err.contains("no such file or directory"), "error from berth-runtime: {err}");

    assert!(s.docker_ok(&["ps", "-aq"]).trim().is_empty(), "--rm removed every container");
    let left: Vec<_> = std::fs::read_dir(s.runtime_root()).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "no runtime state left: {left:?}");
}

#[test]
fn docker_detached_container_runs_under_berth_runtime_execs_and_stops() {
    let s = Docker::start("rke2");
    let id = s.run_detached(&["busybox", "sh", "-c", LOOP]);
    assert_eq!(s.inspect(&id, "{{.HostConfig.Runtime}}"), "berth");
    let pid: i32 = s.inspect(&id, "{{.State.Pid}}").parse().expect("pid");

    // The state under the shim's --root is berth-runtime's, and it names docker's pid.
    let st = berth_state(&s.runtime_root(), &id).unwrap_or_else(|| panic!("berth-runtime has no container {id}:\n{}", tail(&s.dockerd.log(), 30)));
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"], pid, "{st}");
    assert_eq!(
        common::ppid_of(pid).and_then(common::argv0_of).as_deref(),
        Some("/usr/bin/containerd-shim-runc-v2"),
        "containerd's runc shim is the parent"
    );

    let exec = s.docker(&["exec", &id, "sh", "-c", "hostname; tr '\\0' ' ' </proc/1/cmdline; echo; exit 3"]);
    assert_eq!(exec.status.code(), Some(3), "exec exit code: {}", String::from_utf8_lossy(&exec.stderr));
    let text = String::from_utf8_lossy(&exec.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(&id[..12]), "hostname: {text}");
    assert_eq!(lines.next().map(str::trim), Some(format!("sh -c {LOOP}").as_str()), "pid 1: {text}");

    // `docker top` goes through `ps --format json`; `docker stats` through the cgroup.
    let top = s.docker_ok(&["top", &id]);
    assert!(top.contains(&pid.to_string()) && top.contains("sh -c"), "top: {top}");
    let stats = s.docker_ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", &id]);
    assert!(stats.trim().parse::<u32>().is_ok_and(|n| n >= 1), "stats: {stats}");

    s.docker_ok(&["stop", "-t", "10", &id]);
    assert_eq!(s.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"), "exited 0", "stopped by SIGTERM");
    assert!(!common::pid_alive(pid));
    s.docker_ok(&["rm", &id]);
    assert!(berth_state(&s.runtime_root(), &id).is_none(), "berth-runtime state deleted");
    assert!(!s.runtime_root().join(&id).exists());

    // Dropping the engines leaves no process, cgroup or file behind.
    let dir = s.tmp.path().to_path_buf();
    let cg = s.dockerd.cgroup_parent.clone();
    drop(s);
    assert!(pids_mentioning(&dir).is_empty(), "processes left: {:?}", pids_mentioning(&dir));
    assert!(cgroup_dirs(&cg).is_empty(), "cgroups left: {:?}", cgroup_dirs(&cg));
    assert!(!dir.exists(), "{} left", dir.display());
}

#[test]
fn docker_run_it_gives_the_container_a_pty_that_takes_the_window_size() {
    let s = Docker::start("rke3");
    let line = format!("{} run -it --rm --runtime berth --network none busybox sh -c {}", common::engines::DOCKER, shell_quote(TTY_PROBE));
    let out = in_pty(&line, &s.dockerd.docker_env());
    let text = &out.text;
    assert!(out.status.success(), "docker run -it: {text}\n{}", tail(&s.dockerd.log(), 30));
    assert!(text.contains("/dev/pts/"), "tty inside: {text:?}");
    assert!(text.contains("30 100"), "window size inside: {text:?}");

    // And `docker exec -it` into a container of the berth runtime.
    let id = s.run_detached(&["busybox", "sh", "-c", LOOP]);
    let line = format!("{} exec -it {id} sh -c {}", common::engines::DOCKER, shell_quote(TTY_PROBE));
    let out = in_pty(&line, &s.dockerd.docker_env());
    let text = &out.text;
    assert!(text.contains("/dev/pts/") && text.contains("30 100"), "exec -it: {text:?}\n{}", tail(&s.dockerd.log(), 30));
}

#[test]
fn docker_memory_and_pids_limits_reach_the_cgroup_and_the_container_sees_them() {
    let s = Docker::start("rke4");
    let id = s.run_detached(&["--memory", "64m", "--pids-limit", "20", "busybox", "sh", "-c", LOOP]);
    let (mem_file, pids_file) = if pure_v2() { ("memory.max", "pids.max") } else { ("memory.limit_in_bytes", "pids.max") };
    assert_eq!(Docker::read(&s.cgroup_dir("memory", &id).join(mem_file)), "67108864");
    assert_eq!(Docker::read(&s.cgroup_dir("pids", &id).join(pids_file)), "20");

    // The container's /sys/fs/cgroup shows its own cgroup, as runc mounts it.
    let (mem_in, pids_in) = if pure_v2() {
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max")
    } else {
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max")
    };
    let inside = s.docker_ok(&["exec", &id, "cat", mem_in, pids_in]);
    assert_eq!(inside, "67108864\n20\n", "limits seen inside");

    // `docker update` goes through `update --resources -`.
    s.docker_ok(&["update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "30", &id]);
    assert_eq!(Docker::read(&s.cgroup_dir("memory", &id).join(mem_file)), "134217728");
    assert_eq!(Docker::read(&s.cgroup_dir("pids", &id).join(pids_file)), "30");
    assert_eq!(s.docker_ok(&["exec", &id, "cat", pids_in]), "30\n");

    // The pids limit holds: 40 background sleeps cannot all start.
    let fork = s.docker(&["exec", &id, "sh", "-c", "for i in $(seq 40); do sleep 5 & done 2>&1; wait"]);
    let text = format!("{}{}", String::from_utf8_lossy(&fork.stdout), String::from_utf8_lossy(&fork.stderr));
    assert!(text.contains("can't fork") || text.contains("Resource temporarily unavailable"), "fork past pids.max: {text}");

    // With a private cgroup namespace the container sees its cgroup as the root.
    let id2 = s.run_detached(&["--cgroupns", "private", "--memory", "32m", "busybox", "sh", "-c", LOOP]);
    let inside = s.docker_ok(&["exec", &id2, "sh", "-c", &format!("cat {mem_in}; grep -vc ':/$' /proc/self/cgroup || true")]);
    assert_eq!(inside, "33554432\n0\n", "limit, and no cgroup path but / inside a cgroup namespace");
}

#[test]
fn docker_memory_reservation_swappiness_oom_kill_disable_and_cpu_rt_runtime_reach_the_cgroup() {
    // On a cgroup v2 host dockerd drops swappiness, oom-kill-disable and real-time limits
    // itself: what this test checks exists on v1 hierarchies only.
    common::need(!pure_v2(), "cgroup v1 memory and cpu controllers");
    // dockerd gives its cgroup parent a real-time budget to hand out to containers.
    let s = Docker::start_with("rke6", &["--cpu-rt-runtime=50000"]);
    let id = s.run_detached(&[
        "--memory",
        "64m",
        "--memory-reservation",
        "32m",
        "--memory-swappiness",
        "10",
        "--oom-kill-disable",
        "--cpu-rt-runtime",
        "10000",
        "busybox",
        "sh",
        "-c",
        LOOP,
    ]);
    let mem = |f: &str| Docker::read(&s.cgroup_dir("memory", &id).join(f));
    assert_eq!(mem("memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(mem("memory.swappiness"), "10");
    assert!(mem("memory.oom_control").starts_with("oom_kill_disable 1\n"), "{}", mem("memory.oom_control"));
    let rt = || Docker::read(&s.cgroup_dir("cpu", &id).join("cpu.rt_runtime_us"));
    assert_eq!(rt(), "10000");
    let inside = s.docker_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cd /sys/fs/cgroup && cat memory/memory.soft_limit_in_bytes memory/memory.swappiness cpu/cpu.rt_runtime_us",
    ]);
    assert_eq!(inside, "33554432\n10\n10000\n", "seen inside");
    // The budget is real: the container's process may become SCHED_FIFO.
    let pid = s.inspect(&id, "{{.State.Pid}}");
    let chrt = Command::new("chrt").args(["-f", "-p", "1", &pid]).output().expect("chrt");
    assert!(chrt.status.success(), "chrt: {}", String::from_utf8_lossy(&chrt.stderr));

    // `docker update` changes the reservation live. (dockerd 20.10 sends no real-time
    // values on update, for runc neither: `berth-runtime update --cpu-rt-runtime` is
    // tested in tests/runtime.rs.)
    s.docker_ok(&["update", "--memory-reservation", "16m", &id]);
    assert_eq!(mem("memory.soft_limit_in_bytes"), "16777216");
    assert_eq!(rt(), "10000");
}

#[test]
fn docker_run_with_a_relative_cgroup_parent_nests_below_the_shims_cgroups_as_with_runc() {
    let n: u32 = rand::random();
    let parent = format!("berth-dk-rel-{n:08x}");
    let ours: Vec<(String, String)> =
        std::fs::read_to_string("/proc/self/cgroup").expect("own cgroups").lines().filter_map(split_cgroup_line).collect();
    // Dropped after the engines (which kill the container): what the relative parent left.
    let _parents = RmTrees(
        ours.iter()
            .map(|(ctrls, own)| {
                let base = if ctrls.is_empty() { PathBuf::from("/sys/fs/cgroup/unified") } else { Path::new("/sys/fs/cgroup").join(ctrls) };
                let base = if pure_v2() { PathBuf::from("/sys/fs/cgroup") } else { base };
                base.join(own.trim_start_matches('/')).join(&parent)
            })
            .collect(),
    );
    let s = Docker::start("rke7");
    let id = s.run_detached(&["--cgroup-parent", &parent, "--pids-limit", "9", "busybox", "sh", "-c", LOOP]);
    let pid: i32 = s.inspect(&id, "{{.State.Pid}}").parse().expect("pid");
    // The shim (and so berth-runtime) runs in this test's cgroups: `<ours>/<parent>/<id>` in
    // every hierarchy, as runc places a relative path.
    let theirs: Vec<(String, String)> =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("container cgroups").lines().filter_map(split_cgroup_line).collect();
    let joined = ["memory", "pids", "cpu", "devices", "freezer", "blkio"];
    let mut dirs = Vec::new();
    for (ctrls, path) in &theirs {
        let ours_too = ctrls.split(',').any(|c| joined.contains(&c)) || (pure_v2() && ctrls.is_empty());
        if !ours_too {
            continue;
        }
        let own = ours.iter().find(|(c, _)| c == ctrls).map(|(_, p)| p.trim_end_matches('/').to_owned()).unwrap_or_default();
        assert_eq!(path, &format!("{own}/{parent}/{id}"), "{ctrls}: below the runtime's own cgroup");
        let base = if pure_v2() { PathBuf::from("/sys/fs/cgroup") } else { Path::new("/sys/fs/cgroup").join(ctrls) };
        dirs.push(base.join(path.trim_start_matches('/')));
    }
    assert!(!dirs.is_empty(), "container cgroups: {theirs:?}");
    let pids_dir = dirs.iter().find(|d| d.join("pids.max").exists()).expect("pids cgroup");
    assert_eq!(Docker::read(&pids_dir.join("pids.max")), "9");
    s.docker_ok(&["rm", "-f", &id]);
    let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "docker rm removed the container's cgroups (the parents stay, as with runc): {left:?}");
}

/// Removes directory trees (empty cgroups), deepest first, when dropped.
struct RmTrees(Vec<PathBuf>);

impl Drop for RmTrees {
    fn drop(&mut self) {
        for top in &self.0 {
            let mut dirs = common::engines::walkdirs(top);
            dirs.reverse();
            for d in dirs.iter().filter(|d| d.exists()) {
                wait_until(2, || std::fs::remove_dir(d).is_ok() || !d.exists());
            }
        }
    }
}

/// A /proc/<pid>/cgroup line as (controllers, path).
fn split_cgroup_line(l: &str) -> Option<(String, String)> {
    let mut f = l.splitn(3, ':');
    let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
    Some((ctrls.to_owned(), path.to_owned()))
}

#[test]
fn docker_pause_freezes_the_container_and_unpause_thaws_it() {
    let s = Docker::start("rke5");
    let id = s.run_detached(&["busybox", "sh", "-c", LOOP]);
    let frozen = || {
        if pure_v2() {
            Docker::read(&s.cgroup_dir("", &id).join("cgroup.freeze")) == "1"
        } else {
            Docker::read(&s.cgroup_dir("freezer", &id).join("freezer.state")) == "FROZEN"
        }
    };
    s.docker_ok(&["pause", &id]);
    assert_eq!(s.inspect(&id, "{{.State.Status}}"), "paused");
    assert!(s.docker_ok(&["ps", "--format", "{{.Status}}"]).contains("(Paused)"));
    assert!(frozen(), "cgroup frozen");
    assert_eq!(berth_state(&s.runtime_root(), &id).map(|v| v["status"].clone()), Some("paused".into()));

    s.docker_ok(&["unpause", &id]);
    assert_eq!(s.inspect(&id, "{{.State.Status}}"), "running");
    assert!(!s.docker_ok(&["ps", "--format", "{{.Status}}"]).contains("Paused"));
    assert!(!frozen(), "cgroup thawed");
    assert_eq!(s.docker_ok(&["exec", &id, "echo", "awake"]), "awake\n");
}

// ---------------------------------------------------------------------------------------
// containerd's runc shim with berth-runtime as its runc binary

/// A private containerd whose runc shim runs berth-runtime, with its runtime state in our
/// temp dir (`--runc-root`); dropped before the directory.
struct Ctr {
    c: Containerd,
    tmp: TempDir,
}

impl Ctr {
    fn start(tag: &str) -> Self {
        common::need(Containerd::installed(), "containerd and ctr (Debian's containerd)");
        let tmp = TempDir::new(tag);
        let c = Containerd::start(tmp.path());
        c.import_busybox();
        Ctr { c, tmp }
    }

    /// The --runc-root given to ctr; containerd-shim-runc-v2 passes `--root <it>/<ns>`.
    fn runc_root(&self) -> PathBuf {
        self.tmp.path().join("runc")
    }

    fn runtime_root(&self) -> PathBuf {
        self.runc_root().join(&self.c.ns)
    }

    /// `ctr run --runc-binary <berth-runtime> --runc-root <root> <args>`.
    fn run_args(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into(), "--runc-binary".into(), role("berth-runtime").to_string_lossy().into_owned()];
        v.extend(["--runc-root".into(), self.runc_root().to_string_lossy().into_owned()]);
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        self.c.ctr().args(self.run_args(args)).stdin(Stdio::null()).output().expect("ctr run")
    }
}

#[test]
fn ctr_run_with_berth_runtime_as_runc_binary_prints_output_and_returns_the_exit_code() {
    let c = Ctr::start("rkc1");
    let out = c.run(&["--rm", BUSYBOX_IMAGE, "fg", "sh", "-c", "echo hi; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "exit code: {}\n{}", String::from_utf8_lossy(&out.stderr), tail(&c.c.log(), 30));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err"));
    assert!(c.c.ctr_ok(&["container", "ls", "-q"]).trim().is_empty(), "--rm removed the container");

    let out = c.run(&["--rm", BUSYBOX_IMAGE, "bad", "/no/such/binary"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("OCI runtime create failed") && err.contains("exec: \"/no/such/binary\""), "berth-runtime's error through the shim: {err}");
    assert!(!c.runtime_root().join("bad").exists(), "failed create left no state");
}

#[test]
fn ctr_detached_task_under_berth_runtime_execs_pauses_and_is_killed_and_deleted() {
    let c = Ctr::start("rkc2");
    let out = c.run(&["-d", "--memory-limit", "67108864", BUSYBOX_IMAGE, "bg", "sh", "-c", LOOP]);
    assert!(out.status.success(), "run -d: {}\n{}", String::from_utf8_lossy(&out.stderr), tail(&c.c.log(), 30));
    let tasks = c.c.tasks();
    let Some((_, pid, status)) = tasks.iter().find(|t| t.0 == "bg") else { panic!("task bg: {tasks:?}") };
    assert_eq!(status, "RUNNING");
    let st = berth_state(&c.runtime_root(), "bg").unwrap_or_else(|| panic!("berth-runtime has no container bg:\n{}", tail(&c.c.log(), 30)));
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"], *pid);
    assert_eq!(common::ppid_of(*pid).and_then(common::argv0_of).as_deref(), Some("/usr/bin/containerd-shim-runc-v2"));
    // ctr's cgroup, /<namespace>/<id>, with the limit berth-runtime wrote.
    if !pure_v2() {
        let limit = Path::new("/sys/fs/cgroup/memory").join(&c.c.ns).join("bg/memory.limit_in_bytes");
        assert_eq!(Docker::read(&limit), "67108864");
    }

    let exec = c.c.ctr_out(&["task", "exec", "--exec-id", "x1", "bg", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!(exec.status.code(), Some(4), "exec exit code: {}", String::from_utf8_lossy(&exec.stderr));
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "in-exec\n");
    let ps = c.c.ctr_ok(&["task", "ps", "bg"]);
    assert!(ps.contains(&pid.to_string()), "task ps lists the init: {ps}");

    c.c.ctr_ok(&["task", "pause", "bg"]);
    assert_eq!(c.c.tasks()[0].2, "PAUSED");
    assert_eq!(berth_state(&c.runtime_root(), "bg").map(|v| v["status"].clone()), Some("paused".into()));
    c.c.ctr_ok(&["task", "resume", "bg"]);
    assert_eq!(c.c.tasks()[0].2, "RUNNING");

    c.c.ctr_ok(&["task", "kill", "-s", "SIGKILL", "bg"]);
    assert!(wait_until(10, || c.c.tasks().first().is_some_and(|t| t.2 == "STOPPED")), "task stops: {:?}", c.c.tasks());
    c.c.ctr_ok(&["task", "delete", "bg"]);
    c.c.ctr_ok(&["container", "delete", "bg"]);
    assert!(!c.runtime_root().join("bg").exists(), "berth-runtime state deleted");
    let shims = || pids_mentioning(c.c.dir()).into_iter().filter(|&p| common::argv0_of(p).unwrap_or_default().contains("shim")).collect::<Vec<_>>();
    assert!(wait_until(10, || shims().is_empty()), "shim exits after delete: {:?}", shims());
    assert!(cgroup_dirs(&format!("{}/bg", c.c.ns)).is_empty(), "container cgroup removed");
}

#[test]
fn ctr_run_tty_with_berth_runtime_gets_a_pty() {
    let c = Ctr::start("rkc3");
    let mut line = format!("{CTR} --address {} --namespace {}", c.c.socket().display(), c.c.ns);
    for a in c.run_args(&["-t", "--rm", BUSYBOX_IMAGE, "tty", "sh", "-c", TTY_PROBE]) {
        line.push(' ');
        line.push_str(&shell_quote(&a));
    }
    let out = in_pty(&line, &[]);
    let text = &out.text;
    assert!(text.contains("/dev/pts/"), "tty inside: {text:?}\n{}", tail(&c.c.log(), 30));
    assert!(text.contains("30 100"), "window size inside: {text:?}");
}
