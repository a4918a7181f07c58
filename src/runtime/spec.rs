//! Loading config.json (oci-spec) and the default spec `berth-runtime spec` writes.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::error::RuntimeError;

/// Loads and validates `<bundle>/config.json` (see [`super::validate`]).
pub fn load(id: &str, bundle: &Path) -> Result<Spec, RuntimeError> {
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).map_err(|e| RuntimeError::io(id, "read", &path, e))?;
    let raw: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| RuntimeError::InvalidSpec { id: id.into(), reason: format!("{}: {e}", path.display()) })?;
    super::validate::check(&raw).map_err(|reason| RuntimeError::InvalidSpec { id: id.into(), reason })?;
    serde_json::from_value(raw).map_err(|e| RuntimeError::InvalidSpec { id: id.into(), reason: format!("{}: {e}", path.display()) })
}

/// Absolute, canonical rootfs path (root.path is relative to the bundle when not absolute).
pub fn rootfs(id: &str, bundle: &Path, spec: &Spec) -> Result<PathBuf, RuntimeError> {
    let root = spec.root().as_ref().ok_or_else(|| RuntimeError::InvalidSpec { id: id.into(), reason: "no root".into() })?;
    let p = bundle.join(root.path());
    let p = std::fs::canonicalize(&p).map_err(|e| RuntimeError::io(id, "rootfs", &p, e))?;
    if !p.is_dir() {
        return Err(RuntimeError::InvalidSpec { id: id.into(), reason: format!("rootfs {} is not a directory", p.display()) });
    }
    Ok(p)
}

/// The default config.json of `berth-runtime spec`: runc's default, without a terminal (so it
/// runs under any stdio) and without the cgroup mount.
pub const DEFAULT_SPEC: &str = r#"{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": false,
		"user": { "uid": 0, "gid": 0 },
		"args": [ "sh" ],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
		},
		"rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
		"noNewPrivileges": true
	},
	"root": { "path": "rootfs", "readonly": true },
	"hostname": "berth",
	"mounts": [
		{ "destination": "/proc", "type": "proc", "source": "proc" },
		{ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
		  "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
		{ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
		  "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
		{ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
		  "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
		{ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
		  "options": [ "nosuid", "noexec", "nodev" ] },
		{ "destination": "/sys", "type": "sysfs", "source": "sysfs",
		  "options": [ "nosuid", "noexec", "nodev", "ro" ] }
	],
	"linux": {
		"namespaces": [
			{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
		],
		"maskedPaths": [
			"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
		],
		"readonlyPaths": [ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" ]
	}
}
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn default_spec_parses() {
        let s: oci_spec::runtime::Spec = serde_json::from_str(super::DEFAULT_SPEC).expect("valid spec");
        assert_eq!(s.hostname().as_deref(), Some("berth"));
    }
}
