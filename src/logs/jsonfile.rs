//! Docker's json-file log driver format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"RFC3339Nano"}`.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its trailing newline when the line was complete.
    pub log: String,
    /// "stdout" or "stderr".
    pub stream: String,
    /// RFC 3339 time with nanoseconds, UTC.
    pub time: String,
}

/// Errors of the json-file log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file could not be opened, read or written.
    #[error("log file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Appends records to a log file. Each call writes whole lines with one `write`, so a
/// reader never sees half a record unless the writer is killed mid-write.
pub struct Writer {
    path: PathBuf,
    file: File,
    /// Bytes of a line not yet ended by '\n', per stream (stdout, stderr).
    partial: [Vec<u8>; 2],
}

/// Lines longer than this are cut into several records, as Docker does at 16 KiB.
const MAX_LINE: usize = 16 * 1024;

impl Writer {
    /// Opens (creating if needed) the log at `path` for appending.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let file = crate::fsperm::private_file().create(true).append(true).open(path).map_err(|source| LogError::Io { path: path.into(), source })?;
        Ok(Writer { path: path.into(), file, partial: [Vec::new(), Vec::new()] })
    }

    /// Records bytes read from the container's `stream` ("stdout"/"stderr").
    pub fn write(&mut self, stream: &str, data: &[u8]) -> Result<(), LogError> {
        let idx = usize::from(stream == "stderr");
        let mut out = Vec::new();
        let mut buf = std::mem::take(&mut self.partial[idx]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            encode(&mut out, stream, &buf[start..end]);
            start = end;
        }
        while buf.len() - start >= MAX_LINE {
            encode(&mut out, stream, &buf[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        self.partial[idx] = buf[start..].to_vec();
        self.append(&out)
    }

    /// Writes out what is left of unfinished lines (the stream ended without '\n').
    pub fn flush_partial(&mut self) -> Result<(), LogError> {
        let mut out = Vec::new();
        for (idx, stream) in ["stdout", "stderr"].iter().enumerate() {
            let rest = std::mem::take(&mut self.partial[idx]);
            if !rest.is_empty() {
                encode(&mut out, stream, &rest);
            }
        }
        self.append(&out)
    }

    fn append(&mut self, out: &[u8]) -> Result<(), LogError> {
        if out.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        while written < out.len() {
            match self.file.write(&out[written..]) {
                Ok(0) => return Err(self.roll_back(written, io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.roll_back(written, e)),
            }
        }
        Ok(())
    }

    /// Cuts off the `written` bytes of a failed append (a full disk takes part of a write),
    /// so the log never holds half a record that the next one would be glued to.
    fn roll_back(&mut self, written: usize, source: io::Error) -> LogError {
        if written > 0
            && let Ok(len) = self.file.metadata().map(|m| m.len())
        {
            let _ = self.file.set_len(len.saturating_sub(written as u64));
        }
        LogError::Io { path: self.path.clone(), source }
    }
}

fn encode(out: &mut Vec<u8>, stream: &str, line: &[u8]) {
    let entry = Entry {
        log: String::from_utf8_lossy(line).into_owned(),
        stream: stream.to_owned(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    };
    // Serializing a struct of Strings cannot fail.
    if let Ok(mut line) = serde_json::to_vec(&entry) {
        line.push(b'\n');
        out.extend_from_slice(&line);
    }
}

/// Reads the complete records from byte `offset` on; returns them and the offset just past
/// the last complete line (a line still being written is left for the next call).
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<Entry>, u64), LogError> {
    let err = |source| LogError::Io { path: path.into(), source };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(err(e)),
    };
    file.seek(SeekFrom::Start(offset)).map_err(err)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(err)?;
    let (entries, consumed) = parse_records(&data);
    Ok((entries, offset + consumed as u64))
}

/// The records of the complete lines at the start of `data`, and how many bytes those lines
/// take (an unfinished last line is left out).
pub fn parse_records(data: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut consumed = 0usize;
    while let Some(pos) = data[consumed..].iter().position(|&b| b == b'\n') {
        let line = &data[consumed..consumed + pos];
        consumed += pos + 1;
        // A torn line (writer killed mid-write) is skipped rather than failing the read.
        if let Ok(e) = serde_json::from_slice::<Entry>(line) {
            entries.push(e);
        }
    }
    (entries, consumed)
}

/// Rotated generations of the log at `path`, oldest first (`path.N` … `path.1`), as the
/// writer leaves them when `max-file` > 1.
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut gens: Vec<(u32, PathBuf)> = Vec::new();
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let fname = e.file_name();
            let Some(n) = fname.to_str().and_then(|f| f.strip_prefix(name)).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            if let Ok(k) = n.parse::<u32>() {
                gens.push((k, e.path()));
            }
        }
    }
    gens.sort_by_key(|g| std::cmp::Reverse(g.0));
    gens.into_iter().map(|(_, p)| p).collect()
}

/// Every complete record of the log, rotated generations first; returns them and the
/// offset reached in the current file.
pub fn read_all(path: &Path) -> Result<(Vec<Entry>, u64), LogError> {
    let mut all = Vec::new();
    for old in rotated_files(path) {
        all.extend(read_from(&old, 0)?.0);
    }
    let (cur, off) = read_from(path, 0)?;
    all.extend(cur);
    Ok((all, off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_writes_become_one_record_per_line() {
        let dir = std::env::temp_dir().join(format!("berth-jsonfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c-json.log");
        let mut w = Writer::open(&path).unwrap();
        w.write("stdout", b"hel").unwrap();
        w.write("stderr", b"err\n").unwrap();
        w.write("stdout", b"lo\nwor").unwrap();
        let (entries, off) = read_from(&path, 0).unwrap();
        assert_eq!(entries.iter().map(|e| (e.stream.as_str(), e.log.as_str())).collect::<Vec<_>>(), vec![("stderr", "err\n"), ("stdout", "hello\n")]);
        w.flush_partial().unwrap();
        let (rest, _) = read_from(&path, off).unwrap();
        assert_eq!(rest[0].log, "wor");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
