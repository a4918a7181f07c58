//! Attaching to a container's stdin and terminal. A container with `OpenStdin` reads its
//! stdin from a fifo in its directory; the shim (modular) or this daemon (monolithic) holds
//! the fifo's reading end and a writer of its own, so the container's stdin stays open while
//! no attach writes to it and across berthd restarts. Attach streams write into the fifo;
//! with `StdinOnce`, the end of an attach's input closes the container's stdin (CloseIO).

use super::container::{Container, Status};
use super::{Daemon, DaemonError};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

/// The name of the stdin fifo in a container's directory.
const STDIN_FIFO: &str = "stdin";
/// Docker's default detach keys: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];
/// How often an ended input looks whether its container has started yet: often at first
/// (`run` starts it right after attaching), then rarely (a start that failed leaves the
/// container created until it is started again or removed).
const START_POLL: Duration = Duration::from_millis(25);
const START_POLL_LATER: Duration = Duration::from_millis(500);
/// How long the frequent polling lasts.
const START_POLL_FAST_FOR: Duration = Duration::from_secs(10);

/// How an attach's input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEnd {
    /// The client closed its input (or its connection).
    Eof,
    /// The client typed the detach keys.
    Detached,
    /// The container's stdin can no longer be written (it is closed).
    Closed,
}

/// Parses Docker's detach keys (`ctrl-p,ctrl-q`: comma-separated, each a single character
/// or `ctrl-` and one of a-z @ [ \ ] ^ _) into the bytes a terminal sends for them.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        if key.len() == 1 {
            out.push(key.as_bytes()[0]);
            continue;
        }
        let lower = key.to_ascii_lowercase();
        let code = lower.strip_prefix("ctrl-").and_then(|k| match k.as_bytes() {
            [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
            [b'@'] => Some(0),
            [c @ (b'[' | b'\\' | b']' | b'^' | b'_')] => Some(c - b'[' + 27),
            _ => None,
        });
        match code {
            Some(c) => out.push(c),
            None => return Err(format!("Invalid detach keys ({spec}) provided: unknown character {key:?}")),
        }
    }
    Ok(out)
}

/// Copies `input` into `stdin` until the input ends, the stdin closes, or `detach_keys`
/// are typed (they are not forwarded; a partial match is forwarded once it stops matching).
pub async fn copy_input<R: AsyncRead + Unpin>(input: &mut R, stdin: &mut pipe::Sender, detach_keys: Option<&[u8]>) -> InputEnd {
    let keys = detach_keys.filter(|k| !k.is_empty());
    let mut buf = vec![0u8; 32 * 1024];
    let mut matched = 0usize;
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) | Err(_) => return InputEnd::Eof,
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            let Some(keys) = keys else {
                out.push(b);
                continue;
            };
            if b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    // What came before the keys still goes in.
                    if stdin.write_all(&out).await.is_err() {
                        return InputEnd::Closed;
                    }
                    return InputEnd::Detached;
                }
            } else {
                out.extend_from_slice(&keys[..matched]);
                matched = 0;
                if b == keys[0] {
                    matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        if stdin.write_all(&out).await.is_err() {
            return InputEnd::Closed;
        }
    }
}

impl Daemon {
    fn stdin_fifo_path(&self, id: &str) -> PathBuf {
        self.containers.dir_of(id).join(STDIN_FIFO)
    }

    /// The stdin fifo of container `c`, made if missing, for its start; empty without
    /// `OpenStdin` (the container's stdin is /dev/null then).
    pub(super) fn stdin_fifo(&self, c: &Container) -> Result<String, DaemonError> {
        if !c.config.open_stdin {
            return Ok(String::new());
        }
        let path = self.stdin_fifo_path(&c.id);
        match nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(path.to_string_lossy().into_owned()),
            Err(e) => Err(DaemonError::io("mkfifo", &path, e.into())),
        }
    }

    /// Opens container `c`'s stdin fifo for an attach. Opened for reading too, it never
    /// blocks, and what is written before the container starts (`run` attaches first)
    /// waits in the fifo for the container's reader.
    pub fn attach_stdin(&self, c: &Container) -> Result<pipe::Sender, DaemonError> {
        let path = PathBuf::from(self.stdin_fifo(c)?);
        pipe::OpenOptions::new().read_write(true).open_sender(&path).map_err(|e| DaemonError::io("open", &path, e))
    }

    /// The input of an attach to container `id` ended with `StdinOnce`: the container's
    /// stdin closes once what is in the fifo has been read. A container not started since
    /// `attached_at` (`run` attaches before it starts) is waited for: its reader is not
    /// there yet to take the input.
    pub async fn close_container_stdin(&self, id: &str, stdin: pipe::Sender, attached_at: Option<chrono::DateTime<chrono::Utc>>) {
        let fast_until = tokio::time::Instant::now() + START_POLL_FAST_FOR;
        loop {
            match self.containers.get(id) {
                Ok(c) if c.state.status == Status::Running || c.state.started_at != attached_at => break,
                Ok(_) => tokio::time::sleep(if tokio::time::Instant::now() < fast_until { START_POLL } else { START_POLL_LATER }).await,
                // Removed: nothing to close.
                Err(_) => return,
            }
        }
        drop(stdin);
        if let Err(e) = self.backend.close_stdin(id).await {
            tracing::debug!(container = id, "close stdin: {e}");
        }
    }

    /// `POST /containers/{id}/resize`: sets the window size of a running container's terminal.
    pub async fn container_resize(&self, name_or_id: &str, width: u32, height: u32) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        if c.state.status != Status::Running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        if !c.config.tty {
            return Err(DaemonError::BadRequest(format!("Container {id} has no terminal to resize (it was created without Tty)")));
        }
        self.backend.resize(&id, width, height).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_are_read_as_docker_reads_them_and_bad_ones_refused() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q"), Ok(DEFAULT_DETACH_KEYS.to_vec()));
        assert_eq!(parse_detach_keys("a,CTRL-A,ctrl-@,ctrl-_"), Ok(vec![b'a', 1, 0, 31]));
        for bad in ["ctrl-", "ctrl-1", "shift-a", "ab", ""] {
            let e = parse_detach_keys(bad).expect_err(bad);
            assert!(e.contains("Invalid detach keys"), "{e}");
        }
    }

    #[tokio::test]
    async fn input_stops_at_the_detach_keys_and_a_broken_match_is_forwarded() {
        let dir = crate::util::TestDir::new("attach-keys");
        let fifo = dir.path().join("f");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let mut reader = pipe::OpenOptions::new().read_write(true).open_receiver(&fifo).expect("reader");
        let mut w = pipe::OpenOptions::new().open_sender(&fifo).expect("writer");
        let mut input: &[u8] = b"ab\x10c\x10\x10\x11tail";
        assert_eq!(copy_input(&mut input, &mut w, Some(DEFAULT_DETACH_KEYS)).await, InputEnd::Detached);
        let mut got = vec![0u8; 16];
        let n = reader.read(&mut got).await.expect("read");
        assert_eq!(&got[..n], b"ab\x10c\x10");
        let mut input: &[u8] = b"plain";
        assert_eq!(copy_input(&mut input, &mut w, None).await, InputEnd::Eof);
    }
}
