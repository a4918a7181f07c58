//! The container's filesystem mounts besides its root: the system ones every container gets
//! (/proc, /dev, /dev/shm sized by `ShmSize`, ...) and the tmpfs mounts of `Tmpfs`, with
//! Docker's defaults and option rules. Everything is checked at create, so a bad value fails
//! `create`, never `start`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::mountpoints::Kind;
use crate::api::types::HostConfig;

/// Bytes of /dev/shm when `ShmSize` does not say (dockerd's `--default-shm-size`).
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// What `Tmpfs` or `ShmSize` asks that cannot be done, in Docker's words where it has them.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A tmpfs destination that is not an absolute path below `/`, or that berth's mounts need.
    #[error("invalid tmpfs destination {dest:?}: {reason}")]
    Destination { dest: String, reason: &'static str },
    /// Two tmpfs destinations that name the same path.
    #[error("Duplicate mount point: {0}")]
    Duplicate(String),
    /// A tmpfs option berth does not know (or one that makes no sense for tmpfs).
    #[error("invalid tmpfs option {option:?} for {dest}: a tmpfs takes ro, rw, [no]exec, [no]suid, [no]dev, sync, async, dirsync, [no]atime, [no]diratime, relatime, strictatime, a propagation mode, and size=, mode=, uid=, gid=, nr_inodes=, nr_blocks=, mpol=")]
    Option { dest: String, option: String },
    /// A known tmpfs option with a value the kernel would refuse.
    #[error("invalid tmpfs option {option:?} for {dest}: {reason}")]
    Value { dest: String, option: String, reason: &'static str },
    /// A negative `ShmSize`.
    #[error("SHM size can not be less than 0")]
    NegativeShmSize,
    /// A bind, mount or volume `Binds`/`Mounts` asks for, refused in Docker's words.
    #[error(transparent)]
    Point(#[from] super::mountpoints::MountPointError),
    /// A bind's host path that cannot be made or does not allow its propagation.
    #[error("path {path} {reason}")]
    Source { path: String, reason: String },
    /// `ShmSize` and a tmpfs at /dev/shm, which replaces the sized one.
    #[error("--shm-size and --tmpfs /dev/shm both set /dev/shm: give the size as the tmpfs's size= option")]
    ShmConflict,
}

/// Options that are mount flags, each with the flag it sets or clears: of two options on one
/// flag the last given wins (Docker's `MergeTmpfsOptions`).
const FLAG_OPTIONS: &[(&str, &str)] = &[
    ("ro", "rdonly"),
    ("rw", "rdonly"),
    ("suid", "nosuid"),
    ("nosuid", "nosuid"),
    ("dev", "nodev"),
    ("nodev", "nodev"),
    ("exec", "noexec"),
    ("noexec", "noexec"),
    ("sync", "sync"),
    ("async", "sync"),
    ("dirsync", "dirsync"),
    ("atime", "noatime"),
    ("noatime", "noatime"),
    ("diratime", "nodiratime"),
    ("nodiratime", "nodiratime"),
    ("relatime", "relatime"),
    ("strictatime", "strictatime"),
    ("private", "propagation"),
    ("rprivate", "propagation"),
    ("shared", "propagation"),
    ("rshared", "propagation"),
    ("slave", "propagation"),
    ("rslave", "propagation"),
    ("unbindable", "propagation"),
    ("runbindable", "propagation"),
];

/// Checks the value of tmpfs data option `key` as the kernel's tmpfs reads it.
fn valid_value(key: &str, v: &str) -> Result<(), &'static str> {
    let number_with_suffix = |v: &str, suffixes: &str| {
        let digits = v.trim_end_matches(|c: char| suffixes.contains(c.to_ascii_lowercase()));
        !digits.is_empty() && v.len() - digits.len() <= 1 && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let ok = match key {
        "size" => number_with_suffix(v, "kmgtpe%"),
        "nr_inodes" | "nr_blocks" => number_with_suffix(v, "kmgtpe"),
        "mode" => !v.is_empty() && v.len() <= 4 && v.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" => v.parse::<u32>().is_ok(),
        "mpol" => !v.is_empty(),
        _ => return Err("not a tmpfs option"),
    };
    if ok {
        Ok(())
    } else {
        Err(match key {
            "size" => "size takes bytes with an optional k, m, g suffix, or a percentage",
            "mode" => "mode takes octal permissions",
            "uid" | "gid" => "takes a number",
            "mpol" => "mpol takes a memory policy",
            _ => "takes a number with an optional k, m, g suffix",
        })
    }
}

/// The options of the tmpfs at `dest`: Docker's `noexec,nosuid,nodev,rprivate`, then `data`
/// (`rw,size=64m`), merged as dockerd merges them (the last of each flag or key wins, in the
/// order given).
pub fn tmpfs_options(dest: &str, data: &str) -> Result<Vec<String>, MountError> {
    let mut given: Vec<&str> = vec!["noexec", "nosuid", "nodev", "rprivate"];
    if !data.is_empty() {
        given.extend(data.split(','));
    }
    let mut seen = std::collections::HashSet::new();
    let mut merged = Vec::new();
    for option in given.into_iter().rev() {
        if option == "defaults" {
            continue;
        }
        let key = match FLAG_OPTIONS.iter().find(|(name, _)| *name == option) {
            Some((_, flag)) => *flag,
            None => {
                let refused = || MountError::Option { dest: dest.to_owned(), option: option.to_owned() };
                let (key, value) = option.split_once('=').ok_or_else(refused)?;
                valid_value(key, value).map_err(|reason| match reason {
                    "not a tmpfs option" => refused(),
                    reason => MountError::Value { dest: dest.to_owned(), option: option.to_owned(), reason },
                })?;
                key
            }
        };
        if seen.insert(key) {
            merged.push(option.to_owned());
        }
    }
    merged.reverse();
    Ok(merged)
}

/// `dest` as an absolute path without `.`, `..` or repeated slashes; the root, relative
/// paths, `..` and /proc (which the runtime needs as proc) are refused.
fn destination(dest: &str) -> Result<PathBuf, MountError> {
    let refuse = |reason| MountError::Destination { dest: dest.to_owned(), reason };
    if !dest.starts_with('/') {
        return Err(refuse("mount path must be absolute"));
    }
    let mut clean = PathBuf::from("/");
    for c in Path::new(dest).components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(refuse("mount path must not contain '..'")),
        }
    }
    if clean == Path::new("/") {
        return Err(refuse("destination can't be '/'"));
    }
    if clean.starts_with("/proc") {
        return Err(refuse("/proc is the container's proc filesystem"));
    }
    Ok(clean)
}

