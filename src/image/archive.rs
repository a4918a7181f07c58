//! `docker save` / `docker load`: the docker-archive format (manifest.json, `<id>.json`
//! configs, `<diff id>/layer.tar` uncompressed layers); load also takes an OCI image layout
//! (index.json + blobs/sha256).
//!
//! A loaded archive is never unpacked onto the filesystem: its regular files are spooled
//! (and hashed) into a private temp dir under flat names, and every path that manifest.json,
//! a config or index.json names is resolved in the archive's own table of entries. A symlink
//! is followed only while it stays inside the archive (legacy `docker save` links duplicate
//! `layer.tar`s); one that is absolute or climbs out, and a hard link to anything but an
//! earlier file of the archive, is refused by name. So no host file is ever read.

use super::content::ContentError;
use super::error::ImageError;
use super::manifest::{self, Parsed};
use super::store::{ImageStore, TempDir};
use super::{digest, layer, reference};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ffi::OsString;
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
                    let mut f = crate::fsperm::create_private(&spool).map_err(io_err(&spool))?;
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

/// The most symlinks one path of an archive may go through (Linux's own limit).
const MAX_LINKS: usize = 40;
/// The largest manifest.json, index.json, manifest or config read into memory.
const MAX_JSON: u64 = 32 << 20;

/// What one path of an archive is.
#[derive(Debug, Clone)]
enum Node {
    /// A regular file, spooled to `spool`, with its sha256.
    File {
        spool: PathBuf,
        digest: String,
    },
    Dir,
    /// A symlink, with its target as written.
    Symlink(PathBuf),
    /// A device, fifo, or any other kind of entry: never read.
    Other,
}

/// An archive read into a temp dir: its entries by normalized relative path.
struct Spooled {
    _dir: TempDir,
    nodes: HashMap<Vec<OsString>, Node>,
}

/// The normal components of `raw` (an entry name or a path named inside the archive), or
/// None if it is absolute or has `..`.
fn components(raw: &Path) -> Option<Vec<OsString>> {
    let mut out = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p.to_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn show(path: &[OsString]) -> String {
    path.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/")
}

impl Spooled {
    /// Reads the whole tar, spooling regular files into a temp dir of the store.
    fn read(store: &ImageStore, input: impl Read) -> Result<Spooled, ImageError> {
        let dir = store.temp_dir()?;
        let mut nodes = HashMap::new();
        let mut ar = tar::Archive::new(input);
        let entries = ar.entries().map_err(|e| bad(e.to_string()))?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let raw = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
            let path = components(&raw).ok_or_else(|| bad(format!("archive entry {raw:?} is outside the archive (absolute or with '..')")))?;
            if path.is_empty() {
                continue; // "./"
            }
            let kind = entry.header().entry_type();
            let node = if kind.is_file() || kind == tar::EntryType::Continuous || kind == tar::EntryType::GNUSparse {
                let spool = dir.0.join(format!("f{n}"));
                let mut f = crate::fsperm::private_file().write(true).create_new(true).open(&spool).map_err(io_err(&spool))?;
                let mut hw = digest::HashingWriter::new(&mut f);
                io::copy(&mut entry, &mut hw).map_err(|e| match e.kind() {
                    // A write error is the disk's; a read error is the archive's.
                    io::ErrorKind::StorageFull => ImageError::Io { path: spool.clone(), source: e },
                    _ => bad(format!("archive entry {raw:?}: {e}")),
                })?;
                let (digest, _, _) = hw.finish();
                Node::File { spool, digest }
            } else if kind.is_hard_link() {
                let target = entry.link_name().map_err(|e| bad(e.to_string()))?.map(|t| t.into_owned()).unwrap_or_default();
                let file = components(&target).and_then(|t| nodes.get(&t).cloned()).filter(|n| matches!(n, Node::File { .. }));
                file.ok_or_else(|| bad(format!("archive entry {raw:?} is a hard link to {target:?}, which is not a file of the archive")))?
            } else if kind.is_symlink() {
                let target = entry.link_name().map_err(|e| bad(e.to_string()))?.map(|t| t.into_owned()).unwrap_or_default();
                Node::Symlink(target)
            } else if kind.is_dir() {
                Node::Dir
            } else {
                Node::Other
            };
            nodes.insert(path, node);
        }
        Ok(Spooled { _dir: dir, nodes })
    }

    /// Whether the archive has an entry (of any kind) at `name`.
    fn has(&self, name: &str) -> bool {
        components(Path::new(name)).is_some_and(|p| self.nodes.contains_key(&p))
    }

    /// The file the archive's path `name` leads to, following symlinks only while they stay
    /// inside the archive.
    fn resolve(&self, name: &str) -> Result<(&Path, &str), ImageError> {
        let mut path = components(Path::new(name)).ok_or_else(|| bad(format!("archive names {name:?}, which is outside the archive")))?;
        let mut links = 0;
        'walk: loop {
            for i in 1..=path.len() {
                match self.nodes.get(&path[..i]) {
                    Some(Node::Symlink(target)) => {
                        links += 1;
                        let link = show(&path[..i]);
                        if links > MAX_LINKS {
                            return Err(bad(format!("{name:?}: too many levels of symlinks in the archive")));
                        }
                        let escapes = || {
                            bad(format!(
                                "archive entry {link:?} (for {name:?}) is a symlink to {target:?}, which points outside the archive; refused"
                            ))
                        };
                        let mut next: Vec<OsString> = path[..i - 1].to_vec();
                        for c in target.components() {
                            match c {
                                Component::Normal(p) => next.push(p.to_owned()),
                                Component::CurDir => {}
                                Component::ParentDir => {
                                    next.pop().ok_or_else(escapes)?;
                                }
                                Component::RootDir | Component::Prefix(_) => return Err(escapes()),
                            }
                        }
                        next.extend_from_slice(&path[i..]);
                        path = next;
                        continue 'walk;
                    }
                    Some(Node::File { spool, digest }) if i == path.len() => {
                        return Ok((spool, digest));
                    }
                    Some(Node::File { .. }) | Some(Node::Other) if i < path.len() => {
                        return Err(bad(format!("{name:?}: archive entry {:?} is not a directory", show(&path[..i]))));
                    }
                    Some(Node::Other) => {
                        return Err(bad(format!("{name:?}: archive entry {:?} is not a regular file", show(&path))));
                    }
                    _ => {}
                }
            }
            return Err(bad(format!("the archive has no file {name:?}")));
        }
    }

    /// The bytes of the (small) file at `name`.
    fn read_json_file(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let (spool, _) = self.resolve(name)?;
        let f = std::fs::File::open(spool).map_err(io_err(spool))?;
        let mut data = Vec::new();
        f.take(MAX_JSON + 1).read_to_end(&mut data).map_err(io_err(spool))?;
        if data.len() as u64 > MAX_JSON {
            return Err(bad(format!("{name:?} is larger than {MAX_JSON} bytes")));
        }
        Ok(data)
    }
}

