//! Layer tars: compression detection (gzip, zstd, plain) and extraction into a layer
//! directory that cannot escape it. Whiteouts become what overlayfs understands:
//! `.wh.NAME` → a 0:0 character device NAME, `.wh..wh..opq` → `trusted.overlay.opaque=y`
//! on the directory. Ownership, modes, mtimes and xattrs are kept.

use super::digest::HashingReader;
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Errors of layer extraction.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// An entry would land outside the layer root; nothing of it was written.
    #[error("refusing layer entry {entry:?}: {reason}")]
    Unsafe { entry: String, reason: String },
    /// The stream is not a (compressed) tar.
    #[error("corrupt layer: {0}")]
    Corrupt(String),
    /// The uncompressed tar does not hash to the diff id the image config announced.
    #[error("layer diff id mismatch: expected {expected}, got {actual}")]
    DiffIdMismatch { expected: String, actual: String },
    /// Writing the extracted file failed.
    #[error("extract {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Zstd,
}

impl Compression {
    /// Sniffs the magic bytes at the start of `head`.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::Plain
        }
    }

    /// The Docker schema2 / OCI layer media type for this compression.
    pub fn media_type(self, oci: bool) -> &'static str {
        match (self, oci) {
            (Compression::Plain, false) => "application/vnd.docker.image.rootfs.diff.tar",
            (Compression::Gzip, false) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            (Compression::Zstd, false) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (Compression::Plain, true) => "application/vnd.oci.image.layer.v1.tar",
            (Compression::Gzip, true) => "application/vnd.oci.image.layer.v1.tar+gzip",
            (Compression::Zstd, true) => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// The uncompressed tar stream of a (possibly compressed) layer blob.
pub fn decompressed<'a>(blob: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut r = BufReader::with_capacity(256 * 1024, blob);
    let kind = Compression::detect(r.fill_buf()?);
    Ok(match kind {
        Compression::Plain => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

fn unsafe_entry(entry: &Path, reason: impl Into<String>) -> LayerError {
    LayerError::Unsafe { entry: entry.display().to_string(), reason: reason.into() }
}

/// A tar path made relative and checked: no absolute paths, no `..`.
fn checked_relative(raw: &Path) -> Result<PathBuf, LayerError> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(unsafe_entry(raw, "path contains '..' and would escape the layer root"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(raw, "absolute path would escape the layer root"));
            }
        }
    }
    Ok(out)
}

/// The opaque-directory marker of the image formats.
const OPAQUE: &[u8] = b".wh..wh..opq";

/// Refuses whiteout names that do not name one entry of their own directory (`.wh.`,
/// `.wh..`, `.wh...`: removing "", "." or ".." would hit the directory itself or its
/// parent), and whiteouts used as directories (`.wh.a/b`), which no layer tool writes.
fn check_whiteouts(rel: &Path, raw: &Path) -> Result<(), LayerError> {
    let comps: Vec<&OsStr> = rel.iter().collect();
    for (i, c) in comps.iter().enumerate() {
        let Some(hidden) = c.as_bytes().strip_prefix(b".wh.") else {
            continue;
        };
        if i + 1 < comps.len() {
            return Err(unsafe_entry(raw, format!("whiteout {:?} is used as a directory", c)));
        }
        if c.as_bytes() != OPAQUE && (hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/')) {
            return Err(unsafe_entry(raw, format!("whiteout {:?} does not name an entry of its directory", c)));
        }
    }
    Ok(())
}

