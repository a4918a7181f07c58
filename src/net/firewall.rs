//! Berth's firewall: isolation, masquerading and published-port DNAT as nftables rules in one
//! table of berth's own (`table inet berth`), written through libnftables' JSON (`nft -j`).
//!
//! Layout of the table:
//! - set `bridges`: every berth bridge (isolation drops traffic from one to another);
//! - base chain `forward` (filter): per network `iifname B jump from-B` and
//!   `oifname B jump to-B`; `from-B` decides traffic leaving bridge B (icc, isolation,
//!   internal), `to-B` traffic entering it (established, published ports via `ports-B`);
//! - base chains `prerouting`/`output` (nat): jump to `dnat-pre`/`dnat-out` for local
//!   destinations (output skips loopback: the userland proxy serves it, as Docker's
//!   userland-proxy=true); those hold one DNAT rule per published port;
//! - base chain `postrouting` (nat): masquerade per network subnet.
//!
//! Every rule berth adds per network or port carries a comment naming it, so removal works
//! by content (rules found by comment in `nft -j list table`, deleted by handle) and every
//! call first deletes what an earlier (maybe crashed) call left, in the same atomic batch.

use nftables::batch::Batch;
use nftables::helper::{self, NftablesError};
use nftables::schema::{Chain, Element, FlushObject, NfCmd, NfListObject, Rule, Set, SetType, SetTypeValue, Table};
use nftables::stmt::Statement;
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Name of berth's table (family inet: one table serves IPv4 and IPv6).
pub const TABLE: &str = "berth";
const FAMILY: NfFamily = NfFamily::INet;
const BRIDGES_SET: &str = "bridges";
const FORWARD: &str = "forward";
const PREROUTING: &str = "prerouting";
const OUTPUT: &str = "output";
const POSTROUTING: &str = "postrouting";
const DNAT_PRE: &str = "dnat-pre";
const DNAT_OUT: &str = "dnat-out";

/// A failure of a firewall operation, naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// `nft` failed or could not run.
    #[error("nftables: {what}: {source}{}", stderr_of(.source))]
    Nft {
        what: String,
        #[source]
        source: NftablesError,
    },
    /// `nft -j list` printed JSON berth does not understand.
    #[error("nftables: {what}: unexpected listing: {detail}")]
    Listing { what: String, detail: String },
    /// A name or value berth refuses to put in a rule.
    #[error("firewall: {0}")]
    Invalid(String),
}

fn stderr_of(e: &NftablesError) -> String {
    match e {
        NftablesError::NftFailed { stderr, .. } if !stderr.trim().is_empty() => format!(": {}", stderr.trim()),
        _ => String::new(),
    }
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl FromStr for Proto {
    type Err = FirewallError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(FirewallError::Invalid(format!("unknown protocol {s:?} (want tcp or udp)"))),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// What the firewall does for one bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// The network's Linux bridge.
    pub bridge: String,
    /// Its subnets (IPv4 and IPv6), masqueraded when `masquerade`.
    pub subnets: Vec<ipnet::IpNet>,
    /// Inter-container communication on the same bridge.
    pub icc: bool,
    /// Source NAT for traffic from the subnets leaving through another interface.
    pub masquerade: bool,
    /// No traffic in or out other than within the bridge.
    pub internal: bool,
}

/// One published port: host (ip, port) forwarded to a container's (ip, port) on `bridge`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortRule {
    pub proto: Proto,
    /// The host address the port is published on; None: every local address.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
    /// The bridge the container is reached through.
    pub bridge: String,
}

