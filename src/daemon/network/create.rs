//! `POST /networks/create`'s body read strictly: every field berth does not implement is
//! refused by name, and the IPAM settings are checked as Docker checks them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use super::record::{IpamPool, Network};
use super::NetworkError;

/// Bridge driver options berth honours (`-o`).
pub const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
pub const ENABLE_MASQ: &str = "com.docker.network.bridge.enable_ip_masquerade";
pub const MTU: &str = "com.docker.network.driver.mtu";
const DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";

fn invalid(msg: impl Into<String>) -> NetworkError {
    NetworkError::Invalid(msg.into())
}

fn strings(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, NetworkError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())).ok_or_else(|| invalid(format!("{field}.{k}: expected a string"))))
            .collect(),
        Some(_) => Err(invalid(format!("{field}: expected an object of strings"))),
    }
}

fn boolean(body: &Value, field: &str) -> Result<bool, NetworkError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("{field}: expected a boolean"))),
    }
}

fn text<'a>(v: &'a Value, field: &str) -> Result<&'a str, NetworkError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(format!("{field}: expected a string"))),
    }
}

/// A network name as Docker accepts one.
pub fn check_name(name: &str) -> Result<(), NetworkError> {
    let ok = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(invalid(format!("invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")));
    }
    Ok(())
}

/// A network from a create body (name checked, IPAM not yet allocated: `pools` hold what
/// was asked for). Refuses what berth does not implement, naming it.
pub fn parse(body: &Value) -> Result<Network, NetworkError> {
    if !body.is_object() {
        return Err(invalid("the network create body must be a JSON object"));
    }
    let name = text(body, "Name")?.to_owned();
    check_name(&name)?;
    let driver = match text(body, "Driver")? {
        "" => "bridge",
        d => d,
    };
    if !super::record::DRIVERS.contains(&driver) {
        return Err(NetworkError::NotFound(format!("plugin {driver:?} (berth has the bridge, host and null drivers)")));
    }
    if driver != "bridge" {
        return Err(NetworkError::Forbidden(format!("only one instance of \"{driver}\" network is allowed")));
    }
    for field in ["Ingress", "ConfigOnly"] {
        if boolean(body, field)? {
            return Err(invalid(format!("{field}: berth has no swarm or config-only networks")));
        }
    }
    if body.get("ConfigFrom").and_then(|c| c.get("Network")).and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
        return Err(invalid("ConfigFrom: berth has no config-only networks"));
    }
    match text(body, "Scope")? {
        "" | "local" => {}
        s => return Err(invalid(format!("Scope {s:?}: berth's networks are local"))),
    }
    if body.get("EnableIPv4").is_some_and(|v| v == &Value::Bool(false)) {
        return Err(invalid("EnableIPv4 false: berth's bridge networks always have IPv4"));
    }
    let options = strings(body.get("Options"), "Options")?;
    for k in options.keys() {
        if ![BRIDGE_NAME, ENABLE_ICC, ENABLE_MASQ, MTU].contains(&k.as_str()) {
            return Err(invalid(format!("Options: the bridge driver option {k:?} is not supported by berth")));
        }
    }
    let icc = match options.get(ENABLE_ICC).map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(v) => return Err(invalid(format!("{ENABLE_ICC}: {v:?} is not a boolean"))),
    };
    if let Some(v) = options.get(ENABLE_MASQ)
        && v != "true"
        && v != "false"
    {
        return Err(invalid(format!("{ENABLE_MASQ}: {v:?} is not a boolean")));
    }
    let mtu = match options.get(MTU) {
        None => None,
        Some(v) => Some(
            v.parse::<u32>().ok().filter(|m| (68..=65535).contains(m)).ok_or_else(|| invalid(format!("{MTU}: {v:?} is not an MTU (68-65535)")))?,
        ),
    };
    let ipam = body.get("IPAM").cloned().unwrap_or(Value::Null);
    match text(&ipam, "Driver")? {
        "" | "default" => {}
        d => return Err(NetworkError::NotFound(format!("plugin {d:?} (berth has the default IPAM driver only)"))),
    }
    let ipam_options = strings(ipam.get("Options"), "IPAM.Options")?;
    if let Some(k) = ipam_options.keys().next() {
        return Err(invalid(format!("IPAM.Options: {k:?} is not supported by berth")));
    }
    let enable_ipv6 = boolean(body, "EnableIPv6")?;
    let mut pools = Vec::new();
    for c in ipam.get("Config").and_then(Value::as_array).into_iter().flatten() {
        pools.push(pool(c)?);
    }
    check_pools(&pools, enable_ipv6)?;
    let mut labels = strings(body.get("Labels"), "Labels")?;
    labels.retain(|_, _| true);
    Ok(Network {
        id: String::new(),
        name,
        driver: driver.to_owned(),
        created: chrono::Utc::now(),
        enable_ipv6,
        internal: boolean(body, "Internal")?,
        attachable: boolean(body, "Attachable")?,
        pools,
        ipam_options,
        bridge: options.get(BRIDGE_NAME).cloned().unwrap_or_default(),
        options,
        labels,
        icc,
        mtu,
    })
}

fn pool(c: &Value) -> Result<IpamPool, NetworkError> {
    let net = |field: &str| -> Result<Option<IpNet>, NetworkError> {
        match text(c, field)? {
            "" => Ok(None),
            s => s.parse::<IpNet>().map(Some).map_err(|_| invalid(format!("invalid {field} {s:?}: not a CIDR subnet"))),
        }
    };
    let subnet = net("Subnet")?;
    let ip_range = net("IPRange")?;
    let gateway = match text(c, "Gateway")? {
        "" => None,
        s => Some(s.parse::<IpAddr>().map_err(|_| invalid(format!("invalid gateway address {s:?}")))?),
    };
    let mut aux = BTreeMap::new();
    for (k, v) in strings(c.get("AuxiliaryAddresses"), "AuxiliaryAddresses")? {
        let ip = v.parse::<IpAddr>().map_err(|_| invalid(format!("invalid auxiliary address {k}={v:?}")))?;
        aux.insert(k, ip);
    }
    Ok(IpamPool { subnet, ip_range, gateway, aux })
}

