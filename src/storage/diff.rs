//! A container's changes against its image, as the layer that `commit` makes of them: read
//! from overlay2's upper dir (whose whiteouts and opaque directories already say what was
//! deleted), or, for vfs, found by comparing the container's full copy with the merged
//! view of the image's layers (Docker's "naive diff").

use super::beneath::Root;
use super::tarball::TarWriter;
use super::tree::{is_whiteout, Merged, Node};
use super::StorageError;
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One change at a path.
#[derive(Debug)]
pub enum Change {
    /// Added or modified (for a directory: its own entry, not its contents).
    Node(Node),
    /// A directory whose lower contents are all hidden (deleted and made again).
    OpaqueDir(Node),
    /// Deleted; the metadata (of overlayfs' whiteout, or of the deleted entry) gives the
    /// whiteout's owner and mtime.
    Deleted(Metadata),
}

/// Changes by relative path, parents before children.
#[derive(Debug, Default)]
pub struct Changes(BTreeMap<PathBuf, Change>);

impl Changes {
    /// The changes recorded in overlay upper dir `upper`.
    pub fn from_upper(upper: &Path) -> Result<Changes, StorageError> {
        let mut out = Changes::default();
        out.walk_upper(&Root::open(upper)?, Path::new(""))?;
        Ok(out)
    }

    fn walk_upper(&mut self, root: &Arc<Root>, rel: &Path) -> Result<(), StorageError> {
        for (name, md) in root.entries(rel)? {
            let r = rel.join(&name);
            if is_whiteout(&md) {
                self.0.insert(r, Change::Deleted(md));
            } else if md.is_dir() {
                let node = Node { root: root.clone(), rel: r.clone(), md };
                let change = if root.is_opaque(&r) { Change::OpaqueDir(node) } else { Change::Node(node) };
                self.0.insert(r.clone(), change);
                self.walk_upper(root, &r)?;
            } else {
                self.0.insert(r.clone(), Change::Node(Node { root: root.clone(), rel: r, md }));
            }
        }
        Ok(())
    }

