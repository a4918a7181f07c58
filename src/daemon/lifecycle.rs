//! The container verbs: create, start, stop, kill, pause and unpause, remove. Each either
//! completes or leaves the container as it was; start, stop and remove are serialized.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::backend::BackendError;
use super::container::{self, Container, Status};
use super::{names, reconcile, spec, ContainerEvent, Daemon, DaemonError, DEFAULT_STOP_TIMEOUT, PURGE_TIMEOUT};
use crate::api::types::{ContainerCreateRequest, ContainerCreateResponse, LogConfig};
use crate::logs::LogTarget;
use crate::units::parse_signal;

impl Daemon {
    /// `POST /containers/create`.
    pub fn create(&self, req: ContainerCreateRequest, name: Option<&str>) -> Result<ContainerCreateResponse, DaemonError> {
        if req.config.image.is_empty() {
            return Err(DaemonError::BadRequest("config error: no image specified".into()));
        }
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/');
                if !names::valid(n) {
                    return Err(DaemonError::BadRequest(format!("Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")));
                }
                format!("/{n}")
            }
            None => format!("/{}", names::generate()),
        };
        let image = self.images.get(&req.config.image)?;
        let img = &image.config.config;
        let (entrypoint, cmd) = container::effective_command(&req.config, img);
        let mut argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if argv.is_empty() {
            return Err(DaemonError::BadRequest("No command specified".into()));
        }
        let path = argv.remove(0);
        let mut env = img.env.clone().unwrap_or_default();
        for kv in req.config.env.clone().unwrap_or_default() {
            let key = kv.split('=').next().unwrap_or("").to_owned();
            env.retain(|e| e.split('=').next() != Some(key.as_str()));
            env.push(kv);
        }
        super::host_config::check(&req.host_config)?;
        super::restart::check(&req.host_config).map_err(DaemonError::BadRequest)?;
        super::devices::check(&req.host_config).map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        super::namespaces::check(&req.host_config, &req.config.hostname).map_err(DaemonError::BadRequest)?;
        super::blkio::block_io(&req.host_config, &crate::runtime::cgroups::support::support()).map_err(DaemonError::BadRequest)?;
        super::etc_files::check(&req.host_config)?;
        super::mounts::check(&req.host_config, req.config.volumes.as_ref())?;
        // The image's exposed ports join the container's own (Docker's merge).
        let mut exposed: std::collections::BTreeMap<String, serde_json::Value> = img.exposed_ports.clone().unwrap_or_default();
        exposed.extend(req.config.exposed_ports.clone().unwrap_or_default());
        let mut exposed_keys = Vec::new();
        for k in exposed.keys() {
            let (port, proto) = super::network::plan::port_key(k)?;
            exposed_keys.push(format!("{port}/{proto}"));
        }
        let networks = self.plan_networks(&req, &exposed_keys)?;
        let id = crate::util::random_id();
        let log_path = self.containers.dir_of(&id).join(format!("{id}-json.log"));
        let mut host_config = req.host_config;
        // Docker records its default, so inspect shows the size /dev/shm gets.
        host_config.shm_size = super::mounts::shm_size(&host_config)?;
        // "No limit" is recorded as Docker records it: a pids limit of 0 or below, and the
        // kernel's swappiness (-1), are no value at all (inspect shows null).
        host_config.pids_limit = host_config.pids_limit.filter(|p| *p > 0);
        host_config.memory_swappiness = host_config.memory_swappiness.filter(|s| *s != -1);
        // And the namespace modes it gives (Docker's defaults: private IPC; the host's
        // cgroup namespace on cgroup v1, a private one on v2).
        if host_config.ipc_mode.is_empty() {
            host_config.ipc_mode = "private".into();
        }
        if host_config.cgroupns_mode.is_empty() {
            host_config.cgroupns_mode = if crate::runtime::cgroups::is_v2() { "private" } else { "host" }.into();
        }
        host_config.log_config = self.effective_log_config(host_config.log_config)?;
        let mut config = req.config;
        config.exposed_ports = (!exposed_keys.is_empty()).then(|| exposed_keys.iter().map(|k| (k.clone(), serde_json::json!({}))).collect());
        if config.working_dir.is_empty() {
            config.working_dir = img.working_dir.clone();
        }
        // The image's labels, under the container's own (Docker's merge).
        if let Some(image_labels) = img.labels.as_ref().filter(|l| !l.is_empty()) {
            let mut labels = image_labels.clone();
            labels.extend(config.labels.take().unwrap_or_default());
            config.labels = Some(labels);
        }
        // Inspect shows the healthcheck that runs: the container's, filled from the image's.
        config.healthcheck = super::health::effective(config.healthcheck.as_ref(), img.healthcheck.as_ref());
        if let Some(h) = &config.healthcheck {
            super::health::check(h).map_err(DaemonError::BadRequest)?;
        }
        let c = Container {
            id: id.clone(),
            name,
            created: chrono::Utc::now(),
            image_id: image.id.clone(),
            image_name: config.image.clone(),
            config,
            host_config,
            path,
            args: argv,
            env,
            state: Default::default(),
            log_path: log_path.to_string_lossy().into_owned(),
            restart_count: 0,
            manually_stopped: false,
            networks,
            sandbox: None,
        };
        self.containers.insert(c)?;
        self.container_event_of(&id, "create", &[]);
        Ok(ContainerCreateResponse { id, warnings: Vec::new() })
    }

    /// The container's log config: daemon defaults overlaid by its own options, checked now
    /// so that a bad option fails `create`, not `start`.
    fn effective_log_config(&self, asked: LogConfig) -> Result<LogConfig, DaemonError> {
        if !asked.kind.is_empty() && asked.kind != "json-file" {
            return Err(DaemonError::BadRequest(format!("logger: no log driver named '{}' is registered (berth has json-file)", asked.kind)));
        }
        let mut config = self.config.log_opts.clone();
        config.extend(asked.config);
        LogTarget::from_options(PathBuf::new(), &config).map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        Ok(LogConfig { kind: "json-file".into(), config })
    }

    /// `POST /containers/{id}/start`.
    pub async fn start_container(self: &Arc<Self>, name_or_id: &str) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let result = {
            let _g = self.ops.lock().await;
            // A start by the user starts the restart policy over, as Docker's does.
            self.restarts.forget(&id);
            let _ = self.containers.record(&id, |c| {
                c.manually_stopped = false;
                c.restart_count = 0;
                c.state.restarting = false;
            });
            self.start_locked(&id).await
        };
        if let Err(e) = &result {
            let code = if e.to_string().contains("executable file not found") || e.to_string().contains("no such file or directory") {
                127
            } else if e.to_string().contains("permission denied") {
                126
            } else {
                128
            };
            let msg = e.to_string();
            if let Ok(c) = self.containers.update(&id, |c| {
                if c.state.status != Status::Running {
                    c.state.error = msg.clone();
                    c.state.exit_code = code;
                }
            }) {
                // A container that cannot start is removed when the user asked for --rm.
                if c.host_config.auto_remove && c.state.status != Status::Running {
                    let _ = self.remove(&id, true).await;
                }
            }
        }
        result
    }

    pub(super) async fn start_locked(self: &Arc<Self>, id: &str) -> Result<(), DaemonError> {
        let c = self.containers.get(id)?;
        match c.state.status {
            Status::Running => {
                return Err(DaemonError::NotModified("container already started".into()));
            }
            Status::Removing => {
                return Err(DaemonError::Conflict("container is marked for removal and cannot be started".into()));
            }
            _ => {}
        }
        let image = self.images.get(&c.image_id)?;
        let rootfs = self.overlay.mount(id, &self.lowers(&image))?;
        let net = match self.start_network(&c) {
            Ok(n) => n,
            Err(e) => {
                self.unmount_all(id);
                return Err(e);
            }
        };
        let prepared = (|| {
            // The container's User, else its image's, resolved in its own root filesystem.
            let user_spec = if c.config.user.is_empty() { &image.config.config.user } else { &c.config.user };
            let root = crate::inroot::InRoot::open(&rootfs)?;
            let mut user = super::user::resolve(&root, user_spec).map_err(|e| DaemonError::BadRequest(e.to_string()))?;
            let group_add = c.host_config.group_add.as_deref().unwrap_or_default();
            super::user::add_groups(&root, &mut user, group_add).map_err(|e| DaemonError::BadRequest(format!("--group-add: {e}")))?;
            let log = LogTarget::from_options(PathBuf::from(&c.log_path), &c.host_config.log_config.config)
                .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
            super::mounts::make_bind_sources(&c.host_config)?;
            let mut spec = spec::build(&c, &rootfs, &self.config.cgroup_parent, &user)?;
            if let Some(p) = super::mounts::rootfs_propagation(&c.host_config)? {
                spec["linux"]["rootfsPropagation"] = p.into();
            }
            let own_shm = match c.host_config.ipc_mode.as_str() {
                "shareable" => Some(super::shm::mount_fresh(&self.containers.dir_of(id), c.host_config.shm_size)?),
                _ => None,
            };
            let v2 = crate::runtime::cgroups::is_v2();
            super::namespaces::apply(&mut spec, &c.host_config, own_shm.as_deref(), v2, |kind, name| self.namespace_donor(kind, name))
                .map_err(DaemonError::BadRequest)?;
            super::namespaces::set_network(&mut spec, &net.netns);
            if let Some(h) = &net.hostname {
                spec["hostname"] = h.clone().into();
            }
            // /etc/hostname, hosts and resolv.conf over the image's, after the system mounts.
            let managed = match &net.shared_etc {
                Some(m) => m.clone(),
                None => super::etc_files::prepare(&self.containers.dir_of(id), &c, &net.etc)?,
            };
            if let Some(mounts) = spec["mounts"].as_array_mut() {
                // A file the container binds itself (`-v ./hosts:/etc/hosts`) is not managed.
                let own: Vec<serde_json::Value> = mounts.iter().map(|m| m["destination"].clone()).collect();
                mounts.extend(managed.into_iter().filter(|m| !own.contains(&m["destination"])));
            }
            if c.host_config.init == Some(true) {
                let init = &self.config.init_path;
                // A dynamically linked init would fail inside the container with a bare ENOENT
                // (its loader is not there): say what is wrong instead.
                let is_static = crate::util::is_static_executable(init).map_err(|source| DaemonError::Io {
                    what: "read the init binary",
                    path: init.clone(),
                    source,
                })?;
                if !is_static {
                    return Err(DaemonError::Setup(format!(
                        "--init: {} is dynamically linked and cannot run inside a container; start berthd with --init-path set to a static build (the release build is static)",
                        init.display()
                    )));
                }
                spec::add_init(&mut spec, init);
            }
            Ok::<_, DaemonError>((spec, log))
        })();
        let (spec, log) = match prepared {
            Ok(p) => p,
            Err(e) => {
                // Nothing of a start that cannot begin stays mounted.
                self.unmount_all(id);
                return Err(e);
            }
        };
        let stdin = match self.stdin_fifo(&c) {
            Ok(s) => s,
            Err(e) => {
                self.unmount_all(id);
                return Err(e);
            }
        };
        match self.backend.start(id, &spec, &log, &stdin).await {
            Ok(pid) => {
                let recorded = self.containers.update(id, |c| {
                    c.state = container::State {
                        status: Status::Running,
                        paused: false,
                        restarting: false,
                        pid,
                        exit_code: 0,
                        error: String::new(),
                        started_at: Some(chrono::Utc::now()),
                        finished_at: None,
                        health: super::health::at_start(c.config.healthcheck.as_ref()),
                        oom_killed: false,
                    };
                });
                if let Err(e) = recorded {
                    // The start cannot be recorded (a full disk): undo it rather than leave a
                    // running process the record does not know.
                    if let Err(pe) = self.release(id).await {
                        tracing::warn!(id, "after a start that could not be recorded: {pe}");
                    }
                    self.unmount_all(id);
                    return Err(e.into());
                }
                self.container_event_of(id, "start", &[]);
                self.watch_health(id);
                Ok(())
            }
            Err(e) => {
                // Nothing of a failed start may stay behind (a shim, a created init, the
                // supervisor's record); what cannot be purged now, reconcile purges later.
                if let Err(pe) = self.release(id).await {
                    tracing::warn!(id, "after a failed start: {pe}");
                }
                Err(e.into())
            }
        }
    }

    /// The running container `name` whose `kind` namespace another joins
    /// (`container:<name>`); for IPC, with its shareable /dev/shm if it has one.
    fn namespace_donor(&self, kind: super::namespaces::Kind, name: &str) -> Result<super::namespaces::Donor, String> {
        let c =
            self.containers.resolve(name).and_then(|id| self.containers.get(&id)).map_err(|e| format!("joining the namespaces of {name}: {e}"))?;
        if c.state.status != Status::Running || c.state.pid <= 0 {
            return Err(format!("cannot join the namespaces of a non running container: {name}"));
        }
        let dir = self.containers.dir_of(&c.id);
        let shareable = kind == super::namespaces::Kind::Ipc && c.host_config.ipc_mode == "shareable" && super::shm::is_mounted(&dir);
        Ok(super::namespaces::Donor { pid: c.state.pid, shm: shareable.then(|| super::shm::path(&dir)) })
    }

    /// Unmounts what a start of container `id` mounted on the host: its rootfs and its
    /// shareable /dev/shm (failures are logged: a later release or reconcile tries again).
    pub(super) fn unmount_all(&self, id: &str) {
        self.stop_network(id);
        if !self.cp.busy(id)
            && let Err(e) = self.overlay.unmount(id)
        {
            tracing::warn!(id, "{e}");
        }
        if let Err(e) = super::shm::unmount(&self.containers.dir_of(id)) {
            tracing::warn!(id, "{e}");
        }
    }

    /// Waits until container `id` is no longer running or `timeout` passes; true if it stopped.
    async fn wait_stopped(&self, id: &str, mut rx: broadcast::Receiver<ContainerEvent>, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.containers.get(id) {
                Ok(c) if c.state.status == Status::Running => {}
                _ => return true,
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return false,
                Ok(Ok(ContainerEvent::Exited { id: eid, .. })) if eid == id => return true,
                Ok(Err(broadcast::error::RecvError::Closed)) => return false,
                Ok(_) => {}
            }
        }
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after `timeout` seconds
    /// (the container's own, else Docker's 10 s; negative: no SIGKILL, wait as long as it
    /// takes).
    pub async fn stop(&self, name_or_id: &str, timeout: Option<i64>) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let mut c = self.containers.get(&id)?;
        if c.state.restarting {
            // A restart under way holds the ops lock: it finishes first, and a pending one is
            // cancelled. (Only then: stops of running containers do not wait on other starts.)
            let _g = self.ops.lock().await;
            c = self.containers.get(&id)?;
            if c.state.status != Status::Running && self.cancel_restart(&c) {
                let _ = self.containers.record(&id, |c| c.manually_stopped = true);
                return Ok(());
            }
        }
        if c.state.status != Status::Running && !c.state.restarting {
            c = self.after_pending_start(&id).await?;
        }
        if c.state.status != Status::Running {
            return Err(DaemonError::NotModified("container already stopped".into()));
        }
        // Before the signal: the exit it causes restarts nothing (in memory whatever the disk
        // does: a full disk must not keep a container from stopping).
        let c = self.containers.record(&id, |c| c.manually_stopped = true).unwrap_or(c);
        let secs = timeout.or(c.config.stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT.as_secs() as i64);
        let sig = c.config.stop_signal.as_deref().and_then(parse_signal).unwrap_or(libc::SIGTERM);
        let rx = self.subscribe();
        if let Err(e) = self.signal(&id, sig).await {
            tracing::debug!("stop signal to {id}: {e}");
        }
        // A negative timeout waits for good; a century stands in for "for good".
        let wait = u64::try_from(secs).map(Duration::from_secs).unwrap_or(Duration::from_secs(100 * 365 * 86400));
        if self.wait_stopped(&id, rx, wait).await {
            self.container_event_of(&id, "stop", &[]);
            return Ok(());
        }
        let rx = self.subscribe();
        let sent = self.signal(&id, libc::SIGKILL).await;
        if self.wait_stopped(&id, rx, Duration::from_secs(30)).await {
            self.container_event_of(&id, "stop", &[]);
            return Ok(());
        }
        // Say what is known: whether the signal went out, and what the backend sees now.
        let sent = match sent {
            Ok(()) => "sent".to_owned(),
            Err(e) => format!("not sent: {e}"),
        };
        let task = match self.backend.status(&id).await {
            Ok(t) => format!("{t:?}"),
            Err(e) => format!("unknown: {e}"),
        };
        Err(DaemonError::Stuck(format!("container {id} did not stop after SIGKILL (signal {sent}; task {task})")))
    }

    /// Container `id` once a start under way (which holds the ops lock until it records the
    /// container running) is over: its process can show life (print, take a signal from its
    /// client) before that record, and a stop or kill then must not find it "not running".
    async fn after_pending_start(&self, id: &str) -> Result<super::container::Container, DaemonError> {
        let _g = self.ops.lock().await;
        Ok(self.containers.get(id)?)
    }

    /// Sends `sig` to the container's init. A paused container is thawed after a signal
    /// meant to end it (SIGKILL, or its stop signal; any signal when it has none), as Docker
    /// does: frozen processes act on a signal only once thawed.
    async fn signal(&self, id: &str, sig: i32) -> Result<(), BackendError> {
        self.backend.kill(id, sig).await?;
        self.container_event_of(id, "kill", &[("signal", sig.to_string())]);
        let Ok(c) = self.containers.get(id) else {
            return Ok(());
        };
        let stop_signal = c.config.stop_signal.as_deref().and_then(parse_signal);
        if c.state.paused && (sig == libc::SIGKILL || stop_signal.is_none_or(|s| s == sig)) {
            self.backend.resume(id).await?;
            let _ = self.containers.record(id, |c| c.state.paused = false);
        }
        Ok(())
    }

    /// `POST /containers/{id}/pause`: freezes every process of a running container.
    pub async fn pause(&self, name_or_id: &str) -> Result<(), DaemonError> {
        self.set_paused(name_or_id, true).await
    }

    /// `POST /containers/{id}/unpause`: thaws a paused container.
    pub async fn unpause(&self, name_or_id: &str) -> Result<(), DaemonError> {
        self.set_paused(name_or_id, false).await
    }

    async fn set_paused(&self, name_or_id: &str, pause: bool) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let _g = self.ops.lock().await;
        let c = self.containers.get(&id)?;
        if c.state.status != Status::Running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        match (pause, c.state.paused) {
            (true, true) => {
                return Err(DaemonError::Conflict(format!("Container {id} is already paused")));
            }
            (false, false) => {
                return Err(DaemonError::Conflict(format!("Container {id} is not paused")));
            }
            (true, false) => self.backend.pause(&id).await?,
            (false, true) => self.backend.resume(&id).await?,
        }
        if let Err(e) = self.containers.update(&id, |c| c.state.paused = pause) {
            // The record could not say so (a full disk): undo the freeze or thaw, so that
            // the error leaves the container as it was.
            let undo = if pause { self.backend.resume(&id).await } else { self.backend.pause(&id).await };
            if let Err(u) = undo {
                tracing::error!(%id, "undoing {} after a failed record update: {u}", if pause { "pause" } else { "unpause" });
            }
            return Err(e.into());
        }
        tracing::info!(%id, "container {}", if pause { "paused" } else { "unpaused" });
        self.container_event_of(&id, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, name_or_id: &str, signal: Option<&str>) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s).ok_or_else(|| DaemonError::BadRequest(format!("Invalid signal: {s}")))?,
            None => libc::SIGKILL,
        };
        let mut c = self.containers.get(&id)?;
        if c.state.status != Status::Running && !c.state.restarting {
            c = self.after_pending_start(&id).await?;
        }
        if c.state.restarting {
            return Err(DaemonError::Conflict(format!("Container {id} is restarting, wait until the container is running")));
        }
        if c.state.status != Status::Running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        // A kill by the user is a manual stop (Docker's): its exit restarts nothing.
        let _ = self.containers.record(&id, |c| c.manually_stopped = true);
        let rx = self.subscribe();
        self.signal(&id, sig).await?;
        if sig == libc::SIGKILL {
            self.wait_stopped(&id, rx, Duration::from_secs(30)).await;
        }
        Ok(())
    }

    /// `POST /containers/{id}/restart`: a stop (if running) with `timeout`, then a start.
    pub async fn restart(self: &Arc<Self>, name_or_id: &str, timeout: Option<i64>) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        match self.stop(&id, timeout).await {
            Ok(()) | Err(DaemonError::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        self.start_container(&id).await?;
        self.container_event_of(&id, "restart", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/rename?name=`: a new name, running or not.
    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let new_name = new_name.trim_start_matches('/');
        if !names::valid(new_name) {
            return Err(DaemonError::BadRequest(format!("Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")));
        }
        let old = self.containers.get(&id)?.name;
        if old.trim_start_matches('/') == new_name {
            return Err(DaemonError::BadRequest("Renaming a container with the same name as its current name".into()));
        }
        let c = self.containers.rename(&id, &format!("/{new_name}"))?;
        self.container_event(&c, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove(&self, name_or_id: &str, force: bool) -> Result<(), DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        if c.state.restarting && !force {
            return Err(DaemonError::Conflict(format!(
                "You cannot remove a restarting container {id}. Stop the container before attempting removal or force remove"
            )));
        }
        if c.state.status == Status::Running {
            if !force {
                return Err(DaemonError::Conflict(format!(
                    "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
                )));
            }
            let _ = self.containers.record(&id, |c| c.manually_stopped = true);
            let rx = self.subscribe();
            let _ = self.signal(&id, libc::SIGKILL).await;
            if !self.wait_stopped(&id, rx, Duration::from_secs(30)).await {
                return Err(DaemonError::Stuck(format!("could not kill running container {id}, cannot remove")));
            }
        }
        let _g = self.ops.lock().await;
        self.remove_locked(&id).await
    }

    /// Removes a container that is not running (ops lock held): marked Removing first, so a
    /// crash midway is finished by the next reconcile; returns only once its task, processes,
    /// cgroups, runtime state and rootfs are gone. On failure the previous state is restored.
    pub(super) async fn remove_locked(&self, id: &str) -> Result<(), DaemonError> {
        let Ok(c) = self.containers.get(id) else { return Ok(()) };
        if c.state.status == Status::Running {
            return Err(DaemonError::Conflict(format!("container {id} is running again; not removed")));
        }
        self.cancel_restart(&c);
        self.restarts.forget(id);
        let previous = c.state.status;
        // On a full disk the mark may not reach the record; removing goes on (it frees the
        // space, and a purge that a crash cuts short is done again by the next reconcile).
        if let Err(e) = self.containers.record(id, |c| c.state.status = Status::Removing) {
            tracing::warn!(id, "removal mark not on disk: {e}");
        }
        let removed = async {
            reconcile::purge(&self.backend, id, PURGE_TIMEOUT).await.map_err(|source| DaemonError::Remove { id: id.to_owned(), source })?;
            super::shm::unmount(&self.containers.dir_of(id))?;
            self.overlay.remove(id)?;
            Ok::<_, DaemonError>(())
        }
        .await;
        if let Err(e) = removed {
            let restore = if previous == Status::Removing { Status::Exited } else { previous };
            let _ = self.containers.record(id, |c| c.state.status = restore);
            return Err(e);
        }
        self.containers.remove(id)?;
        self.container_event(&c, "destroy", &[]);
        self.execs.remove_container(id);
        let _ = self.events.send(ContainerEvent::Removed { id: id.to_owned(), exit_code: c.state.exit_code });
        Ok(())
    }
}
