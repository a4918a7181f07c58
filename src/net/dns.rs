//! The embedded DNS server of user-defined networks (Docker's 127.0.0.11): it answers a
//! container's queries for the names that container may resolve (container names, network
//! aliases, ids; A, AAAA and PTR) and forwards every other query to the host's resolvers.
//!
//! The daemon binds the sockets inside the container's network namespace and hands them over;
//! the server runs as tasks of the daemon's tokio runtime. The sockets that forward queries are
//! opened by the runtime's threads, so they live in the daemon's namespace, not the container's:
//! the host's resolvers are reached from there, loopback ones (systemd-resolved's 127.0.0.53)
//! included, as Docker's resolver does since it forwards from the host's namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

/// TTL of the answers about containers, Docker's (its resolver's respTTL).
pub const TTL: u32 = 600;
/// How long one upstream server has to answer a forwarded query (Docker's extIOTimeout).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(4);
/// Upstream servers tried per query, and kept from a resolv.conf: glibc's MAXNS (Docker's maxExtDNS).
const MAX_UPSTREAM: usize = 3;
/// Queries being forwarded plus TCP connections open at once; past this a forwarded query gets
/// SERVFAIL and a TCP connection is closed at once, so a flood cannot exhaust the daemon
/// (Docker's maxConcurrent).
const MAX_CONCURRENT: usize = 1024;
/// A TCP client silent for this long is disconnected (a slow reader cannot hold a slot forever).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The UDP payload a client without EDNS accepts (RFC 1035).
const UDP_CLASSIC: usize = 512;
/// The UDP payload this server advertises in its EDNS answers (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// Why the DNS server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `spawn` was called outside a tokio runtime.
    #[error("the embedded DNS server must be started within a tokio runtime")]
    NoRuntime,
    /// A handed-over socket cannot be used (not bound, or cannot be made non-blocking).
    #[error("the embedded DNS server cannot use its {proto} socket: {source}")]
    Socket {
        /// "UDP" or "TCP".
        proto: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

/// What one container may resolve: the daemon implements it per container (names on the networks that container is on).
pub trait Names: Send + Sync + 'static {
    /// Addresses of `name` (lowercase, no trailing dot: a container name, an alias, a short or
    /// full id, or `name.network`), IPv4 and IPv6; empty when the name is not a container's.
    fn lookup(&self, name: &str) -> Vec<IpAddr>;
    /// The name for a PTR query of `ip` (Docker answers `name.network`), if it is a container's.
    fn reverse(&self, ip: IpAddr) -> Option<String>;
}

/// A running server; dropping it or calling stop() ends it (its sockets close once the runtime
/// has dropped its tasks, which it does promptly, not within the call).
pub struct DnsServer {
    task: JoinHandle<()>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
}

impl DnsServer {
    /// Serves on already-bound sockets (the daemon binds them at 127.0.0.11:53 inside the
    /// container's netns and hands them over), answering from `names` and forwarding other
    /// queries to `upstream` (the host's resolvers, see [`upstream_from_resolv_conf`]; empty =
    /// those queries get SERVFAIL, as Docker's answer on a network without external access).
    /// Must be called within a tokio runtime.
    pub fn spawn(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        names: Arc<dyn Names>,
        upstream: Vec<SocketAddr>,
    ) -> Result<DnsServer, DnsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DnsError::NoRuntime)?;
        let udp_err = |source| DnsError::Socket { proto: "UDP", source };
        let tcp_err = |source| DnsError::Socket { proto: "TCP", source };
        udp.set_nonblocking(true).map_err(udp_err)?;
        tcp.set_nonblocking(true).map_err(tcp_err)?;
        let udp_addr = udp.local_addr().map_err(udp_err)?;
        let tcp_addr = tcp.local_addr().map_err(tcp_err)?;
        let udp = UdpSocket::from_std(udp).map_err(udp_err)?;
        let tcp = TcpListener::from_std(tcp).map_err(tcp_err)?;
        let resolver = Arc::new(Resolver { names, upstream: upstream.into_iter().take(MAX_UPSTREAM).collect() });
        let task = runtime.spawn(serve(udp, tcp, resolver));
        Ok(DnsServer { task, udp_addr, tcp_addr })
    }

    /// The address the UDP socket serves on.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The address the TCP listener serves on.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// Ends the server: its tasks (queries being forwarded included) are cancelled and its
    /// sockets closed.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Aborting the serving task drops its JoinSet, which aborts every query and connection
        // task, and with them the last references to the sockets.
        self.task.abort();
    }
}

