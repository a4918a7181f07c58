//! `/networks`: create, list, inspect, remove, prune, connect and disconnect.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{ApiResult, D, Q};
use crate::api::filters::Filters;
use crate::api::types::EndpointSettings;
use crate::daemon::DaemonError;

fn filters(q: &std::collections::HashMap<String, String>) -> Result<Filters, DaemonError> {
    Ok(Filters::parse(q.get("filters").map(String::as_str))?)
}

/// `POST /networks/create`: `{"Id": ..., "Warning": ""}` with 201.
pub(super) async fn network_create(State(d): D, body: Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let raw: Value = super::decode_json(&body)?;
    let id = d.network_create(&raw)?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id, "Warning": "" }))))
}

/// `GET /networks`.
pub(super) async fn networks_list(State(d): D, axum::extract::Query(q): Q) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(d.network_list(&filters(&q)?)?))
}

/// `GET /networks/{id}` (`verbose` and `scope` as Docker reads them for local networks).
pub(super) async fn network_inspect(State(d): D, Path(id): Path<String>, axum::extract::Query(q): Q) -> ApiResult<Json<Value>> {
    if let Some(s) = q.get("scope").filter(|s| !s.is_empty() && *s != "local") {
        return Err(DaemonError::NotFound(format!("network {id} not found in scope {s}")).into());
    }
    if super::flag(&q, "verbose") {
        return Err(DaemonError::BadRequest("verbose: berth has no swarm networks to describe".into()).into());
    }
    Ok(Json(d.network_inspect(&id)?))
}

/// `DELETE /networks/{id}`: 204.
pub(super) async fn network_remove(State(d): D, Path(id): Path<String>) -> ApiResult<StatusCode> {
    d.network_remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune`: `{"NetworksDeleted": [...]}`.
pub(super) async fn networks_prune(State(d): D, axum::extract::Query(q): Q) -> ApiResult<Json<Value>> {
    let f = filters(&q)?;
    let removed = d.network_prune(&f).await?;
    Ok(Json(json!({ "NetworksDeleted": if removed.is_empty() { Value::Null } else { json!(removed) } })))
}

/// The body of connect and disconnect.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointSettings>,
    force: bool,
}

/// `POST /networks/{id}/connect`.
pub(super) async fn network_connect(State(d): D, Path(id): Path<String>, body: Bytes) -> ApiResult<StatusCode> {
    let b: ConnectBody = super::decode_json(&body)?;
    if b.container.is_empty() {
        return Err(DaemonError::BadRequest("connect: no container given".into()).into());
    }
    d.network_connect(&id, &b.container, &b.endpoint_config.unwrap_or_default()).await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect` (`Force` only matters for swarm: accepted either way).
pub(super) async fn network_disconnect(State(d): D, Path(id): Path<String>, body: Bytes) -> ApiResult<StatusCode> {
    let b: ConnectBody = super::decode_json(&body)?;
    if b.container.is_empty() {
        return Err(DaemonError::BadRequest("disconnect: no container given".into()).into());
    }
    let _ = b.force;
    d.network_disconnect(&id, &b.container).await?;
    Ok(StatusCode::OK)
}
