//! linux.resources as the cgroup file writes that apply it, on v1 or v2, with runc's
//! semantics: zero means "leave as is" for sizes, shares, periods and weights (engines send
//! every field on update), -1 means unlimited, and the v2 forms are converted from the v1
//! values the spec uses (shares → cpu.weight, memory+swap → memory.swap.max, blkio weight →
//! io.weight).
//!
//! Planning is pure (no I/O) so every mapping is unit-tested; [`super::ContainerCgroup`]
//! carries the plan out. A field cgroup `version` has no file for is refused here; a file a
//! given kernel lacks (blkio.leaf_weight went with CFQ) is refused when it is written. No
//! field is ignored silently: a limit asked for and not applied is a create that fails.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources, LinuxThrottleDevice};

/// A cgroup version's file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller (or co-mounted group).
    V1,
    /// The unified hierarchy.
    V2,
}

/// One file write a linux.resources field asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The field below linux.resources, as config.json spells it (`memory.swappiness`).
    pub field: String,
    /// The controller whose directory holds the file.
    pub controller: &'static str,
    /// (file, value) alternatives: the first file the cgroup has is written (kernels name some
    /// knobs differently: blkio.weight, or blkio.bfq.weight since CFQ is gone).
    pub choices: Vec<(String, String)>,
    /// Nothing to do when no file exists (an unlimited swap where swap is not accounted).
    pub optional: bool,
}

/// A step of applying limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A single write.
    One(Write),
    /// Two values the kernel checks against each other (memory ≤ memory+swap, cfs and rt
    /// runtime against period and the parent's budget): written in this order, and the other
    /// way round when the first write fails with EINVAL (runc's rule).
    Pair(Write, Write),
}

/// A field the cgroup version cannot express, or a value that is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The field below linux.resources.
    pub field: String,
    /// Why.
    pub reason: String,
}

type Plan = Result<Vec<Step>, Refused>;

fn write(field: impl Into<String>, controller: &'static str, file: &str, value: impl ToString) -> Write {
    Write { field: field.into(), controller, choices: vec![(file.to_owned(), value.to_string())], optional: false }
}

fn refuse<T>(field: impl Into<String>, reason: impl Into<String>) -> Result<T, Refused> {
    Err(Refused { field: field.into(), reason: reason.into() })
}

/// `One`, or `Pair` when both halves are asked for.
fn pair(first: Option<Write>, then: Option<Write>) -> Option<Step> {
    match (first, then) {
        (Some(a), Some(b)) => Some(Step::Pair(a, b)),
        (Some(w), None) | (None, Some(w)) => Some(Step::One(w)),
        (None, None) => None,
    }
}

/// v2's spelling of -1 (unlimited).
fn v2_num(n: i64) -> String {
    if n == -1 {
        "max".to_owned()
    } else {
        n.to_string()
    }
}

