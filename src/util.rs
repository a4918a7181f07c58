//! Small filesystem and process helpers shared by every role.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `data` to `path` so that a crash at any instant leaves either the old or the new
/// content: write a temp file beside it, fsync, rename over, fsync the directory. The file is
/// private (0600): berth's state is nobody else's business.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    atomic_write_mode(path, data, crate::fsperm::FILE_PRIVATE)
}

/// [`atomic_write`] with the file created under `mode` (less the umask): 0o600 for secrets.
pub fn atomic_write_mode(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp.{}", name.to_string_lossy(), std::process::id()));
    {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Reads and deserializes a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<T> {
    let data = fs::read(path)?;
    serde_json::from_slice(&data).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// Serializes `value` as JSON and writes it with [`atomic_write`].
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    atomic_write(path, &data)
}

/// A new random 64-hex-digit identifier, like Docker's container ids.
pub fn random_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The variable that names the role of a re-executed berth when argv[0] cannot (see
/// [`self_command`]); `roles::dispatch` reads it.
pub const ROLE_ENV: &str = "BERTH_ROLE";

/// A command that runs this very executable as the role `name` (e.g. "berth-supervisor").
/// argv[0] is `name`, for ps and for the role dispatch; the role is also put in
/// [`ROLE_ENV`], because tools that wrap an exec (valgrind, some debuggers) replace argv[0]
/// with the executable's path.
pub fn self_command(name: &str) -> io::Result<std::process::Command> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg0(name).env(ROLE_ENV, name);
    Ok(cmd)
}
