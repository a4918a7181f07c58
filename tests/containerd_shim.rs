//! Real containerd 1.6 drives berth's shim: `ctr run --runtime io.containerd.berth.v2`.
//! Each test starts a private containerd (own socket, root, state, config) with the shim's
//! link first on its PATH, imports a busybox docker-archive, and runs containers with
//! Debian's runc as the OCI runtime (via `--runtime-config-path`, which berth's shim reads).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{TempDir, wait_until};
use sha2::{Digest, Sha256};

const CONTAINERD: &str = "/usr/bin/containerd";
const CTR: &str = "/usr/bin/ctr";
const IMAGE: &str = "docker.io/library/busybox:latest";
const RUNTIME: &str = "io.containerd.berth.v2";

/// A private containerd and everything it started; all cleaned up on drop.
struct Containerd {
    tmp: TempDir,
    ns: String,
    child: Option<Child>,
}

impl Containerd {
    fn start(tag: &str) -> Self {
        let tmp = TempDir::new(tag);
        let n: u32 = rand::random();
        let mut c = Containerd { ns: format!("bt{n:08x}"), tmp, child: None };
        let d = c.tmp.path().to_path_buf();
        let config = format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{0}/c.sock\"\n[ttrpc]\n  address = \"{0}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"{0}/debug.sock\"\n  level = \"debug\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{0}/opt\"\n",
            d.display()
        );
        std::fs::write(d.join("config.toml"), config).expect("config.toml");
        std::fs::write(
            d.join("runtime.toml"),
            format!("BinaryName = \"/usr/sbin/runc\"\nRoot = \"{}/runc\"\n", d.display()),
        )
        .expect("runtime.toml");
        let path = format!("{}:{}", common::bin_dir().display(), std::env::var("PATH").unwrap_or_default());
        let log = std::fs::File::create(d.join("containerd.log")).expect("log");
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(d.join("config.toml"))
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        c.child = Some(child);
        let sock = c.socket();
        assert!(wait_until(20, || std::os::unix::net::UnixStream::connect(&sock).is_ok()), "containerd up:\n{}", c.log());
        c
    }

    fn socket(&self) -> PathBuf {
        self.tmp.path().join("c.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self) -> Command {
        let mut c = Command::new(CTR);
        c.arg("--address").arg(self.socket()).arg("--namespace").arg(&self.ns);
        c
    }

    fn ctr_out(&self, args: &[&str]) -> Output {
        self.ctr().args(args).stdin(Stdio::null()).output().expect("run ctr")
    }

    fn ctr_ok(&self, args: &[&str]) -> String {
        let out = self.ctr_out(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}\nstdout: {}\nstderr: {}\ncontainerd log tail:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn runtime_args(&self) -> Vec<String> {
        vec![
            "--runtime".into(),
            RUNTIME.into(),
            "--runtime-config-path".into(),
            self.tmp.path().join("runtime.toml").to_string_lossy().into_owned(),
        ]
    }

    /// Builds a docker-archive of the busybox rootfs and imports it as `IMAGE`.
    fn import_busybox(&self) {
        let dir = self.tmp.path().join("img");
        std::fs::create_dir_all(&dir).expect("img dir");
        let layer = std::fs::read(common::busybox_tar()).expect("busybox tar");
        let diff_id = hex::encode(Sha256::digest(&layer));
        std::fs::write(dir.join("layer.tar"), &layer).expect("layer");
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}
        });
        let config = serde_json::to_vec(&config).expect("config json");
        let config_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
        std::fs::write(dir.join(&config_name), &config).expect("config");
        let manifest = serde_json::json!([{"Config": config_name, "RepoTags": [IMAGE], "Layers": ["layer.tar"]}]);
        std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).expect("json")).expect("manifest");
        let archive = self.tmp.path().join("busybox-image.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&archive)
            .args(["manifest.json", &config_name, "layer.tar"])
            .status()
            .expect("tar");
        assert!(st.success());
        self.ctr_ok(&["image", "import", &archive.to_string_lossy()]);
    }

    /// Pids of processes whose command line mentions this test's directory (shims).
    fn helper_pids(&self) -> Vec<i32> {
        let needle = self.tmp.path().to_string_lossy().into_owned();
        let me = std::process::id() as i32;
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            if pid == me {
                continue;
            }
            if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline"))
                && String::from_utf8_lossy(&cmd).contains(&needle)
            {
                out.push(pid);
            }
        }
        out
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Containers first (runc state is in our dir), then containerd and the shims.
        let runc_root = self.tmp.path().join("runc").join(&self.ns);
        for root in [runc_root, self.tmp.path().join("runc")] {
            let list = Command::new("/usr/sbin/runc").arg("--root").arg(&root).args(["list", "-q"]).output();
            if let Ok(out) = list {
                for id in String::from_utf8_lossy(&out.stdout).lines() {
                    let _ = Command::new("/usr/sbin/runc")
                        .arg("--root")
                        .arg(&root)
                        .args(["delete", "-f", id.trim()])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
        if let Some(mut c) = self.child.take() {
            kill9(c.id() as i32);
            let _ = c.wait();
        }
        for pid in self.helper_pids() {
            kill9(pid);
        }
        wait_until(5, || self.helper_pids().is_empty());
        // ctr's default cgroup for a container is /<namespace>/<id>.
        for ctl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let ns_dir = ctl.path().join(&self.ns);
            if let Ok(rd) = std::fs::read_dir(&ns_dir) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        wait_until(2, || std::fs::remove_dir(e.path()).is_ok());
                    }
                }
            }
            if ns_dir.exists() {
                wait_until(2, || std::fs::remove_dir(&ns_dir).is_ok());
            }
        }
        // TempDir (a field) unmounts and removes the rest.
    }
}

