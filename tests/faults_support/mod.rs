//! Fault injection shared by `tests/faults.rs` (a few kills per victim, for CI) and
//! `benches/faults.rs` (200 per victim): SIGKILL one of berthd, berth-supervisor, a shim or
//! a runtime process at a random instant of a container's create → start → exec → stop → rm,
//! recover (restart what was killed, or let berthd respawn it), then check the invariants:
//! every container is in its true state (inspect agrees with /proc and its cgroup), `start`
//! and `rm -f` work, and after rm nothing of the container is left (process, cgroup, mount,
//! shim, supervisor record, bundle, runtime state, temp file).
//!
//! Seeded: the seed is printed; `FAULT_SEED` sets it, `FAULT_KILLS` the number of kills.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{argv0_of, pid_alive, ppid_of, wait_until, TestDaemon};

/// The process killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Victim {
    Berthd,
    Supervisor,
    Shim,
    Runtime,
}

/// One fault-injection run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub victim: Victim,
    pub monolithic: bool,
    pub kills: usize,
    pub seed: u64,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub kills: usize,
    pub iterations: usize,
    pub violations: Vec<String>,
}

/// The kill count: `FAULT_KILLS`, else `default`.
pub fn kills_from_env(default: usize) -> usize {
    std::env::var("FAULT_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The seed: `FAULT_SEED`, else one from the clock.
pub fn seed_from_env() -> u64 {
    std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1))
}

/// splitmix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// The container's command: ends at once on SIGTERM, so `stop` is quick.
const CMD: &str = "trap 'exit 0' TERM; while :; do sleep 0.1; done";

/// The real docker CLI (28.x) that drives the lifecycles.
pub const DOCKER: &str = "/usr/local/bin/docker";

/// Runs the docker CLI against the daemon at `host`, its config in `config`.
pub fn docker(host: &str, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(DOCKER).env("DOCKER_HOST", host).env("DOCKER_CONFIG", config).args(args).output().expect("run docker")
}

/// One container's life through the docker CLI; returns how far it got (for the report).
fn lifecycle(host: &str, config: &Path, name: &str) -> String {
    let steps: [&[&str]; 5] = [
        &["create", "--name", name, "busybox", "sh", "-c", CMD],
        &["start", name],
        &["exec", name, "true"],
        &["stop", "-t", "2", name],
        &["rm", name],
    ];
    let mut done = Vec::new();
    for s in steps {
        let out = docker(host, config, s);
        done.push(format!("{}={}", s[0], if out.status.success() { "ok" } else { "failed" }));
        if !out.status.success() {
            break;
        }
    }
    done.join(" ")
}

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| b.split(|&c| c == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
        .unwrap_or_default()
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok())).collect())
        .unwrap_or_default()
}

/// Processes of this daemon that play `victim` (shims and runtime processes by argv0 and a
/// command line naming the test's temp dir; in monolithic mode the runtime's part is the
/// container init the daemon re-executed, before it becomes the container's process).
fn victims(d: &TestDaemon, victim: Victim, spare: &str) -> Vec<i32> {
    let dir = d.dir.path().to_string_lossy().into_owned();
    let daemon = d.pid();
    all_pids()
        .into_iter()
        .filter(|&pid| {
            let args = cmdline(pid);
            let Some(argv0) = args.first() else {
                return false;
            };
            let mine = args.iter().any(|a| a.contains(&dir));
            match victim {
                Victim::Shim => argv0.contains("shim") && mine && !args.iter().any(|a| a == spare),
                Victim::Runtime if d.monolithic => args.len() >= 3 && args[1] == "runtime" && args[2] == "init" && ppid_of(pid) == Some(daemon),
                Victim::Runtime => argv0 == "berth-runtime" && mine,
                _ => false,
            }
        })
        .collect()
}

