//! Address management as Docker's default IPAM driver does it: subnets for new networks from
//! the default pools (172.17.0.0/16 ... 172.31.0.0/16, then 192.168.0.0/16 in /20s), the
//! first host address as the gateway, and container addresses handed out from a network's
//! subnet (or its `--ip-range`), never the network, broadcast or gateway address, never one
//! already taken.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Whether two subnets share an address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Docker's default local pools, in the order it tries them.
fn default_pools() -> impl Iterator<Item = Ipv4Net> {
    let sixteens = (17..=31u8).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("a /16"));
    let twenties = (0..16u8).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20).expect("a /20"));
    sixteens.chain(twenties)
}

/// The first default pool that overlaps none of `taken`.
pub fn pick_subnet(taken: &[IpNet]) -> Option<IpNet> {
    default_pools().map(IpNet::V4).find(|p| !taken.iter().any(|t| overlaps(p, t)))
}

/// A random unique-local /64 (fd00::/8) for an IPv6 network given no subnet.
pub fn random_ula() -> IpNet {
    let r: [u8; 7] = rand::random();
    let a = Ipv6Addr::new(
        0xfd00 | r[0] as u16,
        u16::from_be_bytes([r[1], r[2]]),
        u16::from_be_bytes([r[3], r[4]]),
        u16::from_be_bytes([r[5], r[6]]),
        0,
        0,
        0,
        0,
    );
    IpNet::V6(Ipv6Net::new(a, 64).expect("a /64"))
}

/// The subnet's first host address: Docker's default gateway.
pub fn first_host(subnet: &IpNet) -> Option<IpAddr> {
    match subnet {
        IpNet::V4(n) => n.hosts().next().map(IpAddr::V4),
        IpNet::V6(n) => {
            let next = u128::from(n.network()).checked_add(1)?;
            let a = Ipv6Addr::from(next);
            n.contains(&a).then_some(IpAddr::V6(a))
        }
    }
}

/// Whether `ip` can be a container's in `subnet`: inside it and not its network or
/// (IPv4) broadcast address.
pub fn is_host_address(subnet: &IpNet, ip: IpAddr) -> bool {
    if !subnet.contains(&ip) || ip == subnet.network() {
        return false;
    }
    match subnet {
        IpNet::V4(n) => n.prefix_len() >= 31 || ip != IpAddr::V4(n.broadcast()),
        IpNet::V6(_) => true,
    }
}

/// The lowest free address of `range` (or of `subnet` when there is no range) that is a
/// host address of `subnet` and not in `taken` (which holds the gateway and every
/// container's address).
pub fn allocate(subnet: &IpNet, range: Option<&IpNet>, taken: &BTreeSet<IpAddr>) -> Option<IpAddr> {
    let from = range.unwrap_or(subnet);
    match from {
        IpNet::V4(r) => {
            let (lo, hi) = (u32::from(r.network()), u32::from(r.broadcast()));
            (lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))).find(|ip| is_host_address(subnet, *ip) && !taken.contains(ip))
        }
        IpNet::V6(r) => {
            // Searched from the start: a v6 range is vast, but only the taken addresses
            // (a few) can be skipped, so the search ends within `taken.len() + 2` steps.
            let lo = u128::from(r.network());
            (0..=taken.len() as u128 + 2)
                .filter_map(|i| lo.checked_add(i))
                .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
                .take_while(|ip| IpNet::V6(*r).contains(ip))
                .find(|ip| is_host_address(subnet, *ip) && !taken.contains(ip))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("subnet")
    }

    #[test]
    fn new_networks_take_the_first_default_pool_that_overlaps_nothing() {
        assert_eq!(pick_subnet(&[]), Some(net("172.17.0.0/16")));
        assert_eq!(pick_subnet(&[net("172.17.0.0/16"), net("172.18.5.0/24")]), Some(net("172.19.0.0/16")));
        let all16: Vec<IpNet> = (17..=31).map(|b| net(&format!("172.{b}.0.0/16"))).collect();
        assert_eq!(pick_subnet(&all16), Some(net("192.168.0.0/20")));
        assert_eq!(pick_subnet(&[net("172.16.0.0/12"), net("192.168.0.0/16")]), None);
    }

    #[test]
    fn addresses_skip_network_broadcast_gateway_and_taken_ones() {
        let s = net("10.1.0.0/30");
        let gw = first_host(&s).expect("gw");
        assert_eq!(gw, "10.1.0.1".parse::<IpAddr>().expect("ip"));
        let mut taken = BTreeSet::from([gw]);
        assert_eq!(allocate(&s, None, &taken), Some("10.1.0.2".parse().expect("ip")));
        taken.insert("10.1.0.2".parse().expect("ip"));
        assert_eq!(allocate(&s, None, &taken), None, "10.1.0.3 is the broadcast address");
        let r = net("172.20.0.128/25");
        assert_eq!(allocate(&net("172.20.0.0/16"), Some(&r), &BTreeSet::new()), Some("172.20.0.128".parse().expect("ip")));
    }

    #[test]
    fn ipv6_gateways_and_addresses_come_after_the_network_address() {
        let s = net("fd00:1::/64");
        let gw = first_host(&s).expect("gw");
        assert_eq!(gw, "fd00:1::1".parse::<IpAddr>().expect("ip"));
        assert_eq!(allocate(&s, None, &BTreeSet::from([gw])), Some("fd00:1::2".parse().expect("ip")));
        assert!(overlaps(&net("fd00::/8"), &s) && !overlaps(&net("fd01::/16"), &s));
        assert!(random_ula().to_string().starts_with("fd"));
    }
}
