//! Registry pull and push over the OCI distribution API (oci-client), reporting progress as
//! Docker's JSON message stream (`status`, `id`, `progressDetail`). Registries on loopback
//! (127.0.0.0/8, ::1, localhost) are spoken to in plain HTTP, like Docker's default
//! insecure-registry CIDR.

use super::error::{ImageError, RegistryFailure};
use super::layer::Compression;
use super::manifest::{self, Parsed};
use super::store::{ImageStore, LayerBlob};
use super::{digest, reference};
use futures::StreamExt;
use oci_client::client::BlobResponse;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde_json::json;
use std::io::Write;

/// Where progress messages go (one JSON object per message).
pub type Progress = tokio::sync::mpsc::UnboundedSender<serde_json::Value>;

/// Parallel layer transfers per image, as Docker's default.
const PARALLEL: usize = 3;

fn say(tx: &Progress, id: Option<&str>, status: &str) {
    let mut v = json!({ "status": status });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    let _ = tx.send(v);
}

fn say_bytes(tx: &Progress, id: &str, status: &str, current: u64, total: Option<u64>) {
    let mut detail = json!({ "current": current });
    if let Some(t) = total {
        detail["total"] = json!(t);
    }
    let _ = tx.send(json!({ "status": status, "id": id, "progressDetail": detail }));
}

/// The credentials of an `X-Registry-Auth` header (base64url JSON), anonymous if absent.
pub fn auth_from_header(header: Option<&str>) -> RegistryAuth {
    use base64::Engine;
    let Some(h) = header.filter(|h| !h.is_empty()) else {
        return RegistryAuth::Anonymous;
    };
    let engines = [base64::engine::general_purpose::URL_SAFE, base64::engine::general_purpose::STANDARD];
    let Some(bytes) =
        engines.iter().find_map(|e| e.decode(h.trim_end_matches('=').to_owned() + &"=".repeat((4 - h.trim_end_matches('=').len() % 4) % 4)).ok())
    else {
        return RegistryAuth::Anonymous;
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty()).map(str::to_owned);
    if let Some(t) = s("registrytoken") {
        RegistryAuth::Bearer(t)
    } else if let (Some(u), Some(p)) = (s("username"), s("password")) {
        RegistryAuth::Basic(u, p)
    } else {
        RegistryAuth::Anonymous
    }
}

/// Whether `registry` ("host[:port]") is on loopback, where plain HTTP is used.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn client_for(r: &Reference) -> Client {
    let reg = r.resolve_registry().to_owned();
    let protocol = if is_loopback(&reg) { ClientProtocol::HttpsExcept(vec![reg]) } else { ClientProtocol::Https };
    Client::new(ClientConfig { protocol, ..Default::default() })
}

fn parse_ref(name: &str) -> Result<Reference, ImageError> {
    name.parse::<Reference>().map_err(|e| ImageError::Registry {
        reference: name.to_owned(),
        message: format!("invalid reference: {e}"),
        failure: RegistryFailure::InvalidReference,
    })
}

fn reg_err(name: &str) -> impl Fn(oci_client::errors::OciDistributionError) -> ImageError + '_ {
    move |e| {
        let failure = failure_of(&e);
        let message = match failure {
            // Say what Docker says, and what to do about it.
            RegistryFailure::Unauthorized => {
                let host = name.split_once('/').map_or("", |(h, _)| h);
                let login = if host.contains(['.', ':']) || host == "localhost" { format!("berth login {host}") } else { "berth login".to_owned() };
                format!("unauthorized: authentication required ({login}?): {e}")
            }
            _ => e.to_string(),
        };
        ImageError::Registry { reference: name.to_owned(), message, failure }
    }
}

