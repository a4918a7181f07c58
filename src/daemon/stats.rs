//! `GET /containers/{id}/stats`: Docker's StatsJSON from the container's cgroup statistics,
//! which the backend reads (the shim's Stats through the supervisor's Task.Metrics, or the
//! same reader in-process): containerd's `io.containerd.cgroups.v1.Metrics` or `.v2.Metrics`,
//! turned into Docker's fields as dockerd does, plus the host's CPU time and online CPUs, and
//! the container's network interfaces from its network namespace. A container that does not
//! run gets Docker's zeroed sample (its name and id, nothing else).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use containerd_shim_protos::protobuf::Message;
use serde::Serialize;

use super::container::Status;
use super::{Daemon, DaemonError};

/// How often a stream samples (Docker's collector interval).
pub const INTERVAL: Duration = Duration::from_secs(1);

fn zero(v: &u64) -> bool {
    *v == 0
}

/// `pids_stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

/// One `blkio_stats` entry.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// `blkio_stats` (lists berth does not read stay null, as Docker's on v2).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioEntry>>,
    pub io_time_recursive: Option<Vec<BlkioEntry>>,
    pub sectors_recursive: Option<Vec<BlkioEntry>>,
}

/// `cpu_stats.cpu_usage`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUsage {
    pub total_usage: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage: Vec<u64>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

/// `cpu_stats.throttling_data`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

/// `cpu_stats` and `precpu_stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    #[serde(skip_serializing_if = "zero")]
    pub system_cpu_usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub online_cpus: u64,
    pub throttling_data: Throttling,
}

/// `memory_stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max_usage: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "zero")]
    pub failcnt: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

/// One interface of `networks`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Docker's `StatsJSON`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub storage_stats: BTreeMap<String, u64>,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    pub name: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

/// Go's zero time, as Docker writes an unset `read`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Stats {
    /// Docker's sample of a container that does not run: its name and id, all else zero.
    pub fn zeroed(name: &str, id: &str) -> Self {
        Stats {
            read: ZERO_TIME.into(),
            preread: ZERO_TIME.into(),
            pids_stats: Default::default(),
            blkio_stats: Default::default(),
            num_procs: 0,
            storage_stats: Default::default(),
            cpu_stats: Default::default(),
            precpu_stats: Default::default(),
            memory_stats: Default::default(),
            name: name.into(),
            id: id.into(),
            networks: None,
        }
    }

    /// This sample with the previous one's CPU statistics and time (`precpu_stats`, `preread`).
    pub fn after(mut self, previous: Option<&Stats>) -> Self {
        if let Some(p) = previous {
            self.precpu_stats = p.cpu_stats.clone();
            self.preread = p.read.clone();
        }
        self
    }
}

/// A u64 that cgroups report as "no limit" (v2's `max`), which Docker leaves out.
fn limit_of(v: u64) -> u64 {
    if v == u64::MAX {
        0
    } else {
        v
    }
}

fn entries(list: &[v1::BlkIOEntry]) -> Vec<BlkioEntry> {
    list.iter().map(|e| BlkioEntry { major: e.major, minor: e.minor, op: e.op.clone(), value: e.value }).collect()
}

