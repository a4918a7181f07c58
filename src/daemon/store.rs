//! The daemon's containers: in memory behind a lock, each persisted on every change.

use super::container::Container;
use crate::util::{read_json, write_json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A container's record in its directory.
const CONFIG_FILE: &str = "config.v2.json";

/// Errors of the container store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No container answers to this name or id.
    #[error("No such container: {0}")]
    NotFound(String),
    /// An id prefix matches several containers.
    #[error("Multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    /// The name is taken.
    #[error(
        "Conflict. The container name \"{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse { name: String, id: String },
    /// A container's files could not be written or removed.
    #[error("container store {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// All containers of one daemon root.
pub struct ContainerStore {
    dir: PathBuf,
    map: Mutex<HashMap<String, Container>>,
}

impl ContainerStore {
    /// Loads every container persisted under `<root>/containers`. Unreadable records are
    /// reported and skipped rather than stopping the daemon.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let dir = root.join("containers");
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_TRAVERSE).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        let mut map = HashMap::new();
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if !e.path().is_dir() {
                    continue;
                }
                crate::util::remove_temp_files(&e.path());
                let p = e.path().join(CONFIG_FILE);
                match read_json::<Container>(&p) {
                    Ok(c) => {
                        map.insert(c.id.clone(), c);
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        // A create cut short (SIGKILL, full disk) before its record became
                        // whole: the container never existed.
                        match std::fs::remove_dir_all(e.path()) {
                            Ok(()) => tracing::info!("removed {}: a container whose create never completed", e.path().display()),
                            Err(err) => tracing::warn!("removing incomplete container {}: {err}", e.path().display()),
                        }
                    }
                    Err(err) => tracing::warn!("skipping container record {}: {err}", p.display()),
                }
            }
        }
        Ok(ContainerStore { dir, map: Mutex::new(map) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Container>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory of container `id` (config, logs).
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Adds a new container, refusing a taken name.
    pub fn insert(&self, c: Container) -> Result<(), StoreError> {
        let mut map = self.lock();
        if let Some(other) = map.values().find(|o| o.name == c.name) {
            return Err(StoreError::NameInUse { name: c.name.clone(), id: other.id.clone() });
        }
        let d = self.dir_of(&c.id);
        crate::fsperm::ensure_dir(&d, crate::fsperm::DIR_TRAVERSE).map_err(|source| StoreError::Io { path: d.clone(), source })?;
        if let Err(e) = self.persist(&c) {
            // A create that fails (e.g. a full disk) leaves no directory behind.
            let _ = std::fs::remove_dir_all(&d);
            return Err(e);
        }
        map.insert(c.id.clone(), c);
        Ok(())
    }

    /// Renames container `id` to `name` (with its '/'), refusing a name another one has.
    pub fn rename(&self, id: &str, name: &str) -> Result<Container, StoreError> {
        let mut map = self.lock();
        if let Some(other) = map.values().find(|o| o.name == name && o.id != id) {
            return Err(StoreError::NameInUse { name: name.to_owned(), id: other.id.clone() });
        }
        let c = map.get_mut(id).ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let mut renamed = c.clone();
        renamed.name = name.to_owned();
        self.persist(&renamed)?;
        *c = renamed.clone();
        Ok(renamed)
    }

    fn persist(&self, c: &Container) -> Result<(), StoreError> {
        let p = self.dir_of(&c.id).join(CONFIG_FILE);
        write_json(&p, c).map_err(|source| StoreError::Io { path: p, source })
    }

    /// Resolves a full id, a name (with or without '/'), or a unique id prefix.
    pub fn resolve(&self, name_or_id: &str) -> Result<String, StoreError> {
        let map = self.lock();
        if map.contains_key(name_or_id) {
            return Ok(name_or_id.to_owned());
        }
        let name = format!("/{}", name_or_id.trim_start_matches('/'));
        if let Some(c) = map.values().find(|c| c.name == name) {
            return Ok(c.id.clone());
        }
        if name_or_id.is_empty() {
            return Err(StoreError::NotFound(name_or_id.to_owned()));
        }
        let mut hits = map.keys().filter(|k| k.starts_with(name_or_id));
        match (hits.next(), hits.next()) {
            (Some(id), None) => Ok(id.clone()),
            (Some(_), Some(_)) => Err(StoreError::Ambiguous(name_or_id.to_owned())),
            _ => Err(StoreError::NotFound(name_or_id.to_owned())),
        }
    }

    /// A copy of container `id`.
    pub fn get(&self, id: &str) -> Result<Container, StoreError> {
        self.lock().get(id).cloned().ok_or_else(|| StoreError::NotFound(id.to_owned()))
    }

    /// Applies `f` to container `id` and persists the result; returns the new copy. The
    /// change is made on a copy and takes effect only once it is on disk: when persisting
    /// fails (a full disk), memory and disk both keep the previous state.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Container)) -> Result<Container, StoreError> {
        let mut map = self.lock();
        let c = map.get_mut(id).ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let mut copy = c.clone();
        f(&mut copy);
        self.persist(&copy)?;
        *c = copy.clone();
        Ok(copy)
    }

    /// Records a fact that has already happened (an exit, a thaw, a task found running):
    /// memory takes it whatever the disk does, so the daemon never acts on a state that is no
    /// longer true; the error says the record on disk is behind (a full disk), and the next
    /// successful write or the reconcile at the next start brings it up to date.
    pub fn record(&self, id: &str, f: impl FnOnce(&mut Container)) -> Result<Container, StoreError> {
        let mut map = self.lock();
        let c = map.get_mut(id).ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        f(c);
        let copy = c.clone();
        self.persist(&copy)?;
        Ok(copy)
    }

    /// Copies of every container.
    pub fn list(&self) -> Vec<Container> {
        self.lock().values().cloned().collect()
    }

    /// Forgets container `id` and deletes its directory.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.lock().remove(id);
        let d = self.dir_of(id);
        match std::fs::remove_dir_all(&d) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io { path: d, source }),
        }
    }
}
