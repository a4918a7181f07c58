//! The embedded DNS server (issue 15, service discovery), run in-process on loopback sockets
//! and asked by busybox's nslookup and by raw DNS messages: A, AAAA and PTR for containers'
//! names and aliases, any case; other names forwarded to an upstream (a fake one on loopback:
//! nothing leaves the host), over TCP when the UDP answer is truncated; SERVFAIL when upstream
//! is dead, silent or absent; TCP clients; malformed packets neither answered nor fatal.
//! Nothing here changes the host's network configuration, so no namespace is needed.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::net::dns::{DnsServer, Names, TTL};
use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// How long a client waits for any answer before the test fails (the server's own forwarding
/// timeout is 4 s).
const PATIENCE: Duration = Duration::from_secs(15);

/// The names of one container on network `app`: `web` (alias `www`, v4 and v6), `db` (v4 only).
struct AppNetwork(HashMap<String, Vec<IpAddr>>);

impl AppNetwork {
    fn names() -> Arc<dyn Names> {
        let web: Vec<IpAddr> = vec!["172.20.0.2".parse().unwrap(), "fd00:20::2".parse().unwrap()];
        let db: Vec<IpAddr> = vec!["172.20.0.3".parse().unwrap()];
        let mut names = HashMap::new();
        for n in ["web", "www", "web.app", "www.app", "0123456789ab"] {
            names.insert(n.to_owned(), web.clone());
        }
        for n in ["db", "db.app"] {
            names.insert(n.to_owned(), db.clone());
        }
        Arc::new(AppNetwork(names))
    }
}

impl Names for AppNetwork {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        assert_eq!(name, name.to_lowercase(), "lookup gets lowercase names");
        assert!(!name.ends_with('.'), "lookup gets names without the trailing dot");
        self.0.get(name).cloned().unwrap_or_default()
    }
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        let web: IpAddr = "172.20.0.2".parse().unwrap();
        let db: IpAddr = "172.20.0.3".parse().unwrap();
        (ip == web).then(|| "web.app".to_owned()).or_else(|| (ip == db).then(|| "db.app".to_owned()))
    }
}

/// A server on fresh loopback sockets.
fn start(upstream: Vec<SocketAddr>) -> DnsServer {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    DnsServer::spawn(udp, tcp, AppNetwork::names(), upstream).expect("spawn")
}

/// A fake upstream resolver on loopback (UDP and TCP on one port): `example.test` is
/// 192.0.2.7, `big.test` has 100 addresses and is truncated over UDP, anything else NXDOMAIN.
/// It counts the queries it gets on each transport.
struct Upstream {
    addr: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn upstream_answer(req: &Message, over_tcp: bool) -> Message {
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_available = true;
    resp.add_queries(req.queries.iter().cloned());
    let q = &req.queries[0];
    let name = q.name().to_lowercase().to_ascii();
    match name.as_str() {
        "example.test." => {
            resp.add_answer(Record::from_rdata(q.name().clone(), 30, RData::A(A(Ipv4Addr::new(192, 0, 2, 7)))));
        }
        "big.test." if over_tcp => {
            for i in 0..100u8 {
                resp.add_answer(Record::from_rdata(q.name().clone(), 30, RData::A(A(Ipv4Addr::new(198, 51, 100, i)))));
            }
        }
        "big.test." => resp.metadata.truncation = true,
        _ => resp.metadata.response_code = ResponseCode::NXDomain,
    }
    resp
}

async fn fake_upstream() -> Upstream {
    // The TCP listener takes the UDP socket's port; another process may hold that port for
    // TCP, so try a few.
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("upstream udp");
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    let (udp_queries, tcp_queries) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = udp_queries.clone();
    let udp_task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((len, peer)) = udp.recv_from(&mut buf).await {
            let req = Message::from_vec(&buf[..len]).expect("the server forwards well-formed queries");
            counted.fetch_add(1, Ordering::SeqCst);
            udp.send_to(&upstream_answer(&req, false).to_vec().unwrap(), peer).await.unwrap();
        }
    });
    let counted = tcp_queries.clone();
    let tcp_task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                while let Ok(len) = stream.read_u16().await {
                    let mut buf = vec![0u8; usize::from(len)];
                    stream.read_exact(&mut buf).await.unwrap();
                    let req = Message::from_vec(&buf).expect("the server forwards well-formed queries");
                    counted.fetch_add(1, Ordering::SeqCst);
                    let answer = upstream_answer(&req, true).to_vec().unwrap();
                    stream.write_all(&(answer.len() as u16).to_be_bytes()).await.unwrap();
                    stream.write_all(&answer).await.unwrap();
                }
            });
        }
    });
    Upstream { addr, udp_queries, tcp_queries, tasks: vec![udp_task, tcp_task] }
}

