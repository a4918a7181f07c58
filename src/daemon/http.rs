//! The Engine API (v1.41) over HTTP: axum routes that parse requests, call the daemon and
//! encode answers the way the docker CLI and docker-py expect.

use super::container::Status;
use super::logstream::{self, ReadFrom};
use super::{ContainerEvent, Daemon, DaemonError};
use crate::api::stream::{frame, StdStream};
use crate::api::types::*;
use crate::api::{API_VERSION, MIN_API_VERSION};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

type D = State<Arc<Daemon>>;
type Q = Query<HashMap<String, String>>;

/// An Engine API error: a status code and Docker's `{"message": ...}` body.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::NOT_MODIFIED {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        (self.0, Json(ErrorResponse { message: self.1 })).into_response()
    }
}

impl From<DaemonError> for ApiError {
    fn from(e: DaemonError) -> Self {
        let code = match &e {
            DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
            DaemonError::Conflict(_) => StatusCode::CONFLICT,
            DaemonError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DaemonError::NotModified(_) => StatusCode::NOT_MODIFIED,
            DaemonError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(code, e.to_string())
    }
}

impl From<crate::image::ImageError> for ApiError {
    fn from(e: crate::image::ImageError) -> Self {
        DaemonError::from(e).into()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The router, with the `/vX.Y` prefix stripped from paths before routing.
pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/images/json", get(images_list))
        .route("/images/create", post(images_create))
        .route("/images/{name}/json", get(image_inspect))
        .route("/containers/json", get(containers_list))
        .route("/containers/create", post(container_create))
        .route("/containers/{id}/json", get(container_inspect))
        .route("/containers/{id}/start", post(container_start))
        .route("/containers/{id}/stop", post(container_stop))
        .route("/containers/{id}/kill", post(container_kill))
        .route("/containers/{id}/wait", post(container_wait))
        .route("/containers/{id}/attach", post(container_attach))
        .route("/containers/{id}/logs", get(container_logs))
        .route("/containers/{id}", delete(container_remove))
        .fallback(not_found)
        .layer(axum::middleware::map_response(server_headers))
        .with_state(daemon)
}

/// Strips the API version prefix (`/v1.41/containers/json` → `/containers/json`) and
/// refuses versions older than we speak.
pub fn strip_version(mut req: Request) -> Request {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(slash) = rest.find('/') {
            let ver = &rest[..slash];
            if !ver.is_empty() && ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let new_path = rest[slash..].to_owned();
                let pq = match req.uri().query() {
                    Some(q) => format!("{new_path}?{q}"),
                    None => new_path,
                };
                if let Ok(uri) = pq.parse::<Uri>() {
                    *req.uri_mut() = uri;
                }
            }
        }
    }
    req
}

async fn server_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(header::SERVER, HeaderValue::from_static(concat!("Docker/berth-", env!("CARGO_PKG_VERSION"), " (linux)")));
    resp
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("page not found: {method} {}", uri.path()))
}

async fn ping(method: Method) -> Response {
    let mut r = if method == Method::HEAD { StatusCode::OK.into_response() } else { "OK".into_response() };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    r
}

fn kernel_version() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

async fn version(State(d): D) -> Json<Version> {
    let (comp, comp_ver) = d.backend().component();
    let engine = ComponentVersion {
        name: "Engine".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        details: HashMap::from([
            ("ApiVersion".into(), API_VERSION.into()),
            ("MinAPIVersion".into(), MIN_API_VERSION.into()),
            ("Os".into(), "linux".into()),
            ("Arch".into(), "amd64".into()),
            ("KernelVersion".into(), kernel_version()),
            ("GitCommit".into(), "berth".into()),
            ("GoVersion".into(), "rust".into()),
            ("BuildTime".into(), String::new()),
            ("Experimental".into(), "false".into()),
        ]),
    };
    Json(Version {
        platform: HashMap::from([("Name".into(), "berth".into())]),
        components: vec![
            engine,
            ComponentVersion { name: comp.into(), version: comp_ver.into(), details: HashMap::new() },
        ],
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: "berth".into(),
        go_version: "rust".into(),
        os: "linux".into(),
        arch: "amd64".into(),
        kernel_version: kernel_version(),
        build_time: String::new(),
    })
}

fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

async fn info(State(d): D) -> Json<serde_json::Value> {
    let cs = d.containers.list();
    let running = cs.iter().filter(|c| c.state.status == Status::Running).count();
    let images = d.images.list().map(|l| l.len()).unwrap_or(0);
    let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .unwrap_or(0)
        * 1024;
    let mode = if d.config.monolithic { "monolithic" } else { "modular" };
    Json(serde_json::json!({
        "ID": "berth",
        "Containers": cs.len(),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": cs.len() - running,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": { "Volume": [], "Network": [], "Authorization": null, "Log": ["json-file"] },
        "MemoryLimit": true, "SwapLimit": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
        "CPUShares": true, "CPUSet": true, "PidsLimit": true, "IPv4Forwarding": false,
        "Debug": false, "NFd": 0, "NGoroutines": 0, "OomKillDisable": false,
        "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": "berth",
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": { "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [], "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": [] },
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem,
        "GenericResources": null,
        "DockerRootDir": d.config.root,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": hostname,
        "Labels": [format!("berth.mode={mode}")],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": { "berth": { "path": "berth-runtime" } },
        "DefaultRuntime": "berth",
        "Swarm": { "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
        "LiveRestoreEnabled": !d.config.monolithic,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": { "ID": "berth", "Expected": "berth" },
        "RuncCommit": { "ID": "berth", "Expected": "berth" },
        "InitCommit": { "ID": "", "Expected": "" },
        "SecurityOptions": [],
        "Warnings": null
    }))
}

fn image_summary(img: &crate::image::Image, containers: i64) -> ImageSummary {
    let created = chrono::DateTime::parse_from_rfc3339(&img.config.created).map(|t| t.timestamp()).unwrap_or(0);
    ImageSummary {
        id: img.id.clone(),
        repo_tags: if img.tags.is_empty() { vec!["<none>:<none>".into()] } else { img.tags.clone() },
        created,
        size: img.size as i64,
        virtual_size: img.size as i64,
        shared_size: -1,
        containers,
        ..Default::default()
    }
}

async fn images_list(State(d): D) -> ApiResult<Json<Vec<ImageSummary>>> {
    let cs = d.containers.list();
    let mut out: Vec<ImageSummary> = d
        .images
        .list()?
        .iter()
        .map(|i| image_summary(i, cs.iter().filter(|c| c.image_id == i.id).count() as i64))
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created));
    Ok(Json(out))
}

async fn image_inspect(State(d): D, Path(name): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let img = d.images.get(&name)?;
    Ok(Json(serde_json::json!({
        "Id": img.id,
        "RepoTags": img.tags,
        "RepoDigests": [],
        "Parent": "",
        "Comment": "",
        "Created": img.config.created,
        "Config": img.config.config,
        "Architecture": img.config.architecture,
        "Os": img.config.os,
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": { "Name": "overlay2", "Data": null },
        "RootFS": { "Type": "layers", "Layers": img.config.rootfs.diff_ids },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" }
    })))
}