/// The tmpfs mounts of `Tmpfs`, destinations cleaned and options merged, by destination.
fn tmpfs(hc: &HostConfig) -> Result<BTreeMap<PathBuf, Vec<String>>, MountError> {
    let mut out = BTreeMap::new();
    for (dest, data) in hc.tmpfs.iter().flatten() {
        let clean = destination(dest)?;
        let options = tmpfs_options(dest, data)?;
        if out.insert(clean.clone(), options).is_some() {
            return Err(MountError::Duplicate(clean.display().to_string()));
        }
    }
    Ok(out)
}

/// Bytes of /dev/shm: `ShmSize`, else Docker's default; negative is refused.
pub fn shm_size(hc: &HostConfig) -> Result<i64, MountError> {
    match hc.shm_size {
        s if s < 0 => Err(MountError::NegativeShmSize),
        0 => Ok(DEFAULT_SHM_SIZE),
        s => Ok(s),
    }
}

/// The container's mounts (config.json `mounts`): the system ones, with /dev/shm of
/// [`shm_size`], then the tmpfs ones, parents before children. A tmpfs on a system mount's
/// destination replaces it, and one on /dev replaces everything below /dev, as Docker's does.
pub fn mounts(hc: &HostConfig) -> Result<Vec<Value>, MountError> {
    let shm = format!("size={}", shm_size(hc)?);
    let system = [
        json!({ "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }),
        json!({ "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] }),
        // Writable only for a privileged container, as Docker's.
        json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if hc.privileged { "rw" } else { "ro" }] }),
        // Its own cgroups, read-only unless privileged, as Docker's: the limits it runs
        // under are there to read (v1: its cgroup at each controller's root).
        json!({ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", if hc.privileged { "rw" } else { "ro" }] }),
        json!({ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", shm] }),
    ];
    let user = user_mounts(hc)?;
    let replaces_dev = user.contains_key(Path::new("/dev"));
    let replaced = |m: &Value| {
        let dest = Path::new(m["destination"].as_str().unwrap_or_default());
        user.contains_key(dest) || (replaces_dev && dest.starts_with("/dev"))
    };
    let mut out: Vec<Value> = system.into_iter().filter(|m| !replaced(m)).collect();
    // BTreeMap order puts a path before every path below it.
    out.extend(user.into_values());
    Ok(out)
}

/// The container's own mounts, by destination: `Tmpfs`, then `Binds` and `Mounts`.
fn user_mounts(hc: &HostConfig) -> Result<BTreeMap<PathBuf, Value>, MountError> {
    let mut user: BTreeMap<PathBuf, Value> = tmpfs(hc)?
        .into_iter()
        .map(|(dest, options)| (dest.clone(), json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options })))
        .collect();
    // Bind sources were checked at create; one gone since fails in the runtime, by path.
    for p in super::mountpoints::of(hc, &|_| true)? {
        let dest = PathBuf::from(&p.destination);
        let mount = match p.kind {
            Kind::Bind => {
                let mut options = vec![if p.non_recursive { "bind" } else { "rbind" }.to_owned(), p.propagation.clone()];
                options.push(if p.rw { "rw" } else { "ro" }.to_owned());
                json!({ "destination": dest, "type": "bind", "source": p.source, "options": options })
            }
            Kind::Tmpfs => {
                let options = tmpfs_options(&p.destination, &p.tmpfs_options.join(","))?;
                json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options })
            }
            // Refused by mountpoints::of until volumes exist.
            Kind::Volume => continue,
        };
        if user.insert(dest, mount).is_some() {
            return Err(MountError::Duplicate(p.destination));
        }
    }
    Ok(user)
}

/// Makes the missing host directories of `-v` binds (0755, as Docker's), before a start.
pub fn make_bind_sources(hc: &HostConfig) -> Result<(), MountError> {
    for p in super::mountpoints::of(hc, &|_| true)? {
        if p.kind == Kind::Bind && p.create_source && std::fs::symlink_metadata(&p.source).is_err() {
            crate::fsperm::create_dir_all(Path::new(&p.source), 0o755)
                .map_err(|e| MountError::Source { path: p.source.clone(), reason: e.to_string() })?;
        }
    }
    Ok(())
}

/// The root's propagation a container's binds need, as Docker's: `rshared` for a shared
/// bind, `rslave` for a slave one, each only if the host mount holding its source is
/// shared (or, for slave, shared or slave); None when no bind asks.
pub fn rootfs_propagation(hc: &HostConfig) -> Result<Option<&'static str>, MountError> {
    let mut out = None;
    for p in super::mountpoints::of(hc, &|_| true)? {
        let shared = matches!(p.propagation.as_str(), "shared" | "rshared");
        let slave = matches!(p.propagation.as_str(), "slave" | "rslave");
        if p.kind != Kind::Bind || !(shared || slave) {
            continue;
        }
        let held = crate::mountinfo::holding(Path::new(&p.source));
        let mount_point = held.as_ref().map(|h| h.mount_point.display().to_string()).unwrap_or_else(|| "/".into());
        let is_shared = held.as_ref().is_some_and(|h| h.is_shared());
        let is_slave = held.as_ref().is_some_and(|h| h.is_slave());
        if shared && !is_shared {
            return Err(MountError::Source { path: p.source, reason: format!("is mounted on {mount_point} but it is not a shared mount") });
        }
        if slave && !is_shared && !is_slave {
            return Err(MountError::Source { path: p.source, reason: format!("is mounted on {mount_point} but it is not a shared or slave mount") });
        }
        if shared {
            out = Some("rshared");
        } else if out.is_none() {
            out = Some("rslave");
        }
    }
    Ok(out)
}

