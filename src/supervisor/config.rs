//! The supervisor's config file: the subset of containerd's `config.toml` it understands.
//!
//! ```toml
//! root = "/var/lib/berth/supervisor"
//! state = "/run/berth/supervisor"
//! [grpc]
//!   address = "/run/berth/supervisor/supervisor.sock"
//! [debug]
//!   level = "info"
//! [berth]
//!   runc_shim = "auto"   # or "berth" / "containerd": who serves io.containerd.runc.v2
//! ```
//! Anything else (plugins, other sections) is ignored, so containerd's own files load.

use std::path::{Path, PathBuf};

use super::SupervisorError;

/// Values read from the file; None = not set.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileConfig {
    pub root: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub address: Option<PathBuf>,
    pub level: Option<String>,
    pub runc_shim: Option<String>,
}

/// Parses the TOML subset: `key = "string"` lines under `[section]` headers.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    let mut cfg = FileConfig::default();
    let mut section = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key = value", n + 1));
        };
        let key = key.trim();
        let value = value.trim();
        let string = || value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).map(str::to_owned);
        match (section.as_str(), key) {
            ("", "root") => cfg.root = string().map(PathBuf::from),
            ("", "state") => cfg.state = string().map(PathBuf::from),
            ("grpc", "address") => cfg.address = string().map(PathBuf::from),
            ("debug", "level") => cfg.level = string(),
            ("berth", "runc_shim") => cfg.runc_shim = string(),
            _ => {}
        }
    }
    Ok(cfg)
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<FileConfig, SupervisorError> {
    let text = std::fs::read_to_string(path).map_err(|e| SupervisorError::io("read config", path, e))?;
    parse(&text).map_err(|e| SupervisorError::Invalid(format!("config {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_containerd_style_keys_and_ignores_the_rest() {
        let c = parse(
            "version = 2\nroot = \"/r\"\nstate = \"/s\" # volatile\n[grpc]\n  address = \"/a.sock\"\n  uid = 0\n\
             [debug]\n  level = \"debug\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  x = \"y\"\n",
        )
        .expect("parse");
        assert_eq!(c.root, Some(PathBuf::from("/r")));
        assert_eq!(c.state, Some(PathBuf::from("/s")));
        assert_eq!(c.address, Some(PathBuf::from("/a.sock")));
        assert_eq!(c.level.as_deref(), Some("debug"));
    }
}
