//! Following a json-file log as it grows, through an open file: a rotation (rename) or the
//! container's removal (unlink) cannot take lines from under a reader that holds the file,
//! because the kernel keeps an unlinked file's data until its last descriptor is closed.

use super::jsonfile::{self, Entry, LogError};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where a cursor starts in the current file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Start,
    End,
    /// A byte offset (just past lines already sent by other means); a file now shorter than
    /// that was replaced since, and is read from its start.
    At(u64),
}

/// A reader of one container's log that holds the current file open.
pub struct Cursor {
    path: PathBuf,
    file: File,
    ino: u64,
    /// Offset in `file` up to which bytes were read.
    pos: u64,
    /// Bytes of a record whose '\n' was not written yet.
    pending: Vec<u8>,
    /// Where the writer links each new generation for this reader (see
    /// [`super::rotate::readers_dir`]); removed on drop.
    handoff: Option<PathBuf>,
}

impl Drop for Cursor {
    fn drop(&mut self) {
        if let Some(d) = &self.handoff {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.to_path_buf(), source }
}

impl Cursor {
    /// Opens the log at `path`. A log nothing was written to yet (attach before the first
    /// start) is created empty, so that the cursor holds the very file the container will
    /// write, however quickly it then exits and is removed.
    pub fn open(path: &Path, from: ReadFrom) -> Result<Self, LogError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Created by appending, as the writers open it: a writer that got there first
                // keeps its content.
                crate::fsperm::private_file().create(true).append(true).open(path).map_err(io_err(path))?;
                File::open(path).map_err(io_err(path))?
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let meta = file.metadata().map_err(io_err(path))?;
        let pos = match from {
            ReadFrom::Start => 0,
            ReadFrom::End => meta.len(),
            ReadFrom::At(o) if o <= meta.len() => o,
            ReadFrom::At(_) => 0,
        };
        Ok(Cursor { path: path.to_path_buf(), file, ino: meta.ino(), pos, pending: Vec::new(), handoff: None })
    }

    /// Like [`open`](Self::open), and registers with the writer so that it hands this reader
    /// every later generation (attach, `logs -f`): rotation then cannot remove lines the
    /// reader has not read, however far behind it falls.
    pub fn open_registered(path: &Path, from: ReadFrom) -> Result<Self, LogError> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = super::rotate::readers_dir(path).join(format!("{}-{n}", std::process::id()));
        // Registered before the current file is opened: a rotation in between is then
        // handed over (and skipped as the file already held).
        crate::fsperm::create_dir_all(&dir, crate::fsperm::DIR_PRIVATE).map_err(io_err(&dir))?;
        match Self::open(path, from) {
            Ok(mut c) => {
                c.handoff = Some(dir);
                Ok(c)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Every complete record written since the last call: the rest of the held file, then,
    /// when the writer has rotated it away, the generations written after it and the new
    /// current file (which the cursor holds from then on).
    pub fn read(&mut self) -> Result<Vec<Entry>, LogError> {
        let mut out = Vec::new();
        self.drain(&mut out)?;
        // Generations the writer handed over, oldest first: one newer than ours exists, so
        // the writer renamed ours before creating it and ours is complete.
        for (link, file, ino) in self.handed_over() {
            let _ = std::fs::remove_file(&link);
            if ino == self.ino {
                continue;
            }
            self.drain(&mut out)?;
            self.switch_to(file, ino, &mut out)?;
        }
        // Unregistered, follow rotations by path. (Registered, the writer links each new
        // file right after creating it; jumping ahead by path would skip the generations
        // still waiting in the handoff directory.)
        if self.handoff.is_some() {
            return Ok(out);
        }
        if let Some((file, ino)) = self.replacement()? {
            // The writer renamed our file before starting the new one, so whatever it wrote
            // to ours is there by now: finish it first.
            self.drain(&mut out)?;
            for older in self.generations_after_ours() {
                out.extend(jsonfile::read_from(&older, 0)?.0);
            }
            self.switch_to(file, ino, &mut out)?;
        }
        Ok(out)
    }

    /// Holds `file` from now on (ours has been read to its end) and reads it.
    fn switch_to(&mut self, file: File, ino: u64, out: &mut Vec<Entry>) -> Result<(), LogError> {
        (self.file, self.ino, self.pos) = (file, ino, 0);
        self.pending.clear();
        self.drain(out)
    }

    /// The files the writer linked into our handoff directory, oldest first, opened.
    fn handed_over(&self) -> Vec<(PathBuf, File, u64)> {
        let Some(dir) = &self.handoff else { return Vec::new() };
        let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut links: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        links.sort();
        links
            .into_iter()
            .filter_map(|l| {
                let f = File::open(&l).ok()?;
                let ino = f.metadata().ok()?.ino();
                Some((l, f, ino))
            })
            .collect()
    }

    /// Reads the held file from `pos` to its end into `out`.
    fn drain(&mut self, out: &mut Vec<Entry>) -> Result<(), LogError> {
        let len = self.file.metadata().map_err(io_err(&self.path))?.len();
        if len < self.pos {
            // Truncated in place (max-file 1): the writer started over.
            self.pos = 0;
            self.pending.clear();
        }
        if len == self.pos {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(self.pos)).map_err(io_err(&self.path))?;
        let mut data = std::mem::take(&mut self.pending);
        let n = self.file.read_to_end(&mut data).map_err(io_err(&self.path))?;
        self.pos += n as u64;
        let (entries, consumed) = jsonfile::parse_records(&data);
        out.extend(entries);
        self.pending = data.split_off(consumed);
        Ok(())
    }

    /// The file now at our path when it is another one than ours (the log was rotated).
    /// Nothing at the path (the container was removed, or the writer is between rename and
    /// create) keeps us on our file.
    fn replacement(&self) -> Result<Option<(File, u64)>, LogError> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.ino() != self.ino => {}
            _ => return Ok(None),
        }
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        let ino = file.metadata().map_err(io_err(&self.path))?.ino();
        Ok((ino != self.ino).then_some((file, ino)))
    }

