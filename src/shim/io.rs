//! The container's stdout/stderr: pipes the shim creates, and copier threads that drain them
//! into a json-file log (`jsonfile://PATH`), a containerd fifo / plain file (`PATH`), or
//! nowhere (empty). Copiers never depend on the supervisor or the daemon.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::logs::jsonfile::Writer;

use super::ShimError;

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
    writer: Mutex<Writer>,
    open_streams: AtomicUsize,
}

enum Sink {
    Null,
    Log(Arc<SharedLog>),
    Path(PathBuf),
}

/// The write ends to hand to the runtime (they become the container's fds 1 and 2).
pub struct ContainerStdio {
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

fn pipe(id: &str) -> Result<(OwnedFd, OwnedFd), ShimError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| ShimError::io("pipe for container", Path::new(id), e.into()))
}

fn null_fd() -> Result<OwnedFd, ShimError> {
    let f = OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| ShimError::io("open", Path::new("/dev/null"), e))?;
    Ok(f.into())
}

/// Sets up stdout/stderr of container `id` as the CreateTaskRequest asks and starts copiers.
pub fn setup(id: &str, stdout: &str, stderr: &str, drain: &Arc<Drain>) -> Result<ContainerStdio, ShimError> {
    let mut logs: Vec<(String, Arc<SharedLog>)> = Vec::new();
    let mut sink_for = |uri: &str| -> Result<Sink, ShimError> {
        if uri.is_empty() {
            return Ok(Sink::Null);
        }
        if let Some(path) = uri.strip_prefix("jsonfile://") {
            if let Some((_, l)) = logs.iter().find(|(p, _)| p == path) {
                l.open_streams.fetch_add(1, Ordering::SeqCst);
                return Ok(Sink::Log(l.clone()));
            }
            let path_buf = PathBuf::from(path);
            if let Some(dir) = path_buf.parent() {
                std::fs::create_dir_all(dir).map_err(|e| ShimError::io("create log directory", dir, e))?;
            }
            let writer = Writer::open(&path_buf).map_err(|e| ShimError::Invalid(format!("container {id}: {e}")))?;
            let l = Arc::new(SharedLog { writer: Mutex::new(writer), open_streams: AtomicUsize::new(1) });
            logs.push((path.to_owned(), l.clone()));
            return Ok(Sink::Log(l));
        }
        let path = uri.strip_prefix("file://").or_else(|| uri.strip_prefix("fifo://")).unwrap_or(uri);
        Ok(Sink::Path(PathBuf::from(path)))
    };
    let out_sink = sink_for(stdout)?;
    let err_sink = sink_for(stderr)?;
    let stdout_fd = stream(id, "stdout", out_sink, drain)?;
    let stderr_fd = stream(id, "stderr", err_sink, drain)?;
    Ok(ContainerStdio { stdout: stdout_fd, stderr: stderr_fd })
}

fn stream(id: &str, name: &'static str, sink: Sink, drain: &Arc<Drain>) -> Result<OwnedFd, ShimError> {
    if let Sink::Null = sink {
        return null_fd();
    }
    let (r, w) = pipe(id)?;
    let drain2 = drain.clone();
    let id2 = id.to_owned();
    drain.add();
    let spawned = std::thread::Builder::new()
        .name(format!("io-{name}"))
        .spawn(move || {
            copy(&id2, name, File::from(r), sink);
            drain2.done();
        });
    if let Err(e) = spawned {
        drain.done();
        return Err(ShimError::io("spawn copier thread for", Path::new(id), e));
    }
    Ok(w)
}

fn open_path(path: &Path) -> std::io::Result<File> {
    let is_fifo = std::fs::metadata(path).map(|m| m.file_type().is_fifo()).unwrap_or(false);
    if is_fifo {
        // O_RDWR never blocks on a fifo without a reader yet (Linux), unlike O_WRONLY.
        OpenOptions::new().read(true).write(true).open(path)
    } else {
        OpenOptions::new().create(true).append(true).open(path)
    }
}

fn copy(id: &str, name: &'static str, mut src: File, sink: Sink) {
    let mut out = match &sink {
        Sink::Path(p) => match open_path(p) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(container = id, "{name}: open {}: {e}; discarding output", p.display());
                None
            }
        },
        _ => None,
    };
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
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
            }
            Sink::Path(p) => {
                if let Some(f) = out.as_mut()
                    && let Err(e) = f.write_all(&buf[..n]) {
                        tracing::warn!(container = id, "{name}: write {}: {e}", p.display());
                        out = None;
                    }
            }
            Sink::Null => {}
        }
    }
    if let Sink::Log(l) = &sink
        && l.open_streams.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut w = l.writer.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = w.flush_partial() {
                tracing::warn!(container = id, "{name}: {e}");
            }
        }
}