/// The host's name servers from a resolv.conf text, port 53, at most three (glibc reads no
/// more), duplicates dropped. Loopback servers are kept: the forwarder runs in the daemon's
/// namespace, where the host's loopback resolver answers. A zone (`fe80::1%eth0`) names an
/// interface of the daemon's namespace; an unknown one drops that line, as does anything that
/// is not an address.
pub fn upstream_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut servers: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(server) = words.next().and_then(nameserver_addr) else { continue };
        if !servers.contains(&server) {
            servers.push(server);
        }
        if servers.len() == MAX_UPSTREAM {
            break;
        }
    }
    servers
}

/// One `nameserver` value as a socket address on port 53.
fn nameserver_addr(word: &str) -> Option<SocketAddr> {
    let (addr, zone) = match word.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (word, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    if ip.is_unspecified() {
        return None;
    }
    match (ip, zone) {
        (IpAddr::V4(_), Some(_)) => None,
        (IpAddr::V4(v4), None) => Some(SocketAddr::from((v4, 53))),
        (IpAddr::V6(v6), None) => Some(SocketAddr::from((v6, 53))),
        (IpAddr::V6(v6), Some(zone)) => {
            let scope = match zone.parse::<u32>() {
                Ok(index) => index,
                Err(_) => interface_index(zone)?,
            };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(v6, 53, 0, scope)))
        }
    }
}

/// The index of the interface `name` in the calling thread's namespace.
fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call; if_nametoindex
    // only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// What answers queries: the container's names and the upstream servers.
struct Resolver {
    names: Arc<dyn Names>,
    upstream: Vec<SocketAddr>,
}

/// What to do with one query.
enum Decision {
    /// Answered here.
    Reply(Message),
    /// Not a name of ours: ask upstream.
    Forward,
}

/// Accepts queries on both sockets until aborted.
async fn serve(udp: UdpSocket, tcp: TcpListener, resolver: Arc<Resolver>) {
    let udp = Arc::new(udp);
    let mut work: JoinSet<()> = JoinSet::new();
    let mut buf = vec![0u8; u16::MAX as usize];
    loop {
        tokio::select! {
            got = udp.recv_from(&mut buf) => match got {
                Ok((len, peer)) => resolver.udp_query(&udp, &buf[..len], peer, &mut work),
                Err(e) => tracing::debug!("embedded DNS: UDP receive: {e}"),
            },
            got = tcp.accept() => match got {
                Ok((stream, _)) if work.len() < MAX_CONCURRENT => {
                    work.spawn(tcp_connection(resolver.clone(), stream));
                }
                Ok((stream, peer)) => {
                    tracing::debug!("embedded DNS: {MAX_CONCURRENT} queries in progress, closing the TCP connection of {peer}");
                    drop(stream);
                }
                Err(e) => {
                    // Out of descriptors, say: back off instead of spinning on the error.
                    tracing::warn!("embedded DNS: TCP accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = work.join_next(), if !work.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!("embedded DNS: a query's task panicked: {e}");
                }
            }
        }
    }
}

/// Serves the queries of one TCP connection (two-byte length, then the message), in order,
/// until the client closes it, idles, or sends something that is not a query.
async fn tcp_connection(resolver: Arc<Resolver>, mut stream: TcpStream) {
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            _ => return,
        };
        let mut packet = vec![0u8; len];
        if !matches!(tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut packet)).await, Ok(Ok(_))) {
            return;
        }
        let Some(req) = parse_query(&packet) else {
            tracing::debug!("embedded DNS: malformed query over TCP, closing the connection");
            return;
        };
        let answer = match resolver.decide(&req) {
            Decision::Reply(resp) => resp.to_vec().ok(),
            Decision::Forward => match resolver.forward(&req, &packet, true).await {
                Some((raw, _)) => Some(raw),
                None => reply(&req, ResponseCode::ServFail).to_vec().ok(),
            },
        };
        let Some(answer) = answer else { return };
        let Ok(len) = u16::try_from(answer.len()) else { return };
        let mut framed = Vec::with_capacity(answer.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&answer);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// A query as parsed, or None for anything that is not a DNS query message with a question
