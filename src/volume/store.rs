//! The volumes on record under `<root>/volumes` (0700): `<name>/volume.json` and
//! `<name>/_data`. A create builds the whole volume under a dot-name and renames it into
//! place, a remove renames it away before deleting it, so a crash leaves either a whole
//! volume or a dot-named leftover that the next open deletes. Who uses a volume is kept in
//! memory; the daemon tells it again after a restart from its containers' records.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::options::LocalOptions;
use super::{name, VolumeError, LOCAL_DRIVER};
use crate::storage::overlay::{is_mountpoint, unmount_stacked};

/// The record of one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options as given (`type`, `device`, `o`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    /// Made for a container that named no volume (an image's VOLUME, `-v /path`).
    #[serde(default)]
    pub anonymous: bool,
}

/// A volume's record and what uses it now.
struct Entry {
    volume: Volume,
    /// Container ids whose mounts name it (running or not).
    users: BTreeSet<String>,
    /// Running containers that have it mounted (for volumes with a filesystem of their own).
    mounts: usize,
}

/// Every volume, by name.
pub struct VolumeStore {
    dir: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
}

const RECORD: &str = "volume.json";
const DATA: &str = "_data";
const CREATING: &str = ".creating-";
const REMOVING: &str = ".removing-";
/// A volume's data directory as a container first sees it: root's, 0755, as Docker's.
const DATA_MODE: u32 = 0o755;

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError {
    let path = path.to_path_buf();
    move |source| VolumeError::Io { what, path, source }
}

impl VolumeStore {
    /// Opens the store at `dir` (made 0700 if missing): loads every volume and deletes
    /// what a create or remove cut short left.
    pub fn open(dir: &Path) -> Result<VolumeStore, VolumeError> {
        crate::fsperm::ensure_dir(dir, crate::fsperm::DIR_PRIVATE).map_err(io("create", dir))?;
        let mut entries = BTreeMap::new();
        for e in fs::read_dir(dir).map_err(io("read", dir))? {
            let e = e.map_err(io("read", dir))?;
            let file = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if file.starts_with(CREATING) || file.starts_with(REMOVING) {
                if let Err(err) = delete_tree(&path) {
                    tracing::warn!("removing the leftover {}: {err}", path.display());
                }
                continue;
            }
            match load(&path, &file) {
                Ok(v) => {
                    entries.insert(file, Entry { volume: v, users: BTreeSet::new(), mounts: 0 });
                }
                Err(err) => tracing::warn!("skipping {}: {err}", path.display()),
            }
        }
        Ok(VolumeStore { dir: dir.to_path_buf(), entries: Mutex::new(entries) })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where volume `name`'s data is on the host.
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(DATA)
    }

