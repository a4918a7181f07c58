//! A container's networking as the daemon drives it: the networks it joins (checked at
//! create), its sandbox made at start and removed when it stops, live connect and
//! disconnect. The links, addresses and namespaces are `network::endpoint`'s.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::container::{Container, Status};
use super::etc_files::{EtcNet, Resolv};
use super::network::plan::{self, Mode};
use super::network::{endpoint, EndpointConfig, Network, NetworkError, Sandbox};
use super::{Daemon, DaemonError};
use crate::api::types::{ContainerCreateRequest, EndpointSettings};

/// The network namespace a container's spec gets.
pub enum NetNs {
    /// A new one of the runtime's, loopback only (`none`).
    New,
    /// One berth made, or another container's.
    Join(PathBuf),
    /// The daemon's own (`host`).
    Host,
}

/// Addresses of stopped containers' endpoints whose host links are still being deleted:
/// not handed out again until the link is gone.
#[derive(Default, Clone)]
pub struct Releasing(Arc<Mutex<Vec<(String, IpAddr)>>>);

impl Releasing {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<(String, IpAddr)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds these (network id, address) pairs.
    fn hold(&self, held: &[(String, IpAddr)]) {
        self.list().extend_from_slice(held);
    }

    /// Lets them go (once each: another stop may hold the same pair meanwhile).
    fn release(&self, held: &[(String, IpAddr)]) {
        let mut list = self.list();
        for h in held {
            if let Some(i) = list.iter().position(|x| x == h) {
                list.remove(i);
            }
        }
    }

    /// The addresses held on network `network_id`.
    fn on(&self, network_id: &str) -> Vec<IpAddr> {
        self.list().iter().filter(|(n, _)| n == network_id).map(|(_, a)| *a).collect()
    }
}

/// What a start's networking gives the rest of the start.
pub struct StartNet {
    pub netns: NetNs,
    /// The managed /etc files' mounts of another container (`container:` mode), else None.
    pub shared_etc: Option<Vec<Value>>,
    /// The hostname of the container whose namespace it shares.
    pub hostname: Option<String>,
    pub etc: EtcNet,
}

impl Daemon {
    /// The networks a container created with `req` joins, by name, with its endpoint
    /// settings; the network mode, endpoints and ports checked as Docker checks them.
    pub(super) fn plan_networks(&self, req: &ContainerCreateRequest, exposed: &[String]) -> Result<BTreeMap<String, EndpointConfig>, DaemonError> {
        let hc = &req.host_config;
        let mode = self.mode_of(&hc.network_mode);
        let asked: BTreeMap<String, EndpointSettings> = req.networking_config.as_ref().and_then(|n| n.endpoints_config.clone()).unwrap_or_default();
        let publishes = plan::publishes(hc.port_bindings.as_ref(), hc.publish_all_ports, exposed)?;
        let main = match &mode {
            Mode::Bridge(name) => {
                let n = self.networks.get(name).map_err(|e| match e {
                    NetworkError::NotFound(_) if name == "bridge" => {
                        NetworkError::NotFound("bridge (berthd runs with --bridge none: name a network with --network)".into())
                    }
                    e => e,
                })?;
                match n.driver.as_str() {
                    "bridge" => Some(n),
                    // `--network <id of host or none>`.
                    _ => return self.plan_networks(&with_mode(req, &n.name), exposed),
                }
            }
            _ => None,
        };
        let Some(main) = main else {
            // Host, none and container modes: no endpoint of their own to configure.
            let own = match &mode {
                Mode::Host => Some("host"),
                Mode::None => Some("none"),
                _ => None,
            };
            let empty = |s: &EndpointSettings| plan::endpoint_config("", s).is_ok_and(|c| c == EndpointConfig::default());
            if let Some((k, _)) = asked.iter().find(|(k, s)| !(own == Some(k.as_str()) || k.as_str() == "default") || !empty(s)) {
                return Err(NetworkError::Invalid(format!(
                    "conflicting options: network mode {:?} cannot be combined with endpoint settings for network {k:?}",
                    hc.network_mode
                ))
                .into());
            }
            if !publishes.is_empty() {
                return Err(NetworkError::Invalid(format!("conflicting options: port publishing and network mode {:?}", hc.network_mode)).into());
            }
            if !req.config.mac_address.is_empty() {
                return Err(NetworkError::Invalid(format!("conflicting options: mac-address and network mode {:?}", hc.network_mode)).into());
            }
            let mut out = BTreeMap::new();
            if let Some(own) = own {
                let n = self.networks.get(own)?;
                out.insert(n.name.clone(), EndpointConfig { network_id: n.id, ..Default::default() });
            }
            return Ok(out);
        };
        let mut out = BTreeMap::new();
        for (key, settings) in &asked {
            // The CLI names the mode's network `default` when no --network was given.
            let n = if key == "default" || key == &main.name || key == &main.id { main.clone() } else { self.networks.get(key)? };
            if n.driver != "bridge" {
                return Err(NetworkError::Invalid(format!("container cannot be connected to network {:?} and to others", n.name)).into());
            }
            let mut cfg = plan::endpoint_config(key, settings)?;
            cfg.network_id = n.id.clone();
            check_endpoint(&n, &cfg)?;
            out.insert(n.name.clone(), cfg);
        }
        let first = out.entry(main.name.clone()).or_insert_with(|| EndpointConfig { network_id: main.id.clone(), ..Default::default() });
        if !req.config.mac_address.is_empty() && first.mac.is_none() {
            first.mac = Some(req.config.mac_address.clone());
            check_endpoint(&main, first)?;
        }
        Ok(out)
    }