/// What kind of refusal a registry client error is.
fn failure_of(e: &oci_client::errors::OciDistributionError) -> RegistryFailure {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as C};
    match e {
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => RegistryFailure::Unauthorized,
        E::ImageManifestNotFoundError(_) => RegistryFailure::NotFound,
        E::RegistryError { envelope, .. } => {
            let codes: Vec<&C> = envelope.errors.iter().map(|x| &x.code).collect();
            if codes.iter().any(|c| matches!(c, C::Unauthorized | C::Denied)) {
                RegistryFailure::Unauthorized
            } else if codes.iter().any(|c| matches!(c, C::ManifestUnknown | C::NameUnknown | C::BlobUnknown | C::NotFound)) {
                RegistryFailure::NotFound
            } else {
                RegistryFailure::Other
            }
        }
        E::ServerError { code: 401 | 403, .. } => RegistryFailure::Unauthorized,
        E::ServerError { code: 404, .. } => RegistryFailure::NotFound,
        _ => RegistryFailure::Other,
    }
}

/// An error and its sources, "a: b: c" (reqwest's own message hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn short(d: &str) -> String {
    d.trim_start_matches("sha256:").chars().take(12).collect()
}

/// Downloads blob `blob` (of `size` bytes, if the manifest said) into the content store,
/// verified once, by the store's writer (a ranged request gets the registry client's own
/// verifying stream out of the way); partial downloads vanish. Each chunk is also sent to
/// `tee` while its receiver listens. Returns the blob's size.
async fn fetch_blob(
    client: &Client,
    r: &Reference,
    name: &str,
    store: &ImageStore,
    (blob, size): (&str, Option<u64>),
    tx: Option<&Progress>,
    mut tee: Option<tokio::sync::mpsc::Sender<bytes::Bytes>>,
) -> Result<u64, ImageError> {
    let mut sized = match size.filter(|s| *s > 0) {
        Some(s) => match client.pull_blob_stream_partial(r, blob, 0, Some(s)).await.map_err(reg_err(name))? {
            BlobResponse::Full(st) | BlobResponse::Partial(st) => st,
        },
        None => client.pull_blob_stream(r, blob).await.map_err(reg_err(name))?,
    };
    let mut w = store.content().writer(blob)?;
    let id = short(blob);
    let mut last = 0u64;
    while let Some(chunk) = sized.stream.next().await {
        let chunk = chunk.map_err(|e| {
            let total = sized.content_length.map_or_else(String::new, |t| format!(" of {t}"));
            let message = format!("download {blob} broke off after {}{total} bytes: {}", w.written(), error_chain(&e));
            ImageError::Registry { reference: name.to_owned(), message, failure: RegistryFailure::Other }
        })?;
        w.write_all(&chunk).map_err(|source| ImageError::Io { path: std::path::PathBuf::from(blob), source })?;
        // An extractor that gave up (its error is reported) stops listening: download on.
        if let Some(t) = &tee
            && t.send(chunk).await.is_err()
        {
            tee = None;
        }
        if let Some(tx) = tx
            && w.written() - last >= 512 * 1024
        {
            last = w.written();
            say_bytes(tx, &id, "Downloading", last, sized.content_length);
        }
    }
    // The extractor sees the end of the stream now, while the blob is verified and synced.
    drop(tee);
    Ok(w.commit()?)
}

/// A blocking reader of the chunks a download tees off (the extractor's input).
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    cur: bytes::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.cur = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

/// Gets layer `desc` (diff id `diff`) into the store: downloads it and extracts it at the
/// same time (the extractor reads the chunks as they arrive), then publishes the layer only
/// once the blob's digest and the layer's diff id are both verified.
async fn fetch_layer(
    client: &Client,
    r: &Reference,
    name: &str,
    store: &ImageStore,
    desc: &LayerBlob,
    diff: &str,
    tx: &Progress,
) -> Result<(), ImageError> {
    let join = |e: tokio::task::JoinError| ImageError::BadArchive(format!("extract {}: {e}", desc.digest));
    if store.content().has(&desc.digest) {
        let (s2, ld, d2) = (store.clone(), desc.digest.clone(), diff.to_owned());
        tokio::task::spawn_blocking(move || s2.extract_blob(&ld, Some(&d2))).await.map_err(join)??;
        return Ok(());
    }
    let (chunks, rx) = tokio::sync::mpsc::channel(64);
    let (s2, ld, d2) = (store.clone(), desc.digest.clone(), diff.to_owned());
    let extractor = tokio::task::spawn_blocking(move || s2.stage_layer(ChunkReader { rx, cur: bytes::Bytes::new() }, &ld, Some(&d2)));
    let downloaded = fetch_blob(client, r, name, store, (&desc.digest, Some(desc.size)), Some(tx), Some(chunks)).await;
    if downloaded.is_ok() {
        say(tx, Some(&short(&desc.digest)), "Download complete");
    }
    let staged = extractor.await.map_err(join)?;
    // A broken download is the cause of whatever the extractor then saw.
    let size = downloaded?;
    store.publish_layer(staged?, LayerBlob { digest: desc.digest.clone(), size, media_type: blob_media_type(store, &desc.digest)? })?;
    Ok(())
}

