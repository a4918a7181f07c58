//! The cgroup v2 device filter: the container's device rules (see `devices`) as a
//! BPF_PROG_TYPE_CGROUP_DEVICE program, which the kernel runs on every mknod and every open
//! of a device node by a process of the cgroup. Same semantics as runc's and crun's
//! devicefilter: the last rule that matches decides, anything no rule matches is denied. The
//! program checks the rules from last to first and returns at the first match.
//!
//! A request carries one or more access bits (open O_RDWR asks read and write at once). An
//! allow rule matches when it grants all of them; a deny rule when it names any of them, so
//! `c 1:3 r` denied after `c 1:3 rwm` allowed still refuses an O_RDWR open (v1 gives the
//! same answer; runc gets it by folding the rules first). Unlike v1, two allow rules for one
//! device do not add up: `c 1:3 r` then `c 1:3 w` grant no O_RDWR open (Docker writes one
//! rule per device).
//!
//! This module is pure: it builds instructions; `bpf` loads and attaches them.

use super::devices::{DevType, DeviceRule};

/// The registers the program uses (R1 holds the context on entry, R0 the verdict at exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reg {
    /// Return value.
    R0 = 0,
    /// Context pointer on entry; scratch afterwards.
    R1 = 1,
    /// Device type (BPF_DEVCG_DEV_*).
    R2 = 2,
    /// Requested access (BPF_DEVCG_ACC_*).
    R3 = 3,
    /// Major number.
    R4 = 4,
    /// Minor number.
    R5 = 5,
}

/// One eBPF instruction, of the few kinds the filter needs. Jump offsets count instructions
/// after the next one, as the kernel's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    /// `dst = *(u32 *)(src + off)`.
    LoadWord { dst: Reg, src: Reg, off: i16 },
    /// `dst = src` (32-bit).
    MovReg { dst: Reg, src: Reg },
    /// `dst = imm` (32-bit).
    MovImm { dst: Reg, imm: i32 },
    /// `dst &= imm` (32-bit).
    AndImm { dst: Reg, imm: i32 },
    /// `dst >>= imm` (32-bit, logical).
    RshImm { dst: Reg, imm: i32 },
    /// `if dst != imm goto +off`.
    JneImm { dst: Reg, imm: i32, off: i16 },
    /// `if dst == imm goto +off`.
    JeqImm { dst: Reg, imm: i32, off: i16 },
    /// `if dst != src goto +off`.
    JneReg { dst: Reg, src: Reg, off: i16 },
    /// `return R0`.
    Exit,
}

// Opcode parts from linux/bpf_common.h and linux/bpf.h.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

/// `struct bpf_cgroup_dev_ctx` device types.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `struct bpf_cgroup_dev_ctx` access bits.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

impl Insn {
    /// The kernel's `struct bpf_insn`: opcode, dst and src registers in one byte (dst in the
    /// low nibble on little-endian hosts), then off and imm, little-endian.
    pub fn encode(self) -> [u8; 8] {
        let (code, dst, src, off, imm) = match self {
            Insn::LoadWord { dst, src, off } => (BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0),
            Insn::MovReg { dst, src } => (BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0),
            Insn::MovImm { dst, imm } => (BPF_ALU | BPF_MOV | BPF_K, dst, Reg::R0, 0, imm),
            Insn::AndImm { dst, imm } => (BPF_ALU | BPF_AND | BPF_K, dst, Reg::R0, 0, imm),
            Insn::RshImm { dst, imm } => (BPF_ALU | BPF_RSH | BPF_K, dst, Reg::R0, 0, imm),
            Insn::JneImm { dst, imm, off } => (BPF_JMP | BPF_JNE | BPF_K, dst, Reg::R0, off, imm),
            Insn::JeqImm { dst, imm, off } => (BPF_JMP | BPF_JEQ | BPF_K, dst, Reg::R0, off, imm),
            Insn::JneReg { dst, src, off } => (BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0),
            Insn::Exit => (BPF_EXIT | BPF_JMP, Reg::R0, Reg::R0, 0, 0),
        };
        let [o0, o1] = off.to_le_bytes();
        let [i0, i1, i2, i3] = imm.to_le_bytes();
        [code, (src as u8) << 4 | dst as u8, o0, o1, i0, i1, i2, i3]
    }
}

