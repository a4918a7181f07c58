//! A container runs as the user it is asked to (issue 13, identity), seen from inside: `-u
//! uid:gid`, a name from the image's own /etc/passwd, the image's USER, supplementary groups
//! from /etc/group, HOME from passwd; `exec` runs as the container's user unless it names
//! another; a name the image does not have fails the start. Docker CLIs 28.x and 20.10, both
//! modes.

mod common;

use common::{TempDir, TestDaemon};
use std::process::Command;

/// Imports a busybox image whose passwd and group know `nobody` and `alice`, as `users`, and
/// one whose config says `USER alice`, as `alice-image`.
fn import_user_images(d: &TestDaemon, tmp: &TempDir) {
    let rootfs = tmp.path().join("rootfs");
    common::make_busybox_rootfs(&rootfs);
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\naudio:x:29:alice\n").expect("group");
    let tar = tmp.path().join("users.tar");
    let st = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(st.success());
    let tar = tar.to_string_lossy().into_owned();
    common::docker_ok(d, &["import", &tar, "users"]);
    common::docker_ok(d, &["import", "--change", "USER alice", &tar, "alice-image"]);
}

fn users_flow(d: &TestDaemon, docker: &str) {
    let run = |args: &[&str]| {
        let out = common::docker_bin_cmd(docker, d).args(args).output().expect("run docker");
        assert!(out.status.success(), "{docker} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ids = "echo $(id -u) $(id -g) $(id -G) $HOME";
    assert_eq!(run(&["run", "--rm", "-u", "1234:5678", "users", "sh", "-c", ids]), "1234 5678 5678 /\n");
    assert_eq!(run(&["run", "--rm", "-u", "nobody", "users", "sh", "-c", ids]), "65534 65534 65534 /nonexistent\n");
    assert_eq!(run(&["run", "--rm", "-u", "alice", "users", "sh", "-c", ids]), "1000 1000 1000 29 /home/alice\n", "audio from /etc/group");
    assert_eq!(run(&["run", "--rm", "users", "sh", "-c", ids]), "0 0 0 /root\n", "root by default, HOME from passwd");
    assert_eq!(run(&["run", "--rm", "alice-image", "sh", "-c", ids]), "1000 1000 1000 29 /home/alice\n", "the image's USER");
    assert_eq!(run(&["run", "--rm", "-u", "0", "alice-image", "id", "-u"]), "0\n", "-u overrides the image");
    // exec runs as the container's user unless told otherwise.
    run(&["run", "-d", "--name", "as-alice", "alice-image", "sleep", "100"]);
    assert_eq!(run(&["exec", "as-alice", "id", "-u"]), "1000\n");
    assert_eq!(run(&["exec", "-u", "nobody", "as-alice", "id", "-u"]), "65534\n");
    assert_eq!(run(&["exec", "-u", "root", "as-alice", "id", "-u"]), "0\n");
    run(&["rm", "-f", "as-alice"]);
    // A user the image does not have: the start fails naming it.
    let out = common::docker_bin_cmd(docker, d).args(["run", "--rm", "-u", "mallory", "users", "true"]).output().expect("run docker");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("unable to find user mallory"), "{err}");
}

fn check(d: TestDaemon) {
    let tmp = TempDir::new("usr");
    import_user_images(&d, &tmp);
    for docker in ["/usr/local/bin/docker", "/usr/bin/docker"] {
        common::need(std::path::Path::new(docker).exists(), docker);
        users_flow(&d, docker);
    }
}

#[test]
fn containers_and_execs_run_as_the_user_asked_modular() {
    check(TestDaemon::modular("usrm"));
}

#[test]
fn containers_and_execs_run_as_the_user_asked_monolithic() {
    check(TestDaemon::monolithic("usro"));
}