/// The Docker media type of a stored layer blob, from its first bytes.
fn blob_media_type(store: &ImageStore, digest: &str) -> Result<String, ImageError> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let n = store.content().open_blob(digest)?.read(&mut head).unwrap_or(0);
    Ok(super::layer::Compression::detect(&head[..n]).media_type(false).to_owned())
}

/// Pulls `name` from its registry into `store`, reporting on `tx`; returns the image id.
/// What a failed pull downloaded is collected (see [`ImageStore::begin`]).
pub async fn pull(store: &ImageStore, name: &str, auth: RegistryAuth, tx: &Progress) -> Result<String, ImageError> {
    let op = store.begin_async().await;
    op.end_async(pull_in(store, name, auth, tx).await).await
}

async fn pull_in(store: &ImageStore, name: &str, auth: RegistryAuth, tx: &Progress) -> Result<String, ImageError> {
    let r = parse_ref(name)?;
    let client = client_for(&r);
    let tag = r.tag().map(str::to_owned);
    if let Some(t) = &tag {
        say(tx, Some(t), &format!("Pulling from {}", r.repository()));
    }
    client.auth(&r, &auth, RegistryOperation::Pull).await.map_err(reg_err(name))?;
    let (top, top_digest) = client.pull_manifest_raw(&r, &auth, manifest::ACCEPT).await.map_err(reg_err(name))?;
    if digest::of_bytes(&top) != top_digest {
        return Err(super::content::ContentError::Mismatch { expected: top_digest, actual: digest::of_bytes(&top) }.into());
    }
    store.content().put(&top)?;
    let m = match manifest::parse(&top, None, &top_digest)? {
        Parsed::Image(m) => m,
        Parsed::Index(index) => {
            let d = manifest::choose_platform(&index, &top_digest)?;
            let r2 = Reference::with_digest(r.registry().to_owned(), r.repository().to_owned(), d.clone());
            let (bytes, got) = client.pull_manifest_raw(&r2, &auth, manifest::ACCEPT).await.map_err(reg_err(name))?;
            if digest::of_bytes(&bytes) != d || got != d {
                return Err(super::content::ContentError::Mismatch { expected: d, actual: digest::of_bytes(&bytes) }.into());
            }
            store.content().put(&bytes)?;
            match manifest::parse(&bytes, None, &d)? {
                Parsed::Image(m) => m,
                Parsed::Index(_) => {
                    return Err(ImageError::BadArchive(format!("{d}: an index inside an index")));
                }
            }
        }
    };
    let cdigest = m.config().digest().to_string();
    if !store.content().has(&cdigest) {
        fetch_blob(&client, &r, name, store, (&cdigest, Some(m.config().size())), None, None).await?;
    }
    let config = store.content().read(&cdigest)?;
    let cfg: super::config::ImageConfigFile =
        serde_json::from_slice(&config).map_err(|e| ImageError::BadArchive(format!("image config {cdigest}: {e}")))?;
    let diff_ids = cfg.config_diff_ids();
    if diff_ids.len() != m.layers().len() {
        return Err(ImageError::BadArchive(format!("{name}: manifest has {} layers, config {}", m.layers().len(), diff_ids.len())));
    }
    let existed = store.get(name).ok().map(|i| i.id);
    let pairs: Vec<(LayerBlob, String)> = m
        .layers()
        .iter()
        .map(|l| LayerBlob { digest: l.digest().to_string(), size: l.size(), media_type: l.media_type().to_string() })
        .zip(diff_ids.iter().cloned())
        .collect();
    let mut jobs = Vec::new();
    for (desc, diff) in pairs {
        let (client, r, store) = (&client, &r, store.clone());
        jobs.push(async move {
            let id = short(&desc.digest);
            if store.layer_dir(&diff).is_dir() {
                say(tx, Some(&id), "Already exists");
                return Ok(());
            }
            say(tx, Some(&id), "Pulling fs layer");
            fetch_layer(client, r, name, &store, &desc, &diff, tx).await?;
            say(tx, Some(&id), "Pull complete");
            Ok::<(), ImageError>(())
        });
    }
    let results: Vec<Result<(), ImageError>> = futures::stream::iter(jobs).buffer_unordered(PARALLEL).collect().await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    let id = store.add_config(&config)?;
    let (repo, _) = reference::parse(name);
    if let Some(t) = &tag {
        store.tag(&id, &format!("{repo}:{t}"))?;
    }
    store.add_repo_digest(&id, &repo, &top_digest)?;
    say(tx, None, &format!("Digest: {top_digest}"));
    let shown = tag.as_ref().map_or_else(|| format!("{repo}@{top_digest}"), |t| format!("{repo}:{t}"));
    if existed.as_deref() == Some(id.as_str()) {
        say(tx, None, &format!("Status: Image is up to date for {shown}"));
    } else {
        say(tx, None, &format!("Status: Downloaded newer image for {shown}"));
    }
    Ok(id)
}

