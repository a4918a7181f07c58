//! `/volumes`: create, list, inspect, remove and prune.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;
use serde_json::Value;

use super::{ApiResult, D, Q};
use crate::api::filters::Filters;
use crate::daemon::DaemonError;

fn filters(q: &std::collections::HashMap<String, String>) -> Result<Filters, DaemonError> {
    Ok(Filters::parse(q.get("filters").map(String::as_str))?)
}

/// `POST /volumes/create`: the volume, 201.
pub(super) async fn volume_create(State(d): D, body: Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let raw: Value = super::decode_json(&body)?;
    Ok((StatusCode::CREATED, Json(d.volume_create(&raw)?)))
}

/// `GET /volumes`.
pub(super) async fn volumes_list(State(d): D, axum::extract::Query(q): Q) -> ApiResult<Json<Value>> {
    Ok(Json(d.volume_list(&filters(&q)?)?))
}

/// `GET /volumes/{name}`.
pub(super) async fn volume_inspect(State(d): D, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(d.volume_inspect(&name)?))
}

/// `DELETE /volumes/{name}[?force=]`: 204.
pub(super) async fn volume_remove(State(d): D, Path(name): Path<String>, axum::extract::Query(q): Q) -> ApiResult<StatusCode> {
    d.volume_remove(&name, super::flag(&q, "force"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /volumes/prune`.
pub(super) async fn volumes_prune(State(d): D, axum::extract::Query(q): Q) -> ApiResult<Json<Value>> {
    Ok(Json(d.volume_prune(&filters(&q)?)?))
}
