//! Running the OCI runtime binary (runc's command line): `create`, `start`, `exec`, `kill`,
//! `pause`, `resume`, `update`, `delete`, behind the [`OciRuntime`] trait.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::reaper::Reaper;
use super::ShimError;

/// Which runtime binary and state root a container uses (persisted as `options.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RuntimeConfig {
    /// Runtime binary; empty = this executable as `berth-runtime`.
    #[serde(default)]
    pub binary_name: String,
    /// The runtime's `--root`.
    pub root: PathBuf,
}

pub use crate::stdio::ProcessStdio;

impl ProcessStdio {
    fn apply(self, cmd: &mut Command) {
        let f = |fd: Option<OwnedFd>| fd.map(Stdio::from).unwrap_or_else(Stdio::null);
        cmd.stdin(f(self.stdin)).stdout(f(self.stdout)).stderr(f(self.stderr));
    }
}

/// How the exit of a runtime invocation is collected.
#[derive(Clone)]
pub enum Waiter {
    /// In the resident shim: the reaper thread owns all exits.
    Reaper(Arc<Reaper>),
    /// Outside it (the `delete` action): plain `wait`.
    Direct,
}

/// One container's runtime.
pub struct Runtime {
    pub config: RuntimeConfig,
    /// `<bundle>/log.json`.
    pub log: PathBuf,
    pub waiter: Waiter,
}

impl Runtime {
    /// The runtime of the container whose bundle is `bundle` (its log goes to `<bundle>/log.json`).
    pub fn new(config: RuntimeConfig, bundle: &Path, waiter: Waiter) -> Self {
        Runtime { config, log: bundle.join("log.json"), waiter }
    }

    fn command(&self) -> Result<Command, ShimError> {
        let mut cmd = if self.config.binary_name.is_empty() {
            crate::util::self_command("berth-runtime").map_err(|e| ShimError::io("find own executable", Path::new("/proc/self/exe"), e))?
        } else {
            Command::new(&self.config.binary_name)
        };
        cmd.arg("--root").arg(&self.config.root).arg("--log").arg(&self.log).arg("--log-format").arg("json");
        // A runtime whose shim was killed must not finish a create nobody will know of: it
        // dies with the shim (the thread that spawns it waits for it, so the signal is not
        // sent early by that thread's end), and what it made is undone by `delete --force`.
        // SAFETY: prctl with integer arguments is async-signal-safe and touches no memory.
        let shim = std::process::id();
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The shim died before the prctl: nobody to run for.
                if libc::getppid() as u32 != shim {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    fn run(&self, mut cmd: Command, id: &str, call: &str, capture: bool) -> Result<(), ShimError> {
        let log_offset = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        if capture {
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        }
        let runtime_err = |msg: String| ShimError::Runtime { id: id.into(), call: call.into(), msg };
        let bin = if self.config.binary_name.is_empty() { "berth-runtime" } else { &self.config.binary_name };
        let mut child = cmd.spawn().map_err(|e| runtime_err(format!("cannot run {bin}: {e}")))?;
        drop(cmd); // closes our copies of fds handed to the child
        let pid = child.id() as i32;
        let rx = match &self.waiter {
            Waiter::Reaper(r) => Some(r.watch(pid)),
            Waiter::Direct => None,
        };
        let mut stderr = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut stderr);
        }
        let code = match rx {
            Some(rx) => rx.recv().map_err(|_| runtime_err("reaper gone".into()))?,
            None => {
                let st = child.wait().map_err(|e| runtime_err(format!("wait: {e}")))?;
                crate::exitcode::from_std(st)
            }
        };
        if code == 0 {
            return Ok(());
        }
        let msg = last_error(&self.log, log_offset)
            .or_else(|| {
                let s = stderr.trim();
                (!s.is_empty()).then(|| s.to_owned())
            })
            .unwrap_or_else(|| format!("{bin} exited with status {code}"));
        Err(runtime_err(msg))
    }
}

