//! The real engines berth is tested against, each on private paths: Debian's containerd 1.6
//! (own config, socket, root, state, namespace) and dockerd 20.10 (own data-root, exec-root,
//! socket, pid file, cgroup parent; networking off). Dropping one removes what it started:
//! containers, shims, cgroups. The caller owns the directory (a [`super::TempDir`] dropped
//! after the engines unmounts and removes what is left in it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use nix::sys::signal::Signal;
use sha2::{Digest, Sha256};

use super::wait_until;

/// Debian's containerd.
pub const CONTAINERD: &str = "/usr/bin/containerd";
/// Debian's ctr.
pub const CTR: &str = "/usr/bin/ctr";
/// Debian's dockerd (docker.io).
pub const DOCKERD: &str = "/usr/sbin/dockerd";
/// Debian's docker CLI (same version as its dockerd).
pub const DOCKER: &str = "/usr/bin/docker";
/// The name the busybox image is imported under.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:latest";

/// Sends `sig` to `pid` (errors ignored: it may be gone already).
pub fn kill(pid: i32, sig: Signal) {
    if pid > 0 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// The last `n` lines of `s` (for failure messages).
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Pids of processes (other than this test) whose command line mentions `dir`: the shims
/// and helpers an engine started on that directory.
pub fn pids_mentioning(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
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

/// SIGKILLs every process mentioning `dir` and waits (briefly) until they are gone.
pub fn kill_mentioning(dir: &Path) {
    for pid in pids_mentioning(dir) {
        kill(pid, Signal::SIGKILL);
    }
    wait_until(5, || pids_mentioning(dir).is_empty());
}

/// `dir` and every directory below it, parents before children.
pub fn walkdirs(dir: &Path) -> Vec<PathBuf> {
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

/// The directories of cgroup `name` (relative to the hierarchy roots) on every hierarchy.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(name))
        .chain(std::iter::once(PathBuf::from("/sys/fs/cgroup").join(name)))
        .filter(|p| p.is_dir())
        .collect()
}

/// SIGKILLs every process in cgroup `name` or below it (thawing it first: a frozen process
/// does not die) and removes those cgroups, deepest first.
pub fn remove_cgroup_tree(name: &str) {
    let dirs: Vec<PathBuf> = cgroup_dirs(name).iter().flat_map(|d| walkdirs(d)).collect();
    for d in &dirs {
        if d.join("freezer.state").exists() {
            let _ = std::fs::write(d.join("freezer.state"), "THAWED");
        }
        if d.join("cgroup.freeze").exists() {
            let _ = std::fs::write(d.join("cgroup.freeze"), "0");
        }
    }
    let procs = || -> Vec<i32> {
        dirs.iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| s.lines().filter_map(|l| l.trim().parse::<i32>().ok()).collect::<Vec<_>>())
            .collect()
    };
    for pid in procs() {
        kill(pid, Signal::SIGKILL);
    }
    wait_until(5, || procs().is_empty());
    let mut dirs = dirs;
    dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for d in dirs {
        wait_until(2, || std::fs::remove_dir(&d).is_ok() || !d.exists());
    }
}

/// Writes a docker-archive (`docker save` layout) of the busybox rootfs tagged
/// [`BUSYBOX_IMAGE`] into `dir` and returns its path; `ctr image import` and `docker load`
/// both read it.
pub fn busybox_docker_archive(dir: &Path) -> PathBuf {
    let work = dir.join("busybox-image");
    std::fs::create_dir_all(&work).expect("image dir");
    let layer = std::fs::read(super::busybox_tar()).expect("busybox tar");
    let diff_id = hex::encode(Sha256::digest(&layer));
    std::fs::write(work.join("layer.tar"), &layer).expect("layer");
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}
    });
    let config = serde_json::to_vec(&config).expect("config json");
    let config_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
    std::fs::write(work.join(&config_name), &config).expect("config");
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": [BUSYBOX_IMAGE], "Layers": ["layer.tar"]}]);
    std::fs::write(work.join("manifest.json"), serde_json::to_vec(&manifest).expect("json")).expect("manifest");
    let archive = dir.join("busybox-image.tar");
    let st =
        Command::new("tar").arg("-C").arg(&work).arg("-cf").arg(&archive).args(["manifest.json", &config_name, "layer.tar"]).status().expect("tar");
    assert!(st.success(), "tar of the busybox docker-archive failed");
    archive
}

