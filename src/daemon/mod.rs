//! The daemon (dockerd's part): containers, images, the Engine API, and the backend that
//! runs containers — a supervisor in modular mode, itself in monolithic mode.

pub mod archive;
pub mod attach;
pub mod backend;
pub mod blkio;
pub mod container;
pub mod devices;
mod dns;
pub mod error;
pub mod etc_files;
pub mod events;
pub mod exec;
pub mod health;
pub mod host;
pub mod host_config;
pub mod http;
pub mod images;
pub mod inspect;
mod lifecycle;
pub mod logstream;
pub mod monolithic;
pub mod mountpoints;
pub mod mounts;
pub mod names;
pub mod namespaces;
pub mod network;
mod networks;
mod ports;
pub mod prune;
pub mod ps;
pub mod reconcile;
pub mod restart;
mod sandbox;
pub mod seccomp_profile;
pub mod shm;
pub mod spec;
pub mod stats;
pub mod store;
pub mod supervisor_client;
pub mod supervisor_process;
pub mod top;
pub mod update;
pub mod user;
mod volumes;

use crate::image::ImageStore;
use crate::storage::Driver;
use backend::{Backend, ExitEvent, TaskEvent, TaskStatus};
use container::{Container, Status};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::ContainerStore;

pub use error::DaemonError;
use tokio::sync::broadcast;

/// How long `stop` waits between the stop signal and SIGKILL when nobody says (Docker's 10 s).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long auto-removal waits for attach and log followers to read the log to its end. Only
/// a client that stops reading makes it wait this long; its follower keeps the log file open,
/// so even then it only loses what rotation moved to files it did not hold yet.
const STREAM_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long removing a container's task may take, through a supervisor restart included.
const PURGE_TIMEOUT: Duration = Duration::from_secs(20);

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub root: PathBuf,
    pub exec_root: PathBuf,
    /// The Engine API socket.
    pub socket: PathBuf,
    pub monolithic: bool,
    /// A supervisor to use instead of starting our own.
    pub containerd: Option<PathBuf>,
    /// The containerd namespace of every container (`--containerd-namespace`).
    pub containerd_namespace: String,
    /// The shim every container runs under (`--default-runtime`).
    pub runtime: supervisor_client::ShimRuntime,
    pub cgroup_parent: String,
    /// Default json-file options for every container (`--log-opt`).
    pub log_opts: std::collections::HashMap<String, String>,
    /// Storage driver for container root filesystems: "overlay2" or "vfs".
    pub storage_driver: String,
    /// The init of `--init` containers (`--init-path`), bound at /sbin/docker-init.
    pub init_path: PathBuf,
    /// The default bridge and the host's networking options.
    pub net: network::NetConfig,
}

/// With containerd's runc shim, this executable, which the shim runs as its logging binary:
/// `<it> logger URI`, reached through the `berth <role>` form, so its file name must be
/// `berth`. berth's shim needs none (empty).
fn logger_binary(runtime: supervisor_client::ShimRuntime) -> anyhow::Result<PathBuf> {
    if runtime != supervisor_client::ShimRuntime::Runc {
        return Ok(PathBuf::new());
    }
    let exe = std::env::current_exe()?;
    if exe.file_name() != Some(std::ffi::OsStr::new("berth")) {
        anyhow::bail!(
            "--default-runtime {}: containerd's runc shim runs this executable as `berth logger` for the json-file log, which needs it named `berth`, not {}",
            runtime.name(),
            exe.display()
        );
    }
    Ok(exe)
}

/// What happened to a container, for waiters and attach/log followers.
#[derive(Debug, Clone)]
pub enum ContainerEvent {
    Exited { id: String, exit_code: i64 },
    Removed { id: String, exit_code: i64 },
}

