//! Container networking below the daemon: network namespaces, links and addresses (netlink),
//! address management, the firewall (nftables), the userland port proxy and the embedded DNS
//! server. Nothing here knows HTTP or the daemon's records; the daemon's `network` module
//! decides what to make and calls these.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod proxy;
