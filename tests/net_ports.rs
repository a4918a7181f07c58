//! Published ports below the daemon: the userland proxy (berth-proxy) and the nftables rules
//! (net::firewall), each test in network namespaces of its own joined by veth pairs the test
//! makes with `ip` (the library itself never runs `ip`). Nothing touches the host's namespace.

mod common;

use berth::net::firewall::{self, NetworkRules, PortRule, Proto};
use berth::net::proxy::{self, ProxyError, ProxySpec};
use common::netns::NetNs;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `f` in a thread that joined `ns`: sockets it makes live there, and processes it
/// spawns (nft, the proxy) start there.
fn in_ns<T: Send>(ns: &NetNs, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = std::fs::File::open(&ns.path).expect("open netns");
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("thread in netns panicked")
    })
}

/// A veth pair `a_if` (in `a`, address `a_addr`) — `b_if` (in `b`, address `b_addr`), both up.
fn veth(a: &NetNs, a_if: &str, a_addr: &str, b: &NetNs, b_if: &str, b_addr: &str) {
    let tmp = format!("t{:08x}", rand::random::<u32>());
    a.run_ok("ip", &["link", "add", a_if, "type", "veth", "peer", "name", &tmp]);
    a.run_ok("ip", &["link", "set", &tmp, "netns", &b.path.to_string_lossy()]);
    b.run_ok("ip", &["link", "set", &tmp, "name", b_if]);
    for (ns, ifname, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        if addr.contains(':') {
            ns.run_ok("ip", &["addr", "add", addr, "dev", ifname, "nodad"]);
        } else {
            ns.run_ok("ip", &["addr", "add", addr, "dev", ifname]);
        }
        ns.run_ok("ip", &["link", "set", ifname, "up"]);
    }
}

/// A TCP server on `addr` in `ns` that, per connection, reads to EOF and then answers
/// "<peer ip> said <data>" and closes (so a client sees its half-close passed through).
fn echo_server(ns: &NetNs, addr: &str) -> SocketAddr {
    let l = in_ns(ns, || TcpListener::bind(addr).expect("bind echo server"));
    let local = l.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let mut data = String::new();
                let _ = c.read_to_string(&mut data);
                let peer = c.peer_addr().map(|p| p.ip().to_string()).unwrap_or_default();
                let _ = c.write_all(format!("{peer} said {data}").as_bytes());
            });
        }
    });
    local
}

/// Sends `msg` over a new connection from `ns` to `to`, half-closes, and returns the answer.
fn ask(ns: &NetNs, to: SocketAddr, msg: &str) -> std::io::Result<String> {
    in_ns(ns, || {
        let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.write_all(msg.as_bytes())?;
        c.shutdown(Shutdown::Write)?;
        let mut out = String::new();
        c.read_to_string(&mut out)?;
        Ok(out)
    })
}

fn spec(proto: Proto, host: &str, container: &str) -> ProxySpec {
    let (h, c): (SocketAddr, SocketAddr) = (host.parse().unwrap(), container.parse().unwrap());
    ProxySpec { proto, host_ip: h.ip(), host_port: h.port(), container_ip: c.ip(), container_port: c.port() }
}

/// A "host" namespace and a "container" namespace joined by a veth (10.99.0.1 — 10.99.0.2,
/// fd99::1 — fd99::2).
fn host_and_container(tag: &str) -> (NetNs, NetNs) {
    let (h, c) = (NetNs::new(&format!("{tag}-h")), NetNs::new(&format!("{tag}-c")));
    veth(&h, "hc0", "10.99.0.1/24", &c, "eth0", "10.99.0.2/24");
    h.run_ok("ip", &["addr", "add", "fd99::1/64", "dev", "hc0", "nodad"]);
    c.run_ok("ip", &["addr", "add", "fd99::2/64", "dev", "eth0", "nodad"]);
    (h, c)
}

