//! Never accept and ignore: every field of `Config` and `HostConfig` (Engine API v1.41) is
//! either honoured or, set to anything but its "not asked for" value, refused with 400 naming
//! it, and then nothing is created. The walk covers every field of berth's policy table
//! (src/api/create_fields.rs), which lists every field of the API; a sample value is needed
//! for each, so a field added to the table without one fails here.
//!
//! Where the honoured ones are shown: User (tests/container_user.rs); Hostname, Env, Cmd, Entrypoint, WorkingDir, Labels,
//! Image, AttachStdout/AttachStderr (tests/engine_cli.rs, tests/docker_cli.rs); StopSignal,
//! StopTimeout (tests/exit_codes.rs, tests/api_strictness.rs); Memory, PidsLimit
//! (tests/daemon_info.rs, from the container's cgroup); CgroupParent (every TestDaemon);
//! LogConfig (tests/engine_cli.rs rotation); AutoRemove (run --rm everywhere);
//! NetworkDisabled and NetworkMode none (a container has loopback only); Tmpfs, ShmSize,
//! GroupAdd, Sysctls and null as absent (tests/container_mounts_sysctls.rs); RestartPolicy
//! (tests/container_restart.rs); Healthcheck (tests/container_health.rs); Privileged, Devices,
//! DeviceCgroupRules (tests/container_privileged.rs); PidMode, IpcMode, UTSMode, CgroupnsMode
//! and the Blkio* limits (tests/container_namespaces.rs, tests/container_blkio.rs).

mod common;

use common::http::post_json;
use common::TestDaemon;
use serde_json::{json, Value};

/// A value that asks for something, per field.
fn sample(field: &str) -> Value {
    match field {
        "Hostname" => json!("box"),
        "Domainname" => json!("example.test"),
        "User" => json!("1234:5678"),
        "AttachStdin" | "AttachStdout" | "AttachStderr" | "Tty" | "OpenStdin" | "StdinOnce" | "ArgsEscaped" | "NetworkDisabled" => json!(true),
        "ExposedPorts" => json!({"80/tcp": {}}),
        "Env" => json!(["A=1"]),
        "Cmd" => json!(["true"]),
        "Healthcheck" => json!({"Test": ["CMD", "true"]}),
        "Image" => json!("busybox"),
        "Volumes" => json!({"/data": {}}),
        "WorkingDir" => json!("/tmp"),
        "Entrypoint" => json!(["/bin/sh", "-c"]),
        "MacAddress" => json!("02:42:ac:11:00:02"),
        "OnBuild" => json!(["RUN true"]),
        "Labels" => json!({"a": "b"}),
        "StopSignal" => json!("SIGINT"),
        "StopTimeout" => json!(3),
        "Shell" => json!(["/bin/sh", "-c"]),
        // HostConfig
        "BlkioWeight" => json!(300),
        "CpuRealtimePeriod" | "CpuRealtimeRuntime" | "KernelMemory" | "KernelMemoryTCP" | "CpuCount" | "CpuPercent" | "IOMaximumIOps"
        | "IOMaximumBandwidth" | "ShmSize" | "CpuPeriod" => json!(100_000),
        "CpuShares" => json!(512),
        "CpuQuota" => json!(50_000),
        "NanoCpus" => json!(500_000_000),
        "MemoryReservation" => json!(32 << 20),
        "MemorySwap" => json!(-1),
        "OomScoreAdj" => json!(500),
        "Memory" => json!(64 << 20),
        "PidsLimit" => json!(32),
        "MemorySwappiness" => json!(10),
        "CgroupParent" => json!("/berth-create-fields"),
        "BlkioWeightDevice" => json!([{"Path": common::block_device(), "Weight": 100}]),
        "BlkioDeviceReadBps" | "BlkioDeviceWriteBps" | "BlkioDeviceReadIOps" | "BlkioDeviceWriteIOps" => {
            json!([{"Path": common::block_device(), "Rate": 1 << 20}])
        }
        "CpusetCpus" | "CpusetMems" => json!("0"),
        "Devices" => json!([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]),
        "DeviceCgroupRules" => json!(["c 1:3 rwm"]),
        "DeviceRequests" => json!([{"Driver": "nvidia", "Count": 1}]),
        "OomKillDisable" | "Init" | "PublishAllPorts" | "Privileged" | "ReadonlyRootfs" | "AutoRemove" => json!(true),
        "Ulimits" => json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}]),
        "Binds" => json!(["/tmp:/host-tmp"]),
        "ContainerIDFile" => json!("/tmp/cid"),
        "LogConfig" => json!({"Type": "json-file", "Config": {"max-size": "1m"}}),
        "NetworkMode" => json!("host"),
        "PortBindings" => json!({"80/tcp": [{"HostPort": "8080"}]}),
        "RestartPolicy" => json!({"Name": "always"}),
        "VolumeDriver" => json!("local"),
        "VolumesFrom" => json!(["other"]),
        "Mounts" => json!([{"Type": "tmpfs", "Target": "/t"}]),
        "ConsoleSize" => json!([24, 80]),
        "CapAdd" => json!(["NET_ADMIN"]),
        "CapDrop" => json!(["ALL"]),
        "CgroupnsMode" => json!("private"),
        "Dns" => json!(["1.1.1.1"]),
        "DnsOptions" => json!(["ndots:2"]),
        "DnsSearch" => json!(["example.test"]),
        "ExtraHosts" => json!(["db:10.1.2.3"]),
        "GroupAdd" => json!(["audio"]),
        "IpcMode" | "PidMode" | "UTSMode" => json!("host"),
        "Cgroup" => json!("container:other"),
        "Links" => json!(["other:alias"]),
        "SecurityOpt" => json!(["no-new-privileges"]),
        "StorageOpt" => json!({"size": "1G"}),
        "Tmpfs" => json!({"/run": "rw"}),
        "UsernsMode" => json!("private"),
        "Sysctls" => json!({"net.ipv4.ip_forward": "1"}),
        "Runtime" => json!("runc"),
        "Isolation" => json!("hyperv"),
        "MaskedPaths" => json!(["/proc/kcore"]),
        "ReadonlyPaths" => json!(["/proc/sys"]),
        other => panic!("no sample value for field {other}: add one here and a policy in src/api/create_fields.rs"),
    }
}

