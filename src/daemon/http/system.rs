//! `/version`, `/info` and `/system/df`.

use super::{blocking, ApiResult, D};
use crate::api::types::*;
use crate::api::{API_VERSION, MIN_API_VERSION};
use crate::daemon::container::Status;
use crate::daemon::host;
use axum::extract::State;
use axum::Json;
use std::collections::HashMap;

fn kernel_version() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

pub(super) async fn version(State(d): D) -> Json<Version> {
    let (comp, comp_ver) = d.backend().component();
    let engine = ComponentVersion {
        name: "Engine".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        details: HashMap::from([
            ("ApiVersion".into(), API_VERSION.into()),
            ("MinAPIVersion".into(), MIN_API_VERSION.into()),
            ("Os".into(), "linux".into()),
            ("Arch".into(), "amd64".into()),
            ("KernelVersion".into(), kernel_version()),
            ("GitCommit".into(), "berth".into()),
            ("GoVersion".into(), "rust".into()),
            ("BuildTime".into(), String::new()),
            ("Experimental".into(), "false".into()),
        ]),
    };
    Json(Version {
        platform: HashMap::from([("Name".into(), "berth".into())]),
        components: vec![engine, ComponentVersion { name: comp.into(), version: comp_ver.into(), details: HashMap::new() }],
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: "berth".into(),
        go_version: "rust".into(),
        os: "linux".into(),
        arch: "amd64".into(),
        kernel_version: kernel_version(),
        build_time: String::new(),
    })
}

fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

/// Whether sysctl `name` (under /proc/sys) reads 1; false when the host has none.
fn sysctl_on(name: &str) -> bool {
    std::fs::read_to_string(std::path::Path::new("/proc/sys").join(name)).is_ok_and(|v| v.trim() == "1")
}

/// `GET /info`: every key dockerd 20.10 shows, with the host's and berth's values.
pub(super) async fn info(State(d): D) -> Json<serde_json::Value> {
    let cs = d.containers.list();
    let up = cs.iter().filter(|c| c.state.status == Status::Running).count();
    let paused = cs.iter().filter(|c| c.state.status == Status::Running && c.state.paused).count();
    let images = d.images.list().map(|l| l.len()).unwrap_or(0);
    let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .unwrap_or(0)
        * 1024;
    let mode = if d.config.monolithic { "monolithic" } else { "modular" };
    let cg = crate::runtime::cgroups::support::support();
    let os = host::os_release();
    // The OCI runtime under the shim, as dockerd names its default runc.
    let runtime = d.config.runtime.oci_runtime();
    let runtime_path = match d.config.runtime {
        crate::daemon::supervisor_client::ShimRuntime::Berth => "berth-runtime",
        crate::daemon::supervisor_client::ShimRuntime::Runc => "runc",
    };
    Json(serde_json::json!({
        "ID": "berth",
        "Containers": cs.len(),
        "ContainersRunning": up - paused,
        "ContainersPaused": paused,
        "ContainersStopped": cs.len() - up,
        "Images": images,
        "Driver": d.storage_driver_name(),
        "DriverStatus": d.storage_driver_status().into_iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
        "Plugins": { "Volume": [], "Network": [], "Authorization": null, "Log": ["json-file"] },
        "MemoryLimit": cg.memory, "SwapLimit": cg.swap, "CpuCfsPeriod": cg.cpu_cfs_period, "CpuCfsQuota": cg.cpu_cfs_quota,
        "CPUShares": cg.cpu_shares, "CPUSet": cg.cpuset, "PidsLimit": cg.pids, "OomKillDisable": cg.oom_kill_disable,
        "IPv4Forwarding": host::ip_forwarding(),
        // Host facts dockerd reports: the bridge netfilter sysctls, the v1 kmem controls.
        "BridgeNfIptables": sysctl_on("net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
        "KernelMemory": std::path::Path::new("/sys/fs/cgroup/memory/memory.kmem.limit_in_bytes").exists(),
        "KernelMemoryTCP": std::path::Path::new("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes").exists(),
        "Debug": tracing::enabled!(tracing::Level::DEBUG), "NFd": host::open_fds(), "NGoroutines": host::threads(),
        "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os.pretty_name,
        "OSVersion": os.version_id,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": { "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [], "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": { "docker.io": { "Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true } }, "Mirrors": [] },
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem,
        "GenericResources": null,
        "DockerRootDir": d.config.root,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": hostname,
        "Labels": [format!("berth.mode={mode}")],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": { runtime: { "path": runtime_path } },
        "DefaultRuntime": runtime,
        "Swarm": { "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
        "LiveRestoreEnabled": !d.config.monolithic,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": { "ID": "berth", "Expected": "berth" },
        "RuncCommit": { "ID": "berth", "Expected": "berth" },
        "InitCommit": { "ID": "", "Expected": "" },
        "SecurityOptions": crate::daemon::spec::SECURITY_OPTIONS,
        "Warnings": null
    }))
}

/// `GET /system/df`: every image with its size, the part of it shared with other images and
/// its containers; every container with the bytes it changed; the bytes of all distinct
/// layers.
pub(super) async fn system_df(State(d): D) -> ApiResult<Json<DiskUsage>> {
    let usage = blocking({
        let d = d.clone();
        move || d.disk_usage()
    })
    .await?;
    let now = chrono::Utc::now();
    let images = usage
        .images
        .iter()
        .map(|u| ImageSummary {
            shared_size: u.shared_size as i64,
            ..super::images::image_summary(&u.image, d.images.repo_digests(&u.image.id), u.containers as i64)
        })
        .collect();
    let containers = usage
        .containers
        .iter()
        .map(|u| ContainerSummary {
            size_rw: Some(u.size_rw as i64),
            size_root_fs: Some(u.size_root_fs as i64),
            ..super::containers::summary(&u.container, now)
        })
        .collect();
    Ok(Json(DiskUsage { layers_size: usage.layers_size as i64, images, containers, volumes: d.volume_usage(), build_cache: vec![] }))
}

/// The body of `POST /auth` (Docker's AuthConfig).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct AuthConfig {
    username: String,
    password: String,
    serveraddress: String,
}

/// `POST /auth`: checks credentials against a registry (`docker login`); the client keeps them.
pub(super) async fn auth(Json(a): Json<AuthConfig>) -> ApiResult<Json<serde_json::Value>> {
    use crate::image::login::{self, LoginError};
    let server = if a.serveraddress.is_empty() { login::HUB_ADDRESS } else { a.serveraddress.as_str() };
    match login::login(server, &a.username, &a.password).await {
        Ok(()) => Ok(Json(serde_json::json!({"Status": "Login Succeeded", "IdentityToken": ""}))),
        Err(e @ LoginError::Unauthorized { .. }) => Err(super::ApiError(axum::http::StatusCode::UNAUTHORIZED, e.to_string())),
        Err(e) => Err(super::ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}
