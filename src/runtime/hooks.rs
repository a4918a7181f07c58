//! OCI hooks: run on the host with the container's state JSON on stdin. prestart and
//! createRuntime run once init is set up and waiting (its namespaces exist, which is what
//! e.g. dockerd's libnetwork-setkey needs), poststart after `start`, poststop on `delete`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use super::error::RuntimeError;
use super::state::State;

/// Runs `hooks` in order; the first failure stops and is returned (createRuntime,
/// prestart: a failing hook fails the operation).
pub fn run(id: &str, kind: &str, hooks: Option<&Vec<Hook>>, state: &State) -> Result<(), RuntimeError> {
    let json = state_json(id, kind, state)?;
    for h in hooks.into_iter().flatten() {
        run_one(h, &json).map_err(|msg| hook_error(id, kind, h, msg))?;
    }
    Ok(())
}

/// Runs every one of `hooks` in order, also after one fails, and logs each failure as a
/// warning: the spec's rule for poststart and poststop ("the runtime MUST log a warning, but
/// the remaining hooks and lifecycle continue as if the hook had succeeded").
pub fn run_all_warn(id: &str, kind: &str, hooks: Option<&Vec<Hook>>, state: &State) {
    let json = match state_json(id, kind, state) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(container = id, "{e}");
            return;
        }
    };
    for h in hooks.into_iter().flatten() {
        if let Err(msg) = run_one(h, &json) {
            tracing::warn!(container = id, "{}", hook_error(id, kind, h, msg));
        }
    }
}

fn state_json(id: &str, kind: &str, state: &State) -> Result<Vec<u8>, RuntimeError> {
    serde_json::to_vec(state).map_err(|e| RuntimeError::Init { id: id.into(), msg: format!("{kind} hook: encoding state: {e}") })
}

fn hook_error(id: &str, kind: &str, h: &Hook, msg: String) -> RuntimeError {
    RuntimeError::Init { id: id.into(), msg: format!("error running {kind} hook {}: {msg}", h.path().display()) }
}

fn run_one(h: &Hook, state: &[u8]) -> Result<(), String> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let deadline = h.timeout().filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("timed out".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}, stdout: {}, stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
