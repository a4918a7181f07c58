//! Request and response bodies of the Engine API, with Docker's field names.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use super::host_config::*;

/// Reads `null` as the field's default (its absence), as Go's decoder in dockerd does: Compose
/// v2 and the SDKs send `null` for optional objects, lists and strings left unset.
pub(super) fn null_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `Config` of `POST /containers/create` (the container's own settings).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    #[serde(deserialize_with = "null_default")]
    pub hostname: String,
    #[serde(deserialize_with = "null_default")]
    pub domainname: String,
    #[serde(deserialize_with = "null_default")]
    pub user: String,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdout: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stderr: bool,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(deserialize_with = "null_default")]
    pub open_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "cmd_slice")]
    pub cmd: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    /// Destinations of anonymous volumes (`{"/data": {}}`); berth takes only those a bind
    /// covers (Compose sends its binds' destinations here).
    pub volumes: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    #[serde(deserialize_with = "null_default")]
    pub working_dir: String,
    #[serde(deserialize_with = "entrypoint_slice")]
    pub entrypoint: Option<Vec<String>>,
    pub labels: Option<HashMap<String, String>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// The health probe (`--health-*`, else the image's `HEALTHCHECK`).
    pub healthcheck: Option<HealthConfig>,
    /// Ports the container listens on (`--expose`, the image's `EXPOSE`): `80/tcp` keys.
    pub exposed_ports: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    /// `--mac-address` as API versions before 1.44 send it (later ones in the endpoint).
    #[serde(deserialize_with = "null_default", skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
}

/// `Config.Healthcheck` (a container's or an image's): the probe and its timing, durations
/// in nanoseconds, 0 meaning the default (or, in a container's, the image's).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `[]` (inherit), `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", command]`.
    #[serde(deserialize_with = "null_default")]
    pub test: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub interval: i64,
    #[serde(deserialize_with = "null_default")]
    pub timeout: i64,
    #[serde(deserialize_with = "null_default")]
    pub start_period: i64,
    #[serde(deserialize_with = "null_default")]
    pub start_interval: i64,
    #[serde(deserialize_with = "null_default")]
    pub retries: i64,
}

/// `State.Health` of a container with a healthcheck.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    /// The last probes, oldest first.
    pub log: Vec<HealthResult>,
}

/// One probe of a healthcheck.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// Docker's `StrSlice` (`Cmd`, `Entrypoint`): a list of strings, a single string (a list
/// of one), or null.
/// (The field is named in the error: `ContainerCreateRequest` flattens this struct, so the
/// JSON path of a bad value is lost.)
fn str_slice<'de, D: serde::Deserializer<'de>>(d: D, field: &'static str) -> Result<Option<Vec<String>>, D::Error> {
    struct StrSlice(&'static str);
    impl<'de> serde::de::Visitor<'de> for StrSlice {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a string or a list of strings for {}", self.0)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(vec![s.to_owned()]))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                v.push(s);
            }
            Ok(Some(v))
        }
    }
    d.deserialize_any(StrSlice(field))
}

fn cmd_slice<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    str_slice(d, "Cmd")
}

fn entrypoint_slice<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    str_slice(d, "Entrypoint")
}

/// Body of `POST /containers/create`: `Config` fields at the top level plus `HostConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(deserialize_with = "null_default")]
    pub host_config: HostConfig,
    /// The networks to join at create and their endpoint settings.
    pub networking_config: Option<NetworkingConfig>,
}

/// `NetworkingConfig` of a create body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<std::collections::BTreeMap<String, EndpointSettings>>,
}

/// What a client asks of one endpoint (`EndpointSettings` of create and network connect).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub mac_address: String,
    pub driver_opts: Option<std::collections::BTreeMap<String, String>>,
    #[serde(rename = "NetworkID", deserialize_with = "null_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_default")]
    pub endpoint_id: String,
    #[serde(deserialize_with = "null_default")]
    pub gateway: String,
    #[serde(rename = "IPAddress", deserialize_with = "null_default")]
    pub ip_address: String,
    #[serde(deserialize_with = "null_default")]
    pub gw_priority: i64,
}

/// `IPAMConfig` of an endpoint: static addresses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointIpamConfig {
    #[serde(rename = "IPv4Address", deserialize_with = "null_default")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", deserialize_with = "null_default")]
    pub ipv6_address: String,
    #[serde(rename = "LinkLocalIPs")]
    pub link_local_ips: Option<Vec<String>>,
}

/// Answer of `POST /containers/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub state: String,
    pub status: String,
    pub ports: Vec<serde_json::Value>,
    pub labels: HashMap<String, String>,
    pub host_config: serde_json::Value,
    pub network_settings: serde_json::Value,
    pub mounts: Vec<serde_json::Value>,
    /// Bytes the container changed (only when sizes were asked for: `system df`, `ps -s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Bytes of its image plus its changes (with `size_rw`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

/// `State` of `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub log_path: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub network_settings: serde_json::Value,
    pub mounts: Vec<serde_json::Value>,
}

