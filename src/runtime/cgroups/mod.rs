//! The container's cgroup, through cgroups-rs: it finds the hierarchies, creates and removes
//! the directories, moves processes and drives the freezer. Works on cgroup v1, pure v2, and
//! hybrid hosts (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified, which berth
//! uses as v1, as runc does: cgroups-rs picks v2 only when /sys/fs/cgroup itself is cgroup2).
//! The limits are written by [`limits`]' plan straight to the files: cgroups-rs writes some
//! v2 knobs to the wrong file (swappiness to memory.swap.max) and knows no bfq weight.

mod bpf;
mod device_filter;
mod devices;
pub mod limits;
pub mod metrics;
pub mod of_pid;
pub mod oom;
pub mod paths;
pub mod support;

use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::fs::{hierarchies, Cgroup};
use cgroups_rs::{CgroupPid, FreezerState};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxResources, Spec};

use super::error::RuntimeError;
use limits::{Step, Version, Write};
pub use paths::{v1_hierarchies, CgroupPaths, V1Hierarchy};

/// v1 controllers a container joins when the host mounts them (runc joins them all; these
/// are the ones linux.resources can limit, plus cpuacct for statistics and the freezer).
const V1_CONTROLLERS: &[&str] =
    &["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer", "hugetlb", "net_cls", "net_prio", "rdma"];
/// v2 controllers a container uses (when the host offers them).
const V2_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuset", "io", "hugetlb", "rdma"];

/// Whether /sys/fs/cgroup is a pure cgroup v2 mount.
pub fn is_v2() -> bool {
    hierarchies::is_cgroup2_unified_mode()
}

/// Where the cgroup of container `id` goes, from linux.cgroupsPath (default `/berth/<id>`);
/// see [`paths`] for where a relative path lands.
pub fn resolve_path(id: &str, spec: &Spec) -> Result<CgroupPaths, RuntimeError> {
    let raw = spec.linux().as_ref().and_then(|l| l.cgroups_path().as_ref()).map(|p| p.to_string_lossy().into_owned());
    // Only a relative path depends on where this process sits.
    let relative = raw.as_deref().is_some_and(|r| !r.starts_with('/'));
    let read = |p: &str| if relative { std::fs::read_to_string(p).map_err(|e| RuntimeError::io(id, "read", p, e)) } else { Ok(String::new()) };
    let (proc_cgroup, mountinfo) = (read("/proc/self/cgroup")?, read("/proc/self/mountinfo")?);
    let host = paths::Host { v2: is_v2(), proc_cgroup: &proc_cgroup, mountinfo: &mountinfo };
    let shown = raw.clone().unwrap_or_else(|| format!("/berth/{id}"));
    paths::resolve(id, raw.as_deref(), &host).map_err(|e| match e {
        paths::PathError::Systemd => RuntimeError::Unsupported(format!("systemd cgroup path {shown:?} (use a cgroupfs path like /berth/{id})")),
        paths::PathError::Invalid(reason) => RuntimeError::InvalidSpec { id: id.to_owned(), reason: format!("cgroupsPath {shown:?}: {reason}") },
        paths::PathError::OwnCgroup(msg) => RuntimeError::InvalidSpec {
            id: id.to_owned(),
            reason: format!("relative cgroupsPath {shown:?} goes below the runtime's own cgroup, which cannot be found: {msg}"),
        },
    })
}

/// A container's cgroup (all controllers).
pub struct ContainerCgroup {
    id: String,
    paths: CgroupPaths,
    v2: bool,
    /// One cgroups-rs handle per distinct path: a single one for an absolute cgroupsPath
    /// and on v2; a relative path on v1 may sit elsewhere in some hierarchies.
    groups: Vec<Cgroup>,
}

fn controllers(v2: bool) -> Vec<String> {
    if v2 {
        let avail = std::fs::read_to_string(Path::new(hierarchies::UNIFIED_MOUNTPOINT).join("cgroup.controllers")).unwrap_or_default();
        let avail: Vec<&str> = avail.split_whitespace().collect();
        V2_CONTROLLERS.iter().filter(|c| avail.contains(c)).map(|c| c.to_string()).collect()
    } else {
        V1_CONTROLLERS.iter().map(|c| c.to_string()).collect()
    }
}

/// Where a hybrid host mounts cgroup2 next to its v1 hierarchies.
const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Whether a v1 host offers `controller` only on its cgroup2 mount (hybrid mode), for
/// error messages.
fn hybrid_only(controller: &str) -> bool {
    let avail = std::fs::read_to_string(Path::new(HYBRID_UNIFIED).join("cgroup.controllers")).unwrap_or_default();
    avail.split_whitespace().any(|c| c == controller)
}

/// Why one write of linux.resources did not happen.
enum WriteFailure {
    /// The host cannot apply the field (no such controller or file).
    Refused(RuntimeError),
    /// The kernel rejected the value.
    Kernel { file: PathBuf, value: String, err: std::io::Error },
}

