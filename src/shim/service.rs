//! The resident shim: containerd's Task API (v3, also registered as v2) over ttrpc. One
//! container per shim, its init process and any number of exec processes.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use containerd_shim_protos::api;
use containerd_shim_protos::events::task as ev;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::Options;
use ttrpc::TtrpcContext;

use super::events::Publisher;
use super::reaper::Reaper;
use super::runtime::{Runtime, RuntimeConfig, Waiter};
use super::{ShimArgs, ShimError};
use crate::bundle::ExitRecord;
use crate::runtime::console::ConsoleSocket;
use crate::stdio::{self as io, Drain, Stdin};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Created,
    Running,
    Paused,
    Stopped,
}

/// The init process or one exec process.
struct Process {
    pid: i32,
    state: State,
    exit: Option<ExitRecord>,
    stdin: String,
    stdout: String,
    stderr: String,
    terminal: bool,
    /// Where stdin goes (None until the process runs).
    input: Option<Arc<Stdin>>,
    /// The pty master, with a terminal.
    console: Option<File>,
    /// An exec's OCI process JSON (from Exec, used by Start).
    spec: Vec<u8>,
}

impl Process {
    fn new(stdin: &str, stdout: &str, stderr: &str, terminal: bool) -> Self {
        Process {
            pid: 0,
            state: State::Created,
            exit: None,
            stdin: stdin.into(),
            stdout: stdout.into(),
            stderr: stderr.into(),
            terminal,
            input: None,
            console: None,
            spec: Vec::new(),
        }
    }
}

struct Container {
    bundle: PathBuf,
    runtime: Arc<Runtime>,
    rootfs_mounted: bool,
    init: Process,
    execs: HashMap<String, Process>,
}

impl Container {
    fn process(&mut self, exec_id: &str) -> Option<&mut Process> {
        if exec_id.is_empty() {
            Some(&mut self.init)
        } else {
            self.execs.get_mut(exec_id)
        }
    }
}

struct Shared {
    args: ShimArgs,
    socket: PathBuf,
    reaper: Arc<Reaper>,
    publisher: Publisher,
    containers: Mutex<HashMap<String, Container>>,
    /// Notified whenever a process exits or is deleted.
    changed: Condvar,
    /// Held by Start while it runs and publishes TaskStart/TaskExecStarted: an exit is
    /// published only after the start of the same process (dockerd relies on that order).
    start_lock: Mutex<()>,
    /// Creates under way (the container is in `containers` only once created).
    creating: std::sync::atomic::AtomicUsize,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
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
            me.publisher.flush(Duration::from_secs(5));
            tracing::info!("shim exiting");
            let _ = std::fs::remove_file(&me.socket);
            std::process::exit(0);
        });
    }

    /// Watches `pid` (init when `exec_id` is empty) and records its exit when it comes.
    fn watch_exit(self: &Arc<Self>, id: &str, exec_id: &str, pid: i32, drain: Arc<Drain>) -> Result<(), ShimError> {
        let rx = self.reaper.watch(pid);
        let me = self.clone();
        let (id2, exec2) = (id.to_owned(), exec_id.to_owned());
        std::thread::Builder::new()
            .name("exit-watch".into())
            .spawn(move || {
                if let Ok(status) = rx.recv() {
                    me.on_exit(&id2, &exec2, pid, status, &drain);
                }
            })
            .map(|_| ())
            .map_err(|e| ShimError::io("spawn exit watcher for", Path::new(id), e))
    }

    /// Records a process's exit: drain output, write exit.json (init), wake waiters, publish.
    fn on_exit(&self, id: &str, exec_id: &str, pid: i32, status: i32, drain: &Drain) {
        if !drain.wait(io::DRAIN_TIMEOUT) {
            tracing::warn!(container = id, exec_id, "output still open {:?} after exit; not waiting longer", io::DRAIN_TIMEOUT);
        }
        let rec = ExitRecord { pid, exit_status: status, exited_at: now_rfc3339() };
        if exec_id.is_empty() {
            let bundle = self.lock().get(id).map(|c| c.bundle.clone());
            if let Some(bundle) = &bundle
                && let Err(e) = crate::bundle::write_exit(bundle, &rec)
            {
                tracing::error!(container = id, "write exit record in {}: {e}", bundle.display());
            }
        }
        tracing::info!(container = id, exec_id, pid, status, "process exited");
        {
            let mut map = self.lock();
            if let Some(p) = map.get_mut(id).and_then(|c| c.process(exec_id)) {
                p.state = State::Stopped;
                p.exit = Some(rec.clone());
                p.console = None;
                // Nobody reads its stdin any more: let the copier end when the client's end does.
                if let Some(i) = &p.input {
                    i.close_io();
                }
            }
            self.changed.notify_all();
        }
        let mut e = ev::TaskExit::new();
        e.container_id = id.to_owned();
        e.id = if exec_id.is_empty() { id.to_owned() } else { exec_id.to_owned() };
        e.pid = rec.pid as u32;
        e.exit_status = rec.exit_status as u32;
        e.exited_at = MessageField::some(super::pb_timestamp(&rec.exited_at));
        let _started = self.start_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.publisher.publish("/tasks/exit", "containerd.events.TaskExit", &e);
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
        State::Paused => api::Status::PAUSED,
        State::Stopped => api::Status::STOPPED,
    }
}

