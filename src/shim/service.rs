//! The resident shim: containerd's Task API (v3, also registered as v2) over ttrpc.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::Options;
use ttrpc::TtrpcContext;

use super::io::{self, Drain};
use super::reaper::Reaper;
use super::runtime::{Runtime, RuntimeConfig, Waiter};
use super::{ExitRecord, ShimArgs, ShimError};

/// How long an exit waits for the container's output to drain (grandchildren may hold pipes).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Created,
    Running,
    Stopped,
}

struct Container {
    bundle: PathBuf,
    runtime: Arc<Runtime>,
    pid: i32,
    state: State,
    exit: Option<ExitRecord>,
    stdin: String,
    stdout: String,
    stderr: String,
    rootfs_mounted: bool,
}

struct Shared {
    args: ShimArgs,
    socket: PathBuf,
    reaper: Arc<Reaper>,
    containers: Mutex<HashMap<String, Container>>,
    /// Notified whenever a container exits or is deleted.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Container>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes the socket and ends the process (after the current reply is sent).
    fn exit_soon(self: &Arc<Self>, delay: Duration, only_if_empty: bool) {
        let me = self.clone();
        let _ = std::thread::Builder::new().name("shutdown".into()).spawn(move || {
            std::thread::sleep(delay);
            if only_if_empty && !me.lock().is_empty() {
                return;
            }
            tracing::info!("shim exiting");
            let _ = std::fs::remove_file(&me.socket);
            std::process::exit(0);
        });
    }

    /// Records init `pid`'s exit: drain output, write exit.json, wake waiters, publish.
    fn on_exit(self: &Arc<Self>, id: &str, pid: i32, status: i32, drain: &Drain) {
        if !drain.wait(DRAIN_TIMEOUT) {
            tracing::warn!(container = id, "output still open {DRAIN_TIMEOUT:?} after exit; not waiting longer");
        }
        let rec = ExitRecord {
            pid,
            exit_status: status,
            exited_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        let bundle = self.lock().get(id).map(|c| c.bundle.clone());
        if let Some(bundle) = &bundle
            && let Err(e) = crate::util::write_json(&bundle.join(super::EXIT_FILE), &rec) {
                tracing::error!(container = id, "write exit record in {}: {e}", bundle.display());
            }
        tracing::info!(container = id, pid, status, "container exited");
        {
            let mut map = self.lock();
            if let Some(c) = map.get_mut(id) {
                c.state = State::Stopped;
                c.exit = Some(rec.clone());
            }
            self.changed.notify_all();
        }
        self.publish_exit(id, &rec);
    }

    /// Best effort: `<publish-binary> --address A publish --topic /tasks/exit --namespace NS`.
    fn publish_exit(&self, id: &str, rec: &ExitRecord) {
        if self.args.publish_binary.is_empty() || self.args.address.is_empty() {
            return;
        }
        let mut ev = containerd_shim_protos::events::task::TaskExit::new();
        ev.container_id = id.to_owned();
        ev.id = id.to_owned();
        ev.pid = rec.pid as u32;
        ev.exit_status = rec.exit_status as u32;
        ev.exited_at = MessageField::some(super::pb_timestamp(&rec.exited_at));
        let mut any = Any::new();
        any.type_url = "containerd.events.TaskExit".into();
        any.value = match ev.write_to_bytes() {
            Ok(v) => v,
            Err(_) => return,
        };
        let Ok(payload) = any.write_to_bytes() else { return };
        let child = std::process::Command::new(&self.args.publish_binary)
            .arg("--address")
            .arg(&self.args.address)
            .arg("publish")
            .arg("--topic")
            .arg("/tasks/exit")
            .arg("--namespace")
            .arg(&self.args.namespace)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        // The reaper collects it; never wait here.
        match child {
            Ok(mut c) => {
                if let Some(mut stdin) = c.stdin.take() {
                    use std::io::Write;
                    let _ = stdin.write_all(&payload);
                }
            }
            Err(e) => tracing::debug!("publish via {}: {e}", self.args.publish_binary),
        }
    }
}

/// The Task service.
#[derive(Clone)]
pub struct TaskService {
    shared: Arc<Shared>,
}

fn not_found(id: &str) -> ttrpc::Error {
    ShimError::NotFound(id.to_owned()).to_ttrpc()
}

fn unimplemented(method: &str) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(ttrpc::Code::UNIMPLEMENTED, format!("{method} is not implemented by berth-shim")))
}

fn status_of(s: State) -> api::Status {
    match s {
        State::Created => api::Status::CREATED,
        State::Running => api::Status::RUNNING,
        State::Stopped => api::Status::STOPPED,
    }
}

