//! The runtime role (`berth-runtime`): runc's command line over [`crate::runtime::Runtime`].
//! Errors go to stderr and, with `--log-format json`, as runc-style JSON lines to `--log`
//! (the shim reads the last one); every failure exits 1.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::runtime::console::ConsoleSocket;
use crate::runtime::{CreateExtra, CreateOptions, ExecOptions, Runtime, RuntimeError, DEFAULT_ROOT};
use crate::terminal::{Proxy, Resizer};

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
        /// Arguments for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers.
    List {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Run a process inside a running container (runc exec).
    Exec {
        #[command(flatten)]
        e: ExecArgs,
    },
    /// Update a container's cgroup limits.
    Update {
        #[command(flatten)]
        u: UpdateArgs,
    },
    /// Print the features this runtime implements (JSON, like runc features).
    Features,
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
    /// Pass this many extra fds (3, 4, ...) on to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

#[derive(clap::Args, Debug)]
struct ExecArgs {
    /// process.json to run (instead of inline args).
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Return once the process has started.
    #[arg(short, long)]
    detach: bool,
    /// Allocate a pty (needs --console-socket).
    #[arg(short, long)]
    tty: bool,
    /// Unix socket that receives the pty master.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Extra environment (K=V), may repeat.
    #[arg(short, long)]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(long)]
    cwd: Option<String>,
    /// uid[:gid] to run as.
    #[arg(short, long)]
    user: Option<String>,
    /// Additional gids, may repeat.
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Set no_new_privs.
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Add a capability, may repeat.
    #[arg(short, long)]
    cap: Vec<String>,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Pass this many extra fds (3, 4, ...) on to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Accepted for runc compatibility (no effect).
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    id: String,
    /// Command and arguments (when no --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct UpdateArgs {
    /// resources.json (linux.resources format); `-` reads stdin (containerd's shim passes
    /// `--resources -`).
    #[arg(short = 'r', long = "resources")]
    resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g suffix).
    #[arg(long)]
    memory: Option<String>,
    /// Memory+swap limit.
    #[arg(long = "memory-swap")]
    memory_swap: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Block I/O weight (10 to 1000).
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// Maximum number of pids (-1 or 0: unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// CPU shares (relative weight); runc spells it --cpu-share.
    #[arg(long = "cpu-shares", visible_alias = "cpu-share")]
    cpu_shares: Option<u64>,
    /// CFS quota in µs (-1: none).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CFS period in µs.
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    /// Real-time period in µs.
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    /// Real-time runtime in µs per period.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (cpuset list).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
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
    if let Ok(mut f) = crate::fsperm::private_file().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

fn err(e: RuntimeError) -> String {
    e.to_string()
}

fn create_opts(c: &CreateArgs) -> Result<(PathBuf, CreateOptions), String> {
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
            rt.create_ext(&c.id, &bundle, &opts, &create_extra(c)).map_err(err)?;
        }
        Cmd::Start { id } => rt.start(id).map_err(err)?,
        Cmd::State { id } => {
            let st = rt.state(id).map_err(err)?;
            let s = serde_json::to_string_pretty(&st).map_err(|e| e.to_string())?;
            println!("{s}");
        }
        Cmd::Kill { id, signal, all } => rt.kill(id, parse_signal(signal)?, *all).map_err(err)?,
        Cmd::Delete { force, id } => match rt.delete(id, *force) {
            // runc: `delete --force` of a container that does not exist (e.g. after a
            // failed create) has nothing left to do and succeeds.
            Err(e) if *force && e.is_not_found() => {}
            r => r.map_err(err)?,
        },
        Cmd::Run { c, detach } => {
            let (bundle, opts) = create_opts(c)?;
            if *detach {
                rt.create_ext(&c.id, &bundle, &opts, &create_extra(c)).map_err(err)?;
                if let Err(e) = rt.start(&c.id) {
                    let _ = rt.delete(&c.id, true);
                    return Err(err(e));
                }
            } else {
                let code = run_foreground(&rt, &c.id, &bundle, &opts, &create_extra(c))?;
                return Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)));
            }
        }
        Cmd::Pause { id } => rt.pause(id).map_err(err)?,
        Cmd::Resume { id } => rt.resume(id).map_err(err)?,
        Cmd::Ps { format, id, ps_args } => {
            let pids = rt.pids(id).map_err(err)?;
            if format == "json" {
                println!("{}", serde_json::to_string(&pids).map_err(|e| e.to_string())?);
            } else {
                print!("{}", ps_table(&pids, ps_args)?);
            }
        }
        Cmd::List { quiet, format } => {
            let list = rt.list().map_err(err)?;
            if *quiet {
                for s in &list {
                    println!("{}", s.id);
                }
            } else if format == "json" {
                // runc's list entries also carry the owner.
                let mut out = Vec::with_capacity(list.len());
                for s in &list {
                    let mut v = serde_json::to_value(s).map_err(|e| e.to_string())?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("owner".into(), serde_json::Value::String(owner_of(&cli.root.join(&s.id))));
                    }
                    out.push(v);
                }
                println!("{}", serde_json::to_string(&out).map_err(|e| e.to_string())?);
            } else {
                println!("{:<20} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
                for s in &list {
                    println!(
                        "{:<20} {:<8} {:<10} {:<40} {:<32} {}",
                        s.id,
                        s.pid,
                        s.status,
                        s.bundle.display(),
                        s.created,
                        owner_of(&cli.root.join(&s.id))
                    );
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
        Cmd::Exec { e } => return exec_cmd(&rt, e),
        Cmd::Update { u } => update_cmd(&rt, u)?,
        Cmd::Features => println!("{}", serde_json::to_string_pretty(&crate::runtime::features::features()).map_err(|e| e.to_string())?),
        Cmd::Init => return Err("init is internal: run by `create` only".into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `run` without -d: like [`Runtime::run`], but signals sent to this process (Ctrl-C,
/// SIGTERM, ...) are forwarded to the container's init, as runc does.
/// With process.terminal and no --console-socket, this process takes the pty master and
/// proxies it to its own stdio (runc's behaviour).
fn run_foreground(rt: &Runtime, id: &str, bundle: &Path, opts: &CreateOptions, extra: &CreateExtra) -> Result<i32, String> {
    let set = block_forwarded_signals()?;
    let spec = crate::runtime::spec::load(id, bundle).map_err(err)?;
    let own_console = extra.console_socket.is_none() && spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    let extra = CreateExtra { spec: Some(spec), ..extra.clone() };
    let (st, proxy) = if own_console {
        let sock = ConsoleSocket::listen_private(id).map_err(|e| e.to_string())?;
        let extra = CreateExtra { console_socket: Some(sock.path().to_owned()), ..extra };
        let st = rt.create_ext(id, bundle, opts, &extra).map_err(err)?;
        match sock.into_proxy() {
            Ok(p) => (st, Some(p)),
            Err(e) => {
                let _ = rt.delete(id, true);
                return Err(e.to_string());
            }
        }
    } else {
        (rt.create_ext(id, bundle, opts, &extra).map_err(err)?, None)
    };
    if let Err(e) = rt.start(id) {
        let _ = rt.delete(id, true);
        return Err(err(e));
    }
    forward_signals(set, st.pid, proxy.as_ref().and_then(Proxy::resizer));
    let code = crate::runtime::wait_exit(id, st.pid).map_err(err)?;
    if let Some(p) = proxy {
        p.finish();
    }
    rt.delete(id, true).map_err(err)?;
    Ok(code)
}

/// Blocks the signals a foreground `run`/`exec` forwards. Called before any thread exists,
/// so the forwarding thread's sigwait gets them all; the container process starts with an
/// empty mask.
fn block_forwarded_signals() -> Result<nix::sys::signal::SigSet, String> {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCONT,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
    ] {
        set.add(s);
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(|e| format!("sigprocmask: {e}"))?;
    Ok(set)
}

/// Forwards every signal of `set` to `pid` from a background thread; with a terminal of
/// ours, SIGWINCH resizes the container's pty instead (the kernel then signals its
/// foreground process group).
fn forward_signals(set: nix::sys::signal::SigSet, pid: i32, resizer: Option<Resizer>) {
    use nix::sys::signal::Signal;
    let pid = nix::unistd::Pid::from_raw(pid);
    std::thread::spawn(move || {
        while let Ok(sig) = set.wait() {
            match (&resizer, sig) {
                (Some(r), Signal::SIGWINCH) => r.sync(),
                _ => {
                    let _ = nix::sys::signal::kill(pid, sig);
                }
            }
        }
    });
}

fn create_extra(c: &CreateArgs) -> CreateExtra {
    CreateExtra { console_socket: c.console_socket.clone(), preserve_fds: c.preserve_fds, spec: None }
}

/// `exec`: the process from -p or from the container's own process with the inline args and
/// flags applied (runc's rules); waits and returns its exit code unless -d.
fn exec_cmd(rt: &Runtime, e: &ExecArgs) -> Result<ExitCode, String> {
    use oci_spec::runtime::Process;
    let mut process: Process = match &e.process {
        Some(p) => {
            let data = std::fs::read(p).map_err(|x| format!("{}: {x}", p.display()))?;
            serde_json::from_slice(&data).map_err(|x| format!("parsing {}: {x}", p.display()))?
        }
        None => {
            if e.args.is_empty() {
                return Err("exec: no command given (args or --process)".into());
            }
            let mut p = rt.base_process(&e.id).map_err(err)?.unwrap_or_default();
            p.set_args(Some(e.args.clone()));
            p.set_terminal(Some(false));
            p
        }
    };
    if e.tty {
        process.set_terminal(Some(true));
    }
    if !e.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        for kv in &e.env {
            let key = kv.split_once('=').map(|(k, _)| k).unwrap_or(kv);
            env.retain(|old| old.split_once('=').map(|(k, _)| k).unwrap_or(old) != key);
            env.push(kv.clone());
        }
        process.set_env(Some(env));
    }
    if let Some(cwd) = &e.cwd {
        process.set_cwd(PathBuf::from(cwd));
    }
    if let Some(u) = &e.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        let mut user = process.user().clone();
        user.set_uid(uid.parse().map_err(|_| format!("--user {u:?}: uid must be a number"))?);
        if let Some(g) = gid {
            user.set_gid(g.parse().map_err(|_| format!("--user {u:?}: gid must be a number"))?);
        }
        process.set_user(user);
    }
    if !e.additional_gids.is_empty() {
        let mut user = process.user().clone();
        user.set_additional_gids(Some(e.additional_gids.clone()));
        process.set_user(user);
    }
    if e.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !e.cap.is_empty() {
        let mut caps = process.capabilities().clone().unwrap_or_default();
        for name in &e.cap {
            let c: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name.to_ascii_uppercase())).map_err(|_| format!("unknown capability {name:?}"))?;
            for set in [caps.bounding().clone(), caps.effective().clone(), caps.permitted().clone()].iter().enumerate() {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(c);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        process.set_capabilities(Some(caps));
    }
    let opts = ExecOptions { pid_file: e.pid_file.clone(), stdio: None, console_socket: e.console_socket.clone(), preserve_fds: e.preserve_fds };
    if e.detach {
        rt.exec(&e.id, &process, &opts).map_err(err)?;
        return Ok(ExitCode::SUCCESS);
    }
    let set = block_forwarded_signals()?;
    let (h, proxy) = if process.terminal().unwrap_or(false) && e.console_socket.is_none() {
        let sock = ConsoleSocket::listen_private(&e.id).map_err(|e| e.to_string())?;
        let opts = ExecOptions { console_socket: Some(sock.path().to_owned()), ..opts };
        let h = rt.exec(&e.id, &process, &opts).map_err(err)?;
        let proxy = sock.into_proxy().map_err(|e| e.to_string())?;
        (h, Some(proxy))
    } else {
        (rt.exec(&e.id, &process, &opts).map_err(err)?, None)
    };
    forward_signals(set, h.pid, proxy.as_ref().and_then(Proxy::resizer));
    let code = h.wait().map_err(err)?;
    if let Some(p) = proxy {
        p.finish();
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

/// `update`: -r resources.json, then the flags on top (runc's precedence).
fn update_cmd(rt: &Runtime, u: &UpdateArgs) -> Result<(), String> {
    use serde_json::{json, Value};
    let mut res: Value = match &u.resources {
        Some(p) if p.as_os_str() == "-" => serde_json::from_reader(std::io::stdin()).map_err(|e| format!("parsing resources from stdin: {e}"))?,
        Some(p) => {
            let data = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_slice(&data).map_err(|e| format!("parsing {}: {e}", p.display()))?
        }
        None => json!({}),
    };
    let obj = res.as_object_mut().ok_or("resources must be a JSON object")?;
    let mut set = |section: &str, key: &str, v: Value| {
        let s = obj.entry(section).or_insert_with(|| json!({}));
        if let Some(o) = s.as_object_mut() {
            o.insert(key.into(), v);
        }
    };
    if let Some(m) = &u.memory {
        set("memory", "limit", json!(parse_bytes(m)?));
    }
    if let Some(m) = &u.memory_swap {
        set("memory", "swap", json!(parse_bytes(m)?));
    }
    if let Some(m) = &u.memory_reservation {
        set("memory", "reservation", json!(parse_bytes(m)?));
    }
    if let Some(w) = u.blkio_weight {
        set("blockIO", "weight", json!(w));
    }
    if let Some(n) = u.pids_limit {
        set("pids", "limit", json!(n));
    }
    if let Some(n) = u.cpu_shares {
        set("cpu", "shares", json!(n));
    }
    if let Some(n) = u.cpu_quota {
        set("cpu", "quota", json!(n));
    }
    if let Some(n) = u.cpu_period {
        set("cpu", "period", json!(n));
    }
    if let Some(n) = u.cpu_rt_period {
        set("cpu", "realtimePeriod", json!(n));
    }
    if let Some(n) = u.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", json!(n));
    }
    if let Some(c) = &u.cpuset_cpus {
        set("cpu", "cpus", json!(c));
    }
    if let Some(c) = &u.cpuset_mems {
        set("cpu", "mems", json!(c));
    }
    let res: oci_spec::runtime::LinuxResources = serde_json::from_value(res).map_err(|e| format!("invalid resources: {e}"))?;
    rt.update(&u.id, &res).map_err(err)
}

/// Parses `1048576`, `64k`, `64m`, `1g` (binary units, like runc's RAMInBytes); -1 stays -1.
fn parse_bytes(s: &str) -> Result<i64, String> {
    // runc takes -1 for "unlimited"; everything else is a size like docker's.
    if s.trim() == "-1" {
        return Ok(-1);
    }
    crate::units::parse_ram_bytes(s).map_err(|e| e.to_string())
}

/// The user name owning a container's state directory (runc's OWNER column).
fn owner_of(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(dir) else { return String::new() };
    match nix::unistd::User::from_uid(md.uid().into()) {
        Ok(Some(u)) => u.name,
        _ => md.uid().to_string(),
    }
}

/// runc's `ps` table: `ps` (args default -ef) lines whose PID column is one of `pids`.
fn ps_table(pids: &[i32], args: &[String]) -> Result<String, String> {
    let args: Vec<String> = if args.is_empty() { vec!["-ef".into()] } else { args.to_vec() };
    let out = std::process::Command::new("ps").args(&args).output().map_err(|e| format!("running ps: {e}"))?;
    if !out.status.success() {
        return Err(format!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header.split_whitespace().position(|h| h == "PID").ok_or("couldn't find PID field in ps output")?;
    let mut table = format!("{header}\n");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            table.push_str(l);
            table.push('\n');
        }
    }
    Ok(table)
}

/// Parses `KILL`, `SIGKILL`, `kill` or `9`.
fn parse_signal(s: &str) -> Result<i32, String> {
    crate::units::parse_signal(s).ok_or_else(|| format!("unknown signal {s:?}"))
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

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(super::parse_bytes("1024"), Ok(1024));
        assert_eq!(super::parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(super::parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(super::parse_bytes("2kb"), Ok(2048));
        assert_eq!(super::parse_bytes("-1"), Ok(-1));
        assert!(super::parse_bytes("lots").is_err());
    }
}
