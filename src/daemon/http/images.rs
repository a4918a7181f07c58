//! Image endpoints: list, inspect, history, import, pull, push, tag, remove, save, load,
//! commit, prune.

use super::{all, blocking, first, tar_response, ApiError, ApiResult, QList, D, Q};
use crate::api::filters::Filters;
use crate::api::types::*;
use crate::daemon::images::CommitOptions;
use crate::image::reference::{self, RefError};
use crate::image::registry::{self, Progress};
use crate::image::ImageError;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

/// The `images` entry of `img` (known as `digests` in registries), made from by
/// `containers` containers. An image without any name says `<none>:<none>` and
/// `<none>@<none>`, as dockerd does for API 1.41: the docker CLI lists it only so.
pub(super) fn image_summary(img: &crate::image::Image, digests: Vec<String>, containers: i64) -> ImageSummary {
    let created = chrono::DateTime::parse_from_rfc3339(&img.config.created).map(|t| t.timestamp()).unwrap_or(0);
    let (repo_tags, repo_digests) = if img.tags.is_empty() && digests.is_empty() {
        (vec!["<none>:<none>".into()], vec!["<none>@<none>".into()])
    } else {
        (img.tags.clone(), digests)
    };
    ImageSummary {
        id: img.id.clone(),
        repo_tags,
        repo_digests,
        created,
        size: img.size as i64,
        virtual_size: img.size as i64,
        shared_size: -1,
        containers,
        ..Default::default()
    }
}

/// `GET /images/json[?filters=]` (`dangling`, `reference`, `label`, `before`, `since`).
pub(super) async fn images_list(State(d): D, Query(q): Q) -> ApiResult<Json<Vec<ImageSummary>>> {
    let filters = Filters::parse(q.get("filters").map(String::as_str)).map_err(crate::daemon::DaemonError::from)?;
    let mut out: Vec<ImageSummary> =
        blocking(move || d.list_images(&filters)).await?.into_iter().map(|l| image_summary(&l.image, l.repo_digests, l.containers as i64)).collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.created));
    Ok(Json(out))
}

/// `POST /images/prune[?filters=]`: dangling images (`dangling=false`: all) no container uses.
pub(super) async fn images_prune(State(d): D, Query(q): Q) -> ApiResult<Json<ImagesPruneReport>> {
    let filters = Filters::parse(q.get("filters").map(String::as_str)).map_err(crate::daemon::DaemonError::from)?;
    Ok(Json(blocking(move || d.prune_images(&filters)).await?))
}

