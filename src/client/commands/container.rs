//! Container commands: ps, logs, stop, kill, pause, unpause, rm, start, wait, inspect,
//! commit, export.

use super::container_path;
use crate::api::filters::Filters;
use crate::api::types::{ContainerSummary, IdResponse, WaitResponse};
use crate::client::error::{ClientError, Result};
use crate::client::format::{ago, ellipsis, go_quote, human_size, inspect_array, now_unix, short_id, table};
use crate::client::http::{empty, escape, EngineClient, Query};
use crate::client::stdio::{copy_body, StdioSink};
use crate::client::template::{tabwriter, Format};
use crate::client::timestamp::api_timestamp;
use hyper::Method;

/// `berth ps` options.
#[derive(Debug, Clone, Default)]
pub struct PsOptions {
    pub all: bool,
    pub quiet: bool,
    pub no_trunc: bool,
    /// `--filter name=value` arguments.
    pub filters: Vec<String>,
    /// `--format`: a Go template, `table ...` or `json`.
    pub format: Option<String>,
    /// `-n`: the last N created containers (any state); `-l` is 1.
    pub last: Option<i64>,
    /// `-s`: ask for sizes.
    pub size: bool,
}

/// docker's default `ps` table.
const PS_TABLE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Go's `time.Time.String()` of a Unix time, in the local zone as docker prints `CreatedAt`.
pub fn go_time(secs: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(secs, 0).single() {
        Some(t) if t.offset().local_minus_utc() == 0 => t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M:%S %z").to_string(),
        None => secs.to_string(),
    }
}

/// The fields docker's `ps --format` templates see for one container.
fn ps_context(c: &ContainerSummary, opts: &PsOptions, now: i64) -> serde_json::Value {
    let id = if opts.no_trunc { c.id.clone() } else { short_id(&c.id) };
    let command = if opts.no_trunc { c.command.clone() } else { ellipsis(&c.command, 20) };
    let names: Vec<&str> = c.names.iter().map(|n| n.strip_prefix('/').unwrap_or(n)).filter(|n| opts.no_trunc || !n.contains('/')).collect();
    let mut labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    let mount_name = |m: &serde_json::Value| {
        let name = m.get("Name").and_then(|v| v.as_str()).filter(|n| !n.is_empty());
        let name = name.or_else(|| m.get("Source").and_then(|v| v.as_str())).unwrap_or("");
        if opts.no_trunc {
            name.to_owned()
        } else {
            ellipsis(name, 15)
        }
    };
    let networks: Vec<String> =
        c.network_settings.get("Networks").and_then(|n| n.as_object()).map(|n| n.keys().cloned().collect()).unwrap_or_default();
    let local_volumes = c.mounts.iter().filter(|m| m.get("Driver").and_then(|d| d.as_str()) == Some("local")).count();
    let size = match (c.size_rw, c.size_root_fs) {
        (Some(rw), Some(root)) => format!("{} (virtual {})", human_size(rw), human_size(root)),
        _ => "0B".to_owned(),
    };
    serde_json::json!({
        "ID": id,
        "Image": c.image,
        "Command": go_quote(&command),
        "CreatedAt": go_time(c.created),
        "RunningFor": ago(c.created, now),
        "Ports": format_ports(&c.ports),
        "State": c.state,
        "Status": c.status,
        "Size": size,
        "Names": names.join(","),
        "Labels": labels.join(","),
        "Mounts": c.mounts.iter().map(mount_name).collect::<Vec<_>>().join(","),
        "Networks": networks.join(","),
        "LocalVolumes": local_volumes.to_string(),
        "_labels": c.labels,
    })
}

/// docker's `ps` rows have a method `.Label "key"`; gtmpl fields take no arguments, so the
/// call becomes an `index` into the row's labels.
pub(crate) fn label_calls(format: &str) -> String {
    static CALL: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| regex::Regex::new(r#"\.Label\s+("(?:[^"\\]|\\.)*")"#).ok());
    match &*CALL {
        Some(re) => re.replace_all(format, "(index ._labels $1)").into_owned(),
        None => format.to_owned(),
    }
}

/// The column titles of `ps --format table ...`.
fn ps_header() -> serde_json::Value {
    serde_json::json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES", "_labels": {},
    })
}

