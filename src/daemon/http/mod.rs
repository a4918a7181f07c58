//! The Engine API (v1.41) over HTTP: axum routes that parse requests, call the daemon and
//! encode answers the way the docker CLI and docker-py expect.

use super::{Daemon, DaemonError};
use crate::api::API_VERSION;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

mod archive;
mod attach;
mod containers;
mod errors;
mod events;
mod exec;
mod images;
mod networks;
mod resources;
mod serve;
mod system;
mod version;
mod volumes;

pub use errors::ApiError;
pub use serve::{serve, HEADER_READ_TIMEOUT};

use archive::*;
use attach::*;
use containers::*;
use events::*;
use exec::*;
use images::*;
use networks::*;
use resources::*;
use system::*;
use volumes::*;

type D = State<Arc<Daemon>>;
type Q = Query<HashMap<String, String>>;

type ApiResult<T> = Result<T, ApiError>;

/// A boolean query parameter as Docker's `BoolValue` reads it: absent, empty, `0`, `no`,
/// `false` and `none` are false, anything else (`1`, `true`, `yes`, `on`) true.
fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "no" | "false" | "none"))
}

/// Query parameters in order, repeats kept (`changes=a&changes=b`).
type QList = Query<Vec<(String, String)>>;

/// The first non-empty value of `key`.
fn first(q: &[(String, String)], key: &str) -> Option<String> {
    q.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.clone())
}

/// Every non-empty value of `key`.
fn all(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.clone()).collect()
}

/// A blocking writer feeding an HTTP response body.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.blocking_send(Ok(bytes::Bytes::copy_from_slice(buf))).map_err(|_| std::io::Error::other("client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A tar response whose body `produce` writes from a blocking thread. An error midway
/// breaks the body, which tells the client the archive is incomplete.
fn tar_response<F>(what: String, produce: F) -> Response
where
    F: FnOnce(&mut dyn std::io::Write) -> Result<(), String> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let err_tx = tx.clone();
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter(tx));
        let result = produce(&mut out).and_then(|()| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!("{what}: {e}");
            let _ = err_tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    ([(header::CONTENT_TYPE, "application/x-tar")], axum::body::Body::from_stream(stream)).into_response()
}

/// Runs blocking daemon work (walking files) off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, DaemonError> + Send + 'static) -> ApiResult<T> {
    let r = tokio::task::spawn_blocking(work).await.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(r?)
}

/// The router of version-less paths ([`serve`] checks and strips the `/vX.Y` prefix).
pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/auth", post(auth))
        .route("/system/df", get(system_df))
        .route("/events", get(events))
        .route("/commit", post(commit))
        .route("/images/json", get(images_list))
        .route("/images/prune", post(images_prune))
        .route("/images/create", post(images_create))
        .route("/images/load", post(images_load))
        .route("/images/get", get(images_get))
        .route("/images/{*name}", get(image_named).post(image_named).delete(image_named))
        .route("/volumes", get(volumes_list))
        .route("/volumes/create", post(volume_create))
        .route("/volumes/prune", post(volumes_prune))
        .route("/volumes/{name}", get(volume_inspect).delete(volume_remove))
        .route("/networks", get(networks_list))
        .route("/networks/create", post(network_create))
        .route("/networks/prune", post(networks_prune))
        .route("/networks/{id}", get(network_inspect).delete(network_remove))
        .route("/networks/{id}/connect", post(network_connect))
        .route("/networks/{id}/disconnect", post(network_disconnect))
        .route("/containers/json", get(containers_list))
        .route("/containers/prune", post(containers_prune))
        .route("/distribution/{*name}", get(distribution_inspect))
        .route("/containers/create", post(container_create))
        .route("/containers/{id}/json", get(container_inspect))
        .route("/containers/{id}/start", post(container_start))
        .route("/containers/{id}/stop", post(container_stop))
        .route("/containers/{id}/kill", post(container_kill))
        .route("/containers/{id}/restart", post(container_restart))
        .route("/containers/{id}/rename", post(container_rename))
        .route("/containers/{id}/top", get(container_top))
        .route("/containers/{id}/update", post(container_update))
        .route("/containers/{id}/stats", get(container_stats))
        .route("/containers/{id}/changes", get(container_changes))
        .route("/containers/{id}/pause", post(container_pause))
        .route("/containers/{id}/unpause", post(container_unpause))
        .route("/containers/{id}/wait", post(container_wait))
        .route("/containers/{id}/attach", post(container_attach))
        .route("/containers/{id}/resize", post(container_resize))
        .route("/containers/{id}/logs", get(container_logs))
        .route("/containers/{id}/export", get(container_export))
        .route("/containers/{id}/archive", get(container_archive_get).head(container_archive_head).put(container_archive_put))
        .route("/containers/{id}", delete(container_remove))
        .route("/containers/{id}/exec", post(exec_create))
        .route("/exec/{id}/start", post(exec_start))
        .route("/exec/{id}/json", get(exec_inspect))
        .route("/exec/{id}/resize", post(exec_resize))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(errors::BODY_LIMIT))
        .layer(axum::middleware::from_fn(errors::refuse_large_bodies))
        .layer(axum::middleware::map_response(errors::json_errors))
        .layer(axum::middleware::map_response(server_headers))
        .with_state(daemon)
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

/// Decodes a JSON request body; an error names the field it is in (`Cmd: invalid type ...`).
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = if path.is_empty() || path == "." {
            format!("invalid JSON in request body: {inner}")
        } else {
            format!("invalid JSON in request body: {path}: {inner}")
        };
        ApiError(StatusCode::BAD_REQUEST, msg)
    })
}
