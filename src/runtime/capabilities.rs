//! Linux capabilities of the container process (process.capabilities): the bounding set is
//! dropped before changing uid, then effective/permitted/inheritable are set with capset and
//! the ambient set raised, the order runc uses.

use std::collections::HashSet;

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use super::error::RuntimeError;

/// Kernel capability names in bit order (capability.h).
pub(crate) const NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Highest capability the running kernel knows.
fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(NAMES.len() as u32 - 1)
    })
}

/// The capabilities this process may hand on ("CAP_..." names, bit order): those the kernel
/// knows that are in its bounding set. `--privileged` and `--cap-add ALL` get these, not
/// every name: one outside the bounding set cannot be raised (capset fails with EPERM).
pub fn in_bounding_set() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bounding =
        status.lines().find_map(|l| l.strip_prefix("CapBnd:")).and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok()).unwrap_or(u64::MAX);
    NAMES.iter().enumerate().filter(|(bit, _)| *bit as u32 <= last_cap() && bounding & (1 << bit) != 0).map(|(_, n)| format!("CAP_{n}")).collect()
}

/// Bit numbers of a capability set; names the kernel does not know are skipped (runc warns).
fn bits(set: &Option<Capabilities>) -> HashSet<u32> {
    let last = last_cap();
    set.iter()
        .flatten()
        .filter_map(|c| {
            let v = serde_json::to_value(c).ok()?;
            let name = v.as_str()?.to_ascii_uppercase();
            let name = name.strip_prefix("CAP_").unwrap_or(&name);
            NAMES.iter().position(|n| *n == name).map(|i| i as u32)
        })
        .filter(|b| *b <= last)
        .collect()
}

fn prctl(id: &str, what: &str, op: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> Result<(), RuntimeError> {
    // SAFETY: prctl with integer arguments only; no memory is passed.
    let r = unsafe { libc::prctl(op, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if r < 0 {
        Err(RuntimeError::sys(id, what.to_owned(), nix::errno::Errno::last()))
    } else {
        Ok(())
    }
}

/// Before setuid: keep permitted capabilities across the uid change and shrink the bounding
/// set (which needs CAP_SETPCAP, still held now).
pub fn drop_bounding(id: &str, caps: &LinuxCapabilities) -> Result<(), RuntimeError> {
    prctl(id, "prctl(PR_SET_KEEPCAPS)", libc::PR_SET_KEEPCAPS, 1, 0)?;
    let keep = bits(caps.bounding());
    for cap in 0..=last_cap() {
        if !keep.contains(&cap) {
            prctl(id, &format!("prctl(PR_CAPBSET_DROP, {cap})"), libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0)?;
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// After setuid: set effective, permitted and inheritable, then raise the ambient set.
pub fn apply(id: &str, caps: &LinuxCapabilities) -> Result<(), RuntimeError> {
    prctl(id, "prctl(PR_SET_KEEPCAPS, 0)", libc::PR_SET_KEEPCAPS, 0, 0)?;
    let (e, p, i) = (bits(caps.effective()), bits(caps.permitted()), bits(caps.inheritable()));
    let mut data = [CapData::default(); 2];
    for (set, field) in [(&e, 0), (&p, 1), (&i, 2)] {
        for b in set {
            let slot = &mut data[(b / 32) as usize];
            let mask = 1u32 << (b % 32);
            match field {
                0 => slot.effective |= mask,
                1 => slot.permitted |= mask,
                _ => slot.inheritable |= mask,
            }
        }
    }
    // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
    let mut hdr = CapHeader { version: 0x2008_0522, pid: 0 };
    // SAFETY: hdr and data are valid, properly laid out (repr(C)) and live across the call;
    // version 3 makes the kernel read exactly two CapData entries.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r < 0 {
        return Err(RuntimeError::sys(id, "capset", nix::errno::Errno::last()));
    }
    for cap in bits(caps.ambient()) {
        // Raising needs the cap in both permitted and inheritable; runc ignores failures too.
        let _ = prctl(id, "prctl(PR_CAP_AMBIENT_RAISE)", libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap as libc::c_ulong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn capability_names_map_to_kernel_bits() {
        let caps: oci_spec::runtime::Capabilities = serde_json::from_str(r#"["CAP_KILL","CAP_NET_BIND_SERVICE","CAP_AUDIT_WRITE"]"#).expect("caps");
        let b = super::bits(&Some(caps));
        assert_eq!(b, [5u32, 10, 29].into_iter().collect());
    }
}
