//! Devices of a container: `--device` (a host device node, or every node below a host
//! directory, made in the container with cgroup access to it), `--device-cgroup-rule`
//! (access by type and number), and `--privileged` (every host device, access to all), as
//! Docker's. Each yields the config.json `linux.devices` nodes and `linux.resources.devices`
//! rules that follow Docker's default deny-all rule. The runtime enforces those rules on
//! cgroup v1 (the devices controller) and v2 (an eBPF device filter).

use crate::api::types::HostConfig;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// A bad `Devices` or `DeviceCgroupRules` entry.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("error gathering device information while adding custom device {path:?}: {source}")]
    Host { path: String, source: std::io::Error },
    #[error("error gathering device information while adding custom device {0:?}: not a device node")]
    NotDevice(String),
    #[error("invalid device path in container {0:?}: it must be absolute, without '..'")]
    ContainerPath(String),
    #[error("invalid device cgroup permissions {0:?}: use a combination of r, w and m")]
    Permissions(String),
    #[error(
        "invalid device cgroup rule {0:?}: expected 'TYPE MAJOR:MINOR ACCESS' (TYPE a, b or c; MAJOR and MINOR numbers or '*'; ACCESS of r, w, m)"
    )]
    Rule(String),
}

/// Host directories whose contents are not devices a container gets (`--privileged`).
const SKIPPED_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// The `linux.devices` nodes and the allow rules (after the default deny) of `hc`.
pub fn devices(hc: &HostConfig) -> Result<(Vec<Value>, Vec<Value>), DeviceError> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    if hc.privileged {
        for (path, meta) in host_devices(Path::new("/dev")) {
            nodes.push(node(&path, &meta));
        }
        rules.push(json!({ "allow": true, "access": "rwm" }));
        return Ok((nodes, rules));
    }
    for m in hc.devices.as_deref().unwrap_or_default() {
        let perms = if m.cgroup_permissions.is_empty() { "rwm" } else { m.cgroup_permissions.as_str() };
        if !perms.chars().all(|c| "rwm".contains(c)) {
            return Err(DeviceError::Permissions(perms.to_owned()));
        }
        let host = Path::new(&m.path_on_host);
        let inside = if m.path_in_container.is_empty() { m.path_on_host.as_str() } else { m.path_in_container.as_str() };
        let inside = Path::new(inside);
        if !inside.is_absolute() || inside.components().any(|c| c == Component::ParentDir) {
            return Err(DeviceError::ContainerPath(inside.display().to_string()));
        }
        let meta = std::fs::metadata(host).map_err(|source| DeviceError::Host { path: m.path_on_host.clone(), source })?;
        let found: Vec<(PathBuf, std::fs::Metadata)> = if meta.is_dir() {
            // Every node below the directory, at the same place below the container's path.
            host_devices(host).into_iter().filter_map(|(p, md)| Some((inside.join(p.strip_prefix(host).ok()?), md))).collect()
        } else if is_device(&meta) {
            vec![(inside.to_path_buf(), meta)]
        } else {
            return Err(DeviceError::NotDevice(m.path_on_host.clone()));
        };
        for (path, meta) in found {
            let n = node(&path, &meta);
            rules.push(json!({ "allow": true, "type": n["type"], "major": n["major"], "minor": n["minor"], "access": perms }));
            nodes.push(n);
        }
    }
    for r in hc.device_cgroup_rules.as_deref().unwrap_or_default() {
        rules.push(cgroup_rule(r)?);
    }
    Ok((nodes, rules))
}

/// `TYPE MAJOR:MINOR ACCESS`, e.g. `c 10:229 rwm` or `b *:* r`.
fn cgroup_rule(rule: &str) -> Result<Value, DeviceError> {
    let bad = || DeviceError::Rule(rule.to_owned());
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = parts[..] else { return Err(bad()) };
    if !matches!(kind, "a" | "b" | "c") || access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Value, DeviceError> {
        match n {
            "*" => Ok(Value::Null),
            n => n.parse::<u32>().map(Value::from).map_err(|_| bad()),
        }
    };
    let mut v = json!({ "allow": true, "type": kind, "access": access });
    for (key, n) in [("major", major), ("minor", minor)] {
        let n = number(n)?;
        if !n.is_null() {
            v[key] = n;
        }
    }
    Ok(v)
}