/// Spawns `cmd` with stdin closed and stdout and stderr going to a new file `log`.
fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let f = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let f2 = f.try_clone().expect("dup log fd");
    cmd.stdin(Stdio::null()).stdout(f).stderr(f2).spawn().unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()))
}

fn output_ok(what: &str, out: Output, log: impl FnOnce() -> String) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}\nengine log tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail(&log(), 40)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private containerd on `<dir>` (config, root, state, socket `c.sock`) with berth's role
/// links first on its PATH (so `io.containerd.berth.v2` finds berth's shim) and the CRI
/// plugin off. Its clients use a namespace of their own.
pub struct Containerd {
    dir: PathBuf,
    /// The namespace `ctr` uses.
    pub ns: String,
    child: Option<Child>,
}

impl Containerd {
    /// Whether containerd and ctr are on PATH (Debian's containerd package).
    pub fn installed() -> bool {
        super::on_path("containerd").is_some() && super::on_path("ctr").is_some()
    }

    /// Starts containerd on `dir` and waits for its socket.
    pub fn start(dir: &Path) -> Self {
        super::need(Self::installed(), "containerd or ctr on PATH (Debian's containerd)");
        std::fs::create_dir_all(dir).expect("containerd dir");
        let n: u32 = rand::random();
        let mut c = Containerd { dir: dir.to_path_buf(), ns: format!("bt{n:08x}"), child: None };
        let config = format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{0}/c.sock\"\n[ttrpc]\n  address = \"{0}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"{0}/debug.sock\"\n  level = \"debug\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{0}/opt\"\n",
            dir.display()
        );
        std::fs::write(dir.join("config.toml"), config).expect("config.toml");
        let path = format!("{}:{}", super::bin_dir().display(), std::env::var("PATH").unwrap_or_default());
        let mut cmd = Command::new(super::on_path("containerd").unwrap_or_else(|| PathBuf::from(CONTAINERD)));
        cmd.arg("--config").arg(dir.join("config.toml")).env("PATH", path);
        c.child = Some(spawn_logged(&mut cmd, &dir.join("containerd.log")));
        let sock = c.socket();
        assert!(wait_until(20, || std::os::unix::net::UnixStream::connect(&sock).is_ok()), "containerd up:\n{}", c.log());
        c
    }

    /// The directory containerd runs on.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// containerd's gRPC socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("c.sock")
    }

    /// containerd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr` on this containerd and namespace.
    pub fn ctr(&self) -> Command {
        let mut c = Command::new(CTR);
        c.arg("--address").arg(self.socket()).arg("--namespace").arg(&self.ns);
        c
    }

    /// Runs `ctr args` with stdin closed.
    pub fn ctr_out(&self, args: &[&str]) -> Output {
        self.ctr().args(args).stdin(Stdio::null()).output().expect("run ctr")
    }

    /// Runs `ctr args`, failing the test (with containerd's log) unless it succeeds.
    pub fn ctr_ok(&self, args: &[&str]) -> String {
        output_ok(&format!("ctr {args:?}"), self.ctr_out(args), || self.log())
    }

    /// Imports the busybox docker-archive as [`BUSYBOX_IMAGE`].
    pub fn import_busybox(&self) {
        let archive = busybox_docker_archive(&self.dir);
        self.ctr_ok(&["image", "import", &archive.to_string_lossy()]);
    }

    /// `ctr task ls` as (id, pid, status) rows.
    pub fn tasks(&self) -> Vec<(String, i32, String)> {
        self.ctr_ok(&["task", "ls"])
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((f.first()?.to_string(), f.get(1)?.parse().ok()?, f.get(2)?.to_string()))
            })
            .collect()
    }

    /// The runtime state root berth's shim gets from [`Containerd::berth_shim_args`].
    pub fn berth_shim_root(&self) -> PathBuf {
        self.dir.join("runtime")
    }

    /// `ctr run` flags that run a container under berth's shim (`--runtime
    /// io.containerd.berth.v2`) with the runc options it reads from a file
    /// (`--runtime-config-path`): runtime state in [`Containerd::berth_shim_root`] (not the
    /// host's /run), and `binary` (e.g. runc) as the OCI runtime instead of berth-runtime.
    pub fn berth_shim_args(&self, binary: Option<&str>) -> Vec<String> {
        let config = self.dir.join("berth-shim.toml");
        let mut toml = format!("Root = \"{}\"\n", self.berth_shim_root().display());
        if let Some(b) = binary {
            toml.push_str(&format!("BinaryName = \"{b}\"\n"));
        }
        std::fs::write(&config, toml).expect("berth-shim.toml");
        vec!["--runtime".into(), "io.containerd.berth.v2".into(), "--runtime-config-path".into(), config.to_string_lossy().into_owned()]
    }

    /// Deletes every task (killing it) and container of this namespace, so that each shim
    /// exits the normal way and removes its socket.
    fn remove_all(&self) {
        let list = |what: &str| -> Vec<String> {
            let out = self.ctr().args(["--timeout", "10s", what, "ls", "-q"]).stdin(Stdio::null()).output();
            out.map(|o| String::from_utf8_lossy(&o.stdout).lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect())
                .unwrap_or_default()
        };
        let quiet = |args: &[&str]| {
            let _ = self.ctr().args(["--timeout", "10s"]).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        };
        for id in list("task") {
            quiet(&["task", "resume", &id]);
            quiet(&["task", "delete", "--force", &id]);
        }
        for id in list("container") {
            quiet(&["container", "delete", &id]);
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.remove_all();
        }
        if let Some(mut c) = self.child.take() {
            kill(c.id() as i32, Signal::SIGKILL);
            let _ = c.wait();
        }
        // Shims (their command line names our socket), then whatever is left in ctr's
        // default cgroups, /<namespace>/<id>.
        kill_mentioning(&self.dir);
        remove_cgroup_tree(&self.ns);
    }
}

