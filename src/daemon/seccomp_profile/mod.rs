//! seccomp for containers, as Docker does it. Every container gets Docker's default profile
//! (moby's `profiles/seccomp`, the amd64 part of it) unless `HostConfig.SecurityOpt` says
//! `seccomp=unconfined` (no filter) or `seccomp=<profile JSON>` (the docker CLI reads the file
//! named by `--security-opt seccomp=FILE` and sends its content). Both profiles are in Docker's
//! format, whose rules may depend on the container's capabilities and on the host's
//! architecture and kernel; [`linux_seccomp`] settles those conditions, as dockerd does while
//! writing the spec, into the OCI `linux.seccomp` that the runtime installs. A custom profile
//! is checked when the container is created ([`parse`]), so a bad one fails `create`.

use serde_json::Value;

mod builtin;
mod format;

use builtin::default_profile;
use format::Host;
pub use format::Profile;

/// What `SecurityOpt`'s `seccomp=...` chose.
#[derive(Debug)]
pub enum Seccomp {
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// Docker's default profile (no option, `seccomp=builtin`, or an empty value: dockerd's
    /// reading of each).
    Builtin,
    /// A profile in Docker's format, already checked.
    Custom(Box<Profile>),
}

/// Why a seccomp profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not JSON, or not in Docker's profile format; the message names where.
    #[error("decoding the seccomp profile failed: {0}")]
    Decode(String),
    /// Well formed, but a value is wrong: where in the profile (`.syscalls[2].action`), and why.
    #[error("seccomp profile {at}: {reason}")]
    Invalid {
        /// The path in the profile, e.g. `.syscalls[2].action`.
        at: String,
        /// What is wrong there.
        reason: String,
    },
    /// The profile has rules for some kernel versions only, and the host's could not be read.
    #[error("seccomp profile: reading the kernel version: {0}")]
    KernelVersion(String),
}

/// Reads `SecurityOpt`'s value after `seccomp=`: `unconfined`, `builtin` (or empty), or a
/// profile in Docker's JSON format, which is checked here.
pub fn parse(value: &str) -> Result<Seccomp, ProfileError> {
    match value {
        "unconfined" => Ok(Seccomp::Unconfined),
        "builtin" | "" => Ok(Seccomp::Builtin),
        body => {
            let mut de = serde_json::Deserializer::from_str(body);
            let profile: Profile = serde_path_to_error::deserialize(&mut de).map_err(|e| ProfileError::Decode(e.to_string()))?;
            de.end().map_err(|e| ProfileError::Decode(e.to_string()))?;
            profile.check()?;
            Ok(Seccomp::Custom(Box::new(profile)))
        }
    }
}

/// The OCI `linux.seccomp` of a container whose capability bounding set is `caps` (`CAP_...`
/// names), or None for no filter.
pub fn linux_seccomp(choice: &Seccomp, caps: &[String]) -> Result<Option<Value>, ProfileError> {
    match choice {
        Seccomp::Unconfined => Ok(None),
        Seccomp::Builtin => default_profile().resolve(caps, &Host::current()),
        Seccomp::Custom(p) => p.resolve(caps, &Host::current()),
    }
}

#[cfg(test)]
mod tests {
    use super::builtin::ALWAYS;
    use super::format::{release_version, Host};
    use super::*;
    use serde_json::json;

    /// An amd64 host with a recent kernel.
    fn amd64() -> Host {
        Host { arch: Some(("amd64", "SCMP_ARCH_X86_64")), kernel: Ok((6, 1)) }
    }

    fn caps(extra: &[&str]) -> Vec<String> {
        crate::daemon::host_config::DEFAULT_CAPS.iter().chain(extra).map(|c| (*c).to_owned()).collect()
    }

    /// The built-in profile's `linux.seccomp` for a container with `caps` on `host`.
    fn builtin(caps: &[String], host: &Host) -> Value {
        default_profile().resolve(caps, host).expect("resolves").expect("a filter")
    }

