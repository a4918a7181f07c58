//! Recovery: a restarted supervisor re-attaches to every shim that survived it (found from
//! the bundles under `--state`) and cleans what nobody serves any more.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use containerd_shim_protos::api as shimapi;
use tokio::sync::watch;

use super::check_name;
use super::shim_client::{ctx, Shim};
use super::task::{rfc_ts, Exit, Task};
use super::tasks::{blocking, Tasks};

impl Tasks {
    /// Re-attaches to every task found under `--state` (after a restart) and cleans what
    /// cannot be re-attached: a bundle whose shim never came up, a shim that never got its
    /// container, a task whose shim is gone (its exit is kept for the client), temp files of
    /// writes that were cut short, and runtime state no task owns.
    pub async fn recover(self: &Arc<Self>) {
        let Ok(namespaces) = std::fs::read_dir(&self.cfg.state) else { return };
        for ns_entry in namespaces.flatten() {
            let ns = ns_entry.file_name().to_string_lossy().into_owned();
            if check_name("namespace", &ns).is_err() || ns == "runtime" || ns == "s" || !ns_entry.path().is_dir() {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(ns_entry.path()) else { continue };
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                let bundle = entry.path();
                if !bundle.is_dir() || check_name("container id", &id).is_err() {
                    continue;
                }
                let removed = crate::util::remove_temp_files(&bundle);
                if removed > 0 {
                    tracing::info!(ns, id, removed, "removed temp files of writes cut short in the bundle");
                }
                let addr = match crate::bundle::read_address(&bundle) {
                    Ok(a) => Some(a),
                    // The shim may be up without having written its address yet.
                    Err(_) => {
                        let sock = crate::bundle::socket_path(&self.cfg.address.to_string_lossy(), &ns, &id);
                        std::os::unix::net::UnixStream::connect(&sock).is_ok().then(|| format!("unix://{}", sock.display()))
                    }
                };
                match addr {
                    Some(addr) => self.recover_one(&ns, &id, &bundle, addr).await,
                    None => {
                        tracing::info!(ns, id, "bundle without a shim (a create cut short); cleaning it");
                        self.clean_bundle(&ns, &id, &bundle).await;
                    }
                }
            }
        }
        self.sweep_runtime_state().await;
    }

    /// Removes a bundle nobody serves: the runtime's `delete --force` for whatever it made,
    /// the rootfs unmount, the directory.
    pub(super) async fn clean_bundle(&self, ns: &str, id: &str, bundle: &Path) {
        let runtime_name = self.store.get(ns, id).map(|r| r.runtime_name).unwrap_or_default();
        self.delete_action(ns, id, &runtime_name, bundle).await;
        crate::bundle::unmount_rootfs(bundle);
        if let Err(e) = std::fs::remove_dir_all(bundle) {
            tracing::warn!("remove bundle {}: {e}", bundle.display());
        }
    }

    /// Runtime state under the default runtime root that no task owns (its bundle is gone)
    /// is removed with the runtime's `delete --force`.
    async fn sweep_runtime_state(&self) {
        let root = self.cfg.state.join("runtime");
        let Ok(entries) = std::fs::read_dir(&root) else { return };
        let owned: std::collections::HashSet<String> = self.map.lock().unwrap_or_else(|p| p.into_inner()).keys().map(|(_, id)| id.clone()).collect();
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if owned.contains(&id) || crate::runtime::validate_id(&id).is_err() || !e.path().is_dir() {
                continue;
            }
            tracing::info!(id, "runtime state without a task; deleting it");
            let Ok(mut cmd) = crate::util::self_command("berth-runtime") else { return };
            cmd.arg("--root").arg(&root).arg("delete").arg("--force").arg(&id);
            match blocking(move || cmd.output()).await {
                Ok(Ok(out)) if !out.status.success() => {
                    tracing::warn!(id, "runtime delete: {}", String::from_utf8_lossy(&out.stderr).trim())
                }
                Ok(Err(e)) => tracing::warn!(id, "runtime delete: {e}"),
                _ => {}
            }
        }
    }

    async fn recover_one(self: &Arc<Self>, ns: &str, id: &str, bundle: &Path, addr: String) {
        let runtime_name = self.store.get(ns, id).map(|r| r.runtime_name).unwrap_or_default();
        let id2 = id.to_owned();
        let launcher = self.launcher.clone();
        // Some(client) when a shim listens; then whether it knows the container.
        let connected = blocking(move || -> Option<(Shim, Result<u32, ttrpc::Error>)> {
            let client = launcher.connect(&addr)?;
            let mut req = shimapi::ConnectRequest::new();
            req.id = id2.clone();
            let pid = client.connect(ctx(Some(Duration::from_secs(3))), &req).map(|r| r.task_pid);
            let mut st = shimapi::StateRequest::new();
            st.id = id2;
            let known = client.state(ctx(Some(Duration::from_secs(3))), &st);
            let pid = match (pid, known) {
                (_, Err(ttrpc::Error::RpcStatus(st))) if st.code == ttrpc::Code::NOT_FOUND.into() => Err(ttrpc::Error::RpcStatus(st)),
                (Ok(pid), _) => Ok(pid),
                // Busy, not gone: it is kept as alive.
                (Err(_), _) => Ok(0),
            };
            Some((client, pid))
        })
        .await
        .ok()
        .flatten();
        let pid_on_disk = crate::bundle::read_pid(bundle).unwrap_or(0) as u32;
        let (client, pid) = match connected {
            Some((c, Ok(pid))) => (Some(c), if pid != 0 { pid } else { pid_on_disk }),
            Some((c, Err(e))) => {
                // A shim that was started but never got (or finished) its Create.
                tracing::info!(ns, id, "shim does not know its container ({e}); shutting it down and cleaning up");
                let mut sd = shimapi::ShutdownRequest::new();
                sd.id = id.to_owned();
                sd.now = true;
                let _ = blocking(move || c.shutdown(ctx(Some(Duration::from_secs(5))), &sd)).await;
                self.clean_bundle(ns, id, bundle).await;
                return;
            }
            None => {
                tracing::info!(ns, id, "shim gone; task reported stopped and cleaned up");
                (None, pid_on_disk)
            }
        };
        let task = Arc::new(Task {
            ns: ns.into(),
            id: id.into(),
            bundle: bundle.to_path_buf(),
            pid,
            stdout: String::new(),
            stderr: String::new(),
            client: client.clone(),
            runtime_name,
            exit: watch::channel(None).0,
            start_gate: tokio::sync::Mutex::new(()),
        });
        if client.is_none() {
            let exit = match crate::bundle::read_exit(bundle) {
                Some(r) => Exit { pid: r.pid as u32, status: r.exit_status as u32, at: rfc_ts(&r.exited_at) },
                None => Exit { pid, status: 255, at: super::events::now() },
            };
            task.exit.send_replace(Some(exit));
            // Its exit is known now; nothing else of it may stay (a process the runtime
            // still tracks, cgroups, mounts, the bundle).
            self.clean_bundle(ns, id, bundle).await;
        }
        tracing::info!(ns, id, pid, alive = client.is_some(), "recovered task");
        self.insert(task.clone());
        self.arm_wait(task);
    }
}