/// The `repo` and `tag` parameters (commit, import) as one checked "repo:tag" name:
/// Docker's `RepoTagReference`, refusing what its grammar refuses (400).
fn checked_repo_tag(q: &[(String, String)]) -> ApiResult<Option<String>> {
    let Some(repo) = first(q, "repo") else {
        return Ok(None);
    };
    let n = reference::repo_tag(&repo, first(q, "tag").as_deref()).map_err(ImageError::from)?;
    Ok(Some(n.key()))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=` with an optional
/// run config as the body; answers 201 `{"Id": ...}`. A running container is paused while
/// its changes are read unless `pause` is false (Docker's default is true).
pub(super) async fn commit(State(d): D, Query(q): QList, body: bytes::Bytes) -> ApiResult<(StatusCode, Json<IdResponse>)> {
    let container = first(&q, "container").unwrap_or_default();
    let config = match serde_json::from_slice::<serde_json::Value>(&body) {
        _ if body.iter().all(u8::is_ascii_whitespace) => None,
        Ok(serde_json::Value::Null) => None,
        Ok(serde_json::Value::Object(m)) => Some(m),
        Ok(_) | Err(_) => {
            return Err(ApiError(StatusCode::BAD_REQUEST, "invalid JSON in request body: expected a container config object".into()));
        }
    };
    let opts = CommitOptions {
        name: checked_repo_tag(&q)?,
        comment: first(&q, "comment").unwrap_or_default(),
        author: first(&q, "author").unwrap_or_default(),
        changes: all(&q, "changes"),
        config,
    };
    let pause = first(&q, "pause").is_none_or(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "no" | "false" | "none"));
    let id = d.commit_paused(&container, opts, pause).await?;
    Ok((StatusCode::CREATED, Json(IdResponse { id })))
}

/// `/images/{name}/json|history|get` (GET), `/images/{name}/push|tag` (POST),
/// `/images/{name}` (DELETE): image names contain slashes, so one catch-all route
/// dispatches on the last segment, as Docker's `{name:.*}` routes do.
pub(super) async fn image_named(State(d): D, method: Method, Path(rest): Path<String>, Query(q): Q, headers: HeaderMap) -> ApiResult<Response> {
    let split = |suffix: &str| rest.strip_suffix(suffix).filter(|n| !n.is_empty()).map(str::to_owned);
    match method {
        Method::GET if rest == "search" => return Err(image_search_refused(&q)),
        Method::GET => {
            if let Some(n) = split("/json") {
                return Ok(image_inspect(&d, &n)?.into_response());
            }
            if let Some(n) = split("/history") {
                return Ok(image_history(&d, &n)?.into_response());
            }
            if let Some(n) = split("/get") {
                return images_save(d, vec![n]).await;
            }
        }
        Method::POST => {
            if let Some(n) = split("/push") {
                return image_push(d, n, q, &headers);
            }
            if let Some(n) = split("/tag") {
                return image_tag(&d, &n, &q);
            }
        }
        Method::DELETE => return Ok(image_delete(&d, &rest, &q).await?.into_response()),
        _ => {}
    }
    Err(ApiError(StatusCode::NOT_FOUND, format!("page not found: {method} /images/{rest}")))
}

/// `GET /images/search`: refused with the reason (a 404 page would read as a client bug).
fn image_search_refused(q: &std::collections::HashMap<String, String>) -> ApiError {
    let term = q.get("term").map(String::as_str).unwrap_or("");
    ApiError(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "cannot search for {term:?}: berth has no registry search index (Docker Hub's /v1/search is not used, and registries offer no search over the distribution API); browse the registry instead"
        ),
    )
}

/// `GET /distribution/{name}/json`: the manifest descriptor and platforms of `name` in
/// its registry (Docker's `docker manifest inspect`/`buildx imagetools` counterpart).
pub(super) async fn distribution_inspect(Path(rest): Path<String>, headers: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let image = rest
        .strip_suffix("/json")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("page not found: GET /distribution/{rest}")))?;
    let named = reference::parse_normalized(image).map_err(ImageError::from)?;
    let name = match (&named.tag, &named.digest) {
        (_, Some(d)) => format!("{}@{d}", named.familiar_repo()),
        (Some(t), None) => format!("{}:{t}", named.familiar_repo()),
        (None, None) => format!("{}:latest", named.familiar_repo()),
    };
    let auth = registry::auth_from_header(headers.get("x-registry-auth").and_then(|h| h.to_str().ok()));
    Ok(Json(registry::distribution(&name, auth).await?))
}

/// `GET /images/{name}/json`: every key dockerd shows (API 1.41), the run configs in their
/// whole shape.
fn image_inspect(d: &crate::daemon::Daemon, name: &str) -> ApiResult<Json<serde_json::Value>> {
    use crate::daemon::inspect::config_shape;
    let img = d.images.get(name)?;
    let history = &img.config.history;
    let comment = match img.config.comment.as_str() {
        "" => history.last().and_then(|h| h.get("comment")).cloned().unwrap_or_else(|| "".into()),
        c => c.into(),
    };
    // The config as stored: what berth's typed view leaves out (container_config,
    // docker_version, variant) is read from it.
    let raw: serde_json::Value = serde_json::from_slice(&d.images.config_bytes(&img.id)?).unwrap_or_default();
    let raw_str = |k: &str| raw.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let mut v = serde_json::json!({
        "Id": img.id,
        "RepoTags": img.tags,
        "RepoDigests": d.images.repo_digests(&img.id),
        "Parent": raw_str("parent"),
        "Comment": comment,
        "Created": img.config.created,
        "Container": img.config.container,
        "ContainerConfig": config_shape(raw.get("container_config").cloned().unwrap_or_default()),
        "DockerVersion": raw_str("docker_version"),
        "Author": img.config.author,
        "Config": config_shape(raw.get("config").cloned().unwrap_or_default()),
        "Architecture": img.config.architecture,
        "Os": img.config.os,
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": d.image_graph_driver(&img),
        "RootFS": { "Type": "layers", "Layers": img.config.rootfs.diff_ids },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" }
    });
    for k in ["variant", "os.version"] {
        if !raw_str(k).is_empty() {
            v[if k == "variant" { "Variant" } else { "OsVersion" }] = raw_str(k).into();
        }
    }
    Ok(Json(v))
}

/// The id of image `id`'s parent (the image a commit was made on), if its config names one.
fn parent_of(d: &crate::daemon::Daemon, id: &str) -> Option<String> {
    let raw: serde_json::Value = serde_json::from_slice(&d.images.config_bytes(id).ok()?).ok()?;
    raw.get("parent").and_then(|p| p.as_str()).filter(|p| !p.is_empty()).map(str::to_owned)
}

/// `GET /images/{name}/history`: the config's history, newest first, with layer sizes.
fn image_history(d: &crate::daemon::Daemon, name: &str) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let img = d.images.get(name)?;
    let sizes: Vec<u64> = img.config.rootfs.diff_ids.iter().map(|l| crate::image::store::dir_size(&d.images.layer_dir(l))).collect();
    let mut layer = 0;
    let mut out = Vec::new();
    let history: Vec<serde_json::Value> =
        if img.config.history.is_empty() { sizes.iter().map(|_| serde_json::json!({})).collect() } else { img.config.history.clone() };
    for h in &history {
        let empty = h.get("empty_layer").and_then(|e| e.as_bool()).unwrap_or(false);
        let size = if empty { 0 } else { sizes.get(layer).copied().unwrap_or(0) };
        if !empty {
            layer += 1;
        }
        let created =
            h.get("created").and_then(|c| c.as_str()).and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()).map(|t| t.timestamp()).unwrap_or(0);
        out.push(serde_json::json!({
            "Id": "<missing>",
            "Created": created,
            "CreatedBy": h.get("created_by").and_then(|c| c.as_str()).unwrap_or(""),
            "Tags": null,
            "Size": size,
            "Comment": h.get("comment").and_then(|c| c.as_str()).unwrap_or(""),
        }));
    }
    out.reverse();
    // As Docker's: rows take the ids (and tags) of the image and its local parents in
    // turn; rows beyond the parents present here stay "<missing>".
    let mut cur = Some(img);
    for row in out.iter_mut() {
        let Some(i) = cur.take() else { break };
        row["Id"] = serde_json::json!(i.id);
        row["Tags"] = if i.tags.is_empty() { serde_json::Value::Null } else { serde_json::json!(i.tags) };
        cur = parent_of(d, &i.id).and_then(|p| d.images.get(&p).ok());
    }
    Ok(Json(out))
}

/// `POST /images/{name}/tag?repo=R&tag=T`: the new name is checked first, as Docker does.
fn image_tag(d: &crate::daemon::Daemon, name: &str, q: &std::collections::HashMap<String, String>) -> ApiResult<Response> {
    let repo = q.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "repository name must be given".into()))?;
    let target = reference::repo_tag(repo, q.get("tag").map(String::as_str)).map_err(ImageError::from)?;
    if target.familiar_repo() == "sha256" {
        return Err(ApiError(StatusCode::BAD_REQUEST, "refusing to create an ambiguous tag using digest algorithm as name".into()));
    }
    let img = d.images.get(name)?;
    d.images.tag(&img.id, &target.key())?;
    d.image_event("tag", &img.id, &target.key());
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE /images/{name}[?force=1]`: untags, and deletes the image once no name is left,
/// refusing (409) an image a container uses unless forced (then it is only untagged).
async fn image_delete(
    d: &crate::daemon::Daemon,
    name: &str,
    q: &std::collections::HashMap<String, String>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let force = super::flag(q, "force");
    let img = d.images.get(name)?;
    let shortid: String = img.id.trim_start_matches("sha256:").chars().take(12).collect();
    let by_tag = d.images.is_tag(name);
    let mut out = Vec::new();
    if by_tag && img.tags.len() > 1 {
        if let Some(t) = d.images.untag(name)? {
            d.image_event("untag", &img.id, &t);
            out.push(serde_json::json!({ "Untagged": t }));
        }
        return Ok(Json(out));
    }
    if !by_tag && img.tags.len() > 1 && !force {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("conflict: unable to delete {shortid} (must be forced) - image is referenced in multiple repositories"),
        ));
    }
    let users: Vec<_> = d.containers.list().into_iter().filter(|c| c.image_id == img.id).collect();
    if let Some(c) = users.iter().find(|c| c.state.status == crate::daemon::container::Status::Running) {
        let cid: String = c.id.chars().take(12).collect();
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("conflict: unable to delete {shortid} (cannot be forced) - image is being used by running container {cid}"),
        ));
    }
    if let Some(c) = users.first() {
        let cid: String = c.id.chars().take(12).collect();
        if !force {
            let msg = if by_tag {
                format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {cid} is using its referenced image {shortid}"
                )
            } else {
                format!("conflict: unable to delete {shortid} (must be forced) - image is being used by stopped container {cid}")
            };
            return Err(ApiError(StatusCode::CONFLICT, msg));
        }
    }
    if users.is_empty() {
        let images = d.images.clone();
        let id = img.id.clone();
        let (untagged, _) = tokio::task::spawn_blocking(move || images.remove(&id))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
        for t in untagged {
            d.image_event("untag", &img.id, &t);
            out.push(serde_json::json!({ "Untagged": t }));
        }
        d.image_event("delete", &img.id, &img.id);
        out.push(serde_json::json!({ "Deleted": img.id }));
        return Ok(Json(out));
    }
    // Forced, and a stopped container uses it: the names go, the image stays.
    for t in &img.tags {
        if let Some(t) = d.images.untag(t)? {
            d.image_event("untag", &img.id, &t);
            out.push(serde_json::json!({ "Untagged": t }));
        }
    }
    Ok(Json(out))
}