/// The gzip blob of layer `diff`, compressing the stored one if need be.
fn gzip_blob(store: &ImageStore, diff: &str) -> Result<LayerBlob, ImageError> {
    let blobs = store.layer_blobs(diff);
    let gz = Compression::Gzip.media_type(false);
    if let Some(b) = blobs.iter().find(|b| b.media_type == gz) {
        return Ok(b.clone());
    }
    let src = blobs.first().ok_or_else(|| ImageError::BadArchive(format!("no stored blob holds layer {diff}")))?;
    let plain =
        super::layer::decompressed(store.content().open_blob(&src.digest)?).map_err(|e| ImageError::BadArchive(format!("layer {diff}: {e}")))?;
    let enc = flate2::read::GzEncoder::new(plain, flate2::Compression::fast());
    let (d, size) = store.content().put_reader(enc)?;
    let b = LayerBlob { digest: d, size, media_type: gz.to_owned() };
    store.add_layer_blob(diff, b.clone())?;
    Ok(b)
}

/// What [`stored_manifest`] finds: (digest, bytes, media type, source repository, layers).
type StoredManifest = (String, Vec<u8>, String, String, Vec<LayerBlob>);

/// A manifest berth already holds for image `id` (one it was pulled or pushed as), whose
/// layer blobs are all in the content store: pushed byte for byte, it keeps its digest.
/// Returns (digest, bytes, media type, the repository it came from, its layers).
fn stored_manifest(store: &ImageStore, id: &str) -> Option<StoredManifest> {
    for rd in store.repo_digests(id) {
        let (repo, d) = rd.rsplit_once('@')?;
        let Ok(mut bytes) = store.content().read(d) else {
            continue;
        };
        let mut d = d.to_owned();
        if let Ok(Parsed::Index(index)) = manifest::parse(&bytes, None, &d) {
            let Ok(child) = manifest::choose_platform(&index, &d) else {
                continue;
            };
            let Ok(b) = store.content().read(&child) else {
                continue;
            };
            (d, bytes) = (child, b);
        }
        let Ok(Parsed::Image(m)) = manifest::parse(&bytes, None, &d) else {
            continue;
        };
        if m.config().digest().to_string() != id {
            continue;
        }
        let layers: Vec<LayerBlob> =
            m.layers().iter().map(|l| LayerBlob { digest: l.digest().to_string(), size: l.size(), media_type: l.media_type().to_string() }).collect();
        if !layers.iter().all(|l| store.content().has(&l.digest)) {
            continue;
        }
        let media_type = m.media_type().as_ref().map_or_else(|| manifest::OCI_MANIFEST.to_owned(), |t| t.to_string());
        return Some((d, bytes, media_type, repo.to_owned(), layers));
    }
    None
}

