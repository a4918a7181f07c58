//! berth-runtime (runc's role): lifecycle, isolation, cgroups and error texts, driven through
//! the command line like engines do, plus the library from a multi-threaded caller.
//! Needs root. Every test uses its own state root, bundle, container id and cgroup, and its
//! guard deletes the container and its cgroup even when the test fails.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{make_busybox_rootfs, pid_alive, role, wait_until, TempDir};
use serde_json::{json, Value};

/// v1 controllers the runtime joins when mounted (cgroups to clean up in the guard).
const V1: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer", "hugetlb", "net_cls", "net_prio", "rdma"];

fn is_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Host path of a cgroup file for cgroup `cg` (with leading slash).
fn cgroup_file(cg: &str, v1_ctrl: &str, v1_file: &str, v2_file: &str) -> PathBuf {
    let cg = cg.trim_start_matches('/');
    if is_v2() {
        Path::new("/sys/fs/cgroup").join(cg).join(v2_file)
    } else {
        Path::new("/sys/fs/cgroup").join(v1_ctrl).join(cg).join(v1_file)
    }
}

fn cgroup_dirs(cg: &str) -> Vec<PathBuf> {
    let cg = cg.trim_start_matches('/');
    if is_v2() {
        vec![Path::new("/sys/fs/cgroup").join(cg)]
    } else {
        V1.iter().map(|c| Path::new("/sys/fs/cgroup").join(c).join(cg)).collect()
    }
}

/// A container under test: state root, bundle (busybox rootfs + config.json), id, cgroup.
/// Drop force-deletes it and removes its cgroup directories.
struct Ctr {
    id: String,
    cgroup: String,
    root: TempDir,
    bundle: TempDir,
}

