//! Exec endpoints: create, start (attached through an upgraded connection, or detached),
//! inspect.

use super::{ApiError, ApiResult, D, Q};
use crate::api::stream::{frame, StdStream};
use crate::api::types::{ExecConfig, ExecInspect, ExecStartConfig, IdResponse};
use crate::daemon::attach::{copy_input, InputEnd};
use crate::daemon::exec::ExecSession;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

fn json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    super::decode_json(body)
}

/// `POST /containers/{id}/exec`.
pub(super) async fn exec_create(State(d): D, Path(id): Path<String>, body: Bytes) -> ApiResult<(StatusCode, Json<IdResponse>)> {
    let config: ExecConfig = json_body(&body)?;
    let id = d.exec_create(&id, config)?;
    Ok((StatusCode::CREATED, Json(IdResponse { id })))
}

/// `GET /exec/{id}/json`.
pub(super) async fn exec_inspect(State(d): D, Path(id): Path<String>) -> ApiResult<Json<ExecInspect>> {
    Ok(Json(d.exec_inspect(&id)?))
}

/// `POST /exec/{id}/start`: detached, answers once the process runs. Attached, upgrades
/// the connection when the client asks (the docker CLI does) and carries stdin in and the
/// output out (raw for a terminal, else in Docker's multiplexed framing); else streams the
/// output as the body.
pub(super) async fn exec_start(State(d): D, Path(id): Path<String>, mut req: Request) -> ApiResult<Response> {
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("reading request body: {e}")))?;
    // The exec's own Tty decides the framing; the start body repeats it.
    let start: ExecStartConfig = json_body(&body)?;
    let wants_upgrade = req.headers().get(header::UPGRADE).is_some();
    let tty = d.exec_inspect(&id)?.process_config.tty;
    let raw = |status: StatusCode, body: Body| {
        let content_type = if tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    };
    if !start.detach && wants_upgrade {
        // An unknown exec is refused before the upgrade; a process that fails to start is
        // reported inside the stream, as dockerd does (the client then reads exit code 126).
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let (rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
            match d.exec_start(&id, false, start.console_size).await {
                Ok(session) => pump(session, Some(rd), wr).await,
                Err(e) => {
                    let msg = format!("{e}\r\n");
                    let out = if tty { msg.into_bytes() } else { frame(StdStream::Stderr, msg.as_bytes()) };
                    let _ = wr.write_all(&out).await;
                    let _ = wr.shutdown().await;
                }
            }
        });
        let mut r = raw(StatusCode::SWITCHING_PROTOCOLS, Body::empty())?;
        r.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("Upgrade"));
        r.headers_mut().insert(header::UPGRADE, header::HeaderValue::from_static("tcp"));
        return Ok(r);
    }
    let session = d.exec_start(&id, start.detach, start.console_size).await?;
    if start.detach {
        return Ok(Response::new(Body::empty()));
    }
    let (wr, rd) = tokio::io::duplex(64 * 1024);
    tokio::spawn(pump(session, None::<tokio::io::Empty>, wr));
    let chunks = futures::stream::unfold(rd, |mut rd| async move {
        let mut buf = vec![0u8; 32 * 1024];
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), rd))
            }
        }
    });
    raw(StatusCode::OK, Body::from_stream(chunks))
}

/// `POST /exec/{id}/resize?h=H&w=W`.
pub(super) async fn exec_resize(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let dim = |k: &str| -> ApiResult<u32> {
        q.get(k).map(String::as_str).unwrap_or("0").parse().map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("invalid {k}: {:?}", q.get(k))))
    };
    d.exec_resize(&id, dim("w")?, dim("h")?).await?;
    Ok(StatusCode::OK)
}

/// Moves the client's input to the process's stdin and the process's output, framed, to
/// the client, until the process has exited and its output ended (or stopped coming).
async fn pump<R, W>(mut session: ExecSession, client_in: Option<R>, mut client_out: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let (detach_tx, detach_rx) = tokio::sync::oneshot::channel::<()>();
    if let (Some(mut input), Some(mut stdin)) = (client_in, session.stdin.take()) {
        let close = std::mem::replace(&mut session.close_stdin, Box::new(|| {}));
        let keys = session.detach_keys.take();
        tokio::spawn(async move {
            match copy_input(&mut input, &mut stdin, keys.as_deref()).await {
                // The process runs on, its stdin open.
                InputEnd::Detached => {
                    let _ = detach_tx.send(());
                }
                InputEnd::Eof | InputEnd::Closed => {
                    drop(stdin);
                    close();
                }
            }
        });
    }
    let detached = async move {
        if detach_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(detached);
    let tty = session.tty;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    for (reader, kind) in [(session.stdout.take(), StdStream::Stdout), (session.stderr.take(), StdStream::Stderr)] {
        let Some(mut reader) = reader else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = reader.read(&mut buf).await {
                if n == 0 {
                    return;
                }
                let chunk = if tty { buf[..n].to_vec() } else { frame(kind, &buf[..n]) };
                if tx.send(chunk).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut exited = session.exited.clone();
    let exit_then_drain = async move {
        let _ = exited.wait_for(Option::is_some).await;
        tokio::time::sleep(crate::daemon::exec::OUTPUT_DRAIN_TIMEOUT).await;
    };
    tokio::pin!(exit_then_drain);
    let mut was_detached = false;
    loop {
        tokio::select! {
            f = rx.recv() => match f {
                Some(f) => if client_out.write_all(&f).await.is_err() { break },
                None => break,
            },
            _ = &mut exit_then_drain => break,
            _ = &mut detached => {
                was_detached = true;
                break;
            }
        }
    }
    // The exit is recorded before the client sees the end: it asks for the code next.
    if !was_detached {
        session.exit_code().await;
    }
    let _ = client_out.shutdown().await;
}
