//! The shape of `docker inspect`: every key dockerd (API 1.41) shows for a container or an
//! image, with berth's values where it has them and Docker's zero value for the situation
//! where it has none (no networks: the "none" network's empty endpoint; no volumes:
//! no binds). Keys Docker leaves out when empty (`omitempty`) are left out the same way.

// Go's `omitempty` leaves out the same zero values create reads as "not asked for".
use super::container::{Container, Status};
use super::Daemon;
use crate::api::create_fields::is_empty;
use crate::image::Image;
use serde_json::{json, Map, Value};

/// `container.Config` of the Engine API with Docker's zero values (keys that are always shown).
fn zero_config() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": null,
        "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": null
    })
}

/// Keys of `container.Config` Docker leaves out when empty.
const CONFIG_OMITEMPTY: &[&str] =
    &["ExposedPorts", "Healthcheck", "ArgsEscaped", "NetworkDisabled", "MacAddress", "StopSignal", "StopTimeout", "Shell"];

/// `HostConfig` keys berth keeps no value for, with Docker's zero value for a container
/// that does not use them (berth refuses every non-zero value of them at create).
fn zero_host_config() -> Value {
    json!({
        "Binds": null, "ContainerIDFile": "", "PortBindings": {}, "VolumeDriver": "", "VolumesFrom": null,
        "Cgroup": "", "Links": null, "PublishAllPorts": false, "UsernsMode": "", "Isolation": "",
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "DeviceRequests": null, "KernelMemory": 0,
        "KernelMemoryTCP": 0, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "CapAdd": null, "CapDrop": null, "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null,
        "GroupAdd": null, "OomScoreAdj": 0, "Privileged": false, "ReadonlyRootfs": false, "SecurityOpt": null,
        "Ulimits": [], "Devices": [], "DeviceCgroupRules": null
    })
}

/// Keys of `HostConfig` Docker leaves out when empty.
const HOST_CONFIG_OMITEMPTY: &[&str] = &["StorageOpt", "Tmpfs", "Sysctls", "Runtime", "Mounts", "Init", "Annotations"];

/// `v` (an object, else a new one) with every key of `zero` it lacks and without the empty
/// values of `omit`.
fn fill(v: &mut Value, zero: Value, omit: &[&str]) {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let Some(m) = v.as_object_mut() else { return };
    if let Value::Object(z) = zero {
        for (k, zv) in z {
            m.entry(k).or_insert(zv);
        }
    }
    m.retain(|k, v| !(omit.contains(&k.as_str()) && is_empty(v)));
}

/// A `container.Config` as Docker shows it: every key, the empty optional ones left out.
pub fn config_shape(mut v: Value) -> Value {
    // Every field of Docker's HealthConfig is left out when empty.
    if let Some(Value::Object(h)) = v.get_mut("Healthcheck") {
        h.retain(|_, x| !is_empty(x));
    }
    fill(&mut v, zero_config(), CONFIG_OMITEMPTY);
    v
}

/// The networks a container is on, by name, in `EndpointSettings` shape: what it asked
/// for, with its endpoint's addresses while it runs.
pub fn networks(c: &Container) -> Value {
    let mut out = serde_json::Map::new();
    for (name, cfg) in &c.networks {
        let ep = c.sandbox.as_ref().and_then(|sb| sb.endpoints.get(name));
        out.insert(name.clone(), super::network::inspect::endpoint(cfg, ep));
    }
    Value::Object(out)
}

