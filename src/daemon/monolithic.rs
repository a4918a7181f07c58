//! Monolithic backend (Docker before 1.11): no supervisor, no shim. Containers are the
//! daemon's own children, created by the runtime library in-process, and the daemon holds
//! their stdio. Their init gets SIGKILL when the daemon dies (parent-death signal), which is
//! exactly the weakness the modular design removes.

use super::backend::{BackendError, ExitEvent, TaskEvent, TaskStatus};
use crate::logs::LogTarget;
use crate::runtime::{CreateOptions, Runtime, Status};
use crate::stdio::{Drain, Stdin};
use serde_json::Value;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::{mpsc::UnboundedSender, oneshot};

/// Work for the launcher thread.
enum Job {
    Start { id: String, bundle: PathBuf, log: LogTarget, stdin: String, reply: oneshot::Sender<Result<Started, BackendError>> },
    Kill { id: String, signal: i32, reply: oneshot::Sender<Result<(), BackendError>> },
    Delete { id: String, reply: oneshot::Sender<Result<(), BackendError>> },
}

/// A started container init: its pid, and the stdio this daemon holds for it.
struct Started {
    pid: i32,
    /// The pty master, with a terminal.
    master: Option<File>,
    input: Arc<Stdin>,
}

/// The key of a container init's stdin and pty in the maps shared with exec processes
/// (exec ids never hold a '/').
pub(super) fn init_key(id: &str) -> String {
    format!("init/{id}")
}

/// The in-process backend.
pub struct Monolithic {
    jobs: Mutex<mpsc::Sender<Job>>,
    runtime_root: PathBuf,
    bundles: PathBuf,
    /// Exec processes started and not yet waited for, by exec id.
    execs: Mutex<std::collections::HashMap<String, (crate::runtime::ExecHandle, Arc<Drain>)>>,
    /// The stdin copiers of exec processes, by exec id (container inits by [`init_key`]),
    /// until their stdin is closed.
    inputs: Mutex<std::collections::HashMap<String, Arc<Stdin>>>,
    /// The pty masters of processes with a terminal, by exec id (inits by [`init_key`]).
    ptys: Mutex<std::collections::HashMap<String, File>>,
}

