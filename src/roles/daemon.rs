//! The daemon role (`berthd`, dockerd's part): flags, the Engine API socket, signals.

use crate::daemon::{http, Daemon, DaemonConfig};
use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// berthd: the berth daemon, serving the Docker Engine API.
#[derive(Parser, Debug)]
#[command(name = "berthd", version)]
struct Args {
    /// Socket to listen on (unix://PATH); default unix://<exec-root>/berth.sock.
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
    /// Root of persistent state.
    #[arg(long, default_value = "/var/lib/berth")]
    root: PathBuf,
    /// Root of runtime state (sockets, bundles).
    #[arg(long = "exec-root", default_value = "/run/berth")]
    exec_root: PathBuf,
    /// Run every role in this process, as Docker did before 1.11.
    #[arg(long)]
    monolithic: bool,
    /// Supervisor (containerd API) socket to use instead of starting berth-supervisor.
    #[arg(long)]
    containerd: Option<PathBuf>,
    /// containerd namespace of berthd's containers (modular mode).
    #[arg(long = "containerd-namespace", default_value = crate::daemon::supervisor_client::DEFAULT_NAMESPACE, conflicts_with = "monolithic")]
    containerd_namespace: String,
    /// The containerd runtime containers run under (modular mode): io.containerd.berth.v2
    /// (berth's shim, berth-runtime) or io.containerd.runc.v2 (containerd's runc shim, runc).
    #[arg(long = "default-runtime", default_value = "io.containerd.berth.v2", conflicts_with = "monolithic")]
    default_runtime: crate::daemon::supervisor_client::ShimRuntime,
    /// Parent cgroup of every container.
    #[arg(long = "cgroup-parent", default_value = "berth")]
    cgroup_parent: String,
    /// Default json-file log option for every container (max-size=SIZE, max-file=N).
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    log_opts: Vec<String>,
    /// Storage driver for container root filesystems (overlay2, vfs).
    #[arg(long = "storage-driver", short = 's', default_value = "overlay2")]
    storage_driver: String,
    /// Group for the unix socket (name or gid) [default: berth if it exists, else root].
    #[arg(short = 'G', long = "group")]
    group: Option<String>,
    /// Log level (error, warn, info, debug, trace); RUST_LOG wins.
    #[arg(long = "log-level", short = 'l', default_value = "info")]
    log_level: String,
    /// Write logs to this file instead of stderr.
    #[arg(long = "log-file")]
    log_file: Option<PathBuf>,
    /// The init `--init` containers run as PID 1, a static executable [default: this binary,
    /// whose docker-init role is the init].
    #[arg(long = "init-path")]
    init_path: Option<PathBuf>,
    /// The default bridge's Linux name; `none`: no default bridge network.
    #[arg(short = 'b', long = "bridge", default_value = "berth0")]
    bridge: String,
    /// The default bridge's address and prefix (its subnet's gateway), e.g. 172.17.0.1/16.
    #[arg(long = "bip", default_value = "172.17.0.1/16")]
    bip: ipnet::IpNet,
    /// MTU of the default bridge and its containers' interfaces.
    #[arg(long = "mtu")]
    mtu: Option<u32>,
    /// Containers on the default bridge may talk to each other.
    #[arg(long = "icc", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    icc: bool,
    /// Masquerade containers' outbound traffic.
    #[arg(long = "ip-masq", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    ip_masq: bool,
    /// Turn on IP forwarding in the daemon's network namespace.
    #[arg(long = "ip-forward", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    ip_forward: bool,
}

/// Entry point of the daemon role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    crate::fsperm::set_default_umask();
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = crate::logging::init(&args.log_level, args.log_file.as_deref()) {
        eprintln!("berthd: {e}");
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berthd: tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("berthd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let socket = match &args.host {
        Some(h) => PathBuf::from(h.strip_prefix("unix://").ok_or_else(|| anyhow::anyhow!("-H {h}: only unix:// sockets are supported"))?),
        None => args.exec_root.join("berth.sock"),
    };
    let mut log_opts = std::collections::HashMap::new();
    for kv in &args.log_opts {
        let (k, v) = kv.split_once('=').ok_or_else(|| anyhow::anyhow!("--log-opt {kv}: expected KEY=VALUE"))?;
        log_opts.insert(k.to_owned(), v.to_owned());
    }
    crate::logs::LogTarget::from_options(PathBuf::new(), &log_opts).map_err(|e| anyhow::anyhow!("--log-opt: {e}"))?;
    let config = DaemonConfig {
        root: args.root,
        exec_root: args.exec_root,
        socket: socket.clone(),
        monolithic: args.monolithic,
        containerd: args.containerd,
        containerd_namespace: args.containerd_namespace,
        runtime: args.default_runtime,
        cgroup_parent: args.cgroup_parent,
        log_opts,
        storage_driver: args.storage_driver,
        init_path: match args.init_path {
            Some(p) => p,
            None => std::env::current_exe().map_err(|e| anyhow::anyhow!("finding this executable (the default --init-path): {e}"))?,
        },
        net: crate::daemon::network::NetConfig {
            bridge: (args.bridge != "none").then(|| args.bridge.clone()),
            bridge_ip: args.bip,
            mtu: args.mtu,
            icc: args.icc,
            ip_masq: args.ip_masq,
            ip_forward: args.ip_forward,
        },
    };
    if args.bridge.len() > 15 {
        anyhow::bail!("--bridge {}: a Linux interface name has at most 15 characters", args.bridge);
    }
    let gid = crate::fsperm::api_socket_group(args.group.as_deref()).map_err(|e| anyhow::anyhow!("-G: {e}"))?;
    // Before anything else: a socket path that is not ours stops the start untouched.
    crate::fsperm::claim_socket_path(&socket).map_err(|e| anyhow::anyhow!("API socket: {e}"))?;
    let daemon = Daemon::start(config).await?;
    if socket.parent() == Some(daemon.config.exec_root.as_path()) {
        crate::fsperm::allow_group_traverse(&daemon.config.exec_root, gid)?;
    }
    let listener = crate::fsperm::bind_unix_tokio(&socket, crate::fsperm::SOCKET_API, Some(gid)).map_err(|e| anyhow::anyhow!("API socket: {e}"))?;
    tracing::info!(socket = %socket.display(), monolithic = daemon.config.monolithic, "API listening");
    http::serve(listener, daemon, shutdown_signal()).await;
    let _ = std::fs::remove_file(&socket);
    tracing::info!("daemon shut down");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
