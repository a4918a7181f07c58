//! The filter's tests: the encoding of each instruction kind, the shape of a few programs,
//! and their verdicts, found by running the encoded bytes in a small interpreter of the
//! instructions the filter uses (with the verifier's checks that matter here).

use super::*;
use crate::runtime::cgroups::devices;
use oci_spec::runtime::LinuxResources;
use serde_json::json;
use Reg::*;

const B: u32 = 1;
const C: u32 = 2;
const M: u32 = 1;
const R: u32 = 2;
const W: u32 = 4;

/// Decoded `struct bpf_insn`: (opcode, dst, src, off, imm).
fn decode(i: &[u8]) -> (u8, usize, usize, i16, i32) {
    (i[0], usize::from(i[1] & 0xf), usize::from(i[1] >> 4), i16::from_le_bytes([i[2], i[3]]), i32::from_le_bytes([i[4], i[5], i[6], i[7]]))
}

/// Checks what the verifier would: every jump lands inside the program, every instruction
/// is reachable, and the program cannot run off its end.
fn verify(bytes: &[u8]) {
    assert_eq!(bytes.len() % 8, 0);
    let n = bytes.len() / 8;
    let mut seen = vec![false; n];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        assert!(pc < n, "control reaches {pc}, past the end ({n} instructions)");
        if std::mem::replace(&mut seen[pc], true) {
            continue;
        }
        let (code, _, _, off, _) = decode(&bytes[pc * 8..pc * 8 + 8]);
        match code {
            0x95 => {}
            0x55 | 0x15 | 0x5d => {
                let target = pc as isize + 1 + isize::from(off);
                assert!(off >= 0 && (target as usize) < n, "jump at {pc} to {target}");
                todo.extend([pc + 1, target as usize]);
            }
            _ => todo.push(pc + 1),
        }
    }
    assert!(seen.iter().all(|s| *s), "unreachable instructions: {seen:?}");
}

/// Runs the program on a request (type, access bits, major, minor): allowed or not.
fn run(bytes: &[u8], typ: u32, access: u32, major: u32, minor: u32) -> bool {
    let ctx = [typ | access << 16, major, minor];
    let mut regs = [0u64; 11];
    let mut r1_is_ctx = true;
    let mut pc = 0usize;
    for _ in 0..bytes.len() / 8 {
        let (code, dst, src, off, imm) = decode(&bytes[pc * 8..pc * 8 + 8]);
        let next = pc + 1;
        let jump = |cond: bool| if cond { (next as isize + isize::from(off)) as usize } else { next };
        let k = i64::from(imm) as u64;
        if dst == 1 && code & 0x07 == 0x04 {
            r1_is_ctx = false;
        }
        pc = match code {
            0x61 => {
                assert!(src == 1 && r1_is_ctx && off % 4 == 0 && (0..12).contains(&off), "load outside the context");
                regs[dst] = u64::from(ctx[off as usize / 4]);
                next
            }
            0xbc => (regs[dst] = u64::from(regs[src] as u32), next).1,
            0xb4 => (regs[dst] = u64::from(imm as u32), next).1,
            0x54 => (regs[dst] = u64::from(regs[dst] as u32 & imm as u32), next).1,
            0x74 => (regs[dst] = u64::from((regs[dst] as u32) >> imm), next).1,
            0x55 => jump(regs[dst] != k),
            0x15 => jump(regs[dst] == k),
            0x5d => jump(regs[dst] != regs[src]),
            0x95 => {
                assert!(regs[0] <= 1, "verdict {}", regs[0]);
                return regs[0] == 1;
            }
            other => panic!("opcode {other:#x}"),
        };
    }
    panic!("no exit: jumps only go forward, so the program ran off its end");
}

fn resources(rules: serde_json::Value) -> LinuxResources {
    serde_json::from_value(json!({ "devices": rules })).expect("resources")
}

/// The program for linux.resources.devices `rules` (plus runc's always list), encoded.
fn compiled(rules: serde_json::Value) -> Vec<u8> {
    let bytes = encode(&program(&devices::rules(&resources(rules))).expect("program"));
    verify(&bytes);
    bytes
}

