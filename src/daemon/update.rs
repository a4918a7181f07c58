//! `POST /containers/{id}/update` (`docker update`): new cgroup limits and restart policy for
//! a container. The limits are checked with Docker's rules and messages, applied live to a
//! running (or paused) container through the backend (containerd's Task.Update, `runc
//! update`), and stored in its HostConfig, so inspect shows them and a later start uses them.
//! The restart policy is read from the stored HostConfig at each exit, so storing it is what
//! makes the restart manager follow it. Fields of the body berth cannot update are refused by
//! name, never dropped.

use serde_json::{json, Map, Value};

use super::container::Status;
use super::{Daemon, DaemonError};
use crate::api::create_fields;
use crate::api::types::HostConfig;

/// The fields of Docker's `UpdateConfig` berth updates (a `Resources` subset and the
/// restart policy); every other `HostConfig` field with a value is refused.
const UPDATABLE: &[&str] = &[
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "NanoCpus",
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "PidsLimit",
    "RestartPolicy",
];

/// Docker's smallest memory limit and reservation (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// CFS period `NanoCpus` uses (Docker's).
const NANO_CPU_PERIOD: i64 = 100_000;

/// The answer of an update.
#[derive(Debug, serde::Serialize)]
pub struct UpdateResponse {
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// The fields of `body` with a value that berth cannot update, by name.
pub fn refused_fields(body: &Value) -> Vec<String> {
    let Some(obj) = body.as_object() else { return Vec::new() };
    let known = create_fields::HOST_CONFIG.iter().map(|(f, _)| *f);
    known.filter(|f| !UPDATABLE.contains(f)).filter(|f| obj.get(*f).is_some_and(|v| !create_fields::is_empty(v))).map(str::to_owned).collect()
}

/// Parses a cpuset list (`0-2,4`) into its CPU (or node) numbers; None when malformed.
fn cpuset_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 4096 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Checks a cpuset against what the host has online (`/sys/devices/system/{cpu,node}/online`),
/// with Docker's messages.
fn check_cpuset(value: &str, what: &str, online_file: &str, unavailable: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let asked = cpuset_list(value).ok_or_else(|| format!("Invalid value {value} for cpuset {what}"))?;
    let online = std::fs::read_to_string(online_file).unwrap_or_default();
    if let Some(avail) = cpuset_list(online.trim())
        && asked.iter().any(|c| !avail.contains(c))
    {
        return Err(format!("{unavailable} - requested {value}, available: {}", online.trim()));
    }
    Ok(())
}

/// Docker's checks of the update request on its own (moby's verifyPlatformContainerResources
/// with `update`), with its messages.
pub fn check_request(u: &HostConfig) -> Result<(), String> {
    if u.memory != 0 && u.memory < MIN_MEMORY {
        return Err("Minimum memory limit allowed is 6MB".into());
    }
    if u.memory > 0 && u.memory_swap > 0 && u.memory_swap < u.memory {
        return Err("Minimum memoryswap limit should be larger than memory limit, see usage".into());
    }
    if u.memory_reservation != 0 && u.memory_reservation < MIN_MEMORY {
        return Err("Minimum memory reservation allowed is 6MB".into());
    }
    if u.memory > 0 && u.memory_reservation > 0 && u.memory < u.memory_reservation {
        return Err("Minimum memory limit can not be less than memory reservation limit, see usage".into());
    }
    if u.nano_cpus > 0 && u.cpu_period > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
    }
    if u.nano_cpus > 0 && u.cpu_quota > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
    }
    let ncpu = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
    if u.nano_cpus < 0 || (u.nano_cpus > 0 && u.nano_cpus < 10_000_000) || u.nano_cpus > ncpu * 1_000_000_000 {
        return Err(format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"));
    }
    if u.cpu_period != 0 && !(1000..=1_000_000).contains(&u.cpu_period) {
        return Err("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into());
    }
    if u.cpu_quota > 0 && u.cpu_quota < 1000 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
    }
    if u.cpu_shares < 0 {
        return Err(format!("invalid CPU shares {}", u.cpu_shares));
    }
    if u.blkio_weight > 0 && !(10..=1000).contains(&u.blkio_weight) {
        return Err("Range of blkio weight is from 10 to 1000".into());
    }
    check_cpuset(&u.cpuset_cpus, "cpus", "/sys/devices/system/cpu/online", "Requested CPUs are not available")?;
    check_cpuset(&u.cpuset_mems, "mems", "/sys/devices/system/node/online", "Requested memory nodes are not available")?;
    if !u.restart_policy.name.is_empty() {
        super::restart::Policy::parse(&u.restart_policy)?;
    }
    Ok(())
}