/// Refuses `rel` if any of its existing parents inside `root` is a symlink: writing through
/// one could land anywhere on the host. (The staging directory is berthd's own: nothing but
/// this extraction changes it meanwhile.)
fn check_parents(root: &Path, rel: &Path, entry: &Path) -> Result<(), LayerError> {
    let mut cur = root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(md) if md.file_type().is_symlink() => {
                return Err(unsafe_entry(
                    entry,
                    format!("parent {:?} is a symlink; writing through it could escape the layer root", cur.strip_prefix(root).unwrap_or(&cur)),
                ));
            }
            Ok(md) if !md.is_dir() => {
                return Err(unsafe_entry(entry, "a parent is not a directory"));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> LayerError + '_ {
    move |source| LayerError::Io { path: path.to_path_buf(), source }
}

/// Removes whatever is at `p` (not following symlinks); directories only if `dirs_too`.
fn remove_existing(p: &Path, dirs_too: bool) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => {
            if dirs_too {
                std::fs::remove_dir_all(p)
            } else {
                Ok(())
            }
        }
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes the device node or fifo that `h` describes at `target`, with its owner, mode and mtime.
fn make_node(h: &tar::Header, target: &Path) -> Result<(), LayerError> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let corrupt = |e: io::Error| LayerError::Corrupt(e.to_string());
    let kind = match h.entry_type() {
        tar::EntryType::Char => SFlag::S_IFCHR,
        tar::EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let dev = makedev(h.device_major().map_err(corrupt)?.unwrap_or(0).into(), h.device_minor().map_err(corrupt)?.unwrap_or(0).into());
    let mode = h.mode().map_err(corrupt)? & 0o7777;
    let sys = |e: nix::Error| LayerError::Io { path: target.to_path_buf(), source: e.into() };
    mknod(target, kind, Mode::from_bits_truncate(mode), dev).map_err(sys)?;
    let (uid, gid) = (h.uid().map_err(corrupt)?, h.gid().map_err(corrupt)?);
    std::os::unix::fs::lchown(target, Some(uid as u32), Some(gid as u32)).map_err(io_at(target))?;
    // mknod applied the umask: set the exact mode.
    nix::sys::stat::fchmodat(nix::fcntl::AT_FDCWD, target, Mode::from_bits_truncate(mode), nix::sys::stat::FchmodatFlags::FollowSymlink)
        .map_err(sys)?;
    let t = filetime::FileTime::from_unix_time(h.mtime().map_err(corrupt)? as i64, 0);
    filetime::set_symlink_file_times(target, t, t).map_err(io_at(target))
}

/// Extracts the layer blob `blob` (plain, gzip or zstd tar) into the empty directory
/// `dest`; returns the diff id (sha256 of the uncompressed tar). On error `dest` may hold a
/// part of the layer but nothing was written outside it; callers extract into a staging dir.
pub fn apply(blob: impl Read, dest: &Path) -> Result<String, LayerError> {
    let tar_stream = decompressed(blob).map_err(|e| LayerError::Corrupt(e.to_string()))?;
    let mut hashing = HashingReader::new(tar_stream);
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut hashing);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_preserve_mtime(true);
        archive.set_unpack_xattrs(true);
        archive.set_overwrite(true);
        let entries = archive.entries().map_err(|e| LayerError::Corrupt(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| LayerError::Corrupt(e.to_string()))?;
            let raw = entry.path().map_err(|e| LayerError::Corrupt(e.to_string()))?.into_owned();
            let rel = checked_relative(&raw)?;
            if rel.as_os_str().is_empty() {
                continue; // "./" itself
            }
            check_whiteouts(&rel, &raw)?;
            check_parents(dest, &rel, &raw)?;
            let target = dest.join(&rel);
            let name = rel.file_name().unwrap_or_default().as_bytes().to_vec();
            let parent = target.parent().unwrap_or(dest).to_path_buf();
            if let Some(hidden) = name.strip_prefix(b".wh.") {
                std::fs::create_dir_all(&parent).map_err(io_at(&parent))?;
                if name == OPAQUE {
                    xattr::set(&parent, "trusted.overlay.opaque", b"y").map_err(io_at(&parent))?;
                } else {
                    let gone = parent.join(OsStr::from_bytes(hidden));
                    remove_existing(&gone, true).map_err(io_at(&gone))?;
                    nix::sys::stat::mknod(&gone, nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0)
                        .map_err(|e| LayerError::Io { path: gone.clone(), source: e.into() })?;
                }
                continue;
            }
            std::fs::create_dir_all(&parent).map_err(io_at(&parent))?;
            let kind = entry.header().entry_type();
            if kind.is_hard_link() {
                let link = entry
                    .link_name()
                    .map_err(|e| LayerError::Corrupt(e.to_string()))?
                    .ok_or_else(|| unsafe_entry(&raw, "hard link without a target"))?
                    .into_owned();
                let link_rel =
                    checked_relative(&link).map_err(|_| unsafe_entry(&raw, format!("hard link target {link:?} is outside the layer root")))?;
                check_parents(dest, &link_rel, &raw)?;
                let src = dest.join(&link_rel);
                match std::fs::symlink_metadata(&src) {
                    Ok(md) if !md.is_dir() => {}
                    _ => {
                        return Err(unsafe_entry(&raw, format!("hard link target {link:?} is not a file of this layer")));
                    }
                }
                remove_existing(&target, false).map_err(io_at(&target))?;
                std::fs::hard_link(&src, &target).map_err(io_at(&target))?;
                continue;
            }
            let keep_dir = kind.is_dir() && std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir());
            if !keep_dir {
                // Replace, never follow, whatever an earlier entry left at this name (a
                // directory entry over a symlink must not chmod/chown the link's target).
                remove_existing(&target, true).map_err(io_at(&target))?;
            }
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                // The tar crate would write these as empty regular files.
                make_node(entry.header(), &target)?;
                continue;
            }
            if kind.is_dir()
                && let Ok(m) = entry.header().mtime()
            {
                dir_times.push((target.clone(), m as i64));
            }
            entry.unpack(&target).map_err(io_at(&target))?;
        }
    }
    hashing.drain().map_err(|e| LayerError::Corrupt(e.to_string()))?;
    // Later entries touched the directories: put their recorded mtimes back, deepest first.
    for (dir, mtime) in dir_times.into_iter().rev() {
        let t = filetime::FileTime::from_unix_time(mtime, 0);
        let _ = filetime::set_symlink_file_times(&dir, t, t);
    }
    Ok(hashing.finish().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    #[test]
    fn whiteouts_naming_no_entry_of_their_directory_are_refused_and_remove_nothing() {
        let base = std::env::temp_dir().join(format!("berth-wh-{}", crate::util::random_id()));
        let (layer, canary) = (base.join("layer"), base.join("canary"));
        std::fs::create_dir_all(&layer).expect("layer dir");
        std::fs::write(&canary, b"keep").expect("canary");
        for name in [".wh...", ".wh..", ".wh.", "d/.wh...", ".wh.a/b"] {
            let tar = tar_with(|b| {
                let mut h = tar::Header::new_gnu();
                h.set_size(0);
                h.set_mode(0o644);
                let _ = b.append_data(&mut h, name, &b""[..]);
            });
            let err = apply(&tar[..], &layer).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("refusing layer entry") && err.contains(".wh."), "{name}: {err}");
        }
        assert_eq!(std::fs::read(&canary).ok().as_deref(), Some(&b"keep"[..]), "nothing outside the layer changed");
        assert!(layer.is_dir());
        let _ = std::fs::remove_dir_all(&base);
    }

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap_or_default()
    }

    #[test]
    fn owners_modes_mtimes_xattrs_and_whiteouts_are_kept_and_the_diff_id_is_the_plain_tar_digest() {
        let plain = tar_with(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o750);
            h.set_uid(1234);
            h.set_gid(5678);
            h.set_mtime(1_500_000_000);
            h.set_size(0);
            let _ = b.append_data(&mut h, "d/", &b""[..]);
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o4755);
            h.set_uid(42);
            h.set_gid(43);
            h.set_mtime(1_600_000_000);
            h.set_size(2);
            let _ = b.append_pax_extensions([("SCHILY.xattr.user.berth", &b"yes"[..])]);
            let _ = b.append_data(&mut h, "d/f", &b"hi"[..]);
            for name in ["d/.wh.gone", "d/.wh..wh..opq"] {
                let mut h = tar::Header::new_gnu();
                h.set_size(0);
                h.set_mode(0o644);
                let _ = b.append_data(&mut h, name, &b""[..]);
            }
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = io::Write::write_all(&mut gz, &plain);
        let gz = gz.finish().unwrap_or_default();
        for blob in [plain.clone(), gz, zstd::stream::encode_all(&plain[..], 1).unwrap_or_default()] {
            let dir = std::env::temp_dir().join(format!("berth-layer-{}", crate::util::random_id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let diff = apply(&blob[..], &dir).expect("apply");
            assert_eq!(diff, super::super::digest::of_bytes(&plain));
            let f = std::fs::symlink_metadata(dir.join("d/f")).expect("d/f");
            assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777, f.mtime()), (42, 43, 0o4755, 1_600_000_000));
            assert_eq!(xattr::get(dir.join("d/f"), "user.berth").ok().flatten().as_deref(), Some(&b"yes"[..]));
            let d = std::fs::symlink_metadata(dir.join("d")).expect("d");
            assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777, d.mtime()), (1234, 5678, 0o750, 1_500_000_000));
            let w = std::fs::symlink_metadata(dir.join("d/gone")).expect("whiteout");
            assert!(w.file_type().is_char_device() && w.rdev() == 0, "whiteout is a 0:0 char device");
            assert_eq!(xattr::get(dir.join("d"), "trusted.overlay.opaque").ok().flatten().as_deref(), Some(&b"y"[..]));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