/// Loads a docker-archive or OCI-layout tar; `say` gets Docker's "Loaded image: ..." lines.
/// Every layer is extracted and checked before any image is added or named, so a refused
/// archive adds no image; blobs it left are collected (see [`ImageStore::begin`]).
pub fn load(store: &ImageStore, input: impl Read, say: &mut dyn FnMut(String)) -> Result<(), ImageError> {
    let op = store.begin();
    let result = (|| {
        let ar = Spooled::read(store, input)?;
        let images = if ar.has("manifest.json") {
            load_docker(store, &ar)?
        } else if ar.has("index.json") {
            load_oci(store, &ar)?
        } else {
            return Err(bad("neither manifest.json (docker-archive) nor index.json (OCI layout) found"));
        };
        for (config, tags) in images {
            let id = store.add_config(&config)?;
            if tags.is_empty() {
                say(format!("Loaded image ID: {id}"));
            }
            for t in tags {
                store.tag(&id, &t)?;
                say(format!("Loaded image: {t}"));
            }
        }
        Ok(())
    })();
    op.end(result)
}

/// An image ready to be added: its config and the names to give it.
type Ready = (Vec<u8>, Vec<String>);

/// Gets the layer at archive path `lp` (diff id `diff`) into the store, unless it is there.
fn put_layer(store: &ImageStore, ar: &Spooled, lp: &str, diff: &str) -> Result<(), ImageError> {
    if store.layer_dir(diff).is_dir() {
        return Ok(());
    }
    let (spool, blob) = ar.resolve(lp)?;
    store.content().adopt(spool, blob)?;
    store.extract_blob(blob, Some(diff))?;
    Ok(())
}

