//! `HostConfig` of the Engine API's container create and inspect bodies, with its parts.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use super::types::null_default;

/// `HostConfig` of `POST /containers/create` (what the host grants the container).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `[height, width]` of the container's terminal at start (with `Tty`).
    pub console_size: Option<[u32; 2]>,
    #[serde(deserialize_with = "null_default")]
    pub memory: i64,
    #[serde(deserialize_with = "null_default")]
    pub memory_reservation: i64,
    /// Memory plus swap; -1 unlimited; 0 with `Memory` set: twice `Memory` (Docker's default).
    #[serde(deserialize_with = "null_default")]
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub cpu_shares: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpu_period: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpu_quota: i64,
    /// CPUs in billionths (`--cpus`).
    #[serde(deserialize_with = "null_default")]
    pub nano_cpus: i64,
    #[serde(deserialize_with = "null_default")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "null_default")]
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub oom_score_adj: i64,
    pub ulimits: Option<Vec<Ulimit>>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub auto_remove: bool,
    #[serde(deserialize_with = "null_default")]
    pub network_mode: String,
    /// `-p`: `80/tcp` to its host bindings.
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    /// `-P`: every exposed port on an ephemeral host port.
    #[serde(deserialize_with = "null_default")]
    pub publish_all_ports: bool,
    #[serde(deserialize_with = "null_default")]
    pub cgroup_parent: String,
    /// `name:ip` lines for /etc/hosts (`--add-host`).
    pub extra_hosts: Option<Vec<String>>,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    /// Run berth's init as PID 1 (`--init`).
    pub init: Option<bool>,
    /// tmpfs mounts (`--tmpfs`): destination to its mount options (`rw,size=64m`).
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// Bind mounts and volumes as `-v` gives them (`src:dst[:mode]`).
    pub binds: Option<Vec<String>>,
    /// Mounts as `--mount` gives them (`Type`, `Source`, `Target`, ...), kept as sent and
    /// checked by `daemon::mountpoints`.
    pub mounts: Option<Vec<serde_json::Value>>,
    /// Bytes of /dev/shm (`--shm-size`); 0 at create means Docker's 64 MiB.
    #[serde(deserialize_with = "null_default")]
    pub shm_size: i64,
    /// Supplementary groups of the process (`--group-add`): names in the container's
    /// /etc/group, or numbers.
    pub group_add: Option<Vec<String>>,
    /// Namespaced sysctls set in the container (`--sysctl`).
    pub sysctls: Option<BTreeMap<String, String>>,
    #[serde(deserialize_with = "null_default")]
    pub log_config: LogConfig,
    /// `--restart`: what to do when the container exits.
    #[serde(deserialize_with = "null_default")]
    pub restart_policy: RestartPolicy,
    /// `--privileged`: every capability and host device, no seccomp, masks or read-only /sys.
    #[serde(deserialize_with = "null_default")]
    pub privileged: bool,
    /// `--device`: host devices made in the container.
    pub devices: Option<Vec<DeviceMapping>>,
    /// `--device-cgroup-rule`: `TYPE MAJOR:MINOR ACCESS` access rules.
    pub device_cgroup_rules: Option<Vec<String>>,
    /// `--pid`: `""`, `host` or `container:<name|id>`.
    #[serde(deserialize_with = "null_default")]
    pub pid_mode: String,
    /// `--ipc`: `""`, `private`, `shareable`, `none`, `host` or `container:<name|id>`.
    #[serde(deserialize_with = "null_default")]
    pub ipc_mode: String,
    /// `--uts`: `""` or `host`.
    #[serde(rename = "UTSMode", deserialize_with = "null_default")]
    pub uts_mode: String,
    /// `--cgroupns`: `""`, `host` or `private`.
    #[serde(deserialize_with = "null_default")]
    pub cgroupns_mode: String,
    /// `--blkio-weight`: 10..1000, 0 for none.
    #[serde(deserialize_with = "null_default")]
    pub blkio_weight: u16,
    /// `--blkio-weight-device`.
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// `--device-read-bps`.
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    /// `--device-write-bps`.
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    /// `--device-read-iops`.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    /// `--device-write-iops`.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
}

/// One host binding of a published port (`-p [HostIp:][HostPort:]port`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    #[serde(deserialize_with = "null_default")]
    pub host_ip: String,
    #[serde(deserialize_with = "null_default")]
    pub host_port: String,
}

/// A block device's weight (`HostConfig.BlkioWeightDevice`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    #[serde(deserialize_with = "null_default")]
    pub weight: u16,
}

/// A block device's rate limit, bytes or operations per second (`BlkioDeviceReadBps`...).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    #[serde(deserialize_with = "null_default")]
    pub rate: u64,
}

/// One `HostConfig.Devices` entry (`--device HOST[:CONTAINER[:PERMS]]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    #[serde(deserialize_with = "null_default")]
    pub path_on_host: String,
    #[serde(deserialize_with = "null_default")]
    pub path_in_container: String,
    #[serde(deserialize_with = "null_default")]
    pub cgroup_permissions: String,
}

/// `HostConfig.RestartPolicy`: `no`, `always`, `unless-stopped` or `on-failure` (with at most
/// `MaximumRetryCount` restarts; 0 is no limit).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub maximum_retry_count: i64,
}

/// One `--ulimit` (`HostConfig.Ulimits`): a resource name as Docker spells it (`nofile`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub soft: i64,
    #[serde(deserialize_with = "null_default")]
    pub hard: i64,
}

/// `HostConfig.LogConfig`: the log driver and its options (`--log-opt`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    #[serde(rename = "Config")]
    #[serde(deserialize_with = "null_default")]
    pub config: HashMap<String, String>,
}