/// `POST /images/create`: only `fromSrc=-` (import of the request body) for now.
async fn images_create(State(d): D, Query(q): Q, body: Body) -> ApiResult<Response> {
    if q.get("fromSrc").map(String::as_str) != Some("-") {
        let what = q.get("fromImage").cloned().unwrap_or_default();
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("pull access denied for {what}: berth cannot pull from registries yet; import a rootfs tar with `berth import`"),
        ));
    }
    let name = q.get("repo").filter(|r| !r.is_empty()).map(|r| match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{r}:{t}"),
        None => r.clone(),
    });
    // The upload goes through a pipe into a blocking import: the body is never held whole.
    let (reader, mut writer) = tokio::io::duplex(256 * 1024);
    let mut stream = body.into_data_stream();
    let feeder = tokio::spawn(async move {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return Err("upload interrupted".to_owned()) };
            if writer.write_all(&chunk).await.is_err() {
                return Ok(());
            }
        }
        let _ = writer.shutdown().await;
        Ok(())
    });
    let d2 = d.clone();
    let result = tokio::task::spawn_blocking(move || {
        let sync_reader = tokio_util_sync_reader(reader);
        d2.images.import(sync_reader, name.as_deref(), "Imported from -")
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let upload = feeder.await.unwrap_or(Ok(()));
    let line = match (result, upload) {
        (_, Err(e)) => ProgressMessage { error: Some(e.clone()), error_detail: Some(ErrorResponse { message: e }), ..Default::default() },
        (Ok(img), Ok(())) => ProgressMessage { status: Some(img.id), ..Default::default() },
        (Err(e), Ok(())) => {
            let m = e.to_string();
            ProgressMessage { error: Some(m.clone()), error_detail: Some(ErrorResponse { message: m }), ..Default::default() }
        }
    };
    let mut body = serde_json::to_vec(&line).unwrap_or_default();
    body.extend_from_slice(b"\r\n");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Adapts an async reader to a blocking `Read` for use inside `spawn_blocking`.
fn tokio_util_sync_reader(r: tokio::io::DuplexStream) -> impl std::io::Read {
    struct SyncRead(tokio::io::DuplexStream, tokio::runtime::Handle);
    impl std::io::Read for SyncRead {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            use tokio::io::AsyncReadExt;
            self.1.block_on(self.0.read(buf))
        }
    }
    SyncRead(r, tokio::runtime::Handle::current())
}

fn summary(c: &super::container::Container, now: chrono::DateTime<chrono::Utc>) -> ContainerSummary {
    ContainerSummary {
        id: c.id.clone(),
        names: vec![c.name.clone()],
        image: c.image_name.clone(),
        image_id: c.image_id.clone(),
        command: c.command_line(),
        created: c.created.timestamp(),
        state: c.state.status.as_str().into(),
        status: c.status_text(now),
        ports: vec![],
        labels: c.config.labels.clone().unwrap_or_default(),
        host_config: serde_json::json!({ "NetworkMode": "default" }),
        network_settings: serde_json::json!({ "Networks": {} }),
        mounts: vec![],
    }
}

async fn containers_list(State(d): D, Query(q): Q) -> Json<Vec<ContainerSummary>> {
    let all = flag(&q, "all");
    let now = chrono::Utc::now();
    let mut cs: Vec<_> = d.containers.list().into_iter().filter(|c| all || c.state.status == Status::Running).collect();
    cs.sort_by(|a, b| b.created.cmp(&a.created));
    Json(cs.iter().map(|c| summary(c, now)).collect())
}

async fn container_create(State(d): D, Query(q): Q, body: Bytes) -> ApiResult<(StatusCode, Json<ContainerCreateResponse>)> {
    let req: ContainerCreateRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON in request body: {e}")))?;
    let resp = d.create(req, q.get("name").map(String::as_str))?;
    Ok((StatusCode::CREATED, Json(resp)))
}

fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

async fn container_inspect(State(d): D, Path(id): Path<String>) -> ApiResult<Json<ContainerInspect>> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    let s = &c.state;
    let mut config = c.config.clone();
    config.env = Some(c.env.clone());
    config.cmd = Some(std::iter::once(c.path.clone()).chain(c.args.iter().cloned()).collect());
    Ok(Json(ContainerInspect {
        id: c.id.clone(),
        created: rfc3339(Some(c.created)),
        path: c.path.clone(),
        args: c.args.clone(),
        state: ContainerState {
            status: s.status.as_str().into(),
            running: s.status == Status::Running,
            pid: s.pid as i64,
            exit_code: s.exit_code,
            error: s.error.clone(),
            started_at: rfc3339(s.started_at),
            finished_at: rfc3339(s.finished_at),
            ..Default::default()
        },
        image: c.image_id.clone(),
        name: c.name.clone(),
        driver: "overlay2".into(),
        platform: "linux".into(),
        log_path: c.log_path.clone(),
        config,
        host_config: c.host_config.clone(),
        network_settings: serde_json::json!({ "Networks": {} }),
        ..Default::default()
    }))
}