fn runtime_config(ns: &str, options: &MessageField<Any>) -> Result<RuntimeConfig, ShimError> {
    let mut cfg = RuntimeConfig { binary_name: String::new(), root: PathBuf::from(format!("/run/berth/runtime/{ns}")) };
    if let Some(any) = options.as_ref() {
        if any.type_url.ends_with("containerd.runc.v1.Options") {
            let o = Options::parse_from_bytes(&any.value)
                .map_err(|e| ShimError::Invalid(format!("options {}: {e}", any.type_url)))?;
            if !o.binary_name.is_empty() {
                cfg.binary_name = o.binary_name;
            }
            if !o.root.is_empty() {
                cfg.root = PathBuf::from(o.root);
            }
        } else if !any.type_url.is_empty() {
            tracing::warn!("ignoring task options of type {}", any.type_url);
        }
    }
    Ok(cfg)
}

/// Mounts containerd-style rootfs mounts on `<bundle>/rootfs`.
fn mount_rootfs(bundle: &Path, mounts: &[api::Mount]) -> Result<(), ShimError> {
    use nix::mount::{MsFlags, mount};
    let target = bundle.join("rootfs");
    std::fs::create_dir_all(&target).map_err(|e| ShimError::io("create rootfs dir", &target, e))?;
    for m in mounts {
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for o in &m.options {
            match o.as_str() {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" => {}
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                other => data.push(other.to_owned()),
            }
        }
        let data = data.join(",");
        let fstype = if m.type_.is_empty() || m.type_ == "bind" { None } else { Some(m.type_.as_str()) };
        mount(Some(m.source.as_str()), &target, fstype, flags, (!data.is_empty()).then_some(data.as_str()))
            .map_err(|e| ShimError::io("mount rootfs", &target, e.into()))?;
    }
    Ok(())
}

/// Unmounts `<bundle>/rootfs` (lazily; best effort).
pub fn unmount_rootfs(bundle: &Path) {
    let target = bundle.join("rootfs");
    while nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).is_ok() {}
}

