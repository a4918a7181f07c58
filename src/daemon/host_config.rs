//! `HostConfig` into the OCI spec, with Docker's rules and messages: capabilities
//! (`CapAdd`/`CapDrop`, `ALL`), `linux.resources` (memory, swap, CPU, cpuset, pids), rlimits
//! (`Ulimits`), `OomScoreAdj`, `SecurityOpt` (`no-new-privileges`, `seccomp`), `Sysctls` and
//! the numbers of `GroupAdd` (its names are resolved at start, in the container's /etc/group).
//! Everything else is checked at create, so a bad value fails `create`, never `start`.

use serde_json::{json, Map, Value};

use super::seccomp_profile::{self, Seccomp};
use super::DaemonError;
use crate::api::types::{HostConfig, Ulimit};

/// Capabilities Docker grants by default.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn bad(msg: String) -> DaemonError {
    DaemonError::BadRequest(msg)
}

/// `CAP_NET_ADMIN` for `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN`; an unknown name is refused.
fn cap_name(name: &str) -> Result<String, DaemonError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    let known = crate::runtime::capabilities::NAMES.iter().any(|n| format!("CAP_{n}") == full);
    if known {
        Ok(full)
    } else {
        Err(bad(format!("invalid CapAdd/CapDrop: unknown capability: {name:?}")))
    }
}

/// The process's capabilities: Docker's default set, `ALL` in CapAdd for every one, `ALL` in
/// CapDrop for none, then the named additions and removals.
pub fn capabilities(hc: &HostConfig) -> Result<Vec<String>, DaemonError> {
    let add = hc.cap_add.clone().unwrap_or_default();
    let drop = hc.cap_drop.clone().unwrap_or_default();
    let is_all = |n: &String| n.eq_ignore_ascii_case("ALL");
    // Names are checked even where privileged overrides them, so a typo is still an error.
    for name in add.iter().chain(&drop).filter(|n| !is_all(n)) {
        cap_name(name)?;
    }
    if hc.privileged {
        return Ok(crate::runtime::capabilities::in_bounding_set());
    }
    let mut caps: Vec<String> = if add.iter().any(is_all) {
        crate::runtime::capabilities::in_bounding_set()
    } else if drop.iter().any(is_all) {
        Vec::new()
    } else {
        DEFAULT_CAPS.iter().map(|c| (*c).to_owned()).collect()
    };
    for name in drop.iter().filter(|n| !is_all(n)) {
        let c = cap_name(name)?;
        caps.retain(|x| *x != c);
    }
    for name in add.iter().filter(|n| !is_all(n)) {
        let c = cap_name(name)?;
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

/// What `SecurityOpt` asks of the container's process.
#[derive(Debug)]
pub struct SecurityOptions {
    /// `no-new-privileges`: the process gets no_new_privs.
    pub no_new_privileges: bool,
    /// `seccomp=...`: which filter, Docker's default when not said.
    pub seccomp: Seccomp,
}

/// `SecurityOpt` read as dockerd reads it: `no-new-privileges[=bool]`, `seccomp=unconfined`,
/// `seccomp=builtin`, `seccomp=<profile JSON>` (`:` in place of `=` is Docker's deprecated
/// form; the last of each wins). Any other option is refused by name.
pub fn security_options(hc: &HostConfig) -> Result<SecurityOptions, DaemonError> {
    let mut out = SecurityOptions { no_new_privileges: false, seccomp: Seccomp::Builtin };
    for opt in hc.security_opt.iter().flatten() {
        // Docker's split: at the first '=' if there is one (a profile's JSON has ':'s), else
        // at the first ':'.
        let (key, value) = match opt.split_once('=').or_else(|| opt.split_once(':')) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None) => out.no_new_privileges = true,
            ("no-new-privileges", Some(v)) => {
                // Go's strconv.ParseBool, which dockerd uses.
                out.no_new_privileges = match v {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    _ => return Err(bad(format!("invalid --security-opt 2: {opt:?}"))),
                }
            }
            ("seccomp", Some(v)) => out.seccomp = seccomp_profile::parse(v)?,
            ("seccomp", None) => return Err(bad(format!("invalid --security-opt 1: {opt:?}"))),
            _ => return Err(bad(format!("HostConfig.SecurityOpt {opt:?}: berth does not implement it yet (only no-new-privileges and seccomp)"))),
        }
    }
    Ok(out)
}

