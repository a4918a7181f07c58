//! Container endpoints: create, start, stop, kill, pause, unpause, wait, logs, inspect,
//! list, remove (attach and resize: `attach.rs`).

use super::{blocking, flag, ApiError, ApiResult, D, Q};
use crate::api::filters::Filters;
use crate::api::stream::{frame, StdStream};
use crate::api::types::*;
use crate::daemon::container::Status;
use crate::daemon::logstream::{self, ReadFrom};
use crate::daemon::ps::ListOptions;
use crate::daemon::{ContainerEvent, DaemonError};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use std::collections::HashMap;

/// `Ports` of a `ps` entry: each published binding, then each exposed port not published.
fn ps_ports(c: &crate::daemon::container::Container) -> Vec<serde_json::Value> {
    let maps = c.sandbox.as_ref().map(|s| s.ports.clone()).unwrap_or_default();
    let mut out: Vec<serde_json::Value> = maps
        .iter()
        .map(|p| serde_json::json!({ "IP": p.host_ip.to_string(), "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto }))
        .collect();
    for k in c.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        if let Ok((port, proto)) = crate::daemon::network::plan::port_key(k)
            && !maps.iter().any(|m| m.container_port == port && m.proto == proto)
        {
            out.push(serde_json::json!({ "PrivatePort": port, "Type": proto }));
        }
    }
    out
}

/// The `ps` entry of `c` at time `now` (sizes left out).
pub(super) fn summary(c: &crate::daemon::container::Container, now: chrono::DateTime<chrono::Utc>) -> ContainerSummary {
    ContainerSummary {
        id: c.id.clone(),
        names: vec![c.name.clone()],
        image: c.image_name.clone(),
        image_id: c.image_id.clone(),
        command: c.command_line(),
        created: c.created.timestamp(),
        state: c.state_name().into(),
        status: c.status_text(now),
        ports: ps_ports(c),
        labels: c.config.labels.clone().unwrap_or_default(),
        host_config: serde_json::json!({ "NetworkMode": c.host_config.network_mode }),
        network_settings: serde_json::json!({ "Networks": crate::daemon::inspect::networks(c) }),
        mounts: crate::daemon::mountpoints::inspect(&c.host_config),
        size_rw: None,
        size_root_fs: None,
    }
}

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub(super) async fn containers_list(State(d): D, Query(q): Q) -> ApiResult<Json<Vec<ContainerSummary>>> {
    let opts = ListOptions {
        all: flag(&q, "all"),
        limit: match q.get("limit").map(String::as_str) {
            None | Some("") => 0,
            Some(l) => l.parse().map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("invalid limit: {l:?} is not an integer")))?,
        },
        filters: Filters::parse(q.get("filters").map(String::as_str)).map_err(DaemonError::from)?,
    };
    let size = flag(&q, "size");
    let now = chrono::Utc::now();
    super::blocking(move || {
        let cs = d.list_containers(&opts)?;
        Ok(cs
            .iter()
            .map(|c| {
                let mut s = summary(c, now);
                if size {
                    let (rw, rootfs) = d.container_size(c, d.images.get(&c.image_id).ok().as_ref());
                    (s.size_rw, s.size_root_fs) = (Some(rw as i64), Some(rootfs as i64));
                }
                s
            })
            .collect())
    })
    .await
    .map(Json)
}

pub(super) async fn container_create(State(d): D, Query(q): Q, body: Bytes) -> ApiResult<(StatusCode, Json<ContainerCreateResponse>)> {
    let raw: serde_json::Value = super::decode_json(&body)?;
    let refused = crate::api::create_fields::unsupported(&raw);
    if !refused.is_empty() {
        return Err(DaemonError::BadRequest(format!(
            "berth does not implement {} yet: the container is not created rather than created without {}",
            refused.join(", "),
            if refused.len() == 1 { "it" } else { "them" }
        ))
        .into());
    }
    let req: ContainerCreateRequest = super::decode_json(&body)?;
    let resp = d.create(req, q.get("name").map(String::as_str))?;
    Ok((StatusCode::CREATED, Json(resp)))
}

fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

