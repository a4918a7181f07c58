//! The image store: layers extracted once under `<root>/image/layers/<diff-id hex>`, image
//! configs under `<root>/image/configs/<image-id hex>.json`, names in
//! `<root>/image/repositories.json`. Every file is written crash-safely.

use super::reference;
use crate::util::{atomic_write, read_json, write_json};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image answers to this name or id.
    #[error("No such image: {0}")]
    NotFound(String),
    /// A repository name Docker would refuse.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    InvalidReference(String),
    /// The uploaded archive is not a usable tar.
    #[error("invalid image archive: {0}")]
    BadArchive(String),
    /// A file of the store could not be read or written.
    #[error("image store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io { path: path.to_path_buf(), source }
}

/// An image's config, in the OCI/Docker image config format (the fields berth uses).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageConfigFile {
    pub architecture: String,
    pub os: String,
    pub created: String,
    pub config: RunConfig,
    pub rootfs: RootFs,
    pub history: Vec<serde_json::Value>,
}

/// The run defaults an image carries (`config` of the image config).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RunConfig {
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub user: String,
}

/// `rootfs` of the image config: the layers' uncompressed digests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

/// An image as the daemon sees it.
#[derive(Debug, Clone)]
pub struct Image {
    /// "sha256:<hex>" of the config.
    pub id: String,
    pub config: ImageConfigFile,
    /// "repo:tag" names pointing at it.
    pub tags: Vec<String>,
    /// Bytes of its extracted layers.
    pub size: u64,
}

/// The image store of one daemon root.
pub struct ImageStore {
    dir: PathBuf,
    /// Serializes changes to repositories.json.
    refs_lock: Mutex<()>,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ImageStore {
    /// Opens (creating) the store under `<root>/image`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let dir = root.join("image");
        for sub in ["layers", "configs", "tmp"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(ImageStore { dir, refs_lock: Mutex::new(()) })
    }

    fn refs_path(&self) -> PathBuf {
        self.dir.join("repositories.json")
    }

    fn refs(&self) -> Result<BTreeMap<String, String>, ImageError> {
        let p = self.refs_path();
        match read_json(&p) {
            Ok(r) => Ok(r),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(ImageError::Io { path: p, source: e }),
        }
    }

    /// Directory holding the extracted layer with this diff id ("sha256:<hex>").
    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.dir.join("layers").join(diff_id.trim_start_matches("sha256:"))
    }

    /// Imports a rootfs tarball (plain or gzip) as a one-layer image, tagged `name` if given.
    pub fn import(&self, body: impl Read, name: Option<&str>, comment: &str) -> Result<Image, ImageError> {
        if let Some(n) = name {
            let (repo, _) = reference::parse(n);
            if !reference::valid_repository(&repo) {
                return Err(ImageError::InvalidReference(repo));
            }
        }
        let tmp = self.dir.join("tmp").join(crate::util::random_id());
        let result = self.import_into(&tmp, body, name, comment);
        let _ = std::fs::remove_dir_all(&tmp);
        result
    }

    fn import_into(&self, tmp: &Path, body: impl Read, name: Option<&str>, comment: &str) -> Result<Image, ImageError> {
        std::fs::create_dir_all(tmp).map_err(io_err(tmp))?;
        // Spool the (possibly compressed) upload, hashing the uncompressed tar on the way:
        // its digest is the layer's diff id.
        let mut reader = io::BufReader::new(body);
        let gz = {
            let buf = io::BufRead::fill_buf(&mut reader).map_err(io_err(tmp))?;
            buf.starts_with(&[0x1f, 0x8b])
        };
        let mut src: Box<dyn Read> =
            if gz { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
        let tar_path = tmp.join("layer.tar");
        let mut hasher = Sha256::new();
        {
            let mut out = std::fs::File::create(&tar_path).map_err(io_err(&tar_path))?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = src.read(&mut buf).map_err(|e| ImageError::BadArchive(e.to_string()))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                io::Write::write_all(&mut out, &buf[..n]).map_err(io_err(&tar_path))?;
            }
        }
        let diff_id = format!("sha256:{}", hex::encode(hasher.finalize()));
        let layer = self.layer_dir(&diff_id);
        if !layer.exists() {
            let staging = tmp.join("rootfs");
            std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
            let file = std::fs::File::open(&tar_path).map_err(io_err(&tar_path))?;
            let mut archive = tar::Archive::new(file);
            archive.set_preserve_permissions(true);
            archive.set_preserve_ownerships(true);
            archive.set_unpack_xattrs(true);
            archive.set_overwrite(true);
            // tar's unpack refuses entries that would land outside `staging` ("..", absolute
            // paths, writes through symlinks pointing out).
            archive.unpack(&staging).map_err(|e| ImageError::BadArchive(e.to_string()))?;
            match std::fs::rename(&staging, &layer) {
                Ok(()) => {}
                // Another import of the same layer won the race: theirs is as good as ours.
                Err(_) if layer.exists() => {}
                Err(e) => return Err(ImageError::Io { path: layer, source: e }),
            }
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let config = ImageConfigFile {
            architecture: "amd64".into(),
            os: "linux".into(),
            created: now.clone(),
            config: RunConfig { env: Some(vec![DEFAULT_PATH.into()]), ..Default::default() },
            rootfs: RootFs { kind: "layers".into(), diff_ids: vec![diff_id] },
            history: vec![serde_json::json!({"created": now, "comment": comment})],
        };
        let bytes = serde_json::to_vec(&config).map_err(|e| ImageError::BadArchive(e.to_string()))?;
        let hexid = hex::encode(Sha256::digest(&bytes));
        let cfg_path = self.dir.join("configs").join(format!("{hexid}.json"));
        atomic_write(&cfg_path, &bytes).map_err(io_err(&cfg_path))?;
        let id = format!("sha256:{hexid}");
        if let Some(n) = name {
            self.tag(&id, n)?;
        }
        self.get(&id)
    }

    /// Points the name `reference` at image `id`.
    pub fn tag(&self, id: &str, name: &str) -> Result<(), ImageError> {
        let _guard = self.refs_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut refs = self.refs()?;
        refs.insert(reference::normalize(name), id.to_owned());
        let p = self.refs_path();
        write_json(&p, &refs).map_err(io_err(&p))
    }

    /// Resolves a name, full id, or unique id prefix to an image.
    pub fn get(&self, name_or_id: &str) -> Result<Image, ImageError> {
        let refs = self.refs()?;
        let id = if let Some(id) = refs.get(&reference::normalize(name_or_id)) {
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
        let hexid = id.trim_start_matches("sha256:");
        let cfg_path = self.dir.join("configs").join(format!("{hexid}.json"));
        let config: ImageConfigFile = read_json(&cfg_path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::NotFound(name_or_id.to_owned()),
            _ => ImageError::Io { path: cfg_path.clone(), source: e },
        })?;
        let tags = refs.iter().filter(|(_, v)| **v == id).map(|(k, _)| k.clone()).collect();
        let size = config.rootfs.diff_ids.iter().map(|d| dir_size(&self.layer_dir(d))).sum();
        Ok(Image { id, config, tags, size })
    }

    fn config_ids(&self) -> Result<Vec<String>, ImageError> {
        let dir = self.dir.join("configs");
        let rd = std::fs::read_dir(&dir).map_err(io_err(&dir))?;
        Ok(rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_owned))
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
}

/// Apparent size in bytes of the files below `dir` (symlinks not followed).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
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