/// Fills `s` from v1 Metrics, as dockerd's statsV1 does.
fn from_v1(s: &mut Stats, m: &v1::Metrics) {
    if let Some(p) = m.pids.as_ref() {
        s.pids_stats = PidsStats { current: p.current, limit: limit_of(p.limit) };
    }
    if let Some(c) = m.cpu.as_ref() {
        let u = c.usage.get_or_default();
        s.cpu_stats.cpu_usage =
            CpuUsage { total_usage: u.total, percpu_usage: u.per_cpu.clone(), usage_in_kernelmode: u.kernel, usage_in_usermode: u.user };
        let t = c.throttling.get_or_default();
        s.cpu_stats.throttling_data = Throttling { periods: t.periods, throttled_periods: t.throttled_periods, throttled_time: t.throttled_time };
    }
    if let Some(mem) = m.memory.as_ref() {
        let raw = [
            ("cache", mem.cache),
            ("rss", mem.rss),
            ("rss_huge", mem.rss_huge),
            ("mapped_file", mem.mapped_file),
            ("dirty", mem.dirty),
            ("writeback", mem.writeback),
            ("pgpgin", mem.pg_pg_in),
            ("pgpgout", mem.pg_pg_out),
            ("pgfault", mem.pg_fault),
            ("pgmajfault", mem.pg_maj_fault),
            ("inactive_anon", mem.inactive_anon),
            ("active_anon", mem.active_anon),
            ("inactive_file", mem.inactive_file),
            ("active_file", mem.active_file),
            ("unevictable", mem.unevictable),
            ("hierarchical_memory_limit", mem.hierarchical_memory_limit),
            ("hierarchical_memsw_limit", mem.hierarchical_swap_limit),
            ("total_cache", mem.total_cache),
            ("total_rss", mem.total_rss),
            ("total_rss_huge", mem.total_rss_huge),
            ("total_mapped_file", mem.total_mapped_file),
            ("total_dirty", mem.total_dirty),
            ("total_writeback", mem.total_writeback),
            ("total_pgpgin", mem.total_pg_pg_in),
            ("total_pgpgout", mem.total_pg_pg_out),
            ("total_pgfault", mem.total_pg_fault),
            ("total_pgmajfault", mem.total_pg_maj_fault),
            ("total_inactive_anon", mem.total_inactive_anon),
            ("total_active_anon", mem.total_active_anon),
            ("total_inactive_file", mem.total_inactive_file),
            ("total_active_file", mem.total_active_file),
            ("total_unevictable", mem.total_unevictable),
        ];
        s.memory_stats.stats = raw.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        if let Some(u) = mem.usage.as_ref() {
            s.memory_stats.usage = u.usage;
            s.memory_stats.max_usage = u.max;
            s.memory_stats.failcnt = u.failcnt;
            s.memory_stats.limit = u.limit;
        }
    }
    if let Some(b) = m.blkio.as_ref() {
        s.blkio_stats = BlkioStats {
            io_service_bytes_recursive: Some(entries(&b.io_service_bytes_recursive)),
            io_serviced_recursive: Some(entries(&b.io_serviced_recursive)),
            io_queue_recursive: Some(entries(&b.io_queued_recursive)),
            io_service_time_recursive: Some(entries(&b.io_service_time_recursive)),
            io_wait_time_recursive: Some(entries(&b.io_wait_time_recursive)),
            io_merged_recursive: Some(entries(&b.io_merged_recursive)),
            io_time_recursive: Some(entries(&b.io_time_recursive)),
            sectors_recursive: Some(entries(&b.sectors_recursive)),
        };
    }
}

/// Fills `s` from v2 Metrics, as dockerd's statsV2 does (microseconds become nanoseconds).
fn from_v2(s: &mut Stats, m: &v2::Metrics) {
    if let Some(p) = m.pids.as_ref() {
        s.pids_stats = PidsStats { current: p.current, limit: limit_of(p.limit) };
    }
    if let Some(c) = m.cpu.as_ref() {
        s.cpu_stats.cpu_usage = CpuUsage {
            total_usage: c.usage_usec * 1000,
            percpu_usage: Vec::new(),
            usage_in_kernelmode: c.system_usec * 1000,
            usage_in_usermode: c.user_usec * 1000,
        };
        s.cpu_stats.throttling_data =
            Throttling { periods: c.nr_periods, throttled_periods: c.nr_throttled, throttled_time: c.throttled_usec * 1000 };
    }
    if let Some(mem) = m.memory.as_ref() {
        let raw = [
            ("anon", mem.anon),
            ("file", mem.file),
            ("kernel_stack", mem.kernel_stack),
            ("slab", mem.slab),
            ("sock", mem.sock),
            ("shmem", mem.shmem),
            ("file_mapped", mem.file_mapped),
            ("file_dirty", mem.file_dirty),
            ("file_writeback", mem.file_writeback),
            ("anon_thp", mem.anon_thp),
            ("inactive_anon", mem.inactive_anon),
            ("active_anon", mem.active_anon),
            ("inactive_file", mem.inactive_file),
            ("active_file", mem.active_file),
            ("unevictable", mem.unevictable),
            ("slab_reclaimable", mem.slab_reclaimable),
            ("slab_unreclaimable", mem.slab_unreclaimable),
            ("pgfault", mem.pgfault),
            ("pgmajfault", mem.pgmajfault),
            ("workingset_refault", mem.workingset_refault),
            ("workingset_activate", mem.workingset_activate),
            ("workingset_nodereclaim", mem.workingset_nodereclaim),
            ("pgrefill", mem.pgrefill),
            ("pgscan", mem.pgscan),
            ("pgsteal", mem.pgsteal),
            ("pgactivate", mem.pgactivate),
            ("pgdeactivate", mem.pgdeactivate),
            ("pglazyfree", mem.pglazyfree),
            ("pglazyfreed", mem.pglazyfreed),
            ("thp_fault_alloc", mem.thp_fault_alloc),
            ("thp_collapse_alloc", mem.thp_collapse_alloc),
        ];
        s.memory_stats.stats = raw.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        s.memory_stats.usage = mem.usage;
        s.memory_stats.limit = mem.usage_limit;
    }
    if let Some(io) = m.io.as_ref() {
        let ops = |r: fn(&v2::IOEntry) -> u64, w: fn(&v2::IOEntry) -> u64| {
            let mut out = Vec::new();
            for e in &io.usage {
                out.push(BlkioEntry { major: e.major, minor: e.minor, op: "read".into(), value: r(e) });
                out.push(BlkioEntry { major: e.major, minor: e.minor, op: "write".into(), value: w(e) });
            }
            out
        };
        s.blkio_stats.io_service_bytes_recursive = Some(ops(|e| e.rbytes, |e| e.wbytes));
        s.blkio_stats.io_serviced_recursive = Some(ops(|e| e.rios, |e| e.wios));
    }
}

