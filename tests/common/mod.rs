//! Shared test helpers: the berth binary and its role links, temp roots, the busybox rootfs.
//! Every integration test file includes this with `mod common;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The berth binary cargo built for these tests.
pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// A directory with every role name linked to the test binary (made once per test binary).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-test-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create bin dir");
        let st = Command::new(berth_bin()).arg("install-links").arg(&dir).status().expect("install-links");
        assert!(st.success(), "berth install-links failed");
        dir
    })
}

/// Path of one role's link, e.g. `role("berth-runtime")`.
pub fn role(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A fresh directory removed (after unmounting anything left below it) on drop.
/// Paths are kept short because unix socket paths are limited to 108 bytes.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n: u32 = rand::random();
        let p = PathBuf::from(format!("/tmp/bt-{tag}-{n:08x}"));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        unmount_below(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lazily unmounts every mount at or below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Makes sure Debian's busybox-static is installed and returns its path.
pub fn busybox() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    assert!(
        p.exists(),
        "/bin/busybox missing: install Debian's busybox-static (the README's test command does)"
    );
    p
}

/// Fills `rootfs` with a minimal busybox system: /bin/busybox, one link per applet, and the
/// directories a container expects.
pub fn make_busybox_rootfs(rootfs: &Path) {
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc", "root", "var", "run"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir in rootfs");
    }
    std::fs::copy(busybox(), rootfs.join("bin/busybox")).expect("copy busybox");
    let out = Command::new(busybox()).arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let link = rootfs.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            std::os::unix::fs::symlink("busybox", &link).expect("applet link");
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").expect("group");
}

/// A tar of the busybox rootfs (for `berth import`), made once per test binary.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-test-busybox-{}", std::process::id()));
        let rootfs = dir.join("rootfs");
        make_busybox_rootfs(&rootfs);
        let tar = dir.join("busybox.tar");
        let st = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().expect("tar");
        assert!(st.success(), "tar of busybox rootfs failed");
        tar
    })
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Parent pid of `pid`, from /proc.
pub fn ppid_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

/// argv[0] of `pid`, from /proc.
pub fn argv0_of(pid: i32) -> Option<String> {
    let s = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = s.split(|&b| b == 0).next()?;
    Some(String::from_utf8_lossy(first).into_owned())
}

/// Polls `cond` every 20 ms until it holds or `secs` pass; returns whether it held.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}
