//! The swap matrix (issue 12): every boundary of berth is the real industry interface, so each
//! berth role can be swapped one for one with the real component it plays, and each swap is
//! one test here, end to end through the real peer: Debian's docker CLI and docker-py,
//! dockerd 20.10, containerd 1.6, containerd-shim-runc-v2 and runc. The deeper tests of each
//! swap live in docker_cli.rs, client_cli.rs, dockerd_supervisor.rs, containerd_shim.rs,
//! shim_supervisor.rs and runtime_engines.rs. A missing peer fails the test and names the
//! Debian package that brings it (.ci/run installs them all). Every engine runs on private
//! dirs, sockets, namespaces and cgroups, without touching the host's network.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::engines::{tail, Containerd, Dockerd, DockerdOnSupervisor, BUSYBOX_IMAGE, DOCKER};
use common::{argv0_of, berth_at, pid_alive, ppid_of, role, runtime_state, wait_until, TempDir, TestDaemon};

/// A container that prints until SIGTERM, then exits 0 (busybox sh as pid 1 has no default
/// TERM action).
const TICKER: &str = "trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done";
const RUNC: &str = "/usr/sbin/runc";
const RUNC_SHIM: &str = "/usr/bin/containerd-shim-runc-v2";
const BERTH_SHIM_RUNTIME: &str = "io.containerd.berth.v2";
const RUNC_SHIM_RUNTIME: &str = "io.containerd.runc.v2";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails the test unless `out` succeeded; its stdout.
fn ok(what: &str, out: Output) -> String {
    assert!(out.status.success(), "{what}: {}\nstdout: {}\nstderr: {}", out.status, stdout(&out), String::from_utf8_lossy(&out.stderr));
    stdout(&out)
}

fn need(path: &str, package: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: install Debian's {package} package (.ci/run does)");
}

