//! Where a container's cgroup lives: linux.cgroupsPath resolved per hierarchy, and the v1
//! hierarchies the host mounts.
//!
//! An absolute cgroupsPath is taken from each hierarchy's root (the spec's MUST). A relative
//! one is placed as runc places it (the spec leaves the location to the runtime): on v1
//! below the cgroup the runtime itself is in, per hierarchy (so the memory cgroup may nest
//! elsewhere than the cpu one); on v2 below the parent of the runtime's cgroup (its own one
//! holds processes, and v2 lets no cgroup with processes delegate controllers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A container's cgroup location, relative to each hierarchy's mount point, without a
/// leading slash. Persisted in the container state (flattened: `cgroup_path`, and
/// `cgroup_paths` only when some controller differs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CgroupPaths {
    /// The path in every hierarchy not listed in `by_controller` (all of them for an
    /// absolute cgroupsPath and on v2).
    #[serde(rename = "cgroup_path")]
    pub path: String,
    /// v1 controllers whose path differs: a relative cgroupsPath nested below the runtime's
    /// own (non-root) cgroup of that hierarchy, e.g. `memory` → `user/1/testdir/c`.
    #[serde(rename = "cgroup_paths", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_controller: BTreeMap<String, String>,
}

impl CgroupPaths {
    /// The same path in every hierarchy.
    pub fn uniform(path: impl Into<String>) -> Self {
        CgroupPaths { path: path.into(), by_controller: BTreeMap::new() }
    }

    /// The path of controller `c`.
    pub fn of(&self, c: &str) -> &str {
        self.by_controller.get(c).map_or(&self.path, String::as_str)
    }

    /// The path in a v1 hierarchy mounting `subsystems` (co-mounted controllers share it).
    pub fn of_hierarchy(&self, subsystems: &[String]) -> &str {
        subsystems.iter().find_map(|s| self.by_controller.get(s)).map_or(&self.path, String::as_str)
    }

    /// `controllers` grouped by their path, in first-seen order.
    pub fn groups(&self, controllers: &[String]) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for c in controllers {
            let p = self.of(c);
            match out.iter_mut().find(|(q, _)| q == p) {
                Some((_, cs)) => cs.push(c.clone()),
                None => out.push((p.to_owned(), vec![c.clone()])),
            }
        }
        out
    }
}

impl std::fmt::Display for CgroupPaths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}", self.path)?;
        for (c, p) in &self.by_controller {
            write!(f, " ({c}: /{p})")?;
        }
        Ok(())
    }
}

/// Why a cgroupsPath cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// A systemd `slice:prefix:name` path (berth drives cgroupfs only).
    Systemd,
    /// The path itself is unusable (`..`, the root cgroup).
    Invalid(&'static str),
    /// The runtime's own cgroup, needed for a relative path, could not be found.
    OwnCgroup(String),
}

/// The host facts a relative cgroupsPath depends on (the text of the runtime's
/// /proc/self/cgroup and /proc/self/mountinfo) and the cgroup mode.
pub struct Host<'a> {
    /// Whether /sys/fs/cgroup is cgroup v2 only.
    pub v2: bool,
    /// /proc/self/cgroup.
    pub proc_cgroup: &'a str,
    /// /proc/self/mountinfo.
    pub mountinfo: &'a str,
}

