//! A container process's stdio, the same for both modes: pipes (or a pty master) that the shim,
//! or the monolithic daemon, holds, and copier threads that drain output into a json-file log (`jsonfile://PATH[?max-size=10m&max-file=3]`, rotated like
//! Docker's json-file driver), a containerd fifo / plain file (`PATH`, `fifo://`, `file://`),
//! or nowhere (empty), and feed stdin from a fifo. Copiers never depend on the supervisor or
//! the daemon, so logging never blocks while those are down.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::logs::rotate::{Limits, RotatingWriter};
use crate::logs::{LogTarget, CHUNKS_KEY};

/// Errors of stdio setup.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// A pipe, file or thread call failed.
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// A stdio URI or its log options are invalid.
    #[error("{0}")]
    Invalid(String),
}

impl StdioError {
    fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        StdioError::Io { what, path: path.to_path_buf(), source }
    }
}

/// The fds a process gets as stdin, stdout and stderr (None: /dev/null).
#[derive(Default)]
pub struct ProcessStdio {
    /// Read end of the stdin pipe.
    pub stdin: Option<OwnedFd>,
    /// Write end of the stdout pipe.
    pub stdout: Option<OwnedFd>,
    /// Write end of the stderr pipe.
    pub stderr: Option<OwnedFd>,
}

/// How long a process's exit waits for its output to drain: a daemonized grandchild may keep
/// the pipes open for ever, and the exit must still be reported.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Counts copier threads still running, so the exit can wait for output to drain.
#[derive(Default)]
pub struct Drain {
    running: Mutex<usize>,
    cv: Condvar,
}

impl Drain {
    fn add(&self) {
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }
    fn done(&self) {
        let mut n = self.running.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.cv.notify_all();
    }
    /// Waits until every copier has reached EOF, at most `timeout`; returns whether they did.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = match self.cv.wait_timeout(n, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }
}

/// A json-file writer shared by the streams that go to it; the last one to finish flushes.
struct SharedLog {
    writer: Mutex<RotatingWriter>,
    open_streams: AtomicUsize,
}

enum Sink {
    Null,
    Log(Arc<SharedLog>),
    Path(PathBuf),
}

/// Where a process's stdin goes. Its copier reads the stdin fifo until EOF, which comes once
/// CloseIO has released the shim's own writer of the fifo and the client has closed its
/// one (as in containerd's shim): input still in the fifo at CloseIO is not lost.
#[derive(Default)]
pub struct Stdin {
    target: Mutex<Option<File>>,
    /// The shim's writer of the stdin fifo, which keeps the copier from seeing EOF early.
    holder: Mutex<Option<File>>,
}

impl Stdin {
    /// Closes the process's stdin (a pipe or the pty: the process reads EOF).
    pub fn close(&self) {
        self.target.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// CloseIO: the copier ends once the fifo is drained and the client's end is closed.
    /// Without a copier holding the fifo, the process's stdin is closed at once.
    pub fn close_io(&self) {
        let held = self.holder.lock().unwrap_or_else(|p| p.into_inner()).take();
        if held.is_none() {
            self.close();
        }
    }

    fn write(&self, data: &[u8]) -> bool {
        let mut t = self.target.lock().unwrap_or_else(|p| p.into_inner());
        match t.as_mut() {
            Some(f) => f.write_all(data).is_ok(),
            None => false,
        }
    }
}

fn pipe(id: &str) -> Result<(OwnedFd, OwnedFd), StdioError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| StdioError::io("pipe for container", Path::new(id), e.into()))
}

/// Whether a stdio URI asks for [`CHUNKS_KEY`], and the URI without it.
fn take_chunks(uri: &str) -> (bool, String) {
    let Some((base, query)) = uri.split_once('?') else { return (false, uri.to_owned()) };
    let mut chunks = false;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            let hit = *kv == format!("{CHUNKS_KEY}=1");
            chunks |= hit;
            !hit
        })
        .collect();
    if rest.is_empty() {
        (chunks, base.to_owned())
    } else {
        (chunks, format!("{base}?{}", rest.join("&")))
    }
}