impl Monolithic {
    /// Starts the launcher thread. Containers are created from that one long-lived thread
    /// because the kernel sends the parent-death signal when the creating *thread* exits:
    /// a pooled thread would take containers down with it when it is retired.
    pub fn new(exec_root: &Path, exits: UnboundedSender<TaskEvent>) -> Result<Self, BackendError> {
        let runtime_root = exec_root.join("runtime");
        let bundles = exec_root.join("bundles");
        for d in [&runtime_root, &bundles] {
            crate::fsperm::ensure_dir(d, crate::fsperm::DIR_PRIVATE).map_err(|e| BackendError::io("create", d, e))?;
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let runtime = Runtime::new(&runtime_root);
        clean_leftovers(&runtime, &bundles);
        std::thread::Builder::new()
            .name("berth-launcher".into())
            .spawn(move || launcher(runtime, rx, exits))
            .map_err(|e| BackendError::io("spawn launcher thread in", &runtime_root, e))?;
        Ok(Monolithic { jobs: Mutex::new(tx), runtime_root, bundles, execs: Mutex::default(), inputs: Mutex::default(), ptys: Mutex::default() })
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, BackendError>>) -> Job) -> Result<T, BackendError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(make(tx)).map_err(|_| BackendError::LauncherGone)?;
        rx.await.map_err(|_| BackendError::LauncherGone)?
    }

    pub(super) async fn start(&self, id: &str, spec: &Value, log: &crate::logs::LogTarget, stdin: &str) -> Result<i32, BackendError> {
        let bundle = self.bundles.join(id);
        crate::fsperm::ensure_dir(&bundle, crate::fsperm::DIR_PRIVATE).map_err(|e| BackendError::io("create", &bundle, e))?;
        let cfg = bundle.join("config.json");
        crate::util::write_json(&cfg, spec).map_err(|e| BackendError::io("write", &cfg, e))?;
        let (idc, log, stdin) = (id.to_owned(), log.clone(), stdin.to_owned());
        let started = self.call(|reply| Job::Start { id: idc, bundle, log, stdin, reply }).await?;
        let key = init_key(id);
        let mut ptys = self.ptys.lock().unwrap_or_else(|p| p.into_inner());
        match started.master {
            Some(m) => ptys.insert(key.clone(), m),
            None => ptys.remove(&key),
        };
        self.inputs.lock().unwrap_or_else(|p| p.into_inner()).insert(key, started.input);
        Ok(started.pid)
    }

    pub(super) async fn kill(&self, id: &str, signal: i32) -> Result<(), BackendError> {
        let id = id.to_owned();
        self.call(|reply| Job::Kill { id, signal, reply }).await
    }

    pub(super) async fn delete(&self, id: &str) -> Result<(), BackendError> {
        let idc = id.to_owned();
        let r = self.call(|reply| Job::Delete { id: idc, reply }).await;
        self.ptys.lock().unwrap_or_else(|p| p.into_inner()).remove(&init_key(id));
        self.inputs.lock().unwrap_or_else(|p| p.into_inner()).remove(&init_key(id));
        let _ = std::fs::remove_dir_all(self.bundles.join(id));
        r
    }

    /// Freezes (`pause`) or thaws the container's cgroup with the runtime library, off the
    /// async workers (the freezer is polled until it settles).
    pub(super) async fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError> {
        let (runtime, id) = (Runtime::new(&self.runtime_root), id.to_owned());
        tokio::task::spawn_blocking(move || if pause { runtime.pause(&id) } else { runtime.resume(&id) })
            .await
            .map_err(|source| BackendError::Task { what: "pause task", source })?
            .map_err(BackendError::from)
    }

    /// Applies new cgroup limits (`linux.resources` JSON) with the runtime library: the same
    /// call `berth-runtime update` makes under the shim.
    pub(super) async fn update(&self, id: &str, resources: &Value) -> Result<(), BackendError> {
        let res: oci_spec::runtime::LinuxResources =
            serde_json::from_value(resources.clone()).map_err(|source| BackendError::Json { what: "resources", source })?;
        let (runtime, id) = (Runtime::new(&self.runtime_root), id.to_owned());
        tokio::task::spawn_blocking(move || runtime.update(&id, &res))
            .await
            .map_err(|source| BackendError::Task { what: "update task", source })?
            .map_err(BackendError::from)
    }

    /// The cgroup statistics of the process `pid` (the container's init), read by the same
    /// function the shim answers Stats with: (type url, encoded v1 or v2 Metrics).
    pub(super) async fn metrics(&self, pid: i32) -> Result<Option<(String, Vec<u8>)>, BackendError> {
        let any = tokio::task::spawn_blocking(move || crate::runtime::cgroups::metrics::stats(pid))
            .await
            .map_err(|source| BackendError::Task { what: "metrics task", source })?
            .map_err(|e| BackendError::Metrics(e.to_string()))?;
        Ok(Some((any.type_url, any.value)))
    }

    /// Runs `process` in container `id` as this daemon's child, its stdio on the fifos
    /// `stdio` (empty: /dev/null); returns its pid. With `process.terminal`, the runtime
    /// sends the pty master to a console socket of ours, and the master is copied to and
    /// from the fifos.
    pub(super) async fn exec(&self, id: &str, exec_id: &str, process: &Value, stdio: [String; 3]) -> Result<i32, BackendError> {
        let process: oci_spec::runtime::Process =
            serde_json::from_value(process.clone()).map_err(|source| BackendError::Json { what: "exec process", source })?;
        let (runtime, id, eid) = (Runtime::new(&self.runtime_root), id.to_owned(), exec_id.to_owned());
        let drain = Arc::new(Drain::default());
        let copiers = drain.clone();
        type Started = (crate::runtime::ExecHandle, Option<File>, Arc<Stdin>);
        let (handle, master, input) = tokio::task::spawn_blocking(move || -> Result<Started, BackendError> {
            let [stdin, stdout, stderr] = stdio;
            let devnull = File::open("/dev/null").map_err(|e| BackendError::io("open", "/dev/null", e))?;
            if process.terminal() == Some(true) {
                // The process's stdio is the pty; the master is copied to and from the fifos
                // by the same copiers the shim uses.
                let console = crate::runtime::console::ConsoleSocket::listen_private(&eid)?;
                let opts = crate::runtime::ExecOptions {
                    stdio: Some([devnull.as_raw_fd(); 3]),
                    console_socket: Some(console.path().to_path_buf()),
                    ..Default::default()
                };
                let handle = runtime.exec(&id, &process, &opts).map_err(|e| BackendError::Start(e.to_string()))?;
                let master = console.master()?;
                let input = crate::stdio::console(&eid, &master, &stdin, &stdout, &copiers)?;
                return Ok((handle, Some(master), input));
            }
            let (pipes, input) = crate::stdio::pipes(&eid, &stdin, &stdout, &stderr, &copiers)?;
            let fd = |f: &Option<OwnedFd>| f.as_ref().map_or(devnull.as_raw_fd(), |f| f.as_raw_fd());
            let opts = crate::runtime::ExecOptions { stdio: Some([fd(&pipes.stdin), fd(&pipes.stdout), fd(&pipes.stderr)]), ..Default::default() };
            let handle = runtime.exec(&id, &process, &opts).map_err(|e| BackendError::Start(e.to_string()))?;
            // The process holds its ends now; ours must go for the copiers to see EOF.
            drop(pipes);
            Ok((handle, None, input))
        })
        .await
        .map_err(|source| BackendError::Task { what: "exec task", source })??;
        let pid = handle.pid;
        if let Some(master) = master {
            self.ptys.lock().unwrap_or_else(|p| p.into_inner()).insert(exec_id.to_owned(), master);
        }
        self.inputs.lock().unwrap_or_else(|p| p.into_inner()).insert(exec_id.to_owned(), input);
        self.execs.lock().unwrap_or_else(|p| p.into_inner()).insert(exec_id.to_owned(), (handle, drain));
        Ok(pid)
    }

    /// The client's stdin ended: the copier ends once the fifo is drained (the shim's CloseIO).
    pub(super) fn exec_close_stdin(&self, exec_id: &str) {
        if let Some(input) = self.inputs.lock().unwrap_or_else(|p| p.into_inner()).remove(exec_id) {
            input.close_io();
        }
    }

    /// Sets the window size of exec process `exec_id`'s terminal.
    pub(super) fn exec_resize(&self, exec_id: &str, width: u32, height: u32) -> Result<(), BackendError> {
        let ptys = self.ptys.lock().unwrap_or_else(|p| p.into_inner());
        let master = ptys.get(exec_id).ok_or_else(|| BackendError::NotFound(exec_id.to_owned()))?;
        Ok(crate::terminal::resize(master, width, height)?)
    }

    /// Waits for exec process `exec_id`; its exit code.
    pub(super) async fn exec_wait(&self, exec_id: &str) -> Result<i64, BackendError> {
        let handle = self.execs.lock().unwrap_or_else(|p| p.into_inner()).remove(exec_id);
        let (handle, drain) = handle.ok_or_else(|| BackendError::NotFound(exec_id.to_owned()))?;
        let code = tokio::task::spawn_blocking(move || {
            let code = handle.wait();
            // As the shim: the exit is reported once the output is copied out.
            drain.wait(crate::stdio::DRAIN_TIMEOUT);
            code
        })
        .await
        .map_err(|source| BackendError::Task { what: "exec wait task", source })?
        .map(i64::from)
        .map_err(BackendError::from);
        self.ptys.lock().unwrap_or_else(|p| p.into_inner()).remove(exec_id);
        self.inputs.lock().unwrap_or_else(|p| p.into_inner()).remove(exec_id);
        code
    }

    pub(super) async fn status(&self, id: &str) -> Result<TaskStatus, BackendError> {
        // Only containers started by this daemon process can be running: any container a
        // previous daemon started died with it.
        match Runtime::new(&self.runtime_root).state(id) {
            Ok(s) if s.status == Status::Created => Ok(TaskStatus::Created { pid: s.pid }),
            Ok(s) if matches!(s.status, Status::Running | Status::Paused) => {
                Ok(TaskStatus::Running { pid: s.pid, paused: s.status == Status::Paused })
            }
            // The exit record the waiter wrote tells the true code; without one the
            // container was killed before it was recorded.
            Ok(_) => Ok(TaskStatus::Stopped { exit_code: crate::bundle::read_exit(&self.bundles.join(id)).map_or(137, |r| r.exit_status.into()) }),
            Err(_) => Ok(TaskStatus::Missing),
        }
    }
}

