//! `update`: change a container's cgroup limits live: `--resources` (a linux.resources
//! JSON, `-` for stdin, as containerd's shim passes it), then each flag on top.

use std::path::PathBuf;

use crate::runtime::resource_flags::ResourceFlags;
use crate::runtime::Runtime;

/// The flags of `update`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// resources.json (linux.resources format); `-` reads stdin.
    #[arg(short = 'r', long = "resources")]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g suffix).
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory+swap limit.
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Block I/O weight (10 to 1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Maximum number of pids (-1 or 0: unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// CPU shares (relative weight); runc spells it --cpu-share.
    #[arg(long = "cpu-shares", visible_alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs (-1: none).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period in µs.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// Real-time period in µs.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Real-time runtime in µs per period.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (cpuset list).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Container id.
    pub id: String,
}

/// Applies the update.
pub fn run(rt: &Runtime, u: &Args) -> Result<(), String> {
    let base: serde_json::Value = match &u.resources {
        Some(p) if p.as_os_str() == "-" => serde_json::from_reader(std::io::stdin()).map_err(|e| format!("parsing resources from stdin: {e}"))?,
        Some(p) => {
            let data = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_slice(&data).map_err(|e| format!("parsing {}: {e}", p.display()))?
        }
        None => serde_json::json!({}),
    };
    let flags = ResourceFlags {
        memory: u.memory.clone(),
        memory_swap: u.memory_swap.clone(),
        memory_reservation: u.memory_reservation.clone(),
        blkio_weight: u.blkio_weight,
        pids_limit: u.pids_limit,
        cpu_shares: u.cpu_shares,
        cpu_quota: u.cpu_quota,
        cpu_period: u.cpu_period,
        cpu_rt_period: u.cpu_rt_period,
        cpu_rt_runtime: u.cpu_rt_runtime,
        cpuset_cpus: u.cpuset_cpus.clone(),
        cpuset_mems: u.cpuset_mems.clone(),
    };
    let res = flags.apply(&u.id, base).map_err(|e| e.to_string())?;
    rt.update(&u.id, &res).map_err(|e| e.to_string())
}
