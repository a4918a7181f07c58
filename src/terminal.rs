//! Terminal helpers shared by every side that holds a pty: raw mode for our own stdin, window
//! sizes, and the foreground proxy that copies a container's pty master to and from this
//! process's stdio. The client, the runtime's foreground `run`/`exec`, the shim and the
//! monolithic daemon all use these; none of them owns a copy.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::thread::JoinHandle;

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// A terminal call failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct TerminalError {
    /// What was being done.
    pub what: &'static str,
    /// The system error.
    #[source]
    pub source: std::io::Error,
}

/// Sets the window size of the pty whose master is `master`.
pub fn resize(master: &File, width: u32, height: u32) -> Result<(), TerminalError> {
    let ws = libc::winsize { ws_row: height.min(u16::MAX as u32) as u16, ws_col: width.min(u16::MAX as u32) as u16, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(TerminalError { what: "resize pty", source: std::io::Error::last_os_error() });
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
    pub fn enter() -> Result<Option<Self>, TerminalError> {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else { return Ok(None) };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).map_err(|e| TerminalError { what: "set raw mode on stdin", source: e.into() })?;
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
    pub fn start(master: File) -> Result<Self, TerminalError> {
        let io = |what, source| TerminalError { what, source };
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
