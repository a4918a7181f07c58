//! The supervisor role (`berth-supervisor`): containerd's command line, reduced.
//!
//! `berth-supervisor [--address SOCK] [--root DIR] [--state DIR] [--log-level L] [--log-file F]`
//! serves; `berth-supervisor --address SOCK publish --topic T --namespace NS` (what shims run
//! as their `-publish-binary`) sends one event read from stdin (a protobuf Any).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use prost::Message;

use crate::supervisor::{self, Config, NAMESPACE_HEADER};

#[derive(Parser, Debug)]
#[command(name = "berth-supervisor", about = "berth's containerd: containers, tasks and events over gRPC")]
struct Args {
    /// gRPC unix socket.
    #[arg(long, short = 'a', default_value = "/run/berth/supervisor/supervisor.sock")]
    address: PathBuf,
    /// Persistent metadata directory.
    #[arg(long, default_value = "/var/lib/berth/supervisor")]
    root: PathBuf,
    /// Volatile state directory (bundles, shim sockets).
    #[arg(long, default_value = "/run/berth/supervisor")]
    state: PathBuf,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, short = 'l', default_value = "info")]
    log_level: String,
    /// Append logs to this file instead of stderr.
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// Accepted for containerd compatibility; ignored.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
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

/// The path shims should run to publish events: this role's own link when started through one.
fn publish_binary(argv0: &OsString) -> PathBuf {
    let p = Path::new(argv0);
    if p.components().count() > 1 {
        if let (Some(dir), Some(name)) = (p.parent(), p.file_name())
            && let Ok(dir) = std::fs::canonicalize(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) {
                return dir.join(name);
            }
    } else if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let cand = dir.join(p);
            if cand.is_file() {
                return cand;
            }
        }
    }
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("berth-supervisor"))
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
    let argv0 = args.first().cloned().unwrap_or_default();
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    if let Err(e) = crate::logging::init(&a.log_level, a.log_file.as_deref()) {
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
        Some(Cmd::Publish { topic, namespace }) => match rt.block_on(publish(&a.address, topic, namespace)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth-supervisor publish: {e:#}");
                ExitCode::FAILURE
            }
        },
        None => {
            let cfg = Config { address: a.address, root: a.root, state: a.state, publish_binary: publish_binary(&argv0) };
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
