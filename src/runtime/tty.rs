//! process.terminal: like runc, init allocates a pty in the container's devpts, sends the
//! master over the `--console-socket` (SCM_RIGHTS; the engine's shim holds it) and makes the
//! slave its stdio and controlling terminal.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;

use super::error::RuntimeError;

/// Connects to the console socket (done before pivot_root: the path is on the host).
pub fn connect(id: &str, path: &Path) -> Result<UnixStream, RuntimeError> {
    UnixStream::connect(path).map_err(|e| RuntimeError::io(id, "connect console socket", path, e))
}

/// Allocates the pty, sends its master over `sock`, and makes the slave fds 0-2 and the
/// controlling terminal of this (session leader) process; returns the slave's path.
pub fn setup(id: &str, sock: UnixStream, size: Option<(u16, u16)>, owner: (u32, u32)) -> Result<String, RuntimeError> {
    let sys = |what: &str, e| RuntimeError::sys(id, what.to_owned(), e);
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(|e| sys("posix_openpt", e))?;
    grantpt(&master).map_err(|e| sys("grantpt", e))?;
    unlockpt(&master).map_err(|e| sys("unlockpt", e))?;
    let name = ptsname_r(&master).map_err(|e| sys("ptsname", e))?;
    let slave: OwnedFd =
        open(name.as_str(), OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| sys(&format!("open {name}"), e))?;
    nix::unistd::fchown(slave.as_fd(), Some(owner.0.into()), Some(owner.1.into())).map_err(|e| sys("fchown pty", e))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let fds = [master.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .map_err(|e| sys("sendmsg console master", e))?;
    drop(master);
    drop(sock);
    nix::unistd::dup2_stdin(&slave).map_err(|e| sys("dup2 pty slave", e))?;
    nix::unistd::dup2_stdout(&slave).map_err(|e| sys("dup2 pty slave", e))?;
    nix::unistd::dup2_stderr(&slave).map_err(|e| sys("dup2 pty slave", e))?;
    // SAFETY: TIOCSCTTY takes an integer argument; fd 0 is the pty slave we just installed.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(sys("ioctl(TIOCSCTTY)", nix::errno::Errno::last()));
    }
    Ok(name)
}

/// Binds the pty slave `slave` onto the container's /dev/console (runc's behaviour for a
/// container's init), so that what writes to the console reaches the terminal. Runs after
/// pivot_root: every path is the container's. The mount point is made (or found) without
/// following a symlink and mounted on through its descriptor.
pub fn mount_console(id: &str, slave: &str) -> Result<(), RuntimeError> {
    let sys = |what: &str, e| RuntimeError::sys(id, what.to_owned(), e);
    match open(
        "/dev/console",
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    ) {
        Ok(_) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(sys("create /dev/console", e)),
    }
    let target =
        open("/dev/console", OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| sys("open /dev/console", e))?;
    let st = nix::sys::stat::fstat(&target).map_err(|e| sys("stat /dev/console", e))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(RuntimeError::Unsupported(format!("/dev/console in container {id} is a symbolic link")));
    }
    let on = format!("/proc/self/fd/{}", target.as_raw_fd());
    nix::mount::mount(Some(slave), on.as_str(), None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| sys("bind the pty onto /dev/console", e))
}
