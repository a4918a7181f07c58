//! Image manifests as registries serve them: OCI image index / manifest and Docker schema2
//! manifest list / manifest (the same shapes under different media types), parsed with
//! oci-spec, plus the platform choice in an index.

use oci_spec::image::{ImageIndex, ImageManifest};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker schema2 manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Every manifest type a pull accepts, for the Accept header.
pub const ACCEPT: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Errors reading a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of any manifest kind berth knows.
    #[error("manifest {digest}: {reason}")]
    Invalid { digest: String, reason: String },
    /// An index without an entry for this machine.
    #[error("no matching manifest for linux/{arch} in the manifest list entries ({digest})")]
    NoPlatform { digest: String, arch: String },
}

/// A parsed top-level manifest.
// A short-lived parse result, matched on at once: boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A single-platform image.
    Image(ImageManifest),
    /// A multi-platform index / manifest list.
    Index(ImageIndex),
}

/// Parses manifest bytes, by their media type (the header's, else the body's own field).
pub fn parse(bytes: &[u8], content_type: Option<&str>, digest: &str) -> Result<Parsed, ManifestError> {
    let invalid = |reason: String| ManifestError::Invalid { digest: digest.to_owned(), reason };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let mt = v.get("mediaType").and_then(|m| m.as_str()).or(content_type).unwrap_or("");
    let is_index = mt == OCI_INDEX || mt == DOCKER_LIST || (mt.is_empty() && v.get("manifests").is_some());
    if is_index {
        serde_json::from_value(v).map(Parsed::Index).map_err(|e| invalid(e.to_string()))
    } else if v.get("schemaVersion").and_then(|s| s.as_i64()) == Some(1) {
        Err(invalid("Docker schema1 manifests are not supported".into()))
    } else {
        serde_json::from_value(v).map(Parsed::Image).map_err(|e| invalid(e.to_string()))
    }
}

/// This machine's architecture in OCI terms.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The digest of the linux/<host arch> entry of an index.
pub fn choose_platform(index: &ImageIndex, index_digest: &str) -> Result<String, ManifestError> {
    let arch = host_arch();
    index
        .manifests()
        .iter()
        .find(|m| m.platform().as_ref().is_some_and(|p| p.os().to_string() == "linux" && p.architecture().to_string() == arch))
        .map(|m| m.digest().to_string())
        .ok_or_else(|| ManifestError::NoPlatform { digest: index_digest.to_owned(), arch: arch.to_owned() })
}

/// A Docker schema2 manifest for a config and layers: (digest, size, media type) each.
pub fn docker_manifest(config: (&str, u64), layers: &[(String, u64, &str)]) -> Vec<u8> {
    let v = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config.1, "digest": config.0},
        "layers": layers.iter().map(|(d, s, m)| serde_json::json!({"mediaType": m, "size": s, "digest": d})).collect::<Vec<_>>(),
    });
    serde_json::to_vec_pretty(&v).unwrap_or_default()
}
