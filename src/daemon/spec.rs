//! The OCI runtime spec (config.json) the daemon generates for a container, with Docker's
//! defaults: the usual namespaces and mounts, the resources asked for, masked paths, Docker's
//! seccomp profile.

use super::container::Container;
use serde_json::{json, Value};
use std::path::Path;

/// The OCI process of `docker exec` in container `c`: the container's environment with the
/// exec's on top, its working directory unless the exec names one, the container's
/// capabilities (all of them with `privileged`), no_new_privs and rlimits. Its seccomp filter
/// is the container's (`linux.seccomp`), which the runtime gives every exec, as runc does.
pub fn exec_process(
    c: &Container,
    cmd: &[String],
    env: &[String],
    working_dir: &str,
    tty: bool,
    privileged: bool,
) -> Result<Value, super::DaemonError> {
    let mut all_env = c.env.clone();
    for e in env {
        let key = e.split('=').next().unwrap_or(e);
        all_env.retain(|old| old.split('=').next() != Some(key));
        all_env.push(e.clone());
    }
    let cwd = [working_dir, &c.config.working_dir].into_iter().find(|d| !d.is_empty()).unwrap_or("/");
    let caps: Vec<String> =
        if privileged { crate::runtime::capabilities::in_bounding_set() } else { super::host_config::capabilities(&c.host_config)? };
    Ok(json!({
        "terminal": tty,
        "user": { "uid": 0, "gid": 0 },
        "args": cmd,
        "env": all_env,
        "cwd": cwd,
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "noNewPrivileges": super::host_config::security_options(&c.host_config)?.no_new_privileges,
        "rlimits": super::host_config::rlimits(c.host_config.ulimits.as_deref().unwrap_or_default())?
    }))
}

/// Paths Docker masks in every unprivileged container.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths Docker makes read-only in every unprivileged container.
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// The cgroup a container's processes go to: `<parent>/<id>`.
pub fn cgroups_path(cgroup_parent: &str, id: &str) -> String {
    format!("/{}/{}", cgroup_parent.trim_matches('/'), id)
}

/// The security options every container [`build`] makes gets, as `docker info` lists them:
/// Docker's default seccomp profile unless the container asks otherwise. This list and
/// `build` change together; `docker info` must not claim a protection containers do not have.
pub const SECURITY_OPTIONS: &[&str] = &["name=seccomp,profile=builtin"];

/// Builds config.json for container `c` whose rootfs is mounted at `rootfs`, its process
/// running as `user` (resolved in that rootfs: see [`super::user`]).
pub fn build(c: &Container, rootfs: &Path, cgroup_parent: &str, user: &super::user::ExecUser) -> Result<Value, super::DaemonError> {
    use super::host_config as hc;
    let mut args = vec![c.path.clone()];
    args.extend(c.args.iter().cloned());
    let cwd = if c.config.working_dir.is_empty() { "/".to_owned() } else { c.config.working_dir.clone() };
    let hostname = super::etc_files::hostname(c);
    let support = crate::runtime::cgroups::support::support();
    let mut resources = hc::resources(&c.host_config, support.swap)?;
    if let Some(b) = super::blkio::block_io(&c.host_config, &support).map_err(super::DaemonError::BadRequest)? {
        resources.insert("blockIO".into(), b);
    }
    let (devices, allowed) = super::devices::devices(&c.host_config).map_err(|e| super::DaemonError::BadRequest(e.to_string()))?;
    let mut rules = vec![json!({ "allow": false, "access": "rwm" })];
    rules.extend(allowed);
    resources.insert("devices".into(), Value::Array(rules));
    let caps = hc::capabilities(&c.host_config)?;
    let security = hc::security_options(&c.host_config)?;
    // Judged against the container's final capabilities, as dockerd does; none for a
    // privileged container (Docker's: it runs unconfined).
    let seccomp = if c.host_config.privileged { None } else { super::seccomp_profile::linux_seccomp(&security.seccomp, &caps)? };
    let (masked, readonly): (&[&str], &[&str]) = if c.host_config.privileged { (&[], &[]) } else { (MASKED_PATHS, READONLY_PATHS) };
    let parent = if c.host_config.cgroup_parent.is_empty() { cgroup_parent } else { &c.host_config.cgroup_parent };
    // As Docker: HOME is the user's home unless the environment sets it.
    let mut env = c.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": c.config.tty,
            "user": { "uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids },
            "args": args,
            "env": env,
            "cwd": cwd,
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "noNewPrivileges": security.no_new_privileges,
            "rlimits": hc::rlimits(c.host_config.ulimits.as_deref().unwrap_or_default())?,
            "oomScoreAdj": c.host_config.oom_score_adj
        },
        "root": { "path": rootfs, "readonly": c.host_config.readonly_rootfs },
        "hostname": hostname,
        "domainname": c.config.domainname,
        "mounts": super::mounts::mounts(&c.host_config)?,
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" }
            ],
            "cgroupsPath": cgroups_path(parent, &c.id),
            "resources": resources,
            "devices": devices,
            "maskedPaths": masked,
            "readonlyPaths": readonly
        }
    });
    let sysctl = hc::sysctls(&c.host_config)?;
    if !sysctl.is_empty() {
        spec["linux"]["sysctl"] = Value::Object(sysctl);
    }
    if let Some(seccomp) = seccomp {
        spec["linux"]["seccomp"] = seccomp;
    }
    // The terminal starts at the caller's size (`HostConfig.ConsoleSize`), as Docker's.
    if let (true, Some([height, width])) = (c.config.tty, c.host_config.console_size) {
        spec["process"]["consoleSize"] = json!({ "height": height, "width": width });
    }
    Ok(spec)
}

/// Where `--init` puts the init in the container, as Docker does.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Makes `init_binary` (this multicall binary, whose `docker-init` role is the init) PID 1 of
/// the container: bound read-only at [`INIT_PATH`] and run as `docker-init -- <command>`.
pub fn add_init(spec: &mut Value, init_binary: &Path) {
    let mut args = vec![json!(INIT_PATH), json!("--")];
    args.extend(spec["process"]["args"].as_array().cloned().unwrap_or_default());
    spec["process"]["args"] = Value::Array(args);
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.push(json!({ "destination": INIT_PATH, "type": "bind", "source": init_binary, "options": ["bind", "ro"] }));
    }
}
