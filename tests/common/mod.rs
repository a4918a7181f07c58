//! Shared test helpers: the berth binary and its role links, temp roots, the busybox rootfs.
//! Every integration test file includes this with `mod common;`.
#![allow(dead_code)]

pub mod engines;
pub mod http;
pub mod netns;
pub mod pty;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The berth binary cargo built for these tests.
/// The berth binary under test: cargo's build of this package, or `BERTH_BIN` (the benches
/// measure the shipped static release build that way; see examples/*-bench.sh).
pub fn berth_bin() -> PathBuf {
    std::env::var_os("BERTH_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth")))
}

/// A directory with every role name linked to the test binary, under cargo's target tmp
/// dir (made once, atomically, and shared by every test binary).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Keyed by the binary's path: a target dir copied from another checkout must not
        // reuse links that point into that checkout.
        let key: u64 = berth_bin().to_string_lossy().bytes().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        shared_artifact(&format!("bin-{key:016x}"), |tmp| {
            std::fs::create_dir_all(tmp).expect("create bin dir");
            let st = Command::new(berth_bin()).arg("install-links").arg(tmp).status().expect("install-links");
            assert!(st.success(), "berth install-links failed");
        })
    })
}

/// `<target tmp>/<name>`, built by `make` into a temp path and renamed into place, so that
/// concurrent test binaries never see a half-made artifact.
fn shared_artifact(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dest = base.join(name);
    if dest.exists() {
        return dest;
    }
    let tmp = base.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(&tmp);
    make(&tmp);
    if std::fs::rename(&tmp, &dest).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = std::fs::remove_file(&tmp);
    }
    dest
}

/// Path of one role's link, e.g. `role("berth-runtime")`.
pub fn role(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A fresh directory removed (after unmounting anything left below it) on drop.
/// Paths are kept short because unix socket paths are limited to 108 bytes.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n: u32 = rand::random();
        let p = PathBuf::from(format!("/tmp/bt-{tag}-{n:08x}"));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        unmount_below(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lazily unmounts every mount at or below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Makes sure Debian's busybox-static is installed and returns its path.
pub fn busybox() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    assert!(p.exists(), "/bin/busybox missing: install Debian's busybox-static (the README's test command does)");
    p
}

/// Fills `rootfs` with a minimal busybox system: /bin/busybox, one link per applet, and the
/// directories a container expects.
pub fn make_busybox_rootfs(rootfs: &Path) {
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc", "root", "var", "run"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir in rootfs");
    }
    std::fs::copy(busybox(), rootfs.join("bin/busybox")).expect("copy busybox");
    let out = Command::new(busybox()).arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let link = rootfs.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            std::os::unix::fs::symlink("busybox", &link).expect("applet link");
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").expect("group");
}

/// A tar of the busybox rootfs (for `berth import`), made once and shared.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        shared_artifact("busybox.tar", |tar| {
            let rootfs = TempDir::new("bbroot");
            make_busybox_rootfs(rootfs.path());
            let st = Command::new("tar").arg("-C").arg(rootfs.path()).arg("-cf").arg(tar).arg(".").status().expect("tar");
            assert!(st.success(), "tar of busybox rootfs failed");
        })
    })
}

/// Runs the berth client against the Engine API at `host` (`unix://PATH`).
pub fn berth_at(host: &str, args: &[&str]) -> std::process::Output {
    Command::new(berth_bin()).arg("-H").arg(host).args(args).output().expect("run berth")
}