/// The daemon's state, shared by every API handler.
pub struct Daemon {
    pub config: DaemonConfig,
    pub images: ImageStore,
    pub containers: ContainerStore,
    /// Networks (bridge, host, none and user-defined ones).
    pub networks: network::Networks,
    /// The names the embedded DNS servers answer.
    names: dns::NameTable,
    /// The embedded DNS servers, by container.
    dns: dns::Servers,
    /// Addresses whose links are still being deleted.
    releasing: sandbox::Releasing,
    /// The local driver's volumes (`<root>/volumes`).
    pub volumes: crate::volume::VolumeStore,
    overlay: Driver,
    backend: Backend,
    events: broadcast::Sender<ContainerEvent>,
    /// What `GET /events` reports.
    pub event_log: events::EventLog,
    /// Attach and log followers still reading, which auto-removal waits for.
    readers: logstream::Readers,
    /// Serializes start/stop/remove of containers so that two calls don't interleave.
    /// (Shared, so that a task can hold it past the call that took it: see `reconcile`.)
    ops: Arc<tokio::sync::Mutex<()>>,
    /// `docker exec` processes.
    execs: exec::Execs,
    /// Back-offs and pending restarts of restart policies.
    restarts: restart::Restarts,
    /// Containers whose rootfs a `docker cp` is using.
    cp: archive::Claims,
}

