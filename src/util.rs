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
    let written = (|| {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // A failed write (a full disk) leaves nothing behind: the old content stays whole.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir)?.sync_all()
}

/// Whether `name` is the temp file of a write cut short: `.<name>.tmp.<pid>` as
/// [`atomic_write`] names them, or `.<name>.<pid>` (the runtime's state). Returns the
/// writer's pid; whether that writer is gone is [`writer_gone`]'s question.
pub fn stale_temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (stem, pid) = rest.rsplit_once('.')?;
    let pid: u32 = pid.parse().ok()?;
    let stem = stem.strip_suffix(".tmp").unwrap_or(stem);
    if stem.is_empty() || pid == 0 {
        return None;
    }
    Some(pid)
}

/// Whether the writer `pid` of temp file `path` is gone: no such process, or one that
/// started after the file was last written (the pid was reused, often by this very daemon
/// after a restart). A live writer's file is not ours to remove: its rename is still to come.
fn writer_gone(pid: u32, path: &Path) -> bool {
    let Some(started) = process_start(pid) else { return !Path::new(&format!("/proc/{pid}")).exists() };
    let Ok(written) = fs::metadata(path).and_then(|m| m.modified()) else { return false };
    // The start time is known to a second (the boot time's precision): only a file older
    // than that by a margin is surely not this process's.
    started > written + std::time::Duration::from_secs(2)
}

/// When process `pid` started: the boot time plus its start in clock ticks (`/proc/<pid>/stat`).
fn process_start(pid: u32) -> Option<std::time::SystemTime> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at its closing ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: u64 = fs::read_to_string("/proc/stat").ok()?.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
    // SAFETY: sysconf reads a constant of the system; no memory is involved.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0)?;
    let since_boot = std::time::Duration::from_millis(ticks.saturating_mul(1000) / hz);
    Some(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(btime) + since_boot)
}

/// Removes the stale temp files ([`stale_temp_pid`]) directly in `dir`; returns how many.
pub fn remove_temp_files(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        let stale = stale_temp_pid(name).is_some_and(|pid| writer_gone(pid, &e.path()));
        if is_file && stale && fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
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

/// A fresh directory under the system temp dir, removed with what it holds when dropped
/// (unit tests).
#[cfg(test)]
pub struct TestDir(std::path::PathBuf);

#[cfg(test)]
impl TestDir {
    /// Makes `<tmp>/berth-<tag>-<random>`.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("berth-{tag}-{}", random_id()));
        fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Whether the ELF executable at `path` is statically linked: it names no program
/// interpreter (`PT_INTERP`), so it runs where no dynamic loader is, as in a container's
/// root filesystem. Not an ELF file: `InvalidData`.
pub fn is_static_executable(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    const PT_INTERP: u32 = 3;
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a 64-bit little-endian ELF executable ({what})"));
    let mut f = std::fs::File::open(path)?;
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh)?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err(invalid("header"));
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let phoff = u64::from_le_bytes(eh[32..40].try_into().map_err(|_| invalid("e_phoff"))?);
    let (phentsize, phnum) = (u16_at(&eh, 54) as usize, u16_at(&eh, 56) as usize);
    if phentsize < 4 || phnum > 4096 {
        return Err(invalid("program headers"));
    }
    let mut ph = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut ph)?;
    Ok(!ph.chunks(phentsize).any(|h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]) == PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_of_dead_writers_are_removed_and_others_kept() {
        let dir = std::env::temp_dir().join(format!("berth-util-tmp-{}", random_id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let dead = 0x3fff_fff0u32; // above pid_max: no such process
        let me = std::process::id();
        for name in [format!(".config.v2.json.tmp.{dead}"), format!(".state.json.{dead}")] {
            fs::write(dir.join(&name), b"x").expect("write");
        }
        for name in [format!(".config.v2.json.tmp.{me}"), "config.v2.json".into(), ".tmp.".into(), "a.tmp.5x".into()] {
            fs::write(dir.join(&name), b"x").expect("write");
        }
        // Written by an earlier process that had this pid (before this one started).
        let reused = dir.join(format!(".repositories.json.tmp.{me}"));
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        File::create(&reused).and_then(|f| f.set_modified(old)).expect("old temp file");
        assert_eq!(remove_temp_files(&dir), 3);
        let mut left: Vec<String> = fs::read_dir(&dir).expect("ls").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, vec![format!(".config.v2.json.tmp.{me}"), ".tmp.".to_owned(), "a.tmp.5x".into(), "config.v2.json".into()]);
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_static_executable_is_told_from_a_dynamic_one_and_from_a_non_elf() {
        assert!(is_static_executable(std::path::Path::new("/bin/busybox")).expect("busybox-static"), "busybox-static is static");
        assert!(!is_static_executable(std::path::Path::new("/bin/sh")).expect("dash"), "Debian's /bin/sh is dynamic");
        let e = is_static_executable(std::path::Path::new("/etc/passwd")).expect_err("text");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    }
}