    /// `POST /volumes/create`: makes volume `name` (an anonymous one when None or empty)
    /// with the `local` driver; an existing volume of that name is returned as it is, as
    /// Docker's. The bool says whether it was made now.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: &str,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    ) -> Result<(Volume, bool), VolumeError> {
        let driver = if driver.is_empty() { LOCAL_DRIVER } else { driver };
        if driver != LOCAL_DRIVER {
            return Err(VolumeError::UnknownDriver(driver.to_owned()));
        }
        let (name, anonymous) = match name.filter(|n| !n.is_empty()) {
            Some(n) => (n.to_owned(), false),
            None => (name::anonymous(), true),
        };
        name::validate(&name)?;
        LocalOptions::parse(&options)?;
        let mut entries = self.lock();
        if let Some(e) = entries.get(&name) {
            return Ok((e.volume.clone(), false));
        }
        let volume = Volume { name: name.clone(), driver: driver.to_owned(), labels, options, created_at: now(), anonymous };
        let tmp = self.dir.join(format!("{CREATING}{name}"));
        let made = self.build(&tmp, &volume).and_then(|()| {
            let dest = self.dir.join(&name);
            fs::rename(&tmp, &dest).map_err(io("rename into place", &dest))?;
            fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io("sync", &self.dir))
        });
        if let Err(e) = made {
            let _ = delete_tree(&tmp);
            return Err(e);
        }
        entries.insert(name, Entry { volume: volume.clone(), users: BTreeSet::new(), mounts: 0 });
        Ok((volume, true))
    }

    /// A new volume's directory at `tmp`: its record and an empty `_data`.
    fn build(&self, tmp: &Path, volume: &Volume) -> Result<(), VolumeError> {
        let _ = delete_tree(tmp);
        crate::fsperm::create_dir_all(tmp, crate::fsperm::DIR_PRIVATE).map_err(io("create", tmp))?;
        let record = tmp.join(RECORD);
        let json = serde_json::to_vec_pretty(volume).map_err(|e| VolumeError::Io { what: "encode", path: record.clone(), source: e.into() })?;
        crate::util::atomic_write(&record, &json).map_err(io("write", &record))?;
        let data = tmp.join(DATA);
        fs::create_dir(&data).map_err(io("create", &data))?;
        fs::set_permissions(&data, fs::Permissions::from_mode(DATA_MODE)).map_err(io("chmod", &data))
    }

    /// Volume `name`'s record.
    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        self.lock().get(name).map(|e| e.volume.clone()).ok_or_else(|| VolumeError::NotFound(name.to_owned()))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<Volume> {
        self.lock().values().map(|e| e.volume.clone()).collect()
    }

    /// The containers that use volume `name`.
    pub fn users(&self, name: &str) -> Vec<String> {
        self.lock().get(name).map(|e| e.users.iter().cloned().collect()).unwrap_or_default()
    }

    /// Records that container `id` uses volume `name` (at its create, or again at a
    /// daemon start).
    pub fn add_user(&self, name: &str, id: &str) -> Result<(), VolumeError> {
        let mut entries = self.lock();
        let e = entries.get_mut(name).ok_or_else(|| VolumeError::NotFound(name.to_owned()))?;
        e.users.insert(id.to_owned());
        Ok(())
    }

    /// Container `id` no longer uses volume `name` (it was removed).
    pub fn remove_user(&self, name: &str, id: &str) {
        if let Some(e) = self.lock().get_mut(name) {
            e.users.remove(id);
        }
    }

    /// A container using volume `name` starts: the host path to bind into it. A volume
    /// with a filesystem of its own has it mounted by the first one (or finds it still
    /// mounted from before a daemon restart).
    pub fn mount(&self, name: &str) -> Result<PathBuf, VolumeError> {
        let mut entries = self.lock();
        let e = entries.get_mut(name).ok_or_else(|| VolumeError::NotFound(name.to_owned()))?;
        let data = self.dir.join(name).join(DATA);
        let opts = LocalOptions::parse(&e.volume.options)?;
        if opts.needs_mount() && e.mounts == 0 && !is_mountpoint(&data) {
            opts.mount(&data)?;
        }
        e.mounts += 1;
        Ok(data)
    }

    /// A container using volume `name` stopped: the last one unmounts its filesystem.
    pub fn unmount(&self, name: &str) -> Result<(), VolumeError> {
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(name) else { return Ok(()) };
        e.mounts = e.mounts.saturating_sub(1);
        if e.mounts == 0 && LocalOptions::parse(&e.volume.options)?.needs_mount() {
            let data = self.dir.join(name).join(DATA);
            unmount_stacked(&data).map_err(|err| VolumeError::Mount(format!("unmount {}: {err}", data.display())))?;
        }
        Ok(())
    }

    /// `DELETE /volumes/{name}`: refused while a container uses it; `force` makes a
    /// missing volume no error.
    pub fn remove(&self, name: &str, force: bool) -> Result<(), VolumeError> {
        let mut entries = self.lock();
        let Some(e) = entries.get(name) else {
            return if force { Ok(()) } else { Err(VolumeError::NotFound(name.to_owned())) };
        };
        if !e.users.is_empty() || e.mounts > 0 {
            return Err(VolumeError::InUse { name: name.to_owned(), users: e.users.iter().cloned().collect() });
        }
        let path = self.dir.join(name);
        let gone = self.dir.join(format!("{REMOVING}{name}"));
        let _ = delete_tree(&gone);
        // Off its name first: a crash midway leaves a leftover, not half a volume.
        fs::rename(&path, &gone).map_err(io("rename away", &path))?;
        entries.remove(name);
        drop(entries);
        delete_tree(&gone)
    }
}