    /// Rotated generations newer than our file, oldest first: all of them when ours was
    /// rotated out of existence (more rotations than `max-file` since our last read).
    fn generations_after_ours(&self) -> Vec<PathBuf> {
        let gens = jsonfile::rotated_files(&self.path);
        let ours = gens.iter().position(|p| std::fs::metadata(p).is_ok_and(|m| m.ino() == self.ino));
        match ours {
            Some(i) => gens[i + 1..].to_vec(),
            None => gens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::rotate::{Limits, RotatingWriter};

    struct Dir(PathBuf);
    impl Dir {
        fn new(tag: &str) -> Self {
            let d = std::env::temp_dir().join(format!("berth-cursor-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).expect("temp dir");
            Dir(d)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn texts(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|e| e.log.trim_end().to_owned()).collect()
    }

    #[test]
    fn lines_written_before_the_log_is_removed_are_still_read() {
        let dir = Dir::new("rm");
        let path = dir.0.join("c-json.log");
        let mut cursor = Cursor::open(&path, ReadFrom::End).expect("open before the writer");
        let mut w = RotatingWriter::open(&path, Limits::default()).expect("writer");
        w.write("stdout", b"first\nsecond\n").expect("write");
        std::fs::remove_dir_all(&dir.0).expect("remove the container dir");
        assert_eq!(texts(&cursor.read().expect("read")), ["first", "second"]);
    }

    #[test]
    fn rotations_between_reads_lose_and_repeat_nothing() {
        let dir = Dir::new("rot");
        let path = dir.0.join("c-json.log");
        let mut w = RotatingWriter::open(&path, Limits { max_size: Some(2048), max_file: 5 }).expect("writer");
        let mut cursor = Cursor::open(&path, ReadFrom::Start).expect("open");
        let mut seen = Vec::new();
        let mut n = 0;
        for burst in [3usize, 40, 1, 90, 7] {
            for _ in 0..burst {
                w.write("stdout", format!("{n}\n").as_bytes()).expect("write");
                n += 1;
            }
            seen.extend(texts(&cursor.read().expect("read")));
        }
        let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_registered_reader_far_behind_the_writer_reads_generations_rotation_deleted() {
        let dir = Dir::new("handoff");
        let path = dir.0.join("c-json.log");
        let mut w = RotatingWriter::open(&path, Limits { max_size: Some(512), max_file: 2 }).expect("writer");
        let mut registered = Cursor::open_registered(&path, ReadFrom::Start).expect("open registered");
        let mut plain = Cursor::open(&path, ReadFrom::Start).expect("open");
        // About 40 rotations with max-file 2 before either reader reads: most generations are
        // deleted by then.
        for n in 0..1000 {
            w.write("stdout", format!("{n}\n").as_bytes()).expect("write");
        }
        let want: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        assert_eq!(texts(&registered.read().expect("read")), want);
        let got = texts(&plain.read().expect("read"));
        assert!(got.len() < 1000, "following by path alone loses the deleted generations ({} of 1000)", got.len());
        let readers = crate::logs::rotate::readers_dir(&path);
        assert_eq!(std::fs::read_dir(&readers).expect("readers dir").count(), 1, "one registration");
        drop(registered);
        assert_eq!(std::fs::read_dir(&readers).expect("readers dir").count(), 0, "dropping the reader unregisters it");
    }

    #[test]
    fn truncation_in_place_starts_over_and_a_partial_line_waits_for_its_end() {
        let dir = Dir::new("trunc");
        let path = dir.0.join("c-json.log");
        let mut w = RotatingWriter::open(&path, Limits { max_size: Some(1024), max_file: 1 }).expect("writer");
        let mut cursor = Cursor::open(&path, ReadFrom::Start).expect("open");
        let mut seen = Vec::new();
        for i in 0..5 {
            w.write("stdout", format!("{i}\n").as_bytes()).expect("write");
        }
        seen.extend(texts(&cursor.read().expect("read")));
        assert_eq!(seen, ["0", "1", "2", "3", "4"]);
        // Half a record on disk stays pending until the rest arrives.
        std::fs::OpenOptions::new().append(true).open(&path).and_then(|mut f| io::Write::write_all(&mut f, b"{\"log\":\"x")).expect("append");
        assert!(cursor.read().expect("read").is_empty());
        std::fs::write(&path, b"").expect("truncate");
        w.write("stdout", b"after\n").expect("write");
        assert_eq!(texts(&cursor.read().expect("read")), ["after"]);
    }
}