/// Docker's checks of a network's asked-for pools: a gateway, range or auxiliary address
/// needs a subnet and must lie in it; one IPv4 and at most one IPv6 subnet (the latter
/// only with IPv6 enabled).
fn check_pools(pools: &[IpamPool], enable_ipv6: bool) -> Result<(), NetworkError> {
    let (mut v4, mut v6) = (0, 0);
    for p in pools {
        let Some(subnet) = p.subnet else {
            if p.gateway.is_some() || p.ip_range.is_some() || !p.aux.is_empty() {
                return Err(invalid("a gateway, ip range or auxiliary address needs a subnet"));
            }
            continue;
        };
        if subnet.trunc() != subnet {
            return Err(invalid(format!("invalid subnet {subnet}: it has host bits set (did you mean {}?)", subnet.trunc())));
        }
        match subnet {
            IpNet::V4(n) if n.prefix_len() > 30 => return Err(invalid(format!("invalid subnet {subnet}: too small for containers"))),
            IpNet::V4(_) => v4 += 1,
            IpNet::V6(_) => v6 += 1,
        }
        if let Some(gw) = p.gateway
            && !crate::net::ipam::is_host_address(&subnet, gw)
        {
            return Err(invalid(format!("no matching subnet for gateway {gw}")));
        }
        if let Some(r) = p.ip_range
            && !(subnet.contains(&r.network()) && subnet.prefix_len() <= r.prefix_len())
        {
            return Err(invalid(format!("no matching subnet for range {r}")));
        }
        for (k, ip) in &p.aux {
            if !subnet.contains(ip) {
                return Err(invalid(format!("no matching subnet for aux-address {k}={ip}")));
            }
        }
    }
    if v4 > 1 || v6 > 1 {
        return Err(invalid("berth's networks have one IPv4 and at most one IPv6 subnet"));
    }
    if v6 > 0 && !enable_ipv6 {
        return Err(invalid("an IPv6 subnet needs IPv6 enabled (--ipv6)"));
    }
    for (i, a) in pools.iter().enumerate() {
        for b in &pools[i + 1..] {
            if let (Some(x), Some(y)) = (a.subnet, b.subnet)
                && crate::net::ipam::overlaps(&x, &y)
            {
                return Err(NetworkError::Overlap);
            }
        }
    }
    Ok(())
}

/// The predefined default network of a bridge daemon: `bridge` on `bridge_name`, its
/// gateway `bip`'s address, its subnet `bip`'s network.
pub fn default_bridge(bridge_name: &str, bip: IpNet, mtu: Option<u32>) -> Network {
    let (subnet, gateway) = (bip.trunc(), Some(bip.addr()));
    let mut options = BTreeMap::new();
    options.insert(DEFAULT_BRIDGE.to_owned(), "true".to_owned());
    options.insert(ENABLE_ICC.to_owned(), "true".to_owned());
    options.insert(ENABLE_MASQ.to_owned(), "true".to_owned());
    options.insert(BRIDGE_NAME.to_owned(), bridge_name.to_owned());
    if let Some(m) = mtu {
        options.insert(MTU.to_owned(), m.to_string());
    }
    Network {
        name: "bridge".into(),
        driver: "bridge".into(),
        created: chrono::Utc::now(),
        pools: vec![IpamPool { subnet: Some(subnet), gateway, ..Default::default() }],
        options,
        bridge: bridge_name.to_owned(),
        icc: true,
        mtu,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_berth_does_not_implement_is_refused_by_name() {
        let refused = |body: Value, word: &str| {
            let e = parse(&body).expect_err("refused").to_string();
            assert!(e.contains(word), "{e}");
        };
        refused(json!({"Name": "n", "Driver": "overlay"}), "overlay");
        refused(json!({"Name": "n", "Ingress": true}), "Ingress");
        refused(json!({"Name": "n", "Options": {"com.docker.network.bridge.host_binding_ipv4": "1.2.3.4"}}), "host_binding_ipv4");
        refused(json!({"Name": "n", "IPAM": {"Driver": "dhcp"}}), "dhcp");
        refused(json!({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.1/24"}]}}), "host bits");
        refused(json!({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.1.1"}]}}), "gateway 10.0.1.1");
        refused(json!({"Name": "n", "IPAM": {"Config": [{"Subnet": "fd00::/64"}]}}), "--ipv6");
        refused(json!({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/16"}, {"Subnet": "10.0.1.0/24"}]}}), "one IPv4");
        refused(json!({"Name": "bad name"}), "invalid network name");
    }

    #[test]
    fn a_plain_body_gives_a_bridge_network_with_dockers_defaults() {
        let n = parse(&json!({"Name": "app", "Driver": "bridge", "IPAM": {"Driver": "default", "Config": []}, "Options": {}, "Labels": {"a": "b"}}))
            .expect("parse");
        assert_eq!((n.name.as_str(), n.driver.as_str(), n.icc, n.pools.len()), ("app", "bridge", true, 0));
        assert_eq!(n.labels.get("a").map(String::as_str), Some("b"));
        let n = parse(&json!({"Name": "v6", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "172.30.0.0/16", "IPRange": "172.30.5.0/24", "Gateway": "172.30.0.254"}, {"Subnet": "fd00:7::/64"}]}}))
            .expect("parse");
        assert_eq!(n.pools.len(), 2);
    }
}
