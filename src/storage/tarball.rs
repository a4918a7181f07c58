//! Writing filesystem entries as a tar stream the way image layers carry them: owner, mode,
//! mtime and xattrs kept (PAX `SCHILY.xattr.*`, overlayfs' own `trusted.overlay.*` left
//! out), hard links within the stream as link entries, devices and fifos as such, and
//! deletions as the image formats' whiteouts (`.wh.NAME`, and `.wh..wh..opq` for a
//! directory whose lower contents are hidden).

use super::tree::Node;
use super::StorageError;
use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A tar stream being written.
pub struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    /// (dev, inode) of files with several links → the path they were first written under.
    links: HashMap<(u64, u64), PathBuf>,
}

fn archive_err(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Archive { path: path.to_path_buf(), source }
}

/// A header with `md`'s owner, permission bits and mtime, of the given type and size.
fn header_from(md: &Metadata, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_entry_type(kind);
    h.set_size(size);
    h
}

/// A zero-length regular-file marker (a whiteout) owned like `md`.
fn marker(md: &Metadata, mode: u32) -> tar::Header {
    let mut h = header_from(md, tar::EntryType::Regular, 0);
    h.set_mode(mode);
    h
}

impl<W: Write> TarWriter<W> {
    /// Starts a tar stream on `out`.
    pub fn new(out: W) -> Self {
        TarWriter { builder: tar::Builder::new(out), links: HashMap::new() }
    }