/// Makes berth's table and base chains; idempotent (the base nat rules are rewritten).
pub fn init() -> Result<(), FirewallError> {
    let mut b = Batch::new();
    base(&mut b);
    b.add_cmd(NfCmd::Flush(FlushObject::Chain(chain(PREROUTING))));
    b.add_cmd(NfCmd::Flush(FlushObject::Chain(chain(OUTPUT))));
    let local = json!({"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}});
    b.add(rule(PREROUTING, vec![local.clone(), json!({"jump": {"target": DNAT_PRE}})], None)?);
    // Local connections to a local non-loopback address are DNATed too; loopback is left to
    // the userland proxy (route_localnet stays off).
    for (fam, proto, lo) in [("ipv4", "ip", json!({"prefix": {"addr": "127.0.0.0", "len": 8}})), ("ipv6", "ip6", json!("::1"))] {
        b.add(rule(
            OUTPUT,
            vec![
                json!({"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": fam}}),
                local.clone(),
                json!({"match": {"op": "!=", "left": {"payload": {"protocol": proto, "field": "daddr"}}, "right": lo}}),
                json!({"jump": {"target": DNAT_OUT}}),
            ],
            None,
        )?);
    }
    apply(b, "initialising table inet berth")
}

/// Adds (or rewrites) the rules of one bridge network: isolation from other berth bridges,
/// icc, internal, masquerading. Its published ports are kept.
pub fn add_network(r: &NetworkRules) -> Result<(), FirewallError> {
    let _serial = lock();
    check_ifname(&r.bridge)?;
    let what = format!("adding network rules for bridge {}", r.bridge);
    let cur = Listing::read(&what)?;
    let br = r.bridge.as_str();
    let mut b = Batch::new();
    base(&mut b);
    for h in cur.rules_with(&[FORWARD, POSTROUTING], |c| c == net_comment(br)) {
        b.delete(h);
    }
    b.add(NfListObject::Element(Element {
        family: FAMILY,
        table: TABLE.into(),
        name: BRIDGES_SET.into(),
        elem: Cow::Owned(vec![serde_json::from_value(json!(br)).map_err(|e| listing_err(&what, e))?]),
    }));
    let (from, to, ports) = (from_chain(br), to_chain(br), ports_chain(br));
    for c in [&from, &to, &ports] {
        b.add(NfListObject::Chain(chain(c)));
    }
    b.add_cmd(NfCmd::Flush(FlushObject::Chain(chain(&from))));
    b.add_cmd(NfCmd::Flush(FlushObject::Chain(chain(&to))));
    let oif_is = |name: &str| json!({"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": name}});
    let verdict = |accept: bool| if accept { json!({"accept": null}) } else { json!({"drop": null}) };
    // Leaving bridge B.
    b.add(rule(&from, vec![oif_is(br), verdict(r.icc)], None)?);
    b.add(rule(&from, vec![oif_is(&format!("@{BRIDGES_SET}")), verdict(false)], None)?);
    b.add(rule(&from, vec![verdict(!r.internal)], None)?);
    // Entering bridge B from elsewhere: replies, published ports, nothing else.
    if r.internal {
        b.add(rule(&to, vec![verdict(false)], None)?);
    } else {
        let est = json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}});
        b.add(rule(&to, vec![est, verdict(true)], None)?);
        b.add(rule(&to, vec![json!({"jump": {"target": ports}})], None)?);
        b.add(rule(&to, vec![verdict(false)], None)?);
    }
    let c = Some(net_comment(br));
    b.add(rule(
        FORWARD,
        vec![json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": br}}), json!({"jump": {"target": from}})],
        c.clone(),
    )?);
    b.add(rule(FORWARD, vec![oif_is(br), json!({"jump": {"target": to}})], c.clone())?);
    if r.masquerade && !r.internal {
        for net in &r.subnets {
            let proto = if net.addr().is_ipv4() { "ip" } else { "ip6" };
            let prefix = json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}});
            b.add(rule(
                POSTROUTING,
                vec![
                    json!({"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "saddr"}}, "right": prefix}}),
                    json!({"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": br}}),
                    json!({"masquerade": null}),
                ],
                c.clone(),
            )?);
        }
    }
    apply(b, &what)
}

/// Removes everything `add_network` and `add_port` made for `bridge`; nothing to remove is
/// not an error.
pub fn remove_network(bridge: &str) -> Result<(), FirewallError> {
    let _serial = lock();
    check_ifname(bridge)?;
    let what = format!("removing network rules for bridge {bridge}");
    let cur = Listing::read(&what)?;
    let mut b = Batch::new();
    let nc = net_comment(bridge);
    let pc = format!("port {bridge} ");
    for h in cur.rules_with(&[FORWARD, POSTROUTING, DNAT_PRE, DNAT_OUT], |c| c == nc || c.starts_with(&pc)) {
        b.delete(h);
    }
    for c in [from_chain(bridge), to_chain(bridge), ports_chain(bridge)] {
        if cur.chains.contains(&c) {
            b.add_cmd(NfCmd::Flush(FlushObject::Chain(chain(&c))));
        }
    }
    for c in [from_chain(bridge), to_chain(bridge), ports_chain(bridge)] {
        if cur.chains.contains(&c) {
            b.delete(NfListObject::Chain(chain(&c)));
        }
    }
    if cur.bridges.iter().any(|e| e == bridge) {
        b.delete(NfListObject::Element(Element {
            family: FAMILY,
            table: TABLE.into(),
            name: BRIDGES_SET.into(),
            elem: Cow::Owned(vec![serde_json::from_value(json!(bridge)).map_err(|e| listing_err(&what, e))?]),
        }));
    }
    apply(b, &what)
}

