//! The receiving end of the `--console-socket` protocol (runc's): whoever wants the terminal
//! of a `process.terminal` container listens on a unix socket, the runtime's init creates the
//! pty inside the container and sends its master back over SCM_RIGHTS. The shim owns the
//! master for engines; a foreground `run`/`exec` without `--console-socket` owns it itself
//! and copies between it and its own stdio ([`Proxy`]), as runc does.

use std::fs::File;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Errors of the console socket and the terminal proxy.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A socket, file or terminal call failed.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// The runtime did not send a pty master.
    #[error("console socket {path}: {msg}")]
    Protocol { path: PathBuf, msg: String },
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
        self.master().and_then(Proxy::start)
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

/// Sets the window size of the pty whose master is `master`.
pub fn resize(master: &File, width: u32, height: u32) -> Result<(), ConsoleError> {
    let ws = libc::winsize { ws_row: height.min(u16::MAX as u32) as u16, ws_col: width.min(u16::MAX as u32) as u16, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(ConsoleError::Io { what: "resize pty", path: "console".into(), source: std::io::Error::last_os_error() });
    }
    Ok(())
}

/// The window size (columns, rows) of the terminal on `fd`, if it is one.
pub fn window_size(fd: RawFd) -> Option<(u32, u32)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes a winsize struct that lives for the call.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col.into(), ws.ws_row.into()))
}

/// A foreground terminal: the container's pty master copied to and from this process's
/// stdio. When stdin is a terminal it is put in raw mode (the container's pty does the line
/// editing and echo) and restored by [`Proxy::finish`] or drop.
pub struct Proxy {
    master: File,
    raw: Option<RawMode>,
    output: Option<JoinHandle<()>>,
}

/// Our stdin in raw mode while this lives (the container's pty does the line editing and
/// echo); the saved mode is restored on drop.
pub struct RawMode(Termios);

impl RawMode {
    /// Puts stdin in raw mode; None when stdin is not a terminal.
    pub fn enter() -> Result<Option<Self>, ConsoleError> {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else { return Ok(None) };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).map_err(|e| ConsoleError::Io {
            what: "set raw mode on stdin",
            path: "console".into(),
            source: e.into(),
        })?;
        Ok(Some(RawMode(saved)))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}

impl Proxy {
    /// Starts copying: stdin to the master (on EOF of a non-terminal stdin the pty gets its
    /// EOF character, so a reader inside sees the end), the master to stdout.
    pub fn start(master: File) -> Result<Self, ConsoleError> {
        let io = |what, source| ConsoleError::Io { what, path: "console".into(), source };
        let raw = RawMode::enter()?;
        let mut proxy = Proxy { master, raw, output: None };
        copy_size(&proxy.master);
        let mut to_pty = proxy.master.try_clone().map_err(|e| io("dup pty master", e))?;
        let eof = match &proxy.raw {
            None => tcgetattr(proxy.master.as_fd()).ok().map(|t| t.control_chars[libc::VEOF]),
            Some(_) => None,
        };
        std::thread::Builder::new()
            .name("console-in".into())
            .spawn(move || {
                if copy(&mut std::io::stdin().lock(), &mut to_pty)
                    && let Some(c) = eof
                {
                    let _ = to_pty.write_all(&[c]);
                }
            })
            .map_err(|e| io("spawn console input thread", e))?;
        let mut from_pty = proxy.master.try_clone().map_err(|e| io("dup pty master", e))?;
        proxy.output = Some(
            std::thread::Builder::new()
                .name("console-out".into())
                // Ends with EIO once the last holder of the pty's slave side is gone.
                .spawn(move || {
                    copy(&mut from_pty, &mut std::io::stdout().lock());
                })
                .map_err(|e| io("spawn console output thread", e))?,
        );
        Ok(proxy)
    }

    /// A handle that resizes the pty from another thread.
    pub fn resizer(&self) -> Option<Resizer> {
        self.master.try_clone().ok().map(|master| Resizer { master })
    }

    /// Waits until everything the container wrote is copied out, then restores stdin.
    pub fn finish(mut self) {
        if let Some(h) = self.output.take() {
            let _ = h.join();
        }
    }
}

/// Resizes a [`Proxy`]'s pty to this process's terminal size.
pub struct Resizer {
    master: File,
}

impl Resizer {
    /// Copies our terminal's current size to the container's pty (on SIGWINCH).
    pub fn sync(&self) {
        copy_size(&self.master);
    }
}

/// Copies `from` to `to` (flushing each chunk) until either side fails or `from` ends;
/// true when it ended (EOF).
fn copy(from: &mut impl Read, to: &mut impl Write) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                if to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Gives the pty behind `master` the size of our own terminal, if we have one.
fn copy_size(master: &File) {
    if let Some((w, h)) = window_size(libc::STDIN_FILENO).or_else(|| window_size(libc::STDOUT_FILENO)) {
        let _ = resize(master, w, h);
    }
}
