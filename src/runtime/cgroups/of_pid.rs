//! A container's cgroup as seen from its init pid: its directories on v1, v2 and hybrid
//! hierarchies and the processes in it (Pids); [`super::metrics`] reads its statistics and
//! the shim's OOM watch finds its memory controller here.

use std::path::{Path, PathBuf};

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

/// The directory of `pid`'s cgroup in the v1 hierarchy of `controller`.
pub fn dir_of(pid: i32, controller: &str) -> Option<PathBuf> {
    dirs(pid).into_iter().find(|(c, _)| c.split(',').any(|x| x == controller)).map(|(_, d)| d)
}

/// The directory of `pid`'s cgroup in the unified (v2) hierarchy, when it has one.
pub fn unified_dir(pid: i32) -> Option<PathBuf> {
    dirs(pid).into_iter().find(|(c, d)| c.is_empty() && d.join("cgroup.controllers").exists()).map(|(_, d)| d)
}

/// A cgroup file's number; v2's `max` (no limit) reads as `u64::MAX`, as containerd
/// reports it; a missing or unreadable file as 0.
pub fn read_u64(path: &Path) -> u64 {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim() == "max" => u64::MAX,
        Ok(s) => s.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

/// `key value` lines of a cgroup file (memory.stat, cpu.stat, memory.events).
pub fn key_values(path: &Path) -> Vec<(String, u64)> {
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
