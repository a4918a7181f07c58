//! The daemon's image operations that involve containers: commit (a container's changes →
//! a new image), export (a container's filesystem as a tar), the filtered image list,
//! prune (sparing every image a container uses) and disk usage (`system df`).

use super::container::{effective_command, Container, Status};
use super::{Daemon, DaemonError};
use crate::api::filters::{FilterError, Filters};
use crate::api::types::{ImageDeleteItem, ImagesPruneReport};
use crate::image::commit::CommitSpec;
use crate::image::store::dir_size;
use crate::image::Image;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

impl From<FilterError> for DaemonError {
    fn from(e: FilterError) -> Self {
        DaemonError::BadRequest(e.to_string())
    }
}

/// `POST /commit` options besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// "repo[:tag]" for the new image.
    pub name: Option<String>,
    pub comment: String,
    pub author: String,
    /// Dockerfile instructions (`--change`).
    pub changes: Vec<String>,
    /// The run config sent as the request body, if any.
    pub config: Option<Map<String, Value>>,
}

/// An image with what `system df` and `images` say about it.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: Image,
    /// Bytes of its layers that other images use too.
    pub shared_size: u64,
    /// Containers made from it.
    pub containers: usize,
}

/// A container with the bytes it takes.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub container: Container,
    /// Bytes of its own changes.
    pub size_rw: u64,
    /// Its image's bytes plus its own.
    pub size_root_fs: u64,
}

/// `GET /system/df`.
#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    /// Bytes of every distinct layer: a layer shared by images counts once.
    pub layers_size: u64,
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
}

/// Whether no name (tag or repo digest) points at the image.
fn is_dangling(d: &Daemon, img: &Image) -> bool {
    img.tags.is_empty() && d.images.repo_digests(&img.id).is_empty()
}

/// Go's `path.Match` for the patterns `images --filter reference=` takes: `*` is any run
/// of characters but '/', `?` one character but '/'.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).take_while(|&i| i == 0 || text[i - 1] != '/').any(|i| glob(rest, &text[i..])),
        Some(('?', rest)) => text.first().is_some_and(|&c| c != '/') && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Docker's `FamiliarMatch`: pattern `pattern` matches reference `r` (a familiar
/// "repo:tag" or "repo@digest") whole, or its repository.
fn reference_matches(pattern: &str, r: &str) -> bool {
    let chars = |s: &str| s.chars().collect::<Vec<_>>();
    let repo = match r.split_once('@') {
        Some((repo, _)) => repo.to_owned(),
        None => crate::image::reference::parse(r).0,
    };
    glob(&chars(pattern), &chars(r)) || glob(&chars(pattern), &chars(&repo))
}

/// An image of a listing: its names (those the `reference` filter matched, when given) and
/// the number of containers made from it.
#[derive(Debug, Clone)]
pub struct ListedImage {
    pub image: Image,
    pub repo_digests: Vec<String>,
    pub containers: usize,
}

impl Daemon {
    /// The layer directories of `image`, topmost first (what a rootfs is made of).
    pub fn lowers(&self, image: &Image) -> Vec<PathBuf> {
        image.config.rootfs.diff_ids.iter().rev().map(|d| self.images.layer_dir(d)).collect()
    }

    /// `GET /containers/{id}/changes` (`docker diff`): the container's changes against its
    /// image, parents before children.
    pub fn changes(&self, name_or_id: &str) -> Result<Vec<Value>, DaemonError> {
        let c = self.containers.get(&self.containers.resolve(name_or_id)?)?;
        let image = self.images.get(&c.image_id)?;
        let lowers = self.lowers(&image);
        let kinds = self.overlay.changes(&c.id, &lowers)?.kinds(&lowers)?;
        Ok(kinds.into_iter().map(|(path, kind)| serde_json::json!({ "Path": path, "Kind": kind })).collect())
    }