/// Checks (type, access, major, minor) → verdict for every row.
fn check(bytes: &[u8], rows: &[(u32, u32, u32, u32, bool)]) {
    for &(t, a, ma, mi, want) in rows {
        let kind = if t == B { 'b' } else { 'c' };
        assert_eq!(run(bytes, t, a, ma, mi), want, "{kind} {ma}:{mi} access {a:#b}");
    }
}

#[test]
fn instructions_encode_as_the_kernel_reads_them() {
    assert_eq!(Insn::Exit.encode(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(Insn::MovImm { dst: R0, imm: 1 }.encode(), [0xb4, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(Insn::LoadWord { dst: R4, src: R1, off: 4 }.encode(), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
    assert_eq!(Insn::AndImm { dst: R2, imm: 0xffff }.encode(), [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]);
    assert_eq!(Insn::RshImm { dst: R3, imm: 16 }.encode(), [0x74, 0x03, 0, 0, 16, 0, 0, 0]);
    assert_eq!(Insn::MovReg { dst: R1, src: R3 }.encode(), [0xbc, 0x31, 0, 0, 0, 0, 0, 0]);
    assert_eq!(Insn::JneImm { dst: R5, imm: 200, off: 2 }.encode(), [0x55, 0x05, 2, 0, 200, 0, 0, 0]);
    assert_eq!(Insn::JeqImm { dst: R1, imm: 0, off: 3 }.encode(), [0x15, 0x01, 3, 0, 0, 0, 0, 0]);
    assert_eq!(Insn::JneReg { dst: R1, src: R3, off: 5 }.encode(), [0x5d, 0x31, 5, 0, 0, 0, 0, 0]);
}

#[test]
fn the_default_rules_compile_to_the_always_list_then_deny() {
    let prog = program(&devices::rules(&resources(json!([{"allow": false, "access": "rwm"}])))).expect("program");
    // The prelude loads type, access, major and minor.
    assert_eq!(prog[..2], [Insn::LoadWord { dst: R2, src: R1, off: 0 }, Insn::AndImm { dst: R2, imm: 0xffff }]);
    assert_eq!(prog[5], Insn::LoadWord { dst: R5, src: R1, off: 8 });
    // The last rule (c 10:200 rwm) is checked first; rwm needs no access check.
    assert_eq!(
        prog[6..11],
        [
            Insn::JneImm { dst: R2, imm: 2, off: 4 },
            Insn::JneImm { dst: R4, imm: 10, off: 3 },
            Insn::JneImm { dst: R5, imm: 200, off: 2 },
            Insn::MovImm { dst: R0, imm: 1 },
            Insn::Exit,
        ]
    );
    // c 136:* rwm: no minor check.
    assert_eq!(
        prog[11..15],
        [Insn::JneImm { dst: R2, imm: 2, off: 3 }, Insn::JneImm { dst: R4, imm: 136, off: 2 }, Insn::MovImm { dst: R0, imm: 1 }, Insn::Exit]
    );
    // b *:* m: type and access only.
    let mknod_b = [
        Insn::JneImm { dst: R2, imm: 1, off: 5 },
        Insn::MovReg { dst: R1, src: R3 },
        Insn::AndImm { dst: R1, imm: 1 },
        Insn::JneReg { dst: R1, src: R3, off: 2 },
        Insn::MovImm { dst: R0, imm: 1 },
        Insn::Exit,
    ];
    let n = prog.len();
    assert_eq!(prog[n - 14..n - 8], mknod_b);
    // The spec's deny-all, checked last, is the default deny: no second one after it.
    assert_eq!(prog[n - 2..], [Insn::MovImm { dst: R0, imm: 0 }, Insn::Exit]);
    assert_eq!(n, 6 + 9 * 5 + 4 + 2 * 6 + 2);
    verify(&encode(&prog));
}

#[test]
fn no_rules_deny_everything_and_allow_all_stops_the_program() {
    assert_eq!(program(&[]).expect("program")[6..], [Insn::MovImm { dst: R0, imm: 0 }, Insn::Exit]);
    let privileged = program(&devices::rules(&resources(json!([{"allow": true, "access": "rwm"}])))).expect("program");
    assert_eq!(privileged[privileged.len() - 2..], [Insn::MovImm { dst: R0, imm: 1 }, Insn::Exit]);
    let bytes = compiled(json!([{"allow": true, "access": "rwm"}, {"allow": true, "type": "b", "major": 8, "access": "r"}]));
    // The allow-all comes before the always list: the rules after it are still checked.
    check(&bytes, &[(B, R | W, 8, 0, true), (C, W, 4, 1, true), (B, M, 3, 3, true)]);
}

#[test]
fn the_default_rules_allow_mknod_and_the_standard_devices_only() {
    let bytes = compiled(json!([{"allow": false, "access": "rwm"}]));
    check(
        &bytes,
        &[
            (B, M, 8, 0, true),
            (B, R, 8, 0, false),
            (B, W, 8, 0, false),
            (C, M, 4, 1, true),
            (C, R | W, 1, 3, true),
            (C, R, 1, 5, true),
            (C, R | W, 1, 9, true),
            (C, R | W, 5, 2, true),
            (C, R | W, 136, 7, true),
            (C, R | W, 10, 200, true),
            (C, R, 10, 229, false),
            (C, R, 1, 1, false),
            (C, R | W, 4, 1, false),
            // A block device with the numbers of /dev/null is not /dev/null.
            (B, R, 1, 3, false),
        ],
    );
}

#[test]
fn a_limited_device_gets_only_its_access() {
    // `--device /dev/zero:/dev/z:r` and `--device-cgroup-rule 'b 7:* rw'`.
    let bytes = compiled(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"},
        {"allow": true, "type": "b", "major": 7, "access": "rw"},
    ]));
    check(
        &bytes,
        &[
            // The always list comes later and grants /dev/zero rwm anyway, as with runc.
            (C, R | W, 1, 5, true),
            (B, R, 7, 3, true),
            (B, R | W, 7, 0, true),
            (B, M, 7, 0, true),
            (C, R, 7, 0, false),
            (B, R, 8, 0, false),
        ],
    );
    let bytes = compiled(json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 4, "minor": 64, "access": "r"},
    ]));
    check(&bytes, &[(C, R, 4, 64, true), (C, W, 4, 64, false), (C, R | W, 4, 64, false), (C, R, 4, 65, false)]);
}