/// The rlimit of Docker's ulimit name (`nofile` → `RLIMIT_NOFILE`).
fn rlimit_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "core" => "RLIMIT_CORE",
        "cpu" => "RLIMIT_CPU",
        "data" => "RLIMIT_DATA",
        "fsize" => "RLIMIT_FSIZE",
        "locks" => "RLIMIT_LOCKS",
        "memlock" => "RLIMIT_MEMLOCK",
        "msgqueue" => "RLIMIT_MSGQUEUE",
        "nice" => "RLIMIT_NICE",
        "nofile" => "RLIMIT_NOFILE",
        "nproc" => "RLIMIT_NPROC",
        "rss" => "RLIMIT_RSS",
        "rtprio" => "RLIMIT_RTPRIO",
        "rttime" => "RLIMIT_RTTIME",
        "sigpending" => "RLIMIT_SIGPENDING",
        "stack" => "RLIMIT_STACK",
        _ => return None,
    })
}

/// `process.rlimits` from `Ulimits`.
pub fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<Value>, DaemonError> {
    ulimits
        .iter()
        .map(|u| {
            let t = rlimit_type(&u.name).ok_or_else(|| bad(format!("invalid ulimit type: {}", u.name)))?;
            if u.soft > u.hard || u.soft < 0 {
                return Err(bad(format!("ulimit {}: soft limit {} is above the hard limit {} or negative", u.name, u.soft, u.hard)));
            }
            Ok(json!({ "type": t, "soft": u.soft, "hard": u.hard }))
        })
        .collect()
}

/// CFS period when `--cpus` sets the quota (Docker's).
const NANO_CPU_PERIOD: i64 = 100_000;

/// `linux.resources` of the container (the device rule list aside). `swap_supported`: the
/// host accounts swap (Docker's default of twice the memory limit applies only there).
pub fn resources(hc: &HostConfig, swap_supported: bool) -> Result<Map<String, Value>, DaemonError> {
    if hc.memory < 0 || (hc.memory > 0 && hc.memory < 6 * 1024 * 1024) {
        return Err(bad("Minimum memory limit allowed is 6MB".into()));
    }
    if hc.memory_swap > 0 && hc.memory == 0 {
        return Err(bad("You should always set the Memory limit when using Memoryswap limit".into()));
    }
    if hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return Err(bad("Minimum memoryswap limit should be larger than memory limit, see usage".into()));
    }
    if hc.memory > 0 && hc.memory_reservation > hc.memory {
        return Err(bad("Minimum memory limit can not be less than memory reservation limit, see usage".into()));
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| *s != -1)
        && !(0..=100).contains(&s)
    {
        return Err(bad(format!("Invalid value: {s}, valid memory swappiness range is 0-100")));
    }
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return Err(bad("Conflicting options: Nano CPUs and CPU Period cannot both be set".into()));
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return Err(bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into()));
    }
    let ncpu = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
    if hc.nano_cpus < 0 || (hc.nano_cpus > 0 && hc.nano_cpus < 10_000_000) || hc.nano_cpus > ncpu * 1_000_000_000 {
        return Err(bad(format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return Err(bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into()));
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return Err(bad("CPU cfs quota can not be less than 1ms (i.e. 1000)".into()));
    }
    if hc.cpu_shares < 0 {
        return Err(bad(format!("invalid CPU shares {}", hc.cpu_shares)));
    }
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return Err(bad(format!("Invalid value {}, range for oom score adj is [-1000, 1000]", hc.oom_score_adj)));
    }
    let mut r = Map::new();
    let mut memory = Map::new();
    if hc.memory > 0 {
        memory.insert("limit".into(), json!(hc.memory));
        let swap = match hc.memory_swap {
            0 => 2 * hc.memory,
            s => s,
        };
        if swap_supported {
            memory.insert("swap".into(), json!(swap));
        }
    }
    if hc.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| *s >= 0) {
        memory.insert("swappiness".into(), json!(s));
    }
    if hc.oom_kill_disable == Some(true) {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    if !memory.is_empty() {
        r.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if hc.nano_cpus > 0 {
        cpu.insert("period".into(), json!(NANO_CPU_PERIOD));
        cpu.insert("quota".into(), json!(hc.nano_cpus * NANO_CPU_PERIOD / 1_000_000_000));
    }
    if hc.cpu_period > 0 {
        cpu.insert("period".into(), json!(hc.cpu_period));
    }
    if hc.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(hc.cpu_quota));
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = hc.pids_limit.filter(|p| *p != 0) {
        r.insert("pids".into(), json!({ "limit": p }));
    }
    Ok(r)
}

/// Whether sysctl `key` belongs to a namespace every berth container has its own of (IPC,
/// network), so setting it cannot change the host: Docker's list, as the runtime checks it.
fn namespaced_sysctl(key: &str) -> bool {
    key.starts_with("kernel.msg") || key == "kernel.sem" || key.starts_with("kernel.shm") || key.starts_with("fs.mqueue.") || key.starts_with("net.")
}