/// The host's CPU time in nanoseconds (the first line of /proc/stat, user to softirq, as
/// dockerd sums it) and its online CPUs (the `cpuN` lines).
fn host_cpu() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut total = 0;
    let mut online = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => {
                let ticks: u64 = f.take(7).filter_map(|v| v.parse::<u64>().ok()).sum();
                // USER_HZ is 100 on every Linux ABI.
                total = ticks.saturating_mul(1_000_000_000 / 100);
            }
            Some(c) if c.starts_with("cpu") => online += 1,
            _ => {}
        }
    }
    (total, online)
}

/// The host's memory in bytes (MemTotal), the limit Docker shows for an unlimited container.
fn machine_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()).map_or(0, |kb| kb * 1024)
}

/// The interfaces of /proc/<pid>/net/dev (the container's network namespace), loopback aside;
/// None when it has no other.
pub fn parse_net_dev(text: &str) -> Option<BTreeMap<String, NetworkStats>> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else { continue };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if v.len() < 12 {
            continue;
        }
        let n = NetworkStats {
            rx_bytes: v[0],
            rx_packets: v[1],
            rx_errors: v[2],
            rx_dropped: v[3],
            tx_bytes: v[8],
            tx_packets: v[9],
            tx_errors: v[10],
            tx_dropped: v[11],
        };
        out.insert(name.to_owned(), n);
    }
    (!out.is_empty()).then_some(out)
}

/// A sample from a backend's metrics (`type_url`, encoded Metrics), taken now.
pub fn sample(name: &str, id: &str, type_url: &str, data: &[u8], pid: i32) -> Result<Stats, String> {
    let mut s = Stats::zeroed(name, id);
    s.read = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    if type_url.ends_with("cgroups.v2.Metrics") {
        let m = v2::Metrics::parse_from_bytes(data).map_err(|e| format!("decode {type_url}: {e}"))?;
        from_v2(&mut s, &m);
    } else if type_url.ends_with("cgroups.v1.Metrics") {
        let m = v1::Metrics::parse_from_bytes(data).map_err(|e| format!("decode {type_url}: {e}"))?;
        from_v1(&mut s, &m);
    } else {
        return Err(format!("unknown metrics type {type_url:?}"));
    }
    let (system, online) = host_cpu();
    s.cpu_stats.system_cpu_usage = system;
    s.cpu_stats.online_cpus = online;
    // An unlimited container shows the host's memory, as Docker's.
    let machine = machine_memory();
    if machine > 0 && (s.memory_stats.limit == 0 || s.memory_stats.limit > machine) {
        s.memory_stats.limit = machine;
    }
    s.networks = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok().and_then(|t| parse_net_dev(&t));
    Ok(s)
}

