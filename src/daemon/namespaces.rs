//! The namespaces of a container (`--pid`, `--ipc`, `--uts`), as Docker's: private by default;
//! `host` shares the host's (no namespace in the spec); `container:<name|id>` joins a running
//! container's (PID only, for now: joining an IPC namespace needs the donor's /dev/shm on the
//! host side, which berth does not keep yet, so `--ipc container:` is refused by name);
//! `none` is private IPC without /dev/shm; the host's IPC namespace comes with the host's
//! /dev/shm.

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

/// Checks the modes of a create (`hostname` is the container's own `Hostname`).
pub fn check(hc: &HostConfig, hostname: &str) -> Result<(), String> {
    let [_, (_, ipc), (_, uts)] = modes(hc)?;
    if let Mode::Container(name) = ipc {
        return Err(ipc_join_refused(&name));
    }
    if uts == Mode::Host && !hostname.is_empty() {
        return Err("conflicting options: hostname and the UTS mode".into());
    }
    Ok(())
}

fn ipc_join_refused(name: &str) -> String {
    format!("HostConfig.IpcMode container:{name} is not supported by berth yet (the donor's /dev/shm is not shareable)")
}

/// A running container a namespace is joined from: its init's pid.
pub struct Donor {
    pub pid: i32,
}

/// Sets the spec's pid, ipc and uts namespaces (after mount and network) and, for a shared
/// IPC namespace, its /dev/shm; `donor` finds the running container a mode names.
pub fn apply(spec: &mut Value, hc: &HostConfig, donor: impl Fn(&str) -> Result<Donor, String>) -> Result<(), String> {
    let mut namespaces = vec![json!({ "type": "mount" }), json!({ "type": "network" })];
    let mut shm: Option<Option<PathBuf>> = None;
    for (kind, mode) in modes(hc)? {
        match mode {
            Mode::Private | Mode::Shareable => namespaces.push(json!({ "type": kind.oci() })),
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
            Mode::Container(name) if kind == Kind::Ipc => return Err(ipc_join_refused(&name)),
            Mode::Container(name) => {
                let d = donor(&name)?;
                namespaces.push(json!({ "type": kind.oci(), "path": format!("/proc/{}/ns/{}", d.pid, kind.oci()) }));
            }
        }
    }
    spec["linux"]["namespaces"] = Value::Array(namespaces);
    if let (Some(source), Some(mounts)) = (shm, spec["mounts"].as_array_mut()) {
        mounts.retain(|m| m["destination"] != "/dev/shm");
        if let Some(source) = source {
            mounts.push(json!({ "destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rw"] }));
        }
    }
    Ok(())
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
        for (k, v) in [(Kind::Uts, "container:db"), (Kind::Pid, "shareable"), (Kind::Ipc, "container:"), (Kind::Uts, "private")] {
            assert!(parse(k, v).expect_err(v).contains(v), "{k:?} {v}");
        }
        assert!(check(&hc("", "", "host"), "myhost").expect_err("conflict").contains("hostname and the UTS mode"));
        assert!(check(&hc("", "container:db", ""), "").expect_err("ipc join").contains("IpcMode container:db"));
    }

    #[test]
    fn host_drops_the_namespace_and_container_joins_the_donors() {
        let donor = |n: &str| if n == "db" { Ok(Donor { pid: 42 }) } else { Err(format!("no {n}")) };
        let mut s = spec();
        apply(&mut s, &hc("container:db", "host", "host"), donor).expect("apply");
        assert_eq!(types(&s), ["mount", "network", "pid=/proc/42/ns/pid"]);
        assert!(s.get("hostname").is_none(), "no hostname without a UTS namespace");
        assert_eq!(s["mounts"], json!([{ "destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rw"] }]));
        let mut s = spec();
        apply(&mut s, &hc("", "none", ""), donor).expect("apply");
        assert_eq!(types(&s), ["mount", "network", "pid", "ipc", "uts"]);
        assert_eq!(s["mounts"], json!([]), "no /dev/shm with IpcMode none");
        assert!(apply(&mut spec(), &hc("", "container:db", ""), donor).expect_err("ipc join").contains("IpcMode container:db"));
        assert!(apply(&mut spec(), &hc("container:nope", "", ""), donor).expect_err("missing").contains("nope"));
    }
}
