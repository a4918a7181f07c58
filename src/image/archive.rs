//! `docker save` / `docker load`: the docker-archive format (manifest.json, `<id>.json`
//! configs, `<diff id>/layer.tar` uncompressed layers); load also takes an OCI image layout
//! (index.json + blobs/sha256).

use super::content::ContentError;
use super::manifest::{self, Parsed};
use super::store::{ImageError, ImageStore};
use super::{digest, layer};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// One image of a docker-archive's manifest.json.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn bad(msg: impl Into<String>) -> ImageError {
    ImageError::BadArchive(msg.into())
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io { path: path.to_path_buf(), source }
}

fn append(tar: &mut tar::Builder<impl Write>, name: &str, size: u64, data: impl Read) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, data)
}

/// Writes the images `names` as a docker-archive tar to `out`.
pub fn save(store: &ImageStore, names: &[String], out: impl Write) -> Result<(), ImageError> {
    let tmp = store.temp_dir()?;
    let mut tar = tar::Builder::new(out);
    let mut entries: Vec<ArchiveEntry> = Vec::new();
    let mut written = std::collections::HashSet::new();
    let wr = |e: io::Error| bad(format!("writing the archive: {e}"));
    for name in names {
        let img = store.get(name)?;
        let hex = img.id.trim_start_matches("sha256:").to_owned();
        let config = store.config_bytes(&img.id)?;
        if written.insert(img.id.clone()) {
            append(&mut tar, &format!("{hex}.json"), config.len() as u64, &config[..]).map_err(wr)?;
        }
        let mut layers = Vec::new();
        for diff in &img.config.rootfs.diff_ids {
            let dhex = digest::hex_of(diff).map_err(ContentError::from)?.to_owned();
            let path = format!("{dhex}/layer.tar");
            if written.insert(diff.clone()) {
                let blob = store
                    .layer_blobs(diff)
                    .into_iter()
                    .next()
                    .ok_or_else(|| bad(format!("no stored blob holds layer {diff}; it cannot be saved")))?;
                // docker-archive layers are uncompressed: spool the tar to learn its size.
                let spool = tmp.0.join(&dhex);
                {
                    let mut src = layer::decompressed(store.content().open_blob(&blob.digest)?).map_err(io_err(&spool))?;
                    let mut f = std::fs::File::create(&spool).map_err(io_err(&spool))?;
                    io::copy(&mut src, &mut f).map_err(io_err(&spool))?;
                }
                let f = std::fs::File::open(&spool).map_err(io_err(&spool))?;
                let size = f.metadata().map_err(io_err(&spool))?.len();
                append(&mut tar, &path, size, f).map_err(wr)?;
                let _ = std::fs::remove_file(&spool);
            }
            layers.push(path);
        }
        let tags = if store.is_tag(name) { vec![super::reference::normalize(name)] } else { img.tags.clone() };
        entries.push(ArchiveEntry { config: format!("{hex}.json"), repo_tags: Some(tags), layers });
    }
    let m = serde_json::to_vec(&entries).map_err(|e| bad(e.to_string()))?;
    append(&mut tar, "manifest.json", m.len() as u64, &m[..]).map_err(wr)?;
    tar.into_inner().and_then(|mut w| w.flush()).map_err(wr)?;
    Ok(())
}

/// `base/rel` for a path named inside an archive, refusing absolute paths and `..`.
fn inside(base: &Path, rel: &str) -> Result<PathBuf, ImageError> {
    let p = Path::new(rel);
    if p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        Ok(base.join(p))
    } else {
        Err(bad(format!("archive names {rel:?}, which is outside the archive")))
    }
}

/// Loads a docker-archive or OCI-layout tar; `say` gets Docker's "Loaded image: ..." lines.
pub fn load(store: &ImageStore, input: impl Read, say: &mut dyn FnMut(String)) -> Result<(), ImageError> {
    let tmp = store.temp_dir()?;
    let dir = tmp.0.clone();
    let mut ar = tar::Archive::new(input);
    // tar's unpack skips entries that would leave `dir`.
    ar.unpack(&dir).map_err(|e| bad(e.to_string()))?;
    if dir.join("manifest.json").is_file() {
        load_docker(store, &dir, say)
    } else if dir.join("index.json").is_file() {
        load_oci(store, &dir, say)
    } else {
        Err(bad("neither manifest.json (docker-archive) nor index.json (OCI layout) found"))
    }
}