/// Every container a previous daemon process started died with it (parent-death signal):
/// their runtime state, cgroups, any process still going and their bundles are removed
/// before this daemon starts any container of its own.
fn clean_leftovers(runtime: &Runtime, bundles: &Path) {
    let mut cleaned = 0;
    for e in std::fs::read_dir(runtime.root()).into_iter().flatten().flatten() {
        let Some(id) = e.file_name().to_str().map(str::to_owned) else { continue };
        match runtime.delete(&id, true) {
            Ok(()) => cleaned += 1,
            Err(err) if err.is_not_found() => {}
            Err(err) => tracing::warn!(id, "removing what a previous daemon left: {err}"),
        }
    }
    for e in std::fs::read_dir(bundles).into_iter().flatten().flatten() {
        if let Err(err) = std::fs::remove_dir_all(e.path()) {
            tracing::warn!("removing bundle {}: {err}", e.path().display());
        }
    }
    if cleaned > 0 {
        tracing::info!(cleaned, "removed the runtime state and cgroups of containers that died with the previous daemon");
    }
}

fn launcher(runtime: Runtime, jobs: mpsc::Receiver<Job>, exits: UnboundedSender<TaskEvent>) {
    for job in jobs {
        match job {
            Job::Start { id, bundle, log, stdin, reply } => {
                let _ = reply.send(start_one(&runtime, &id, &bundle, &log, &stdin, exits.clone()));
            }
            Job::Kill { id, signal, reply } => {
                let _ = reply.send(runtime.kill(&id, signal, false).map_err(BackendError::from));
            }
            Job::Delete { id, reply } => {
                let r = match runtime.delete(&id, true) {
                    Err(e) if !e.is_not_found() => Err(e.into()),
                    _ => Ok(()),
                };
                let _ = reply.send(r);
            }
        }
    }
}

