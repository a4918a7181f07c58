//! Real dockerd 20.10 runs on berth-supervisor (`dockerd --containerd=<supervisor socket>`),
//! with berth's shim serving dockerd's default runtime io.containerd.runc.v2 (runc as the
//! OCI runtime, as dockerd asks). Everything runs on private paths with networking off.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{TempDir, wait_until};

const DOCKERD: &str = "/usr/sbin/dockerd";
const DOCKER: &str = "/usr/bin/docker";

/// berth-supervisor + dockerd on one temp dir; everything they started is removed on drop.
struct Stack {
    tmp: TempDir,
    cgroup_parent: String,
    supervisor: Option<Child>,
    dockerd: Option<Child>,
}

fn kill(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

impl Stack {
    fn start(tag: &str) -> Option<Self> {
        if !Path::new(DOCKERD).exists() || !Path::new(DOCKER).exists() {
            eprintln!("dockerd not installed; skipping");
            return None;
        }
        let tmp = TempDir::new(tag);
        let n: u32 = rand::random();
        let mut s = Stack { tmp, cgroup_parent: format!("berth-dk-{n:08x}"), supervisor: None, dockerd: None };
        let d = s.dir().to_path_buf();
        let sup = Command::new(common::role("berth-supervisor"))
            .arg("--address")
            .arg(d.join("sup.sock"))
            .arg("--root")
            .arg(d.join("sroot"))
            .arg("--state")
            .arg(d.join("sstate"))
            .args(["--runc-shim", "berth", "--log-level", "debug", "--log-file"])
            .arg(d.join("supervisor.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn supervisor");
        s.supervisor = Some(sup);
        assert!(wait_until(10, || std::os::unix::net::UnixStream::connect(d.join("sup.sock")).is_ok()), "supervisor up");
        let log = std::fs::File::create(d.join("dockerd.log")).expect("log");
        let dockerd = Command::new(DOCKERD)
            .arg("--containerd")
            .arg(d.join("sup.sock"))
            .args(["--containerd-namespace", "moby", "--data-root"])
            .arg(d.join("droot"))
            .arg("--exec-root")
            .arg(d.join("dexec"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"])
            .args(["--storage-driver", "vfs", "--cgroup-parent", &s.cgroup_parent])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("fd"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        s.dockerd = Some(dockerd);
        let up = wait_until(30, || s.docker(&["version"]).status.success());
        assert!(up, "dockerd up:\n{}", s.dockerd_log());
        Some(s)
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn dockerd_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("dockerd.log")).unwrap_or_default()
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .env("DOCKER_HOST", format!("unix://{}", self.dir().join("docker.sock").display()))
            .env("DOCKER_CONFIG", self.dir().join("client"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\nstdout: {}\nstderr: {}\ndockerd log tail:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.dockerd_log(), 30)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn import_busybox(&self) {
        self.docker_ok(&["import", &common::busybox_tar().to_string_lossy(), "busybox"]);
    }

    /// Processes whose command line names this test's directory (supervisor, dockerd, shims).
    fn helper_pids(&self) -> Vec<i32> {
        let needle = self.dir().to_string_lossy().into_owned();
        let me = std::process::id() as i32;
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            if pid != me
                && let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline"))
                && String::from_utf8_lossy(&cmd).contains(&needle)
            {
                out.push(pid);
            }
        }
        out
    }

    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(&self.cgroup_parent))
            .filter(|p| p.exists())
            .collect()
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Stack {
    fn drop(&mut self) {
        use nix::sys::signal::Signal;
        // Containers first, through docker while it is up.
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.docker(&["rm", "-f", id.trim()]);
        }
        if let Some(mut d) = self.dockerd.take() {
            kill(d.id() as i32, Signal::SIGTERM);
            if !wait_until(15, || matches!(d.try_wait(), Ok(Some(_)))) {
                kill(d.id() as i32, Signal::SIGKILL);
            }
            let _ = d.wait();
        }
        if let Some(mut s) = self.supervisor.take() {
            kill(s.id() as i32, Signal::SIGKILL);
            let _ = s.wait();
        }
        // Anything left (shims), then container processes in our cgroup parent.
        for pid in self.helper_pids() {
            kill(pid, Signal::SIGKILL);
        }
        for dir in self.cgroup_dirs() {
            for e in walkdirs(&dir) {
                if let Ok(procs) = std::fs::read_to_string(e.join("cgroup.procs")) {
                    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        kill(pid, Signal::SIGKILL);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for dir in self.cgroup_dirs() {
            let mut dirs = walkdirs(&dir);
            dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
            for d in dirs {
                wait_until(2, || std::fs::remove_dir(&d).is_ok() || !d.exists());
            }
        }
        // TempDir unmounts and removes the rest.
    }
}

/// `dir` and every directory below it.
fn walkdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

#[test]
fn docker_run_rm_echo() {
    let Some(s) = Stack::start("dk1") else { return };
    s.import_busybox();
    let out = s.docker_ok(&["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    let out = s.docker(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "exit code comes back through events");
}

#[test]
fn docker_detached_exec_pause_stats_stop() {
    let Some(s) = Stack::start("dk2") else { return };
    s.import_busybox();
    let id = s.docker_ok(&["run", "-d", "--network", "none", "busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]);
    let id = id.trim();
    let exec = s.docker(&["exec", id, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(exec.status.code(), Some(3), "exec exit code: {}", String::from_utf8_lossy(&exec.stderr));
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "in-exec\n");

    s.docker_ok(&["pause", id]);
    assert!(s.docker_ok(&["ps", "--format", "{{.Status}}"]).contains("Paused"));
    s.docker_ok(&["unpause", id]);
    assert!(!s.docker_ok(&["ps", "--format", "{{.Status}}"]).contains("Paused"));

    let top = s.docker_ok(&["top", id]);
    assert!(top.contains("sh -c"), "top: {top}");
    let stats = s.docker_ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", id]);
    assert!(!stats.trim().is_empty());

    s.docker_ok(&["stop", "-t", "5", id]);
    let state = s.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id]);
    assert_eq!(state.trim(), "exited 0", "stopped by SIGTERM");
    s.docker_ok(&["rm", id]);
}
