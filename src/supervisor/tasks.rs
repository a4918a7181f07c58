//! Tasks: one shim per container. The task lifecycle (create, start, kill, delete, execs) is
//! relayed to each task's shim; a Wait is held on every shim to learn exits. Shims are
//! started through a [`ShimLauncher`]; recovery after a restart is in [`super::recovery`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use containerd_shim_protos::api as shimapi;
use containerd_shim_protos::protobuf::well_known_types::any::Any as PbAny;
use containerd_shim_protos::protobuf::{Message as _, MessageField};
use containerd_shim_protos::shim::oci::Options;
use tokio::sync::watch;

use crate::proto::containerd::events::{TaskCreate, TaskDelete, TaskExit, TaskIo, TaskStart};
use crate::proto::containerd::services::tasks::v1 as tapi;
use crate::proto::containerd::v1::types::{Process, Status};

use super::events::Exchange;
use super::shim_client::{ctx, Shim};
use super::shim_launch::{Launcher, ShimLauncher};
use super::store::{ContainerRecord, Store};
use super::task::{pb_ts, rfc_ts, shim_status, Exit, Task};
use super::{check_name, Config, SupervisorError};

/// Timeout of ordinary shim calls (Wait has none).
pub(super) const SHIM_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// All tasks, by (namespace, id).
pub struct Tasks {
    pub(super) cfg: Config,
    pub(super) store: Store,
    events: Exchange,
    pub(super) launcher: Arc<dyn ShimLauncher>,
    pub(super) map: Mutex<HashMap<(String, String), Arc<Task>>>,
    /// Tasks being created (not in `map` yet), and a wake-up when one is done.
    creating: Mutex<std::collections::HashSet<(String, String)>>,
    created: tokio::sync::Notify,
}

/// Marks a task as being created while alive.
struct Creating<'a> {
    tasks: &'a Tasks,
    key: (String, String),
}

impl Drop for Creating<'_> {
    fn drop(&mut self) {
        self.tasks.creating.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
        self.tasks.created.notify_waiters();
    }
}

/// Runs a blocking shim call off the async runtime.
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, SupervisorError> {
    Ok(tokio::task::spawn_blocking(f).await?)
}

impl Tasks {
    /// The tasks of a supervisor of `cfg`, starting the shims on this host.
    pub fn new(cfg: Config, store: Store, events: Exchange) -> Self {
        let launcher = Arc::new(Launcher::new(cfg.clone()));
        Self::with_launcher(cfg, store, events, launcher)
    }

    /// The same with another way to start and reach shims (unit tests use fakes).
    pub fn with_launcher(cfg: Config, store: Store, events: Exchange, launcher: Arc<dyn ShimLauncher>) -> Self {
        Tasks { cfg, store, events, launcher, map: Mutex::new(HashMap::new()), creating: Mutex::default(), created: Default::default() }
    }

    /// Waits until no create of task `id` is under way: what a Get, a Delete or the
    /// container's Delete sees is then the task as it will be, not a half-made one that
    /// appears right after (a client that went away mid-create comes back and asks).
    pub async fn settled(&self, ns: &str, id: &str) {
        let key = (ns.to_owned(), id.to_owned());
        loop {
            let notified = self.created.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.creating.lock().unwrap_or_else(|p| p.into_inner()).contains(&key) {
                return;
            }
            notified.await;
        }
    }

    fn bundle(&self, ns: &str, id: &str) -> PathBuf {
        self.cfg.state.join(ns).join(id)
    }

