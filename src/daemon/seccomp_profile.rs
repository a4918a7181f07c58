//! seccomp for containers, as Docker does it. Every container gets Docker's default profile
//! (moby's `profiles/seccomp`, the amd64 part of it) unless `HostConfig.SecurityOpt` says
//! `seccomp=unconfined` (no filter) or `seccomp=<profile JSON>` (the docker CLI reads the file
//! named by `--security-opt seccomp=FILE` and sends its content). Both profiles are in Docker's
//! format, whose rules may depend on the container's capabilities and on the host's
//! architecture and kernel; [`linux_seccomp`] settles those conditions, as dockerd does while
//! writing the spec, into the OCI `linux.seccomp` that the runtime installs. A custom profile
//! is checked when the container is created ([`parse`]), so a bad one fails `create`.

use serde::Deserialize;
use serde_json::{json, Value};

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

/// A profile in Docker's format (moby's `profiles/seccomp` types): the OCI fields, plus an
/// architecture map and rules that apply only under conditions. Unknown fields are refused,
/// so that a misspelt one is not silently without effect.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    default_action: Option<String>,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<ArchEntry>>,
    flags: Option<Vec<String>>,
    listener_path: Option<String>,
    listener_metadata: Option<String>,
    syscalls: Option<Vec<Rule>>,
}

/// An `archMap` entry: the architectures a filter for `architecture` also covers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchEntry {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

/// A rule: the OCI syscall rule, `name` (the older form of a one-name `names`), a comment,
/// and the conditions under which it is part of the filter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule {
    names: Option<Vec<String>>,
    name: Option<String>,
    #[serde(default)]
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<Arg>>,
    /// Accepted as Docker accepts it; nothing reads it.
    #[allow(dead_code)]
    comment: Option<String>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

/// A condition on one argument. Absent numbers are 0, as in Docker's (Go) reading.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    value: u64,
    #[serde(default)]
    value_two: u64,
    #[serde(default)]
    op: String,
}

/// When a rule applies: the container holds every capability listed, the host is one of the
/// architectures (Docker's names: `amd64`, `x86`, `arm64`, ...), its kernel is at least
/// `minKernel` ("<kernel>.<major>"). As an exclusion, any one of them that holds drops the
/// rule.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Filter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// What a rule's conditions are judged against.
struct Host {
    /// The architecture in Docker's name (`amd64`) and libseccomp's (`SCMP_ARCH_X86_64`).
    arch: Option<(&'static str, &'static str)>,
    /// `<kernel>.<major>` of the running kernel, read when a rule asks.
    kernel: Result<(u8, u8), String>,
}

