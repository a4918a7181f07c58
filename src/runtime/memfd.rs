//! Sealed in-memory copies of a file (memfd_create + sendfile + F_SEAL_*): what the runtime
//! executes when it cannot protect its binary with a read-only bind mount. Once sealed, no
//! one (not even root in a container holding `/proc/<pid>/exe`) can change the copy.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Copies `src` into a new close-on-exec memfd and seals it against writes, growth,
/// shrinking and further seal changes.
pub fn sealed_copy(src: &File) -> io::Result<OwnedFd> {
    let len = src.metadata()?.len();
    // SAFETY: memfd_create with a static NUL-terminated name; the returned fd is ours.
    let raw = unsafe { libc::memfd_create(c"berth-runtime".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create just returned this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut off: libc::off_t = 0;
    while (off as u64) < len {
        let left = (len - off as u64).min(1 << 30) as usize;
        // SAFETY: both fds are open; `off` is a live off_t the kernel advances.
        let n = unsafe { libc::sendfile(fd.as_raw_fd(), src.as_raw_fd(), &mut off, left) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while copying"));
        }
    }
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on an fd we own with integer arguments.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sealed_copy_has_the_content_and_refuses_writes() {
        use std::io::{Read, Seek, Write};
        let exe = std::fs::File::open("/proc/self/exe").expect("own exe");
        let fd = super::sealed_copy(&exe).expect("copy");
        let mut f = std::fs::File::from(fd);
        let mut head = [0u8; 4];
        f.seek(std::io::SeekFrom::Start(0)).expect("seek");
        f.read_exact(&mut head).expect("read");
        assert_eq!(&head, b"\x7fELF");
        assert!(f.write_all(b"x").is_err(), "a sealed copy must refuse writes");
    }
}
