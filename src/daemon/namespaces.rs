//! The namespaces of a container (`--pid`, `--ipc`, `--uts`, `--cgroupns`), as Docker's:
//! private by default (the cgroup namespace: private on a cgroup v2 host, the host's on v1);
//! `host` shares the host's (no namespace in the spec); `container:<name|id>` joins a running
//! container's; `none` is private IPC without /dev/shm; the host's IPC namespace comes with
//! the host's /dev/shm, a `shareable` one with a /dev/shm the daemon keeps on the host side
//! ([`super::shm`]), which a container joining it binds too.

use crate::api::types::HostConfig;
use serde_json::{json, Value};
use std::path::PathBuf;

/// How a container gets one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Its own.
    Private,
    /// Its own, joinable by others (IPC `shareable`).
    Shareable,
    /// Its own IPC namespace without /dev/shm (IPC `none`).
    NoShm,
    /// The host's.
    Host,
    /// That of the running container named.
    Container(String),
}

/// Which field a mode comes from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pid,
    Ipc,
    Uts,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Pid => "PidMode",
            Kind::Ipc => "IpcMode",
            Kind::Uts => "UTSMode",
        }
    }

    fn oci(self) -> &'static str {
        match self {
            Kind::Pid => "pid",
            Kind::Ipc => "ipc",
            Kind::Uts => "uts",
        }
    }
}