/// One entry of `GET /images/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub virtual_size: i64,
    pub shared_size: i64,
    pub labels: HashMap<String, String>,
    pub containers: i64,
}

/// Answer of `POST /commit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdResponse {
    pub id: String,
}

/// One entry of `DELETE /images/{name}` and of `ImagesDeleted` in `POST /images/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageDeleteItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// Answer of `POST /images/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImagesPruneReport {
    pub images_deleted: Vec<ImageDeleteItem>,
    pub space_reclaimed: u64,
}

/// Answer of `GET /system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    /// Bytes of every distinct layer (a layer shared by several images counts once).
    pub layers_size: i64,
    /// Every image, with `Size`, `SharedSize` and `Containers` filled in.
    pub images: Vec<ImageSummary>,
    /// Every container, with `SizeRw` and `SizeRootFs`.
    pub containers: Vec<ContainerSummary>,
    pub volumes: Vec<serde_json::Value>,
    pub build_cache: Vec<serde_json::Value>,
}

/// `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    pub status_code: i64,
    pub error: Option<WaitError>,
}

/// Error member of [`WaitResponse`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitError {
    pub message: String,
}

/// One component of `GET /version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    pub name: String,
    pub version: String,
    pub details: HashMap<String, String>,
}

/// `GET /version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Version {
    pub platform: HashMap<String, String>,
    pub components: Vec<ComponentVersion>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

/// Error body of every failing Engine API call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorResponse {
    pub message: String,
}

/// One line of a JSON progress stream (`POST /images/create`, pull, push).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProgressMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorResponse>,
}

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub cmd: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub working_dir: String,
    #[serde(deserialize_with = "null_default")]
    pub user: String,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdout: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stderr: bool,
    #[serde(deserialize_with = "null_default")]
    pub privileged: bool,
    #[serde(deserialize_with = "null_default")]
    pub detach_keys: String,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartConfig {
    #[serde(deserialize_with = "null_default")]
    pub detach: bool,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    /// `[height, width]` of the terminal from its start (API 1.42).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
}

/// `ProcessConfig` of an exec inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecProcessConfig {
    pub tty: bool,
    pub entrypoint: String,
    pub arguments: Vec<String>,
    pub privileged: bool,
    pub user: String,
}

/// Answer of `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub process_config: ExecProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub detach_keys: String,
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_and_entrypoint_take_a_string_a_list_or_null_as_dockers_strslice() {
        let c: ContainerConfig = serde_json::from_str(r#"{"Cmd":"echo hi","Entrypoint":["/bin/sh","-c"]}"#).expect("parse");
        assert_eq!(c.cmd, Some(vec!["echo hi".to_owned()]));
        assert_eq!(c.entrypoint, Some(vec!["/bin/sh".to_owned(), "-c".to_owned()]));
        let c: ContainerConfig = serde_json::from_str(r#"{"Cmd":null}"#).expect("parse");
        assert_eq!(c.cmd, None);
        let c: ContainerConfig = serde_json::from_str("{}").expect("parse");
        assert_eq!(c.entrypoint, None);
        assert!(serde_json::from_str::<ContainerConfig>(r#"{"Cmd":5}"#).is_err());
        assert!(serde_json::from_str::<ContainerConfig>(r#"{"Cmd":["a",1]}"#).is_err());
    }

    #[test]
    fn null_reads_as_absent_everywhere_as_dockerd_reads_it() {
        let body = r#"{"Hostname":null,"User":null,"Tty":null,"Env":null,"Cmd":null,"Image":"busybox","Labels":null,"WorkingDir":null,
            "HostConfig":{"LogConfig":{"Type":"","Config":null},"Memory":null,"CpusetCpus":null,"ReadonlyRootfs":null,"NetworkMode":null,
            "Tmpfs":null,"ShmSize":null,"GroupAdd":null,"Sysctls":null,"Ulimits":[{"Name":"nofile","Soft":null,"Hard":5}]}}"#;
        let r: ContainerCreateRequest = serde_json::from_str(body).expect("nulls are absent values");
        assert_eq!((r.config.image.as_str(), r.config.hostname.as_str(), r.config.tty), ("busybox", "", false));
        assert!(r.host_config.log_config.config.is_empty() && r.host_config.tmpfs.is_none());
        assert_eq!(r.host_config.ulimits, Some(vec![Ulimit { name: "nofile".into(), soft: 0, hard: 5 }]));
        let r: ContainerCreateRequest = serde_json::from_str(r#"{"Image":"busybox","HostConfig":null}"#).expect("a null HostConfig");
        assert_eq!(r.host_config.memory, 0);
        assert!(serde_json::from_str::<ContainerCreateRequest>(r#"{"HostConfig":{"Memory":"lots"}}"#).is_err(), "a wrong type is still refused");
        let e: ExecConfig = serde_json::from_str(r#"{"Cmd":["true"],"User":null,"WorkingDir":null,"Tty":null,"DetachKeys":null,"Env":null}"#)
            .expect("an exec body with nulls");
        assert!(e.user.is_empty() && !e.tty);
    }
}