impl Daemon {
    /// One sample of container `id` (resolved) now; Err only when the container is gone.
    pub async fn stats_sample(&self, id: &str) -> Result<Stats, DaemonError> {
        let c = self.containers.get(id)?;
        if c.state.status != Status::Running || c.state.restarting {
            return Ok(Stats::zeroed(&c.name, &c.id));
        }
        match self.backend.metrics(id, c.state.pid).await {
            Ok(Some((url, data))) => match sample(&c.name, &c.id, &url, &data, c.state.pid) {
                Ok(s) => Ok(s),
                Err(e) => {
                    tracing::warn!("stats of {id}: {e}");
                    Ok(Stats::zeroed(&c.name, &c.id))
                }
            },
            // The task ended between the check and the read: Docker's zeroed sample.
            Ok(None) | Err(_) => Ok(Stats::zeroed(&c.name, &c.id)),
        }
    }

    /// `GET /containers/{id}/stats`: the samples to send, one JSON document each, through
    /// `out`. `stream`: one per [`INTERVAL`] until the client goes or the container is removed;
    /// else one, primed with a first sample an interval earlier unless `one_shot`, as Docker
    /// does (so precpu_stats is filled); a container that does not run answers at once.
    pub async fn stats_feed(self: Arc<Self>, id: String, stream: bool, one_shot: bool, out: tokio::sync::mpsc::Sender<Stats>) {
        let mut previous: Option<Stats> = None;
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut primed = one_shot;
        loop {
            tick.tick().await;
            let Ok(s) = self.stats_sample(&id).await else { return };
            let running = s.read != ZERO_TIME;
            let s = s.after(previous.as_ref());
            previous = Some(s.clone());
            if !stream && !primed && running {
                primed = true;
                continue;
            }
            if out.send(s).await.is_err() || !stream {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_lists_interfaces_but_loopback() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1500 12 1 2 0 0 0 0 900 9 3 4 0 0 0 0\n";
        let n = parse_net_dev(text).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(
            n["eth0"],
            NetworkStats { rx_bytes: 1500, rx_packets: 12, rx_errors: 1, rx_dropped: 2, tx_bytes: 900, tx_packets: 9, tx_errors: 3, tx_dropped: 4 }
        );
        assert!(parse_net_dev(&text.replace("  eth0: 1500 12 1 2 0 0 0 0 900 9 3 4 0 0 0 0\n", "")).is_none());
    }

    #[test]
    fn a_zeroed_sample_is_dockers_json_for_a_stopped_container() {
        let v = serde_json::to_value(Stats::zeroed("/c", "abc")).unwrap();
        assert_eq!(v["read"], ZERO_TIME);
        assert_eq!(v["pids_stats"], serde_json::json!({}));
        assert_eq!(v["memory_stats"], serde_json::json!({}));
        assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert!(v["blkio_stats"]["io_service_bytes_recursive"].is_null());
        assert!(v.get("networks").is_none());
        assert_eq!((v["name"].as_str(), v["id"].as_str()), (Some("/c"), Some("abc")));
    }

    #[test]
    fn v1_metrics_become_dockers_fields() {
        let mut m = v1::Metrics::new();
        let mut p = v1::PidsStat::new();
        p.current = 3;
        p.limit = 20;
        m.pids = Some(p).into();
        let mut mem = v1::MemoryStat::new();
        mem.total_inactive_file = 7;
        let mut u = v1::MemoryEntry::new();
        u.usage = 4096;
        u.limit = 128 << 20;
        mem.usage = Some(u).into();
        m.memory = Some(mem).into();
        let data = m.write_to_bytes().unwrap();
        let s = sample("/c", "abc", "io.containerd.cgroups.v1.Metrics", &data, 0).unwrap();
        assert_eq!((s.pids_stats.current, s.pids_stats.limit), (3, 20));
        assert_eq!((s.memory_stats.usage, s.memory_stats.limit), (4096, 128 << 20));
        assert_eq!(s.memory_stats.stats["total_inactive_file"], 7);
        assert!(s.cpu_stats.system_cpu_usage > 0 && s.cpu_stats.online_cpus > 0);
    }
}
