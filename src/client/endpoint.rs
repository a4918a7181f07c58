//! Where the daemon listens: `-H`, else `DOCKER_HOST`, else the default unix socket.

use super::error::{ClientError, Result};
use std::fmt;
use std::path::PathBuf;

/// The default daemon socket.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A daemon address the client can talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path.
    Unix(PathBuf),
}

impl Endpoint {
    /// Parses `unix:///path` (or a bare absolute path). `tcp://`, `ssh://`, `fd://` are
    /// refused with a clear message.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Self::parse(DEFAULT_HOST);
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if s.starts_with('/') {
            return Ok(Endpoint::Unix(PathBuf::from(s)));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(ClientError::Host(format!("{scheme}:// hosts are not supported yet (host {s:?}); use unix:///path/to/berth.sock")));
        }
        Err(ClientError::Host(format!("invalid host {s:?}: expected unix:///path/to/berth.sock")))
    }

    /// `-H` wins, then a non-empty `DOCKER_HOST`, then [`DEFAULT_HOST`].
    pub fn resolve(flag: Option<&str>, docker_host: Option<&str>) -> Result<Self> {
        match (flag, docker_host.filter(|h| !h.is_empty())) {
            (Some(h), _) => Self::parse(h),
            (None, Some(h)) => Self::parse(h),
            (None, None) => Self::parse(DEFAULT_HOST),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_default() {
        let e = Endpoint::resolve(Some("unix:///a.sock"), Some("unix:///b.sock")).ok();
        assert_eq!(e, Some(Endpoint::Unix("/a.sock".into())));
        let e = Endpoint::resolve(None, Some("unix:///b.sock")).ok();
        assert_eq!(e, Some(Endpoint::Unix("/b.sock".into())));
        let e = Endpoint::resolve(None, Some("")).ok();
        assert_eq!(e, Some(Endpoint::Unix("/run/berth/berth.sock".into())));
        assert_eq!(Endpoint::Unix("/x.sock".into()).to_string(), "unix:///x.sock");
    }

    #[test]
    fn tcp_is_refused_clearly() {
        let err = Endpoint::parse("tcp://127.0.0.1:2375").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("not supported yet"), "{err}");
        assert!(Endpoint::parse("localhost").is_err());
    }
}
