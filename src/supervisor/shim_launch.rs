//! Starting shims, as containerd does: which binary serves a runtime name, `<shim> start`
//! and its printed address, the log fifo containerd's own shims need, `<shim> delete` after
//! a dead shim, and connecting to a shim's socket. [`ShimLauncher`] is the seam the task
//! state machine's unit tests replace.

use std::path::Path;

use super::shim_client::{Shim, TaskClient};
use super::{Config, SupervisorError, BERTH_RUNTIME};

/// Which shim serves `io.containerd.runc.v2` (dockerd's default runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuncShim {
    /// containerd-shim-runc-v2 when it is on PATH, else berth's own shim.
    #[default]
    Auto,
    /// Always berth's shim (with the runtime named in the task's options, runc by default).
    Berth,
    /// Always containerd-shim-runc-v2 from PATH.
    Containerd,
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false)
}

fn berth_shim() -> Result<std::process::Command, SupervisorError> {
    crate::util::self_command("containerd-shim-berth-v2").map_err(|e| SupervisorError::io("find own executable", Path::new("/proc/self/exe"), e))
}

/// The shim binary for a runtime name: berth's own for `io.containerd.berth.v2` (and for
/// runc.v2 when so configured), else containerd's `containerd-shim-<name>-<version>` from PATH.
fn shim_command(runtime: &str, runc_shim: RuncShim) -> Result<std::process::Command, SupervisorError> {
    if runtime.is_empty() || runtime == BERTH_RUNTIME {
        return berth_shim();
    }
    let parts: Vec<&str> = runtime.split('.').collect();
    match parts.as_slice() {
        ["io", "containerd", name, version] => {
            let bin = format!("containerd-shim-{name}-{version}");
            let berth = *name == "runc" && (runc_shim == RuncShim::Berth || (runc_shim == RuncShim::Auto && !on_path(&bin)));
            if berth {
                berth_shim()
            } else {
                Ok(std::process::Command::new(bin))
            }
        }
        _ => Err(SupervisorError::Invalid(format!("unknown runtime {runtime:?}"))),
    }
}

/// containerd's shims log to a fifo `log` in their bundle (and fail to start without it):
/// create it and relay what they write to the supervisor's log, as containerd does.
fn relay_shim_log(id: &str, bundle: &Path) -> Result<(), SupervisorError> {
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = bundle.join("log");
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o700))
        .map_err(|e| SupervisorError::io("create shim log fifo", &path, e.into()))?;
    // Non-blocking so the open does not wait for the shim; poll() below waits for data.
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| SupervisorError::io("open shim log fifo", &path, e))?;
    let id = id.to_owned();
    std::thread::Builder::new()
        .name("shim-log".into())
        .spawn(move || {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            let mut buf = [0u8; 8192];
            loop {
                let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
                // Linux reports POLLHUP only after a writer came and went: the shim exited.
                if poll(&mut fds, PollTimeout::from(1000u16)).is_err() {
                    break;
                }
                let revents = fds[0].revents().unwrap_or(PollFlags::empty());
                if revents.is_empty() {
                    continue;
                }
                match fifo.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        for line in String::from_utf8_lossy(&buf[..n]).lines() {
                            tracing::info!(container = id, "shim: {line}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
        })
        .map(|_| ())
        .map_err(|e| SupervisorError::io("spawn shim log relay for", bundle, e))
}

/// Parses what a shim's `start` prints: `unix://...` or the v2 bootstrap JSON.
fn parse_shim_address(out: &str) -> Option<String> {
    let out = out.trim();
    if out.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(out).ok()?;
        return v.get("address").and_then(|a| a.as_str()).map(str::to_owned);
    }
    (!out.is_empty()).then(|| out.to_owned())
}

/// Starting, reaching and cleaning up after shims (blocking calls).
pub trait ShimLauncher: Send + Sync {
    /// Runs `<shim> start` for task `id` in `bundle` and connects to the address it prints.
    fn start(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) -> Result<Shim, SupervisorError>;
    /// Connects to the shim listening at `address` (`unix://…`), if one does.
    fn connect(&self, address: &str) -> Option<Shim>;
    /// Runs `<shim> ... delete` in `bundle`: the runtime's `delete --force` (kills what is
    /// left of the container, removes its cgroups and state) and the rootfs unmount.
    fn delete_action(&self, ns: &str, id: &str, runtime: &str, bundle: &Path);
}

/// The shim binaries on this host.
pub struct Launcher {
    cfg: Config,
}

impl Launcher {
    /// Starts shims for the supervisor of `cfg` (its socket, publish binary, runc shim choice).
    pub fn new(cfg: Config) -> Self {
        Launcher { cfg }
    }

    fn shim_err(id: &str, msg: String) -> SupervisorError {
        SupervisorError::Shim { id: id.into(), call: "start", code: tonic::Code::Internal as i32, msg }
    }
}

impl ShimLauncher for Launcher {
    fn start(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) -> Result<Shim, SupervisorError> {
        let mut cmd = shim_command(runtime, self.cfg.runc_shim)?;
        // berth's own shim (this executable, argv0 aside) logs to <bundle>/shim.log itself.
        if Path::new(cmd.get_program()).file_name().is_some_and(|n| n.to_string_lossy().starts_with("containerd-shim-")) {
            relay_shim_log(id, bundle)?;
        }
        let address = self.cfg.address.to_string_lossy().into_owned();
        cmd.arg("-namespace")
            .arg(ns)
            .arg("-address")
            .arg(&address)
            .arg("-publish-binary")
            .arg(&self.cfg.publish_binary)
            .arg("-id")
            .arg(id)
            .arg("start")
            .current_dir(bundle)
            .env("GRPC_ADDRESS", &address)
            .env("TTRPC_ADDRESS", format!("{address}.ttrpc"))
            .env("NAMESPACE", ns);
        let out = cmd.output().map_err(|e| Self::shim_err(id, e.to_string()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(Self::shim_err(id, format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim())));
        }
        let addr = parse_shim_address(&stdout).ok_or_else(|| Self::shim_err(id, format!("no address in shim output {stdout:?}")))?;
        let client = ttrpc::Client::connect(&addr).map_err(|e| SupervisorError::shim(id, "connect", e))?;
        Ok(std::sync::Arc::new(TaskClient::new(client)))
    }

    fn connect(&self, address: &str) -> Option<Shim> {
        let client = ttrpc::Client::connect(address).ok()?;
        Some(std::sync::Arc::new(TaskClient::new(client)))
    }

    fn delete_action(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) {
        let Ok(mut cmd) = shim_command(runtime, self.cfg.runc_shim) else { return };
        cmd.arg("-namespace")
            .arg(ns)
            .arg("-address")
            .arg(&self.cfg.address)
            .arg("-publish-binary")
            .arg(&self.cfg.publish_binary)
            .arg("-id")
            .arg(id)
            .arg("-bundle")
            .arg(bundle)
            .arg("delete")
            .current_dir(bundle);
        match cmd.output() {
            Ok(out) if !out.status.success() => tracing::warn!(id, "shim delete: {}", String::from_utf8_lossy(&out.stderr).trim()),
            Err(e) => tracing::warn!(id, "shim delete: {e}"),
            _ => {}
        }
    }
}
