//! `berth stats`: a live table of containers' resource usage (redrawn each second), or one
//! snapshot with `--no-stream`, with the docker CLI's columns and arithmetic: CPU % from the
//! container's and the host's CPU time since the previous sample, memory without the
//! inactive page cache, network and block I/O totals, pids.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;

use super::container_path;
use crate::api::types::ContainerSummary;
use crate::client::error::{ClientError, Result};
use crate::client::format::{bytes_size, human_size, table};
use crate::client::http::{empty, EngineClient, Query};
use crate::client::template::Format;

/// What `berth stats` was asked.
#[derive(Debug, Clone, Default)]
pub struct StatsOptions {
    /// Show all containers (default shows just running)
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    pub no_stream: bool,
    /// Do not truncate output
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    pub format: Option<String>,
    pub containers: Vec<String>,
}

const HEADER: [&str; 8] = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"];

/// docker's default `stats` table, and the fields its templates see (in [`row`]'s order).
const STATS_TABLE: &str = "table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}";
const FIELDS: [&str; 8] = ["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"];

/// The rows as `--format` renders them (or docker's table without one).
fn render(format: Option<&Format>, rows: &[Vec<String>]) -> Result<String> {
    let Some(f) = format else { return Ok(table(&HEADER, rows)) };
    let ctx = |cells: &[String], container: &str| {
        let mut m: serde_json::Map<String, Value> = FIELDS.iter().zip(cells).map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect();
        m.insert("Container".into(), Value::String(container.to_owned()));
        Value::Object(m)
    };
    let header: Vec<String> = HEADER.iter().map(|h| (*h).to_owned()).collect();
    let items: Vec<Value> = rows.iter().map(|r| ctx(r, r.first().map(String::as_str).unwrap_or_default())).collect();
    f.render_all(&ctx(&header, "CONTAINER"), &items)
}

