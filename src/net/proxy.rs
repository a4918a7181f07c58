//! (being written: the userland proxy)

/// A proxy failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProxyError(pub String);