fn log_err(call: &'static str) -> impl Fn(ShimError) -> ttrpc::Error {
    move |e| {
        tracing::warn!("{call}: {e}");
        e.to_ttrpc()
    }
}

/// `runtimeoptions.v1.Options` (what `ctr --runtime-config-path` sends): field 2 is the path.
#[derive(Clone, PartialEq, prost::Message)]
struct RuntimeOptionsV1 {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(string, tag = "2")]
    config_path: String,
}

/// Reads `BinaryName = "..."` and `Root = "..."` from a runtime config file (TOML, as the
/// runc shim's options are written in containerd's config).
fn read_runtime_config_file(path: &Path, cfg: &mut RuntimeConfig) -> Result<(), ShimError> {
    let text = std::fs::read_to_string(path).map_err(|e| ShimError::io("read runtime config", path, e))?;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim() {
            "BinaryName" | "binary_name" if !v.is_empty() => cfg.binary_name = v,
            "Root" | "root" if !v.is_empty() => cfg.root = PathBuf::from(v),
            _ => {}
        }
    }
    Ok(())
}

fn runtime_config(ns: &str, options: &MessageField<Any>) -> Result<RuntimeConfig, ShimError> {
    let mut cfg = RuntimeConfig { binary_name: String::new(), root: PathBuf::from(format!("/run/berth/runtime/{ns}")) };
    if let Some(any) = options.as_ref() {
        if any.type_url.ends_with("containerd.runc.v1.Options") {
            let o = Options::parse_from_bytes(&any.value).map_err(|e| ShimError::Invalid(format!("options {}: {e}", any.type_url)))?;
            if !o.binary_name.is_empty() {
                cfg.binary_name = o.binary_name;
            }
            if !o.root.is_empty() {
                cfg.root = PathBuf::from(o.root);
            }
        } else if any.type_url.ends_with("runtimeoptions.v1.Options") {
            let o = <RuntimeOptionsV1 as prost::Message>::decode(any.value.as_slice())
                .map_err(|e| ShimError::Invalid(format!("options {}: {e}", any.type_url)))?;
            if !o.config_path.is_empty() {
                read_runtime_config_file(Path::new(&o.config_path), &mut cfg)?;
            }
        } else if !any.type_url.is_empty() {
            tracing::warn!("ignoring task options of type {}", any.type_url);
        }
    }
    Ok(cfg)
}

/// Checks an exec id is usable in a file name.
fn check_exec_id(exec_id: &str) -> Result<(), ShimError> {
    if exec_id.is_empty() || exec_id.len() > 128 || exec_id.contains('/') || exec_id.starts_with('.') {
        return Err(ShimError::Invalid(format!("exec id {exec_id:?}")));
    }
    Ok(())
}

impl TaskService {
    /// A console socket path next to the shim's own socket (short: unix paths are limited).
    fn console_socket(&self, exec_id: &str) -> Result<ConsoleSocket, ShimError> {
        let n: u32 = rand::random();
        let tag = if exec_id.is_empty() { "init" } else { "exec" };
        Ok(ConsoleSocket::listen(&PathBuf::from(format!("{}.{tag}-{n:08x}.pty", self.shared.socket.display())))?)
    }

