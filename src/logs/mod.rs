//! Container logs in Docker's json-file format: written by whoever holds the container's
//! stdio (the shim in modular mode, the daemon in monolithic mode), read by the daemon.

pub mod cursor;
pub mod jsonfile;
pub mod rotate;

use std::path::{Path, PathBuf};

/// The query key of a json-file URI that asks for every read to be logged as it comes (a
/// terminal's output, read by a logging binary that cannot know it is one).
pub const CHUNKS_KEY: &str = "chunks";

/// Where a container's json-file log goes and when it rotates (Docker's `--log-opt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub path: PathBuf,
    pub limits: rotate::Limits,
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
    pub fn from_options<'a>(path: PathBuf, opts: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<Self, LogOptError> {
        let invalid = |k: &str, v: &str| LogOptError::Invalid { key: k.into(), value: v.into() };
        let mut limits = rotate::Limits::default();
        for (k, v) in opts {
            match k.as_str() {
                "max-size" => {
                    let n = crate::units::parse_ram_bytes(v).map_err(|_| invalid(k, v))?;
                    limits.max_size = if n > 0 { Some(n as u64) } else { None };
                }
                "max-file" => limits.max_file = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| invalid(k, v))?,
                _ => return Err(LogOptError::Unknown(k.clone())),
            }
        }
        if limits.max_file > 1 && limits.max_size.is_none() {
            return Err(invalid("max-file", "max-file can only be used with max-size"));
        }
        Ok(LogTarget { path, limits })
    }

    /// Parses what follows `jsonfile://` in a stdio URI: `/path[?max-size=N&max-file=M]`.
    pub fn from_uri(rest: &str) -> Result<Self, LogOptError> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let opts: Vec<(String, String)> = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self::from_options(PathBuf::from(path), opts.iter().map(|(k, v)| (k, v)))
    }

    /// The stdout/stderr URI the shim understands: `jsonfile:///path[?max-size=N&max-file=M]`.
    pub fn uri(&self) -> String {
        let mut uri = format!("jsonfile://{}", self.path.display());
        if let Some(size) = self.limits.max_size {
            uri.push_str(&format!("?max-size={size}&max-file={}", self.limits.max_file));
        }
        uri
    }

    /// The stdout/stderr URI for a shim that hands output to a logging binary (containerd's
    /// `binary://` scheme): `exe` run as `berth logger <jsonfile URI>`, which writes this log.
    /// One query key only: the shim passes each key and its value as two arguments, in no
    /// set order.
    pub fn binary_uri(&self, exe: &Path) -> String {
        format!("binary://{}?logger={}", percent_encode(&exe.to_string_lossy(), "/"), percent_encode(&self.uri(), ""))
    }

    /// [`binary_uri`](Self::binary_uri) for a terminal's output: the logger logs every read
    /// as it comes ([`CHUNKS_KEY`]), a shell's prompt too, which ends with no newline.
    pub fn binary_uri_for_terminal(&self, exe: &Path) -> String {
        let uri = self.uri();
        let sep = if uri.contains('?') { '&' } else { '?' };
        let inner = format!("{uri}{sep}{CHUNKS_KEY}=1");
        format!("binary://{}?logger={}", percent_encode(&exe.to_string_lossy(), "/"), percent_encode(&inner, ""))
    }
}

/// `s` with every byte but URI's unreserved ones (and those in `keep`) as `%XX`.
fn percent_encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn log_options_become_a_rotating_uri_and_bad_ones_are_refused() {
        let opts = HashMap::from([("max-size".to_owned(), "10k".to_owned()), ("max-file".to_owned(), "3".to_owned())]);
        let t = LogTarget::from_options("/l/c-json.log".into(), &opts).unwrap();
        assert_eq!(t.uri(), "jsonfile:///l/c-json.log?max-size=10240&max-file=3");
        assert_eq!(LogTarget::from_uri("/l/c-json.log?max-size=10240&max-file=3").unwrap(), t);
        assert_eq!(LogTarget::from_options("/l".into(), &HashMap::new()).unwrap().uri(), "jsonfile:///l");
        assert_eq!(
            t.binary_uri(Path::new("/usr/bin/my berth")),
            "binary:///usr/bin/my%20berth?logger=jsonfile%3A%2F%2F%2Fl%2Fc-json.log%3Fmax-size%3D10240%26max-file%3D3"
        );
        let bad = HashMap::from([("max-sise".to_owned(), "1".to_owned())]);
        assert!(LogTarget::from_options("/l".into(), &bad).is_err());
        let bad = HashMap::from([("max-file".to_owned(), "0".to_owned())]);
        assert!(LogTarget::from_options("/l".into(), &bad).is_err());
    }
}