/// (garbage, a response, a header alone): those are dropped without a reply, as answering them
/// could be used to reflect traffic.
fn parse_query(packet: &[u8]) -> Option<Message> {
    let msg = Message::from_vec(packet).ok()?;
    (msg.metadata.message_type == MessageType::Query && !msg.queries.is_empty()).then_some(msg)
}

/// The largest UDP reply the client of `req` accepts.
fn udp_limit(req: &Message) -> usize {
    req.edns.as_ref().map_or(UDP_CLASSIC, |edns| usize::from(edns.max_payload()).max(UDP_CLASSIC))
}

impl Resolver {
    /// Handles one UDP datagram: answers ours at once, forwards the rest in a task of `work`.
    fn udp_query(self: &Arc<Self>, udp: &Arc<UdpSocket>, packet: &[u8], peer: SocketAddr, work: &mut JoinSet<()>) {
        let Some(req) = parse_query(packet) else {
            tracing::debug!("embedded DNS: dropped a malformed datagram from {peer}");
            return;
        };
        let limit = udp_limit(&req);
        match self.decide(&req) {
            Decision::Reply(resp) => send_udp(udp, peer, encode_local_udp(resp, limit)),
            Decision::Forward if work.len() >= MAX_CONCURRENT => {
                tracing::debug!("embedded DNS: {MAX_CONCURRENT} queries in progress, SERVFAIL to {peer}");
                send_udp(udp, peer, reply(&req, ResponseCode::ServFail).to_vec().ok());
            }
            Decision::Forward => {
                let (me, udp, packet) = (self.clone(), udp.clone(), packet.to_vec());
                work.spawn(async move {
                    let answer = match me.forward(&req, &packet, false).await {
                        Some((raw, _)) if raw.len() <= limit => Some(raw),
                        // Too big for the client's datagrams (the upstream answered over TCP):
                        // a truncated answer sends the client to TCP.
                        Some((_, parsed)) => parsed.truncate().to_vec().ok(),
                        None => reply(&req, ResponseCode::ServFail).to_vec().ok(),
                    };
                    if let Some(answer) = answer
                        && let Err(e) = udp.send_to(&answer, peer).await
                    {
                        tracing::debug!("embedded DNS: reply to {peer}: {e}");
                    }
                });
            }
        }
    }

    /// Whether `req` is answered here (and how), or forwarded.
    fn decide(&self, req: &Message) -> Decision {
        if req.metadata.op_code != OpCode::Query {
            return Decision::Reply(reply(req, ResponseCode::NotImp));
        }
        if req.queries.len() > 1 {
            let mut resp = reply(req, ResponseCode::FormErr);
            resp.queries.clear();
            return Decision::Reply(resp);
        }
        match self.local_answer(req) {
            Some(resp) => Decision::Reply(resp),
            None if self.upstream.is_empty() => Decision::Reply(reply(req, ResponseCode::ServFail)),
            None => Decision::Forward,
        }
    }

