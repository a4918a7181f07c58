//! `HEAD`, `GET` and `PUT /containers/{id}/archive`: `docker cp` from and into a container.

use super::images::{feed_body, SyncRead};
use super::{blocking, first, tar_response, ApiError, ApiResult, QList, D};
use crate::daemon::archive::ExtractOptions;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The header carrying the path's stat (base64 of its JSON).
const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// `path`, after refusing every parameter not in `known` by name.
fn path_param(q: &[(String, String)], known: &[&str], what: &str) -> ApiResult<String> {
    if let Some((k, _)) = q.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("unknown query parameter {k:?}: {what} takes {}", known.join(", "))));
    }
    first(q, "path").ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "bad parameter: path cannot be empty".into()))
}

fn stat_header(stat: &crate::daemon::archive::PathStat) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&stat.header_value()).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

pub(super) async fn container_archive_head(State(d): D, Path(id): Path<String>, Query(q): QList) -> ApiResult<Response> {
    let path = path_param(&q, &["path"], "HEAD /containers/{id}/archive")?;
    let fs = d.cp_open(&id).await?;
    let stat = blocking(move || d.cp_stat(&fs, &path)).await?;
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(STAT_HEADER, stat_header(&stat)?);
    Ok(r)
}

pub(super) async fn container_archive_get(State(d): D, Path(id): Path<String>, Query(q): QList) -> ApiResult<Response> {
    let path = path_param(&q, &["path"], "GET /containers/{id}/archive")?;
    let fs = d.cp_open(&id).await?;
    // Opened (and a missing path refused with 404) before the stream starts.
    let (fs, src) = blocking(move || d.cp_source(&fs, &path).map(|s| (fs, s))).await?;
    let header = stat_header(&src.stat)?;
    let mut r = tar_response(format!("copy from {}", fs.id), move |w| {
        let result = src.write_tar(w).map_err(|e| e.to_string());
        // The rootfs is held until the last entry is written.
        drop(fs);
        result
    });
    r.headers_mut().insert(STAT_HEADER, header);
    Ok(r)
}

pub(super) async fn container_archive_put(State(d): D, Path(id): Path<String>, Query(q): QList, body: Body) -> ApiResult<StatusCode> {
    // Fed (and, once refused, drained) from now on: a client still sending reads the answer.
    let reader = feed_body(body);
    let path = path_param(&q, &["path", "noOverwriteDirNonDir", "copyUIDGID"], "PUT /containers/{id}/archive")?;
    let flags: std::collections::HashMap<String, String> = q.into_iter().collect();
    let opts =
        ExtractOptions { no_overwrite_dir_non_dir: super::flag(&flags, "noOverwriteDirNonDir"), copy_uid_gid: super::flag(&flags, "copyUIDGID") };
    let fs = d.cp_open(&id).await?;
    let handle = tokio::runtime::Handle::current();
    blocking(move || d.cp_extract(&fs, &path, opts, SyncRead(reader, handle))).await?;
    Ok(StatusCode::OK)
}