/// Gets blob `b` into repository `r`: nothing if it is there, a cross-repository mount from
/// `mount_from` (a repository of the same registry) if the registry allows, else an upload
/// from the content store.
async fn push_layer(
    client: &Client,
    r: &Reference,
    mount_from: Option<&Reference>,
    store: &ImageStore,
    b: &LayerBlob,
    name: &str,
    tx: &Progress,
) -> Result<(), ImageError> {
    let id = short(&b.digest);
    if client.blob_exists(r, &b.digest).await.map_err(reg_err(name))? {
        say(tx, Some(&id), "Layer already exists");
        return Ok(());
    }
    if let Some(src) = mount_from {
        // A registry that will not mount answers 202 (an upload instead): then upload.
        if client.mount_blob(r, src, &b.digest).await.is_ok() {
            say(tx, Some(&id), &format!("Mounted from {}", src.repository()));
            return Ok(());
        }
    }
    say(tx, Some(&id), "Pushing");
    let path = store.content().path(&b.digest)?;
    let data = tokio::fs::read(&path).await.map_err(|source| ImageError::Io { path, source })?;
    client.push_blob(r, data, &b.digest).await.map_err(reg_err(name))?;
    say(tx, Some(&id), "Pushed");
    Ok(())
}

/// Pushes image `name` to its registry, skipping blobs the registry has and mounting those
/// another repository of the same registry has; returns the manifest digest. An image that
/// came from a registry (or was pushed before) is pushed as the very manifest it was, so its
/// digest is kept; otherwise a Docker schema2 manifest with gzip layers is made.
pub async fn push(store: &ImageStore, name: &str, auth: RegistryAuth, tx: &Progress) -> Result<String, ImageError> {
    // The blobs a push makes (gzip layers, the manifest) are referenced only at its end.
    let op = store.begin_async().await;
    op.end_async(push_in(store, name, auth, tx).await).await
}

async fn push_in(store: &ImageStore, name: &str, auth: RegistryAuth, tx: &Progress) -> Result<String, ImageError> {
    let img = store.get(name)?;
    let normalized = reference::normalize(name);
    let r = parse_ref(&normalized)?;
    let client = client_for(&r);
    say(tx, None, &format!("The push refers to repository [{}/{}]", r.registry(), r.repository()));
    client.auth(&r, &auth, RegistryOperation::Push).await.map_err(reg_err(name))?;
    let stored = stored_manifest(store, &img.id);
    let mut mount_from = None;
    let (body, media_type, layers) = match stored {
        Some((_, bytes, mt, src_repo, layers)) => {
            let src = parse_ref(&src_repo).ok().filter(|s| s.resolve_registry() == r.resolve_registry() && s.repository() != r.repository());
            if let Some(s) = &src {
                // Mounting needs pull rights on the source repository too.
                client.auth(s, &auth, RegistryOperation::Pull).await.map_err(reg_err(name))?;
            }
            mount_from = src;
            (bytes, mt, layers)
        }
        None => {
            let mut layers = Vec::new();
            for diff in &img.config.rootfs.diff_ids {
                let (s2, d2) = (store.clone(), diff.clone());
                let b = tokio::task::spawn_blocking(move || gzip_blob(&s2, &d2))
                    .await
                    .map_err(|e| ImageError::BadArchive(format!("compress {diff}: {e}")))??;
                layers.push(b);
            }
            let config_len = store.config_bytes(&img.id)?.len() as u64;
            let descs: Vec<(String, u64, &str)> = layers.iter().map(|b| (b.digest.clone(), b.size, b.media_type.as_str())).collect();
            (manifest::docker_manifest((&img.id, config_len), &descs), manifest::DOCKER_MANIFEST.to_owned(), layers)
        }
    };
    for b in &layers {
        say(tx, Some(&short(&b.digest)), "Preparing");
    }
    let mut jobs = Vec::new();
    for b in &layers {
        jobs.push(push_layer(&client, &r, mount_from.as_ref(), store, b, name, tx));
    }
    let results: Vec<Result<(), ImageError>> = futures::stream::iter(jobs).buffer_unordered(PARALLEL).collect().await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    let config = store.config_bytes(&img.id)?;
    if !client.blob_exists(&r, &img.id).await.map_err(reg_err(name))? {
        client.push_blob(&r, config, &img.id).await.map_err(reg_err(name))?;
    }
    let mdigest = store.content().put(&body)?;
    let ct =
        axum::http::HeaderValue::from_str(&media_type).map_err(|e| ImageError::BadArchive(format!("manifest media type {media_type:?}: {e}")))?;
    client.push_manifest_raw(&r, body.clone(), ct).await.map_err(reg_err(name))?;
    let (repo, tag) = reference::parse(&normalized);
    store.add_repo_digest(&img.id, &repo, &mdigest)?;
    say(tx, None, &format!("{tag}: digest: {mdigest} size: {}", body.len()));
    Ok(mdigest)
}

