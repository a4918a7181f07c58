//! A task's Stats, as containerd's runc shim answers them: `io.containerd.cgroups.v1.Metrics`
//! read from the v1 controllers, or `io.containerd.cgroups.v2.Metrics` read from the unified
//! hierarchy on a host without v1 controllers. Pids, CPU, memory (with the page cache), block
//! I/O and, on v2, memory events.

use std::path::Path;

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};

use super::of_pid::{dir_of, key_values, read_u64, unified_dir};

/// The Stats of the cgroup of `pid`, as the Any containerd expects.
pub fn stats(pid: i32) -> Result<Any, containerd_shim_protos::protobuf::Error> {
    let mut any = Any::new();
    let v1_controllers = ["memory", "cpuacct", "pids", "blkio"].iter().any(|c| dir_of(pid, c).is_some());
    match unified_dir(pid) {
        Some(dir) if !v1_controllers => {
            any.type_url = "io.containerd.cgroups.v2.Metrics".into();
            any.value = v2_metrics(&dir).write_to_bytes()?;
        }
        _ => {
            any.type_url = "io.containerd.cgroups.v1.Metrics".into();
            any.value = v1_metrics(pid).write_to_bytes()?;
        }
    }
    Ok(any)
}

/// `io.containerd.cgroups.v1.Metrics` from `pid`'s v1 controllers.
fn v1_metrics(pid: i32) -> v1::Metrics {
    let mut pids = v1::PidsStat::new();
    if let Some(d) = dir_of(pid, "pids") {
        pids.current = read_u64(&d.join("pids.current"));
        pids.limit = read_u64(&d.join("pids.max"));
    }
    let mut usage = v1::CPUUsage::new();
    if let Some(d) = dir_of(pid, "cpuacct") {
        usage.total = read_u64(&d.join("cpuacct.usage"));
        usage.kernel = read_u64(&d.join("cpuacct.usage_sys"));
        usage.user = read_u64(&d.join("cpuacct.usage_user"));
        let percpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu")).unwrap_or_default();
        usage.per_cpu = percpu.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    }
    let mut throttle = v1::Throttle::new();
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
    let mut mem = v1::MemoryStat::new();
    let entry = |d: &Path, prefix: &str| {
        let mut e = v1::MemoryEntry::new();
        e.usage = read_u64(&d.join(format!("{prefix}usage_in_bytes")));
        e.limit = read_u64(&d.join(format!("{prefix}limit_in_bytes")));
        e.max = read_u64(&d.join(format!("{prefix}max_usage_in_bytes")));
        e.failcnt = read_u64(&d.join(format!("{prefix}failcnt")));
        e
    };
    // Clients (dockerd 20.10's stats) dereference every sub-message: never leave one unset.
    let (mut usage_e, mut swap, mut kernel, mut kernel_tcp) = Default::default();
    if let Some(d) = dir_of(pid, "memory") {
        (usage_e, swap, kernel, kernel_tcp) =
            (entry(&d, "memory."), entry(&d, "memory.memsw."), entry(&d, "memory.kmem."), entry(&d, "memory.kmem.tcp."));
        for (k, v) in key_values(&d.join("memory.stat")) {
            match k.as_str() {
                "cache" => mem.cache = v,
                "rss" => mem.rss = v,
                "rss_huge" => mem.rss_huge = v,
                "mapped_file" => mem.mapped_file = v,
                "dirty" => mem.dirty = v,
                "writeback" => mem.writeback = v,
                "pgfault" => mem.pg_fault = v,
                "pgmajfault" => mem.pg_maj_fault = v,
                "inactive_anon" => mem.inactive_anon = v,
                "active_anon" => mem.active_anon = v,
                "inactive_file" => mem.inactive_file = v,
                "active_file" => mem.active_file = v,
                "unevictable" => mem.unevictable = v,
                "hierarchical_memory_limit" => mem.hierarchical_memory_limit = v,
                "hierarchical_memsw_limit" => mem.hierarchical_swap_limit = v,
                "total_cache" => mem.total_cache = v,
                "total_rss" => mem.total_rss = v,
                "total_rss_huge" => mem.total_rss_huge = v,
                "total_mapped_file" => mem.total_mapped_file = v,
                "total_dirty" => mem.total_dirty = v,
                "total_writeback" => mem.total_writeback = v,
                "total_pgfault" => mem.total_pg_fault = v,
                "total_pgmajfault" => mem.total_pg_maj_fault = v,
                "total_inactive_anon" => mem.total_inactive_anon = v,
                "total_active_anon" => mem.total_active_anon = v,
                "total_inactive_file" => mem.total_inactive_file = v,
                "total_active_file" => mem.total_active_file = v,
                "total_unevictable" => mem.total_unevictable = v,
                _ => {}
            }
        }
    }
    let mut blkio = v1::BlkIOStat::new();
    if let Some(d) = dir_of(pid, "blkio") {
        // The proportional-weight files count only with CFQ/BFQ; Docker falls back to the
        // throttle files, which count every request.
        let read = |name: &str| {
            let weighted = blkio_entries(&std::fs::read_to_string(d.join(format!("blkio.{name}"))).unwrap_or_default());
            if weighted.is_empty() {
                blkio_entries(&std::fs::read_to_string(d.join(format!("blkio.throttle.{name}"))).unwrap_or_default())
            } else {
                weighted
            }
        };
        blkio.io_service_bytes_recursive = read("io_service_bytes_recursive");
        blkio.io_serviced_recursive = read("io_serviced_recursive");
    }
    let mut cpu = v1::CPUStat::new();
    cpu.usage = MessageField::some(usage);
    cpu.throttling = MessageField::some(throttle);
    mem.usage = MessageField::some(usage_e);
    mem.swap = MessageField::some(swap);
    mem.kernel = MessageField::some(kernel);
    mem.kernel_tcp = MessageField::some(kernel_tcp);
    let mut m = v1::Metrics::new();
    m.pids = MessageField::some(pids);
    m.cpu = MessageField::some(cpu);
    m.memory = MessageField::some(mem);
    m.blkio = MessageField::some(blkio);
    m
}

