//! `docker exec`: extra processes in a running container. An exec is created (its config
//! kept here), then started once, by the backend, with its stdio on fifos under
//! `<exec-root>/exec/<exec id>/` as dockerd does with containerd; the daemon holds the
//! other ends and hands them to the API layer as an [`ExecSession`].

use super::{Daemon, DaemonError};
use crate::api::types::{ExecConfig, ExecInspect, ExecProcessConfig};
use crate::daemon::container::Status;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::unix::pipe;
use tokio::sync::watch;

/// How long after an exec's exit its output may still take to reach EOF: a background
/// child of the exec that keeps the stdout fifo open must not hold the client forever.
pub const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where an exec is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExecState {
    Created,
    Running,
    Exited(i64),
}

#[derive(Debug, Clone)]
struct ExecRecord {
    container_id: String,
    config: ExecConfig,
    state: ExecState,
    pid: i32,
    /// Changes to `Some(code)` when the process exits.
    exited: watch::Sender<Option<i64>>,
}

/// The execs of a daemon, by id. They live as long as the daemon (as in dockerd, which
/// also forgets them when their container is removed).
#[derive(Default)]
pub struct Execs(Mutex<HashMap<String, ExecRecord>>);

impl Execs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecRecord>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, exec_id: &str) -> Result<ExecRecord, DaemonError> {
        self.lock().get(exec_id).cloned().ok_or_else(|| DaemonError::NotFound(format!("No such exec instance: {exec_id}")))
    }

    /// Forgets exec `exec_id` (a healthcheck probe, once read: probes every few seconds
    /// must not pile up).
    pub fn forget(&self, exec_id: &str) {
        self.lock().remove(exec_id);
    }

    /// The ids of container `container_id`'s execs (`ExecIDs` of inspect).
    pub fn of_container(&self, container_id: &str) -> Vec<String> {
        self.lock().iter().filter(|(_, e)| e.container_id == container_id).map(|(id, _)| id.clone()).collect()
    }

    /// Forgets the execs of a removed container.
    pub fn remove_container(&self, container_id: &str) {
        self.lock().retain(|_, e| e.container_id != container_id);
    }
}

/// The daemon's ends of a started exec's stdio (None where it is not attached).
pub struct ExecSession {
    /// The process has a terminal: its output is one raw stream.
    pub tty: bool,
    pub stdin: Option<pipe::Sender>,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
    /// Becomes `Some(exit code)` when the process has exited.
    pub exited: watch::Receiver<Option<i64>>,
    /// With a terminal: the keys that detach the client from the process (it runs on).
    pub detach_keys: Option<Vec<u8>>,
    /// Closes the process's stdin (after `stdin` was dropped).
    pub close_stdin: Box<dyn FnOnce() + Send>,
}

impl ExecSession {
    /// Waits until the process has exited; its exit code.
    pub async fn exit_code(&mut self) -> i64 {
        match self.exited.wait_for(Option::is_some).await {
            Ok(code) => code.unwrap_or(-1),
            Err(_) => -1,
        }
    }
}

/// The detach keys of an exec with a terminal (Docker's default unless its config names
/// others); None without a terminal, whose input is never scanned.
fn detach_keys(config: &ExecConfig) -> Result<Option<Vec<u8>>, DaemonError> {
    if !config.tty {
        return Ok(None);
    }
    if config.detach_keys.is_empty() {
        return Ok(Some(super::attach::DEFAULT_DETACH_KEYS.to_vec()));
    }
    super::attach::parse_detach_keys(&config.detach_keys).map(Some).map_err(DaemonError::BadRequest)
}

fn mkfifo(path: &Path) -> Result<(), DaemonError> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(|e| DaemonError::io("mkfifo", path, e.into()))
}

fn io_err(what: &'static str, path: &Path, e: std::io::Error) -> DaemonError {
    DaemonError::io(what, path, e)
}

impl Daemon {
    fn exec_dir(&self, exec_id: &str) -> PathBuf {
        self.config.exec_root.join("exec").join(exec_id)
    }