fn error_line(msg: String) -> serde_json::Value {
    let msg = super::errors::client_message(&msg);
    serde_json::json!({ "errorDetail": { "message": msg }, "error": msg })
}

/// A response streaming JSON messages, one per line, until every sender is gone.
fn json_lines(rx: tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let v = rx.recv().await?;
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        Some((Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line)), rx))
    });
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}

/// Runs a pull/push in the background, streaming its progress and final error if any.
fn progress_stream<F>(work: impl FnOnce(Progress) -> F + Send + 'static) -> Response
where
    F: std::future::Future<Output = Result<String, crate::image::ImageError>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let fut = work(tx.clone());
        if let Err(e) = fut.await {
            let _ = tx.send(error_line(e.to_string()));
        }
    });
    json_lines(rx)
}

fn pull(d: std::sync::Arc<crate::daemon::Daemon>, q: &std::collections::HashMap<String, String>, headers: &HeaderMap) -> ApiResult<Response> {
    let image = q
        .get("fromImage")
        .filter(|i| !i.is_empty())
        .cloned()
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "fromImage or fromSrc must be given".into()))?;
    // Docker's grammar, before anything is fetched; `tag` may be a digest.
    let mut named = reference::parse_normalized(&image).map_err(ImageError::from)?;
    match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) if reference::digest_ok(t) => (named.tag, named.digest) = (None, Some(t.clone())),
        Some(t) if reference::tag_ok(t) => named.tag = Some(t.clone()),
        Some(_) => return Err(ImageError::from(RefError::Tag).into()),
        None if named.digest.is_none() && named.tag.is_none() => named.tag = Some("latest".into()),
        None => {}
    }
    let name = match (&named.tag, &named.digest) {
        (_, Some(d)) => format!("{}@{d}", named.familiar_repo()),
        (Some(t), None) => format!("{}:{t}", named.familiar_repo()),
        (None, None) => named.familiar_repo(),
    };
    // Only this machine's platform is pulled (an index resolves to it); another one asked
    // for is refused, not pulled for the host instead.
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        let host = format!("linux/{}", host_arch());
        if p.as_str() != host && p.as_str() != "linux" {
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("platform {p:?} is not supported: berth pulls images for {host} only")));
        }
    }
    let auth = registry::auth_from_header(headers.get("x-registry-auth").and_then(|h| h.to_str().ok()));
    Ok(progress_stream(move |tx| async move {
        let pulled = registry::pull(&d.images, &name, auth, &tx).await;
        if pulled.is_ok() {
            d.image_event("pull", &name, &name);
        }
        pulled
    }))
}

