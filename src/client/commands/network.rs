//! `berth network create|ls|inspect|rm|connect|disconnect|prune`: docker 28's network
//! commands, with the request bodies, output and client-side checks its CLI has.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::api::filters::Filters;
use crate::client::error::{ClientError, Result};
use crate::client::format::{inspect_array, short_id};
use crate::client::http::{escape, EngineClient, Query};
use crate::client::template::Format;

/// `/networks/{id}` with the id escaped for the path.
fn network_path(id: &str, rest: &str) -> String {
    format!("/networks/{}{rest}", escape(id, false))
}

/// `berth network create`'s options.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    pub driver: String,
    pub driver_opts: Vec<String>,
    pub labels: Vec<String>,
    pub scope: String,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    pub config_from: Option<String>,
    /// `--ipv4`/`--ipv6` when given (docker sends them only then).
    pub ipv4: Option<bool>,
    pub ipv6: Option<bool>,
    pub ipam_driver: String,
    pub ipam_opts: Vec<String>,
    pub subnets: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub gateways: Vec<String>,
    /// `--aux-address NAME=IP`.
    pub aux_addresses: Vec<String>,
}

/// docker's MapOpts: `k=v` entries (a bare `k` has an empty value).
fn kv_map(entries: &[String]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// An address or CIDR's address part.
fn parse_addr(data: &str) -> std::result::Result<IpAddr, String> {
    match data.split_once('/') {
        Some((ip, bits)) => match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Ok(ip), Ok(b)) if b <= if ip.is_ipv4() { 32 } else { 128 } => Ok(ip),
            _ => Err(format!("invalid CIDR address: {data}")),
        },
        None => data.parse().map_err(|_| format!("ParseAddr({data:?}): unable to parse IP")),
    }
}

/// docker's subnetMatches: whether `data` (an address or a CIDR's address) is in `subnet`.
fn subnet_matches(subnet: &str, data: &str) -> std::result::Result<bool, String> {
    let (net, bits) = subnet
        .split_once('/')
        .and_then(|(ip, b)| Some((ip.parse::<IpAddr>().ok()?, b.parse::<u32>().ok()?)))
        .filter(|(ip, b)| *b <= if ip.is_ipv4() { 32 } else { 128 })
        .ok_or_else(|| format!("invalid subnet: invalid CIDR address: {subnet}"))?;
    let ip = parse_addr(data)?;
    Ok(match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    })
}

