//! Which fields of `POST /containers/create` berth honours. Every field of the Engine API's
//! `Config` and `HostConfig` is listed: a field berth does not implement is accepted only
//! with its "not asked for" value (what the docker CLI sends when no flag sets it), and any
//! other value is refused by name, never accepted and dropped. Keys the API does not define
//! are ignored, as Docker's decoder ignores them.

use serde_json::Value;

/// What berth does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Honoured (a test shows it).
    Honoured,
    /// Not implemented: refused unless it holds its empty value (null, false, 0, "", [], {}).
    Unsupported,
    /// Not implemented, but these strings (besides the empty value) ask for what berth does
    /// anyway (e.g. `IpcMode: "private"`).
    OnlyValues(&'static [&'static str]),
    /// Meaningless to the daemon and ignored by Docker's too (Windows-only `ArgsEscaped`, the
    /// CLI's own `ContainerIDFile`): accepted whatever it holds.
    Ignored,
}

use Policy::*;

/// The fields of `Config` (the top level of the create body), Engine API v1.41.
pub const CONFIG: &[(&str, Policy)] = &[
    ("Hostname", Honoured),
    ("Domainname", Honoured),
    ("User", Honoured),
    ("AttachStdin", Honoured),
    ("AttachStdout", Honoured),
    ("AttachStderr", Honoured),
    ("ExposedPorts", Honoured),
    ("Tty", Honoured),
    ("OpenStdin", Honoured),
    ("StdinOnce", Honoured),
    ("Env", Honoured),
    ("Cmd", Honoured),
    ("Healthcheck", Honoured),
    ("ArgsEscaped", Ignored),
    ("Image", Honoured),
    // Checked at create: each destination must be a bind's.
    ("Volumes", Honoured),
    ("WorkingDir", Honoured),
    ("Entrypoint", Honoured),
    // Without networks, a container already has no network but loopback.
    ("NetworkDisabled", Honoured),
    ("MacAddress", Honoured),
    ("OnBuild", Unsupported),
    ("Labels", Honoured),
    ("StopSignal", Honoured),
    ("StopTimeout", Honoured),
    ("Shell", Unsupported),
];

/// The fields of `HostConfig`, Engine API v1.41.
pub const HOST_CONFIG: &[(&str, Policy)] = &[
    // Resources.
    ("CpuShares", Honoured),
    ("Memory", Honoured),
    ("CgroupParent", Honoured),
    ("BlkioWeight", Honoured),
    ("BlkioWeightDevice", Honoured),
    ("BlkioDeviceReadBps", Honoured),
    ("BlkioDeviceWriteBps", Honoured),
    ("BlkioDeviceReadIOps", Honoured),
    ("BlkioDeviceWriteIOps", Honoured),
    ("CpuPeriod", Honoured),
    ("CpuQuota", Honoured),
    ("CpuRealtimePeriod", Unsupported),
    ("CpuRealtimeRuntime", Unsupported),
    ("CpusetCpus", Honoured),
    ("CpusetMems", Honoured),
    ("Devices", Honoured),
    ("DeviceCgroupRules", Honoured),
    ("DeviceRequests", Unsupported),
    ("KernelMemory", Unsupported),
    ("KernelMemoryTCP", Unsupported),
    ("MemoryReservation", Honoured),
    ("MemorySwap", Honoured),
    ("MemorySwappiness", Honoured),
    ("NanoCpus", Honoured),
    ("OomKillDisable", Honoured),
    ("Init", Honoured),
    ("PidsLimit", Honoured),
    ("Ulimits", Honoured),
    // Windows-only: Docker on Linux discards or refuses them; berth refuses.
    ("CpuCount", Unsupported),
    ("CpuPercent", Unsupported),
    ("IOMaximumIOps", Unsupported),
    ("IOMaximumBandwidth", Unsupported),
    // The rest.
    ("Binds", Honoured),
    ("ContainerIDFile", Ignored),
    ("LogConfig", Honoured),
    // Without networks: a network namespace with loopback only, which is "none".
    ("NetworkMode", Honoured),
    ("PortBindings", Honoured),
    ("RestartPolicy", Honoured),
    ("AutoRemove", Honoured),
    ("VolumeDriver", Unsupported),
    ("VolumesFrom", Unsupported),
    ("Mounts", Honoured),
    ("ConsoleSize", Honoured),
    ("CapAdd", Honoured),
    ("CapDrop", Honoured),
    ("CgroupnsMode", Honoured),
    ("Dns", Honoured),
    ("DnsOptions", Honoured),
    ("DnsSearch", Honoured),
    ("ExtraHosts", Honoured),
    ("GroupAdd", Honoured),
    ("IpcMode", Honoured),
    ("Cgroup", Unsupported),
    ("Links", Unsupported),
    ("OomScoreAdj", Honoured),
    ("PidMode", Honoured),
    ("Privileged", Honoured),
    ("PublishAllPorts", Honoured),
    ("ReadonlyRootfs", Honoured),
    ("SecurityOpt", Honoured),
    ("StorageOpt", Unsupported),
    ("Tmpfs", Honoured),
    ("UTSMode", Honoured),
    // No user namespace: the host's.
    ("UsernsMode", OnlyValues(&["host"])),
    ("ShmSize", Honoured),
    ("Sysctls", Honoured),
    ("Runtime", Unsupported),
    ("Isolation", OnlyValues(&["default"])),
    ("MaskedPaths", Unsupported),
    ("ReadonlyPaths", Unsupported),
];