    /// The answer about a container's name or address, or None when the question is not
    /// about one. A name known with addresses of the other family only gets NOERROR and no
    /// records (not NXDOMAIN, which would make resolvers give up on the name), and so does any
    /// other type asked about a known name.
    fn local_answer(&self, req: &Message) -> Option<Message> {
        let query = req.queries.first()?;
        if query.query_class() != DNSClass::IN {
            return None;
        }
        let qname = query.name();
        if query.query_type() == RecordType::PTR {
            let ip = arpa_ip(qname)?;
            let host = self.names.reverse(ip)?;
            let target = Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).ok()?;
            let mut resp = reply(req, ResponseCode::NoError);
            resp.add_answer(Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(target))));
            return Some(resp);
        }
        let key = lookup_key(qname)?;
        let mut addrs = self.names.lookup(&key);
        if addrs.is_empty() {
            return None;
        }
        // Several containers sharing an alias: each client gets them in another order, the
        // round robin Docker's resolver gives.
        addrs.shuffle(&mut rand::rng());
        let (v4, v6) = match query.query_type() {
            RecordType::A => (true, false),
            RecordType::AAAA => (false, true),
            RecordType::ANY => (true, true),
            _ => (false, false),
        };
        let mut resp = reply(req, ResponseCode::NoError);
        for addr in addrs {
            let data = match addr {
                IpAddr::V4(a) if v4 => RData::A(A(a)),
                IpAddr::V6(a) if v6 => RData::AAAA(AAAA(a)),
                _ => continue,
            };
            resp.add_answer(Record::from_rdata(qname.clone(), TTL, data));
        }
        Some(resp)
    }

    /// Asks the upstream servers in turn; the first answer that is not SERVFAIL wins, as raw
    /// bytes (passed on untouched) and parsed. UDP queries go over UDP, and again over TCP when
    /// the answer comes back truncated; TCP queries over TCP.
    async fn forward(&self, req: &Message, packet: &[u8], over_tcp: bool) -> Option<(Vec<u8>, Message)> {
        for &server in &self.upstream {
            let got = if over_tcp {
                exchange_tcp(server, packet, req).await
            } else {
                match exchange_udp(server, packet, req).await {
                    Ok((raw, parsed)) if parsed.metadata.truncation => match exchange_tcp(server, packet, req).await {
                        Ok(full) => Ok(full),
                        Err(e) => {
                            tracing::debug!("embedded DNS: TCP retry of a truncated answer from {server}: {e}");
                            Ok((raw, parsed))
                        }
                    },
                    other => other,
                }
            };
            match got {
                Ok((_, parsed)) if parsed.metadata.response_code == ResponseCode::ServFail => {
                    tracing::debug!("embedded DNS: {server} answered SERVFAIL, trying the next server");
                }
                Ok(answer) => return Some(answer),
                Err(e) => tracing::debug!("embedded DNS: forwarding to {server}: {e}"),
            }
        }
        None
    }
}

/// Why a forwarded query got no usable answer from one server.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no answer within {FORWARD_TIMEOUT:?}")]
    Timeout,
    #[error("the answer does not match the query")]
    Mismatch,
}

/// One query to `server` over UDP, from a socket of its own (a fresh random port per query,
/// and connected, so only that server's datagrams are read); datagrams that are not the answer
/// to `req` are skipped.
async fn exchange_udp(server: SocketAddr, packet: &[u8], req: &Message) -> Result<(Vec<u8>, Message), ForwardError> {
    let local: SocketAddr = if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(server).await?;
    let exchange = async {
        sock.send(packet).await?;
        let mut buf = vec![0u8; u16::MAX as usize];
        loop {
            let len = sock.recv(&mut buf).await?;
            if let Some(parsed) = answer_to(req, &buf[..len]) {
                return Ok((buf[..len].to_vec(), parsed));
            }
        }
    };
    tokio::time::timeout(FORWARD_TIMEOUT, exchange).await.map_err(|_| ForwardError::Timeout)?
}

