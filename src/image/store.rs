//! The image store: blobs in the content store (`<root>/image/blobs/sha256/<hex>`), layers
//! extracted once under `<root>/image/layers/<diff-id hex>` and shared by every image that
//! has them, which blobs hold which layer in `<root>/image/layerdb/<diff-id hex>.json`, image
//! configs verbatim under `<root>/image/configs/<image-id hex>.json`, names in
//! `<root>/image/repositories.json` and `repodigests.json`. Every file is written crash-safely.

use super::config::{Image, ImageConfigFile};
use super::content::ContentError;
use super::content::ContentStore;
use super::error::{io_err, io_no_space, ImageError};
use super::gc::OpState;
use super::layer::LayerError;
use super::layer::{self, Compression};
use super::{changes, digest, reference};
use crate::util::{atomic_write, read_json, write_json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

pub use super::config::{RootFs, RunConfig};
pub use super::error::is_no_space;
pub use super::gc::Operation;

/// The image store of one daemon root. Cheap to clone: clones share the same state.
#[derive(Clone)]
pub struct ImageStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    dir: PathBuf,
    content: ContentStore,
    /// Serializes changes to repositories.json and repodigests.json.
    refs_lock: Mutex<()>,
    /// Operations adding content, and whether garbage collection runs or is owed.
    pub(super) ops: Mutex<OpState>,
    /// Signalled when a collection ends.
    pub(super) ops_done: Condvar,
}

