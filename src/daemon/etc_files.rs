//! The files Docker manages in every container: `/etc/hostname`, `/etc/hosts` (with
//! `ExtraHosts`, `--add-host`) and `/etc/resolv.conf` (the host's, localhost name servers
//! dropped, or `Dns`/`DnsSearch`/`DnsOptions`). They are written once into the container's
//! directory and bind-mounted over the image's files, so the container's own edits survive a
//! restart, as under Docker.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::container::Container;
use super::DaemonError;
use crate::api::types::HostConfig;

/// Where in a container's directory the files are (see [`crate::fsperm::CONTAINER_ETC_DIR`]).
pub const DIR: &str = crate::fsperm::CONTAINER_ETC_DIR;

/// Name servers a container gets when the host has none it can reach (Docker's defaults).
const DEFAULT_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];

/// The host file a container's resolv.conf starts from.
const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";

fn bad(msg: String) -> DaemonError {
    DaemonError::BadRequest(msg)
}

/// Checks `ExtraHosts` (`name:ip`), `Dns` (addresses), `DnsSearch` and `DnsOptions` (one word
/// each) at create, with Docker's messages, so that a bad value fails `create`.
pub fn check(hc: &HostConfig) -> Result<(), DaemonError> {
    for entry in hc.extra_hosts.iter().flatten() {
        extra_host(entry, None)?;
    }
    for ns in hc.dns.iter().flatten() {
        ns.parse::<IpAddr>().map_err(|_| bad(format!("invalid HostConfig.Dns: {ns:?} is not an IP address")))?;
    }
    for (field, words) in [("DnsSearch", &hc.dns_search), ("DnsOptions", &hc.dns_options)] {
        for w in words.iter().flatten() {
            if w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad(format!("invalid HostConfig.{field}: {w:?} must be one word")));
            }
        }
    }
    Ok(())
}

/// `name:ip` of `--add-host` (an IPv6 address keeps its colons) as `(name, ip)`;
/// `host-gateway` is the daemon's default bridge gateway, `gateway` (None: checked for
/// syntax only, at create).
fn extra_host(entry: &str, gateway: Option<IpAddr>) -> Result<(String, Option<IpAddr>), DaemonError> {
    let invalid = || bad(format!("invalid IP address in add-host: {entry:?} (expected name:ip)"));
    let (name, ip) = entry.split_once(':').ok_or_else(invalid)?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    if ip == HOST_GATEWAY {
        return Ok((name.to_owned(), gateway));
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = ip.parse::<IpAddr>().map_err(|_| invalid())?;
    Ok((name.to_owned(), Some(ip)))
}

/// The `--add-host` value that stands for the daemon's default bridge gateway.
pub const HOST_GATEWAY: &str = "host-gateway";

/// What a container's network gives its /etc/hosts and /etc/resolv.conf.
#[derive(Debug, Clone, Default)]
pub struct EtcNet {
    /// Its addresses, written with its hostname (and `names`).
    pub own: Vec<IpAddr>,
    /// Further names of its own on those lines (network aliases).
    pub names: Vec<String>,
    /// Where resolv.conf comes from.
    pub resolv: Resolv,
    /// What `host-gateway` stands for: the default bridge's gateway, if the daemon has one.
    pub host_gateway: Option<IpAddr>,
}

/// The source of a container's resolv.conf.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Resolv {
    /// The host's name servers, loopback ones dropped (a namespace of its own).
    #[default]
    Filtered,
    /// The host's file as it is (`--network host`).
    Host,
    /// The embedded DNS server at 127.0.0.11 (user-defined networks), which forwards to the
    /// host's servers.
    Embedded,
}

/// The container's hostname as the kernel and /etc/hostname show it: `Hostname`, else the
/// first 12 characters of its id.
pub fn hostname(c: &Container) -> String {
    if c.host_config.uts_mode == "host" || (c.host_config.network_mode == "host" && c.config.hostname.is_empty()) {
        // The host's UTS namespace, so the host's name.
        return nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    }
    if c.config.hostname.is_empty() {
        c.id.chars().take(12).collect()
    } else {
        c.config.hostname.clone()
    }
}