/// v1 blkio lines `MAJ:MIN Op value` (the `Total` lines left out, as containerd does).
fn blkio_entries(text: &str) -> Vec<v1::BlkIOEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [dev, op, value] = f.as_slice() else { continue };
        let Some((major, minor)) = dev.split_once(':') else { continue };
        let (Ok(major), Ok(minor), Ok(value)) = (major.parse(), minor.parse(), value.parse()) else { continue };
        let mut e = v1::BlkIOEntry::new();
        e.op = (*op).to_owned();
        e.major = major;
        e.minor = minor;
        e.value = value;
        out.push(e);
    }
    out
}

/// `io.containerd.cgroups.v2.Metrics` from the unified cgroup directory `d`.
fn v2_metrics(d: &Path) -> v2::Metrics {
    let mut pids = v2::PidsStat::new();
    pids.current = read_u64(&d.join("pids.current"));
    pids.limit = read_u64(&d.join("pids.max"));
    let mut cpu = v2::CPUStat::new();
    for (k, v) in key_values(&d.join("cpu.stat")) {
        match k.as_str() {
            "usage_usec" => cpu.usage_usec = v,
            "user_usec" => cpu.user_usec = v,
            "system_usec" => cpu.system_usec = v,
            "nr_periods" => cpu.nr_periods = v,
            "nr_throttled" => cpu.nr_throttled = v,
            "throttled_usec" => cpu.throttled_usec = v,
            "nr_bursts" => cpu.nr_bursts = v,
            "burst_usec" => cpu.burst_usec = v,
            _ => {}
        }
    }
    let mut mem = v2::MemoryStat::new();
    for (k, v) in key_values(&d.join("memory.stat")) {
        match k.as_str() {
            "anon" => mem.anon = v,
            "file" => mem.file = v,
            "kernel_stack" => mem.kernel_stack = v,
            "slab" => mem.slab = v,
            "sock" => mem.sock = v,
            "shmem" => mem.shmem = v,
            "file_mapped" => mem.file_mapped = v,
            "file_dirty" => mem.file_dirty = v,
            "file_writeback" => mem.file_writeback = v,
            "anon_thp" => mem.anon_thp = v,
            "inactive_anon" => mem.inactive_anon = v,
            "active_anon" => mem.active_anon = v,
            "inactive_file" => mem.inactive_file = v,
            "active_file" => mem.active_file = v,
            "unevictable" => mem.unevictable = v,
            "slab_reclaimable" => mem.slab_reclaimable = v,
            "slab_unreclaimable" => mem.slab_unreclaimable = v,
            "pgfault" => mem.pgfault = v,
            "pgmajfault" => mem.pgmajfault = v,
            _ => {}
        }
    }
    mem.usage = read_u64(&d.join("memory.current"));
    mem.usage_limit = read_u64(&d.join("memory.max"));
    mem.max_usage = read_u64(&d.join("memory.peak"));
    mem.swap_usage = read_u64(&d.join("memory.swap.current"));
    mem.swap_limit = read_u64(&d.join("memory.swap.max"));
    let mut events = v2::MemoryEvents::new();
    for (k, v) in key_values(&d.join("memory.events")) {
        match k.as_str() {
            "low" => events.low = v,
            "high" => events.high = v,
            "max" => events.max = v,
            "oom" => events.oom = v,
            "oom_kill" => events.oom_kill = v,
            "oom_group_kill" => events.oom_group_kill = v,
            _ => {}
        }
    }
    let mut io = v2::IOStat::new();
    io.usage = io_entries(&std::fs::read_to_string(d.join("io.stat")).unwrap_or_default());
    let mut m = v2::Metrics::new();
    m.pids = MessageField::some(pids);
    m.cpu = MessageField::some(cpu);
    m.memory = MessageField::some(mem);
    m.memory_events = MessageField::some(events);
    m.io = MessageField::some(io);
    m
}

