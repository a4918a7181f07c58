//! The userland port proxy (docker-proxy's role): one `berth-proxy` process per published
//! port, listening on the host address and copying to the container. It serves what DNAT
//! cannot (loopback, and a container reaching its own published port), and lives outside
//! berthd so that in modular mode published ports keep answering while berthd is dead.
//!
//! Flags are docker-proxy's (`-proto tcp|udp -host-ip IP -host-port N -container-ip IP
//! -container-port N`) plus `-ready-fd N`: the proxy writes "0\n" there once it listens, or
//! "1\n<message>" when it cannot, and closes it (docker-proxy's protocol on its fd 3).

use super::firewall::Proto;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// argv[0] of the proxy role.
pub const PROXY_NAME: &str = "berth-proxy";
/// How long a UDP flow lives without traffic (Docker's UDPConnTrackTimeout).
pub const UDP_IDLE: Duration = Duration::from_secs(90);
/// How long `spawn` waits for the proxy to report (docker-proxy's 16 s).
const READY_TIMEOUT: Duration = Duration::from_secs(16);
/// The fd number the readiness pipe gets in the proxy.
const READY_FD: RawFd = 3;
/// Docker's range when /proc/sys/net/ipv4/ip_local_port_range cannot be read.
const DEFAULT_PORT_RANGE: (u16, u16) = (49153, 65535);
const BUF: usize = 64 * 1024;

/// A failure of the proxy or of starting, stopping or finding one.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Bad command-line flags of `berth-proxy`.
    #[error("berth-proxy: {0}")]
    Usage(String),
    /// The proxy could not listen (its own message, e.g. "listen tcp 127.0.0.1:8080: address already in use").
    #[error("{0}")]
    Listen(String),
    /// The proxy process could not be started or did not report.
    #[error("starting port proxy: {0}")]
    Start(String),
    /// Stopping a proxy failed.
    #[error("stopping port proxy {pid}: {detail}")]
    Stop { pid: u32, detail: String },
    /// No free host port in the range.
    #[error("no free {proto} port on {host_ip} in range {lo}-{hi}")]
    NoFreePort { proto: Proto, host_ip: IpAddr, lo: u16, hi: u16 },
    /// An I/O failure while proxying.
    #[error("berth-proxy: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// What one proxy forwards: host (ip, port) to container (ip, port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxySpec {
    pub proto: Proto,
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

impl ProxySpec {
    /// The flags that run this proxy (docker-proxy's spelling).
    pub fn args(&self) -> Vec<String> {
        vec![
            "-proto".into(),
            self.proto.to_string(),
            "-host-ip".into(),
            self.host_ip.to_string(),
            "-host-port".into(),
            self.host_port.to_string(),
            "-container-ip".into(),
            self.container_ip.to_string(),
            "-container-port".into(),
            self.container_port.to_string(),
        ]
    }

    fn host(&self) -> SocketAddr {
        SocketAddr::new(self.host_ip, self.host_port)
    }

    fn container(&self) -> SocketAddr {
        SocketAddr::new(self.container_ip, self.container_port)
    }
}

/// Parsed `berth-proxy` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyArgs {
    pub spec: ProxySpec,
    /// Where to report readiness (`-ready-fd`), if anywhere.
    pub ready_fd: Option<RawFd>,
}

