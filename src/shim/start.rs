//! `start` (spawn the resident shim, print its address) and `delete` (clean up after a dead
//! shim), the two one-shot actions containerd runs the shim binary for.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::bundle::socket_path;
use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::{Message, MessageField};

use super::runtime::{OciRuntime, Runtime, RuntimeConfig, Waiter};
use super::{ShimArgs, ShimError};

/// How long `start` waits for the resident shim's socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn bundle_of(args: &ShimArgs) -> Result<PathBuf, ShimError> {
    match &args.bundle {
        Some(b) => Ok(b.clone()),
        None => std::env::current_dir().map_err(|e| ShimError::io("get working directory", Path::new("."), e)),
    }
}

fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// The `start` action: makes sure a resident shim serves this container and returns its
/// address (`unix://<socket>`), also written to `<bundle>/address`.
pub fn start(args: &ShimArgs) -> Result<String, ShimError> {
    if args.id.is_empty() || args.namespace.is_empty() {
        return Err(ShimError::Invalid("start needs -id and -namespace".into()));
    }
    let bundle = bundle_of(args)?;
    let socket = match &args.socket {
        Some(s) => s.clone(),
        None => socket_path(&args.address, &args.namespace, &args.id),
    };
    let address = format!("unix://{}", socket.display());
    let address_file = bundle.join(crate::bundle::ADDRESS_FILE);
    if UnixStream::connect(&socket).is_ok() {
        // Already served (containerd may call start twice): reuse it.
        crate::util::atomic_write(&address_file, address.as_bytes()).map_err(|e| ShimError::io("write", &address_file, e))?;
        return Ok(address);
    }
    if let Some(dir) = socket.parent() {
        crate::fsperm::create_dir_all(dir, crate::fsperm::DIR_PRIVATE).map_err(|e| ShimError::io("create socket directory", dir, e))?;
    }
    crate::fsperm::claim_socket_path(&socket).map_err(|e| ShimError::io("claim socket path", &socket, e.into()))?;
    let log_path = bundle.join("shim.log");
    let log = crate::fsperm::private_file().create(true).append(true).open(&log_path).map_err(|e| ShimError::io("open shim log", &log_path, e))?;
    let log2 = log.try_clone().map_err(|e| ShimError::io("dup shim log", &log_path, e))?;
    let argv0 = if args.argv0.is_empty() { "containerd-shim-berth-v2" } else { args.argv0.as_str() };
    let mut cmd = crate::util::self_command(argv0).map_err(|e| ShimError::io("find own executable", Path::new("/proc/self/exe"), e))?;
    cmd.arg("-namespace")
        .arg(&args.namespace)
        .arg("-id")
        .arg(&args.id)
        .arg("-address")
        .arg(&args.address)
        .arg("-publish-binary")
        .arg(&args.publish_binary)
        .arg("-bundle")
        .arg(&bundle)
        .arg("-socket")
        .arg(&socket)
        .current_dir(&bundle)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    if args.debug {
        cmd.arg("-debug");
    }
    // SAFETY: setsid is async-signal-safe; the resident shim leaves the caller's session so
    // signals to the supervisor's process group never reach it.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| ShimError::io("spawn resident shim in", &bundle, e))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if UnixStream::connect(&socket).is_ok() {
            break;
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(ShimError::StartFailed {
                id: args.id.clone(),
                socket: socket.display().to_string(),
                reason: format!("shim exited ({st}): {}", log_tail(&log_path)),
            });
        }
        if Instant::now() > deadline {
            return Err(ShimError::StartFailed {
                id: args.id.clone(),
                socket: socket.display().to_string(),
                reason: format!("timed out after {START_TIMEOUT:?}"),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The resident shim is not waited for: when this process exits it is re-parented.
    crate::util::atomic_write(&address_file, address.as_bytes()).map_err(|e| ShimError::io("write", &address_file, e))?;
    Ok(address)
}

/// The `delete` action (the resident shim is gone): `delete -f` in the runtime, unmount the
/// rootfs, and return a protobuf-encoded DeleteResponse (best effort).
pub fn delete_action(args: &ShimArgs) -> Result<Vec<u8>, ShimError> {
    let bundle = bundle_of(args)?;
    let cfg: RuntimeConfig = crate::util::read_json(&bundle.join(crate::bundle::OPTIONS_FILE))
        .unwrap_or(RuntimeConfig { binary_name: String::new(), root: PathBuf::from(format!("/run/berth/runtime/{}", args.namespace)) });
    let runtime = Runtime::new(cfg, &bundle, Waiter::Direct);
    if let Err(e) = runtime.delete(&args.id) {
        tracing::warn!("{e}");
    }
    crate::bundle::unmount_rootfs(&bundle);
    let mut resp = api::DeleteResponse::new();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    match crate::bundle::read_exit(&bundle) {
        Some(rec) => {
            resp.pid = rec.pid as u32;
            resp.exit_status = rec.exit_status as u32;
            resp.exited_at = MessageField::some(super::pb_timestamp(&rec.exited_at));
        }
        None => {
            resp.pid = crate::bundle::read_pid(&bundle).unwrap_or(0) as u32;
            resp.exit_status = crate::exitcode::signaled(libc::SIGKILL) as u32;
            resp.exited_at = MessageField::some(super::pb_timestamp(&now));
        }
    }
    resp.write_to_bytes().map_err(|e| ShimError::Invalid(format!("encode DeleteResponse: {e}")))
}
