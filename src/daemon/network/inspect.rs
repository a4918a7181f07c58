//! Networks and endpoints in the Engine API's shapes: `NetworkResource` (network inspect
//! and list) and `EndpointSettings` (a container's `NetworkSettings.Networks`).

use serde_json::{json, Map, Value};

use super::record::{Endpoint, EndpointConfig, Network, PortMapping};

/// One container's entry in a network's `Containers`.
pub struct Member<'a> {
    pub id: &'a str,
    /// Without the leading slash.
    pub name: &'a str,
    pub endpoint: &'a Endpoint,
}

fn ip_text(v: Option<ipnet::IpNet>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// `NetworkResource` of network `n` with `members` (list answers have none).
pub fn network(n: &Network, members: &[Member]) -> Value {
    let config: Vec<Value> = n
        .pools
        .iter()
        .map(|p| {
            let mut m = Map::new();
            if let Some(s) = p.subnet {
                m.insert("Subnet".into(), s.to_string().into());
            }
            if let Some(r) = p.ip_range {
                m.insert("IPRange".into(), r.to_string().into());
            }
            if let Some(g) = p.gateway {
                m.insert("Gateway".into(), g.to_string().into());
            }
            if !p.aux.is_empty() {
                m.insert("AuxiliaryAddresses".into(), p.aux.iter().map(|(k, v)| (k.clone(), Value::from(v.to_string()))).collect());
            }
            Value::Object(m)
        })
        .collect();
    let containers: Map<String, Value> = members
        .iter()
        .map(|m| {
            (
                m.id.to_owned(),
                json!({
                    "Name": m.name, "EndpointID": m.endpoint.endpoint_id, "MacAddress": m.endpoint.mac,
                    "IPv4Address": ip_text(m.endpoint.ipv4), "IPv6Address": ip_text(m.endpoint.ipv6),
                }),
            )
        })
        .collect();
    let predefined = n.is_predefined();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": n.enable_ipv6,
        "IPAM": {
            "Driver": "default",
            "Options": if predefined { Value::Null } else { json!(n.ipam_options) },
            "Config": config,
        },
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": containers,
        "Options": n.options,
        "Labels": n.labels,
    })
}

/// `EndpointSettings` of a container on a network (API 1.41's keys): what it asked for
/// (`cfg`), and while it runs its endpoint `ep`.
pub fn endpoint(cfg: &EndpointConfig, ep: Option<&Endpoint>) -> Value {
    let ipam = if cfg.ipv4.is_some() || cfg.ipv6.is_some() {
        let mut m = Map::new();
        if let Some(ip) = cfg.ipv4 {
            m.insert("IPv4Address".into(), ip.to_string().into());
        }
        if let Some(ip) = cfg.ipv6 {
            m.insert("IPv6Address".into(), ip.to_string().into());
        }
        Value::Object(m)
    } else {
        Value::Null
    };
    let ep = ep.cloned().unwrap_or_default();
    let gw = |g: Option<std::net::IpAddr>| g.map(|g| g.to_string()).unwrap_or_default();
    json!({
        "IPAMConfig": ipam,
        "Links": null,
        "Aliases": if cfg.aliases.is_empty() { Value::Null } else { json!(cfg.aliases) },
        "MacAddress": if ep.mac.is_empty() { cfg.mac.clone().unwrap_or_default() } else { ep.mac.clone() },
        "DriverOpts": null,
        "NetworkID": cfg.network_id,
        "EndpointID": ep.endpoint_id,
        "Gateway": gw(ep.gateway4),
        "IPAddress": ep.ipv4.map(|n| n.addr().to_string()).unwrap_or_default(),
        "IPPrefixLen": ep.ipv4.map(|n| n.prefix_len()).unwrap_or(0),
        "IPv6Gateway": gw(ep.gateway6),
        "GlobalIPv6Address": ep.ipv6.map(|n| n.addr().to_string()).unwrap_or_default(),
        "GlobalIPv6PrefixLen": ep.ipv6.map(|n| n.prefix_len()).unwrap_or(0),
    })
}

/// `NetworkSettings.Ports`: every exposed port (`exposed`, as `80/tcp`), with its host
/// bindings while the container runs (null for one exposed but not published).
pub fn ports(exposed: &[String], mappings: &[PortMapping]) -> Value {
    let mut m = Map::new();
    for p in exposed {
        m.insert(p.clone(), Value::Null);
    }
    for pm in mappings {
        let key = format!("{}/{}", pm.container_port, pm.proto);
        let entry = m.entry(key).or_insert_with(|| json!([]));
        if !entry.is_array() {
            *entry = json!([]);
        }
        if let Some(a) = entry.as_array_mut() {
            a.push(json!({ "HostIp": pm.host_ip.to_string(), "HostPort": pm.host_port.to_string() }));
        }
    }
    Value::Object(m)
}