/// The writes that apply `res` on cgroup `version`, in order. Device rules are not part of
/// it (see `devices`).
pub fn plan(res: &LinuxResources, version: Version) -> Plan {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        out.extend(memory(m, version)?);
    }
    if let Some(c) = res.cpu() {
        out.extend(cpu(c, version)?);
    }
    if let Some(p) = res.pids() {
        let v = if p.limit() > 0 { p.limit().to_string() } else { "max".to_owned() };
        out.push(Step::One(write("pids.limit", "pids", "pids.max", v)));
    }
    if let Some(b) = res.block_io() {
        out.extend(block_io(b, version)?);
    }
    for h in res.hugepage_limits().iter().flatten() {
        let size = h.page_size();
        let field = format!("hugepageLimits[{size}]");
        // The size becomes part of a file name: only a size like "2MB" may get there.
        let valid = size.len() > 1 && size.ends_with('B') && size.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return refuse(field, format!("invalid page size {size:?} (expected e.g. 2MB or 1GB)"));
        }
        let file = match version {
            Version::V1 => format!("hugetlb.{size}.limit_in_bytes"),
            Version::V2 => format!("hugetlb.{size}.max"),
        };
        out.push(Step::One(write(field, "hugetlb", &file, h.limit())));
    }
    if let Some(n) = res.network() {
        let no_v2 = "cgroup v2 has no net_cls or net_prio controller (use an eBPF program or tc instead)";
        if let Some(id) = n.class_id() {
            if version == Version::V2 {
                return refuse("network.classID", no_v2);
            }
            out.push(Step::One(write("network.classID", "net_cls", "net_cls.classid", id)));
        }
        for p in n.priorities().iter().flatten() {
            let field = format!("network.priorities[{}]", p.name());
            if version == Version::V2 {
                return refuse(field, no_v2);
            }
            out.push(Step::One(write(field, "net_prio", "net_prio.ifpriomap", format!("{} {}", p.name(), p.priority()))));
        }
    }
    if let Some(rdma) = res.rdma() {
        let mut devices: Vec<_> = rdma.iter().collect();
        devices.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, r) in devices {
            let mut v = dev.clone();
            if let Some(h) = r.hca_handles() {
                v.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = r.hca_objects() {
                v.push_str(&format!(" hca_object={o}"));
            }
            out.push(Step::One(write(format!("rdma[{dev}]"), "rdma", "rdma.max", v)));
        }
    }
    if let Some(u) = res.unified().as_ref().filter(|u| !u.is_empty()) {
        if version == Version::V1 {
            return refuse("unified", "unified applies to cgroup v2 only, and this host uses cgroup v1");
        }
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in keys {
            let field = format!("unified[{k}]");
            // The key is a file name in the container's cgroup, nothing else.
            if k.is_empty() || k.contains('/') || k.starts_with('.') {
                return refuse(field, "must be the name of a file in the container's cgroup");
            }
            out.push(Step::One(write(field, "", k, v)));
        }
    }
    Ok(out)
}

fn memory(m: &LinuxMemory, version: Version) -> Plan {
    let mut out = Vec::new();
    let limit = m.limit().filter(|l| *l != 0);
    // runc: an unlimited memory with no swap given means unlimited swap too.
    let swap = m.swap().filter(|s| *s != 0).or(limit.filter(|l| *l == -1));
    match version {
        Version::V1 => {
            let limit = limit.map(|l| write("memory.limit", "memory", "memory.limit_in_bytes", l));
            let swap = swap.map(|s| Write { optional: s == -1, ..write("memory.swap", "memory", "memory.memsw.limit_in_bytes", s) });
            out.extend(pair(limit, swap));
        }
        Version::V2 => {
            if let Some(l) = limit {
                out.push(Step::One(write("memory.limit", "memory", "memory.max", v2_num(l))));
            }
            if let Some(s) = swap {
                // The spec's swap is memory+swap (v1's memsw); v2 limits swap alone.
                let v = match (s, limit) {
                    (-1, _) => -1,
                    (_, None | Some(-1)) => {
                        return refuse("memory.swap", "cgroup v2 limits swap apart from memory: a memory+swap limit needs a memory limit")
                    }
                    (s, Some(l)) if s < l => return refuse("memory.swap", format!("memory+swap {s} is less than the memory limit {l}")),
                    (s, Some(l)) => s - l,
                };
                let v = Write { optional: v == -1, ..write("memory.swap", "memory", "memory.swap.max", v2_num(v)) };
                out.push(Step::One(v));
            }
        }
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        out.push(Step::One(match version {
            Version::V1 => write("memory.reservation", "memory", "memory.soft_limit_in_bytes", r),
            Version::V2 => write("memory.reservation", "memory", "memory.low", v2_num(r)),
        }));
    }
    let v1_only = |field: &str, file: &str, value: String| -> Result<Step, Refused> {
        match version {
            Version::V1 => Ok(Step::One(write(field, "memory", file, value))),
            Version::V2 => refuse(field, format!("cgroup v2 has no {file} nor an equivalent")),
        }
    };
    if let Some(k) = m.kernel().filter(|k| *k != 0) {
        out.push(v1_only("memory.kernel", "memory.kmem.limit_in_bytes", k.to_string())?);
    }
    if let Some(k) = m.kernel_tcp().filter(|k| *k != 0) {
        out.push(v1_only("memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", k.to_string())?);
    }
    // u64::MAX is Go's uint64(-1), runc's "unset".
    if let Some(s) = m.swappiness().filter(|s| *s != u64::MAX) {
        if s > 100 {
            return refuse("memory.swappiness", format!("{s} is out of range (0-100)"));
        }
        out.push(v1_only("memory.swappiness", "memory.swappiness", s.to_string())?);
    }
    if m.disable_oom_killer() == Some(true) {
        out.push(v1_only("memory.disableOOMKiller", "memory.oom_control", "1".into())?);
    }
    match (m.use_hierarchy(), version) {
        (Some(h), Version::V1) => out.push(Step::One(write("memory.useHierarchy", "memory", "memory.use_hierarchy", u8::from(h)))),
        (Some(false), Version::V2) => return refuse("memory.useHierarchy", "cgroup v2 is always hierarchical"),
        _ => {}
    }
    Ok(out)
}