fn load_docker(store: &ImageStore, dir: &Path, say: &mut dyn FnMut(String)) -> Result<(), ImageError> {
    let mpath = dir.join("manifest.json");
    let entries: Vec<ArchiveEntry> =
        serde_json::from_slice(&std::fs::read(&mpath).map_err(io_err(&mpath))?).map_err(|e| bad(format!("manifest.json: {e}")))?;
    for entry in entries {
        let cpath = inside(dir, &entry.config)?;
        let config = std::fs::read(&cpath).map_err(io_err(&cpath))?;
        let diff_ids = diff_ids_of(&config)?;
        if diff_ids.len() != entry.layers.len() {
            return Err(bad(format!("{}: {} layers listed but the config has {}", entry.config, entry.layers.len(), diff_ids.len())));
        }
        for (lp, diff) in entry.layers.iter().zip(&diff_ids) {
            if store.layer_dir(diff).is_dir() {
                continue;
            }
            let p = inside(dir, lp)?;
            let f = std::fs::File::open(&p).map_err(io_err(&p))?;
            let (blob, _) = store.content().put_reader(f)?;
            store.extract_blob(&blob, Some(diff))?;
        }
        let id = store.add_config(&config)?;
        let tags = entry.repo_tags.unwrap_or_default();
        if tags.is_empty() {
            say(format!("Loaded image ID: {id}"));
        }
        for t in tags {
            store.tag(&id, &t)?;
            say(format!("Loaded image: {t}"));
        }
    }
    Ok(())
}

fn diff_ids_of(config: &[u8]) -> Result<Vec<String>, ImageError> {
    let c: super::store::ImageConfigFile = serde_json::from_slice(config).map_err(|e| bad(format!("image config: {e}")))?;
    Ok(c.config_diff_ids())
}

/// Copies blob `digest` of an OCI layout into the content store, verifying it.
fn import_blob(store: &ImageStore, dir: &Path, digest: &str) -> Result<(), ImageError> {
    if store.content().has(digest) {
        return Ok(());
    }
    let p = dir.join("blobs").join("sha256").join(digest::hex_of(digest).map_err(ContentError::from)?);
    let f = std::fs::File::open(&p).map_err(io_err(&p))?;
    store.content().write_verified(digest, f)?;
    Ok(())
}

fn load_oci(store: &ImageStore, dir: &Path, say: &mut dyn FnMut(String)) -> Result<(), ImageError> {
    let ipath = dir.join("index.json");
    let index: oci_spec::image::ImageIndex =
        serde_json::from_slice(&std::fs::read(&ipath).map_err(io_err(&ipath))?).map_err(|e| bad(format!("index.json: {e}")))?;
    for desc in index.manifests() {
        let mut mdigest = desc.digest().to_string();
        import_blob(store, dir, &mdigest)?;
        let mut bytes = store.content().read(&mdigest)?;
        if let Parsed::Index(inner) = manifest::parse(&bytes, Some(&desc.media_type().to_string()), &mdigest)? {
            mdigest = manifest::choose_platform(&inner, &mdigest)?;
            import_blob(store, dir, &mdigest)?;
            bytes = store.content().read(&mdigest)?;
        }
        let Parsed::Image(m) = manifest::parse(&bytes, None, &mdigest)? else {
            return Err(bad(format!("{mdigest}: nested index")));
        };
        let cdigest = m.config().digest().to_string();
        import_blob(store, dir, &cdigest)?;
        let config = store.content().read(&cdigest)?;
        let diff_ids = diff_ids_of(&config)?;
        if diff_ids.len() != m.layers().len() {
            return Err(bad(format!("{mdigest}: {} layers but the config has {}", m.layers().len(), diff_ids.len())));
        }
        for (l, diff) in m.layers().iter().zip(&diff_ids) {
            if store.layer_dir(diff).is_dir() {
                continue;
            }
            let ld = l.digest().to_string();
            import_blob(store, dir, &ld)?;
            store.extract_blob(&ld, Some(diff))?;
        }
        let id = store.add_config(&config)?;
        let annotations = desc.annotations().clone().unwrap_or_default();
        // ref.name is often only a tag ("latest"); only a full reference names the image.
        let name = annotations
            .get("io.containerd.image.name")
            .cloned()
            .or_else(|| annotations.get("org.opencontainers.image.ref.name").filter(|n| n.contains(':') || n.contains('/')).cloned());
        match name {
            Some(n) if super::reference::valid_repository(&super::reference::parse(&n).0) => {
                store.tag(&id, &n)?;
                say(format!("Loaded image: {}", super::reference::normalize(&n)));
            }
            _ => say(format!("Loaded image ID: {id}")),
        }
    }
    Ok(())
}