/// Publishes a port: DNAT from outside (prerouting) and from local processes to a local
/// non-loopback address (output), and forward accept to the container. Idempotent.
pub fn add_port(p: &PortRule) -> Result<(), FirewallError> {
    let _serial = lock();
    check_ifname(&p.bridge)?;
    if p.host_ip.is_some_and(|h| h.is_ipv4() != p.container_ip.is_ipv4()) {
        return Err(FirewallError::Invalid(format!(
            "host address {} and container address {} are of different families",
            p.host_ip.map(|h| h.to_string()).unwrap_or_default(),
            p.container_ip
        )));
    }
    let comment = port_comment(p);
    let what = format!("adding published port ({comment})");
    let cur = Listing::read(&what)?;
    let mut b = Batch::new();
    base(&mut b);
    let ports = ports_chain(&p.bridge);
    b.add(NfListObject::Chain(chain(&ports)));
    for h in cur.rules_with(&[DNAT_PRE, DNAT_OUT, &ports], |c| c == comment) {
        b.delete(h);
    }
    let (fam, nat_fam, proto) = if p.container_ip.is_ipv4() { ("ipv4", "ip", "ip") } else { ("ipv6", "ip6", "ip6") };
    let l4 = json!({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": p.proto.to_string()}});
    let mut head = vec![json!({"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": fam}})];
    if let Some(h) = p.host_ip {
        head.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "daddr"}}, "right": h.to_string()}}));
    }
    head.push(l4.clone());
    head.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": p.host_port}}));
    let dnat = json!({"dnat": {"family": nat_fam, "addr": p.container_ip.to_string(), "port": p.container_port}});
    let c = Some(comment.clone());
    // Traffic from the container's own bridge is left to the proxy (no hairpin NAT).
    let mut pre = vec![json!({"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": p.bridge}})];
    pre.extend(head.iter().cloned());
    pre.push(dnat.clone());
    b.add(rule(DNAT_PRE, pre, c.clone())?);
    let mut out = head;
    out.push(dnat);
    b.add(rule(DNAT_OUT, out, c.clone())?);
    b.add(rule(
        &ports,
        vec![
            json!({"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "daddr"}}, "right": p.container_ip.to_string()}}),
            l4,
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": p.container_port}}),
            json!({"accept": null}),
        ],
        c,
    )?);
    apply(b, &what)
}

/// Unpublishes a port `add_port` made; nothing to remove is not an error.
pub fn remove_port(p: &PortRule) -> Result<(), FirewallError> {
    let _serial = lock();
    check_ifname(&p.bridge)?;
    let comment = port_comment(p);
    let what = format!("removing published port ({comment})");
    let cur = Listing::read(&what)?;
    let mut b = Batch::new();
    for h in cur.rules_with(&[DNAT_PRE, DNAT_OUT, &ports_chain(&p.bridge)], |c| c == comment) {
        b.delete(h);
    }
    apply(b, &what)
}

/// Deletes berth's table and everything in it (teardown, tests).
pub fn clear() -> Result<(), FirewallError> {
    let mut b = Batch::new();
    // `add` first so that deleting a table that is not there is no error.
    b.add(NfListObject::Table(table()));
    b.delete(NfListObject::Table(table()));
    apply(b, "deleting table inet berth")
}

fn table() -> Table<'static> {
    Table { family: FAMILY, name: TABLE.into(), ..Default::default() }
}

fn chain(name: &str) -> Chain<'static> {
    Chain { family: FAMILY, table: TABLE.into(), name: name.to_owned().into(), ..Default::default() }
}

fn base_chain(name: &str, ty: NfChainType, hook: NfHook, prio: i32) -> Chain<'static> {
    Chain { _type: Some(ty), hook: Some(hook), prio: Some(prio), policy: Some(NfChainPolicy::Accept), ..chain(name) }
}