/// docker's createIPAMConfig: subnets with their range, gateway and auxiliary addresses,
/// each matched to the one subnet that holds it.
fn ipam_configs(o: &CreateOptions) -> std::result::Result<Vec<Value>, String> {
    if o.subnets.len() < o.ip_ranges.len() || o.subnets.len() < o.gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    struct Cfg {
        subnet: String,
        range: String,
        gateway: String,
        aux: BTreeMap<String, String>,
    }
    let mut cfgs: Vec<Cfg> = Vec::new();
    for s in &o.subnets {
        for c in &cfgs {
            if subnet_matches(s, &c.subnet)? || subnet_matches(&c.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        cfgs.push(Cfg { subnet: s.clone(), range: String::new(), gateway: String::new(), aux: BTreeMap::new() });
    }
    for r in &o.ip_ranges {
        let mut matched = false;
        for c in cfgs.iter_mut() {
            if !subnet_matches(&c.subnet, r)? {
                continue;
            }
            if !c.range.is_empty() {
                return Err(format!("cannot configure multiple ranges ({r}, {}) on the same subnet ({})", c.range, c.subnet));
            }
            c.range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in &o.gateways {
        let mut matched = false;
        for c in cfgs.iter_mut() {
            if !subnet_matches(&c.subnet, g)? {
                continue;
            }
            if !c.gateway.is_empty() {
                return Err(format!("cannot configure multiple gateways ({g}, {}) for the same subnet ({})", c.gateway, c.subnet));
            }
            c.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, addr) in kv_map(&o.aux_addresses) {
        let mut matched = false;
        for c in cfgs.iter_mut() {
            if subnet_matches(&c.subnet, &addr)? {
                c.aux.insert(key.clone(), addr.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(cfgs
        .into_iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("Subnet".into(), json!(c.subnet));
            if !c.range.is_empty() {
                m.insert("IPRange".into(), json!(c.range));
            }
            if !c.gateway.is_empty() {
                m.insert("Gateway".into(), json!(c.gateway));
            }
            if !c.aux.is_empty() {
                m.insert("AuxiliaryAddresses".into(), json!(c.aux));
            }
            Value::Object(m)
        })
        .collect())
}

/// The body of `POST /networks/create` for `o`, member for member docker 28's.
pub fn create_body(o: &CreateOptions) -> std::result::Result<Value, String> {
    let config = ipam_configs(o)?;
    let mut m = Map::new();
    m.insert("Driver".into(), json!(o.driver));
    m.insert("Scope".into(), json!(o.scope));
    if let Some(v) = o.ipv4 {
        m.insert("EnableIPv4".into(), json!(v));
    }
    if let Some(v) = o.ipv6 {
        m.insert("EnableIPv6".into(), json!(v));
    }
    m.insert("IPAM".into(), json!({ "Driver": o.ipam_driver, "Options": kv_map(&o.ipam_opts), "Config": config }));
    m.insert("Internal".into(), json!(o.internal));
    m.insert("Attachable".into(), json!(o.attachable));
    m.insert("Ingress".into(), json!(o.ingress));
    m.insert("ConfigOnly".into(), json!(o.config_only));
    m.insert("ConfigFrom".into(), o.config_from.as_ref().map_or(Value::Null, |n| json!({ "Network": n })));
    m.insert("Options".into(), json!(kv_map(&o.driver_opts)));
    m.insert("Labels".into(), json!(kv_map(&o.labels)));
    m.insert("Name".into(), json!(o.name));
    // We speak API 1.41, where the daemon refuses a duplicate name only when asked; docker
    // 28 asks below 1.44 too (1.44+ daemons always check and ignore the member).
    m.insert("CheckDuplicate".into(), json!(true));
    Ok(Value::Object(m))
}

/// `berth network create`: prints the new network's id.
pub async fn create(client: &EngineClient, o: &CreateOptions) -> Result<u8> {
    let body = create_body(o).map_err(ClientError::Invalid)?;
    let resp: Value = client.post_json("/networks/create", &body).await?;
    if let Some(w) = resp["Warning"].as_str().filter(|w| !w.is_empty()) {
        eprintln!("{w}");
    }
    println!("{}", resp["Id"].as_str().unwrap_or_default());
    Ok(0)
}

/// `berth network ls`'s options.
#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    pub quiet: bool,
    pub no_trunc: bool,
    pub filters: Vec<String>,
    pub format: Option<String>,
}

/// docker's default `network ls` table.
const LS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// sortorder.NaturalLess as docker sorts names and ports: digit runs compare as numbers.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i]).unwrap_or("").trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j]).unwrap_or("").trim_start_matches('0');
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)).then_with(|| (i - si).cmp(&(j - sj)));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// The fields docker's `network ls --format` templates see for one network.
fn ls_context(n: &Value, no_trunc: bool) -> Value {
    let s = |k: &str| n[k].as_str().unwrap_or_default().to_owned();
    let id = if no_trunc { s("Id") } else { short_id(&s("Id")) };
    let labels: Vec<String> =
        n["Labels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect()).unwrap_or_default();
    let created = s("Created");
    json!({
        "ID": id,
        "Name": s("Name"),
        "Driver": s("Driver"),
        "Scope": s("Scope"),
        "IPv4": n["EnableIPv4"].as_bool().unwrap_or(false).to_string(),
        "IPv6": n["EnableIPv6"].as_bool().unwrap_or(false).to_string(),
        "Internal": n["Internal"].as_bool().unwrap_or(false).to_string(),
        "Labels": labels.join(","),
        "CreatedAt": go_time_text(&created),
    })
}

/// Go's `time.Time.String()` of an RFC 3339 time as the daemon sends `Created`.
fn go_time_text(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let t = t.with_timezone(&chrono::Local);
            let frac = t.format("%.f").to_string();
            let frac = frac.trim_end_matches('0').trim_end_matches('.');
            let zone = if t.offset().local_minus_utc() == 0 { "+0000 UTC".to_owned() } else { t.format("%z %Z").to_string() };
            format!("{}{frac} {zone}", t.format("%Y-%m-%d %H:%M:%S"))
        }
        Err(_) => rfc3339.to_owned(),
    }
}

/// The column titles of `network ls --format table ...`.
fn ls_header() -> Value {
    json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT", "_labels": {},
    })
}

/// The keys a format asks with `.Label "key"`.
fn label_keys(format: &str) -> Vec<String> {
    static CALL: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| regex::Regex::new(r#"\.Label\s+"((?:[^"\\]|\\.)*)""#).ok());
    match &*CALL {
        Some(re) => re.captures_iter(format).filter_map(|c| c.get(1)).map(|m| m.as_str().to_owned()).collect(),
        None => Vec::new(),
    }
}

/// Renders `network ls` for `list` (already fetched).
pub fn render_ls(list: &mut [Value], o: &LsOptions) -> Result<String> {
    list.sort_by(|a, b| natural_cmp(a["Name"].as_str().unwrap_or_default(), b["Name"].as_str().unwrap_or_default()));
    let format = o.format.as_deref().filter(|f| !f.is_empty()).unwrap_or("table");
    let mut rows: Vec<Value> = list.iter().map(|n| ls_context(n, o.no_trunc)).collect();
    // `.Label "k"` reads the row's `_labels` (only there when asked, so `{{json .}}` shows
    // docker's fields alone), "" on a network without k as docker's method returns.
    let keys = label_keys(format);
    if !keys.is_empty() {
        for (r, n) in rows.iter_mut().zip(list.iter()) {
            let mut labels = n["Labels"].as_object().cloned().unwrap_or_default();
            for key in &keys {
                labels.entry(key.clone()).or_insert_with(|| json!(""));
            }
            r["_labels"] = Value::Object(labels);
        }
    }
    if o.quiet && format == "table" {
        return Ok(rows.iter().map(|r| format!("{}\n", r["ID"].as_str().unwrap_or_default())).collect());
    }
    let f = Format::list(&super::container::label_calls(format), LS_TABLE)?;
    f.render_all(&ls_header(), &rows)
}

/// `berth network ls`.
pub async fn ls(client: &EngineClient, o: &LsOptions) -> Result<u8> {
    let filters = Filters::from_args(&o.filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let q = Query::new().set_opt("filters", filters.encode()).encode();
    let mut list: Vec<Value> = client.get_json(&format!("/networks{q}")).await?;
    print!("{}", render_ls(&mut list, o)?);
    Ok(0)
}

/// `berth network inspect [-f FORMAT] [-v] NETWORK...`.
pub async fn inspect(client: &EngineClient, names: &[String], format: Option<&str>, verbose: bool) -> Result<u8> {
    let format = match format.filter(|f| !f.is_empty()) {
        Some(f) => Some(Format::inspect(f)?),
        None => None,
    };
    let q = Query::new().flag("verbose", verbose).encode();
    let mut found = Vec::new();
    let mut code = 0;
    for name in names {
        match client.get_text(&network_path(name, &q)).await {
            Ok(v) => found.push(v),
            Err(e @ ClientError::Connect { .. }) => return Err(e),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    match format {
        Some(f) => super::container::print_templated(&f, &found)?,
        None => println!("{}", inspect_array(&found)),
    }
    Ok(code)
}

/// `berth network rm [-f] NETWORK...`: prints each removed; `-f` is quiet about missing ones.
pub async fn rm(client: &EngineClient, names: &[String], force: bool) -> Result<u8> {
    let mut code = 0;
    for name in names {
        match client.delete(&network_path(name, "")).await {
            Ok(()) => println!("{name}"),
            Err(e @ ClientError::Connect { .. }) => return Err(e),
            Err(e) if force && e.status() == Some(404) => {}
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    if code != 0 {
        // docker 28 ends a partly failed `network rm` with its bare status error's text.
        eprintln!("exit status {code}");
    }
    Ok(code)
}

/// `berth network connect`'s options.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub network: String,
    pub container: String,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub links: Vec<String>,
    pub aliases: Vec<String>,
    pub link_local_ips: Vec<String>,
    pub driver_opts: Vec<String>,
    pub gw_priority: i64,
}

/// The body of `POST /networks/{id}/connect`, member for member docker 28's.
pub fn connect_body(o: &ConnectOptions) -> std::result::Result<Value, String> {
    let mut driver_opts = BTreeMap::new();
    for opt in &o.driver_opts {
        match opt.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                driver_opts.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => return Err("invalid key/value pair format in driver options".into()),
        }
    }
    let mut ipam = Map::new();
    if let Some(ip) = o.ip.as_ref().filter(|s| !s.is_empty()) {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = o.ip6.as_ref().filter(|s| !s.is_empty()) {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    if !o.link_local_ips.is_empty() {
        ipam.insert("LinkLocalIPs".into(), json!(o.link_local_ips));
    }
    Ok(json!({
        "Container": o.container,
        "EndpointConfig": {
            "IPAMConfig": ipam,
            "Links": if o.links.is_empty() { Value::Null } else { json!(o.links) },
            "Aliases": o.aliases,
            "MacAddress": "",
            "DriverOpts": driver_opts,
            "GwPriority": o.gw_priority,
            "NetworkID": "",
            "EndpointID": "",
            "Gateway": "",
            "IPAddress": "",
            "IPPrefixLen": 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": null,
        },
    }))
}

/// `berth network connect NETWORK CONTAINER`.
pub async fn connect(client: &EngineClient, o: &ConnectOptions) -> Result<u8> {
    let body = connect_body(o).map_err(ClientError::Invalid)?;
    post(client, &network_path(&o.network, "/connect"), &body).await
}

/// `berth network disconnect [-f] NETWORK CONTAINER`.
pub async fn disconnect(client: &EngineClient, network: &str, container: &str, force: bool) -> Result<u8> {
    post(client, &network_path(network, "/disconnect"), &json!({ "Container": container, "Force": force })).await
}

/// POSTs a JSON body whose answer has no body worth reading.
async fn post(client: &EngineClient, path: &str, body: &Value) -> Result<u8> {
    let data = serde_json::to_vec(body)?;
    let resp = client.call(hyper::Method::POST, path, &[("content-type", "application/json")], crate::client::http::full(data)).await?;
    crate::client::http::read_body(resp).await?;
    Ok(0)
}

/// `berth network prune [-f] [--filter k=v]...`: removes networks no container uses.
pub async fn prune(client: &EngineClient, force: bool, filters: &[String]) -> Result<u8> {
    let f = Filters::from_args(filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let warning = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";
    if !force && !super::confirm(warning) {
        return Err(ClientError::Invalid("network prune has been cancelled".into()));
    }
    let q = Query::new().set_opt("filters", f.encode()).encode();
    let resp = client.call(hyper::Method::POST, &format!("/networks/prune{q}"), &[], crate::client::http::empty()).await?;
    let report: Value = serde_json::from_slice(&crate::client::http::read_body(resp).await?)?;
    print!("{}", render_prune(&report));
    Ok(0)
}

/// The report of `network prune`, as docker prints it.
pub fn render_prune(report: &Value) -> String {
    let deleted: Vec<&str> = report["NetworksDeleted"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if deleted.is_empty() {
        return String::new();
    }
    let mut out = String::from("Deleted Networks:\n");
    for d in deleted {
        out.push_str(d);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipam_settings_go_to_the_subnet_holding_them() {
        let o = CreateOptions {
            subnets: vec!["10.1.0.0/16".into(), "fd00::/64".into()],
            gateways: vec!["fd00::1".into(), "10.1.0.1".into()],
            ip_ranges: vec!["10.1.1.0/24".into()],
            aux_addresses: vec!["a=10.1.0.9".into()],
            ..Default::default()
        };
        let c = ipam_configs(&o).unwrap_or_default();
        assert_eq!(c[0], json!({"Subnet": "10.1.0.0/16", "IPRange": "10.1.1.0/24", "Gateway": "10.1.0.1", "AuxiliaryAddresses": {"a": "10.1.0.9"}}));
        assert_eq!(c[1], json!({"Subnet": "fd00::/64", "Gateway": "fd00::1"}));
        let o = CreateOptions { gateways: vec!["10.0.0.1".into()], ..Default::default() };
        assert_eq!(ipam_configs(&o).err().as_deref(), Some("every ip-range or gateway must have a corresponding subnet"));
        let o = CreateOptions { subnets: vec!["10.0.0.0/8".into(), "10.1.0.0/16".into()], ..Default::default() };
        assert_eq!(ipam_configs(&o).err().as_deref(), Some("multiple overlapping subnet configuration is not supported"));
    }

    #[test]
    fn natural_order_compares_numbers_by_value() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("net2", "net10"), Less);
        assert_eq!(natural_cmp("80/tcp -> a", "8080/tcp -> a"), Less);
        assert_eq!(natural_cmp("b", "a"), Greater);
        assert_eq!(natural_cmp("a", "a1"), Less);
    }
}