async fn container_start(State(d): D, Path(id): Path<String>) -> ApiResult<StatusCode> {
    d.start_container(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn container_stop(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let t = q.get("t").and_then(|t| t.parse::<i64>().ok()).map(|t| Duration::from_secs(t.max(0) as u64));
    d.stop(&id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn container_kill(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    d.kill(&id, q.get("signal").map(String::as_str)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn container_remove(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    d.remove(&id, flag(&q, "force")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/wait`: headers go out at once (clients wait for them before
/// starting the container); the body follows when the condition is met.
async fn container_wait(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    let condition = q.get("condition").cloned().unwrap_or_else(|| "not-running".into());
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
                    Ok(ContainerEvent::Exited { id: e, exit_code }) if e == id && condition != "removed" => break exit_code,
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

fn entry_frame(e: &crate::logs::jsonfile::Entry, timestamps: bool) -> Vec<u8> {
    let payload = if timestamps { format!("{} {}", e.time, e.log) } else { e.log.clone() };
    frame(StdStream::from_name(&e.stream), payload.as_bytes())
}

fn wants(q: &HashMap<String, String>, e: &crate::logs::jsonfile::Entry) -> bool {
    let (out, err) = (flag(q, "stdout"), flag(q, "stderr"));
    (e.stream == "stdout" && out) || (e.stream == "stderr" && err)
}

/// `POST /containers/{id}/attach`: upgrades the connection to a raw stream and sends the
/// container's output in Docker's multiplexed framing until it exits.
async fn container_attach(State(d): D, Path(id): Path<String>, Query(q): Q, mut req: Request) -> ApiResult<Response> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    if c.config.tty {
        return Err(ApiError(StatusCode::BAD_REQUEST, "attach to a TTY container is not supported yet".into()));
    }
    let from = if flag(&q, "logs") { ReadFrom::Start } else { ReadFrom::End };
    let stream = flag(&q, "stream");
    let mut rx = logstream::follow(d.clone(), id, from, stream);
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        while let Some(e) = rx.recv().await {
            if wants(&q, &e) && io.write_all(&entry_frame(&e, false)).await.is_err() {
                return;
            }
        }
        let _ = io.shutdown().await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?)
}

/// `GET /containers/{id}/logs`.
async fn container_logs(State(d): D, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    if !flag(&q, "stdout") && !flag(&q, "stderr") {
        return Err(ApiError(StatusCode::BAD_REQUEST, "Bad parameters: you must choose at least one stream".into()));
    }
    let follow = flag(&q, "follow");
    let timestamps = flag(&q, "timestamps");
    let tail = q.get("tail").and_then(|t| t.parse::<usize>().ok());
    let c = d.containers.get(&id).map_err(DaemonError::from)?;
    // The tail is cut from what is on disk now; following continues from there.
    let (existing, offset) = crate::logs::jsonfile::read_from(std::path::Path::new(&c.log_path), 0)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut existing: Vec<_> = existing.into_iter().filter(|e| wants(&q, e)).collect();
    if let Some(n) = tail {
        let skip = existing.len().saturating_sub(n);
        existing.drain(..skip);
    }
    let head = futures::stream::iter(existing.into_iter().map(move |e| Ok::<_, std::io::Error>(Bytes::from(entry_frame(&e, timestamps)))));
    let body = if follow && c.state.status == Status::Running {
        let rx = logstream::follow(d.clone(), id, ReadFrom::At(offset), true);
        let q2 = q.clone();
        let rest = tokio_stream_from(rx)
            .filter(move |e| futures::future::ready(wants(&q2, e)))
            .map(move |e| Ok(Bytes::from(entry_frame(&e, timestamps))));
        Body::from_stream(head.chain(rest))
    } else {
        Body::from_stream(head)
    };
    Ok(([(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")], body).into_response())
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
