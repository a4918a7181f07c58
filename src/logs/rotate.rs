//! A json-file log that rotates like Docker's json-file driver (`max-size`, `max-file`):
//! when `x-json.log` reaches `max-size`, it becomes `x-json.log.1` (older ones shift up to
//! `x-json.log.<max-file - 1>`, the oldest is dropped) and a fresh `x-json.log` is started.
//! Rotation happens only between complete records, so no record is ever split across files.

use std::path::{Path, PathBuf};

use super::jsonfile::{LogError, Writer};

/// Lines longer than this are cut into several records (as [`Writer`] does).
const MAX_LINE: usize = 16 * 1024;

/// Rotation limits; `max_size: None` never rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rotate once the current file holds at least this many bytes.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (at least 1; 1 = truncate in place).
    pub max_file: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_size: None, max_file: 1 }
    }
}

/// A json-file writer that rotates by size.
pub struct RotatingWriter {
    path: PathBuf,
    limits: Limits,
    writer: Writer,
    /// Bytes of a line not yet ended by '\n', per stream (stdout, stderr).
    partial: [Vec<u8>; 2],
}

impl RotatingWriter {
    /// Opens (creating if needed) the log at `path` for appending.
    pub fn open(path: &Path, limits: Limits) -> Result<Self, LogError> {
        let limits = Limits { max_file: limits.max_file.max(1), ..limits };
        Ok(RotatingWriter { path: path.to_path_buf(), limits, writer: Writer::open(path)?, partial: [Vec::new(), Vec::new()] })
    }

    /// Records bytes read from the container's `stream` ("stdout"/"stderr").
    pub fn write(&mut self, stream: &str, data: &[u8]) -> Result<(), LogError> {
        let idx = usize::from(stream == "stderr");
        let mut buf = std::mem::take(&mut self.partial[idx]);
        buf.extend_from_slice(data);
        let mut start = 0;
        let mut result = Ok(());
        loop {
            let end = match buf[start..].iter().position(|&b| b == b'\n') {
                Some(pos) if pos < MAX_LINE => start + pos + 1,
                _ if buf.len() - start >= MAX_LINE => start + MAX_LINE,
                _ => break,
            };
            // Whole records only: the inner writer never holds a partial line, so a rotation
            // (a fresh inner writer) loses nothing.
            // A chunk of MAX_LINE bytes is encoded at once by the inner writer as well.
            let r = self.writer.write(stream, &buf[start..end]);
            if r.is_err() && result.is_ok() {
                result = r;
            }
            start = end;
            self.maybe_rotate()?;
        }
        self.partial[idx] = buf[start..].to_vec();
        result
    }

    /// Writes out what is left of unfinished lines (the stream ended without '\n').
    pub fn flush_partial(&mut self) -> Result<(), LogError> {
        for (idx, stream) in ["stdout", "stderr"].iter().enumerate() {
            let rest = std::mem::take(&mut self.partial[idx]);
            if !rest.is_empty() {
                self.writer.write(stream, &rest)?;
                self.writer.flush_partial()?;
            }
        }
        self.maybe_rotate()
    }

    fn maybe_rotate(&mut self) -> Result<(), LogError> {
        let Some(max) = self.limits.max_size else { return Ok(()) };
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size < max {
            return Ok(());
        }
        let io = |path: &Path, source| LogError::Io { path: path.to_path_buf(), source };
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.limits.max_file == 1 {
            crate::fsperm::create_private(&self.path).map_err(|e| io(&self.path, e))?;
        } else {
            let oldest = numbered(self.limits.max_file - 1);
            match std::fs::remove_file(&oldest) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&oldest, e)),
            }
            for n in (1..self.limits.max_file - 1).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1)).map_err(|e| io(&from, e))?;
                }
            }
            std::fs::rename(&self.path, numbered(1)).map_err(|e| io(&self.path, e))?;
        }
        self.writer = Writer::open(&self.path)?;
        if self.limits.max_file > 1 {
            hand_to_readers(&self.path);
        }
        Ok(())
    }
}

/// The directory where readers of the log at `path` register (one subdirectory each,
/// named `<pid>-<n>`): see [`hand_to_readers`].
pub fn readers_dir(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.readers", path.display()))
}

/// Right after a rotation, links the new current file into every registered reader's
/// directory (names sort in creation order). A reader then holds every generation however
/// far it falls behind, and rotation (which deletes the oldest) cannot take unread lines
/// from it; the reader unlinks each file once it holds it open. Directories of readers
/// whose process is gone are removed, so a crashed reader leaks nothing.
fn hand_to_readers(path: &Path) {
    let Ok(entries) = std::fs::read_dir(readers_dir(path)) else { return };
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    for e in entries.flatten() {
        let dir = e.path();
        let pid = e.file_name().to_str().and_then(|n| n.split('-').next()?.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if !alive {
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let _ = std::fs::hard_link(path, dir.join(format!("{stamp:032}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_keeping_at_most_max_file_files_with_the_newest_lines() {
        let dir = std::env::temp_dir().join(format!("berth-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("x-json.log");
        let mut w = RotatingWriter::open(&log, Limits { max_size: Some(4096), max_file: 3 }).expect("open");
        for i in 0..1000 {
            w.write("stdout", format!("{i}\n").as_bytes()).expect("write");
        }
        w.flush_partial().expect("flush");
        let files: Vec<_> = std::fs::read_dir(&dir).expect("ls").flatten().collect();
        assert!(files.len() <= 3, "{} files", files.len());
        for f in &files {
            assert!(f.metadata().expect("stat").len() <= 4096 + 200, "{:?} too big", f.path());
        }
        let (entries, _) = super::super::jsonfile::read_from(&log, 0).expect("read");
        assert_eq!(entries.last().map(|e| e.log.as_str()), Some("999\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
