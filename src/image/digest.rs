//! sha256 content digests ("sha256:<64 hex>"): parsing, computing, hashing readers.

use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};

/// A digest string that is not "sha256:" followed by 64 lowercase hex digits.
#[derive(Debug, thiserror::Error)]
#[error("invalid digest {0:?}: berth stores only sha256:<64 hex digits>")]
pub struct InvalidDigest(pub String);

/// The hex part of a validated "sha256:<hex>" digest.
pub fn hex_of(digest: &str) -> Result<&str, InvalidDigest> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| InvalidDigest(digest.to_owned()))?;
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(hex)
    } else {
        Err(InvalidDigest(digest.to_owned()))
    }
}

/// "sha256:<hex>" of `data`.
pub fn of_bytes(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A reader that hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), count: 0 }
    }

    /// Reads what is left (tar's end-of-archive padding, say) so the digest covers it all.
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// "sha256:<hex>" of what was read, and how many bytes.
    pub fn finish(self) -> (String, u64) {
        (format!("sha256:{}", hex::encode(self.hasher.finalize())), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), count: 0 }
    }

    /// "sha256:<hex>" of what was written, how many bytes, and the inner writer.
    pub fn finish(self) -> (String, u64, W) {
        (format!("sha256:{}", hex::encode(self.hasher.finalize())), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_lowercase_sha256_digests_are_accepted() {
        let good = of_bytes(b"");
        assert_eq!(hex_of(&good).ok(), Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert!(hex_of("sha256:abc").is_err());
        assert!(hex_of("sha512:00").is_err());
        assert!(hex_of(&good.to_uppercase()).is_err());
        assert!(hex_of(&format!("{good}/../x")).is_err());
    }
}
