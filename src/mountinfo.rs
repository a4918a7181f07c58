//! This process's mount table (/proc/self/mountinfo): which mount holds a path and how it
//! propagates (`shared:N`, `master:N`).

use std::path::{Path, PathBuf};

/// One mount: its mount point and its optional fields (propagation tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub optional: Vec<String>,
}

impl MountEntry {
    /// In a peer group that sends mount events (`shared:N`).
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|f| f.starts_with("shared:"))
    }

    /// Receives mount events from a master (`master:N`).
    pub fn is_slave(&self) -> bool {
        self.optional.iter().any(|f| f.starts_with("master:"))
    }
}

/// The entries of a mountinfo text, in its order.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let mount_point = PathBuf::from(unescape(f.get(4)?));
            let optional = f.iter().skip(6).take_while(|x| **x != "-").map(|x| (*x).to_owned()).collect();
            Some(MountEntry { mount_point, optional })
        })
        .collect()
}

/// The mount holding `path` (its real path): the last-mounted of the longest mount points
/// that are a prefix of it; None when the table cannot be read.
pub fn holding(path: &Path) -> Option<MountEntry> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    holding_in(&parse(&text), &path)
}

/// [`holding`] over parsed `entries`.
pub fn holding_in(entries: &[MountEntry], path: &Path) -> Option<MountEntry> {
    let mut best: Option<&MountEntry> = None;
    for e in entries.iter().filter(|e| path.starts_with(&e.mount_point)) {
        // Later entries are mounted over earlier ones on the same point.
        if best.is_none_or(|b| e.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len()) {
            best = Some(e);
        }
    }
    best.cloned()
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holding_mount_is_the_longest_prefix_with_its_propagation() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    45 27 0:40 / /srv/a\\040b rw shared:1 - tmpfs t rw\n\
                    46 45 0:41 / /srv/a\\040b/in rw shared:2 master:1 - tmpfs u rw\n";
        let e = parse(text);
        assert_eq!(e[1].mount_point, Path::new("/srv/a b"));
        let h = holding_in(&e, Path::new("/srv/a b/x")).expect("held");
        assert!(h.is_shared() && !h.is_slave() && h.mount_point == Path::new("/srv/a b"));
        let h = holding_in(&e, Path::new("/srv/a b/in/y")).expect("held");
        assert!(h.is_shared() && h.is_slave());
        let h = holding_in(&e, Path::new("/srv/a")).expect("root");
        assert_eq!(h.mount_point, Path::new("/"));
        assert!(!h.is_shared());
    }
}
