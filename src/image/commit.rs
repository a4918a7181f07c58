//! New images from containers (`commit`): the container's changes become one more layer
//! on its image, and the image config gets the container's run config (with the commit's
//! own config and `--change`s over it, merged as Docker does) and a history entry.

use super::changes;
use super::config::Image;
use super::error::ImageError;
use super::store::{check_name, now_rfc3339, ImageStore};
use serde_json::{json, Map, Value};
use std::io;

/// What a commit records beside the container's changes.
#[derive(Debug, Clone, Default)]
pub struct CommitSpec {
    /// The container's image (id).
    pub parent: String,
    /// The container's id.
    pub container: String,
    /// The container's run config as Docker keeps it (the image's defaults merged in):
    /// Cmd, Entrypoint, Env, WorkingDir, User, Labels, ...
    pub container_config: Map<String, Value>,
    /// The run config sent with the request, if any (it wins over the container's).
    pub config: Option<Map<String, Value>>,
    /// Dockerfile instructions to apply (`--change`).
    pub changes: Vec<String>,
    pub comment: String,
    pub author: String,
    /// The history entry's `created_by`: the container's command.
    pub created_by: String,
    /// "repo[:tag]" to name the new image, if any.
    pub name: Option<String>,
}

impl ImageStore {
    /// Makes a new image from `spec.parent` plus the layer tar `write_layer` writes.
    pub fn commit(&self, spec: &CommitSpec, write_layer: impl FnOnce(&mut dyn io::Write) -> io::Result<()>) -> Result<Image, ImageError> {
        let op = self.begin();
        op.end(self.commit_in(spec, write_layer))
    }

    fn commit_in(&self, spec: &CommitSpec, write_layer: impl FnOnce(&mut dyn io::Write) -> io::Result<()>) -> Result<Image, ImageError> {
        // Everything that can be refused is checked before the layer is written.
        let changes = changes::parse(&spec.changes)?;
        if let Some(n) = &spec.name {
            check_name(n)?;
        }
        let parent = self.get(&spec.parent)?;
        let bytes = self.config_bytes(&parent.id)?;
        let mut cfg: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|e| ImageError::BadArchive(format!("image config {}: {e}", parent.id)))?;
        let diff_id = self.add_layer(write_layer)?;

        let mut run = spec.config.clone().unwrap_or_default();
        changes::apply(&changes, &mut run);
        changes::merge(&mut run, &spec.container_config);
        let now = now_rfc3339();
        let mut entry = json!({ "created": now, "created_by": spec.created_by });
        for (key, value) in [("author", &spec.author), ("comment", &spec.comment)] {
            if value.is_empty() {
                cfg.remove(key);
            } else {
                cfg.insert(key.into(), json!(value));
                entry[key] = json!(value);
            }
        }
        let parent_layers = parent.config.rootfs.diff_ids.len();
        let mut history = cfg.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
        // `history` pairs its non-empty entries with the layers; keep that true even for a
        // parent whose history is short.
        let described = history.iter().filter(|h| !h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false)).count();
        for _ in described..parent_layers {
            history.push(json!({ "created": parent.config.created }));
        }
        history.push(entry);
        let mut diff_ids = parent.config.rootfs.diff_ids.clone();
        diff_ids.push(diff_id);
        cfg.insert("created".into(), json!(now));
        cfg.insert("container".into(), json!(spec.container));
        // As Docker's: history shows the parent's id and tags while it is here.
        cfg.insert("parent".into(), json!(parent.id));
        cfg.remove("container_config");
        cfg.insert("config".into(), Value::Object(run));
        cfg.insert("rootfs".into(), json!({ "type": "layers", "diff_ids": diff_ids }));
        cfg.insert("history".into(), Value::Array(history));
        let bytes = serde_json::to_vec(&cfg).map_err(|e| ImageError::BadArchive(e.to_string()))?;
        let id = self.add_config(&bytes)?;
        if let Some(n) = &spec.name {
            self.tag(&id, n)?;
        }
        self.get(&id)
    }
}
