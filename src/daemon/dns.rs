//! The embedded DNS server's side in the daemon: what each container may resolve (the
//! names, aliases and short ids of the containers on its user-defined networks) and one
//! server per such container, listening at 127.0.0.11:53 in its namespace and forwarding
//! other names to the host's resolvers (or its `--dns`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use super::container::Container;
use super::network::{Sandbox, EMBEDDED_DNS};
use super::Daemon;
use crate::net::dns::{DnsServer, Names};

/// One container's names on one network.
#[derive(Debug, Clone)]
struct Entry {
    network_id: String,
    network_name: String,
    /// Lowercase: its name, aliases, 12-digit and full id.
    names: Vec<String>,
    /// The first of them, for reverse lookups.
    name: String,
    ips: Vec<IpAddr>,
}

/// Every running container's names, by network: shared by every server.
#[derive(Default, Clone)]
pub struct NameTable(Arc<RwLock<Vec<Entry>>>);

/// The servers, by container id.
#[derive(Default)]
pub struct Servers(Mutex<HashMap<String, DnsServer>>);

/// What one container may resolve: the table, seen from its networks.
struct ContainerNames {
    table: NameTable,
    networks: Vec<String>,
}

impl Names for ContainerNames {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        let table = self.table.0.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for e in table.iter().filter(|e| self.networks.contains(&e.network_id)) {
            // `name` or `name.<network>`.
            let bare = name.strip_suffix(&format!(".{}", e.network_name.to_lowercase())).unwrap_or(name);
            if e.names.iter().any(|n| n == bare) {
                for ip in &e.ips {
                    if !out.contains(ip) {
                        out.push(*ip);
                    }
                }
            }
        }
        out
    }

    fn reverse(&self, ip: IpAddr) -> Option<String> {
        let table = self.table.0.read().unwrap_or_else(|p| p.into_inner());
        table.iter().filter(|e| self.networks.contains(&e.network_id)).find(|e| e.ips.contains(&ip)).map(|e| format!("{}.{}", e.name, e.network_name))
    }
}

impl Daemon {
    /// Rebuilds the name table from the running containers' sandboxes (after a start, stop,
    /// connect, disconnect or rename).
    pub(super) fn refresh_names(&self) {
        let mut entries = Vec::new();
        for c in self.containers.list() {
            let Some(sb) = &c.sandbox else { continue };
            for (net, ep) in &sb.endpoints {
                let Ok(n) = self.networks.get(&ep.network_id) else { continue };
                if !n.has_dns() {
                    continue;
                }
                let name = c.name.trim_start_matches('/').to_lowercase();
                let mut names = vec![name.clone(), c.id.chars().take(12).collect(), c.id.clone()];
                names.extend(c.networks.get(net).into_iter().flat_map(|cfg| cfg.aliases.iter().map(|a| a.to_lowercase())));
                let ips = [ep.ipv4, ep.ipv6].into_iter().flatten().map(|n| n.addr()).collect();
                entries.push(Entry { network_id: n.id.clone(), network_name: n.name.clone(), names, name, ips });
            }
        }
        *self.names.0.write().unwrap_or_else(|p| p.into_inner()) = entries;
    }

    /// Starts container `c`'s DNS server in sandbox `sb` if it is on a network with one
    /// (replacing one it had: a daemon restart finds the old sockets closed).
    pub(super) fn start_dns(&self, c: &Container, sb: &Sandbox) -> Result<(), super::DaemonError> {
        let networks: Vec<String> =
            sb.endpoints.values().filter(|e| self.networks.get(&e.network_id).is_ok_and(|n| n.has_dns())).map(|e| e.network_id.clone()).collect();
        self.stop_dns(&c.id);
        if networks.is_empty() {
            return Ok(());
        }
        let upstream: Vec<SocketAddr> = match c.host_config.dns.as_ref().filter(|d| !d.is_empty()) {
            Some(d) => d.iter().filter_map(|s| s.parse::<IpAddr>().ok()).map(|ip| SocketAddr::new(ip, 53)).collect(),
            None => crate::net::dns::upstream_from_resolv_conf(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()),
        };
        let addr = SocketAddr::new(IpAddr::V4(EMBEDDED_DNS), 53);
        let bound = crate::net::netns::run_in(Some(&sb.key), move || -> std::io::Result<_> {
            Ok((std::net::UdpSocket::bind(addr)?, std::net::TcpListener::bind(addr)?))
        });
        let io = |source| super::DaemonError::Io { what: "bind the embedded DNS server in", path: sb.key.clone(), source };
        let (udp, tcp) = bound.map_err(io)?.map_err(io)?;
        let names = Arc::new(ContainerNames { table: self.names.clone(), networks });
        let server = DnsServer::spawn(udp, tcp, names, upstream).map_err(|e| super::DaemonError::Setup(format!("embedded DNS server: {e}")))?;
        self.dns.0.lock().unwrap_or_else(|p| p.into_inner()).insert(c.id.clone(), server);
        Ok(())
    }

    /// Stops container `id`'s DNS server, if it has one.
    pub(super) fn stop_dns(&self, id: &str) {
        if let Some(s) = self.dns.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id) {
            s.stop();
        }
    }
}
