//! Nothing berth stores or listens on is reachable by other local users (issue 11, items 2
//! and 3): the store under `--root` and `--exec-root` cannot be listed, read or executed by
//! an unprivileged user (a setuid binary of an image, a container's config with its
//! environment, its log), every socket refuses that user even with berthd started under
//! umask 000, an existing store opened up is tightened at start, and a socket path that is
//! not a stale socket of ours stops berthd untouched. Containers see what Docker gives them.
//! Every test runs in both modes.

mod common;

use common::{busybox_tar, make_busybox_rootfs, role, wait_until, TestDaemon};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The unprivileged user the tests act as (nobody), with no supplementary groups.
const NOBODY: &str = "65534";

fn text(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The peers these tests need: setpriv (util-linux) and python3.
fn require_tools() {
    for tool in ["/usr/bin/setpriv", "/usr/bin/python3", "/bin/busybox"] {
        assert!(Path::new(tool).exists(), "{tool} is missing: install util-linux, python3 and busybox-static");
    }
}

/// Runs `argv` as nobody. setpriv keeps its capabilities until its own execve (which thus
/// resolves its path as root): a shell, itself found on a public path, runs `argv` instead.
fn as_nobody(argv: &[&str]) -> Output {
    Command::new("/usr/bin/setpriv")
        .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--", "/bin/busybox", "sh", "-c", "exec \"$@\"", "sh"])
        .args(argv)
        .output()
        .expect("run setpriv")
}

/// Asserts that nobody's `argv` fails with "Permission denied".
fn denied_to_nobody(argv: &[&str]) {
    let out = as_nobody(argv);
    assert!(!out.status.success(), "{argv:?} succeeded as nobody: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{argv:?} as nobody: {}", text(&out));
}

/// What a connect(2) to each socket gives, as "<path> CONNECTED" or "<path> <errno name>".
const CONNECT_PY: &str = "import errno, socket, sys\n\
for p in sys.argv[1:]:\n    s = socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(p)\n        print(p, 'CONNECTED')\n    except OSError as e:\n        print(p, errno.errorcode.get(e.errno, e.errno))\n";

