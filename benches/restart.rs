//! Restart bench: what happens to running containers when the daemon or the supervisor is
//! SIGKILLed and comes back, for berth's monolithic and modular modes (and real dockerd 20.10
//! with and without --live-restore where it is installed).
//!
//! Per run: N containers (env BERTH_BENCH_N, default 20) each print a sequence number every
//! 10 ms; the victim is SIGKILLed and restarted; measured are containers alive right after
//! the kill, containers reported running after the restart, API downtime (ms until /_ping
//! answers after the restart command), time until every container is reconciled, log lines
//! lost (gaps in the sequences), and what leaked after cleanup. Also RSS of each shim and of
//! the idle daemon and supervisor.
//!
//! Output: a table on stdout, `target/restart-bench.csv`, `target/restart-bench.svg`.
//! Run with `examples/restart-bench.sh` (release build).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{pid_alive, wait_until, TestDaemon};

const LOOP: &str = "i=0; while true; do echo $i; i=$((i+1)); usleep 10000; done";

/// One measured run.
#[derive(Debug, Default, Clone)]
struct Row {
    engine: String,
    victim: String,
    n: usize,
    alive_after_kill: usize,
    running_after_restart: usize,
    downtime_ms: u128,
    reconcile_ms: u128,
    lines_lost: u64,
    leaked_procs: usize,
    leaked_mounts: usize,
    leaked_cgroups: usize,
}

