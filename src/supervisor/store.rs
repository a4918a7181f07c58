//! Container metadata, one crash-safe JSON file per container: `<root>/<ns>/containers/<id>.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::proto::containerd::services::containers::v1::{container::Runtime, Container};

use super::{check_name, SupervisorError};

/// A protobuf Any kept byte-exact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnyJson {
    pub type_url: String,
    pub value: Vec<u8>,
}

impl From<&prost_types::Any> for AnyJson {
    fn from(a: &prost_types::Any) -> Self {
        AnyJson { type_url: a.type_url.clone(), value: a.value.clone() }
    }
}

impl From<&AnyJson> for prost_types::Any {
    fn from(a: &AnyJson) -> Self {
        prost_types::Any { type_url: a.type_url.clone(), value: a.value.clone() }
    }
}

/// What is persisted of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub runtime_name: String,
    #[serde(default)]
    pub runtime_options: Option<AnyJson>,
    #[serde(default)]
    pub spec: Option<AnyJson>,
    #[serde(default)]
    pub snapshotter: String,
    #[serde(default)]
    pub snapshot_key: String,
    /// (seconds, nanos) since the epoch.
    pub created_at: (i64, i32),
    pub updated_at: (i64, i32),
    #[serde(default)]
    pub extensions: HashMap<String, AnyJson>,
    #[serde(default)]
    pub sandbox: String,
}

fn ts(t: (i64, i32)) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.0, nanos: t.1 }
}

fn now() -> (i64, i32) {
    let n = chrono::Utc::now();
    (n.timestamp(), n.timestamp_subsec_nanos() as i32)
}

impl ContainerRecord {
    /// From a containers.Create request (timestamps set now).
    pub fn from_proto(c: &Container) -> Self {
        let t = now();
        ContainerRecord {
            id: c.id.clone(),
            labels: c.labels.clone(),
            image: c.image.clone(),
            runtime_name: c.runtime.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            runtime_options: c.runtime.as_ref().and_then(|r| r.options.as_ref()).map(AnyJson::from),
            spec: c.spec.as_ref().map(AnyJson::from),
            snapshotter: c.snapshotter.clone(),
            snapshot_key: c.snapshot_key.clone(),
            created_at: t,
            updated_at: t,
            extensions: c.extensions.iter().map(|(k, v)| (k.clone(), AnyJson::from(v))).collect(),
            sandbox: c.sandbox.clone(),
        }
    }

    /// As the API returns it.
    pub fn to_proto(&self) -> Container {
        Container {
            id: self.id.clone(),
            labels: self.labels.clone(),
            image: self.image.clone(),
            runtime: Some(Runtime { name: self.runtime_name.clone(), options: self.runtime_options.as_ref().map(prost_types::Any::from) }),
            spec: self.spec.as_ref().map(prost_types::Any::from),
            snapshotter: self.snapshotter.clone(),
            snapshot_key: self.snapshot_key.clone(),
            created_at: Some(ts(self.created_at)),
            updated_at: Some(ts(self.updated_at)),
            extensions: self.extensions.iter().map(|(k, v)| (k.clone(), prost_types::Any::from(v))).collect(),
            sandbox: self.sandbox.clone(),
        }
    }
}