    /// The addresses of running containers' endpoints on network `id`.
    fn addresses_on(&self, network_id: &str) -> Vec<IpAddr> {
        self.containers
            .list()
            .iter()
            .filter_map(|c| c.sandbox.as_ref())
            .flat_map(|sb| {
                sb.endpoints
                    .values()
                    .filter(|e| e.network_id == network_id)
                    .flat_map(|e| [e.ipv4, e.ipv6])
                    .flatten()
                    .map(|n| n.addr())
                    .collect::<Vec<_>>()
            })
            .chain(self.releasing.on(network_id))
            .collect()
    }

    /// Makes the bridge of network `n` if it is not there (its creation, a daemon start).
    pub(super) fn ensure_bridge(&self, n: &Network) -> Result<(), DaemonError> {
        let gateways: Vec<ipnet::IpNet> = n
            .pools
            .iter()
            .filter_map(|p| ipnet::IpNet::new(p.gateway?, p.subnet?.prefix_len()).ok())
            .filter(|g| g.addr().is_ipv4() || n.enable_ipv6)
            .collect();
        crate::net::link::ensure_bridge(&n.bridge, &gateways, n.mtu).map_err(NetworkError::from)?;
        Ok(())
    }

    /// Joins sandbox `sb` to network `n` as `cfg` asks (the ops lock is held).
    pub(super) fn join_network(&self, sb: &mut Sandbox, n: &Network, cfg: &EndpointConfig) -> Result<super::network::Endpoint, DaemonError> {
        // The bridge was made with the network (and again at daemon start): not looked up
        // again on this hot path; one removed behind berth's back fails the attach by name.
        let taken = endpoint::reserved(n, self.addresses_on(&n.id));
        Ok(endpoint::attach(sb, n, cfg, &taken)?)
    }

    /// At start (the ops lock held): container `c`'s network namespace, made and joined to
    /// its networks for the bridge mode, and what its /etc files need. The sandbox is on
    /// record before this returns, so a failure later in the start removes it.
    pub(super) fn start_network(&self, c: &Container) -> Result<StartNet, DaemonError> {
        let host_gateway = self.default_gateway();
        let mut etc = EtcNet { host_gateway, ..Default::default() };
        match self.mode_of(&c.host_config.network_mode) {
            Mode::Host => {
                etc.resolv = Resolv::Host;
                Ok(StartNet { netns: NetNs::Host, shared_etc: None, hostname: None, etc })
            }
            Mode::None => Ok(StartNet { netns: NetNs::New, shared_etc: None, hostname: None, etc }),
            Mode::Container(name) => {
                let donor = self
                    .containers
                    .resolve(&name)
                    .and_then(|id| self.containers.get(&id))
                    .map_err(|e| DaemonError::NotFound(format!("joining the network namespace of {name}: {e}")))?;
                if donor.state.status != Status::Running || donor.state.pid <= 0 {
                    return Err(DaemonError::Conflict(format!("cannot join network namespace of a non running container: {name}")));
                }
                let path = match &donor.sandbox {
                    Some(sb) => sb.key.clone(),
                    None => PathBuf::from(format!("/proc/{}/ns/net", donor.state.pid)),
                };
                let donor_etc = self.containers.dir_of(&donor.id).join(super::etc_files::DIR);
                Ok(StartNet {
                    netns: NetNs::Join(path),
                    shared_etc: Some(super::etc_files::mounts(&donor_etc, c.host_config.readonly_rootfs)),
                    hostname: Some(super::etc_files::hostname(&donor)),
                    etc,
                })
            }
            Mode::Bridge(_) => {
                let mut sb = endpoint::create_sandbox(&self.config.exec_root.join("netns"), &c.id)?;
                // On record first: whatever fails below, the stop path finds it.
                self.containers.update(&c.id, |r| r.sandbox = Some(sb.clone()))?;
                // The mode's network first: it is eth0 and has the default route.
                let main = self.networks.get(
                    match plan::mode(&c.host_config.network_mode) {
                        Mode::Bridge(m) => m,
                        _ => String::new(),
                    }
                    .as_str(),
                )?;
                // A container recorded before berth had networks asked for none: it gets its
                // mode's network, as it would now.
                let mut networks = c.networks.clone();
                if networks.is_empty() {
                    networks.insert(main.name.clone(), EndpointConfig { network_id: main.id.clone(), ..Default::default() });
                    self.containers.update(&c.id, |r| r.networks = networks.clone())?;
                }
                let mut order: Vec<(&String, &EndpointConfig)> = networks.iter().collect();
                order.sort_by_key(|(name, _)| *name != &main.name);
                for (name, cfg) in order {
                    let n = self.networks.get(&cfg.network_id).map_err(|_| NetworkError::NotFound(name.clone()))?;
                    let ep = self.join_network(&mut sb, &n, cfg);
                    self.containers.update(&c.id, |r| r.sandbox = Some(sb.clone()))?;
                    let ep = ep?;
                    self.network_event(&n, "connect", Some(&c.id));
                    etc.own.extend(ep.ipv4.map(|n| n.addr()));
                    if n.has_dns() {
                        etc.resolv = Resolv::Embedded;
                        etc.names.extend(cfg.aliases.iter().cloned());
                    }
                }
                let published = super::ports::asked(c).and_then(|asked| self.publish(&mut sb, &asked, c.name.trim_start_matches('/')));
                self.containers.update(&c.id, |r| r.sandbox = Some(sb.clone()))?;
                published?;
                self.refresh_names();
                self.start_dns(c, &sb)?;
                Ok(StartNet { netns: NetNs::Join(sb.key.clone()), shared_etc: None, hostname: None, etc })
            }
        }
    }

