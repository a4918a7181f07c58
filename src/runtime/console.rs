//! The receiving end of the `--console-socket` protocol (runc's): whoever wants the terminal
//! of a `process.terminal` container listens on a unix socket, the runtime's init creates the
//! pty inside the container and sends its master back over SCM_RIGHTS. The shim owns the
//! master for engines; a foreground `run`/`exec` without `--console-socket` owns it itself
//! and copies between it and its own stdio ([`Proxy`]), as runc does.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use crate::terminal::{Proxy, TerminalError};

/// Errors of the console socket and the terminal proxy.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A socket, file or terminal call failed.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// The runtime did not send a pty master.
    #[error("console socket {path}: {msg}")]
    Protocol { path: PathBuf, msg: String },
    /// The terminal proxy failed.
    #[error(transparent)]
    Terminal(#[from] TerminalError),
}

/// A console socket waiting for one pty master.
pub struct ConsoleSocket {
    path: PathBuf,
    /// A directory of our own that holds the socket, removed on drop.
    dir: Option<PathBuf>,
    receiver: Option<JoinHandle<Result<OwnedFd, String>>>,
}

impl ConsoleSocket {
    /// Listens on `path` and starts waiting (in a thread) for the runtime to connect.
    pub fn listen(path: &Path) -> Result<Self, ConsoleError> {
        let listener = crate::fsperm::bind_unix(path, crate::fsperm::SOCKET_PRIVATE, None).map_err(|e| ConsoleError::Io {
            what: "listen on console socket",
            path: path.into(),
            source: e.into(),
        })?;
        let receiver = std::thread::Builder::new()
            .name("console-socket".into())
            .spawn(move || receive(&listener))
            .map_err(|source| ConsoleError::Io { what: "spawn console receiver for", path: path.into(), source })?;
        Ok(ConsoleSocket { path: path.to_path_buf(), dir: None, receiver: Some(receiver) })
    }

    /// Listens in a fresh private directory under the system's temp dir (for a foreground
    /// `run`/`exec`, which has no shim socket to sit next to); `tag` names it.
    pub fn listen_private(tag: &str) -> Result<Self, ConsoleError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("berth-console-{}-{nanos:08x}", std::process::id()));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|source| ConsoleError::Io {
                what: "create console socket directory",
                path: dir.clone(),
                source,
            })?;
        }
        // Unix socket paths are limited to 108 bytes: keep the name short.
        let short: String = tag.chars().filter(|c| c.is_ascii_alphanumeric()).take(16).collect();
        match Self::listen(&dir.join(format!("{short}.sock"))) {
            Ok(mut s) => {
                s.dir = Some(dir);
                Ok(s)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// The path to pass as `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The master the runtime sent, proxied to this process's stdio ([`Proxy::start`]).
    pub fn into_proxy(self) -> Result<Proxy, ConsoleError> {
        Ok(Proxy::start(self.master()?)?)
    }

    /// The master the runtime sent. Call after the runtime returned successfully (the init
    /// sends the master before `create`/`exec` returns).
    pub fn master(mut self) -> Result<File, ConsoleError> {
        let got = match self.receiver.take() {
            Some(h) => h.join().unwrap_or_else(|_| Err("console receiver panicked".into())),
            None => Err("no console receiver".into()),
        };
        got.map(File::from).map_err(|msg| ConsoleError::Protocol { path: self.path.clone(), msg })
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
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn receive(listener: &UnixListener) -> Result<OwnedFd, String> {
    let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).map_err(|e| format!("recvmsg: {e}"))?;
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
