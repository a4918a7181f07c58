//! The OCI runtime library (runc's role): create, start, state, kill, pause/resume, delete
//! and list containers from OCI bundles. The `berth-runtime` role is a thin command line over
//! [`Runtime`]; the monolithic daemon calls it directly from one long-lived thread (init is
//! then its child: reap it with waitpid, or use [`wait_exit`]).
//!
//! Modules: `create` (the verb that does most), `exec` (a process in a running container),
//! `process` (clone → `berth-runtime init` → exec fifo → execve; `join` for exec),
//! `validate` (config.json checks naming the field), `rootfs`, `namespaces`, `cgroups`,
//! `capabilities`, `seccomp` (OCI profile → BPF), `memfd` (sealed copies of the binary),
//! `hooks`, `tty`, `features`, `state`, `spec`, `error`; for the command line: `process_flags`
//! (exec's flags), `resource_flags` (update's flags), `signals` (foreground forwarding).

pub mod capabilities;
pub mod cgroups;
pub mod console;
mod create;
pub mod error;
mod exec;
pub mod features;
pub mod hooks;
pub(crate) mod memfd;
pub mod namespaces;
pub mod process;
pub mod process_flags;
pub mod resource_flags;
pub mod rootfs;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod state;
pub mod tty;
pub mod validate;

use std::fs;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub use error::RuntimeError;
pub use exec::{ExecHandle, ExecOptions};
pub use state::{State, Status};

use state::{Persisted, FIFO_FILE};

/// Default state directory of the `berth-runtime` command (like runc's /run/runc).
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// An OCI runtime keeping container state under `root` (like `runc --root`).
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
    init_exe: PathBuf,
}

/// Options of [`Runtime::create`].
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    /// Where to write the init's host pid.
    pub pid_file: Option<PathBuf>,
    /// fds to become the init's stdin/stdout/stderr; None = inherit the caller's 0,1,2.
    pub stdio: Option<[RawFd; 3]>,
    /// Signal the init gets when the creating *thread* dies (monolithic daemon: its
    /// containers die with it).
    pub parent_death_signal: Option<i32>,
}

/// Less common options of [`Runtime::create_ext`] (kept apart so [`CreateOptions`] stays
/// source-compatible for its struct-literal users).
#[derive(Debug, Default, Clone)]
pub struct CreateExtra {
    /// process.terminal: the unix socket that receives the pty master (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    /// Pass the caller's fds 3..3+N on to the container process (`--preserve-fds`).
    pub preserve_fds: u32,
    /// The bundle's config.json, when the caller has loaded it already (not parsed again).
    pub spec: Option<oci_spec::runtime::Spec>,
}