/// Reads volume `name`'s record in `path`; a directory without one (made by hand) is a
/// plain local volume, as Docker takes every directory there.
fn load(path: &Path, name: &str) -> Result<Volume, VolumeError> {
    name::validate(name)?;
    let record = path.join(RECORD);
    match fs::read(&record) {
        Ok(bytes) => {
            let v: Volume = serde_json::from_slice(&bytes).map_err(|e| VolumeError::Io { what: "decode", path: record.clone(), source: e.into() })?;
            if v.name != name {
                return Err(VolumeError::InvalidName(format!("the record in {} names {:?}", path.display(), v.name)));
            }
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.join(DATA).is_dir() => Ok(Volume {
            name: name.to_owned(),
            driver: LOCAL_DRIVER.to_owned(),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            created_at: now(),
            anonymous: false,
        }),
        Err(e) => Err(io("read", &record)(e)),
    }
}

/// Now, as Docker writes a volume's CreatedAt.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Deletes a volume's directory: whatever is mounted at its `_data` is unmounted first, so
/// the delete never reaches into a mounted filesystem (a bound host directory).
fn delete_tree(path: &Path) -> Result<(), VolumeError> {
    let data = path.join(DATA);
    unmount_stacked(&data).map_err(|err| VolumeError::Mount(format!("unmount {}: {err}", data.display())))?;
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn store() -> (crate::util::TestDir, VolumeStore) {
        let t = crate::util::TestDir::new("volstore");
        let s = VolumeStore::open(&t.path().join("volumes")).expect("open");
        (t, s)
    }

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn a_volume_is_made_whole_kept_across_opens_and_private_to_root() {
        let (t, s) = store();
        let labels = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let (v, made) = s.create(Some("data"), "", none(), labels.clone()).expect("create");
        assert!(made && !v.anonymous && v.driver == "local" && v.labels == labels);
        let (again, made) = s.create(Some("data"), "local", none(), none()).expect("again");
        assert!(!made && again == v, "an existing volume is returned as it is");
        let data = s.data_path("data");
        assert_eq!(fs::metadata(&data).expect("data").mode() & 0o7777, DATA_MODE);
        assert_eq!(fs::metadata(t.path().join("volumes")).expect("dir").mode() & 0o777, 0o700);
        fs::write(data.join("f"), "x").expect("write");
        let (anon, _) = s.create(None, "", none(), none()).expect("anonymous");
        assert!(anon.anonymous && anon.name.len() == 64);
        // A create and a remove cut short leave dot-named leftovers; a reopen deletes them.
        fs::create_dir_all(t.path().join("volumes/.creating-x/_data")).expect("leftover");
        fs::create_dir_all(t.path().join("volumes/.removing-y/_data")).expect("leftover");
        let s2 = VolumeStore::open(&t.path().join("volumes")).expect("reopen");
        let names: Vec<String> = s2.list().into_iter().map(|v| v.name).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"data".to_owned()) && names.contains(&anon.name));
        assert_eq!(s2.get("data").expect("data"), v);
        assert_eq!(fs::read_to_string(s2.data_path("data").join("f")).expect("kept"), "x");
        assert!(!t.path().join("volumes/.creating-x").exists() && !t.path().join("volumes/.removing-y").exists());
    }

    #[test]
    fn a_volume_in_use_is_not_removed_and_bad_asks_make_nothing() {
        let (t, s) = store();
        s.create(Some("db"), "", none(), none()).expect("create");
        s.add_user("db", "c1").expect("user");
        let e = s.remove("db", true).expect_err("in use");
        assert_eq!(e.to_string(), "volume is in use - [c1]");
        s.remove_user("db", "c1");
        s.remove("db", false).expect("remove");
        assert!(!t.path().join("volumes/db").exists());
        assert!(matches!(s.remove("db", false), Err(VolumeError::NotFound(_))));
        s.remove("db", true).expect("force: a missing volume is no error");
        assert!(matches!(s.add_user("db", "c1"), Err(VolumeError::NotFound(_))));
        let bad = [
            s.create(Some("a/b"), "", none(), none()).map(|_| ()),
            s.create(Some(".."), "", none(), none()).map(|_| ()),
            s.create(Some("ok"), "nfs-plugin", none(), none()).map(|_| ()),
            s.create(Some("ok"), "", BTreeMap::from([("bogus".to_owned(), "1".to_owned())]), none()).map(|_| ()),
        ];
        assert!(bad.iter().all(Result::is_err));
        let left: Vec<_> = fs::read_dir(t.path().join("volumes")).expect("dir").collect();
        assert!(left.is_empty(), "nothing made: {left:?}");
    }

    #[test]
    fn a_tmpfs_volume_is_mounted_while_used_and_its_removal_never_reaches_a_mount() {
        let (t, s) = store();
        // Whatever an assertion leaves mounted goes with the test.
        struct Unmount(PathBuf);
        impl Drop for Unmount {
            fn drop(&mut self) {
                let _ = unmount_stacked(&self.0);
            }
        }
        let _guard = Unmount(t.path().join("volumes/mem/_data"));
        let opts = BTreeMap::from([
            ("type".to_owned(), "tmpfs".to_owned()),
            ("device".to_owned(), "tmpfs".to_owned()),
            ("o".to_owned(), "size=1m".to_owned()),
        ]);
        s.create(Some("mem"), "", opts, none()).expect("create");
        let data = s.mount("mem").expect("mount");
        assert!(is_mountpoint(&data));
        let second = s.mount("mem").expect("second user");
        assert_eq!(second, data);
        s.unmount("mem").expect("unmount one");
        assert!(is_mountpoint(&data), "still used by one");
        assert!(matches!(s.remove("mem", false), Err(VolumeError::InUse { .. })));
        s.unmount("mem").expect("unmount last");
        assert!(!is_mountpoint(&data));
        s.remove("mem", false).expect("remove");
    }
}
