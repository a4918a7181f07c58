//! Network namespaces the tests make, so that what berthd or dockerd creates (bridges, veths,
//! addresses, nftables rules) exists only there and no traffic leaves it.

use super::TempDir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A network namespace kept alive by a bind mount on `path` (util-linux `unshare --net=FILE`),
/// with its loopback up; dropping it unmounts the file, and the namespace goes with the last
/// process in it.
pub struct NetNs {
    pub path: PathBuf,
    _dir: Option<TempDir>,
}

impl NetNs {
    /// A namespace bound at `<dir>/netns` (the caller's temp dir cleans it too).
    pub fn new_in(dir: &Path) -> Self {
        Self::make(dir.join("netns"), None)
    }

    /// A namespace in a temp dir of its own.
    pub fn new(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        let path = dir.path().join("netns");
        Self::make(path, Some(dir))
    }

    fn make(path: PathBuf, dir: Option<TempDir>) -> Self {
        std::fs::write(&path, b"").expect("netns file");
        let st = Command::new("unshare").arg(format!("--net={}", path.display())).arg("true").status().expect("unshare");
        assert!(st.success(), "unshare --net={} failed", path.display());
        let ns = NetNs { path, _dir: dir };
        let st = ns.cmd("ip").args(["link", "set", "lo", "up"]).status().expect("ip link set lo up");
        assert!(st.success(), "loopback up in {}", ns.path.display());
        ns
    }

    /// `prog` run inside the namespace (`nsenter --net=PATH -- prog`).
    pub fn cmd(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path.display())).arg("--").arg(prog);
        c
    }

    /// Runs `prog args` in the namespace; its stdout, or a panic with its stderr.
    pub fn run_ok(&self, prog: &str, args: &[&str]) -> String {
        let out = self.cmd(prog).args(args).output().unwrap_or_else(|e| panic!("{prog}: {e}"));
        assert!(out.status.success(), "{prog} {args:?} in {}: {}", self.path.display(), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl NetNs {
    /// The berth-proxy processes in this namespace.
    pub fn proxy_pids(&self) -> Vec<i32> {
        use std::os::unix::fs::MetadataExt;
        let Ok(ino) = std::fs::metadata(&self.path).map(|m| m.ino()) else { return Vec::new() };
        let mine = format!("net:[{ino}]");
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let in_ns = std::fs::read_link(e.path().join("ns/net")).is_ok_and(|l| l.to_string_lossy() == mine);
            let argv0 = std::fs::read(e.path().join("cmdline")).ok().and_then(|c| c.split(|b| *b == 0).next().map(|a| a.to_vec()));
            if in_ns && argv0.as_deref() == Some(b"berth-proxy".as_slice()) {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}
