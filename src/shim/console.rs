//! Terminals: the runtime's `--console-socket` protocol (runc's). The shim listens on a unix
//! socket, the runtime creates the pty inside the container and sends its master back over
//! SCM_RIGHTS; the shim then owns the master (copies it to/from the stdio, resizes it).

use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

use super::ShimError;

/// A console socket waiting for one pty master.
pub struct ConsoleSocket {
    path: PathBuf,
    receiver: Option<JoinHandle<Result<OwnedFd, String>>>,
}

impl ConsoleSocket {
    /// Listens on `path` and starts waiting (in a thread) for the runtime to connect.
    pub fn listen(path: &Path) -> Result<Self, ShimError> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| ShimError::io("listen on console socket", path, e))?;
        let receiver = std::thread::Builder::new()
            .name("console-socket".into())
            .spawn(move || receive(&listener))
            .map_err(|e| ShimError::io("spawn console receiver for", path, e))?;
        Ok(ConsoleSocket { path: path.to_path_buf(), receiver: Some(receiver) })
    }

    /// The path to pass as `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The master the runtime sent. Call after the runtime returned successfully (runc sends
    /// the master before `create`/`exec` exits).
    pub fn master(mut self) -> Result<File, ShimError> {
        let rx = self.receiver.take();
        let got = match rx {
            Some(h) => h.join().unwrap_or_else(|_| Err("console receiver panicked".into())),
            None => Err("no console receiver".into()),
        };
        got.map(File::from).map_err(|msg| ShimError::Invalid(format!("console socket {}: {msg}", self.path.display())))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        if let Some(h) = self.receiver.take() {
            // Nobody connected (the runtime failed): connect ourselves so accept() returns.
            let _ = UnixStream::connect(&self.path);
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn receive(listener: &UnixListener) -> Result<OwnedFd, String> {
    let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg: {e}"))?;
    let cmsgs = msg.cmsgs().map_err(|e| format!("control message: {e}"))?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&fd) = fds.first()
        {
            for &extra in &fds[1..] {
                // SAFETY: the kernel just installed these fds for us; we own and close them.
                drop(unsafe { OwnedFd::from_raw_fd(extra) });
            }
            // SAFETY: as above; this one becomes the master.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err("no file descriptor received".into())
}

/// Sets the window size of the pty whose master is `master`.
pub fn resize(master: &File, width: u32, height: u32) -> Result<(), ShimError> {
    let ws = libc::winsize {
        ws_row: height.min(u16::MAX as u32) as u16,
        ws_col: width.min(u16::MAX as u32) as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc != 0 {
        return Err(ShimError::io("resize pty", Path::new("console"), std::io::Error::last_os_error()));
    }
    Ok(())
}