/// `<runtime> --root <root> state <id>` (berth-runtime's or runc's) as JSON; None when it
/// fails (no such container).
pub fn runtime_state(runtime: &Path, root: &Path, id: &str) -> Option<serde_json::Value> {
    let out = Command::new(runtime).arg("--root").arg(root).args(["state", id]).output().expect("runtime state");
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Parent pid of `pid`, from /proc.
pub fn ppid_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

/// argv[0] of `pid`, from /proc.
pub fn argv0_of(pid: i32) -> Option<String> {
    let s = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = s.split(|&b| b == 0).next()?;
    Some(String::from_utf8_lossy(first).into_owned())
}

/// Polls `cond` every 20 ms until it holds or `secs` pass; returns whether it held.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// A berthd started on its own temp root, exec-root, socket and cgroup parent. Dropping it
/// kills the daemon, the supervisor and shims it started, every container process in its
/// cgroup parent, and removes the cgroups, mounts and files.
pub struct TestDaemon {
    pub dir: TempDir,
    pub monolithic: bool,
    pub cgroup_parent: String,
    pub daemon: Option<std::process::Child>,
    /// The network namespace berthd runs in (its bridges, veths and rules stay there).
    pub netns: netns::NetNs,
    /// berthd runs in the host's namespace instead, without networks (`--bridge none`,
    /// nothing made there), to reach servers on the host's loopback (a test registry).
    pub host_network: bool,
}

impl TestDaemon {
    /// Starts a modular daemon (with its own berth-supervisor).
    pub fn modular(tag: &str) -> Self {
        Self::start_new(tag, false)
    }

    /// Starts a monolithic daemon.
    pub fn monolithic(tag: &str) -> Self {
        Self::start_new(tag, true)
    }

    /// Starts a modular daemon with extra berthd arguments (`--storage-driver vfs`); a
    /// restart with [`start`](Self::start) does not repeat them.
    pub fn modular_with(tag: &str, extra: &[&str]) -> Self {
        Self::with_args(tag, false, extra)
    }

    fn start_new(tag: &str, monolithic: bool) -> Self {
        Self::with_args(tag, monolithic, &[])
    }

    /// Starts a daemon in either mode with extra berthd arguments.
    pub fn with_args(tag: &str, monolithic: bool, extra: &[&str]) -> Self {
        let mut d = Self::unstarted(tag, monolithic);
        d.start_with(extra);
        d
    }

    /// A daemon's fresh dirs, cgroup parent name and network namespace, not started yet.
    pub fn unstarted(tag: &str, monolithic: bool) -> Self {
        let dir = TempDir::new(tag);
        let n: u32 = rand::random();
        let netns = netns::NetNs::new_in(dir.path());
        TestDaemon { dir, monolithic, cgroup_parent: format!("berth-test-{tag}-{n:08x}"), daemon: None, netns, host_network: false }
    }

    /// A modular daemon in the host's network namespace with no networks of its own (it
    /// makes no bridge, veth, address or rule there), for tests of servers on the host's
    /// loopback (registries): its containers have loopback only.
    pub fn modular_host_net(tag: &str) -> Self {
        Self::host_net(tag, false)
    }

    /// [`modular_host_net`](Self::modular_host_net), monolithic.
    pub fn monolithic_host_net(tag: &str) -> Self {
        Self::host_net(tag, true)
    }

    fn host_net(tag: &str, monolithic: bool) -> Self {
        let mut d = Self::unstarted(tag, monolithic);
        d.host_network = true;
        d.start();
        d
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("berth.sock")
    }
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// (Re)starts berthd on the same dirs and waits until `/_ping` answers.
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Like [`start`](Self::start), with extra berthd arguments.
    pub fn start_with(&mut self, extra: &[&str]) {
        let _ = std::fs::remove_file(self.socket());
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("berthd.log")).expect("daemon log");
        let mut cmd = if self.host_network { Command::new(role("berthd")) } else { self.netns.cmd(role("berthd")) };
        if self.host_network {
            cmd.args(["--bridge", "none", "--ip-forward=false", "--ip-masq=false"]);
        }
        cmd.arg("-H")
            .arg(self.host())
            .arg("--root")
            .arg(self.root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .arg("--log-level")
            .arg("info,berth=debug")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        if self.monolithic {
            cmd.arg("--monolithic");
        }
        cmd.args(extra);
        self.daemon = Some(cmd.spawn().expect("spawn berthd"));
        let sock = self.socket();
        let up = wait_until(20, || std::os::unix::net::UnixStream::connect(&sock).is_ok());
        assert!(up, "berthd did not come up; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// Pid of the daemon process.
    pub fn pid(&self) -> i32 {
        self.daemon.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Pid of the berth-supervisor berthd started (modular mode).
    pub fn supervisor_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.exec_root().join("supervisor/supervisor.pid")).ok()?.trim().parse().ok()
    }

    /// SIGKILLs berthd and reaps it.
    pub fn kill_daemon(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILLs the supervisor and waits until it is gone.
    pub fn kill_supervisor(&self) {
        if let Some(pid) = self.supervisor_pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            assert!(wait_until(10, || !pid_alive(pid)), "supervisor {pid} did not die");
        }
    }

    /// Runs the berth client against this daemon.
    pub fn berth(&self, args: &[&str]) -> std::process::Output {
        berth_at(&self.host(), args)
    }

    /// Runs the berth client and returns stdout, failing the test on a non-zero exit.
    pub fn berth_ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Imports the busybox rootfs as image `busybox`.
    pub fn import_busybox(&self) {
        let tar = busybox_tar();
        self.berth_ok(&["import", &tar.to_string_lossy(), "busybox"]);
    }

    /// Pids of every process in this daemon's cgroup parent (all containers).
    pub fn container_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for ctrl in ["pids", "memory", "unified", ""] {
            let base = PathBuf::from("/sys/fs/cgroup").join(ctrl).join(&self.cgroup_parent);
            let Ok(rd) = std::fs::read_dir(&base) else { continue };
            for e in rd.flatten() {
                if let Ok(s) = std::fs::read_to_string(e.path().join("cgroup.procs")) {
                    pids.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
                }
            }
        }
        pids.sort();
        pids.dedup();
        pids
    }

    /// Whether container `id`'s cgroup is frozen, from its freezer (v1 `freezer.state`, or
    /// `cgroup.freeze` on a cgroup2-only host); None when the cgroup is not there.
    pub fn frozen(&self, id: &str) -> Option<bool> {
        let v1 = PathBuf::from("/sys/fs/cgroup/freezer").join(&self.cgroup_parent).join(id).join("freezer.state");
        if let Ok(s) = std::fs::read_to_string(&v1) {
            return Some(s.trim() != "THAWED");
        }
        let v2 = PathBuf::from("/sys/fs/cgroup").join(&self.cgroup_parent).join(id).join("cgroup.freeze");
        std::fs::read_to_string(v2).ok().map(|s| s.trim() == "1")
    }

    /// Pids of processes whose command line mentions this daemon's temp dir (shims).
    pub fn helper_pids(&self) -> Vec<i32> {
        pids_naming(self.dir.path())
    }

    /// Cgroup directories of this daemon still present.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in rd.flatten() {
                let p = e.path().join(&self.cgroup_parent);
                if p.exists() {
                    out.push(p);
                }
            }
        }
        let p = PathBuf::from("/sys/fs/cgroup").join(&self.cgroup_parent);
        if p.exists() {
            out.push(p);
        }
        out
    }

    /// Mounts below this daemon's temp dir.
    pub fn mounts(&self) -> Vec<String> {
        let prefix = self.dir.path().to_string_lossy().into_owned();
        // The test's own network namespace file is not the daemon's.
        let netns = self.netns.path.to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|p| p.starts_with(&prefix) && *p != netns)
            .collect()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill_daemon();
        let kill = |pid: i32| {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        };
        if let Some(pid) = self.supervisor_pid()
            && self.helper_pids().contains(&pid)
        {
            kill(pid);
        }
        for pid in self.helper_pids() {
            kill(pid);
        }
        // Published ports' proxies of a modular daemon run in sessions of their own and name
        // no path of ours: those in this daemon's network namespace are its own.
        if !self.host_network {
            for pid in self.netns.proxy_pids() {
                kill(pid);
            }
        }
        // A frozen process does not die of SIGKILL until it is thawed (a test that failed
        // with a container paused).
        for base in [Path::new("/sys/fs/cgroup/freezer"), Path::new("/sys/fs/cgroup")] {
            for e in std::fs::read_dir(base.join(&self.cgroup_parent)).into_iter().flatten().flatten() {
                let _ = std::fs::write(e.path().join("freezer.state"), "THAWED");
                let _ = std::fs::write(e.path().join("cgroup.freeze"), "0");
            }
        }
        for pid in self.container_pids() {
            kill(pid);
        }
        wait_until(5, || self.container_pids().is_empty() && self.helper_pids().is_empty());
        // Remove the container cgroups (children first), then the parent.
        for dir in self.cgroup_dirs() {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        wait_until(2, || std::fs::remove_dir(e.path()).is_ok() || !e.path().exists());
                    }
                }
            }
            wait_until(2, || std::fs::remove_dir(&dir).is_ok() || !dir.exists());
        }
    }
}

