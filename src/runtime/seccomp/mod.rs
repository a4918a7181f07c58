//! seccomp: installs an OCI profile (linux.seccomp) through libseccomp, as runc, crun and
//! youki do. libseccomp gives every architecture the profile lists its own copy of the rules
//! (a syscall name becomes that architecture's number: `mkdir` is 83 through `syscall` and
//! 39 through `int 0x80`), and a call from an architecture the filter does not hold (an
//! i386 call when only SCMP_ARCH_X86_64 is listed) gets the bad-architecture action, which is
//! kept at libseccomp's default, SCMP_ACT_KILL (runc leaves it there too), never the allow
//! path. Syscall names libseccomp does not know are skipped, as runc does.

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall};
use serde_json::Value;

/// Whether seccomp filters are installed.
pub const ENABLED: bool = true;
/// Supported actions (OCI names).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
/// Supported argument operators.
pub const OPERATORS: &[&str] = &["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"];
/// Architectures a profile may list.
pub const ARCHS: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_RISCV64",
];
/// Filter flags a profile may list.
const FLAGS: &[&str] = &["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"];

/// Linux system calls take at most six arguments.
const MAX_ARGS: usize = 6;

/// Past this many syscall names libseccomp is asked for a binary tree instead of a linear
/// list of comparisons (runc's threshold: libseccomp <= 2.5.4 mishandles a tree with no
/// rules, and a short list is as fast).
const TREE_AFTER: usize = 32;

/// A linux.seccomp that [`check`] refuses: where in the profile, and why.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct InvalidProfile {
    /// The sub-path from linux.seccomp, e.g. `.syscalls[2].action`.
    pub at: String,
    /// What is wrong there.
    pub reason: String,
}

/// Why a profile could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile asks for something this runtime does not do.
    #[error("{0}")]
    Unsupported(String),
    /// libseccomp refused a step of building or loading the filter.
    #[error("{what}: {source}")]
    Libseccomp { what: String, source: libseccomp::error::SeccompError },
}

/// `map_err` helper: a libseccomp error with what was being done.
fn ctx(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let what = what.into();
    move |source| SeccompError::Libseccomp { what, source }
}

/// Validates linux.seccomp as JSON; errors name the sub-path (".syscalls[2].action: ...").
pub fn check(sc: &Value) -> Result<(), InvalidProfile> {
    let bad = |at: String, reason: String| Err(InvalidProfile { at, reason });
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let action_ok = |a: &str| ACTIONS.contains(&a) || a == "SCMP_ACT_NOTIFY";
    let def = s(sc.get("defaultAction"));
    if !action_ok(&def) {
        return bad(".defaultAction".into(), format!("unknown action {def:?}"));
    }
    for (i, a) in sc.get("architectures").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if !a.as_str().is_some_and(|a| ARCHS.contains(&a)) {
            return bad(format!(".architectures[{i}]"), format!("unknown architecture {a}"));
        }
    }
    for (i, f) in sc.get("flags").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if !f.as_str().is_some_and(|f| FLAGS.contains(&f)) {
            return bad(format!(".flags[{i}]"), format!("unknown flag {f}"));
        }
    }
    for (i, r) in sc.get("syscalls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if !r.get("names").and_then(Value::as_array).is_some_and(|n| !n.is_empty() && n.iter().all(Value::is_string)) {
            return bad(format!(".syscalls[{i}].names"), "must be a non-empty list of syscall names".into());
        }
        let a = s(r.get("action"));
        if !action_ok(&a) {
            return bad(format!(".syscalls[{i}].action"), format!("unknown action {a:?}"));
        }
        for (j, arg) in r.get("args").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let idx = arg.get("index").and_then(Value::as_u64);
            if idx.is_none_or(|x| x >= MAX_ARGS as u64) {
                return bad(format!(".syscalls[{i}].args[{j}].index"), "must be 0..5".into());
            }
            if arg.get("value").and_then(Value::as_u64).is_none() {
                return bad(format!(".syscalls[{i}].args[{j}].value"), "must be an unsigned integer".into());
            }
            let op = s(arg.get("op"));
            if !OPERATORS.contains(&op.as_str()) {
                return bad(format!(".syscalls[{i}].args[{j}].op"), format!("unknown operator {op:?}"));
            }
        }
    }
    Ok(())
}

