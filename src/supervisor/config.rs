//! The supervisor's config file: the part of containerd's `config.toml` it implements,
//! read with the `toml` crate.
//!
//! ```toml
//! version = 2
//! root = "/var/lib/berth/supervisor"
//! state = "/run/berth/supervisor"
//! [grpc]
//!   address = "/run/berth/supervisor/supervisor.sock"
//! [debug]
//!   level = "info"
//! [berth]
//!   runc_shim = "auto"   # or "berth" / "containerd": who serves io.containerd.runc.v2
//! ```
//! Any other key or table (containerd's `plugins`, `grpc.uid`, ...) is refused by name: a
//! setting that would be silently dropped is worse than an error.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SupervisorError;

/// Values read from the file; None = not set.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileConfig {
    /// `root`: persistent state.
    pub root: Option<PathBuf>,
    /// `state`: volatile state.
    pub state: Option<PathBuf>,
    /// `grpc.address`: the API socket.
    pub address: Option<PathBuf>,
    /// `debug.level`: log level.
    pub level: Option<String>,
    /// `berth.runc_shim`: who serves io.containerd.runc.v2.
    pub runc_shim: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    /// containerd's config schema version; 1, 2 and 3 read the same for these keys.
    version: Option<u32>,
    root: Option<PathBuf>,
    state: Option<PathBuf>,
    #[serde(default)]
    grpc: Grpc,
    #[serde(default)]
    debug: Debug,
    #[serde(default)]
    berth: Berth,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Grpc {
    address: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Debug {
    level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Berth {
    runc_shim: Option<String>,
}

/// Parses a config file's text.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    let f: File = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
    if let Some(v) = f.version
        && !(1..=3).contains(&v)
    {
        return Err(format!("version {v} is not a containerd config version (1, 2 or 3)"));
    }
    Ok(FileConfig { root: f.root, state: f.state, address: f.grpc.address, level: f.debug.level, runc_shim: f.berth.runc_shim })
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
    fn reads_containerd_style_keys() {
        let c = parse(
            "version = 2\nroot = \"/r\"\nstate = \"/s\" # volatile\n[grpc]\n  address = \"/a.sock\"\n\
             [debug]\n  level = \"debug\"\n[berth]\nrunc_shim = \"berth\"\n",
        )
        .expect("parse");
        assert_eq!(c.root, Some(PathBuf::from("/r")));
        assert_eq!(c.state, Some(PathBuf::from("/s")));
        assert_eq!(c.address, Some(PathBuf::from("/a.sock")));
        assert_eq!(c.level.as_deref(), Some("debug"));
        assert_eq!(c.runc_shim.as_deref(), Some("berth"));
    }

    #[test]
    fn keys_it_does_not_implement_are_refused_by_name() {
        let e = parse("[grpc]\naddress = \"/a\"\nuid = 1000\n").expect_err("grpc.uid");
        assert!(e.contains("uid"), "{e}");
        let e = parse("[plugins.\"io.containerd.grpc.v1.cri\"]\nx = \"y\"\n").expect_err("plugins");
        assert!(e.contains("plugins"), "{e}");
        let e = parse("root = 5\n").expect_err("type");
        assert!(e.contains("root"), "{e}");
        assert!(parse("version = 9\n").expect_err("version").contains("version 9"));
        assert!(parse("root = \"/r\"\nroot = \"/q\"\n").is_err(), "a duplicate key");
    }
}
