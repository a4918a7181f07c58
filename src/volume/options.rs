//! The `local` driver's options, as Docker's: `type`, `device` and `o` name a filesystem to
//! mount at the volume's `_data` while containers use it (`type=tmpfs device=tmpfs
//! o=size=1m`, `type=none device=/srv/x o=bind`); `size` asks for a quota, which berth
//! cannot give and refuses. Anything else is refused by name.

use std::collections::BTreeMap;
use std::path::Path;

use nix::mount::MntFlags;

use super::VolumeError;

/// The options a local volume was created with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOptions {
    pub fs_type: Option<String>,
    pub device: Option<String>,
    pub o: Option<String>,
}

/// Which other options each one needs (Docker's rule).
const NEEDS: [(&str, &[&str]); 3] = [("device", &["type"]), ("type", &["device"]), ("o", &["device", "type"])];

impl LocalOptions {
    /// Checks driver options `opts` as Docker's local driver does.
    pub fn parse(opts: &BTreeMap<String, String>) -> Result<LocalOptions, VolumeError> {
        for key in opts.keys() {
            if !matches!(key.as_str(), "type" | "device" | "o" | "size") {
                return Err(VolumeError::InvalidOption(format!("invalid option: {key:?}")));
            }
        }
        if let Some(size) = opts.get("size") {
            let bytes = crate::units::parse_ram_bytes(size).map_err(|e| VolumeError::InvalidOption(e.to_string()))?;
            if bytes > 0 {
                return Err(VolumeError::InvalidOption("quota size requested but no quota support".into()));
            }
        }
        for (key, needs) in NEEDS {
            if opts.contains_key(key)
                && let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n))
            {
                return Err(VolumeError::InvalidOption(format!("missing required option: {missing:?}")));
            }
        }
        let get = |k: &str| opts.get(k).filter(|v| !v.is_empty()).cloned();
        Ok(LocalOptions { fs_type: get("type"), device: get("device"), o: get("o") })
    }

    /// Whether the volume is a filesystem mounted at its `_data`, not a plain directory.
    pub fn needs_mount(&self) -> bool {
        self.fs_type.is_some() || self.device.is_some()
    }

    /// Mounts the filesystem these options name at `target` (`o` split as mount(8) does:
    /// flag words become mount flags, the rest the filesystem's data).
    pub fn mount(&self, target: &Path) -> Result<(), VolumeError> {
        let device = self.device.as_deref().ok_or_else(|| VolumeError::Mount("missing device in volume options".into()))?;
        let words: Vec<String> = self.o.as_deref().unwrap_or("").split(',').filter(|w| !w.is_empty()).map(str::to_owned).collect();
        let parsed = crate::mountopts::parse_options(&words);
        let data = parsed.data.join(",");
        let fs_type = self.fs_type.as_deref().filter(|t| *t != "none");
        nix::mount::mount(Some(device), target, fs_type, parsed.flags, Some(data.as_str()).filter(|d| !d.is_empty()))
            .map_err(|e| VolumeError::Mount(format!("mount {device} on {}: {e}", target.display())))?;
        if !parsed.propagation.is_empty() {
            nix::mount::mount(None::<&str>, target, None::<&str>, parsed.propagation, None::<&str>)
                .map_err(|e| VolumeError::Mount(format!("propagation of {}: {e}", target.display())))?;
        }
        Ok(())
    }

    /// Unmounts what [`mount`](Self::mount) mounted at `target`; not mounted is no error.
    pub fn unmount(target: &Path) -> Result<(), VolumeError> {
        match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(VolumeError::Mount(format!("unmount {}: {e}", target.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn local_options_are_checked_as_dockers() {
        assert_eq!(LocalOptions::parse(&opts(&[])).expect("none"), LocalOptions::default());
        let t = LocalOptions::parse(&opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m,uid=1000")])).expect("tmpfs");
        assert!(t.needs_mount());
        assert_eq!(t.o.as_deref(), Some("size=1m,uid=1000"));
        let e = |kv: &[(&str, &str)]| LocalOptions::parse(&opts(kv)).expect_err("refused").to_string();
        assert_eq!(e(&[("foo", "bar")]), "invalid option: \"foo\"");
        assert_eq!(e(&[("type", "tmpfs")]), "missing required option: \"device\"");
        assert_eq!(e(&[("device", "/x")]), "missing required option: \"type\"");
        assert_eq!(e(&[("o", "bind")]), "missing required option: \"device\"");
        assert_eq!(e(&[("size", "10m")]), "quota size requested but no quota support");
        assert!(LocalOptions::parse(&opts(&[("size", "0")])).is_ok());
    }
}
