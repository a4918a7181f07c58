//! More of `HostConfig`, seen from inside the container (issue 13): a Compose v2 create body
//! full of nulls creates a container that runs; `--tmpfs` mounts (Docker's noexec, nosuid,
//! nodev unless overridden, writable under `--read-only`); `--shm-size` sizes /dev/shm
//! (Docker's 64 MiB by default); `--group-add` by number and by a name of the container's
//! /etc/group; `--sysctl` for namespaced sysctls. Bad values fail the create (or, for a group
//! name the image lacks or a sysctl the kernel lacks, the start) by name and leave no
//! container (with `--rm`). Both modes, docker CLI 28.x and 20.10.

mod common;

use common::docker_bin_ok as ok;

use common::http::post_json;
use common::{docker_bin_cmd, TempDir, TestDaemon};
use serde_json::{json, Value};
use std::process::Command;

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn run(bin: &str, d: &TestDaemon, args: &[&str]) -> std::process::Output {
    docker_bin_cmd(bin, d).args(args).output().expect("run docker")
}

/// `docker run` that must fail with `named` in its error, leaving no container.
fn refused(bin: &str, d: &TestDaemon, args: &[&str], named: &str) {
    let out = run(bin, d, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(named), "{bin} {args:?}: {err}");
    assert_eq!(ok(bin, d, &["ps", "-aq"]), "", "{args:?} left a container");
}

/// The line of /proc/self/mountinfo whose mount point is `dest`, in `mountinfo`.
fn mount_line<'a>(mountinfo: &'a str, dest: &str) -> &'a str {
    mountinfo.lines().find(|l| l.split(' ').nth(4) == Some(dest)).unwrap_or_else(|| panic!("no mount at {dest} in:\n{mountinfo}"))
}

/// Imports busybox as `busybox` and, as `groups`, a busybox whose /etc/group has `audio` (29).
fn import_images(d: &TestDaemon, tmp: &TempDir) {
    d.import_busybox();
    let rootfs = tmp.path().join("rootfs");
    common::make_busybox_rootfs(&rootfs);
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\naudio:x:29:\n").expect("group");
    let tar = tmp.path().join("groups.tar");
    let st = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(st.success(), "tar");
    ok(DOCKER, d, &["import", &tar.to_string_lossy(), "groups"]);
}

/// What Compose v2 sends to create a service's container (`network_mode: none`): every
/// optional field it leaves alone is null.
fn compose_body() -> Value {
    serde_json::from_str(
        r#"{
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": null, "Cmd": null, "Healthcheck": null,
        "Image": "busybox", "Volumes": null, "WorkingDir": "", "Entrypoint": ["sh", "-c", "echo compose-ok"], "OnBuild": null,
        "Labels": {"com.docker.compose.project": "nulls", "com.docker.compose.service": "app"},
        "StopSignal": null, "StopTimeout": null, "MacAddress": null, "Shell": null,
        "HostConfig": {
            "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": null}, "NetworkMode": "none",
            "PortBindings": {}, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": false,
            "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0], "Annotations": null, "CapAdd": null,
            "CapDrop": null, "CgroupnsMode": "", "Dns": null, "DnsOptions": null, "DnsSearch": null, "ExtraHosts": [],
            "GroupAdd": null, "IpcMode": "", "Cgroup": "", "Links": null, "OomScoreAdj": 0, "PidMode": "",
            "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false, "SecurityOpt": null,
            "StorageOpt": null, "Tmpfs": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "Sysctls": null,
            "Runtime": "", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
            "BlkioWeight": 0, "BlkioWeightDevice": null, "BlkioDeviceReadBps": null, "BlkioDeviceWriteBps": null,
            "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null, "CpuPeriod": 0, "CpuQuota": 0,
            "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": null,
            "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0, "MemorySwap": 0,
            "MemorySwappiness": null, "OomKillDisable": null, "PidsLimit": null, "Ulimits": null, "CpuCount": 0,
            "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "Mounts": null, "MaskedPaths": null,
            "ReadonlyPaths": null, "Init": null
        },
        "NetworkingConfig": null
    }"#,
    )
    .expect("the body is JSON")
}

