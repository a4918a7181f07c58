//! `exec`: run a process in a running container: a process.json (`--process`) or the
//! container's own process with inline args, the flags applied on top (runc's rules); waits
//! and returns its exit code unless `--detach`.

use std::path::PathBuf;
use std::process::ExitCode;

use oci_spec::runtime::Process;

use crate::runtime::console::ConsoleSocket;
use crate::runtime::process_flags::ProcessFlags;
use crate::runtime::signals::Forwarder;
use crate::runtime::{ExecOptions, Runtime};
use crate::terminal::Proxy;

/// The flags of `exec`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// process.json to run (instead of inline args).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process has started.
    #[arg(short, long)]
    pub detach: bool,
    /// Allocate a pty (needs --console-socket, or this process proxies it).
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Extra environment (K=V), may repeat.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// uid[:gid] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids, may repeat.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Set no_new_privs.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability, may repeat.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass this many extra fds (3, 4, ...) on to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility: an exec into a paused container is refused anyway.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id.
    pub id: String,
    /// Command and arguments (when no --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Args {
    fn flags(&self) -> ProcessFlags {
        ProcessFlags {
            tty: self.tty,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            user: self.user.clone(),
            additional_gids: self.additional_gids.clone(),
            no_new_privs: self.no_new_privs,
            caps: self.cap.clone(),
        }
    }

    /// The process to run before the flags: process.json, or the container's own with the
    /// inline args.
    fn base(&self, rt: &Runtime) -> Result<Process, String> {
        if let Some(p) = &self.process {
            let data = std::fs::read(p).map_err(|x| format!("{}: {x}", p.display()))?;
            return serde_json::from_slice(&data).map_err(|x| format!("parsing {}: {x}", p.display()));
        }
        if self.args.is_empty() {
            return Err("exec: no command given (args or --process)".into());
        }
        let mut p = rt.base_process(&self.id).map_err(|e| e.to_string())?.unwrap_or_default();
        p.set_args(Some(self.args.clone()));
        p.set_terminal(Some(false));
        Ok(p)
    }
}

/// Runs the process; in the foreground, the exit code is the process's.
pub fn run(rt: &Runtime, e: &Args) -> Result<ExitCode, String> {
    let err = |e: crate::runtime::RuntimeError| e.to_string();
    let process = e.flags().apply(&e.id, e.base(rt)?).map_err(err)?;
    let opts = ExecOptions { pid_file: e.pid_file.clone(), stdio: None, console_socket: e.console_socket.clone(), preserve_fds: e.preserve_fds };
    if e.detach {
        rt.exec(&e.id, &process, &opts).map_err(err)?;
        return Ok(ExitCode::SUCCESS);
    }
    let signals = Forwarder::block(&e.id).map_err(err)?;
    let (h, proxy) = if process.terminal().unwrap_or(false) && e.console_socket.is_none() {
        let sock = ConsoleSocket::listen_private(&e.id).map_err(|e| e.to_string())?;
        let opts = ExecOptions { console_socket: Some(sock.path().to_owned()), ..opts };
        let h = rt.exec(&e.id, &process, &opts).map_err(err)?;
        let proxy = sock.into_proxy().map_err(|e| e.to_string())?;
        (h, Some(proxy))
    } else {
        (rt.exec(&e.id, &process, &opts).map_err(err)?, None)
    };
    signals.forward_to(h.pid, proxy.as_ref().and_then(Proxy::resizer));
    let code = h.wait().map_err(err)?;
    if let Some(p) = proxy {
        p.finish();
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}