/// One query to `server` over TCP.
async fn exchange_tcp(server: SocketAddr, packet: &[u8], req: &Message) -> Result<(Vec<u8>, Message), ForwardError> {
    let len = u16::try_from(packet.len()).map_err(|_| ForwardError::Mismatch)?;
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let mut framed = Vec::with_capacity(packet.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(packet);
        stream.write_all(&framed).await?;
        let len = stream.read_u16().await?;
        let mut buf = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buf).await?;
        let parsed = answer_to(req, &buf).ok_or(ForwardError::Mismatch)?;
        Ok((buf, parsed))
    };
    tokio::time::timeout(FORWARD_TIMEOUT, exchange).await.map_err(|_| ForwardError::Timeout)?
}

/// `raw` parsed, if it is a response to `req`: its id, and its question when it has one (a
/// FORMERR may have none).
fn answer_to(req: &Message, raw: &[u8]) -> Option<Message> {
    let resp = Message::from_vec(raw).ok()?;
    let same_question = resp.queries.is_empty()
        || (resp.queries.len() == req.queries.len()
            && resp
                .queries
                .iter()
                .zip(&req.queries)
                .all(|(a, q)| a.name() == q.name() && a.query_type() == q.query_type() && a.query_class() == q.query_class()));
    (resp.metadata.message_type == MessageType::Response && resp.metadata.id == req.metadata.id && same_question).then_some(resp)
}

/// The skeleton of the reply to `req`: its id, question and RD/CD bits, RA set (Docker's resolver
/// recurses for the client), and an EDNS record when the query had one.
fn reply(req: &Message, code: ResponseCode) -> Message {
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.checking_disabled = req.metadata.checking_disabled;
    resp.metadata.recursion_available = true;
    resp.metadata.response_code = code;
    resp.add_queries(req.queries.iter().cloned());
    if req.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        resp.set_edns(edns);
    }
    resp
}

/// A local answer as a datagram of at most `limit` bytes: records that do not fit are left out
/// and the answer marked truncated, so the client may ask again over TCP.
fn encode_local_udp(mut resp: Message, limit: usize) -> Option<Vec<u8>> {
    loop {
        let bytes = resp.to_vec().ok()?;
        if bytes.len() <= limit || resp.answers.is_empty() {
            return Some(bytes);
        }
        resp.answers.pop();
        resp.metadata.truncation = true;
    }
}

/// Sends a reply without waiting: a datagram the socket cannot take now is lost, as UDP may
/// lose it anyway, and the client asks again.
fn send_udp(udp: &UdpSocket, peer: SocketAddr, answer: Option<Vec<u8>>) {
    if let Some(answer) = answer
        && let Err(e) = udp.try_send_to(&answer, peer)
    {
        tracing::debug!("embedded DNS: reply to {peer}: {e}");
    }
}

/// The name as `Names::lookup` takes it: lowercase, no trailing dot; None for the root.
fn lookup_key(name: &Name) -> Option<String> {
    let ascii = name.to_lowercase().to_ascii();
    let key = ascii.trim_end_matches('.');
    (!key.is_empty()).then(|| key.to_owned())
}

