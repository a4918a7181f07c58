//! `create`: everything from a bundle to an init blocked on the exec fifo, undone completely
//! on any failure.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::cgroups::{self, ContainerCgroup};
use super::error::RuntimeError;
use super::namespaces::NsPlan;
use super::process::{spawn, InitConfig, InitStatus, Setup};
use super::state::{proc_stat, Creating, Persisted, State, CREATING_FILE, FIFO_FILE};
use super::{rootfs, spec, CreateExtra, CreateOptions, Runtime};

/// How long init may take to set up before `create` gives up.
const INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Undoes a partial create when dropped un-disarmed: kills and reaps init, removes the
/// cgroup and the state directory.
struct Undo<'a> {
    id: &'a str,
    dir: PathBuf,
    cgroup: Option<ContainerCgroup>,
    pid: Option<Pid>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = kill(pid, Signal::SIGKILL);
            // init is our child: reap it so it leaves no zombie.
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(Err(e)) = self.cgroup.as_ref().map(|cg| cg.remove()) {
            tracing::warn!(container = self.id, "cleanup: {e}");
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub(super) fn create(rt: &Runtime, id: &str, bundle: &Path, opts: &CreateOptions, extra: &CreateExtra) -> Result<State, RuntimeError> {
    let console_socket = extra.console_socket.as_deref();
    let dir = rt.dir(id)?;
    // runc's /run/runc: made 0700; a root the caller made is the caller's.
    crate::fsperm::create_dir_all(rt.root(), crate::fsperm::DIR_PRIVATE).map_err(|e| RuntimeError::io(id, "mkdir", rt.root(), e))?;
    if let Err(e) = fs::create_dir(&dir) {
        return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
            RuntimeError::Exists { id: id.into() }
        } else {
            RuntimeError::io(id, "mkdir", &dir, e)
        });
    }
    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o711));
    let mut undo = Undo { id, dir: dir.clone(), cgroup: None, pid: None, armed: true };

    let bundle = fs::canonicalize(bundle).map_err(|e| RuntimeError::io(id, "bundle", bundle, e))?;
    let spec = match &extra.spec {
        Some(s) => s.clone(),
        None => spec::load(id, &bundle)?,
    };
    let rootfs = spec::rootfs(id, &bundle, &spec)?;
    let plan = NsPlan::from_spec(id, &spec)?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    match (terminal, console_socket) {
        (true, None) => {
            return Err(RuntimeError::InvalidSpec {
                id: id.into(),
                reason: "process.terminal is true but no console socket was given (--console-socket)".into(),
            });
        }
        (false, Some(_)) => {
            return Err(RuntimeError::InvalidSpec { id: id.into(), reason: "a console socket was given but process.terminal is false".into() });
        }
        _ => {}
    }
    // Connected here, as host root, and handed to init (runc does the same): a root in a
    // user namespace may not reach a socket in the caller's private directory.
    let console = console_socket.map(|p| super::tty::connect(id, p)).transpose()?;
    let cg_path = cgroups::resolve_path(id, &spec)?;

    let fifo = dir.join(FIFO_FILE);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| RuntimeError::sys(id, format!("mkfifo {}", fifo.display()), e))?;
    // 0622 regardless of umask: init may write it after switching to a non-root user.
    fs::set_permissions(&fifo, fs::Permissions::from_mode(0o622)).map_err(|e| RuntimeError::io(id, "chmod", &fifo, e))?;

    // Opened here and handed to init: a root in a user namespace may not enter a private
    // (0700) runtime root to open it by path.
    let fifo_path_fd = nix::fcntl::open(&fifo, nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(|e| RuntimeError::sys(id, format!("open {}", fifo.display()), e))?;
    // The fifo first, then the console socket: init finds them in that order.
    let pass: Vec<std::os::fd::RawFd> = std::iter::once(fifo_path_fd.as_raw_fd()).chain(console.as_ref().map(|c| c.as_raw_fd())).collect();
    let sp = {
        // A pid namespace given by path: init must be born in it.
        let _pid_ns = plan.join_pid.as_deref().map(|p| super::namespaces::PidNsForChildren::enter(id, p)).transpose()?;
        spawn::spawn(id, &rt.init_exe, plan.clone_flags, opts.stdio, opts.parent_death_signal, extra.preserve_fds, &pass)?
    };
    drop(fifo_path_fd);
    drop(console);
    undo.pid = Some(sp.pid);
    // Before the cgroups exist: a runtime killed from here on leaves a record of them.
    let init_start = proc_stat(sp.pid.as_raw()).map(|(t, _)| t).unwrap_or(0);
    Creating { pid: sp.pid.as_raw(), start_time: init_start, cgroup: cg_path.clone() }.save(id, &dir)?;
    if let Some(mut go) = sp.userns_go {
        super::namespaces::write_id_maps(id, sp.pid.as_raw(), &spec)?;
        go.write_all(b"1").map_err(|e| RuntimeError::io(id, "release user namespace child", "pipe", e))?;
    }
    let init_cfg = InitConfig {
        id: id.into(),
        spec: spec.clone(),
        rootfs: rootfs.clone(),
        fifo: fifo.clone(),
        fifo_fd: sp.passed.first().copied(),
        pdeathsig: opts.parent_death_signal,
        join: plan.join.iter().map(|(f, p)| (f.bits(), p.clone())).collect(),
        cgroup: cg_path.clone(),
        new_cgroup_ns: plan.new_cgroup,
        new_mount_ns: plan.clone_flags.contains(CloneFlags::CLONE_NEWNS),
        new_net_ns: plan.clone_flags.contains(CloneFlags::CLONE_NEWNET),
        new_uts_ns: plan.clone_flags.contains(CloneFlags::CLONE_NEWUTS),
        console_fd: sp.passed.get(1).copied(),
        preserve_fds: extra.preserve_fds,
    };
    let data = serde_json::to_vec(&Setup::Create(Box::new(init_cfg)))
        .map_err(|e| RuntimeError::Init { id: id.into(), msg: format!("encoding init config: {e}") })?;
    let mut cfg_pipe = Some(sp.config);
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    // The cgroup work (mkdirs, limits, and the migration, which waits for an RCU grace
    // period on v1) overlaps init's exec and setup: init only needs to be inside its cgroup
    // before the user process starts, and `create` returns after the move. Init that binds
    // its v1 cgroup directories (a `cgroup` mount) waits for its config until they exist;
    // with a new cgroup namespace init must be moved before it unshares, so it waits until
    // then. init reads its config to EOF: the pipe is closed right after the write.
    // init may die before reading (e.g. exec failed): EPIPE then, and the status read
    // below reports it.
    let send = |pipe: &mut Option<fs::File>| {
        if let Some(mut p) = pipe.take() {
            let _ = p.write_all(&data);
        }
    };
    if !plan.new_cgroup && !rootfs::binds_v1_cgroups(&spec) {
        send(&mut cfg_pipe);
    }
    let cg = undo.cgroup.insert(ContainerCgroup::create(id, &cg_path, resources)?);
    if !plan.new_cgroup {
        send(&mut cfg_pipe);
    }
    cg.add(sp.pid.as_raw())?;
    send(&mut cfg_pipe);

    wait_ready(id, sp.status, sp.pid)?;

    let (start_time, _) =
        proc_stat(sp.pid.as_raw()).ok_or_else(|| RuntimeError::Init { id: id.into(), msg: "container init exited right after setup".into() })?;
    let persisted = Persisted {
        id: id.into(),
        pid: sp.pid.as_raw(),
        start_time,
        bundle: bundle.clone(),
        rootfs,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        cgroup: cg_path,
        annotations: spec.annotations().clone().unwrap_or_default(),
        oci_version: spec.version().clone(),
        hooks: spec.hooks().clone(),
        process: spec.process().clone(),
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
    };
    persisted.save(&dir)?;
    let _ = fs::remove_file(dir.join(CREATING_FILE));
    if let Some(h) = spec.hooks() {
        let st = persisted.to_state(&dir);
        super::hooks::run(id, "createRuntime", h.create_runtime().as_ref(), &st)?;
        super::hooks::run(id, "prestart", h.prestart().as_ref(), &st)?;
    }
    if let Some(pf) = &opts.pid_file {
        crate::util::atomic_write(pf, sp.pid.as_raw().to_string().as_bytes()).map_err(|e| RuntimeError::io(id, "write pid file", pf, e))?;
    }
    undo.armed = false;
    Ok(persisted.to_state(&dir))
}

/// Reads init's report until it closes the status pipe; errors carry init's message.
fn wait_ready(id: &str, mut status: fs::File, pid: Pid) -> Result<(), RuntimeError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + INIT_TIMEOUT;
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RuntimeError::Init { id: id.into(), msg: format!("container init (pid {pid}) did not report within {INIT_TIMEOUT:?}") });
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(status.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(RuntimeError::sys(id, "poll init status", e)),
        }
        let mut chunk = [0u8; 4096];
        match status.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RuntimeError::io(id, "read init status", "pipe", e)),
        }
    }
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    match serde_json::from_slice::<InitStatus>(line) {
        Ok(InitStatus::Ready) => Ok(()),
        Ok(InitStatus::Error(msg)) => Err(RuntimeError::Init { id: id.into(), msg }),
        Ok(InitStatus::Pid(_)) | Err(_) => {
            Err(RuntimeError::Init { id: id.into(), msg: "container init exited without reporting (could not exec the init binary?)".into() })
        }
    }
}
