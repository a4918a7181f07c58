//! The container's cgroup, through cgroups-rs. Works on cgroup v1, pure v2, and hybrid hosts
//! (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified): cgroups-rs picks v2 only
//! when /sys/fs/cgroup itself is cgroup2, and we name the controllers we use so that e.g.
//! hugetlb or net_cls hierarchies (or their absence) never matter.

use std::time::{Duration, Instant};

use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::FreezerState;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::pid::PidController;
use cgroups_rs::fs::{Cgroup, MaxValue, hierarchies};
use cgroups_rs::CgroupPid;
use cgroups_rs::fs::devices::DevicesController;
use cgroups_rs::fs::Controller;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};

use super::error::RuntimeError;

/// v1 controllers a container joins.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer"];
/// v2 controllers a container uses (when the host offers them).
const V2_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuset"];

/// Whether /sys/fs/cgroup is a pure cgroup v2 mount.
pub fn is_v2() -> bool {
    hierarchies::is_cgroup2_unified_mode()
}

/// The cgroup path of container `id` from linux.cgroupsPath (default `/berth/<id>`), relative
/// to each hierarchy root and without a leading slash. Relative paths are taken from the root
/// too (runc would nest them under its own cgroup; engines pass absolute paths).
pub fn resolve_path(id: &str, spec: &Spec) -> Result<String, RuntimeError> {
    let raw = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("/berth/{id}"));
    let bad = |reason: &str| RuntimeError::InvalidSpec { id: id.to_owned(), reason: format!("cgroupsPath {raw:?}: {reason}") };
    if raw.contains(':') {
        return Err(RuntimeError::Unsupported(format!("systemd cgroup path {raw:?} (use a cgroupfs path like /berth/{id})")));
    }
    let parts: Vec<&str> = raw.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if parts.contains(&"..") {
        return Err(bad("must not contain .."));
    }
    if parts.is_empty() {
        return Err(bad("must not be the root cgroup"));
    }
    Ok(parts.join("/"))
}

/// Every v1 subsystem the kernel knows (what a cgroup mount's options may name besides
/// flags like `rw` or `xattr`, and named hierarchies like `name=systemd`).
const V1_SUBSYSTEMS: &[&str] = &[
    "cpuset", "cpu", "cpuacct", "blkio", "io", "memory", "devices", "freezer", "net_cls", "perf_event", "net_prio",
    "hugetlb", "pids", "rdma", "misc", "debug",
];

/// A cgroup v1 hierarchy mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: std::path::PathBuf,
    /// Its subsystems, from the mount options: e.g. `["cpu", "cpuacct"]`, `["name=systemd"]`.
    pub subsystems: Vec<String>,
}

impl V1Hierarchy {
    /// Whether a container gets a cgroup of its own in this hierarchy (one of the
    /// controllers it joins is mounted here).
    pub fn joined(&self) -> bool {
        self.subsystems.iter().any(|s| V1_CONTROLLERS.contains(&s.as_str()))
    }
}

/// The cgroup v1 hierarchies in `mountinfo` (the text of /proc/<pid>/mountinfo), the first
/// mount of each; mount points under `exclude` (e.g. a rootfs being set up) are left out.
pub fn v1_hierarchies(mountinfo: &str, exclude: &std::path::Path) -> Vec<V1Hierarchy> {
    let mut out: Vec<V1Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        // "<id> <parent> <dev> <root> <mount point> <opts> [optional...] - <type> <source> <super opts>"
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mut right = right.split(' ');
        if right.next() != Some("cgroup") {
            continue;
        }
        let Some(point) = left.split(' ').nth(4).map(unescape_mountinfo) else { continue };
        let point = std::path::PathBuf::from(point);
        if point.starts_with(exclude) {
            continue;
        }
        let subsystems: Vec<String> = right
            .nth(1)
            .unwrap_or_default()
            .split(',')
            .filter(|o| V1_SUBSYSTEMS.contains(o) || o.starts_with("name="))
            .map(str::to_owned)
            .collect();
        if !subsystems.is_empty() && !out.iter().any(|h| h.subsystems == subsystems) {
            out.push(V1Hierarchy { mount_point: point, subsystems });
        }
    }
    out
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A container's cgroup (all controllers).
pub struct ContainerCgroup {
    id: String,
    path: String,
    cg: Cgroup,
}

fn controllers() -> Vec<String> {
    if is_v2() {
        let avail = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
        let avail: Vec<&str> = avail.split_whitespace().collect();
        V2_CONTROLLERS.iter().filter(|c| avail.contains(c)).map(|c| c.to_string()).collect()
    } else {
        V1_CONTROLLERS.iter().map(|c| c.to_string()).collect()
    }
}