    /// The rules of `profile` that name `call`.
    fn rules_for<'a>(profile: &'a Value, call: &str) -> Vec<&'a Value> {
        let names_it = |r: &&Value| r["names"].as_array().is_some_and(|n| n.iter().any(|n| n == call));
        profile["syscalls"].as_array().into_iter().flatten().filter(names_it).collect()
    }

    /// Whether `call` is allowed whatever its arguments.
    fn allowed(profile: &Value, call: &str) -> bool {
        rules_for(profile, call).iter().any(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
    }

    #[test]
    fn the_builtin_profile_refuses_with_eperm_what_it_does_not_list_for_the_three_x86_modes() {
        let p = builtin(&caps(&[]), &amd64());
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], libc::EPERM);
        assert_eq!(p["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
        for call in ["read", "write", "execve", "openat", "futex", "arch_prctl", "modify_ldt", "chroot", "ptrace", "capset", "setuid"] {
            assert!(allowed(&p, call), "{call} is allowed by default");
        }
        // Docker's default capabilities hold none of what these need, and keyctl and
        // kexec_load are on no list at all.
        for call in ["unshare", "mount", "umount2", "setns", "keyctl", "kexec_load", "reboot", "bpf", "init_module", "clock_settime", "acct"] {
            assert!(rules_for(&p, call).is_empty(), "{call} falls to the default (EPERM): {:?}", rules_for(&p, call));
        }
        crate::runtime::seccomp::check(&p).expect("the runtime accepts it");
        serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(p).expect("the runtime's types read it");
    }

    #[test]
    fn without_cap_sys_admin_clone_may_not_make_namespaces_and_clone3_is_enosys() {
        let p = builtin(&caps(&[]), &amd64());
        let clone = rules_for(&p, "clone");
        assert_eq!(clone.len(), 1, "{clone:?}");
        assert_eq!(clone[0]["args"], json!([{"index": 0, "value": 0x7e02_0000_u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]));
        assert_eq!(rules_for(&p, "clone3"), [&json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS})]);
        let sockets: Vec<&Value> = rules_for(&p, "socket").into_iter().map(|r| &r["args"][0]).collect();
        assert_eq!(
            sockets,
            [
                &json!({"index": 0, "value": 38, "valueTwo": 0, "op": "SCMP_CMP_LT"}),
                &json!({"index": 0, "value": 39, "valueTwo": 0, "op": "SCMP_CMP_EQ"}),
                &json!({"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_GT"}),
            ],
            "every family but AF_ALG (38) and AF_VSOCK (40)"
        );
        assert_eq!(rules_for(&p, "personality").len(), 5);
    }

    #[test]
    fn capabilities_the_container_holds_open_the_calls_they_govern() {
        let p = builtin(&caps(&["CAP_SYS_ADMIN"]), &amd64());
        for call in ["mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"] {
            assert!(allowed(&p, call), "{call} with CAP_SYS_ADMIN");
        }
        assert!(!rules_for(&p, "clone").iter().any(|r| r.get("args").is_some()), "no namespace-flag rule with CAP_SYS_ADMIN");
        assert!(!rules_for(&p, "clone3").iter().any(|r| r["action"] == "SCMP_ACT_ERRNO"));
        let p = builtin(&caps(&["CAP_SYS_TIME", "CAP_SYS_BOOT", "CAP_SYS_NICE"]), &amd64());
        for call in ["clock_settime", "settimeofday", "reboot", "mbind"] {
            assert!(allowed(&p, call), "{call}");
        }
        assert!(!allowed(&builtin(&[], &amd64()), "chroot"), "no CAP_SYS_CHROOT, no chroot");
    }

    #[test]
    fn kernel_and_architecture_conditions_follow_the_host() {
        let old = Host { kernel: Ok((4, 4)), ..amd64() };
        assert!(!allowed(&builtin(&caps(&[]), &old), "ptrace"), "ptrace could bypass seccomp before 4.8");
        let no_kernel = Host { kernel: Err("unreadable".into()), ..amd64() };
        assert!(matches!(default_profile().resolve(&caps(&[]), &no_kernel), Err(ProfileError::KernelVersion(_))));
        let arm = Host { arch: Some(("arm64", "SCMP_ARCH_AARCH64")), kernel: Ok((6, 1)) };
        let p = builtin(&caps(&[]), &arm);
        assert!(!allowed(&p, "arch_prctl") && !allowed(&p, "modify_ldt"));
        assert_eq!(p["architectures"], json!([]), "no archMap entry for arm64: the runtime's native one only");
        assert_eq!(release_version("6.18.44-fc-v1272"), Some((6, 18)));
        assert_eq!(release_version("5.10-rc1"), Some((5, 10)));
    }

    #[test]
    fn the_always_list_is_dockers_361_names_sorted_once() {
        assert_eq!(ALWAYS.len(), 361);
        assert!(ALWAYS.windows(2).all(|w| w[0] < w[1]), "sorted, no name twice");
    }

    /// A custom profile from the JSON of `v`.
    fn custom(v: Value) -> Result<Seccomp, ProfileError> {
        parse(&v.to_string())
    }

    #[test]
    fn a_custom_profile_in_dockers_format_becomes_the_oci_profile_for_the_container() {
        let Seccomp::Custom(p) = custom(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            // Entries for other hosts, as in Docker's own profiles, even ones libseccomp here
            // does not know (only the host's entry reaches the runtime).
            "archMap": [
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_LOONGARCH64", "subArchitectures": null}
            ],
            "syscalls": [
                {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "no directories", "includes": {}, "excludes": {}},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_FOWNER"]}},
                {"names": ["reboot"], "action": "SCMP_ACT_KILL", "includes": {"minKernel": "99.0"}}
            ]
        }))
        .expect("valid") else {
            panic!("not a custom profile")
        };
        let oci = p.resolve(&caps(&[]), &amd64()).expect("resolves").expect("a filter");
        assert_eq!(
            oci,
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
            }),
            "chmod is excluded (CAP_FOWNER held), reboot needs kernel 99.0"
        );
        let none: Vec<String> = Vec::new();
        assert_eq!(p.resolve(&none, &amd64()).expect("resolves").expect("a filter")["syscalls"].as_array().map(Vec::len), Some(2));
        assert!(matches!(custom(json!({})), Ok(Seccomp::Custom(p)) if p.resolve(&none, &amd64()).expect("resolves").is_none()));
        assert!(matches!(parse("unconfined"), Ok(Seccomp::Unconfined)));
        assert!(matches!(parse("builtin"), Ok(Seccomp::Builtin)));
        assert!(linux_seccomp(&Seccomp::Unconfined, &none).expect("unconfined").is_none());
    }

    #[test]
    fn a_bad_custom_profile_is_refused_naming_the_problem() {
        let refused = |body: &str, want: &str| {
            let e = parse(body).expect_err(body).to_string();
            assert!(e.contains(want), "{body}: {e:?} should contain {want:?}");
        };
        refused("{\"defaultAction\": ", "decoding the seccomp profile failed: defaultAction: EOF while parsing a value at line 1 column 18");
        refused("/etc/profile.json", "decoding the seccomp profile failed");
        refused(r#"{"defaultAction": "SCMP_ACT_ALLOW"} x"#, "trailing characters");
        refused(r#"{"defaultActoin": "SCMP_ACT_ALLOW"}"#, "unknown field `defaultActoin`");
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "errnoRet": "EPERM"}]}"#,
            "syscalls[0].errnoRet",
        );
        refused(r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#, r#".defaultAction: unknown action "SCMP_ACT_MAYBE""#);
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_SOMETIMES"}]}"#,
            r#".syscalls[0].action: unknown action "SCMP_ACT_SOMETIMES""#,
        );
        refused(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#, ".syscalls[0].names");
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "x", "names": ["y"], "action": "SCMP_ACT_ERRNO"}]}"#,
            "both name and names",
        );
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
            "both architectures and archMap",
        );
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_VAX"}]}"#,
            ".archMap[0].architecture: unknown architecture",
        );
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMN"]}}]}"#,
            r#".syscalls[0].includes.caps[0]: unknown capability "CAP_SYS_ADMN""#,
        );
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "4.8.1"}}]}"#,
            ".syscalls[0].excludes.minKernel",
        );
        refused(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOTIFY"}]}"#, "SCMP_ACT_NOTIFY");
        refused(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            ".syscalls[0].args[0].index",
        );
    }
}
