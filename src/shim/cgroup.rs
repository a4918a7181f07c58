//! A container's cgroup as seen from its init pid: the processes in it (Pids), resource
//! statistics (Stats, as containerd's cgroups v1/v2 Metrics) and OOM notification (v1's
//! memory.oom_control eventfd). Works on v1, v2 and hybrid hierarchies.

use std::path::{Path, PathBuf};

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::protobuf::MessageField;

const ROOT: &str = "/sys/fs/cgroup";

/// The cgroup directories of process `pid`: (controller list, absolute dir), from /proc.
fn dirs(pid: i32) -> Vec<(String, PathBuf)> {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else { return Vec::new() };
    let mut out = Vec::new();
    for line in s.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let rel = path.trim_start_matches('/');
        if ctrls.is_empty() {
            // v2: the unified mount is /sys/fs/cgroup itself or, on hybrid, /sys/fs/cgroup/unified.
            let unified = Path::new(ROOT).join("unified");
            let base = if unified.join("cgroup.controllers").exists() { unified } else { PathBuf::from(ROOT) };
            out.push((String::new(), base.join(rel)));
        } else {
            let mount = ctrls.split(',').find_map(|c| {
                let p = Path::new(ROOT).join(c);
                p.exists().then_some(p)
            });
            if let Some(m) = mount.or_else(|| Some(Path::new(ROOT).join(ctrls))) {
                out.push((ctrls.to_owned(), m.join(rel)));
            }
        }
    }
    out
}

fn dir_of(pid: i32, controller: &str) -> Option<PathBuf> {
    dirs(pid).into_iter().find(|(c, _)| c.split(',').any(|x| x == controller)).map(|(_, d)| d)
}

fn unified_dir(pid: i32) -> Option<PathBuf> {
    dirs(pid).into_iter().find(|(c, d)| c.is_empty() && d.join("cgroup.controllers").exists()).map(|(_, d)| d)
}

fn read_u64(path: &Path) -> u64 {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn key_values(path: &Path) -> Vec<(String, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Every pid in the cgroup of `pid` (falls back to `pid` alone).
pub fn pids(pid: i32) -> Vec<u32> {
    let candidates = ["pids", "memory", "cpu", "devices"].iter().filter_map(|c| dir_of(pid, c)).chain(unified_dir(pid));
    for dir in candidates {
        if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            let v: Vec<u32> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !v.is_empty() {
                return v;
            }
        }
    }
    vec![pid as u32]
}

/// Statistics as containerd's `io.containerd.cgroups.v1.Metrics` (from v1 controllers when
/// present, else mapped from v2 files): pids, cpu usage, memory usage/limit.
pub fn metrics(pid: i32) -> v1::Metrics {
    let mut m = v1::Metrics::new();
    let mut pids = v1::PidsStat::new();
    let mut cpu = v1::CPUUsage::new();
    let mut mem = v1::MemoryEntry::new();
    if let Some(d) = dir_of(pid, "pids") {
        pids.current = read_u64(&d.join("pids.current"));
        pids.limit = read_u64(&d.join("pids.max"));
    }
    if let Some(d) = dir_of(pid, "cpuacct") {
        cpu.total = read_u64(&d.join("cpuacct.usage"));
    }
    if let Some(d) = dir_of(pid, "memory") {
        mem.usage = read_u64(&d.join("memory.usage_in_bytes"));
        mem.limit = read_u64(&d.join("memory.limit_in_bytes"));
        mem.max = read_u64(&d.join("memory.max_usage_in_bytes"));
        mem.failcnt = read_u64(&d.join("memory.failcnt"));
    } else if let Some(d) = unified_dir(pid) {
        mem.usage = read_u64(&d.join("memory.current"));
        mem.limit = read_u64(&d.join("memory.max"));
        pids.current = read_u64(&d.join("pids.current"));
        let stat = std::fs::read_to_string(d.join("cpu.stat")).unwrap_or_default();
        for line in stat.lines() {
            if let Some(v) = line.strip_prefix("usage_usec ") {
                cpu.total = v.trim().parse::<u64>().unwrap_or(0) * 1000;
            }
        }
    }
    let mut throttle = v1::Throttle::new();
    let mut mem_stat = v1::MemoryStat::new();
    if let Some(d) = dir_of(pid, "cpu") {
        for (k, v) in key_values(&d.join("cpu.stat")) {
            match k.as_str() {
                "nr_periods" => throttle.periods = v,
                "nr_throttled" => throttle.throttled_periods = v,
                "throttled_time" => throttle.throttled_time = v,
                _ => {}
            }
        }
    }
    if let Some(d) = dir_of(pid, "memory") {
        for (k, v) in key_values(&d.join("memory.stat")) {
            match k.as_str() {
                "cache" => mem_stat.cache = v,
                "rss" => mem_stat.rss = v,
                "mapped_file" => mem_stat.mapped_file = v,
                "total_cache" => mem_stat.total_cache = v,
                "total_rss" => mem_stat.total_rss = v,
                "total_inactive_file" => mem_stat.total_inactive_file = v,
                "inactive_file" => mem_stat.inactive_file = v,
                "active_file" => mem_stat.active_file = v,
                "hierarchical_memory_limit" => mem_stat.hierarchical_memory_limit = v,
                _ => {}
            }
        }
    }
    let mut cpu_stat = v1::CPUStat::new();
    cpu_stat.usage = MessageField::some(cpu);
    // Clients (dockerd 20.10's stats) dereference every sub-message: never leave one unset.
    cpu_stat.throttling = MessageField::some(throttle);
    mem_stat.usage = MessageField::some(mem);
    mem_stat.swap = MessageField::some(v1::MemoryEntry::new());
    mem_stat.kernel = MessageField::some(v1::MemoryEntry::new());
    mem_stat.kernel_tcp = MessageField::some(v1::MemoryEntry::new());
    m.pids = MessageField::some(pids);
    m.cpu = MessageField::some(cpu_stat);
    m.memory = MessageField::some(mem_stat);
    m.blkio = MessageField::some(v1::BlkIOStat::new());
    m
}

/// Calls `on_oom` each time the kernel's OOM killer acts in `pid`'s v1 memory cgroup, until
/// the cgroup goes away. Returns false when there is no v1 memory cgroup to watch.
pub fn watch_oom(pid: i32, on_oom: impl Fn() + Send + 'static) -> bool {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let Some(dir) = dir_of(pid, "memory") else { return false };
    let Ok(control) = std::fs::File::open(dir.join("memory.oom_control")) else { return false };
    // SAFETY: eventfd takes integer arguments and returns a new fd we own (or -1).
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        return false;
    }
    // SAFETY: `raw` is a fresh, valid fd owned by nobody else.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    let registered = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.event_control"))
        .and_then(|mut f| f.write_all(format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()).as_bytes()));
    if registered.is_err() {
        return false;
    }
    let spawned = std::thread::Builder::new().name("oom".into()).spawn(move || {
        let _control = control; // kept open for the registration's lifetime
        let mut f = std::fs::File::from(efd);
        let mut buf = [0u8; 8];
        // The eventfd also fires when the cgroup is removed: only report while it exists.
        while f.read_exact(&mut buf).is_ok() {
            if !dir.exists() {
                break;
            }
            let under_oom = std::fs::read_to_string(dir.join("memory.oom_control")).unwrap_or_default();
            if under_oom.contains("oom_kill ") || under_oom.contains("under_oom") {
                on_oom();
            }
        }
    });
    spawned.is_ok()
}
