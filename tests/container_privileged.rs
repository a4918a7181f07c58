//! `--privileged`, `--device`, `--device-cgroup-rule` and `exec --privileged` (issue 13,
//! security), seen from inside the container: a privileged one has every capability the
//! daemon may hand on, no seccomp filter, no masked paths, a writable /sys and the host's
//! devices, and can mount a tmpfs, which a default one cannot; a device given with
//! `--device` is there and opens, one the cgroup rules do not allow does not. Both modes,
//! docker CLI 28.x and 20.10.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// The daemon's bounding set, as the CapEff a privileged process gets (this test runs as the
/// same root, with the same bounding set, as the daemon it starts).
fn bounding_set() -> String {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status.lines().find_map(|l| l.strip_prefix("CapBnd:")).expect("CapBnd").trim().to_owned()
}

fn run(d: &TestDaemon, bin: &str, args: &[&str], script: &str) -> std::process::Output {
    docker_bin_cmd(bin, d).args(["run", "--rm"]).args(args).args(["busybox", "sh", "-c", script]).output().expect("docker run")
}

fn privileged_flow(d: &TestDaemon) {
    common::need(
        std::path::Path::new("/sys/fs/cgroup/devices").is_dir() || std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
        "a devices cgroup",
    );
    d.import_busybox();
    let probe = "grep -E '^(CapEff|Seccomp):' /proc/self/status; \
                 grep -c ' /proc/keys ' /proc/self/mountinfo; \
                 grep ' /sys ' /proc/self/mountinfo | grep -q ' rw,' && echo sys-rw || echo sys-ro; \
                 test -b /dev/loop0 && echo loop0 || echo no-loop0; \
                 mkdir -p /mnt/t && mount -t tmpfs none /mnt/t 2>/dev/null && echo mounted || echo not-mounted";
    for bin in [DOCKER, DOCKER_20] {
        let out = run(d, bin, &["--privileged"], probe);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            format!("CapEff:\t{}\nSeccomp:\t0\n0\nsys-rw\nloop0\nmounted\n", bounding_set()),
            "{bin} --privileged: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(d, bin, &[], probe);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "CapEff:\t00000000a80425fb\nSeccomp:\t2\n1\nsys-ro\nno-loop0\nnot-mounted\n",
            "{bin} default"
        );
    }

    // --device: the node is there and opens; without it (made with mknod, which the default
    // capabilities allow) the cgroup refuses the open; a cgroup rule allows it.
    // (A subshell: a failed redirection of `exec` ends the shell it runs in.)
    let open_fuse = "(exec 3<>/dev/fuse) 2>/dev/null && echo opened || echo refused";
    let out = run(d, DOCKER, &["--device", "/dev/fuse"], &format!("ls -l /dev/fuse | cut -c1; {open_fuse}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "c\nopened\n", "{}", String::from_utf8_lossy(&out.stderr));
    let mknod = format!("mknod /dev/fuse c 10 229 && {open_fuse}");
    assert_eq!(String::from_utf8_lossy(&run(d, DOCKER_20, &[], &mknod).stdout), "refused\n");
    assert_eq!(String::from_utf8_lossy(&run(d, DOCKER_20, &["--device-cgroup-rule", "c 10:229 rw"], &mknod).stdout), "opened\n");
    let out = run(
        d,
        DOCKER,
        &["--device", "/dev/fuse:/dev/myfuse:r"],
        "(exec 3</dev/myfuse) && echo read; (exec 4>/dev/myfuse) 2>/dev/null && echo write || echo no-write",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read\nno-write\n", "read-only cgroup permission");

    // exec --privileged in a default container: every capability for that process only.
    let id = docker_bin_ok(DOCKER, d, &["run", "-d", "busybox", "sleep", "1000"]);
    let id = id.trim();
    let caps = |args: &[&str]| docker_bin_ok(DOCKER, d, &[&["exec"][..], args, &[id, "grep", "CapEff", "/proc/self/status"]].concat());
    assert_eq!(caps(&["--privileged"]), format!("CapEff:\t{}\n", bounding_set()));
    assert_eq!(caps(&[]), "CapEff:\t00000000a80425fb\n");
    docker_bin_ok(DOCKER, d, &["rm", "-f", id]);
}

#[test]
fn privileged_containers_get_every_cap_device_and_mount_and_devices_follow_the_cgroup_rules_modular() {
    privileged_flow(&TestDaemon::modular("prm"));
}

#[test]
fn privileged_containers_get_every_cap_device_and_mount_and_devices_follow_the_cgroup_rules_monolithic() {
    privileged_flow(&TestDaemon::monolithic("prmo"));
}

#[test]
fn bad_devices_and_rules_are_refused_by_name_and_create_nothing() {
    let d = TestDaemon::modular("prbad");
    d.import_busybox();
    for (args, says) in [
        (&["--device", "/nonexistent"][..], "/nonexistent"),
        (&["--device", "/etc/hostname"][..], "not a device"),
        (&["--device-cgroup-rule", "c 10 rwm"][..], "c 10 rwm"),
    ] {
        let out = docker_bin_cmd(DOCKER, &d).args(["create"]).args(args).args(["busybox", "true"]).output().expect("docker create");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(docker_bin_ok(DOCKER, &d, &["ps", "-aq"]), "", "nothing created");
}