/// runc's cpu.shares (2..262144) → cpu.weight (1..10000) mapping.
fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

fn cpu(c: &LinuxCpu, version: Version) -> Plan {
    let mut out = Vec::new();
    let shares = c.shares().filter(|s| *s != 0);
    let (quota, period) = (c.quota().filter(|q| *q != 0), c.period().filter(|p| *p != 0));
    let (rt_runtime, rt_period) = (c.realtime_runtime().filter(|r| *r != 0), c.realtime_period().filter(|p| *p != 0));
    match version {
        Version::V1 => {
            if let Some(s) = shares {
                out.push(Step::One(write("cpu.shares", "cpu", "cpu.shares", s)));
            }
            let period = period.map(|p| write("cpu.period", "cpu", "cpu.cfs_period_us", p));
            out.extend(pair(period, quota.map(|q| write("cpu.quota", "cpu", "cpu.cfs_quota_us", q))));
            if let Some(b) = c.burst() {
                out.push(Step::One(write("cpu.burst", "cpu", "cpu.cfs_burst_us", b)));
            }
            let rt_period = rt_period.map(|p| write("cpu.realtimePeriod", "cpu", "cpu.rt_period_us", p));
            out.extend(pair(rt_period, rt_runtime.map(|r| write("cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", r))));
        }
        Version::V2 => {
            if let Some(s) = shares {
                out.push(Step::One(write("cpu.shares", "cpu", "cpu.weight", shares_to_weight(s))));
            }
            if quota.is_some() || period.is_some() {
                let mut v = quota.filter(|q| *q > 0).map_or("max".to_owned(), |q| q.to_string());
                if let Some(p) = period {
                    v.push_str(&format!(" {p}"));
                }
                out.push(Step::One(write(if quota.is_some() { "cpu.quota" } else { "cpu.period" }, "cpu", "cpu.max", v)));
            }
            if let Some(b) = c.burst() {
                out.push(Step::One(write("cpu.burst", "cpu", "cpu.max.burst", b)));
            }
            if rt_runtime.is_some() || rt_period.is_some() {
                let field = if rt_runtime.is_some() { "cpu.realtimeRuntime" } else { "cpu.realtimePeriod" };
                return refuse(field, "cgroup v2 has no real-time CPU budget (cpu.rt_runtime_us)");
            }
        }
    }
    if let Some(i) = c.idle() {
        out.push(Step::One(write("cpu.idle", "cpu", "cpu.idle", i)));
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        out.push(Step::One(write("cpu.cpus", "cpuset", "cpuset.cpus", cpus)));
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        out.push(Step::One(write("cpu.mems", "cpuset", "cpuset.mems", mems)));
    }
    Ok(out)
}

