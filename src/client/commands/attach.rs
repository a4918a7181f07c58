//! `berth attach`, and the attach stream `berth run` opens: the container's output to our
//! stdout and stderr (raw with a terminal), our stdin in when asked. The daemon applies the
//! detach keys (ctrl-p ctrl-q unless `--detach-keys` says otherwise) to a terminal's input.

use super::container_path;
use crate::client::error::{ClientError, Result};
use crate::client::http::{empty, EngineClient, Query};
use crate::client::stdio::{copy_body, copy_reader, StdioSink};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

/// What an attach stream carries.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// Our stdin goes to the container (its end is passed on as a half-close).
    pub stdin: bool,
    /// The container has a terminal: its output is one raw stream.
    pub tty: bool,
    /// `--detach-keys` (the daemon's default when None).
    pub detach_keys: Option<String>,
}

/// Opens `POST /containers/{id}/attach` and starts copying; the task ends with the output
/// (the container exited, or the attach was detached).
pub async fn open(client: &EngineClient, id: &str, s: &StreamOptions) -> Result<JoinHandle<Result<()>>> {
    let q = Query::new()
        .set("stream", 1)
        .flag("stdin", s.stdin)
        .set("stdout", 1)
        .set("stderr", 1)
        .set_opt("detachKeys", s.detach_keys.as_deref())
        .encode();
    let mut resp =
        client.call(Method::POST, &container_path(id, &format!("/attach{q}")), &[("connection", "Upgrade"), ("upgrade", "tcp")], empty()).await?;
    let tty = s.tty;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        if !resp.status().is_success() {
            return Err(crate::client::http::daemon_error(resp).await);
        }
        let ct = resp.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        return Ok(tokio::spawn(async move {
            let mut sink = if tty { StdioSink::raw() } else { StdioSink::for_content_type(ct.as_deref()) };
            copy_body(resp.into_body(), &mut sink).await
        }));
    }
    let upgraded = hyper::upgrade::on(&mut resp).await?;
    let (rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
    // Our stdin goes in until it ends, then the write half is shut (the daemon's EOF); it
    // is abandoned when the output ends first.
    let input = s.stdin.then(|| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut wr).await;
            let _ = wr.shutdown().await;
        })
    });
    Ok(tokio::spawn(async move {
        let mut sink = if tty { StdioSink::raw() } else { StdioSink::multiplexed() };
        let copied = copy_reader(rd, &mut sink).await;
        if let Some(input) = input {
            input.abort();
        }
        copied
    }))
}

/// Whether our stdin is a terminal (docker refuses `-it` otherwise).
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// What `berth attach` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    pub no_stdin: bool,
    pub detach_keys: Option<String>,
    pub sig_proxy: bool,
    pub container: String,
}

/// Runs `berth attach`: the container's exit code once it exits, 0 when detached.
pub async fn attach(client: &EngineClient, opts: AttachOptions) -> Result<u8> {
    let c = client.get_value(&container_path(&opts.container, "/json")).await?;
    let id = c["Id"].as_str().unwrap_or(&opts.container).to_owned();
    if c["State"]["Running"] != true {
        return Err(ClientError::Invalid("You cannot attach to a stopped container, start it first".into()));
    }
    if c["State"]["Paused"] == true {
        return Err(ClientError::Invalid("You cannot attach to a paused container, unpause it first".into()));
    }
    let tty = c["Config"]["Tty"] == true;
    let stdin = !opts.no_stdin && c["Config"]["OpenStdin"] == true;
    if tty && stdin && !stdin_is_terminal() {
        return Err(ClientError::Invalid("the input device is not a TTY".into()));
    }
    let raw = if tty && stdin { crate::terminal::RawMode::enter().ok().flatten() } else { None };
    // As docker: signals are proxied only to a container without a terminal (with one, the
    // keys that make them are bytes for its pty).
    let signals = (opts.sig_proxy && !tty).then(super::run::catch_signals);
    let output = open(client, &id, &StreamOptions { stdin, tty, detach_keys: opts.detach_keys.clone() }).await?;
    let resizer = tty.then(|| tokio::spawn(super::exec::follow_window_size(client.clone(), container_path(&id, "/resize"))));
    let proxied = async {
        match signals {
            Some(rx) => super::run::proxy_signals(client, &id, rx).await,
            None => std::future::pending().await,
        }
    };
    let copied = tokio::select! {
        r = output => r,
        e = proxied => return Err(e),
    };
    if let Some(r) = resizer {
        r.abort();
    }
    drop(raw);
    match copied {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("attach stream: {e}"),
        Err(e) => tracing::warn!("attach task: {e}"),
    }
    ended(client, &id).await
}

/// The exit code after an attach stream ended: the container's once it has exited, 0 when
/// it runs on (the attach was detached).
pub async fn ended(client: &EngineClient, id: &str) -> Result<u8> {
    let c = client.get_value(&container_path(id, "/json")).await?;
    if c["State"]["Running"] == true {
        return Ok(0);
    }
    Ok((c["State"]["ExitCode"].as_i64().unwrap_or(0) & 0xff) as u8)
}
