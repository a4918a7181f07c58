//! The merged view of a stack of layer directories, as overlayfs would show it: an upper
//! layer hides the same name below it, a 0:0 character device ("whiteout") deletes a name,
//! and a directory marked `trusted.overlay.opaque=y` hides everything below it in lower
//! layers. Computed by walking the directories rather than by mounting them, so it serves
//! stopped containers, running ones, and the vfs driver alike; the walk goes through
//! [`super::beneath`], so a running container's symlinks are never followed out.

use super::beneath::Root;
use super::StorageError;
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether `md` is an overlay whiteout (a 0:0 character device).
pub fn is_whiteout(md: &Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Whether directory `dir` is marked opaque (its lower layers' contents are hidden).
pub fn is_opaque(dir: &Path) -> bool {
    xattr::get(dir, "trusted.overlay.opaque").ok().flatten().is_some_and(|v| v == b"y")
}

/// One name of a tree: the tree that provides it, its path there, and its metadata as the
/// walk saw it (symlinks not followed).
#[derive(Debug, Clone)]
pub struct Node {
    pub root: Arc<Root>,
    pub rel: PathBuf,
    pub md: Metadata,
}

impl Node {
    /// The node's host path (for messages).
    pub fn src(&self) -> PathBuf {
        self.root.display(&self.rel)
    }
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
            m.apply(&Root::open(layer)?, Path::new(""))?;
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

    /// Lays directory `rel` of layer `root` over the view.
    fn apply(&mut self, root: &Arc<Root>, rel: &Path) -> Result<(), StorageError> {
        for (name, md) in root.entries(rel)? {
            let r = rel.join(&name);
            if is_whiteout(&md) {
                self.remove_below(&r);
                self.0.remove(&r);
                continue;
            }
            let lower_is_dir = self.0.get(&r).is_some_and(|n| n.md.is_dir());
            if md.is_dir() {
                // An opaque directory, or one replacing a non-directory, starts empty.
                if root.is_opaque(&r) || !lower_is_dir {
                    self.remove_below(&r);
                }
                self.0.insert(r.clone(), Node { root: root.clone(), rel: r.clone(), md });
                self.apply(root, &r)?;
            } else {
                if lower_is_dir {
                    self.remove_below(&r);
                }
                self.0.insert(r.clone(), Node { root: root.clone(), rel: r, md });
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
        assert_eq!(m.get(Path::new("f")).map(|n| n.src()), Some(up.join("f")));
    }
}
