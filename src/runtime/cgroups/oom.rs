//! OOM notification of a container's cgroup, as containerd's runc shim gives it: v1's
//! `memory.oom_control` eventfd, or v2's `memory.events` watched with inotify. An event is
//! reported once per OOM kill the kernel counts (or, on a v1 kernel without the counter,
//! while the cgroup is under OOM), never for the wake-up its removal causes.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::of_pid::{dir_of, key_values, unified_dir};

/// Calls `on_oom` each time the kernel's OOM killer acts in `pid`'s memory cgroup, until the
/// cgroup goes away. Returns false when there is no memory cgroup to watch.
pub fn watch(pid: i32, on_oom: impl Fn() + Send + 'static) -> bool {
    if let Some(dir) = dir_of(pid, "memory") {
        return watch_v1(dir, on_oom);
    }
    match unified_dir(pid) {
        Some(dir) if dir.join("memory.events").exists() => watch_v2(dir, on_oom),
        _ => false,
    }
}

/// What v1's `memory.oom_control` says: the kill count (kernels since 4.13) and whether the
/// cgroup is under OOM now.
#[derive(Debug, Default, PartialEq, Eq)]
struct OomControl {
    oom_kill: Option<u64>,
    under_oom: bool,
}

fn oom_control(text: &str) -> OomControl {
    let mut c = OomControl::default();
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("oom_kill", n)) => c.oom_kill = n.trim().parse().ok(),
            Some(("under_oom", n)) => c.under_oom = n.trim() == "1",
            _ => {}
        }
    }
    c
}

/// Whether a wake-up of the v1 eventfd is an OOM to report, given the kill count seen last.
fn v1_is_oom(now: &OomControl, last_kills: u64) -> bool {
    match now.oom_kill {
        Some(k) => k > last_kills,
        None => now.under_oom,
    }
}

/// How long a v1 wake-up waits for the kill count to move (the killer runs right after the
/// notification, in the same allocation's path): 40 steps of 5 ms.
const V1_KILL_WAIT_STEPS: usize = 40;
const V1_KILL_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(5);

/// `oom_kill` of v2's `memory.events`.
fn v2_kills(dir: &Path) -> u64 {
    key_values(&dir.join("memory.events")).into_iter().find(|(k, _)| k == "oom_kill").map_or(0, |(_, v)| v)
}

fn watch_v1(dir: PathBuf, on_oom: impl Fn() + Send + 'static) -> bool {
    let Ok(control) = std::fs::File::open(dir.join("memory.oom_control")) else { return false };
    // SAFETY: eventfd takes integer arguments and returns a new fd we own (or -1).
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        return false;
    }
    // SAFETY: `raw` is a fresh, valid fd owned by nobody else.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    let registered = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.event_control"))
        .and_then(|mut f| f.write_all(format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()).as_bytes()));
    if registered.is_err() {
        return false;
    }
    let read = |dir: &Path| oom_control(&std::fs::read_to_string(dir.join("memory.oom_control")).unwrap_or_default());
    let mut kills = read(&dir).oom_kill.unwrap_or(0);
    let spawned = std::thread::Builder::new().name("oom".into()).spawn(move || {
        let _control = control; // kept open for the registration's lifetime
        let mut f = std::fs::File::from(efd);
        let mut buf = [0u8; 8];
        // The eventfd also fires when the cgroup is removed: only report while it exists.
        while f.read_exact(&mut buf).is_ok() && dir.exists() {
            // The kernel signals the eventfd before its OOM killer runs and counts the kill:
            // give the count a moment to move (a removal's wake-up never moves it).
            let mut now = read(&dir);
            for _ in 0..V1_KILL_WAIT_STEPS {
                if v1_is_oom(&now, kills) || !dir.exists() {
                    break;
                }
                std::thread::sleep(V1_KILL_WAIT_STEP);
                now = read(&dir);
            }
            if v1_is_oom(&now, kills) {
                on_oom();
            }
            kills = now.oom_kill.unwrap_or(kills);
        }
    });
    spawned.is_ok()
}

fn watch_v2(dir: PathBuf, on_oom: impl Fn() + Send + 'static) -> bool {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let Ok(inotify) = Inotify::init(InitFlags::IN_CLOEXEC) else { return false };
    // The kernel reports changes of memory.events as modifications of the file.
    if inotify.add_watch(&dir.join("memory.events"), AddWatchFlags::IN_MODIFY).is_err() {
        return false;
    }
    let mut kills = v2_kills(&dir);
    let spawned = std::thread::Builder::new().name("oom".into()).spawn(move || {
        // The watch goes (IN_IGNORED) when the cgroup is removed.
        while let Ok(events) = inotify.read_events() {
            if !dir.exists() || events.iter().any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED)) {
                break;
            }
            let now = v2_kills(&dir);
            for _ in kills..now {
                on_oom();
            }
            kills = kills.max(now);
        }
    });
    spawned.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_oom_kill_is_reported_not_every_wake_up() {
        let idle = oom_control("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        assert_eq!(idle, OomControl { oom_kill: Some(0), under_oom: false });
        assert!(!v1_is_oom(&idle, 0), "a wake-up without a kill (e.g. the cgroup's removal) is no OOM");
        let killed = oom_control("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        assert!(v1_is_oom(&killed, 1));
        assert!(!v1_is_oom(&killed, 2), "a kill already reported");
        let old_kernel = oom_control("oom_kill_disable 0\nunder_oom 1\n");
        assert!(v1_is_oom(&old_kernel, 0), "without the counter, under_oom tells");
        assert!(!v1_is_oom(&oom_control("oom_kill_disable 0\nunder_oom 0\n"), 0));
    }

    #[test]
    fn v2_kills_come_from_memory_events() {
        let dir = crate::util::TestDir::new("oom-v2");
        std::fs::write(dir.path().join("memory.events"), "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 0\n").expect("write");
        assert_eq!(v2_kills(dir.path()), 2);
    }
}