fn question(name: &str, kind: RecordType) -> Message {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_str(name).unwrap(), kind));
    msg
}

/// Sends `msg` over UDP and returns the answer with its id.
async fn udp_exchange(server: SocketAddr, msg: &Message) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&msg.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    loop {
        let (len, _) = tokio::time::timeout(PATIENCE, sock.recv_from(&mut buf)).await.expect("an answer in time").unwrap();
        let resp = Message::from_vec(&buf[..len]).expect("a well-formed answer");
        if resp.metadata.id == msg.metadata.id {
            assert_eq!(resp.metadata.message_type, MessageType::Response);
            return resp;
        }
    }
}

async fn udp_ask(server: SocketAddr, name: &str, kind: RecordType) -> Message {
    udp_exchange(server, &question(name, kind)).await
}

/// Sends `msg` on a TCP connection and reads one answer.
async fn tcp_exchange(stream: &mut TcpStream, msg: &Message) -> Message {
    let bytes = msg.to_vec().unwrap();
    stream.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let answer = async {
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        buf
    };
    let buf = tokio::time::timeout(PATIENCE, answer).await.expect("an answer in time");
    let resp = Message::from_vec(&buf).expect("a well-formed answer");
    assert_eq!(resp.metadata.id, msg.metadata.id);
    resp
}