/// The metadata store under `--root`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store { root: root.to_path_buf() }
    }

    fn dir(&self, ns: &str) -> Result<PathBuf, SupervisorError> {
        check_name("namespace", ns)?;
        Ok(self.root.join(ns).join("containers"))
    }

    fn path(&self, ns: &str, id: &str) -> Result<PathBuf, SupervisorError> {
        check_name("container id", id)?;
        Ok(self.dir(ns)?.join(format!("{id}.json")))
    }

    pub fn create(&self, ns: &str, rec: &ContainerRecord) -> Result<(), SupervisorError> {
        let path = self.path(ns, &rec.id)?;
        if path.exists() {
            return Err(SupervisorError::AlreadyExists { what: "container", ns: ns.into(), id: rec.id.clone() });
        }
        let dir = self.dir(ns)?;
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_PRIVATE).map_err(|e| SupervisorError::io("create", &dir, e))?;
        crate::util::write_json(&path, rec).map_err(|e| SupervisorError::io("write", &path, e))
    }

    pub fn update(&self, ns: &str, rec: &ContainerRecord) -> Result<(), SupervisorError> {
        let path = self.path(ns, &rec.id)?;
        crate::util::write_json(&path, rec).map_err(|e| SupervisorError::io("write", &path, e))
    }

    pub fn get(&self, ns: &str, id: &str) -> Result<ContainerRecord, SupervisorError> {
        let path = self.path(ns, id)?;
        match crate::util::read_json(&path) {
            Ok(r) => Ok(r),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SupervisorError::NotFound { what: "container", ns: ns.into(), id: id.into() }),
            Err(e) => Err(SupervisorError::io("read", &path, e)),
        }
    }

    pub fn list(&self, ns: &str) -> Result<Vec<ContainerRecord>, SupervisorError> {
        let dir = self.dir(ns)?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SupervisorError::io("read", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "json") {
                match crate::util::read_json::<ContainerRecord>(&p) {
                    Ok(r) => out.push(r),
                    Err(e) => tracing::warn!("skipping {}: {e}", p.display()),
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub fn delete(&self, ns: &str, id: &str) -> Result<(), SupervisorError> {
        let path = self.path(ns, id)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SupervisorError::NotFound { what: "container", ns: ns.into(), id: id.into() }),
            Err(e) => Err(SupervisorError::io("remove", &path, e)),
        }
    }

    /// Namespaces that have a directory under the root.
    pub fn namespaces(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.root)
            .map(|rd| rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Removes temp files of record writes cut short (a crash, a full disk) in every
    /// namespace; a record only ever becomes visible whole, by rename.
    pub fn sweep(&self) {
        for ns in self.namespaces() {
            let Ok(dir) = self.dir(&ns) else { continue };
            let removed = crate::util::remove_temp_files(&dir);
            if removed > 0 {
                tracing::info!(ns, removed, "removed temp files of container records never written whole");
            }
        }
    }

    fn labels_path(&self, ns: &str) -> Result<PathBuf, SupervisorError> {
        check_name("namespace", ns)?;
        Ok(self.root.join(ns).join("labels.json"))
    }

    /// Whether namespace `ns` exists (made by Create, or by a container created in it).
    pub fn namespace_exists(&self, ns: &str) -> bool {
        check_name("namespace", ns).is_ok() && self.root.join(ns).is_dir()
    }

    /// Creates namespace `ns` with `labels`; an existing one is AlreadyExists, as containerd's.
    pub fn create_namespace(&self, ns: &str, labels: &HashMap<String, String>) -> Result<(), SupervisorError> {
        if self.namespace_exists(ns) {
            return Err(SupervisorError::AlreadyExists { what: "namespace", ns: ns.into(), id: ns.into() });
        }
        let dir = self.dir(ns)?;
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_PRIVATE).map_err(|e| SupervisorError::io("create", &dir, e))?;
        self.set_namespace_labels(ns, labels)
    }

    /// The labels of namespace `ns` (none for a namespace without any, or not made yet).
    pub fn namespace_labels(&self, ns: &str) -> Result<HashMap<String, String>, SupervisorError> {
        let path = self.labels_path(ns)?;
        match crate::util::read_json(&path) {
            Ok(l) => Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
            Err(e) => Err(SupervisorError::io("read", &path, e)),
        }
    }

    /// Replaces the labels of existing namespace `ns`.
    pub fn set_namespace_labels(&self, ns: &str, labels: &HashMap<String, String>) -> Result<(), SupervisorError> {
        if !self.namespace_exists(ns) {
            return Err(SupervisorError::NotFound { what: "namespace", ns: ns.into(), id: ns.into() });
        }
        let path = self.labels_path(ns)?;
        crate::util::write_json(&path, labels).map_err(|e| SupervisorError::io("write", &path, e))
    }

    /// Removes namespace `ns`: NotFound if it does not exist, refused while it holds containers.
    pub fn delete_namespace(&self, ns: &str) -> Result<(), SupervisorError> {
        if !self.namespace_exists(ns) {
            return Err(SupervisorError::NotFound { what: "namespace", ns: ns.into(), id: ns.into() });
        }
        if !self.list(ns)?.is_empty() {
            return Err(SupervisorError::NotEmpty(ns.into()));
        }
        let dir = self.root.join(ns);
        std::fs::remove_dir_all(&dir).map_err(|e| SupervisorError::io("remove", &dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_keep_their_labels_and_go_only_when_empty() {
        let dir = crate::util::TestDir::new("sup-ns");
        let store = Store::new(dir.path());
        let labels = HashMap::from([("a".to_owned(), "1".to_owned())]);
        store.create_namespace("x", &labels).expect("create");
        assert!(matches!(store.create_namespace("x", &labels), Err(SupervisorError::AlreadyExists { .. })));
        assert_eq!(store.namespace_labels("x").expect("labels"), labels);
        let more = HashMap::from([("b".to_owned(), "2".to_owned())]);
        store.set_namespace_labels("x", &more).expect("update");
        assert_eq!(store.namespace_labels("x").expect("labels"), more);
        assert!(matches!(store.set_namespace_labels("nope", &more), Err(SupervisorError::NotFound { .. })));
        let rec = ContainerRecord::from_proto(&Container { id: "c".into(), ..Default::default() });
        store.create("x", &rec).expect("container");
        assert!(matches!(store.delete_namespace("x"), Err(SupervisorError::NotEmpty(_))), "a namespace with a container stays");
        store.delete("x", "c").expect("remove container");
        store.delete_namespace("x").expect("delete");
        assert!(!store.namespace_exists("x") && !store.namespaces().contains(&"x".to_owned()));
        assert!(matches!(store.delete_namespace("x"), Err(SupervisorError::NotFound { .. })));
    }
}