/// The program's bytes, as BPF_PROG_LOAD takes them.
pub fn encode(prog: &[Insn]) -> Vec<u8> {
    prog.iter().flat_map(|i| i.encode()).collect()
}

/// A rule the filter cannot express.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// Access letters other than r, w, m.
    #[error("device rule {0:?}: access must be a combination of r, w and m")]
    Access(String),
    /// A major or minor number no device can have.
    #[error("device rule {0:?}: device number out of range")]
    Number(String),
}

/// The filter program for `rules` (in the order they apply; the last match wins).
pub fn program(rules: &[DeviceRule]) -> Result<Vec<Insn>, FilterError> {
    use Reg::*;
    let mut prog = vec![
        // R2 = type (low 16 bits of access_type), R3 = access (high 16 bits).
        Insn::LoadWord { dst: R2, src: R1, off: 0 },
        Insn::AndImm { dst: R2, imm: 0xffff },
        Insn::LoadWord { dst: R3, src: R1, off: 0 },
        Insn::RshImm { dst: R3, imm: 16 },
        Insn::LoadWord { dst: R4, src: R1, off: 4 },
        Insn::LoadWord { dst: R5, src: R1, off: 8 },
    ];
    for rule in rules.iter().rev() {
        let Some(block) = rule_block(rule)? else { continue };
        prog.extend(block);
        if rule.is_everything() {
            // The verifier refuses unreachable instructions, and nothing after this runs.
            return Ok(prog);
        }
    }
    // No rule matched: deny.
    prog.extend([Insn::MovImm { dst: R0, imm: 0 }, Insn::Exit]);
    Ok(prog)
}

/// The checks of one rule, each jumping past the block on mismatch, then the verdict; `None`
/// for a rule that covers no access at all.
fn rule_block(rule: &DeviceRule) -> Result<Option<Vec<Insn>>, FilterError> {
    use Reg::*;
    let access = access_bits(&rule.access).ok_or_else(|| FilterError::Access(rule.to_string()))?;
    if access == 0 {
        return Ok(None);
    }
    let number = |n: Option<i64>| match n {
        None => Ok(None),
        Some(n) => i32::try_from(n).map(Some).map_err(|_| FilterError::Number(rule.to_string())),
    };
    let (major, minor) = (number(rule.major)?, number(rule.minor)?);
    // Jumps get their offset once the block's length is known.
    const NEXT: i16 = i16::MAX;
    let mut block = Vec::new();
    match rule.typ {
        DevType::All => {}
        DevType::Block => block.push(Insn::JneImm { dst: R2, imm: DEV_BLOCK, off: NEXT }),
        DevType::Char => block.push(Insn::JneImm { dst: R2, imm: DEV_CHAR, off: NEXT }),
    }
    if access != ACC_ALL {
        block.push(Insn::MovReg { dst: R1, src: R3 });
        block.push(Insn::AndImm { dst: R1, imm: access });
        block.push(if rule.allow {
            // Allow only what the rule grants in full: (access & granted) == access.
            Insn::JneReg { dst: R1, src: R3, off: NEXT }
        } else {
            // Deny when any requested bit is named.
            Insn::JeqImm { dst: R1, imm: 0, off: NEXT }
        });
    }
    if let Some(major) = major {
        block.push(Insn::JneImm { dst: R4, imm: major, off: NEXT });
    }
    if let Some(minor) = minor {
        block.push(Insn::JneImm { dst: R5, imm: minor, off: NEXT });
    }
    block.extend([Insn::MovImm { dst: R0, imm: i32::from(rule.allow) }, Insn::Exit]);
    let len = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        // A block is at most 8 instructions: the offset always fits.
        let skip = (len - i - 1) as i16;
        match insn {
            Insn::JneImm { off, .. } | Insn::JeqImm { off, .. } | Insn::JneReg { off, .. } => *off = skip,
            _ => {}
        }
    }
    Ok(Some(block))
}

/// BPF_DEVCG_ACC_* bits of "rwm" letters; `None` for another letter.
fn access_bits(access: &str) -> Option<i32> {
    access.chars().try_fold(0, |bits, c| match c {
        'r' => Some(bits | ACC_READ),
        'w' => Some(bits | ACC_WRITE),
        'm' => Some(bits | ACC_MKNOD),
        _ => None,
    })
}

#[cfg(test)]
#[path = "device_filter_tests.rs"]
mod tests;