    /// The changes of the full copy `rootfs` against the image layers `lowers` (topmost
    /// first): what was added or modified, and whiteouts for what is gone.
    pub fn between(rootfs: &Path, lowers: &[PathBuf]) -> Result<Changes, StorageError> {
        let lower = Merged::of(lowers)?;
        let root = Root::open(rootfs)?;
        let mut out = Changes::default();
        out.walk_copy(&root, Path::new(""), &lower)?;
        // Deletions: names of the image the copy lacks. Below a deleted (or replaced)
        // directory nothing more needs saying.
        let mut gone: Option<&Path> = None;
        for (r, node) in lower.iter() {
            if gone.is_some_and(|g| r.starts_with(g)) {
                continue;
            }
            match root.lstat(r) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    out.0.insert(r.clone(), Change::Deleted(node.md.clone()));
                    gone = Some(r.as_path());
                }
                Ok(md) if node.md.is_dir() && !md.is_dir() => gone = Some(r.as_path()),
                _ => {}
            }
        }
        // A layer tar names the parent directories of what changed (overlayfs' upper dir
        // holds them too): their owner and mode are part of the change.
        let mut parents = Vec::new();
        for r in out.0.keys() {
            for p in r.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()) {
                if !out.0.contains_key(p) {
                    parents.push(p.to_path_buf());
                }
            }
        }
        for p in parents {
            let md = root.lstat(&p).map_err(|source| StorageError::Read { path: root.display(&p), source })?;
            out.0.insert(p.clone(), Change::Node(Node { root: root.clone(), rel: p, md }));
        }
        Ok(out)
    }

    fn walk_copy(&mut self, root: &Arc<Root>, rel: &Path, lower: &Merged) -> Result<(), StorageError> {
        for (name, md) in root.entries(rel)? {
            let r = rel.join(&name);
            let node = Node { root: root.clone(), rel: r.clone(), md };
            let changed = match lower.get(&r) {
                None => true,
                Some(old) => differs(old, &node),
            };
            let is_dir = node.md.is_dir();
            if changed {
                self.0.insert(r.clone(), Change::Node(node));
            }
            if is_dir {
                self.walk_copy(root, &r, lower)?;
            }
        }
        Ok(())
    }

    /// `docker diff`'s view: each changed path (absolute) with Docker's kind, 0 modified (it
    /// is in `lowers`, the image's layers topmost first), 1 added, 2 deleted.
    pub fn kinds(&self, lowers: &[PathBuf]) -> Result<Vec<(String, u8)>, StorageError> {
        let image = Merged::of(lowers)?;
        Ok(self
            .0
            .iter()
            .map(|(rel, c)| {
                let kind = match c {
                    Change::Deleted(_) => 2,
                    _ if image.get(rel).is_some() => 0,
                    _ => 1,
                };
                (Path::new("/").join(rel).to_string_lossy().into_owned(), kind)
            })
            .collect())
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes of the regular files added or modified (the container's `SizeRw`).
    pub fn size(&self) -> u64 {
        self.0
            .values()
            .map(|c| match c {
                Change::Node(n) | Change::OpaqueDir(n) if n.md.is_file() => n.md.len(),
                _ => 0,
            })
            .sum()
    }

    /// Writes the changes as a layer tar.
    pub fn write_tar(&self, out: impl Write) -> Result<(), StorageError> {
        let mut w = TarWriter::new(out);
        for (rel, change) in &self.0 {
            match change {
                Change::Node(n) => w.entry(rel, n)?,
                Change::OpaqueDir(n) => {
                    w.entry(rel, n)?;
                    w.opaque(rel, &n.md)?;
                }
                Change::Deleted(md) => w.whiteout(rel, md)?,
            }
        }
        w.finish().map(|_| ())
    }
}

/// Writes the whole merged view `m` as a tar (`export`).
pub fn write_merged(m: &Merged, out: impl Write) -> Result<(), StorageError> {
    let mut w = TarWriter::new(out);
    for (rel, n) in m.iter() {
        w.entry(rel, n)?;
    }
    w.finish().map(|_| ())
}

/// Whether the copy's entry `new` differs from the image's `old`: type, owner and
/// permissions; for non-directories also size, mtime, device number and link target (a
/// directory's mtime changes with its contents, which are compared one by one).
fn differs(old: &Node, new: &Node) -> bool {
    let (a, md) = (&old.md, &new.md);
    if a.file_type() != md.file_type() || a.mode() != md.mode() || a.uid() != md.uid() || a.gid() != md.gid() {
        return true;
    }
    if md.is_dir() {
        return false;
    }
    if a.len() != md.len() || a.mtime() != md.mtime() || a.mtime_nsec() != md.mtime_nsec() || a.rdev() != md.rdev() {
        return true;
    }
    let target = |n: &Node| n.root.entry(&n.rel, &n.md).ok().flatten().and_then(|(e, _)| e.read_link().ok());
    md.file_type().is_symlink() && target(old) != target(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::{mknod, Mode, SFlag};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn an_upper_dir_becomes_a_layer_that_extracts_to_the_same_files_whiteouts_and_opaque_dirs() {
        let guard = crate::image::store::TempDir(std::env::temp_dir().join(format!("berth-diff-{}", crate::util::random_id())));
        let (upper, out) = (guard.0.join("upper"), guard.0.join("out"));
        std::fs::create_dir_all(upper.join("opaque")).expect("mkdir");
        std::fs::create_dir_all(&out).expect("mkdir");
        let f = upper.join("f");
        std::fs::write(&f, b"data").expect("write");
        std::os::unix::fs::lchown(&f, Some(42), Some(43)).expect("chown");
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).expect("chmod");
        xattr::set(&f, "user.berth", b"kept").expect("xattr (needs a filesystem with user xattrs)");
        filetime::set_file_mtime(&f, filetime::FileTime::from_unix_time(1_600_000_000, 0)).expect("mtime");
        std::fs::hard_link(&f, upper.join("link")).expect("link");
        std::os::unix::fs::symlink("f", upper.join("sym")).expect("symlink");
        mknod(&upper.join("fifo"), SFlag::S_IFIFO, Mode::from_bits_truncate(0o644), 0).expect("fifo");
        mknod(&upper.join("gone"), SFlag::S_IFCHR, Mode::empty(), 0).expect("whiteout");
        xattr::set(upper.join("opaque"), "trusted.overlay.opaque", b"y").expect("opaque");
        std::fs::write(upper.join("opaque/new"), b"n").expect("write");

        let changes = Changes::from_upper(&upper).expect("changes");
        let mut tar = Vec::new();
        changes.write_tar(&mut tar).expect("tar");
        crate::image::layer::apply(&tar[..], &out).expect("extract");

        let md = std::fs::symlink_metadata(out.join("f")).expect("f");
        assert_eq!((md.uid(), md.gid(), md.mode() & 0o7777, md.mtime(), md.nlink()), (42, 43, 0o4755, 1_600_000_000, 2));
        assert_eq!(xattr::get(out.join("f"), "user.berth").ok().flatten().as_deref(), Some(&b"kept"[..]));
        assert_eq!(std::fs::read_link(out.join("sym")).ok(), Some(PathBuf::from("f")));
        assert!(std::fs::symlink_metadata(out.join("fifo")).is_ok_and(|m| m.file_type().is_fifo()));
        assert!(std::fs::symlink_metadata(out.join("gone")).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0));
        assert_eq!(xattr::get(out.join("opaque"), "trusted.overlay.opaque").ok().flatten().as_deref(), Some(&b"y"[..]));
        assert_eq!(std::fs::read(out.join("opaque/new")).ok().as_deref(), Some(&b"n"[..]));
    }
}