/// The address a PTR question is about (`4.3.2.1.in-addr.arpa.`, `…ip6.arpa.`, any case), if it
/// names one whole address.
fn arpa_ip(name: &Name) -> Option<IpAddr> {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    match name.parse_arpa_name().ok()? {
        ipnet::IpNet::V4(net) if net.prefix_len() == 32 => Some(IpAddr::V4(net.addr())),
        ipnet::IpNet::V6(net) if net.prefix_len() == 128 => Some(IpAddr::V6(net.addr())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use std::collections::HashMap;
    use std::str::FromStr;

    /// Names of a test container: `web` (v4 and v6), `db` (v4 only), `v6only`.
    struct Fixed(HashMap<&'static str, Vec<IpAddr>>);

    impl Names for Fixed {
        fn lookup(&self, name: &str) -> Vec<IpAddr> {
            self.0.get(name).cloned().unwrap_or_default()
        }
        fn reverse(&self, ip: IpAddr) -> Option<String> {
            self.0.iter().find(|(_, ips)| ips.contains(&ip)).map(|(name, _)| format!("{name}.app"))
        }
    }

    fn resolver(upstream: Vec<SocketAddr>) -> Resolver {
        let names = Fixed(HashMap::from([
            ("web", vec!["172.20.0.2".parse().unwrap(), "fd00::2".parse().unwrap()]),
            ("db", vec!["172.20.0.3".parse().unwrap()]),
            ("v6only", vec!["fd00::4".parse().unwrap()]),
        ]));
        Resolver { names: Arc::new(names), upstream }
    }

    fn query(name: &str, kind: RecordType) -> Message {
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(Name::from_str(name).unwrap(), kind));
        msg
    }

    fn answered(r: &Resolver, name: &str, kind: RecordType) -> Message {
        match r.decide(&query(name, kind)) {
            Decision::Reply(m) => m,
            Decision::Forward => panic!("{name} {kind} was forwarded"),
        }
    }

    fn addrs(m: &Message) -> Vec<IpAddr> {
        m.answers.iter().filter_map(|r| r.data.ip_addr()).collect()
    }

    #[test]
    fn a_and_aaaa_answer_each_family_with_ttl_600_and_recursion_available() {
        let r = resolver(vec![]);
        let a = answered(&r, "web", RecordType::A);
        assert_eq!(a.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addrs(&a), vec!["172.20.0.2".parse::<IpAddr>().unwrap()]);
        assert!(a.answers.iter().all(|r| r.ttl == TTL && r.name == Name::from_str("web").unwrap()));
        assert!(a.metadata.recursion_available && a.metadata.recursion_desired);
        let aaaa = answered(&r, "web.", RecordType::AAAA);
        assert_eq!(addrs(&aaaa), vec!["fd00::2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn a_name_known_with_the_other_family_only_is_noerror_without_records() {
        let r = resolver(vec!["192.0.2.1:53".parse().unwrap()]);
        for (name, kind) in [("db", RecordType::AAAA), ("v6only", RecordType::A), ("db", RecordType::MX)] {
            let m = answered(&r, name, kind);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name} {kind}");
            assert!(m.answers.is_empty(), "{name} {kind}");
        }
    }

    #[test]
    fn names_are_case_insensitive_and_the_answer_keeps_the_question_s_case() {
        let r = resolver(vec![]);
        let m = answered(&r, "WeB", RecordType::A);
        assert_eq!(addrs(&m), vec!["172.20.0.2".parse::<IpAddr>().unwrap()]);
        assert!(m.answers[0].name.eq_case(&Name::from_str("WeB").unwrap()));
        assert!(m.queries[0].name().eq_case(&Name::from_str("WeB").unwrap()));
    }

    #[test]
    fn ptr_of_a_container_address_names_it_in_both_families() {
        let r = resolver(vec![]);
        let m = answered(&r, "3.0.20.172.IN-ADDR.ARPA.", RecordType::PTR);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::PTR(PTR(Name::from_str("db.app.").unwrap())));
        let v6 = "4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
        let m = answered(&r, v6, RecordType::PTR);
        assert_eq!(m.answers[0].data, RData::PTR(PTR(Name::from_str("v6only.app.").unwrap())));
    }

    #[test]
    fn unknown_names_and_addresses_are_forwarded_or_servfail_without_upstream() {
        let with = resolver(vec!["192.0.2.1:53".parse().unwrap()]);
        for (name, kind) in [("example.com", RecordType::A), ("9.9.9.9.in-addr.arpa.", RecordType::PTR), ("0.20.172.in-addr.arpa.", RecordType::PTR)]
        {
            assert!(matches!(with.decide(&query(name, kind)), Decision::Forward), "{name}");
        }
        let without = resolver(vec![]);
        assert_eq!(answered(&without, "example.com", RecordType::A).metadata.response_code, ResponseCode::ServFail);
    }

    #[test]
    fn other_opcodes_are_notimp_and_several_questions_formerr() {
        let r = resolver(vec![]);
        let mut notify = query("web", RecordType::A);
        notify.metadata.op_code = OpCode::Notify;
        let Decision::Reply(m) = r.decide(&notify) else { panic!("no reply") };
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
        let mut two = query("web", RecordType::A);
        two.add_query(Query::query(Name::from_str("db").unwrap(), RecordType::A));
        let Decision::Reply(m) = r.decide(&two) else { panic!("no reply") };
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    }

    #[test]
    fn garbage_and_responses_are_not_queries() {
        assert!(parse_query(&[]).is_none());
        assert!(parse_query(&[0xff; 11]).is_none());
        assert!(parse_query(&[0; 512]).is_none(), "a header without a question, then zeros");
        let mut resp = query("web", RecordType::A);
        resp.metadata.message_type = MessageType::Response;
        assert!(parse_query(&resp.to_vec().unwrap()).is_none());
        // Every prefix and every single-byte corruption of a real query parses or is refused
        // without a panic.
        let good = query("web.example", RecordType::A).to_vec().unwrap();
        for cut in 0..good.len() {
            let _ = parse_query(&good[..cut]);
        }
        for i in 0..good.len() {
            for b in [0x00, 0x3f, 0xc0, 0xff] {
                let mut bad = good.clone();
                bad[i] = b;
                if let Some(req) = parse_query(&bad) {
                    let _ = resolver(vec![]).decide(&req);
                }
            }
        }
    }

    #[test]
    fn a_local_answer_too_big_for_a_datagram_is_cut_and_marked_truncated() {
        let req = query("many", RecordType::A);
        let mut resp = reply(&req, ResponseCode::NoError);
        for i in 0..100u8 {
            resp.add_answer(Record::from_rdata(Name::from_str("many").unwrap(), TTL, RData::A(A(Ipv4Addr::new(10, 0, 0, i)))));
        }
        let bytes = encode_local_udp(resp, UDP_CLASSIC).unwrap();
        assert!(bytes.len() <= UDP_CLASSIC);
        let back = Message::from_vec(&bytes).unwrap();
        assert!(back.metadata.truncation);
        assert!(!back.answers.is_empty() && back.answers.len() < 100);
    }

    #[test]
    fn edns_clients_get_their_payload_size_and_an_opt_record() {
        let mut req = query("web", RecordType::A);
        assert_eq!(udp_limit(&req), 512);
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        req.set_edns(edns);
        assert_eq!(udp_limit(&req), 4096);
        assert!(reply(&req, ResponseCode::NoError).edns.is_some());
    }

    #[test]
    fn resolv_conf_gives_at_most_three_distinct_servers_on_port_53_keeping_loopback() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.53\n;nameserver 10.0.0.9\nnameserver   192.0.2.1  # office\n\
                    nameserver 127.0.0.53\nnameserver fe80::1%1\nnameserver bogus\nnameserver 0.0.0.0\nnameserver 2001:db8::1\n";
        let got = upstream_from_resolv_conf(text);
        let want: Vec<SocketAddr> = vec![
            "127.0.0.53:53".parse().unwrap(),
            "192.0.2.1:53".parse().unwrap(),
            SocketAddr::V6(std::net::SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 1)),
        ];
        assert_eq!(got, want);
        assert_eq!(upstream_from_resolv_conf("nameserver ::1\nnameserver fe80::1%no-such-if0\n"), vec!["[::1]:53".parse().unwrap()]);
        assert!(upstream_from_resolv_conf("").is_empty());
    }

    #[test]
    fn spawn_outside_a_runtime_is_an_error_not_a_panic() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let got = DnsServer::spawn(udp, tcp, Arc::new(Fixed(HashMap::new())), vec![]);
        assert!(matches!(got, Err(DnsError::NoRuntime)));
    }
}