/// The docker-like flow every Engine API pairing goes through, with `client` (docker or
/// berth, already pointed at its daemon) and `run_flags` for each `run`: output and exit
/// code of `run --rm`; a detached container that execs, logs, stops (SIGTERM: exit 0) and is
/// removed. `while_running` checks the running container (id, pid) where it runs.
fn engine_api_flow(client: &dyn Fn(&[&str]) -> Output, run_flags: &[&str], while_running: &dyn Fn(&str, i32)) {
    let with_flags = |args: &[&'static str]| -> Vec<&str> {
        let mut v = vec!["run"];
        v.extend_from_slice(run_flags);
        v.extend_from_slice(args);
        v
    };
    let out = client(&with_flags(&["--rm", "busybox", "sh", "-c", "echo out; exit 3"]));
    assert_eq!((stdout(&out).as_str(), out.status.code()), ("out\n", Some(3)), "run --rm: {}", String::from_utf8_lossy(&out.stderr));

    let id = ok("run -d", client(&with_flags(&["-d", "--name", "web", "busybox", "sh", "-c", TICKER]))).trim().to_owned();
    assert_eq!(id.len(), 64, "run -d prints the id: {id}");
    let inspect = |field: &str| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&ok("inspect", client(&["inspect", "web"]))).expect("inspect JSON");
        v[0]["State"][field].clone()
    };
    let pid = inspect("Pid").as_i64().expect("pid") as i32;
    assert!(pid_alive(pid));
    let exec = client(&["exec", "web", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!((stdout(&exec).as_str(), exec.status.code()), ("in-exec\n", Some(4)), "exec: {}", String::from_utf8_lossy(&exec.stderr));
    assert!(wait_until(10, || stdout(&client(&["logs", "web"])).contains("tick\n")), "logs: {}", stdout(&client(&["logs", "web"])));
    while_running(&id, pid);

    ok("stop", client(&["stop", "-t", "10", "web"]));
    assert_eq!((inspect("Status"), inspect("ExitCode")), ("exited".into(), 0.into()), "stopped by SIGTERM");
    assert!(!pid_alive(pid));
    ok("rm", client(&["rm", "web"]));
    assert_eq!(ok("ps -aq", client(&["ps", "-aq"])).trim(), "", "nothing left");
}

/// The argv[0] of the parent of `pid` (the shim of a container's init).
fn parent_argv0(pid: i32) -> String {
    ppid_of(pid).and_then(argv0_of).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// docker CLI / docker-py → berthd

/// docker-py's flow: run with remove (output; a failing exit raises with its status), a
/// detached container's logs, exec_run, stop, wait, remove. What it prints is compared.
const DOCKER_PY_FLOW: &str = r#"
import sys, time, docker
c = docker.DockerClient(base_url=sys.argv[1])
print("run:", c.containers.run("busybox", ["echo", "hi from docker-py"], remove=True).decode().strip())
try:
    c.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
except docker.errors.ContainerError as e:
    print("failed:", e.exit_status)
ct = c.containers.run("busybox", ["sh", "-c", sys.argv[2]], detach=True, name="pyweb")
deadline = time.time() + 20
while b"tick" not in ct.logs() and time.time() < deadline:
    time.sleep(0.05)
print("logs:", ct.logs().split()[0].decode())
r = ct.exec_run(["sh", "-c", "echo in-exec; exit 4"])
print("exec:", r.exit_code, r.output.decode().strip())
ct.reload()
print("status:", ct.status)
ct.stop(timeout=10)
print("wait:", ct.wait(timeout=20)["StatusCode"])
ct.remove()
print("left:", len(c.containers.list(all=True)))
"#;

#[test]
fn swap_docker_cli_and_docker_py_drive_berthd() {
    need(DOCKER, "docker.io");
    let d = TestDaemon::modular("swcli");
    d.import_busybox();
    let docker = |args: &[&str]| common::docker_bin_cmd(DOCKER, &d).args(args).output().expect("run docker");
    engine_api_flow(&docker, &[], &|_, _| {});

    // Debian's python3, with Debian's python3-docker (not whatever a python3 on PATH has).
    let python = "/usr/bin/python3";
    let has_docker_py = Command::new(python).args(["-c", "import docker"]).output().is_ok_and(|o| o.status.success());
    assert!(has_docker_py, "{python} cannot import docker: install Debian's python3-docker package (.ci/run does)");
    let out = Command::new(python).args(["-c", DOCKER_PY_FLOW, &d.host(), TICKER]).stdin(Stdio::null()).output().expect("run python3");
    assert_eq!(
        ok("docker-py", out),
        "run: hi from docker-py\nfailed: 3\nlogs: tick\nexec: 4 in-exec\nstatus: running\nwait: 0\nleft: 0\n",
        "daemon log tail:\n{}",
        tail(&d.log(), 30)
    );
}

// ---------------------------------------------------------------------------------------
// berth client → dockerd

#[test]
fn swap_berth_client_drives_a_real_dockerd() {
    let tmp = TempDir::new("swdkd");
    let containerd = Containerd::start(&tmp.path().join("c"));
    let dockerd = Dockerd::start(&tmp.path().join("d"), &containerd.socket(), &[]);
    let host = dockerd.host();
    let berth = |args: &[&str]| berth_at(&host, args);
    let imported = ok("berth import", berth(&["import", &common::busybox_tar().to_string_lossy(), "busybox"]));
    assert!(imported.starts_with("sha256:"), "{imported}");
    let info = ok("berth info", berth(&["info"]));
    assert!(info.contains("Default Runtime: runc"), "dockerd answers, not berthd: {info}");
    engine_api_flow(&berth, &[], &|_, pid| {
        assert_eq!(parent_argv0(pid), RUNC_SHIM, "dockerd's containerd runs it");
    });
}

// ---------------------------------------------------------------------------------------
// dockerd → berth-supervisor

#[test]
fn swap_real_dockerd_runs_containers_on_berth_supervisor() {
    let tmp = TempDir::new("swdsup");
    let s = DockerdOnSupervisor::start(tmp.path());
    s.import_busybox();
    let docker = |args: &[&str]| s.docker(args);
    engine_api_flow(&docker, &["--network", "none"], &|_, pid| {
        let shim = parent_argv0(pid);
        assert!(shim.ends_with("berth-shim") || shim.ends_with("containerd-shim-berth-v2"), "berth's shim, under berth-supervisor: {shim}");
    });
}

// ---------------------------------------------------------------------------------------
// berthd → containerd

/// berthd on a private real containerd (`--containerd`, in the containerd's test namespace)
/// with `runtime` as its default runtime: runs, execs, stops and removes containers; after a
/// SIGKILL of berthd the container still runs on containerd and its log still grows, and a
/// berthd started again on the same dirs stops and removes it.
fn berthd_on_a_real_containerd(tag: &str, runtime: &str, shim: &str) {
    let tmp = TempDir::new(tag);
    let c = Containerd::start(tmp.path());
    let sock = c.socket().to_string_lossy().into_owned();
    let args = ["--containerd", &sock, "--containerd-namespace", &c.ns, "--default-runtime", runtime];
    let mut d = TestDaemon::with_args(tag, false, &args);
    d.import_busybox();
    // The runtime's state lives below berthd's exec-root: runc's shim adds the namespace.
    let (exec_root, ns) = (d.exec_root(), c.ns.clone());
    let runtime_state_dir = |id: &str| -> PathBuf {
        match runtime {
            RUNC_SHIM_RUNTIME => exec_root.join("runtime-runc").join(&ns).join(id),
            _ => exec_root.join("runtime-berth").join(id),
        }
    };
    let berth = |args: &[&str]| d.berth(args);
    engine_api_flow(&berth, &[], &|id, pid| {
        assert!(c.tasks().contains(&(id.to_owned(), pid, "RUNNING".to_owned())), "containerd runs it: {:?}", c.tasks());
        let listed = c.ctr_ok(&["containers", "ls"]);
        assert!(listed.lines().any(|l| l.starts_with(id) && l.trim_end().ends_with(runtime)), "under {runtime}: {listed}");
        assert!(parent_argv0(pid).ends_with(shim), "{shim} holds it: {}", parent_argv0(pid));
        assert!(runtime_state_dir(id).is_dir(), "runtime state in berthd's exec-root: {}", runtime_state_dir(id).display());
    });

    let id = d.berth_ok(&["run", "-d", "--name", "survivor", "busybox", "sh", "-c", TICKER]).trim().to_owned();
    let inspect: serde_json::Value = serde_json::from_str(&d.berth_ok(&["inspect", "survivor"])).expect("inspect JSON");
    let pid = inspect[0]["State"]["Pid"].as_i64().expect("pid") as i32;
    let log = PathBuf::from(inspect[0]["LogPath"].as_str().expect("LogPath"));
    let lines = || std::fs::read_to_string(&log).map(|s| s.lines().count()).unwrap_or(0);
    assert!(wait_until(10, || lines() > 0), "the container logs");

    d.kill_daemon();
    let before = lines();
    assert!(wait_until(10, || lines() > before + 2), "its log keeps growing without berthd ({before} -> {})", lines());
    assert!(pid_alive(pid), "the container survives berthd");
    assert!(c.tasks().contains(&(id.clone(), pid, "RUNNING".to_owned())), "still running on containerd: {:?}", c.tasks());
    assert!(c.ctr_ok(&["containers", "ls", "-q"]).lines().any(|l| l == id), "still a container of containerd");

    d.start_with(&args);
    let ps = d.berth_ok(&["ps"]);
    assert!(ps.lines().any(|l| l.starts_with(&id[..12]) && l.contains("Up ")), "berthd finds it running again: {ps}");
    d.berth_ok(&["stop", "-t", "10", "survivor"]);
    assert!(!pid_alive(pid));
    d.berth_ok(&["rm", "survivor"]);
    assert!(wait_until(10, || c.tasks().is_empty()), "no task left on containerd: {:?}", c.tasks());
    assert!(wait_until(10, || c.ctr_ok(&["containers", "ls", "-q"]).trim().is_empty()), "no container left on containerd");
    assert!(!runtime_state_dir(&id).exists(), "runtime state removed");
    // Nothing went to the shims' host-wide defaults.
    for host_dir in [Path::new("/run/berth/runtime").join(&c.ns), Path::new("/run/containerd/runc").join(&c.ns)] {
        assert!(!host_dir.exists(), "{} made on the host", host_dir.display());
    }
}

#[test]
fn swap_berthd_runs_containers_on_a_real_containerd_with_berths_shim() {
    berthd_on_a_real_containerd("swbc", BERTH_SHIM_RUNTIME, "containerd-shim-berth-v2");
}

#[test]
fn swap_berthd_runs_containers_on_a_real_containerd_with_containerds_runc_shim() {
    need(RUNC_SHIM, "containerd");
    need(RUNC, "runc");
    berthd_on_a_real_containerd("swbr", RUNC_SHIM_RUNTIME, RUNC_SHIM);
}

// ---------------------------------------------------------------------------------------
// containerd → berth-shim, and berth-shim → runc

/// `ctr run` on containerd `c` with `run_flags` (which shim, which OCI runtime): output and
/// exit code of `ctr run --rm`; a detached task held by `shim` whose state is `runtime`'s
/// (under `state_root`), that execs, stops by SIGTERM and is deleted with its state.
fn ctr_flow(c: &Containerd, run_flags: &[String], shim: &str, runtime: &Path, state_root: &Path) {
    let run = |args: &[&str]| {
        let mut v = vec!["run".to_owned()];
        v.extend_from_slice(run_flags);
        v.extend(args.iter().map(|a| a.to_string()));
        c.ctr().args(v).stdin(Stdio::null()).output().expect("ctr run")
    };
    let out = run(&["--rm", BUSYBOX_IMAGE, "fg", "sh", "-c", "echo out; exit 3"]);
    assert_eq!((stdout(&out).as_str(), out.status.code()), ("out\n", Some(3)), "{}\n{}", String::from_utf8_lossy(&out.stderr), tail(&c.log(), 30));

    ok("ctr run -d", run(&["-d", BUSYBOX_IMAGE, "bg", "sh", "-c", TICKER]));
    let tasks = c.tasks();
    let Some((_, pid, status)) = tasks.iter().find(|t| t.0 == "bg") else { panic!("task bg: {tasks:?}") };
    assert_eq!(status, "RUNNING");
    assert!(parent_argv0(*pid).ends_with(shim), "{shim} holds it: {}", parent_argv0(*pid));
    let state =
        runtime_state(runtime, state_root, "bg").unwrap_or_else(|| panic!("{} has no container bg:\n{}", runtime.display(), tail(&c.log(), 30)));
    assert_eq!((state["status"].as_str(), state["pid"].as_i64()), (Some("running"), Some(*pid as i64)), "{state}");

    let exec = c.ctr_out(&["task", "exec", "--exec-id", "x1", "bg", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!((stdout(&exec).as_str(), exec.status.code()), ("in-exec\n", Some(4)), "{}", String::from_utf8_lossy(&exec.stderr));
    c.ctr_ok(&["task", "kill", "-s", "SIGTERM", "bg"]);
    assert!(wait_until(10, || c.tasks().first().is_some_and(|t| t.2 == "STOPPED")), "task stops: {:?}", c.tasks());
    c.ctr_ok(&["task", "delete", "bg"]);
    c.ctr_ok(&["container", "delete", "bg"]);
    assert!(runtime_state(runtime, state_root, "bg").is_none(), "the runtime's state is deleted");
    assert!(!pid_alive(*pid));
}

/// A private containerd with the busybox image, on `tmp`.
fn containerd_with_busybox(tmp: &TempDir) -> Containerd {
    let c = Containerd::start(tmp.path());
    c.import_busybox();
    c
}

#[test]
fn swap_real_containerd_runs_containers_through_berth_shim() {
    // `ctr run --runtime io.containerd.berth.v2`, berth-runtime under the shim.
    let tmp = TempDir::new("swcs");
    let c = containerd_with_busybox(&tmp);
    ctr_flow(&c, &c.berth_shim_args(None), "containerd-shim-berth-v2", &role("berth-runtime"), &c.berth_shim_root());
}

#[test]
fn swap_berth_shim_drives_runc() {
    // berth's shim with runc as its BinaryName, under a real containerd.
    need(RUNC, "runc");
    let tmp = TempDir::new("swsr");
    let c = containerd_with_busybox(&tmp);
    ctr_flow(&c, &c.berth_shim_args(Some(RUNC)), "containerd-shim-berth-v2", Path::new(RUNC), &c.berth_shim_root());
}

// ---------------------------------------------------------------------------------------
// berth-supervisor → containerd-shim-runc-v2

#[test]
fn swap_berth_supervisor_drives_containerd_shim_runc_v2() {
    need(RUNC_SHIM, "containerd");
    need(RUNC, "runc");
    // berthd's own berth-supervisor serves io.containerd.runc.v2 with containerd's shim
    // (found on PATH), which runs runc and writes the log through `berth logger`.
    let d = TestDaemon::modular_with("swsrs", &["--default-runtime", RUNC_SHIM_RUNTIME]);
    d.import_busybox();
    let supervisor = d.supervisor_pid().expect("berthd started a berth-supervisor");
    assert!(argv0_of(supervisor).unwrap_or_default().ends_with("berth-supervisor"));
    let berth = |args: &[&str]| d.berth(args);
    engine_api_flow(&berth, &[], &|_, pid| {
        assert!(parent_argv0(pid).ends_with("containerd-shim-runc-v2"), "containerd's shim holds it: {}", parent_argv0(pid));
    });
}

// ---------------------------------------------------------------------------------------
// engines → berth-runtime

#[test]
fn swap_real_engines_run_containers_with_berth_runtime() {
    let tmp = TempDir::new("swrt");
    let containerd = Containerd::start(&tmp.path().join("c"));
    let add_runtime = vec!["--add-runtime".to_owned(), format!("berth={}", role("berth-runtime").display())];
    let dockerd = Dockerd::start(&tmp.path().join("d"), &containerd.socket(), &add_runtime);
    dockerd.import_busybox();

    // dockerd --add-runtime berth=<berth-runtime>, docker run --runtime berth: the runc
    // shim runs berth-runtime, whose state (under dockerd's runtime root) holds the container.
    let docker = |args: &[&str]| dockerd.docker(args);
    engine_api_flow(&docker, &["--runtime", "berth", "--network", "none"], &|id, pid| {
        let root = dockerd.exec_root().join("runtime-runc/moby");
        let state = runtime_state(&role("berth-runtime"), &root, id).unwrap_or_else(|| panic!("berth-runtime has no container {id}"));
        assert_eq!((state["status"].as_str(), state["pid"].as_i64()), (Some("running"), Some(pid as i64)), "{state}");
    });

    // containerd's runc shim with berth-runtime as its runc (`ctr run --runc-binary`); the
    // shim gives it `--root <runc-root>/<namespace>`.
    containerd.import_busybox();
    let runc_root = tmp.path().join("runc");
    let flags = [
        "--runc-binary".to_owned(),
        role("berth-runtime").to_string_lossy().into_owned(),
        "--runc-root".to_owned(),
        runc_root.to_string_lossy().into_owned(),
    ];
    ctr_flow(&containerd, &flags, RUNC_SHIM, &role("berth-runtime"), &runc_root.join(&containerd.ns));
}
