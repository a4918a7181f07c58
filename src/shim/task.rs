//! The Task API calls of the shim (containerd's `containerd.task.v3.Task`): create, start,
//! exec, kill, pause, delete and the rest, on the containers and processes of
//! [`super::service::Shared`], through the [`OciRuntime`](super::runtime::OciRuntime) seam.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use containerd_shim_protos::api;
use containerd_shim_protos::events::task as ev;
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::MessageField;
use ttrpc::TtrpcContext;

use super::container::{check_exec_id, runtime_config, Container};
use super::process::Process;
use super::service::{now_rfc3339, Shared};
use super::ShimError;
use crate::bundle::ExitRecord;
use crate::runtime::console::ConsoleSocket;
use crate::stdio::{self as io, Drain};

/// The Task service.
#[derive(Clone)]
pub struct TaskService {
    shared: Arc<Shared>,
}

impl TaskService {
    /// The service over `shared`.
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        TaskService { shared }
    }
}

fn unimplemented(method: &str) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(ttrpc::Code::UNIMPLEMENTED, format!("{method} is not implemented by berth-shim")))
}

fn log_err(call: &'static str) -> impl Fn(ShimError) -> ttrpc::Error {
    move |e| {
        tracing::warn!("{call}: {e}");
        e.to_ttrpc()
    }
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
        let runtime = (self.shared.make_runtime)(cfg, &bundle);
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
        self.with(id, |c| c.init.started())?;
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
            let (runtime, bundle) = (c.runtime.clone(), c.bundle.clone());
            let p = c.execs.get(exec_id).ok_or_else(|| ShimError::NotFound(format!("{id}/{exec_id}")))?;
            p.check_exec_start(id, exec_id, &c.init)?;
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
            p.started();
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
        p.check_delete(id, exec_id)?;
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
        let runtime = {
            let map = self.shared.lock();
            let c = map.get(id).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
            c.init.check_delete(id, "")?;
            c.runtime.clone()
        };
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
        let (runtime, pid) = {
            let mut map = self.shared.lock();
            let c = map.get_mut(&req.id).ok_or_else(|| ShimError::NotFound(req.id.clone()))?;
            let runtime = c.runtime.clone();
            let p = c.process(&req.exec_id).ok_or_else(|| ShimError::NotFound(format!("{}/{}", req.id, req.exec_id)))?;
            p.check_signal(&req.id)?;
            (runtime, p.pid)
        };
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
        self.with(id, |c| c.init.paused(pause))?;
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

    /// Blocks until the process has exited; its exit status and time.
    fn wait_inner(&self, id: &str, exec_id: &str) -> Result<api::WaitResponse, ShimError> {
        let mut map = self.shared.lock();
        loop {
            let p = map.get_mut(id).and_then(|c| c.process(exec_id)).ok_or_else(|| ShimError::NotFound(id.to_owned()))?;
            if let Some(e) = &p.exit {
                let mut r = api::WaitResponse::new();
                r.exit_status = e.exit_status as u32;
                r.exited_at = MessageField::some(super::pb_timestamp(&e.exited_at));
                return Ok(r);
            }
            map = self.shared.changed.wait(map).unwrap_or_else(|p| p.into_inner());
        }
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
    if !super::oom::watch(pid, on_oom) {
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
            r.status = p.state.to_api().into();
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
        self.wait_inner(&req.id, &req.exec_id).map_err(|e| e.to_ttrpc())
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
        let any = super::metrics::stats(pid).map_err(|e| ShimError::Invalid(format!("encode metrics: {e}")).to_ttrpc())?;
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

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