/// A stored blob known to hold one layer (compressed or not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerBlob {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ImageStore {
    /// Opens (creating) the store under `<root>/image`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let dir = root.join("image");
        for sub in ["layers", "layerdb", "configs", "tmp"] {
            let p = dir.join(sub);
            crate::fsperm::ensure_dir(&p, crate::fsperm::DIR_PRIVATE).map_err(io_err(&p))?;
        }
        // Leftovers of a crash mid-write are never referenced: clear them.
        if let Ok(rd) = std::fs::read_dir(dir.join("tmp")) {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
            }
        }
        // Records a crash cut off mid-write (`atomic_write`'s ".NAME.tmp.PID").
        for sub in ["", "layerdb", "configs"] {
            let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name();
                let n = name.to_string_lossy();
                if n.starts_with('.') && n.contains(".tmp.") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let content = ContentStore::open(&dir)?;
        let store = ImageStore {
            inner: Arc::new(Inner { dir, content, refs_lock: Mutex::new(()), ops: Mutex::new(OpState::default()), ops_done: Condvar::new() }),
        };
        // Blobs and layers of loads, pulls and imports that failed or were killed.
        match store.collect_garbage() {
            Ok((blobs, layers)) if blobs + layers > 0 => tracing::info!("image store: removed {blobs} unreferenced blobs and {layers} layers"),
            Ok(_) => {}
            Err(e) => tracing::warn!("image store: garbage collection skipped: {e}"),
        }
        Ok(store)
    }

    /// The content store holding this store's blobs.
    pub fn content(&self) -> &ContentStore {
        &self.inner.content
    }

    pub(super) fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn refs_path(&self) -> PathBuf {
        self.dir().join("repositories.json")
    }

    fn refs(&self) -> Result<BTreeMap<String, String>, ImageError> {
        read_map(&self.refs_path())
    }

    pub(super) fn digests_path(&self) -> PathBuf {
        self.dir().join("repodigests.json")
    }

    /// "repo@sha256:..." names of image `id` (manifests it was pulled or pushed as).
    pub fn repo_digests(&self, id: &str) -> Vec<String> {
        read_map::<Vec<String>>(&self.digests_path()).ok().and_then(|mut m| m.remove(id)).unwrap_or_default()
    }

    /// Records that image `id` is the manifest `digest` in repository `repo`.
    pub fn add_repo_digest(&self, id: &str, repo: &str, digest: &str) -> Result<(), ImageError> {
        let _guard = self.inner.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        let p = self.digests_path();
        let mut m: BTreeMap<String, Vec<String>> = read_map(&p)?;
        let entry = format!("{repo}@{digest}");
        let list = m.entry(id.to_owned()).or_default();
        list.retain(|e| !e.starts_with(&format!("{repo}@")));
        list.push(entry);
        write_json(&p, &m).map_err(io_err(&p))
    }

    /// Directory holding the extracted layer with this diff id ("sha256:<hex>").
    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.dir().join("layers").join(diff_id.trim_start_matches("sha256:"))
    }

    pub(super) fn layerdb_path(&self, diff_id: &str) -> PathBuf {
        self.dir().join("layerdb").join(format!("{}.json", diff_id.trim_start_matches("sha256:")))
    }

    /// Stored blobs known to hold the layer `diff_id`.
    pub fn layer_blobs(&self, diff_id: &str) -> Vec<LayerBlob> {
        let list: Vec<LayerBlob> = read_json(&self.layerdb_path(diff_id)).unwrap_or_default();
        list.into_iter().filter(|b| self.content().has(&b.digest)).collect()
    }

    /// Records that blob `blob` holds layer `diff_id`.
    pub fn add_layer_blob(&self, diff_id: &str, blob: LayerBlob) -> Result<(), ImageError> {
        let _guard = self.inner.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        let p = self.layerdb_path(diff_id);
        let mut list: Vec<LayerBlob> = read_json(&p).unwrap_or_default();
        if !list.iter().any(|b| b.digest == blob.digest) {
            list.push(blob);
            write_json(&p, &list).map_err(io_err(&p))?;
        }
        Ok(())
    }

    /// Extracts the stored blob `digest` as a layer (once: an existing layer is reused) and
    /// returns its diff id, which must equal `expected` when given.
    pub fn extract_blob(&self, digest: &str, expected: Option<&str>) -> Result<String, ImageError> {
        let blob = self.content().open_blob(digest)?;
        let size = blob.metadata().map(|m| m.len()).unwrap_or(0);
        let media_type = {
            let mut head = [0u8; 4];
            let n = std::fs::File::open(self.content().path(digest)?).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
            Compression::detect(&head[..n]).media_type(false).to_owned()
        };
        let record = LayerBlob { digest: digest.to_owned(), size, media_type };
        if let Some(want) = expected {
            digest::hex_of(want).map_err(ContentError::from)?;
            if self.layer_dir(want).is_dir() {
                self.add_layer_blob(want, record)?;
                return Ok(want.to_owned());
            }
        }
        let staged = self.stage_layer(blob, digest, expected)?;
        self.publish_layer(staged, record)
    }

    /// Extracts the layer tar `reader` yields (plain, gzip or zstd; from blob `blob`) into a
    /// staging directory, not yet visible; its diff id must equal `expected` when given.
    pub fn stage_layer(&self, reader: impl Read, blob: &str, expected: Option<&str>) -> Result<StagedLayer, ImageError> {
        if let Some(want) = expected {
            digest::hex_of(want).map_err(ContentError::from)?;
        }
        let dir = self.dir().join("tmp").join(format!("layer-{}", crate::util::random_id()));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut staged = StagedLayer { dir, diff: String::new() };
        let diff = layer::apply(reader, &staged.dir).map_err(|source| ImageError::Layer { layer: blob.to_owned(), source })?;
        if let Some(want) = expected.filter(|w| *w != diff) {
            let source = LayerError::DiffIdMismatch { expected: want.to_owned(), actual: diff };
            return Err(ImageError::Layer { layer: blob.to_owned(), source });
        }
        staged.diff = diff;
        Ok(staged)
    }

    /// Makes a staged layer visible under its diff id, records `blob` as holding it, and
    /// returns the diff id.
    pub fn publish_layer(&self, mut staged: StagedLayer, blob: LayerBlob) -> Result<String, ImageError> {
        let diff = staged.diff.clone();
        let dest = self.layer_dir(&diff);
        match std::fs::rename(&staged.dir, &dest) {
            Ok(()) => staged.dir = PathBuf::new(),
            // Another extraction of the same layer won the race: theirs is as good as ours.
            Err(_) if dest.is_dir() => {}
            Err(e) => {
                return Err(ImageError::Io { path: dest, source: e });
            }
        }
        self.add_layer_blob(&diff, blob)?;
        Ok(diff)
    }

    /// Stores the layer tar that `write` writes (plain, gzip or zstd) as a blob and
    /// extracts it; returns its diff id. Nothing is kept if it is not a usable tar.
    pub fn add_layer(&self, write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>) -> Result<String, ImageError> {
        let (blob, _) = self.content().ingest(write).map_err(|e| match e {
            ContentError::Io { source, .. } if !io_no_space(&source) => ImageError::BadArchive(source.to_string()),
            e => e.into(),
        })?;
        self.extract_blob(&blob, None).map_err(|e| {
            let _ = self.content().remove(&blob);
            match e {
                ImageError::Layer { source: LayerError::Corrupt(m), .. } => ImageError::BadArchive(m),
                e => e,
            }
        })
    }

    /// Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image, tagged `name` if
    /// given, with `changes` (Dockerfile instructions, see [`changes`]) applied to its config.
    pub fn import(&self, body: impl Read, name: Option<&str>, comment: &str, changes: &[String]) -> Result<Image, ImageError> {
        let op = self.begin();
        op.end(self.import_in(body, name, comment, changes))
    }

    fn import_in(&self, mut body: impl Read, name: Option<&str>, comment: &str, changes: &[String]) -> Result<Image, ImageError> {
        if let Some(n) = name {
            check_name(n)?;
        }
        let changes = changes::parse(changes)?;
        let diff_id = self.add_layer(|w| io::copy(&mut body, w).map(|_| ()))?;
        let now = now_rfc3339();
        let mut run = serde_json::Map::new();
        run.insert("Env".into(), serde_json::json!([DEFAULT_PATH]));
        changes::apply(&changes, &mut run);
        let config = serde_json::json!({
            "architecture": super::manifest::host_arch(),
            "os": "linux",
            "created": now,
            "comment": comment,
            "config": run,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": now, "comment": comment}],
        });
        let bytes = serde_json::to_vec(&config).map_err(|e| ImageError::BadArchive(e.to_string()))?;
        let id = self.add_config(&bytes)?;
        if let Some(n) = name {
            self.tag(&id, n)?;
        }
        self.get(&id)
    }

    /// Stores an image config verbatim (its sha256 is the image id) after checking that it
    /// parses and that every layer it names is extracted; returns the id.
    pub fn add_config(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let id = digest::of_bytes(bytes);
        let config: ImageConfigFile = serde_json::from_slice(bytes).map_err(|e| ImageError::BadArchive(format!("image config {id}: {e}")))?;
        for d in &config.rootfs.diff_ids {
            if !self.layer_dir(d).is_dir() {
                return Err(ImageError::BadArchive(format!("image config {id}: layer {d} is not in the store")));
            }
        }
        self.content().put(bytes)?;
        let cfg_path = self.config_path(&id);
        atomic_write(&cfg_path, bytes).map_err(io_err(&cfg_path))?;
        Ok(id)
    }

    fn config_path(&self, id: &str) -> PathBuf {
        self.dir().join("configs").join(format!("{}.json", id.trim_start_matches("sha256:")))
    }

    /// The config of image `id`, byte for byte as stored (its digest is the id).
    pub fn config_bytes(&self, id: &str) -> Result<Vec<u8>, ImageError> {
        let p = self.config_path(id);
        std::fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::NotFound(id.to_owned()),
            _ => ImageError::Io { path: p.clone(), source: e },
        })
    }

    /// Points the name `name` ("repo[:tag]", checked with Docker's grammar) at image `id`.
    pub fn tag(&self, id: &str, name: &str) -> Result<(), ImageError> {
        let key = check_name(name)?;
        let _guard = self.inner.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut refs = self.refs()?;
        refs.insert(key, id.to_owned());
        let p = self.refs_path();
        write_json(&p, &refs).map_err(io_err(&p))
    }

    /// Removes the name `name`; returns the normalized name if it existed.
    pub fn untag(&self, name: &str) -> Result<Option<String>, ImageError> {
        let _guard = self.inner.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        if has_digest(name) {
            return Ok(None);
        }
        let mut refs = self.refs()?;
        let key = reference::normalize(name);
        if refs.remove(&key).is_none() {
            return Ok(None);
        }
        let p = self.refs_path();
        write_json(&p, &refs).map_err(io_err(&p))?;
        Ok(Some(key))
    }

    /// Whether `name` is one of the store's names (rather than an id).
    pub fn is_tag(&self, name: &str) -> bool {
        if has_digest(name) {
            return false;
        }
        self.refs().map(|r| r.contains_key(&reference::normalize(name))).unwrap_or(false)
    }

    /// Deletes image `id` (which must have no names left): its config, and every layer and
    /// blob no other image uses. Returns the bytes of the layers that no other image uses.
    pub fn delete(&self, id: &str) -> Result<u64, ImageError> {
        let img = self.get(id)?;
        let _ = self.content().remove(&img.id);
        // The manifests it was pulled or pushed as (and an index's entry for this machine).
        for rd in self.repo_digests(&img.id) {
            let Some((_, d)) = rd.rsplit_once('@') else {
                continue;
            };
            if let Ok(bytes) = self.content().read(d)
                && let Ok(super::manifest::Parsed::Index(index)) = super::manifest::parse(&bytes, None, d)
                && let Ok(child) = super::manifest::choose_platform(&index, d)
            {
                let _ = self.content().remove(&child);
            }
            let _ = self.content().remove(d);
        }
        let p = self.config_path(&img.id);
        std::fs::remove_file(&p).map_err(io_err(&p))?;
        {
            let _guard = self.inner.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
            let dp = self.digests_path();
            let mut m: BTreeMap<String, Vec<String>> = read_map(&dp)?;
            if m.remove(&img.id).is_some() {
                write_json(&dp, &m).map_err(io_err(&dp))?;
            }
        }
        let still_used: std::collections::HashSet<String> = self.list()?.into_iter().flat_map(|i| i.config.rootfs.diff_ids).collect();
        let freed = img.config.rootfs.diff_ids.iter().filter(|d| !still_used.contains(*d)).map(|d| dir_size(&self.layer_dir(d))).sum();
        // Its layers and blobs go as garbage: now if no load, pull or commit runs, else when
        // the last one ends, since one may be reusing a layer this image had (a layer it
        // found already extracted is referenced only once its own config is stored).
        if let Err(e) = self.collect_garbage() {
            tracing::warn!("image store: collecting the layers of {}: {e}", img.id);
        }
        Ok(freed)
    }

    /// Removes every name of image `id` and deletes it. Returns the names removed (tags,
    /// then "repo@digest" names) and the bytes of the layers removed.
    pub fn remove(&self, id: &str) -> Result<(Vec<String>, u64), ImageError> {
        let img = self.get(id)?;
        let mut untagged = Vec::new();
        for t in &img.tags {
            untagged.extend(self.untag(t)?);
        }
        untagged.extend(self.repo_digests(&img.id));
        let freed = self.delete(&img.id)?;
        Ok((untagged, freed))
    }

    /// Resolves a name, full id, or unique id prefix to an image; a name Docker's grammar
    /// refuses is an error of its own (Docker's `invalid reference format`), not a miss.
    pub fn get(&self, name_or_id: &str) -> Result<Image, ImageError> {
        let refs = self.refs()?;
        let key = match reference::parse_any(name_or_id)? {
            // `repo@digest` names the manifest it was pulled or pushed as, nothing else (not
            // `repo:latest`).
            reference::AnyRef::Named(n) if n.digest.is_some() => {
                let want = format!("{}@{}", n.familiar_repo(), n.digest.as_deref().unwrap_or_default());
                let all: BTreeMap<String, Vec<String>> = read_map(&self.digests_path())?;
                let id = all.into_iter().find(|(_, v)| v.contains(&want)).map(|(id, _)| id);
                return match id {
                    Some(id) => self.get(&id),
                    None => Err(ImageError::NotFound(name_or_id.to_owned())),
                };
            }
            reference::AnyRef::Named(n) => Some(n.key()),
            reference::AnyRef::Id(_) => None,
        };
        let id = if let Some(id) = key.and_then(|k| refs.get(&k)) {
            id.clone()
        } else {
            let hexpart = name_or_id.trim_start_matches("sha256:");
            if hexpart.is_empty() || !hexpart.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ImageError::NotFound(name_or_id.to_owned()));
            }
            let mut found = self.config_ids()?.into_iter().filter(|h| h.starts_with(hexpart));
            match (found.next(), found.next()) {
                (Some(h), None) => format!("sha256:{h}"),
                _ => return Err(ImageError::NotFound(name_or_id.to_owned())),
            }
        };
        let cfg_path = self.config_path(&id);
        let config: ImageConfigFile = read_json(&cfg_path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::NotFound(name_or_id.to_owned()),
            _ => ImageError::Io { path: cfg_path.clone(), source: e },
        })?;
        let tags = refs.iter().filter(|(_, v)| **v == id).map(|(k, _)| k.clone()).collect();
        let size = config.rootfs.diff_ids.iter().map(|d| dir_size(&self.layer_dir(d))).sum();
        Ok(Image { id, config, tags, size })
    }

    pub(super) fn config_ids(&self) -> Result<Vec<String>, ImageError> {
        let dir = self.dir().join("configs");
        let rd = std::fs::read_dir(&dir).map_err(io_err(&dir))?;
        Ok(rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_owned))
            .filter(|n| !n.starts_with('.'))
            .collect())
    }

    /// Every image in the store.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let mut out = Vec::new();
        for h in self.config_ids()? {
            out.push(self.get(&format!("sha256:{h}"))?);
        }
        Ok(out)
    }

    /// A directory for temporary work inside the store (same filesystem as the layers).
    pub fn temp_dir(&self) -> Result<TempDir, ImageError> {
        let p = self.dir().join("tmp").join(format!("work-{}", crate::util::random_id()));
        std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        Ok(TempDir(p))
    }
}