    /// `POST /containers/{id}/exec`: records an exec in a running container.
    pub fn exec_create(&self, name_or_id: &str, config: ExecConfig) -> Result<String, DaemonError> {
        let id = self.containers.resolve(name_or_id)?;
        let c = self.containers.get(&id)?;
        if c.state.status != Status::Running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        if c.state.paused {
            return Err(DaemonError::Conflict(format!("Container {id} is paused, unpause the container before exec")));
        }
        if config.cmd.as_ref().is_none_or(Vec::is_empty) {
            return Err(DaemonError::BadRequest("No exec command specified".into()));
        }
        detach_keys(&config)?;
        let exec_id = crate::util::random_id();
        let (exited, _) = watch::channel(None);
        let action = format!("exec_create: {}", config.cmd.as_deref().unwrap_or_default().join(" "));
        let record = ExecRecord { container_id: id.clone(), config, state: ExecState::Created, pid: 0, exited };
        self.execs.lock().insert(exec_id.clone(), record);
        self.container_event(&c, &action, &[("execID", exec_id.clone())]);
        Ok(exec_id)
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspect, DaemonError> {
        let e = self.execs.get(exec_id)?;
        let (entrypoint, arguments) =
            e.config.cmd.as_deref().unwrap_or_default().split_first().map(|(a, b)| (a.clone(), b.to_vec())).unwrap_or_default();
        Ok(ExecInspect {
            id: exec_id.to_owned(),
            running: e.state == ExecState::Running,
            exit_code: match e.state {
                ExecState::Exited(code) => Some(code),
                _ => None,
            },
            process_config: ExecProcessConfig {
                tty: e.config.tty,
                entrypoint,
                arguments,
                privileged: e.config.privileged,
                user: e.config.user.clone(),
            },
            open_stdin: e.config.attach_stdin,
            open_stdout: e.config.attach_stdout,
            open_stderr: e.config.attach_stderr,
            can_remove: e.state != ExecState::Running,
            container_id: e.container_id.clone(),
            detach_keys: e.config.detach_keys.clone(),
            pid: e.pid as i64,
        })
    }

    /// `POST /exec/{id}/start`: starts the exec; with `detach`, nothing is attached. A
    /// terminal starts at `console_size` (`[height, width]`) when given.
    pub async fn exec_start(self: &Arc<Self>, exec_id: &str, detach: bool, console_size: Option<[u32; 2]>) -> Result<ExecSession, DaemonError> {
        let e = {
            let mut execs = self.execs.lock();
            let e = execs.get_mut(exec_id).ok_or_else(|| DaemonError::NotFound(format!("No such exec instance: {exec_id}")))?;
            if e.state != ExecState::Created {
                return Err(DaemonError::Conflict(format!("Exec {exec_id} has already been started")));
            }
            e.state = ExecState::Running;
            e.clone()
        };
        match self.exec_spawn(exec_id, &e, detach, console_size).await {
            Ok(s) => {
                let action = format!("exec_start: {}", e.config.cmd.as_deref().unwrap_or_default().join(" "));
                self.container_event_of(&e.container_id, &action, &[("execID", exec_id.to_owned())]);
                Ok(s)
            }
            Err(err) => {
                self.exec_finished(exec_id, 126);
                let _ = std::fs::remove_dir_all(self.exec_dir(exec_id));
                Err(err)
            }
        }
    }

    async fn exec_spawn(
        self: &Arc<Self>,
        exec_id: &str,
        e: &ExecRecord,
        detach: bool,
        console_size: Option<[u32; 2]>,
    ) -> Result<ExecSession, DaemonError> {
        let cid = e.container_id.clone();
        let c = self.containers.get(&cid)?;
        if c.state.status != Status::Running {
            return Err(DaemonError::Conflict(format!("Container {cid} is not running")));
        }
        let mut process = super::spec::exec_process(
            &c,
            e.config.cmd.as_deref().unwrap_or_default(),
            e.config.env.as_deref().unwrap_or_default(),
            &e.config.working_dir,
            e.config.tty,
            e.config.privileged,
        )?;
        // As Docker: the exec's user, else the container's (its own, else its image's),
        // resolved in the container's root filesystem.
        let image = self.images.get(&c.image_id)?;
        let user_spec = [&e.config.user, &c.config.user, &image.config.config.user].into_iter().find(|u| !u.is_empty()).cloned().unwrap_or_default();
        let rootfs = self.overlay.mount(&cid, &self.lowers(&image))?;
        let root = crate::inroot::InRoot::open(&rootfs)?;
        let mut user = super::user::resolve(&root, &user_spec).map_err(|err| DaemonError::BadRequest(err.to_string()))?;
        // The container's --group-add groups too, as Docker gives them to every exec.
        let group_add = c.host_config.group_add.as_deref().unwrap_or_default();
        super::user::add_groups(&root, &mut user, group_add).map_err(|err| DaemonError::BadRequest(format!("--group-add: {err}")))?;
        process["user"] = serde_json::json!({ "uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids });
        if let Some(env) = process["env"].as_array_mut()
            && !env.iter().any(|v| v.as_str().is_some_and(|s| s.starts_with("HOME=")))
        {
            env.push(serde_json::Value::String(format!("HOME={}", user.home)));
        }
        if let (true, Some([height, width])) = (e.config.tty, console_size) {
            process["consoleSize"] = serde_json::json!({ "height": height, "width": width });
        }

        let dir = self.exec_dir(exec_id);
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_PRIVATE).map_err(|err| io_err("create", &dir, err))?;
        let attach = |on: bool, name: &str| -> Result<Option<PathBuf>, DaemonError> {
            if detach || !on {
                return Ok(None);
            }
            let p = dir.join(name);
            mkfifo(&p)?;
            Ok(Some(p))
        };
        let stdin_path = attach(e.config.attach_stdin, "stdin")?;
        let stdout_path = attach(e.config.attach_stdout, "stdout")?;
        // A terminal has one output: the pty's.
        let stderr_path = attach(e.config.attach_stderr && !e.config.tty, "stderr")?;
        // Our ends are open before the process's: the stdin writer (read-write, so opening
        // never blocks) and a holder on each output fifo, so that output written before we
        // open the reader stays in the pipe instead of meeting a fifo with no reader.
        let rw = |p: &Option<PathBuf>| -> Result<Option<pipe::Sender>, DaemonError> {
            p.as_ref().map(|p| pipe::OpenOptions::new().read_write(true).open_sender(p).map_err(|err| io_err("open", p, err))).transpose()
        };
        let stdin = rw(&stdin_path)?;
        let holders = (rw(&stdout_path)?, rw(&stderr_path)?);
        let path_str = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let stdio = [path_str(&stdin_path), path_str(&stdout_path), path_str(&stderr_path)];
        let pid = match self.backend.exec(&cid, exec_id, &process, stdio).await {
            Ok(pid) => pid,
            Err(super::backend::BackendError::Start(msg)) => {
                return Err(DaemonError::BadRequest(format!("OCI runtime exec failed: {msg}")));
            }
            Err(err) => return Err(err.into()),
        };
        let reader = |p: &Option<PathBuf>| -> Result<Option<pipe::Receiver>, DaemonError> {
            p.as_ref().map(|p| pipe::OpenOptions::new().open_receiver(p).map_err(|err| io_err("open", p, err))).transpose()
        };
        let (stdout, stderr) = (reader(&stdout_path)?, reader(&stderr_path)?);
        drop(holders);
        if let Some(r) = self.execs.lock().get_mut(exec_id) {
            r.pid = pid;
        }
        tracing::info!(container = %cid, exec = %exec_id, pid, "exec started");

        // The exit: wait, record it, then let the backend forget the process (a shim closes
        // the output fifos then, which ends the readers).
        let d = self.clone();
        let (cid2, eid) = (cid.clone(), exec_id.to_owned());
        tokio::spawn(async move {
            let code = match d.backend.exec_wait(&cid2, &eid).await {
                Ok(code) => code,
                Err(err) => {
                    tracing::warn!(container = %cid2, exec = %eid, "waiting for exec: {err}");
                    -1
                }
            };
            d.exec_finished(&eid, code);
            if let Err(err) = d.backend.exec_delete(&cid2, &eid).await {
                tracing::debug!(container = %cid2, exec = %eid, "exec delete: {err}");
            }
            // The fifos may go: every end is open already, and nothing opens them by path again.
            let _ = std::fs::remove_dir_all(d.exec_dir(&eid));
        });
        let d = self.clone();
        let eid = exec_id.to_owned();
        let close_stdin = Box::new(move || {
            tokio::spawn(async move {
                if let Err(err) = d.backend.exec_close_stdin(&cid, &eid).await {
                    tracing::debug!(exec = %eid, "exec close stdin: {err}");
                }
            });
        });
        let detach_keys = detach_keys(&e.config)?;
        Ok(ExecSession { tty: e.config.tty, stdin, stdout, stderr, exited: e.exited.subscribe(), close_stdin, detach_keys })
    }

    /// `POST /exec/{id}/resize`: sets the window size of a running exec's terminal.
    pub async fn exec_resize(&self, exec_id: &str, width: u32, height: u32) -> Result<(), DaemonError> {
        let e = self.execs.get(exec_id)?;
        if e.state != ExecState::Running {
            return Err(DaemonError::Conflict(format!("Exec {exec_id} is not running")));
        }
        if !e.config.tty {
            return Err(DaemonError::BadRequest(format!("Exec {exec_id} has no terminal to resize")));
        }
        self.backend.exec_resize(&e.container_id, exec_id, width, height).await?;
        Ok(())
    }

    fn exec_finished(&self, exec_id: &str, code: i64) {
        let container = self.execs.lock().get_mut(exec_id).map(|r| {
            r.state = ExecState::Exited(code);
            r.exited.send_replace(Some(code));
            r.container_id.clone()
        });
        if let Some(cid) = container {
            self.container_event_of(&cid, "exec_die", &[("execID", exec_id.to_owned()), ("exitCode", code.to_string())]);
        }
    }
}
