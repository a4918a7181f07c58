//! A network as the daemon keeps it, and what a container holds of the networks it is on:
//! the endpoints it asked for (kept while it exists) and the ones it has while it runs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The drivers berth has.
pub const DRIVERS: &[&str] = &["bridge", "host", "null"];

/// One `IPAM.Config` entry of a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IpamPool {
    pub subnet: Option<IpNet>,
    pub ip_range: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    /// Addresses kept from containers (`--aux-address name=ip`).
    pub aux: BTreeMap<String, IpAddr>,
}

/// One network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub enable_ipv6: bool,
    pub internal: bool,
    pub attachable: bool,
    /// Its subnets (one IPv4 and, with IPv6, one IPv6), each with its gateway set.
    pub pools: Vec<IpamPool>,
    /// `IPAM.Options`.
    pub ipam_options: BTreeMap<String, String>,
    /// The driver options (`-o`), as given.
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The Linux bridge of a bridge network.
    pub bridge: String,
    /// Containers on the default bridge cannot talk to each other (`icc` false).
    pub icc: bool,
    pub mtu: Option<u32>,
}

impl Network {
    /// One of the networks every daemon has (`bridge`, `host`, `none`), which cannot be
    /// removed.
    pub fn is_predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }

    /// Containers on it get the embedded DNS server (user-defined bridge networks only, as
    /// in Docker: the default bridge has none).
    pub fn has_dns(&self) -> bool {
        self.driver == "bridge" && self.name != "bridge"
    }

    /// Its subnets.
    pub fn subnets(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.pools.iter().filter_map(|p| p.subnet)
    }
}

/// What a container asked for on one network (`NetworkingConfig.EndpointsConfig`,
/// `network connect`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointConfig {
    pub network_id: String,
    pub aliases: Vec<String>,
    /// `--ip`, `--ip6`: static addresses.
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    /// `--mac-address`.
    pub mac: Option<String>,
}

/// An endpoint while its container runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Endpoint {
    pub network_id: String,
    pub endpoint_id: String,
    /// Its name in the container (`eth0`).
    pub ifname: String,
    /// The host end of its veth pair.
    pub host_veth: String,
    pub ipv4: Option<IpNet>,
    pub gateway4: Option<IpAddr>,
    pub ipv6: Option<IpNet>,
    pub gateway6: Option<IpAddr>,
    pub mac: String,
}

/// A published port while its container runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortMapping {
    /// `tcp` or `udp`.
    pub proto: String,
    pub container_port: u16,
    /// The host address it listens on (`0.0.0.0`, or `::` for the IPv6 twin).
    pub host_ip: IpAddr,
    pub host_port: u16,
    /// The address it forwards to.
    pub container_ip: IpAddr,
    /// The bridge of that address's network.
    pub bridge: String,
    /// The userland proxy's pid.
    pub proxy_pid: u32,
}

/// A running container's network namespace and what is made for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Sandbox {
    pub id: String,
    /// Its namespace file (the runtime joins it; `SandboxKey`).
    pub key: PathBuf,
    /// By network name.
    pub endpoints: BTreeMap<String, Endpoint>,
    pub ports: Vec<PortMapping>,
}