fn is_device(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() || meta.file_type().is_block_device()
}

/// The config.json node for a host device `meta` at `path` in the container.
fn node(path: &Path, meta: &std::fs::Metadata) -> Value {
    let rdev = meta.rdev();
    json!({
        "path": path,
        "type": if meta.file_type().is_block_device() { "b" } else { "c" },
        "major": nix::sys::stat::major(rdev),
        "minor": nix::sys::stat::minor(rdev),
        "fileMode": meta.mode() & 0o7777,
        "uid": meta.uid(),
        "gid": meta.gid()
    })
}

/// The device nodes below `dir`, symlinks not followed, the usual non-device dirs skipped.
fn host_devices(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else { continue };
        let name = e.file_name();
        if meta.is_dir() {
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                out.extend(host_devices(&e.path()));
            }
        } else if is_device(&meta) && name != "console" {
            out.push((e.path(), meta));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Checks `Devices` and `DeviceCgroupRules` (at create). The rules hold on cgroup v1 and v2
/// alike (v2 through the runtime's eBPF device filter), so a limited `--device` is taken
/// everywhere.
pub fn check(hc: &HostConfig) -> Result<(), DeviceError> {
    // A privileged container's devices are the host's at start: nothing to check, and no
    // walk of /dev at create.
    if hc.privileged {
        return Ok(());
    }
    devices(hc).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::DeviceMapping;

    /// A `DeviceMapping` from the CLI's `HOST[:CONTAINER[:PERMS]]`.
    fn parse_mapping(s: &str) -> DeviceMapping {
        let mut it = s.splitn(3, ':');
        let host = it.next().unwrap_or_default().to_owned();
        let (a, b) = (it.next(), it.next());
        let (inside, perms) = match (a, b) {
            (Some(p), None) if !p.starts_with('/') => (String::new(), p.to_owned()),
            (a, b) => (a.unwrap_or_default().to_owned(), b.unwrap_or_default().to_owned()),
        };
        DeviceMapping { path_on_host: host, path_in_container: inside, cgroup_permissions: perms }
    }

    #[test]
    fn a_device_mapping_gives_a_node_and_an_allow_rule() {
        let hc = HostConfig { devices: Some(vec![parse_mapping("/dev/null:/dev/mynull:rw")]), ..Default::default() };
        let (nodes, rules) = devices(&hc).expect("devices");
        assert_eq!(
            (nodes[0]["path"].as_str(), nodes[0]["type"].as_str(), nodes[0]["major"].as_u64(), nodes[0]["minor"].as_u64()),
            (Some("/dev/mynull"), Some("c"), Some(1), Some(3))
        );
        assert_eq!(rules, [json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"})]);
        let bad = |m: &str| devices(&HostConfig { devices: Some(vec![parse_mapping(m)]), ..Default::default() }).expect_err(m).to_string();
        assert!(bad("/nonexistent").contains("/nonexistent"));
        assert!(bad("/etc/hostname").contains("not a device"));
        assert!(bad("/dev/null:/dev/x:rwx").contains("rwx"));
        assert!(bad("/dev/null:dev/x").contains("dev/x"));
    }

    #[test]
    fn cgroup_rules_parse_as_docker_writes_them() {
        assert_eq!(cgroup_rule("c 10:229 rwm").expect("rule"), json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}));
        assert_eq!(cgroup_rule("b *:* r").expect("any"), json!({"allow": true, "type": "b", "access": "r"}));
        for bad in ["c 10 rwm", "x 1:1 r", "c 1:1 rwz", "c a:1 r", "c 1:1"] {
            assert!(cgroup_rule(bad).is_err(), "{bad}");
        }
    }
}