/// `linux.sysctl` from `Sysctls`. Only namespaced sysctls are allowed, with names of dotted
/// words (no `/`, which the runtime would read as a path) and a value.
pub fn sysctls(hc: &HostConfig) -> Result<Map<String, Value>, DaemonError> {
    let mut out = Map::new();
    for (key, value) in hc.sysctls.iter().flatten() {
        let well_formed = key.split('.').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        if !well_formed {
            return Err(bad(format!("invalid HostConfig.Sysctls: sysctl {key:?} is not a name of dotted words (net.ipv4.ip_forward)")));
        }
        if !namespaced_sysctl(key) {
            return Err(bad(format!(
                "invalid HostConfig.Sysctls: sysctl {key:?} is not allowed: it is not in a namespace of the container's own, so it would change the host (allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)"
            )));
        }
        if value.is_empty() {
            return Err(bad(format!("invalid HostConfig.Sysctls: sysctl {key:?} has no value")));
        }
        out.insert(key.clone(), Value::String(value.clone()));
    }
    Ok(out)
}

/// Largest group id `GroupAdd` takes (runc's, as Docker's).
const MAX_GID: u64 = (1 << 31) - 1;

/// Checks `GroupAdd`: each entry a group name (resolved at start) or a gid in range.
pub fn group_add(hc: &HostConfig) -> Result<(), DaemonError> {
    for g in hc.group_add.iter().flatten() {
        if g.is_empty() || g.contains(':') || g.contains('\n') {
            return Err(bad(format!("invalid HostConfig.GroupAdd: {g:?} is not a group name or number")));
        }
        let numeric = g.bytes().all(|b| b.is_ascii_digit());
        if numeric && g.parse::<u64>().map_or(true, |n| n > MAX_GID) {
            return Err(bad(format!("invalid HostConfig.GroupAdd: group id {g} is out of range (0 to {MAX_GID})")));
        }
    }
    Ok(())
}

