//! Finding the executable like runc (Go's exec.LookPath), with runc's error texts, which
//! engines match on ("executable file not found in $PATH" maps to exit code 127).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// PATH used when process.env has none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn is_executable(p: &Path) -> Result<(), std::io::Error> {
    let md = std::fs::metadata(p)?;
    if md.is_dir() || md.permissions().mode() & 0o111 == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    }
    // Judged as execve will judge it: with the effective ids and capabilities (plain
    // access(2) uses the real ids and, for a non-root user, no capabilities at all); this
    // also honours a noexec mount.
    match nix::unistd::faccessat(nix::fcntl::AT_FDCWD, p, nix::unistd::AccessFlags::X_OK, nix::fcntl::AtFlags::AT_EACCESS) {
        // faccessat2 refused by a seccomp profile older than it (EPERM is no answer to an
        // X_OK question): execve will judge.
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::ENOSYS) => Ok(()),
        r => r.map_err(std::io::Error::from),
    }
}

/// Resolves `name` against the PATH found in `env`; the error text is runc's.
pub fn look_path(name: &str, env: &[String]) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("exec: \"\": executable file not found in $PATH".into());
    }
    if name.contains('/') {
        return match is_executable(Path::new(name)) {
            Ok(()) => Ok(PathBuf::from(name)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("exec: \"{name}\": stat {name}: no such file or directory")),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!("exec: \"{name}\": permission denied")),
            Err(e) => Err(format!("exec: \"{name}\": {e}")),
        };
    }
    let path = env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(name);
        match is_executable(&cand) {
            Ok(()) => return Ok(cand),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        return Err(format!("exec: \"{name}\": permission denied"));
    }
    Err(format!("exec: \"{name}\": executable file not found in $PATH"))
}
