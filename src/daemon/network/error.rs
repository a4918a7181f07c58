//! Errors of networks, in Docker's words and with its status classes.

use super::super::error::ErrorKind;

/// What went wrong with a network or an endpoint.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network answers to this name or id.
    #[error("network {0} not found")]
    NotFound(String),
    /// An id prefix matches several networks.
    #[error("network {0} is ambiguous ({1} matches found based on ID prefix)")]
    Ambiguous(String, usize),
    /// The name is taken.
    #[error("network with name {0} already exists")]
    Exists(String),
    /// A subnet overlaps another network's.
    #[error("invalid pool request: Pool overlaps with other one on this address space")]
    Overlap,
    /// No default pool is left for a new network.
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    PoolsExhausted,
    /// The request is wrong (the message says how).
    #[error("{0}")]
    Invalid(String),
    /// The daemon refuses it whatever the form: a predefined network's removal, a network in
    /// use, an address taken.
    #[error("{0}")]
    Forbidden(String),
    /// A container's state forbids it (connecting a container that shares another's
    /// namespace).
    #[error("{0}")]
    Conflict(String),
    /// A record could not be written or removed.
    #[error("network store {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    /// A link, address or route could not be made.
    #[error("failed to set up container networking: {0}")]
    Link(#[from] crate::net::link::LinkError),
    /// The namespace could not be made or joined.
    #[error("network namespace {path}: {source}")]
    Netns { path: std::path::PathBuf, source: std::io::Error },
    /// A firewall rule could not be made.
    #[error("failed to set up the firewall: {0}")]
    Firewall(#[from] crate::net::firewall::FirewallError),
    /// A published port could not be bound.
    #[error("driver failed programming external connectivity on endpoint {endpoint}: {source}")]
    Proxy { endpoint: String, source: crate::net::proxy::ProxyError },
}

impl NetworkError {
    /// Docker's class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            NetworkError::NotFound(_) => ErrorKind::NotFound,
            NetworkError::Ambiguous(..) | NetworkError::Invalid(_) => ErrorKind::InvalidParameter,
            NetworkError::Exists(_) | NetworkError::Conflict(_) => ErrorKind::Conflict,
            NetworkError::Overlap | NetworkError::Forbidden(_) | NetworkError::PoolsExhausted => ErrorKind::Forbidden,
            NetworkError::Io { .. } | NetworkError::Link(_) | NetworkError::Netns { .. } | NetworkError::Firewall(_) | NetworkError::Proxy { .. } => {
                ErrorKind::System
            }
        }
    }
}