/// `stored` with the update `u` merged in, as Docker's UpdateContainer does (zero values
/// leave a setting as it is); Err(conflict message) when the update contradicts what is set.
pub fn merge(stored: &HostConfig, u: &HostConfig) -> Result<HostConfig, String> {
    if u.nano_cpus > 0 && stored.cpu_period > 0 {
        return Err("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set".into());
    }
    if u.nano_cpus > 0 && stored.cpu_quota > 0 {
        return Err("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set".into());
    }
    if u.cpu_period > 0 && stored.nano_cpus > 0 {
        return Err("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set".into());
    }
    if u.cpu_quota > 0 && stored.nano_cpus > 0 {
        return Err("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set".into());
    }
    // The memory+swap limit in force: Docker's default of twice the memory when none was given.
    let swap_now = match (stored.memory_swap, stored.memory) {
        (0, m) if m > 0 => 2 * m,
        (s, _) => s,
    };
    if u.memory != 0 && swap_now > 0 && u.memory > swap_now && u.memory_swap == 0 {
        return Err("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into());
    }
    if !u.restart_policy.name.is_empty() && stored.auto_remove && !matches!(u.restart_policy.name.as_str(), "no") {
        return Err("Restart policy cannot be updated because AutoRemove is enabled for the container".into());
    }
    let mut m = stored.clone();
    let set = |dst: &mut i64, v: i64| {
        if v != 0 {
            *dst = v;
        }
    };
    set(&mut m.memory, u.memory);
    if u.memory != 0 && u.memory_swap == 0 && stored.memory_swap == 0 && stored.memory > 0 {
        // The default swap stays what it was in force, not twice the new memory.
        m.memory_swap = swap_now;
    }
    set(&mut m.memory_swap, u.memory_swap);
    set(&mut m.memory_reservation, u.memory_reservation);
    set(&mut m.cpu_shares, u.cpu_shares);
    set(&mut m.nano_cpus, u.nano_cpus);
    set(&mut m.cpu_period, u.cpu_period);
    set(&mut m.cpu_quota, u.cpu_quota);
    if u.blkio_weight != 0 {
        m.blkio_weight = u.blkio_weight;
    }
    if !u.cpuset_cpus.is_empty() {
        m.cpuset_cpus = u.cpuset_cpus.clone();
    }
    if !u.cpuset_mems.is_empty() {
        m.cpuset_mems = u.cpuset_mems.clone();
    }
    if let Some(p) = u.pids_limit {
        // Zero or less lifts the limit.
        m.pids_limit = (p > 0).then_some(p);
    }
    if !u.restart_policy.name.is_empty() {
        m.restart_policy = u.restart_policy.clone();
    }
    Ok(m)
}

/// The `linux.resources` the update `u` changes (only what it sets, as Docker sends the
/// runtime); `support` says what the host's cgroups can apply (swap, block I/O weight).
pub fn resources(u: &HostConfig, support: &crate::runtime::cgroups::support::Support) -> Result<Map<String, Value>, String> {
    let mut r = Map::new();
    let mut memory = Map::new();
    if u.memory != 0 {
        memory.insert("limit".into(), json!(u.memory));
    }
    if u.memory_swap != 0 {
        if !support.swap {
            return Err("MemorySwap: this host's kernel does not account swap, so a memory+swap limit cannot be applied (Docker would discard it; berth refuses)".into());
        }
        memory.insert("swap".into(), json!(u.memory_swap));
    }
    if u.memory_reservation != 0 {
        memory.insert("reservation".into(), json!(u.memory_reservation));
    }
    if !memory.is_empty() {
        r.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    if u.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(u.cpu_shares));
    }
    if u.nano_cpus > 0 {
        cpu.insert("period".into(), json!(NANO_CPU_PERIOD));
        cpu.insert("quota".into(), json!(u.nano_cpus * NANO_CPU_PERIOD / 1_000_000_000));
    }
    if u.cpu_period > 0 {
        cpu.insert("period".into(), json!(u.cpu_period));
    }
    if u.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(u.cpu_quota));
    }
    if !u.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(u.cpuset_cpus));
    }
    if !u.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(u.cpuset_mems));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    let weight_only = HostConfig { blkio_weight: u.blkio_weight, ..Default::default() };
    if let Some(b) = super::blkio::block_io(&weight_only, support)? {
        r.insert("blockIO".into(), b);
    }
    if let Some(p) = u.pids_limit {
        r.insert("pids".into(), json!({ "limit": if p > 0 { p } else { -1 } }));
    }
    Ok(r)
}

