//! A full disk (issue 11, items 9 and 10): on a 20 MB tmpfs `--root` filled to the last
//! byte, import, load, create, commit, pause, unpause and logs fail cleanly with "no space
//! left on device" and leave the previous state; once space is freed everything works.

mod common;

use common::{docker, docker_ok, wait_until, TestDaemon};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A daemon whose `--root` is a 20 MB tmpfs (unmounted with the temp dir).
fn daemon_on_small_tmpfs(tag: &str, monolithic: bool) -> TestDaemon {
    let mut d = TestDaemon::unstarted(tag, monolithic);
    std::fs::create_dir_all(d.root()).expect("mkdir root");
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=20m,mode=0700", "tmpfs"]).arg(d.root()).status().expect("mount");
    assert!(st.success(), "mount tmpfs on {}", d.root().display());
    d.start();
    d
}

/// Runs docker and asserts it fails saying the disk is full.
fn fails_with_full_disk(d: &TestDaemon, args: &[&str]) {
    let out = docker(d, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "docker {args:?} succeeded on a full disk");
    assert!(err.contains("no space left on device"), "docker {args:?} on a full disk said: {err}");
    assert!(!err.contains("os error"), "docker {args:?}: Rust's wording leaks: {err}");
}

/// Writes zeros into `<root>/fill` until the filesystem refuses one more byte.
fn fill(root: &Path) -> PathBuf {
    let p = root.join("fill");
    let mut f = std::fs::File::create(&p).expect("create fill file");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    // The last partial chunk left a few bytes: take them one at a time.
    while f.write_all(&[0]).is_ok() {}
    p
}

/// Every path under `dir` (relative, sorted), but the contents of the log files.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
            let path = e.path();
            out.push(path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

fn inspect(d: &TestDaemon, what: &str, name: &str) -> String {
    docker_ok(d, &["inspect", "-f", what, name]).trim().to_owned()
}

fn full_disk_flow(tag: &str, monolithic: bool) {
    let d = daemon_on_small_tmpfs(tag, monolithic);
    d.import_busybox();
    docker_ok(&d, &["run", "-d", "--name", "ticker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.05; done"]);
    docker_ok(&d, &["run", "-d", "--name", "frozen", "busybox", "sleep", "600"]);
    docker_ok(&d, &["pause", "frozen"]);
    docker_ok(&d, &["run", "-d", "--name", "victim", "busybox", "sleep", "600"]);
    // An image to load later, saved outside the small root.
    docker_ok(&d, &["commit", "ticker", "snap:1"]);
    let archive = d.dir.path().join("snap.tar");
    docker_ok(&d, &["save", "-o", &archive.to_string_lossy(), "snap:1"]);
    docker_ok(&d, &["rmi", "snap:1"]);
    let ticker = inspect(&d, "{{.Id}}", "ticker");
    let frozen = inspect(&d, "{{.Id}}", "frozen");

    let images_before = docker_ok(&d, &["images", "-q", "--no-trunc"]);
    let ps_before = docker_ok(&d, &["ps", "-a", "-q", "--no-trunc"]);
    let image_tree = tree(&d.root().join("image"));
    let containers_before: Vec<String> = tree(&d.root().join("containers")).into_iter().filter(|p| !p.ends_with(".log")).collect();

    let filler = fill(&d.root());
    fails_with_full_disk(&d, &["create", "--name", "newcomer", "busybox", "true"]);
    fails_with_full_disk(&d, &["pause", "ticker"]);
    assert_eq!(d.frozen(&ticker), Some(false), "a failed pause froze the container");
    assert_eq!(inspect(&d, "{{.State.Paused}}", "ticker"), "false");
    fails_with_full_disk(&d, &["unpause", "frozen"]);
    assert_eq!(d.frozen(&frozen), Some(true), "a failed unpause thawed the container");
    assert_eq!(inspect(&d, "{{.State.Paused}}", "frozen"), "true");
    fails_with_full_disk(&d, &["commit", "ticker", "snap:2"]);
    assert_eq!(d.frozen(&ticker), Some(false), "a failed commit left the container frozen");
    fails_with_full_disk(&d, &["import", &common::busybox_tar().to_string_lossy(), "busybox:again"]);
    fails_with_full_disk(&d, &["load", "-i", &archive.to_string_lossy()]);
    // Logs are read while the writer cannot write; the container is not held up by it.
    assert!(docker_ok(&d, &["logs", "ticker"]).contains("tick"));
    assert_eq!(inspect(&d, "{{.State.Running}}", "ticker"), "true");

    assert_eq!(docker_ok(&d, &["images", "-q", "--no-trunc"]), images_before, "images changed on a full disk");
    assert_eq!(docker_ok(&d, &["ps", "-a", "-q", "--no-trunc"]), ps_before, "containers changed on a full disk");
    assert_eq!(tree(&d.root().join("image")), image_tree, "the image store changed on a full disk");
    let containers_now: Vec<String> = tree(&d.root().join("containers")).into_iter().filter(|p| !p.ends_with(".log")).collect();
    assert_eq!(containers_now, containers_before, "container records changed on a full disk");

    // What has happened is shown as it is, even when the record cannot say so yet: a stop
    // on a full disk stops, and removing (which frees space) works.
    docker_ok(&d, &["stop", "-t", "1", "victim"]);
    assert_eq!(inspect(&d, "{{.State.Running}}", "victim"), "false");
    docker_ok(&d, &["rm", "victim"]);
    assert!(!docker_ok(&d, &["ps", "-a", "--format", "{{.Names}}"]).contains("victim"));

    std::fs::remove_file(&filler).expect("free space");
    // Whatever the full disk cut off, the log holds whole records only, and grows again.
    let log_len = |d: &TestDaemon| docker_ok(d, &["logs", "ticker"]).len();
    let before = log_len(&d);
    assert!(wait_until(10, || log_len(&d) > before), "logging did not resume after space was freed");
    let log_path = inspect(&d, "{{.LogPath}}", "ticker");
    for line in std::fs::read_to_string(&log_path).expect("read log").lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "half-written log record: {line:?}");
    }
    docker_ok(&d, &["create", "--name", "newcomer", "busybox", "true"]);
    docker_ok(&d, &["pause", "ticker"]);
    assert_eq!(d.frozen(&ticker), Some(true));
    docker_ok(&d, &["unpause", "ticker", "frozen"]);
    assert_eq!(d.frozen(&frozen), Some(false));
    docker_ok(&d, &["commit", "ticker", "snap:2"]);
    assert_eq!(d.frozen(&ticker), Some(false));
    docker_ok(&d, &["import", &common::busybox_tar().to_string_lossy(), "busybox:again"]);
    docker_ok(&d, &["load", "-i", &archive.to_string_lossy()]);
    assert_eq!(docker_ok(&d, &["run", "--rm", "snap:1", "echo", "ok"]), "ok\n");
    docker_ok(&d, &["rm", "-f", "ticker", "frozen", "newcomer"]);
}

#[test]
fn a_full_disk_fails_each_operation_cleanly_and_leaves_the_previous_state() {
    full_disk_flow("fulldisk", false);
}

#[test]
fn a_full_disk_fails_each_operation_cleanly_and_leaves_the_previous_state_monolithic() {
    full_disk_flow("fulldiskm", true);
}
