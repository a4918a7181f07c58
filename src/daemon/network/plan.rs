//! A create body's networking read and checked at create: the network mode, the endpoints
//! (`NetworkingConfig`), the published and exposed ports. What berth does not implement
//! (legacy links, driver options, link-local addresses) is refused by name.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::api::host_config::PortBinding;
use crate::api::types::EndpointSettings;

use super::record::EndpointConfig;
use super::NetworkError;

fn invalid(msg: impl Into<String>) -> NetworkError {
    NetworkError::Invalid(msg.into())
}

/// How a container is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// On bridge networks (the default one or user-defined ones), by name or id.
    Bridge(String),
    /// In the daemon's namespace.
    Host,
    /// Loopback only.
    None,
    /// In another container's namespace.
    Container(String),
}

/// The mode of `NetworkMode` (`""` and `default` are the default bridge).
pub fn mode(network_mode: &str) -> Mode {
    match network_mode {
        "" | "default" | "bridge" => Mode::Bridge("bridge".into()),
        "host" => Mode::Host,
        "none" => Mode::None,
        m => match m.strip_prefix("container:") {
            Some(c) => Mode::Container(c.to_owned()),
            None => Mode::Bridge(m.to_owned()),
        },
    }
}

/// What one endpoint asks for, checked: the fields berth does not implement refused.
pub fn endpoint_config(net: &str, s: &EndpointSettings) -> Result<EndpointConfig, NetworkError> {
    if s.links.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(invalid(format!("EndpointsConfig.{net}.Links: legacy container links are not supported by berth (use a user-defined network)")));
    }
    if s.driver_opts.as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(invalid(format!("EndpointsConfig.{net}.DriverOpts: endpoint driver options are not supported by berth")));
    }
    if s.gw_priority != 0 {
        return Err(invalid(format!("EndpointsConfig.{net}.GwPriority: gateway priorities are not supported by berth")));
    }
    let ipam = s.ipam_config.clone().unwrap_or_default();
    if ipam.link_local_ips.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(invalid(format!("EndpointsConfig.{net}.IPAMConfig.LinkLocalIPs: link-local addresses are not supported by berth")));
    }
    let addr = |s: &str, v6: bool| -> Result<Option<IpAddr>, NetworkError> {
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 => Ok(Some(ip)),
            _ => Err(invalid(format!("invalid {} address: {s}", if v6 { "IPv6" } else { "IPv4" }))),
        }
    };
    let mut aliases: Vec<String> = Vec::new();
    for a in s.aliases.iter().flatten() {
        if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("invalid network alias {a:?}")));
        }
        if !aliases.contains(a) {
            aliases.push(a.clone());
        }
    }
    Ok(EndpointConfig {
        network_id: String::new(),
        aliases,
        ipv4: addr(&ipam.ipv4_address, false)?,
        ipv6: addr(&ipam.ipv6_address, true)?,
        mac: Some(s.mac_address.clone()).filter(|m| !m.is_empty()),
    })
}

/// A port key of `ExposedPorts`/`PortBindings` (`80`, `80/tcp`, `53/udp`) as (port, proto).
pub fn port_key(k: &str) -> Result<(u16, String), NetworkError> {
    let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if proto != "tcp" && proto != "udp" {
        return Err(invalid(format!("invalid proto {proto:?} in port {k:?}: berth publishes tcp and udp")));
    }
    let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| invalid(format!("invalid port specification: {k:?}")))?;
    Ok((port, proto))
}

/// A host port field: empty (ephemeral), one port or a range `A-B`.
pub fn host_ports(s: &str) -> Result<Option<(u16, u16)>, NetworkError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || invalid(format!("invalid hostPort: {s}"));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b) = (a.parse::<u16>().map_err(|_| bad())?, b.parse::<u16>().map_err(|_| bad())?);
    if a == 0 && b == 0 {
        return Ok(None);
    }
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// One host binding to make at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub container_port: u16,
    pub proto: String,
    pub host_ip: IpAddr,
    /// None: an ephemeral port.
    pub host_ports: Option<(u16, u16)>,
    /// No host IP was given: published on 0.0.0.0 and, where the host has IPv6, on `::`
    /// too (Docker's two bindings); an explicit 0.0.0.0 is IPv4 only.
    pub both_families: bool,
}

