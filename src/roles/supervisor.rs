//! The supervisor role (`berth-supervisor`): containerd's command line, reduced.
//!
//! `berth-supervisor [-a|--address SOCK] [--root DIR] [--state DIR] [--config FILE]
//! [--log-level L] [--log-file F] [--runc-shim auto|berth|containerd]` serves; `berth-supervisor --address SOCK publish --topic T --namespace NS` (what shims run
//! as their `-publish-binary`) sends one event read from stdin (a protobuf Any).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use prost::Message;

use crate::supervisor::shim_launch::RuncShim;
use crate::supervisor::{self, config, Config, NAMESPACE_HEADER};

#[derive(Parser, Debug)]
#[command(name = "berth-supervisor", about = "berth's containerd: containers, tasks and events over gRPC")]
struct Args {
    /// gRPC unix socket [default: /run/berth/supervisor/supervisor.sock].
    #[arg(long, short = 'a')]
    address: Option<PathBuf>,
    /// Persistent metadata directory [default: /var/lib/berth/supervisor].
    #[arg(long)]
    root: Option<PathBuf>,
    /// Volatile state directory (bundles, shim sockets) [default: /run/berth/supervisor].
    #[arg(long)]
    state: Option<PathBuf>,
    /// Log level (error, warn, info, debug, trace) [default: info].
    #[arg(long, short = 'l')]
    log_level: Option<String>,
    /// Append logs to this file instead of stderr.
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// containerd-style config.toml (root, state, grpc.address, debug.level, berth.runc_shim).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Who serves runtime io.containerd.runc.v2: auto (containerd-shim-runc-v2 if on PATH), berth, containerd.
    #[arg(long)]
    runc_shim: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Publish one event (a protobuf Any on stdin) to the supervisor at --address.
    Publish {
        #[arg(long)]
        topic: String,
        #[arg(long, default_value = "default")]
        namespace: String,
    },
}

/// The path shims run to publish events: a `berth-supervisor` link, in the state dir, to this
/// very executable (so neither argv[0] nor PATH matters; the link name picks the role).
fn publish_binary(state: &Path) -> Result<PathBuf, std::io::Error> {
    let exe = std::env::current_exe()?;
    let dir = state.join("bin");
    crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_PRIVATE)?;
    let link = dir.join("berth-supervisor");
    if std::fs::read_link(&link).ok().as_deref() == Some(exe.as_path()) {
        return Ok(link);
    }
    let tmp = dir.join(format!(".berth-supervisor.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&exe, &tmp)?;
    std::fs::rename(&tmp, &link)?;
    Ok(link)
}

fn runc_shim(name: &str) -> Result<RuncShim, String> {
    match name {
        "auto" => Ok(RuncShim::Auto),
        "berth" => Ok(RuncShim::Berth),
        "containerd" | "containerd-shim-runc-v2" => Ok(RuncShim::Containerd),
        other => Err(format!("--runc-shim {other:?}: expected auto, berth or containerd")),
    }
}

async fn publish(address: &Path, topic: String, namespace: String) -> anyhow::Result<()> {
    let mut data = Vec::new();
    std::io::stdin().read_to_end(&mut data)?;
    let event = prost_types::Any::decode(data.as_slice())?;
    let channel = supervisor::connect(address).await?;
    let mut client = crate::proto::containerd::services::events::v1::events_client::EventsClient::new(channel);
    let mut req = tonic::Request::new(crate::proto::containerd::services::events::v1::PublishRequest { topic, event: Some(event) });
    req.metadata_mut().insert(NAMESPACE_HEADER, namespace.parse()?);
    client.publish(req).await?;
    Ok(())
}

/// Entry point of the supervisor role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    crate::fsperm::set_default_umask();
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let file = match a.config.as_deref().map(config::load).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("berth-supervisor: {e}");
            return ExitCode::from(2);
        }
    };
    // Command line over config file over defaults, as containerd does.
    let address = a.address.or(file.address).unwrap_or_else(|| PathBuf::from("/run/berth/supervisor/supervisor.sock"));
    let root = a.root.or(file.root).unwrap_or_else(|| PathBuf::from("/var/lib/berth/supervisor"));
    let state = a.state.or(file.state).unwrap_or_else(|| PathBuf::from("/run/berth/supervisor"));
    let level = a.log_level.or(file.level).unwrap_or_else(|| "info".into());
    let runc_shim = match runc_shim(a.runc_shim.or(file.runc_shim).as_deref().unwrap_or("auto")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth-supervisor: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::logging::init(&level, a.log_file.as_deref()) {
        eprintln!("berth-supervisor: {e}");
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth-supervisor: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match a.cmd {
        Some(Cmd::Publish { topic, namespace }) => match rt.block_on(publish(&address, topic, namespace)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth-supervisor publish: {e:#}");
                ExitCode::FAILURE
            }
        },
        None => {
            let publish_binary = match publish_binary(&state) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("berth-supervisor: link publish binary under {}: {e}", state.display());
                    return ExitCode::FAILURE;
                }
            };
            let cfg = Config { address, root, state, publish_binary, runc_shim };
            match rt.block_on(supervisor::run(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("berth-supervisor: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