/// GET `path` on the Engine API at unix socket `sock`; (status, body).
fn http_get(sock: &Path, path: &str) -> Option<(u16, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

fn running_count(sock: &Path) -> Option<usize> {
    let (st, body) = http_get(sock, "/containers/json")?;
    if st != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(v.as_array()?.len())
}

fn init_pid(sock: &Path, id: &str) -> Option<i32> {
    let (_, body) = http_get(sock, &format!("/containers/{id}/json"))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["State"]["Pid"].as_i64().map(|p| p as i32).filter(|&p| p > 0)
}

/// Lines missing inside each container's sequence (from its first to its last number).
fn lost_lines(logs: &[String]) -> u64 {
    logs.iter()
        .map(|text| {
            let mut nums: Vec<u64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            nums.sort_unstable();
            nums.dedup();
            match (nums.first(), nums.last()) {
                (Some(a), Some(b)) => (b - a + 1) - nums.len() as u64,
                _ => 0,
            }
        })
        .sum()
}

fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn vm_rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// Proportional set size: private pages plus each shared page divided by its sharers (the
/// binary's pages are shared by every shim, the daemon and the supervisor).
fn pss_kib(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("Pss:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Running tasks the supervisor at `sock` reports in berthd's namespace.
fn supervisor_running(sock: &Path) -> Option<usize> {
    use berth::proto::containerd::services::tasks::v1 as tapi;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        let ch = tokio::time::timeout(Duration::from_secs(2), berth::supervisor::connect(sock)).await.ok()?.ok()?;
        let mut req = tonic::Request::new(tapi::ListTasksRequest { filter: String::new() });
        req.metadata_mut().insert("containerd-namespace", "berth".parse().ok()?);
        let list = tapi::tasks_client::TasksClient::new(ch).list(req).await.ok()?.into_inner();
        let running = berth::proto::containerd::v1::types::Status::Running as i32;
        Some(list.tasks.iter().filter(|t| t.status == running).count())
    })
}

/// RSS figures of one modular stack: shims (KiB each), daemon and supervisor idle (KiB).
#[derive(Debug, Default)]
struct Rss {
    daemon_idle: u64,
    supervisor_idle: u64,
    daemon_loaded: u64,
    supervisor_loaded: u64,
    shims: Vec<u64>,
    /// RssAnon of each shim: its private memory (the rest is the shared, file-backed binary).
    shims_anon: Vec<u64>,
    /// Pss of each shim.
    shims_pss: Vec<u64>,
}

fn shim_pids(d: &TestDaemon) -> Vec<i32> {
    d.helper_pids().into_iter().filter(|&p| common::argv0_of(p).unwrap_or_default().contains("shim")).collect()
}

/// Restarts the supervisor exactly as berthd starts it (berthd only starts one at its own
/// start-up, when none answers).
fn restart_supervisor(d: &TestDaemon) {
    let state = d.exec_root().join("supervisor");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(state.join("supervisor.log")).expect("log");
    let mut child = Command::new(common::role("berth-supervisor"))
        .arg("--address")
        .arg(state.join("supervisor.sock"))
        .arg("--root")
        .arg(d.root().join("supervisor"))
        .arg("--state")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("fd"))
        .stderr(log)
        .spawn()
        .expect("spawn supervisor");
    std::fs::write(state.join("supervisor.pid"), child.id().to_string()).expect("pid file");
    // The daemon's teardown kills it by pid; this thread reaps it then.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

fn berth_run(mode: &str, victim: &str, n: usize, rss: &mut Option<Rss>) -> Row {
    let tag = format!("rb{}{}", &mode[..1], &victim[..1]);
    let mut d = if mode == "monolithic" { TestDaemon::monolithic(&tag) } else { TestDaemon::modular(&tag) };
    d.import_busybox();
    let sock = d.socket();
    let mut measured = Rss::default();
    if mode == "modular" {
        measured.daemon_idle = vm_rss_kib(d.pid()).unwrap_or(0);
        measured.supervisor_idle = d.supervisor_pid().and_then(vm_rss_kib).unwrap_or(0);
    }
    let ids: Vec<String> = (0..n).map(|_| d.berth_ok(&["run", "-d", "busybox", "sh", "-c", LOOP]).trim().to_owned()).collect();
    let pids: Vec<i32> = ids.iter().filter_map(|id| init_pid(&sock, id)).collect();
    std::thread::sleep(Duration::from_millis(500));
    if mode == "modular" && victim == "daemon" {
        measured.daemon_loaded = vm_rss_kib(d.pid()).unwrap_or(0);
        measured.supervisor_loaded = d.supervisor_pid().and_then(vm_rss_kib).unwrap_or(0);
        let shims = shim_pids(&d);
        measured.shims = shims.iter().filter_map(|&p| vm_rss_kib(p)).collect();
        measured.shims_anon = shims.iter().filter_map(|&p| status_kib(p, "RssAnon:")).collect();
        measured.shims_pss = shims.iter().filter_map(|&p| pss_kib(p)).collect();
        *rss = Some(measured);
    }

    let mut row = Row { engine: format!("berth {mode}"), victim: victim.into(), n, ..Default::default() };
    if victim == "daemon" {
        d.kill_daemon();
    } else {
        d.kill_supervisor();
    }
    std::thread::sleep(Duration::from_millis(200));
    row.alive_after_kill = pids.iter().filter(|&&p| pid_alive(p)).count();
    std::thread::sleep(Duration::from_millis(300));

    let t0 = Instant::now();
    if victim == "daemon" {
        d.start();
    } else {
        restart_supervisor(&d);
    }
    wait_until(30, || http_get(&sock, "/_ping").is_some_and(|(s, _)| s == 200));
    row.downtime_ms = t0.elapsed().as_millis();
    let alive_now = pids.iter().filter(|&&p| pid_alive(p)).count();
    if victim == "supervisor" {
        // The daemon never stopped answering: reconciled once the new supervisor has
        // re-attached to every surviving shim.
        let sup = d.exec_root().join("supervisor").join("supervisor.sock");
        wait_until(30, || supervisor_running(&sup) == Some(alive_now));
    }
    wait_until(30, || running_count(&sock) == Some(alive_now));
    row.reconcile_ms = t0.elapsed().as_millis();
    row.running_after_restart = running_count(&sock).unwrap_or(0);

    std::thread::sleep(Duration::from_millis(500));
    let logs: Vec<String> = ids.iter().map(|id| String::from_utf8_lossy(&d.berth(&["logs", id]).stdout).into_owned()).collect();
    row.lines_lost = lost_lines(&logs);

    // Cleanup through the engine, then stop it, then look for what is left.
    for id in &ids {
        let _ = d.berth(&["rm", "-f", id]);
    }
    d.kill_daemon();
    d.kill_supervisor();
    std::thread::sleep(Duration::from_millis(1000));
    row.leaked_procs = d.container_pids().len() + shim_pids(&d).len();
    row.leaked_mounts = d.mounts().len();
    row.leaked_cgroups =
        d.cgroup_dirs().iter().map(|dir| std::fs::read_dir(dir).map(|rd| rd.flatten().filter(|e| e.path().is_dir()).count()).unwrap_or(0)).sum();
    row
}

/// A private dockerd 20.10 (which runs its own containerd) on a temp dir.
struct Dockerd {
    dir: common::TempDir,
    live_restore: bool,
    cgroup_parent: String,
    child: Option<std::process::Child>,
}

impl Dockerd {
    fn start(live_restore: bool) -> Self {
        let n: u32 = rand::random();
        let mut d = Dockerd {
            dir: common::TempDir::new(if live_restore { "rbdl" } else { "rbdd" }),
            live_restore,
            cgroup_parent: format!("berth-bench-{n:08x}"),
            child: None,
        };
        d.launch();
        d.docker(&["import", &common::busybox_tar().to_string_lossy(), "busybox"]);
        d
    }
    fn sock(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }
    fn launch(&mut self) {
        let p = self.dir.path();
        // dockerd kills its containerd when it dies (pdeathsig), but on restart trusts the
        // pid file if that pid is alive — by then often a reused pid: drop a stale file.
        let pid_file = p.join("exec/containerd/containerd.pid");
        let stale = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .is_some_and(|pid| common::argv0_of(pid).is_none_or(|a| !a.ends_with("containerd")));
        if stale {
            let _ = std::fs::remove_file(&pid_file);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(p.join("dockerd.log")).expect("log");
        let mut cmd = Command::new("/usr/sbin/dockerd");
        cmd.arg("--data-root")
            .arg(p.join("root"))
            .arg("--exec-root")
            .arg(p.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", self.sock().display()))
            .arg("--pidfile")
            .arg(p.join("docker.pid"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"])
            // Absolute, like docker's default /docker: a relative parent nests below the
            // shim's own cgroups (runc's rule), where cgroup_dirs() would not look.
            .args(["--storage-driver", "vfs", "--cgroup-parent", &format!("/{}", self.cgroup_parent)])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("fd"))
            .stderr(log);
        if self.live_restore {
            cmd.arg("--live-restore");
        }
        self.child = Some(cmd.spawn().expect("spawn dockerd"));
        let sock = self.sock();
        wait_until(60, || http_get(&sock, "/_ping").is_some_and(|(s, _)| s == 200));
    }
    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("/usr/bin/docker")
            .env("DOCKER_HOST", format!("unix://{}", self.sock().display()))
            .env("DOCKER_CONFIG", self.dir.path().join("client"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker")
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn helper_pids(&self) -> Vec<i32> {
        let needle = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle)))
            .collect()
    }
    fn cgroup_pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for ctl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let base = ctl.path().join(&self.cgroup_parent);
            for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                if let Ok(s) = std::fs::read_to_string(e.path().join("cgroup.procs")) {
                    out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
    fn cgroup_children(&self) -> usize {
        std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|ctl| {
                std::fs::read_dir(ctl.path().join(&self.cgroup_parent)).map(|rd| rd.flatten().filter(|e| e.path().is_dir()).count()).unwrap_or(0)
            })
            .sum()
    }
    fn mounts(&self) -> usize {
        let prefix = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&prefix)))
            .count()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            let ids = self.docker(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.docker(&["rm", "-f", id.trim()]);
            }
        }
        if let Some(c) = &self.child {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM);
        }
        let pid = self.child.as_ref().map(|c| c.id() as i32);
        if let Some(p) = pid {
            wait_until(15, || !pid_alive(p));
        }
        self.kill();
        let sigkill = |p: i32| {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
        };
        for p in self.helper_pids() {
            sigkill(p);
        }
        for p in self.cgroup_pids() {
            sigkill(p);
        }
        wait_until(5, || self.cgroup_pids().is_empty());
        for ctl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let base = ctl.path().join(&self.cgroup_parent);
            for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    wait_until(2, || std::fs::remove_dir(e.path()).is_ok() || !e.path().exists());
                }
            }
            if base.exists() {
                wait_until(2, || std::fs::remove_dir(&base).is_ok());
            }
        }
    }
}

