//! `berth exec`: create the exec, start it attached through an upgraded connection (stdin
//! in with -i, output out), then read its exit code from inspect, as the docker CLI does.

use super::container_path;
use crate::api::types::{ExecConfig, ExecInspect, ExecStartConfig, IdResponse};
use crate::client::error::{ClientError, Result};
use crate::client::http::{escape, full, EngineClient};
use crate::client::stdio::{copy_reader, StdioSink};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

/// What `berth exec` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
    /// `--detach-keys` (the daemon's default, ctrl-p ctrl-q, when None).
    pub detach_keys: Option<String>,
    pub container: String,
    pub cmd: Vec<String>,
}

/// The body of `POST /containers/{id}/exec` for `opts`.
pub fn create_request(opts: &ExecOptions) -> ExecConfig {
    let attach = !opts.detach;
    ExecConfig {
        cmd: Some(opts.cmd.clone()),
        env: Some(super::run::expand_env(&opts.env)),
        working_dir: opts.workdir.clone().unwrap_or_default(),
        user: opts.user.clone().unwrap_or_default(),
        tty: opts.tty,
        attach_stdin: attach && opts.interactive,
        attach_stdout: attach,
        attach_stderr: attach,
        privileged: opts.privileged,
        detach_keys: opts.detach_keys.clone().unwrap_or_default(),
    }
}

/// Runs `berth exec`; the exit code is the process's (126 when it could not start).
pub async fn exec(client: &EngineClient, opts: ExecOptions) -> Result<u8> {
    let created: IdResponse = client.post_json(&container_path(&opts.container, "/exec"), &create_request(&opts)).await?;
    let start_path = format!("/exec/{}/start", escape(&created.id, false));
    let console_size = opts.tty.then(terminal_size).flatten().map(|(w, h)| [h, w]);
    let body = |detach| serde_json::to_vec(&ExecStartConfig { detach, tty: opts.tty, console_size }).map_err(|e| ClientError::Invalid(e.to_string()));
    if opts.detach {
        let resp = client.call(Method::POST, &start_path, &[("content-type", "application/json")], full(body(true)?)).await?;
        if !resp.status().is_success() {
            return Err(crate::client::http::daemon_error(resp).await);
        }
        return Ok(0);
    }
    let headers = [("content-type", "application/json"), ("connection", "Upgrade"), ("upgrade", "tcp")];
    let mut resp = client.call(Method::POST, &start_path, &headers, full(body(false)?)).await?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(crate::client::http::daemon_error(resp).await);
    }
    let upgraded = hyper::upgrade::on(&mut resp).await?;
    let (rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
    // With a terminal: ours goes raw (the container's pty echoes and edits lines), and the
    // pty follows our window size.
    let _raw = if opts.tty { crate::terminal::RawMode::enter().ok().flatten() } else { None };
    let resize_path = format!("/exec/{}/resize", escape(&created.id, false));
    let resizer = opts.tty.then(|| tokio::spawn(follow_window_size(client.clone(), resize_path)));
    // Our stdin goes in until it ends (then the write half is shut, which the daemon
    // passes on as the process's EOF); it is abandoned when the process ends first.
    let input = opts.interactive.then(|| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut wr).await;
            let _ = wr.shutdown().await;
        })
    });
    let mut sink = if opts.tty { StdioSink::raw() } else { StdioSink::multiplexed() };
    let copied = copy_reader(rd, &mut sink).await;
    for task in [input, resizer].into_iter().flatten() {
        task.abort();
    }
    copied?;
    let inspect: ExecInspect = client.get_json(&format!("/exec/{}/json", escape(&created.id, false))).await?;
    // The stream ended with the process running: detached (the detach keys).
    if inspect.running {
        return Ok(0);
    }
    Ok(inspect.exit_code.map(|c| (c & 0xff) as u8).unwrap_or(126))
}

/// Our terminal's (columns, rows), from stdout or else stdin.
pub(super) fn terminal_size() -> Option<(u32, u32)> {
    use std::os::fd::AsRawFd;
    crate::terminal::window_size(std::io::stdout().as_raw_fd()).or_else(|| crate::terminal::window_size(std::io::stdin().as_raw_fd()))
}

/// Sends our terminal's size to `resize_path` (an exec's or a container's `/resize`) now
/// and on every SIGWINCH.
pub(super) async fn follow_window_size(client: EngineClient, resize_path: String) {
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    loop {
        if let Some((w, h)) = terminal_size() {
            let path = format!("{resize_path}?h={h}&w={w}");
            if let Err(e) = client.post_empty(&path).await {
                tracing::debug!("resize exec: {e}");
            }
        }
        match winch.as_mut() {
            Some(w) => {
                if w.recv().await.is_none() {
                    return;
                }
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_has_docker_field_names() {
        let opts = ExecOptions {
            interactive: true,
            env: vec!["A=1".into()],
            workdir: Some("/tmp".into()),
            container: "c".into(),
            cmd: vec!["sh".into(), "-c".into(), "cat".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(create_request(&opts)).unwrap_or_default();
        assert_eq!(v["Cmd"][2], "cat");
        assert_eq!(v["Env"][0], "A=1");
        assert_eq!(v["WorkingDir"], "/tmp");
        assert_eq!(v["AttachStdin"], true);
        assert_eq!(v["AttachStdout"], true);
        assert_eq!(v["Tty"], false);
    }
}