fn start_one(
    runtime: &Runtime,
    id: &str,
    bundle: &Path,
    log: &LogTarget,
    stdin: &str,
    exits: UnboundedSender<TaskEvent>,
) -> Result<Started, BackendError> {
    // The same copiers as the shim's: both streams (or the pty) into the container's
    // json-file log, the stdin fifo into the process.
    let drain = Arc::new(Drain::default());
    let uri = log.uri();
    let devnull = File::open("/dev/null").map_err(|e| BackendError::io("open", "/dev/null", e))?;
    crate::bundle::clear_exit(bundle);
    let spec = crate::runtime::spec::load(id, bundle).map_err(|e| BackendError::Start(e.to_string()))?;
    let (state, master, input) = if spec.process().as_ref().and_then(|p| p.terminal()) == Some(true) {
        // As an exec with a terminal: the runtime sends the master to our console socket.
        let console = crate::runtime::console::ConsoleSocket::listen_private(id)?;
        let opts = CreateOptions { pid_file: None, stdio: Some([devnull.as_raw_fd(); 3]), parent_death_signal: Some(libc::SIGKILL) };
        let extra = crate::runtime::CreateExtra { console_socket: Some(console.path().to_path_buf()), spec: Some(spec), ..Default::default() };
        let state = runtime.create_ext(id, bundle, &opts, &extra).map_err(|e| BackendError::Start(e.to_string()))?;
        let master = console.master()?;
        let input = crate::stdio::console(id, &master, stdin, &uri, &drain)?;
        (state, Some(master), input)
    } else {
        let (stdio, input) = crate::stdio::pipes(id, stdin, &uri, &uri, &drain)?;
        let fd = |f: &Option<OwnedFd>| f.as_ref().map_or(devnull.as_raw_fd(), |f| f.as_raw_fd());
        let opts = CreateOptions {
            pid_file: None,
            stdio: Some([fd(&stdio.stdin), fd(&stdio.stdout), fd(&stdio.stderr)]),
            parent_death_signal: Some(libc::SIGKILL),
        };
        let extra = crate::runtime::CreateExtra { spec: Some(spec), ..Default::default() };
        let state = runtime.create_ext(id, bundle, &opts, &extra).map_err(|e| BackendError::Start(e.to_string()))?;
        // Our copies of the process's ends must go, or the copiers never see EOF.
        drop(stdio);
        (state, None, input)
    };
    drop(devnull);
    let pid = state.pid;
    if let Err(e) = runtime.start(id) {
        let _ = runtime.delete(id, true);
        return Err(BackendError::Start(e.to_string()));
    }
    // OOM kills in its memory cgroup, as the shim watches them in modular mode.
    let (oom_id, oom_tx) = (id.to_owned(), exits.clone());
    if !crate::runtime::cgroups::oom::watch(pid, move || {
        let _ = oom_tx.send(TaskEvent::Oom { id: oom_id.clone() });
    }) {
        tracing::debug!(container = id, "no OOM notification for this cgroup");
    }
    let (id, bundle, stdin_of_exited) = (id.to_owned(), bundle.to_path_buf(), input.clone());
    std::thread::spawn(move || {
        let exit_code = match crate::runtime::wait_exit(&id, pid) {
            Ok(code) => code,
            Err(e) => {
                tracing::error!(container = id, "{e}");
                255
            }
        };
        let exited_at = chrono::Utc::now();
        // Nobody reads its stdin any more: the copier ends with the attached writers (as the shim's).
        stdin_of_exited.close_io();
        // The log must hold everything the container wrote before its exit is announced.
        if !drain.wait(crate::stdio::DRAIN_TIMEOUT) {
            tracing::warn!(container = id, "output still open {:?} after exit; not waiting longer", crate::stdio::DRAIN_TIMEOUT);
        }
        let rec = crate::bundle::ExitRecord { pid, exit_status: exit_code, exited_at: exited_at.to_rfc3339() };
        if let Err(e) = crate::bundle::write_exit(&bundle, &rec) {
            tracing::error!(container = id, "write exit record in {}: {e}", bundle.display());
        }
        let _ = exits.send(TaskEvent::Exit(ExitEvent { id, exit_code: exit_code.into(), exited_at }));
    });
    Ok(Started { pid, master, input })
}