/// Parses `berth-proxy`'s flags (argv without argv[0]): `-flag value`, `--flag value`,
/// `-flag=value`; `-proto` defaults to tcp as docker-proxy's; the others are required.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<ProxyArgs, ProxyError> {
    let usage = |m: String| ProxyError::Usage(m);
    let (mut proto, mut host_ip, mut host_port, mut container_ip, mut container_port, mut ready_fd) = (Proto::Tcp, None, None, None, None, None);
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        let flag = a
            .strip_prefix("--")
            .or_else(|| a.strip_prefix('-'))
            .filter(|f| !f.is_empty() && !f.starts_with('-'))
            .ok_or_else(|| usage(format!("unexpected argument {a:?}")))?;
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, v),
            None => (flag, it.next().ok_or_else(|| usage(format!("flag -{flag} needs a value")))?),
        };
        let bad = |what: &str| usage(format!("invalid value {value:?} for flag -{name}: {what}"));
        match name {
            "proto" => proto = value.parse().map_err(|_| bad("want tcp or udp"))?,
            "host-ip" => host_ip = Some(value.parse::<IpAddr>().map_err(|_| bad("not an IP address"))?),
            "container-ip" => container_ip = Some(value.parse::<IpAddr>().map_err(|_| bad("not an IP address"))?),
            "host-port" => host_port = Some(value.parse::<u16>().map_err(|_| bad("not a port"))?),
            "container-port" => container_port = Some(value.parse::<u16>().map_err(|_| bad("not a port"))?),
            "ready-fd" => ready_fd = Some(value.parse::<RawFd>().ok().filter(|f| *f >= 0).ok_or_else(|| bad("not a file descriptor"))?),
            _ => return Err(usage(format!("unknown flag -{name}"))),
        }
    }
    let need = |what: &str| usage(format!("flag -{what} is required"));
    let spec = ProxySpec {
        proto,
        host_ip: host_ip.ok_or_else(|| need("host-ip"))?,
        host_port: host_port.ok_or_else(|| need("host-port"))?,
        container_ip: container_ip.ok_or_else(|| need("container-ip"))?,
        container_port: container_port.ok_or_else(|| need("container-port"))?,
    };
    Ok(ProxyArgs { spec, ready_fd })
}

/// Runs the proxy `berth` multicall `binary` for `spec` (argv[0] `berth-proxy`) in the
/// calling thread's network namespace, and returns its pid once it listens, or its error.
/// `die_with_parent`: SIGKILLed when the spawning process dies (monolithic mode); otherwise
/// in a session of its own, surviving its spawner (modular mode).
pub fn spawn(binary: &Path, spec: &ProxySpec, die_with_parent: bool) -> Result<u32, ProxyError> {
    let start = |what: &str, e: &dyn std::fmt::Display| ProxyError::Start(format!("{what}: {e}"));
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| start("pipe", &e))?;
    // The child joins the network namespace of the thread that called spawn (which may
    // differ from the spawner thread's, below).
    let netns = File::open("/proc/thread-self/ns/net").map_err(|e| start("/proc/thread-self/ns/net", &e))?;
    let mut cmd = Command::new(binary);
    cmd.arg0(PROXY_NAME).args(spec.args()).args(["-ready-fd", &READY_FD.to_string()]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let (wfd, nsfd) = (w.as_raw_fd(), netns.as_raw_fd());
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (dup2, fcntl, setns, prctl, getppid, setsid, _exit);
    // it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if wfd == READY_FD {
                if libc::fcntl(wfd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(wfd, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setns(nsfd, libc::CLONE_NEWNET) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if die_with_parent {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before prctl: no signal will come.
                if libc::getppid() != parent.as_raw() {
                    libc::_exit(1);
                }
            } else if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = if die_with_parent { spawn_on_lasting_thread(cmd) } else { cmd.spawn() };
    drop(w);
    drop(netns);
    let mut child = child.map_err(|e| start(&binary.display().to_string(), &e))?;
    let pid = child.id();
    let fail = |child: &mut std::process::Child, e: ProxyError| {
        let _ = child.kill();
        let _ = child.wait();
        Err(e)
    };
    let report = match read_report(r, READY_TIMEOUT) {
        Ok(rep) => rep,
        Err(e) => return fail(&mut child, start("waiting for the proxy", &e)),
    };
    match report.split_once('\n') {
        Some(("0", _)) => Ok(pid),
        Some(("1", msg)) => fail(&mut child, ProxyError::Listen(msg.trim().to_owned())),
        _ => {
            let _ = child.kill();
            let st = child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            Err(ProxyError::Start(format!("proxy for {} exited before it was ready ({st})", spec.host())))
        }
    }
}

/// Reads the readiness report until EOF or the deadline.
fn read_report(r: OwnedFd, timeout: Duration) -> std::io::Result<String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + timeout;
    let mut f = File::from(r);
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no report within {}s", timeout.as_secs())));
        }
        let ms = PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(&f), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let mut buf = [0u8; 4096];
        match f.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

type SpawnJob = (Command, mpsc::Sender<std::io::Result<std::process::Child>>);

/// Spawns `cmd` from one thread that lives as long as the process: PR_SET_PDEATHSIG fires
/// when the *thread* that forked exits, and the caller may be a short-lived pool thread.
fn spawn_on_lasting_thread(cmd: Command) -> std::io::Result<std::process::Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        let _ = std::thread::Builder::new().name("proxy-spawner".into()).spawn(move || {
            for (mut cmd, reply) in rx {
                let _ = reply.send(cmd.spawn());
            }
        });
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::channel();
    let gone = || std::io::Error::other("proxy spawner thread is gone");
    tx.lock().map_err(|_| gone())?.send((cmd, rtx)).map_err(|_| gone())?;
    rrx.recv().map_err(|_| gone())?
}

