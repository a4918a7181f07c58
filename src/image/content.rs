//! The content store: blobs by sha256 under `<root>/image/blobs/sha256/<hex>`. A blob is
//! verified against its digest while it is written, and appears only once complete
//! (temp file, fsync, rename), so a partial download or a crash never leaves a bad blob.

use super::digest::{self, HashingWriter, InvalidDigest};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Errors of the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The digest itself is malformed.
    #[error(transparent)]
    Invalid(#[from] InvalidDigest),
    /// The bytes do not hash to the digest they were announced with; nothing was stored.
    #[error("blob digest mismatch: expected {expected}, got {actual}; blob rejected")]
    Mismatch { expected: String, actual: String },
    /// The blob is not in the store.
    #[error("blob {0} not found in the content store")]
    Missing(String),
    /// A file of the store could not be read or written.
    #[error("content store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContentError + '_ {
    move |source| ContentError::Io { path: path.to_path_buf(), source }
}

/// The blob store of one daemon root.
pub struct ContentStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl ContentStore {
    /// Opens (creating) `<image dir>/blobs/sha256`, with temp files in `<image dir>/tmp`.
    pub fn open(image_dir: &Path) -> Result<Self, ContentError> {
        let dir = image_dir.join("blobs").join("sha256");
        let tmp = image_dir.join("tmp");
        for d in [&dir, &tmp] {
            crate::fsperm::ensure_dir(d, crate::fsperm::DIR_PRIVATE).map_err(io_err(d))?;
        }
        Ok(ContentStore { dir, tmp })
    }

    /// Path of the blob with this digest (whether or not it exists).
    pub fn path(&self, digest: &str) -> Result<PathBuf, ContentError> {
        Ok(self.dir.join(digest::hex_of(digest)?))
    }

