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

/// Go's `strconv.ParseBool`, which containerd's flag package uses for `-flag=value`.
fn go_bool(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {v:?} for -{name}")),
    }
}

/// Parses containerd's shim command line as Go's `flag` package does: `-name value`,
/// `-name=value`, `--name` alike; booleans as `-name` or `-name=false`; flags end at the
/// first argument that is not one (the action), and nothing may follow the action.
fn parse(args: &[OsString]) -> Result<(ShimArgs, Action), String> {
    let mut out = ShimArgs {
        argv0: args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default(),
        namespace: std::env::var("NAMESPACE").unwrap_or_default(),
        ..Default::default()
    };
    let mut action = Action::Serve;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            let word = if arg == "--" { it.next() } else { Some(arg) };
            if let Some(word) = word {
                action = match word.as_str() {
                    "start" => Action::Start,
                    "delete" => Action::Delete,
                    other => return Err(format!("unknown action {other:?}")),
                };
            }
            if let Some(extra) = it.next() {
                return Err(format!("unexpected argument {extra:?} after the action"));
            }
            break;
        }
        let flag = arg.strip_prefix("--").unwrap_or_else(|| &arg[1..]);
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.to_owned(), None),
        };
        let boolean = |v: Option<String>| v.map_or(Ok(true), |v| go_bool(&name, &v));
        match name.as_str() {
            "debug" => {
                out.debug = boolean(inline)?;
                continue;
            }
            "v" | "version" => {
                if boolean(inline)? {
                    action = Action::Version;
                }
                continue;
            }
            // containerd 1.x's v1 shim flags: accepted only when they ask for what berth does.
            "systemd-cgroup" => {
                if boolean(inline)? {
                    return Err("-systemd-cgroup: the systemd cgroup driver is not supported by berth-shim".into());
                }
                continue;
            }
            _ => {}
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("flag needs an argument: -{name}"))?,
        };
        match name.as_str() {
            "namespace" => out.namespace = value,
            "id" => out.id = value,
            "address" => out.address = value,
            // `-containerd-binary` is the name containerd 1.2 used for the publish binary.
            "publish-binary" | "containerd-binary" => out.publish_binary = value,
            "bundle" => out.bundle = Some(PathBuf::from(value)),
            "socket" => out.socket = Some(PathBuf::from(value)),
            "runtime-root" | "criu" if value.is_empty() => {}
            "runtime-root" => return Err("-runtime-root: the runtime root comes from the task's options in berth-shim".into()),
            "criu" => return Err("-criu: checkpoint and restore are not supported by berth-shim".into()),
            other => return Err(format!("flag provided but not defined: -{other}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        std::iter::once("containerd-shim-berth-v2").chain(a.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn go_style_flags_are_read_as_containerd_writes_them() {
        let (o, a) =
            parse(&args(&["-namespace", "ns", "--id=c1", "-address", "/a.sock", "-publish-binary=/bin/x", "-debug", "start"])).expect("parse");
        assert_eq!((o.namespace.as_str(), o.id.as_str(), o.address.as_str(), o.publish_binary.as_str()), ("ns", "c1", "/a.sock", "/bin/x"));
        assert!(o.debug && matches!(a, Action::Start));
        let (o, a) = parse(&args(&["-debug=false", "-id", "c", "delete"])).expect("parse");
        assert!(!o.debug, "-debug=false is false");
        assert!(matches!(a, Action::Delete));
        let (o, _) = parse(&args(&["-debug=1"])).expect("parse");
        assert!(o.debug);
        assert!(matches!(parse(&args(&["-v"])).expect("parse").1, Action::Version));
        assert!(matches!(parse(&args(&[])).expect("parse").1, Action::Serve));
    }

    #[test]
    fn bad_flags_and_unsupported_options_are_refused_by_name() {
        let err = |a: &[&str]| parse(&args(a)).err().unwrap_or_default();
        assert!(err(&["-debug=maybe"]).contains("-debug"));
        assert!(err(&["-bogus", "x"]).contains("-bogus"));
        assert!(err(&["-id"]).contains("-id"));
        assert!(err(&["-systemd-cgroup"]).contains("systemd"));
        assert!(err(&["-criu", "/usr/sbin/criu"]).contains("-criu"));
        assert!(err(&["start", "-debug"]).contains("after the action"));
        assert!(err(&["stop"]).contains("stop"));
        assert!(parse(&args(&["-systemd-cgroup=false", "-runtime-root", "", "start"])).is_ok());
    }
}
