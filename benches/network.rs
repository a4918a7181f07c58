//! Network bench: berth (modular) against the real dockerd 20.10, each in a network namespace
//! of the bench's own, measured in the same run through the same docker CLI.
//!
//! - network set-up + teardown per container: median wall time of `docker run --rm busybox
//!   true` on the default bridge and on a user-defined network, minus the same with
//!   `--network none` (which makes no veth, address or rule);
//! - container-to-container TCP throughput over the bridge (busybox `nc`, 256 MiB);
//! - throughput through a published port on the namespace's loopback (berth-proxy against
//!   docker-proxy), 256 MiB.
//!
//! Prints a table and the ratios berth/dockerd. Run with `examples/network-bench.sh` (the
//! shipped static build). Env: BERTH_BENCH_N runs per timing (default 10).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::engines::{Containerd, Dockerd};
use common::netns::NetNs;
use common::{wait_until, TempDir, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
/// 64 KiB blocks sent per throughput run (256 MiB).
const BLOCKS: u32 = 4096;

/// One engine under test: where its API is and the namespace it runs in.
struct Engine<'a> {
    name: &'static str,
    host: String,
    config: PathBuf,
    netns: &'a NetNs,
}

impl Engine<'_> {
    fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "{} docker {args:?}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median ms of `docker run --rm [--network net] busybox true`.
fn run_ms(e: &Engine, net: Option<&str>, n: usize) -> f64 {
    let mut args = vec!["run", "--rm"];
    if let Some(net) = net {
        args.extend(["--network", net]);
    }
    args.extend(["busybox", "true"]);
    e.ok(&args);
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                e.ok(&args);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

/// A sink server on port 5001 (every connection read to its end), published on
/// 127.0.0.1:`port`; its address on the default bridge.
fn sink(e: &Engine, port: u16) -> String {
    let bind = format!("127.0.0.1:{port}:5001");
    e.ok(&["run", "-d", "--name", "sink", "-p", &bind, "busybox", "nc", "-ll", "-p", "5001", "-e", "sh", "-c", "cat >/dev/null"]);
    let ip = e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "sink"]).trim().to_owned();
    let probe = format!("echo | busybox nc 127.0.0.1 {port}");
    let up = wait_until(10, || e.netns.cmd("sh").args(["-c", &probe]).status().is_ok_and(|s| s.success()));
    assert!(up, "{}: the published port does not answer", e.name);
    ip
}

/// MB/s of `BLOCKS` 64 KiB blocks sent by a container to `ip`:5001 (timed inside by `time`).
fn container_to_container(e: &Engine, ip: &str) -> f64 {
    let script = format!("time sh -c 'dd if=/dev/zero bs=65536 count={BLOCKS} 2>/dev/null | nc {ip} 5001'");
    let out = e.docker(&["run", "--rm", "busybox", "sh", "-c", &script]);
    let err = String::from_utf8_lossy(&out.stderr);
    // busybox: "real\t0m 1.23s"
    let secs = err
        .lines()
        .find_map(|l| l.strip_prefix("real"))
        .and_then(|t| {
            let t = t.trim().trim_end_matches('s');
            let (m, s) = t.split_once('m')?;
            Some(m.trim().parse::<f64>().ok()? * 60.0 + s.trim().parse::<f64>().ok()?)
        })
        .unwrap_or_else(|| panic!("{}: no time in {err}", e.name));
    (BLOCKS as f64 / 16.0) / secs.max(0.001)
}

/// MB/s of `BLOCKS` 64 KiB blocks sent from the namespace to 127.0.0.1:`port` (the proxy).
fn through_published_port(e: &Engine, port: u16) -> f64 {
    let t = Instant::now();
    let script = format!("dd if=/dev/zero bs=65536 count={BLOCKS} 2>/dev/null | busybox nc 127.0.0.1 {port}");
    let st = e.netns.cmd("sh").args(["-c", &script]).status().expect("sh");
    assert!(st.success(), "{}: sending through the published port", e.name);
    (BLOCKS as f64 / 16.0) / t.elapsed().as_secs_f64()
}

#[derive(Debug)]
struct Row {
    none_ms: f64,
    bridge_ms: f64,
    user_ms: f64,
    c2c_mbs: f64,
    published_mbs: f64,
}

fn measure(e: &Engine, n: usize) -> Row {
    e.ok(&["network", "create", "benchnet"]);
    let none_ms = run_ms(e, Some("none"), n);
    let bridge_ms = run_ms(e, None, n);
    let user_ms = run_ms(e, Some("benchnet"), n);
    let ip = sink(e, 15001);
    let c2c_mbs = median((0..3).map(|_| container_to_container(e, &ip)).collect());
    let published_mbs = median((0..3).map(|_| through_published_port(e, 15001)).collect());
    e.ok(&["rm", "-f", "sink"]);
    e.ok(&["network", "rm", "benchnet"]);
    Row { none_ms, bridge_ms, user_ms, c2c_mbs, published_mbs }
}

fn main() {
    let n: usize = std::env::var("BERTH_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let berth = TestDaemon::modular("nbench");
    berth.import_busybox();
    let dir = TempDir::new("nbdk");
    let dk_ns = NetNs::new("nbdkns");
    let containerd = Containerd::start(&dir.path().join("ctd"));
    let dockerd = Dockerd::start_networked(&dir.path().join("dkd"), &containerd.socket(), &dk_ns);
    dockerd.import_busybox();
    let engines = [
        Engine { name: "berth", host: berth.host(), config: berth.dir.path().join("docker-config"), netns: &berth.netns },
        Engine { name: "dockerd", host: dockerd.host(), config: dir.path().join("client"), netns: &dk_ns },
    ];
    let rows: Vec<Row> = engines.iter().map(|e| measure(e, n)).collect();
    println!("network bench, {n} runs per timing, {} MiB per throughput run", BLOCKS / 16);
    println!(
        "{:<8} {:>10} {:>11} {:>9} {:>13} {:>13} {:>12} {:>14}",
        "engine", "none ms", "bridge ms", "user ms", "bridge set-up", "user set-up", "c2c MB/s", "published MB/s"
    );
    for (e, r) in engines.iter().zip(&rows) {
        println!(
            "{:<8} {:>10.1} {:>11.1} {:>9.1} {:>13.1} {:>13.1} {:>12.1} {:>14.1}",
            e.name,
            r.none_ms,
            r.bridge_ms,
            r.user_ms,
            r.bridge_ms - r.none_ms,
            r.user_ms - r.none_ms,
            r.c2c_mbs,
            r.published_mbs
        );
    }
    let (b, d) = (&rows[0], &rows[1]);
    let setup = |r: &Row, x: f64| (x - r.none_ms).max(0.1);
    println!("ratios berth/dockerd:");
    println!("  network set-up + teardown, default bridge: {:.2} (target <= 0.2)", setup(b, b.bridge_ms) / setup(d, d.bridge_ms));
    println!("  network set-up + teardown, user network:   {:.2} (target <= 0.2)", setup(b, b.user_ms) / setup(d, d.user_ms));
    println!("  run --rm on the default bridge:            {:.2}", b.bridge_ms / d.bridge_ms);
    println!("  container-to-container throughput:         {:.2}", b.c2c_mbs / d.c2c_mbs);
    println!("  published-port throughput (proxy):         {:.2} (target >= 1)", b.published_mbs / d.published_mbs);
}
