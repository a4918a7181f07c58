//! The client library's typed errors; the role prints them and picks the exit code.

use std::io;

/// Everything a client command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon's socket could not be reached.
    #[error("Cannot connect to the berth daemon at {endpoint}: is berthd running?")]
    Connect {
        endpoint: String,
        #[source]
        source: io::Error,
    },
    /// The daemon answered with an error status; `message` is its JSON `message`.
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    /// A host address we do not handle (yet), or malformed.
    #[error("{0}")]
    Host(String),
    /// The HTTP exchange itself failed.
    #[error("error during connect: {0}")]
    Http(#[from] hyper::Error),
    /// The daemon's answer was not the JSON we expected.
    #[error("cannot decode the daemon's answer: {0}")]
    Decode(#[from] serde_json::Error),
    /// A local I/O error (reading the import file, writing our output).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// `inspect` found neither a container nor an image.
    #[error("Error: No such object: {0}")]
    NoSuchObject(String),
    /// Anything else the user asked for that we refuse (unsupported options, bad input).
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// The daemon's HTTP status when this is a daemon error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        ClientError::Io { context: context.into(), source }
    }
}

/// Result alias of the client library.
pub type Result<T> = std::result::Result<T, ClientError>;