    /// The run config of container `c` as Docker keeps it: its image's config with the
    /// container's command, environment, working dir, user, labels and stop signal.
    fn container_run_config(&self, c: &Container, image: &Image) -> Result<Map<String, Value>, DaemonError> {
        let raw: Value = serde_json::from_slice(&self.images.config_bytes(&image.id)?)
            .map_err(|source| DaemonError::ImageConfig { id: image.id.clone(), source })?;
        let mut m = raw.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
        let (entrypoint, cmd) = effective_command(&c.config, &image.config.config);
        let list = |v: Vec<String>| {
            if v.is_empty() {
                Value::Null
            } else {
                Value::from(v)
            }
        };
        m.insert("Entrypoint".into(), list(entrypoint));
        m.insert("Cmd".into(), list(cmd));
        m.insert("Env".into(), Value::from(c.env.clone()));
        if !c.config.working_dir.is_empty() {
            m.insert("WorkingDir".into(), Value::from(c.config.working_dir.clone()));
        }
        if !c.config.user.is_empty() {
            m.insert("User".into(), Value::from(c.config.user.clone()));
        }
        if let Some(sig) = &c.config.stop_signal {
            m.insert("StopSignal".into(), Value::from(sig.clone()));
        }
        if let Some(labels) = c.config.labels.as_ref().filter(|l| !l.is_empty()) {
            let mut all = m.get("Labels").and_then(Value::as_object).cloned().unwrap_or_default();
            all.extend(labels.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))));
            m.insert("Labels".into(), Value::Object(all));
        }
        Ok(m)
    }

    /// `POST /commit`: [`commit`](Self::commit) with Docker's `pause` (its default): a
    /// running container is frozen while its changes are read, so that the image holds one
    /// moment of it rather than files caught mid-write, and thawed afterwards.
    pub async fn commit_paused(self: &Arc<Self>, name_or_id: &str, opts: CommitOptions, pause: bool) -> Result<String, DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        let paused_here = if pause && c.state.status == Status::Running && !c.state.paused {
            match self.pause(&id).await {
                Ok(()) => true,
                // It exited, or somebody else paused it, in between: nothing left to freeze.
                Err(DaemonError::Conflict(e)) => {
                    tracing::debug!("commit {id} without pausing: {e}");
                    false
                }
                Err(e) => return Err(e),
            }
        } else {
            false
        };
        let (d, cid) = (self.clone(), id.clone());
        let result = tokio::task::spawn_blocking(move || d.commit(&cid, opts))
            .await
            .unwrap_or_else(|source| Err(DaemonError::Task { what: format!("commit {id}"), source }));
        if paused_here && let Err(e) = self.unpause(&id).await {
            // The record could not be updated (a full disk), and the failed unpause froze it
            // again: thaw the processes anyway and say so in memory (the disk catches up with
            // the next write or the reconcile at start).
            tracing::warn!("unpause {id} after commit: {e}");
            match self.backend.resume(&id).await {
                Ok(()) => {
                    let _ = self.containers.record(&id, |c| c.state.paused = false);
                }
                Err(e) => tracing::error!("thaw {id} after commit: {e}"),
            }
        }
        result
    }

    /// Makes an image of container `name_or_id`'s changes on its image; returns the new
    /// image id. Blocking (walks the container's files).
    pub fn commit(&self, name_or_id: &str, opts: CommitOptions) -> Result<String, DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        let image = self.images.get(&c.image_id)?;
        let lowers = self.lowers(&image);
        let container_config = self.container_run_config(&c, &image)?;
        let created_by = container_config
            .get("Cmd")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let spec = CommitSpec {
            parent: image.id.clone(),
            container: id.clone(),
            container_config,
            config: opts.config,
            changes: opts.changes,
            comment: opts.comment,
            author: opts.author,
            created_by,
            name: opts.name,
        };
        let changes = self.overlay.changes(&id, &lowers)?;
        let img = self.images.commit(&spec, |w| changes.write_tar(w).map_err(std::io::Error::other))?;
        tracing::info!(container = %id, image = %img.id, "committed");
        let image_ref = img.tags.first().cloned().unwrap_or_default();
        self.container_event(&c, "commit", &[("comment", spec.comment.clone()), ("imageID", img.id.clone()), ("imageRef", image_ref)]);
        Ok(img.id)
    }

    /// `GET /containers/{id}/export`: writes the container's whole filesystem as a tar.
    /// Blocking.
    pub fn export(&self, name_or_id: &str, out: impl Write) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        let image = self.images.get(&c.image_id)?;
        self.overlay.export(&id, &self.lowers(&image), out)?;
        self.container_event(&c, "export", &[]);
        Ok(())
    }

    /// `GET /images/json`: the images passing `filters` (`dangling`, `reference`, `label`,
    /// `before`, `since`), as Docker's list: with a `reference` filter an image shows only
    /// the names that match it, and an image none of whose names match is left out.
    pub fn list_images(&self, filters: &Filters) -> Result<Vec<ListedImage>, DaemonError> {
        filters.only(&["dangling", "reference", "label", "before", "since"])?;
        let dangling = filters.bool("dangling")?;
        // Images named by `before`/`since` must exist (404 otherwise), as in Docker.
        let created_of = |which: &str| -> Result<Option<chrono::DateTime<chrono::FixedOffset>>, DaemonError> {
            let mut bound = None;
            for v in filters.get(which) {
                bound = Some(created(&self.images.get(v)?));
            }
            Ok(bound)
        };
        let (before, since) = (created_of("before")?, created_of("since")?);
        let patterns = filters.get("reference");
        let cs = self.containers.list();
        let mut out = Vec::new();
        for mut img in self.images.list()? {
            if dangling.is_some_and(|want| want != is_dangling(self, &img)) {
                continue;
            }
            let t = created(&img);
            if before.is_some_and(|b| t >= b) || since.is_some_and(|s| t <= s) {
                continue;
            }
            if !crate::daemon::prune::labels_pass(filters, &img.config.config.labels.clone().unwrap_or_default()) {
                continue;
            }
            let mut repo_digests = self.images.repo_digests(&img.id);
            if !patterns.is_empty() {
                let keep = |r: &String| patterns.iter().any(|p| reference_matches(p, r));
                img.tags.retain(keep);
                repo_digests.retain(keep);
                if img.tags.is_empty() && repo_digests.is_empty() {
                    continue;
                }
            }
            let containers = cs.iter().filter(|c| c.image_id == img.id).count();
            out.push(ListedImage { image: img, repo_digests, containers });
        }
        Ok(out)
    }

    /// `POST /images/prune`: deletes the dangling images (with `dangling=false`: every
    /// image) that no container uses, names first; `until` and `label`/`label!` narrow it.
    pub fn prune_images(&self, filters: &Filters) -> Result<ImagesPruneReport, DaemonError> {
        filters.only(&["dangling", "until", "label", "label!"])?;
        let dangling_only = filters.bool("dangling")?.unwrap_or(true);
        let until = crate::daemon::prune::until_of(filters)?;
        let used: HashSet<String> = self.containers.list().into_iter().map(|c| c.image_id).collect();
        let mut report = ImagesPruneReport::default();
        for img in self.images.list()? {
            if (dangling_only && !is_dangling(self, &img))
                || until.is_some_and(|u| created(&img) > u)
                || !crate::daemon::prune::labels_pass(filters, &img.config.config.labels.clone().unwrap_or_default())
            {
                continue;
            }
            if used.contains(&img.id) {
                // Docker deletes each name of the image in turn, and a container's image
                // keeps only its last name (by full reference): the others are untagged.
                if !dangling_only {
                    let full = |t: &String| {
                        crate::image::reference::parse_normalized(t)
                            .map(|n| format!("{}/{}:{}", n.domain, n.path, n.tag.unwrap_or_default()))
                            .unwrap_or_else(|_| t.clone())
                    };
                    let mut names = img.tags.clone();
                    names.sort_by_key(full);
                    names.pop();
                    for n in names {
                        match self.images.untag(&n) {
                            Ok(_) => {
                                self.image_event("untag", &img.id, &img.id);
                                report.images_deleted.push(ImageDeleteItem { untagged: Some(n), deleted: None });
                            }
                            Err(e) => tracing::warn!("prune: untag {n}: {e}"),
                        }
                    }
                }
                continue;
            }
            match self.images.remove(&img.id) {
                Ok((untagged, freed)) => {
                    // Docker names the image by its id in its untag events.
                    for _ in &untagged {
                        self.image_event("untag", &img.id, &img.id);
                    }
                    self.image_event("delete", &img.id, &img.id);
                    report.images_deleted.extend(untagged.into_iter().map(|u| ImageDeleteItem { untagged: Some(u), deleted: None }));
                    report.images_deleted.push(ImageDeleteItem { untagged: None, deleted: Some(img.id.clone()) });
                    report.space_reclaimed += freed;
                }
                Err(e) => tracing::warn!("prune {}: {e}", img.id),
            }
        }
        // Docker's record of the prune itself, with the bytes it freed.
        self.event_log.publish(
            "image",
            "prune",
            "",
            std::collections::BTreeMap::from([("reclaimed".to_owned(), report.space_reclaimed.to_string())]),
        );
        // And what no image references: blobs and layers failed operations left.
        match self.images.collect_garbage() {
            Ok((blobs, layers)) if blobs + layers > 0 => {
                tracing::info!("prune: removed {blobs} unreferenced blobs and {layers} layers")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("prune: garbage collection: {e}"),
        }
        Ok(report)
    }

    /// `GET /system/df`: layer, image and container sizes. Blocking (walks layers and
    /// containers' changes).
    pub fn disk_usage(&self) -> Result<DiskUsage, DaemonError> {
        let images = self.images.list()?;
        let mut users: HashMap<&str, usize> = HashMap::new();
        for img in &images {
            let distinct: HashSet<&str> = img.config.rootfs.diff_ids.iter().map(String::as_str).collect();
            for d in distinct {
                *users.entry(d).or_default() += 1;
            }
        }
        let sizes: HashMap<&str, u64> = users.keys().map(|d| (*d, dir_size(&self.images.layer_dir(d)))).collect();
        let containers = self.containers.list();
        let mut usage = DiskUsage { layers_size: sizes.values().sum(), ..Default::default() };
        for img in &images {
            let distinct: HashSet<&str> = img.config.rootfs.diff_ids.iter().map(String::as_str).collect();
            let shared_size = distinct.iter().filter(|d| users.get(**d).copied().unwrap_or(0) > 1).map(|d| sizes.get(*d).copied().unwrap_or(0)).sum();
            let n = containers.iter().filter(|c| c.image_id == img.id).count();
            usage.images.push(ImageUsage { image: img.clone(), shared_size, containers: n });
        }
        for c in containers {
            let (size_rw, size_root_fs) = self.container_size(&c, images.iter().find(|i| i.id == c.image_id));
            usage.containers.push(ContainerUsage { container: c, size_rw, size_root_fs });
        }
        Ok(usage)
    }

    /// Bytes container `c` changed, and those plus its image's (`image`, when it still
    /// exists). Blocking (walks the container's changes).
    pub fn container_size(&self, c: &Container, image: Option<&Image>) -> (u64, u64) {
        let lowers = image.map(|i| self.lowers(i)).unwrap_or_default();
        let size_rw = match self.overlay.changes(&c.id, &lowers) {
            Ok(ch) => ch.size(),
            Err(e) => {
                tracing::warn!("size of container {}: {e}", c.id);
                0
            }
        };
        (size_rw, image.map(|i| i.size).unwrap_or(0) + size_rw)
    }
}

/// When image `img` was made (the epoch if its config does not say).
fn created(img: &Image) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(&img.config.created).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns_match_repositories_and_tags_like_path_match() {
        let tags = ["busybox:latest".to_owned(), "localhost:5000/app/web:v2".to_owned()];
        let any = |p: &str| tags.iter().any(|t| reference_matches(p, t));
        assert!(any("busybox"));
        assert!(any("busy*"));
        assert!(any("busybox:l*"));
        assert!(any("localhost:5000/app/*:v?"));
        assert!(!any("localhost:5000/*"), "'*' does not cross '/'");
        assert!(!any("busybox:1.36"));
        assert!(!any("*box:1*"));
    }
}