/// The argv of `pid` when it is a live `berth-proxy`.
fn proxy_argv(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv: Vec<String> = raw.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let base = Path::new(argv.first()?).file_name()?.to_str()?;
    (base == PROXY_NAME).then_some(argv)
}

/// Whether `pid` is alive and is the proxy for `spec` (reconcile after a daemon restart).
pub fn is_proxy(pid: u32, spec: &ProxySpec) -> bool {
    proxy_argv(pid).and_then(|argv| parse_args(&argv[1..]).ok()).is_some_and(|a| a.spec == *spec)
}

/// Stops the proxy `pid` (SIGTERM, then SIGKILL after 2 s) and reaps it when it is a child
/// of this process. A pid that is not (or no longer) a berth-proxy is left alone.
pub fn stop(pid: u32) -> Result<(), ProxyError> {
    let p = Pid::from_raw(i32::try_from(pid).map_err(|_| ProxyError::Stop { pid, detail: "pid out of range".into() })?);
    // A child of ours that already exited: reap it (its cmdline is empty now).
    if matches!(waitpid(p, Some(WaitPidFlag::WNOHANG)), Ok(ws) if ws != WaitStatus::StillAlive) {
        return Ok(());
    }
    if proxy_argv(pid).is_none() {
        return Ok(());
    }
    match kill(p, Signal::SIGTERM) {
        Err(Errno::ESRCH) => return Ok(()),
        Err(e) => return Err(ProxyError::Stop { pid, detail: format!("SIGTERM: {e}") }),
        Ok(()) => {}
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if gone(p) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    match kill(p, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => return Err(ProxyError::Stop { pid, detail: format!("SIGKILL: {e}") }),
    }
    let _ = waitpid(p, None);
    Ok(())
}

/// Reaps `p` if it is our exited child; true when it no longer runs.
fn gone(p: Pid) -> bool {
    match waitpid(p, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => false,
        Ok(_) => true,
        // Not our child: look at /proc (a zombie counts as gone).
        Err(_) => match std::fs::read_to_string(format!("/proc/{p}/stat")) {
            Ok(s) => s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
            Err(_) => true,
        },
    }
}

/// A free host port for `proto` on `host_ip`, from the kernel's ephemeral range
/// (/proc/sys/net/ipv4/ip_local_port_range, else Docker's 49153-65535), found by binding it.
/// Successive calls walk the range from where the last one stopped, as Docker's allocator.
pub fn ephemeral_port(proto: Proto, host_ip: IpAddr) -> Result<u16, ProxyError> {
    let (lo, hi) =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok().and_then(|s| parse_port_range(&s)).unwrap_or(DEFAULT_PORT_RANGE);
    static NEXT: Mutex<Option<u32>> = Mutex::new(None);
    let span = u32::from(hi - lo) + 1;
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    let start = next.unwrap_or_else(rand::random::<u32>) % span;
    for i in 0..span {
        let off = (start + i) % span;
        let port = lo + off as u16;
        let addr = SocketAddr::new(host_ip, port);
        let free = match proto {
            Proto::Tcp => std::net::TcpListener::bind(addr).is_ok(),
            Proto::Udp => std::net::UdpSocket::bind(addr).is_ok(),
        };
        if free {
            *next = Some(off + 1);
            return Ok(port);
        }
    }
    Err(ProxyError::NoFreePort { proto, host_ip, lo, hi })
}

/// "32768\t60999\n" → (32768, 60999); None when malformed or empty.
pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let mut it = s.split_whitespace();
    let lo: u16 = it.next()?.parse().ok()?;
    let hi: u16 = it.next()?.parse().ok()?;
    (it.next().is_none() && lo > 0 && lo <= hi).then_some((lo, hi))
}