fn dockerd_run(live_restore: bool, n: usize) -> Row {
    let mut d = Dockerd::start(live_restore);
    let sock = d.sock();
    let ids: Vec<String> = (0..n)
        .map(|_| String::from_utf8_lossy(&d.docker(&["run", "-d", "--network", "none", "busybox", "sh", "-c", LOOP]).stdout).trim().to_owned())
        .collect();
    let pids: Vec<i32> = ids.iter().filter_map(|id| init_pid(&sock, id)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let engine = if live_restore { "dockerd --live-restore" } else { "dockerd" };
    let mut row = Row { engine: engine.into(), victim: "daemon".into(), n, ..Default::default() };
    d.kill();
    std::thread::sleep(Duration::from_millis(200));
    row.alive_after_kill = pids.iter().filter(|&&p| pid_alive(p)).count();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    d.launch();
    row.downtime_ms = t0.elapsed().as_millis();
    wait_until(60, || running_count(&sock) == Some(pids.iter().filter(|&&p| pid_alive(p)).count()));
    row.reconcile_ms = t0.elapsed().as_millis();
    row.running_after_restart = running_count(&sock).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(500));
    let logs: Vec<String> = ids.iter().map(|id| String::from_utf8_lossy(&d.docker(&["logs", id]).stdout).into_owned()).collect();
    row.lines_lost = lost_lines(&logs);
    for id in &ids {
        let _ = d.docker(&["rm", "-f", id]);
    }
    if let Some(c) = &d.child {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM);
        let p = c.id() as i32;
        wait_until(15, || !pid_alive(p));
    }
    d.kill();
    std::thread::sleep(Duration::from_millis(1000));
    // dockerd's own containerd may outlive it by design; count only container processes and shims.
    row.leaked_procs =
        d.cgroup_pids().len() + d.helper_pids().into_iter().filter(|&p| common::argv0_of(p).unwrap_or_default().contains("shim")).count();
    row.leaked_mounts = d.mounts();
    row.leaked_cgroups = d.cgroup_children();
    row
}