impl Daemon {
    /// The storage driver's name ("overlay2", "vfs"), for info and inspect.
    pub fn storage_driver_name(&self) -> &'static str {
        self.overlay.name()
    }

    /// The storage driver's `DriverStatus` rows, read off the host.
    pub fn storage_driver_status(&self) -> Vec<(String, String)> {
        self.overlay.status()
    }

    /// Opens the stores, connects the backend (starting a supervisor if needed) and
    /// reconciles the persisted containers with what is really running.
    pub async fn start(config: DaemonConfig) -> anyhow::Result<Arc<Daemon>> {
        for d in [&config.root, &config.exec_root] {
            crate::fsperm::ensure_dir(d, crate::fsperm::DIR_TRAVERSE).map_err(|e| anyhow::anyhow!("{}: {e}", d.display()))?;
        }
        crate::fsperm::secure_daemon_store(&config.root);
        let images = ImageStore::open(&config.root)?;
        let containers = ContainerStore::open(&config.root)?;
        let networks = network::Networks::open(&config.root, config.net.clone())?;
        let volumes = crate::volume::VolumeStore::open(&config.root.join("volumes"))
            .map_err(|source| DaemonError::Volume { op: "open the volume store".into(), source })?;
        let overlay = Driver::open(&config.root, &config.storage_driver)?;
        let (exit_tx, mut exit_rx) = tokio::sync::mpsc::unbounded_channel::<TaskEvent>();
        let (resync_tx, mut resync_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let backend = if config.monolithic {
            Backend::Monolithic(monolithic::Monolithic::new(&config.exec_root, exit_tx)?)
        } else {
            let mut settings = supervisor_client::TaskSettings::new(logger_binary(config.runtime)?);
            settings.namespace = config.containerd_namespace.clone();
            settings.runtime = config.runtime;
            let (socket, respawn) = match &config.containerd {
                Some(s) => {
                    // A supervisor we did not start places runtime state nowhere of ours.
                    settings.runtime_root = Some(config.exec_root.join(format!("runtime-{}", config.runtime.oci_runtime())));
                    (s.clone(), None)
                }
                None => (
                    supervisor_process::ensure_running(&config.root, &config.exec_root).await?,
                    Some((config.root.clone(), config.exec_root.clone())),
                ),
            };
            Backend::Modular(supervisor_client::SupervisorClient::new(&socket, settings, exit_tx, resync_tx, respawn)?)
        };
        let (events, _) = broadcast::channel(1024);
        let daemon = Arc::new(Daemon {
            config,
            images,
            containers,
            networks,
            names: Default::default(),
            dns: Default::default(),
            releasing: Default::default(),
            volumes,
            overlay,
            backend,
            events,
            event_log: Default::default(),
            readers: Default::default(),
            ops: Default::default(),
            execs: Default::default(),
            restarts: Default::default(),
            cp: Default::default(),
        });
        daemon.start_networking();
        let restarts = daemon.restarts_at_daemon_start();
        daemon.reconcile().await;
        daemon.resume_networking();
        daemon.restart_at_daemon_start(restarts);
        for c in daemon.containers.list() {
            if c.state.status == Status::Running {
                daemon.watch_health(&c.id);
            }
        }
        let d = daemon.clone();
        tokio::spawn(async move {
            while let Some(ev) = exit_rx.recv().await {
                match ev {
                    TaskEvent::Exit(ev) => d.handle_exit(ev).await,
                    TaskEvent::Oom { id } => d.handle_oom(&id),
                }
            }
        });
        let d = daemon.clone();
        tokio::spawn(async move {
            while resync_rx.recv().await.is_some() {
                d.reconcile().await;
            }
        });
        Ok(daemon)
    }

    /// Subscribes to container events (subscribe before acting, so nothing is missed).
    pub fn subscribe(&self) -> broadcast::Receiver<ContainerEvent> {
        self.events.subscribe()
    }

    /// The backend, for `/version` and `/info`.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Brings every container's recorded state in line with the backend and the disk,
    /// whatever the state: a task that runs the container's process is adopted (also one
    /// whose start was never recorded), an ended or never-started task is purged with what
    /// it holds, a container that was being removed is removed, and containers that ran on
    /// and exited while we were away get their true exit code.
    ///
    /// The exits are on record when this returns; releasing those containers' tasks and
    /// rootfs mounts goes on in a task of its own that holds the ops lock, so no start or
    /// removal of them runs first, while reads (ping, ps, inspect, logs) are answered at
    /// once. The wait is worth moving off the API's start: the first overlay unmount syncs
    /// the backing filesystem, hundreds of ms after containers wrote their logs.
    pub async fn reconcile(self: &Arc<Self>) {
        let mut exited = Vec::new();
        for c in self.containers.list() {
            if let Some(done) = self.reconcile_one(&c.id).await {
                exited.push(done);
            }
        }
        if exited.is_empty() {
            return;
        }
        let guard = self.ops.clone().lock_owned().await;
        let d = self.clone();
        tokio::spawn(async move {
            for (ev, c) in exited {
                d.release_exited(ev, c).await;
            }
            drop(guard);
        });
    }

    /// Reconciles container `id`; an exit it records is returned for release.
    async fn reconcile_one(self: &Arc<Self>, id: &str) -> Option<(ExitEvent, Container)> {
        use reconcile::Action;
        let exit = {
            // A start or remove in progress finishes first: its half-done state is not a crash.
            let _g = self.ops.lock().await;
            let Ok(c) = self.containers.get(id) else { return None };
            let task = match self.backend.status(id).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(id, "reconcile: {e}");
                    return None;
                }
            };
            let action = reconcile::decide(&c.state, &task);
            match action {
                Action::Keep => None,
                Action::Refresh { pid, paused } => {
                    let _ = self.containers.record(id, |c| {
                        c.state.pid = pid;
                        c.state.paused = paused;
                    });
                    None
                }
                Action::Adopt { pid, paused } => {
                    tracing::info!(id, pid, "reconcile: adopting a running task whose start was never recorded");
                    let _ = self.containers.record(id, |c| {
                        c.state = container::State {
                            status: Status::Running,
                            paused,
                            restarting: false,
                            pid,
                            exit_code: 0,
                            error: String::new(),
                            started_at: Some(chrono::Utc::now()),
                            finished_at: None,
                            health: c.state.health.clone(),
                            oom_killed: c.state.oom_killed,
                        };
                    });
                    None
                }
                Action::Exit { code } => Some(code),
                Action::Clean => {
                    if task != TaskStatus::Missing {
                        tracing::info!(id, ?task, "reconcile: purging a task of a container that is not running");
                    }
                    if let Err(e) = self.release(id).await {
                        tracing::warn!(id, "reconcile: {e}");
                    }
                    None
                }
                Action::FinishRemove => {
                    tracing::info!(id, "reconcile: finishing an interrupted removal");
                    if let Err(e) = self.remove_locked(id).await {
                        tracing::warn!(id, "reconcile: {e}");
                    }
                    None
                }
            }
        };
        let ev = ExitEvent { id: id.to_owned(), exit_code: exit?, exited_at: chrono::Utc::now() };
        let c = self.record_exit(&ev).await?;
        Some((ev, c))
    }

    /// Purges container `id`'s task (bounded, verified through the backend) and unmounts its
    /// rootfs: afterwards none of its processes, cgroups, runtime state or mounts is left.
    async fn release(&self, id: &str) -> Result<(), DaemonError> {
        reconcile::purge(&self.backend, id, PURGE_TIMEOUT).await?;
        self.stop_network(id);
        // A copy in flight keeps the mount (and unmounts it when it ends).
        if !self.cp.busy(id) {
            self.overlay.unmount(id)?;
        }
        shm::unmount(&self.containers.dir_of(id))?;
        Ok(())
    }

    /// The OOM killer acted in a container's cgroup: Docker marks it `OOMKilled` (until its
    /// next start) and logs an `oom` event.
    fn handle_oom(&self, id: &str) {
        if self.containers.update(id, |c| c.state.oom_killed = true).is_ok() {
            self.container_event_of(id, "oom", &[]);
        }
    }

    async fn handle_exit(self: &Arc<Self>, ev: ExitEvent) {
        // Recorded and released under one hold of the ops lock: a start right after the
        // recorded exit (a restart, or a start a stop's caller sends at once) must find the
        // old task and mounts released, not have its own released by this exit.
        let _g = self.ops.lock().await;
        if let Some(c) = self.record_exit_locked(&ev) {
            self.release_exited(ev, c).await;
        }
    }

    /// Records the exit of a running container; returns it, or None when it was not
    /// running (a stale or repeated exit).
    async fn record_exit(&self, ev: &ExitEvent) -> Option<Container> {
        // A quick container can exit before its start is recorded: taking the ops lock waits
        // for that record, so the exit is never mistaken for a stale one.
        let _g = self.ops.lock().await;
        self.record_exit_locked(ev)
    }

    /// [`Self::record_exit`] with the ops lock held by the caller.
    fn record_exit_locked(&self, ev: &ExitEvent) -> Option<Container> {
        let c = self.containers.get(&ev.id).ok()?;
        if c.state.status != Status::Running {
            return None;
        }
        tracing::info!(id = %ev.id, code = ev.exit_code, "container exited");
        if let Err(e) = self.containers.record(&ev.id, |c| {
            c.state.status = Status::Exited;
            c.state.paused = false;
            c.state.exit_code = ev.exit_code;
            c.state.pid = 0;
            c.state.finished_at = Some(ev.exited_at);
        }) {
            tracing::warn!(id = %ev.id, "the exit is not on disk yet: {e}");
        }
        self.container_event(&c, "die", &[("exitCode", ev.exit_code.to_string())]);
        Some(c)
    }

    /// Releases an exited container's task and rootfs mount (unless it runs again), announces
    /// the exit and, for `--rm`, removes it. The caller holds the ops lock.
    async fn release_exited(self: &Arc<Self>, ev: ExitEvent, c: Container) {
        if self.containers.get(&ev.id).is_ok_and(|now| now.state.status == Status::Running) {
            // Started again meanwhile: its new task and mounts are not this exit's to release.
            let _ = self.events.send(ContainerEvent::Exited { id: ev.id.clone(), exit_code: ev.exit_code });
            return;
        }
        if let Err(e) = self.backend.delete(&ev.id).await {
            tracing::warn!("release task of {}: {e}", ev.id);
        }
        self.unmount_all(&ev.id);
        let _ = self.events.send(ContainerEvent::Exited { id: ev.id.clone(), exit_code: ev.exit_code });
        self.restart_after_exit(&ev.id);
        if c.host_config.auto_remove {
            // Removed once attach and log followers have read the log to its end (Docker
            // drains a container's streams before removing it), from a task of its own so
            // that other containers' exits are not held up meanwhile.
            let d = self.clone();
            tokio::spawn(async move {
                if !d.readers.drained(&ev.id, STREAM_DRAIN_TIMEOUT).await {
                    tracing::warn!(id = %ev.id, "log followers still reading after {STREAM_DRAIN_TIMEOUT:?}; removing anyway");
                }
                if let Err(e) = d.remove(&ev.id, true).await {
                    tracing::warn!("auto-remove {}: {e}", ev.id);
                }
            });
        }
    }
}
