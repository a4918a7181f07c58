//! Docker's seccomp profile format (moby's `profiles/seccomp` types) and how a profile is
//! checked and settled, for one container and host, into the OCI `linux.seccomp`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::ProfileError;

/// A profile in Docker's format (moby's `profiles/seccomp` types): the OCI fields, plus an
/// architecture map and rules that apply only under conditions. Unknown fields are refused,
/// so that a misspelt one is not silently without effect.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    pub(super) default_action: Option<String>,
    pub(super) default_errno_ret: Option<u32>,
    pub(super) architectures: Option<Vec<String>>,
    pub(super) arch_map: Option<Vec<ArchEntry>>,
    pub(super) flags: Option<Vec<String>>,
    pub(super) listener_path: Option<String>,
    pub(super) listener_metadata: Option<String>,
    pub(super) syscalls: Option<Vec<Rule>>,
}

/// An `archMap` entry: the architectures a filter for `architecture` also covers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ArchEntry {
    pub(super) architecture: String,
    pub(super) sub_architectures: Option<Vec<String>>,
}

/// A rule: the OCI syscall rule, `name` (the older form of a one-name `names`), a comment,
/// and the conditions under which it is part of the filter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Rule {
    pub(super) names: Option<Vec<String>>,
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) action: String,
    pub(super) errno_ret: Option<u32>,
    pub(super) args: Option<Vec<Arg>>,
    /// Accepted as Docker accepts it; nothing reads it.
    #[allow(dead_code)]
    pub(super) comment: Option<String>,
    pub(super) includes: Option<Filter>,
    pub(super) excludes: Option<Filter>,
}

/// A condition on one argument. Absent numbers are 0, as in Docker's (Go) reading.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Arg {
    #[serde(default)]
    pub(super) index: u32,
    #[serde(default)]
    pub(super) value: u64,
    #[serde(default)]
    pub(super) value_two: u64,
    #[serde(default)]
    pub(super) op: String,
}

/// When a rule applies: the container holds every capability listed, the host is one of the
/// architectures (Docker's names: `amd64`, `x86`, `arm64`, ...), its kernel is at least
/// `minKernel` ("<kernel>.<major>"). As an exclusion, any one of them that holds drops the
/// rule.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Filter {
    pub(super) caps: Option<Vec<String>>,
    pub(super) arches: Option<Vec<String>>,
    pub(super) min_kernel: Option<String>,
}

/// What a rule's conditions are judged against.
pub(super) struct Host {
    /// The architecture in Docker's name (`amd64`) and libseccomp's (`SCMP_ARCH_X86_64`).
    pub(super) arch: Option<(&'static str, &'static str)>,
    /// `<kernel>.<major>` of the running kernel, read when a rule asks.
    pub(super) kernel: Result<(u8, u8), String>,
}

impl Host {
    pub(super) fn current() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => Some(("amd64", "SCMP_ARCH_X86_64")),
            "x86" => Some(("x86", "SCMP_ARCH_X86")),
            "aarch64" => Some(("arm64", "SCMP_ARCH_AARCH64")),
            "arm" => Some(("arm", "SCMP_ARCH_ARM")),
            "riscv64" => Some(("riscv64", "SCMP_ARCH_RISCV64")),
            "s390x" => Some(("s390x", "SCMP_ARCH_S390X")),
            "powerpc64" if cfg!(target_endian = "little") => Some(("ppc64le", "SCMP_ARCH_PPC64LE")),
            "powerpc64" => Some(("ppc64", "SCMP_ARCH_PPC64")),
            "loongarch64" => Some(("loong64", "SCMP_ARCH_LOONGARCH64")),
            _ => None,
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| format!("/proc/sys/kernel/osrelease: {e}"))
            .and_then(|r| release_version(r.trim()).ok_or_else(|| format!("unrecognised kernel release {:?}", r.trim())));
        Host { arch, kernel }
    }
}

/// `<kernel>.<major>` of a kernel release ("6.1.0-18-amd64" is 6.1): Docker compares those
/// two and ignores the rest.
pub(super) fn release_version(release: &str) -> Option<(u8, u8)> {
    let mut parts = release.split(['.', '-']);
    let kernel = parts.next()?.parse().ok()?;
    let major = parts.next()?.parse().ok()?;
    Some((kernel, major))
}