/// `ctr events` in the background, collecting what it prints.
struct Events {
    child: Child,
    out: PathBuf,
}

impl Events {
    fn start(c: &Containerd) -> Self {
        let out = c.tmp.path().join("events.txt");
        let f = std::fs::File::create(&out).expect("events file");
        let child = c.ctr().arg("events").stdout(f).stderr(Stdio::null()).stdin(Stdio::null()).spawn().expect("ctr events");
        std::thread::sleep(Duration::from_millis(300));
        Events { child, out }
    }
    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        kill9(self.child.id() as i32);
        let _ = self.child.wait();
    }
}

fn run_args<'a>(c: &'a Containerd, extra: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["run".into()];
    v.extend(c.runtime_args());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn ctr_run_foreground_gets_output_and_exit_code() {
    let c = Containerd::start("cd1");
    c.import_busybox();
    let events = Events::start(&c);
    let args = run_args(&c, &["--rm", IMAGE, "fg", "sh", "-c", "echo hello from berth; echo to-stderr >&2; exit 3"]);
    let out = c.ctr().args(&args).stdin(Stdio::null()).output().expect("ctr run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "exit code; stdout {stdout}, stderr {}\n{}", String::from_utf8_lossy(&out.stderr), tail(&c.log(), 40));
    assert!(stdout.contains("hello from berth"), "stdout: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("to-stderr"), "stderr");
    // The shim published its events through containerd's publish binary.
    let ok = wait_until(20, || {
        let t = events.text();
        ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"].iter().all(|topic| t.contains(topic))
    });
    assert!(ok, "events seen by ctr events:\n{}", events.text());
    assert!(c.ctr_ok(&["container", "ls", "-q"]).trim().is_empty(), "--rm removed the container");
}

#[test]
fn ctr_detached_exec_pause_kill_delete() {
    let c = Containerd::start("cd2");
    c.import_busybox();
    let events = Events::start(&c);
    let args = run_args(&c, &["-d", IMAGE, "bg", "sh", "-c", "while true; do sleep 1; done"]);
    let out = c.ctr().args(&args).stdin(Stdio::null()).output().expect("ctr run -d");
    assert!(out.status.success(), "run -d: {}\n{}", String::from_utf8_lossy(&out.stderr), tail(&c.log(), 40));
    assert!(c.ctr_ok(&["task", "ls"]).contains("RUNNING"));

    let exec = c.ctr_out(&["task", "exec", "--exec-id", "x1", "bg", "sh", "-c", "echo in-exec $$; exit 4"]);
    assert_eq!(exec.status.code(), Some(4), "exec exit code: {}", String::from_utf8_lossy(&exec.stderr));
    assert!(String::from_utf8_lossy(&exec.stdout).contains("in-exec"), "exec output");

    let ps = c.ctr_ok(&["task", "ps", "bg"]);
    assert!(ps.lines().count() >= 2, "ps lists the init: {ps}");

    c.ctr_ok(&["task", "pause", "bg"]);
    assert!(c.ctr_ok(&["task", "ls"]).contains("PAUSED"));
    c.ctr_ok(&["task", "resume", "bg"]);
    assert!(c.ctr_ok(&["task", "ls"]).contains("RUNNING"));

    c.ctr_ok(&["task", "kill", "-s", "SIGKILL", "bg"]);
    assert!(wait_until(10, || c.ctr_ok(&["task", "ls"]).contains("STOPPED")), "task stops");
    c.ctr_ok(&["task", "delete", "bg"]);
    c.ctr_ok(&["container", "delete", "bg"]);
    let ok = wait_until(20, || {
        let t = events.text();
        ["/tasks/exec-added", "/tasks/exec-started", "/tasks/paused", "/tasks/resumed", "/tasks/exit", "/tasks/delete"]
            .iter()
            .all(|topic| t.contains(topic))
    });
    assert!(ok, "events:\n{}", events.text());
    let shims = || c.helper_pids().into_iter().filter(|&p| common::argv0_of(p).unwrap_or_default().contains("shim")).collect::<Vec<_>>();
    assert!(wait_until(10, || shims().is_empty()), "shim exits after delete: {:?}", shims());
}

#[test]
fn ctr_run_with_a_terminal() {
    let c = Containerd::start("cd3");
    c.import_busybox();
    let mut args = run_args(&c, &["-t", "--rm", IMAGE, "tty", "sh", "-c", "tty; stty size; echo tty-ok"]);
    let mut cmdline = format!("{CTR} --address {} --namespace {}", c.socket().display(), c.ns);
    for a in args.drain(..) {
        cmdline.push(' ');
        cmdline.push_str(&shell_quote(&a));
    }
    // `ctr run -t` needs a terminal: script(1) gives it one.
    let out = Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "tty inside: {text}\n{}", tail(&c.log(), 30));
    assert!(text.contains("tty-ok"), "output: {text}");
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