impl Runtime {
    /// A runtime whose state lives under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime { root: root.into(), init_exe: PathBuf::from("/proc/self/exe") }
    }

    /// Uses `exe` (the berth binary; argv[0] is set to `berth-runtime`) as the container init
    /// instead of /proc/self/exe: for callers that are not the berth binary, e.g. tests.
    pub fn with_init_exe(mut self, exe: impl Into<PathBuf>) -> Self {
        self.init_exe = exe.into();
        self
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        validate_id(id)?;
        Ok(self.root.join(id))
    }

    fn load(&self, id: &str) -> Result<(PathBuf, Persisted), RuntimeError> {
        let dir = self.dir(id)?;
        let p = Persisted::load(id, &dir)?;
        Ok((dir, p))
    }

    /// Creates container `id` from the bundle: spawns its init, blocked until `start`.
    pub fn create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<State, RuntimeError> {
        create::create(self, id, bundle, opts, &CreateExtra::default())
    }

    /// [`Runtime::create`] with a console socket and/or preserved fds.
    pub fn create_ext(&self, id: &str, bundle: &Path, opts: &CreateOptions, extra: &CreateExtra) -> Result<State, RuntimeError> {
        create::create(self, id, bundle, opts, extra)
    }

    /// Lets a created container's init exec the user process (reads the exec fifo).
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let (dir, p) = self.load(id)?;
        match p.status(&dir) {
            Status::Created => {}
            Status::Running | Status::Paused => {
                return Err(RuntimeError::BadState { id: id.into(), msg: "cannot start an already running container".into() })
            }
            Status::Stopped => return Err(RuntimeError::BadState { id: id.into(), msg: "cannot start a container that has stopped".into() }),
        }
        let fifo = dir.join(FIFO_FILE);
        process_fifo_read(id, &fifo, &p)?;
        fs::remove_file(&fifo).map_err(|e| RuntimeError::io(id, "remove", &fifo, e))?;
        if let Some(h) = &p.hooks {
            hooks::run_all_warn(id, "poststart", h.poststart().as_ref(), &p.state_at_start(&dir));
        }
        Ok(())
    }

    /// Runs `process` inside running container `id` (its namespaces, cgroup, seccomp); the
    /// process is the caller's child: wait for it with [`ExecHandle::wait`].
    pub fn exec(&self, id: &str, process: &oci_spec::runtime::Process, opts: &ExecOptions) -> Result<ExecHandle, RuntimeError> {
        exec::exec(self, id, process, opts)
    }

    /// The process config.json gave the container (the base of a `runc exec` with inline
    /// args).
    pub fn base_process(&self, id: &str) -> Result<Option<oci_spec::runtime::Process>, RuntimeError> {
        Ok(self.load(id)?.1.process)
    }

    /// The container's OCI state.
    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        let (dir, p) = self.load(id)?;
        Ok(p.to_state(&dir))
    }

    /// Sends `signal` to the init, or with `all` to every process in the container's cgroup.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let (dir, p) = self.load(id)?;
        let sig = Signal::try_from(signal).map_err(|e| RuntimeError::sys(id, format!("signal {signal}"), e))?;
        let status = p.status(&dir);
        if all {
            let cg = cgroups::ContainerCgroup::load(id, &p.cgroup);
            let mut pids = cg.procs();
            if status != Status::Stopped && !pids.contains(&p.pid) {
                pids.push(p.pid);
            }
            if pids.is_empty() {
                return Err(RuntimeError::NotRunning { id: id.into(), status: status.to_string() });
            }
            for pid in pids {
                match kill(Pid::from_raw(pid), sig) {
                    Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                    Err(e) => return Err(RuntimeError::sys(id, format!("kill({pid}, {sig})"), e)),
                }
            }
            return Ok(());
        }
        if status == Status::Stopped {
            return Err(RuntimeError::NotRunning { id: id.into(), status: status.to_string() });
        }
        kill(Pid::from_raw(p.pid), sig).map_err(|e| RuntimeError::sys(id, format!("kill({}, {sig})", p.pid), e))
    }

    /// Removes the container's cgroup and state. A created container is killed first (like
    /// runc); a running one only with `force`, which kills every process and waits for death.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let dir = self.dir(id)?;
        let p = match Persisted::load(id, &dir) {
            Ok(p) => p,
            Err(RuntimeError::NotFound { .. }) if dir.is_dir() => {
                // A create that was itself killed midway: its record says what it made.
                if let Some(c) = state::Creating::load(&dir) {
                    let p = c.as_persisted(id);
                    let cg = cgroups::ContainerCgroup::load(id, &p.cgroup);
                    kill_all_and_wait(id, &p, &cg)?;
                    if cg.exists() {
                        cg.remove()?;
                    }
                }
                return fs::remove_dir_all(&dir).map_err(|e| RuntimeError::io(id, "remove", &dir, e));
            }
            Err(e) => return Err(e),
        };
        let cg = cgroups::ContainerCgroup::load(id, &p.cgroup);
        match p.status(&dir) {
            Status::Running | Status::Paused if !force => {
                return Err(RuntimeError::BadState {
                    id: id.into(),
                    msg: "cannot delete container that is not stopped: running (use --force)".into(),
                });
            }
            _ => kill_all_and_wait(id, &p, &cg)?,
        }
        if cg.exists() {
            cg.remove()?;
        }
        if let Some(h) = &p.hooks {
            hooks::run_all_warn(id, "poststop", h.poststop().as_ref(), &p.to_state(&dir));
        }
        fs::remove_dir_all(&dir).map_err(|e| RuntimeError::io(id, "remove", &dir, e))
    }

    /// Applies new cgroup limits to a created, running or paused container (`runc update`).
    pub fn update(&self, id: &str, res: &oci_spec::runtime::LinuxResources) -> Result<(), RuntimeError> {
        let (dir, p) = self.load(id)?;
        if p.status(&dir) == Status::Stopped {
            return Err(RuntimeError::NotRunning { id: id.into(), status: Status::Stopped.to_string() });
        }
        cgroups::ContainerCgroup::load(id, &p.cgroup).update(res)
    }

    /// Freezes every process of a running container (`runc pause`).
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        let (dir, p) = self.load(id)?;
        match p.status(&dir) {
            Status::Running => cgroups::ContainerCgroup::load(id, &p.cgroup).set_frozen(true),
            s => Err(RuntimeError::BadState { id: id.into(), msg: format!("container not running (status {s})") }),
        }
    }

    /// Thaws a paused container (`runc resume`).
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        let (dir, p) = self.load(id)?;
        match p.status(&dir) {
            Status::Paused => cgroups::ContainerCgroup::load(id, &p.cgroup).set_frozen(false),
            s => Err(RuntimeError::BadState { id: id.into(), msg: format!("container not paused (status {s})") }),
        }
    }

    /// Host pids of every process in the container's cgroup (`runc ps`).
    pub fn pids(&self, id: &str) -> Result<Vec<i32>, RuntimeError> {
        let (_, p) = self.load(id)?;
        let mut pids = cgroups::ContainerCgroup::load(id, &p.cgroup).procs();
        pids.sort_unstable();
        Ok(pids)
    }

    /// States of every container under the root.
    pub fn list(&self) -> Result<Vec<State>, RuntimeError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RuntimeError::io("-", "read", &self.root, e)),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let Some(id) = e.file_name().to_str().map(str::to_owned) else { continue };
            if validate_id(&id).is_err() {
                continue;
            }
            if let Ok(p) = Persisted::load(&id, &e.path()) {
                out.push(p.to_state(&e.path()));
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }
}