/// Pids in container `id`'s cgroup (any hierarchy).
fn cgroup_procs(d: &TestDaemon, id: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for base in cgroup_dirs_of(d, id) {
        if let Ok(s) = std::fs::read_to_string(base.join("cgroup.procs")) {
            pids.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    pids.sort();
    pids.dedup();
    pids
}

/// Container `id`'s cgroup directories that exist.
fn cgroup_dirs_of(d: &TestDaemon, id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut parents = vec![PathBuf::from("/sys/fs/cgroup").join(&d.cgroup_parent)];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        parents.extend(rd.flatten().map(|e| e.path().join(&d.cgroup_parent)));
    }
    for p in parents {
        let c = p.join(id);
        if c.is_dir() {
            out.push(c);
        }
    }
    out
}

/// (id, name, running, pid) of every container, from `ps -a` and inspect.
fn containers(d: &TestDaemon) -> Result<Vec<(String, String, bool, i32)>, String> {
    let out = d.berth(&["ps", "-a", "-q", "--no-trunc"]);
    if !out.status.success() {
        return Err(format!("ps -a failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect();
    let mut v = Vec::new();
    for id in ids {
        let out = d.berth(&["inspect", &id]);
        if !out.status.success() {
            // Removed meanwhile (an auto-removal): nothing to check.
            continue;
        }
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("inspect {id}: {e}"))?;
        let c = &j[0];
        v.push((
            id,
            c["Name"].as_str().unwrap_or("").trim_start_matches('/').to_owned(),
            c["State"]["Running"].as_bool().unwrap_or(false),
            c["State"]["Pid"].as_i64().unwrap_or(0) as i32,
        ));
    }
    Ok(v)
}

/// Whether every container's inspect state is true; the disagreements otherwise.
fn untrue_states(d: &TestDaemon) -> Vec<String> {
    let list = match containers(d) {
        Ok(l) => l,
        Err(e) => return vec![e],
    };
    let mut bad = Vec::new();
    for (id, name, running, pid) in list {
        let procs = cgroup_procs(d, &id);
        if running && !(pid > 0 && pid_alive(pid) && procs.contains(&pid)) {
            bad.push(format!("{name}: inspect says running (pid {pid}) but its cgroup holds {procs:?}"));
        }
        if !running && !procs.is_empty() {
            bad.push(format!("{name}: inspect says not running but its cgroup holds {procs:?}"));
        }
    }
    bad
}

/// Temp files of cut-short writes anywhere under `dir` (container filesystems skipped).
fn temp_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if !matches!(name.as_str(), "merged" | "upper" | "work" | "layers" | "rootfs" | "diff") {
                temp_files(&e.path(), out);
            }
        } else if name.starts_with('.') && name.rsplit_once('.').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            out.push(e.path());
        }
    }
}

/// What is left of removed container `id` (empty: nothing).
fn leftovers(d: &TestDaemon, id: &str) -> Vec<String> {
    let mut left = Vec::new();
    let procs = cgroup_procs(d, id);
    if !procs.is_empty() {
        left.push(format!("processes {procs:?}"));
    }
    let cgs = cgroup_dirs_of(d, id);
    if !cgs.is_empty() {
        left.push(format!("cgroups {cgs:?}"));
    }
    let helpers: Vec<i32> = all_pids().into_iter().filter(|&p| cmdline(p).iter().any(|a| a.contains(id))).collect();
    if !helpers.is_empty() {
        let names: Vec<String> = helpers.iter().map(|&p| format!("{p}:{}", argv0_of(p).unwrap_or_default())).collect();
        left.push(format!("shim/runtime processes {names:?}"));
    }
    let mounts: Vec<String> = d.mounts().into_iter().filter(|m| m.contains(id)).collect();
    if !mounts.is_empty() {
        left.push(format!("mounts {mounts:?}"));
    }
    let (root, exec) = (d.root(), d.exec_root());
    let paths = [
        root.join("containers").join(id),
        root.join("overlay2").join(id),
        root.join("vfs").join(id),
        root.join("supervisor/berth/containers").join(format!("{id}.json")),
        exec.join("supervisor/berth").join(id),
        exec.join("supervisor/runtime").join(id),
        exec.join("runtime").join(id),
        exec.join("bundles").join(id),
    ];
    for p in paths {
        if p.exists() {
            left.push(format!("{}", p.display()));
        }
    }
    let mut tmp = Vec::new();
    temp_files(&root, &mut tmp);
    temp_files(&exec, &mut tmp);
    if !tmp.is_empty() {
        left.push(format!("temp files {tmp:?}"));
    }
    left
}

