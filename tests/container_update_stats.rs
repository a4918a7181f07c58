//! `docker update` and `docker stats` (issue 14). Update: new limits reach the running
//! container's cgroup (read from inside it) and hold (a fork beyond the pids limit fails),
//! inspect and later starts keep them, `--restart` changes what the restart manager does,
//! Docker's refusals and messages, fields berth cannot update refused by name. Stats:
//! `--no-stream` shows the container's memory and pids, a stream yields one object a second
//! whose precpu_stats is the previous cpu_stats, a stopped container gets Docker's zeroed
//! sample. Both modes, docker CLI 28.x and 20.10, and the berth client.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, wait_until, TestDaemon};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn inspect(d: &TestDaemon, name: &str, format: &str) -> String {
    docker_bin_ok(DOCKER, d, &["inspect", "-f", format, name]).trim().to_owned()
}

fn fails_saying(bin: &str, d: &TestDaemon, args: &[&str], says: &str) {
    let out = docker_bin_cmd(bin, d).args(args).output().expect("docker");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(says), "{bin} {args:?}: want {says:?}, got: {err}");
}

/// Whether the host has v1 controllers (else the container sees a v2 directory).
fn v1() -> bool {
    Path::new("/sys/fs/cgroup/pids").exists()
}

/// `files` of the container's own cgroup, as the container reads them.
fn inside(d: &TestDaemon, name: &str, v1_files: &str, v2_files: &str) -> String {
    let files = if v1() { v1_files } else { v2_files };
    docker_bin_ok(DOCKER, d, &["exec", name, "sh", "-c", &format!("cd /sys/fs/cgroup && cat {files}")])
}

/// A file of the container's cgroup as the host sees it (`controller`'s v1 hierarchy, or v2).
fn host_cgroup(d: &TestDaemon, id: &str, controller: &str, file: &str) -> String {
    let v1 = Path::new("/sys/fs/cgroup").join(controller).join(&d.cgroup_parent).join(id).join(file);
    let p = if v1.exists() { v1 } else { Path::new("/sys/fs/cgroup").join(&d.cgroup_parent).join(id).join(file) };
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_owned()
}

/// An HTTP/1.0 request on the daemon's socket (so the body ends with the connection, not
/// chunked); the reader is left after the headers, with the status code.
fn request(d: &TestDaemon, method: &str, path: &str, body: &str) -> (u16, BufReader<UnixStream>) {
    let mut s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
    write!(s, "{method} {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        .expect("write");
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).expect("status line");
    let code = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        if h.trim().is_empty() {
            break;
        }
    }
    (code, r)
}

fn call(d: &TestDaemon, method: &str, path: &str, body: &str) -> (u16, String) {
    let (code, mut r) = request(d, method, path, body);
    let mut out = String::new();
    r.read_to_string(&mut out).expect("body");
    (code, out)
}