fn containers(d: &TestDaemon) -> usize {
    let r = common::http::get(d, "/containers/json?all=1");
    serde_json::from_slice::<Vec<Value>>(&r.body).map(|l| l.len()).unwrap_or(usize::MAX)
}

fn walk(d: &TestDaemon) {
    use berth::api::create_fields::{Policy, CONFIG, HOST_CONFIG};
    d.import_busybox();
    let mut refused = 0;
    for (section, table) in [("", CONFIG), ("HostConfig", HOST_CONFIG)] {
        for (field, policy) in table {
            let mut body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {}});
            let value = sample(field);
            if section.is_empty() {
                body[*field] = value;
            } else {
                body[section][*field] = value;
            }
            // Config.Volumes is taken where a bind covers each destination.
            if *field == "Volumes" {
                body["HostConfig"]["Binds"] = json!(["/tmp:/data"]);
            }
            let path = if section.is_empty() { (*field).to_owned() } else { format!("{section}.{field}") };
            let before = containers(d);
            let r = post_json(d, "/v1.41/containers/create", &body.to_string());
            // A block I/O weight needs a proportional I/O scheduler: where the host has none,
            // berth refuses it by name rather than discard it as Docker does.
            let support = berth::runtime::cgroups::support::support();
            let host_cannot = match *field {
                "BlkioWeight" => !support.blkio_weight,
                "BlkioWeightDevice" => !support.blkio_weight_device,
                _ => false,
            };
            let policy = if host_cannot { &Policy::Unsupported } else { policy };
            match policy {
                Policy::Honoured | Policy::Ignored => {
                    assert_eq!(r.status, 201, "{path} is honoured, yet create answered {} {}", r.status, r.text());
                    let id = serde_json::from_slice::<Value>(&r.body).ok().and_then(|v| v["Id"].as_str().map(str::to_owned)).expect("Id");
                    d.berth_ok(&["rm", &id]);
                }
                Policy::Unsupported | Policy::OnlyValues(_) => {
                    assert_eq!(r.status, 400, "{path} = {} was not refused: {} {}", sample(field), r.status, r.text());
                    assert!(r.message().contains(&path), "the refusal names {path}: {}", r.message());
                    assert_eq!(containers(d), before, "a refused create ({path}) made a container");
                    refused += 1;
                }
            }
        }
    }
    // 21 since Tmpfs, ShmSize, GroupAdd, Sysctls, RestartPolicy, Healthcheck, Privileged,
    // Devices, DeviceCgroupRules, PidMode, IpcMode, UTSMode, AttachStdin, Tty, OpenStdin,
    // StdinOnce, the Blkio* limits, CgroupnsMode and the network fields (NetworkMode,
    // PortBindings, PublishAllPorts, ExposedPorts, MacAddress), Binds, Mounts and Volumes (where a
    // bind covers it) are honoured; fewer means
    // lost rows.
    assert!(refused >= 21, "only {refused} fields refused: the table lost fields");
    // Without a bind there, Config.Volumes asks for an anonymous volume: refused by name.
    let body = json!({"Image": "busybox", "Cmd": ["true"], "Volumes": {"/data": {}}});
    let r = post_json(d, "/v1.41/containers/create", &body.to_string());
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("Config.Volumes"), "{}", r.message());
}

#[test]
fn every_create_field_is_honoured_or_refused_by_name_modular() {
    walk(&TestDaemon::modular("cfm"));
}

#[test]
fn every_create_field_is_honoured_or_refused_by_name_monolithic() {
    walk(&TestDaemon::monolithic("cfo"));
}

/// The docker CLI (28.x and Debian's 20.10) gets the refusal as an error naming the flag's
/// field, and nothing is left behind.
#[test]
fn docker_run_with_an_unsupported_flag_fails_naming_the_field() {
    let d = TestDaemon::modular("cfd");
    d.import_busybox();
    for bin in ["/usr/local/bin/docker", "/usr/bin/docker"] {
        common::need(std::path::Path::new(bin).exists(), bin);
        for (flag, field) in [
            (vec!["--link", "other:alias"], "HostConfig.Links"),
            (vec!["--storage-opt", "size=1G"], "HostConfig.StorageOpt"),
            (vec!["--volumes-from", "other"], "HostConfig.VolumesFrom"),
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend(flag.iter().copied());
            args.extend(["busybox", "true"]);
            let out = common::docker_bin_cmd(bin, &d).args(&args).output().expect("run docker");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && err.contains(field), "{bin} {args:?}: {err}");
        }
        // A plain run still works with the CLI's full default body.
        let out = common::docker_bin_cmd(bin, &d).args(["run", "--rm", "busybox", "echo", "ok"]).output().expect("run docker");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{bin}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(containers(&d), 0, "nothing left behind");
}
