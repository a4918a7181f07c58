//! A container's sandbox: its network namespace (made before the container, bound under the
//! exec-root's `netns` directory) and one endpoint per bridge network it is on (a veth pair,
//! addresses, routes). Made at start, removed when the container stops; a network connect
//! or disconnect adds or removes one endpoint live.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::record::{Endpoint, EndpointConfig, Network, Sandbox};
use super::NetworkError;
use crate::net::{ipam, link, netns};

/// Makes an empty sandbox for container `id`: a new namespace with loopback up, bound at
/// `<dir>/<short id>`. A file left there by a crash is replaced.
pub fn create_sandbox(dir: &Path, id: &str) -> Result<Sandbox, NetworkError> {
    crate::fsperm::ensure_dir(dir, crate::fsperm::DIR_PRIVATE).map_err(|source| NetworkError::Netns { path: dir.to_path_buf(), source })?;
    let key = link::sandbox_path(dir, id);
    let ns = |source| NetworkError::Netns { path: key.clone(), source };
    netns::remove(&key).map_err(ns)?;
    netns::create(&key).map_err(ns)?;
    let sb = Sandbox { id: crate::util::random_id(), key: key.clone(), ..Default::default() };
    if let Err(e) = link::loopback_up(&key) {
        let _ = netns::remove(&key);
        return Err(e.into());
    }
    Ok(sb)
}

/// Removes `sb`'s namespace file (the namespace ends with the container's last process).
/// A failure is logged: what stays is found again by the daemon's start.
pub fn remove_namespace(sb: &Sandbox) {
    if let Err(e) = netns::remove(&sb.key) {
        tracing::warn!("removing {}: {e}", sb.key.display());
    }
}

/// Deletes `sb`'s endpoints' host links (their peers go with them). Failures are logged: a
/// veth left on a bridge is swept at the daemon's next start.
pub fn remove_links(sb: &Sandbox) {
    for (name, ep) in &sb.endpoints {
        if let Err(e) = link::delete(&ep.host_veth) {
            tracing::warn!(network = name.as_str(), "removing {}: {e}", ep.host_veth);
        }
    }
}

/// The address for an endpoint on `subnet`: the asked-for one if it is free and in the
/// subnet (its range is only for dynamic addresses, as Docker's), else the lowest free one.
fn address(subnet: &IpNet, range: Option<&IpNet>, asked: Option<IpAddr>, taken: &BTreeSet<IpAddr>) -> Result<IpAddr, NetworkError> {
    match asked {
        Some(ip) if !ipam::is_host_address(subnet, ip) => {
            Err(NetworkError::Invalid(format!("Invalid address {ip}: It does not belong to any of this network's subnets")))
        }
        Some(ip) if taken.contains(&ip) => Err(NetworkError::Forbidden(format!("Address already in use: {ip}"))),
        Some(ip) => Ok(ip),
        None => {
            ipam::allocate(subnet, range, taken).ok_or_else(|| NetworkError::Forbidden(format!("no available IPv4 addresses on network {subnet}")))
        }
    }
}

/// The addresses of network `n` no container may take: its gateways and auxiliary
/// addresses, plus `in_use` (the running containers' addresses on it).
pub fn reserved(n: &Network, in_use: impl IntoIterator<Item = IpAddr>) -> BTreeSet<IpAddr> {
    let mut out: BTreeSet<IpAddr> = in_use.into_iter().collect();
    for p in &n.pools {
        out.extend(p.gateway);
        out.extend(p.aux.values().copied());
    }
    out
}