/// The proxy itself: listens, reports on `ready_fd`, serves until killed.
pub fn run(args: &ProxyArgs) -> Result<(), ProxyError> {
    let ready = args.ready_fd.and_then(|fd| {
        // SAFETY: F_GETFD only reads the fd's flags; a closed fd makes it fail with EBADF.
        (unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0).then(|| {
            // SAFETY: the fd is open and was passed to us (-ready-fd) for this report only.
            unsafe { File::from_raw_fd(fd) }
        })
    });
    let spec = args.spec;
    let bound = bind(&spec);
    if let Some(mut f) = ready {
        let msg = match &bound {
            Ok(_) => "0\n".to_owned(),
            Err(e) => format!("1\n{e}"),
        };
        let _ = f.write_all(msg.as_bytes());
    }
    let fd = bound?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ProxyError::Io { what: "starting runtime".into(), source })?;
    rt.block_on(async move {
        match spec.proto {
            Proto::Tcp => serve_tcp(fd, spec.container()).await,
            Proto::Udp => serve_udp(fd, spec.container()).await,
        }
    })
}

/// The listening (TCP) or bound (UDP) socket, or Go's style of message
/// ("listen tcp 127.0.0.1:8080: address already in use").
fn bind(spec: &ProxySpec) -> Result<OwnedFd, ProxyError> {
    let host = spec.host();
    let err = |e: Errno| {
        let d = e.desc();
        let mut m = d.chars();
        let d = m.next().map(|c| c.to_lowercase().chain(m).collect::<String>()).unwrap_or_default();
        ProxyError::Listen(format!("listen {} {host}: {d}", spec.proto))
    };
    let fam = if host.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let ty = match spec.proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = socket::socket(fam, ty, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None).map_err(err)?;
    if spec.proto == Proto::Tcp {
        socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(err)?;
    }
    if !host.is_ipv4() {
        // "::" means IPv6 only; IPv4 is published separately, as Docker does.
        let one: libc::c_int = 1;
        // SAFETY: fd is an open socket; the option value is a live c_int of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Errno::result(rc).map_err(err)?;
    }
    bind_raw(&fd, host).map_err(err)?;
    if spec.proto == Proto::Tcp {
        socket::listen(&fd, socket::Backlog::MAXCONN).map_err(err)?;
    }
    Ok(fd)
}

/// bind(2) of `fd` to `addr` (nix's socket-address types need its "net" feature).
fn bind_raw(fd: &OwnedFd, addr: SocketAddr) -> Result<(), Errno> {
    let rc = match addr {
        SocketAddr::V4(a) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sa is a valid sockaddr_in and the length is its size.
            unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), std::mem::size_of_val(&sa) as libc::socklen_t) }
        }
        SocketAddr::V6(a) => {
            let sa = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sa is a valid sockaddr_in6 and the length is its size.
            unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_in6).cast(), std::mem::size_of_val(&sa) as libc::socklen_t) }
        }
    };
    Errno::result(rc).map(drop)
}

async fn serve_tcp(fd: OwnedFd, container: SocketAddr) -> Result<(), ProxyError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| ProxyError::Io { what, source }
    };
    let l = tokio::net::TcpListener::from_std(std::net::TcpListener::from(fd)).map_err(io("listener"))?;
    loop {
        let (mut client, _) = match l.accept().await {
            Ok(c) => c,
            // Out of fds or a connection reset before accept: keep serving the others.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let Ok(mut backend) = tokio::net::TcpStream::connect(container).await else {
                return;
            };
            // Each direction ends with a shutdown(SHUT_WR) of the other side: half-close
            // passes through.
            let _ = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut backend, BUF, BUF).await;
        });
    }
}

/// One client's UDP flow: a socket connected to the container, and when it last carried
/// a datagram either way.
struct Flow {
    sock: tokio::net::UdpSocket,
    seen: Mutex<Instant>,
}

impl Flow {
    fn touch(&self) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
    fn idle(&self) -> Duration {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Arc<Flow>>>>;

async fn serve_udp(fd: OwnedFd, container: SocketAddr) -> Result<(), ProxyError> {
    let host =
        Arc::new(tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd)).map_err(|source| ProxyError::Io { what: "socket".into(), source })?);
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; BUF];
    loop {
        let (n, client) = match host.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => continue,
        };
        let existing = flows.lock().unwrap_or_else(|e| e.into_inner()).get(&client).cloned();
        let flow = match existing {
            Some(f) => f,
            None => {
                let local: SocketAddr =
                    if container.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
                let Ok(sock) = tokio::net::UdpSocket::bind(local).await else { continue };
                if sock.connect(container).await.is_err() {
                    continue;
                }
                let f = Arc::new(Flow { sock, seen: Mutex::new(Instant::now()) });
                flows.lock().unwrap_or_else(|e| e.into_inner()).insert(client, f.clone());
                tokio::spawn(udp_replies(f.clone(), host.clone(), client, flows.clone()));
                f
            }
        };
        // Activity from the client keeps the flow alive too.
        flow.touch();
        let _ = flow.sock.send(&buf[..n]).await;
    }
}