/// The full id of container `name`, if it exists.
pub fn id_of(d: &TestDaemon, name: &str) -> Option<String> {
    let out = d.berth(&["inspect", name]);
    if !out.status.success() {
        return None;
    }
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    // `inspect f8` also finds a container whose id starts with f8.
    if j[0]["Name"].as_str() != Some(format!("/{name}").as_str()) {
        return None;
    }
    j[0]["Id"].as_str().map(str::to_owned)
}

/// Brings back what was killed: berthd is restarted, the supervisor waited for (berthd
/// starts a new one).
fn recover(d: &mut TestDaemon, victim: Victim, old_supervisor: Option<i32>) -> Result<(), String> {
    match victim {
        Victim::Berthd => {
            d.kill_daemon();
            d.start();
        }
        Victim::Supervisor => {
            let back = wait_until(30, || d.supervisor_pid().is_some_and(|p| Some(p) != old_supervisor && pid_alive(p)));
            if !back {
                return Err("berthd did not start a new supervisor within 30 s".into());
            }
        }
        Victim::Shim | Victim::Runtime => {}
    }
    Ok(())
}

/// Kills the victim once, at a random instant of a lifecycle of `window`; true if it did.
fn strike(d: &TestDaemon, victim: Victim, rng: &mut Rng, window: Duration, busy: &Mutex<bool>, spare: &str) -> bool {
    let start = Instant::now();
    let delay = Duration::from_micros(rng.below(window.as_micros() as u64));
    match victim {
        Victim::Berthd | Victim::Supervisor => {
            std::thread::sleep(delay);
            let pid = if victim == Victim::Berthd { Some(d.pid()) } else { d.supervisor_pid() };
            match pid {
                Some(p) if p > 0 && pid_alive(p) => {
                    kill9(p);
                    true
                }
                _ => false,
            }
        }
        Victim::Shim | Victim::Runtime => {
            // Runtime processes live for milliseconds: pick the n-th one that appears and
            // kill it after a short random delay; shims from a random instant on.
            let nth = if victim == Victim::Runtime { rng.below(6) as usize } else { 0 };
            if victim == Victim::Shim {
                std::thread::sleep(delay);
            }
            let micro = Duration::from_micros(rng.below(3000));
            let mut seen: Vec<i32> = Vec::new();
            while *busy.lock().expect("lock") || start.elapsed() < Duration::from_millis(50) {
                for pid in victims(d, victim, spare) {
                    if seen.contains(&pid) {
                        continue;
                    }
                    seen.push(pid);
                    if seen.len() > nth {
                        std::thread::sleep(micro);
                        kill9(pid);
                        return true;
                    }
                }
                if start.elapsed() > window * 4 {
                    return false;
                }
            }
            false
        }
    }
}

