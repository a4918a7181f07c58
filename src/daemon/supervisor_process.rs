//! Starting the supervisor when none answers, as dockerd starts containerd. The supervisor
//! gets its own session so that killing the daemon (even SIGKILL) leaves it running.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The supervisor socket berthd uses by default: `<exec-root>/supervisor/supervisor.sock`.
pub fn default_socket(exec_root: &Path) -> PathBuf {
    exec_root.join("supervisor").join("supervisor.sock")
}

async fn answers(socket: &Path) -> bool {
    tokio::net::UnixStream::connect(socket).await.is_ok()
}

/// Returns the default supervisor socket, starting `berth-supervisor` first if nothing
/// answers there. Its pid goes to `<exec-root>/supervisor/supervisor.pid`.
pub async fn ensure_running(root: &Path, exec_root: &Path) -> anyhow::Result<PathBuf> {
    let socket = default_socket(exec_root);
    if answers(&socket).await {
        return Ok(socket);
    }
    let state = exec_root.join("supervisor");
    crate::fsperm::ensure_dir(&state, crate::fsperm::DIR_PRIVATE)?;
    let log = crate::fsperm::private_file().create(true).append(true).open(state.join("supervisor.log"))?;
    let mut cmd = crate::util::self_command("berth-supervisor")?;
    cmd.arg("--address")
        .arg(&socket)
        .arg("--root")
        .arg(root.join("supervisor"))
        .arg("--state")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    crate::util::atomic_write(&state.join("supervisor.pid"), child.id().to_string().as_bytes())?;
    tracing::info!(pid = child.id(), socket = %socket.display(), "started berth-supervisor");
    for _ in 0..250 {
        if answers(&socket).await {
            // Reap it if it ever exits while we live; it is not ours to kill.
            std::thread::spawn(move || child.wait());
            return Ok(socket);
        }
        if let Ok(Some(st)) = child.try_wait() {
            anyhow::bail!("berth-supervisor exited at start ({st}); see {}", state.join("supervisor.log").display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("berth-supervisor did not answer on {} within 5 s", socket.display())
}