impl ContainerCgroup {
    /// A handle on the cgroup at `path` (as returned by [`resolve_path`]); creates nothing.
    pub fn load(id: &str, path: &str) -> Self {
        let cg = Cgroup::load_with_specified_controllers(hierarchies::auto(), path, controllers());
        ContainerCgroup { id: id.to_owned(), path: path.to_owned(), cg }
    }

    /// Creates the cgroup and applies linux.resources (memory, pids, cpu, cpuset, and on v1
    /// the device rules; `devices` are linux.devices, which get allowed like runc does).
    pub fn create(id: &str, path: &str, resources: Option<&LinuxResources>, devices: &[LinuxDevice]) -> Result<Self, RuntimeError> {
        let this = Self::load(id, path);
        this.cg.create().map_err(|e| this.err(format!("create: {e}")))?;
        if let Some(Err(e)) = resources.map(|res| this.apply(res).and_then(|()| this.apply_devices(res, devices))) {
            let _ = this.remove();
            return Err(e);
        }
        Ok(this)
    }

    /// Applies new limits to an existing cgroup (`update`).
    pub fn update(&self, res: &LinuxResources) -> Result<(), RuntimeError> {
        self.apply(res)
    }

    fn err(&self, msg: String) -> RuntimeError {
        RuntimeError::Cgroup { id: self.id.clone(), path: format!("/{}", self.path), msg }
    }