/// A private dockerd on `<dir>` using the containerd at a given socket, networking off
/// (no bridge, iptables, forwarding or masquerading: the host's network is not touched), vfs
/// storage, and its containers under a cgroup parent of its own.
pub struct Dockerd {
    dir: PathBuf,
    /// The cgroup parent of every container of this dockerd, below each hierarchy's root
    /// (given to dockerd as `/<it>`, absolute like docker's default `/docker`: a relative
    /// parent would nest below the shim's own cgroup, as runc places relative paths).
    pub cgroup_parent: String,
    child: Option<Child>,
}

impl Dockerd {
    /// Whether dockerd is on PATH and Debian's docker CLI is installed.
    pub fn installed() -> bool {
        super::on_path("dockerd").is_some() && Path::new(DOCKER).exists()
    }

    /// Starts dockerd on `dir` with `--containerd <containerd>` and `extra` flags, and waits
    /// until it answers.
    pub fn start(dir: &Path, containerd: &Path, extra: &[String]) -> Self {
        Self::start_in(dir, containerd, extra, None)
    }

    /// Like [`start`](Self::start), but with its default bridge (docker0) and userland proxy,
    /// inside network namespace `netns` (no iptables, forwarding or masquerading), for
    /// comparing networking.
    pub fn start_networked(dir: &Path, containerd: &Path, netns: &super::netns::NetNs) -> Self {
        Self::start_in(dir, containerd, &["--storage-driver".into(), "overlay2".into()], Some(netns))
    }

    fn start_in(dir: &Path, containerd: &Path, extra: &[String], netns: Option<&super::netns::NetNs>) -> Self {
        super::need(Self::installed(), "dockerd on PATH or /usr/bin/docker (Debian's docker.io)");
        std::fs::create_dir_all(dir).expect("dockerd dir");
        let n: u32 = rand::random();
        let mut d = Dockerd { dir: dir.to_path_buf(), cgroup_parent: format!("berth-dk-{n:08x}"), child: None };
        let bin = super::on_path("dockerd").unwrap_or_else(|| PathBuf::from(DOCKERD));
        let mut cmd = match netns {
            Some(ns) => ns.cmd(&bin),
            None => Command::new(&bin),
        };
        let bridge = if netns.is_some() { "--bridge=" } else { "--bridge=none" };
        cmd.arg("--containerd")
            .arg(containerd)
            .args(["--containerd-namespace", "moby", "--data-root"])
            .arg(dir.join("droot"))
            .arg("--exec-root")
            .arg(d.exec_root())
            .arg("-H")
            .arg(d.host())
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args([bridge, "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"])
            .args(["--storage-driver", "vfs", "--cgroup-parent", &format!("/{}", d.cgroup_parent)])
            .args(extra);
        d.child = Some(spawn_logged(&mut cmd, &dir.join("dockerd.log")));
        let up = wait_until(30, || d.docker(&["version"]).status.success());
        assert!(up, "dockerd up:\n{}", d.log());
        d
    }