fn addrs(m: &Message) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = m.answers.iter().filter_map(|r| r.data.ip_addr()).collect();
    v.sort();
    v
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// busybox nslookup's output for `args` asked of `server` (it takes `host:port`).
async fn nslookup(server: SocketAddr, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        PATIENCE,
        tokio::process::Command::new(common::busybox()).arg("nslookup").args(args).arg(server.to_string()).kill_on_drop(true).output(),
    )
    .await
    .expect("nslookup in time")
    .expect("run busybox nslookup");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("nslookup {args:?}:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_nslookup_finds_a_container_by_name_alias_and_id_with_both_families() {
    let server = start(vec![]);
    for name in ["web", "www", "web.app", "0123456789ab"] {
        let out = nslookup(server.udp_addr(), &[name]).await;
        assert!(out.contains("Address: 172.20.0.2"), "{name}: {out}");
        assert!(out.contains("Address: fd00:20::2"), "{name}: {out}");
    }
    let out = nslookup(server.udp_addr(), &["-type=a", "db"]).await;
    assert!(out.contains("Address: 172.20.0.3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_nslookup_reverse_lookup_of_a_container_address_gives_name_dot_network() {
    let server = start(vec![]);
    let out = nslookup(server.udp_addr(), &["172.20.0.3"]).await;
    assert!(out.contains("name = db.app"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_and_aaaa_answers_carry_ttl_600_and_a_v4_only_name_has_an_empty_noerror_aaaa() {
    let server = start(vec![]);
    let a = udp_ask(server.udp_addr(), "db", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addrs(&a), vec![ip("172.20.0.3")]);
    assert!(a.answers.iter().all(|r| r.ttl == TTL && r.record_type() == RecordType::A));
    assert_eq!(TTL, 600);
    assert!(a.metadata.recursion_available);
    let aaaa = udp_ask(server.udp_addr(), "db", RecordType::AAAA).await;
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError, "a known name is not NXDOMAIN for the other family");
    assert!(aaaa.answers.is_empty());
    let out = nslookup(server.udp_addr(), &["-type=aaaa", "db"]).await;
    // busybox prints an empty answer for NOERROR without records, "can't find" for NXDOMAIN.
    assert!(out.contains("Non-authoritative answer") && !out.contains("can't find") && !out.contains("Address: 172"), "{out}");
    let v6 = udp_ask(server.udp_addr(), "web", RecordType::AAAA).await;
    assert_eq!(addrs(&v6), vec![ip("fd00:20::2")]);
    let ptr = udp_ask(server.udp_addr(), "2.0.20.172.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.answers.len(), 1);
    assert_eq!(ptr.answers[0].data, RData::PTR(PTR(Name::from_str("web.app.").unwrap())));
    assert_eq!(ptr.answers[0].ttl, 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_case_insensitive() {
    let server = start(vec![]);
    for name in ["WEB", "Www.App.", "wEb.aPp"] {
        let a = udp_ask(server.udp_addr(), name, RecordType::A).await;
        assert_eq!(addrs(&a), vec![ip("172.20.0.2")], "{name}");
        let asked = Name::from_str(name).unwrap().append_domain(&Name::root()).unwrap();
        assert!(a.queries[0].name().eq_case(&asked), "the question comes back as asked: {}", a.queries[0].name());
    }
    let out = nslookup(server.udp_addr(), &["-type=a", "DB.APP"]).await;
    assert!(out.contains("Address: 172.20.0.3"), "{out}");
    let ptr = udp_ask(server.udp_addr(), "3.0.20.172.IN-ADDR.ARPA.", RecordType::PTR).await;
    assert_eq!(ptr.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_names_are_forwarded_to_the_upstream_and_its_answer_passed_on() {
    let up = fake_upstream().await;
    let server = start(vec![up.addr]);
    let out = nslookup(server.udp_addr(), &["-type=a", "example.test"]).await;
    assert!(out.contains("Address: 192.0.2.7"), "{out}");
    let a = udp_ask(server.udp_addr(), "Example.Test", RecordType::A).await;
    assert_eq!(addrs(&a), vec![ip("192.0.2.7")]);
    assert_eq!(a.answers[0].ttl, 30, "the upstream's answer is passed on as it is");
    let nx = udp_ask(server.udp_addr(), "missing.test", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    // A PTR of an address that is no container's goes upstream too.
    let ptr = udp_ask(server.udp_addr(), "9.9.9.9.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.metadata.response_code, ResponseCode::NXDomain);
    assert!(up.udp_queries.load(Ordering::SeqCst) >= 4);
    assert_eq!(up.tcp_queries.load(Ordering::SeqCst), 0);
    // Container names are never asked upstream.
    let before = up.udp_queries.load(Ordering::SeqCst);
    udp_ask(server.udp_addr(), "web", RecordType::A).await;
    udp_ask(server.udp_addr(), "db", RecordType::AAAA).await;
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_upstream_answer_is_fetched_again_over_tcp() {
    let up = fake_upstream().await;
    let server = start(vec![up.addr]);
    // A client taking big datagrams gets the whole answer the upstream gave over TCP.
    let mut big = question("big.test", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    big.set_edns(edns);
    let full = udp_exchange(server.udp_addr(), &big).await;
    assert_eq!(full.answers.len(), 100);
    assert!(!full.metadata.truncation);
    assert_eq!(up.tcp_queries.load(Ordering::SeqCst), 1);
    // A classic client (512 bytes) is told to come back over TCP, and gets it all there.
    let cut = udp_ask(server.udp_addr(), "big.test", RecordType::A).await;
    assert!(cut.metadata.truncation);
    let mut stream = TcpStream::connect(server.tcp_addr()).await.unwrap();
    let over_tcp = tcp_exchange(&mut stream, &question("big.test", RecordType::A)).await;
    assert_eq!(over_tcp.answers.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_clients_get_local_and_forwarded_answers_on_one_connection_forwarded_over_tcp() {
    let up = fake_upstream().await;
    let server = start(vec![up.addr]);
    let mut stream = TcpStream::connect(server.tcp_addr()).await.unwrap();
    let a = tcp_exchange(&mut stream, &question("www", RecordType::A)).await;
    assert_eq!(addrs(&a), vec![ip("172.20.0.2")]);
    assert_eq!(a.answers[0].ttl, 600);
    let fwd = tcp_exchange(&mut stream, &question("example.test", RecordType::A)).await;
    assert_eq!(addrs(&fwd), vec![ip("192.0.2.7")]);
    assert_eq!((up.udp_queries.load(Ordering::SeqCst), up.tcp_queries.load(Ordering::SeqCst)), (0, 1));
    let ptr = tcp_exchange(&mut stream, &question("2.0.20.172.in-addr.arpa.", RecordType::PTR)).await;
    assert_eq!(ptr.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_gives_servfail_over_udp_and_tcp() {
    // A loopback port nobody listens on: refused at once.
    let dead = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let server = start(vec![dead]);
    let r = udp_ask(server.udp_addr(), "example.test", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    let mut stream = TcpStream::connect(server.tcp_addr()).await.unwrap();
    let r = tcp_exchange(&mut stream, &question("example.test", RecordType::A)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    let out = nslookup(server.udp_addr(), &["-type=a", "example.test"]).await;
    assert!(out.contains("SERVFAIL"), "{out}");
    // Container names still resolve.
    let a = udp_ask(server.udp_addr(), "web", RecordType::A).await;
    assert_eq!(addrs(&a), vec![ip("172.20.0.2")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_gives_servfail_after_the_forwarding_timeout() {
    // Bound, so nothing refuses the query, but never answering.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = start(vec![silent.local_addr().unwrap()]);
    let t0 = Instant::now();
    let r = udp_ask(server.udp_addr(), "example.test", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(t0.elapsed() >= Duration::from_secs(3), "answered after {:?}", t0.elapsed());
    let mut buf = [0u8; 512];
    silent.set_nonblocking(true).unwrap();
    assert!(silent.recv(&mut buf).is_ok(), "the query did reach the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_upstream_other_names_get_servfail() {
    let server = start(vec![]);
    let r = udp_ask(server.udp_addr(), "example.test", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(r.queries[0].name(), &Name::from_str("example.test.").unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_get_no_answer_and_do_not_stop_the_server() {
    let server = start(vec![]);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut junk: Vec<Vec<u8>> = vec![vec![], vec![0xff; 3], vec![0xab; 12], vec![0x00; 512], (0..=255u8).collect()];
    // A header announcing a question that is not there, and a name pointing at itself.
    junk.push(vec![0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    junk.push(vec![0x12, 0x35, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
    // A response sent to the server is not answered (no reflection).
    let mut response = question("web", RecordType::A);
    response.metadata.message_type = MessageType::Response;
    junk.push(response.to_vec().unwrap());
    for j in &junk {
        sock.send_to(j, server.udp_addr()).await.unwrap();
    }
    // The first datagram back is the answer to the real query sent after the junk.
    let real = question("web", RecordType::A);
    sock.send_to(&real.to_vec().unwrap(), server.udp_addr()).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(PATIENCE, sock.recv_from(&mut buf)).await.expect("an answer").unwrap();
    let resp = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(resp.metadata.id, real.metadata.id, "junk was answered");
    assert_eq!(addrs(&resp), vec![ip("172.20.0.2")]);
    // Junk over TCP closes that connection; the server goes on.
    let mut bad = TcpStream::connect(server.tcp_addr()).await.unwrap();
    bad.write_all(&[0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(PATIENCE, bad.read_to_end(&mut rest)).await.expect("closed in time");
    assert!(matches!(n, Ok(0)) || n.is_err(), "junk over TCP got {rest:?}");
    let mut good = TcpStream::connect(server.tcp_addr()).await.unwrap();
    let a = tcp_exchange(&mut good, &question("db", RecordType::A)).await;
    assert_eq!(addrs(&a), vec![ip("172.20.0.3")]);
    let out = nslookup(server.udp_addr(), &["-type=a", "web"]).await;
    assert!(out.contains("Address: 172.20.0.2"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_the_sockets() {
    let server = start(vec![]);
    let (udp, tcp) = (server.udp_addr(), server.tcp_addr());
    udp_ask(udp, "web", RecordType::A).await;
    server.stop();
    // The runtime drops the cancelled tasks, and with them the sockets, promptly but not
    // within stop(): wait until both ports can be bound again.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let freed = std::net::UdpSocket::bind(udp).is_ok() && TcpStream::connect(tcp).await.is_err();
        if freed {
            break;
        }
        assert!(Instant::now() < deadline, "the server's sockets are still open after stop()");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