/// Stops a proxy a test started, also when the test fails.
struct ProxyGuard(u32);
impl Drop for ProxyGuard {
    fn drop(&mut self) {
        let _ = proxy::stop(self.0);
    }
}

#[test]
fn proxy_tcp_forwards_loopback_to_the_container_with_half_close() {
    let (h, c) = host_and_container("pxt");
    let server = echo_server(&c, "10.99.0.2:80");
    let pid = in_ns(&h, || proxy::spawn(&common::berth_bin(), &spec(Proto::Tcp, "127.0.0.1:8080", &server.to_string()), true)).expect("spawn");
    let _g = ProxyGuard(pid);
    assert!(proxy::is_proxy(pid, &spec(Proto::Tcp, "127.0.0.1:8080", &server.to_string())));
    assert!(!proxy::is_proxy(pid, &spec(Proto::Tcp, "127.0.0.1:8081", &server.to_string())));
    // The server answers only after it read EOF: the client's shutdown(SHUT_WR) reached it
    // through the proxy while the other direction stayed open.
    assert_eq!(ask(&h, "127.0.0.1:8080".parse().unwrap(), "hello").unwrap(), "10.99.0.1 said hello");
    // Many connections, and a large payload.
    let big = "x".repeat(1 << 20);
    for _ in 0..3 {
        assert_eq!(ask(&h, "127.0.0.1:8080".parse().unwrap(), &big).unwrap().len(), "10.99.0.1 said ".len() + big.len());
    }
}

#[test]
fn proxy_tcp_over_ipv6() {
    let (h, c) = host_and_container("px6");
    let server = echo_server(&c, "[fd99::2]:80");
    let pid = in_ns(&h, || proxy::spawn(&common::berth_bin(), &spec(Proto::Tcp, "[::1]:8080", &server.to_string()), true)).expect("spawn");
    let _g = ProxyGuard(pid);
    assert_eq!(ask(&h, "[::1]:8080".parse().unwrap(), "six").unwrap(), "fd99::1 said six");
}

#[test]
fn proxy_udp_round_trip_per_client_replies_from_the_host_socket() {
    let (h, c) = host_and_container("pxu");
    let server = in_ns(&c, || UdpSocket::bind("10.99.0.2:53").expect("bind udp server"));
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let reply = format!("{from} sent {}", String::from_utf8_lossy(&buf[..n]));
            let _ = server.send_to(reply.as_bytes(), from);
        }
    });
    let pid = in_ns(&h, || proxy::spawn(&common::berth_bin(), &spec(Proto::Udp, "127.0.0.1:5353", "10.99.0.2:53"), true)).expect("spawn");
    let _g = ProxyGuard(pid);
    let clients: Vec<UdpSocket> = (0..2)
        .map(|_| {
            in_ns(&h, || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                // Connected: the socket only accepts datagrams from the proxy's host address.
                s.connect("127.0.0.1:5353").unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s
            })
        })
        .collect();
    let mut flows = Vec::new();
    for round in 0..2 {
        for (i, s) in clients.iter().enumerate() {
            s.send(format!("c{i}r{round}").as_bytes()).unwrap();
            let mut buf = [0u8; 2048];
            let n = s.recv(&mut buf).expect("reply through the proxy");
            let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (from, said) = reply.split_once(" sent ").unwrap();
            assert_eq!(said, format!("c{i}r{round}"));
            assert!(from.starts_with("10.99.0.1:"), "{reply}");
            flows.push((i, from.to_owned()));
        }
    }
    // Each client keeps its own flow (source port towards the container); clients differ.
    assert_eq!(flows[0].1, flows[2].1);
    assert_eq!(flows[1].1, flows[3].1);
    assert_ne!(flows[0].1, flows[1].1);
}