    /// Writes `node` (a directory alone, not its contents) under the name `rel`. The file is
    /// reached through its tree's root without following links ([`Root::entry`]) and must
    /// still be the one the walk saw: a running container may swap a file or a directory for
    /// a symlink to a host path at any moment.
    pub fn entry(&mut self, rel: &Path, node: &Node) -> Result<(), StorageError> {
        if node.md.file_type().is_socket() {
            return Ok(()); // sockets are not filesystem content a tar can carry
        }
        let Some((src, md)) = node.root.entry(&node.rel, &node.md)? else {
            tracing::warn!(path = %node.src().display(), "left out of the archive: removed or replaced while being archived");
            return Ok(());
        };
        let md = &md;
        let ft = md.file_type();
        if ft.is_file() && md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                let mut h = header_from(md, tar::EntryType::Link, 0);
                return self.builder.append_link(&mut h, rel, &first).map_err(archive_err(rel));
            }
            self.links.insert(key, rel.to_path_buf());
        }
        // overlayfs' private attributes are not content.
        let xattrs: Vec<(String, Vec<u8>)> = src
            .xattrs()
            .into_iter()
            .filter(|(n, _)| !n.as_bytes().starts_with(b"trusted.overlay."))
            .map(|(n, v)| (format!("SCHILY.xattr.{}", n.to_string_lossy()), v))
            .collect();
        if !xattrs.is_empty() {
            let records = xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
            self.builder.append_pax_extensions(records).map_err(archive_err(rel))?;
        }
        if ft.is_dir() {
            let mut h = header_from(md, tar::EntryType::Directory, 0);
            self.append_named(&mut h, rel, io::empty())
        } else if ft.is_symlink() {
            let target = src.read_link()?;
            let mut h = header_from(md, tar::EntryType::Symlink, 0);
            let bytes = target.as_os_str().as_bytes();
            if bytes.len() < h.as_old().linkname.len() {
                // Byte for byte: the tar crate's `set_link_name` rebuilds the target from its
                // components and turns "/" into "//".
                h.set_link_name_literal(bytes).map_err(archive_err(rel))?;
                self.append_named(&mut h, rel, io::empty())
            } else {
                // Too long for the header: a GNU long-link entry, which carries the raw bytes.
                self.builder.append_link(&mut h, rel, target).map_err(archive_err(rel))
            }
        } else if ft.is_file() {
            let size = md.len();
            let file = src.open_file()?;
            // A file that grows or shrinks while it is read (a running container) must not
            // break the stream: exactly `size` bytes go in, zero-padded if it shrank.
            let data = file.take(size).chain(io::repeat(0)).take(size);
            let mut h = header_from(md, tar::EntryType::Regular, size);
            self.append_named(&mut h, rel, data)
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = header_from(md, kind, 0);
            let dev = md.rdev();
            h.set_device_major(nix::sys::stat::major(dev) as u32).map_err(archive_err(rel))?;
            h.set_device_minor(nix::sys::stat::minor(dev) as u32).map_err(archive_err(rel))?;
            self.append_named(&mut h, rel, io::empty())
        }
    }

    /// Appends `h` and `data` under `rel`. A name that starts with `./` or `/` is kept byte
    /// for byte (the tar crate drops `./` and refuses `/`): `docker cp`'s client renames the
    /// entries of a `DIR/.` copy by replacing their leading `.`, and those of a copy of `/`
    /// by prefixing their leading `/`. Such a name too long for the header goes in a GNU
    /// long-name entry before it.
    fn append_named(&mut self, h: &mut tar::Header, rel: &Path, data: impl Read) -> Result<(), StorageError> {
        let bytes = rel.as_os_str().as_bytes();
        if !(bytes.starts_with(b"./") || bytes.starts_with(b"/")) {
            return self.builder.append_data(h, rel, data).map_err(archive_err(rel));
        }
        let field_len = h.as_old().name.len();
        if bytes.len() >= field_len {
            let mut long = tar::Header::new_gnu();
            long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            long.set_entry_type(tar::EntryType::GNULongName);
            long.set_mode(0o644);
            long.set_uid(0);
            long.set_gid(0);
            long.set_mtime(0);
            long.set_size(bytes.len() as u64 + 1);
            long.set_cksum();
            self.builder.append(&long, [bytes, b"\0"].concat().as_slice()).map_err(archive_err(rel))?;
        }
        let n = bytes.len().min(field_len - 1);
        let name = &mut h.as_old_mut().name;
        name.fill(0);
        name[..n].copy_from_slice(&bytes[..n]);
        h.set_cksum();
        self.builder.append(h, data).map_err(archive_err(rel))
    }

    /// Writes the whiteout `.wh.NAME` that deletes `rel`; `md` (the deleted entry's, or
    /// overlayfs' whiteout device's) gives owner and mtime, as Docker does.
    pub fn whiteout(&mut self, rel: &Path, md: &Metadata) -> Result<(), StorageError> {
        let name = rel.file_name().unwrap_or_default().as_bytes();
        let marker_name = rel.with_file_name(std::ffi::OsStr::from_bytes(&[b".wh.", name].concat()));
        let mut h = marker(md, 0o600);
        self.builder.append_data(&mut h, &marker_name, io::empty()).map_err(archive_err(rel))
    }

    /// Writes `.wh..wh..opq` in directory `rel` (hides the lower layers' contents of it).
    pub fn opaque(&mut self, rel: &Path, dir_md: &Metadata) -> Result<(), StorageError> {
        let mut h = marker(dir_md, dir_md.mode() & 0o777);
        let name = rel.join(".wh..wh..opq");
        self.builder.append_data(&mut h, &name, io::empty()).map_err(archive_err(rel))
    }

    /// Writes the end-of-archive blocks and returns the output.
    pub fn finish(self) -> Result<W, StorageError> {
        self.builder.into_inner().map_err(archive_err(Path::new("end of archive")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_are_written_byte_for_byte() {
        let dir = std::env::temp_dir().join(format!("berth-tarball-{}", crate::util::random_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let long = format!("/{}", "x/".repeat(80));
        let targets = ["/", "a//b/./c/", "../up", long.as_str()];
        let mut w = TarWriter::new(Vec::new());
        let root = super::super::beneath::Root::open(&dir).expect("root");
        for (i, t) in targets.iter().enumerate() {
            let rel = PathBuf::from(format!("l{i}"));
            std::os::unix::fs::symlink(t, dir.join(&rel)).expect("symlink");
            let md = root.lstat(&rel).expect("lstat");
            w.entry(&rel, &Node { root: root.clone(), rel: rel.clone(), md }).expect("entry");
        }
        let tar = w.finish().expect("finish");
        let _ = std::fs::remove_dir_all(&dir);
        let mut ar = tar::Archive::new(&tar[..]);
        let got: Vec<Vec<u8>> =
            ar.entries().expect("entries").map(|e| e.expect("entry").link_name_bytes().map(|b| b.into_owned()).unwrap_or_default()).collect();
        let want: Vec<Vec<u8>> = targets.iter().map(|t| t.as_bytes().to_vec()).collect();
        assert_eq!(got, want);
    }
}
