//! The runtime role (`berth-runtime`): runc's command line over [`crate::runtime::Runtime`].
//! Errors go to stderr and, with `--log-format json`, as runc-style JSON lines to `--log`
//! (the shim reads the last one); every failure exits 1.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::runtime::{CreateOptions, DEFAULT_ROOT, Runtime, RuntimeError};

#[derive(Parser, Debug)]
#[command(name = "berth-runtime", about = "berth's OCI runtime (runc's command line)", version)]
struct Cli {
    /// State directory.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Log file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Debug logging.
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd cgroups (unsupported).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a container (its init waits for `start`).
    Create {
        #[command(flatten)]
        c: CreateArgs,
    },
    /// Start a created container.
    Start { id: String },
    /// Print the OCI state JSON of a container.
    State { id: String },
    /// Send a signal to the container's init (or all its processes with --all).
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container (kill it first with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container, and wait for it unless --detach.
    Run {
        #[command(flatten)]
        c: CreateArgs,
        #[arg(short, long)]
        detach: bool,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the host pids of a container's processes.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
    },
    /// List containers.
    List {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Write a default config.json.
    Spec {
        #[arg(short, long)]
        bundle: Option<PathBuf>,
    },
    /// Internal: container init.
    #[command(hide = true)]
    Init,
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    /// Bundle directory (default: current directory).
    #[arg(short, long)]
    bundle: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master (process.terminal).
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility; pivot_root is always used.
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Accepted for runc compatibility; no session keyring is created.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Extra fds to pass (only 0 supported).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

/// Entry point of the runtime role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    // The container init is exec'd as `berth-runtime init` with nothing else: it must not
    // set up logging on what is the container's stderr.
    if args.get(1).is_some_and(|a| a == "init") {
        return crate::runtime::process::init::main();
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    let json_log = cli.log_format == "json";
    if cli.log_format != "json" && cli.log_format != "text" {
        eprintln!("berth-runtime: unknown --log-format {:?} (text or json)", cli.log_format);
        return ExitCode::FAILURE;
    }
    let level = if cli.debug { "debug" } else { "warn" };
    let _ = crate::logging::init(level, if json_log { None } else { cli.log.as_deref() });
    match run(&cli) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("berth-runtime: {msg}");
            if let (true, Some(log)) = (json_log, &cli.log) {
                log_json(log, "error", &msg);
            } else if cli.log.is_some() {
                tracing::error!("{msg}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Appends one runc-style JSON log line.
fn log_json(path: &Path, level: &str, msg: &str) {
    let line = serde_json::json!({
        "level": level,
        "msg": msg,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    });
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

fn err(e: RuntimeError) -> String {
    e.to_string()
}

fn create_opts(c: &CreateArgs) -> Result<(PathBuf, CreateOptions), String> {
    if c.preserve_fds > 0 {
        return Err("--preserve-fds is not supported yet".into());
    }
    let bundle = match &c.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
    };
    Ok((bundle, CreateOptions { pid_file: c.pid_file.clone(), stdio: None, parent_death_signal: None }))
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    if cli.systemd_cgroup {
        return Err("--systemd-cgroup is not supported: use cgroupfs paths (e.g. /berth/<id>)".into());
    }
    let rt = Runtime::new(&cli.root);
    match &cli.cmd {
        Cmd::Create { c } => {
            let (bundle, opts) = create_opts(c)?;
            match &c.console_socket {
                Some(sock) => rt.create_with_console(&c.id, &bundle, &opts, sock).map_err(err)?,
                None => rt.create(&c.id, &bundle, &opts).map_err(err)?,
            };
        }
        Cmd::Start { id } => rt.start(id).map_err(err)?,
        Cmd::State { id } => {
            let st = rt.state(id).map_err(err)?;
            let s = serde_json::to_string_pretty(&st).map_err(|e| e.to_string())?;
            println!("{s}");
        }
        Cmd::Kill { id, signal, all } => rt.kill(id, parse_signal(signal)?, *all).map_err(err)?,
        Cmd::Delete { force, id } => rt.delete(id, *force).map_err(err)?,
        Cmd::Run { c, detach } => {
            let (bundle, opts) = create_opts(c)?;
            if *detach {
                match &c.console_socket {
                    Some(sock) => rt.create_with_console(&c.id, &bundle, &opts, sock).map_err(err)?,
                    None => rt.create(&c.id, &bundle, &opts).map_err(err)?,
                };
                if let Err(e) = rt.start(&c.id) {
                    let _ = rt.delete(&c.id, true);
                    return Err(err(e));
                }
            } else {
                if c.console_socket.is_some() {
                    return Err("--console-socket needs --detach (run in the foreground proxies no terminal yet)".into());
                }
                let code = run_foreground(&rt, &c.id, &bundle, &opts)?;
                return Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)));
            }
        }
        Cmd::Pause { id } => rt.pause(id).map_err(err)?,
        Cmd::Resume { id } => rt.resume(id).map_err(err)?,
        Cmd::Ps { format, id } => {
            let pids = rt.pids(id).map_err(err)?;
            if format == "json" {
                println!("{}", serde_json::to_string(&pids).map_err(|e| e.to_string())?);
            } else {
                println!("PID");
                for p in pids {
                    println!("{p}");
                }
            }
        }
        Cmd::List { quiet, format } => {
            let list = rt.list().map_err(err)?;
            if *quiet {
                for s in &list {
                    println!("{}", s.id);
                }
            } else if format == "json" {
                println!("{}", serde_json::to_string(&list).map_err(|e| e.to_string())?);
            } else {
                println!("{:<20} {:<8} {:<10} {:<40} CREATED", "ID", "PID", "STATUS", "BUNDLE");
                for s in &list {
                    println!("{:<20} {:<8} {:<10} {:<40} {}", s.id, s.pid, s.status, s.bundle.display(), s.created);
                }
            }
        }
        Cmd::Spec { bundle } => {
            let dir = match bundle {
                Some(b) => b.clone(),
                None => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
            };
            let path = dir.join("config.json");
            if path.exists() {
                return Err(format!("File {} exists. Remove it first", path.display()));
            }
            std::fs::write(&path, crate::runtime::spec::DEFAULT_SPEC).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Cmd::Init => return Err("init is internal: run by `create` only".into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `run` without -d: like [`Runtime::run`], but signals sent to this process (Ctrl-C,
/// SIGTERM, ...) are forwarded to the container's init, as runc does.
fn run_foreground(rt: &Runtime, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<i32, String> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, pthread_sigmask};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGHUP, Signal::SIGINT, Signal::SIGQUIT, Signal::SIGTERM, Signal::SIGUSR1, Signal::SIGUSR2,
        Signal::SIGWINCH, Signal::SIGCONT, Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU,
    ] {
        set.add(s);
    }
    // Blocked before any thread exists, so the forwarding thread's sigwait gets them all.
    // The container init unblocks them for the user process.
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(|e| format!("sigprocmask: {e}"))?;
    let st = rt.create(id, bundle, opts).map_err(err)?;
    if let Err(e) = rt.start(id) {
        let _ = rt.delete(id, true);
        return Err(err(e));
    }
    let pid = nix::unistd::Pid::from_raw(st.pid);
    std::thread::spawn(move || {
        while let Ok(sig) = set.wait() {
            let _ = kill(pid, sig);
        }
    });
    let code = crate::runtime::wait_exit(id, st.pid).map_err(err)?;
    rt.delete(id, true).map_err(err)?;
    Ok(code)
}

/// Parses `KILL`, `SIGKILL`, `kill` or `9`.
fn parse_signal(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    name.parse::<nix::sys::signal::Signal>().map(|s| s as i32).map_err(|_| format!("unknown signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_parse_by_name_number_and_short_name() {
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(parse_signal("term"), Ok(15));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("NOPE").is_err());
    }
}