#[test]
fn the_last_matching_rule_wins() {
    // A deny after a wider allow punches a hole, for any request naming a denied bit.
    let bytes = compiled(json!([
        {"allow": true, "type": "c", "major": 4, "access": "rwm"},
        {"allow": false, "type": "c", "major": 4, "minor": 1, "access": "w"},
    ]));
    check(&bytes, &[(C, R, 4, 1, true), (C, W, 4, 1, false), (C, R | W, 4, 1, false), (C, R | W, 4, 2, true), (B, R, 4, 1, false)]);
    // An allow after a deny reopens it.
    let bytes = compiled(json!([
        {"allow": false, "type": "c", "major": 4, "minor": 1, "access": "rwm"},
        {"allow": true, "type": "c", "major": 4, "access": "r"},
    ]));
    check(&bytes, &[(C, R, 4, 1, true), (C, W, 4, 1, false)]);
    // A deny-all at the end overrides everything but the always list, which follows it.
    let bytes = compiled(json!([
        {"allow": true, "type": "b", "major": 8, "access": "rwm"},
        {"allow": false, "access": "rwm"},
    ]));
    check(&bytes, &[(B, R, 8, 0, false), (B, M, 8, 0, true), (C, R, 1, 3, true)]);
}

#[test]
fn type_a_rules_match_both_types() {
    let bytes = compiled(json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "a", "major": 7, "access": "r"}]));
    check(&bytes, &[(B, R, 7, 0, true), (C, R, 7, 3, true), (C, W, 7, 3, false)]);
    // Every device, reads only.
    let bytes = compiled(json!([{"allow": false, "access": "rwm"}, {"allow": true, "access": "r"}]));
    check(&bytes, &[(B, R, 8, 0, true), (B, W, 8, 0, false), (C, R, 4, 1, true)]);
}

#[test]
fn rules_the_filter_cannot_express_are_errors() {
    let rule = |access: &str, major| DeviceRule { allow: true, typ: DevType::Char, major, minor: None, access: access.into() };
    assert_eq!(program(&[rule("rwx", None)]), Err(FilterError::Access("c *:* rwx".into())));
    assert_eq!(program(&[rule("r", Some(1 << 40))]), Err(FilterError::Number(format!("c {}:* r", 1u64 << 40))));
    // An empty access covers nothing: no block.
    assert_eq!(program(&[rule("", Some(1))]).expect("program").len(), 8);
}