impl Daemon {
    /// `POST /containers/{id}/update` with the `UpdateConfig` JSON `body`.
    pub async fn update_container(&self, name_or_id: &str, body: &Value) -> Result<UpdateResponse, DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        if !body.is_object() {
            return Err(DaemonError::BadRequest("invalid JSON in request body: an UpdateConfig object is expected".into()));
        }
        let refused = refused_fields(body);
        if !refused.is_empty() {
            return Err(DaemonError::BadRequest(format!(
                "berth cannot update {} of a container (it updates {})",
                refused.join(", "),
                UPDATABLE.join(", ")
            )));
        }
        let u: HostConfig =
            serde_json::from_value(body.clone()).map_err(|e| DaemonError::BadRequest(format!("invalid JSON in request body: {e}")))?;
        check_request(&u).map_err(DaemonError::BadRequest)?;
        let support = crate::runtime::cgroups::support::support();
        let res = resources(&u, &support).map_err(DaemonError::BadRequest)?;
        let cannot = |msg: String| format!("Cannot update container {id}: {msg}");
        let _g = self.ops.lock().await;
        let c = self.containers.get(&id)?;
        if c.state.status == Status::Removing {
            return Err(DaemonError::Conflict(cannot("container is marked for removal and cannot be \"update\"".into())));
        }
        let merged = merge(&c.host_config, &u).map_err(|m| DaemonError::Conflict(cannot(m)))?;
        // The whole result must be one create would take (e.g. a reservation above the limit).
        super::host_config::resources(&merged, support.swap)?;
        // Live first: a limit the kernel refuses leaves the container and its record as they were.
        if c.state.status == Status::Running && !c.state.restarting && !res.is_empty() {
            self.backend.update(&id, &Value::Object(res)).await.map_err(|source| DaemonError::Update { id: id.clone(), source })?;
        }
        self.containers.update(&id, |c| c.host_config = merged)?;
        self.container_event_of(&id, "update", &[]);
        Ok(UpdateResponse { warnings: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_berth_cannot_update_are_named_and_empty_ones_pass() {
        let body = json!({ "Memory": 1, "KernelMemory": 5, "DeviceCgroupRules": ["c 1:3 r"], "CpuRealtimeRuntime": 0, "Ulimits": null, "Bogus": 3 });
        assert_eq!(refused_fields(&body), vec!["DeviceCgroupRules".to_owned(), "KernelMemory".to_owned()]);
    }

    #[test]
    fn dockers_checks_and_merge_conflicts_have_dockers_messages() {
        let u = |f: fn(&mut HostConfig)| {
            let mut h = HostConfig::default();
            f(&mut h);
            h
        };
        assert_eq!(check_request(&u(|h| h.memory = 4 << 20)).unwrap_err(), "Minimum memory limit allowed is 6MB");
        assert!(check_request(&u(|h| {
            h.memory = 64 << 20;
            h.memory_swap = 32 << 20
        }))
        .unwrap_err()
        .starts_with("Minimum memoryswap limit should be larger"));
        assert!(check_request(&u(|h| {
            h.nano_cpus = 1_000_000_000;
            h.cpu_quota = 5000
        }))
        .unwrap_err()
        .contains("Nano CPUs and CPU Quota cannot both be set"));
        let stored = u(|h| h.nano_cpus = 1_000_000_000);
        assert!(merge(&stored, &u(|h| h.cpu_quota = 5000)).unwrap_err().contains("CPU Quota cannot be updated as NanoCPUs"));
        let limited = u(|h| h.memory = 64 << 20);
        assert!(merge(&limited, &u(|h| h.memory = 256 << 20)).unwrap_err().starts_with("Memory limit should be smaller"));
        let m = merge(&limited, &u(|h| h.pids_limit = Some(20))).unwrap();
        assert_eq!((m.memory, m.pids_limit), (64 << 20, Some(20)));
        assert_eq!(merge(&m, &u(|h| h.pids_limit = Some(-1))).unwrap().pids_limit, None);
    }

    #[test]
    fn cpusets_are_parsed_as_lists_and_ranges() {
        assert_eq!(cpuset_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(cpuset_list("a"), None);
        assert_eq!(cpuset_list("3-1"), None);
    }
}