    /// Removes what container `id`'s start made for its networks (its sandbox), and takes
    /// it off the record. Safe to call again and for a container without one.
    pub(super) fn stop_network(&self, id: &str) {
        let Ok(c) = self.containers.get(id) else { return };
        let Some(sb) = &c.sandbox else { return };
        self.stop_dns(id);
        self.unpublish(sb);
        endpoint::remove_namespace(sb);
        // Deleting a link waits for the kernel's synchronize_net (about 20 ms): done off the
        // stop's path, its addresses held meanwhile so no new endpoint takes them while the
        // old link still answers for them.
        let held: Vec<(String, IpAddr)> = sb
            .endpoints
            .values()
            .flat_map(|e| [e.ipv4, e.ipv6].into_iter().flatten().map(|a| (e.network_id.clone(), a.addr())).collect::<Vec<_>>())
            .collect();
        self.releasing.hold(&held);
        let (releasing, links, pairs) = (self.releasing.clone(), sb.clone(), held.clone());
        let deleted = std::thread::Builder::new().name("veth-delete".into()).spawn(move || {
            endpoint::remove_links(&links);
            releasing.release(&pairs);
        });
        if let Err(e) = deleted {
            tracing::warn!(id, "a thread to delete the veths: {e}; deleting them here");
            endpoint::remove_links(sb);
            self.releasing.release(&held);
        }
        for ep in sb.endpoints.values() {
            if let Ok(n) = self.networks.get(&ep.network_id) {
                self.network_event(&n, "disconnect", Some(id));
            }
        }
        if let Err(e) = self.containers.record(id, |c| c.sandbox = None) {
            tracing::warn!(id, "recording the removed sandbox: {e}");
        }
        self.refresh_names();
    }

    /// A container's network mode: the default one (`""`, `default`) is the default bridge, or,
    /// on a daemon without one (`--bridge none`), loopback only, as dockerd's.
    pub(super) fn mode_of(&self, network_mode: &str) -> Mode {
        match network_mode {
            "" | "default" if self.config.net.bridge.is_none() => Mode::None,
            m => plan::mode(m),
        }
    }

    /// The default bridge's gateway (what `host-gateway` stands for), if there is one.
    fn default_gateway(&self) -> Option<IpAddr> {
        let n = self.networks.get("bridge").ok()?;
        n.pools.iter().find_map(|p| p.gateway.filter(IpAddr::is_ipv4))
    }
}

/// `req` with network mode `mode` (a network named by the id of `host` or `none`).
fn with_mode(req: &ContainerCreateRequest, mode: &str) -> ContainerCreateRequest {
    let mut r = req.clone();
    r.host_config.network_mode = mode.to_owned();
    r
}