fn u(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// CPU % as the docker CLI computes it on Linux: the container's share of the host's CPU time
/// since the previous sample, times the CPUs online.
pub fn cpu_percent(s: &Value) -> f64 {
    let (cpu, pre) = (&s["cpu_stats"], &s["precpu_stats"]);
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let system_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let mut online = u(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"].as_array().map_or(0, Vec::len) as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the inactive page cache (`total_inactive_file` on v1,
/// `inactive_file` on v2), as the docker CLI shows it.
pub fn memory_used(s: &Value) -> f64 {
    let m = &s["memory_stats"];
    let usage = u(&m["usage"]);
    let cache = match m["stats"].get("total_inactive_file") {
        Some(v) => u(v),
        None => u(&m["stats"]["inactive_file"]),
    };
    if cache < usage {
        usage - cache
    } else {
        usage
    }
}

/// (read, write) bytes of `blkio_stats.io_service_bytes_recursive`.
fn block_io(s: &Value) -> (f64, f64) {
    let (mut r, mut w) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"].as_array().into_iter().flatten() {
        match e["op"].as_str().and_then(|o| o.chars().next()).map(|c| c.to_ascii_lowercase()) {
            Some('r') => r += u(&e["value"]),
            Some('w') => w += u(&e["value"]),
            _ => {}
        }
    }
    (r, w)
}

/// (received, sent) bytes over every interface.
fn net_io(s: &Value) -> (f64, f64) {
    let nets = s["networks"].as_object();
    nets.into_iter().flatten().fold((0.0, 0.0), |(rx, tx), (_, n)| (rx + u(&n["rx_bytes"]), tx + u(&n["tx_bytes"])))
}

/// One table row of the sample `s` of container `id`.
pub fn row(id: &str, s: &Value, no_trunc: bool) -> Vec<String> {
    let id = if no_trunc { id.to_owned() } else { id.chars().take(12).collect() };
    let name = s["name"].as_str().unwrap_or_default().trim_start_matches('/').to_owned();
    let limit = u(&s["memory_stats"]["limit"]);
    let used = memory_used(s);
    let mem_pct = if limit > 0.0 { used / limit * 100.0 } else { 0.0 };
    let (rx, tx) = net_io(s);
    let (br, bw) = block_io(s);
    vec![
        id,
        name,
        format!("{:.2}%", cpu_percent(s)),
        format!("{} / {}", bytes_size(used as i64), bytes_size(limit as i64)),
        format!("{mem_pct:.2}%"),
        format!("{} / {}", human_size(rx as i64), human_size(tx as i64)),
        format!("{} / {}", human_size(br as i64), human_size(bw as i64)),
        s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    ]
}

/// The containers to show: those named (resolved to ids), else every running one (`-a`: all).
async fn targets(client: &EngineClient, a: &StatsOptions) -> Result<Vec<String>> {
    if a.containers.is_empty() {
        let q = Query::new().flag("all", a.all).encode();
        let list: Vec<ContainerSummary> = client.get_json(&format!("/containers/json{q}")).await?;
        return Ok(list.into_iter().map(|c| c.id).collect());
    }
    let mut ids = Vec::new();
    for name in &a.containers {
        let v = client.get_value(&container_path(name, "/json")).await?;
        ids.push(v["Id"].as_str().unwrap_or(name).to_owned());
    }
    Ok(ids)
}

/// `berth stats [OPTIONS] [CONTAINER...]`.
pub async fn stats(client: &EngineClient, a: &StatsOptions) -> Result<u8> {
    let format = match a.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => Some(Format::list(f, STATS_TABLE)?),
        None => None,
    };
    let ids = targets(client, a).await?;
    if a.no_stream {
        let mut rows = Vec::new();
        for id in &ids {
            let q = Query::new().set("stream", "false").encode();
            let s = client.get_value(&container_path(id, &format!("/stats{q}"))).await?;
            rows.push(row(id, &s, a.no_trunc));
        }
        print!("{}", render(format.as_ref(), &rows)?);
        return Ok(0);
    }
    let latest: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
    for id in &ids {
        let resp = client.call(Method::GET, &container_path(id, "/stats"), &[], empty()).await?;
        let (latest, id) = (latest.clone(), id.clone());
        tokio::spawn(async move {
            let mut body = resp.into_body();
            let mut buf = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else { continue };
                buf.extend_from_slice(&data);
                while let Some(n) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=n).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                        latest.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), v);
                    }
                }
            }
        });
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let rows: Vec<Vec<String>> = {
            let map = latest.lock().unwrap_or_else(|p| p.into_inner());
            ids.iter().filter_map(|id| map.get(id).map(|s| row(id, s, a.no_trunc))).collect()
        };
        // Clear the screen and redraw from the top, as the docker CLI does.
        let out = format!("\x1b[2J\x1b[H{}", render(format.as_ref(), &rows)?);
        std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes()).map_err(|e| ClientError::io("write stats", e))?;
        std::io::Write::flush(&mut std::io::stdout()).map_err(|e| ClientError::io("write stats", e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_computes_dockers_columns() {
        let s = json!({
            "name": "/web",
            "cpu_stats": { "cpu_usage": { "total_usage": 300 }, "system_cpu_usage": 2000, "online_cpus": 2 },
            "precpu_stats": { "cpu_usage": { "total_usage": 100 }, "system_cpu_usage": 1000 },
            "memory_stats": { "usage": 3 << 20, "limit": 8 << 20, "stats": { "total_inactive_file": 1 << 20 } },
            "networks": { "eth0": { "rx_bytes": 1500, "tx_bytes": 0 } },
            "blkio_stats": { "io_service_bytes_recursive": [ { "op": "Read", "value": 4096 }, { "op": "Write", "value": 0 } ] },
            "pids_stats": { "current": 3 }
        });
        let r = row("0123456789abcdef", &s, false);
        assert_eq!(r, ["0123456789ab", "web", "40.00%", "2MiB / 8MiB", "25.00%", "1.5kB / 0B", "4.1kB / 0B", "3"]);
    }
}
