//! seccomp: compiles an OCI profile (linux.seccomp) to a classic-BPF filter and installs it,
//! without libseccomp. The filter checks the architecture, then tries each rule in order
//! (syscall number, then every argument condition, all 64-bit), and falls back to
//! defaultAction. Syscall names this architecture does not have are skipped, like runc does.
//! Calls from another ABI (i386, x32) get defaultAction: listing SCMP_ARCH_X86 in a profile
//! does not allow them separately (a documented limitation).

#[cfg(target_arch = "x86_64")]
mod x86_64;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
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
const FLAGS: &[(&str, u32)] = &[("SECCOMP_FILTER_FLAG_TSYNC", 1), ("SECCOMP_FILTER_FLAG_LOG", 2), ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4)];

/// Validates linux.seccomp as JSON; errors start with the sub-path (".syscalls[2].action: ...").
pub fn check(sc: &Value) -> Result<(), String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let action_ok = |a: &str| ACTIONS.contains(&a) || a == "SCMP_ACT_NOTIFY";
    let def = s(sc.get("defaultAction"));
    if !action_ok(&def) {
        return Err(format!(".defaultAction: unknown action {def:?}"));
    }
    for (i, a) in sc.get("architectures").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if !a.as_str().is_some_and(|a| ARCHS.contains(&a)) {
            return Err(format!(".architectures[{i}]: unknown architecture {a}"));
        }
    }
    for (i, f) in sc.get("flags").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if !FLAGS.iter().any(|(n, _)| Some(*n) == f.as_str()) {
            return Err(format!(".flags[{i}]: unknown flag {f}"));
        }
    }
    for (i, r) in sc.get("syscalls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if !r.get("names").and_then(Value::as_array).is_some_and(|n| !n.is_empty() && n.iter().all(Value::is_string)) {
            return Err(format!(".syscalls[{i}].names: must be a non-empty list of syscall names"));
        }
        let a = s(r.get("action"));
        if !action_ok(&a) {
            return Err(format!(".syscalls[{i}].action: unknown action {a:?}"));
        }
        for (j, arg) in r.get("args").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let idx = arg.get("index").and_then(Value::as_u64);
            if idx.is_none_or(|x| x >= 6) {
                return Err(format!(".syscalls[{i}].args[{j}].index: must be 0..5"));
            }
            if arg.get("value").and_then(Value::as_u64).is_none() {
                return Err(format!(".syscalls[{i}].args[{j}].value: must be an unsigned integer"));
            }
            let op = s(arg.get("op"));
            if !OPERATORS.contains(&op.as_str()) {
                return Err(format!(".syscalls[{i}].args[{j}].op: unknown operator {op:?}"));
            }
        }
    }
    Ok(())
}

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_KILL_THREAD: u32 = 0;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// The seccomp return value of an action; `ret` is errnoRet (EPERM when absent).
fn ret_of(action: LinuxSeccompAction, ret: Option<u32>) -> Result<u32, String> {
    use LinuxSeccompAction as A;
    Ok(match action {
        A::ScmpActAllow => SECCOMP_RET_ALLOW,
        A::ScmpActErrno => SECCOMP_RET_ERRNO | (ret.unwrap_or(libc::EPERM as u32) & 0xffff),
        A::ScmpActKill | A::ScmpActKillThread => SECCOMP_RET_KILL_THREAD,
        A::ScmpActKillProcess => SECCOMP_RET_KILL_PROCESS,
        A::ScmpActTrap => SECCOMP_RET_TRAP,
        A::ScmpActTrace => SECCOMP_RET_TRACE | (ret.unwrap_or(libc::EPERM as u32) & 0xffff),
        A::ScmpActLog => SECCOMP_RET_LOG,
        A::ScmpActNotify => return Err("SCMP_ACT_NOTIFY needs a listener socket (not supported)".into()),
    })
}

/// A jump target while assembling: fall through, or a label resolved at the end.
#[derive(Clone, Copy)]
enum T {
    Next,
    L(usize),
}

struct Asm {
    code: Vec<(u16, T, T, u32)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn place(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn stmt(&mut self, code: u32, k: u32) {
        self.code.push((code as u16, T::Next, T::Next, k));
    }
    fn jump(&mut self, code: u32, k: u32, jt: T, jf: T) {
        self.code.push((code as u16, jt, jf, k));
    }
    fn finish(self) -> Result<Vec<libc::sock_filter>, String> {
        let mut out = Vec::with_capacity(self.code.len());
        for (i, (code, jt, jf, k)) in self.code.iter().enumerate() {
            let off = |t: &T| -> Result<u8, String> {
                match t {
                    T::Next => Ok(0),
                    T::L(l) => {
                        let pos = self.labels[*l].ok_or("internal: unplaced label")?;
                        u8::try_from(pos - (i + 1)).map_err(|_| "internal: jump too far".to_string())
                    }
                }
            };
            out.push(libc::sock_filter { code: *code, jt: off(jt)?, jf: off(jf)?, k: *k });
        }
        if out.len() > 4096 {
            return Err(format!("filter too long ({} instructions)", out.len()));
        }
        Ok(out)
    }
}

const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGT: u32 = libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K;
const JGE: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const AND: u32 = libc::BPF_ALU | libc::BPF_AND | libc::BPF_K;
const RET: u32 = libc::BPF_RET | libc::BPF_K;
/// offsetof(struct seccomp_data, nr / arch / args).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "x86_64")]
fn syscall_nr(name: &str) -> Option<u32> {
    x86_64::SYSCALLS.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| x86_64::SYSCALLS[i].1)
}
#[cfg(not(target_arch = "x86_64"))]
const NATIVE_ARCH: u32 = 0;
#[cfg(not(target_arch = "x86_64"))]
fn syscall_nr(_name: &str) -> Option<u32> {
    None
}

