//! Published ports as the daemon makes them at a container's start: a host port per binding
//! (the asked one, the first free one of a range, or an ephemeral one), DNAT rules for
//! traffic from outside and a userland proxy (`berth-proxy`, as docker-proxy) for the host's
//! loopback. In modular mode the proxies live in sessions of their own, so published ports
//! keep answering while berthd is down; in monolithic mode they die with it.

use std::net::{IpAddr, Ipv6Addr};

use super::network::plan::{self, Publish};
use super::network::{NetworkError, PortMapping, Sandbox};
use super::{Daemon, DaemonError};
use crate::net::firewall::{self, PortRule, Proto};
use crate::net::proxy::{self, ProxySpec};

fn proto_of(s: &str) -> Result<Proto, NetworkError> {
    s.parse::<Proto>().map_err(|_| NetworkError::Invalid(format!("invalid protocol {s:?}")))
}

fn spec_of(m: &PortMapping) -> Result<ProxySpec, NetworkError> {
    Ok(ProxySpec {
        proto: proto_of(&m.proto)?,
        host_ip: m.host_ip,
        host_port: m.host_port,
        container_ip: m.container_ip,
        container_port: m.container_port,
    })
}

/// The DNAT rule of mapping `m`; none for a binding of the other family than the
/// container's address (`::` to an IPv4 container), which only its proxy serves.
fn rule_of(m: &PortMapping) -> Result<Option<PortRule>, NetworkError> {
    if m.host_ip.is_ipv4() != m.container_ip.is_ipv4() {
        return Ok(None);
    }
    let host_ip = Some(m.host_ip).filter(|ip| !ip.is_unspecified());
    Ok(Some(PortRule {
        proto: proto_of(&m.proto)?,
        host_ip,
        host_port: m.host_port,
        container_ip: m.container_ip,
        container_port: m.container_port,
        bridge: m.bridge.clone(),
    }))
}

/// Ephemeral ports tried for a binding on both families.
const EPHEMERAL_TRIES: usize = 8;

/// Whether the daemon's namespace has IPv6 (a socket can be bound on `::`): Docker adds
/// the `::` binding of a port published without a host IP only then.
fn host_has_ipv6() -> bool {
    std::net::UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).is_ok()
}

