//! config.json validation before anything is created: every refusal names the offending
//! field (`linux.namespaces[2].type`, ...), so a user can fix the bundle from the message
//! alone. Runs on the raw JSON, because a typed parse would only say "unknown variant".

use std::collections::HashSet;

use serde_json::Value;

use super::capabilities::NAMES as CAP_NAMES;
use super::seccomp;

const NAMESPACES: &[&str] = &["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];
const RLIMITS: &[&str] = &[
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// Checks `spec` (config.json as JSON); the error is "<field>: <what is wrong>".
pub fn check(spec: &Value) -> Result<(), String> {
    let s = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    if let Some(p) = spec.get("process") {
        match p.get("args").and_then(Value::as_array) {
            Some(a) if !a.is_empty() => {}
            _ => return Err("process.args: must not be empty".into()),
        }
        if let Some(cwd) = p.get("cwd").and_then(Value::as_str)
            && !cwd.starts_with('/')
        {
            return Err(format!("process.cwd: {cwd:?} is not an absolute path"));
        }
        if let Some(caps) = p.get("capabilities").and_then(Value::as_object) {
            for (set, list) in caps {
                for (i, c) in list.as_array().into_iter().flatten().enumerate() {
                    let name = s(c).to_ascii_uppercase();
                    if !CAP_NAMES.contains(&name.strip_prefix("CAP_").unwrap_or("")) {
                        return Err(format!("process.capabilities.{set}[{i}]: unknown capability {}", s(c)));
                    }
                }
            }
        }
        for (i, rl) in p.get("rlimits").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let typ = rl.get("type").map(s).unwrap_or_default();
            if !RLIMITS.contains(&typ.as_str()) {
                return Err(format!("process.rlimits[{i}].type: invalid rlimit type {typ:?}"));
            }
            let (soft, hard) = (rl.get("soft").and_then(Value::as_u64), rl.get("hard").and_then(Value::as_u64));
            if let (Some(soft), Some(hard)) = (soft, hard)
                && soft > hard
            {
                return Err(format!("process.rlimits[{i}]: soft limit {soft} is above the hard limit {hard}"));
            }
        }
    }
    for (i, m) in spec.get("mounts").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let dest = m.get("destination").map(s).unwrap_or_default();
        if !dest.starts_with('/') {
            return Err(format!("mounts[{i}].destination: {dest:?} is not an absolute path"));
        }
    }
    let Some(linux) = spec.get("linux") else { return Ok(()) };
    let mut seen = HashSet::new();
    for (i, ns) in linux.get("namespaces").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let typ = ns.get("type").map(s).unwrap_or_default();
        if !NAMESPACES.contains(&typ.as_str()) {
            return Err(format!("linux.namespaces[{i}].type: unknown namespace type {typ:?}"));
        }
        if !seen.insert(typ.clone()) {
            return Err(format!("linux.namespaces[{i}].type: duplicate namespace type {typ:?}"));
        }
    }
    for key in ["uidMappings", "gidMappings"] {
        if linux.get(key).and_then(Value::as_array).is_some_and(|a| !a.is_empty()) && !seen.contains("user") {
            return Err(format!("linux.{key}: mappings need a user namespace in linux.namespaces"));
        }
    }
    if let Some(sysctl) = linux.get("sysctl").and_then(Value::as_object) {
        for key in sysctl.keys() {
            let ns = if key.starts_with("net.") {
                "network"
            } else if key.starts_with("kernel.shm") || key.starts_with("kernel.msg") || key == "kernel.sem" || key.starts_with("fs.mqueue.") {
                "ipc"
            } else if key == "kernel.hostname" || key == "kernel.domainname" {
                "uts"
            } else {
                return Err(format!("linux.sysctl: {key:?} is not namespaced and would change the host"));
            };
            if !seen.contains(ns) {
                return Err(format!("linux.sysctl: {key:?} needs a {ns} namespace in linux.namespaces"));
            }
        }
    }
    if let Some(sc) = linux.get("seccomp") {
        seccomp::check(sc).map_err(|e| format!("linux.seccomp{e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn each_refusal_names_the_field() {
        let base = json!({"process": {"args": ["sh"], "cwd": "/"}, "linux": {}});
        let cases = [
            (json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}}), "linux.namespaces[1].type"),
            (json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}}), "duplicate namespace type"),
            (json!({"process": {"args": ["sh"], "capabilities": {"bounding": ["CAP_NOPE"]}}}), "process.capabilities.bounding[0]"),
            (json!({"process": {"args": ["sh"], "rlimits": [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]}}), "process.rlimits[0].type"),
            (json!({"mounts": [{"destination": "rel/path"}]}), "mounts[0].destination"),
            (json!({"process": {"args": []}}), "process.args"),
        ];
        assert!(super::check(&base).is_ok());
        for (spec, want) in cases {
            let err = super::check(&spec).expect_err(want);
            assert!(err.contains(want), "{err:?} should name {want}");
        }
    }
}
