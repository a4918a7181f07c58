//! An image's config (the OCI/Docker image config JSON, the fields berth uses) and an image
//! as the daemon sees it.

use serde::{Deserialize, Serialize};

/// An image's config, in the OCI/Docker image config format (the fields berth uses).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageConfigFile {
    pub architecture: String,
    pub os: String,
    pub created: String,
    /// Who made it (`commit --author`).
    pub author: String,
    /// Why (`commit --message`, `import --message`).
    pub comment: String,
    /// The container it was committed from.
    pub container: String,
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
    /// `HEALTHCHECK`.
    pub healthcheck: Option<crate::api::types::HealthConfig>,
    /// `LABEL`s, which its containers inherit.
    pub labels: Option<std::collections::HashMap<String, String>>,
    /// `EXPOSE`d ports (`80/tcp` keys), which its containers inherit.
    pub exposed_ports: Option<std::collections::BTreeMap<String, serde_json::Value>>,
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

impl ImageConfigFile {
    /// The layers' diff ids, bottom first.
    pub fn config_diff_ids(&self) -> Vec<String> {
        self.rootfs.diff_ids.clone()
    }
}
