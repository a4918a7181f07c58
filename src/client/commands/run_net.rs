//! The network part of `run`'s create body: `--network` (plain or `name=...,alias=...`),
//! `--ip`, `--ip6`, `--network-alias`, `--link`, `--mac-address`, `-p`, `-P`, `--expose`,
//! `--dns*` and `--add-host`, read and checked the way docker 28's CLI does, and written as
//! the members it sends (HostConfig.NetworkMode/PortBindings/..., Config.ExposedPorts,
//! NetworkingConfig.EndpointsConfig).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What `run` was asked about networking, as typed.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `--network`/`--net`: a name, `host`, `none`, `container:X`, or `name=N,alias=A,...`.
    pub networks: Vec<String>,
    /// `--ip`: the IPv4 address on the first network.
    pub ip: Option<String>,
    /// `--ip6`: the IPv6 address on the first network.
    pub ip6: Option<String>,
    /// `--network-alias`: names on the first (user-defined) network.
    pub aliases: Vec<String>,
    /// `--link NAME[:ALIAS]`.
    pub links: Vec<String>,
    /// `--link-local-ip`.
    pub link_local_ips: Vec<String>,
    /// `--mac-address`.
    pub mac_address: Option<String>,
    /// `-p/--publish [ip:][hostPort[-end]]:containerPort[-end][/proto]`.
    pub publish: Vec<String>,
    /// `-P/--publish-all`.
    pub publish_all: bool,
    /// `--expose PORT[-END][/proto]`.
    pub expose: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--add-host host:ip` (or `host=ip`).
    pub add_hosts: Vec<String>,
}

/// One network a container joins, with its per-network settings (docker's
/// NetworkAttachmentOpts).
#[derive(Debug, Clone, Default, PartialEq)]
struct Attachment {
    target: String,
    aliases: Vec<String>,
    ipv4: String,
    ipv6: String,
    mac: String,
    link_local_ips: Vec<String>,
    links: Vec<String>,
    driver_opts: BTreeMap<String, String>,
    gw_priority: i64,
}

/// Whether `mode` names a user-defined network (not default, bridge, host, none or a
/// container's namespace).
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// docker's test for the long `--network` syntax: a `word=word` anywhere in the value.
fn is_long_syntax(v: &str) -> bool {
    let b = v.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && word(b[i - 1]) && word(b[i + 1]))
}

/// Reads one `--network` value.
fn parse_network(value: &str) -> Result<Attachment, String> {
    if !is_long_syntax(value) {
        return Ok(Attachment { target: value.to_owned(), ..Default::default() });
    }
    let mut a = Attachment::default();
    for field in value.split(',') {
        // As docker: keys and values of the long syntax are lower-cased.
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let val = val.to_owned();
        match key.trim() {
            "name" => a.target = val,
            "alias" => a.aliases.push(val),
            "ip" => a.ipv4 = val,
            "ip6" => a.ipv6 = val,
            "mac-address" => a.mac = val,
            "link-local-ip" => a.link_local_ips.push(val),
            "driver-opt" => match val.split_once('=').filter(|(k, _)| !k.is_empty()) {
                Some((k, v)) => {
                    a.driver_opts.insert(k.trim().to_owned(), v.trim().to_owned());
                }
                None => return Err("invalid key value pair format in driver options".into()),
            },
            "gw-priority" => a.gw_priority = val.parse().map_err(|_| format!("invalid gw-priority: {val}"))?,
            other => return Err(format!("invalid field key {other}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name/id is not specified".into());
    }
    Ok(a)
}

/// Puts the plain flags (`--ip`, `--network-alias`, ...) on `a`, refusing both spellings
/// of one setting.
fn apply_plain_flags(a: &mut Attachment, o: &NetOptions) -> Result<(), String> {
    let conflict = |what: &str| Err(format!("conflicting options: cannot specify both {what}"));
    if !a.aliases.is_empty() && !o.aliases.is_empty() {
        return conflict("--network-alias and per-network alias");
    }
    if !a.links.is_empty() && !o.links.is_empty() {
        return conflict("--link and per-network links");
    }
    if !a.ipv4.is_empty() && o.ip.is_some() {
        return conflict("--ip and per-network IPv4 address");
    }
    if !a.ipv6.is_empty() && o.ip6.is_some() {
        return conflict("--ip6 and per-network IPv6 address");
    }
    if !a.mac.is_empty() && o.mac_address.is_some() {
        return conflict("--mac-address and per-network MAC address");
    }
    if !a.link_local_ips.is_empty() && !o.link_local_ips.is_empty() {
        return conflict("--link-local-ip and per-network link-local IP addresses");
    }
    if !o.aliases.is_empty() {
        a.aliases = o.aliases.clone();
    }
    // On a user-defined network `--link` is an alias of the endpoint; on the default
    // bridge it is a legacy link (HostConfig.Links only).
    if is_user_defined(&a.target) && !o.links.is_empty() {
        a.links = o.links.clone();
    }
    if let Some(ip) = &o.ip {
        a.ipv4 = ip.clone();
    }
    if let Some(ip) = &o.ip6 {
        a.ipv6 = ip.clone();
    }
    if let Some(mac) = &o.mac_address {
        a.mac = mac.clone();
    }
    if !o.link_local_ips.is_empty() {
        a.link_local_ips = o.link_local_ips.clone();
    }
    Ok(())
}

/// Go's `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx:..`, `xx-xx-..` or `xxxx.xxxx...`.
pub fn is_mac(s: &str) -> bool {
    let hex = |g: &str, n: usize| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit());
    let ok_count = |n: usize| matches!(n, 6 | 8 | 20);
    if s.contains('.') {
        let groups: Vec<&str> = s.split('.').collect();
        return ok_count(groups.len() * 2) && groups.iter().all(|g| hex(g, 4));
    }
    for sep in [':', '-'] {
        if s.contains(sep) {
            let groups: Vec<&str> = s.split(sep).collect();
            return ok_count(groups.len()) && groups.iter().all(|g| hex(g, 2));
        }
    }
    false
}

/// One endpoint's EndpointSettings as docker's CLI sends it (every member, zero values
/// included); None when `a` asks for nothing (docker then leaves it out).
fn endpoint(a: &Attachment) -> Result<Value, String> {
    if !is_user_defined(&a.target) {
        if !a.aliases.is_empty() {
            return Err("network-scoped aliases are only supported for user-defined networks".into());
        }
        if !a.links.is_empty() {
            return Err("links are only supported for user-defined networks".into());
        }
    }
    let ipam = if a.ipv4.is_empty() && a.ipv6.is_empty() && a.link_local_ips.is_empty() {
        Value::Null
    } else {
        let mut m = Map::new();
        if !a.ipv4.is_empty() {
            m.insert("IPv4Address".into(), json!(a.ipv4));
        }
        if !a.ipv6.is_empty() {
            m.insert("IPv6Address".into(), json!(a.ipv6));
        }
        if !a.link_local_ips.is_empty() {
            m.insert("LinkLocalIPs".into(), json!(a.link_local_ips));
        }
        Value::Object(m)
    };
    if !a.mac.is_empty() && !is_mac(a.mac.trim()) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    let list = |v: &[String]| if v.is_empty() { Value::Null } else { json!(v) };
    Ok(json!({
        "IPAMConfig": ipam,
        "Links": list(&a.links),
        "Aliases": list(&a.aliases),
        "MacAddress": a.mac,
        "DriverOpts": if a.driver_opts.is_empty() { Value::Null } else { json!(a.driver_opts) },
        "GwPriority": a.gw_priority,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": null,
    }))
}

/// The network mode and EndpointsConfig of `o`, as docker's parseNetworkOpts makes them.
fn endpoints(o: &NetOptions) -> Result<(String, Map<String, Value>), String> {
    let mut out = Map::new();
    let attachments = o.networks.iter().map(|n| parse_network(n)).collect::<Result<Vec<_>, _>>()?;
    if attachments.is_empty() {
        // No --network: the plain flags go on the daemon's default network.
        let mut a = Attachment { target: "default".into(), ..Default::default() };
        apply_plain_flags(&mut a, o)?;
        out.insert("default".into(), endpoint(&a)?);
        return Ok(("default".into(), out));
    }
    let (mut user, mut other) = (false, false);
    let single = attachments.len() == 1;
    for (i, mut a) in attachments.iter().cloned().enumerate() {
        if is_user_defined(&a.target) {
            user = true;
        } else {
            other = true;
        }
        if i == 0 {
            apply_plain_flags(&mut a, o)?;
        }
        if a.target.trim().is_empty() {
            return Err("no name set for network".into());
        }
        let ep = endpoint(&a)?;
        if out.contains_key(&a.target) {
            return Err(format!("network {:?} is specified multiple times", a.target));
        }
        // A single network asked nothing of: docker leaves its endpoint to the daemon.
        if single && a == (Attachment { target: a.target.clone(), ..Default::default() }) {
            continue;
        }
        out.insert(a.target.clone(), ep);
    }
    if user && other {
        return Err("conflicting options: cannot attach both user-defined and non-user-defined network-modes".into());
    }
    Ok((attachments[0].target.clone(), out))
}

/// go-connections' ParsePortRange: `N` or `N-M`, 16-bit, `M >= N`.
fn port_range(s: &str) -> Result<(u16, u16), String> {
    if s.is_empty() {
        return Err("empty string specified for ports".into());
    }
    let num = |p: &str| p.parse::<u16>().map_err(|_| format!("strconv.ParseUint: parsing {p:?}: invalid syntax"));
    match s.split_once('-') {
        None => num(s).map(|n| (n, n)),
        Some((a, b)) => {
            let b = b.split('-').next().unwrap_or(b);
            let (start, end) = (num(a)?, num(b)?);
            if end < start {
                return Err(format!("invalid range specified for port: {s}"));
            }
            Ok((start, end))
        }
    }
}

/// go-connections' SplitProtoPort: `80/udp` → ("udp", "80"); no protocol is tcp.
fn split_proto(raw: &str) -> (String, String) {
    let mut parts = raw.split('/');
    let port = parts.next().unwrap_or("");
    if port.is_empty() {
        return (String::new(), String::new());
    }
    match parts.next() {
        None | Some("") => ("tcp".into(), port.into()),
        Some(proto) => (proto.into(), port.into()),
    }
}

/// One port binding: (container port "80/tcp", HostIp, HostPort).
type Binding = (String, String, String);

/// go-connections' ParsePortSpec: one `-p` value as its bindings.
pub fn parse_publish(raw: &str) -> Result<Vec<Binding>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (mut ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        3 => (parts[0].to_owned(), parts[1], parts[2]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (proto, container) = split_proto(container);
    if let Some(inner) = ip.strip_prefix('[') {
        ip = match inner.strip_suffix(']') {
            Some(v) if !v.contains(['[', ']']) => v.to_owned(),
            _ => return Err(format!("invalid IP address {ip}: address {ip}:: missing ']' in address")),
        };
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) = port_range(&container).map_err(|_| format!("invalid containerPort: {container}"))?;
    let (hstart, hend) = if host.is_empty() { (0, 0) } else { port_range(host).map_err(|_| format!("invalid hostPort: {host}"))? };
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(format!("invalid ranges specified for container and host Ports: {container} and {host}"));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let mut host_port = if host.is_empty() { String::new() } else { (u32::from(hstart) + u32::from(i)).to_string() };
        // A single container port with a host range: the range is where the daemon picks.
        if start == end && hstart != hend {
            host_port = format!("{host_port}-{hend}");
        }
        out.push((format!("{}/{proto}", u32::from(start) + u32::from(i)), ip.clone(), host_port));
    }
    Ok(out)
}

/// `--expose` values as container ports ("80/tcp").
fn parse_expose(e: &str) -> Result<Vec<String>, String> {
    if e.contains(':') {
        return Err(format!("invalid port format for --expose: {e}"));
    }
    let (proto, port) = split_proto(e);
    let (start, end) = port_range(&port).map_err(|err| format!("invalid range format for --expose: {e}, error: {err}"))?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// Go's `net.ParseIP(s).String()`: the canonical text of an address.
fn canonical_ip(s: &str) -> Option<String> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_else(|| v6.to_string())),
        ip => Some(ip.to_string()),
    }
}

/// docker's ValidateExtraHost: `host:ip` or `host=ip` (ip may be bracketed or
/// `host-gateway`), sent as `host:ip`.
pub fn parse_add_host(val: &str) -> Result<String, String> {
    let split = val.split_once('=').or_else(|| val.split_once(':'));
    let Some((k, v)) = split.filter(|(k, _)| !k.is_empty() && !k.contains(':')) else {
        return Err(format!("invalid argument {val:?} for \"--add-host\" flag: bad format for add-host: {val:?}"));
    };
    let mut v = v;
    if v != "host-gateway" {
        if v.len() > 2 && v.starts_with('[') && v.ends_with(']') {
            v = &v[1..v.len() - 1];
        }
        if canonical_ip(v).is_none() {
            return Err(format!("invalid argument {val:?} for \"--add-host\" flag: invalid IP address in add-host: {v:?}"));
        }
    }
    Ok(format!("{k}:{v}"))
}

/// docker's ValidateDNSSearch: a domain name (or ".").
fn check_dns_search(val: &str) -> Result<String, String> {
    static DOMAIN: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^(:?(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))(:?\.(?:[a-zA-Z0-9]|(?:[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$",
        )
        .ok()
    });
    let v = val.trim_matches(' ');
    if v == "." {
        return Ok(v.to_owned());
    }
    let ok = DOMAIN.as_ref().is_some_and(|re| re.is_match(v)) && v.len() <= 255;
    if !ok {
        return Err(format!("invalid argument {val:?} for \"--dns-search\" flag: {v} is not a valid domain"));
    }
    Ok(v.to_owned())
}

/// Writes `o` into a create body (`Config` members at the top, `HostConfig`,
/// `NetworkingConfig`) exactly as docker 28's CLI does. Errors are docker's messages.
pub fn apply(o: &NetOptions, body: &mut Value) -> Result<(), String> {
    let dns = o
        .dns
        .iter()
        .map(|d| canonical_ip(d).ok_or_else(|| format!("invalid argument {d:?} for \"--dns\" flag: IP address is not correctly formatted: {d}")))
        .collect::<Result<Vec<_>, _>>()?;
    let dns_search = o.dns_search.iter().map(|d| check_dns_search(d)).collect::<Result<Vec<_>, _>>()?;
    let extra_hosts = o.add_hosts.iter().map(|h| parse_add_host(h)).collect::<Result<Vec<_>, _>>()?;
    if let Some(mac) = o.mac_address.as_ref().filter(|m| !is_mac(m.trim())) {
        return Err(format!("{mac} is not a valid mac address"));
    }
    let mut exposed = BTreeMap::new();
    let mut bindings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in &o.publish {
        if p.contains('=') {
            return Err(format!("invalid publish option {p:?}: the long --publish syntax (target=,published=) is not supported by berth"));
        }
        for (port, ip, host) in parse_publish(p)? {
            exposed.insert(port.clone(), json!({}));
            bindings.entry(port).or_default().push(json!({ "HostIp": ip, "HostPort": host }));
        }
    }
    for e in &o.expose {
        for port in parse_expose(e)? {
            exposed.entry(port).or_insert_with(|| json!({}));
        }
    }
    let (mode, eps) = endpoints(o)?;

    let Some(top) = body.as_object_mut() else { return Err("the create body is not an object".into()) };
    if !exposed.is_empty() {
        top.insert("ExposedPorts".into(), json!(exposed));
    }
    top.insert("NetworkingConfig".into(), json!({ "EndpointsConfig": eps }));
    let hc = top.entry("HostConfig").or_insert_with(|| json!({}));
    let Some(hc) = hc.as_object_mut() else { return Err("the create body's HostConfig is not an object".into()) };
    hc.insert("NetworkMode".into(), json!(mode));
    hc.insert("PortBindings".into(), json!(bindings));
    hc.insert("PublishAllPorts".into(), json!(o.publish_all));
    hc.insert("Links".into(), if o.links.is_empty() { Value::Null } else { json!(o.links) });
    hc.insert("Dns".into(), json!(dns));
    hc.insert("DnsSearch".into(), json!(dns_search));
    hc.insert("DnsOptions".into(), json!(o.dns_options));
    hc.insert("ExtraHosts".into(), if extra_hosts.is_empty() { Value::Null } else { json!(extra_hosts) });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(port: &str, ip: &str, host: &str) -> Binding {
        (port.into(), ip.into(), host.into())
    }

    #[test]
    fn publish_specs_parse_as_docker_reads_them() {
        assert_eq!(parse_publish("80"), Ok(vec![b("80/tcp", "", "")]));
        assert_eq!(parse_publish("8080:80/udp"), Ok(vec![b("80/udp", "", "8080")]));
        assert_eq!(parse_publish("127.0.0.1::80"), Ok(vec![b("80/tcp", "127.0.0.1", "")]));
        assert_eq!(parse_publish("[::1]:8080:80"), Ok(vec![b("80/tcp", "::1", "8080")]));
        assert_eq!(parse_publish("::1:8080:80"), Ok(vec![b("80/tcp", "::1", "8080")]));
        assert_eq!(parse_publish("8000-8001:80-81"), Ok(vec![b("80/tcp", "", "8000"), b("81/tcp", "", "8001")]));
        assert_eq!(parse_publish("8000-8002:80"), Ok(vec![b("80/tcp", "", "8000-8002")]));
        assert_eq!(parse_publish("80-81:90-92").err().as_deref(), Some("invalid ranges specified for container and host Ports: 90-92 and 80-81"));
        assert_eq!(parse_publish("80:80/xyz").err().as_deref(), Some("invalid proto: xyz"));
        assert_eq!(parse_publish("1.2.3:80:80").err().as_deref(), Some("invalid IP address: 1.2.3"));
        assert_eq!(parse_publish("80:").err().as_deref(), Some("no port specified: 80:<empty>"));
        assert_eq!(parse_publish("70000:80").err().as_deref(), Some("invalid hostPort: 70000"));
    }

    #[test]
    fn a_single_plain_network_sends_no_endpoint_and_no_network_sends_default() {
        let o = NetOptions { networks: vec!["host".into()], ..Default::default() };
        let (mode, eps) = endpoints(&o).unwrap_or_default();
        assert_eq!((mode.as_str(), eps.len()), ("host", 0));
        let (mode, eps) = endpoints(&NetOptions::default()).unwrap_or_default();
        assert_eq!(mode, "default");
        assert!(eps.contains_key("default"));
        let o = NetOptions { networks: vec!["bridge".into()], aliases: vec!["a".into()], ..Default::default() };
        assert_eq!(endpoints(&o).err().as_deref(), Some("network-scoped aliases are only supported for user-defined networks"));
    }

    #[test]
    fn extra_hosts_and_macs_are_checked() {
        assert_eq!(parse_add_host("d=[::2]").as_deref(), Ok("d:::2"));
        assert_eq!(parse_add_host("c:::1").as_deref(), Ok("c:::1"));
        assert!(parse_add_host("bad").is_err());
        assert!(is_mac("02:42:ac:11:00:02") && is_mac("0242.ac11.0002") && !is_mac("zz"));
    }
}