fn image_push(
    d: std::sync::Arc<crate::daemon::Daemon>,
    name: String,
    q: std::collections::HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let name = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => reference::repo_tag(&name, Some(t)).map_err(ImageError::from)?.key(),
        None => name,
    };
    d.images.get(&name)?;
    let auth = registry::auth_from_header(headers.get("x-registry-auth").and_then(|h| h.to_str().ok()));
    Ok(progress_stream(move |tx| async move {
        let pushed = registry::push(&d.images, &name, auth, &tx).await;
        if pushed.is_ok() {
            d.image_event("push", &name, &name);
        }
        pushed
    }))
}

/// `GET /images/get?names=A&names=B`: a docker-archive tar of the images.
pub(super) async fn images_get(State(d): D, Query(q): Query<Vec<(String, String)>>) -> ApiResult<Response> {
    let names: Vec<String> = q.into_iter().filter(|(k, _)| k == "names").map(|(_, v)| v).collect();
    images_save(d, names).await
}

async fn images_save(d: std::sync::Arc<crate::daemon::Daemon>, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError(StatusCode::BAD_REQUEST, "no image names given".into()));
    }
    for n in &names {
        let img = d.images.get(n)?;
        d.image_event("save", &img.id, n);
    }
    let images = d.images.clone();
    let what = format!("save {names:?}");
    Ok(tar_response(what, move |w| crate::image::archive::save(&images, &names, w).map_err(|e| e.to_string())))
}