/// Checks everything of `hc` this module turns into the spec (at create).
pub fn check(hc: &HostConfig) -> Result<(), DaemonError> {
    sysctls(hc)?;
    group_add(hc)?;
    capabilities(hc)?;
    security_options(hc)?;
    rlimits(hc.ulimits.as_deref().unwrap_or_default())?;
    resources(hc, true).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_dockers_add_and_drop_rules() {
        let hc = |add: &[&str], drop: &[&str]| HostConfig {
            cap_add: Some(add.iter().map(|s| s.to_string()).collect()),
            cap_drop: Some(drop.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(capabilities(&hc(&[], &[])).expect("default").len(), DEFAULT_CAPS.len());
        assert!(capabilities(&hc(&[], &["ALL"])).expect("drop all").is_empty());
        assert_eq!(capabilities(&hc(&["net_admin"], &["ALL"])).expect("only one"), ["CAP_NET_ADMIN"]);
        let c = capabilities(&hc(&["CAP_SYS_ADMIN"], &["chown", "NET_RAW"])).expect("add and drop");
        assert!(c.contains(&"CAP_SYS_ADMIN".to_owned()) && !c.contains(&"CAP_CHOWN".to_owned()) && !c.contains(&"CAP_NET_RAW".to_owned()));
        // ALL and privileged: what this process may hand on.
        let host = crate::runtime::capabilities::in_bounding_set();
        assert_eq!(capabilities(&hc(&["ALL"], &[])).expect("all"), host);
        assert_eq!(capabilities(&HostConfig { privileged: true, ..hc(&[], &["ALL"]) }).expect("privileged"), host, "privileged ignores drops");
        assert!(capabilities(&hc(&["FLY"], &[])).expect_err("unknown").to_string().contains("FLY"));
    }

    #[test]
    fn resources_take_dockers_defaults_and_refuse_what_docker_refuses() {
        let hc = HostConfig { memory: 64 << 20, nano_cpus: 500_000_000, cpuset_cpus: "0".into(), ..Default::default() };
        let r = resources(&hc, true).expect("resources");
        assert_eq!(r["memory"], json!({"limit": 64 << 20, "swap": 128 << 20}), "swap defaults to twice the memory");
        assert_eq!(r["cpu"], json!({"period": 100_000, "quota": 50_000, "cpus": "0"}));
        assert!(resources(&hc, false).expect("no swap accounting")["memory"].get("swap").is_none());
        let refused = |hc: HostConfig, what: &str| {
            let e = resources(&hc, true).expect_err(what).to_string();
            assert!(e.contains(what), "{e}");
        };
        refused(HostConfig { memory_swap: 1 << 30, ..Default::default() }, "Memoryswap");
        refused(HostConfig { memory: 64 << 20, memory_swap: 32 << 20, ..Default::default() }, "memoryswap limit should be larger");
        refused(HostConfig { nano_cpus: 1, cpu_quota: 50_000, ..Default::default() }, "Nano CPUs and CPU Quota");
        refused(HostConfig { memory_swappiness: Some(101), ..Default::default() }, "swappiness");
        refused(HostConfig { oom_score_adj: 2000, ..Default::default() }, "oom score adj");
        refused(HostConfig { cpu_period: 10, ..Default::default() }, "CPU cfs period");
    }

    #[test]
    fn only_namespaced_sysctls_and_valid_groups_are_taken() {
        let hc = |k: &str, v: &str| HostConfig { sysctls: Some([(k.to_owned(), v.to_owned())].into()), ..Default::default() };
        assert_eq!(sysctls(&hc("net.ipv4.ip_forward", "1")).expect("net"), json!({"net.ipv4.ip_forward": "1"}).as_object().cloned().expect("map"));
        for ok in ["kernel.msgmax", "kernel.sem", "kernel.shmmax", "fs.mqueue.msg_max", "net.core.somaxconn"] {
            assert!(sysctls(&hc(ok, "10")).is_ok(), "{ok}");
        }
        for refused in ["kernel.hostname", "kernel.core_pattern", "vm.swappiness", "net/ipv4/ip_forward", "net..x", "fs.file-max"] {
            let e = sysctls(&hc(refused, "1")).expect_err(refused).to_string();
            assert!(e.contains(refused) && e.contains("HostConfig.Sysctls"), "{e}");
        }
        assert!(sysctls(&hc("net.ipv4.ip_forward", "")).is_err(), "no value");
        let groups = |g: &[&str]| group_add(&HostConfig { group_add: Some(g.iter().map(|s| s.to_string()).collect()), ..Default::default() });
        assert!(groups(&["audio", "1234", "0"]).is_ok());
        for refused in ["", "a:b", "2147483648", "99999999999999999999"] {
            assert!(groups(&[refused]).expect_err(refused).to_string().contains("HostConfig.GroupAdd"), "{refused}");
        }
    }

    #[test]
    fn ulimits_and_security_options_are_read_as_docker_writes_them() {
        let r = rlimits(&[Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }]).expect("nofile");
        assert_eq!(r, [json!({"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048})]);
        assert!(rlimits(&[Ulimit { name: "bogus".into(), soft: 1, hard: 1 }]).is_err());
        assert!(rlimits(&[Ulimit { name: "nproc".into(), soft: 5, hard: 1 }]).is_err());
        let opt = |o: &[&str]| HostConfig { security_opt: Some(o.iter().map(|s| s.to_string()).collect()), ..Default::default() };
        let nnp = |o: &[&str]| security_options(&opt(o)).map(|s| s.no_new_privileges);
        assert!(nnp(&["no-new-privileges"]).expect("bare"));
        assert!(nnp(&["no-new-privileges:true"]).expect("colon"));
        assert!(!nnp(&["no-new-privileges=false"]).expect("false"));
        assert!(!nnp(&["no-new-privileges", "no-new-privileges=0"]).expect("the last wins"));
        assert!(nnp(&["no-new-privileges=maybe"]).is_err());
        let seccomp = |o: &[&str]| security_options(&opt(o)).map(|s| s.seccomp);
        assert!(matches!(seccomp(&[]), Ok(Seccomp::Builtin)), "Docker's default profile unless told otherwise");
        assert!(matches!(seccomp(&["seccomp=unconfined"]), Ok(Seccomp::Unconfined)));
        assert!(matches!(seccomp(&["seccomp:unconfined"]), Ok(Seccomp::Unconfined)));
        assert!(matches!(seccomp(&["seccomp=unconfined", "seccomp=builtin"]), Ok(Seccomp::Builtin)));
        let profile = r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#;
        assert!(matches!(seccomp(&[profile]), Ok(Seccomp::Custom(_))));
        let e = seccomp(&[r#"seccomp={"defaultAction":"SCMP_ACT_NEVER"}"#]).expect_err("unknown action");
        assert!(matches!(e, DaemonError::Seccomp(_)) && e.to_string().contains("SCMP_ACT_NEVER"), "{e}");
        assert_eq!(e.kind(), crate::daemon::error::ErrorKind::InvalidParameter);
        for refused in ["apparmor=unconfined", "label=disable", "systempaths=unconfined", "seccomp", "writable-cgroups"] {
            let e = seccomp(&[refused]).expect_err(refused).to_string();
            assert!(e.contains(refused), "{e}");
        }
    }
}