impl TaskService {
    fn create_inner(&self, req: api::CreateTaskRequest) -> Result<api::CreateTaskResponse, ShimError> {
        let id = req.id.clone();
        if id.is_empty() || id.contains('/') {
            return Err(ShimError::Invalid(format!("container id {id:?}")));
        }
        if req.terminal {
            return Err(ShimError::Invalid(format!("container {id}: terminal is not supported yet")));
        }
        if self.shared.lock().contains_key(&id) {
            return Err(ShimError::AlreadyExists(id));
        }
        let bundle = if req.bundle.is_empty() {
            self.shared.args.bundle.clone().unwrap_or_else(|| PathBuf::from("."))
        } else {
            PathBuf::from(&req.bundle)
        };
        let cfg = runtime_config(&self.shared.args.namespace, &req.options)?;
        std::fs::create_dir_all(&cfg.root).map_err(|e| ShimError::io("create runtime root", &cfg.root, e))?;
        crate::util::write_json(&bundle.join(super::OPTIONS_FILE), &cfg)
            .map_err(|e| ShimError::io("write", &bundle.join(super::OPTIONS_FILE), e))?;
        let _ = std::fs::remove_file(bundle.join(super::EXIT_FILE));
        let rootfs_mounted = !req.rootfs.is_empty();
        if rootfs_mounted {
            mount_rootfs(&bundle, &req.rootfs)?;
        }
        let runtime = Arc::new(Runtime::new(cfg, &bundle, Waiter::Reaper(self.shared.reaper.clone())));
        let drain = Arc::new(Drain::default());
        let created = io::setup(&id, &req.stdout, &req.stderr, &drain)
            .and_then(|stdio| runtime.create(&id, &bundle, stdio.stdout, stdio.stderr));
        let pid = created.and_then(|()| {
            super::read_pid(&bundle).ok_or_else(|| ShimError::Runtime {
                id: id.clone(),
                call: "create".into(),
                msg: format!("no pid in {}", bundle.join(super::PID_FILE).display()),
            })
        });
        let pid = match pid {
            Ok(p) => p,
            Err(e) => {
                let _ = runtime.delete(&id);
                if rootfs_mounted {
                    unmount_rootfs(&bundle);
                }
                return Err(e);
            }
        };
        let exit_rx = self.shared.reaper.watch(pid);
        self.shared.lock().insert(
            id.clone(),
            Container {
                bundle,
                runtime,
                pid,
                state: State::Created,
                exit: None,
                stdin: req.stdin,
                stdout: req.stdout,
                stderr: req.stderr,
                rootfs_mounted,
            },
        );
        let shared = self.shared.clone();
        let id2 = id.clone();
        std::thread::Builder::new()
            .name("exit-watch".into())
            .spawn(move || {
                if let Ok(status) = exit_rx.recv() {
                    shared.on_exit(&id2, pid, status, &drain);
                }
            })
            .map_err(|e| ShimError::io("spawn exit watcher for", Path::new(&id), e))?;
        tracing::info!(container = id, pid, "created");
        let mut resp = api::CreateTaskResponse::new();
        resp.pid = pid as u32;
        Ok(resp)
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> ttrpc::Result<T> {
        let mut map = self.shared.lock();
        match map.get_mut(id) {
            Some(c) => Ok(f(c)),
            None => Err(not_found(id)),
        }
    }

    fn delete_inner(&self, id: &str) -> Result<api::DeleteResponse, ShimError> {
        let (runtime, state) = {
            let map = self.shared.lock();
            let c = map.get(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
            (c.runtime.clone(), c.state)
        };
        if state == State::Running {
            return Err(ShimError::Precondition { id: id.into(), msg: "cannot delete a running task".into() });
        }
        if let Err(e) = runtime.delete(id) {
            tracing::warn!("{e}");
        }
        // A created-but-never-started init is killed by delete -f: wait for its exit record.
        let mut map = self.shared.lock();
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while map.get(id).is_some_and(|c| c.exit.is_none()) && std::time::Instant::now() < deadline {
            map = match self.shared.changed.wait_timeout(map, Duration::from_millis(100)) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        let c = map.remove(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
        self.shared.changed.notify_all();
        let empty = map.is_empty();
        drop(map);
        if c.rootfs_mounted {
            unmount_rootfs(&c.bundle);
        }
        let mut resp = api::DeleteResponse::new();
        resp.pid = c.pid as u32;
        let rec = c.exit.unwrap_or(ExitRecord {
            pid: c.pid,
            exit_status: 137,
            exited_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        });
        resp.exit_status = rec.exit_status as u32;
        resp.exited_at = MessageField::some(super::pb_timestamp(&rec.exited_at));
        if empty {
            self.shared.exit_soon(Duration::from_secs(2), true);
        }
        Ok(resp)
    }
}

impl containerd_shim_protos::Task for TaskService {
    fn create(&self, _ctx: &TtrpcContext, req: api::CreateTaskRequest) -> ttrpc::Result<api::CreateTaskResponse> {
        self.create_inner(req).map_err(|e| {
            tracing::error!("create: {e}");
            e.to_ttrpc()
        })
    }

    fn start(&self, _ctx: &TtrpcContext, req: api::StartRequest) -> ttrpc::Result<api::StartResponse> {
        if !req.exec_id.is_empty() {
            return Err(ShimError::Invalid("exec is not supported".into()).to_ttrpc());
        }
        let (runtime, pid) = self.with(&req.id, |c| (c.runtime.clone(), c.pid))?;
        runtime.start(&req.id).map_err(|e| e.to_ttrpc())?;
        self.with(&req.id, |c| {
            if c.exit.is_none() {
                c.state = State::Running;
            }
        })?;
        let mut resp = api::StartResponse::new();
        resp.pid = pid as u32;
        Ok(resp)
    }

    fn state(&self, _ctx: &TtrpcContext, req: api::StateRequest) -> ttrpc::Result<api::StateResponse> {
        self.with(&req.id, |c| {
            let mut r = api::StateResponse::new();
            r.id = req.id.clone();
            r.bundle = c.bundle.to_string_lossy().into_owned();
            r.pid = c.pid as u32;
            r.status = status_of(c.state).into();
            r.stdin = c.stdin.clone();
            r.stdout = c.stdout.clone();
            r.stderr = c.stderr.clone();
            if let Some(e) = &c.exit {
                r.exit_status = e.exit_status as u32;
                r.exited_at = MessageField::some(super::pb_timestamp(&e.exited_at));
            }
            r
        })
    }

    fn wait(&self, _ctx: &TtrpcContext, req: api::WaitRequest) -> ttrpc::Result<api::WaitResponse> {
        let mut map = self.shared.lock();
        loop {
            match map.get(&req.id) {
                None => return Err(not_found(&req.id)),
                Some(c) => {
                    if let Some(e) = &c.exit {
                        let mut r = api::WaitResponse::new();
                        r.exit_status = e.exit_status as u32;
                        r.exited_at = MessageField::some(super::pb_timestamp(&e.exited_at));
                        return Ok(r);
                    }
                }
            }
            map = self.shared.changed.wait(map).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn kill(&self, _ctx: &TtrpcContext, req: api::KillRequest) -> ttrpc::Result<Empty> {
        let (runtime, exited) = self.with(&req.id, |c| (c.runtime.clone(), c.exit.is_some()))?;
        if exited {
            return Err(ttrpc::Error::RpcStatus(ttrpc::get_status(
                ttrpc::Code::NOT_FOUND,
                format!("container {}: process already finished", req.id),
            )));
        }
        runtime.kill(&req.id, req.signal, req.all).map_err(|e| e.to_ttrpc())?;
        Ok(Empty::new())
    }

    fn delete(&self, _ctx: &TtrpcContext, req: api::DeleteRequest) -> ttrpc::Result<api::DeleteResponse> {
        if !req.exec_id.is_empty() {
            return Err(ShimError::Invalid("exec is not supported".into()).to_ttrpc());
        }
        self.delete_inner(&req.id).map_err(|e| e.to_ttrpc())
    }

    fn pids(&self, _ctx: &TtrpcContext, req: api::PidsRequest) -> ttrpc::Result<api::PidsResponse> {
        self.with(&req.id, |c| {
            let mut r = api::PidsResponse::new();
            if c.exit.is_none() {
                let mut p = api::ProcessInfo::new();
                p.pid = c.pid as u32;
                r.processes.push(p);
            }
            r
        })
    }

    fn connect(&self, _ctx: &TtrpcContext, req: api::ConnectRequest) -> ttrpc::Result<api::ConnectResponse> {
        let mut r = api::ConnectResponse::new();
        r.shim_pid = std::process::id();
        r.version = env!("CARGO_PKG_VERSION").to_owned();
        if let Some(c) = self.shared.lock().get(&req.id) {
            r.task_pid = c.pid as u32;
        }
        Ok(r)
    }

    fn pause(&self, _ctx: &TtrpcContext, _req: api::PauseRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("Pause"))
    }
    fn resume(&self, _ctx: &TtrpcContext, _req: api::ResumeRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("Resume"))
    }
    fn checkpoint(&self, _ctx: &TtrpcContext, _req: api::CheckpointTaskRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("Checkpoint"))
    }
    fn exec(&self, _ctx: &TtrpcContext, _req: api::ExecProcessRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("Exec"))
    }
    fn resize_pty(&self, _ctx: &TtrpcContext, _req: api::ResizePtyRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("ResizePty"))
    }
    fn close_io(&self, _ctx: &TtrpcContext, _req: api::CloseIORequest) -> ttrpc::Result<Empty> {
        // stdin is never connected: nothing to close.
        Ok(Empty::new())
    }
    fn update(&self, _ctx: &TtrpcContext, _req: api::UpdateTaskRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("Update"))
    }
    fn stats(&self, _ctx: &TtrpcContext, _req: api::StatsRequest) -> ttrpc::Result<api::StatsResponse> {
        Err(unimplemented("Stats"))
    }