/// Copies the container's datagrams back to `client` from the host socket, until the flow
/// has been idle for UDP_IDLE in both directions.
async fn udp_replies(flow: Arc<Flow>, host: Arc<tokio::net::UdpSocket>, client: SocketAddr, flows: Flows) {
    let mut buf = vec![0u8; BUF];
    loop {
        let left = UDP_IDLE.saturating_sub(flow.idle());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, flow.sock.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                flow.touch();
                let _ = host.send_to(&buf[..n], client).await;
            }
            // ICMP unreachable from the container: keep the flow for its next datagram.
            Ok(Err(_)) => {}
            // Re-check the idle time: the client may have sent meanwhile.
            Err(_) => {}
        }
    }
    flows.lock().unwrap_or_else(|e| e.into_inner()).remove(&client);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ProxySpec {
        ProxySpec {
            proto: Proto::Udp,
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 8080,
            container_ip: "fd00::2".parse().unwrap(),
            container_port: 80,
        }
    }

    #[test]
    fn args_round_trip_through_parse() {
        let s = spec();
        let a = parse_args(&s.args()).unwrap();
        assert_eq!(a, ProxyArgs { spec: s, ready_fd: None });
    }

    #[test]
    fn parse_accepts_docker_proxy_spellings() {
        let a = parse_args(&[
            "--proto=udp",
            "-host-ip=127.0.0.1",
            "--host-port",
            "8080",
            "-container-ip",
            "fd00::2",
            "-container-port=80",
            "-ready-fd",
            "3",
        ])
        .unwrap();
        assert_eq!(a.spec, spec());
        assert_eq!(a.ready_fd, Some(3));
        // -proto defaults to tcp as docker-proxy's.
        let a = parse_args(&["-host-ip", "0.0.0.0", "-host-port", "1", "-container-ip", "10.0.0.2", "-container-port", "2"]).unwrap();
        assert_eq!(a.spec.proto, Proto::Tcp);
    }

    #[test]
    fn parse_refuses_bad_flags_naming_them() {
        let base = ["-host-ip", "0.0.0.0", "-host-port", "1", "-container-ip", "10.0.0.2", "-container-port", "2"];
        let err = |extra: &[&str]| parse_args(&[&base[..], extra].concat()).unwrap_err().to_string();
        assert!(err(&["-proto", "sctp"]).contains("-proto"));
        assert!(err(&["-bogus", "1"]).contains("unknown flag -bogus"));
        assert!(err(&["-proto"]).contains("needs a value"));
        assert!(err(&["stray"]).contains("unexpected argument"));
        assert!(parse_args(&["-host-port", "70000"]).unwrap_err().to_string().contains("-host-port"));
        assert!(parse_args(&["-host-ip", "0.0.0.0"]).unwrap_err().to_string().contains("-host-port is required"));
        assert!(err(&["-ready-fd", "-1"]).contains("-ready-fd"));
    }

    #[test]
    fn port_range_parses_like_the_proc_file() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("1024 1024"), Some((1024, 1024)));
        assert_eq!(parse_port_range(""), None);
        assert_eq!(parse_port_range("60999 32768"), None);
        assert_eq!(parse_port_range("1 2 3"), None);
        assert_eq!(parse_port_range("0 10"), None);
    }

    #[test]
    fn ephemeral_port_is_in_range_and_bindable() {
        let (lo, hi) =
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok().and_then(|s| parse_port_range(&s)).unwrap_or(DEFAULT_PORT_RANGE);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let p = ephemeral_port(Proto::Tcp, ip).unwrap();
        assert!((lo..=hi).contains(&p));
        // Successive picks do not hand out the same port.
        let q = ephemeral_port(Proto::Tcp, ip).unwrap();
        assert_ne!(p, q);
        assert!(std::net::TcpListener::bind((ip, q)).is_ok());
    }
}