/// One `ps` port cell from the API's `Ports` entries.
fn format_ports(ports: &[serde_json::Value]) -> String {
    ports
        .iter()
        .map(|p| {
            let private = p.get("PrivatePort").and_then(|v| v.as_i64()).unwrap_or(0);
            let proto = p.get("Type").and_then(|v| v.as_str()).unwrap_or("tcp");
            match p.get("PublicPort").and_then(|v| v.as_i64()).filter(|&n| n != 0) {
                Some(public) => {
                    let ip = p.get("IP").and_then(|v| v.as_str()).unwrap_or("0.0.0.0");
                    format!("{ip}:{public}->{private}/{proto}")
                }
                None => format!("{private}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders the `ps` table (or the id list with `quiet`) at time `now`.
pub fn render_ps(list: &[ContainerSummary], opts: &PsOptions, now: i64) -> String {
    let id = |c: &ContainerSummary| if opts.no_trunc { c.id.clone() } else { short_id(&c.id) };
    if opts.quiet {
        return list.iter().map(|c| format!("{}\n", id(c))).collect();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let command = if opts.no_trunc { c.command.clone() } else { ellipsis(&c.command, 20) };
            let names: Vec<&str> = c.names.iter().map(|n| n.strip_prefix('/').unwrap_or(n)).filter(|n| opts.no_trunc || !n.contains('/')).collect();
            vec![id(c), c.image.clone(), go_quote(&command), ago(c.created, now), c.status.clone(), format_ports(&c.ports), names.join(",")]
        })
        .collect();
    table(&["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], &rows)
}

/// `berth ps`.
pub async fn ps(client: &EngineClient, opts: PsOptions) -> Result<u8> {
    let filters = Filters::from_args(&opts.filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    // Parse the template before asking the daemon, as docker does.
    let format = match opts.format.as_deref().filter(|f| !f.is_empty() && !opts.quiet) {
        Some(f) => Some(Format::list(&label_calls(f), PS_TABLE)?),
        // `-s` adds docker's SIZE column to the default table.
        None if opts.size && !opts.quiet => Some(Format::list(&format!("{PS_TABLE}\\t{{{{.Size}}}}"), PS_TABLE)?),
        None => None,
    };
    let q = Query::new()
        .flag("all", opts.all)
        .set_opt("limit", opts.last.filter(|&n| n > 0))
        .flag("size", opts.size)
        .set_opt("filters", filters.encode())
        .encode();
    let list: Vec<ContainerSummary> = client.get_json(&format!("/containers/json{q}")).await?;
    let now = now_unix();
    match format {
        Some(f) => {
            let rows: Vec<serde_json::Value> = list.iter().map(|c| ps_context(c, &opts, now)).collect();
            print!("{}", f.render_all(&ps_header(), &rows)?);
        }
        None => print!("{}", render_ps(&list, &opts, now)),
    }
    Ok(0)
}

/// `berth logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub tail: Option<String>,
    pub timestamps: bool,
    pub details: bool,
    /// `--since`/`--until` as typed (durations, RFC 3339 times or Unix seconds).
    pub since: Option<String>,
    pub until: Option<String>,
    pub container: String,
}

/// `berth logs`: streams the multiplexed log stream to stdout/stderr until EOF.
pub async fn logs(client: &EngineClient, opts: LogsOptions) -> Result<u8> {
    let q = Query::new()
        .set("stdout", 1)
        .set("stderr", 1)
        .flag("follow", opts.follow)
        .set_opt("tail", opts.tail.as_deref())
        .flag("timestamps", opts.timestamps)
        .flag("details", opts.details)
        .set_opt("since", opts.since.as_deref().map(|v| api_timestamp(v, now_nanos())).transpose()?)
        .set_opt("until", opts.until.as_deref().map(|v| api_timestamp(v, now_nanos())).transpose()?)
        .encode();
    // Like docker: the framing follows the container's TTY setting (API 1.41 daemons label
    // both framings "raw-stream"), so ask the container first.
    let info = client.get_value(&container_path(&opts.container, "/json")).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let resp = client.call(Method::GET, &container_path(&opts.container, &format!("/logs{q}")), &[], empty()).await?;
    let mut sink = if tty { StdioSink::raw() } else { StdioSink::multiplexed() };
    copy_body(resp.into_body(), &mut sink).await?;
    Ok(0)
}

/// Runs `op` for every container, printing the name on success and the error otherwise
/// (like docker); exit code 1 if any failed.
async fn for_each<F, Fut>(names: &[String], print_name: bool, mut op: F) -> u8
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>>>,
{
    let mut code = 0;
    for name in names {
        match op(name.clone()).await {
            Ok(out) => {
                if let Some(out) = out {
                    println!("{out}");
                } else if print_name {
                    println!("{name}");
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}

/// `berth stop [-t SECS]`.
pub async fn stop(client: &EngineClient, timeout: Option<i64>, names: &[String]) -> u8 {
    stop_or_restart(client, "/stop", timeout, names).await
}

/// POSTs `verb` (`/stop` or `/restart`) with the stop timeout for each container.
async fn stop_or_restart(client: &EngineClient, verb: &str, timeout: Option<i64>, names: &[String]) -> u8 {
    let q = Query::new().set_opt("t", timeout).encode();
    for_each(names, true, |n| {
        let path = container_path(&n, &format!("{verb}{q}"));
        async move { client.post_empty(&path).await.map(|_| None) }
    })
    .await
}

/// `berth restart [-t SECONDS]`: a stop, then a start, of each container.
pub async fn restart(client: &EngineClient, timeout: Option<i64>, names: &[String]) -> u8 {
    stop_or_restart(client, "/restart", timeout, names).await
}

/// `berth rename CONTAINER NEW_NAME`.
pub async fn rename(client: &EngineClient, container: &str, new_name: &str) -> Result<u8> {
    let q = Query::new().set("name", new_name).encode();
    client.post_empty(&container_path(container, &format!("/rename{q}"))).await?;
    Ok(0)
}

/// `berth diff CONTAINER`: its changes against its image, `A`dded, `C`hanged or `D`eleted.
pub async fn diff(client: &EngineClient, container: &str) -> Result<u8> {
    let changes: Vec<serde_json::Value> = client.get_json(&container_path(container, "/changes")).await?;
    for c in changes {
        let kind = match c["Kind"].as_u64() {
            Some(1) => 'A',
            Some(2) => 'D',
            _ => 'C',
        };
        println!("{kind} {}", c["Path"].as_str().unwrap_or_default());
    }
    Ok(0)
}

/// `berth kill [-s SIGNAL]`.
pub async fn kill(client: &EngineClient, signal: Option<String>, names: &[String]) -> u8 {
    let q = Query::new().set_opt("signal", signal.as_deref()).encode();
    for_each(names, true, |n| {
        let path = container_path(&n, &format!("/kill{q}"));
        async move { client.post_empty(&path).await.map(|_| None) }
    })
    .await
}

/// `berth pause` (`pause`) and `berth unpause`: freeze or thaw every process of each
/// container.
pub async fn pause(client: &EngineClient, pause: bool, names: &[String]) -> u8 {
    let verb = if pause { "/pause" } else { "/unpause" };
    for_each(names, true, |n| {
        let path = container_path(&n, verb);
        async move { client.post_empty(&path).await.map(|_| None) }
    })
    .await
}

/// `berth rm [-f]`.
pub async fn rm(client: &EngineClient, force: bool, names: &[String]) -> u8 {
    let q = Query::new().flag("force", force).encode();
    for_each(names, true, |n| {
        let path = container_path(&n, &q);
        async move { client.delete(&path).await.map(|_| None) }
    })
    .await
}

/// `berth start`.
pub async fn start(client: &EngineClient, names: &[String]) -> u8 {
    let mut failed = Vec::new();
    for name in names {
        match client.post_empty(&container_path(name, "/start")).await {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(name.as_str());
            }
        }
    }
    if failed.is_empty() {
        0
    } else {
        eprintln!("Error: failed to start containers: {}", failed.join(", "));
        1
    }
}

/// `berth wait`: prints each container's exit code.
pub async fn wait(client: &EngineClient, names: &[String]) -> u8 {
    for_each(names, false, |n| {
        let path = container_path(&n, "/wait");
        async move {
            let resp = client.call(Method::POST, &path, &[], empty()).await?;
            let body = crate::client::http::read_body(resp).await?;
            let w: WaitResponse = crate::client::http::decode(&body)?;
            Ok(Some(w.status_code.to_string()))
        }
    })
    .await
}

/// `berth inspect`: containers first, then images; a JSON array like docker's.
pub async fn inspect(client: &EngineClient, names: &[String], opts: &InspectOptions) -> Result<u8> {
    let format = match opts.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => Some(Format::inspect(f)?),
        None => None,
    };
    let (containers, images) = match opts.kind.as_deref() {
        None | Some("") => (true, true),
        Some("container") => (true, false),
        Some("image") => (false, true),
        Some(other) => return Err(ClientError::Invalid(format!("\"{other}\" is not a valid value for --type"))),
    };
    let size = Query::new().flag("size", opts.size).encode();
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        let container = if containers { Some(client.get_text(&format!("{}{size}", container_path(name, "/json"))).await) } else { None };
        let image = match container {
            Some(Ok(v)) => {
                found.push(v);
                continue;
            }
            Some(Err(e @ ClientError::Connect { .. })) => return Err(e),
            Some(Err(e)) if e.status() != Some(404) => {
                errors.push(e);
                continue;
            }
            _ if images => client.get_text(&format!("/images/{}/json", escape(name, true))).await,
            _ => {
                errors.push(ClientError::NoSuchObject(name.clone()));
                continue;
            }
        };
        match image {
            Ok(v) => found.push(v),
            Err(e) if e.status() == Some(404) => errors.push(ClientError::NoSuchObject(name.clone())),
            Err(e) => errors.push(e),
        }
    }
    match format {
        Some(f) => print_templated(&f, &found)?,
        None => println!("{}", inspect_array(&found)),
    }
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// `inspect -f`: the template's output for each object, one per line.
pub fn print_templated(f: &Format, raws: &[String]) -> Result<()> {
    let mut out = String::new();
    for raw in raws {
        let v: serde_json::Value = serde_json::from_str(raw)?;
        out.push_str(&f.render(&v)?);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// `berth inspect` options.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// `-f`: a Go template.
    pub format: Option<String>,
    /// `--type`: container or image.
    pub kind: Option<String>,
    /// `-s`: the container's sizes too.
    pub size: bool,
}

/// `berth commit` options.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    pub pause: bool,
}

/// `berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: prints the new image's id.
pub async fn commit(client: &EngineClient, container: &str, reference: Option<&str>, opts: &CommitOptions) -> Result<u8> {
    let (repo, tag) = match reference {
        Some(r) => {
            let (repo, tag) = crate::client::format::split_repo_tag(r);
            (Some(repo), Some(tag).filter(|t| !t.is_empty()))
        }
        None => (None, None),
    };
    let mut q = Query::new()
        .set("container", container)
        .set_opt("repo", repo)
        .set_opt("tag", tag)
        .set_opt("comment", opts.message.as_deref())
        .set_opt("author", opts.author.as_deref());
    for c in &opts.changes {
        q = q.set("changes", c);
    }
    if !opts.pause {
        q = q.set("pause", "0");
    }
    let resp = client.call(Method::POST, &format!("/commit{}", q.encode()), &[], empty()).await?;
    let r: IdResponse = crate::client::http::decode(&crate::client::http::read_body(resp).await?)?;
    println!("{}", r.id);
    Ok(0)
}

/// `berth export [-o FILE] CONTAINER`: the container's filesystem as a tar.
pub async fn export(client: &EngineClient, container: &str, output: Option<&str>) -> Result<u8> {
    let resp = client.call(Method::GET, &container_path(container, "/export"), &[], empty()).await?;
    super::image::write_archive(resp, output).await
}

/// The current Unix time in nanoseconds.
pub fn now_nanos() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// `berth top CONTAINER [ps OPTIONS]`: the container's processes as the host's `ps` lists
/// them, in docker's table.
pub async fn top(client: &EngineClient, container: &str, ps_args: &[String]) -> Result<u8> {
    let q = Query::new().set_opt("ps_args", (!ps_args.is_empty()).then(|| ps_args.join(" "))).encode();
    let v = client.get_value(&container_path(container, &format!("/top{q}"))).await?;
    let cells = |row: &serde_json::Value| -> String {
        row.as_array().map(|a| a.iter().map(|c| c.as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>().join("\t")).unwrap_or_default()
    };
    let mut text = cells(&v["Titles"]);
    for p in v["Processes"].as_array().into_iter().flatten() {
        text.push('\n');
        text.push_str(&cells(p));
    }
    print!("{}", tabwriter(&text, 20));
    Ok(0)
}

/// `berth container prune [-f] [--filter k=v]...`.
pub async fn prune(client: &EngineClient, force: bool, filters: &[String]) -> Result<u8> {
    let f = Filters::from_args(filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    if !force && !super::confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
        return Err(ClientError::Invalid("container prune has been cancelled".into()));
    }
    let (ids, space) = prune_containers(client, &f).await?;
    let mut out = String::new();
    if !ids.is_empty() {
        out.push_str("Deleted Containers:\n");
        ids.iter().for_each(|id| out.push_str(&format!("{id}\n")));
        out.push('\n');
    }
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(space)));
    print!("{out}");
    Ok(0)
}

/// `POST /containers/prune`: the ids removed and the bytes reclaimed.
pub async fn prune_containers(client: &EngineClient, f: &Filters) -> Result<(Vec<String>, i64)> {
    let q = Query::new().set_opt("filters", f.encode()).encode();
    let resp = client.call(Method::POST, &format!("/containers/prune{q}"), &[], empty()).await?;
    let v: serde_json::Value = crate::client::http::decode(&crate::client::http::read_body(resp).await?)?;
    let ids = v["ContainersDeleted"].as_array().into_iter().flatten().filter_map(|i| i.as_str().map(str::to_owned)).collect();
    Ok((ids, v["SpaceReclaimed"].as_i64().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_table_matches_docker() {
        let c = ContainerSummary {
            id: "0123456789abcdef0123456789abcdef".into(),
            names: vec!["/web".into()],
            image: "busybox".into(),
            command: "sh -c 'while true; do sleep 1; done'".into(),
            created: 100,
            status: "Up 3 seconds".into(),
            ..Default::default()
        };
        let out = render_ps(std::slice::from_ref(&c), &PsOptions::default(), 105);
        let mut lines = out.lines();
        let header = lines.next().unwrap_or_default();
        assert!(header.starts_with("CONTAINER ID   IMAGE     COMMAND"), "{header}");
        let row = lines.next().unwrap_or_default();
        assert!(row.starts_with("0123456789ab   busybox   \"sh -c 'while true; …\"   5 seconds ago   Up 3 seconds"), "{row}");
        assert!(row.ends_with(" web"), "{row}");
        let q = render_ps(&[c], &PsOptions { quiet: true, ..Default::default() }, 105);
        assert_eq!(q, "0123456789ab\n");
    }

    #[test]
    fn ports_are_formatted() {
        let p = vec![
            serde_json::json!({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            serde_json::json!({"PrivatePort": 53, "Type": "udp"}),
        ];
        assert_eq!(format_ports(&p), "0.0.0.0:8080->80/tcp, 53/udp");
    }
}