/// /etc/hosts: loopback and the IPv6 multicast names Docker writes, the container's own
/// addresses with its hostname, then `ExtraHosts`.
fn hosts(c: &Container, net: &EtcNet) -> Result<String, DaemonError> {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    out.push_str(&own_lines(c, net));
    for entry in c.host_config.extra_hosts.iter().flatten() {
        let (name, ip) = extra_host(entry, net.host_gateway)?;
        let ip =
            ip.ok_or_else(|| bad(format!("add-host {entry:?}: host-gateway needs the daemon's default bridge (berthd runs with --bridge none)")))?;
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    Ok(out)
}

/// The lines naming the container's own addresses (`172.17.0.2\t<hostname>`).
fn own_lines(c: &Container, net: &EtcNet) -> String {
    let host = hostname(c);
    let names: Vec<&str> = std::iter::once(host.as_str()).chain(net.names.iter().map(String::as_str).filter(|n| *n != host)).collect();
    net.own.iter().map(|ip| format!("{ip}\t{}\n", names.join(" "))).collect()
}

/// An existing /etc/hosts (the container may have edited it) with the lines of its old
/// addresses replaced by its new ones: a line whose names start with the hostname and
/// whose address is not loopback is one berth wrote.
fn rehost(old: &str, c: &Container, net: &EtcNet) -> String {
    let host = hostname(c);
    let ours = |l: &str| {
        let mut w = l.split_whitespace();
        let ip = w.next().and_then(|ip| ip.parse::<IpAddr>().ok());
        ip.is_some_and(|ip| !ip.is_loopback()) && w.next() == Some(host.as_str())
    };
    let mut out = String::new();
    let mut placed = false;
    for l in old.lines() {
        if ours(l) {
            if !placed {
                out.push_str(&own_lines(c, net));
                placed = true;
            }
            continue;
        }
        out.push_str(l);
        out.push('\n');
        if !placed && l.starts_with("ff02::2") {
            out.push_str(&own_lines(c, net));
            placed = true;
        }
    }
    if !placed {
        out.push_str(&own_lines(c, net));
    }
    out
}

/// Whether a `nameserver` address is the host's own loopback, which the container (in a
/// network namespace of its own) cannot reach.
fn is_local(ns: &str) -> bool {
    ns.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// resolv.conf from the host's `host` text: its name servers (loopback ones dropped; Docker's
/// public defaults if none remains), search domains and options, each replaced by the
/// container's `Dns`, `DnsSearch`, `DnsOptions` when given.
fn resolv_conf(host: &str, hc: &HostConfig, mode: Resolv) -> String {
    let given = |v: &Option<Vec<String>>| v.as_ref().filter(|v| !v.is_empty()).cloned();
    if mode == Resolv::Host && given(&hc.dns).is_none() && given(&hc.dns_search).is_none() && given(&hc.dns_options).is_none() {
        return host.to_owned();
    }
    let (mut servers, mut search, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().filter(|ns| mode == Resolv::Host || !is_local(ns)).map(str::to_owned)),
            // The last search/domain line wins, as in the resolver.
            Some("search" | "domain") => search = words.map(str::to_owned).collect(),
            Some("options") => options.extend(words.map(str::to_owned)),
            _ => {}
        }
    }
    if mode == Resolv::Embedded {
        // The embedded server answers container names and forwards the rest to the host's
        // servers (or `--dns`); ndots:0 as Docker writes it.
        servers = vec![super::network::EMBEDDED_DNS.to_string()];
        options.push("ndots:0".to_owned());
    } else if let Some(d) = given(&hc.dns) {
        servers = d;
    }
    if servers.is_empty() {
        servers = DEFAULT_NAMESERVERS.iter().map(|s| (*s).to_owned()).collect();
    }
    if let Some(s) = given(&hc.dns_search) {
        // `--dns-search .` asks for no search domain at all.
        search = s.into_iter().filter(|d| d != ".").collect();
    }
    if let Some(o) = given(&hc.dns_options) {
        options = o;
    }
    let mut out = String::new();
    for ns in servers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// Writes `text` to `path` (mode 0644 whatever the umask) unless the file exists: what the
/// container wrote there before a restart is kept.
fn write_once(path: &Path, text: &str) -> Result<(), DaemonError> {
    let io = |source| DaemonError::Io { what: "write managed file", path: path.to_path_buf(), source };
    match fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(path) {
        Ok(mut f) => {
            f.set_permissions(fs::Permissions::from_mode(0o644)).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// Makes the managed files of container `c` under its directory `dir` and returns their
/// bind mounts for config.json: read-only with a read-only root, as Docker's. hostname and
/// resolv.conf are written once (the container's edits survive a restart); /etc/hosts gets
/// the container's addresses of this start in place of its last ones.
pub fn prepare(dir: &Path, c: &Container, net: &EtcNet) -> Result<Vec<Value>, DaemonError> {
    let etc: PathBuf = dir.join(DIR);
    crate::fsperm::ensure_dir(&etc, crate::fsperm::DIR_PRIVATE).map_err(|source| DaemonError::Io { what: "mkdir", path: etc.clone(), source })?;
    // A host without /etc/resolv.conf gives containers the default name servers.
    let host_resolv = fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
    let hosts_path = etc.join("hosts");
    match fs::read_to_string(&hosts_path) {
        Ok(old) => rewrite(&hosts_path, &rehost(&old, c, net))?,
        Err(_) => write_once(&hosts_path, &hosts(c, net)?)?,
    }
    let files = [
        ("hostname", "/etc/hostname", format!("{}\n", hostname(c))),
        ("resolv.conf", "/etc/resolv.conf", resolv_conf(&host_resolv, &c.host_config, net.resolv)),
    ];
    for (name, _, text) in &files {
        write_once(&etc.join(name), text)?;
    }
    Ok(mounts(&etc, c.host_config.readonly_rootfs))
}

/// The bind mounts of the managed files in `etc` (a container's own, or for
/// `--network container:X`, X's, which Docker shares).
pub fn mounts(etc: &Path, readonly: bool) -> Vec<Value> {
    let mode = if readonly { "ro" } else { "rw" };
    [("hostname", "/etc/hostname"), ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf")]
        .into_iter()
        .map(|(name, dest)| json!({ "destination": dest, "type": "bind", "source": etc.join(name), "options": ["rbind", "rprivate", mode] }))
        .collect()
}

/// Replaces the contents of `path` in place: its inode stays the one bound into the
/// container.
fn rewrite(path: &Path, text: &str) -> Result<(), DaemonError> {
    let io = |source| DaemonError::Io { what: "rewrite managed file", path: path.to_path_buf(), source };
    let mut f = fs::OpenOptions::new().write(true).truncate(true).open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(dns: &[&str], search: &[&str], opts: &[&str]) -> HostConfig {
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect());
        HostConfig { dns: v(dns), dns_search: v(search), dns_options: v(opts), ..Default::default() }
    }

    #[test]
    fn resolv_conf_drops_loopback_servers_and_falls_back_to_dockers_defaults() {
        let host = "# comment\nnameserver 127.0.0.53\nnameserver ::1\nsearch lan\noptions edns0 trust-ad\n";
        assert_eq!(
            resolv_conf(host, &HostConfig::default(), Resolv::Filtered),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch lan\noptions edns0 trust-ad\n"
        );
        let host = "nameserver 10.0.0.2\nnameserver 127.0.0.1\ndomain a.test\n";
        assert_eq!(resolv_conf(host, &HostConfig::default(), Resolv::Filtered), "nameserver 10.0.0.2\nsearch a.test\n");
    }

    #[test]
    fn embedded_dns_and_host_mode_resolv_conf() {
        let host = "nameserver 127.0.0.53\nsearch lan\n";
        assert_eq!(resolv_conf(host, &HostConfig::default(), Resolv::Embedded), "nameserver 127.0.0.11\nsearch lan\noptions ndots:0\n");
        assert_eq!(resolv_conf(host, &HostConfig::default(), Resolv::Host), host);
    }

    #[test]
    fn a_restart_replaces_the_old_address_line_and_keeps_the_containers_edits() {
        let c = Container { id: "0123456789abcdef".into(), ..Default::default() };
        let net = |ip: &str| EtcNet { own: vec![ip.parse().expect("ip")], ..Default::default() };
        let first = hosts(&c, &net("172.17.0.2")).expect("hosts");
        assert!(first.contains("172.17.0.2\t0123456789ab\n"), "{first}");
        let edited = format!("{first}10.9.9.9 added\n");
        let again = rehost(&edited, &c, &net("172.17.0.3"));
        assert!(again.contains("172.17.0.3\t0123456789ab\n") && !again.contains("172.17.0.2") && again.contains("10.9.9.9 added"), "{again}");
    }

    #[test]
    fn dns_flags_replace_the_hosts_servers_search_and_options() {
        let host = "nameserver 10.0.0.2\nsearch lan\noptions edns0\n";
        assert_eq!(
            resolv_conf(host, &hc(&["1.1.1.1"], &["x.test", "y.test"], &["ndots:2"]), Resolv::Filtered),
            "nameserver 1.1.1.1\nsearch x.test y.test\noptions ndots:2\n"
        );
        assert_eq!(resolv_conf(host, &hc(&[], &["."], &[]), Resolv::Filtered), "nameserver 10.0.0.2\noptions edns0\n");
    }

    #[test]
    fn extra_hosts_take_ipv4_and_ipv6_and_refuse_the_rest_by_value() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(extra_host("db:10.1.2.3", None).expect("v4"), ("db".into(), ip("10.1.2.3")));
        assert_eq!(extra_host("v6:2001:db8::1", None).expect("v6").1, ip("2001:db8::1"));
        assert_eq!(extra_host("v6:[2001:db8::1]", None).expect("bracketed").1, ip("2001:db8::1"));
        for bad in ["db", "db:", ":1.2.3.4", "db:not-an-ip", "a b:1.2.3.4"] {
            assert!(extra_host(bad, None).expect_err(bad).to_string().contains(bad), "{bad}");
        }
        assert_eq!(extra_host("gw:host-gateway", ip("172.17.0.1")).expect("gateway").1, ip("172.17.0.1"));
        let bad_dns = hc(&["8.8.8.8", "nope"], &[], &[]);
        assert!(check(&bad_dns).expect_err("dns").to_string().contains("\"nope\""));
        assert!(check(&hc(&[], &["two words"], &[])).expect_err("search").to_string().contains("DnsSearch"));
    }
}