/// Checks, at create or connect, that a static address asked for on `n` could be had: in
/// one of its subnets (and, as Docker requires, on a network whose subnet the user chose).
pub fn check_static(n: &Network, cfg: &EndpointConfig) -> Result<(), NetworkError> {
    for ip in [cfg.ipv4, cfg.ipv6].into_iter().flatten() {
        if n.driver != "bridge" {
            return Err(NetworkError::Invalid(format!("user specified IP address is supported only on bridge networks, not on {}", n.name)));
        }
        if n.name == "bridge" {
            return Err(NetworkError::Invalid("user specified IP address is supported on user defined networks only".into()));
        }
        if !n.subnets().any(|s| ipam::is_host_address(&s, ip)) {
            return Err(NetworkError::Invalid(format!("Invalid address {ip}: It does not belong to any of this network's subnets")));
        }
    }
    if let Some(mac) = &cfg.mac
        && link::parse_mac(mac).is_none()
    {
        return Err(NetworkError::Invalid(format!("invalid MAC address {mac:?}")));
    }
    Ok(())
}

/// Joins sandbox `sb` to bridge network `n` with `cfg`: addresses from `taken` (which holds
/// every address it must not use), the default route if `sb` has none yet (and `n` is
/// not internal). The endpoint is recorded in `sb` under the network's name.
pub fn attach(sb: &mut Sandbox, n: &Network, cfg: &EndpointConfig, taken: &BTreeSet<IpAddr>) -> Result<Endpoint, NetworkError> {
    let (mut ipv4, mut ipv6, mut gateway4, mut gateway6) = (None, None, None, None);
    for p in &n.pools {
        let Some(subnet) = p.subnet else { continue };
        match subnet {
            IpNet::V4(_) => {
                let ip = address(&subnet, p.ip_range.as_ref(), cfg.ipv4, taken)?;
                ipv4 = Some(IpNet::new(ip, subnet.prefix_len()).map_err(|e| NetworkError::Invalid(e.to_string()))?);
                gateway4 = p.gateway;
            }
            IpNet::V6(_) if n.enable_ipv6 => {
                let ip = address(&subnet, p.ip_range.as_ref(), cfg.ipv6, taken)?;
                ipv6 = Some(IpNet::new(ip, subnet.prefix_len()).map_err(|e| NetworkError::Invalid(e.to_string()))?);
                gateway6 = p.gateway;
            }
            IpNet::V6(_) => {}
        }
    }
    let routed = sb.endpoints.values().any(|e| e.gateway4.is_some());
    let (route4, route6) = if n.internal || routed { (None, None) } else { (gateway4, gateway6) };
    let mac = match cfg.mac.as_deref().and_then(link::parse_mac) {
        Some(m) => m,
        None => link::mac_for(ipv4.map(|n| n.addr())),
    };
    let ifname = (0..).map(|i| format!("eth{i}")).find(|name| !sb.endpoints.values().any(|e| &e.ifname == name)).unwrap_or_default();
    let veth = link::Veth {
        bridge: n.bridge.clone(),
        host_name: link::veth_name(),
        ifname: ifname.clone(),
        mac,
        mtu: n.mtu,
        addrs: ipv4.into_iter().chain(ipv6).collect(),
        gateway4: route4.and_then(|g| match g {
            IpAddr::V4(v) => Some(v),
            IpAddr::V6(_) => None,
        }),
        gateway6: route6.and_then(|g| match g {
            IpAddr::V6(v) => Some(v),
            IpAddr::V4(_) => None,
        }),
    };
    link::attach(&sb.key, &veth)?;
    let ep = Endpoint {
        network_id: n.id.clone(),
        endpoint_id: crate::util::random_id(),
        ifname,
        host_veth: veth.host_name,
        ipv4,
        gateway4: if n.internal { None } else { gateway4 },
        ipv6,
        gateway6: if n.internal { None } else { gateway6 },
        mac: link::mac_string(&mac),
    };
    sb.endpoints.insert(n.name.clone(), ep.clone());
    Ok(ep)
}

/// Removes sandbox `sb`'s endpoint on network `name` (a live disconnect).
pub fn detach(sb: &mut Sandbox, name: &str) -> Result<(), NetworkError> {
    if let Some(ep) = sb.endpoints.remove(name) {
        link::detach(&sb.key, &ep.ifname)?;
        let _ = link::delete(&ep.host_veth);
    }
    Ok(())
}