/// Whether `v` is a field's "not asked for" value.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Values the docker CLI and SDKs send for fields left alone that are not empty values.
fn is_default(section: &str, field: &str, v: &Value) -> bool {
    match (section, field) {
        // -1 asks for the kernel's default swappiness, as absent does.
        ("HostConfig", "MemorySwappiness") => v.as_i64() == Some(-1),
        _ => false,
    }
}

fn check(section: &str, table: &[(&str, Policy)], obj: Option<&serde_json::Map<String, Value>>, out: &mut Vec<String>) {
    let Some(obj) = obj else { return };
    for (field, policy) in table {
        let Some(v) = obj.get(*field) else { continue };
        let refused = match policy {
            Honoured | Ignored => false,
            Unsupported => !is_empty(v) && !is_default(section, field, v),
            OnlyValues(ok) => !is_empty(v) && !v.as_str().is_some_and(|s| ok.contains(&s)),
        };
        if refused {
            let shown = if section.is_empty() { (*field).to_owned() } else { format!("{section}.{field}") };
            out.push(shown);
        }
    }
}

/// The fields of a create body that ask for what berth does not implement, by path
/// (`User`, `HostConfig.Privileged`, `NetworkingConfig.EndpointsConfig`).
pub fn unsupported(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check("", CONFIG, body.as_object(), &mut out);
    check("HostConfig", HOST_CONFIG, body.get("HostConfig").and_then(Value::as_object), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What docker CLI 28 sends for `docker run busybox true`.
    fn plain_run() -> Value {
        json!({
            "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": true,
            "AttachStderr": true, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": null,
            "Cmd": ["true"], "Image": "busybox", "Volumes": {}, "WorkingDir": "", "Entrypoint": null,
            "OnBuild": null, "Labels": {},
            "HostConfig": {
                "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
                "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [24, 80],
                "CapAdd": null, "CapDrop": null, "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [],
                "ExtraHosts": null, "GroupAdd": null, "IpcMode": "", "Cgroup": "", "Links": null, "OomScoreAdj": 0,
                "PidMode": "", "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false,
                "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "Isolation": "",
                "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
                "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
                "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
                "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
                "Devices": [], "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0,
                "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": null, "PidsLimit": null,
                "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
                "MaskedPaths": null, "ReadonlyPaths": null
            },
            "NetworkingConfig": {"EndpointsConfig": {"default": {"IPAMConfig": null, "Links": null, "Aliases": null,
                "MacAddress": "", "DriverOpts": null, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": ""}}}
        })
    }

    #[test]
    fn a_plain_docker_run_asks_for_nothing_berth_lacks() {
        assert_eq!(unsupported(&plain_run()), Vec::<String>::new());
    }

    #[test]
    fn each_unsupported_field_set_is_refused_by_its_path() {
        let mut body = plain_run();
        body["HostConfig"]["VolumesFrom"] = json!(["data"]);
        body["HostConfig"]["Links"] = json!(["db:db"]);
        assert_eq!(unsupported(&body), ["HostConfig.VolumesFrom", "HostConfig.Links"]);
    }

    #[test]
    fn values_that_ask_for_what_berth_does_are_accepted() {
        let mut body = plain_run();
        body["HostConfig"]["NetworkMode"] = json!("none");
        body["HostConfig"]["IpcMode"] = json!("private");
        body["HostConfig"]["UsernsMode"] = json!("host");
        body["HostConfig"]["MemorySwappiness"] = json!(-1);
        body["HostConfig"]["ShmSize"] = json!(64 << 20);
        body["HostConfig"]["Memory"] = json!(1 << 26);
        body["NotAnApiField"] = json!("ignored as Docker ignores it");
        assert_eq!(unsupported(&body), Vec::<String>::new());
        // Every network mode and endpoint is the daemon's to check (network::plan).
        body["HostConfig"]["NetworkMode"] = json!("host");
        body["NetworkingConfig"]["EndpointsConfig"] = json!({"net": {"Aliases": ["a"]}});
        assert_eq!(unsupported(&body), Vec::<String>::new());
    }
}
