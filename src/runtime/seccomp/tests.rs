//! Filters are installed for real, each in a forked child (a filter cannot be removed), and
//! judged by what the child's system calls then return.

use std::io::Read;
use std::os::fd::AsRawFd;

use serde_json::{json, Value};

/// The call the filters under test match: getppid ignores its arguments, but seccomp sees
/// the raw 64-bit registers, so any value can be passed and the call stays harmless.
const CALL: &str = "getppid";

/// The errno the rules under test return, so that a refusal cannot be mistaken for another.
const REFUSED: i32 = libc::EXDEV;

/// How a child that made calls under a filter ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Every call returned: 0 when allowed, else its errno.
    Returned(Vec<i32>),
    /// The child was killed by this signal before finishing.
    Killed(i32),
}

/// Forks; the child installs `profile` and calls getppid once per entry of `calls` (its
/// first two arguments), reporting each result through a pipe.
fn run_under(profile: &Value, calls: &[[u64; 2]]) -> Outcome {
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(profile.clone()).expect("profile parses");
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child only builds and loads the filter (libseccomp allocates; glibc's
    // malloc is usable after fork), makes raw syscalls and leaves with _exit, never
    // returning into the test harness.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: plain syscalls on values owned by this frame; _exit does not return.
            unsafe {
                // A child killed by SIGSYS leaves no core file behind.
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || super::apply(&profile).is_err() {
                    libc::_exit(100);
                }
                for [a0, a1] in calls {
                    let rc = libc::syscall(libc::SYS_getppid, *a0 as libc::c_long, *a1 as libc::c_long);
                    let res: i32 = if rc == -1 { *libc::__errno_location() } else { 0 };
                    libc::write(w.as_raw_fd(), (&raw const res).cast(), 4);
                }
                libc::_exit(0);
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut bytes = Vec::new();
            let mut f = std::fs::File::from(r);
            f.read_to_end(&mut bytes).expect("read results");
            let results: Vec<i32> = bytes.chunks_exact(4).map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect();
            match nix::sys::wait::waitpid(child, None).expect("waitpid") {
                nix::sys::wait::WaitStatus::Exited(_, 0) => Outcome::Returned(results),
                nix::sys::wait::WaitStatus::Signaled(_, sig, _) => Outcome::Killed(sig as i32),
                other => panic!("child could not install {profile:?}: {other:?}"),
            }
        }
    }
}

/// A default-allow profile with one rule: getppid refused (REFUSED) when `args` hold.
fn refuse_when(args: Value) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": [CALL], "action": "SCMP_ACT_ERRNO", "errnoRet": REFUSED, "args": args}]
    })
}

/// Boundaries of 64-bit comparison: zero, one, the 32-bit edge on both sides, values that
/// differ from 1 only in the high word, and the top.
const VALUES: [u64; 7] = [0, 1, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 0x8000_0000_0000_0001, u64::MAX];

#[test]
fn every_comparison_operator_matches_its_truth_table_on_64_bit_boundaries() {
    type Op = fn(u64, u64) -> bool;
    let ops: [(&str, Op); 6] = [
        ("SCMP_CMP_EQ", |a, v| a == v),
        ("SCMP_CMP_NE", |a, v| a != v),
        ("SCMP_CMP_LT", |a, v| a < v),
        ("SCMP_CMP_LE", |a, v| a <= v),
        ("SCMP_CMP_GT", |a, v| a > v),
        ("SCMP_CMP_GE", |a, v| a >= v),
    ];
    let calls: Vec<[u64; 2]> = VALUES.iter().map(|&a| [a, 0]).collect();
    let mut wrong = Vec::new();
    for (op, truth) in ops {
        for v in VALUES {
            let got = run_under(&refuse_when(json!([{"index": 0, "value": v, "op": op}])), &calls);
            let want = Outcome::Returned(VALUES.iter().map(|&a| if truth(a, v) { REFUSED } else { 0 }).collect());
            if got != want {
                wrong.push(format!("arg0 {op} {v:#x}: got {got:?}, want {want:?} for args {VALUES:x?}"));
            }
        }
    }
    // MASKED_EQ: OCI's `value` is the mask, `valueTwo` what the masked argument must equal.
    let masked: [(u64, u64); 6] = [
        (0xffff_ffff, 1),
        (0xffff_ffff, 0),
        (0xffff_ffff_0000_0000, 0x1_0000_0000),
        (0xffff_ffff_0000_0000, 0),
        (u64::MAX, 0x1_0000_0001),
        (0x8000_0000_0000_0000, 0x8000_0000_0000_0000),
    ];
    for (mask, want_eq) in masked {
        let args = json!([{"index": 0, "value": mask, "valueTwo": want_eq, "op": "SCMP_CMP_MASKED_EQ"}]);
        let got = run_under(&refuse_when(args), &calls);
        let want = Outcome::Returned(VALUES.iter().map(|&a| if a & mask == want_eq { REFUSED } else { 0 }).collect());
        if got != want {
            wrong.push(format!("arg0 & {mask:#x} == {want_eq:#x}: got {got:?}, want {want:?} for args {VALUES:x?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn conditions_on_different_arguments_must_all_hold_and_on_the_same_argument_any_one() {
    let both = refuse_when(json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]));
    assert_eq!(run_under(&both, &[[1, 2], [1, 3], [0, 2]]), Outcome::Returned(vec![REFUSED, 0, 0]));
    // libseccomp takes one condition per argument in a rule; runc makes each a rule of its own.
    let either = refuse_when(json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]));
    assert_eq!(run_under(&either, &[[1, 0], [2, 0], [3, 0]]), Outcome::Returned(vec![REFUSED, REFUSED, 0]));
}