/// Runs the plan on a fresh daemon; every broken invariant is a line of the report.
pub fn run(plan: &Plan) -> Report {
    let mut rng = Rng(plan.seed);
    let tag = format!(
        "flt{}",
        match plan.victim {
            Victim::Berthd => "d",
            Victim::Supervisor => "s",
            Victim::Shim => "h",
            Victim::Runtime => "r",
        }
    );
    let mut d = TestDaemon::with_args(&tag, plan.monolithic, &[]);
    d.import_busybox();
    let mut report = Report::default();
    let violation = |report: &mut Report, i: usize, what: String| {
        let line = format!("[seed {} kill {i} victim {:?} monolithic {}] {what}", plan.seed, plan.victim, plan.monolithic);
        // Printed as it happens too: a CI log cut short still shows what broke.
        eprintln!("VIOLATION {line}");
        report.violations.push(line);
    };
    // A bystander that lives through every kill: its state must stay true too.
    d.berth_ok(&["run", "-d", "--name", "bystander", "busybox", "sh", "-c", CMD]);
    let bystander = id_of(&d, "bystander").unwrap_or_default();
    // Calibrate the window the kills fall in: one undisturbed lifecycle.
    let t0 = Instant::now();
    assert!(Path::new(DOCKER).exists(), "{DOCKER} is missing: the fault test drives containers with the real docker CLI");
    let config = d.dir.path().join("docker-config");
    let calib = lifecycle(&d.host(), &config, "calibrate");
    let window = t0.elapsed().max(Duration::from_millis(200));
    assert!(calib.ends_with("rm=ok"), "undisturbed lifecycle failed: {calib}\n{}", d.log());
    let mut i = 0;
    while report.kills < plan.kills && i < plan.kills * 3 {
        i += 1;
        report.iterations += 1;
        let name = format!("fault-{i}");
        let busy = Arc::new(Mutex::new(true));
        let host = d.host();
        let (b, n, cfg) = (busy.clone(), name.clone(), config.clone());
        let life = std::thread::spawn(move || {
            let r = lifecycle(&host, &cfg, &n);
            *b.lock().expect("lock") = false;
            r
        });
        let old_supervisor = d.supervisor_pid();
        let struck = strike(&d, plan.victim, &mut rng, window, &busy, &bystander);
        let steps = life.join().unwrap_or_else(|_| "lifecycle thread panicked".into());
        if struck {
            report.kills += 1;
        }
        if let Err(e) = recover(&mut d, plan.victim, old_supervisor) {
            violation(&mut report, i, e);
            break;
        }
        // Reconciliation may take a moment (a resync after the supervisor came back).
        let mut bad = Vec::new();
        if !wait_until(20, || {
            bad = untrue_states(&d);
            bad.is_empty()
        }) {
            violation(&mut report, i, format!("after [{steps}]: untrue state: {bad:?}"));
        }
        // The container of this round, if it exists: start works, rm -f cleans everything.
        if let Some(id) = id_of(&d, &name) {
            let running = containers(&d).ok().and_then(|l| l.into_iter().find(|c| c.0 == id)).is_some_and(|c| c.2);
            if !running {
                let out = d.berth(&["start", &name]);
                if !out.status.success() {
                    violation(&mut report, i, format!("after [{steps}]: start failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
                }
            }
            let out = d.berth(&["rm", "-f", &name]);
            if !out.status.success() {
                violation(&mut report, i, format!("after [{steps}]: rm -f failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
            }
            let mut left = Vec::new();
            if !wait_until(10, || {
                left = leftovers(&d, &id);
                left.is_empty()
            }) {
                violation(&mut report, i, format!("after [{steps}] and rm -f: left {left:?}"));
            }
        }
    }
    // The bystander too: start works (it died with a monolithic daemon), rm -f cleans all.
    if let Some(id) = id_of(&d, "bystander") {
        let running = containers(&d).ok().and_then(|l| l.into_iter().find(|c| c.0 == id)).is_some_and(|c| c.2);
        if !running && !d.berth(&["start", "bystander"]).status.success() {
            violation(&mut report, i, "bystander: start failed".into());
        }
        if !d.berth(&["rm", "-f", "bystander"]).status.success() {
            violation(&mut report, i, "bystander: rm -f failed".into());
        }
        let mut left = Vec::new();
        if !wait_until(10, || {
            left = leftovers(&d, &id);
            left.is_empty()
        }) {
            violation(&mut report, i, format!("bystander after rm -f: left {left:?}"));
        }
    } else {
        violation(&mut report, i, "bystander vanished".into());
    }
    if !report.violations.is_empty() {
        eprintln!("daemon log tail:\n{}", d.log().lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    report
}
