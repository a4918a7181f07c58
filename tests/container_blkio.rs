//! Block I/O limits (issue 13, resources), read from inside the container in its own cgroup:
//! `--device-read-bps`, `--device-write-bps`, `--device-read-iops`, `--device-write-iops` on
//! a host block device; `--blkio-weight` and `--blkio-weight-device` where the host has a
//! proportional I/O scheduler, else refused by name (Docker would discard them with a
//! warning). Bad values fail the create naming the problem and leave nothing. Both modes,
//! docker CLI 28.x and 20.10.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `major:minor` of block device `path`.
fn numbers(path: &str) -> String {
    let rdev = std::fs::metadata(path).expect("stat block device").rdev();
    format!("{}:{}", nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
}

fn run(d: &TestDaemon, bin: &str, args: &[&str], script: &str) -> std::process::Output {
    docker_bin_cmd(bin, d).args(["run", "--rm"]).args(args).args(["busybox", "sh", "-c", script]).output().expect("docker run")
}

fn blkio_flow(d: &TestDaemon) {
    common::need(v2() || std::path::Path::new("/sys/fs/cgroup/blkio").is_dir(), "the blkio cgroup controller");
    d.import_busybox();
    let dev = common::block_device();
    let num = numbers(&dev);
    let limits = [
        format!("--device-read-bps={dev}:1mb"),
        format!("--device-write-bps={dev}:2mb"),
        format!("--device-read-iops={dev}:300"),
        format!("--device-write-iops={dev}:100"),
    ];
    let limits: Vec<&str> = limits.iter().map(String::as_str).collect();
    let (script, want) = if v2() {
        ("cat /sys/fs/cgroup/io.max", format!("{num} rbps=1048576 wbps=2097152 riops=300 wiops=100\n"))
    } else {
        (
            "cd /sys/fs/cgroup/blkio && cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device \
             blkio.throttle.read_iops_device blkio.throttle.write_iops_device",
            format!("{num} 1048576\n{num} 2097152\n{num} 300\n{num} 100\n"),
        )
    };
    for bin in [DOCKER, DOCKER_20] {
        let out = run(d, bin, &limits, script);
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{bin}: {}", String::from_utf8_lossy(&out.stderr));
    }

    // A weight: applied where the host can, else refused naming the field.
    let support = berth::runtime::cgroups::support::support();
    let weight_device = format!("{dev}:200");
    for (args, field, supported, file) in [
        (vec!["--blkio-weight", "300"], "BlkioWeight", support.blkio_weight, "weight"),
        (vec!["--blkio-weight-device", weight_device.as_str()], "BlkioWeightDevice", support.blkio_weight_device, "weight_device"),
    ] {
        let script = if v2() {
            "cat /sys/fs/cgroup/io.bfq.weight /sys/fs/cgroup/io.weight 2>/dev/null".to_owned()
        } else {
            format!("cat /sys/fs/cgroup/blkio/blkio.{file} /sys/fs/cgroup/blkio/blkio.bfq.{file} 2>/dev/null")
        };
        for bin in [DOCKER, DOCKER_20] {
            let out = run(d, bin, &args, &script);
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            if supported {
                let want = if field == "BlkioWeight" { "300".to_owned() } else { format!("{num} 200") };
                assert!(stdout.contains(&want), "{bin} {args:?}: {stdout} {stderr}");
            } else {
                assert!(!out.status.success() && stderr.contains(&format!("HostConfig.{field}")), "{bin} {args:?}: {stdout} {stderr}");
            }
        }
    }
    assert_eq!(docker_bin_ok(DOCKER, d, &["ps", "-aq"]), "", "nothing left");
}

#[test]
fn block_io_limits_are_seen_in_the_containers_cgroup_modular() {
    blkio_flow(&TestDaemon::modular("bio"));
}

#[test]
fn block_io_limits_are_seen_in_the_containers_cgroup_monolithic() {
    blkio_flow(&TestDaemon::monolithic("bimo"));
}

#[test]
fn bad_block_io_limits_are_refused_by_name_and_create_nothing() {
    let d = TestDaemon::modular("biobad");
    d.import_busybox();
    for (args, says) in [
        (vec!["--device-read-bps", "/dev/null:1mb"], "/dev/null is not a block device"),
        (vec!["--device-write-iops", "/dev/nonexistent:10"], "BlkioDeviceWriteIOps: /dev/nonexistent"),
    ] {
        let out = docker_bin_cmd(DOCKER, &d).arg("create").args(&args).args(["busybox", "true"]).output().expect("docker create");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{args:?}: {err}");
    }
    let r = common::http::post_json(&d, "/containers/create", r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"BlkioWeight":5}}"#);
    assert_eq!(r.status, 400);
    assert!(r.message().contains("HostConfig.BlkioWeight: 5"), "{}", r.message());
    assert_eq!(docker_bin_ok(DOCKER, &d, &["ps", "-aq"]), "", "nothing created");
}