/// Splits `jsonfile:///p?max-size=4k&max-file=3` into the path and rotation limits.
fn parse_jsonfile(id: &str, rest: &str) -> Result<(PathBuf, Limits), StdioError> {
    let t = LogTarget::from_uri(rest).map_err(|e| StdioError::Invalid(format!("container {id}: {e}")))?;
    Ok((t.path, t.limits))
}

/// Opens the sinks of stdout and stderr (a shared writer when both name the same log).
fn sinks(id: &str, stdout: &str, stderr: &str) -> Result<(Sink, Sink), StdioError> {
    let mut logs: Vec<(PathBuf, Arc<SharedLog>)> = Vec::new();
    let mut sink_for = |uri: &str| -> Result<Sink, StdioError> {
        if uri.is_empty() {
            return Ok(Sink::Null);
        }
        if let Some(rest) = uri.strip_prefix("jsonfile://") {
            let (path, limits) = parse_jsonfile(id, rest)?;
            if let Some((_, l)) = logs.iter().find(|(p, _)| p == &path) {
                l.open_streams.fetch_add(1, Ordering::SeqCst);
                return Ok(Sink::Log(l.clone()));
            }
            if let Some(dir) = path.parent() {
                crate::fsperm::create_dir_all(dir, crate::fsperm::DIR_PRIVATE).map_err(|e| StdioError::io("create log directory", dir, e))?;
            }
            let writer = RotatingWriter::open(&path, limits).map_err(|e| StdioError::Invalid(format!("container {id}: {e}")))?;
            let l = Arc::new(SharedLog { writer: Mutex::new(writer), open_streams: AtomicUsize::new(1) });
            logs.push((path, l.clone()));
            return Ok(Sink::Log(l));
        }
        // Any other scheme (containerd's `binary://` logging) is refused by name rather than
        // taken for a path that cannot be opened, which would discard the output.
        if let Some((scheme, _)) = uri.split_once("://")
            && !matches!(scheme, "file" | "fifo")
        {
            return Err(StdioError::Invalid(format!(
                "container {id}: stdio URI scheme {scheme}:// is not supported (jsonfile://, file://, fifo:// or a path)"
            )));
        }
        let path = uri.strip_prefix("file://").or_else(|| uri.strip_prefix("fifo://")).unwrap_or(uri);
        Ok(Sink::Path(PathBuf::from(path)))
    };
    let out = sink_for(stdout)?;
    let err = sink_for(stderr)?;
    Ok((out, err))
}

/// Pipes for a process without a terminal: the fds for the runtime, and the stdin handle.
pub fn pipes(id: &str, stdin: &str, stdout: &str, stderr: &str, drain: &Arc<Drain>) -> Result<(ProcessStdio, Arc<Stdin>), StdioError> {
    let (out_sink, err_sink) = sinks(id, stdout, stderr)?;
    let mut stdio = ProcessStdio::default();
    if !matches!(out_sink, Sink::Null) {
        let (r, w) = pipe(id)?;
        spawn_copy(id, "stdout", File::from(r), out_sink, drain, false)?;
        stdio.stdout = Some(w);
    }
    if !matches!(err_sink, Sink::Null) {
        let (r, w) = pipe(id)?;
        spawn_copy(id, "stderr", File::from(r), err_sink, drain, false)?;
        stdio.stderr = Some(w);
    }
    let input = Arc::new(Stdin::default());
    if !stdin.is_empty() {
        let (r, w) = pipe(id)?;
        *input.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(File::from(w));
        spawn_stdin(id, stdin, input.clone())?;
        stdio.stdin = Some(r);
    }
    Ok((stdio, input))
}

/// Copies output that arrives already split into `stdout` and `stderr` (a logging binary's
/// fds) into the sink `uri` names, as [`pipes`] copies a process's; the drain ends once
/// both reach EOF. With [`CHUNKS_KEY`] in the URI, every read is logged as it comes.
pub fn copy_streams(id: &str, stdout: File, stderr: File, uri: &str) -> Result<Arc<Drain>, StdioError> {
    let drain = Arc::new(Drain::default());
    let (chunks, uri) = take_chunks(uri);
    let (out_sink, err_sink) = sinks(id, &uri, &uri)?;
    spawn_copy(id, "stdout", stdout, out_sink, &drain, chunks)?;
    spawn_copy(id, "stderr", stderr, err_sink, &drain, chunks)?;
    Ok(drain)
}