fn compose_nulls(d: &TestDaemon) {
    let r = post_json(d, "/v1.41/containers/create?name=nulls-app", &compose_body().to_string());
    assert_eq!(r.status, 201, "Compose v2's nulls are absent values: {}", r.text());
    ok(DOCKER, d, &["start", "nulls-app"]);
    assert_eq!(ok(DOCKER, d, &["wait", "nulls-app"]).trim(), "0");
    assert_eq!(ok(DOCKER, d, &["logs", "nulls-app"]), "compose-ok\n");
    ok(DOCKER, d, &["rm", "nulls-app"]);
    // Nulls do not open the door to what berth lacks: a real value is still refused by name,
    // each part of a service that asks for one, and nothing is created.
    let mut body = compose_body();
    body["Healthcheck"] = json!({"Test": ["CMD-SHELL", "true"], "Interval": 200_000_000, "Retries": 1});
    body["HostConfig"]["RestartPolicy"] = json!({"Name": "on-failure", "MaximumRetryCount": 2});
    body["HostConfig"]["Links"] = json!(["db:db"]);
    body["HostConfig"]["VolumesFrom"] = json!(["other"]);
    let r = post_json(d, "/v1.41/containers/create?name=parts", &body.to_string());
    assert_eq!(r.status, 400, "{}", r.text());
    for part in ["HostConfig.Links", "HostConfig.VolumesFrom"] {
        assert!(r.message().contains(part), "{part} named: {}", r.message());
    }
    assert!(!ok(DOCKER, d, &["ps", "-a", "--format", "{{.Names}}"]).contains("parts"), "nothing created");
    // Without those, the healthcheck and the restart policy take effect.
    for key in ["Links", "VolumesFrom"] {
        body["HostConfig"][key] = Value::Null;
    }
    body["Entrypoint"] = json!(["sh", "-c", "echo ran; sleep 1; exit 3"]);
    let r = post_json(d, "/v1.41/containers/create?name=parts", &body.to_string());
    assert_eq!(r.status, 201, "{}", r.text());
    ok(DOCKER, d, &["start", "parts"]);
    let health = || ok(DOCKER, d, &["inspect", "-f", "{{json .State.Health.Log}}", "parts"]);
    assert!(common::wait_until(20, || health().contains(r#""ExitCode":0"#)), "the probe ran: {}", health());
    let state = || ok(DOCKER, d, &["inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", "parts"]);
    assert!(common::wait_until(30, || state().trim() == "2 exited 3"), "restarted twice, then exited 3: {}", state());
    assert_eq!(ok(DOCKER, d, &["logs", "parts"]), "ran\nran\nran\n");
    ok(DOCKER, d, &["rm", "parts"]);
}

fn tmpfs_and_shm(d: &TestDaemon, bin: &str) {
    let script = "cat /proc/self/mountinfo; echo ---; touch /tmp/x && echo tmp-writable; (touch /x) 2>&1; \
                  stat -c %a /run; cp /bin/busybox /scratch/true && /scratch/true && echo scratch-exec";
    let out = ok(
        bin,
        d,
        &[
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run:rw,size=64m,mode=1777",
            "--tmpfs",
            "/scratch:exec",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    let (mountinfo, rest) = out.split_once("---\n").expect("two parts");
    let tmp = mount_line(mountinfo, "/tmp");
    let (mount_opts, fs) = tmp.split_once(" - ").expect("separator");
    assert!(fs.starts_with("tmpfs "), "{bin}: /tmp is a tmpfs: {tmp}");
    for o in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(mount_opts.split(' ').nth(5).is_some_and(|f| f.split(',').any(|x| x == o)), "{bin}: /tmp has {o}: {tmp}");
    }
    let run_line = mount_line(mountinfo, "/run");
    // (The kernel shows no mode=1777: it is tmpfs's own default; stat shows it below.)
    assert!(run_line.contains("size=65536k"), "{bin}: --tmpfs /run options: {run_line}");
    let scratch = mount_line(mountinfo, "/scratch");
    assert!(!scratch.split(' ').nth(5).unwrap_or_default().contains("noexec"), "{bin}: exec overrides noexec: {scratch}");
    assert!(rest.contains("tmp-writable") && rest.contains("Read-only file system"), "{bin}: /tmp writable, / not: {rest}");
    assert!(rest.contains("1777\n") && rest.contains("scratch-exec"), "{bin}: {rest}");
    assert!(mount_line(mountinfo, "/dev/shm").contains("size=65536k"), "{bin}: Docker's 64 MiB /dev/shm");

    let out = ok(bin, d, &["run", "--rm", "--shm-size", "128m", "busybox", "sh", "-c", "cat /proc/self/mountinfo; df -k /dev/shm"]);
    assert!(mount_line(&out, "/dev/shm").contains("size=131072k"), "{bin}: --shm-size 128m: {out}");
    assert!(out.lines().any(|l| l.contains("/dev/shm") && l.split_whitespace().nth(1) == Some("131072")), "{bin}: df: {out}");
    refused(bin, d, &["run", "--rm", "--tmpfs", "/tmp:bogus", "busybox", "true"], "bogus");
    refused(bin, d, &["run", "--rm", "--tmpfs", "/tmp:size=lots", "busybox", "true"], "size=lots");
}

fn groups_and_sysctls(d: &TestDaemon, bin: &str) {
    let out = ok(bin, d, &["run", "--rm", "--group-add", "1234", "--group-add", "audio", "groups", "id", "-G"]);
    let mut gids: Vec<&str> = out.split_whitespace().collect();
    gids.sort_unstable();
    assert_eq!(gids, ["0", "1234", "29"], "{bin}: id -G: {out}");
    refused(bin, d, &["run", "--rm", "--group-add", "nosuch", "groups", "true"], "unable to find group nosuch");
    // Every exec gets them too, as under Docker.
    let id = ok(bin, d, &["run", "-d", "--group-add", "audio", "groups", "sleep", "100"]);
    let out = ok(bin, d, &["exec", id.trim(), "id", "-G"]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "29"], "{bin}: exec id -G: {out}");
    ok(bin, d, &["rm", "-f", id.trim()]);

    let out = ok(
        bin,
        d,
        &[
            "run",
            "--rm",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.msgmax=12345",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/msgmax",
        ],
    );
    assert_eq!(out, "1\n12345\n", "{bin}: --sysctl");
    // A namespaced name the kernel does not have fails the start naming it, as under Docker.
    refused(bin, d, &["run", "--rm", "--sysctl", "net.ipv4.no_such_knob=1", "busybox", "true"], "no_such_knob");
}

/// What the CLIs do not send (they refuse it themselves, or cannot say it): the daemon still
/// refuses it by name, creating nothing.
fn refused_by_the_daemon(d: &TestDaemon) {
    let containers =
        || serde_json::from_slice::<Vec<Value>>(&common::http::get(d, "/containers/json?all=1").body).map(|l| l.len()).unwrap_or(usize::MAX);
    for (field, value, named) in [
        ("Sysctls", json!({"kernel.hostname": "x"}), "kernel.hostname"),
        ("Sysctls", json!({"vm.swappiness": "1"}), "vm.swappiness"),
        ("ShmSize", json!(-1), "SHM size can not be less than 0"),
        ("Tmpfs", json!({"relative": ""}), "absolute"),
        ("GroupAdd", json!(["99999999999"]), "out of range"),
    ] {
        let mut body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {}});
        body["HostConfig"][field] = value;
        let r = post_json(d, "/v1.41/containers/create", &body.to_string());
        assert!(r.status == 400 && r.message().contains(named), "{field}: {} {}", r.status, r.text());
        assert_eq!(containers(), 0, "a refused {field} made a container");
    }
    // Docker records its default size, as inspect shows.
    let r = post_json(d, "/v1.41/containers/create?name=shm-default", r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"ShmSize":null}}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(ok(DOCKER, d, &["inspect", "-f", "{{.HostConfig.ShmSize}}", "shm-default"]).trim(), "67108864");
    ok(DOCKER, d, &["rm", "shm-default"]);
}

fn flow(d: &TestDaemon) {
    let tmp = TempDir::new("mnts");
    import_images(d, &tmp);
    compose_nulls(d);
    refused_by_the_daemon(d);
    for bin in [DOCKER, DOCKER_20] {
        common::need(std::path::Path::new(bin).exists(), bin);
        tmpfs_and_shm(d, bin);
        groups_and_sysctls(d, bin);
    }
}

#[test]
fn tmpfs_shm_groups_and_sysctls_are_what_docker_run_asks_modular() {
    flow(&TestDaemon::modular("mnsm"));
}

#[test]
fn tmpfs_shm_groups_and_sysctls_are_what_docker_run_asks_monolithic() {
    flow(&TestDaemon::monolithic("mnso"));
}