    pub fn get(&self, ns: &str, id: &str) -> Result<Arc<Task>, SupervisorError> {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).get(&(ns.to_owned(), id.to_owned())).cloned().ok_or_else(|| SupervisorError::NotFound {
            what: "task",
            ns: ns.into(),
            id: id.into(),
        })
    }

    pub fn list(&self, ns: &str) -> Vec<Arc<Task>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = map.values().filter(|t| t.ns == ns).cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    pub(super) fn insert(&self, task: Arc<Task>) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert((task.ns.clone(), task.id.clone()), task);
    }

    fn remove(&self, ns: &str, id: &str) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).remove(&(ns.to_owned(), id.to_owned()));
    }

    /// tasks.Create.
    pub async fn create(self: &Arc<Self>, ns: &str, req: tapi::CreateTaskRequest) -> Result<u32, SupervisorError> {
        let id = req.container_id.clone();
        check_name("container id", &id)?;
        let rec: ContainerRecord = self.store.get(ns, &id)?;
        let key = (ns.to_owned(), id.clone());
        if self.get(ns, &id).is_ok() || !self.creating.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
            return Err(SupervisorError::AlreadyExists { what: "task", ns: ns.into(), id });
        }
        let _creating = Creating { tasks: self, key };
        let spec = rec.spec.as_ref().ok_or_else(|| SupervisorError::Invalid(format!("container {id} has no spec")))?;
        let bundle = self.bundle(ns, &id);
        // A shim still on this container's socket serves no task of ours: left by an earlier
        // attempt (a crash midway), or one whose task was deleted and that has not exited
        // yet. The new shim's `start` would hand out that socket and the create would then
        // lose its shim: the old one is shut down and gone first.
        let sock = crate::bundle::socket_path(&self.cfg.address.to_string_lossy(), ns, &id);
        let launcher = self.launcher.clone();
        let addr = format!("unix://{}", sock.display());
        if let Some(client) = blocking(move || launcher.connect(&addr)).await? {
            let mut sd = shimapi::ShutdownRequest::new();
            sd.id = id.clone();
            sd.now = true;
            let _ = blocking(move || client.shutdown(ctx(Some(Duration::from_secs(5))), &sd)).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while std::os::unix::net::UnixStream::connect(&sock).is_ok() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if bundle.exists() {
            // Left by an earlier attempt no task records: the runtime may have made its
            // container.
            self.clean_bundle(ns, &id, &bundle).await;
        }
        crate::fsperm::ensure_dir(&bundle, crate::fsperm::DIR_PRIVATE).map_err(|e| SupervisorError::io("create bundle", &bundle, e))?;
        let config = bundle.join("config.json");
        crate::util::atomic_write(&config, &spec.value).map_err(|e| SupervisorError::io("write", &config, e))?;

        let result = self.create_in_bundle(ns, &id, &rec, &bundle, &req).await;
        match result {
            Ok(task) => {
                let pid = task.pid;
                self.insert(task.clone());
                self.arm_wait(task);
                self.events.publish(
                    ns,
                    "/tasks/create",
                    "containerd.events.TaskCreate",
                    &TaskCreate {
                        container_id: id.clone(),
                        bundle: bundle.to_string_lossy().into_owned(),
                        rootfs: req.rootfs.clone(),
                        io: Some(TaskIo { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal }),
                        checkpoint: String::new(),
                        pid,
                    },
                );
                Ok(pid)
            }
            Err(e) => {
                // The runtime may have made the container before the shim failed or died:
                // its delete --force undoes that too.
                self.clean_bundle(ns, &id, &bundle).await;
                Err(e)
            }
        }
    }

    async fn create_in_bundle(
        &self,
        ns: &str,
        id: &str,
        rec: &ContainerRecord,
        bundle: &Path,
        req: &tapi::CreateTaskRequest,
    ) -> Result<Arc<Task>, SupervisorError> {
        let (launcher, ns2, id2, runtime, bundle2) =
            (self.launcher.clone(), ns.to_owned(), id.to_owned(), rec.runtime_name.clone(), bundle.to_owned());
        let client = blocking(move || launcher.start(&ns2, &id2, &runtime, &bundle2)).await??;
        let mut sreq = shimapi::CreateTaskRequest::new();
        sreq.id = id.to_owned();
        sreq.bundle = bundle.to_string_lossy().into_owned();
        sreq.stdin = req.stdin.clone();
        sreq.stdout = req.stdout.clone();
        sreq.stderr = req.stderr.clone();
        sreq.terminal = req.terminal;
        sreq.rootfs = req
            .rootfs
            .iter()
            .map(|m| {
                let mut sm = shimapi::Mount::new();
                sm.type_ = m.r#type.clone();
                sm.source = m.source.clone();
                sm.target = m.target.clone();
                sm.options = m.options.clone();
                sm
            })
            .collect();
        let options = req.options.clone().or_else(|| rec.runtime_options.as_ref().map(prost_types::Any::from));
        let mut any = PbAny::new();
        match options {
            Some(o) => {
                any.type_url = o.type_url;
                any.value = o.value;
            }
            None => {
                let mut o = Options::new();
                o.root = self.cfg.state.join("runtime").to_string_lossy().into_owned();
                any.type_url = "containerd.runc.v1.Options".into();
                any.value = o.write_to_bytes().map_err(|e| SupervisorError::Invalid(format!("encode options: {e}")))?;
            }
        }
        sreq.options = MessageField::some(any);
        let c = client.clone();
        let created = blocking(move || c.create(ctx(Some(SHIM_CALL_TIMEOUT)), &sreq)).await?;
        let resp = match created {
            Ok(r) => r,
            Err(e) => {
                let c = client.clone();
                let mut sd = shimapi::ShutdownRequest::new();
                sd.id = id.to_owned();
                sd.now = true;
                let _ = blocking(move || c.shutdown(ctx(Some(Duration::from_secs(5))), &sd)).await;
                return Err(SupervisorError::shim(id, "create", e));
            }
        };
        Ok(Arc::new(Task {
            ns: ns.into(),
            id: id.into(),
            bundle: bundle.to_path_buf(),
            pid: resp.pid,
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            client: Some(client),
            runtime_name: rec.runtime_name.clone(),
            exit: watch::channel(None).0,
            start_gate: tokio::sync::Mutex::new(()),
        }))
    }

    /// Holds a shim Wait for `task` in the background; records and publishes the exit.
    pub(super) fn arm_wait(self: &Arc<Self>, task: Arc<Task>) {
        let Some(client) = task.client.clone() else { return };
        let me = self.clone();
        tokio::spawn(async move {
            let id = task.id.clone();
            let r = blocking(move || {
                let mut w = shimapi::WaitRequest::new();
                w.id = id;
                client.wait(ctx(None), &w)
            })
            .await;
            let exit = match r {
                Ok(Ok(w)) => Exit { pid: task.pid, status: w.exit_status, at: pb_ts(&w.exited_at) },
                Ok(Err(ttrpc::Error::RpcStatus(s))) if s.code == ttrpc::Code::NOT_FOUND.into() => {
                    // Deleted through us meanwhile: nothing to report.
                    return;
                }
                _ => {
                    if me.get(&task.ns, &task.id).is_err() {
                        return; // deleted meanwhile
                    }
                    me.shim_died(&task).await
                }
            };
            let _started = task.start_gate.lock().await;
            me.record_exit(&task, exit);
        });
    }

    /// The shim's connection closed without an exit: like containerd, run the shim binary's
    /// `delete` action (the runtime's `delete -f` kills the container), report the exit (137
    /// unless the container had already exited) and clean the bundle.
    async fn shim_died(&self, task: &Task) -> Exit {
        tracing::warn!(ns = task.ns, id = task.id, "shim connection lost; cleaning up after it");
        let exit = self.delete_dead(task).await;
        let exit = if crate::bundle::read_exit(&task.bundle).is_some() { exit } else { Exit { status: 137, ..exit } };
        crate::bundle::unmount_rootfs(&task.bundle);
        if let Err(e) = std::fs::remove_dir_all(&task.bundle) {
            tracing::warn!("remove bundle {}: {e}", task.bundle.display());
        }
        exit
    }

    pub(super) fn record_exit(&self, task: &Task, exit: Exit) {
        if task.exit().is_some() {
            return;
        }
        tracing::info!(ns = task.ns, id = task.id, status = exit.status, "task exited");
        task.exit.send_replace(Some(exit.clone()));
        self.events.publish(
            &task.ns,
            "/tasks/exit",
            "containerd.events.TaskExit",
            &TaskExit { container_id: task.id.clone(), id: task.id.clone(), pid: exit.pid, exit_status: exit.status, exited_at: Some(exit.at) },
        );
    }

    fn client(task: &Task) -> Result<Shim, SupervisorError> {
        task.client.clone().ok_or_else(|| SupervisorError::NotFound { what: "running task", ns: task.ns.clone(), id: task.id.clone() })
    }

    /// tasks.Start.
    pub async fn start(&self, ns: &str, id: &str) -> Result<u32, SupervisorError> {
        let task = self.get(ns, id)?;
        let client = Self::client(&task)?;
        let _gate = task.start_gate.lock().await;
        let mut req = shimapi::StartRequest::new();
        req.id = id.to_owned();
        let r = blocking(move || client.start(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?.map_err(|e| SupervisorError::shim(id, "start", e))?;
        self.events.publish(ns, "/tasks/start", "containerd.events.TaskStart", &TaskStart { container_id: id.into(), pid: r.pid });
        Ok(r.pid)
    }

    /// The task as a containerd Process.
    pub async fn process(&self, task: &Arc<Task>) -> Process {
        let mut p = Process {
            container_id: task.id.clone(),
            id: task.id.clone(),
            pid: task.pid,
            status: Status::Unknown as i32,
            stdout: task.stdout.clone(),
            stderr: task.stderr.clone(),
            ..Default::default()
        };
        if let Some(e) = task.exit() {
            p.status = Status::Stopped as i32;
            p.exit_status = e.status;
            p.exited_at = Some(e.at);
            return p;
        }
        if let Some(client) = task.client.clone() {
            let mut req = shimapi::StateRequest::new();
            req.id = task.id.clone();
            if let Ok(Ok(s)) = blocking(move || client.state(ctx(Some(Duration::from_secs(5))), &req)).await {
                p.status = shim_status(s.status.enum_value_or_default()) as i32;
                p.pid = s.pid;
                if p.stdout.is_empty() {
                    // A recovered task: the shim remembers its io.
                    p.stdout = s.stdout.clone();
                    p.stderr = s.stderr.clone();
                }
                p.exit_status = s.exit_status;
                p.exited_at = s.exited_at.as_ref().map(pb_ts);
            }
        }
        p
    }

    /// tasks.Kill.
    pub async fn kill(&self, ns: &str, id: &str, signal: u32, all: bool) -> Result<(), SupervisorError> {
        let task = self.get(ns, id)?;
        let client = Self::client(&task)?;
        let mut req = shimapi::KillRequest::new();
        req.id = id.to_owned();
        req.signal = signal;
        req.all = all;
        blocking(move || client.kill(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?.map_err(|e| SupervisorError::shim(id, "kill", e))?;
        Ok(())
    }

    /// tasks.ListPids.
    pub async fn pids(&self, ns: &str, id: &str) -> Result<Vec<u32>, SupervisorError> {
        let task = self.get(ns, id)?;
        let client = Self::client(&task)?;
        let mut req = shimapi::PidsRequest::new();
        req.id = id.to_owned();
        let r = blocking(move || client.pids(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?.map_err(|e| SupervisorError::shim(id, "pids", e))?;
        Ok(r.processes.iter().map(|p| p.pid).collect())
    }

    /// tasks.Delete: shim Delete + Shutdown (or the shim's `delete` action if it is dead),
    /// then the bundle goes.
    pub async fn delete(&self, ns: &str, id: &str) -> Result<Exit, SupervisorError> {
        let task = self.get(ns, id)?;
        let exit = match task.client.clone() {
            Some(client) => {
                let mut req = shimapi::DeleteRequest::new();
                req.id = id.to_owned();
                let c = client.clone();
                let r = blocking(move || c.delete(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
                let exit = match r {
                    Ok(r) => Exit { pid: r.pid, status: r.exit_status, at: pb_ts(&r.exited_at) },
                    // The shim never got (or never finished) the Create: clean up as for a
                    // dead shim, which the Shutdown below then becomes.
                    Err(ttrpc::Error::RpcStatus(st)) if st.code == ttrpc::Code::NOT_FOUND.into() => self.delete_dead(&task).await,
                    Err(e @ ttrpc::Error::RpcStatus(_)) => return Err(SupervisorError::shim(id, "delete", e)),
                    // The shim died under us: clean up as for a dead shim.
                    Err(_) => self.delete_dead(&task).await,
                };
                let mut sd = shimapi::ShutdownRequest::new();
                sd.id = id.to_owned();
                let _ = blocking(move || client.shutdown(ctx(Some(Duration::from_secs(5))), &sd)).await;
                exit
            }
            None => self.delete_dead(&task).await,
        };
        // The Wait holder may not have seen the exit yet.
        if task.exit().is_none() {
            self.record_exit(&task, exit.clone());
        }
        if task.bundle.exists() {
            crate::bundle::unmount_rootfs(&task.bundle);
            if let Err(e) = std::fs::remove_dir_all(&task.bundle) {
                tracing::warn!("remove bundle {}: {e}", task.bundle.display());
            }
        }
        self.remove(ns, id);
        self.events.publish(
            ns,
            "/tasks/delete",
            "containerd.events.TaskDelete",
            &TaskDelete { container_id: id.into(), pid: exit.pid, exit_status: exit.status, exited_at: Some(exit.at), id: id.into() },
        );
        Ok(exit)
    }

    /// The launcher's `<shim> ... delete` off the async runtime.
    pub(super) async fn delete_action(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) {
        let (launcher, ns, id, runtime, bundle) = (self.launcher.clone(), ns.to_owned(), id.to_owned(), runtime.to_owned(), bundle.to_owned());
        if let Err(e) = blocking(move || launcher.delete_action(&ns, &id, &runtime, &bundle)).await {
            tracing::warn!("shim delete: {e}");
        }
    }

    /// Runs `<shim> ... delete` for a task whose shim is gone; the exit comes from disk.
    async fn delete_dead(&self, task: &Task) -> Exit {
        if !task.bundle.exists() {
            // Already cleaned up when the shim's death was noticed.
            return task.exit().unwrap_or(Exit { pid: task.pid, status: 137, at: super::events::now() });
        }
        self.delete_action(&task.ns, &task.id, &task.runtime_name, &task.bundle).await;
        if let Some(e) = task.exit() {
            return e;
        }
        match crate::bundle::read_exit(&task.bundle) {
            Some(r) => Exit { pid: r.pid as u32, status: r.exit_status as u32, at: rfc_ts(&r.exited_at) },
            None => Exit { pid: task.pid, status: 137, at: super::events::now() },
        }
    }

    /// Runs `f` on the task's shim client off the async runtime.
    pub(super) async fn call<T: Send + 'static>(
        &self,
        ns: &str,
        id: &str,
        what: &'static str,
        f: impl FnOnce(Shim) -> ttrpc::Result<T> + Send + 'static,
    ) -> Result<T, SupervisorError> {
        let task = self.get(ns, id)?;
        let client = Self::client(&task)?;
        blocking(move || f(client)).await?.map_err(|e| SupervisorError::shim(id, what, e))
    }
}

#[cfg(test)]
#[path = "tasks_tests.rs"]
mod tests;
