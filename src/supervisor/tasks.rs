//! Tasks: one shim per container. Starts shims, keeps a ttrpc client per task, holds a Wait
//! on every shim to learn exits, and re-attaches to surviving shims from disk on start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::shim_client::TaskClient;
use containerd_shim_protos::api as shimapi;
use containerd_shim_protos::protobuf::well_known_types::any::Any as PbAny;
use containerd_shim_protos::protobuf::{Message as _, MessageField};
use containerd_shim_protos::shim::oci::Options;
use tokio::sync::watch;

use crate::proto::containerd::events::{TaskCreate, TaskDelete, TaskExit, TaskIo, TaskStart};
use crate::proto::containerd::services::tasks::v1 as tapi;
use crate::proto::containerd::v1::types::{Process, Status};

use super::events::Exchange;
use super::store::{ContainerRecord, Store};
use super::{check_name, Config, SupervisorError, BERTH_RUNTIME};

/// Timeout of ordinary shim calls (Wait has none).
const SHIM_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A task's exit.
#[derive(Debug, Clone)]
pub struct Exit {
    pub pid: u32,
    pub status: u32,
    pub at: prost_types::Timestamp,
}

/// One task (a container's init process under its shim).
pub struct Task {
    pub ns: String,
    pub id: String,
    pub bundle: PathBuf,
    pub pid: u32,
    pub stdout: String,
    pub stderr: String,
    /// None when the shim is gone (found dead at start-up).
    pub client: Option<TaskClient>,
    pub runtime_name: String,
    exit: watch::Sender<Option<Exit>>,
    /// Held while Start runs: the exit of a process that dies at once must not be published
    /// before its TaskStart (dockerd would mark the container running again).
    start_gate: tokio::sync::Mutex<()>,
}

impl Task {
    /// The exit, if known.
    pub fn exit(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Waits for the exit.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.subscribe();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                // Sender lives in self: cannot happen while self is borrowed.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// All tasks, by (namespace, id).
pub struct Tasks {
    cfg: Config,
    store: Store,
    events: Exchange,
    map: Mutex<HashMap<(String, String), Arc<Task>>>,
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

fn ctx(timeout: Option<Duration>) -> ttrpc::context::Context {
    match timeout {
        Some(d) => ttrpc::context::with_duration(d),
        None => ttrpc::context::Context::default(),
    }
}

fn pb_ts(ts: &containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: ts.seconds, nanos: ts.nanos }
}

fn rfc_ts(s: &str) -> prost_types::Timestamp {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 },
        Err(_) => super::events::now(),
    }
}

/// Runs a blocking shim call off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, SupervisorError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| SupervisorError::Invalid(format!("blocking task failed: {e}")))
}

/// Which shim serves `io.containerd.runc.v2` (dockerd's default runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuncShim {
    /// containerd-shim-runc-v2 when it is on PATH, else berth's own shim.
    #[default]
    Auto,
    /// Always berth's shim (with the runtime named in the task's options, runc by default).
    Berth,
    /// Always containerd-shim-runc-v2 from PATH.
    Containerd,
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false)
}

fn berth_shim() -> Result<std::process::Command, SupervisorError> {
    crate::util::self_command("containerd-shim-berth-v2").map_err(|e| SupervisorError::io("find own executable", Path::new("/proc/self/exe"), e))
}

/// The shim binary for a runtime name: berth's own for `io.containerd.berth.v2` (and for
/// runc.v2 when so configured), else containerd's `containerd-shim-<name>-<version>` from PATH.
fn shim_command(runtime: &str, runc_shim: RuncShim) -> Result<std::process::Command, SupervisorError> {
    if runtime.is_empty() || runtime == BERTH_RUNTIME {
        return berth_shim();
    }
    let parts: Vec<&str> = runtime.split('.').collect();
    match parts.as_slice() {
        ["io", "containerd", name, version] => {
            let bin = format!("containerd-shim-{name}-{version}");
            let berth = *name == "runc" && (runc_shim == RuncShim::Berth || (runc_shim == RuncShim::Auto && !on_path(&bin)));
            if berth {
                berth_shim()
            } else {
                Ok(std::process::Command::new(bin))
            }
        }
        _ => Err(SupervisorError::Invalid(format!("unknown runtime {runtime:?}"))),
    }
}