impl Host {
    fn current() -> Self {
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
fn release_version(release: &str) -> Option<(u8, u8)> {
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
    fn check(&self) -> Result<(), ProfileError> {
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
    fn resolve(&self, caps: &[String], host: &Host) -> Result<Option<Value>, ProfileError> {
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

/// How a group of the built-in profile answers its calls.
#[derive(Clone, Copy)]
enum Act {
    Allow,
    Errno(u32),
}

/// When a group of the built-in profile is part of a container's filter.
#[derive(Clone, Copy)]
enum When {
    Always,
    /// The container holds this capability: the calls it governs are the container's to make.
    Cap(&'static str),
    /// The container lacks this capability: a narrower rule stands in for the allowance the
    /// capability would give.
    NoCap(&'static str),
    /// The host's kernel is at least this version (older ones lacked a protection that makes
    /// the calls safe).
    Kernel(&'static str),
    /// The host is one of these architectures (Docker's names).
    Arch(&'static [&'static str]),
}

/// A condition on one argument: index, operator, value, valueTwo.
type ArgTest = (u32, &'static str, u64, u64);

/// Calls that share an answer, an argument condition and a condition on the container.
struct Group {
    names: &'static [&'static str],
    act: Act,
    arg: Option<ArgTest>,
    when: When,
}

impl Group {
    const fn new(names: &'static [&'static str], when: When) -> Self {
        Group { names, act: Act::Allow, arg: None, when }
    }

    const fn with_arg(name: &'static [&'static str], arg: ArgTest) -> Self {
        Group { names: name, act: Act::Allow, arg: Some(arg), when: When::Always }
    }
}

/// Calls every container may make (Docker's list; names that only some architectures or
/// newer kernels and libseccomp have are listed too: the runtime skips those libseccomp does
/// not know, and an architecture without the call never sees it).
const ALWAYS: &[&str] = &[
    "_llseek",
    "_newselect",
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "ioctl",
    "ioprio_get",
    "ioprio_set",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_hwprobe",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// The namespace flags of clone(2): creating a namespace needs CAP_SYS_ADMIN.
const NEW_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// The address families socket(2) refuses: AF_ALG (the kernel's crypto API) and AF_VSOCK
/// (host/guest sockets) are outside what a container needs and a history of kernel bugs.
/// They are two apart; the one family between them (AF_NFC) stays allowed.
const AF_ALG: u64 = libc::AF_ALG as u64;
const AF_VSOCK: u64 = libc::AF_VSOCK as u64;
const _: () = assert!(AF_VSOCK == AF_ALG + 2);

/// Docker's default profile, group by group (ALWAYS first). Only the amd64 (x86_64, x86,
/// x32) part of moby's architecture-specific rules is carried: berth ships for x86_64 only.
const GROUPS: &[Group] = &[
    // ptrace could be used to get around seccomp before 4.8.
    Group::new(&["process_vm_readv", "process_vm_writev", "ptrace"], When::Kernel("4.8")),
    // socket(2) of any family but AF_ALG and AF_VSOCK. On i386, socket also goes through
    // socketcall(2), which the filter cannot inspect; it stays allowed, as under Docker.
    Group::with_arg(&["socket"], (0, "SCMP_CMP_LT", AF_ALG, 0)),
    Group::with_arg(&["socket"], (0, "SCMP_CMP_EQ", AF_ALG + 1, 0)),
    Group::with_arg(&["socket"], (0, "SCMP_CMP_GT", AF_VSOCK, 0)),
    // personality(2) only for the harmless personas: PER_LINUX, PER_LINUX32, either with
    // UNAME26, and 0xffffffff (which only reads the current one).
    Group::with_arg(&["personality"], (0, "SCMP_CMP_EQ", 0x0, 0)),
    Group::with_arg(&["personality"], (0, "SCMP_CMP_EQ", 0x0008, 0)),
    Group::with_arg(&["personality"], (0, "SCMP_CMP_EQ", 0x20000, 0)),
    Group::with_arg(&["personality"], (0, "SCMP_CMP_EQ", 0x20008, 0)),
    Group::with_arg(&["personality"], (0, "SCMP_CMP_EQ", 0xffff_ffff, 0)),
    Group::new(&["arch_prctl"], When::Arch(&["amd64", "x32"])),
    Group::new(&["modify_ldt"], When::Arch(&["amd64", "x32", "x86"])),
    Group::new(&["open_by_handle_at"], When::Cap("CAP_DAC_READ_SEARCH")),
    Group::new(
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "lsm_set_self_attr",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
        When::Cap("CAP_SYS_ADMIN"),
    ),
    // Without CAP_SYS_ADMIN: clone(2) for threads and processes, not for new namespaces
    // (amd64's argument order: flags first).
    Group { names: &["clone"], act: Act::Allow, arg: Some((0, "SCMP_CMP_MASKED_EQ", NEW_NAMESPACE_FLAGS, 0)), when: When::NoCap("CAP_SYS_ADMIN") },
    // clone3 passes its flags in memory, out of the filter's sight: refused with ENOSYS so
    // that libcs fall back to clone(2), which the rule above can judge.
    Group { names: &["clone3"], act: Act::Errno(libc::ENOSYS as u32), arg: None, when: When::NoCap("CAP_SYS_ADMIN") },
    Group::new(&["reboot"], When::Cap("CAP_SYS_BOOT")),
    Group::new(&["chroot"], When::Cap("CAP_SYS_CHROOT")),
    Group::new(&["delete_module", "init_module", "finit_module"], When::Cap("CAP_SYS_MODULE")),
    Group::new(&["acct"], When::Cap("CAP_SYS_PACCT")),
    Group::new(&["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"], When::Cap("CAP_SYS_PTRACE")),
    Group::new(&["iopl", "ioperm"], When::Cap("CAP_SYS_RAWIO")),
    Group::new(&["settimeofday", "stime", "clock_settime", "clock_settime64"], When::Cap("CAP_SYS_TIME")),
    Group::new(&["vhangup"], When::Cap("CAP_SYS_TTY_CONFIG")),
    Group::new(&["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], When::Cap("CAP_SYS_NICE")),
    Group::new(&["syslog"], When::Cap("CAP_SYSLOG")),
    Group::new(&["bpf"], When::Cap("CAP_BPF")),
    Group::new(&["perf_event_open"], When::Cap("CAP_PERFMON")),
];

/// Docker's default profile in Docker's format: refuse with EPERM what is not listed, for
/// x86_64 with its x86 and x32 compatibility modes.
fn default_profile() -> Profile {
    let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let always = Group::new(ALWAYS, When::Always);
    let syscalls = std::iter::once(&always)
        .chain(GROUPS)
        .map(|g| {
            let (action, errno_ret) = match g.act {
                Act::Allow => ("SCMP_ACT_ALLOW", None),
                Act::Errno(e) => ("SCMP_ACT_ERRNO", Some(e)),
            };
            let filter = |caps: Option<&str>, arches: Option<&[&str]>, min_kernel: Option<&str>| Filter {
                caps: caps.map(|c| vec![c.to_owned()]),
                arches: arches.map(owned),
                min_kernel: min_kernel.map(str::to_owned),
            };
            let (includes, excludes) = match g.when {
                When::Always => (None, None),
                When::Cap(c) => (Some(filter(Some(c), None, None)), None),
                When::NoCap(c) => (None, Some(filter(Some(c), None, None))),
                When::Kernel(k) => (Some(filter(None, None, Some(k))), None),
                When::Arch(a) => (Some(filter(None, Some(a), None)), None),
            };
            let args = g.arg.map(|(index, op, value, value_two)| vec![Arg { index, value, value_two, op: op.to_owned() }]);
            Rule { names: Some(owned(g.names)), action: action.to_owned(), errno_ret, args, includes, excludes, ..Default::default() }
        })
        .collect();
    Profile {
        default_action: Some("SCMP_ACT_ERRNO".into()),
        default_errno_ret: Some(libc::EPERM as u32),
        arch_map: Some(vec![ArchEntry {
            architecture: "SCMP_ARCH_X86_64".into(),
            sub_architectures: Some(vec!["SCMP_ARCH_X86".into(), "SCMP_ARCH_X32".into()]),
        }]),
        syscalls: Some(syscalls),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