/// Docker's checks of one endpoint on network `n`: static addresses in its subnets (on
/// user-defined networks), aliases only there.
fn check_endpoint(n: &Network, cfg: &EndpointConfig) -> Result<(), NetworkError> {
    if n.name == "bridge" && !cfg.aliases.is_empty() {
        return Err(NetworkError::Invalid("network-scoped alias is supported only for containers in user defined networks".into()));
    }
    endpoint::check_static(n, cfg)
}

impl Daemon {
    /// At daemon start: IP forwarding if asked, and every bridge network's bridge (a host
    /// reboot, or a first start, leaves none). Failures are logged: containers on that
    /// network fail to start with the reason.
    pub(super) fn start_networking(&self) {
        if self.config.net.ip_forward {
            for path in ["/proc/sys/net/ipv4/ip_forward"] {
                if let Err(e) = std::fs::write(path, "1") {
                    tracing::warn!("--ip-forward: writing {path}: {e}");
                }
            }
        }
        for n in self.networks.list().iter().filter(|n| n.driver == "bridge") {
            if let Err(e) = self.ensure_bridge(n).and_then(|()| self.network_rules(n)) {
                tracing::warn!(network = n.name.as_str(), "{e}");
            }
        }
    }

    /// Makes the firewall rules of bridge network `n` (isolation from other networks, icc,
    /// masquerading, internal).
    pub(super) fn network_rules(&self, n: &Network) -> Result<(), DaemonError> {
        // The base table is made with the first bridge network, so a daemon without any
        // (`--bridge none` and no user network) makes no rule at all.
        crate::net::firewall::init().map_err(NetworkError::from)?;
        let masq = self.config.net.ip_masq && n.options.get(super::network::create::ENABLE_MASQ).is_none_or(|v| v == "true");
        let rules = crate::net::firewall::NetworkRules {
            bridge: n.bridge.clone(),
            subnets: n.subnets().filter(|s| s.addr().is_ipv4() || n.enable_ipv6).collect(),
            icc: n.icc,
            masquerade: masq,
            internal: n.internal,
        };
        crate::net::firewall::add_network(&rules).map_err(NetworkError::from)?;
        Ok(())
    }

    /// After the reconcile of a daemon start: the ports of berth's bridges that no running
    /// container's sandbox records (a start cut short by a crash between making a veth and
    /// recording it) are deleted.
    pub(super) fn sweep_veths(&self) {
        let recorded: Vec<String> = self
            .containers
            .list()
            .iter()
            .filter_map(|c| c.sandbox.as_ref())
            .flat_map(|sb| sb.endpoints.values().map(|e| e.host_veth.clone()).collect::<Vec<_>>())
            .collect();
        for n in self.networks.list().iter().filter(|n| n.driver == "bridge") {
            for port in crate::net::link::ports_of(&n.bridge).unwrap_or_default() {
                if port.starts_with("veth") && !recorded.contains(&port) {
                    tracing::info!(network = n.name.as_str(), "removing {port}: a veth no container records");
                    if let Err(e) = crate::net::link::delete(&port) {
                        tracing::warn!("{e}");
                    }
                }
            }
        }
    }

    /// After the reconcile of a daemon start: the running containers' published ports (a
    /// proxy that died is started again) and DNS servers (whose sockets died with the last
    /// daemon).
    pub(super) fn resume_networking(&self) {
        self.sweep_veths();
        for c in self.containers.list() {
            if c.state.status != Status::Running {
                continue;
            }
            let Some(mut sb) = c.sandbox.clone() else { continue };
            self.republish(&mut sb);
            if let Err(e) = self.containers.record(&c.id, |r| r.sandbox = Some(sb.clone())) {
                tracing::warn!(id = c.id.as_str(), "{e}");
            }
        }
        self.refresh_names();
        for c in self.containers.list() {
            if let (Status::Running, Some(sb)) = (c.state.status, &c.sandbox)
                && let Err(e) = self.start_dns(&c, sb)
            {
                tracing::warn!(id = c.id.as_str(), "{e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Releasing;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn held_addresses_are_taken_on_their_network_until_released_once_each() {
        let r = Releasing::default();
        let a = [("n1".to_owned(), ip("172.18.0.2")), ("n2".to_owned(), ip("fd00::2"))];
        r.hold(&a);
        // A second stop holding the same pair meanwhile (a container restarted and stopped
        // again before the first delete ended).
        r.hold(&a[..1]);
        assert_eq!(r.on("n1"), [ip("172.18.0.2"), ip("172.18.0.2")]);
        assert_eq!(r.on("n2"), [ip("fd00::2")]);
        assert!(r.on("n3").is_empty());
        r.release(&a);
        assert_eq!(r.on("n1"), [ip("172.18.0.2")], "the other hold stays");
        assert!(r.on("n2").is_empty());
        r.release(&a[..1]);
        assert!(r.on("n1").is_empty());
    }
}