    /// dockerd's exec-root (its runtimes keep their state below it).
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("dexec")
    }

    /// `unix://<socket>`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    /// dockerd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// The environment that points the docker CLI at this dockerd (and a config dir of its own).
    pub fn docker_env(&self) -> [(&'static str, String); 2] {
        [("DOCKER_HOST", self.host()), ("DOCKER_CONFIG", self.dir.join("client").to_string_lossy().into_owned())]
    }

    /// The docker CLI on this dockerd, stdin not set.
    pub fn docker_cmd(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.envs(self.docker_env());
        c
    }

    /// Runs `docker args` with stdin closed.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd().args(args).stdin(Stdio::null()).output().expect("run docker")
    }

    /// Runs `docker args`, failing the test (with dockerd's log) unless it succeeds.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        output_ok(&format!("docker {args:?}"), self.docker(args), || self.log())
    }

    /// Imports the busybox rootfs as image `busybox`.
    pub fn import_busybox(&self) {
        self.docker_ok(&["import", &super::busybox_tar().to_string_lossy(), "busybox"]);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers first, through docker while it is up (so their shims exit normally).
        if self.child.is_some() {
            let ids = self.docker(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.docker(&["rm", "-f", id.trim()]);
            }
        }
        if let Some(mut d) = self.child.take() {
            kill(d.id() as i32, Signal::SIGTERM);
            if !wait_until(15, || matches!(d.try_wait(), Ok(Some(_)))) {
                kill(d.id() as i32, Signal::SIGKILL);
            }
            let _ = d.wait();
        }
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

/// A process a test started directly (e.g. berth-supervisor standing in for containerd):
/// SIGKILLed on drop, then every process still mentioning `dir` (what it started, e.g. shims).
pub struct Spawned {
    child: Child,
    dir: PathBuf,
}

impl Spawned {
    /// Takes ownership of `child`; `dir` is the directory its helpers name on their command line.
    pub fn new(child: Child, dir: &Path) -> Self {
        Spawned { child, dir: dir.to_path_buf() }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        kill(self.child.id() as i32, Signal::SIGKILL);
        let _ = self.child.wait();
        kill_mentioning(&self.dir);
    }
}

/// berth-supervisor standing in for containerd (berth's shim serving dockerd's default
/// runtime io.containerd.runc.v2, runc under it) and a dockerd on it (`dockerd
/// --containerd=<supervisor socket>`), both on `dir`. Dropped in field order: dockerd (its
/// containers and cgroups), then the supervisor (with its shims).
pub struct DockerdOnSupervisor {
    pub dockerd: Dockerd,
    _supervisor: Spawned,
}

impl DockerdOnSupervisor {
    /// Starts the supervisor on `<dir>/sup.sock`, then dockerd on it.
    pub fn start(dir: &Path) -> Self {
        let sup = Command::new(super::role("berth-supervisor"))
            .arg("--address")
            .arg(dir.join("sup.sock"))
            .arg("--root")
            .arg(dir.join("sroot"))
            .arg("--state")
            .arg(dir.join("sstate"))
            .args(["--runc-shim", "berth", "--log-level", "debug", "--log-file"])
            .arg(dir.join("supervisor.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn supervisor");
        let supervisor = Spawned::new(sup, dir);
        assert!(wait_until(10, || std::os::unix::net::UnixStream::connect(dir.join("sup.sock")).is_ok()), "supervisor up");
        let dockerd = Dockerd::start(dir, &dir.join("sup.sock"), &[]);
        DockerdOnSupervisor { dockerd, _supervisor: supervisor }
    }
}

impl std::ops::Deref for DockerdOnSupervisor {
    type Target = Dockerd;
    fn deref(&self) -> &Dockerd {
        &self.dockerd
    }
}

/// A real dockerd with overlay2 storage (as berthd's default) on its own containerd, both on
/// `<dir>`: what berth's answers are compared with. Dropped in field order: dockerd (its
/// containers and cgroups), then containerd.
pub struct ReferenceDockerd {
    pub dockerd: Dockerd,
    _containerd: Containerd,
}

impl ReferenceDockerd {
    /// Starts containerd on `<dir>/ctd`, then dockerd (overlay2) on `<dir>/dkd`.
    pub fn start(dir: &Path) -> Self {
        let containerd = Containerd::start(&dir.join("ctd"));
        // The last --storage-driver wins over Dockerd's vfs default.
        let dockerd = Dockerd::start(&dir.join("dkd"), &containerd.socket(), &["--storage-driver".into(), "overlay2".into()]);
        ReferenceDockerd { dockerd, _containerd: containerd }
    }
}

impl std::ops::Deref for ReferenceDockerd {
    type Target = Dockerd;
    fn deref(&self) -> &Dockerd {
        &self.dockerd
    }
}
