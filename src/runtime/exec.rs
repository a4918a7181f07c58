//! `exec`: run another process inside a running container, in all its namespaces, its
//! cgroup, and with the process's own identity, capabilities and the container's seccomp.

use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::cgroups::ContainerCgroup;
use super::error::RuntimeError;
use super::process::{spawn, ExecConfig, InitStatus, Setup};
use super::state::Status;
use super::{wait_exit, Runtime};

/// Options of [`Runtime::exec`].
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    /// Where to write the process's host pid.
    pub pid_file: Option<PathBuf>,
    /// fds to become the process's stdin/stdout/stderr; None = inherit the caller's 0,1,2.
    pub stdio: Option<[RawFd; 3]>,
    /// process.terminal: the unix socket that receives the pty master.
    pub console_socket: Option<PathBuf>,
    /// Pass the caller's fds 3..3+N on to the process.
    pub preserve_fds: u32,
}

/// A process started by [`Runtime::exec`]; it is the caller's child.
#[derive(Debug, Clone)]
pub struct ExecHandle {
    /// Container id.
    pub id: String,
    /// Host pid of the process.
    pub pid: i32,
}

impl ExecHandle {
    /// Waits for the process and returns its exit code (128+signal when killed).
    pub fn wait(&self) -> Result<i32, RuntimeError> {
        wait_exit(&self.id, self.pid)
    }
}

/// Namespaces (in setns order: user first) of `pid` that differ from ours.
fn namespaces_of(pid: i32) -> Vec<(CloneFlags, PathBuf)> {
    const NS: &[(&str, CloneFlags)] = &[
        ("user", CloneFlags::CLONE_NEWUSER),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ];
    let mut out = Vec::new();
    for (name, flag) in NS {
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let Ok(t) = std::fs::read_link(&theirs) else { continue };
        let ours = std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
        if ours.as_ref() != Some(&t) {
            out.push((*flag, theirs));
        }
    }
    out
}

pub(super) fn exec(rt: &Runtime, id: &str, process: &Process, opts: &ExecOptions) -> Result<ExecHandle, RuntimeError> {
    let (dir, p) = rt.load(id)?;
    match p.status(&dir) {
        Status::Stopped => return Err(RuntimeError::BadState { id: id.into(), msg: "cannot exec in a stopped container".into() }),
        Status::Paused => return Err(RuntimeError::BadState { id: id.into(), msg: "cannot exec in a paused container".into() }),
        Status::Created | Status::Running => {}
    }
    let terminal = process.terminal().unwrap_or(false);
    if terminal != opts.console_socket.is_some() {
        return Err(RuntimeError::InvalidSpec {
            id: id.into(),
            reason: if terminal {
                "process.terminal is true but no console socket was given (--console-socket)".into()
            } else {
                "a console socket was given but process.terminal is false".into()
            },
        });
    }
    let join = namespaces_of(p.pid);
    let chroot = (!join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWNS)).then(|| p.rootfs.clone());
    let cfg = ExecConfig {
        id: id.into(),
        process: process.clone(),
        join: join.iter().map(|(f, p)| (f.bits(), p.clone())).collect(),
        chroot,
        console_socket: opts.console_socket.clone(),
        seccomp: p.seccomp.clone(),
        preserve_fds: opts.preserve_fds,
    };
    let data = serde_json::to_vec(&Setup::Exec(Box::new(cfg)))
        .map_err(|e| RuntimeError::Init { id: id.into(), msg: format!("encoding exec config: {e}") })?;

    // A mount namespace of its own only to protect the binary (read-only bind); it joins the
    // container's right after.
    let sp = spawn::spawn(id, &rt.init_exe, CloneFlags::CLONE_NEWNS, opts.stdio, None, opts.preserve_fds, &[])?;
    let reap = |pid: Pid| {
        let _ = nix::sys::wait::waitpid(pid, None);
    };
    let cg = ContainerCgroup::load(id, &p.cgroup);
    if let Err(e) = cg.add(sp.pid.as_raw()) {
        let _ = nix::sys::signal::kill(sp.pid, nix::sys::signal::Signal::SIGKILL);
        reap(sp.pid);
        return Err(e);
    }
    let mut cfg_pipe = sp.config;
    let _ = cfg_pipe.write_all(&data);
    drop(cfg_pipe);

    let mut buf = Vec::new();
    let mut status = sp.status;
    let read = status.read_to_end(&mut buf);
    // The intermediate has exited (or is about to) once the pipe is at EOF.
    reap(sp.pid);
    read.map_err(|e| RuntimeError::io(id, "read exec status", "pipe", e))?;
    let (pid, error) = read_reports(&buf);
    if let Some(msg) = error {
        // The process may have failed before the intermediate's report of its pid was
        // written: both write to one pipe, in either order. It is our child (CLONE_PARENT)
        // and must be reaped whatever the order: a zombie left in the container's pid
        // namespace keeps its init from ever finishing its exit (zap_pid_ns_processes waits
        // for every process of the namespace to be reaped).
        if let Some(n) = pid {
            reap(Pid::from_raw(n));
        }
        return Err(RuntimeError::Init { id: id.into(), msg });
    }
    let pid = pid.ok_or_else(|| RuntimeError::Init { id: id.into(), msg: "exec: the joining process exited without reporting".into() })?;
    if let Some(pf) = &opts.pid_file {
        crate::util::atomic_write(pf, pid.to_string().as_bytes()).map_err(|e| RuntimeError::io(id, "write pid file", pf, e))?;
    }
    Ok(ExecHandle { id: id.into(), pid })
}

/// The pid and the first error in an exec's report pipe, whatever order they came in.
fn read_reports(buf: &[u8]) -> (Option<i32>, Option<String>) {
    let (mut pid, mut error) = (None, None);
    for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<InitStatus>(line) {
            Ok(InitStatus::Pid(n)) => pid = Some(n),
            Ok(InitStatus::Error(msg)) => {
                error.get_or_insert(msg);
            }
            _ => {}
        }
    }
    (pid, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &InitStatus) -> Vec<u8> {
        let mut v = serde_json::to_vec(s).expect("encode");
        v.push(b'\n');
        v
    }

    #[test]
    fn the_pid_of_a_failed_exec_is_known_whichever_report_came_first() {
        let (pid, err) = (line(&InitStatus::Pid(42)), line(&InitStatus::Error("exec: no such file".into())));
        for buf in [[pid.clone(), err.clone()].concat(), [err, pid].concat()] {
            assert_eq!(read_reports(&buf), (Some(42), Some("exec: no such file".to_owned())));
        }
        assert_eq!(read_reports(&line(&InitStatus::Pid(7))), (Some(7), None));
    }
}
