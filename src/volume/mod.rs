//! Volumes of the `local` driver, as Docker's: a directory `<root>/volumes/<name>/_data` per
//! volume (or, with `type`/`device`/`o` options, a filesystem mounted there while a
//! container uses it), a record beside it, and the containers that use each one, so that a
//! volume in use is never removed. Names are checked before any path is made from them.
//! Nothing here knows HTTP or containers: the daemon says who uses what.

pub mod name;
pub mod options;
pub mod store;

pub use options::LocalOptions;
pub use store::{Volume, VolumeStore};

/// The only volume driver berth has.
pub const LOCAL_DRIVER: &str = "local";

/// What a volume operation refused or failed at.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A name that is not a local volume name (Docker's words).
    #[error("{0}")]
    InvalidName(String),
    /// A driver other than `local`.
    #[error("error looking up volume plugin {0}: plugin {0:?} not found")]
    UnknownDriver(String),
    /// A driver option berth does not know or cannot honour.
    #[error("{0}")]
    InvalidOption(String),
    #[error("no such volume")]
    NotFound(String),
    /// Containers (ids) still use it.
    #[error("volume is in use - [{}]", .users.join(", "))]
    InUse { name: String, users: Vec<String> },
    /// The same name, asked with other options or driver.
    #[error("volume {name} already exists with different {what}")]
    Conflict { name: String, what: &'static str },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Mounting or unmounting a volume with `type`/`device` options.
    #[error("failed to mount local volume: {0}")]
    Mount(String),
}