/// One 64-bit argument condition: falls through when it holds, jumps to `fail` otherwise.
fn emit_cond(a: &mut Asm, index: usize, op: LinuxSeccompOperator, value: u64, mask: u64, fail: usize) {
    use LinuxSeccompOperator as O;
    let lo_off = OFF_ARGS + 8 * index as u32;
    let hi_off = lo_off + 4;
    let (vhi, vlo) = ((value >> 32) as u32, value as u32);
    let f = T::L(fail);
    match op {
        O::ScmpCmpEq | O::ScmpCmpMaskedEq => {
            let masked = matches!(op, O::ScmpCmpMaskedEq);
            // For MASKED_EQ, `mask` is the mask and `value` the wanted result (OCI: value, valueTwo).
            a.stmt(LD_W_ABS, hi_off);
            if masked {
                a.stmt(AND, (mask >> 32) as u32);
            }
            a.jump(JEQ, vhi, T::Next, f);
            a.stmt(LD_W_ABS, lo_off);
            if masked {
                a.stmt(AND, mask as u32);
            }
            a.jump(JEQ, vlo, T::Next, f);
        }
        O::ScmpCmpNe => {
            let ok = a.label();
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JEQ, vhi, T::Next, T::L(ok));
            a.stmt(LD_W_ABS, lo_off);
            a.jump(JEQ, vlo, f, T::Next);
            a.place(ok);
        }
        O::ScmpCmpGt | O::ScmpCmpGe => {
            let ok = a.label();
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JGT, vhi, T::L(ok), T::Next);
            a.jump(JEQ, vhi, T::Next, f);
            a.stmt(LD_W_ABS, lo_off);
            a.jump(if matches!(op, O::ScmpCmpGt) { JGT } else { JGE }, vlo, T::Next, f);
            a.place(ok);
        }
        O::ScmpCmpLt | O::ScmpCmpLe => {
            // LT = !(GE), LE = !(GT).
            let ok = a.label();
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JGT, vhi, f, T::Next);
            a.jump(JEQ, vhi, T::Next, T::L(ok));
            a.stmt(LD_W_ABS, lo_off);
            a.jump(if matches!(op, O::ScmpCmpLt) { JGE } else { JGT }, vlo, f, T::Next);
            a.place(ok);
        }
    }
}

/// Compiles `profile` to BPF for this architecture.
pub fn compile(profile: &LinuxSeccomp) -> Result<Vec<libc::sock_filter>, String> {
    let default = ret_of(profile.default_action(), profile.default_errno_ret())?;
    let mut a = Asm { code: Vec::new(), labels: Vec::new() };
    let native = a.label();
    a.stmt(LD_W_ABS, OFF_ARCH);
    a.jump(JEQ, NATIVE_ARCH, T::L(native), T::Next);
    a.stmt(RET, default);
    a.place(native);
    for rule in profile.syscalls().iter().flatten() {
        let ret = ret_of(rule.action(), rule.errno_ret())?;
        if ret == default && rule.args().as_ref().is_none_or(|x| x.is_empty()) {
            continue;
        }
        for name in rule.names() {
            let Some(nr) = syscall_nr(name) else { continue };
            let next = a.label();
            a.stmt(LD_W_ABS, OFF_NR);
            a.jump(JEQ, nr, T::Next, T::L(next));
            for arg in rule.args().iter().flatten() {
                // MASKED_EQ: OCI's `value` is the mask and `valueTwo` the expected result.
                let (value, mask) = match arg.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => (arg.value_two().unwrap_or(0), arg.value()),
                    _ => (arg.value(), u64::MAX),
                };
                emit_cond(&mut a, arg.index(), arg.op(), value, mask, next);
            }
            a.stmt(RET, ret);
            a.place(next);
        }
    }
    a.stmt(RET, default);
    a.finish()
}

/// Installs `profile` on the calling thread (needs no_new_privs or CAP_SYS_ADMIN).
pub fn apply(profile: &LinuxSeccomp) -> Result<(), String> {
    let filter = compile(profile)?;
    let mut flags = 0u32;
    for f in profile.flags().iter().flatten() {
        let name = serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        flags |= FLAGS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| format!("unknown flag {name}"))?;
    }
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `prog` and the `filter` array it points
    // to, both alive across the call; the kernel copies the program.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, 1 as libc::c_ulong, flags as libc::c_ulong, &prog as *const libc::sock_fprog) };
    if r != 0 {
        return Err(format!("seccomp(SECCOMP_SET_MODE_FILTER): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn syscall_names_resolve_and_unknown_ones_do_not() {
        assert_eq!(super::syscall_nr("mkdir"), Some(83));
        assert_eq!(super::syscall_nr("read"), Some(0));
        assert_eq!(super::syscall_nr("no_such_call"), None);
    }

    #[test]
    fn profiles_with_arguments_compile_and_bad_ones_are_refused() {
        let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read", "write", "nonexistent_call"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 5, "op": "SCMP_CMP_GE"}]}
            ]
        }))
        .expect("profile");
        assert!(super::compile(&p).expect("compile").len() > 10);
        let bad = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]});
        assert!(super::check(&bad).expect_err("bad op").contains(".syscalls[0].args[0].op"));
    }
}