/// The table, set and chains every operation needs; `add` of what exists is a no-op.
fn base(b: &mut Batch<'static>) {
    b.add(NfListObject::Table(table()));
    b.add(NfListObject::Set(Box::new(Set {
        family: FAMILY,
        table: TABLE.into(),
        name: BRIDGES_SET.into(),
        set_type: SetTypeValue::Single(SetType::Ifname),
        ..Default::default()
    })));
    b.add(NfListObject::Chain(base_chain(FORWARD, NfChainType::Filter, NfHook::Forward, 0)));
    b.add(NfListObject::Chain(base_chain(PREROUTING, NfChainType::NAT, NfHook::Prerouting, -100)));
    b.add(NfListObject::Chain(base_chain(OUTPUT, NfChainType::NAT, NfHook::Output, -100)));
    b.add(NfListObject::Chain(base_chain(POSTROUTING, NfChainType::NAT, NfHook::Postrouting, 100)));
    b.add(NfListObject::Chain(chain(DNAT_PRE)));
    b.add(NfListObject::Chain(chain(DNAT_OUT)));
}

fn rule(chain: &str, expr: Vec<Value>, comment: Option<String>) -> Result<NfListObject<'static>, FirewallError> {
    let expr: Vec<Statement<'static>> = expr
        .into_iter()
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| FirewallError::Invalid(format!("statement {v}: {e}"))))
        .collect::<Result<_, _>>()?;
    Ok(NfListObject::Rule(Rule {
        family: FAMILY,
        table: TABLE.into(),
        chain: chain.to_owned().into(),
        expr: expr.into(),
        comment: comment.map(Cow::Owned),
        ..Default::default()
    }))
}

/// Serialises this process's list-then-change operations (each reads the table, then
/// applies one batch computed from what it read).
fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn apply(b: Batch<'static>, what: &str) -> Result<(), FirewallError> {
    let n = b.to_nftables();
    if n.objects.is_empty() {
        return Ok(());
    }
    helper::apply_ruleset(&n).map_err(|source| FirewallError::Nft { what: what.to_owned(), source })
}

fn from_chain(bridge: &str) -> String {
    format!("from-{bridge}")
}
fn to_chain(bridge: &str) -> String {
    format!("to-{bridge}")
}
fn ports_chain(bridge: &str) -> String {
    format!("ports-{bridge}")
}
fn net_comment(bridge: &str) -> String {
    format!("net {bridge}")
}

/// The comment that identifies a port's rules: `port BRIDGE PROTO HOST:PORT CONTAINER:PORT`
/// (at most about 115 bytes with IPv6 addresses; nft allows 128).
fn port_comment(p: &PortRule) -> String {
    let host = match p.host_ip {
        Some(h) => sock(h, p.host_port),
        None => format!("*:{}", p.host_port),
    };
    format!("port {} {} {} {}", p.bridge, p.proto, host, sock(p.container_ip, p.container_port))
}

fn sock(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

/// Interface names as the kernel allows them (and nothing a comment could be confused by).
fn check_ifname(name: &str) -> Result<(), FirewallError> {
    let ok =
        !name.is_empty() && name.len() < 16 && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)) && name != "." && name != "..";
    if ok {
        Ok(())
    } else {
        Err(FirewallError::Invalid(format!("invalid bridge name {name:?}")))
    }
}

fn listing_err(what: &str, e: impl fmt::Display) -> FirewallError {
    FirewallError::Listing { what: what.to_owned(), detail: e.to_string() }
}

/// What berth's table holds now: chain names, the `bridges` set and commented rules.
#[derive(Debug, Default)]
struct Listing {
    chains: Vec<String>,
    bridges: Vec<String>,
    /// (chain, handle, comment)
    rules: Vec<(String, u32, String)>,
}