/// Copies for a process with a terminal: master → stdout sink, stdin fifo → master.
pub fn console(id: &str, master: &File, stdin: &str, stdout: &str, drain: &Arc<Drain>) -> Result<Arc<Stdin>, StdioError> {
    let (out_sink, _) = sinks(id, stdout, "")?;
    let dup = |m: &File| m.try_clone().map_err(|e| StdioError::io("dup pty master of", Path::new(id), e));
    if !matches!(out_sink, Sink::Null) {
        // A terminal's output is logged as it comes, unfinished lines too: attach reads
        // the log, and a shell's prompt has no newline.
        spawn_copy(id, "stdout", dup(master)?, out_sink, drain, true)?;
    }
    let input = Arc::new(Stdin::default());
    if !stdin.is_empty() {
        *input.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(dup(master)?);
        spawn_stdin(id, stdin, input.clone())?;
    }
    Ok(input)
}

fn spawn_stdin(id: &str, uri: &str, input: Arc<Stdin>) -> Result<(), StdioError> {
    let path = PathBuf::from(uri.strip_prefix("fifo://").or_else(|| uri.strip_prefix("file://")).unwrap_or(uri));
    let is_fifo = std::fs::metadata(&path).map(|m| m.file_type().is_fifo()).unwrap_or(false);
    let src = if is_fifo {
        // Reader first (non-blocking, so no wait for the client), then our writer, which
        // the reader's presence lets open at once; then the reader may block in reads.
        use std::os::unix::fs::OpenOptionsExt;
        let io = |what, e| StdioError::io(what, &path, e);
        let reader = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&path).map_err(|e| io("open stdin fifo", e))?;
        let holder = OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&path).map_err(|e| io("hold stdin fifo", e))?;
        nix::fcntl::fcntl(&reader, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()))
            .map_err(|e| io("make stdin fifo blocking", e.into()))?;
        *input.holder.lock().unwrap_or_else(|p| p.into_inner()) = Some(holder);
        Some(reader)
    } else {
        None
    };
    let id2 = id.to_owned();
    std::thread::Builder::new()
        .name("io-stdin".into())
        .spawn(move || {
            let src = match src {
                Some(f) => Ok(f),
                None => File::open(&path),
            };
            let mut src = match src {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(container = id2, "stdin: open {}: {e}", path.display());
                    input.close();
                    return;
                }
            };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if !input.write(&buf[..n]) {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            input.close();
        })
        .map(|_| ())
        .map_err(|e| StdioError::io("spawn stdin copier for", Path::new(id), e))
}

fn spawn_copy(id: &str, name: &'static str, src: File, sink: Sink, drain: &Arc<Drain>, chunks: bool) -> Result<(), StdioError> {
    // The sink is open before the caller answers: a client's reader that opens its fifo
    // after our reply and finds no writer reads EOF at once, and the output is lost.
    let out = match &sink {
        Sink::Path(p) => match open_path(p) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(container = id, "{name}: open {}: {e}; discarding output", p.display());
                None
            }
        },
        _ => None,
    };
    let drain2 = drain.clone();
    let id2 = id.to_owned();
    drain.add();
    let spawned = std::thread::Builder::new().name(format!("io-{name}")).spawn(move || {
        copy(&id2, name, src, sink, out, chunks);
        drain2.done();
    });
    if let Err(e) = spawned {
        drain.done();
        return Err(StdioError::io("spawn copier thread for", Path::new(id), e));
    }
    Ok(())
}

fn open_path(path: &Path) -> std::io::Result<File> {
    let is_fifo = std::fs::metadata(path).map(|m| m.file_type().is_fifo()).unwrap_or(false);
    if is_fifo {
        // O_RDWR never blocks on a fifo without a reader yet (Linux), unlike O_WRONLY.
        OpenOptions::new().read(true).write(true).open(path)
    } else {
        crate::fsperm::private_file().create(true).append(true).open(path)
    }
}