/// The OCI runtime calls the shim makes (runc's command line). The seam the shim's task
/// state machine is tested through, as runc's shim hides its `Spawner`.
pub trait OciRuntime: Send + Sync {
    /// `create --bundle B --pid-file B/init.pid [--console-socket S] ID` with the container's stdio.
    fn create(&self, id: &str, bundle: &Path, stdio: ProcessStdio, console_socket: Option<&Path>) -> Result<(), ShimError>;
    /// `exec --process P --detach --pid-file F [--console-socket S] ID` with the process's stdio.
    fn exec(&self, id: &str, process_json: &Path, pid_file: &Path, stdio: ProcessStdio, console_socket: Option<&Path>) -> Result<(), ShimError>;
    /// `pause ID`.
    fn pause(&self, id: &str) -> Result<(), ShimError>;
    /// `resume ID`.
    fn resume(&self, id: &str) -> Result<(), ShimError>;
    /// `update --resources FILE ID` (FILE: an OCI LinuxResources JSON).
    fn update(&self, id: &str, resources: &Path) -> Result<(), ShimError>;
    /// `start ID`.
    fn start(&self, id: &str) -> Result<(), ShimError>;
    /// `kill [--all] ID SIGNAL`.
    fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), ShimError>;
    /// `delete -f ID`.
    fn delete(&self, id: &str) -> Result<(), ShimError>;
}

impl OciRuntime for Runtime {
    fn create(&self, id: &str, bundle: &Path, stdio: ProcessStdio, console_socket: Option<&Path>) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("create").arg("--bundle").arg(bundle).arg("--pid-file").arg(bundle.join(crate::bundle::PID_FILE));
        if let Some(s) = console_socket {
            cmd.arg("--console-socket").arg(s);
        }
        cmd.arg(id).current_dir(bundle);
        stdio.apply(&mut cmd);
        // The runtime's stdio is the container's: errors come from log.json only.
        self.run(cmd, id, "create", false)
    }

    fn exec(&self, id: &str, process_json: &Path, pid_file: &Path, stdio: ProcessStdio, console_socket: Option<&Path>) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("exec").arg("--process").arg(process_json).arg("--detach").arg("--pid-file").arg(pid_file);
        if let Some(s) = console_socket {
            cmd.arg("--console-socket").arg(s);
        }
        cmd.arg(id);
        if let Some(dir) = process_json.parent() {
            cmd.current_dir(dir);
        }
        stdio.apply(&mut cmd);
        self.run(cmd, id, "exec", false)
    }

    fn pause(&self, id: &str) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("pause").arg(id);
        self.run(cmd, id, "pause", true)
    }

    fn resume(&self, id: &str) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("resume").arg(id);
        self.run(cmd, id, "resume", true)
    }

    fn update(&self, id: &str, resources: &Path) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("update").arg("--resources").arg(resources).arg(id);
        self.run(cmd, id, "update", true)
    }

    fn start(&self, id: &str) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("start").arg(id);
        self.run(cmd, id, "start", true)
    }

    fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("kill");
        if all {
            cmd.arg("--all");
        }
        cmd.arg(id).arg(signal.to_string());
        self.run(cmd, id, "kill", true)
    }

    fn delete(&self, id: &str) -> Result<(), ShimError> {
        let mut cmd = self.command()?;
        cmd.arg("delete").arg("-f").arg(id);
        self.run(cmd, id, "delete", true)
    }
}

/// The last `"level":"error"` message in a runtime json log from byte `offset` on.
pub fn last_error(log: &Path, offset: u64) -> Option<String> {
    let data = std::fs::read(log).ok()?;
    let tail = data.get(offset as usize..)?;
    let mut last = None;
    for line in tail.split(|&b| b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line)
            && v.get("level").and_then(|l| l.as_str()) == Some("error")
            && let Some(m) = v.get("msg").and_then(|m| m.as_str())
        {
            last = Some(m.to_owned());
        }
    }
    last
}