#[test]
fn proxy_spawn_reports_address_already_in_use() {
    let h = NetNs::new("pxe");
    let _taken = in_ns(&h, || TcpListener::bind("127.0.0.1:8080").unwrap());
    let err = in_ns(&h, || proxy::spawn(&common::berth_bin(), &spec(Proto::Tcp, "127.0.0.1:8080", "10.0.0.2:80"), true)).unwrap_err();
    assert!(matches!(err, ProxyError::Listen(_)), "{err:?}");
    assert_eq!(err.to_string(), "listen tcp 127.0.0.1:8080: address already in use");
    let _taken = in_ns(&h, || UdpSocket::bind("127.0.0.1:5353").unwrap());
    let err = in_ns(&h, || proxy::spawn(&common::berth_bin(), &spec(Proto::Udp, "127.0.0.1:5353", "10.0.0.2:53"), false)).unwrap_err();
    assert_eq!(err.to_string(), "listen udp 127.0.0.1:5353: address already in use");
    // An address the namespace does not have.
    let err = in_ns(&h, || proxy::spawn(&common::berth_bin(), &spec(Proto::Tcp, "192.0.2.1:80", "10.0.0.2:80"), true)).unwrap_err();
    assert_eq!(err.to_string(), "listen tcp 192.0.2.1:80: cannot assign requested address");
}

#[test]
fn proxy_binary_refuses_unknown_flags() {
    let out = Command::new(common::berth_bin()).args(["proxy", "-host-ip", "127.0.0.1", "-bogus", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown flag -bogus"), "{}", String::from_utf8_lossy(&out.stderr));
}

const HELPER_ENV: &str = "BERTH_NET_PORTS_HELPER";

/// Not a test: the spawner process of `proxy_outlives_its_spawner_only_when_detached`
/// (this test binary run again with HELPER_ENV=attached|detached, inside the namespace).
/// It spawns a proxy, prints its pid, and waits to be killed.
#[test]
#[ignore = "helper process of proxy_outlives_its_spawner_only_when_detached"]
fn helper_spawn_proxy() {
    let Ok(mode) = std::env::var(HELPER_ENV) else { return };
    let pid = proxy::spawn(&common::berth_bin(), &spec(Proto::Tcp, "127.0.0.1:8080", "10.99.0.2:80"), mode == "attached").expect("spawn");
    println!("PROXY_PID {pid}");
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// Starts the helper in `ns`; returns it and the proxy's pid.
fn spawner(ns: &NetNs, mode: &str) -> (std::process::Child, u32) {
    let mut child = ns
        .cmd(std::env::current_exe().unwrap())
        .args(["--exact", "helper_spawn_proxy", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, mode)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 256];
    let pid = loop {
        // The harness prints "test helper_spawn_proxy ... " on the same line first.
        if let Some((_, rest)) = out.split_once("PROXY_PID ")
            && let Some((p, _)) = rest.split_once('\n')
        {
            break p.trim().parse::<u32>().unwrap();
        }
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "helper exited without a proxy: {out}");
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    };
    (child, pid)
}

/// Waits (bounded) until `pid` no longer runs (gone or a zombie).
fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s) if s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z') || r.starts_with('X')) => return true,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    false
}

#[test]
fn proxy_outlives_its_spawner_only_when_detached() {
    let (h, c) = host_and_container("pxd");
    echo_server(&c, "10.99.0.2:80");
    let (mut helper, pid) = spawner(&h, "detached");
    let _g = ProxyGuard(pid);
    helper.kill().unwrap();
    helper.wait().unwrap();
    // Its spawner is SIGKILLed: the port still answers (modular mode's requirement).
    assert!(proxy::is_proxy(pid, &spec(Proto::Tcp, "127.0.0.1:8080", "10.99.0.2:80")));
    assert_eq!(ask(&h, "127.0.0.1:8080".parse().unwrap(), "still there").unwrap(), "10.99.0.1 said still there");
    // stop() works on a proxy that is not its child (a restarted berthd's case).
    proxy::stop(pid).unwrap();
    assert!(wait_gone(pid, Duration::from_secs(5)));

    let (mut helper, pid) = spawner(&h, "attached");
    let _g = ProxyGuard(pid);
    assert_eq!(ask(&h, "127.0.0.1:8080".parse().unwrap(), "x").unwrap(), "10.99.0.1 said x");
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert!(wait_gone(pid, Duration::from_secs(10)), "attached proxy {pid} survived its spawner");
    let refused = ask(&h, "127.0.0.1:8080".parse().unwrap(), "x").unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// `nft -j list ruleset` in `ns`, without the handles (re-made rules get new ones).
fn ruleset(ns: &NetNs) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("handle");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(&ns.run_ok("nft", &["-j", "list", "ruleset"])).unwrap();
    strip(&mut v);
    v
}