    fn create_inner(&self, req: api::CreateTaskRequest) -> Result<api::CreateTaskResponse, ShimError> {
        let id = req.id.clone();
        if id.is_empty() || id.contains('/') {
            return Err(ShimError::Invalid(format!("container id {id:?}")));
        }
        if !req.checkpoint.is_empty() {
            return Err(ShimError::Invalid(format!("container {id}: restoring checkpoints is not supported")));
        }
        if self.shared.lock().contains_key(&id) {
            return Err(ShimError::AlreadyExists(id));
        }
        let bundle =
            if req.bundle.is_empty() { self.shared.args.bundle.clone().unwrap_or_else(|| PathBuf::from(".")) } else { PathBuf::from(&req.bundle) };
        let cfg = runtime_config(&self.shared.args.namespace, &req.options)?;
        crate::fsperm::create_dir_all(&cfg.root, crate::fsperm::DIR_PRIVATE).map_err(|e| ShimError::io("create runtime root", &cfg.root, e))?;
        crate::util::write_json(&bundle.join(crate::bundle::OPTIONS_FILE), &cfg)
            .map_err(|e| ShimError::io("write", &bundle.join(crate::bundle::OPTIONS_FILE), e))?;
        crate::bundle::clear_exit(&bundle);
        let rootfs_mounted = !req.rootfs.is_empty();
        if rootfs_mounted {
            let mounts: Vec<_> =
                req.rootfs.iter().map(|m| crate::bundle::RootfsMount { kind: &m.type_, source: &m.source, options: &m.options }).collect();
            crate::bundle::mount_rootfs(&bundle, &mounts).map_err(|e| ShimError::io(e.what, &e.path, e.source))?;
        }
        let runtime = Arc::new(Runtime::new(cfg, &bundle, Waiter::Reaper(self.shared.reaper.clone())));
        let drain = Arc::new(Drain::default());
        let mut proc_ = Process::new(&req.stdin, &req.stdout, &req.stderr, req.terminal);
        let created = (|| -> Result<i32, ShimError> {
            if req.terminal {
                let sock = self.console_socket("")?;
                runtime.create(&id, &bundle, Default::default(), Some(sock.path()))?;
                let master = sock.master()?;
                proc_.input = Some(io::console(&id, &master, &req.stdin, &req.stdout, &drain)?);
                proc_.console = Some(master);
            } else {
                let (stdio, input) = io::pipes(&id, &req.stdin, &req.stdout, &req.stderr, &drain)?;
                runtime.create(&id, &bundle, stdio, None)?;
                proc_.input = Some(input);
            }
            crate::bundle::read_pid(&bundle).ok_or_else(|| ShimError::Runtime {
                id: id.clone(),
                call: "create".into(),
                msg: format!("no pid in {}", bundle.join(crate::bundle::PID_FILE).display()),
            })
        })();
        let pid = match created {
            Ok(p) => p,
            Err(e) => {
                let _ = runtime.delete(&id);
                if rootfs_mounted {
                    crate::bundle::unmount_rootfs(&bundle);
                }
                return Err(e);
            }
        };
        proc_.pid = pid;
        self.shared.lock().insert(id.clone(), Container { bundle: bundle.clone(), runtime, rootfs_mounted, init: proc_, execs: HashMap::new() });
        self.shared.watch_exit(&id, "", pid, drain)?;
        let publisher = self.shared.publisher.clone();
        let id2 = id.clone();
        cgroup_oom(pid, move || {
            let mut e = ev::TaskOOM::new();
            e.container_id = id2.clone();
            publisher.publish("/tasks/oom", "containerd.events.TaskOOM", &e);
        });
        tracing::info!(container = id, pid, "created");
        let mut e = ev::TaskCreate::new();
        e.container_id = id.clone();
        e.bundle = bundle.to_string_lossy().into_owned();
        e.rootfs = req.rootfs.clone();
        let mut tio = ev::TaskIO::new();
        tio.stdin = req.stdin.clone();
        tio.stdout = req.stdout.clone();
        tio.stderr = req.stderr.clone();
        tio.terminal = req.terminal;
        e.io = MessageField::some(tio);
        e.pid = pid as u32;
        self.shared.publisher.publish("/tasks/create", "containerd.events.TaskCreate", &e);
        let mut resp = api::CreateTaskResponse::new();
        resp.pid = pid as u32;
        Ok(resp)
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> Result<T, ShimError> {
        let mut map = self.shared.lock();
        match map.get_mut(id) {
            Some(c) => Ok(f(c)),
            None => Err(ShimError::NotFound(id.to_owned())),
        }
    }

    fn with_process<T>(&self, id: &str, exec_id: &str, f: impl FnOnce(&mut Process) -> T) -> Result<T, ShimError> {
        let mut map = self.shared.lock();
        let c = map.get_mut(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
        let p = c.process(exec_id).ok_or_else(|| ShimError::NotFound(format!("{id}/{exec_id}")))?;
        Ok(f(p))
    }

    fn start_init(&self, id: &str) -> Result<u32, ShimError> {
        let (runtime, pid) = self.with(id, |c| (c.runtime.clone(), c.init.pid))?;
        let _gate = self.shared.start_lock.lock().unwrap_or_else(|p| p.into_inner());
        runtime.start(id)?;
        self.with(id, |c| {
            if c.init.exit.is_none() {
                c.init.state = State::Running;
            }
        })?;
        let mut e = ev::TaskStart::new();
        e.container_id = id.to_owned();
        e.pid = pid as u32;
        self.shared.publisher.publish("/tasks/start", "containerd.events.TaskStart", &e);
        Ok(pid as u32)
    }

    fn start_exec(&self, id: &str, exec_id: &str) -> Result<u32, ShimError> {
        let (runtime, bundle, spec, terminal, stdin, stdout, stderr) = {
            let mut map = self.shared.lock();
            let c = map.get_mut(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
            if c.init.state != State::Running {
                return Err(ShimError::Precondition { id: id.into(), msg: "container is not running".into() });
            }
            let (runtime, bundle) = (c.runtime.clone(), c.bundle.clone());
            let p = c.execs.get_mut(exec_id).ok_or_else(|| ShimError::NotFound(format!("{id}/{exec_id}")))?;
            if p.state != State::Created {
                return Err(ShimError::Precondition { id: id.into(), msg: format!("exec {exec_id} already started") });
            }
            (runtime, bundle, p.spec.clone(), p.terminal, p.stdin.clone(), p.stdout.clone(), p.stderr.clone())
        };
        let _gate = self.shared.start_lock.lock().unwrap_or_else(|p| p.into_inner());
        let process_json = bundle.join(format!("exec-{exec_id}.json"));
        let pid_file = bundle.join(format!("exec-{exec_id}.pid"));
        crate::util::atomic_write(&process_json, &spec).map_err(|e| ShimError::io("write", &process_json, e))?;
        let drain = Arc::new(Drain::default());
        let (input, console) = if terminal {
            let sock = self.console_socket(exec_id)?;
            runtime.exec(id, &process_json, &pid_file, Default::default(), Some(sock.path()))?;
            let master = sock.master()?;
            (io::console(exec_id, &master, &stdin, &stdout, &drain)?, Some(master))
        } else {
            let (stdio, input) = io::pipes(exec_id, &stdin, &stdout, &stderr, &drain)?;
            runtime.exec(id, &process_json, &pid_file, stdio, None)?;
            (input, None)
        };
        let _ = std::fs::remove_file(&process_json);
        let pid: i32 = std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse().ok()).ok_or_else(|| ShimError::Runtime {
            id: id.into(),
            call: "exec".into(),
            msg: format!("no pid in {}", pid_file.display()),
        })?;
        let _ = std::fs::remove_file(&pid_file);
        self.with_process(id, exec_id, |p| {
            p.pid = pid;
            p.state = State::Running;
            p.input = Some(input);
            p.console = console;
        })?;
        self.shared.watch_exit(id, exec_id, pid, drain)?;
        let mut e = ev::TaskExecStarted::new();
        e.container_id = id.to_owned();
        e.exec_id = exec_id.to_owned();
        e.pid = pid as u32;
        self.shared.publisher.publish("/tasks/exec-started", "containerd.events.TaskExecStarted", &e);
        Ok(pid as u32)
    }

    fn delete_exec(&self, id: &str, exec_id: &str) -> Result<api::DeleteResponse, ShimError> {
        let mut map = self.shared.lock();
        let c = map.get_mut(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
        let p = c.execs.get(exec_id).ok_or_else(|| ShimError::NotFound(format!("{id}/{exec_id}")))?;
        if matches!(p.state, State::Running | State::Paused) {
            return Err(ShimError::Precondition { id: id.into(), msg: format!("exec {exec_id} is still running") });
        }
        let p = c.execs.remove(exec_id).ok_or_else(|| ShimError::NotFound(format!("{id}/{exec_id}")))?;
        self.shared.changed.notify_all();
        let mut resp = api::DeleteResponse::new();
        resp.pid = p.pid as u32;
        if let Some(e) = p.exit {
            resp.exit_status = e.exit_status as u32;
            resp.exited_at = MessageField::some(super::pb_timestamp(&e.exited_at));
        }
        Ok(resp)
    }

    fn delete_inner(&self, id: &str) -> Result<api::DeleteResponse, ShimError> {
        let (runtime, state) = {
            let map = self.shared.lock();
            let c = map.get(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
            (c.runtime.clone(), c.init.state)
        };
        if matches!(state, State::Running | State::Paused) {
            return Err(ShimError::Precondition { id: id.into(), msg: "cannot delete a running task".into() });
        }
        // The runtime itself can fail or be killed midway: a delete that did not complete
        // is an error (the caller retries), never a task forgotten with its state left.
        let mut deleted = runtime.delete(id);
        for _ in 0..2 {
            match &deleted {
                Err(e) => tracing::warn!("{e}; retrying"),
                Ok(()) => break,
            }
            deleted = runtime.delete(id);
        }
        deleted?;
        // A created-but-never-started init is killed by delete -f: wait for its exit record.
        let mut map = self.shared.lock();
        let deadline = Instant::now() + Duration::from_secs(3);
        while map.get(id).is_some_and(|c| c.init.exit.is_none()) && Instant::now() < deadline {
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
            crate::bundle::unmount_rootfs(&c.bundle);
        }
        let rec = c.init.exit.unwrap_or(ExitRecord { pid: c.init.pid, exit_status: 137, exited_at: now_rfc3339() });
        let mut resp = api::DeleteResponse::new();
        resp.pid = c.init.pid as u32;
        resp.exit_status = rec.exit_status as u32;
        resp.exited_at = MessageField::some(super::pb_timestamp(&rec.exited_at));
        let mut e = ev::TaskDelete::new();
        e.container_id = id.to_owned();
        e.id = id.to_owned();
        e.pid = resp.pid;
        e.exit_status = resp.exit_status;
        e.exited_at = resp.exited_at.clone();
        self.shared.publisher.publish("/tasks/delete", "containerd.events.TaskDelete", &e);
        if empty {
            self.shared.exit_soon(Duration::from_secs(2), true);
        }
        Ok(resp)
    }

    fn kill_inner(&self, req: &api::KillRequest) -> Result<(), ShimError> {
        let (runtime, pid, exited) = {
            let mut map = self.shared.lock();
            let c = map.get_mut(&req.id).ok_or_else(|| ShimError::NotFound(req.id.clone()))?;
            let runtime = c.runtime.clone();
            let p = c.process(&req.exec_id).ok_or_else(|| ShimError::NotFound(format!("{}/{}", req.id, req.exec_id)))?;
            (runtime, p.pid, p.exit.is_some())
        };
        if exited {
            return Err(ShimError::NotFound(format!("{}: process already finished", req.id)));
        }
        if req.exec_id.is_empty() {
            return runtime.kill(&req.id, req.signal, req.all);
        }
        if pid <= 0 {
            return Err(ShimError::Precondition { id: req.id.clone(), msg: format!("exec {} is not started", req.exec_id) });
        }
        let sig = nix::sys::signal::Signal::try_from(req.signal as i32).map_err(|_| ShimError::Invalid(format!("signal {}", req.signal)))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).map_err(|e| ShimError::io("kill exec process of", Path::new(&req.id), e.into()))
    }

    fn pause_resume(&self, id: &str, pause: bool) -> Result<(), ShimError> {
        let runtime = self.with(id, |c| c.runtime.clone())?;
        if pause {
            runtime.pause(id)?;
        } else {
            runtime.resume(id)?;
        }
        self.with(id, |c| {
            if c.init.exit.is_none() {
                c.init.state = if pause { State::Paused } else { State::Running };
            }
        })?;
        if pause {
            let mut e = ev::TaskPaused::new();
            e.container_id = id.to_owned();
            self.shared.publisher.publish("/tasks/paused", "containerd.events.TaskPaused", &e);
        } else {
            let mut e = ev::TaskResumed::new();
            e.container_id = id.to_owned();
            self.shared.publisher.publish("/tasks/resumed", "containerd.events.TaskResumed", &e);
        }
        Ok(())
    }

    fn update_inner(&self, req: &api::UpdateTaskRequest) -> Result<(), ShimError> {
        let (runtime, bundle) = self.with(&req.id, |c| (c.runtime.clone(), c.bundle.clone()))?;
        let Some(res) = req.resources.as_ref() else { return Ok(()) };
        // containerd sends specs.LinuxResources as JSON in the Any, which is what `update -r` reads.
        let file = bundle.join("update-resources.json");
        crate::util::atomic_write(&file, &res.value).map_err(|e| ShimError::io("write", &file, e))?;
        let r = runtime.update(&req.id, &file);
        let _ = std::fs::remove_file(&file);
        r
    }
}

/// Starts OOM notification for the cgroup of `pid` (no-op where v1 memory is absent).
fn cgroup_oom(pid: i32, on_oom: impl Fn() + Send + 'static) {
    if !super::cgroup::watch_oom(pid, on_oom) {
        tracing::debug!(pid, "no OOM notification for this cgroup");
    }
}

impl containerd_shim_protos::Task for TaskService {
    fn create(&self, _ctx: &TtrpcContext, req: api::CreateTaskRequest) -> ttrpc::Result<api::CreateTaskResponse> {
        use std::sync::atomic::Ordering;
        self.shared.creating.fetch_add(1, Ordering::SeqCst);
        let r = self.create_inner(req).map_err(log_err("create"));
        self.shared.creating.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn start(&self, _ctx: &TtrpcContext, req: api::StartRequest) -> ttrpc::Result<api::StartResponse> {
        let init = req.exec_id.is_empty();
        let pid = if init { self.start_init(&req.id) } else { self.start_exec(&req.id, &req.exec_id) };
        let mut resp = api::StartResponse::new();
        resp.pid = pid.map_err(log_err("start"))?;
        if init {
            // From here the shim copies output, reaps, publishes and answers.
            self.shared.publisher.set_up_done();
        }
        Ok(resp)
    }

    fn state(&self, _ctx: &TtrpcContext, req: api::StateRequest) -> ttrpc::Result<api::StateResponse> {
        let bundle = self.with(&req.id, |c| c.bundle.clone()).map_err(|e| e.to_ttrpc())?;
        self.with_process(&req.id, &req.exec_id, |p| {
            let mut r = api::StateResponse::new();
            r.id = if req.exec_id.is_empty() { req.id.clone() } else { req.exec_id.clone() };
            r.exec_id = req.exec_id.clone();
            r.bundle = bundle.to_string_lossy().into_owned();
            r.pid = p.pid.max(0) as u32;
            r.status = status_of(p.state).into();
            r.stdin = p.stdin.clone();
            r.stdout = p.stdout.clone();
            r.stderr = p.stderr.clone();
            r.terminal = p.terminal;
            if let Some(e) = &p.exit {
                r.exit_status = e.exit_status as u32;
                r.exited_at = MessageField::some(super::pb_timestamp(&e.exited_at));
            }
            r
        })
        .map_err(|e| e.to_ttrpc())
    }

    fn wait(&self, _ctx: &TtrpcContext, req: api::WaitRequest) -> ttrpc::Result<api::WaitResponse> {
        let mut map = self.shared.lock();
        loop {
            let p = map.get_mut(&req.id).and_then(|c| c.process(&req.exec_id));
            match p {
                None => return Err(not_found(&req.id)),
                Some(p) => {
                    if let Some(e) = &p.exit {
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
        self.kill_inner(&req).map_err(log_err("kill"))?;
        Ok(Empty::new())
    }

    fn delete(&self, _ctx: &TtrpcContext, req: api::DeleteRequest) -> ttrpc::Result<api::DeleteResponse> {
        if req.exec_id.is_empty() {
            self.delete_inner(&req.id).map_err(log_err("delete"))
        } else {
            self.delete_exec(&req.id, &req.exec_id).map_err(log_err("delete"))
        }
    }

    fn pids(&self, _ctx: &TtrpcContext, req: api::PidsRequest) -> ttrpc::Result<api::PidsResponse> {
        let (pid, running) = self.with(&req.id, |c| (c.init.pid, c.init.exit.is_none())).map_err(|e| e.to_ttrpc())?;
        let mut r = api::PidsResponse::new();
        if running {
            for p in super::cgroup::pids(pid) {
                let mut info = api::ProcessInfo::new();
                info.pid = p;
                r.processes.push(info);
            }
        }
        Ok(r)
    }

    fn connect(&self, _ctx: &TtrpcContext, req: api::ConnectRequest) -> ttrpc::Result<api::ConnectResponse> {
        let mut r = api::ConnectResponse::new();
        r.shim_pid = std::process::id();
        r.version = env!("CARGO_PKG_VERSION").to_owned();
        if let Some(c) = self.shared.lock().get(&req.id) {
            r.task_pid = c.init.pid as u32;
        }
        Ok(r)
    }

    fn pause(&self, _ctx: &TtrpcContext, req: api::PauseRequest) -> ttrpc::Result<Empty> {
        self.pause_resume(&req.id, true).map_err(log_err("pause"))?;
        Ok(Empty::new())
    }

    fn resume(&self, _ctx: &TtrpcContext, req: api::ResumeRequest) -> ttrpc::Result<Empty> {
        self.pause_resume(&req.id, false).map_err(log_err("resume"))?;
        Ok(Empty::new())
    }

    fn checkpoint(&self, _ctx: &TtrpcContext, _req: api::CheckpointTaskRequest) -> ttrpc::Result<Empty> {
        Err(unimplemented("Checkpoint"))
    }

    fn exec(&self, _ctx: &TtrpcContext, req: api::ExecProcessRequest) -> ttrpc::Result<Empty> {
        check_exec_id(&req.exec_id).map_err(|e| e.to_ttrpc())?;
        let spec = req.spec.as_ref().map(|a| a.value.clone()).unwrap_or_default();
        if spec.is_empty() {
            return Err(ShimError::Invalid(format!("exec {}: no process spec", req.exec_id)).to_ttrpc());
        }
        self.with(&req.id, |c| {
            if c.execs.contains_key(&req.exec_id) {
                return Err(ShimError::AlreadyExists(format!("{}/{}", req.id, req.exec_id)));
            }
            let mut p = Process::new(&req.stdin, &req.stdout, &req.stderr, req.terminal);
            p.spec = spec;
            c.execs.insert(req.exec_id.clone(), p);
            Ok(())
        })
        .and_then(|r| r)
        .map_err(log_err("exec"))?;
        let mut e = ev::TaskExecAdded::new();
        e.container_id = req.id.clone();
        e.exec_id = req.exec_id.clone();
        self.shared.publisher.publish("/tasks/exec-added", "containerd.events.TaskExecAdded", &e);
        Ok(Empty::new())
    }

    fn resize_pty(&self, _ctx: &TtrpcContext, req: api::ResizePtyRequest) -> ttrpc::Result<Empty> {
        let master = self.with_process(&req.id, &req.exec_id, |p| p.console.as_ref().map(|m| m.try_clone())).map_err(|e| e.to_ttrpc())?;
        match master {
            Some(Ok(m)) => crate::terminal::resize(&m, req.width, req.height).map_err(ShimError::from).map_err(log_err("resize_pty"))?,
            Some(Err(e)) => return Err(ShimError::io("dup pty master of", Path::new(&req.id), e).to_ttrpc()),
            None => return Err(ShimError::Precondition { id: req.id, msg: "process has no terminal".into() }.to_ttrpc()),
        }
        Ok(Empty::new())
    }

    fn close_io(&self, _ctx: &TtrpcContext, req: api::CloseIORequest) -> ttrpc::Result<Empty> {
        let input = self.with_process(&req.id, &req.exec_id, |p| p.input.clone()).map_err(|e| e.to_ttrpc())?;
        if req.stdin
            && let Some(i) = input
        {
            i.close_io();
        }
        Ok(Empty::new())
    }

    fn update(&self, _ctx: &TtrpcContext, req: api::UpdateTaskRequest) -> ttrpc::Result<Empty> {
        self.update_inner(&req).map_err(log_err("update"))?;
        Ok(Empty::new())
    }

    fn stats(&self, _ctx: &TtrpcContext, req: api::StatsRequest) -> ttrpc::Result<api::StatsResponse> {
        let pid = self.with(&req.id, |c| c.init.pid).map_err(|e| e.to_ttrpc())?;
        let m = super::cgroup::metrics(pid);
        let mut any = Any::new();
        any.type_url = "io.containerd.cgroups.v1.Metrics".into();
        any.value = m.write_to_bytes().map_err(|e| ShimError::Invalid(format!("encode metrics: {e}")).to_ttrpc())?;
        let mut r = api::StatsResponse::new();
        r.stats = MessageField::some(any);
        Ok(r)
    }

    fn shutdown(&self, _ctx: &TtrpcContext, req: api::ShutdownRequest) -> ttrpc::Result<Empty> {
        let busy = self.shared.lock().values().any(|c| c.init.exit.is_none());
        if req.now || !busy {
            self.shared.exit_soon(Duration::from_millis(50), false);
        }
        Ok(Empty::new())
    }
}

/// Runs the resident shim: becomes a subreaper, serves on `args.socket`, never returns on success.
pub fn serve(args: ShimArgs) -> Result<(), ShimError> {
    let socket = args.socket.clone().ok_or_else(|| ShimError::Invalid("resident shim needs -socket".into()))?;
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(ShimError::io("prctl(PR_SET_CHILD_SUBREAPER)", &socket, std::io::Error::last_os_error()));
    }
    crate::footprint::single_malloc_arena();
    let reaper = Reaper::start();
    let publisher = Publisher::new(&args.publish_binary, &args.address, &args.namespace, reaper.clone());
    let shared = Arc::new(Shared {
        args,
        publisher,
        socket: socket.clone(),
        reaper,
        containers: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
        start_lock: Mutex::new(()),
        creating: Default::default(),
    });
    let svc: Arc<dyn containerd_shim_protos::Task + Send + Sync> = Arc::new(TaskService { shared: shared.clone() });
    let v3 = containerd_shim_protos::create_task(svc.clone());
    // containerd 1.6 speaks containerd.task.v2.Task; the messages are the same.
    let v2 = containerd_shim_protos::create_task(svc)
        .into_iter()
        .map(|(k, v)| (k.replace("/containerd.task.v3.Task/", "/containerd.task.v2.Task/"), v))
        .collect();
    let addr = format!("unix://{}", socket.display());
    let ttrpc_err = |source| ShimError::Ttrpc { socket: addr.clone(), source };
    let listener =
        crate::fsperm::bind_unix(&socket, crate::fsperm::SOCKET_PRIVATE, None).map_err(|e| ShimError::io("listen on", &socket, e.into()))?;
    let mut server = ttrpc::Server::new()
        .add_listener(std::os::fd::IntoRawFd::into_raw_fd(listener))
        .map_err(ttrpc_err)?
        .register_service(v3)
        .register_service(v2);
    server.start().map_err(ttrpc_err)?;
    tracing::info!("shim serving on {addr}");
    exit_when_orphaned(&shared)
}

/// How long a shim without a container waits for one (a Create, or the Shutdown after the
/// last Delete) before it exits on its own.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// Watches for a shim nobody will use: no container and none being created, and its bundle
/// removed (the supervisor cleaned up after a create that never came, e.g. it was killed
/// while starting this shim) or nothing for [`IDLE_EXIT`]. Such a shim exits instead of
/// lingering forever.
fn exit_when_orphaned(shared: &Arc<Shared>) -> ! {
    use std::sync::atomic::Ordering;
    let bundle = shared.args.bundle.clone();
    let mut idle_since: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let idle = shared.lock().is_empty() && shared.creating.load(Ordering::SeqCst) == 0;
        if !idle {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        let gone = bundle.as_ref().is_some_and(|b| !b.exists());
        if gone || since.elapsed() >= IDLE_EXIT {
            tracing::info!(bundle_gone = gone, "no container to serve; exiting");
            shared.exit_soon(Duration::ZERO, true);
        }
    }
}
