//! The merged view of a stack of layer directories, as overlayfs would show it: an upper
//! layer hides the same name below it, a 0:0 character device ("whiteout") deletes a name,
//! and a directory marked `trusted.overlay.opaque=y` hides everything below it in lower
//! layers. Computed by walking the directories rather than by mounting them, so it serves
//! stopped containers, running ones, and the vfs driver alike.

use super::StorageError;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Whether `md` is an overlay whiteout (a 0:0 character device).
pub fn is_whiteout(md: &Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Whether directory `dir` is marked opaque (its lower layers' contents are hidden).
pub fn is_opaque(dir: &Path) -> bool {
    xattr::get(dir, "trusted.overlay.opaque").ok().flatten().is_some_and(|v| v == b"y")
}

/// The entries of `dir` sorted by name, each with its path and metadata (symlinks not
/// followed). Sorted, so that walks and the tars made from them are reproducible.
pub fn sorted_entries(dir: &Path) -> Result<Vec<(OsString, PathBuf, Metadata)>, StorageError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StorageError::Read { path, source }
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let e = e.map_err(read_err(dir))?;
        let path = e.path();
        let md = std::fs::symlink_metadata(&path).map_err(read_err(&path))?;
        out.push((e.file_name(), path, md));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// One name of a merged view: the file that provides it, and that file's metadata.
#[derive(Debug)]
pub struct Node {
    pub src: PathBuf,
    pub md: Metadata,
}

/// A merged view: relative paths, parents before children (a `BTreeMap` of paths orders
/// component by component, so everything below a directory follows it contiguously).
#[derive(Debug, Default)]
pub struct Merged(BTreeMap<PathBuf, Node>);

impl Merged {
    /// The view of `layers`, topmost first.
    pub fn of(layers: &[PathBuf]) -> Result<Merged, StorageError> {
        let mut m = Merged::default();
        for layer in layers.iter().rev() {
            m.apply(layer, Path::new(""))?;
        }
        Ok(m)
    }

    /// The node at relative path `rel`.
    pub fn get(&self, rel: &Path) -> Option<&Node> {
        self.0.get(rel)
    }

    /// Every node, parents before children.
    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &Node)> {
        self.0.iter()
    }

    /// Removes everything strictly below `rel`.
    fn remove_below(&mut self, rel: &Path) {
        use std::ops::Bound::{Excluded, Unbounded};
        let doomed: Vec<PathBuf> =
            self.0.range::<Path, _>((Excluded(rel), Unbounded)).take_while(|(k, _)| k.starts_with(rel)).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.0.remove(&k);
        }
    }

    /// Lays directory `dir` (the layer's `rel`) over the view.
    fn apply(&mut self, dir: &Path, rel: &Path) -> Result<(), StorageError> {
        for (name, src, md) in sorted_entries(dir)? {
            let r = rel.join(&name);
            if is_whiteout(&md) {
                self.remove_below(&r);
                self.0.remove(&r);
                continue;
            }
            let lower_is_dir = self.0.get(&r).is_some_and(|n| n.md.is_dir());
            if md.is_dir() {
                // An opaque directory, or one replacing a non-directory, starts empty.
                if is_opaque(&src) || !lower_is_dir {
                    self.remove_below(&r);
                }
                self.0.insert(r.clone(), Node { src: src.clone(), md });
                self.apply(&src, &r)?;
            } else {
                if lower_is_dir {
                    self.remove_below(&r);
                }
                self.0.insert(r, Node { src, md });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layers_hide_lower_names_whiteouts_delete_and_opaque_dirs_start_empty() {
        let base = std::env::temp_dir().join(format!("berth-tree-{}", crate::util::random_id()));
        let (low, up) = (base.join("low"), base.join("up"));
        for d in ["a/deep", "b", "c", "d"] {
            std::fs::create_dir_all(low.join(d)).expect("mkdir");
        }
        for f in ["a/deep/x", "b/kept", "c/hidden", "f", "d/y"] {
            std::fs::write(low.join(f), b"low").expect("write");
        }
        std::fs::create_dir_all(up.join("c")).expect("mkdir");
        std::fs::write(up.join("c/new"), b"up").expect("write");
        std::fs::write(up.join("f"), b"up").expect("write");
        std::fs::write(up.join("d"), b"file now").expect("write");
        let opaque = xattr::set(up.join("c"), "trusted.overlay.opaque", b"y").is_ok();
        let whiteout = nix::sys::stat::mknod(&up.join("a"), nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0).is_ok();
        let m = Merged::of(&[up.clone(), low.clone()]).expect("merge");
        let names: Vec<String> = m.iter().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        let _ = std::fs::remove_dir_all(&base);
        assert!(opaque && whiteout, "the test needs root (trusted xattrs, mknod)");
        assert_eq!(names, ["b", "b/kept", "c", "c/new", "d", "f"]);
        assert_eq!(m.get(Path::new("f")).map(|n| n.src.clone()), Some(up.join("f")));
    }
}