/// The bindings a container's `PortBindings` and `PublishAllPorts` (over `exposed`) ask
/// for, checked.
pub fn publishes(bindings: Option<&BTreeMap<String, Option<Vec<PortBinding>>>>, all: bool, exposed: &[String]) -> Result<Vec<Publish>, NetworkError> {
    let mut out = Vec::new();
    let unspecified = IpAddr::from([0, 0, 0, 0]);
    for (k, list) in bindings.into_iter().flatten() {
        let (port, proto) = port_key(k)?;
        let list = list.clone().unwrap_or_default();
        let list = if list.is_empty() { vec![PortBinding::default()] } else { list };
        for b in list {
            let given = b.host_ip.trim_start_matches('[').trim_end_matches(']');
            let host_ip = match given {
                "" => unspecified,
                ip => ip.parse::<IpAddr>().map_err(|_| invalid(format!("invalid host IP {:?} for port {k}", b.host_ip)))?,
            };
            let both_families = given.is_empty();
            out.push(Publish { container_port: port, proto: proto.clone(), host_ip, host_ports: host_ports(&b.host_port)?, both_families });
        }
    }
    if all {
        for k in exposed {
            let (port, proto) = port_key(k)?;
            if !out.iter().any(|p| p.container_port == port && p.proto == proto) {
                out.push(Publish { container_port: port, proto, host_ip: unspecified, host_ports: None, both_families: true });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_dockers_names() {
        assert_eq!(mode("default"), Mode::Bridge("bridge".into()));
        assert_eq!(mode(""), Mode::Bridge("bridge".into()));
        assert_eq!(mode("app"), Mode::Bridge("app".into()));
        assert_eq!(mode("container:web"), Mode::Container("web".into()));
        assert_eq!((mode("host"), mode("none")), (Mode::Host, Mode::None));
    }

    #[test]
    fn ports_and_bindings_are_checked() {
        assert_eq!(port_key("80").expect("80"), (80, "tcp".into()));
        assert_eq!(port_key("53/UDP").expect("53"), (53, "udp".into()));
        assert!(port_key("80/sctp").is_err() && port_key("0/tcp").is_err() && port_key("x/tcp").is_err());
        assert_eq!(host_ports("8000-8010").expect("range"), Some((8000, 8010)));
        assert_eq!(host_ports("").expect("empty"), None);
        assert!(host_ports("9-8").is_err() && host_ports("70000").is_err());
        let b = BTreeMap::from([("80/tcp".to_string(), Some(vec![PortBinding { host_ip: "127.0.0.1".into(), host_port: "8080".into() }]))]);
        let p = publishes(Some(&b), true, &["80/tcp".into(), "53/udp".into()]).expect("publishes");
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].host_ports, p[0].both_families), (Some((8080, 8080)), false));
        assert_eq!((p[1].container_port, p[1].host_ports, p[1].both_families), (53, None, true));
        // No host IP: both families; an explicit 0.0.0.0: IPv4 only.
        let b = BTreeMap::from([
            ("80/tcp".to_string(), Some(vec![PortBinding { host_ip: String::new(), host_port: "8080".into() }])),
            ("81/tcp".to_string(), Some(vec![PortBinding { host_ip: "0.0.0.0".into(), host_port: "8081".into() }])),
        ]);
        let p = publishes(Some(&b), false, &[]).expect("publishes");
        assert_eq!(
            p.iter().map(|p| (p.host_ip.to_string(), p.both_families)).collect::<Vec<_>>(),
            [("0.0.0.0".into(), true), ("0.0.0.0".into(), false)]
        );
    }

    #[test]
    fn unsupported_endpoint_settings_are_refused_by_name() {
        let s = EndpointSettings { links: Some(vec!["db".into()]), ..Default::default() };
        assert!(endpoint_config("app", &s).expect_err("links").to_string().contains("Links"));
        let s = EndpointSettings { driver_opts: Some(BTreeMap::from([("a".into(), "b".into())])), ..Default::default() };
        assert!(endpoint_config("app", &s).expect_err("opts").to_string().contains("DriverOpts"));
        let s = EndpointSettings {
            ipam_config: Some(crate::api::types::EndpointIpamConfig { ipv4_address: "fd00::1".into(), ..Default::default() }),
            ..Default::default()
        };
        assert!(endpoint_config("app", &s).is_err());
    }
}