/// runc's blkio weight (10..1000) → io.weight (1..10000) mapping.
fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

fn block_io(b: &LinuxBlockIo, version: Version) -> Plan {
    let mut out = Vec::new();
    let no_leaf = "cgroup v2 has no leaf weight";
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let choices = match version {
            Version::V1 => vec![("blkio.weight".into(), w.to_string()), ("blkio.bfq.weight".into(), w.to_string())],
            Version::V2 => vec![("io.bfq.weight".into(), w.to_string()), ("io.weight".into(), blkio_to_io_weight(w).to_string())],
        };
        out.push(Step::One(Write { field: "blockIO.weight".into(), controller: io_controller(version), choices, optional: false }));
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        if version == Version::V2 {
            return refuse("blockIO.leafWeight", no_leaf);
        }
        out.push(Step::One(write("blockIO.leafWeight", "blkio", "blkio.leaf_weight", w)));
    }
    for d in b.weight_device().iter().flatten() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let choices = match version {
                Version::V1 => vec![("blkio.weight_device".into(), format!("{dev} {w}")), ("blkio.bfq.weight_device".into(), format!("{dev} {w}"))],
                Version::V2 => vec![("io.bfq.weight".into(), format!("{dev} {w}")), ("io.weight".into(), format!("{dev} {}", blkio_to_io_weight(w)))],
            };
            let field = format!("blockIO.weightDevice[{dev}].weight");
            out.push(Step::One(Write { field, controller: io_controller(version), choices, optional: false }));
        }
        if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
            let field = format!("blockIO.weightDevice[{dev}].leafWeight");
            if version == Version::V2 {
                return refuse(field, no_leaf);
            }
            out.push(Step::One(write(field, "blkio", "blkio.leaf_weight_device", format!("{dev} {w}"))));
        }
    }
    let throttles: [(&str, &Option<Vec<LinuxThrottleDevice>>, &str, &str); 4] = [
        ("throttleReadBpsDevice", b.throttle_read_bps_device(), "blkio.throttle.read_bps_device", "rbps"),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device(), "blkio.throttle.write_bps_device", "wbps"),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device(), "blkio.throttle.read_iops_device", "riops"),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device(), "blkio.throttle.write_iops_device", "wiops"),
    ];
    for (name, devices, v1_file, v2_key) in throttles {
        for d in devices.iter().flatten() {
            let dev = format!("{}:{}", d.major(), d.minor());
            let field = format!("blockIO.{name}[{dev}]");
            out.push(Step::One(match version {
                Version::V1 => write(field, "blkio", v1_file, format!("{dev} {}", d.rate())),
                Version::V2 => write(field, "io", "io.max", format!("{dev} {v2_key}={}", d.rate())),
            }));
        }
    }
    Ok(out)
}

