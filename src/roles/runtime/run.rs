//! `run`: create and start a container, then (without `--detach`) wait for it, forwarding
//! signals to its init and, with process.terminal and no `--console-socket`, proxying its
//! pty to this process's stdio (runc's behaviour); the container is deleted at its exit.

use std::path::Path;
use std::process::ExitCode;

use super::create;
use crate::runtime::console::ConsoleSocket;
use crate::runtime::signals::Forwarder;
use crate::runtime::{CreateExtra, CreateOptions, Runtime};
use crate::terminal::Proxy;

/// The flags of `run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub create: create::Args,
    /// Return once the container has started.
    #[arg(short, long)]
    pub detach: bool,
}

/// Runs the container; the exit code is the container's in the foreground.
pub fn run(rt: &Runtime, a: &Args) -> Result<ExitCode, String> {
    let c = &a.create;
    let (bundle, opts, extra) = c.options()?;
    if a.detach {
        rt.create_ext(&c.id, &bundle, &opts, &extra).map_err(|e| e.to_string())?;
        if let Err(e) = rt.start(&c.id) {
            let _ = rt.delete(&c.id, true);
            return Err(e.to_string());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let code = foreground(rt, &c.id, &bundle, &opts, &extra)?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

fn foreground(rt: &Runtime, id: &str, bundle: &Path, opts: &CreateOptions, extra: &CreateExtra) -> Result<i32, String> {
    let err = |e: crate::runtime::RuntimeError| e.to_string();
    let signals = Forwarder::block(id).map_err(err)?;
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
    signals.forward_to(st.pid, proxy.as_ref().and_then(Proxy::resizer));
    let code = crate::runtime::wait_exit(id, st.pid).map_err(err)?;
    if let Some(p) = proxy {
        p.finish();
    }
    rt.delete(id, true).map_err(err)?;
    Ok(code)
}