/// Resolves cgroupsPath `raw` (None: berth's default `/berth/<id>`) for container `id`.
pub fn resolve(id: &str, raw: Option<&str>, host: &Host) -> Result<CgroupPaths, PathError> {
    let default = format!("/berth/{id}");
    let raw = raw.unwrap_or(&default);
    if raw.contains(':') {
        return Err(PathError::Systemd);
    }
    let parts: Vec<&str> = raw.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if parts.contains(&"..") {
        return Err(PathError::Invalid("must not contain .."));
    }
    if parts.is_empty() {
        return Err(PathError::Invalid("must not be the root cgroup"));
    }
    let inner = parts.join("/");
    if raw.starts_with('/') {
        return Ok(CgroupPaths::uniform(inner));
    }
    let own = own_cgroups(host.proc_cgroup);
    if host.v2 {
        let mine = own.get("").ok_or_else(|| PathError::OwnCgroup("no cgroup v2 entry (0::) in /proc/self/cgroup".into()))?;
        let parent = Path::new(mine).parent().unwrap_or(Path::new("/"));
        return Ok(CgroupPaths::uniform(join(&parent.to_string_lossy(), &inner)));
    }
    let mut paths = CgroupPaths::uniform(inner.clone());
    for h in v1_hierarchies(host.mountinfo, None).iter().filter(|h| h.joined()) {
        let key = h.subsystems.join(",");
        let mine = own.get(&key).ok_or_else(|| PathError::OwnCgroup(format!("no {key} entry in /proc/self/cgroup")))?;
        // /proc/self/cgroup is relative to the hierarchy's root; the mount may show a subtree.
        let below_mount = Path::new(mine).strip_prefix(&h.root).map_err(|_| {
            PathError::OwnCgroup(format!("own {key} cgroup {mine} is outside its mount {} (root {})", h.mount_point.display(), h.root.display()))
        })?;
        let below_mount = below_mount.to_string_lossy();
        if !below_mount.is_empty() {
            for s in &h.subsystems {
                paths.by_controller.insert(s.clone(), join(&below_mount, &inner));
            }
        }
    }
    Ok(paths)
}

/// `a/b` without leading or doubled slashes.
fn join(base: &str, inner: &str) -> String {
    let base = base.trim_matches('/');
    if base.is_empty() {
        inner.to_owned()
    } else {
        format!("{base}/{inner}")
    }
}

/// /proc/<pid>/cgroup as controller list (`cpu,cpuacct`, `name=systemd`, "" for v2) → path.
fn own_cgroups(proc_cgroup: &str) -> BTreeMap<String, String> {
    proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            Some((ctrls.to_owned(), path.to_owned()))
        })
        .collect()
}

/// Every v1 subsystem the kernel knows (what a cgroup mount's options may name besides
/// flags like `rw` or `xattr`, and named hierarchies like `name=systemd`).
const V1_SUBSYSTEMS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "io",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// A cgroup v1 hierarchy mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// The cgroup of the hierarchy the mount shows (`/` unless a subtree is mounted).
    pub root: PathBuf,
    /// Its subsystems, from the mount options: e.g. `["cpu", "cpuacct"]`, `["name=systemd"]`.
    pub subsystems: Vec<String>,
}

impl V1Hierarchy {
    /// Whether a container gets a cgroup of its own in this hierarchy (one of the
    /// controllers it joins is mounted here).
    pub fn joined(&self) -> bool {
        self.subsystems.iter().any(|s| super::V1_CONTROLLERS.contains(&s.as_str()))
    }
}

