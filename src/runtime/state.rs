//! Container state: what `create` persists under `<root>/<id>/state.json`, and the OCI state
//! JSON (`{ociVersion,id,status,pid,bundle,annotations}`) that `state` prints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::RuntimeError;

/// File name of the persisted state inside the container directory.
pub(crate) const STATE_FILE: &str = "state.json";
/// File name of the exec fifo inside the container directory (runc's name).
pub(crate) const FIFO_FILE: &str = "exec.fifo";

/// Lifecycle status, as the OCI runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Init is set up and blocked on the exec fifo.
    Created,
    /// The user process runs.
    Running,
    /// The container's cgroup is frozen (runc's extra status).
    Paused,
    /// The init process is gone.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The OCI state of a container (serializes to the OCI state JSON plus runc's extra fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// OCI runtime spec version this state follows.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Current status.
    pub status: Status,
    /// Host pid of the container init (0 once stopped, as runc prints it).
    pub pid: i32,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Annotations from config.json.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// What `create` records on disk; `status` is derived on every read, never stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Persisted {
    pub id: String,
    pub pid: i32,
    /// starttime (field 22 of /proc/<pid>/stat) of the init: guards against pid reuse.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    /// Where the cgroup is in each hierarchy (`cgroup_path`, and `cgroup_paths` for
    /// controllers elsewhere).
    #[serde(flatten)]
    pub cgroup: super::cgroups::CgroupPaths,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub oci_version: String,
    /// Hooks from config.json (poststart/poststop run long after the bundle may change).
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// config.json's process: the base of `exec` with inline args.
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// linux.seccomp: `exec`'d processes get the same filter.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

impl Persisted {
    /// Derives the live status from /proc and the exec fifo.
    pub fn status(&self, dir: &Path) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if dir.join(FIFO_FILE).exists() {
            Status::Created
        } else if super::cgroups::ContainerCgroup::load(&self.id, &self.cgroup).is_frozen() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Whether the recorded init still exists (not a zombie, and not a reused pid).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((st, zombie)) if st == self.start_time && !zombie)
    }

    /// The public OCI view.
    pub fn to_state(&self, dir: &Path) -> State {
        let status = self.status(dir);
        State {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped { 0 } else { self.pid },
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
        }
    }

    /// The state of the lifecycle step poststart hooks belong to, right after `start`: the
    /// process has started, so it is running with its pid, even if (a short one) it has
    /// already exited.
    pub fn state_at_start(&self, dir: &Path) -> State {
        State { status: Status::Running, pid: self.pid, ..self.to_state(dir) }
    }

    /// Loads `<dir>/state.json`.
    pub fn load(id: &str, dir: &Path) -> Result<Self, RuntimeError> {
        let path = dir.join(STATE_FILE);
        crate::util::read_json(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RuntimeError::NotFound { id: id.to_owned() }
            } else {
                RuntimeError::State { id: id.to_owned(), path, source: e }
            }
        })
    }

    /// Writes `<dir>/state.json` atomically: a temp file renamed over, so a reader or a
    /// runtime killed at any instant sees the old or the new state, never a torn one. No
    /// fsync, on purpose (it was a third of `create`'s own time): the state describes live
    /// processes, which a machine crash ends anyway, and the root is normally on tmpfs.
    pub fn save(&self, dir: &Path) -> Result<(), RuntimeError> {
        let path = dir.join(STATE_FILE);
        let err = |e| RuntimeError::State { id: self.id.clone(), path: path.clone(), source: e };
        let data = serde_json::to_vec(self).map_err(|e| err(std::io::Error::other(e)))?;
        let tmp = dir.join(format!(".{STATE_FILE}.{}", std::process::id()));
        let written = crate::fsperm::create_private(&tmp).and_then(|mut f| std::io::Write::write_all(&mut f, &data));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }
}

/// File name of the record a `create` writes before anything it makes outside its
/// directory exists (init, cgroups), replaced by the state once it is whole.
pub(crate) const CREATING_FILE: &str = "creating.json";

/// What a `create` in progress has made: enough for `delete --force` to undo a create that
/// was killed midway (its init and cgroups would otherwise be left with no state naming them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Creating {
    pub pid: i32,
    pub start_time: u64,
    #[serde(flatten)]
    pub cgroup: super::cgroups::CgroupPaths,
}

impl Creating {
    /// Writes `<dir>/creating.json` (temp file renamed over: never torn).
    pub fn save(&self, id: &str, dir: &Path) -> Result<(), RuntimeError> {
        let path = dir.join(CREATING_FILE);
        let err = |e| RuntimeError::State { id: id.to_owned(), path: path.clone(), source: e };
        let data = serde_json::to_vec(self).map_err(|e| err(std::io::Error::other(e)))?;
        let tmp = dir.join(format!(".{CREATING_FILE}.{}", std::process::id()));
        let written = crate::fsperm::create_private(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &data))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(err)
    }

    /// Reads `<dir>/creating.json`, if there.
    pub fn load(dir: &Path) -> Option<Self> {
        crate::util::read_json(&dir.join(CREATING_FILE)).ok()
    }

    /// The half-made container as a state, for killing its processes and removing its
    /// cgroups (no hooks: they never ran).
    pub fn as_persisted(&self, id: &str) -> Persisted {
        Persisted {
            id: id.to_owned(),
            pid: self.pid,
            start_time: self.start_time,
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created: String::new(),
            cgroup: self.cgroup.clone(),
            annotations: HashMap::new(),
            oci_version: String::new(),
            hooks: None,
            process: None,
            seccomp: None,
        }
    }
}

/// (starttime, is_zombie) of `pid` from /proc/<pid>/stat, or None if it does not exist.
pub(crate) fn proc_stat(pid: i32) -> Option<(u64, bool)> {
    if pid <= 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    let rest = s.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    // After the state (field 3), starttime is field 22: 18 more fields on.
    let start: u64 = fields.nth(18)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poststart_hooks_are_told_running_and_the_pid_even_once_the_process_has_exited() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let pid = child.id() as i32;
        child.wait().expect("wait");
        let p = Persisted {
            id: "c".into(),
            pid,
            start_time: 1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            cgroup: super::super::cgroups::CgroupPaths::uniform("c"),
            annotations: HashMap::new(),
            oci_version: "1.0.2".into(),
            hooks: None,
            process: None,
            seccomp: None,
        };
        let dir = Path::new("/nonexistent");
        let now = p.to_state(dir);
        assert_eq!((now.status, now.pid), (Status::Stopped, 0), "state reports what is");
        let at_start = p.state_at_start(dir);
        assert_eq!((at_start.status, at_start.pid), (Status::Running, pid));
        assert_eq!(at_start.id, "c");
    }
}
