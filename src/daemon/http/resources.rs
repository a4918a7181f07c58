//! A container's resources: `POST /containers/{id}/update` (new limits and restart policy)
//! and `GET /containers/{id}/stats` (its usage, once or streamed).

use super::{decode_json, flag, ApiError, ApiResult, D, Q};
use crate::daemon::update::UpdateResponse;
use crate::daemon::DaemonError;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub(super) async fn container_update(State(d): D, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<UpdateResponse>> {
    let body: serde_json::Value = decode_json(&body)?;
    // Detached: a client that hangs up mid-update does not cut it short.
    let r = tokio::spawn(async move { d.update_container(&id, &body).await })
        .await
        .unwrap_or_else(|source| Err(DaemonError::Task { what: "update".into(), source }))?;
    Ok(Json(r))
}

pub(super) async fn container_stats(State(d): D, Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let id = d.containers.resolve(&id).map_err(DaemonError::from)?;
    // `stream` defaults to true when absent or empty (Docker's BoolValueOrDefault).
    let stream = q.get("stream").is_none_or(|v| v.is_empty()) || flag(&q, "stream");
    let one_shot = flag(&q, "one-shot");
    if stream && one_shot {
        return Err(ApiError(StatusCode::BAD_REQUEST, "cannot have stream=true and one-shot=true".into()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(d.stats_feed(id, stream, one_shot, tx));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        let s = rx.recv().await?;
        let mut line = serde_json::to_vec(&s).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, std::io::Error>(Bytes::from(line)), rx))
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response())
}