fn connect_results(sockets: &[PathBuf], nobody: bool) -> Vec<(String, String)> {
    let mut argv = vec!["/usr/bin/python3".to_owned(), "-c".to_owned(), CONNECT_PY.to_owned()];
    argv.extend(sockets.iter().map(|p| p.to_string_lossy().into_owned()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = if nobody { as_nobody(&argv) } else { Command::new(argv[0]).args(&argv[1..]).output().expect("python3") };
    assert!(out.status.success(), "connect probe failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.rsplit_once(' ').map(|(p, r)| (p.to_owned(), r.to_owned()))).collect()
}

/// A daemon on fresh dirs, not started yet.
fn new_daemon(tag: &str, monolithic: bool) -> TestDaemon {
    TestDaemon::unstarted(tag, monolithic)
}

/// berthd for `d` (its usual arguments), started by a shell that first sets `umask`.
fn berthd(d: &TestDaemon, umask: &str, extra: &[&str]) -> Command {
    let mut cmd = d.netns.cmd("/bin/sh");
    cmd.arg("-c").arg(format!("umask {umask}; exec \"$0\" \"$@\"")).arg(role("berthd"));
    if !extra.contains(&"-H") {
        cmd.arg("-H").arg(d.host());
    }
    cmd.args(extra).arg("--root").arg(d.root()).arg("--exec-root").arg(d.exec_root());
    cmd.arg("--cgroup-parent").arg(&d.cgroup_parent).arg("--log-level").arg("info,berth=debug");
    if d.monolithic {
        cmd.arg("--monolithic");
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(d.dir.path().join("berthd.log")).expect("daemon log");
    cmd.stdin(Stdio::null()).stdout(log.try_clone().expect("log fd")).stderr(log);
    cmd
}

/// Starts berthd for `d` under `umask` and waits for its API.
fn start_under_umask(d: &mut TestDaemon, umask: &str) {
    let sock = d.socket();
    start_with(d, umask, &[], &sock);
}

/// Starts berthd for `d` under `umask` with `extra` arguments and waits for `sock` to answer.
fn start_with(d: &mut TestDaemon, umask: &str, extra: &[&str], sock: &Path) {
    d.daemon = Some(berthd(d, umask, extra).spawn().expect("spawn berthd"));
    assert!(wait_until(20, || std::os::unix::net::UnixStream::connect(sock).is_ok()), "berthd did not come up; log:\n{}", d.log());
}

/// Starts berthd for `d` and expects it to exit with a failure by itself; returns its log.
fn start_expecting_refusal(d: &mut TestDaemon, extra: &[&str]) -> String {
    let mut child = berthd(d, "022", extra).spawn().expect("spawn berthd");
    let mut status = None;
    let exited = wait_until(20, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited, "berthd did not refuse to start; log:\n{}", d.log());
    assert!(!status.expect("status").success(), "berthd exited 0; log:\n{}", d.log());
    d.log()
}

/// Every path at or below `top`, not following links and not entering other file systems
/// (a mounted container rootfs is the container's, not the store's).
fn walk(top: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(md) = std::fs::symlink_metadata(top) else {
        return out;
    };
    let dev = md.dev();
    let mut stack = vec![(top.to_path_buf(), md)];
    while let Some((p, md)) = stack.pop() {
        if md.is_dir() && md.dev() == dev {
            for e in std::fs::read_dir(&p).expect("read_dir as root").flatten() {
                if let Ok(m) = std::fs::symlink_metadata(e.path()) {
                    stack.push((e.path(), m));
                }
            }
        }
        out.push((p, md));
    }
    out
}

/// Why a path under the store may let others in, as Docker's store does: each of these sits
/// below a directory others cannot enter (checked by the caller).
fn allowed_exception(rel: &str, md: &std::fs::Metadata) -> Option<&'static str> {
    let parts: Vec<&str> = rel.split('/').collect();
    if md.file_type().is_symlink() {
        return Some("a symlink's own mode means nothing");
    }
    match parts.as_slice() {
        // An image's layer tree keeps the modes of its tar (Docker's overlay2/<id>/diff).
        ["root", "image", "layers", _, ..] => Some("layer content keeps the image's modes"),
        // A container's / is 0755 and what it writes keeps its own modes (overlay2/<id>/diff).
        ["root", "overlay2", _, "upper", ..] => Some("a container's upper dir is its content"),
        // The mount point of the container's rootfs shows the mounted root (0755).
        ["root", "overlay2", _, "merged"] => Some("the mounted container root"),
        ["root", "vfs", _, "rootfs", ..] => Some("a vfs copy is the container's content"),
        // The init layer (Docker's <id>-init): mount points, part of the container's root.
        ["root", "overlay2" | "vfs", _, "init", ..] => Some("the container's init layer is root content"),
        // /etc/hostname, hosts, resolv.conf: bind-mounted into the container, read by its
        // non-root users (0644 as Docker's), inside the 0700 container directory.
        ["root", "containers", _, "etc", _] if md.is_file() => Some("a managed /etc file the container reads"),
        // The bundle's rootfs mount point (modular), the mounted container root.
        ["exec", "supervisor", _, _, "rootfs"] => Some("the mounted container root in the bundle"),
        // runc's /run/runc/<id> is 0711 and its exec fifo 0622 (init reopens it as the user).
        [.., "runtime", _] if md.is_dir() && md.mode() & 0o777 == 0o711 => Some("runtime state dir, 0711 as runc's"),
        [.., "runtime", _, "exec.fifo"] if md.file_type().is_fifo() => Some("the exec fifo, 0622 as runc's"),
        // A container's network namespace file: the mounted nsfs inode is always 0444.
        ["exec", "netns", _] if md.mode() & 0o777 == 0o444 => Some("a network namespace file (nsfs is 0444)"),
        _ => None,
    }
}

/// Walks the store as root: nothing is reachable by others except the stated exceptions,
/// and each of those lies below a directory others cannot enter.
fn assert_store_closed(d: &TestDaemon) {
    let base = d.dir.path();
    let closed = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.mode() & 0o001 == 0).unwrap_or(false);
    for top in [d.root(), d.exec_root()] {
        assert!(closed(&top), "{} lets others in", top.display());
        let mut seen = 0;
        for (p, md) in walk(&top) {
            seen += 1;
            if md.mode() & 0o007 == 0 {
                continue;
            }
            let rel = p.strip_prefix(base).expect("below the test dir").to_string_lossy().into_owned();
            let why = allowed_exception(&rel, &md).unwrap_or_else(|| panic!("{rel} has mode {:o}: reachable by other users", md.mode() & 0o7777));
            let gate = p.ancestors().skip(1).take_while(|a| a.starts_with(&top)).find(|a| closed(a));
            assert!(gate.is_some(), "{rel} ({why}) is not below a directory closed to others");
        }
        assert!(seen > 3, "nothing found under {}", top.display());
    }
}

/// A tar of the busybox rootfs plus `bin/suidbox`: busybox, setuid root.
fn setuid_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("suidroot");
    make_busybox_rootfs(&rootfs);
    let suid = rootfs.join("bin/suidbox");
    std::fs::copy(rootfs.join("bin/busybox"), &suid).expect("copy busybox");
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).expect("chmod u+s");
    let tar = dir.join("suid.tar");
    let st = Command::new("tar").arg("-C").arg(&rootfs).arg("--numeric-owner").arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(st.success(), "tar of the setuid rootfs failed");
    tar
}

