//! Container logs in Docker's json-file format: written by whoever holds the container's
//! stdio (the shim in modular mode, the daemon in monolithic mode), read by the daemon.

pub mod jsonfile;

use std::collections::HashMap;
use std::path::PathBuf;

/// Where a container's json-file log goes and when it rotates (Docker's `--log-opt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub path: PathBuf,
    /// Rotate when the file would grow past this many bytes (`max-size`); None: never.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (`max-file`, default 1).
    pub max_file: u32,
}

/// A log option Docker's json-file driver would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogOptError {
    #[error("unknown log opt '{0}' for json-file log driver")]
    Unknown(String),
    #[error("invalid value for log opt {key}: {value}")]
    Invalid { key: String, value: String },
}

impl LogTarget {
    /// Applies json-file options (`max-size`, `max-file`) to a log at `path`.
    pub fn from_options(path: PathBuf, opts: &HashMap<String, String>) -> Result<Self, LogOptError> {
        let invalid = |k: &str, v: &str| LogOptError::Invalid { key: k.into(), value: v.into() };
        let mut t = LogTarget { path, max_size: None, max_file: 1 };
        for (k, v) in opts {
            match k.as_str() {
                "max-size" => {
                    let n = crate::units::parse_ram_bytes(v).map_err(|_| invalid(k, v))?;
                    t.max_size = if n > 0 { Some(n as u64) } else { None };
                }
                "max-file" => t.max_file = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| invalid(k, v))?,
                _ => return Err(LogOptError::Unknown(k.clone())),
            }
        }
        if t.max_file > 1 && t.max_size.is_none() {
            return Err(invalid("max-file", "max-file can only be used with max-size"));
        }
        Ok(t)
    }

    /// The stdout/stderr URI the shim understands: `jsonfile:///path[?max-size=N&max-file=M]`.
    pub fn uri(&self) -> String {
        let mut uri = format!("jsonfile://{}", self.path.display());
        if let Some(size) = self.max_size {
            uri.push_str(&format!("?max-size={size}&max-file={}", self.max_file));
        }
        uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_options_become_a_rotating_uri_and_bad_ones_are_refused() {
        let opts = HashMap::from([("max-size".to_owned(), "10k".to_owned()), ("max-file".to_owned(), "3".to_owned())]);
        let t = LogTarget::from_options("/l/c-json.log".into(), &opts).unwrap();
        assert_eq!(t.uri(), "jsonfile:///l/c-json.log?max-size=10240&max-file=3");
        assert_eq!(LogTarget::from_options("/l".into(), &HashMap::new()).unwrap().uri(), "jsonfile:///l");
        let bad = HashMap::from([("max-sise".to_owned(), "1".to_owned())]);
        assert!(LogTarget::from_options("/l".into(), &bad).is_err());
        let bad = HashMap::from([("max-file".to_owned(), "0".to_owned())]);
        assert!(LogTarget::from_options("/l".into(), &bad).is_err());
    }
}
