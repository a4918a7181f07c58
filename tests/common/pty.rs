//! A terminal for a client under test: a pty pair of a given size whose slave is the
//! controlling terminal and stdio of `sh -c LINE`, with the master read until every slave fd
//! is closed (EIO), so that no output is lost however fast the command exits (script(1)
//! stops reading when its child exits, and lost a fast `docker exec -t` on a loaded CI run).

use nix::pty::{openpty, Winsize};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// What a command printed on its terminal, and how it ended.
pub struct TermOutput {
    pub status: ExitStatus,
    /// Everything written to the terminal (stdout and stderr share it), lossily decoded.
    pub text: String,
}

/// Runs `sh -c line` with `env` on a fresh terminal of `rows` x `cols` whose input is
/// `input` (typed at once; nothing closes the terminal's input). Killed after 60 s.
pub fn on_a_terminal(line: &str, size: (u16, u16), input: &[u8], env: &[(&str, String)]) -> TermOutput {
    on_a_terminal_steps(line, size, &[("", input)], env)
}

/// [`on_a_terminal`], typing each step's input once the terminal shows its text (what the
/// command printed so far contains it): keys that the terminal's line discipline would take
/// for itself before the client made it raw (ctrl-q, ctrl-c) wait for the client's output.
pub fn on_a_terminal_steps(line: &str, (rows, cols): (u16, u16), steps: &[(&str, &[u8])], env: &[(&str, String)]) -> TermOutput {
    let size = Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = openpty(Some(&size), None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let stdio = |f: &std::fs::File| Stdio::from(f.try_clone().expect("dup pty slave"));
    let mut cmd = Command::new("timeout");
    cmd.args(["60", "sh", "-c", line])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(stdio(&slave))
        .stdout(stdio(&slave))
        .stderr(stdio(&slave));
    // SAFETY: only async-signal-safe calls between fork and exec: setsid and an ioctl on fd 0,
    // the slave, which makes it the new session's controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn sh on a pty");
    // Only the child holds the slave now (the Command kept its copies): its last close ends
    // our reads with EIO.
    drop(cmd);
    drop(slave);
    let mut master = std::fs::File::from(pty.master);
    let mut writer = master.try_clone().expect("dup pty master");
    let (tx, rx) = mpsc::channel();
    let fd = master.as_raw_fd();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => seen2.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // EIO: every slave fd is closed, all that was written has been read.
                Err(_) => break,
            }
        }
        let _ = tx.send(());
    });
    let shown = || String::from_utf8_lossy(&seen.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    for (wait_for, input) in steps {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !shown().contains(wait_for) {
            assert!(std::time::Instant::now() < deadline, "`{line}`: {wait_for:?} not shown in 30 s: {:?}", shown());
            std::thread::sleep(Duration::from_millis(10));
        }
        writer.write_all(input).expect("type on the terminal");
    }
    let status = child.wait().expect("wait for sh on a pty");
    rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("the terminal (master fd {fd}) is still held open 20 s after `{line}` ended"));
    drop(writer);
    TermOutput { status, text: shown() }
}
