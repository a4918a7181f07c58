//! What the host's cgroups let a container be limited by: read from the mounted hierarchies
//! (v1, or the unified one on a pure v2 host), for `docker info`'s capability fields.

use std::path::Path;

/// Which resource limits this host can apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    /// Memory limits (the memory controller).
    pub memory: bool,
    /// Memory+swap limits (v1: swap accounting on; v2: memory.swap.max).
    pub swap: bool,
    /// CFS period.
    pub cpu_cfs_period: bool,
    /// CFS quota.
    pub cpu_cfs_quota: bool,
    /// CPU shares (v2: cpu.weight).
    pub cpu_shares: bool,
    /// cpuset.
    pub cpuset: bool,
    /// The pids controller.
    pub pids: bool,
    /// Turning the OOM killer off (v1 only).
    pub oom_kill_disable: bool,
    /// A block I/O weight (a proportional I/O scheduler such as BFQ, or CFQ of old).
    pub blkio_weight: bool,
    /// Block I/O weights per device.
    pub blkio_weight_device: bool,
    /// Block I/O limits per device (bytes and operations per second).
    pub blkio_throttle: bool,
}

/// The host's support, from /proc/self/mountinfo and the cgroup files.
pub fn support() -> Support {
    if super::is_v2() {
        let controllers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
        return v2_support(&controllers, |f| Path::new("/sys/fs/cgroup").join(f).exists() || any_child_has(f));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let hierarchies = super::v1_hierarchies(&mountinfo, None);
    let file =
        |subsystem: &str, name: &str| hierarchies.iter().any(|h| h.subsystems.iter().any(|s| s == subsystem) && h.mount_point.join(name).exists());
    Support {
        memory: file("memory", "memory.limit_in_bytes"),
        swap: file("memory", "memory.memsw.limit_in_bytes"),
        cpu_cfs_period: file("cpu", "cpu.cfs_period_us"),
        cpu_cfs_quota: file("cpu", "cpu.cfs_quota_us"),
        cpu_shares: file("cpu", "cpu.shares"),
        cpuset: file("cpuset", "cpuset.cpus"),
        pids: hierarchies.iter().any(|h| h.subsystems.iter().any(|s| s == "pids")),
        oom_kill_disable: file("memory", "memory.oom_control"),
        blkio_weight: file("blkio", "blkio.weight") || file("blkio", "blkio.bfq.weight"),
        blkio_weight_device: file("blkio", "blkio.weight_device") || file("blkio", "blkio.bfq.weight_device"),
        blkio_throttle: file("blkio", "blkio.throttle.read_bps_device"),
    }
}

/// Whether a first-level cgroup of the unified hierarchy has file `name` (the root cgroup
/// has no limit files of its own).
fn any_child_has(name: &str) -> bool {
    std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten().any(|e| e.path().join(name).exists())
}

/// v2 support from the root's `cgroup.controllers` and a check for limit files.
fn v2_support(controllers: &str, has_file: impl Fn(&str) -> bool) -> Support {
    let on = |c: &str| controllers.split_whitespace().any(|x| x == c);
    Support {
        memory: on("memory"),
        swap: on("memory") && has_file("memory.swap.max"),
        cpu_cfs_period: on("cpu"),
        cpu_cfs_quota: on("cpu"),
        cpu_shares: on("cpu"),
        cpuset: on("cpuset"),
        pids: on("pids"),
        oom_kill_disable: false,
        blkio_weight: on("io") && (has_file("io.weight") || has_file("io.bfq.weight")),
        blkio_weight_device: on("io") && (has_file("io.weight") || has_file("io.bfq.weight")),
        blkio_throttle: on("io") && has_file("io.max"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_support_follows_the_enabled_controllers() {
        let s = v2_support("cpuset cpu io memory pids", |_| true);
        assert!(s.memory && s.swap && s.cpu_cfs_quota && s.cpuset && s.pids && !s.oom_kill_disable);
        let s = v2_support("cpu io", |_| false);
        assert!(!s.memory && !s.swap && !s.pids && !s.cpuset && s.cpu_shares);
        assert!(!v2_support("memory", |_| false).swap, "no swap accounting");
    }
}