impl Listing {
    fn read(what: &str) -> Result<Self, FirewallError> {
        match helper::get_current_ruleset_raw(helper::DEFAULT_NFT, ["list", "table", "inet", TABLE]) {
            Ok(s) => Self::parse(&s).map_err(|d| listing_err(what, d)),
            // No table yet: nothing of berth's exists.
            Err(NftablesError::NftFailed { stderr, .. }) if stderr.contains("No such file or directory") => Ok(Self::default()),
            Err(source) => Err(FirewallError::Nft { what: what.to_owned(), source }),
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
        let objs = v.get("nftables").and_then(Value::as_array).ok_or("no \"nftables\" array")?;
        let mut l = Listing::default();
        for o in objs {
            if let Some(c) = o.get("chain") {
                if c.get("table").and_then(Value::as_str) == Some(TABLE)
                    && let Some(n) = c.get("name").and_then(Value::as_str)
                {
                    l.chains.push(n.to_owned());
                }
            } else if let Some(s) = o.get("set") {
                if s.get("name").and_then(Value::as_str) == Some(BRIDGES_SET) {
                    for e in s.get("elem").and_then(Value::as_array).into_iter().flatten() {
                        if let Some(e) = e.as_str() {
                            l.bridges.push(e.to_owned());
                        }
                    }
                }
            } else if let Some(r) = o.get("rule")
                && let (Some(chain), Some(handle), Some(comment)) =
                    (r.get("chain").and_then(Value::as_str), r.get("handle").and_then(Value::as_u64), r.get("comment").and_then(Value::as_str))
            {
                let handle = u32::try_from(handle).map_err(|_| format!("rule handle {handle} out of range"))?;
                l.rules.push((chain.to_owned(), handle, comment.to_owned()));
            }
        }
        Ok(l)
    }

    /// Rules in `chains` whose comment satisfies `pred`, as objects to delete.
    fn rules_with(&self, chains: &[&str], pred: impl Fn(&str) -> bool) -> Vec<NfListObject<'static>> {
        self.rules
            .iter()
            .filter(|(c, _, com)| chains.contains(&c.as_str()) && pred(com))
            .map(|(c, h, _)| {
                NfListObject::Rule(Rule { family: FAMILY, table: TABLE.into(), chain: c.clone().into(), handle: Some(*h), ..Default::default() })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_parses_and_prints_tcp_and_udp_only() {
        assert_eq!("tcp".parse::<Proto>().ok(), Some(Proto::Tcp));
        assert_eq!("udp".parse::<Proto>().ok(), Some(Proto::Udp));
        assert_eq!(Proto::Udp.to_string(), "udp");
        assert!("sctp".parse::<Proto>().is_err());
        assert!("TCP".parse::<Proto>().is_err());
    }

    #[test]
    fn port_comment_fits_nft_limit_with_ipv6() {
        let p = PortRule {
            proto: Proto::Udp,
            host_ip: Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap()),
            host_port: 65535,
            container_ip: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe".parse().unwrap(),
            container_port: 65535,
            bridge: "br-0123456789ab".into(),
        };
        let c = port_comment(&p);
        assert!(c.len() <= 128, "{} bytes: {c}", c.len());
        assert!(c.starts_with("port br-0123456789ab udp ["));
    }

    #[test]
    fn bridge_names_are_checked() {
        assert!(check_ifname("berth0").is_ok());
        assert!(check_ifname("br-0123456789ab").is_ok());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("br-0123456789abc").is_err());
        assert!(check_ifname("a b").is_err());
        assert!(check_ifname("a\"b").is_err());
    }

    #[test]
    fn listing_finds_chains_bridges_and_commented_rules() {
        let s = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "berth", "handle": 1}},
            {"set": {"family": "inet", "name": "bridges", "table": "berth", "type": "ifname", "handle": 1, "elem": ["br0", "br1"]}},
            {"chain": {"family": "inet", "table": "berth", "name": "from-br0", "handle": 9}},
            {"rule": {"family": "inet", "table": "berth", "chain": "forward", "handle": 12, "comment": "net br0", "expr": []}},
            {"rule": {"family": "inet", "table": "berth", "chain": "forward", "handle": 13, "expr": []}}]}"#;
        let l = Listing::parse(s).unwrap();
        assert_eq!(l.chains, ["from-br0"]);
        assert_eq!(l.bridges, ["br0", "br1"]);
        assert_eq!(l.rules, [("forward".to_owned(), 12, "net br0".to_owned())]);
        assert_eq!(l.rules_with(&["forward"], |c| c == "net br0").len(), 1);
        assert_eq!(l.rules_with(&["postrouting"], |c| c == "net br0").len(), 0);
        assert!(Listing::parse("{}").is_err());
    }

    #[test]
    fn rule_statements_deserialize() {
        assert!(rule("x", vec![json!({"dnat": {"family": "ip6", "addr": "fd00::2", "port": 80}})], None).is_ok());
        assert!(rule("x", vec![json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}})], None).is_ok());
        assert!(rule("x", vec![json!({"nonsense": 1})], None).is_err());
    }
}