/// containerd's shims log to a fifo `log` in their bundle (and fail to start without it):
/// create it and relay what they write to the supervisor's log, as containerd does.
fn relay_shim_log(id: &str, bundle: &Path) -> Result<(), SupervisorError> {
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = bundle.join("log");
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o700))
        .map_err(|e| SupervisorError::io("create shim log fifo", &path, e.into()))?;
    // Non-blocking so the open does not wait for the shim; poll() below waits for data.
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| SupervisorError::io("open shim log fifo", &path, e))?;
    let id = id.to_owned();
    std::thread::Builder::new()
        .name("shim-log".into())
        .spawn(move || {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            let mut buf = [0u8; 8192];
            loop {
                let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
                // Linux reports POLLHUP only after a writer came and went: the shim exited.
                if poll(&mut fds, PollTimeout::from(1000u16)).is_err() {
                    break;
                }
                let revents = fds[0].revents().unwrap_or(PollFlags::empty());
                if revents.is_empty() {
                    continue;
                }
                match fifo.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        for line in String::from_utf8_lossy(&buf[..n]).lines() {
                            tracing::info!(container = id, "shim: {line}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
        })
        .map(|_| ())
        .map_err(|e| SupervisorError::io("spawn shim log relay for", bundle, e))
}

/// Parses what a shim's `start` prints: `unix://...` or the v2 bootstrap JSON.
fn parse_shim_address(out: &str) -> Option<String> {
    let out = out.trim();
    if out.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(out).ok()?;
        return v.get("address").and_then(|a| a.as_str()).map(str::to_owned);
    }
    (!out.is_empty()).then(|| out.to_owned())
}

fn shim_status(s: shimapi::Status) -> Status {
    match s {
        shimapi::Status::CREATED => Status::Created,
        shimapi::Status::RUNNING => Status::Running,
        shimapi::Status::STOPPED => Status::Stopped,
        shimapi::Status::PAUSED => Status::Paused,
        shimapi::Status::PAUSING => Status::Pausing,
        _ => Status::Unknown,
    }
}

impl Tasks {
    pub fn new(cfg: Config, store: Store, events: Exchange) -> Self {
        Tasks { cfg, store, events, map: Mutex::new(HashMap::new()), creating: Mutex::default(), created: Default::default() }
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

    fn insert(&self, task: Arc<Task>) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert((task.ns.clone(), task.id.clone()), task);
    }

    fn remove(&self, ns: &str, id: &str) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).remove(&(ns.to_owned(), id.to_owned()));
    }

    /// Starts the shim in `bundle` and connects to it.
    async fn start_shim(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) -> Result<(String, TaskClient), SupervisorError> {
        let mut cmd = shim_command(runtime, self.cfg.runc_shim)?;
        // berth's own shim (this executable, argv0 aside) logs to <bundle>/shim.log itself.
        if std::path::Path::new(cmd.get_program()).file_name().is_some_and(|n| n.to_string_lossy().starts_with("containerd-shim-")) {
            relay_shim_log(id, bundle)?;
        }
        let address = self.cfg.address.to_string_lossy().into_owned();
        cmd.arg("-namespace")
            .arg(ns)
            .arg("-address")
            .arg(&address)
            .arg("-publish-binary")
            .arg(&self.cfg.publish_binary)
            .arg("-id")
            .arg(id)
            .arg("start")
            .current_dir(bundle)
            .env("GRPC_ADDRESS", &address)
            .env("TTRPC_ADDRESS", format!("{address}.ttrpc"))
            .env("NAMESPACE", ns);
        let id2 = id.to_owned();
        let out = blocking(move || cmd.output()).await?.map_err(|e| SupervisorError::Shim {
            id: id2,
            call: "start",
            code: tonic::Code::Internal as i32,
            msg: e.to_string(),
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(SupervisorError::Shim {
                id: id.into(),
                call: "start",
                code: tonic::Code::Internal as i32,
                msg: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        let addr = parse_shim_address(&stdout).ok_or_else(|| SupervisorError::Shim {
            id: id.into(),
            call: "start",
            code: tonic::Code::Internal as i32,
            msg: format!("no address in shim output {stdout:?}"),
        })?;
        let id2 = id.to_owned();
        let addr2 = addr.clone();
        let client = blocking(move || ttrpc::Client::connect(&addr2)).await?.map_err(|e| SupervisorError::shim(&id2, "connect", e))?;
        Ok((addr, TaskClient::new(client)))
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
        if req.terminal {
            return Err(SupervisorError::Invalid(format!("container {id}: terminal is not supported yet")));
        }
        let spec = rec.spec.as_ref().ok_or_else(|| SupervisorError::Invalid(format!("container {id} has no spec")))?;
        let bundle = self.bundle(ns, &id);
        // A shim still on this container's socket serves no task of ours: left by an earlier
        // attempt (a crash midway), or one whose task was deleted and that has not exited
        // yet. The new shim's `start` would hand out that socket and the create would then
        // lose its shim: the old one is shut down and gone first.
        let sock = crate::bundle::socket_path(&self.cfg.address.to_string_lossy(), ns, &id);
        if let Ok(c) = ttrpc::Client::connect(&format!("unix://{}", sock.display())) {
            let client = TaskClient::new(c);
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
        let (_addr, client) = self.start_shim(ns, id, &rec.runtime_name, bundle).await?;
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
    fn arm_wait(self: &Arc<Self>, task: Arc<Task>) {
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

    fn record_exit(&self, task: &Task, exit: Exit) {
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

    fn client(task: &Task) -> Result<TaskClient, SupervisorError> {
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

    /// Runs `<shim> ... delete` in `bundle`: the runtime's `delete --force` (kills what is
    /// left of the container, removes its cgroups and state) and the rootfs unmount.
    async fn shim_delete_action(&self, ns: &str, id: &str, runtime_name: &str, bundle: &Path) {
        let Ok(mut cmd) = shim_command(runtime_name, self.cfg.runc_shim) else { return };
        cmd.arg("-namespace")
            .arg(ns)
            .arg("-address")
            .arg(&self.cfg.address)
            .arg("-publish-binary")
            .arg(&self.cfg.publish_binary)
            .arg("-id")
            .arg(id)
            .arg("-bundle")
            .arg(bundle)
            .arg("delete")
            .current_dir(bundle);
        match blocking(move || cmd.output()).await {
            Ok(Ok(out)) if !out.status.success() => {
                tracing::warn!(id, "shim delete: {}", String::from_utf8_lossy(&out.stderr).trim())
            }
            Ok(Err(e)) => tracing::warn!(id, "shim delete: {e}"),
            _ => {}
        }
    }

    /// Runs `<shim> ... delete` for a task whose shim is gone; the exit comes from disk.
    async fn delete_dead(&self, task: &Task) -> Exit {
        if !task.bundle.exists() {
            // Already cleaned up when the shim's death was noticed.
            return task.exit().unwrap_or(Exit { pid: task.pid, status: 137, at: super::events::now() });
        }
        self.shim_delete_action(&task.ns, &task.id, &task.runtime_name, &task.bundle).await;
        if let Some(e) = task.exit() {
            return e;
        }
        match crate::bundle::read_exit(&task.bundle) {
            Some(r) => Exit { pid: r.pid as u32, status: r.exit_status as u32, at: rfc_ts(&r.exited_at) },
            None => Exit { pid: task.pid, status: 137, at: super::events::now() },
        }
    }

    /// Runs `f` on the task's shim client off the async runtime.
    async fn call<T: Send + 'static>(
        &self,
        ns: &str,
        id: &str,
        what: &'static str,
        f: impl FnOnce(TaskClient) -> ttrpc::Result<T> + Send + 'static,
    ) -> Result<T, SupervisorError> {
        let task = self.get(ns, id)?;
        let client = Self::client(&task)?;
        blocking(move || f(client)).await?.map_err(|e| SupervisorError::shim(id, what, e))
    }

    /// tasks.Exec: registers an exec process (started by tasks.Start with its exec id).
    pub async fn exec(&self, ns: &str, r: tapi::ExecProcessRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::ExecProcessRequest::new();
        req.id = r.container_id.clone();
        req.exec_id = r.exec_id;
        req.terminal = r.terminal;
        req.stdin = r.stdin;
        req.stdout = r.stdout;
        req.stderr = r.stderr;
        if let Some(spec) = r.spec {
            let mut any = PbAny::new();
            any.type_url = spec.type_url;
            any.value = spec.value;
            req.spec = MessageField::some(any);
        }
        self.call(ns, &r.container_id, "exec", move |c| c.exec(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.Start of an exec process.
    pub async fn start_exec(&self, ns: &str, id: &str, exec_id: &str) -> Result<u32, SupervisorError> {
        let mut req = shimapi::StartRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let r = self.call(ns, id, "start", move |c| c.start(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(r.pid)
    }

    /// tasks.DeleteProcess.
    pub async fn delete_exec(&self, ns: &str, id: &str, exec_id: &str) -> Result<Exit, SupervisorError> {
        let mut req = shimapi::DeleteRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let r = self.call(ns, id, "delete", move |c| c.delete(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(Exit { pid: r.pid, status: r.exit_status, at: pb_ts(&r.exited_at) })
    }

    /// An exec process as a containerd Process.
    pub async fn exec_process(&self, ns: &str, id: &str, exec_id: &str) -> Result<Process, SupervisorError> {
        let mut req = shimapi::StateRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let s = self.call(ns, id, "state", move |c| c.state(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(Process {
            container_id: id.to_owned(),
            id: exec_id.to_owned(),
            pid: s.pid,
            status: shim_status(s.status.enum_value_or_default()) as i32,
            stdin: s.stdin.clone(),
            stdout: s.stdout.clone(),
            stderr: s.stderr.clone(),
            terminal: s.terminal,
            exit_status: s.exit_status,
            exited_at: s.exited_at.as_ref().map(pb_ts),
        })
    }

    /// tasks.Wait of an exec process (blocks in the shim).
    pub async fn wait_exec(&self, ns: &str, id: &str, exec_id: &str) -> Result<Exit, SupervisorError> {
        let mut req = shimapi::WaitRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let r = self.call(ns, id, "wait", move |c| c.wait(ctx(None), &req)).await?;
        Ok(Exit { pid: 0, status: r.exit_status, at: pb_ts(&r.exited_at) })
    }

    /// tasks.Kill of an exec process.
    pub async fn kill_exec(&self, ns: &str, id: &str, exec_id: &str, signal: u32) -> Result<(), SupervisorError> {
        let mut req = shimapi::KillRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        req.signal = signal;
        self.call(ns, id, "kill", move |c| c.kill(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.Pause / tasks.Resume.
    pub async fn pause(&self, ns: &str, id: &str, pause: bool) -> Result<(), SupervisorError> {
        let cid = id.to_owned();
        if pause {
            self.call(ns, id, "pause", move |c| {
                let mut req = shimapi::PauseRequest::new();
                req.id = cid;
                c.pause(ctx(Some(SHIM_CALL_TIMEOUT)), &req)
            })
            .await?;
        } else {
            self.call(ns, id, "resume", move |c| {
                let mut req = shimapi::ResumeRequest::new();
                req.id = cid;
                c.resume(ctx(Some(SHIM_CALL_TIMEOUT)), &req)
            })
            .await?;
        }
        Ok(())
    }

    /// tasks.ResizePty.
    pub async fn resize_pty(&self, ns: &str, r: tapi::ResizePtyRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::ResizePtyRequest::new();
        req.id = r.container_id.clone();
        req.exec_id = r.exec_id;
        req.width = r.width;
        req.height = r.height;
        self.call(ns, &r.container_id, "resize_pty", move |c| c.resize_pty(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.CloseIO.
    pub async fn close_io(&self, ns: &str, r: tapi::CloseIoRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::CloseIORequest::new();
        req.id = r.container_id.clone();
        req.exec_id = r.exec_id;
        req.stdin = r.stdin;
        self.call(ns, &r.container_id, "close_io", move |c| c.close_io(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.Update.
    pub async fn update(&self, ns: &str, r: tapi::UpdateTaskRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::UpdateTaskRequest::new();
        req.id = r.container_id.clone();
        if let Some(res) = r.resources {
            let mut any = PbAny::new();
            any.type_url = res.type_url;
            any.value = res.value;
            req.resources = MessageField::some(any);
        }
        self.call(ns, &r.container_id, "update", move |c| c.update(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// The shim's Stats of one task, as a containerd Metric.
    pub async fn metric(&self, ns: &str, id: &str) -> Result<crate::proto::containerd::types::Metric, SupervisorError> {
        let mut req = shimapi::StatsRequest::new();
        req.id = id.to_owned();
        let r = self.call(ns, id, "stats", move |c| c.stats(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(crate::proto::containerd::types::Metric {
            timestamp: Some(super::events::now()),
            id: id.to_owned(),
            data: r.stats.as_ref().map(|a| prost_types::Any { type_url: a.type_url.clone(), value: a.value.clone() }),
        })
    }

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
    async fn clean_bundle(&self, ns: &str, id: &str, bundle: &Path) {
        let runtime_name = self.store.get(ns, id).map(|r| r.runtime_name).unwrap_or_default();
        self.shim_delete_action(ns, id, &runtime_name, bundle).await;
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
        // Some(client) when a shim listens; then whether it knows the container.
        let connected = blocking(move || -> Option<(TaskClient, Result<u32, ttrpc::Error>)> {
            let client = TaskClient::new(ttrpc::Client::connect(&addr).ok()?);
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
