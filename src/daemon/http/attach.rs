//! `POST /containers/{id}/attach` and `/containers/{id}/resize`: a container's output (read
//! from its json-file log, which the shim or the monolithic daemon writes) to the client,
//! and the client's input into the container's stdin fifo.

use super::containers::{entry_frame, wants, LineStyle};
use super::{flag, ApiError, ApiResult, D, Q};
use crate::daemon::attach::{copy_input, parse_detach_keys, InputEnd, DEFAULT_DETACH_KEYS};
use crate::daemon::logstream::{self, ReadFrom};
use crate::daemon::DaemonError;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

/// `POST /containers/{id}/attach?stream=&logs=&stdin=&stdout=&stderr=&detachKeys=`: upgrades
/// the connection to a raw stream and sends the container's output (raw with a terminal,
/// else in Docker's multiplexed framing) until it exits. With `stdin` (and `OpenStdin`), the
/// client's input goes to the container; with a terminal, the detach keys end the attach
/// and leave the container running. The end of the input closes the container's stdin with
/// `StdinOnce` (and no terminal), else it ends the attach, as in Docker.
pub(super) async fn container_attach(State(d): D, Path(id): Path<String>, Query(q): Q, mut req: Request) -> ApiResult<Response> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    let tty = c.config.tty;
    let keys = match q.get("detachKeys").map(String::as_str) {
        None | Some("") => DEFAULT_DETACH_KEYS.to_vec(),
        Some(k) => parse_detach_keys(k).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?,
    };
    // As Docker: stdin is attached only to a container that keeps it open.
    let stdin = if flag(&q, "stdin") && c.config.open_stdin { Some(d.attach_stdin(&c)?) } else { None };
    let from = if flag(&q, "logs") { ReadFrom::Start } else { ReadFrom::End };
    let mut rx = logstream::follow(d.clone(), id.clone(), from, flag(&q, "stream"));
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        let (end_tx, end_rx) = oneshot::channel::<InputEnd>();
        let input = stdin.map(|mut fifo| {
            let (d, id, stdin_once, attached_at) = (d.clone(), id.clone(), c.config.stdin_once, c.state.started_at);
            tokio::spawn(async move {
                match copy_input(&mut rd, &mut fifo, tty.then_some(&keys[..])).await {
                    // The attach goes on: the container's output until it exits.
                    InputEnd::Eof if stdin_once && !tty => {
                        tokio::spawn(async move { d.close_container_stdin(&id, fifo, attached_at).await });
                    }
                    end => {
                        drop(fifo);
                        let _ = end_tx.send(end);
                    }
                }
            })
        });
        let input_ended = async move {
            match end_rx.await {
                Ok(end) => end,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::pin!(input_ended);
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => if wants(&q, &e) && wr.write_all(&entry_frame(&e, LineStyle::default(), tty)).await.is_err() { break },
                    None => break,
                },
                end = &mut input_ended => {
                    tracing::debug!(container = %id, "attach ended by its input: {end:?}");
                    break;
                }
            }
        }
        let _ = wr.shutdown().await;
        // A client still sending input after the stream ended (the container exited) is
        // not read any more; a stdin close already under way finishes.
        if let Some(task) = input
            && !task.is_finished()
        {
            task.abort();
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `POST /containers/{id}/resize?h=H&w=W`.
pub(super) async fn container_resize(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let dim = |k: &str| -> ApiResult<u32> {
        q.get(k).map(String::as_str).unwrap_or("0").parse().map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("invalid {k}: {:?}", q.get(k))))
    };
    d.container_resize(&id, dim("w")?, dim("h")?).await?;
    Ok(StatusCode::OK)
}