fn io_controller(version: Version) -> &'static str {
    match version {
        Version::V1 => "blkio",
        Version::V2 => "io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).expect("resources")
    }

    /// The plan as (file, value) lines, pairs as `a & b`, alternatives as `a | b`.
    fn lines(res: &LinuxResources, v: Version) -> Vec<String> {
        let w = |w: &Write| w.choices.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(" | ");
        plan(res, v)
            .expect("plan")
            .iter()
            .map(|s| match s {
                Step::One(a) => w(a),
                Step::Pair(a, b) => format!("{} & {}", w(a), w(b)),
            })
            .collect()
    }

    fn refused(res: &LinuxResources, v: Version) -> Refused {
        plan(res, v).expect_err("refused")
    }

    #[test]
    fn v1_memory_writes_limit_and_swap_as_a_pair_then_reservation_kernel_swappiness_and_oom() {
        let r = res(json!({"memory": {"limit": 100, "reservation": 50, "swap": 200, "kernel": 300, "kernelTCP": 400,
            "swappiness": 10, "disableOOMKiller": true}}));
        assert_eq!(
            lines(&r, Version::V1),
            [
                "memory.limit_in_bytes=100 & memory.memsw.limit_in_bytes=200",
                "memory.soft_limit_in_bytes=50",
                "memory.kmem.limit_in_bytes=300",
                "memory.kmem.tcp.limit_in_bytes=400",
                "memory.swappiness=10",
                "memory.oom_control=1",
            ]
        );
    }

    #[test]
    fn zero_values_leave_the_cgroup_as_it_is_and_unlimited_memory_means_unlimited_swap() {
        let r = res(json!({"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "disableOOMKiller": false},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""}, "blockIO": {"weight": 0}}));
        assert!(lines(&r, Version::V1).is_empty());
        assert!(lines(&r, Version::V2).is_empty());
        let r = res(json!({"memory": {"limit": -1}}));
        assert_eq!(lines(&r, Version::V1), ["memory.limit_in_bytes=-1 & memory.memsw.limit_in_bytes=-1"]);
        assert_eq!(lines(&r, Version::V2), ["memory.max=max", "memory.swap.max=max"]);
        let Ok(plan) = plan(&r, Version::V1) else { panic!("plan") };
        assert!(matches!(&plan[0], Step::Pair(_, swap) if swap.optional), "an unlimited swap is fine where swap is not accounted");
    }

    #[test]
    fn v2_memory_converts_memory_plus_swap_to_swap_alone_and_reservation_to_memory_low() {
        let r = res(json!({"memory": {"limit": 100, "swap": 250, "reservation": 60}}));
        assert_eq!(lines(&r, Version::V2), ["memory.max=100", "memory.swap.max=150", "memory.low=60"]);
        let r = res(json!({"memory": {"swap": 250}}));
        assert_eq!(refused(&r, Version::V2).field, "memory.swap");
        let r = res(json!({"memory": {"limit": 300, "swap": 250}}));
        assert!(refused(&r, Version::V2).reason.contains("less than"));
    }

    #[test]
    fn v2_refuses_swappiness_kernel_memory_and_disabling_the_oom_killer_naming_the_field() {
        for (m, field) in [
            (json!({"swappiness": 10}), "memory.swappiness"),
            (json!({"kernel": 1}), "memory.kernel"),
            (json!({"kernelTCP": 1}), "memory.kernelTCP"),
            (json!({"disableOOMKiller": true}), "memory.disableOOMKiller"),
        ] {
            let r = res(json!({ "memory": m }));
            assert_eq!(refused(&r, Version::V2).field, field);
        }
        let r = res(json!({"memory": {"swappiness": 18446744073709551615u64}}));
        assert!(lines(&r, Version::V2).is_empty(), "Go's uint64(-1) is unset");
        let r = res(json!({"memory": {"swappiness": 101}}));
        assert!(refused(&r, Version::V1).reason.contains("0-100"));
    }

    #[test]
    fn v1_cpu_pairs_period_before_quota_and_rt_period_before_rt_runtime() {
        let r = res(json!({"cpu": {"shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 9000,
            "realtimePeriod": 10000, "cpus": "0", "mems": "0"}}));
        assert_eq!(
            lines(&r, Version::V1),
            [
                "cpu.shares=512",
                "cpu.cfs_period_us=100000 & cpu.cfs_quota_us=50000",
                "cpu.rt_period_us=10000 & cpu.rt_runtime_us=9000",
                "cpuset.cpus=0",
                "cpuset.mems=0",
            ]
        );
        let r = res(json!({"cpu": {"realtimeRuntime": 9000}}));
        assert_eq!(lines(&r, Version::V1), ["cpu.rt_runtime_us=9000"]);
    }

    #[test]
    fn v2_cpu_converts_shares_to_weight_and_quota_period_to_cpu_max_and_refuses_realtime() {
        let r = res(json!({"cpu": {"shares": 1024, "quota": 50000, "period": 100000}}));
        assert_eq!(lines(&r, Version::V2), ["cpu.weight=39", "cpu.max=50000 100000"]);
        let r = res(json!({"cpu": {"quota": -1}}));
        assert_eq!(lines(&r, Version::V2), ["cpu.max=max"]);
        let r = res(json!({"cpu": {"shares": 2}}));
        assert_eq!(lines(&r, Version::V2), ["cpu.weight=1"]);
        let r = res(json!({"cpu": {"shares": 262144}}));
        assert_eq!(lines(&r, Version::V2), ["cpu.weight=10000"]);
        let r = res(json!({"cpu": {"realtimePeriod": 10000}}));
        assert_eq!(refused(&r, Version::V2).field, "cpu.realtimePeriod");
    }

    #[test]
    fn v1_blkio_weight_falls_back_to_bfq_and_throttles_go_per_device() {
        let r = res(json!({"blockIO": {"weight": 500, "leafWeight": 300,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 400, "leafWeight": 200}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 30}]}}));
        assert_eq!(
            lines(&r, Version::V1),
            [
                "blkio.weight=500 | blkio.bfq.weight=500",
                "blkio.leaf_weight=300",
                "blkio.weight_device=8:0 400 | blkio.bfq.weight_device=8:0 400",
                "blkio.leaf_weight_device=8:0 200",
                "blkio.throttle.read_bps_device=8:0 1024",
                "blkio.throttle.write_iops_device=8:16 30",
            ]
        );
    }

    #[test]
    fn v2_io_converts_weights_writes_io_max_and_refuses_leaf_weights() {
        let r = res(json!({"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2048}]}}));
        assert_eq!(
            lines(&r, Version::V2),
            ["io.bfq.weight=500 | io.weight=4950", "io.bfq.weight=8:0 1000 | io.weight=8:0 10000", "io.max=8:0 wbps=2048"]
        );
        let r = res(json!({"blockIO": {"leafWeight": 300}}));
        assert_eq!(refused(&r, Version::V2).field, "blockIO.leafWeight");
    }

    #[test]
    fn hugetlb_network_pids_rdma_and_unified_map_to_their_files() {
        let r = res(json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2147483648u64}], "pids": {"limit": 0},
            "network": {"classID": 255, "priorities": [{"name": "lo", "priority": 10}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3}}}));
        assert_eq!(
            lines(&r, Version::V1),
            [
                "pids.max=max",
                "hugetlb.2MB.limit_in_bytes=2147483648",
                "net_cls.classid=255",
                "net_prio.ifpriomap=lo 10",
                "rdma.max=mlx5_1 hca_handle=3"
            ]
        );
        let r = res(json!({"hugepageLimits": [{"pageSize": "1GB", "limit": 0}], "unified": {"memory.high": "1000"}}));
        assert_eq!(lines(&r, Version::V2), ["hugetlb.1GB.max=0", "memory.high=1000"]);
    }

    #[test]
    fn names_that_would_leave_the_cgroup_directory_or_have_no_v2_form_are_refused() {
        let r = res(json!({"hugepageLimits": [{"pageSize": "../../x", "limit": 1}]}));
        assert_eq!(refused(&r, Version::V1).field, "hugepageLimits[../../x]");
        let r = res(json!({"unified": {"../memory.max": "1"}}));
        assert_eq!(refused(&r, Version::V2).field, "unified[../memory.max]");
        let r = res(json!({"unified": {"memory.high": "1"}}));
        assert_eq!(refused(&r, Version::V1).field, "unified");
        let r = res(json!({"network": {"classID": 1}}));
        assert_eq!(refused(&r, Version::V2).field, "network.classID");
    }
}