fn load_docker(store: &ImageStore, ar: &Spooled) -> Result<Vec<Ready>, ImageError> {
    let entries: Vec<ArchiveEntry> = serde_json::from_slice(&ar.read_json_file("manifest.json")?).map_err(|e| bad(format!("manifest.json: {e}")))?;
    // Names are checked before anything is stored, as Docker does.
    let mut named = Vec::new();
    for entry in &entries {
        let mut tags = Vec::new();
        for t in entry.repo_tags.iter().flatten() {
            let n = reference::parse_normalized(t)?;
            if n.tag.is_none() || n.digest.is_some() {
                return Err(bad(format!("invalid tag {t:?}")));
            }
            tags.push(n.key());
        }
        named.push(tags);
    }
    let mut out = Vec::new();
    for (entry, tags) in entries.iter().zip(named) {
        let config = ar.read_json_file(&entry.config)?;
        let diff_ids = diff_ids_of(&config)?;
        if diff_ids.len() != entry.layers.len() {
            return Err(bad(format!("{}: {} layers listed but the config has {}", entry.config, entry.layers.len(), diff_ids.len())));
        }
        for (lp, diff) in entry.layers.iter().zip(&diff_ids) {
            put_layer(store, ar, lp, diff)?;
        }
        out.push((config, tags));
    }
    Ok(out)
}

fn diff_ids_of(config: &[u8]) -> Result<Vec<String>, ImageError> {
    let c: super::config::ImageConfigFile = serde_json::from_slice(config).map_err(|e| bad(format!("image config: {e}")))?;
    Ok(c.config_diff_ids())
}

/// Copies blob `digest` of an OCI layout into the content store, verifying it.
fn import_blob(store: &ImageStore, ar: &Spooled, digest: &str) -> Result<(), ImageError> {
    if store.content().has(digest) {
        return Ok(());
    }
    let name = format!("blobs/sha256/{}", digest::hex_of(digest).map_err(ContentError::from)?);
    let (spool, actual) = ar.resolve(&name)?;
    if actual != digest {
        return Err(ContentError::Mismatch { expected: digest.to_owned(), actual: actual.to_owned() }.into());
    }
    store.content().adopt(spool, digest)?;
    Ok(())
}

/// A blob of the layout that is read into memory (index, manifest, config): size-capped.
fn small_blob(store: &ImageStore, ar: &Spooled, digest: &str) -> Result<Vec<u8>, ImageError> {
    import_blob(store, ar, digest)?;
    let f = store.content().open_blob(digest)?;
    let mut data = Vec::new();
    f.take(MAX_JSON + 1).read_to_end(&mut data).map_err(|e| bad(format!("{digest}: {e}")))?;
    if data.len() as u64 > MAX_JSON {
        return Err(bad(format!("{digest} is larger than {MAX_JSON} bytes")));
    }
    Ok(data)
}

fn load_oci(store: &ImageStore, ar: &Spooled) -> Result<Vec<Ready>, ImageError> {
    let index: oci_spec::image::ImageIndex =
        serde_json::from_slice(&ar.read_json_file("index.json")?).map_err(|e| bad(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    for desc in index.manifests() {
        let annotations = desc.annotations().clone().unwrap_or_default();
        // ref.name is often only a tag ("latest"); only a full reference names the image.
        let name = annotations
            .get("io.containerd.image.name")
            .cloned()
            .or_else(|| annotations.get("org.opencontainers.image.ref.name").filter(|n| n.contains(':') || n.contains('/')).cloned());
        let tags = match name.map(|n| reference::parse_normalized(&n)) {
            Some(Ok(n)) if n.digest.is_none() => vec![n.key()],
            _ => Vec::new(),
        };
        let mut mdigest = desc.digest().to_string();
        let mut bytes = small_blob(store, ar, &mdigest)?;
        if let Parsed::Index(inner) = manifest::parse(&bytes, Some(desc.media_type().as_ref()), &mdigest)? {
            mdigest = manifest::choose_platform(&inner, &mdigest)?;
            bytes = small_blob(store, ar, &mdigest)?;
        }
        let Parsed::Image(m) = manifest::parse(&bytes, None, &mdigest)? else {
            return Err(bad(format!("{mdigest}: nested index")));
        };
        let cdigest = m.config().digest().to_string();
        let config = small_blob(store, ar, &cdigest)?;
        let diff_ids = diff_ids_of(&config)?;
        if diff_ids.len() != m.layers().len() {
            return Err(bad(format!("{mdigest}: {} layers but the config has {}", m.layers().len(), diff_ids.len())));
        }
        for (l, diff) in m.layers().iter().zip(&diff_ids) {
            if store.layer_dir(diff).is_dir() {
                continue;
            }
            let ld = l.digest().to_string();
            import_blob(store, ar, &ld)?;
            store.extract_blob(&ld, Some(diff))?;
        }
        out.push((config, tags));
    }
    Ok(out)
}
