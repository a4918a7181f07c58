//! `/volumes` as the daemon serves it: create, list (filters), inspect, remove and prune of
//! the local driver's volumes, with Docker's shapes, messages and events. Mounting volumes
//! into containers is not wired in yet: create refuses a volume mount point by name.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::{Daemon, DaemonError};
use crate::api::filters::{FilterError, Filters};
use crate::volume::{Volume, VolumeError};

/// The filters `GET /volumes` takes.
const LIST_FILTERS: &[&str] = &["dangling", "driver", "label", "name"];

fn verb(op: &str, name: &str) -> impl FnOnce(VolumeError) -> DaemonError {
    let op = if name.is_empty() { op.to_owned() } else { format!("{op} {name}") };
    move |source| DaemonError::Volume { op, source }
}

fn unknown_filter(e: FilterError) -> DaemonError {
    match e {
        FilterError::Unknown(k) => DaemonError::BadRequest(format!("invalid filter '{k}'")),
        e => DaemonError::from(e),
    }
}

/// The body of `POST /volumes/create`; an unknown field is refused by name.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateBody {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

impl Daemon {
    /// A volume as the API shows it (`Volume` of the Engine API).
    fn volume_json(&self, v: &Volume) -> Value {
        let map = |m: &BTreeMap<String, String>| if m.is_empty() { Value::Null } else { json!(m) };
        json!({
            "Name": v.name,
            "Driver": v.driver,
            "Mountpoint": self.volumes.data_path(&v.name),
            "CreatedAt": v.created_at,
            "Labels": map(&v.labels),
            "Scope": "local",
            "Options": map(&v.options),
        })
    }

    /// `POST /volumes/create`: the volume (an existing one of that name as it is).
    pub fn volume_create(&self, body: &Value) -> Result<Value, DaemonError> {
        let b: CreateBody = serde_json::from_value(body.clone()).map_err(|e| DaemonError::BadRequest(format!("invalid volume create body: {e}")))?;
        let (v, made) = self
            .volumes
            .create(Some(&b.name), &b.driver, b.driver_opts.unwrap_or_default(), b.labels.unwrap_or_default())
            .map_err(verb("create", &b.name))?;
        if made {
            self.event_log.publish("volume", "create", &v.name, BTreeMap::from([("driver".to_owned(), v.driver.clone())]));
        }
        Ok(self.volume_json(&v))
    }

    /// `GET /volumes/{name}`.
    pub fn volume_inspect(&self, name: &str) -> Result<Value, DaemonError> {
        let v = self.volumes.get(name).map_err(verb("get", name))?;
        Ok(self.volume_json(&v))
    }

    /// `GET /volumes[?filters=]`: `{"Volumes": [...], "Warnings": []}`.
    pub fn volume_list(&self, f: &Filters) -> Result<Value, DaemonError> {
        f.only(LIST_FILTERS).map_err(unknown_filter)?;
        let dangling = f.bool("dangling")?;
        let any = |key: &str, pass: &dyn Fn(&str) -> bool| f.get(key).is_empty() || f.get(key).iter().any(|v| pass(v));
        let list: Vec<Value> = self
            .volumes
            .list()
            .iter()
            .filter(|v| {
                let labels: HashMap<String, String> = v.labels.clone().into_iter().collect();
                any("name", &|w| v.name.contains(w))
                    && any("driver", &|w| v.driver == w)
                    && super::prune::labels_pass(f, &labels)
                    && dangling.is_none_or(|d| d == self.volumes.users(&v.name).is_empty())
            })
            .map(|v| self.volume_json(v))
            .collect();
        Ok(json!({ "Volumes": list, "Warnings": [] }))
    }

    /// `DELETE /volumes/{name}[?force=]`: refused while a container uses it.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), DaemonError> {
        let existed = self.volumes.get(name).is_ok();
        self.volumes.remove(name, force).map_err(verb("remove", name))?;
        if existed {
            self.event_log.publish("volume", "destroy", name, BTreeMap::from([("driver".to_owned(), crate::volume::LOCAL_DRIVER.to_owned())]));
        }
        Ok(())
    }

    /// The volumes as `GET /system/df` lists them: each with `UsageData` (bytes, users).
    pub fn volume_usage(&self) -> Vec<Value> {
        self.volumes
            .list()
            .iter()
            .map(|v| {
                let mut j = self.volume_json(v);
                let size = dir_size(&self.volumes.data_path(&v.name));
                j["UsageData"] = json!({ "Size": size, "RefCount": self.volumes.users(&v.name).len() });
                j
            })
            .collect()
    }

    /// `POST /volumes/prune[?filters=]` (`label`, `label!`): every unused volume, as API
    /// 1.41's prune; `{"VolumesDeleted": [...], "SpaceReclaimed": bytes}`.
    pub fn volume_prune(&self, f: &Filters) -> Result<Value, DaemonError> {
        f.only(&["label", "label!"]).map_err(unknown_filter)?;
        let (mut deleted, mut reclaimed) = (Vec::new(), 0u64);
        for v in self.volumes.list() {
            let labels: HashMap<String, String> = v.labels.clone().into_iter().collect();
            if !self.volumes.users(&v.name).is_empty() || !super::prune::labels_pass(f, &labels) {
                continue;
            }
            let size = dir_size(&self.volumes.data_path(&v.name));
            match self.volume_remove(&v.name, false) {
                Ok(()) => {
                    deleted.push(v.name.clone());
                    reclaimed += size;
                }
                Err(e) => tracing::warn!("prune volume {}: {e}", v.name),
            }
        }
        self.event_log.publish("volume", "prune", "", BTreeMap::from([("reclaimed".to_owned(), reclaimed.to_string())]));
        Ok(json!({ "VolumesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed }))
    }
}

/// Bytes of the regular files below `dir`, not following links nor crossing mounts.
fn dir_size(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else { return 0 };
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.dev() != top.dev() {
                continue;
            }
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                total += m.len();
            }
        }
    }
    total
}