/// `GET /containers/{id}/json`: berth's record of the container in Docker's whole shape.
/// With `size`, `SizeRw` and `SizeRootFs` too (`docker inspect -s`).
pub(super) async fn container_inspect(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<Json<serde_json::Value>> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    let s = &c.state;
    let mut config = c.config.clone();
    config.env = Some(c.env.clone());
    let image = d.images.get(&c.image_id).ok();
    let (entrypoint, cmd) = crate::daemon::container::inspect_command(&c, image.as_ref().map(|i| &i.config.config));
    let list = |v: Vec<String>| if v.is_empty() { None } else { Some(v) };
    config.entrypoint = list(entrypoint);
    config.cmd = list(cmd);
    let inspect = ContainerInspect {
        id: c.id.clone(),
        created: rfc3339(Some(c.created)),
        path: c.path.clone(),
        args: c.args.clone(),
        state: ContainerState {
            status: c.state_name().into(),
            // Docker's: a container waiting to restart counts as running.
            running: s.status == Status::Running || s.restarting,
            paused: s.status == Status::Running && s.paused,
            restarting: s.restarting,
            pid: s.pid as i64,
            exit_code: s.exit_code,
            error: s.error.clone(),
            started_at: rfc3339(s.started_at),
            finished_at: rfc3339(s.finished_at),
            health: s.health.clone(),
            oom_killed: s.oom_killed,
            ..Default::default()
        },
        image: c.image_id.clone(),
        name: c.name.clone(),
        restart_count: c.restart_count.into(),
        driver: d.storage_driver_name().into(),
        platform: "linux".into(),
        log_path: c.log_path.clone(),
        config,
        host_config: c.host_config.clone(),
        network_settings: serde_json::json!({ "Networks": {} }),
        mounts: crate::daemon::mountpoints::inspect(&c.host_config),
    };
    let mut v = serde_json::to_value(inspect).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    d.complete_container_inspect(&c, &mut v);
    if flag(&q, "size") {
        let (rw, rootfs) = blocking(move || Ok(d.container_size(&c, image.as_ref()))).await?;
        v["SizeRw"] = rw.into();
        v["SizeRootFs"] = rootfs.into();
    }
    Ok(Json(v))
}

/// `POST /containers/prune[?filters=]`: removes the stopped containers passing the filters.
pub(super) async fn containers_prune(State(d): D, Query(q): Q) -> ApiResult<Json<crate::daemon::prune::ContainersPruneReport>> {
    let filters = Filters::parse(q.get("filters").map(String::as_str)).map_err(DaemonError::from)?;
    Ok(Json(detached(d, move |d| async move { d.prune_containers(&filters).await }).await?))
}

/// `GET /containers/{id}/export`: the container's whole filesystem as a tar, streamed.
pub(super) async fn container_export(State(d): D, Path(id): Path<String>) -> ApiResult<Response> {
    // Resolved first, so that an unknown container is a 404 rather than a broken stream.
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    Ok(super::tar_response(format!("export {id}"), move |w| d.export(&id, w).map_err(|e| e.to_string())))
}

/// Runs a state-changing operation in a task of its own: a client that goes away midway
/// (Ctrl-C on `docker stop -t 4`, on `docker rm -f`) does not cut it off between its steps;
/// the container ends up where the operation takes it, whatever the client does.
async fn detached<T, F, Fut>(d: std::sync::Arc<crate::daemon::Daemon>, op: F) -> Result<T, DaemonError>
where
    F: FnOnce(std::sync::Arc<crate::daemon::Daemon>) -> Fut,
    Fut: std::future::Future<Output = Result<T, DaemonError>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(op(d)).await.unwrap_or_else(|source| Err(DaemonError::Task { what: "operation".into(), source }))
}