/// The static release build of this checkout (`.ci/run` builds it before the tests), for
/// what only a static binary can do (run inside a container's root filesystem).
pub fn shipped_static() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target dir>/tmp.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().map(PathBuf::from).unwrap_or_default();
    let bin = target.join("x86_64-unknown-linux-gnu/release/berth");
    need(bin.exists(), &format!("{} (the static release build; .ci/run builds it before the tests)", bin.display()));
    bin
}

/// Processes whose command line names `dir` (shims, supervisors, daemons of one test).
pub fn pids_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return out };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && String::from_utf8_lossy(&cmd).contains(&needle)
        {
            out.push(pid);
        }
    }
    out
}

/// The docker 28.x CLI of the machine image.
pub const DOCKER_28: &str = "/usr/local/bin/docker";

/// The docker 28.x CLI of the machine image, pointed at daemon `d` with its own config dir.
pub fn docker_cmd(d: &TestDaemon) -> Command {
    docker_bin_cmd(DOCKER_28, d)
}

/// The docker CLI `bin` pointed at daemon `d` with its own config dir.
pub fn docker_bin_cmd(bin: &str, d: &TestDaemon) -> Command {
    let mut c = Command::new(bin);
    c.env("DOCKER_HOST", d.host()).env("DOCKER_CONFIG", d.dir.path().join("docker-config"));
    c
}