/// Copies `src` to `sink` (through `out`, the sink's open file, for a path) until EOF; with
/// `chunks`, a log gets every read as a record, ended by a newline or not.
fn copy(id: &str, name: &'static str, mut src: File, sink: Sink, mut out: Option<File>, chunks: bool) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A pty master reads EIO once every slave fd is closed: that is its EOF.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => {
                tracing::warn!(container = id, "{name}: read: {e}");
                break;
            }
        };
        match &sink {
            Sink::Log(l) => {
                let mut w = l.writer.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = w.write(name, &buf[..n]) {
                    tracing::warn!(container = id, "{name}: {e}");
                }
                if chunks && let Err(e) = w.flush_partial() {
                    tracing::warn!(container = id, "{name}: {e}");
                }
            }
            Sink::Path(p) => {
                if let Some(f) = out.as_mut()
                    && let Err(e) = f.write_all(&buf[..n])
                {
                    tracing::warn!(container = id, "{name}: write {}: {e}", p.display());
                    out = None;
                }
            }
            Sink::Null => {}
        }
    }
    if let Some(f) = &out
        && f.metadata().is_ok_and(|m| m.file_type().is_fifo())
    {
        linger_until_read(f);
    }
    if let Sink::Log(l) = &sink
        && l.open_streams.fetch_sub(1, Ordering::SeqCst) == 1
    {
        let mut w = l.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = w.flush_partial() {
            tracing::warn!(container = id, "{name}: {e}");
        }
    }
}

/// How long the last output in a fifo waits for the client's reader: containerd's clients
/// (ctr) open their readers in the background, possibly after a fast process has exited.
const FIFO_LINGER: Duration = Duration::from_secs(5);

/// Keeps our end of a fifo open until a client has read what is still in it (at most
/// [`FIFO_LINGER`]): closing the last end while nobody has opened theirs discards it, and
/// a fast exec's whole output was lost that way.
fn linger_until_read(fifo: &File) {
    let deadline = Instant::now() + FIFO_LINGER;
    let mut pause = Duration::from_micros(200);
    while unread(fifo) > 0 && Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Bytes written to a pipe or fifo and not read yet.
fn unread(fifo: &File) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores one c_int through the pointer, which is valid for the call.
    let rc = unsafe { libc::ioctl(fifo.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == 0 {
        usize::try_from(n).unwrap_or(0)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn the_chunks_key_is_taken_out_of_a_logger_uri_and_the_rest_kept() {
        assert_eq!(take_chunks("jsonfile:///l?chunks=1"), (true, "jsonfile:///l".into()));
        assert_eq!(take_chunks("jsonfile:///l?max-size=1&max-file=2&chunks=1"), (true, "jsonfile:///l?max-size=1&max-file=2".into()));
        assert_eq!(take_chunks("jsonfile:///l?max-size=1&max-file=2"), (false, "jsonfile:///l?max-size=1&max-file=2".into()));
        assert_eq!(take_chunks("jsonfile:///l"), (false, "jsonfile:///l".into()));
    }

    #[test]
    fn an_unknown_stdio_scheme_is_refused_by_name() {
        let drain = Arc::new(Drain::default());
        let e = pipes("c", "", "binary:///usr/bin/logger?a=b", "", &drain).err().expect("binary:// refused").to_string();
        assert!(e.contains("scheme binary://"), "{e}");
    }

    #[test]
    fn output_of_a_process_that_ended_before_the_client_opened_its_fifo_is_kept_for_it() {
        let dir = crate::util::TestDir::new("stdio-late");
        let fifo = dir.path().join("stdout");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let drain = Arc::new(Drain::default());
        let (stdio, _) = pipes("late", "", &fifo.to_string_lossy(), "", &drain).expect("pipes");
        let mut w = File::from(stdio.stdout.expect("a stdout pipe"));
        w.write_all(b"in-exec\n").expect("write");
        drop(w);
        // The process has exited and nobody reads yet: the copier must not finish (and close
        // the fifo, discarding what is in it) before a reader came.
        assert!(!drain.wait(Duration::from_millis(800)), "the copier closed the fifo with unread output");
        let mut r = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).expect("open reader");
        let mut buf = [0u8; 64];
        let n = r.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"in-exec\n");
        assert!(drain.wait(Duration::from_secs(5)), "the copier ends once its output was read");
    }
}