impl ContainerCgroup {
    /// A handle on the cgroup at `paths` (as returned by [`resolve_path`]); creates nothing.
    pub fn load(id: &str, paths: &CgroupPaths) -> Self {
        let v2 = is_v2();
        let groups = paths
            .groups(&controllers(v2))
            .into_iter()
            .map(|(path, ctrls)| Cgroup::load_with_specified_controllers(hierarchies::auto(), path, ctrls))
            .collect();
        ContainerCgroup { id: id.to_owned(), paths: paths.clone(), v2, groups }
    }

    /// Creates the cgroup and applies linux.resources (every field, or the create fails
    /// naming the one this host cannot apply), the device rules included.
    pub fn create(id: &str, paths: &CgroupPaths, resources: Option<&LinuxResources>) -> Result<Self, RuntimeError> {
        let this = Self::load(id, paths);
        let made = this.groups.iter().try_for_each(|g| g.create()).map_err(|e| this.err(format!("create: {e}")));
        let applied = made.and_then(|()| resources.map_or(Ok(()), |res| this.apply(res).and_then(|()| this.apply_devices(res))));
        if let Err(e) = applied {
            let _ = this.remove();
            return Err(e);
        }
        Ok(this)
    }

    /// Applies new limits to an existing cgroup (`update`), with the same rules as create.
    /// Device rules stay as create set them: like `runc update`, berth's takes none (a
    /// resources file's `devices` is ignored), so no filter program needs replacing.
    pub fn update(&self, res: &LinuxResources) -> Result<(), RuntimeError> {
        self.apply(res)
    }

    fn err(&self, msg: String) -> RuntimeError {
        RuntimeError::Cgroup { id: self.id.clone(), path: self.paths.to_string(), msg }
    }

    fn refused(&self, field: &str, reason: String) -> RuntimeError {
        RuntimeError::ResourceRefused { id: self.id.clone(), field: field.to_owned(), reason }
    }

    fn apply(&self, res: &LinuxResources) -> Result<(), RuntimeError> {
        let version = if self.v2 { Version::V2 } else { Version::V1 };
        let steps = limits::plan(res, version).map_err(|r| self.refused(&r.field, r.reason))?;
        let write = |w: &Write| self.write(w).map_err(|f| self.failure(w, f));
        for step in &steps {
            match step {
                Step::One(w) => write(w)?,
                Step::Pair(a, b) => match self.write(a) {
                    Ok(()) => write(b)?,
                    // The new value only fits once the other one is in place.
                    Err(WriteFailure::Kernel { err, .. }) if err.raw_os_error() == Some(Errno::EINVAL as i32) => {
                        write(b)?;
                        write(a)?;
                    }
                    Err(f) => return Err(self.failure(a, f)),
                },
            }
        }
        Ok(())
    }