fn write_csv(rows: &[Row], path: &Path) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    writeln!(
        f,
        "engine,victim,n,alive_after_kill,running_after_restart,downtime_ms,reconcile_ms,lines_lost,leaked_procs,leaked_mounts,leaked_cgroups"
    )?;
    for r in rows {
        writeln!(
            f,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.engine,
            r.victim,
            r.n,
            r.alive_after_kill,
            r.running_after_restart,
            r.downtime_ms,
            r.reconcile_ms,
            r.lines_lost,
            r.leaked_procs,
            r.leaked_mounts,
            r.leaked_cgroups
        )?;
    }
    Ok(())
}

fn draw_svg(rows: &[Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(260);
    let labels: Vec<String> = rows.iter().map(|r| format!("{} / {}", r.engine, r.victim)).collect();
    let n = rows.len() as f64;
    // Upper chart: containers alive after the kill and running after the restart.
    let max_n = rows.iter().map(|r| r.n).max().unwrap_or(1) as f64;
    let mut c = ChartBuilder::on(&top)
        .caption("containers surviving a SIGKILL of the victim (alive / running after restart)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(20)
        .y_label_area_size(40)
        .build_cartesian_2d(0f64..n, 0f64..max_n * 1.1)?;
    c.configure_mesh().disable_x_mesh().x_labels(0).draw()?;
    for (i, r) in rows.iter().enumerate() {
        let x = i as f64;
        c.draw_series([Rectangle::new([(x + 0.1, 0.0), (x + 0.45, r.alive_after_kill as f64)], BLUE.filled())])?;
        c.draw_series([Rectangle::new([(x + 0.5, 0.0), (x + 0.85, r.running_after_restart as f64)], GREEN.filled())])?;
    }
    // Lower chart: API downtime and time to reconcile, ms.
    let max_ms = rows.iter().map(|r| r.reconcile_ms.max(r.downtime_ms)).max().unwrap_or(1) as f64;
    let mut c = ChartBuilder::on(&bottom)
        .caption("API downtime (red) and time to reconcile all containers (orange), ms", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(40)
        .build_cartesian_2d(0f64..n, 0f64..max_ms * 1.1)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(rows.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (*x - 0.5).round();
            if (x - 0.5 - i).abs() < 0.01 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .draw()?;
    for (i, r) in rows.iter().enumerate() {
        let x = i as f64;
        c.draw_series([Rectangle::new([(x + 0.1, 0.0), (x + 0.45, r.downtime_ms as f64)], RED.filled())])?;
        c.draw_series([Rectangle::new([(x + 0.5, 0.0), (x + 0.85, r.reconcile_ms as f64)], RGBColor(255, 165, 0).filled())])?;
    }
    root.present()?;
    Ok(())
}

/// The role links are shared with the tests under cargo's target tmp dir: make sure they
/// point at this (release) build while the bench runs, and drop them afterwards so the
/// tests link their own build again.
fn relink_roles() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bin");
    let ours = std::fs::read_link(dir.join("berthd")).ok() == Some(common::berth_bin());
    if !ours {
        let _ = std::fs::remove_dir_all(&dir);
    }
    dir
}

fn main() {
    // `cargo bench` passes --bench; a plain filter argument is ignored.
    let links = relink_roles();
    let n: usize = std::env::var("BERTH_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let mut rows = Vec::new();
    let mut rss = None;
    for (mode, victim) in [("monolithic", "daemon"), ("modular", "daemon"), ("modular", "supervisor")] {
        eprintln!("bench: berth {mode}, kill {victim}, {n} containers");
        rows.push(berth_run(mode, victim, n, &mut rss));
    }
    if Path::new("/usr/sbin/dockerd").exists() && std::env::var_os("BERTH_BENCH_NO_DOCKERD").is_none() {
        for live in [false, true] {
            eprintln!("bench: dockerd live-restore={live}, kill daemon, {n} containers");
            rows.push(dockerd_run(live, n));
        }
    }
    println!(
        "\n{:<24} {:<10} {:>3} {:>10} {:>10} {:>9} {:>10} {:>6} {:>14}",
        "engine", "victim", "N", "alive@kill", "running@up", "down(ms)", "recon(ms)", "lost", "leak p/m/cg"
    );
    for r in &rows {
        println!(
            "{:<24} {:<10} {:>3} {:>10} {:>10} {:>9} {:>10} {:>6} {:>14}",
            r.engine,
            r.victim,
            r.n,
            r.alive_after_kill,
            r.running_after_restart,
            r.downtime_ms,
            r.reconcile_ms,
            r.lines_lost,
            format!("{}/{}/{}", r.leaked_procs, r.leaked_mounts, r.leaked_cgroups)
        );
    }
    if let Some(r) = &rss {
        let mean = |v: &[u64]| if v.is_empty() { 0 } else { v.iter().sum::<u64>() / v.len() as u64 };
        let max = r.shims.iter().max().copied().unwrap_or(0);
        let (avg, anon, pss) = (mean(&r.shims), mean(&r.shims_anon), mean(&r.shims_pss));
        println!(
            "\nRSS (KiB): shim avg {avg} (RssAnon {anon}, Pss {pss}) max {max} over {} shims; daemon idle {} / with {n} containers {}; supervisor idle {} / with {n} containers {}",
            r.shims.len(),
            r.daemon_idle,
            r.daemon_loaded,
            r.supervisor_idle,
            r.supervisor_loaded
        );
    }
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let csv = target.join("restart-bench.csv");
    let svg = target.join("restart-bench.svg");
    if let Err(e) = write_csv(&rows, &csv) {
        eprintln!("write {}: {e}", csv.display());
    }
    if let Err(e) = draw_svg(&rows, &svg) {
        eprintln!("draw {}: {e}", svg.display());
    }
    println!("\nwrote {} and {}", csv.display(), svg.display());
    let _ = std::fs::remove_dir_all(&links);
}