fn comments(ns: &NetNs) -> Vec<String> {
    let v = ruleset(ns);
    v["nftables"].as_array().unwrap().iter().filter_map(|o| o.get("rule")?.get("comment")?.as_str().map(str::to_owned)).collect()
}

fn port(proto: Proto, host: Option<&str>, host_port: u16, container: &str, bridge: &str) -> PortRule {
    let c: SocketAddr = container.parse().unwrap();
    PortRule { proto, host_ip: host.map(|h| h.parse().unwrap()), host_port, container_ip: c.ip(), container_port: c.port(), bridge: bridge.into() }
}

#[test]
fn firewall_add_then_remove_leaves_the_ruleset_as_before() {
    common::need(Command::new("nft").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()), "nft (Debian package nftables)");
    let ns = NetNs::new("fwr");
    let empty = ruleset(&ns);
    in_ns(&ns, firewall::init).unwrap();
    in_ns(&ns, firewall::init).unwrap();
    let base = ruleset(&ns);
    let a = NetworkRules {
        bridge: "br-a".into(),
        subnets: vec!["172.30.0.0/16".parse().unwrap(), "fd30::/64".parse().unwrap()],
        icc: false,
        masquerade: true,
        internal: false,
    };
    let b = NetworkRules { bridge: "br-b".into(), subnets: vec!["172.31.0.0/16".parse().unwrap()], icc: true, masquerade: true, internal: true };
    let ports = [
        port(Proto::Tcp, None, 8080, "172.30.0.2:80", "br-a"),
        port(Proto::Udp, Some("127.0.0.1"), 5353, "172.30.0.2:53", "br-a"),
        port(Proto::Tcp, Some("::"), 8080, "[fd30::2]:80", "br-a"),
        port(Proto::Tcp, None, 9090, "172.31.0.2:90", "br-b"),
    ];
    in_ns(&ns, || -> Result<(), firewall::FirewallError> {
        firewall::add_network(&a)?;
        firewall::add_network(&b)?;
        ports.iter().try_for_each(firewall::add_port)
    })
    .unwrap();
    let full = ruleset(&ns);
    let cs = comments(&ns);
    assert!(cs.contains(&"net br-a".to_owned()) && cs.contains(&"net br-b".to_owned()), "{cs:?}");
    assert_eq!(cs.iter().filter(|c| c.starts_with("port br-a tcp *:8080 ")).count(), 3, "prerouting, output, forward: {cs:?}");
    // Masquerade for both of br-a's subnets, none for the internal br-b.
    assert_eq!(cs.iter().filter(|c| *c == "net br-a").count(), 2 + 2, "{cs:?}");
    assert_eq!(cs.iter().filter(|c| *c == "net br-b").count(), 2, "{cs:?}");
    // Calling everything again (a restarted daemon reconciling) changes nothing.
    in_ns(&ns, || -> Result<(), firewall::FirewallError> {
        firewall::init()?;
        firewall::add_network(&a)?;
        firewall::add_network(&b)?;
        ports.iter().try_for_each(firewall::add_port)
    })
    .unwrap();
    assert_eq!(ruleset(&ns), full);
    // Re-adding a network keeps its published ports.
    assert!(comments(&ns).iter().any(|c| c.starts_with("port br-a udp 127.0.0.1:5353 ")));

    in_ns(&ns, || firewall::remove_port(&ports[0])).unwrap();
    in_ns(&ns, || firewall::remove_port(&ports[0])).unwrap();
    assert!(!comments(&ns).iter().any(|c| c.starts_with("port br-a tcp *:8080 ")));
    assert!(comments(&ns).iter().any(|c| c.starts_with("port br-a udp 127.0.0.1:5353 ")));
    // remove_network takes the network's remaining ports with it.
    in_ns(&ns, || -> Result<(), firewall::FirewallError> {
        firewall::remove_network("br-a")?;
        firewall::remove_network("br-a")?;
        firewall::remove_network("br-b")?;
        firewall::remove_network("never-added")
    })
    .unwrap();
    assert_eq!(ruleset(&ns), base);
    in_ns(&ns, firewall::clear).unwrap();
    in_ns(&ns, firewall::clear).unwrap();
    assert_eq!(ruleset(&ns), empty);
}

