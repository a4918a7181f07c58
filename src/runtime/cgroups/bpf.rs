//! The bpf(2) calls the cgroup v2 device filter needs: load a BPF_PROG_TYPE_CGROUP_DEVICE
//! program and attach it to a cgroup directory. Raw syscalls with the kernel's attribute
//! layouts (linux/bpf.h), cut after the last field used: the kernel zero-fills the rest.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of parent cgroups (a systemd or engine slice) keep running next to ours: a
/// device must pass them all.
const BPF_F_ALLOW_MULTI: u32 = 2;
/// Same string as runc's: the kernel's MODULE_LICENSE spelling of Apache-2.0.
const LICENSE: &CStr = c"Apache";
/// Shown by `bpftool prog` (at most 15 bytes).
const PROG_NAME: &[u8] = b"berth_devices";
/// Room for the verifier's log when a load fails (the filter's programs are short).
const LOG_SIZE: usize = 64 * 1024;

/// `union bpf_attr` for BPF_PROG_LOAD, up to expected_attach_type.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH, up to attach_flags.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// bpf(`cmd`, `attr`): the call's non-negative result, or errno.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] bpf_attr prefix of exactly
    // the size passed; every pointer inside it was set by our caller to memory that outlives
    // this call (the kernel reads or writes nothing else).
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>() as libc::c_uint) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads `insns` (encoded `struct bpf_insn`s) as a cgroup device program. A program the
/// verifier refuses is loaded a second time to get its log, given with the error.
pub fn load_device_program(insns: &[u8]) -> io::Result<OwnedFd> {
    let mut name = [0u8; 16];
    name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len() / 8).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    let fd = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EACCES)) => {
            let mut log = vec![0u8; LOG_SIZE];
            attr.log_level = 1;
            attr.log_size = LOG_SIZE as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            match bpf(BPF_PROG_LOAD, &mut attr) {
                Ok(fd) => fd,
                Err(_) => {
                    let text = String::from_utf8_lossy(log.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
                    let tail: Vec<&str> = text.lines().rev().take(4).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(io::Error::new(e.kind(), format!("{e}; verifier: {}", tail.join(" | "))));
                }
            }
        }
        Err(e) => return Err(e),
    };
    let fd = i32::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: BPF_PROG_LOAD returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches device program `prog` to the cgroup whose directory is open as `cgroup`, next to
/// any program already there.
pub fn attach_device_program(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let fd = |f: BorrowedFd<'_>| f.as_raw_fd() as u32;
    let mut attr = ProgAttachAttr { target_fd: fd(cgroup), attach_bpf_fd: fd(prog), attach_type: BPF_CGROUP_DEVICE, attach_flags: BPF_F_ALLOW_MULTI };
    bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
}