/// Checks `Tmpfs`, `ShmSize`, `Binds` and `Mounts` (at create): a `--mount` bind's host
/// path must exist then.
pub fn check(hc: &HostConfig, volumes: Option<&BTreeMap<String, Value>>) -> Result<(), MountError> {
    let points = super::mountpoints::of(hc, &|p| p.exists())?;
    // `Config.Volumes` asks for anonymous volumes, unless a bind covers the destination.
    for dest in volumes.into_iter().flat_map(|v| v.keys()) {
        if !points.iter().any(|p| Path::new(&p.destination) == Path::new(dest)) {
            return Err(super::mountpoints::MountPointError::Unsupported(format!(
                "a volume at {dest} (Config.Volumes; named and anonymous volumes are not implemented by berth yet; bind a host directory instead)"
            ))
            .into());
        }
    }
    let user = tmpfs(hc)?;
    if hc.shm_size != 0 && user.contains_key(Path::new("/dev/shm")) {
        return Err(MountError::ShmConflict);
    }
    mounts(hc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(tmpfs: &[(&str, &str)], shm_size: i64) -> HostConfig {
        HostConfig { tmpfs: Some(tmpfs.iter().map(|(d, o)| ((*d).to_owned(), (*o).to_owned())).collect()), shm_size, ..Default::default() }
    }

    #[test]
    fn tmpfs_options_merge_dockers_defaults_with_the_given_ones() {
        assert_eq!(tmpfs_options("/tmp", "").expect("none given"), ["noexec", "nosuid", "nodev", "rprivate"]);
        assert_eq!(
            tmpfs_options("/run", "rw,size=64m,mode=1777").expect("given"),
            ["noexec", "nosuid", "nodev", "rprivate", "rw", "size=64m", "mode=1777"]
        );
        assert_eq!(tmpfs_options("/x", "exec,size=1k,size=2k,shared").expect("last wins"), ["nosuid", "nodev", "exec", "size=2k", "shared"]);
        for (bad, what) in [
            ("bogus", "bogus"),
            ("size=lots", "size"),
            ("mode=999", "mode"),
            ("uid=-1", "uid"),
            ("rw,", "\"\""),
            ("bind", "bind"),
            ("color=red", "color"),
        ] {
            let e = tmpfs_options("/x", bad).expect_err(bad).to_string();
            assert!(e.contains(what) && e.contains("/x"), "{bad}: {e}");
        }
    }

    #[test]
    fn tmpfs_mounts_follow_the_system_ones_and_replace_them_by_destination() {
        let m = mounts(&hc(&[("/run/", "size=1m"), ("/tmp", "")], 0)).expect("mounts");
        let dests: Vec<&str> = m.iter().filter_map(|m| m["destination"].as_str()).collect();
        assert_eq!(dests, ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm", "/run", "/tmp"]);
        assert_eq!(m[4]["options"][4], "ro", "its cgroups read-only");
        assert_eq!(m[6]["options"][4], "size=67108864", "Docker's 64 MiB /dev/shm");
        assert_eq!(m[7]["options"], json!(["noexec", "nosuid", "nodev", "rprivate", "size=1m"]));
        let m = mounts(&hc(&[("/dev/shm", "size=1m")], 0)).expect("own shm");
        assert_eq!(m.iter().filter(|m| m["destination"] == "/dev/shm").count(), 1);
        let m = mounts(&hc(&[("/dev", "")], 128 << 20)).expect("own dev");
        assert!(m.iter().all(|m| m["destination"] == "/dev" || !m["destination"].as_str().unwrap_or_default().starts_with("/dev")));
        assert_eq!(mounts(&hc(&[], 128 << 20)).expect("sized")[6]["options"][4], "size=134217728");
    }

    #[test]
    fn bad_destinations_and_sizes_are_refused_at_create() {
        for (dest, what) in [("tmp", "absolute"), ("/", "'/'"), ("/a/../b", ".."), ("/proc/x", "proc")] {
            let e = check(&hc(&[(dest, "")], 0), None).expect_err(dest).to_string();
            assert!(e.contains(what), "{dest}: {e}");
        }
        assert!(matches!(check(&hc(&[("/run", ""), ("/run/", "")], 0), None), Err(MountError::Duplicate(d)) if d == "/run"));
        assert!(matches!(check(&hc(&[], -1), None), Err(MountError::NegativeShmSize)));
        assert!(matches!(check(&hc(&[("/dev/shm", "")], 1 << 20), None), Err(MountError::ShmConflict)));
    }
}
