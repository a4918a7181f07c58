//! `berth update`: new resource limits and restart policy for containers (`docker update`'s
//! flags), sent as an UpdateConfig holding only what was asked.

use serde_json::{json, Map, Value};

use super::container_path;
use crate::client::error::{ClientError, Result};
use crate::client::http::EngineClient;

/// What `berth update` was asked: each limit a flag set.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    pub cpuset_mems: Option<String>,
    /// Memory limit
    pub memory: Option<i64>,
    /// Memory soft limit
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    pub restart: Option<crate::api::types::RestartPolicy>,
    pub containers: Vec<String>,
}

/// `--memory 128m` as the docker CLI reads it (binary units).
pub fn parse_bytes(s: &str) -> std::result::Result<i64, String> {
    crate::units::parse_ram_bytes(s).map_err(|e| format!("invalid argument {s:?}: {e}"))
}

/// `--memory-swap`: a size, or -1 for unlimited.
pub fn parse_swap(s: &str) -> std::result::Result<i64, String> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    parse_bytes(s)
}

/// `--cpus 1.5` as NanoCpus (the docker CLI's NanoCPUs: a decimal, nine digits at most).
pub fn parse_cpus(s: &str) -> std::result::Result<i64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("invalid argument {s:?}: failed to parse {s:?} as a rational number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("invalid argument {s:?}: value is negative"));
    }
    let nanos = (v * 1e9).round();
    if nanos > i64::MAX as f64 {
        return Err(format!("invalid argument {s:?}: value is too precise or too large"));
    }
    Ok(nanos as i64)
}

/// The UpdateConfig body of `a`: only the fields a flag set.
pub fn body(a: &UpdateOptions) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    };
    put("BlkioWeight", a.blkio_weight.map(|v| json!(v)));
    put("CpuPeriod", a.cpu_period.map(|v| json!(v)));
    put("CpuQuota", a.cpu_quota.map(|v| json!(v)));
    put("CpuShares", a.cpu_shares.map(|v| json!(v)));
    put("NanoCpus", a.cpus.map(|v| json!(v)));
    put("CpusetCpus", a.cpuset_cpus.as_ref().map(|v| json!(v)));
    put("CpusetMems", a.cpuset_mems.as_ref().map(|v| json!(v)));
    put("Memory", a.memory.map(|v| json!(v)));
    put("MemoryReservation", a.memory_reservation.map(|v| json!(v)));
    put("MemorySwap", a.memory_swap.map(|v| json!(v)));
    put("PidsLimit", a.pids_limit.map(|v| json!(v)));
    put("RestartPolicy", a.restart.as_ref().map(|r| json!({ "Name": r.name, "MaximumRetryCount": r.maximum_retry_count })));
    Value::Object(m)
}

/// `berth update [OPTIONS] CONTAINER...`: prints each container updated, the daemon's
/// error for each that was not; 1 if any failed.
pub async fn update(client: &EngineClient, a: &UpdateOptions) -> Result<u8> {
    let body = body(a);
    if body.as_object().is_some_and(|m| m.is_empty()) {
        return Err(ClientError::Invalid("you must provide one or more flags when using this command".into()));
    }
    let mut code = 0;
    for name in &a.containers {
        let r: Result<Value> = client.post_json(&container_path(name, "/update"), &body).await;
        match r {
            Ok(v) => {
                for w in v["Warnings"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    eprintln!("{w}");
                }
                println!("{name}");
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flags_given_are_sent() {
        let a = UpdateOptions { memory: Some(128 << 20), pids_limit: Some(20), cpus: parse_cpus("1.5").ok(), ..Default::default() };
        assert_eq!(body(&a), json!({ "Memory": 134217728, "PidsLimit": 20, "NanoCpus": 1_500_000_000i64 }));
        assert!(parse_cpus("x").is_err());
        assert_eq!(parse_swap("-1"), Ok(-1));
    }
}