    /// Whether the blob is stored.
    pub fn has(&self, digest: &str) -> bool {
        self.path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Opens a stored blob.
    pub fn open_blob(&self, digest: &str) -> Result<File, ContentError> {
        let p = self.path(digest)?;
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ContentError::Missing(digest.to_owned()),
            _ => ContentError::Io { path: p.clone(), source: e },
        })
    }

    /// Reads a (small) stored blob whole.
    pub fn read(&self, digest: &str) -> Result<Vec<u8>, ContentError> {
        let mut data = Vec::new();
        let mut f = self.open_blob(digest)?;
        f.read_to_end(&mut data).map_err(io_err(&self.dir))?;
        Ok(data)
    }

    /// Starts writing a blob that must hash to `expected`.
    pub fn writer(&self, expected: &str) -> Result<BlobWriter, ContentError> {
        let hex = digest::hex_of(expected)?;
        let tmp = self.tmp.join(format!("blob-{hex}-{}", crate::util::random_id()));
        let file = crate::fsperm::create_private(&tmp).map_err(io_err(&tmp))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            dest: self.dir.join(hex),
            expected: expected.to_owned(),
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            written: 0,
        })
    }

    /// Stores the bytes of `reader`, which must hash to `expected`; returns the size.
    pub fn write_verified(&self, expected: &str, reader: impl Read) -> Result<u64, ContentError> {
        let mut w = self.writer(expected)?;
        let mut r = reader;
        io::copy(&mut r, &mut w).map_err(io_err(&w.tmp.clone()))?;
        w.commit()
    }

    /// Stores `data` under its own digest; returns the digest.
    pub fn put(&self, data: &[u8]) -> Result<String, ContentError> {
        let d = digest::of_bytes(data);
        if !self.has(&d) {
            self.write_verified(&d, data)?;
        }
        Ok(d)
    }

    /// Stores the bytes of `reader` under whatever digest they have; returns (digest, size).
    pub fn put_reader(&self, mut reader: impl Read) -> Result<(String, u64), ContentError> {
        self.ingest(|w| io::copy(&mut reader, w).map(|_| ()))
    }

    /// Stores whatever `write` writes under its digest (computed while it is written); the
    /// blob appears only once complete. Returns (digest, size).
    pub fn ingest(&self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(String, u64), ContentError> {
        let tmp = self.tmp.join(format!("blob-{}", crate::util::random_id()));
        let result = (|| {
            let f = crate::fsperm::create_private(&tmp).map_err(io_err(&tmp))?;
            let mut hw = HashingWriter::new(io::BufWriter::with_capacity(256 * 1024, f));
            write(&mut hw).map_err(io_err(&tmp))?;
            let (d, n, buffered) = hw.finish();
            let f = buffered.into_inner().map_err(|e| ContentError::Io { path: tmp.clone(), source: e.into_error() })?;
            f.sync_all().map_err(io_err(&tmp))?;
            let dest = self.path(&d)?;
            std::fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
            Ok((d, n))
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Stores the file at `file` (in the store's temp dir, so on the same filesystem) as the
    /// blob `digest`, which the caller computed while writing it: linked into place, not
    /// copied. The file itself stays where it is.
    pub fn adopt(&self, file: &Path, digest: &str) -> Result<(), ContentError> {
        if self.has(digest) {
            return Ok(());
        }
        let dest = self.path(digest)?;
        File::open(file).and_then(|f| f.sync_all()).map_err(io_err(file))?;
        match std::fs::hard_link(file, &dest) {
            Ok(()) => File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_err(&self.dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            // A filesystem without hard links: copy, verifying again.
            Err(_) => self.write_verified(digest, File::open(file).map_err(io_err(file))?).map(|_| ()),
        }
    }

    /// The hex digests of every stored blob.
    pub fn stored(&self) -> Result<Vec<String>, ContentError> {
        let rd = std::fs::read_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| digest::hex_of(&format!("sha256:{n}")).is_ok())
            .collect())
    }

    /// Deletes a blob (missing is fine).
    pub fn remove(&self, digest: &str) -> Result<(), ContentError> {
        let p = self.path(digest)?;
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ContentError::Io { path: p, source: e }),
            _ => Ok(()),
        }
    }
}

/// A blob being written: bytes go to a temp file and are hashed; [`BlobWriter::commit`]
/// renames it into place only if the digest matches. Dropped uncommitted, it leaves nothing.
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    expected: String,
    hasher: sha2::Sha256,
    written: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self.file.as_mut().ok_or_else(|| io::Error::other("blob writer already committed"))?;
        let n = f.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Verifies the digest, then makes the blob visible (fsync + rename + fsync dir).
    pub fn commit(mut self) -> Result<u64, ContentError> {
        let file = self.file.take();
        let actual = format!("sha256:{}", hex::encode(sha2::Digest::finalize(self.hasher.clone())));
        if actual != self.expected {
            return Err(ContentError::Mismatch { expected: self.expected.clone(), actual });
        }
        if let Some(f) = file {
            f.sync_all().map_err(io_err(&self.tmp))?;
        }
        std::fs::rename(&self.tmp, &self.dest).map_err(io_err(&self.dest))?;
        if let Some(dir) = self.dest.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
        }
        Ok(self.written)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Committed: the temp name is gone already. Otherwise: a partial or bad blob.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_rejected_and_not_stored() {
        let dir = std::env::temp_dir().join(format!("berth-content-{}", crate::util::random_id()));
        let cs = ContentStore::open(&dir).expect("open");
        let want = digest::of_bytes(b"hello");
        let err = cs.write_verified(&want, &b"hellO"[..]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("digest mismatch"), "{err}");
        assert!(!cs.has(&want));
        assert_eq!(std::fs::read_dir(dir.join("tmp")).map(|d| d.count()).unwrap_or(1), 0, "no temp left");
        assert_eq!(cs.write_verified(&want, &b"hello"[..]).ok(), Some(5));
        assert_eq!(cs.read(&want).ok().as_deref(), Some(&b"hello"[..]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