#[test]
fn firewall_refuses_bad_names_naming_them() {
    // No namespace needed: nothing reaches nft.
    let e = firewall::remove_network("bad name").unwrap_err().to_string();
    assert!(e.contains("invalid bridge name \"bad name\""), "{e}");
    let e = firewall::add_port(&port(Proto::Tcp, Some("::1"), 80, "10.0.0.2:80", "br0")).unwrap_err().to_string();
    assert!(e.contains("different families"), "{e}");
}

/// A connection attempt that the firewall drops: no answer within the timeout.
fn dropped(ns: &NetNs, to: &str) -> bool {
    let to: SocketAddr = to.parse().unwrap();
    in_ns(ns, || TcpStream::connect_timeout(&to, Duration::from_millis(1500))).is_err_and(|e| e.kind() == std::io::ErrorKind::TimedOut)
}

#[test]
fn dnat_forwards_published_ports_and_the_firewall_isolates_bridges() {
    common::need(Command::new("nft").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()), "nft (Debian package nftables)");
    // host h: "bridge" hc0 to container c, "bridge" hd0 to container d, uplink ho0 to outside o.
    let (h, c) = host_and_container("dn");
    let (d, o) = (NetNs::new("dn-d"), NetNs::new("dn-o"));
    veth(&h, "hd0", "10.98.0.1/24", &d, "eth0", "10.98.0.2/24");
    veth(&h, "ho0", "192.0.2.1/24", &o, "eth0", "192.0.2.2/24");
    h.run_ok("ip", &["addr", "add", "2001:db8::1/64", "dev", "ho0", "nodad"]);
    o.run_ok("ip", &["addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad"]);
    c.run_ok("ip", &["route", "add", "default", "via", "10.99.0.1"]);
    c.run_ok("ip", &["-6", "route", "add", "default", "via", "fd99::1"]);
    d.run_ok("ip", &["route", "add", "default", "via", "10.98.0.1"]);
    o.run_ok("ip", &["route", "add", "10.0.0.0/8", "via", "192.0.2.1"]);
    h.run_ok("sysctl", &["-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
    let server = echo_server(&c, "0.0.0.0:80");
    let server6 = echo_server(&c, "[fd99::2]:81");
    let outside = echo_server(&o, "0.0.0.0:80");
    assert_eq!(server.port(), 80);
    let net_c = NetworkRules {
        bridge: "hc0".into(),
        subnets: vec!["10.99.0.0/24".parse().unwrap(), "fd99::/64".parse().unwrap()],
        icc: true,
        masquerade: false,
        internal: false,
    };
    let net_d = NetworkRules { bridge: "hd0".into(), subnets: vec!["10.98.0.0/24".parse().unwrap()], icc: true, masquerade: false, internal: false };
    let p4 = port(Proto::Tcp, None, 8080, "10.99.0.2:80", "hc0");
    let p6 = port(Proto::Tcp, Some("2001:db8::1"), 8081, &server6.to_string(), "hc0");
    in_ns(&h, || -> Result<(), firewall::FirewallError> {
        firewall::init()?;
        firewall::add_network(&net_c)?;
        firewall::add_network(&net_d)?;
        firewall::add_port(&p4)?;
        firewall::add_port(&p6)
    })
    .unwrap();

    // From outside, through prerouting DNAT; no masquerade: the container sees the client.
    assert_eq!(ask(&o, "192.0.2.1:8080".parse().unwrap(), "in").unwrap(), "192.0.2.2 said in");
    assert_eq!(ask(&o, "[2001:db8::1]:8081".parse().unwrap(), "six").unwrap(), "2001:db8::2 said six");
    // From the host itself to a local non-loopback address, through output DNAT.
    assert_eq!(ask(&h, "192.0.2.1:8080".parse().unwrap(), "local").unwrap(), "192.0.2.1 said local");
    // Loopback is not DNATed (the proxy's job): nothing listens there.
    assert_eq!(ask(&h, "127.0.0.1:8080".parse().unwrap(), "lo").unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    // An unpublished port of the container, routed from outside: dropped (were it forwarded,
    // the container would refuse it).
    assert!(dropped(&o, "10.99.0.2:82"));
    // Isolation: bridge hd0's container cannot reach hc0's, nor the reverse.
    assert!(dropped(&d, "10.99.0.2:80"));
    let d_server = echo_server(&d, "0.0.0.0:80");
    assert!(dropped(&c, &format!("10.98.0.2:{}", d_server.port())));
    // Containers reach outside (replies come back as established); without masquerade the
    // outside sees the container's address...
    assert_eq!(ask(&c, "192.0.2.2:80".parse().unwrap(), "out").unwrap(), "10.99.0.2 said out");
    // ...and with it, the host's.
    in_ns(&h, || firewall::add_network(&NetworkRules { masquerade: true, ..net_c.clone() })).unwrap();
    assert_eq!(ask(&c, "192.0.2.2:80".parse().unwrap(), "out").unwrap(), "192.0.2.1 said out");
    assert_eq!(outside.port(), 80);
    // The published port survived re-adding the network.
    assert_eq!(ask(&o, "192.0.2.1:8080".parse().unwrap(), "again").unwrap(), "192.0.2.2 said again");

    // Internal: nothing in or out.
    in_ns(&h, || firewall::add_network(&NetworkRules { internal: true, ..net_c.clone() })).unwrap();
    assert!(dropped(&c, "192.0.2.2:80"));
    in_ns(&h, || firewall::add_network(&net_c)).unwrap();

    // Unpublished: the host answers the port itself (nothing listens: refused).
    in_ns(&h, || firewall::remove_port(&p4)).unwrap();
    assert_eq!(ask(&o, "192.0.2.1:8080".parse().unwrap(), "gone").unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    in_ns(&h, firewall::clear).unwrap();
}

#[test]
fn ephemeral_port_picks_a_free_port_in_the_namespace_range() {
    let h = NetNs::new("eph");
    h.run_ok("sysctl", &["-qw", "net.ipv4.ip_local_port_range=40000 40002"]);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let held: Vec<TcpListener> = in_ns(&h, || {
        let mut held = Vec::new();
        for _ in 0..3 {
            let p = proxy::ephemeral_port(Proto::Tcp, ip).unwrap();
            assert!((40000..=40002).contains(&p), "{p}");
            held.push(TcpListener::bind((ip, p)).unwrap());
        }
        held
    });
    // All three taken: a clear error, not a port in use.
    let e = in_ns(&h, || proxy::ephemeral_port(Proto::Tcp, ip)).unwrap_err();
    assert_eq!(e.to_string(), "no free tcp port on 127.0.0.1 in range 40000-40002");
    // UDP ports are separate.
    assert!(in_ns(&h, || proxy::ephemeral_port(Proto::Udp, ip)).is_ok());
    drop(held);
}
