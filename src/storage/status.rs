//! What `docker info` shows of the storage driver (`DriverStatus`): the filesystem the
//! driver's directory is on and whether it reports file types in directory entries, which
//! overlay needs (Docker refuses overlay2 on a backing filesystem without d_type).

use std::path::Path;

use nix::sys::statfs::{statfs, FsType};

/// Docker's name of the filesystem type `t` (as its `fsutils` names them).
fn fs_name(t: FsType) -> &'static str {
    match t.0 as u64 {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0x7371_7368 => "squashfs",
        0x5346_544E => "ntfs",
        0x4d44 => "msdos",
        _ => "<unknown>",
    }
}

/// Whether directory entries under `dir` carry their type (d_type): a probe file is made
/// and its entry read.
fn supports_d_type(dir: &Path) -> bool {
    let probe = dir.join(format!(".d_type-probe-{}", crate::util::random_id()));
    if std::fs::create_dir(&probe).is_err() || std::fs::write(probe.join("f"), b"").is_err() {
        let _ = std::fs::remove_dir_all(&probe);
        return false;
    }
    let typed = nix::dir::Dir::open(&probe, nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY, nix::sys::stat::Mode::empty())
        .map(|mut d| d.iter().flatten().any(|e| e.file_name().to_bytes() == b"f" && e.file_type().is_some()))
        .unwrap_or(false);
    let _ = std::fs::remove_dir_all(&probe);
    typed
}

/// `DriverStatus` rows of the overlay2 driver whose directory is `dir`.
pub fn overlay(dir: &Path) -> Vec<(String, String)> {
    let fs = statfs(dir).map(|s| fs_name(s.filesystem_type())).unwrap_or("<unknown>");
    vec![("Backing Filesystem".into(), fs.into()), ("Supports d_type".into(), supports_d_type(dir).to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tmpfs_is_named_and_reports_d_type() {
        // /dev/shm is a tmpfs on Linux.
        let rows = overlay(Path::new("/dev/shm"));
        assert_eq!(rows[0], ("Backing Filesystem".to_owned(), "tmpfs".to_owned()));
        assert_eq!(rows[1], ("Supports d_type".to_owned(), "true".to_owned()));
    }
}
