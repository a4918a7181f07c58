//! The resident shim: a child subreaper serving containerd's Task API (v3, also registered
//! as v2) over ttrpc for one container, its init process and any number of exec processes.
//! What the Task calls share lives here, with the exit watch and the server loop; the calls
//! themselves are in [`super::task`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use containerd_shim_protos::events::task as ev;
use containerd_shim_protos::protobuf::MessageField;

use super::container::Container;
use super::events::Publisher;
use super::reaper::Reaper;
use super::runtime::{OciRuntime, Runtime, RuntimeConfig, Waiter};
use super::task::TaskService;
use super::{ShimArgs, ShimError};
use crate::bundle::ExitRecord;
use crate::stdio::{self as io, Drain};

/// Makes the runtime of a new container from its options and bundle: the OCI runtime
/// binary in a resident shim, a fake in the task state machine's unit tests.
pub(super) type RuntimeMaker = dyn Fn(RuntimeConfig, &Path) -> Arc<dyn OciRuntime> + Send + Sync;

/// What every Task call of the shim shares.
pub(super) struct Shared {
    pub args: ShimArgs,
    pub socket: PathBuf,
    pub reaper: Arc<Reaper>,
    pub publisher: Publisher,
    pub containers: Mutex<HashMap<String, Container>>,
    /// Notified whenever a process exits or is deleted.
    pub changed: Condvar,
    /// Held by Start while it runs and publishes TaskStart/TaskExecStarted: an exit is
    /// published only after the start of the same process (dockerd relies on that order).
    pub start_lock: Mutex<()>,
    /// Creates under way (the container is in `containers` only once created).
    pub creating: std::sync::atomic::AtomicUsize,
    /// Makes each container's runtime.
    pub make_runtime: Box<RuntimeMaker>,
    /// The process is the resident shim and ends when it has nothing left to serve (false
    /// when the task calls are driven in-process, by unit tests).
    pub resident: bool,
}

/// Now, as containerd writes times.
pub(super) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, HashMap<String, Container>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes the socket and ends the process (after the current reply is sent).
    pub(super) fn exit_soon(self: &Arc<Self>, delay: Duration, only_if_empty: bool) {
        if !self.resident {
            return;
        }
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
    pub(super) fn watch_exit(self: &Arc<Self>, id: &str, exec_id: &str, pid: i32, drain: Arc<Drain>) -> Result<(), ShimError> {
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
                p.exited(rec.clone());
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
    let waiter = reaper.clone();
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
        make_runtime: Box::new(move |cfg, bundle| Arc::new(Runtime::new(cfg, bundle, Waiter::Reaper(waiter.clone())))),
        resident: true,
    });
    let svc: Arc<dyn containerd_shim_protos::Task + Send + Sync> = Arc::new(TaskService::new(shared.clone()));
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