    fn shutdown(&self, _ctx: &TtrpcContext, req: api::ShutdownRequest) -> ttrpc::Result<Empty> {
        let busy = self.shared.lock().values().any(|c| c.exit.is_none());
        if req.now || !busy {
            self.shared.exit_soon(Duration::from_millis(50), false);
        }
        Ok(Empty::new())
    }
}

/// Runs the resident shim: becomes a subreaper, serves on `args.socket`, never returns on success.
pub fn serve(args: ShimArgs) -> Result<(), ShimError> {
    let socket = args
        .socket
        .clone()
        .ok_or_else(|| ShimError::Invalid("resident shim needs -socket".into()))?;
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(ShimError::io("prctl(PR_SET_CHILD_SUBREAPER)", &socket, std::io::Error::last_os_error()));
    }
    let reaper = Reaper::start();
    let shared = Arc::new(Shared {
        args,
        socket: socket.clone(),
        reaper,
        containers: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
    });
    let svc: Arc<dyn containerd_shim_protos::Task + Send + Sync> = Arc::new(TaskService { shared });
    let v3 = containerd_shim_protos::create_task(svc.clone());
    // containerd 1.6 speaks containerd.task.v2.Task; the messages are the same.
    let v2 = containerd_shim_protos::create_task(svc)
        .into_iter()
        .map(|(k, v)| (k.replace("/containerd.task.v3.Task/", "/containerd.task.v2.Task/"), v))
        .collect();
    let _ = std::fs::remove_file(&socket);
    let addr = format!("unix://{}", socket.display());
    let ttrpc_err = |source| ShimError::Ttrpc { socket: addr.clone(), source };
    let mut server = ttrpc::Server::new()
        .bind(&addr)
        .map_err(ttrpc_err)?
        .register_service(v3)
        .register_service(v2);
    server.start().map_err(ttrpc_err)?;
    tracing::info!("shim serving on {addr}");
    loop {
        std::thread::park();
    }
}