/// v2 io.stat lines `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ...`.
fn io_entries(text: &str) -> Vec<v2::IOEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else { continue };
        let mut e = v2::IOEntry::new();
        e.major = major;
        e.minor = minor;
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let v = v.parse().unwrap_or(0);
            match k {
                "rbytes" => e.rbytes = v,
                "wbytes" => e.wbytes = v,
                "rios" => e.rios = v,
                "wios" => e.wios = v,
                _ => {}
            }
        }
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_metrics_read_every_controller_and_max_is_unlimited() {
        let dir = crate::util::TestDir::new("metrics-v2");
        let d = dir.path();
        for (f, text) in [
            ("pids.current", "3\n"),
            ("pids.max", "max\n"),
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n"),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
            ("memory.stat", "anon 1024\nfile 2048\nactive_file 512\n"),
            ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
            ("io.stat", "8:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n"),
        ] {
            std::fs::write(d.join(f), text).expect("write");
        }
        let m = v2_metrics(d);
        assert_eq!((m.pids.current, m.pids.limit), (3, u64::MAX), "pids.max of max is no limit");
        assert_eq!((m.cpu.usage_usec, m.cpu.user_usec, m.cpu.nr_throttled), (1500, 1000, 1));
        assert_eq!((m.memory.usage, m.memory.usage_limit, m.memory.file, m.memory.active_file), (4096, u64::MAX, 2048, 512));
        assert_eq!((m.memory_events.oom, m.memory_events.oom_kill, m.memory_events.max), (1, 1, 2));
        let io = &m.io.usage[0];
        assert_eq!((io.major, io.minor, io.rbytes, io.wbytes, io.rios, io.wios), (8, 0, 100, 200, 3, 4));
    }

    #[test]
    fn v1_blkio_lines_become_entries_without_the_totals() {
        let e = blkio_entries("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n");
        let got: Vec<(String, u64, u64, u64)> = e.iter().map(|x| (x.op.clone(), x.major, x.minor, x.value)).collect();
        assert_eq!(got, [("Read".into(), 8, 0, 4096), ("Write".into(), 8, 0, 8192), ("Sync".into(), 8, 0, 0)]);
    }
}