/// libseccomp's action for an OCI action; `ret` is errnoRet (EPERM when absent, as runc).
fn action_of(action: LinuxSeccompAction, ret: Option<u32>) -> Result<ScmpAction, SeccompError> {
    use LinuxSeccompAction as A;
    // The kernel keeps the low 16 bits of an action's data (SECCOMP_RET_DATA).
    let data = ret.unwrap_or(libc::EPERM as u32) as u16;
    Ok(match action {
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActErrno => ScmpAction::Errno(i32::from(data)),
        // SCMP_ACT_KILL is the thread-only kill, as in libseccomp and runc.
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActTrace => ScmpAction::Trace(data),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActNotify => return Err(SeccompError::Unsupported("SCMP_ACT_NOTIFY needs a listener socket (not supported)".into())),
    })
}

/// libseccomp's token for an OCI architecture.
fn arch_of(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The rule's argument conditions as libseccomp rules: one rule with every condition (they
/// must all hold) or, when two conditions test the same argument (libseccomp allows one
/// per argument in a rule), one rule per condition, so that any one of them matches: runc's
/// reading of such a profile.
fn condition_sets(rule: &LinuxSyscall) -> Vec<Vec<ScmpArgCompare>> {
    let args = rule.args().as_deref().unwrap_or_default();
    let conds: Vec<ScmpArgCompare> = args
        .iter()
        .map(|a| {
            let op = match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
                LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                // OCI's MASKED_EQ: `value` is the mask, `valueTwo` what the masked argument
                // must equal.
                LinuxSeccompOperator::ScmpCmpMaskedEq => {
                    return ScmpArgCompare::new(a.index() as u32, ScmpCompareOp::MaskedEqual(a.value()), a.value_two().unwrap_or(0));
                }
            };
            ScmpArgCompare::new(a.index() as u32, op, a.value())
        })
        .collect();
    let mut per_index = [0usize; MAX_ARGS];
    for a in args {
        if let Some(n) = per_index.get_mut(a.index()) {
            *n += 1;
        }
    }
    if per_index.iter().any(|&n| n > 1) {
        conds.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conds]
    }
}

/// Builds libseccomp's filter for `profile` (not loaded).
fn build(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
    let default = action_of(profile.default_action(), profile.default_errno_ret())?;
    let rules = profile.syscalls().as_deref().unwrap_or_default();
    // Every action is checked before any is used: a NOTIFY rule is refused even when none of
    // its names exist here.
    let actions = rules.iter().map(|r| action_of(r.action(), r.errno_ret())).collect::<Result<Vec<_>, _>>()?;
    let mut filter = ScmpFilterContext::new(default).map_err(ctx("creating the filter"))?;
    // The container's no_new_privs is set (or not) by the caller from process.noNewPrivileges;
    // libseccomp would otherwise set it while loading.
    filter.set_ctl_nnp(false).map_err(ctx("leaving no_new_privs to the runtime"))?;
    // Stated, not inherited: a call through an architecture the filter does not hold is
    // killed (libseccomp's default and runc's), never given the default action.
    filter.set_act_badarch(ScmpAction::KillThread).map_err(ctx("setting the bad-architecture action"))?;
    // The native architecture is always in the filter (as with runc); the listed ones join it.
    for arch in profile.architectures().iter().flatten() {
        let token = arch_of(*arch);
        if !filter.is_arch_present(token).map_err(ctx(format!("architecture {arch}")))? {
            filter.add_arch(token).map_err(ctx(format!("adding architecture {arch}")))?;
        }
    }
    for flag in profile.flags().iter().flatten() {
        match flag {
            // TSYNC: every thread of the process gets the filter (the container process is
            // single-threaded here, but the flag is honoured).
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => filter.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => filter.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => filter.set_ctl_ssb(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => return Err(SeccompError::Unsupported(format!("unknown flag {flag}"))),
        }
        .map_err(ctx(format!("flag {flag}")))?;
    }
    let mut names = 0;
    for (i, (rule, action)) in rules.iter().zip(actions).enumerate() {
        // libseccomp refuses a rule whose action is the default one; it changes nothing.
        if action == default {
            continue;
        }
        let conditions = condition_sets(rule);
        for name in rule.names() {
            // A name no architecture has: skipped (an older libseccomp, or a typo), like runc.
            // A name only some listed architectures have resolves to a pseudo-number that
            // libseccomp turns into each architecture's own number, or skips there.
            let Ok(nr) = ScmpSyscall::from_name(name) else { continue };
            names += 1;
            for conds in &conditions {
                filter.add_rule_conditional(action, nr, conds).map_err(ctx(format!("syscalls[{i}] {name}")))?;
            }
        }
    }
    if names > TREE_AFTER {
        filter.set_ctl_optimize(2).map_err(ctx("asking for a binary tree"))?;
    }
    Ok(filter)
}

/// Installs `profile` on the calling thread (needs no_new_privs or CAP_SYS_ADMIN).
pub fn apply(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    build(profile)?.load().map_err(ctx("loading the filter"))
}

#[cfg(test)]
mod tests;