/// Waits for child `pid` and maps its end to a shell-style exit code.
pub fn wait_exit(id: &str, pid: i32) -> Result<i32, RuntimeError> {
    use nix::sys::wait::waitpid;
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(ws) => match crate::exitcode::from_wait(ws) {
                Some(code) => return Ok(code),
                None => continue,
            },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::sys(id, format!("waitpid({pid})"), e)),
        }
    }
}

/// SIGKILLs the init and everything in the cgroup until all are gone (10 s at most). Waits
/// on a pidfd for the init (woken the moment it dies) and polls the cgroup with a short,
/// growing interval: `delete -f` right after `start` is on every engine's hot path.
fn kill_all_and_wait(id: &str, p: &Persisted, cg: &cgroups::ContainerCgroup) -> Result<(), RuntimeError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let pidfd = if p.alive() { pidfd_open(p.pid) } else { None };
    let mut pause = Duration::from_micros(500);
    loop {
        let alive = p.alive();
        let procs = cg.procs();
        if !alive && procs.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RuntimeError::BadState { id: id.into(), msg: format!("processes still alive after SIGKILL: {procs:?}") });
        }
        if alive {
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
        for pid in &procs {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        // Frozen processes only die once thawed.
        if cg.is_frozen() {
            let _ = cg.set_frozen(false);
        }
        match (&pidfd, alive) {
            (Some(fd), true) => wait_readable(fd, pause.max(Duration::from_millis(100))),
            _ => std::thread::sleep(pause),
        }
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A pidfd for `pid` (Linux 5.3+), or None.
fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes two integers and returns a new fd we then own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a fresh descriptor nothing else owns.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until `fd` is readable (a pidfd: its process ended) or `timeout` passes.
fn wait_readable(fd: &std::os::fd::OwnedFd, timeout: Duration) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::from(ms));
}

/// Opens the exec fifo for reading and takes init's byte, watching that init stays alive
/// (a blocking open would hang forever on a dead init).
fn process_fifo_read(id: &str, fifo: &Path, p: &Persisted) -> Result<(), RuntimeError> {
    use nix::fcntl::{open, OFlag};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    let fd = open(fifo, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(|e| RuntimeError::sys(id, format!("open {}", fifo.display()), e))?;
    let mut f = fs::File::from(fd);
    loop {
        let ready = {
            let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u8)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(RuntimeError::sys(id, "poll exec fifo", e)),
            }
        };
        if ready {
            let mut b = [0u8; 1];
            match f.read(&mut b) {
                Ok(1) => {
                    wait_for_exec(&mut f, p);
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(RuntimeError::io(id, "read", fifo, e)),
            }
        }
        if !p.alive() {
            return Err(RuntimeError::BadState { id: id.into(), msg: "container init exited before start".into() });
        }
        if ready {
            // POLLHUP without data: avoid spinning.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// After init's byte: waits for EOF on the exec fifo, which comes when init's write end is
/// closed by its execve of the user's process (or by its exit). Bounded: a slow exec only
/// makes `start` return before it, as it did before.
fn wait_for_exec(f: &mut fs::File, p: &Persisted) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && p.alive() {
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        if let Err(e) = poll(&mut fds, PollTimeout::from(100u8))
            && e != nix::errno::Errno::EINTR
        {
            return;
        }
        let mut b = [0u8; 1];
        match f.read(&mut b) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Accepts ids usable as one directory name: letters, digits, `_`, `-`, `.`; not `.`/`..`.
pub fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let bad = |reason| Err(RuntimeError::InvalidId { id: id.into(), reason });
    if id.is_empty() {
        return bad("empty");
    }
    if id == "." || id == ".." {
        return bad("reserved name");
    }
    if id.len() > 1024 {
        return bad("too long");
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+')) {
        return bad("only letters, digits, '_', '-', '+' and '.' are allowed");
    }
    Ok(())
}
