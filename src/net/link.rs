//! Links, addresses and routes through rtnetlink: a network's Linux bridge and the veth pair
//! that joins a container's namespace to it. Each call runs on a thread of its own (in the
//! namespace it works on; see [`super::netns::run_in`]) with a small runtime for the netlink
//! connection, so the caller's threads and runtime are never moved between namespaces.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

/// What failed, with the link it was about.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{what} {link}: {source}")]
    Netlink {
        what: &'static str,
        link: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("link {0} not found")]
    NotFound(String),
}

fn nl(what: &'static str, link: &str) -> impl FnOnce(rtnetlink::Error) -> LinkError {
    let link = link.to_string();
    move |source| LinkError::Netlink { what, link, source }
}

/// The errno of a netlink error, if the kernel sent one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

/// Runs `f` with a netlink handle in namespace `ns` (`None`: the caller's).
fn with_handle<T, F, Fut>(ns: Option<&Path>, f: F) -> Result<T, LinkError>
where
    T: Send + 'static,
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, LinkError>>,
{
    let io = |what: &str| {
        let what = what.to_string();
        move |source| LinkError::Io { what, source }
    };
    let label = ns.map(|p| p.display().to_string()).unwrap_or_else(|| "the daemon's namespace".into());
    super::netns::run_in(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io("a netlink runtime"))?;
        rt.block_on(async move {
            let (conn, handle, _) = rtnetlink::new_connection().map_err(io("a netlink socket"))?;
            let conn = tokio::spawn(conn);
            let out = f(handle).await;
            conn.abort();
            out
        })
    })
    .map_err(io(&format!("join {label}")))?
}

/// The index of link `name`, if it exists.
async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>, LinkError> {
    match h.link().get().match_name(name.to_string()).execute().try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl("look up", name)(e)),
    }
}

async fn add_addresses(h: &Handle, index: u32, link: &str, addrs: &[IpNet]) -> Result<(), LinkError> {
    use rtnetlink::packet_route::address::{AddressFlags, AddressHeaderFlags};
    for a in addrs {
        let mut req = h.address().add(index, a.addr(), a.prefix_len());
        if a.addr().is_ipv6() {
            // No duplicate address detection, as Docker: the address is usable at once
            // instead of "tentative" for a second or two (no other host can hold it).
            req.message_mut().header.flags |= AddressHeaderFlags::Nodad;
            req.message_mut().attributes.push(rtnetlink::packet_route::address::AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            r => r.map_err(nl("add an address to", link))?,
        }
    }
    Ok(())
}

/// Makes bridge `name` with addresses `addrs` (the networks' gateways) and `mtu`, up; an
/// existing one gets the missing addresses and is brought up.
pub fn ensure_bridge(name: &str, addrs: &[IpNet], mtu: Option<u32>) -> Result<(), LinkError> {
    let (name, addrs) = (name.to_string(), addrs.to_vec());
    with_handle(None, move |h| async move {
        let index = match index_of(&h, &name).await? {
            Some(i) => i,
            None => {
                let mut b = LinkBridge::new(&name);
                if let Some(m) = mtu {
                    b = b.mtu(m);
                }
                match h.link().add(b.build()).execute().await {
                    Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                    r => r.map_err(nl("create bridge", &name))?,
                }
                index_of(&h, &name).await?.ok_or_else(|| LinkError::NotFound(name.clone()))?
            }
        };
        add_addresses(&h, index, &name, &addrs).await?;
        h.link().set(LinkUnspec::new_with_index(index).up().build()).execute().await.map_err(nl("bring up", &name))?;
        Ok(())
    })
}

/// Deletes link `name` in the daemon's namespace (a bridge, or the host end of a veth,
/// which takes its peer along); one already gone is not an error.
pub fn delete(name: &str) -> Result<(), LinkError> {
    let name = name.to_string();
    with_handle(None, move |h| async move {
        let Some(index) = index_of(&h, &name).await? else { return Ok(()) };
        match h.link().del(index).execute().await {
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            r => r.map_err(nl("delete", &name)),
        }
    })
}

/// Whether link `name` exists in the daemon's namespace.
pub fn exists(name: &str) -> Result<bool, LinkError> {
    let name = name.to_string();
    with_handle(None, move |h| async move { Ok(index_of(&h, &name).await?.is_some()) })
}

/// The names of the links in the daemon's namespace.
pub fn names() -> Result<Vec<String>, LinkError> {
    with_handle(None, |h| async move {
        let mut out = Vec::new();
        let mut links = h.link().get().execute();
        while let Some(m) = links.try_next().await.map_err(nl("list", "links"))? {
            for a in m.attributes {
                if let rtnetlink::packet_route::link::LinkAttribute::IfName(n) = a {
                    out.push(n);
                }
            }
        }
        Ok(out)
    })
}

/// The names of the ports of bridge `bridge` (the host ends of its containers' veths).
pub fn ports_of(bridge: &str) -> Result<Vec<String>, LinkError> {
    use rtnetlink::packet_route::link::LinkAttribute;
    let bridge = bridge.to_string();
    with_handle(None, move |h| async move {
        let Some(index) = index_of(&h, &bridge).await? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut links = h.link().get().execute();
        while let Some(m) = links.try_next().await.map_err(nl("list", "links"))? {
            let on_bridge = m.attributes.iter().any(|a| matches!(a, LinkAttribute::Controller(c) if *c == index));
            if let Some(name) = m.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            }) && on_bridge
            {
                out.push(name);
            }
        }
        Ok(out)
    })
}