    /// The directory of `controller` (v2: the container's one directory).
    fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        if self.v2 {
            return Some(Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.paths.path));
        }
        let mut subsystems = self.groups.iter().flat_map(|g| g.subsystems());
        subsystems.find(|s| s.controller_name() == controller).map(|s| s.to_controller().path().to_path_buf())
    }

    fn write(&self, w: &Write) -> Result<(), WriteFailure> {
        let refused = |reason: String| if w.optional { Ok(()) } else { Err(WriteFailure::Refused(self.refused(&w.field, reason))) };
        let Some(dir) = self.dir_of(w.controller) else {
            let mut reason = format!("this host has no {} cgroup controller (no v1 hierarchy mounts it)", w.controller);
            if hybrid_only(w.controller) {
                reason.push_str(&format!(
                    "; it is enabled only on the cgroup2 mount at {HYBRID_UNIFIED}, which berth, like runc, does not set limits on"
                ));
            }
            return refused(reason);
        };
        let Some((file, value)) = w.choices.iter().map(|(f, v)| (dir.join(f), v)).find(|(f, _)| f.exists()) else {
            let names = w.choices.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(" or ");
            let mut reason = format!("this host's kernel offers no {names} in {}", dir.display());
            if self.v2 {
                let avail = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
                reason.push_str(&format!(" (controllers there: {})", avail.trim()));
            }
            return refused(reason);
        };
        std::fs::OpenOptions::new().write(true).open(&file).and_then(|mut f| f.write_all(value.as_bytes())).map_err(|err| WriteFailure::Kernel {
            file,
            value: value.clone(),
            err,
        })
    }

    fn failure(&self, w: &Write, f: WriteFailure) -> RuntimeError {
        let (file, value, err) = match f {
            WriteFailure::Refused(e) => return e,
            WriteFailure::Kernel { file, value, err } => (file, value, err),
        };
        let hint = match Errno::from_raw(err.raw_os_error().unwrap_or(0)) {
            Errno::EINVAL if w.field.starts_with("cpu.realtime") => {
                " (the parent cgroup's real-time budget, its cpu.rt_runtime_us, must cover it; dockerd: --cpu-rt-runtime)"
            }
            Errno::EBUSY if w.field.starts_with("memory.") => " (the container already uses more than that)",
            Errno::ENODEV => " (no such block device on this host)",
            Errno::EOPNOTSUPP if w.field.starts_with("blockIO.weightDevice") => " (the device's I/O scheduler is not bfq)",
            _ => "",
        };
        RuntimeError::ResourceRefused {
            id: self.id.clone(),
            field: w.field.clone(),
            reason: format!("writing {value:?} to {}: {err}{hint}", file.display()),
        }
    }

    /// The device rules (see [`devices`]): written to devices.allow/deny on v1; on v2 a
    /// device filter program (see [`device_filter`]) attached to the cgroup, which holds no
    /// process yet, so nothing the container runs escapes it.
    fn apply_devices(&self, res: &LinuxResources) -> Result<(), RuntimeError> {
        let rules = devices::rules(res);
        if rules.is_empty() {
            return Ok(());
        }
        if self.v2 {
            let prog = device_filter::program(&rules)
                .map_err(|e| RuntimeError::InvalidSpec { id: self.id.clone(), reason: format!("linux.resources.devices: {e}") })?;
            let dir = Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.paths.path);
            let cgroup = std::fs::File::open(&dir).map_err(|e| RuntimeError::io(&self.id, "open", &dir, e))?;
            let loaded = bpf::load_device_program(&device_filter::encode(&prog)).map_err(|e| {
                let hint = if e.raw_os_error() == Some(Errno::EPERM as i32) { " (needs CAP_SYS_ADMIN or CAP_BPF)" } else { "" };
                self.err(format!("loading the device filter (bpf BPF_PROG_LOAD): {e}{hint}"))
            })?;
            return bpf::attach_device_program(cgroup.as_fd(), loaded.as_fd())
                .map_err(|e| self.err(format!("attaching the device filter (bpf BPF_PROG_ATTACH): {e}")));
        }
        let Some(dir) = self.dir_of("devices") else { return Ok(()) };
        for rule in rules {
            let f = dir.join(if rule.allow { "devices.allow" } else { "devices.deny" });
            let rule = rule.to_string();
            std::fs::write(&f, &rule).map_err(|e| self.err(format!("{} {rule:?}: {e}", f.display())))?;
        }
        Ok(())
    }

    /// Moves process `pid` (all its threads) into the cgroup.
    pub fn add(&self, pid: i32) -> Result<(), RuntimeError> {
        for g in &self.groups {
            g.add_task_by_tgid(CgroupPid::from(pid as u64)).map_err(|e| self.err(format!("add pid {pid}: {e}")))?;
        }
        Ok(())
    }

    /// Pids of every process in the cgroup.
    pub fn procs(&self) -> Vec<i32> {
        let procs = self.groups.first().map(|g| g.procs()).unwrap_or_default();
        procs.into_iter().filter_map(|p| i32::try_from(p.pid).ok()).collect()
    }

    fn v2_freeze_file(&self) -> PathBuf {
        Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&self.paths.path).join("cgroup.freeze")
    }

    fn freezer(&self) -> Option<&FreezerController> {
        self.groups.iter().find_map(|g| g.controller_of::<FreezerController>())
    }

    /// Freezes (`true`) or thaws every process of the cgroup.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), RuntimeError> {
        let what = if frozen { "freeze" } else { "thaw" };
        if self.v2 {
            // cgroups-rs only offers the v2 freezer as a faked controller we do not enable.
            return std::fs::write(self.v2_freeze_file(), if frozen { "1" } else { "0" }).map_err(|e| self.err(format!("{what}: {e}")));
        }
        let c = self.freezer().ok_or_else(|| self.err("no freezer controller".into()))?;
        let r = if frozen { c.freeze() } else { c.thaw() };
        r.map_err(|e| self.err(format!("{what}: {e}")))
    }

    /// Whether the cgroup is frozen (or freezing).
    pub fn is_frozen(&self) -> bool {
        if self.v2 {
            return std::fs::read_to_string(self.v2_freeze_file()).map(|s| s.trim() == "1").unwrap_or(false);
        }
        self.freezer().and_then(|c| c.state().ok()).is_some_and(|s| matches!(s, FreezerState::Frozen | FreezerState::Freezing))
    }

    /// Whether any of the cgroup's directories still exists.
    pub fn exists(&self) -> bool {
        self.groups.iter().any(Cgroup::exists)
    }

    /// Removes the cgroup directories (the leaves, as runc: parents a relative path created
    /// stay), retrying briefly while the kernel still reports them busy (processes that were
    /// just killed leave the cgroup asynchronously).
    pub fn remove(&self) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut pause = Duration::from_micros(500);
        loop {
            let mut last = None;
            for g in &self.groups {
                if let Err(e) = g.delete() {
                    last = Some(e);
                }
            }
            if !self.exists() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let why = last.map_or_else(|| "directories still exist".to_owned(), |e| e.to_string());
                return Err(self.err(format!("remove: {why}")));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}