/// Parses the mode `value` of `kind` as Docker accepts it.
pub fn parse(kind: Kind, value: &str) -> Result<Mode, String> {
    let bad = || format!("invalid HostConfig.{}: {value:?}", kind.field());
    match (kind, value) {
        (_, "") => Ok(Mode::Private),
        (_, "host") => Ok(Mode::Host),
        (Kind::Ipc, "private") => Ok(Mode::Private),
        (Kind::Ipc, "shareable") => Ok(Mode::Shareable),
        (Kind::Ipc, "none") => Ok(Mode::NoShm),
        (Kind::Pid | Kind::Ipc, v) => match v.strip_prefix("container:") {
            Some(name) if !name.is_empty() => Ok(Mode::Container(name.to_owned())),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// The three modes of `hc`.
pub fn modes(hc: &HostConfig) -> Result<[(Kind, Mode); 3], String> {
    Ok([(Kind::Pid, parse(Kind::Pid, &hc.pid_mode)?), (Kind::Ipc, parse(Kind::Ipc, &hc.ipc_mode)?), (Kind::Uts, parse(Kind::Uts, &hc.uts_mode)?)])
}

/// Whether the container gets a cgroup namespace of its own: `CgroupnsMode` `private`, or
/// empty on a cgroup v2 host (`v2`), as Docker's default.
pub fn private_cgroupns(hc: &HostConfig, v2: bool) -> Result<bool, String> {
    match hc.cgroupns_mode.as_str() {
        "" => Ok(v2),
        "private" => Ok(true),
        "host" => Ok(false),
        other => Err(format!("invalid HostConfig.CgroupnsMode: {other:?} (host or private)")),
    }
}

/// Checks the modes of a create (`hostname` is the container's own `Hostname`).
pub fn check(hc: &HostConfig, hostname: &str) -> Result<(), String> {
    let [_, (_, ipc), (_, uts)] = modes(hc)?;
    private_cgroupns(hc, false)?;
    if uts == Mode::Host && !hostname.is_empty() {
        return Err("conflicting options: hostname and the UTS mode".into());
    }
    if !matches!(ipc, Mode::Private | Mode::Shareable) {
        // Its /dev/shm is the host's, its donor's or none: a size or a tmpfs of its own
        // would be dropped.
        if hc.shm_size != 0 {
            return Err(format!("conflicting options: ShmSize and IpcMode {:?} (the container has no /dev/shm of its own)", hc.ipc_mode));
        }
        if hc.tmpfs.iter().flatten().any(|(d, _)| std::path::Path::new(d) == std::path::Path::new("/dev/shm")) {
            return Err(format!("conflicting options: a tmpfs on /dev/shm and IpcMode {:?} (the container has no /dev/shm of its own)", hc.ipc_mode));
        }
    }
    if ipc == Mode::Shareable && hc.tmpfs.iter().flatten().any(|(d, _)| std::path::Path::new(d) == std::path::Path::new("/dev/shm")) {
        return Err(
            "conflicting options: a tmpfs on /dev/shm and IpcMode \"shareable\" (its /dev/shm is the one others join; size it with ShmSize)".into()
        );
    }
    Ok(())
}

/// A running container a namespace is joined from.
pub struct Donor {
    /// Its init's pid.
    pub pid: i32,
    /// Its shareable /dev/shm on the host (for an IPC join; the lookup refuses a donor
    /// without one).
    pub shm: Option<PathBuf>,
}

/// Sets the spec's pid, ipc, uts and cgroup namespaces (after mount and network) and, for a
/// shared IPC namespace, its /dev/shm: `own_shm` is this container's shareable one (mounted
/// for `--ipc shareable`); `donor` finds the running container a mode names; `v2`: the host
/// is cgroup v2 (Docker's default cgroup namespace mode depends on it).
pub fn apply(
    spec: &mut Value,
    hc: &HostConfig,
    own_shm: Option<&std::path::Path>,
    v2: bool,
    donor: impl Fn(Kind, &str) -> Result<Donor, String>,
) -> Result<(), String> {
    let mut namespaces = vec![json!({ "type": "mount" }), json!({ "type": "network" })];
    let mut shm: Option<Option<PathBuf>> = None;
    for (kind, mode) in modes(hc)? {
        match mode {
            Mode::Private => namespaces.push(json!({ "type": kind.oci() })),
            Mode::Shareable => {
                namespaces.push(json!({ "type": kind.oci() }));
                let own = own_shm.ok_or("IpcMode shareable: its /dev/shm is not mounted")?;
                shm = Some(Some(own.to_path_buf()));
            }
            Mode::NoShm => {
                namespaces.push(json!({ "type": kind.oci() }));
                shm = Some(None);
            }
            Mode::Host => {
                if kind == Kind::Uts {
                    // No UTS namespace: the runtime must not set the (host's) name.
                    if let Some(p) = spec.as_object_mut() {
                        p.remove("hostname");
                        p.remove("domainname");
                    }
                }
                if kind == Kind::Ipc {
                    shm = Some(Some(PathBuf::from("/dev/shm")));
                }
            }
            Mode::Container(name) => {
                let d = donor(kind, &name)?;
                namespaces.push(json!({ "type": kind.oci(), "path": format!("/proc/{}/ns/{}", d.pid, kind.oci()) }));
                if kind == Kind::Ipc {
                    let donor_shm = d.shm.ok_or_else(|| {
                        format!("cannot join IPC of container {name}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
                    })?;
                    shm = Some(Some(donor_shm));
                }
            }
        }
    }
    if private_cgroupns(hc, v2)? {
        namespaces.push(json!({ "type": "cgroup" }));
    }
    spec["linux"]["namespaces"] = Value::Array(namespaces);
    if let (Some(source), Some(mounts)) = (shm, spec["mounts"].as_array_mut()) {
        mounts.retain(|m| m["destination"] != "/dev/shm");
        if let Some(source) = source {
            mounts.push(
                json!({ "destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rw", "nosuid", "nodev", "noexec"] }),
            );
        }
    }
    Ok(())
}

/// Points the spec's network namespace where a start's networking says: a path to join, a
/// new one (left as [`apply`] made it), or none at all (the daemon's own, `host`).
pub fn set_network(spec: &mut Value, ns: &super::sandbox::NetNs) {
    let Some(list) = spec["linux"]["namespaces"].as_array_mut() else { return };
    match ns {
        super::sandbox::NetNs::New => {}
        super::sandbox::NetNs::Host => list.retain(|n| n["type"] != "network"),
        super::sandbox::NetNs::Join(p) => {
            for n in list.iter_mut().filter(|n| n["type"] == "network") {
                n["path"] = p.to_string_lossy().into_owned().into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(pid: &str, ipc: &str, uts: &str) -> HostConfig {
        HostConfig { pid_mode: pid.into(), ipc_mode: ipc.into(), uts_mode: uts.into(), ..Default::default() }
    }

    fn spec() -> Value {
        json!({ "hostname": "h", "mounts": [{ "destination": "/dev/shm", "type": "tmpfs" }], "linux": {} })
    }

    fn types(s: &Value) -> Vec<String> {
        s["linux"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| format!("{}{}", n["type"].as_str().unwrap_or(""), n["path"].as_str().map(|p| format!("={p}")).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn modes_parse_as_docker_accepts_them() {
        assert_eq!(parse(Kind::Ipc, "shareable"), Ok(Mode::Shareable));
        assert_eq!(parse(Kind::Pid, "container:db"), Ok(Mode::Container("db".into())));
        assert_eq!(parse(Kind::Ipc, "container:db"), Ok(Mode::Container("db".into())));
        for (k, v) in [(Kind::Uts, "container:db"), (Kind::Pid, "shareable"), (Kind::Ipc, "container:"), (Kind::Uts, "private")] {
            assert!(parse(k, v).expect_err(v).contains(v), "{k:?} {v}");
        }
        assert!(check(&hc("", "", "host"), "myhost").expect_err("conflict").contains("hostname and the UTS mode"));
        check(&hc("", "container:db", ""), "").expect("an IPC join");
        let sized = HostConfig { shm_size: 1 << 20, ..hc("", "host", "") };
        assert!(check(&sized, "").expect_err("shm size").contains("ShmSize and IpcMode"));
        let tmpfs = HostConfig { tmpfs: Some([("/dev/shm/".to_owned(), String::new())].into()), ..hc("", "shareable", "") };
        assert!(check(&tmpfs, "").expect_err("tmpfs").contains("a tmpfs on /dev/shm"));
        let cg = |m: &str| HostConfig { cgroupns_mode: m.into(), ..Default::default() };
        assert_eq!((private_cgroupns(&cg(""), false), private_cgroupns(&cg(""), true)), (Ok(false), Ok(true)), "Docker's defaults");
        assert_eq!(private_cgroupns(&cg("private"), false), Ok(true));
        assert!(check(&cg("container:x"), "").expect_err("cgroupns").contains("CgroupnsMode"));
    }

    #[test]
    fn host_drops_the_namespace_and_container_joins_the_donors() {
        let donor = |_: Kind, n: &str| match n {
            "db" => Ok(Donor { pid: 42, shm: Some(PathBuf::from("/r/db/mounts/shm")) }),
            "plain" => Ok(Donor { pid: 43, shm: None }),
            _ => Err(format!("no {n}")),
        };
        let shm_bind = |src: &str| json!([{ "destination": "/dev/shm", "type": "bind", "source": src, "options": ["rbind", "rw", "nosuid", "nodev", "noexec"] }]);
        let mut s = spec();
        apply(&mut s, &hc("container:db", "host", "host"), None, false, donor).expect("apply");
        assert_eq!(types(&s), ["mount", "network", "pid=/proc/42/ns/pid"]);
        assert!(s.get("hostname").is_none(), "no hostname without a UTS namespace");
        assert_eq!(s["mounts"], shm_bind("/dev/shm"));
        let mut s = spec();
        apply(&mut s, &hc("", "none", ""), None, true, donor).expect("apply");
        assert_eq!(types(&s), ["mount", "network", "pid", "ipc", "uts", "cgroup"]);
        assert_eq!(s["mounts"], json!([]), "no /dev/shm with IpcMode none");
        let mut s = spec();
        apply(&mut s, &hc("", "container:db", ""), None, false, donor).expect("ipc join");
        assert_eq!(types(&s), ["mount", "network", "pid", "ipc=/proc/42/ns/ipc", "uts"]);
        assert_eq!(s["mounts"], shm_bind("/r/db/mounts/shm"), "the donor's /dev/shm");
        let mut s = spec();
        apply(&mut s, &hc("", "shareable", ""), Some(std::path::Path::new("/r/me/mounts/shm")), false, donor).expect("shareable");
        assert_eq!(s["mounts"], shm_bind("/r/me/mounts/shm"));
        assert!(apply(&mut spec(), &hc("", "shareable", ""), None, false, donor).is_err(), "shareable needs its /dev/shm");
        assert!(apply(&mut spec(), &hc("", "container:plain", ""), None, false, donor).expect_err("not shareable").contains("non-shareable IPC"));
        assert!(apply(&mut spec(), &hc("container:nope", "", ""), None, false, donor).expect_err("missing").contains("nope"));
    }
}