/// The cgroup v1 hierarchies in `mountinfo` (the text of /proc/<pid>/mountinfo), the first
/// mount of each; mount points under `exclude` (e.g. a rootfs being set up) are left out.
pub fn v1_hierarchies(mountinfo: &str, exclude: Option<&Path>) -> Vec<V1Hierarchy> {
    let mut out: Vec<V1Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        // "<id> <parent> <dev> <root> <mount point> <opts> [optional...] - <type> <source> <super opts>"
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mut right = right.split(' ');
        if right.next() != Some("cgroup") {
            continue;
        }
        let mut left = left.split(' ').skip(3);
        let (Some(root), Some(point)) = (left.next().map(unescape_mountinfo), left.next().map(unescape_mountinfo)) else { continue };
        let point = PathBuf::from(point);
        if exclude.is_some_and(|x| point.starts_with(x)) {
            continue;
        }
        let subsystems: Vec<String> =
            right.nth(1).unwrap_or_default().split(',').filter(|o| V1_SUBSYSTEMS.contains(o) || o.starts_with("name=")).map(str::to_owned).collect();
        if !subsystems.is_empty() && !out.iter().any(|h| h.subsystems == subsystems) {
            out.push(V1Hierarchy { mount_point: point, root: PathBuf::from(root), subsystems });
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = v1_hierarchies(MOUNTINFO, Some(Path::new("/rootfs")));
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
        assert!(h[0].joined() && h[1].joined() && h[3].joined(), "net_cls is joined for its classid, as runc does");
        assert!(!h[2].joined(), "berth does not join name=systemd");
        assert_eq!(v1_hierarchies(MOUNTINFO, None).len(), 5, "without an exclusion the rootfs pids mount counts");
    }

    fn host<'a>(v2: bool, proc_cgroup: &'a str) -> Host<'a> {
        Host { v2, proc_cgroup, mountinfo: MOUNTINFO }
    }

    const PROC_CGROUP: &str =
        "5:pids:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/\n2:net_cls:/\n1:name=systemd:/user.slice\n0::/user.slice/s.scope\n";

    #[test]
    fn an_absolute_cgroups_path_is_taken_from_every_hierarchy_root() {
        let p = resolve("c1", Some("/docker/abc"), &host(false, PROC_CGROUP)).expect("resolve");
        assert_eq!(p, CgroupPaths::uniform("docker/abc"));
        assert_eq!(resolve("c1", None, &host(false, PROC_CGROUP)).expect("default"), CgroupPaths::uniform("berth/c1"));
        assert_eq!(resolve("c1", Some("/a//./b/"), &host(true, PROC_CGROUP)).expect("v2"), CgroupPaths::uniform("a/b"));
    }

    #[test]
    fn a_relative_cgroups_path_nests_below_the_runtimes_own_cgroup_of_each_v1_hierarchy() {
        let p = resolve("c1", Some("testdir/c"), &host(false, PROC_CGROUP)).expect("resolve");
        assert_eq!(p.path, "testdir/c", "hierarchies where the runtime is at the root");
        assert_eq!(p.of("memory"), "process_api/abc/testdir/c");
        assert_eq!(p.of("cpu"), "testdir/c");
        assert_eq!(p.of_hierarchy(&["memory".to_owned()]), "process_api/abc/testdir/c");
        assert_eq!(p.by_controller.len(), 1, "name=systemd is not joined: {p:?}");
        assert_eq!(
            p.groups(&["memory".into(), "cpu".into(), "pids".into()]),
            vec![("process_api/abc/testdir/c".into(), vec!["memory".into()]), ("testdir/c".into(), vec!["cpu".into(), "pids".into()])]
        );
        assert_eq!(p.to_string(), "/testdir/c (memory: /process_api/abc/testdir/c)");
    }

    #[test]
    fn a_relative_cgroups_path_on_v2_nests_below_the_parent_of_the_runtimes_cgroup() {
        let p = resolve("c1", Some("testdir/c"), &host(true, PROC_CGROUP)).expect("resolve");
        assert_eq!(p, CgroupPaths::uniform("user.slice/testdir/c"));
        let p = resolve("c1", Some("x"), &host(true, "0::/\n")).expect("at the root");
        assert_eq!(p, CgroupPaths::uniform("x"));
    }

    #[test]
    fn a_mounted_subtree_is_subtracted_from_the_runtimes_own_cgroup() {
        let mountinfo = "35 31 0:32 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let h = Host { v2: false, proc_cgroup: "4:memory:/outer/me\n", mountinfo };
        assert_eq!(resolve("c", Some("r"), &h).expect("resolve").of("memory"), "me/r");
        let h = Host { v2: false, proc_cgroup: "4:memory:/elsewhere\n", mountinfo };
        assert!(matches!(resolve("c", Some("r"), &h), Err(PathError::OwnCgroup(_))));
    }

    #[test]
    fn systemd_dotdot_and_root_cgroups_paths_are_refused() {
        let h = host(false, PROC_CGROUP);
        assert_eq!(resolve("c", Some("system.slice:berth:c"), &h), Err(PathError::Systemd));
        assert!(matches!(resolve("c", Some("/a/../b"), &h), Err(PathError::Invalid(_))));
        assert!(matches!(resolve("c", Some("/"), &h), Err(PathError::Invalid(_))));
        assert!(matches!(resolve("c", Some("./"), &h), Err(PathError::Invalid(_))));
    }

    #[test]
    fn paths_persist_as_cgroup_path_and_only_the_differing_controllers() {
        let v = serde_json::to_value(CgroupPaths::uniform("a/b")).expect("json");
        assert_eq!(v, serde_json::json!({"cgroup_path": "a/b"}));
        let back: CgroupPaths = serde_json::from_value(serde_json::json!({"cgroup_path": "a/b"})).expect("old state");
        assert_eq!(back, CgroupPaths::uniform("a/b"));
    }
}