/// `GET /distribution/{name}/json`: the descriptor of `name`'s manifest in its registry and
/// the platforms it is for (an index's entries, or a manifest's config), without pulling.
pub async fn distribution(name: &str, auth: RegistryAuth) -> Result<serde_json::Value, ImageError> {
    let r = parse_ref(name)?;
    let client = client_for(&r);
    client.auth(&r, &auth, RegistryOperation::Pull).await.map_err(reg_err(name))?;
    let (top, top_digest) = client.pull_manifest_raw(&r, &auth, manifest::ACCEPT).await.map_err(reg_err(name))?;
    let bad = |reason: String| ImageError::BadArchive(format!("manifest {top_digest} of {name}: {reason}"));
    let v: serde_json::Value = serde_json::from_slice(&top).map_err(|e| bad(e.to_string()))?;
    let media_type = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or(manifest::OCI_MANIFEST);
    // Docker's Platform: architecture and os always, the rest when set.
    let platform = |p: &serde_json::Value| {
        let mut out = json!({ "architecture": p["architecture"].as_str().unwrap_or(""), "os": p["os"].as_str().unwrap_or("") });
        for k in ["os.version", "os.features", "variant"] {
            if let Some(x) = p.get(k).filter(|x| !x.is_null() && x.as_str() != Some("")) {
                out[k] = x.clone();
            }
        }
        out
    };
    let platforms: Vec<serde_json::Value> = if let Some(list) = v.get("manifests").and_then(|m| m.as_array()) {
        list.iter().filter_map(|m| m.get("platform")).map(platform).collect()
    } else {
        let cdigest = v["config"]["digest"].as_str().ok_or_else(|| bad("no config descriptor".into()))?;
        let mut blob = client.pull_blob_stream(&r, cdigest).await.map_err(reg_err(name))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = blob.stream.next().await {
            let chunk =
                chunk.map_err(|e| ImageError::Registry { reference: name.to_owned(), message: error_chain(&e), failure: RegistryFailure::Other })?;
            bytes.extend_from_slice(&chunk);
        }
        if digest::of_bytes(&bytes) != cdigest {
            return Err(super::content::ContentError::Mismatch { expected: cdigest.to_owned(), actual: digest::of_bytes(&bytes) }.into());
        }
        let cfg: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("config {cdigest}: {e}")))?;
        vec![platform(&cfg)]
    };
    Ok(json!({
        "Descriptor": { "mediaType": media_type, "digest": top_digest, "size": top.len() },
        "Platforms": platforms
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_plain_http_like_dockers_default_insecure_cidr() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry-1.docker.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }
}