/// Runs the docker CLI against `d`.
pub fn docker(d: &TestDaemon, args: &[&str]) -> std::process::Output {
    docker_cmd(d).args(args).output().expect("run docker")
}

/// Runs the docker CLI against `d` and returns stdout, failing the test (with the daemon
/// log's tail) on a non-zero exit.
pub fn docker_ok(d: &TestDaemon, args: &[&str]) -> String {
    docker_bin_ok(DOCKER_28, d, args)
}

/// Runs the docker CLI `bin` against `d` and returns stdout, failing the test (with the
/// daemon log's tail) on a non-zero exit.
pub fn docker_bin_ok(bin: &str, d: &TestDaemon, args: &[&str]) -> String {
    let out = docker_bin_cmd(bin, d).args(args).output().expect("run docker");
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

/// Runs the docker CLI `bin` against `d` and fails the test unless the command fails with
/// `says` in its stderr.
pub fn docker_bin_fails_saying(bin: &str, d: &TestDaemon, args: &[&str], says: &str) {
    let out = docker_bin_cmd(bin, d).args(args).output().expect("docker");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(says), "{bin} {args:?}: expected {says:?} in: {err}");
}

/// A peer a test needs (dockerd, containerd, a shim, a cgroup controller): when it is
/// missing the test fails saying what to install; it never skips and passes.
pub fn need(present: bool, what: &str) {
    assert!(present, "{what} is missing: the README's test command (bash .ci/run) installs every peer the tests need");
}

/// A whole-disk block device of the host (`/dev/<name>` of the first of /sys/block), which
/// cgroup block I/O limits can name (they refuse partitions).
pub fn block_device() -> String {
    let mut names: Vec<String> =
        std::fs::read_dir("/sys/block").expect("/sys/block").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type())))
        .expect("a whole-disk block device in /sys/block with its node in /dev")
}

/// `name` as the shell would find it on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}