impl Daemon {
    /// `GET /containers/{id}/json` completed to Docker's shape: `v` is berth's own answer.
    pub fn complete_container_inspect(&self, c: &Container, v: &mut Value) {
        let Some(m) = v.as_object_mut() else { return };
        let dir = self.containers.dir_of(&c.id).join(super::etc_files::DIR);
        let path = |name: &str| Value::from(dir.join(name).to_string_lossy().into_owned());
        m.insert("ResolvConfPath".into(), path("resolv.conf"));
        m.insert("HostnamePath".into(), path("hostname"));
        m.insert("HostsPath".into(), path("hosts"));
        // berth applies no SELinux labels nor AppArmor profiles.
        m.insert("MountLabel".into(), "".into());
        m.insert("ProcessLabel".into(), "".into());
        m.insert("AppArmorProfile".into(), "".into());
        let execs = self.execs.of_container(&c.id);
        m.insert("ExecIDs".into(), if execs.is_empty() { Value::Null } else { Value::from(execs) });
        m.insert("GraphDriver".into(), self.container_graph_driver(c));
        m.entry("Mounts").or_insert_with(|| json!([]));
        if let Some(config) = m.get_mut("Config") {
            let mut cfg = config_shape(config.take());
            cfg["Hostname"] = super::etc_files::hostname(c).into();
            *config = cfg;
        }
        if let Some(hc) = m.get_mut("HostConfig") {
            fill(hc, zero_host_config(), HOST_CONFIG_OMITEMPTY);
            let privileged = c.host_config.privileged;
            let (masked, readonly) =
                if privileged { (Value::Null, Value::Null) } else { (json!(super::spec::MASKED_PATHS), json!(super::spec::READONLY_PATHS)) };
            hc["MaskedPaths"] = masked;
            hc["ReadonlyPaths"] = readonly;
            hc["Runtime"] = self.config.runtime.oci_runtime().into();
        }
        let running = c.state.status == Status::Running && c.state.pid > 0;
        let networks = networks(c);
        // The deprecated top-level fields repeat the default bridge's endpoint.
        let bridge = networks.get("bridge").cloned().unwrap_or(Value::Null);
        let top = |k: &str, zero: Value| bridge.get(k).cloned().unwrap_or(zero);
        let sandbox = c.sandbox.as_ref().filter(|_| running);
        let exposed: Vec<String> = c.config.exposed_ports.iter().flatten().map(|(k, _)| k.clone()).collect();
        let key = match sandbox {
            Some(sb) => sb.key.to_string_lossy().into_owned(),
            // A container in another's namespace, or the host's, or loopback only.
            None if running => format!("/proc/{}/ns/net", c.state.pid),
            None => String::new(),
        };
        m.insert(
            "NetworkSettings".into(),
            json!({
                "Bridge": "", "SandboxID": sandbox.map(|s| s.id.clone()).unwrap_or_default(), "HairpinMode": false,
                "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                "Ports": super::network::inspect::ports(&exposed, sandbox.map(|s| s.ports.as_slice()).unwrap_or_default()),
                "SandboxKey": key,
                "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
                "EndpointID": top("EndpointID", "".into()), "Gateway": top("Gateway", "".into()),
                "GlobalIPv6Address": top("GlobalIPv6Address", "".into()), "GlobalIPv6PrefixLen": top("GlobalIPv6PrefixLen", 0.into()),
                "IPAddress": top("IPAddress", "".into()), "IPPrefixLen": top("IPPrefixLen", 0.into()),
                "IPv6Gateway": top("IPv6Gateway", "".into()), "MacAddress": top("MacAddress", "".into()),
                "Networks": networks
            }),
        );
    }

    /// `GraphDriver` of container `c`: overlay2's layer dirs (init layer over the image's,
    /// the container's upper, work and merged dirs); vfs has no data, as in Docker.
    fn container_graph_driver(&self, c: &Container) -> Value {
        let name = self.overlay.name();
        let crate::storage::Driver::Overlay2(o) = &self.overlay else {
            return json!({ "Name": name, "Data": null });
        };
        let base = o.dir().join(&c.id);
        let mut lowers = vec![base.join("init")];
        if let Ok(img) = self.images.get(&c.image_id) {
            lowers.extend(self.lowers(&img));
        }
        let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
        let lower = lowers.into_iter().map(s).collect::<Vec<_>>().join(":");
        json!({
            "Name": name,
            "Data": { "LowerDir": lower, "MergedDir": s(base.join("merged")), "UpperDir": s(base.join("upper")), "WorkDir": s(base.join("work")) }
        })
    }

    /// `GraphDriver` of image `img`: with overlay2 its top layer's dir as `UpperDir` and the
    /// layers below as `LowerDir` (when there are any); image layers are never mounted, so
    /// they have no merged or work dir (empty).
    pub fn image_graph_driver(&self, img: &Image) -> Value {
        let name = self.overlay.name();
        if !matches!(self.overlay, crate::storage::Driver::Overlay2(_)) {
            return json!({ "Name": name, "Data": null });
        }
        let dirs: Vec<String> = self.lowers(img).into_iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let mut data = json!({ "MergedDir": "", "UpperDir": dirs.first().cloned().unwrap_or_default(), "WorkDir": "" });
        if dirs.len() > 1 {
            data["LowerDir"] = dirs[1..].join(":").into();
        }
        json!({ "Name": name, "Data": data })
    }
}