/// A layer extracted into the store's temp dir but not yet published; dropped unpublished
/// (failed download, digest or diff id mismatch), it is removed.
pub struct StagedLayer {
    dir: PathBuf,
    diff: String,
}

impl Drop for StagedLayer {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Now, as image configs write it (RFC 3339, nanoseconds, UTC).
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A directory removed (with everything in it) when dropped.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Refuses a name Docker would refuse as a tag ("repo[:tag]", no digest); returns the
/// store's key for it.
pub(crate) fn check_name(name: &str) -> Result<String, ImageError> {
    let n = reference::parse_normalized(name)?;
    if n.digest.is_some() {
        return Err(reference::RefError::DigestNotTag.into());
    }
    Ok(n.key())
}

pub(super) fn read_map<V: serde::de::DeserializeOwned>(p: &Path) -> Result<BTreeMap<String, V>, ImageError> {
    match read_json(p) {
        Ok(r) => Ok(r),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(ImageError::Io { path: p.to_path_buf(), source: e }),
    }
}

/// Apparent size in bytes of the files below `dir` (symlinks not followed).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                total += md.len();
            }
        }
    }
    total
}

/// Whether `name` is a `repo@digest` reference (which is no tag: "busybox@sha256:…" is not
/// "busybox:latest").
fn has_digest(name: &str) -> bool {
    matches!(reference::parse_any(name), Ok(reference::AnyRef::Named(reference::Named { digest: Some(_), .. })))
}