    /// Writes the limits `res` sets. Zero means "leave as is" for memory, swap, CPU shares,
    /// quota and period, as with runc: engines send every field on update (docker's
    /// `update --resources -` carries `"quota": 0, "period": 0` for a container without CPU
    /// limits).
    fn apply(&self, res: &LinuxResources) -> Result<(), RuntimeError> {
        if let Some(mem) = res.memory() {
            let c: &MemController = self.cg.controller_of().ok_or_else(|| self.err("no memory controller".into()))?;
            if let Some(limit) = mem.limit().filter(|l| *l != 0) {
                c.set_limit(limit).map_err(|e| self.err(format!("memory limit {limit}: {e}")))?;
            }
            if let Some(swap) = mem.swap().filter(|l| *l != 0) {
                // Swap accounting is often disabled on v1; a missing file is not fatal.
                if let Err(e) = c.set_memswap_limit(swap) {
                    tracing::warn!(container = %self.id, "memory+swap limit {swap}: {e}");
                }
            }
        }
        if let Some(pids) = res.pids() {
            let c: &PidController = self.cg.controller_of().ok_or_else(|| self.err("no pids controller".into()))?;
            let v = if pids.limit() > 0 { MaxValue::Value(pids.limit()) } else { MaxValue::Max };
            c.set_pid_max(v).map_err(|e| self.err(format!("pids limit {}: {e}", pids.limit())))?;
        }
        if let Some(cpu) = res.cpu() {
            if let Some(c) = self.cg.controller_of::<CpuController>() {
                if let Some(shares) = cpu.shares().filter(|s| *s > 0) {
                    c.set_shares(shares).map_err(|e| self.err(format!("cpu shares {shares}: {e}")))?;
                }
                let (quota, period) = (cpu.quota().filter(|q| *q != 0), cpu.period().filter(|p| *p != 0));
                if quota.is_some() || period.is_some() {
                    c.set_cfs_quota_and_period(quota, period).map_err(|e| self.err(format!("cpu quota/period: {e}")))?;
                }
            }
            if let Some(c) = self.cg.controller_of::<CpuSetController>() {
                if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
                    c.set_cpus(cpus).map_err(|e| self.err(format!("cpuset.cpus {cpus}: {e}")))?;
                }
                if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
                    c.set_mems(mems).map_err(|e| self.err(format!("cpuset.mems {mems}: {e}")))?;
                }
            }
        }
        Ok(())
    }

    /// v1 device rules: linux.resources.devices in order, then runc's always-allowed devices
    /// and linux.devices. (v2 needs an eBPF program: not done yet, rules are ignored there.)
    fn apply_devices(&self, res: &LinuxResources, devices: &[LinuxDevice]) -> Result<(), RuntimeError> {
        let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) else { return Ok(()) };
        if is_v2() {
            tracing::warn!(container = %self.id, "device cgroup rules are not enforced on cgroup v2 yet");
            return Ok(());
        }
        let Some(c) = self.cg.controller_of::<DevicesController>() else { return Ok(()) };
        let dir = c.path().to_path_buf();
        let write = |allow: bool, rule: &str| {
            let f = dir.join(if allow { "devices.allow" } else { "devices.deny" });
            std::fs::write(&f, rule).map_err(|e| self.err(format!("{} {rule:?}: {e}", f.display())))
        };
        for r in rules {
            write(r.allow(), &device_rule(r))?;
        }
        const ALWAYS: &[&str] = &[
            "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
            "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
        ];
        for rule in ALWAYS {
            write(true, rule)?;
        }
        for d in devices {
            let t = match d.typ() {
                LinuxDeviceType::B => 'b',
                LinuxDeviceType::C | LinuxDeviceType::U => 'c',
                _ => continue,
            };
            write(true, &format!("{t} {}:{} rwm", d.major(), d.minor()))?;
        }
        Ok(())
    }

    /// Moves process `pid` (all its threads) into the cgroup.
    pub fn add(&self, pid: i32) -> Result<(), RuntimeError> {
        self.cg
            .add_task_by_tgid(CgroupPid::from(pid as u64))
            .map_err(|e| self.err(format!("add pid {pid}: {e}")))
    }

    /// Pids of every process in the cgroup.
    pub fn procs(&self) -> Vec<i32> {
        self.cg.procs().into_iter().filter_map(|p| i32::try_from(p.pid).ok()).collect()
    }

    /// Freezes (`true`) or thaws every process of the cgroup.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), RuntimeError> {
        let what = if frozen { "freeze" } else { "thaw" };
        if is_v2() {
            // cgroups-rs only offers the v2 freezer as a faked controller we do not enable.
            let f = std::path::Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.path).join("cgroup.freeze");
            return std::fs::write(&f, if frozen { "1" } else { "0" }).map_err(|e| self.err(format!("{what}: {e}")));
        }
        let c: &FreezerController = self.cg.controller_of().ok_or_else(|| self.err("no freezer controller".into()))?;
        let r = if frozen { c.freeze() } else { c.thaw() };
        r.map_err(|e| self.err(format!("{what}: {e}")))
    }

    /// Whether the cgroup is frozen (or freezing).
    pub fn is_frozen(&self) -> bool {
        if is_v2() {
            let f = std::path::Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.path).join("cgroup.freeze");
            return std::fs::read_to_string(f).map(|s| s.trim() == "1").unwrap_or(false);
        }
        self.cg
            .controller_of::<FreezerController>()
            .and_then(|c| c.state().ok())
            .is_some_and(|s| matches!(s, FreezerState::Frozen | FreezerState::Freezing))
    }

    /// Whether any of the cgroup's directories still exists.
    pub fn exists(&self) -> bool {
        self.cg.exists()
    }

    /// Removes the cgroup directories, retrying briefly while the kernel still reports them
    /// busy (processes that were just killed leave the cgroup asynchronously).
    pub fn remove(&self) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut pause = Duration::from_micros(500);
        loop {
            match self.cg.delete() {
                Ok(()) if !self.cg.exists() => return Ok(()),
                Ok(()) => {}
                Err(e) if Instant::now() >= deadline => return Err(self.err(format!("remove: {e}"))),
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(self.err("remove: directories still exist".into()));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// A device rule in the v1 devices.allow/deny syntax ("c 1:3 rwm", "a").
fn device_rule(r: &LinuxDeviceCgroup) -> String {
    let t = match r.typ() {
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        _ => 'a',
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    if t == 'a' && r.major().is_none() && r.minor().is_none() {
        // "a" alone means every device with every access.
        return "a".into();
    }
    let num = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n.to_string()).unwrap_or_else(|| "*".into());
    format!("{t} {}:{} {access}", num(r.major()), num(r.minor()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const MOUNTINFO: &str = "\
23 1 0:21 / / rw - overlay overlay rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/net\\040cls rw,relatime - cgroup cgroup rw,net_cls
50 23 0:32 / /srv/again/memory rw,relatime - cgroup cgroup rw,memory
60 23 0:32 / /rootfs/sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
";

    #[test]
    fn v1_hierarchies_come_from_cgroup_mounts_once_each_and_not_from_the_excluded_tree() {
        let h = v1_hierarchies(MOUNTINFO, Path::new("/rootfs"));
        let got: Vec<(&str, Vec<&str>)> =
            h.iter().map(|h| (h.mount_point.to_str().unwrap_or_default(), h.subsystems.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            got,
            vec![
                ("/sys/fs/cgroup/cpu,cpuacct", vec!["cpu", "cpuacct"]),
                ("/sys/fs/cgroup/memory", vec!["memory"]),
                ("/sys/fs/cgroup/systemd", vec!["name=systemd"]),
                ("/sys/fs/cgroup/net cls", vec!["net_cls"]),
            ]
        );
        assert!(h[0].joined() && h[1].joined());
        assert!(!h[2].joined() && !h[3].joined(), "berth joins neither name=systemd nor net_cls");
    }
}