fn container_id(d: &TestDaemon, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&d.berth_ok(&["inspect", name])).expect("inspect JSON");
    v[0]["Id"].as_str().expect("Id").to_owned()
}

fn store_is_unreachable_by_other_users(monolithic: bool) {
    require_tools();
    let d = TestDaemon::with_args(if monolithic { "permm" } else { "perm" }, monolithic, &[]);
    let tar = setuid_tar(d.dir.path());
    d.berth_ok(&["import", &tar.to_string_lossy(), "suid"]);
    // A loaded image's blobs (spooled from the archive, then linked in) are private too.
    let saved = d.dir.path().join("suid-saved.tar");
    d.berth_ok(&["save", "-o", &saved.to_string_lossy(), "suid"]);
    d.berth_ok(&["rmi", "suid"]);
    d.berth_ok(&["load", "-i", &saved.to_string_lossy()]);
    d.berth_ok(&["run", "-d", "--name", "sec", "-e", "DB_PASSWORD=pw-9f3a1c", "suid", "sh", "-c", "echo log-secret-77e2; exec sleep 1000"]);
    let id = container_id(&d, "sec");
    let cdir = d.root().join("containers").join(&id);
    let config = cdir.join("config.v2.json");
    let log = cdir.join(format!("{id}-json.log"));
    assert!(wait_until(10, || std::fs::read_to_string(&log).unwrap_or_default().contains("log-secret-77e2")), "no log line");
    assert!(std::fs::read_to_string(&config).expect("config as root").contains("pw-9f3a1c"));

    // The store's copy of the setuid binary really is setuid root: reachable, it would give euid 0.
    let layers = std::fs::read_dir(d.root().join("image/layers")).expect("layers").flatten().map(|e| e.path().join("bin/suidbox"));
    let suid: Vec<PathBuf> = layers.filter(|p| p.exists()).collect();
    assert_eq!(suid.len(), 1, "one layer holds bin/suidbox");
    let md = std::fs::metadata(&suid[0]).expect("stat suidbox");
    assert_eq!((md.mode() & 0o7777, md.uid()), (0o4755, 0), "the layer keeps the setuid bit");
    // Control: nobody can run programs and read files that are open to it.
    let out = as_nobody(&["/bin/busybox", "id", "-u"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), NOBODY, "{}", text(&out));
    assert!(as_nobody(&["/bin/busybox", "cat", &busybox_tar().to_string_lossy()]).status.success());

    let s = |p: &Path| p.to_string_lossy().into_owned();
    denied_to_nobody(&[&s(&suid[0]), "id", "-u"]);
    // The runtime's spec holds the environment too.
    let spec = if monolithic {
        d.exec_root().join("bundles").join(&id).join("config.json")
    } else {
        d.exec_root().join("supervisor/berth").join(&id).join("config.json")
    };
    assert!(std::fs::read_to_string(&spec).expect("spec as root").contains("pw-9f3a1c"));
    let mut secrets = vec![config.clone(), log.clone(), spec];
    if !monolithic {
        secrets.push(d.root().join("supervisor/berth/containers").join(format!("{id}.json")));
    }
    for p in &secrets {
        denied_to_nobody(&["/bin/busybox", "cat", &s(p)]);
        denied_to_nobody(&["/bin/busybox", "ls", &s(p.parent().expect("parent"))]);
    }
    for top in [d.root(), d.exec_root()] {
        denied_to_nobody(&["/bin/busybox", "ls", &s(&top)]);
        denied_to_nobody(&["/bin/busybox", "ls", &s(&top.join("image/layers"))]);
        // find lists nothing below the top it cannot open.
        let out = as_nobody(&["/bin/busybox", "find", &s(&top)]);
        assert!(!out.status.success(), "find succeeded: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), s(&top), "find saw below {}", top.display());
    }
    denied_to_nobody(&["/bin/busybox", "cat", &s(&d.root().join("image/repositories.json"))]);
    assert_store_closed(&d);
    d.berth_ok(&["rm", "-f", "sec"]);
}

#[test]
fn the_store_is_unreachable_by_other_users_modular() {
    store_is_unreachable_by_other_users(false);
}

#[test]
fn the_store_is_unreachable_by_other_users_monolithic() {
    store_is_unreachable_by_other_users(true);
}

/// Every socket below the test's dir.
fn sockets_below(dir: &Path) -> Vec<(PathBuf, u32)> {
    walk(dir).into_iter().filter(|(_, m)| m.file_type().is_socket()).map(|(p, m)| (p, m.mode() & 0o7777)).collect()
}

fn umask_000_daemon_keeps_sockets_and_store_closed(monolithic: bool) {
    require_tools();
    let mut d = new_daemon(if monolithic { "um0m" } else { "um0" }, monolithic);
    start_under_umask(&mut d, "000");
    d.import_busybox();
    d.berth_ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    let sockets = sockets_below(d.dir.path());
    let paths: Vec<PathBuf> = sockets.iter().map(|(p, _)| p.clone()).collect();
    assert!(paths.contains(&d.socket()), "API socket not found in {paths:?}");
    if !monolithic {
        let sup = d.exec_root().join("supervisor/supervisor.sock");
        let ttrpc = d.exec_root().join("supervisor/supervisor.sock.ttrpc");
        assert!(paths.contains(&sup) && paths.contains(&ttrpc), "supervisor sockets not found in {paths:?}");
        assert!(paths.iter().any(|p| p.starts_with(d.exec_root().join("supervisor/s"))), "no shim socket in {paths:?}");
    }
    for (p, mode) in &sockets {
        assert_eq!(mode & 0o007, 0, "{} has mode {mode:o}", p.display());
    }
    assert_eq!(sockets.iter().find(|(p, _)| p == &d.socket()).map(|(_, m)| *m), Some(0o660), "API socket mode");
    // Control: each one is live (root connects), so nobody's refusal is the permission.
    for (p, r) in connect_results(&paths, false) {
        assert_eq!(r, "CONNECTED", "root could not connect to {p}");
    }
    for (p, r) in connect_results(&paths, true) {
        assert_eq!(r, "EACCES", "nobody's connect to {p}");
    }
    assert_store_closed(&d);

    // Inside, the container sees what Docker gives it: umask 0022, a 0755 /, a usable /bin.
    let out = d.berth_ok(&["run", "--rm", "busybox", "sh", "-c", "umask; ls -ld /; touch /f; ls -l /f"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some("0022"), "{out}");
    assert!(lines.get(1).is_some_and(|l| l.starts_with("drwxr-xr-x")), "{out}");
    assert!(lines.get(2).is_some_and(|l| l.starts_with("-rw-r--r--")), "{out}");
    let out = d.berth_ok(&["exec", "up", "sh", "-c", "umask"]);
    assert_eq!(out.trim(), "0022", "{out}");
    let out = d.berth_ok(&["exec", "-u", "1234", "up", "/bin/ls", "/"]);
    assert!(out.split_whitespace().any(|w| w == "bin") && out.split_whitespace().any(|w| w == "etc"), "{out}");
    let out = d.berth_ok(&["exec", "-u", "1234", "up", "id", "-u"]);
    assert_eq!(out.trim(), "1234");
    d.berth_ok(&["rm", "-f", "up"]);
}

#[test]
fn under_umask_000_no_socket_or_store_path_is_reachable_and_containers_are_unchanged_modular() {
    umask_000_daemon_keeps_sockets_and_store_closed(false);
}

#[test]
fn under_umask_000_no_socket_or_store_path_is_reachable_and_containers_are_unchanged_monolithic() {
    umask_000_daemon_keeps_sockets_and_store_closed(true);
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode() & 0o7777
}

fn opened_up_store_is_tightened_at_start(monolithic: bool) {
    let mut d = TestDaemon::with_args(if monolithic { "fixm" } else { "fix" }, monolithic, &[]);
    d.import_busybox();
    // Running, so that the supervisor's record and the shim live across the restart.
    d.berth_ok(&["run", "-d", "--name", "old", "-e", "DB_PASSWORD=pw-31c7", "busybox", "sh", "-c", "echo hello-old; exec sleep 1000"]);
    let id = container_id(&d, "old");
    let cdir = d.root().join("containers").join(&id);
    let log_file = cdir.join(format!("{id}-json.log"));
    assert!(wait_until(10, || std::fs::read_to_string(&log_file).unwrap_or_default().contains("hello-old")), "no log line");
    d.kill_daemon();
    d.kill_supervisor();
    let mut dirs = vec![
        d.root(),
        d.exec_root(),
        d.root().join("containers"),
        cdir.clone(),
        d.root().join("image"),
        d.root().join("image/blobs/sha256"),
        d.root().join("overlay2"),
    ];
    let mut files = vec![cdir.join("config.v2.json"), cdir.join(format!("{id}-json.log")), d.root().join("image/repositories.json")];
    files.extend(std::fs::read_dir(d.root().join("image/blobs/sha256")).expect("blobs").flatten().map(|e| e.path()));
    if monolithic {
        dirs.extend([d.exec_root().join("runtime"), d.exec_root().join("bundles")]);
    } else {
        dirs.extend([d.exec_root().join("supervisor"), d.root().join("supervisor")]);
        files.push(d.root().join("supervisor/berth/containers").join(format!("{id}.json")));
    }
    // What an old berth made (0755 directories, 0644 files).
    for p in &dirs {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    }
    for p in &files {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).expect("chmod file");
    }
    let before = d.log().len();
    d.start();
    for p in &dirs {
        assert_eq!(mode_of(p) & 0o067, 0, "{} is {:o} after start", p.display(), mode_of(p));
    }
    for p in &files {
        assert_eq!(mode_of(p), 0o600, "{} after start", p.display());
    }
    let log = d.log()[before..].to_owned();
    for p in [d.root(), d.exec_root(), cdir.join("config.v2.json")] {
        assert!(log.contains(&format!("mode of {} was", p.display())), "no warning naming {}; log:\n{log}", p.display());
    }
    assert!(log.contains(&format!("mode of {} was 755, reachable beyond 710: set to 710", d.root().display())), "{log}");
    // The container still works on the tightened store (a monolithic daemon took it down).
    if monolithic {
        d.berth_ok(&["start", "old"]);
    }
    assert!(d.berth_ok(&["logs", "old"]).contains("hello-old"));
    assert_eq!(d.berth_ok(&["exec", "old", "echo", "exec-ok"]).trim(), "exec-ok");
    assert_store_closed(&d);
    d.berth_ok(&["rm", "-f", "old"]);
}

#[test]
fn an_opened_up_store_is_tightened_with_a_warning_at_start_modular() {
    opened_up_store_is_tightened_at_start(false);
}

#[test]
fn an_opened_up_store_is_tightened_with_a_warning_at_start_monolithic() {
    opened_up_store_is_tightened_at_start(true);
}

fn socket_path_that_is_not_ours_stops_the_start(monolithic: bool) {
    require_tools();
    let mut d = new_daemon(if monolithic { "sockm" } else { "sock" }, monolithic);
    // A regular file: refused by name, kept.
    std::fs::write(d.socket(), b"precious").expect("write file");
    let log = start_expecting_refusal(&mut d, &[]);
    assert!(log.contains(&format!("{} exists and is a regular file, not a socket", d.socket().display())), "{log}");
    assert_eq!(std::fs::read(d.socket()).expect("file kept"), b"precious");
    std::fs::remove_file(d.socket()).expect("rm");

    // A live socket of another process: refused, left serving.
    let mut other = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg("import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\nprint('ready', flush=True)\nsys.stdin.read()")
        .arg(d.socket())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn listener");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(other.stdout.as_mut().expect("stdout")), &mut line).expect("ready");
    assert_eq!(line.trim(), "ready");
    let log = start_expecting_refusal(&mut d, &[]);
    let live = std::os::unix::net::UnixStream::connect(d.socket()).is_ok();
    let _ = other.kill();
    let _ = other.wait();
    assert!(log.contains(&format!("{}: a process is listening on this socket already", d.socket().display())), "{log}");
    assert!(live, "the other process's socket was replaced");

    // Its socket, now stale (nothing answers): replaced.
    assert!(d.socket().exists(), "the stale socket is there");
    start_under_umask(&mut d, "022");
    assert!(d.log().contains("removed stale socket"), "{}", d.log());
    assert_eq!(mode_of(&d.socket()), 0o660);
    d.kill_daemon();
    if !monolithic {
        // The supervisor's socket path too: a file there stops berthd (the supervisor refuses it).
        d.kill_supervisor();
        let sup = d.exec_root().join("supervisor/supervisor.sock");
        let _ = std::fs::remove_file(&sup);
        std::fs::write(&sup, b"precious").expect("write file");
        let _ = std::fs::remove_file(d.socket());
        start_expecting_refusal(&mut d, &[]);
        let sup_log = std::fs::read_to_string(d.exec_root().join("supervisor/supervisor.log")).unwrap_or_default();
        assert!(sup_log.contains(&format!("{} exists and is a regular file, not a socket", sup.display())), "{sup_log}");
        assert_eq!(std::fs::read(&sup).expect("file kept"), b"precious");
    }
}

#[test]
fn a_file_or_a_live_socket_at_the_socket_path_stops_berthd_and_a_stale_one_is_replaced_modular() {
    socket_path_that_is_not_ours_stops_the_start(false);
}

#[test]
fn a_file_or_a_live_socket_at_the_socket_path_stops_berthd_and_a_stale_one_is_replaced_monolithic() {
    socket_path_that_is_not_ours_stops_the_start(true);
}

fn api_socket_belongs_to_the_dash_g_group(monolithic: bool) {
    require_tools();
    let mut d = new_daemon(if monolithic { "grpm" } else { "grp" }, monolithic);
    // In the exec-root, as by default: the group may traverse it to reach the socket.
    let sock = d.exec_root().join("berth.sock");
    let host = format!("unix://{}", sock.display());
    start_with(&mut d, "000", &["-H", &host, "-G", NOBODY], &sock);
    let md = std::fs::symlink_metadata(&sock).expect("stat socket");
    assert_eq!((md.mode() & 0o7777, md.gid()), (0o660, 65534), "API socket mode and group");
    let er = std::fs::metadata(d.exec_root()).expect("stat exec-root");
    assert_eq!((er.mode() & 0o7777, er.gid()), (0o710, 65534), "exec-root mode and group");
    // A member of the group drives the API; it still cannot list the exec-root.
    let out = as_nobody(&["/usr/bin/curl", "-sS", "--unix-socket", &sock.to_string_lossy(), "http://berth/_ping"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK", "{}", text(&out));
    denied_to_nobody(&["/bin/busybox", "ls", &d.exec_root().to_string_lossy()]);
    let others: Vec<PathBuf> = sockets_below(&d.exec_root()).into_iter().map(|(p, _)| p).filter(|p| p != &sock).collect();
    for (p, r) in connect_results(&others, true) {
        assert_eq!(r, "EACCES", "nobody's connect to {p}");
    }
    d.kill_daemon();
    // A group that does not exist is refused by name.
    let log = start_expecting_refusal(&mut d, &["-G", "no-such-group-b3"]);
    assert!(log.contains("-G: group \"no-such-group-b3\" not found"), "{log}");
}

#[test]
fn the_api_socket_belongs_to_the_dash_g_group_modular() {
    api_socket_belongs_to_the_dash_g_group(false);
}

#[test]
fn the_api_socket_belongs_to_the_dash_g_group_monolithic() {
    api_socket_belongs_to_the_dash_g_group(true);
}
