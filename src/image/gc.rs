//! Garbage collection of the image store under the operation protocol: operations that add
//! content (load, import, commit, pull, push) run while no collection does, and what a failed
//! or removed image leaves is collected once no operation could still be using it.

use std::collections::HashSet;
use std::io;
use std::sync::MutexGuard;

use super::config::ImageConfigFile;
use super::error::{io_err, ImageError};
use super::store::{read_map, ImageStore, LayerBlob};
use crate::util::read_json;

/// See [`ImageStore::begin`].
#[derive(Debug, Default)]
pub(super) struct OpState {
    /// Operations running (load, import, commit, pull, push).
    active: usize,
    /// A collection is running: new operations wait for it.
    collecting: bool,
    /// An operation failed (or a collection was asked for) while others ran: collect once
    /// the last one ends.
    owed: bool,
}

impl ImageStore {
    fn ops(&self) -> MutexGuard<'_, OpState> {
        self.inner.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an operation that adds blobs or layers (load, import, commit, pull, push).
    /// Until it ends, what it adds is not yet referenced by any image, so garbage collection
    /// waits for it; an operation that ends in failure has its leftovers collected as soon
    /// as no other operation runs (a concurrent one may be using the same blobs).
    pub fn begin(&self) -> Operation {
        let mut st = self.ops();
        while st.collecting {
            st = self.inner.ops_done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.active += 1;
        Operation { store: Some(self.clone()), ok: false }
    }

    /// [`begin`](Self::begin) for async callers: the wait for a running collection happens
    /// on a blocking thread.
    pub async fn begin_async(&self) -> Operation {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.begin()).await {
            Ok(op) => op,
            // The blocking pool is gone (the runtime shuts down): wait here.
            Err(_) => self.begin(),
        }
    }

    /// Removes every blob, layer and layer record no image references (what failed or
    /// killed operations left), now if no operation runs, else once the last one ends.
    /// Returns the blobs and layers removed now.
    pub fn collect_garbage(&self) -> Result<(usize, usize), ImageError> {
        {
            let mut st = self.ops();
            if st.active > 0 || st.collecting {
                st.owed = true;
                return Ok((0, 0));
            }
            st.collecting = true;
        }
        let result = self.sweep();
        let mut st = self.ops();
        st.collecting = false;
        self.inner.ops_done.notify_all();
        result
    }

    /// [`collect_garbage`](Self::collect_garbage) for an operation that ended in failure.
    pub(super) fn collect_after_failure(&self) {
        if let Err(e) = self.collect_garbage() {
            tracing::warn!("image store: garbage collection after a failed operation: {e}");
        }
    }

    /// The collection itself; runs while no operation does.
    fn sweep(&self) -> Result<(usize, usize), ImageError> {
        let mut blobs: HashSet<String> = HashSet::new();
        let mut layers: HashSet<String> = HashSet::new();
        for hex in self.config_ids()? {
            let p = self.dir().join("configs").join(format!("{hex}.json"));
            // An unreadable config hides which layers it needs: then delete nothing.
            let cfg: ImageConfigFile = read_json(&p).map_err(io_err(&p))?;
            blobs.insert(hex);
            for d in &cfg.rootfs.diff_ids {
                let dhex = d.trim_start_matches("sha256:").to_owned();
                let lp = self.layerdb_path(d);
                let list: Vec<LayerBlob> = match read_json(&lp) {
                    Ok(l) => l,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => {
                        return Err(ImageError::Io { path: lp, source: e });
                    }
                };
                blobs.extend(list.into_iter().map(|b| b.digest.trim_start_matches("sha256:").to_owned()));
                layers.insert(dhex);
            }
        }
        // Manifests images were pulled or pushed as, and the manifests of those indexes.
        for list in read_map::<Vec<String>>(&self.digests_path())?.into_values() {
            for rd in list {
                let Some((_, d)) = rd.rsplit_once('@') else {
                    continue;
                };
                blobs.insert(d.trim_start_matches("sha256:").to_owned());
                if let Ok(bytes) = self.content().read(d)
                    && let Ok(super::manifest::Parsed::Index(index)) = super::manifest::parse(&bytes, None, d)
                {
                    blobs.extend(index.manifests().iter().map(|m| m.digest().to_string().trim_start_matches("sha256:").to_owned()));
                }
            }
        }
        let mut removed = (0, 0);
        for hex in self.content().stored()? {
            if !blobs.contains(&hex) && self.content().remove(&format!("sha256:{hex}")).is_ok() {
                removed.0 += 1;
            }
        }
        for sub in ["layers", "layerdb"] {
            let d = self.dir().join(sub);
            for e in std::fs::read_dir(&d).map_err(io_err(&d))?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if layers.contains(name.trim_end_matches(".json")) || name.starts_with('.') {
                    continue;
                }
                if sub == "layerdb" {
                    let _ = std::fs::remove_file(e.path());
                    continue;
                }
                let trash = self.dir().join("tmp").join(format!("rm-{}", crate::util::random_id()));
                if std::fs::rename(e.path(), &trash).is_ok() {
                    let _ = std::fs::remove_dir_all(&trash);
                    removed.1 += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// An operation adding content (see [`ImageStore::begin`]); end it with [`Operation::end`].
pub struct Operation {
    /// `None` once counted out.
    store: Option<ImageStore>,
    ok: bool,
}

impl Operation {
    /// Ends the operation with its result (a full disk reported as such); a collection it
    /// makes due runs before this returns.
    pub fn end<T>(mut self, result: Result<T, ImageError>) -> Result<T, ImageError> {
        self.ok = result.is_ok();
        if let Some(store) = self.finish() {
            store.collect_after_failure();
        }
        result.map_err(ImageError::reported)
    }

    /// [`end`](Self::end) for async callers: the collection runs on a blocking thread.
    pub async fn end_async<T>(mut self, result: Result<T, ImageError>) -> Result<T, ImageError> {
        self.ok = result.is_ok();
        if let Some(store) = self.finish() {
            let _ = tokio::task::spawn_blocking(move || store.collect_after_failure()).await;
        }
        result.map_err(ImageError::reported)
    }

    /// Counts the operation out; returns the store if a collection is now due.
    fn finish(&mut self) -> Option<ImageStore> {
        let store = self.store.take()?;
        let mut st = store.ops();
        st.active -= 1;
        // Ended in failure (or never ended: a panic, a dropped request): its blobs and
        // layers may be left unreferenced.
        st.owed |= !self.ok;
        let now = st.active == 0 && st.owed;
        if now {
            st.owed = false;
        }
        drop(st);
        now.then_some(store)
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        let Some(store) = self.finish() else {
            return;
        };
        // Never ended (a panic, or a request future dropped on an async thread, which the
        // filesystem walk must not hold up): collect on a blocking thread when there is a
        // runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || store.collect_after_failure());
            }
            Err(_) => store.collect_after_failure(),
        }
    }
}