#[test]
fn each_action_does_what_the_kernel_documents_and_errno_defaults_to_eperm() {
    let sigsys = libc::SIGSYS;
    let cases: [(Value, Outcome); 9] = [
        (json!({"action": "SCMP_ACT_ALLOW"}), Outcome::Returned(vec![0])),
        (json!({"action": "SCMP_ACT_ERRNO", "errnoRet": REFUSED}), Outcome::Returned(vec![REFUSED])),
        (json!({"action": "SCMP_ACT_ERRNO"}), Outcome::Returned(vec![libc::EPERM])),
        (json!({"action": "SCMP_ACT_LOG"}), Outcome::Returned(vec![0])),
        // No tracer attached: the kernel fails the call with ENOSYS.
        (json!({"action": "SCMP_ACT_TRACE"}), Outcome::Returned(vec![libc::ENOSYS])),
        (json!({"action": "SCMP_ACT_TRAP"}), Outcome::Killed(sigsys)),
        (json!({"action": "SCMP_ACT_KILL"}), Outcome::Killed(sigsys)),
        (json!({"action": "SCMP_ACT_KILL_THREAD"}), Outcome::Killed(sigsys)),
        (json!({"action": "SCMP_ACT_KILL_PROCESS"}), Outcome::Killed(sigsys)),
    ];
    for (mut rule, want) in cases {
        rule["names"] = json!([CALL]);
        // The default refuses with a distinct errno, so an ALLOW or LOG rule is seen to match.
        let profile = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": libc::EBADE, "syscalls": [
            rule.clone(),
            {"names": ["write", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}
        ]});
        assert_eq!(run_under(&profile, &[[0, 0]]), want, "{rule}");
    }
}

#[test]
fn the_filter_flags_are_accepted_and_notify_is_refused_by_name() {
    let mut profile = refuse_when(json!([]));
    profile["flags"] = json!(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
    assert_eq!(run_under(&profile, &[[0, 0]]), Outcome::Returned(vec![REFUSED]));
    let notify: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_NOTIFY"}]
    }))
    .expect("profile");
    let err = super::build(&notify).expect_err("NOTIFY refused");
    assert!(err.to_string().contains("SCMP_ACT_NOTIFY"), "{err}");
}

#[test]
fn unknown_names_are_skipped_and_names_of_other_architectures_only_go_to_them() {
    // socketcall and _llseek exist on i386, not on x86_64; bogus_call nowhere.
    for archs in [json!(["SCMP_ARCH_X86_64"]), json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])] {
        let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": archs,
            "syscalls": [{"names": ["read", "socketcall", "_llseek", "bogus_call"], "action": "SCMP_ACT_ALLOW"}]
        }))
        .expect("profile");
        if let Err(e) = super::build(&p) {
            panic!("{archs}: {e}");
        }
    }
}

#[test]
fn an_allow_list_with_names_libseccomp_does_not_know_still_allows_the_names_it_knows() {
    // Docker's default profile lists calls newer than some libseccomp (and kernels); runc
    // skips them, and so does this runtime, instead of failing the container's start.
    let allow = |names: &[&str]| {
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": REFUSED,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
        })
    };
    let with_unknown = allow(&["no_such_call_anywhere", CALL, "write", "exit", "exit_group", "future_call_2099"]);
    assert_eq!(run_under(&with_unknown, &[[0, 0]]), Outcome::Returned(vec![0]));
    // The filter is in force: without CALL on the list, the default refuses it.
    let without = allow(&["no_such_call_anywhere", "write", "exit", "exit_group"]);
    assert_eq!(run_under(&without, &[[0, 0]]), Outcome::Returned(vec![REFUSED]));
}

#[test]
fn invalid_profiles_are_refused_naming_the_field() {
    let bad = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]});
    assert_eq!(super::check(&bad).expect_err("bad op").to_string(), ".syscalls[0].args[0].op: unknown operator \"SCMP_CMP_SOMETIMES\"");
    let bad = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]});
    assert_eq!(super::check(&bad).expect_err("bad arch").to_string(), ".architectures[0]: unknown architecture \"SCMP_ARCH_VAX\"");
    let bad = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]});
    assert!(super::check(&bad).expect_err("bad flag").to_string().starts_with(".flags[0]: unknown flag"));
    let ok = refuse_when(json!([{"index": 5, "value": 1, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 1}]));
    assert!(super::check(&ok).is_ok());
}
