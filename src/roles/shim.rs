//! The shim role (`berth-shim`, `containerd-shim-berth-v2`): containerd's shim command line.
//!
//! `<shim> -namespace NS -address SOCK -publish-binary BIN -id ID [-debug] start` prints the
//! ttrpc address of the resident shim; `... -bundle DIR delete` cleans up after a dead shim
//! and prints a protobuf DeleteResponse; without an action the binary is the resident shim.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::shim::{self, ShimArgs};

enum Action {
    Serve,
    Start,
    Delete,
    Version,
}

fn parse(args: &[OsString]) -> Result<(ShimArgs, Action), String> {
    let mut out = ShimArgs {
        argv0: args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default(),
        namespace: std::env::var("NAMESPACE").unwrap_or_default(),
        ..Default::default()
    };
    let mut action = Action::Serve;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        if !arg.starts_with('-') {
            action = match arg.as_str() {
                "start" => Action::Start,
                "delete" => Action::Delete,
                other => return Err(format!("unknown action {other:?}")),
            };
            continue;
        }
        let flag = arg.trim_start_matches('-');
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.to_owned(), None),
        };
        if name == "debug" {
            out.debug = true;
            continue;
        }
        if name == "v" || name == "version" {
            action = Action::Version;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("flag -{name} needs a value"))?,
        };
        match name.as_str() {
            "namespace" => out.namespace = value,
            "id" => out.id = value,
            "address" => out.address = value,
            "publish-binary" => out.publish_binary = value,
            "bundle" => out.bundle = Some(PathBuf::from(value)),
            "socket" => out.socket = Some(PathBuf::from(value)),
            // containerd passes these on some versions; they are not needed here.
            "containerd-binary" | "runtime-root" | "systemd-cgroup" | "criu" => {}
            other => return Err(format!("unknown flag -{other}")),
        }
    }
    Ok((out, action))
}

/// Entry point of the shim role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    crate::fsperm::set_default_umask();
    let (opts, action) = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shim: {e}");
            return ExitCode::from(2);
        }
    };
    let level = if opts.debug { "debug" } else { "info" };
    let _ = crate::logging::init(level, None);
    match action {
        Action::Version => {
            println!("{}:\n  Version: {}\n  TTRPC API: containerd.task.v3.Task, containerd.task.v2.Task", opts.argv0, env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Action::Start => match shim::start(&opts) {
            Ok(addr) => {
                print!("{addr}");
                let _ = std::io::stdout().flush();
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shim start: {e}");
                ExitCode::FAILURE
            }
        },
        Action::Delete => match shim::delete_action(&opts) {
            Ok(bytes) => {
                let mut out = std::io::stdout();
                let _ = out.write_all(&bytes);
                let _ = out.flush();
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shim delete: {e}");
                ExitCode::FAILURE
            }
        },
        Action::Serve => match shim::serve(opts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("shim: {e}");
                eprintln!("shim: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
