//! (being written: nftables rules)

/// A firewall failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FirewallError(pub String);