impl Ctr {
    fn new(args: &[&str]) -> Self {
        let n: u32 = rand::random();
        let root = TempDir::new("rtroot");
        let bundle = TempDir::new("rtb");
        make_busybox_rootfs(&bundle.path().join("rootfs"));
        let c = Ctr { id: format!("ctr-{n:08x}"), cgroup: format!("/berth-rt-test-{n:08x}"), root, bundle };
        let out = c.rt(&["spec", "--bundle", &c.bundle.path().to_string_lossy()]);
        assert!(out.status.success(), "spec failed: {}", String::from_utf8_lossy(&out.stderr));
        let cg = c.cgroup.clone();
        c.edit(|v| {
            v["process"]["args"] = json!(args);
            v["root"]["readonly"] = json!(false);
            v["linux"]["cgroupsPath"] = json!(cg);
        });
        c
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let p = self.bundle.path().join("config.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).expect("read config")).expect("parse config");
        f(&mut v);
        std::fs::write(&p, serde_json::to_vec_pretty(&v).expect("encode")).expect("write config");
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(role("berth-runtime"));
        c.arg("--root").arg(self.root.path()).args(args).current_dir(self.bundle.path());
        c
    }

    /// Runs a subcommand that does not leave a process holding its stdout.
    fn rt(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().expect("run berth-runtime")
    }

    /// `create` with the container's stdout/stderr going to `<bundle>/out`.
    fn create(&self, extra: &[&str]) -> Output {
        let out = std::fs::File::create(self.out_path()).expect("out file");
        let err = out.try_clone().expect("clone");
        let mut c = self.cmd(&["create"]);
        c.args(extra).arg(&self.id).stdin(Stdio::null()).stdout(out).stderr(err);
        let status = c.status().expect("run create");
        let text = std::fs::read(self.out_path()).unwrap_or_default();
        Output { status, stdout: Vec::new(), stderr: text }
    }

    fn out_path(&self) -> PathBuf {
        self.bundle.path().join("out")
    }

    fn output_text(&self) -> String {
        std::fs::read_to_string(self.out_path()).unwrap_or_default()
    }

    fn state(&self) -> Value {
        let out = self.rt(&["state", &self.id]);
        assert!(out.status.success(), "state failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("state JSON")
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.rt(&["delete", "-f", &self.id]);
        for d in cgroup_dirs(&self.cgroup) {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_prints_the_output_of_echo_hi() {
    let c = Ctr::new(&["echo", "hi"]);
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert!(!c.root.path().join(&c.id).exists(), "run must delete the container afterwards");
}

#[test]
fn run_exits_with_the_exit_code_of_the_container_process() {
    let c = Ctr::new(&["sh", "-c", "exit 3"]);
    let out = c.rt(&["run", &c.id]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
}

#[test]
fn create_leaves_a_live_init_in_created_state_and_start_runs_the_process() {
    let c = Ctr::new(&["sh", "-c", "echo started; exec sleep 1000"]);
    let pidfile = c.bundle.path().join("pid");
    let out = c.create(&["--pid-file", &pidfile.to_string_lossy()]);
    assert!(out.status.success(), "create failed: {}", stderr(&out));
    let st = c.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], c.id.as_str());
    assert_eq!(st["ociVersion"], "1.0.2-dev");
    let pid = st["pid"].as_i64().expect("pid") as i32;
    assert!(pid > 0 && pid_alive(pid), "init {pid} must be alive");
    assert_eq!(std::fs::read_to_string(&pidfile).expect("pid file").trim(), pid.to_string());
    assert!(!c.output_text().contains("started"), "process must not run before start");

    let out = c.rt(&["start", &c.id]);
    assert!(out.status.success(), "start failed: {}", stderr(&out));
    assert!(wait_until(5, || c.output_text().contains("started")), "process did not run: {:?}", c.output_text());
    let st = c.state();
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64));
    let list = c.rt(&["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    assert_eq!(list[0]["id"], c.id.as_str());
}

#[test]
fn kill_then_delete_force_leaves_no_process_no_cgroup_and_no_state() {
    let c = Ctr::new(&["sleep", "1000"]);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    let pid = c.state()["pid"].as_i64().expect("pid") as i32;
    assert!(cgroup_dirs(&c.cgroup).iter().any(|d| d.exists()), "cgroup must exist while running");

    let out = c.rt(&["kill", &c.id, "KILL"]);
    assert!(out.status.success(), "kill failed: {}", stderr(&out));
    assert!(wait_until(5, || c.state()["status"] == "stopped"), "container did not stop");
    let out = c.rt(&["delete", "-f", &c.id]);
    assert!(out.status.success(), "delete failed: {}", stderr(&out));
    assert!(!pid_alive(pid));
    for d in cgroup_dirs(&c.cgroup) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    assert!(!c.root.path().join(&c.id).exists(), "state dir left behind");
    assert!(stderr(&c.rt(&["state", &c.id])).contains("container does not exist"));
}

#[test]
fn delete_force_kills_a_running_container_and_plain_delete_refuses() {
    let c = Ctr::new(&["sleep", "1000"]);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    let pid = c.state()["pid"].as_i64().expect("pid") as i32;
    let out = c.rt(&["delete", &c.id]);
    assert!(!out.status.success(), "delete without -f must refuse a running container");
    assert!(pid_alive(pid));
    let out = c.rt(&["delete", "--force", &c.id]);
    assert!(out.status.success(), "delete -f failed: {}", stderr(&out));
    assert!(!pid_alive(pid));
    for d in cgroup_dirs(&c.cgroup) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn container_sees_pid_1_its_hostname_loopback_up_proc_and_readonly_sys() {
    let script = "echo pid=$$; echo host=$(hostname); ip link show lo; \
                  test -r /proc/self/status && echo proc=ok; \
                  grep ' /sys ' /proc/mounts | grep -q ' ro,' && echo sys=ro; \
                  test -c /dev/null && echo devnull=ok; ls /proc/sys >/dev/null && touch /proc/sys/x 2>/dev/null || echo procsys=ro";
    let c = Ctr::new(&["sh", "-c", script]);
    c.edit(|v| v["hostname"] = json!("box-under-test"));
    let out = c.rt(&["run", &c.id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "run failed: {} / {text}", stderr(&out));
    assert!(text.contains("pid=1\n"), "{text}");
    assert!(text.contains("host=box-under-test\n"), "{text}");
    assert!(text.contains("<LOOPBACK,UP,LOWER_UP>"), "lo must be up: {text}");
    assert!(text.contains("proc=ok"), "{text}");
    assert!(text.contains("sys=ro"), "{text}");
    assert!(text.contains("devnull=ok"), "{text}");
    assert!(text.contains("procsys=ro"), "{text}");
}

#[test]
fn memory_and_pids_limits_appear_in_the_container_cgroup() {
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| v["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 42}}));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let mem = cgroup_file(&c.cgroup, "memory", "memory.limit_in_bytes", "memory.max");
    let pids = cgroup_file(&c.cgroup, "pids", "pids.max", "pids.max");
    assert_eq!(std::fs::read_to_string(&mem).expect("memory file").trim(), "67108864");
    assert_eq!(std::fs::read_to_string(&pids).expect("pids file").trim(), "42");
    let pid = c.state()["pid"].as_i64().expect("pid").to_string();
    let procs = cgroup_file(&c.cgroup, "pids", "cgroup.procs", "cgroup.procs");
    let procs = std::fs::read_to_string(procs).expect("procs");
    assert!(procs.lines().any(|l| l == pid), "init {pid} must be in the cgroup: {procs:?}");
}

#[test]
fn a_missing_executable_fails_create_with_runc_text_and_leaves_nothing_behind() {
    let c = Ctr::new(&["nosuchcmd"]);
    let log = c.bundle.path().join("log.json");
    let mut cmd = c.cmd(&["--log", &log.to_string_lossy(), "--log-format", "json", "create", &c.id]);
    let out = cmd.stdin(Stdio::null()).output().expect("create");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(r#"exec: "nosuchcmd": executable file not found in $PATH"#), "stderr: {err}");
    let line = std::fs::read_to_string(&log).expect("json log");
    let v: Value = serde_json::from_str(line.lines().last().expect("a log line")).expect("json line");
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap_or("").contains("executable file not found in $PATH"));
    assert!(!c.root.path().join(&c.id).exists(), "state dir left behind");
    for d in cgroup_dirs(&c.cgroup) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn a_non_executable_file_fails_create_with_permission_denied() {
    let c = Ctr::new(&["/etc/passwd"]);
    let out = c.rt(&["create", &c.id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("permission denied"), "stderr: {}", stderr(&out));
    assert!(!c.root.path().join(&c.id).exists());
}

#[test]
fn state_of_an_unknown_container_says_it_does_not_exist() {
    let root = TempDir::new("rtroot");
    let out = Command::new(role("berth-runtime")).arg("--root").arg(root.path()).args(["state", "no-such-container"]).output().expect("state");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container does not exist"), "stderr: {}", stderr(&out));
}

#[test]
fn deleting_an_unknown_container_fails_but_delete_force_succeeds_as_with_runc() {
    let root = TempDir::new("rtroot");
    let delete = |args: &[&str]| Command::new(role("berth-runtime")).arg("--root").arg(root.path()).args(args).output().expect("delete");
    let out = delete(&["delete", "no-such-container"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container does not exist"), "stderr: {}", stderr(&out));
    let out = delete(&["delete", "--force", "no-such-container"]);
    assert!(out.status.success(), "delete --force: {}", stderr(&out));
}

#[test]
fn creating_an_existing_id_is_refused() {
    let c = Ctr::new(&["sleep", "1000"]);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let out = c.rt(&["create", &c.id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container with id exists"), "stderr: {}", stderr(&out));
    assert_eq!(c.state()["status"], "created", "the existing container must be untouched");
}

#[test]
fn run_detach_returns_while_the_container_keeps_running() {
    let c = Ctr::new(&["sleep", "1000"]);
    let st = c.cmd(&["run", "-d", &c.id]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("run -d");
    assert!(st.success());
    assert_eq!(c.state()["status"], "running");
}

/// Env var that turns [`helper_multithreaded_creator`] into the helper process.
const HELPER_ENV: &str = "BERTH_RT_TEST_HELPER";

/// Not a test on its own: when re-executed with HELPER_ENV, this test binary acts as a
/// multi-threaded daemon creating a container with parent_death_signal from a dedicated
/// thread, prints the container pid, and sleeps until killed.
#[test]
fn helper_multithreaded_creator() {
    let Ok(spec) = std::env::var(HELPER_ENV) else { return };
    let mut parts = spec.splitn(3, '|');
    let (Some(root), Some(bundle), Some(id)) = (parts.next(), parts.next(), parts.next()) else { return };
    // Busy threads, so the clone really happens in a multi-threaded process.
    for _ in 0..4 {
        std::thread::spawn(|| loop {
            let v: Vec<u8> = vec![0; 4096];
            std::hint::black_box(v);
            std::thread::yield_now();
        });
    }
    let (root, bundle, id) = (root.to_owned(), PathBuf::from(bundle), id.to_owned());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = berth::runtime::Runtime::new(root).with_init_exe(common::berth_bin());
        let null = std::fs::File::options().read(true).write(true).open("/dev/null").expect("null");
        use std::os::fd::AsRawFd;
        let fd = null.as_raw_fd();
        let opts = berth::runtime::CreateOptions { pid_file: None, stdio: Some([fd, fd, fd]), parent_death_signal: Some(libc::SIGKILL) };
        let r = rt.create(&id, &bundle, &opts).and_then(|st| rt.start(&id).map(|_| st.pid));
        let _ = tx.send(r.map_err(|e| e.to_string()));
        // The creating thread stays alive, like the daemon's runtime thread.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    match rx.recv() {
        Ok(Ok(pid)) => println!("CONTAINER_PID={pid}"),
        other => println!("CONTAINER_ERROR={other:?}"),
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn a_container_created_with_parent_death_signal_dies_with_its_multithreaded_creator() {
    let c = Ctr::new(&["sleep", "1000"]);
    let spec = format!("{}|{}|{}", c.root.path().display(), c.bundle.path().display(), c.id);
    let mut helper = Command::new(std::env::current_exe().expect("test exe"))
        .args(["--exact", "helper_multithreaded_creator", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn helper");
    // Kill the helper (by its pid, which we started) whatever happens below.
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0 as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _guard = KillOnDrop(helper.id());
    let stdout = helper.stdout.take().expect("stdout");
    // The harness prints "test name ... " before our marker on the same line; read in a
    // thread so a silent helper cannot hang the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find("CONTAINER_") {
                let _ = tx.send(line[i..].to_owned());
                break;
            }
        }
    });
    let msg = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("helper printed no container pid");
    let pid = msg.strip_prefix("CONTAINER_PID=").and_then(|p| p.trim().parse::<i32>().ok());
    let pid = pid.unwrap_or_else(|| panic!("helper failed: {msg}"));
    assert!(pid_alive(pid));
    assert_eq!(c.state()["status"], "running");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(helper.id() as i32), nix::sys::signal::Signal::SIGKILL);
    let _ = helper.wait();
    assert!(wait_until(5, || !pid_alive(pid)), "container {pid} survived its creator");
}

#[test]
fn the_process_gets_exactly_the_configured_capabilities_uid_gid_and_cwd() {
    let c = Ctr::new(&["sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status; id; pwd"]);
    let out = c.rt(&["run", &c.id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    // The default spec keeps CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
    assert!(text.contains("CapEff:\t0000000020000420"), "{text}");
    assert!(text.contains("CapBnd:\t0000000020000420"), "{text}");
    assert!(text.contains("uid=0(root) gid=0(root)"), "{text}");

    let c = Ctr::new(&["sh", "-c", "grep -E '^CapEff' /proc/self/status; id; pwd"]);
    c.edit(|v| {
        v["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        v["process"]["cwd"] = json!("/work/dir");
    });
    let out = c.rt(&["run", &c.id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
    assert!(text.contains("uid=1000 gid=1000 groups=5"), "{text}");
    assert!(text.contains("/work/dir\n"), "cwd is created and used: {text}");
}

#[test]
fn pause_freezes_resume_thaws_ps_lists_pids_and_kill_all_reaches_every_process() {
    let c = Ctr::new(&["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    let pid = c.state()["pid"].as_i64().expect("pid");
    let pids = || -> Vec<i64> {
        let out = c.rt(&["ps", "--format", "json", &c.id]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    assert!(wait_until(5, || pids().len() == 2), "expected init and its child: {:?}", pids());
    assert!(pids().contains(&pid));

    assert!(c.rt(&["pause", &c.id]).status.success());
    assert_eq!(c.state()["status"], "paused");
    assert!(c.rt(&["resume", &c.id]).status.success());
    assert_eq!(c.state()["status"], "running");

    let all = pids();
    let out = c.rt(&["kill", "--all", &c.id, "9"]);
    assert!(out.status.success(), "kill --all failed: {}", stderr(&out));
    assert!(wait_until(5, || all.iter().all(|p| !pid_alive(*p as i32))), "processes survived kill --all");
    assert!(wait_until(5, || c.state()["status"] == "stopped"));
    assert!(!c.rt(&["kill", &c.id, "TERM"]).status.success(), "kill of a stopped container must fail");
}

#[test]
fn hooks_get_the_state_on_stdin_at_prestart_poststart_and_poststop() {
    let c = Ctr::new(&["sleep", "1000"]);
    let b = c.bundle.path().display().to_string();
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {b}/{name}.json")]});
    c.edit(|v| v["hooks"] = json!({"prestart": [hook("prestart")], "poststart": [hook("poststart")], "poststop": [hook("poststop")]}));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let pre: Value = serde_json::from_slice(&std::fs::read(c.bundle.path().join("prestart.json")).expect("prestart ran")).expect("state JSON");
    assert_eq!(pre["id"], c.id.as_str());
    assert_eq!(pre["pid"], c.state()["pid"]);
    assert!(!c.bundle.path().join("poststart.json").exists());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert!(c.bundle.path().join("poststart.json").exists(), "poststart ran");
    assert!(c.rt(&["delete", "-f", &c.id]).status.success());
    assert!(c.bundle.path().join("poststop.json").exists(), "poststop ran");
}

#[test]
fn a_failing_prestart_hook_fails_create_and_leaves_nothing_behind() {
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| v["hooks"] = json!({"prestart": [{"path": "/bin/false"}]}));
    let out = c.rt(&["create", &c.id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("prestart hook"), "stderr: {}", stderr(&out));
    assert!(!c.root.path().join(&c.id).exists(), "state dir left behind");
    for d in cgroup_dirs(&c.cgroup) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn a_failing_poststart_or_poststop_hook_is_logged_and_the_later_hooks_and_lifecycle_go_on() {
    let c = Ctr::new(&["sleep", "1000"]);
    let ran = c.bundle.path().join("ran");
    let mark = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} >> {}", ran.display())]});
    let fail = json!({"path": "/bin/false", "args": ["false"]});
    c.edit(|v| v["hooks"] = json!({"poststart": [fail, mark("poststart")], "poststop": [fail, mark("poststop")]}));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let out = c.rt(&["start", &c.id]);
    assert!(out.status.success(), "a failing poststart hook must not fail start: {}", stderr(&out));
    assert!(stderr(&out).contains("poststart hook /bin/false"), "the failure is logged: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&ran).unwrap_or_default(), "poststart\n", "the hook after the failing one ran");
    assert_eq!(c.state()["status"], "running");
    let out = c.rt(&["delete", "-f", &c.id]);
    assert!(out.status.success(), "a failing poststop hook must not fail delete: {}", stderr(&out));
    assert!(stderr(&out).contains("poststop hook /bin/false"), "the failure is logged: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&ran).unwrap_or_default(), "poststart\npoststop\n");
    assert!(!c.root.path().join(&c.id).exists(), "the container is deleted all the same");
}

#[test]
fn device_rules_deny_all_but_the_standard_devices_on_cgroup_v1() {
    let c = Ctr::new(&["sh", "-c", "echo x > /dev/null && head -c 1 /dev/zero >/dev/null && echo devices=usable; exec sleep 1000"]);
    c.edit(|v| v["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]}));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert!(wait_until(5, || c.output_text().contains("devices=usable")), "standard devices unusable: {}", c.output_text());
    if !is_v2() {
        let list = std::fs::read_to_string(cgroup_file(&c.cgroup, "devices", "devices.list", "")).expect("devices.list");
        assert!(!list.contains("a *:* rwm"), "deny-all rule not applied: {list}");
        assert!(list.contains("c 1:3 rwm"), "/dev/null not allowed: {list}");
    }
}

#[test]
fn the_container_process_starts_with_no_ignored_or_blocked_signals() {
    let c = Ctr::new(&["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    // The caller ignores SIGUSR1 and SIGPIPE and blocks SIGUSR2, which the runtime must not
    // pass on. SIGINT and SIGHUP get their defaults here: an ignored one is kept on purpose
    // (nohup semantics), and a test runner started in the background ignores SIGINT.
    let mut cmd = c.cmd(&["run", &c.id]);
    cmd.stdin(Stdio::null());
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal and sigprocmask are async-signal-safe; the closure uses no heap.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                libc::signal(libc::SIGUSR1, libc::SIG_IGN);
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR2);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    let out = cmd.output().expect("run berth-runtime");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    assert!(text.contains("SigIgn:\t0000000000000000"), "{text}");
    assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
}

#[test]
fn run_in_the_foreground_forwards_sigterm_to_the_container() {
    let c = Ctr::new(&["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done"]);
    let out = std::fs::File::create(c.out_path()).expect("out");
    let mut child = c.cmd(&["run", &c.id]).stdin(Stdio::null()).stdout(out).stderr(Stdio::null()).spawn().expect("run");
    assert!(wait_until(10, || c.output_text().contains("ready")), "container did not start: {}", c.output_text());
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
    let mut status = None;
    assert!(
        wait_until(10, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        }),
        "run did not exit"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(7));
    assert!(c.output_text().contains("got-term"));
}

/// Creates and starts `c` (process.terminal set) with a console socket at `sock`, receives
/// the pty master there, and returns what the terminal shows until `until` appears (or 10 s).
fn run_on_console_socket(c: &Ctr, sock: &std::path::Path, until: &str) -> String {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    use std::os::unix::net::UnixListener;
    let listener = UnixListener::bind(sock).expect("bind console socket");
    listener.set_nonblocking(true).expect("nonblocking");
    let err = std::fs::File::create(c.out_path()).expect("err file");
    let mut create = c
        .cmd(&["create", "--console-socket", &sock.to_string_lossy(), &c.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("create");
    let mut conn = None;
    assert!(
        wait_until(10, || {
            conn = listener.accept().ok();
            conn.is_some()
        }),
        "init never connected: {}",
        c.output_text()
    );
    let (conn, _) = conn.expect("connection");
    conn.set_nonblocking(false).expect("blocking");
    let mut buf = [0u8; 256];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(std::os::fd::AsRawFd::as_raw_fd(&conn), &mut iov, Some(&mut cmsg), nix::sys::socket::MsgFlags::empty())
        .expect("recvmsg");
    let mut master = None;
    for c in msg.cmsgs().expect("cmsgs") {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
            master = fds.first().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    let master = master.expect("a pty master fd");
    assert!(create.wait().expect("create exit").success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    let mut f = std::fs::File::from(master);
    let mut seen = String::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 1024];
        while let Ok(n) = f.read(&mut chunk) {
            if n == 0 || tx.send(String::from_utf8_lossy(&chunk[..n]).into_owned()).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(until) && std::time::Instant::now() < deadline {
        if let Ok(s) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
            seen.push_str(&s);
        }
    }
    seen
}

#[test]
fn terminal_containers_send_the_pty_master_over_the_console_socket() {
    let c = Ctr::new(&["sh", "-c", "tty; echo hi-from-tty; exec sleep 1000"]);
    c.edit(|v| v["process"]["terminal"] = json!(true));
    let seen = run_on_console_socket(&c, &c.bundle.path().join("console.sock"), "hi-from-tty");
    assert!(seen.contains("/dev/pts/0"), "tty output: {seen:?}");
    assert!(seen.contains("hi-from-tty"), "tty output: {seen:?}");
}

/// Runs `cmd` with `input` on its stdin; kills it if it has not finished after 30 s.
fn run_with_input(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    let pid = child.id() as i32;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        if !wait_until(30, || flag.load(std::sync::atomic::Ordering::SeqCst)) {
            // SAFETY: kill(2) on the pid of our own child, which wait_with_output has not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().expect("wait");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    out
}

#[test]
fn run_in_the_foreground_with_a_terminal_proxies_the_pty_to_its_own_stdio() {
    let c = Ctr::new(&["sh", "-c", "tty; read x; echo got-$x; exit 5"]);
    c.edit(|v| v["process"]["terminal"] = json!(true));
    let out = run_with_input(c.cmd(&["run", &c.id]), b"hello\n");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(5), "exit code of the container; stderr: {}", stderr(&out));
    assert!(text.contains("/dev/pts/"), "the process's stdio is a pty: {text:?}");
    // The pty echoes what it reads (no terminal of ours: no raw mode) and turns \n into \r\n.
    assert!(text.contains("hello\r\n"), "input reaches the pty: {text:?}");
    assert!(text.contains("got-hello\r\n"), "{text:?}");
    assert!(!c.root.path().join(&c.id).exists(), "run deletes the container afterwards");
}

#[test]
fn run_in_the_foreground_with_a_terminal_gives_the_pty_the_size_of_the_callers_terminal() {
    let c = Ctr::new(&["stty", "size"]);
    c.edit(|v| v["process"]["terminal"] = json!(true));
    // script(1) gives the runtime a terminal of its own, 33 rows by 77 columns.
    let line = format!(
        "stty rows 33 cols 77; exec {} --root {} run --bundle {} {}",
        role("berth-runtime").display(),
        c.root.path().display(),
        c.bundle.path().display(),
        c.id
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    let out = run_with_input(cmd, b"");
    let text = stdout(&out);
    assert!(out.status.success(), "script/run failed: {text:?} {}", stderr(&out));
    assert!(text.contains("33 77"), "the container's pty has the caller's size: {text:?}");
}

#[test]
fn exec_tty_in_the_foreground_proxies_the_pty_and_returns_the_exit_code() {
    let c = running(&["sleep", "1000"]);
    let out = run_with_input(c.cmd(&["exec", "-t", &c.id, "sh", "-c", "tty; exit 3"]), b"");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert!(text.contains("/dev/pts/"), "exec -t gets a pty: {text:?}");
}

#[test]
fn a_terminal_container_without_console_socket_is_refused() {
    let c = Ctr::new(&["sh"]);
    c.edit(|v| v["process"]["terminal"] = json!(true));
    let out = c.rt(&["create", &c.id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("console socket"), "stderr: {}", stderr(&out));
    assert!(!c.root.path().join(&c.id).exists());
}

// ---- exec ----

/// A started `sleep 1000` container.
fn running(args: &[&str]) -> Ctr {
    let c = Ctr::new(args);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let out = c.rt(&["start", &c.id]);
    assert!(out.status.success(), "start failed: {}", stderr(&out));
    c
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exec_runs_a_process_in_the_container_and_prints_its_output() {
    let c = running(&["sleep", "1000"]);
    let out = c.rt(&["exec", &c.id, "echo", "hi"]);
    assert!(out.status.success(), "exec failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
}

#[test]
fn exec_returns_the_exit_code_of_the_process_and_128_plus_the_signal() {
    let c = running(&["sleep", "1000"]);
    assert_eq!(c.rt(&["exec", &c.id, "sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(c.rt(&["exec", &c.id, "sh", "-c", "kill -9 $$"]).status.code(), Some(137));
}

#[test]
fn exec_sees_the_containers_hostname_pid_namespace_and_cgroup() {
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| v["hostname"] = json!("exec-host"));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    let out = c.rt(&["exec", &c.id, "sh", "-c", "hostname; ps -o pid,args; cat /proc/self/cgroup"]);
    let text = stdout(&out);
    assert!(out.status.success(), "exec failed: {} / {text}", stderr(&out));
    assert!(text.starts_with("exec-host\n"), "{text}");
    assert!(text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "1000"]), "container init must be pid 1: {text}");
    // The exec'd shell is in the container's cgroup (pids controller on v1, the only one on v2).
    let want = if is_v2() { format!("0::{}", c.cgroup) } else { format!("pids:{}", c.cgroup) };
    assert!(text.lines().any(|l| l.ends_with(&want)), "expected {want:?} in {text}");
}

#[test]
fn exec_detach_returns_at_once_and_writes_the_pid_of_a_process_in_the_container_cgroup() {
    let c = running(&["sleep", "1000"]);
    let pidfile = c.bundle.path().join("exec.pid");
    let st = c
        .cmd(&["exec", "-d", "--pid-file", &pidfile.to_string_lossy(), &c.id, "sleep", "500"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("exec -d");
    assert!(st.success());
    let pid: i32 = std::fs::read_to_string(&pidfile).expect("pid file").trim().parse().expect("pid");
    assert!(pid_alive(pid), "exec'd process {pid} must run");
    let procs = std::fs::read_to_string(cgroup_file(&c.cgroup, "pids", "cgroup.procs", "cgroup.procs")).expect("procs");
    assert!(procs.lines().any(|l| l == pid.to_string()), "{pid} not in the container cgroup: {procs:?}");
    let ps: Vec<i64> = serde_json::from_slice(&c.rt(&["ps", "--format", "json", &c.id]).stdout).expect("ps json");
    assert!(ps.contains(&(pid as i64)), "ps must list {pid}: {ps:?}");
}

#[test]
fn exec_applies_process_json_and_the_env_cwd_and_user_flags() {
    let c = running(&["sleep", "1000"]);
    let pj = c.bundle.path().join("process.json");
    let process = json!({
        "args": ["sh", "-c", "id -u; id -g; pwd; echo $FOO"],
        "env": ["PATH=/bin", "FOO=from-json"],
        "cwd": "/tmp",
        "user": {"uid": 1000, "gid": 1001}
    });
    std::fs::write(&pj, process.to_string()).expect("process.json");
    let out = c.rt(&["exec", "-p", &pj.to_string_lossy(), &c.id]);
    assert!(out.status.success(), "exec -p failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "1000\n1001\n/tmp\nfrom-json\n");

    let out = c.rt(&["exec", "--env", "FOO=from-flag", "--cwd", "/etc", "--user", "7:8", &c.id, "sh", "-c", "id -u; id -g; pwd; echo $FOO"]);
    assert!(out.status.success(), "exec with flags failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "7\n8\n/etc\nfrom-flag\n");
}

#[test]
fn exec_into_an_unknown_or_stopped_container_fails_clearly() {
    let root = TempDir::new("rtroot");
    let out = Command::new(role("berth-runtime")).arg("--root").arg(root.path()).args(["exec", "nope", "true"]).output().expect("exec");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container does not exist"), "stderr: {}", stderr(&out));

    let c = running(&["true"]);
    assert!(wait_until(5, || c.state()["status"] == "stopped"), "container did not stop");
    let out = c.rt(&["exec", &c.id, "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot exec in a stopped container"), "stderr: {}", stderr(&out));

    let c = running(&["sleep", "1000"]);
    let out = c.rt(&["exec", &c.id, "no-such-cmd"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(r#"exec: "no-such-cmd": executable file not found in $PATH"#), "stderr: {}", stderr(&out));
}

/// The test harness runs tests on several threads: this is exec from a multi-threaded caller.
#[test]
fn exec_from_the_library_returns_a_child_handle_to_wait_on() {
    let c = running(&["sleep", "1000"]);
    let rt = berth::runtime::Runtime::new(c.root.path()).with_init_exe(common::berth_bin());
    let mut p = rt.base_process(&c.id).expect("state").expect("process");
    p.set_args(Some(vec!["sh".into(), "-c".into(), "exit 4".into()]));
    let null = std::fs::File::options().read(true).write(true).open("/dev/null").expect("null");
    use std::os::fd::AsRawFd;
    let fd = null.as_raw_fd();
    let opts = berth::runtime::ExecOptions { stdio: Some([fd, fd, fd]), ..Default::default() };
    let h = rt.exec(&c.id, &p, &opts).expect("exec");
    assert_eq!(h.wait().expect("wait"), 4);
}

// ---- self-protection ----

/// What `/proc/<pid>/exe` of a runtime process offers a container: the host's binary
/// (writable once it stops running) or a read-only/sealed copy.
fn exe_is_protected(pid: i32) -> bool {
    let exe = format!("/proc/{pid}/exe");
    let link = std::fs::read_link(&exe).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    if link.starts_with("/memfd:") {
        return true;
    }
    nix::sys::statvfs::statvfs(exe.as_str()).map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)).unwrap_or(false)
}

#[test]
fn the_waiting_init_runs_a_read_only_binary_and_not_the_hosts_writable_one() {
    let c = Ctr::new(&["sleep", "1000"]);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let pid = c.state()["pid"].as_i64().expect("pid") as i32;
    assert!(exe_is_protected(pid), "init's /proc/{pid}/exe is the host binary: {:?}", std::fs::read_link(format!("/proc/{pid}/exe")));
    assert!(std::fs::OpenOptions::new().write(true).open(format!("/proc/{pid}/exe")).is_err(), "init's exe must not open for writing");
}

#[test]
fn the_protection_check_notices_when_the_protection_is_off() {
    let c = Ctr::new(&["sleep", "1000"]);
    let mut cmd = c.cmd(&["create", &c.id]);
    // Output to a file: init keeps its stdio open, a pipe would never reach EOF.
    let out = std::fs::File::create(c.out_path()).expect("out");
    let st = cmd.env("BERTH_UNSAFE_NO_MEMFD", "1").stdin(Stdio::null()).stdout(out.try_clone().expect("dup")).stderr(out).status().expect("create");
    assert!(st.success(), "create failed: {}", c.output_text());
    let pid = c.state()["pid"].as_i64().expect("pid") as i32;
    assert!(!exe_is_protected(pid), "with the protection off, init must run the host binary");
}

#[test]
fn without_a_mount_namespace_init_runs_a_sealed_memfd_copy() {
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}]));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let pid = c.state()["pid"].as_i64().expect("pid") as i32;
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe link");
    assert!(link.to_string_lossy().starts_with("/memfd:berth-runtime"), "{link:?}");
    assert!(std::fs::OpenOptions::new().write(true).open(format!("/proc/{pid}/exe")).is_err());
}

/// `cmd` with `file` also open (not close-on-exec) as fd 7 in the child: a leak.
fn with_leaked_fd_7(cmd: &mut Command, file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = file.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; the closure touches no memory but two integers.
    unsafe {
        cmd.pre_exec(move || if libc::dup2(fd, 7) < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
}

#[test]
fn container_and_exec_processes_hold_only_stdio_even_when_the_caller_leaks_fds() {
    let c = Ctr::new(&["sh", "-c", "ls /proc/$$/fd; exec sleep 1000"]);
    let leak = std::fs::File::open("/").expect("open /");
    let out = std::fs::File::create(c.out_path()).expect("out");
    let mut cmd = c.cmd(&["create", &c.id]);
    cmd.stdin(Stdio::null()).stdout(out.try_clone().expect("dup")).stderr(out);
    with_leaked_fd_7(&mut cmd, &leak);
    assert!(cmd.status().expect("create").success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert!(wait_until(5, || c.output_text().lines().count() >= 3), "no output: {}", c.output_text());
    let fds: Vec<String> = c.output_text().lines().map(str::to_owned).collect();
    assert_eq!(fds, ["0", "1", "2"], "container init fds");

    // `; true`: otherwise sh execs ls directly and lists ls's own directory fd.
    let mut cmd = c.cmd(&["exec", &c.id, "sh", "-c", "ls /proc/$$/fd; true"]);
    cmd.stdin(Stdio::null());
    with_leaked_fd_7(&mut cmd, &leak);
    let out = cmd.output().expect("exec");
    assert!(out.status.success(), "exec failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "0\n1\n2\n", "exec'd process fds");
}

#[test]
fn a_cwd_through_a_leaked_host_fd_is_refused() {
    let c = Ctr::new(&["pwd"]);
    c.edit(|v| v["process"]["cwd"] = json!("/proc/self/fd/7"));
    let leak = std::fs::File::open("/").expect("open /");
    let mut cmd = c.cmd(&["run", &c.id]);
    cmd.stdin(Stdio::null());
    with_leaked_fd_7(&mut cmd, &leak);
    let out = cmd.output().expect("run");
    assert!(!out.status.success(), "must not run with a host cwd; stdout: {}", stdout(&out));
    assert!(!c.root.path().join(&c.id).exists(), "state dir left behind");
}

#[test]
fn preserve_fds_passes_the_callers_fd_3_to_the_container() {
    let c = Ctr::new(&["sh", "-c", "echo via-fd3 >&3; ls /proc/$$/fd; true"]);
    let file = c.bundle.path().join("fd3.txt");
    let f = std::fs::File::create(&file).expect("fd3 file");
    let mut cmd = c.cmd(&["run", "--preserve-fds", "1", &c.id]);
    cmd.stdin(Stdio::null());
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = f.as_raw_fd();
        // SAFETY: dup2 and fcntl are async-signal-safe; the closure touches only integers.
        // (When the file already is fd 3, dup2 is a no-op that keeps close-on-exec.)
        unsafe {
            cmd.pre_exec(move || {
                let r = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
    }
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "via-fd3\n");
    assert_eq!(stdout(&out), "0\n1\n2\n3\n");
}

// ---- CLI completeness ----

#[test]
fn update_changes_memory_pids_and_cpu_limits_from_flags_and_resources_json() {
    let c = Ctr::new(&["sleep", "1000"]);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let out = c.rt(&["update", "--memory", "32m", "--pids-limit", "7", "--cpu-quota", "50000", "--cpu-period", "100000", &c.id]);
    assert!(out.status.success(), "update failed: {}", stderr(&out));
    let read = |ctrl: &str, v1: &str, v2: &str| std::fs::read_to_string(cgroup_file(&c.cgroup, ctrl, v1, v2)).expect("cgroup file").trim().to_owned();
    assert_eq!(read("memory", "memory.limit_in_bytes", "memory.max"), (32u64 << 20).to_string());
    assert_eq!(read("pids", "pids.max", "pids.max"), "7");
    if is_v2() {
        assert_eq!(read("cpu", "", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us", ""), "50000");
    }
    let res = c.bundle.path().join("res.json");
    std::fs::write(&res, r#"{"pids": {"limit": 9}}"#).expect("res");
    let out = c.rt(&["update", "-r", &res.to_string_lossy(), &c.id]);
    assert!(out.status.success(), "update -r failed: {}", stderr(&out));
    assert_eq!(read("pids", "pids.max", "pids.max"), "9");
    // containerd's runc shim (and so `docker update`) sends the resources on stdin, every
    // field present: zero CPU and memory values mean "leave as is", as with runc.
    let docker_update = r#"{"memory": {"limit": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""}, "pids": {"limit": 11}}"#;
    let mut child = c.cmd(&["update", "--resources", "-", &c.id]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("update");
    child.stdin.take().expect("stdin").write_all(docker_update.as_bytes()).expect("write resources");
    let out = child.wait_with_output().expect("update --resources -");
    assert!(out.status.success(), "update --resources - failed: {}", stderr(&out));
    assert_eq!(read("pids", "pids.max", "pids.max"), "11");
    assert_eq!(read("memory", "memory.limit_in_bytes", "memory.max"), (32u64 << 20).to_string());
    if is_v2() {
        assert_eq!(read("cpu", "", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us", ""), "50000");
    }
}

/// A config.json `cgroup` mount at /sys/fs/cgroup (as docker writes it), read-only.
fn cgroup_mount() -> Value {
    json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]})
}

/// What the container sees of its limits through /sys/fs/cgroup (v1 per-controller
/// directories, or the v2 root), whether it can write there, and how many of its
/// /proc/self/cgroup lines are not "/".
const CGROUP_PROBE: &str = "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; \
    else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; fi; \
    mkdir /sys/fs/cgroup/x 2>/dev/null && echo writable || echo read-only; grep -vc ':/$' /proc/self/cgroup || true";

/// Runs [`CGROUP_PROBE`] in a container with a `cgroup` mount, a 48 MiB memory and a 17 pids
/// limit, and (if `cgroupns`) a cgroup namespace; returns its output lines.
fn cgroup_probe(cgroupns: bool) -> Vec<String> {
    let c = Ctr::new(&["sh", "-c", CGROUP_PROBE]);
    c.edit(|v| {
        v["mounts"].as_array_mut().expect("mounts").push(cgroup_mount());
        if cgroupns {
            v["linux"]["namespaces"].as_array_mut().expect("namespaces").push(json!({"type": "cgroup"}));
        }
        v["linux"]["resources"] = json!({"memory": {"limit": 50331648}, "pids": {"limit": 17}});
    });
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn a_cgroup_mount_shows_the_container_its_own_cgroup_read_only() {
    let lines = cgroup_probe(false);
    assert_eq!(lines[..3], ["50331648", "17", "read-only"], "{lines:?}");
    // Without a cgroup namespace, /proc/self/cgroup shows host paths.
    assert!(lines[3].parse::<u32>().is_ok_and(|n| n >= 1), "{lines:?}");
}

#[test]
fn a_cgroup_mount_in_a_cgroup_namespace_is_rooted_at_the_container_cgroup() {
    let lines = cgroup_probe(true);
    assert_eq!(lines[..3], ["50331648", "17", "read-only"], "{lines:?}");
    assert_eq!(lines[3], "0", "every cgroup path is / inside: {lines:?}");
}

#[test]
fn features_describes_namespaces_cgroups_and_seccomp_as_json() {
    let out = Command::new(role("berth-runtime")).arg("features").output().expect("features");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("features JSON");
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert!(v["linux"]["namespaces"].as_array().expect("namespaces").contains(&json!("pid")));
    assert!(v["linux"]["capabilities"].as_array().expect("caps").contains(&json!("CAP_SYS_ADMIN")));
    assert_eq!(v["linux"]["cgroup"]["systemd"], false);
    assert!(v["linux"]["seccomp"]["actions"].as_array().expect("actions").contains(&json!("SCMP_ACT_ERRNO")));
}

#[test]
fn systemd_cgroup_is_refused_with_a_clear_error() {
    let root = TempDir::new("rtroot");
    let out = Command::new(role("berth-runtime")).arg("--root").arg(root.path()).args(["--systemd-cgroup", "list"]).output().expect("list");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("systemd"), "stderr: {}", stderr(&out));
}

#[test]
fn list_and_ps_print_runc_style_json_and_tables() {
    let c = running(&["sleep", "1000"]);
    let v: Value = serde_json::from_slice(&c.rt(&["list", "-f", "json"]).stdout).expect("list JSON");
    assert_eq!(v[0]["id"], c.id.as_str());
    assert_eq!(v[0]["status"], "running");
    assert_eq!(v[0]["owner"], "root");
    let table = stdout(&c.rt(&["list"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&c.id), "{table}");
    let ps = stdout(&c.rt(&["ps", &c.id]));
    assert!(ps.starts_with("UID") && ps.contains("sleep 1000"), "ps must show ps -ef lines of the container: {ps}");
}

// ---- config.json validation ----

/// A change made to a valid spec to make it invalid.
type SpecEdit = Box<dyn Fn(&mut Value)>;

#[test]
fn invalid_configs_are_refused_at_create_naming_the_field_and_leaving_nothing_behind() {
    let cases: Vec<(&str, SpecEdit)> = vec![
        (
            "linux.namespaces[5].type: unknown namespace type \"bogus\"",
            Box::new(|v| v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "bogus"}))),
        ),
        (
            "linux.namespaces[5].type: duplicate namespace type \"pid\"",
            Box::new(|v| v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "pid"}))),
        ),
        (
            "process.capabilities.bounding[0]: unknown capability CAP_WIZARDRY",
            Box::new(|v| v["process"]["capabilities"]["bounding"] = json!(["CAP_WIZARDRY"])),
        ),
        (
            "process.rlimits[0].type: invalid rlimit type \"RLIMIT_WISHES\"",
            Box::new(|v| v["process"]["rlimits"] = json!([{"type": "RLIMIT_WISHES", "soft": 1, "hard": 1}])),
        ),
        ("mounts[0].destination: \"proc\" is not an absolute path", Box::new(|v| v["mounts"][0]["destination"] = json!("proc"))),
        (
            "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_MAYBE\"",
            Box::new(
                |v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_MAYBE"}]}]}),
            ),
        ),
        (
            "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_SHRUG\"",
            Box::new(|v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_SHRUG"})),
        ),
        ("process.cwd: \"tmp\" is not an absolute path", Box::new(|v| v["process"]["cwd"] = json!("tmp"))),
    ];
    for (want, edit) in cases {
        let c = Ctr::new(&["true"]);
        c.edit(|v| edit(v));
        let out = c.rt(&["create", &c.id]);
        assert!(!out.status.success(), "{want}: create must fail");
        assert!(stderr(&out).contains(want), "expected {want:?} in: {}", stderr(&out));
        assert!(!c.root.path().join(&c.id).exists(), "{want}: state dir left behind");
        for d in cgroup_dirs(&c.cgroup) {
            assert!(!d.exists(), "{want}: {} left behind", d.display());
        }
    }
}

#[test]
fn a_relative_root_path_is_taken_from_the_bundle() {
    let c = Ctr::new(&["echo", "relative-root"]);
    std::fs::rename(c.bundle.path().join("rootfs"), c.bundle.path().join("fs")).expect("rename rootfs");
    c.edit(|v| v["root"]["path"] = json!("fs"));
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "relative-root\n");
}

// ---- seccomp ----

#[test]
fn a_seccomp_rule_makes_mkdir_fail_with_eperm_and_exec_gets_the_same_filter() {
    let c = Ctr::new(&["sh", "-c", "mkdir /tmp/x; echo mkdir=$?; exec sleep 1000"]);
    c.edit(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                // Only signals 10 (SIGUSR1) and up are refused (EACCES): an argument condition.
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_GE"}]}
            ]
        })
    });
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert!(wait_until(5, || c.output_text().contains("mkdir=")), "no output: {}", c.output_text());
    let text = c.output_text();
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(text.contains("mkdir=1"), "{text}");
    let out = c.rt(&["exec", &c.id, "sh", "-c", "mkdir /tmp/y || echo refused"]);
    assert!(stdout(&out).contains("refused"), "exec'd processes get the filter too: {}", stdout(&out));
    let out = c.rt(&["exec", &c.id, "sh", "-c", "kill -0 $$ && echo sig0=ok; kill -USR1 $$ || echo usr1=refused"]);
    let text = stdout(&out) + &stderr(&out);
    assert!(text.contains("sig0=ok") && text.contains("usr1=refused"), "{text}");
}

#[test]
fn a_default_deny_allow_list_profile_still_runs_busybox_sh_and_echo() {
    let allow = [
        "access",
        "arch_prctl",
        "brk",
        "capget",
        "capset",
        "chdir",
        "close",
        "close_range",
        "dup",
        "dup2",
        "dup3",
        "execve",
        "exit",
        "exit_group",
        "fchdir",
        "fcntl",
        "fstat",
        "newfstatat",
        "statx",
        "futex",
        "getcwd",
        "getdents64",
        "getegid",
        "geteuid",
        "getgid",
        "getgroups",
        "getpgrp",
        "getpid",
        "getppid",
        "getrandom",
        "getuid",
        "ioctl",
        "lseek",
        "mmap",
        "mprotect",
        "munmap",
        "open",
        "openat",
        "pipe",
        "pipe2",
        "prctl",
        "pread64",
        "read",
        "readlink",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "set_robust_list",
        "set_tid_address",
        "setgid",
        "setgroups",
        "setuid",
        "stat",
        "lstat",
        "uname",
        "wait4",
        "write",
        "writev",
        "clone",
        "clone3",
        "vfork",
        "fork",
        "getpgid",
        "setpgid",
        "getrlimit",
        "prlimit64",
        "rseq",
        "sigaltstack",
        "kill",
        "tgkill",
        "gettid",
        "sched_getaffinity",
        "umask",
        "dup3",
        "poll",
        "ppoll",
    ];
    let c = Ctr::new(&["sh", "-c", "echo allowed-list-ok; mkdir /tmp/z 2>/dev/null || echo mkdir-denied"]);
    c.edit(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": allow.as_slice(), "action": "SCMP_ACT_ALLOW"}]
        })
    });
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {} / {}", stderr(&out), stdout(&out));
    assert_eq!(stdout(&out), "allowed-list-ok\nmkdir-denied\n");
}

// ---- more of config.json ----

#[test]
fn sysctls_oom_score_rlimits_umask_domainname_and_personality_reach_the_process() {
    let script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/self/oom_score_adj; \
                  ulimit -n; ulimit -Hn; umask; cat /proc/sys/kernel/domainname; uname -m";
    let c = Ctr::new(&["sh", "-c", script]);
    c.edit(|v| {
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1000"});
        v["process"]["oomScoreAdj"] = json!(500);
        // Lowering is allowed without CAP_SYS_RESOURCE.
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]);
        v["process"]["user"]["umask"] = json!(0o027);
        v["domainname"] = json!("example.test");
        v["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    let out = c.rt(&["run", &c.id]);
    let text = stdout(&out);
    assert!(out.status.success(), "run failed: {} / {text}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["1", "1000", "500", "100", "200", "0027", "example.test", "i686"], "{text}");
    // The host's own values are untouched (the container had its own net and ipc namespaces).
    assert_ne!(std::fs::read_to_string("/proc/sys/kernel/shmmni").expect("host shmmni").trim(), "1000");
}

#[test]
fn a_sysctl_that_is_not_namespaced_is_refused() {
    let c = Ctr::new(&["true"]);
    c.edit(|v| v["linux"]["sysctl"] = json!({"vm.swappiness": "1"}));
    let out = c.rt(&["create", &c.id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("linux.sysctl: \"vm.swappiness\" is not namespaced"), "stderr: {}", stderr(&out));
    assert!(!c.root.path().join(&c.id).exists());
}

#[test]
fn readonly_root_masked_and_readonly_paths_and_a_cgroup_namespace_are_applied() {
    let script = "touch /x 2>/dev/null || echo root=ro; cat /proc/kcore 2>/dev/null | wc -c; \
                  touch /proc/sys/kernel/x 2>/dev/null || echo procsys=ro; grep -c '^0::/$' /proc/self/cgroup";
    let c = Ctr::new(&["sh", "-c", script]);
    c.edit(|v| {
        v["root"]["readonly"] = json!(true);
        v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "cgroup"}));
    });
    let out = c.rt(&["run", &c.id]);
    let text = stdout(&out);
    assert!(out.status.success(), "run failed: {} / {text}", stderr(&out));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines[..3], ["root=ro", "0", "procsys=ro"], "{text}");
    // In its own cgroup namespace the container's cgroup is its root.
    assert_eq!(lines[3], "1", "{text}");
}

#[test]
fn a_user_namespace_maps_container_root_to_an_unprivileged_host_uid() {
    let c = Ctr::new(&["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; exec sleep 1000"]);
    c.edit(|v| {
        v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert!(wait_until(5, || c.output_text().lines().count() >= 4), "output: {}", c.output_text());
    let text = c.output_text();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[..4], [vec!["0"], vec!["0"], vec!["0", "100000", "65536"], vec!["0", "100000", "65536"]], "{text}");
    // Seen from the host, the container's root is uid 100000.
    let pid = c.state()["pid"].as_i64().expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(status.lines().any(|l| l.starts_with("Uid:\t100000\t")), "{status}");
    // exec joins the user namespace too.
    let out = c.rt(&["exec", &c.id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let text = stdout(&out);
    assert!(out.status.success(), "exec failed: {}", stderr(&out));
    assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["0", "0", "100000", "65536"], "{text}");
}

#[test]
fn a_user_namespace_container_gets_a_hosts_node_only_when_it_is_the_device_asked_for() {
    // In a user namespace mknod is refused and the host's node at the same path is bound
    // instead (the defaults /dev/null... pass that way): a node whose numbers differ from
    // the spec's (/dev/kmsg is 1:11, not 1:3) is refused, never bound as a stand-in.
    let c = Ctr::new(&["true"]);
    c.edit(|v| {
        v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]);
    });
    let out = c.create(&[]);
    assert!(!out.status.success(), "a stand-in device was accepted");
    assert!(c.output_text().contains("/dev/kmsg") || stderr(&out).contains("/dev/kmsg"), "{} {}", c.output_text(), stderr(&out));
}

#[test]
fn a_user_namespace_container_runs_under_a_private_runtime_root() {
    // berth-runtime makes its own root 0700 (as runc does): a container whose root is an
    // unprivileged host uid must still be created, started and exec'd into.
    let c = Ctr::new(&["sh", "-c", "id -u; exec sleep 1000"]);
    std::fs::set_permissions(c.root.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod root");
    c.edit(|v| {
        v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success(), "start failed: {}", c.output_text());
    assert!(wait_until(5, || c.output_text().lines().count() >= 1), "output: {}", c.output_text());
    assert_eq!(c.output_text().trim(), "0");
    let out = c.rt(&["exec", &c.id, "id", "-u"]);
    assert!(out.status.success(), "exec failed: {}", stderr(&out));
}

#[test]
fn a_user_namespace_container_gets_its_terminal_through_a_console_socket_only_root_may_reach() {
    // The socket's directory is 0700 root (as a shim's or engine's is): init, root of a
    // user namespace mapped to an unprivileged host uid, could not connect by path; the
    // runtime connects it (as runc does) and hands init the connection.
    let c = Ctr::new(&["sh", "-c", "id -u; tty; echo hi-from-userns-tty; exec sleep 1000"]);
    c.edit(|v| {
        v["process"]["terminal"] = json!(true);
        v["linux"]["namespaces"].as_array_mut().expect("ns").push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let private = TempDir::new("rtconsole");
    std::fs::set_permissions(private.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    let seen = run_on_console_socket(&c, &private.path().join("console.sock"), "hi-from-userns-tty");
    assert!(seen.contains("/dev/pts/0") && seen.contains("hi-from-userns-tty"), "tty output: {seen:?}");
    assert!(seen.lines().next().is_some_and(|l| l.trim() == "0"), "root inside the namespace: {seen:?}");
}

// ---- root propagation, a pid namespace by path, non-root users, seccomp vs. the runtime ----

/// Adds `cap` to the bounding, effective and permitted sets of the default spec.
fn add_cap(v: &mut Value, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        v["process"]["capabilities"][set].as_array_mut().expect("capability set").push(json!(cap));
    }
}

#[test]
fn the_containers_root_gets_the_rootfs_propagation_config_json_asks_for() {
    // A mount made under "/" shows up in a recursive bind of "/" only when "/" is shared;
    // an unbindable "/" cannot be bound at all.
    let script = "mkdir -p /t /m /s && echo data > /s/f && \
                  if ! mount -o rbind / /t 2>/dev/null; then echo bind-refused; exit 0; fi; \
                  mount -o bind /s /m && if [ -e /t/m/f ]; then echo exposed; else echo hidden; fi";
    for (mode, want) in [
        ("shared", "exposed"),
        ("rshared", "exposed"),
        ("slave", "hidden"),
        ("rslave", "hidden"),
        ("private", "hidden"),
        ("unbindable", "bind-refused"),
        ("runbindable", "bind-refused"),
    ] {
        let c = Ctr::new(&["sh", "-c", script]);
        c.edit(|v| {
            v["linux"]["rootfsPropagation"] = json!(mode);
            add_cap(v, "CAP_SYS_ADMIN");
        });
        let out = c.rt(&["run", &c.id]);
        assert!(out.status.success(), "{mode}: run failed: {} / {}", stderr(&out), stdout(&out));
        assert_eq!(stdout(&out).trim(), want, "rootfsPropagation {mode}");
        // Whatever the mode, the container's mounts stay in the container.
        let host = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        assert!(!host.contains(&*c.bundle.path().to_string_lossy()), "{mode}: a container mount reached the host:\n{host}");
    }
}

/// `unshare --pid --fork sleep`: a pid namespace with a live pid 1, killed (with everything
/// in it) on drop.
struct PidNsHolder(std::process::Child);

impl PidNsHolder {
    fn new() -> Self {
        let child = Command::new("unshare").args(["--pid", "--kill-child", "sleep", "1000"]).spawn().expect("run unshare");
        let h = PidNsHolder(child);
        let ours = std::fs::read_link("/proc/self/ns/pid").expect("our pid ns");
        assert!(wait_until(5, || std::fs::read_link(h.path()).is_ok_and(|l| l != ours)), "unshare did not make a pid namespace");
        h
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/pid_for_children", self.0.id())
    }
}

impl Drop for PidNsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_pid_namespace_given_by_path_is_joined_and_the_creating_thread_stays_in_its_own() {
    let holder = PidNsHolder::new();
    let target = std::fs::read_link(holder.path()).expect("target ns");
    let with_pid_path = |v: &mut Value| {
        for ns in v["linux"]["namespaces"].as_array_mut().expect("ns") {
            if ns["type"] == "pid" {
                ns["path"] = json!(holder.path());
            }
        }
    };
    let c = Ctr::new(&["sh", "-c", "echo pid=$$; exec sleep 1000"]);
    c.edit(with_pid_path);
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert!(wait_until(5, || c.output_text().contains("pid=")), "output: {}", c.output_text());
    let pid = c.state()["pid"].as_i64().expect("pid");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/ns/pid")).expect("container ns"), target);
    // pid 1 there is the holder's sleep, so the container's process is not.
    assert!(!c.output_text().contains("pid=1\n"), "{}", c.output_text());

    // From the library, in this (multi-threaded) test process: the namespace is entered
    // only for the clone of init, and this thread's next children are born in its own again.
    let lib = Ctr::new(&["sleep", "1000"]);
    lib.edit(with_pid_path);
    let rt = berth::runtime::Runtime::new(lib.root.path()).with_init_exe(common::berth_bin());
    let null = std::fs::File::options().read(true).write(true).open("/dev/null").expect("null");
    use std::os::fd::AsRawFd;
    let fd = null.as_raw_fd();
    let opts = berth::runtime::CreateOptions { stdio: Some([fd, fd, fd]), ..Default::default() };
    let st = rt.create(&lib.id, lib.bundle.path(), &opts).expect("library create");
    assert_eq!(std::fs::read_link(format!("/proc/{}/ns/pid", st.pid)).expect("init ns"), target);
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/pid_for_children").expect("for children"),
        std::fs::read_link("/proc/thread-self/ns/pid").expect("own"),
        "the creating thread was left in the container's pid namespace"
    );
    rt.delete(&lib.id, true).expect("delete");
}

#[test]
fn a_non_root_user_with_dac_override_runs_from_a_rootfs_only_root_may_enter() {
    let script = "id -u; pwd; cat /etc/passwd >/dev/null && echo read-ok";
    let user_with = |caps: &[&str]| {
        let c = Ctr::new(&["sh", "-c", script]);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(c.bundle.path().join("rootfs"), std::fs::Permissions::from_mode(0o700)).expect("chmod rootfs");
        c.edit(|v| {
            v["process"]["user"] = json!({"uid": 10, "gid": 10});
            for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
                v["process"]["capabilities"][set] = json!(caps);
            }
        });
        c
    };
    let c = user_with(&["CAP_DAC_OVERRIDE"]);
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {} / {}", stderr(&out), stdout(&out));
    assert_eq!(stdout(&out), "10\n/\nread-ok\n");
    // Without the capability the same user cannot reach its executable: a create-time error.
    let c = user_with(&[]);
    let out = c.rt(&["run", &c.id]);
    assert!(!out.status.success(), "ran without the capability: {}", stdout(&out));
    assert!(stderr(&out).contains("exec: \"sh\": permission denied"), "stderr: {}", stderr(&out));
}

/// A profile that allows everything but `names` (errno EPERM); with no_new_privs off it is
/// installed before the user switch, while the runtime still has work to do.
fn refuse_syscalls(v: &mut Value, names: &[&str]) {
    v["process"]["noNewPrivileges"] = json!(false);
    v["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
}

#[test]
fn a_seccomp_profile_that_refuses_getcwd_does_not_trip_the_runtimes_own_cwd_check() {
    let c = Ctr::new(&["sh", "-c", "/bin/pwd; echo rc=$?"]);
    c.edit(|v| refuse_syscalls(v, &["getcwd"]));
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {} / {}", stderr(&out), stdout(&out));
    assert_eq!(stdout(&out), "rc=1\n", "getcwd is refused to the process: {}", stderr(&out));
}

#[test]
fn a_seccomp_profile_older_than_faccessat2_still_lets_the_runtime_find_the_executable() {
    let c = Ctr::new(&["echo", "found"]);
    c.edit(|v| refuse_syscalls(v, &["faccessat2"]));
    let out = c.rt(&["run", &c.id]);
    assert!(out.status.success(), "run failed: {} / {}", stderr(&out), stdout(&out));
    assert_eq!(stdout(&out), "found\n");
}

#[test]
fn start_returns_once_the_users_process_has_replaced_the_runtimes_init() {
    // With noNewPrivileges the seccomp filter goes in between `start` waking init and
    // init's execve; a long profile makes that stretch long enough to be seen.
    let rules: Vec<Value> = (0..500)
        .map(|i| json!({"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [{"index": 1, "value": 100 + i, "op": "SCMP_CMP_EQ"}]}))
        .collect();
    for _ in 0..5 {
        let c = Ctr::new(&["sleep", "1000"]);
        c.edit(|v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": rules}));
        assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
        let pid = c.state()["pid"].as_i64().expect("pid");
        assert!(c.rt(&["start", &c.id]).status.success());
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_else(|e| panic!("{e}: {}", c.output_text()));
        assert_eq!(exe, Path::new("/bin/busybox"), "start returned while init had not exec'd the user's process yet");
    }
}

// ---- cgroup limits: memory, cpu realtime, blkio, refusals, relative paths ----

/// The trimmed content of a cgroup file (the test fails naming it when it is unreadable).
fn read_file(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_owned()
}

/// A file of container cgroup `cg` (v1: in controller `ctrl`).
fn cg_read(cg: &str, ctrl: &str, v1_file: &str, v2_file: &str) -> String {
    read_file(&cgroup_file(cg, ctrl, v1_file, v2_file))
}

/// Whether the host mounts v1 controller `ctrl` (Debian mounts each at /sys/fs/cgroup/<ctrl>).
fn v1_mounted(ctrl: &str) -> bool {
    !is_v2() && Path::new("/sys/fs/cgroup").join(ctrl).join("cgroup.procs").exists()
}

/// Removes cgroup `0` and everything below it in every hierarchy when dropped (parents a
/// test made or that a cgroupsPath created), killing what is left inside.
struct CgroupTree(String);

impl Drop for CgroupTree {
    fn drop(&mut self) {
        common::engines::remove_cgroup_tree(&self.0);
    }
}

/// Removes (empty) directories when dropped, in order.
struct RmDirs(Vec<PathBuf>);

impl Drop for RmDirs {
    fn drop(&mut self) {
        for d in &self.0 {
            wait_until(2, || std::fs::remove_dir(d).is_ok() || !d.exists());
        }
    }
}

/// A scratch cgroup `name` in v1 controller `ctrl` that lives for the guard's lifetime:
/// what files a fresh (non-root) cgroup of this kernel has.
fn probe_cgroup(ctrl: &str, name: &str) -> (PathBuf, CgroupTree) {
    let dir = Path::new("/sys/fs/cgroup").join(ctrl).join(name);
    std::fs::create_dir_all(&dir).expect("probe cgroup");
    (dir, CgroupTree(name.to_owned()))
}

impl Ctr {
    /// Asserts that create fails naming linux.resources.`field`, and leaves no state and
    /// no cgroup behind.
    fn assert_refused(&self, field: &str) -> String {
        let out = self.create(&[]);
        let text = self.output_text();
        assert!(!out.status.success(), "create with {field} succeeded");
        assert!(text.contains(&format!("linux.resources.{field}")), "the error names {field}: {text}");
        assert!(!self.root.path().join(&self.id).exists(), "no state left");
        let left: Vec<_> = cgroup_dirs(&self.cgroup).into_iter().filter(|d| d.exists()).collect();
        assert!(left.is_empty(), "no cgroup left: {left:?}");
        text
    }

    /// `exec`s `sh -c script` in the running container and returns its stdout.
    fn exec_sh(&self, script: &str) -> String {
        let out = self.rt(&["exec", &self.id, "sh", "-c", script]);
        assert!(out.status.success(), "exec {script:?} failed: {}", stderr(&out));
        stdout(&out)
    }

    fn update(&self, args: &[&str]) -> Output {
        let mut a = vec!["update"];
        a.extend_from_slice(args);
        a.push(&self.id);
        self.rt(&a)
    }
}

const MIB: u64 = 1 << 20;

#[test]
fn memory_reservation_swappiness_and_a_disabled_oom_killer_reach_the_cgroup_and_the_container_sees_them() {
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| {
        v["mounts"].as_array_mut().expect("mounts").push(cgroup_mount());
        v["linux"]["resources"] = json!({"memory": {"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 128 * MIB,
            "swappiness": 10, "disableOOMKiller": true}});
    });
    if is_v2() {
        // cgroup v2 has no per-cgroup swappiness: refused, not ignored.
        c.assert_refused("memory.swappiness");
        return;
    }
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert_eq!(cg_read(&c.cgroup, "memory", "memory.soft_limit_in_bytes", ""), (32 * MIB).to_string());
    assert_eq!(cg_read(&c.cgroup, "memory", "memory.memsw.limit_in_bytes", ""), (128 * MIB).to_string());
    assert_eq!(cg_read(&c.cgroup, "memory", "memory.swappiness", ""), "10");
    assert!(cg_read(&c.cgroup, "memory", "memory.oom_control", "").starts_with("oom_kill_disable 1\n"));
    assert!(c.rt(&["start", &c.id]).status.success());
    let inside = c.exec_sh("cd /sys/fs/cgroup/memory && cat memory.soft_limit_in_bytes memory.swappiness && head -n1 memory.oom_control");
    assert_eq!(inside, format!("{}\n10\noom_kill_disable 1\n", 32 * MIB), "seen inside");
}

#[test]
fn update_raises_memory_past_the_old_memory_plus_swap_and_changes_the_reservation_live() {
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| v["linux"]["resources"] = json!({"memory": {"limit": 64 * MIB, "swap": 128 * MIB, "reservation": 32 * MIB}}));
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    // 256m is above the current memory+swap (128m): the kernel takes it only once the new
    // memory+swap is in place, so the order of the two writes matters.
    let out = c.update(&["--memory", "256m", "--memory-swap", "512m", "--memory-reservation", "16m"]);
    assert!(out.status.success(), "update failed: {}", stderr(&out));
    let read = |v1: &str, v2: &str| cg_read(&c.cgroup, "memory", v1, v2);
    assert_eq!(read("memory.limit_in_bytes", "memory.max"), (256 * MIB).to_string());
    let swap = if is_v2() { 256 * MIB } else { 512 * MIB };
    assert_eq!(read("memory.memsw.limit_in_bytes", "memory.swap.max"), swap.to_string());
    assert_eq!(read("memory.soft_limit_in_bytes", "memory.low"), (16 * MIB).to_string());
    // And back down below the old memory limit (now memory first).
    let out = c.update(&["--memory", "32m", "--memory-swap", "48m"]);
    assert!(out.status.success(), "update down failed: {}", stderr(&out));
    assert_eq!(read("memory.limit_in_bytes", "memory.max"), (32 * MIB).to_string());
    let swap = if is_v2() { 16 * MIB } else { 48 * MIB };
    assert_eq!(read("memory.memsw.limit_in_bytes", "memory.swap.max"), swap.to_string());
}

#[test]
fn with_the_oom_killer_disabled_a_container_past_its_limit_waits_under_oom_instead_of_dying() {
    // awk doubles a string until it outgrows 16 MiB (no swap: memory+swap = memory).
    let c = Ctr::new(&["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"]);
    c.edit(|v| v["linux"]["resources"] = json!({"memory": {"limit": 16 * MIB, "swap": 16 * MIB, "disableOOMKiller": true}}));
    if is_v2() {
        c.assert_refused("memory.disableOOMKiller");
        return;
    }
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    let pid = c.state()["pid"].as_i64().expect("pid") as i32;
    assert!(c.rt(&["start", &c.id]).status.success());
    let oom = || cg_read(&c.cgroup, "memory", "memory.oom_control", "");
    assert!(wait_until(20, || oom().contains("under_oom 1")), "the cgroup reaches its limit: {}", oom());
    assert!(pid_alive(pid), "the process waits instead of being killed");
    assert!(oom().contains("oom_kill 0"), "{}", oom());
    assert_eq!(c.state()["status"], "running");
    // A waiting process is still killable: delete --force ends it.
    let out = c.rt(&["delete", "--force", &c.id]);
    assert!(out.status.success(), "delete --force: {}", stderr(&out));
    assert!(!pid_alive(pid));
}

/// The scheduling policy of `pid` as chrt(1) names it.
fn sched_policy(pid: i64) -> String {
    let out = Command::new("chrt").args(["-p", &pid.to_string()]).output().expect("chrt -p");
    String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().rsplit(' ').next().unwrap_or_default().to_owned()
}

#[test]
fn a_realtime_budget_lets_the_container_process_become_real_time_and_update_changes_it_live() {
    let n: u32 = rand::random();
    let parent = format!("berth-rt-rtp-{n:08x}");
    let _tree = CgroupTree(parent.clone());
    let mut c = Ctr::new(&["sleep", "1000"]);
    c.cgroup = format!("/{parent}/c");
    let cg = c.cgroup.clone();
    c.edit(|v| {
        v["linux"]["cgroupsPath"] = json!(cg);
        v["linux"]["resources"] = json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}});
    });
    if !v1_mounted("cpu") || !Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        // cgroup v2 (or a kernel without RT group scheduling) has no real-time budget.
        c.assert_refused("cpu.realtime");
        return;
    }
    // The container's parent gets a budget to hand out (as dockerd --cpu-rt-runtime does).
    let parent_dir = Path::new("/sys/fs/cgroup/cpu").join(&parent);
    std::fs::create_dir(&parent_dir).expect("parent cgroup");
    std::fs::write(parent_dir.join("cpu.rt_runtime_us"), "50000").expect("parent budget");
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    assert_eq!(cg_read(&c.cgroup, "cpu", "cpu.rt_runtime_us", ""), "10000");
    assert_eq!(cg_read(&c.cgroup, "cpu", "cpu.rt_period_us", ""), "1000000");
    let pid = c.state()["pid"].as_i64().expect("pid");
    let st = Command::new("chrt").args(["-f", "-p", "1", &pid.to_string()]).status().expect("chrt -f");
    assert!(st.success(), "SCHED_FIFO is allowed in a cgroup with a real-time budget");
    assert_eq!(sched_policy(pid), "SCHED_FIFO");

    let out = c.update(&["--cpu-rt-runtime", "20000"]);
    assert!(out.status.success(), "update failed: {}", stderr(&out));
    assert_eq!(cg_read(&c.cgroup, "cpu", "cpu.rt_runtime_us", ""), "20000");
    // More than the parent has is refused, naming the field and the parent's budget.
    let out = c.update(&["--cpu-rt-runtime", "60000"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("linux.resources.cpu.realtimeRuntime") && stderr(&out).contains("cpu.rt_runtime_us"), "{}", stderr(&out));
    assert_eq!(cg_read(&c.cgroup, "cpu", "cpu.rt_runtime_us", ""), "20000", "unchanged");

    // Without a budget above it (a cgroup below the parent has none), the container
    // cannot get one.
    let mut d = Ctr::new(&["sleep", "1000"]);
    d.cgroup = format!("/{parent}/none/d");
    let cg = d.cgroup.clone();
    d.edit(|v| {
        v["linux"]["cgroupsPath"] = json!(cg);
        v["linux"]["resources"] = json!({"cpu": {"realtimeRuntime": 10000}});
    });
    let text = d.assert_refused("cpu.realtimeRuntime");
    assert!(text.contains("dockerd: --cpu-rt-runtime"), "the error says what to do: {text}");
}

/// A real block device of the host as (major, minor): the first of /sys/block that is not
/// a loop, ram or zram device, else any.
fn a_block_device() -> (u32, u32) {
    let mut devs: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path().join("dev")).ok()?)))
        .collect();
    devs.sort_by_key(|(name, _)| ["loop", "ram", "zram"].iter().any(|p| name.starts_with(p)));
    let (_, dev) = devs.first().expect("a block device");
    let (major, minor) = dev.trim().split_once(':').expect("major:minor");
    (major.parse().expect("major"), minor.parse().expect("minor"))
}

#[test]
fn block_io_throttles_reach_the_cgroup_per_device_and_weight_updates_apply_where_the_kernel_has_them() {
    let (major, minor) = a_block_device();
    let dev = format!("{major}:{minor}");
    let c = Ctr::new(&["sleep", "1000"]);
    c.edit(|v| {
        v["mounts"].as_array_mut().expect("mounts").push(cgroup_mount());
        v["linux"]["resources"] = json!({"blockIO": {
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}});
    });
    assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
    assert!(c.rt(&["start", &c.id]).status.success());
    if is_v2() {
        let io = cg_read(&c.cgroup, "", "", "io.max");
        assert!(io.lines().any(|l| l.starts_with(&dev) && l.contains("rbps=1048576") && l.contains("wiops=100")), "io.max: {io}");
    } else {
        assert_eq!(cg_read(&c.cgroup, "blkio", "blkio.throttle.read_bps_device", ""), format!("{dev} 1048576"));
        assert_eq!(cg_read(&c.cgroup, "blkio", "blkio.throttle.write_iops_device", ""), format!("{dev} 100"));
        let inside = c.exec_sh("cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device");
        assert_eq!(inside, format!("{dev} 1048576\n"), "seen inside");
        // Changed live by update -r.
        let res = c.bundle.path().join("res.json");
        let body = json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}]}});
        std::fs::write(&res, body.to_string()).expect("res");
        let out = c.update(&["-r", &res.to_string_lossy()]);
        assert!(out.status.success(), "update -r failed: {}", stderr(&out));
        assert_eq!(cg_read(&c.cgroup, "blkio", "blkio.throttle.read_bps_device", ""), format!("{dev} 2097152"));
    }
    // The weight goes to whichever file this kernel has (blkio.weight, or the bfq one since
    // CFQ is gone), and is refused by name when it has none.
    let dir = cgroup_file(&c.cgroup, "blkio", "", "");
    let file = ["blkio.weight", "blkio.bfq.weight", "io.bfq.weight", "io.weight"].into_iter().find(|f| dir.join(f).exists());
    let out = c.update(&["--blkio-weight", "300"]);
    match file {
        Some(f) => {
            assert!(out.status.success(), "update --blkio-weight failed: {}", stderr(&out));
            let v = read_file(&dir.join(f));
            // v2 files print "default <weight>"; io.weight has the converted 1-10000 value.
            let want = match f {
                "io.weight" => "default 2930",
                "io.bfq.weight" => "default 300",
                _ => "300",
            };
            assert_eq!(v.lines().next(), Some(want), "{f}: {v}");
        }
        None => {
            assert!(!out.status.success(), "a weight with no file to take it must fail");
            assert!(stderr(&out).contains("linux.resources.blockIO.weight"), "{}", stderr(&out));
        }
    }
}

#[test]
fn limits_the_host_cannot_apply_are_refused_at_create_naming_the_field() {
    let n: u32 = rand::random();
    let with = |res: Value| {
        let c = Ctr::new(&["true"]);
        c.edit(|v| v["linux"]["resources"] = res);
        c
    };
    // blkio leaf weights went away with CFQ.
    let (has_leaf, _probe) = if is_v2() {
        (false, None)
    } else {
        let (dir, guard) = probe_cgroup("blkio", &format!("berth-rt-probe-{n:08x}"));
        (dir.join("blkio.leaf_weight").exists(), Some(guard))
    };
    let c = with(json!({"blockIO": {"leafWeight": 300}}));
    if has_leaf {
        assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
        assert_eq!(cg_read(&c.cgroup, "blkio", "blkio.leaf_weight", ""), "300");
    } else {
        c.assert_refused("blockIO.leafWeight");
    }
    // net_cls: only where a v1 hierarchy mounts it.
    let c = with(json!({"network": {"classID": 255}}));
    if v1_mounted("net_cls") {
        assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
        assert_eq!(cg_read(&c.cgroup, "net_cls", "net_cls.classid", ""), "255");
    } else {
        let text = c.assert_refused("network.classID");
        assert!(text.contains("net_cls"), "{text}");
    }
    // hugetlb: a page size the kernel offers, where the controller is there to limit it.
    let sizes: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse::<u64>().ok())
        .map(|kb| if kb >= 1 << 20 { format!("{}GB", kb >> 20) } else { format!("{}MB", kb >> 10) })
        .collect();
    let size = sizes.first().cloned().unwrap_or_else(|| "2MB".into());
    let c = with(json!({"hugepageLimits": [{"pageSize": size, "limit": 1u64 << 31}]}));
    let hugetlb_there =
        !sizes.is_empty() && (v1_mounted("hugetlb") || (is_v2() && read_file(Path::new("/sys/fs/cgroup/cgroup.controllers")).contains("hugetlb")));
    if hugetlb_there {
        assert!(c.create(&[]).status.success(), "create failed: {}", c.output_text());
        let limit = cg_read(&c.cgroup, "hugetlb", &format!("hugetlb.{size}.limit_in_bytes"), &format!("hugetlb.{size}.max"));
        assert_eq!(limit, (1u64 << 31).to_string());
    } else {
        let text = c.assert_refused(&format!("hugepageLimits[{size}]"));
        assert!(text.contains("hugetlb"), "{text}");
    }
    // A page size that does not exist anywhere.
    with(json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]})).assert_refused("hugepageLimits[3MB]");
    // Out-of-range swappiness, and a page size that would name a file outside the cgroup.
    with(json!({"memory": {"swappiness": 101}})).assert_refused("memory.swappiness");
    with(json!({"hugepageLimits": [{"pageSize": "../../x", "limit": 1}]})).assert_refused("hugepageLimits[../../x]");
}

/// The cgroup of the calling process per hierarchy: controller list → path (v2: "").
fn own_cgroups() -> Vec<(String, String)> {
    read_file(Path::new("/proc/self/cgroup"))
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            Some((ctrls.to_owned(), path.trim_start_matches('/').to_owned()))
        })
        .collect()
}

/// `a/b` with empty parts dropped.
fn join_cg(a: &str, b: &str) -> String {
    [a, b].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("/")
}

#[test]
fn a_relative_cgroups_path_nests_below_the_runtimes_own_cgroups_and_delete_removes_the_container_cgroup() {
    let n: u32 = rand::random();
    let parent = format!("berth-rt-rel-{n:08x}");
    let _tree = CgroupTree(parent.clone());
    let rel = format!("rel-{n:08x}/c");
    // The runtime runs from cgroups of ours: on v1 /<parent> for pids and /<parent>/m for
    // memory (so two hierarchies differ), elsewhere where this test runs; on v2
    // /<parent>/runner, whose parent is where a relative path goes.
    let (moves, expect): (Vec<PathBuf>, Vec<PathBuf>) = if is_v2() {
        let runner = Path::new("/sys/fs/cgroup").join(&parent).join("runner");
        (vec![runner], vec![Path::new("/sys/fs/cgroup").join(&parent).join(&rel)])
    } else {
        let moves = vec![Path::new("/sys/fs/cgroup/pids").join(&parent), Path::new("/sys/fs/cgroup/memory").join(&parent).join("m")];
        let expect = own_cgroups()
            .into_iter()
            .filter(|(ctrls, _)| ctrls.split(',').any(|c| V1.contains(&c)))
            .map(|(ctrls, own)| {
                let own = match ctrls.as_str() {
                    "pids" => parent.clone(),
                    "memory" => format!("{parent}/m"),
                    _ => own,
                };
                Path::new("/sys/fs/cgroup").join(&ctrls).join(join_cg(&own, &rel))
            })
            .collect();
        (moves, expect)
    };
    // What the relative path leaves above the container's cgroups (runc removes only the
    // leaf); removed at the end.
    let _left = RmDirs(expect.iter().filter_map(|d| d.parent().map(Path::to_path_buf)).collect());
    for m in &moves {
        std::fs::create_dir_all(m).expect("runner cgroup");
    }
    let mut c = Ctr::new(&["sleep", "1000"]);
    c.cgroup = format!("/rel-{n:08x}/c");
    c.edit(|v| {
        v["linux"]["cgroupsPath"] = json!(rel);
        v["linux"]["resources"] = json!({"pids": {"limit": 5}});
    });
    let script = r#"for d in $MOVES; do echo $$ > "$d/cgroup.procs" || exit 99; done; exec "$0" "$@""#;
    let moves_env = moves.iter().map(|m| m.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let out_file = std::fs::File::create(c.out_path()).expect("out");
    let st = Command::new("sh")
        .args(["-c", script])
        .arg(role("berth-runtime"))
        .arg("--root")
        .arg(c.root.path())
        .args(["create", &c.id])
        .env("MOVES", moves_env)
        .current_dir(c.bundle.path())
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().expect("clone"))
        .stderr(out_file)
        .status()
        .expect("create");
    assert!(st.success(), "create failed: {}", c.output_text());
    let pid = c.state()["pid"].as_i64().expect("pid").to_string();
    for d in &expect {
        let procs = read_file(&d.join("cgroup.procs"));
        assert!(procs.lines().any(|l| l == pid), "init {pid} in {}: {procs:?}", d.display());
    }
    let pids_dir = expect.iter().find(|d| d.join("pids.max").exists()).expect("the pids cgroup");
    assert_eq!(read_file(&pids_dir.join("pids.max")), "5");
    // Every later command finds the same cgroups, whatever cgroup it runs from.
    assert!(c.rt(&["start", &c.id]).status.success());
    let out = c.update(&["--pids-limit", "7"]);
    assert!(out.status.success(), "update failed: {}", stderr(&out));
    assert_eq!(read_file(&pids_dir.join("pids.max")), "7");
    let inside = c.exec_sh("cat /proc/self/cgroup");
    for d in &expect {
        let tail = d.strip_prefix("/sys/fs/cgroup").expect("under /sys/fs/cgroup");
        let tail: PathBuf = if is_v2() { tail.to_path_buf() } else { tail.components().skip(1).collect() };
        assert!(inside.contains(&format!(":/{}\n", tail.display())), "exec joins {}: {inside}", d.display());
    }
    let out = c.rt(&["delete", "--force", &c.id]);
    assert!(out.status.success(), "delete failed: {}", stderr(&out));
    let left: Vec<_> = expect.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "delete removes the container's cgroup in every hierarchy: {left:?}");
}

/// Every file and directory below `dir` (relative names, sorted), not following symlinks.
fn tree_listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else { continue };
        for e in entries.flatten() {
            let r = rel.join(e.file_name());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(r.clone());
            }
            out.push(r);
        }
    }
    out.sort();
    out
}

/// The host's mount points at or below any of `dirs` (this test's own paths: other tests on
/// the machine mount and unmount elsewhere meanwhile).
fn host_mounts_below(dirs: &[&Path]) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    info.lines().filter_map(|l| l.split(' ').nth(4).map(str::to_owned)).filter(|p| dirs.iter().any(|d| Path::new(p).starts_with(d))).collect()
}

#[test]
fn mount_destinations_through_hostile_symlinks_are_resolved_inside_the_rootfs_and_touch_nothing_outside() {
    let host = TempDir::new("rthost");
    std::fs::write(host.path().join("canary"), b"host canary").expect("canary");
    let src = TempDir::new("rtsrc");
    std::fs::write(src.path().join("s"), b"bound dir").expect("src");
    std::fs::write(src.path().join("file"), b"bound file").expect("src file");
    let h = host.path().to_string_lossy().into_owned();
    let c = Ctr::new(&["cat", "/proc/self/mountinfo"]);
    let rootfs = c.bundle.path().join("rootfs");
    let hostile = rootfs.join("hostile");
    std::fs::create_dir_all(&hostile).expect("mkdir");
    let climb = "../../../../../../../../../../..";
    for (name, target) in [
        ("abs", h.clone()),
        ("etc", "/etc".into()),
        ("up", climb.into()),
        ("uphost", format!("{climb}{h}")),
        ("last", h.clone()),
        ("lastfile", format!("{h}/canary")),
    ] {
        std::os::unix::fs::symlink(&target, hostile.join(name)).expect("symlink");
    }
    let s = src.path().to_string_lossy().into_owned();
    let bind = |dst: &str, source: &str| json!({"destination": dst, "type": "bind", "source": source, "options": ["rbind", "rprivate"]});
    let tmpfs = |dst: &str| json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]});
    c.edit(|v| {
        let m = v["mounts"].as_array_mut().expect("mounts");
        m.push(bind("/hostile/abs/b1", &s));
        m.push(bind("/hostile/up/b2", &s));
        m.push(bind("/hostile/uphost/b3", &s));
        m.push(tmpfs("/hostile/last"));
        m.push(bind("/hostile/lastfile", &format!("{s}/file")));
        m.push(tmpfs("/hostile/etc/t1"));
        // Read-only and shared through the links too: the remount and the propagation change
        // must land on the new mount.
        m.push(json!({"destination": "/hostile/up/ro", "type": "bind", "source": s, "options": ["rbind", "ro"]}));
        m.push(json!({"destination": "/hostile/uphost/shared", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]}));
    });
    let host_before = tree_listing(host.path());
    let mounts_before = host_mounts_below(&[host.path(), src.path(), &rootfs]);
    let out = c.rt(&["run", &c.id]);
    let text = stdout(&out);
    assert!(out.status.success(), "run failed: {} / {text}", stderr(&out));
    // Each destination is the link's target taken inside the rootfs.
    let points: Vec<&str> = text.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    for want in [format!("{h}/b1"), "/b2".into(), format!("{h}/b3"), h.clone(), format!("{h}/canary"), "/etc/t1".into(), "/ro".into()] {
        assert!(points.contains(&want.as_str()), "{want} is not a mount point in the container: {points:?}");
    }
    let ro = text.lines().find(|l| l.split(' ').nth(4) == Some("/ro")).expect("ro line");
    assert!(ro.split(' ').nth(5).is_some_and(|o| o.split(',').any(|f| f == "ro")), "{ro}");
    let shared = text.lines().find(|l| l.split(' ').nth(4) == Some(&format!("{h}/shared"))).expect("shared line");
    assert!(shared.split(' ').nth(6).is_some_and(|o| o.starts_with("shared:")), "{shared}");
    // Nothing outside the rootfs was created, changed or mounted on.
    assert_eq!(tree_listing(host.path()), host_before, "the host dir changed");
    assert_eq!(std::fs::read(host.path().join("canary")).expect("canary"), b"host canary");
    assert!(!Path::new("/etc/t1").exists(), "made in the host's /etc");
    assert_eq!(tree_listing(src.path()), ["file", "s"].map(PathBuf::from), "the bind sources changed");
    assert_eq!(host_mounts_below(&[host.path(), src.path(), &rootfs]), mounts_before, "host mount table changed");
    // What was made for the links was made inside the rootfs.
    assert!(rootfs.join(h.trim_start_matches('/')).join("b1").is_dir());
    assert!(rootfs.join("etc/t1").is_dir());
}

#[test]
fn a_mount_destination_through_a_symlink_loop_is_refused_with_eloop_naming_it() {
    let c = Ctr::new(&["true"]);
    let rootfs = c.bundle.path().join("rootfs");
    std::os::unix::fs::symlink("b", rootfs.join("a")).expect("symlink");
    std::os::unix::fs::symlink("a", rootfs.join("b")).expect("symlink");
    c.edit(|v| {
        v["mounts"].as_array_mut().expect("mounts").push(json!({"destination": "/a/x", "type": "tmpfs", "source": "tmpfs"}));
    });
    let out = c.create(&[]);
    let text = c.output_text();
    assert!(!out.status.success(), "create through a loop succeeded");
    assert!(text.contains("/a/x") && text.contains("Too many levels of symbolic links"), "{text}");
    assert!(!c.root.path().join(&c.id).exists(), "state left behind");
    assert_eq!(std::fs::read_link(rootfs.join("a")).expect("link"), Path::new("b"), "the loop was changed");
}

#[test]
fn a_directory_swapped_for_a_host_symlink_while_containers_are_created_never_leads_a_mount_point_to_the_host() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let host = TempDir::new("rtrace");
    std::fs::write(host.path().join("canary"), b"host canary").expect("canary");
    let c = Ctr::new(&["true"]);
    let rootfs = c.bundle.path().join("rootfs");
    let (dir, link) = (rootfs.join("race"), rootfs.join("race.link"));
    std::fs::create_dir(&dir).expect("mkdir");
    std::os::unix::fs::symlink(host.path(), &link).expect("symlink");
    let mounts_before = host_mounts_below(&[host.path(), &rootfs]);
    let stop = AtomicBool::new(false);
    let swaps = AtomicU64::new(0);
    const ROUNDS: usize = 60;
    let mut failures = Vec::new();
    std::thread::scope(|s| {
        // "race" is a directory or a symlink to the host dir, flipped atomically as fast as
        // the kernel allows, while every create resolves a destination through it.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                nix::fcntl::renameat2(nix::fcntl::AT_FDCWD, &dir, nix::fcntl::AT_FDCWD, &link, nix::fcntl::RenameFlags::RENAME_EXCHANGE)
                    .expect("exchange");
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        });
        for i in 0..ROUNDS {
            c.edit(|v| {
                let m = v["mounts"].as_array_mut().expect("mounts");
                m.retain(|m| !m["destination"].as_str().is_some_and(|d| d.starts_with("/race/")));
                m.push(json!({"destination": format!("/race/new{i}/mnt"), "type": "tmpfs", "source": "tmpfs"}));
            });
            let out = c.create(&[]);
            if !out.status.success() {
                failures.push(c.output_text());
            }
            let _ = c.rt(&["delete", "-f", &c.id]);
        }
        stop.store(true, Ordering::Relaxed);
    });
    let listing = tree_listing(host.path());
    assert_eq!(listing, [PathBuf::from("canary")], "created on the host through the swapped link ({} of {ROUNDS} creates failed)", failures.len());
    assert_eq!(host_mounts_below(&[host.path(), &rootfs]), mounts_before, "host mount table changed");
    assert!(swaps.load(Ordering::Relaxed) > ROUNDS as u64, "the swapper barely ran");
    // A create that lost the race is refused by name, never half-done.
    for f in &failures {
        assert!(f.contains("/race/new"), "unclear failure: {f}");
    }
    eprintln!("{} swaps, {} of {ROUNDS} creates refused", swaps.load(Ordering::Relaxed), failures.len());
}