/// One interface of a container on a bridge network.
#[derive(Debug, Clone)]
pub struct Veth {
    /// The bridge it is a port of.
    pub bridge: String,
    /// The host end's name (`veth` and 7 hex digits, as Docker's).
    pub host_name: String,
    /// Its name in the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    pub mac: [u8; 6],
    pub mtu: Option<u32>,
    /// Its addresses with their networks' prefix lengths.
    pub addrs: Vec<IpNet>,
    /// Default routes through these gateways (the container's first network only).
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
}

/// Brings up the loopback of the namespace at `netns`.
pub fn loopback_up(netns: &Path) -> Result<(), LinkError> {
    with_handle(Some(netns), |h| async move {
        let lo = index_of(&h, "lo").await?.ok_or_else(|| LinkError::NotFound("lo".into()))?;
        h.link().set(LinkUnspec::new_with_index(lo).up().build()).execute().await.map_err(nl("bring up", "lo"))
    })
}

/// Joins the namespace at `netns` to `v.bridge`: a veth pair made by one request in the
/// daemon's namespace, its host end a port of the bridge and up, its peer made directly in
/// the container's namespace under its own name and MAC, then addressed and routed there.
/// Making the peer where it belongs, not moving it there afterwards, spares the kernel's
/// synchronize_net of a namespace change (about 20 ms a container). On failure the pair is
/// deleted again.
pub fn attach(netns: &Path, v: &Veth) -> Result<(), LinkError> {
    let ns_file = std::fs::File::open(netns).map_err(|source| LinkError::Io { what: format!("open {}", netns.display()), source })?;
    let outer = v.clone();
    let made = with_handle(None, move |h| async move {
        let bridge = index_of(&h, &outer.bridge).await?.ok_or_else(|| LinkError::NotFound(outer.bridge.clone()))?;
        let mut peer = LinkUnspec::new_with_name(&outer.ifname).address(outer.mac.to_vec()).setns_by_fd(ns_file.as_raw_fd());
        let mut pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth).name(outer.host_name.clone()).controller(bridge).up();
        if let Some(m) = outer.mtu {
            peer = peer.mtu(m);
            pair = pair.mtu(m);
        }
        let pair = pair.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        // `ns_file` lives until the request is answered: the kernel reads the fd then.
        let added = h.link().add(pair.build()).execute().await.map_err(nl("create veth", &outer.host_name));
        drop(ns_file);
        added
    });
    let configured = made.and_then(|()| {
        let inner = v.clone();
        with_handle(Some(netns), move |h| async move {
            let ix = index_of(&h, &inner.ifname).await?.ok_or_else(|| LinkError::NotFound(inner.ifname.clone()))?;
            add_addresses(&h, ix, &inner.ifname, &inner.addrs).await?;
            h.link().set(LinkUnspec::new_with_index(ix).up().build()).execute().await.map_err(nl("bring up", &inner.ifname))?;
            if let Some(lo) = index_of(&h, "lo").await? {
                h.link().set(LinkUnspec::new_with_index(lo).up().build()).execute().await.map_err(nl("bring up", "lo"))?;
            }
            if let Some(gw) = inner.gateway4 {
                let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).output_interface(ix).build();
                h.route().add(route).execute().await.map_err(nl("add the default route of", &inner.ifname))?;
            }
            if let Some(gw) = inner.gateway6 {
                let route = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gw).output_interface(ix).build();
                match h.route().add(route).execute().await {
                    Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                    r => r.map_err(nl("add the IPv6 default route of", &inner.ifname))?,
                }
            }
            Ok(())
        })
    });
    if configured.is_err() {
        let _ = delete(&v.host_name);
    }
    configured
}

/// Deletes interface `ifname` inside the namespace at `netns` (a live disconnect); its host
/// end goes with it. One already gone is not an error.
pub fn detach(netns: &Path, ifname: &str) -> Result<(), LinkError> {
    let ifname = ifname.to_string();
    with_handle(Some(netns), move |h| async move {
        let Some(ix) = index_of(&h, &ifname).await? else { return Ok(()) };
        match h.link().del(ix).execute().await {
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            r => r.map_err(nl("delete", &ifname)),
        }
    })
}

/// The MAC address Docker derives from an IPv4 address (02:42 and the address's bytes), a
/// random locally administered one for a container with none.
pub fn mac_for(ip: Option<IpAddr>) -> [u8; 6] {
    match ip {
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            [0x02, 0x42, o[0], o[1], o[2], o[3]]
        }
        _ => {
            let r: [u8; 4] = rand::random();
            [0x02, 0x42, r[0], r[1], r[2], r[3]]
        }
    }
}

/// `aa:bb:cc:dd:ee:ff` of a MAC address.
pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A MAC address from its text form, if it is one (a unicast one: multicast bit clear).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s.split([':', '-']).map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2)).collect::<Option<_>>()?;
    let mac: [u8; 6] = parts.try_into().ok()?;
    (mac[0] & 1 == 0).then_some(mac)
}

/// A fresh host-side veth name: `veth` and 7 hex digits.
pub fn veth_name() -> String {
    format!("veth{:07x}", rand::random::<u32>() & 0x0fff_ffff)
}

/// The namespace file of a container's sandbox under `dir`.
pub fn sandbox_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(&id[..id.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_follow_dockers_ipv4_derivation_and_parse_back() {
        let m = mac_for(Some("172.17.0.2".parse().expect("ip")));
        assert_eq!(mac_string(&m), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02"), Some(m));
        assert_eq!(parse_mac("01:00:5e:00:00:01"), None, "multicast");
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("02:42:ac:11:00:2"), None);
        assert!(veth_name().starts_with("veth") && veth_name().len() == 11);
    }
}