/// A `minKernel` value: exactly "<kernel>.<major>", each below 256, not "0.0" (Docker's rules).
fn min_kernel(v: &str) -> Result<(u8, u8), String> {
    let wrong = || format!("invalid kernel version {v:?}, expected \"<kernel>.<major>\"");
    let (k, m) = v.split_once('.').ok_or_else(wrong)?;
    let (k, m): (u8, u8) = (k.parse().map_err(|_| wrong())?, m.parse().map_err(|_| wrong())?);
    if (k, m) == (0, 0) {
        return Err(wrong());
    }
    Ok((k, m))
}

/// Architectures a filter's `arches` may name (the names Docker gives the host's).
const FILTER_ARCHES: &[&str] = &[
    "x86",
    "amd64",
    "x32",
    "arm",
    "arm64",
    "loong64",
    "loongarch64",
    "mips",
    "mipsle",
    "mipsel",
    "mips64",
    "mips64n32",
    "mipsel64",
    "mips3l64n32",
    "mipsel64n32",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv64",
    "s390",
    "s390x",
];

impl Rule {
    /// The rule's names, from `names` or the older `name`.
    fn names(&self) -> Vec<String> {
        match (&self.names, &self.name) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) => vec![n.clone()],
            (None, None) => Vec::new(),
        }
    }

    /// The rule as the runtime reads it (OCI's `LinuxSyscall`).
    fn to_oci(&self) -> Value {
        let mut r = json!({ "names": self.names(), "action": self.action });
        if let Some(e) = self.errno_ret {
            r["errnoRet"] = json!(e);
        }
        if let Some(args) = &self.args {
            let args: Vec<Value> = args.iter().map(|a| json!({ "index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op })).collect();
            r["args"] = json!(args);
        }
        r
    }

    /// Whether the rule is part of the filter of a container with `caps` on `host`, by
    /// dockerd's reading: an exclusion drops it when any of its conditions holds, an
    /// inclusion keeps it only when all of them hold.
    fn applies(&self, caps: &[String], host: &Host) -> Result<bool, ProfileError> {
        let arch = host.arch.map(|(docker, _)| docker);
        let kernel_at_least = |v: &str| -> Result<bool, ProfileError> {
            let want = min_kernel(v).map_err(|reason| ProfileError::Invalid { at: "minKernel".into(), reason })?;
            let have = host.kernel.clone().map_err(ProfileError::KernelVersion)?;
            Ok(have >= want)
        };
        if let Some(ex) = &self.excludes {
            if ex.arches.iter().flatten().any(|a| Some(a.as_str()) == arch) {
                return Ok(false);
            }
            if ex.caps.iter().flatten().any(|c| caps.contains(c)) {
                return Ok(false);
            }
            if let Some(v) = ex.min_kernel.as_deref().filter(|v| !v.is_empty())
                && kernel_at_least(v)?
            {
                return Ok(false);
            }
        }
        if let Some(inc) = &self.includes {
            if let Some(arches) = inc.arches.as_ref().filter(|a| !a.is_empty())
                && !arches.iter().any(|a| Some(a.as_str()) == arch)
            {
                return Ok(false);
            }
            if !inc.caps.iter().flatten().all(|c| caps.contains(c)) {
                return Ok(false);
            }
            if let Some(v) = inc.min_kernel.as_deref().filter(|v| !v.is_empty())
                && !kernel_at_least(v)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Profile {
    /// Docker reads a profile with neither a default action nor rules as no filter at all.
    fn is_empty(&self) -> bool {
        self.default_action.as_deref().unwrap_or_default().is_empty() && self.syscalls.as_deref().unwrap_or_default().is_empty()
    }

    /// Everything that can be wrong with the profile whatever the container and host: the
    /// conditions are well formed, and every rule (as if its conditions held) passes the
    /// runtime's own check of `linux.seccomp`.
    pub(super) fn check(&self) -> Result<(), ProfileError> {
        let invalid = |at: String, reason: String| Err(ProfileError::Invalid { at, reason });
        if self.is_empty() {
            return Ok(());
        }
        // Any architecture OCI names: only the host's entry reaches the runtime (which checks
        // it again), and Docker's own profiles map architectures no libseccomp here knows.
        let known_arch = |a: &str| serde_json::from_value::<oci_spec::runtime::Arch>(json!(a)).is_ok();
        if !self.architectures.as_deref().unwrap_or_default().is_empty() && !self.arch_map.as_deref().unwrap_or_default().is_empty() {
            return invalid(".archMap".into(), "both architectures and archMap are given: use one".into());
        }
        if self.listener_path.as_deref().is_some_and(|p| !p.is_empty()) || self.listener_metadata.as_deref().is_some_and(|m| !m.is_empty()) {
            return invalid(".listenerPath".into(), "berth does not implement seccomp notify (a listener for SCMP_ACT_NOTIFY)".into());
        }
        for (i, entry) in self.arch_map.iter().flatten().enumerate() {
            if !known_arch(&entry.architecture) {
                return invalid(format!(".archMap[{i}].architecture"), format!("unknown architecture {:?}", entry.architecture));
            }
            for (j, sub) in entry.sub_architectures.iter().flatten().enumerate() {
                if !known_arch(sub) {
                    return invalid(format!(".archMap[{i}].subArchitectures[{j}]"), format!("unknown architecture {sub:?}"));
                }
            }
        }
        let rules = self.syscalls.as_deref().unwrap_or_default();
        for (i, rule) in rules.iter().enumerate() {
            if rule.name.is_some() && rule.names.is_some() {
                return invalid(format!(".syscalls[{i}]"), "both name and names are given: use one".into());
            }
            if rule.action == "SCMP_ACT_NOTIFY" {
                return invalid(format!(".syscalls[{i}].action"), "berth does not implement SCMP_ACT_NOTIFY (it needs a listener)".into());
            }
            for (which, filter) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
                let Some(f) = filter else { continue };
                for (j, cap) in f.caps.iter().flatten().enumerate() {
                    if !crate::runtime::capabilities::NAMES.iter().any(|n| cap.strip_prefix("CAP_") == Some(n)) {
                        return invalid(format!(".syscalls[{i}].{which}.caps[{j}]"), format!("unknown capability {cap:?}"));
                    }
                }
                for (j, arch) in f.arches.iter().flatten().enumerate() {
                    if !FILTER_ARCHES.contains(&arch.as_str()) {
                        return invalid(format!(".syscalls[{i}].{which}.arches[{j}]"), format!("unknown architecture {arch:?}"));
                    }
                }
                if let Some(v) = f.min_kernel.as_deref().filter(|v| !v.is_empty()) {
                    min_kernel(v).map(drop).or_else(|reason| invalid(format!(".syscalls[{i}].{which}.minKernel"), reason))?;
                }
            }
        }
        if self.default_action.as_deref() == Some("SCMP_ACT_NOTIFY") {
            return invalid(".defaultAction".into(), "berth does not implement SCMP_ACT_NOTIFY (it needs a listener)".into());
        }
        let every_rule = self.oci(self.architectures.clone().unwrap_or_default(), rules.iter().map(Rule::to_oci).collect());
        crate::runtime::seccomp::check(&every_rule).or_else(|e| invalid(e.at, e.reason))?;
        serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(every_rule).map(drop).or_else(|e| invalid(String::new(), e.to_string()))
    }

    /// `linux.seccomp` with `architectures` and `syscalls`.
    fn oci(&self, architectures: Vec<String>, syscalls: Vec<Value>) -> Value {
        let mut out = json!({
            "defaultAction": self.default_action.as_deref().unwrap_or_default(),
            "architectures": architectures,
            "syscalls": syscalls,
        });
        if let Some(e) = self.default_errno_ret {
            out["defaultErrnoRet"] = json!(e);
        }
        if let Some(f) = &self.flags {
            out["flags"] = json!(f);
        }
        out
    }

    /// The OCI profile for a container with `caps` on `host`: the architectures of the
    /// host's `archMap` entry (or `architectures`), the rules whose conditions hold.
    pub(super) fn resolve(&self, caps: &[String], host: &Host) -> Result<Option<Value>, ProfileError> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut architectures = self.architectures.clone().unwrap_or_default();
        if let Some((_, native)) = host.arch
            && let Some(entry) = self.arch_map.iter().flatten().find(|e| e.architecture == native)
        {
            architectures.push(entry.architecture.clone());
            architectures.extend(entry.sub_architectures.iter().flatten().cloned());
        }
        let mut syscalls = Vec::new();
        for rule in self.syscalls.iter().flatten() {
            if rule.applies(caps, host)? {
                syscalls.push(rule.to_oci());
            }
        }
        Ok(Some(self.oci(architectures, syscalls)))
    }
}