/// `POST /images/load`: a docker-archive or OCI-layout tar in the body.
pub(super) async fn images_load(State(d): D, body: Body) -> ApiResult<Response> {
    let reader = feed_body(body);
    let images = d.images.clone();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let sync_reader = SyncRead(reader, handle);
        let mut say = |line: String| {
            if let Some(name) = line.strip_prefix("Loaded image: ").or_else(|| line.strip_prefix("Loaded image ID: ")) {
                d.image_event("load", name, name);
            }
            let _ = tx.send(serde_json::json!({ "stream": format!("{line}\n") }));
        };
        if let Err(e) = crate::image::archive::load(&images, sync_reader, &mut say) {
            let _ = tx.send(error_line(e.to_string()));
        }
    });
    Ok(json_lines(rx))
}

/// Pipes a request body into an async reader without holding it whole.
pub(super) fn feed_body(body: Body) -> tokio::io::DuplexStream {
    let (reader, mut writer) = tokio::io::duplex(256 * 1024);
    let mut stream = body.into_data_stream();
    tokio::spawn(async move {
        let mut reading = true;
        while let Some(Ok(chunk)) = stream.next().await {
            // Once the reader gave up (a refused archive, a full disk), the rest of the
            // upload is drained and dropped: a client that is still sending gets the answer
            // instead of a broken pipe.
            if reading && writer.write_all(&chunk).await.is_err() {
                reading = false;
            }
        }
        let _ = writer.shutdown().await;
    });
    reader
}

/// `POST /images/create`: `fromImage` (pull from a registry) or `fromSrc=-` (import of the
/// body, with `repo`, `tag`, `message` and `changes`).
pub(super) async fn images_create(State(d): D, Query(q): QList, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    if first(&q, "fromSrc").as_deref() != Some("-") {
        let map: std::collections::HashMap<String, String> = q.into_iter().collect();
        return pull(d, &map, &headers);
    }
    let name = checked_repo_tag(&q)?;
    let comment = first(&q, "message").unwrap_or_else(|| "Imported from -".into());
    let changes = all(&q, "changes");
    // Refuse bad changes before taking the upload.
    crate::image::changes::parse(&changes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    // The upload goes through a pipe into a blocking import: the body is never held whole.
    let (reader, mut writer) = tokio::io::duplex(256 * 1024);
    let mut stream = body.into_data_stream();
    let feeder = tokio::spawn(async move {
        let mut reading = true;
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else {
                return Err("upload interrupted".to_owned());
            };
            // After a failed import the rest of the upload is drained (see `feed_body`).
            if reading && writer.write_all(&chunk).await.is_err() {
                reading = false;
            }
        }
        let _ = writer.shutdown().await;
        Ok(())
    });
    let d2 = d.clone();
    let result = tokio::task::spawn_blocking(move || {
        let sync_reader = tokio_util_sync_reader(reader);
        d2.images.import(sync_reader, name.as_deref(), &comment, &changes)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let upload = feeder.await.unwrap_or(Ok(()));
    let line = match (result, upload) {
        (_, Err(e)) => ProgressMessage {
            error: Some(super::errors::client_message(&e)),
            error_detail: Some(ErrorResponse { message: super::errors::client_message(&e) }),
            ..Default::default()
        },
        (Ok(img), Ok(())) => {
            d.image_event("import", &img.id, &img.id);
            ProgressMessage { status: Some(img.id), ..Default::default() }
        }
        (Err(e), Ok(())) => {
            let m = super::errors::client_message(&e.to_string());
            ProgressMessage { error: Some(m.clone()), error_detail: Some(ErrorResponse { message: m }), ..Default::default() }
        }
    };
    let mut body = serde_json::to_vec(&line).unwrap_or_default();
    body.extend_from_slice(b"\r\n");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Adapts an async reader to a blocking `Read` for use inside `spawn_blocking`.
fn tokio_util_sync_reader(r: tokio::io::DuplexStream) -> impl std::io::Read {
    SyncRead(r, tokio::runtime::Handle::current())
}

pub(super) struct SyncRead(pub(super) tokio::io::DuplexStream, pub(super) tokio::runtime::Handle);

impl std::io::Read for SyncRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use tokio::io::AsyncReadExt;
        self.1.block_on(self.0.read(buf))
    }
}

/// This machine's architecture in OCI's words (`amd64`, `arm64`).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}
