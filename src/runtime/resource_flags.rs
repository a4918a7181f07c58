//! runc update's command-line flags over a `linux.resources` document: `--resources` gives
//! the base, each flag then sets one field on top (runc's precedence).

use serde_json::{json, Value};

use super::RuntimeError;

/// The flags of `update`; None = not given.
#[derive(Debug, Default, Clone)]
pub struct ResourceFlags {
    /// `--memory` (bytes or k/m/g; -1 unlimited).
    pub memory: Option<String>,
    /// `--memory-swap`.
    pub memory_swap: Option<String>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<String>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<u16>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpu-quota`.
    pub cpu_quota: Option<i64>,
    /// `--cpu-period`.
    pub cpu_period: Option<u64>,
    /// `--cpu-rt-period`.
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime`.
    pub cpu_rt_runtime: Option<i64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
}

/// Parses `1048576`, `64k`, `64m`, `1g` (binary units, like runc's RAMInBytes); -1 stays -1.
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    crate::units::parse_ram_bytes(s).map_err(|e| e.to_string())
}

impl ResourceFlags {
    /// `base` (a `linux.resources` JSON object; `{}` when none was given) with the flags set
    /// on top, parsed as OCI LinuxResources (container `id` names errors).
    pub fn apply(&self, id: &str, mut base: Value) -> Result<oci_spec::runtime::LinuxResources, RuntimeError> {
        let bad = |reason: String| RuntimeError::InvalidArgument { id: id.into(), reason };
        let obj = base.as_object_mut().ok_or_else(|| bad("resources must be a JSON object".into()))?;
        let mut set = |section: &str, key: &str, v: Value| {
            let s = obj.entry(section).or_insert_with(|| json!({}));
            if let Some(o) = s.as_object_mut() {
                o.insert(key.into(), v);
            }
        };
        let bytes = |flag: &str, v: &str| parse_bytes(v).map_err(|e| bad(format!("--{flag} {v:?}: {e}")));
        if let Some(m) = &self.memory {
            set("memory", "limit", json!(bytes("memory", m)?));
        }
        if let Some(m) = &self.memory_swap {
            set("memory", "swap", json!(bytes("memory-swap", m)?));
        }
        if let Some(m) = &self.memory_reservation {
            set("memory", "reservation", json!(bytes("memory-reservation", m)?));
        }
        if let Some(w) = self.blkio_weight {
            set("blockIO", "weight", json!(w));
        }
        if let Some(n) = self.pids_limit {
            set("pids", "limit", json!(n));
        }
        if let Some(n) = self.cpu_shares {
            set("cpu", "shares", json!(n));
        }
        if let Some(n) = self.cpu_quota {
            set("cpu", "quota", json!(n));
        }
        if let Some(n) = self.cpu_period {
            set("cpu", "period", json!(n));
        }
        if let Some(n) = self.cpu_rt_period {
            set("cpu", "realtimePeriod", json!(n));
        }
        if let Some(n) = self.cpu_rt_runtime {
            set("cpu", "realtimeRuntime", json!(n));
        }
        if let Some(c) = &self.cpuset_cpus {
            set("cpu", "cpus", json!(c));
        }
        if let Some(c) = &self.cpuset_mems {
            set("cpu", "mems", json!(c));
        }
        serde_json::from_value(base).map_err(|e| bad(format!("invalid resources: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("2kb"), Ok(2048));
        assert_eq!(parse_bytes("-1"), Ok(-1));
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn flags_override_the_resources_file() {
        let base = json!({"memory": {"limit": 1, "swap": 5}, "pids": {"limit": 3}});
        let flags = ResourceFlags { memory: Some("64m".into()), cpuset_cpus: Some("0".into()), ..Default::default() };
        let r = flags.apply("c", base).expect("apply");
        let mem = (*r.memory()).expect("memory");
        assert_eq!((mem.limit(), mem.swap()), (Some(64 << 20), Some(5)));
        assert_eq!((*r.pids()).map(|p| p.limit()), Some(3));
        assert_eq!(r.cpu().clone().and_then(|c| c.cpus().clone()).as_deref(), Some("0"));
        let e = ResourceFlags { memory: Some("lots".into()), ..Default::default() }.apply("c", json!({})).expect_err("bad size");
        assert!(e.to_string().contains("--memory"), "{e}");
        assert!(ResourceFlags::default().apply("c", json!([])).is_err(), "not an object");
    }
}
