//! Real containerd 1.6 drives berth's shim: `ctr run --runtime io.containerd.berth.v2`.
//! Each test starts a private containerd (own socket, root, state, config) with the shim's
//! link first on its PATH, imports a busybox docker-archive, and runs containers with
//! Debian's runc as the OCI runtime (via `--runtime-config-path`, which berth's shim reads).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::engines::{kill, tail, Containerd, BUSYBOX_IMAGE as IMAGE, CTR};
use common::{wait_until, TempDir};
use nix::sys::signal::Signal;

/// A private containerd on a temp dir plus the runtime options file berth's shim reads;
/// the containerd (with its containers and shims) is dropped before the directory.
struct Env {
    c: Containerd,
    tmp: TempDir,
}

impl std::ops::Deref for Env {
    type Target = Containerd;
    fn deref(&self) -> &Containerd {
        &self.c
    }
}

impl Env {
    fn start(tag: &str) -> Self {
        let tmp = TempDir::new(tag);
        Env { c: Containerd::start(tmp.path()), tmp }
    }

    /// berth's shim with Debian's runc as its OCI runtime.
    fn runtime_args(&self) -> Vec<String> {
        self.c.berth_shim_args(Some("/usr/sbin/runc"))
    }
}

/// `ctr events` in the background, collecting what it prints.
struct Events {
    child: Child,
    out: PathBuf,
}

impl Events {
    fn start(c: &Env) -> Self {
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
        kill(self.child.id() as i32, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn run_args<'a>(c: &'a Env, extra: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["run".into()];
    v.extend(c.runtime_args());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn ctr_run_foreground_gets_output_and_exit_code() {
    let c = Env::start("cd1");
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
    let c = Env::start("cd2");
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
    let shims = || {
        common::engines::pids_mentioning(c.dir())
            .into_iter()
            .filter(|&p| common::argv0_of(p).unwrap_or_default().contains("shim"))
            .collect::<Vec<_>>()
    };
    assert!(wait_until(10, || shims().is_empty()), "shim exits after delete: {:?}", shims());
}

#[test]
fn ctr_run_with_a_terminal() {
    let c = Env::start("cd3");
    c.import_busybox();
    let mut args = run_args(&c, &["-t", "--rm", IMAGE, "tty", "sh", "-c", "tty; stty size; echo tty-ok"]);
    let mut cmdline = format!("{CTR} --address {} --namespace {}", c.socket().display(), c.ns);
    for a in args.drain(..) {
        cmdline.push(' ');
        cmdline.push_str(&shell_quote(&a));
    }
    // `ctr run -t` needs a terminal: script(1) gives it one.
    let out = Command::new("script").args(["-qec", &cmdline, "/dev/null"]).stdin(Stdio::null()).output().expect("script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "tty inside: {text}\n{}", tail(&c.log(), 30));
    assert!(text.contains("tty-ok"), "output: {text}");
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
