//! The runtime role (`berth-runtime`): runc's command line over [`crate::runtime::Runtime`].
//! Errors go to stderr and, with `--log-format json`, as runc-style JSON lines to `--log`
//! (the shim reads the last one); every failure exits 1.

//!
//! One file per verb, as youki's `commands/`: each parses its flags and calls the runtime
//! library.

mod create;
mod delete;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::runtime::{Runtime, DEFAULT_ROOT};

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
    Create(create::Args),
    /// Start a created container.
    Start { id: String },
    /// Print the OCI state JSON of a container.
    State { id: String },
    /// Send a signal to the container's init (or all its processes with --all).
    Kill(kill::Args),
    /// Delete a container (kill it first with --force).
    Delete(delete::Args),
    /// Create and start a container, and wait for it unless --detach.
    Run(run::Args),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the host pids of a container's processes.
    Ps(ps::Args),
    /// List containers.
    List(list::Args),
    /// Run a process inside a running container (runc exec).
    Exec(exec::Args),
    /// Update a container's cgroup limits.
    Update(update::Args),
    /// Print the features this runtime implements (JSON, like runc features).
    Features,
    /// Write a default config.json.
    Spec(spec::Args),
    /// Internal: container init.
    #[command(hide = true)]
    Init,
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
    if let Ok(mut f) = crate::fsperm::private_file().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    if cli.systemd_cgroup {
        return Err("--systemd-cgroup is not supported: use cgroupfs paths (e.g. /berth/<id>)".into());
    }
    let rt = Runtime::new(&cli.root);
    match &cli.cmd {
        Cmd::Create(a) => create::run(&rt, a)?,
        Cmd::Start { id } => start::run(&rt, id)?,
        Cmd::State { id } => state::run(&rt, id)?,
        Cmd::Kill(a) => kill::run(&rt, a)?,
        Cmd::Delete(a) => delete::run(&rt, a)?,
        Cmd::Run(a) => return run::run(&rt, a),
        Cmd::Pause { id } => pause::run(&rt, id)?,
        Cmd::Resume { id } => resume::run(&rt, id)?,
        Cmd::Ps(a) => ps::run(&rt, a)?,
        Cmd::List(a) => list::run(&rt, &cli.root, a)?,
        Cmd::Spec(a) => spec::run(a)?,
        Cmd::Exec(a) => return exec::run(&rt, a),
        Cmd::Update(a) => update::run(&rt, a)?,
        Cmd::Features => features::run()?,
        Cmd::Init => return Err("init is internal: run by `create` only".into()),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_berth_runtime_cannot_honour_are_refused() {
        let cli = Cli::try_parse_from(["berth-runtime", "create", "--no-pivot", "c1"]).expect("parse");
        let Cmd::Create(a) = &cli.cmd else { panic!("create expected") };
        assert!(a.options().expect_err("--no-pivot").contains("--no-pivot"));
        let cli = Cli::try_parse_from(["berth-runtime", "--systemd-cgroup", "state", "c1"]).expect("parse");
        assert!(run(&cli).expect_err("--systemd-cgroup").contains("--systemd-cgroup"));
        assert!(Cli::try_parse_from(["berth-runtime", "list", "--format", "yaml"]).is_err(), "unknown list format");
        assert!(Cli::try_parse_from(["berth-runtime", "ps", "--format", "yaml", "c1"]).is_err(), "unknown ps format");
    }
}