impl Daemon {
    /// Makes the bindings `asked` for sandbox `sb` (its first endpoint is the one published),
    /// recording each in `sb.ports` as it is made, so that a failure midway leaves a record
    /// [`Self::unpublish`] undoes.
    pub(super) fn publish(&self, sb: &mut Sandbox, asked: &[Publish], container_name: &str) -> Result<(), DaemonError> {
        if asked.is_empty() {
            return Ok(());
        }
        let Some((net, ep)) = sb.endpoints.iter().find(|(_, e)| e.ifname == "eth0") else {
            return Ok(());
        };
        let bridge = self.networks.get(net).map(|n| n.bridge)?;
        let container_ip = ep.ipv4.map(|n| n.addr()).ok_or_else(|| NetworkError::Invalid("no IPv4 address to publish ports to".into()))?;
        let exe = self_exe();
        let ipv6 = host_has_ipv6();
        for p in asked {
            let proto = proto_of(&p.proto)?;
            let dual = p.both_families && ipv6;
            // Each port of the range in turn; ephemeral ones one at a time, as they are
            // taken from the allocator (a few tries when it must be free on both families).
            let tries = match p.host_ports {
                Some((a, b)) => usize::from(b - a) + 1,
                None if dual => EPHEMERAL_TRIES,
                None => 1,
            };
            let mut last = None;
            let mut made = Vec::new();
            for i in 0..tries {
                let host_port = match p.host_ports {
                    // i <= b - a: no overflow.
                    Some((a, _)) => a + i as u16,
                    None => proxy::ephemeral_port(proto, p.host_ip)
                        .map_err(|source| NetworkError::Proxy { endpoint: container_name.to_owned(), source })?,
                };
                let m = PortMapping {
                    proto: p.proto.clone(),
                    container_port: p.container_port,
                    host_ip: p.host_ip,
                    host_port,
                    container_ip,
                    bridge: bridge.clone(),
                    proxy_pid: 0,
                };
                let v4 = match proxy::spawn(&exe, &spec_of(&m)?, self.config.monolithic) {
                    Ok(pid) => PortMapping { proxy_pid: pid, ..m.clone() },
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                };
                if !dual {
                    made = vec![v4];
                    break;
                }
                // `::` on the same port, proxied to the container's IPv4 address.
                let m6 = PortMapping { host_ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED), ..m };
                match proxy::spawn(&exe, &spec_of(&m6)?, self.config.monolithic) {
                    Ok(pid) => {
                        made = vec![v4, PortMapping { proxy_pid: pid, ..m6 }];
                        break;
                    }
                    Err(e) => {
                        if let Err(e) = proxy::stop(v4.proxy_pid) {
                            tracing::warn!("stopping the proxy of {}:{}: {e}", v4.host_ip, v4.host_port);
                        }
                        last = Some(e);
                    }
                }
            }
            if made.is_empty() {
                return Err(match last {
                    Some(source) => NetworkError::Proxy { endpoint: container_name.to_owned(), source }.into(),
                    None => NetworkError::Invalid("an empty host port range".into()).into(),
                });
            }
            for m in made {
                sb.ports.push(m.clone());
                if let Some(rule) = rule_of(&m)? {
                    firewall::add_port(&rule).map_err(NetworkError::from)?;
                }
            }
        }
        Ok(())
    }

    /// Stops the proxies and removes the rules of `sb`'s published ports (failures logged:
    /// a proxy already gone, a rule already removed, are what a repeat finds).
    pub(super) fn unpublish(&self, sb: &Sandbox) {
        for m in &sb.ports {
            if m.proxy_pid > 0
                && let Ok(spec) = spec_of(m)
                && proxy::is_proxy(m.proxy_pid, &spec)
                && let Err(e) = proxy::stop(m.proxy_pid)
            {
                tracing::warn!("stopping the proxy of {}:{}: {e}", m.host_ip, m.host_port);
            }
            match rule_of(m) {
                Ok(None) => {}
                Ok(Some(rule)) => {
                    if let Err(e) = firewall::remove_port(&rule) {
                        tracing::warn!("removing the rule of {}:{}: {e}", m.host_ip, m.host_port);
                    }
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }

    /// After a daemon restart: a running container's proxies that died (or never outlived
    /// a monolithic daemon) are started again, and its rules made again; the new pids are
    /// what `sb` records afterwards.
    pub(super) fn republish(&self, sb: &mut Sandbox) {
        let exe = self_exe();
        for m in &mut sb.ports {
            let Ok(spec) = spec_of(m) else { continue };
            if !(m.proxy_pid > 0 && proxy::is_proxy(m.proxy_pid, &spec)) {
                match proxy::spawn(&exe, &spec, self.config.monolithic) {
                    Ok(pid) => m.proxy_pid = pid,
                    Err(e) => tracing::warn!("publishing {}:{} again: {e}", m.host_ip, m.host_port),
                }
            }
            if let Ok(Some(rule)) = rule_of(m)
                && let Err(e) = firewall::add_port(&rule)
            {
                tracing::warn!("{e}");
            }
        }
    }
}

/// This executable, which runs the proxies as `berth-proxy`: through /proc, so that an
/// upgrade that replaced the file on disk still runs the daemon's own build.
fn self_exe() -> std::path::PathBuf {
    std::path::PathBuf::from("/proc/self/exe")
}

/// The bindings container `c` asks for (its checked `PortBindings` and `PublishAllPorts`).
pub fn asked(c: &super::container::Container) -> Result<Vec<Publish>, DaemonError> {
    let exposed: Vec<String> = c.config.exposed_ports.iter().flatten().map(|(k, _)| k.clone()).collect();
    Ok(plan::publishes(c.host_config.port_bindings.as_ref(), c.host_config.publish_all_ports, &exposed)?)
}
