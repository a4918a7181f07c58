//! Image endpoints: list, inspect, import.

use super::{ApiError, ApiResult, D, Q};
use crate::api::types::*;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

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

pub(super) async fn images_list(State(d): D) -> ApiResult<Json<Vec<ImageSummary>>> {
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

pub(super) async fn image_inspect(State(d): D, Path(name): Path<String>) -> ApiResult<Json<serde_json::Value>> {
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
pub(super) async fn images_create(State(d): D, Query(q): Q, body: Body) -> ApiResult<Response> {
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