fn update_flow(d: &TestDaemon) {
    d.import_busybox();
    for (bin, name) in [(DOCKER, "u28"), (DOCKER_20, "u20")] {
        docker_bin_ok(bin, d, &["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
        assert_eq!(docker_bin_ok(bin, d, &["update", "--memory", "128m", "--pids-limit", "20", name]).trim(), name);
        assert_eq!(inside(d, name, "memory/memory.limit_in_bytes pids/pids.max", "memory.max pids.max"), "134217728\n20\n", "{bin}");
        assert_eq!(inspect(d, name, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}"), "134217728 20", "{bin}");
        // The limit holds: forks past 20 processes fail.
        let out = docker_bin_cmd(bin, d)
            .args(["exec", name, "sh", "-c", "i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done; echo done"])
            .output()
            .expect("docker exec");
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(all.contains("can't fork") || all.contains("Resource temporarily unavailable"), "{bin}: forks past the limit: {all}");
        let id = inspect(d, name, "{{.Id}}");
        let current: u32 = host_cgroup(d, &id, "pids", "pids.current").parse().expect("pids.current");
        assert!((15..=20).contains(&current), "{bin}: {current} processes under a limit of 20");
        // Raised live: room again (for the execs below).
        docker_bin_ok(bin, d, &["update", "--pids-limit", "200", name]);
        assert_eq!(host_cgroup(d, &id, "pids", "pids.max"), "200");

        // --cpus: the CFS quota over Docker's period.
        docker_bin_ok(bin, d, &["update", "--cpus", "0.5", name]);
        assert_eq!(inside(d, name, "cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us", "cpu.max"), if v1() { "50000\n100000\n" } else { "50000 100000\n" });
        assert_eq!(inspect(d, name, "{{.HostConfig.NanoCpus}}"), "500000000");
        fails_saying(bin, d, &["update", "--cpu-quota", "20000", name], "CPU Quota cannot be updated as NanoCPUs has already been set");

        // Docker's refusals, with its messages; nothing changes.
        fails_saying(bin, d, &["update", "--memory", "4m", name], "Minimum memory limit allowed is 6MB");
        fails_saying(
            bin,
            d,
            &["update", "--memory", "64m", "--memory-swap", "32m", name],
            "Minimum memoryswap limit should be larger than memory limit",
        );
        fails_saying(bin, d, &["update", "--cpus", "1", "--cpu-quota", "5000", name], "Nano CPUs and CPU Quota cannot both be set");
        fails_saying(bin, d, &["update", "--restart", "sometimes", name], "invalid restart policy");
        fails_saying(DOCKER_20, d, &["update", "--kernel-memory", "64m", name], "KernelMemory");
        assert_eq!(inspect(d, name, "{{.HostConfig.Memory}}"), "134217728");

        // The stored limits are the ones a later start applies.
        docker_bin_ok(bin, d, &["restart", "-t", "0", name]);
        assert_eq!(
            inside(d, name, "memory/memory.limit_in_bytes pids/pids.max", "memory.max pids.max"),
            "134217728\n200\n",
            "{bin}: after a restart"
        );

        // Gone: Docker's 404.
        docker_bin_ok(bin, d, &["rm", "-f", name]);
        fails_saying(bin, d, &["update", "--memory", "128m", name], &format!("No such container: {name}"));
    }

    // --restart: the new policy is the one the restart manager follows at the next exit.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "r", "busybox", "sh", "-c", "while [ ! -e /go ]; do sleep 0.1; done; exit 3"]);
    docker_bin_ok(DOCKER_20, d, &["update", "--restart", "on-failure:2", "r"]);
    assert_eq!(inspect(d, "r", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"), "on-failure:2");
    docker_bin_ok(DOCKER, d, &["exec", "r", "touch", "/go"]);
    assert!(
        wait_until(30, || inspect(d, "r", "{{.RestartCount}} {{.State.Running}}") == "2 false"),
        "restarted twice by the updated policy: {}",
        inspect(d, "r", "{{.RestartCount}} {{.State.Status}}")
    );
    docker_bin_ok(DOCKER, d, &["rm", "-f", "r"]);

    // Fields berth cannot update are refused by name (raw API, as docker-py sends them);
    // AutoRemove forbids a restart policy, as Docker.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--rm", "--name", "k", "busybox", "sleep", "1000"]);
    let (code, body) = call(d, "POST", "/v1.41/containers/k/update", r#"{"KernelMemory": 67108864, "Memory": 67108864}"#);
    assert!(code == 400 && body.contains("KernelMemory"), "{code} {body}");
    let (code, body) = call(d, "POST", "/v1.41/containers/k/update", r#"{"DeviceCgroupRules": ["c 1:3 r"]}"#);
    assert!(code == 400 && body.contains("DeviceCgroupRules"), "{code} {body}");
    let (code, body) = call(d, "POST", "/v1.41/containers/k/update", r#"{"RestartPolicy": {"Name": "always"}}"#);
    assert!(code == 409 && body.contains("AutoRemove is enabled"), "{code} {body}");
    let (code, body) = call(d, "POST", "/v1.41/containers/k/update", r#"{"PidsLimit": 50}"#);
    assert_eq!((code, body.trim()), (200, r#"{"Warnings":[]}"#));
    docker_bin_ok(DOCKER, d, &["rm", "-f", "k"]);

    // The berth client.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "b", "busybox", "sleep", "1000"]);
    assert_eq!(d.berth_ok(&["update", "--pids-limit", "30", "--memory", "96m", "b"]).trim(), "b");
    assert_eq!(inside(d, "b", "memory/memory.limit_in_bytes pids/pids.max", "memory.max pids.max"), "100663296\n30\n");
    let out = d.berth(&["update", "--memory", "4m", "b"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Minimum memory limit allowed is 6MB"));
    d.berth_ok(&["update", "--cpu-shares", "512", "--memory-reservation", "32m", "--cpuset-cpus", "0", "b"]);
    assert_eq!(
        inside(d, "b", "cpu/cpu.shares memory/memory.soft_limit_in_bytes cpuset/cpuset.cpus", "cpu.weight memory.low cpuset.cpus"),
        if v1() { "512\n33554432\n0\n" } else { "20\n33554432\n0\n" }
    );
    fails_saying(DOCKER, d, &["update", "--cpuset-cpus", "4096", "b"], "Requested CPUs are not available");
    fails_saying(DOCKER, d, &["update", "--cpuset-cpus", "x", "b"], "Invalid value x for cpuset cpus");
    // A stopped container's update is kept for its next start.
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "b"]);
    assert_eq!(d.berth_ok(&["update", "--pids-limit", "40", "b"]).trim(), "b");
    docker_bin_ok(DOCKER, d, &["start", "b"]);
    assert_eq!(inside(d, "b", "pids/pids.max", "pids.max"), "40\n");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "b"]);
}

/// Runs a streaming `stats` command until it has drawn the container's row twice (within
/// 20 s), then kills it.
fn redraws(cmd: &mut std::process::Command, who: &str) {
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().expect("spawn stats");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rows = 0;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.split("   ").map(str::trim).nth(1) == Some("s") {
                rows += 1;
                if rows == 2 {
                    let _ = tx.send(line);
                    return;
                }
            }
        }
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    assert!(got.is_ok(), "{who}: no redrawn row for the container");
}

fn stats_flow(d: &TestDaemon) {
    d.import_busybox();
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "s", "busybox", "sleep", "1000"]);
    // --no-stream: one row, memory in use and one process; the berth client's the same.
    let columns = |out: &str, who: &str| {
        let mut lines = out.lines();
        let header = lines.next().unwrap_or_default();
        assert!(header.starts_with("CONTAINER ID") && header.contains("MEM USAGE / LIMIT") && header.ends_with("PIDS"), "{who}: {out}");
        let cols: Vec<String> = lines.next().unwrap_or_default().split("   ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect();
        assert_eq!(cols.len(), 8, "{who}: {out}");
        assert_eq!((cols[1].as_str(), cols[7].as_str()), ("s", "1"), "{who}: {out}");
        assert!(!cols[3].starts_with("0B ") && cols[2].ends_with('%') && cols[4].ends_with('%'), "{who}: memory in use: {out}");
    };
    for bin in [DOCKER, DOCKER_20] {
        columns(&docker_bin_ok(bin, d, &["stats", "--no-stream", "s"]), bin);
    }
    columns(&d.berth_ok(&["stats", "--no-stream", "s"]), "berth stats");
    // Streaming: the table is redrawn (a second row for the container comes).
    for bin in [DOCKER, DOCKER_20] {
        redraws(docker_bin_cmd(bin, d).args(["stats", "s"]), bin);
    }
    let mut berth = std::process::Command::new(common::role("berth"));
    berth.args(["-H", &d.host(), "stats", "s"]);
    redraws(&mut berth, "berth stats");

    // A busy container's CPU % is its share of the host's CPU time.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "busy", "busybox", "sh", "-c", "while :; do :; done"]);
    let out = docker_bin_ok(DOCKER, d, &["stats", "--no-stream", "--format", "{{.CPUPerc}}", "busy"]);
    let cpu: f64 = out.trim().trim_end_matches('%').parse().unwrap_or_else(|_| panic!("CPU %: {out}"));
    assert!(cpu > 5.0, "a busy loop's CPU %: {out}");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "busy"]);

    // A stream: an object a second, each with the previous one's CPU statistics.
    let (code, mut r) = request(d, "GET", "/v1.41/containers/s/stats", "");
    assert_eq!(code, 200);
    let mut samples: Vec<Value> = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        r.read_line(&mut line).expect("a stats object");
        samples.push(serde_json::from_str(&line).expect("JSON"));
    }
    drop(r);
    let time = |v: &Value, k: &str| chrono::DateTime::parse_from_rfc3339(v[k].as_str().unwrap_or_default()).expect("a time");
    for w in samples.windows(2) {
        let gap = (time(&w[1], "read") - time(&w[0], "read")).num_milliseconds();
        assert!((500..=2500).contains(&gap), "samples {gap} ms apart");
        assert_eq!(w[1]["precpu_stats"], w[0]["cpu_stats"]);
        assert_eq!(w[1]["preread"], w[0]["read"]);
    }
    let s = &samples[2];
    assert!(s["memory_stats"]["usage"].as_u64().unwrap_or(0) > 0 && s["memory_stats"]["limit"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!(s["pids_stats"]["current"], 1);
    assert!(s["cpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0 && s["cpu_stats"]["online_cpus"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!((s["name"].as_str(), s["id"].as_str().map(str::len)), (Some("/s"), Some(64)));
    assert!(
        s["memory_stats"]["stats"].as_object().is_some_and(|m| m.contains_key(if v1() { "total_inactive_file" } else { "inactive_file" })),
        "{s}"
    );

    // stream=false is primed (precpu filled); one-shot is not; both at once is refused.
    let (_, body) = call(d, "GET", "/v1.41/containers/s/stats?stream=false", "");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert!(v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0, "{v}");
    let (_, body) = call(d, "GET", "/v1.41/containers/s/stats?stream=false&one-shot=true", "");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert!(v["precpu_stats"].get("system_cpu_usage").is_none() && v["pids_stats"]["current"] == 1, "{v}");
    let (code, _) = call(d, "GET", "/v1.41/containers/s/stats?stream=true&one-shot=true", "");
    assert_eq!(code, 400);

    // Stopped: Docker's zeroed sample with the name and id.
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "s"]);
    let (_, body) = call(d, "GET", "/v1.41/containers/s/stats?stream=false", "");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((v["read"].as_str(), v["name"].as_str()), (Some("0001-01-01T00:00:00Z"), Some("/s")), "{v}");
    assert_eq!(v["memory_stats"], serde_json::json!({}));
    let (code, body) = call(d, "GET", "/v1.41/containers/nosuch/stats?stream=false", "");
    assert!(code == 404 && body.contains("No such container: nosuch"), "{code} {body}");
    // A stream of a stopped container is zeroed samples, and ends when it is removed.
    let (code, mut r) = request(d, "GET", "/v1.41/containers/s/stats", "");
    assert_eq!(code, 200);
    for _ in 0..2 {
        let mut line = String::new();
        r.read_line(&mut line).expect("a stats object");
        let v: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!((v["read"].as_str(), v["pids_stats"].clone()), (Some("0001-01-01T00:00:00Z"), serde_json::json!({})), "{v}");
    }
    docker_bin_ok(DOCKER, d, &["rm", "s"]);
    let mut rest = String::new();
    r.read_to_string(&mut rest).expect("the stream ends");
    assert!(rest.lines().count() <= 1, "{rest}");
}

#[test]
fn update_changes_live_limits_and_policy_and_refuses_what_docker_refuses_modular() {
    update_flow(&TestDaemon::modular("upd-mod"));
}

#[test]
fn update_changes_live_limits_and_policy_and_refuses_what_docker_refuses_monolithic() {
    update_flow(&TestDaemon::monolithic("upd-mono"));
}

#[test]
fn stats_report_memory_pids_and_cpu_once_or_each_second_modular() {
    stats_flow(&TestDaemon::modular("stats-mod"));
}

#[test]
fn stats_report_memory_pids_and_cpu_once_or_each_second_monolithic() {
    stats_flow(&TestDaemon::monolithic("stats-mono"));
}