pub(super) async fn container_start(State(d): D, Path(id): Path<String>) -> ApiResult<StatusCode> {
    detached(d, move |d| async move { d.start_container(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `t` (stop timeout, seconds) of a stop or restart.
fn stop_timeout(q: &std::collections::HashMap<String, String>) -> ApiResult<Option<i64>> {
    match q.get("t").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(t) => t.parse::<i64>().map(Some).map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("invalid value for t: {t:?} is not an integer"))),
    }
}

pub(super) async fn container_stop(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let t = stop_timeout(&q)?;
    detached(d, move |d| async move { d.stop(&id, t).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_restart(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let t = stop_timeout(&q)?;
    detached(d, move |d| async move { d.restart(&id, t).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_rename(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let name = q.get("name").filter(|n| !n.is_empty()).ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "name must be given".into()))?;
    d.rename(&id, name)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_top(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<Json<crate::daemon::top::Top>> {
    Ok(Json(d.top(&id, q.get("ps_args").map(String::as_str)).await?))
}

pub(super) async fn container_changes(State(d): D, Path(id): Path<String>) -> ApiResult<Json<Vec<serde_json::Value>>> {
    Ok(Json(blocking(move || d.changes(&id)).await?))
}

pub(super) async fn container_kill(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let signal = q.get("signal").cloned();
    detached(d, move |d| async move { d.kill(&id, signal.as_deref()).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_pause(State(d): D, Path(id): Path<String>) -> ApiResult<StatusCode> {
    detached(d, move |d| async move { d.pause(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_unpause(State(d): D, Path(id): Path<String>) -> ApiResult<StatusCode> {
    detached(d, move |d| async move { d.unpause(&id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn container_remove(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let force = flag(&q, "force");
    detached(d, move |d| async move { d.remove(&id, force).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/wait`: headers go out at once (clients wait for them before
/// starting the container); the body follows when the condition is met.
pub(super) async fn container_wait(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    // Empty is the default too: the 20.10 CLI's attach sends `condition=`.
    let condition = q.get("condition").filter(|c| !c.is_empty()).cloned().unwrap_or_else(|| "not-running".into());
    if !["not-running", "next-exit", "removed"].contains(&condition.as_str()) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("invalid condition: {condition:?}")));
    }
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    let mut events = d.subscribe();
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    let immediate = condition == "not-running" && c.state.status != Status::Running;
    let initial_code = c.state.exit_code;
    let fut = async move {
        let code = if immediate {
            initial_code
        } else {
            loop {
                match events.recv().await {
                    Ok(ContainerEvent::Exited { id: e, exit_code }) if e == id && condition != "removed" => {
                        break exit_code;
                    }
                    Ok(ContainerEvent::Removed { id: e, exit_code }) if e == id => break exit_code,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break -1,
                    _ => {}
                }
            }
        };
        let mut body = serde_json::to_vec(&WaitResponse { status_code: code, error: None }).unwrap_or_default();
        body.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(body))
    };
    let stream = futures::stream::once(fut);
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response())
}

/// How a logs reader asked for each line: Docker's `timestamps` and `details` prefixes.
#[derive(Clone, Copy, Default)]
pub(super) struct LineStyle {
    pub timestamps: bool,
    /// The line's log attributes first: berth's json-file keeps none (the log options that
    /// add them, `labels`/`env`/`tag`, are refused at create), so Docker's empty set and
    /// its separating space.
    pub details: bool,
}

/// Log entry `e` as a client reads it: raw for a container with a terminal (its one
/// stream), else in Docker's multiplexed framing.
pub(super) fn entry_frame(e: &crate::logs::jsonfile::Entry, style: LineStyle, tty: bool) -> Vec<u8> {
    let details = if style.details { " " } else { "" };
    let payload = if style.timestamps { format!("{} {details}{}", e.time, e.log) } else { format!("{details}{}", e.log) };
    if tty {
        return payload.into_bytes();
    }
    frame(StdStream::from_name(&e.stream), payload.as_bytes())
}

pub(super) fn wants(q: &HashMap<String, String>, e: &crate::logs::jsonfile::Entry) -> bool {
    let (out, err) = (flag(q, "stdout"), flag(q, "stderr"));
    (e.stream == "stdout" && out) || (e.stream == "stderr" && err)
}

/// `tail` of a logs request: None for every line (`all`, empty, or a negative number, as
/// Docker takes it), else how many of the last lines.
fn tail_of(q: &HashMap<String, String>) -> ApiResult<Option<usize>> {
    match q.get("tail").map(String::as_str) {
        None | Some("") | Some("all") => Ok(None),
        Some(t) => match t.parse::<i64>() {
            Ok(n) => Ok(usize::try_from(n).ok()),
            Err(_) => Err(ApiError(StatusCode::BAD_REQUEST, format!("invalid value for tail: {t:?} is neither \"all\" nor a number of lines"))),
        },
    }
}

/// The time of log entry `e` (entries whose time cannot be read count as the oldest).
fn entry_time(e: &crate::logs::jsonfile::Entry) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&e.time).map(|t| t.with_timezone(&chrono::Utc)).unwrap_or_default()
}

/// `GET /containers/{id}/logs?stdout=&stderr=&follow=&timestamps=&tail=&since=&until=`.
pub(super) async fn container_logs(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    if !flag(&q, "stdout") && !flag(&q, "stderr") {
        return Err(ApiError(StatusCode::BAD_REQUEST, "Bad parameters: you must choose at least one stream".into()));
    }
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    let tty = c.config.tty;
    let follow = flag(&q, "follow");
    let style = LineStyle { timestamps: flag(&q, "timestamps"), details: flag(&q, "details") };
    let tail = tail_of(&q)?;
    let bound = |name: &str| {
        crate::api::timestamp::parse(name, q.get(name).map(String::as_str).unwrap_or(""))
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))
    };
    let (since, until) = (bound("since")?, bound("until")?);
    let in_window = move |e: &crate::logs::jsonfile::Entry| {
        let t = entry_time(e);
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
    };
    // The tail is cut from what is on disk now; following continues from there.
    let (existing, offset) =
        crate::logs::jsonfile::read_all(std::path::Path::new(&c.log_path)).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut existing: Vec<_> = existing.into_iter().filter(|e| wants(&q, e) && in_window(e)).collect();
    if let Some(n) = tail {
        let skip = existing.len().saturating_sub(n);
        existing.drain(..skip);
    }
    let head = futures::stream::iter(existing.into_iter().map(move |e| Ok::<_, std::io::Error>(Bytes::from(entry_frame(&e, style, tty)))));
    let now = chrono::Utc::now();
    let body = if follow && c.state.status == Status::Running && until.is_none_or(|u| u > now) {
        let rx = logstream::follow(d.clone(), id, ReadFrom::At(offset), true);
        let q2 = q.clone();
        // With `until`, following ends when that time comes (or a later line does).
        let deadline = until.map(|u| tokio::time::Instant::now() + (u - now).to_std().unwrap_or_default());
        let end = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let rest = tokio_stream_from(rx)
            .take_until(end)
            .take_while(move |e| futures::future::ready(until.is_none_or(|u| entry_time(e) <= u)))
            .filter(move |e| futures::future::ready(wants(&q2, e) && since.is_none_or(|s| entry_time(e) >= s)))
            .map(move |e| Ok(Bytes::from(entry_frame(&e, style, tty))));
        Body::from_stream(head.chain(rest))
    } else {
        Body::from_stream(head)
    };
    Ok(([(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")], body).into_response())
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
