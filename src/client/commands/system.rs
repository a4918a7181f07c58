//! System commands: version, info, system df.

use crate::api::filters::Filters;
use crate::api::types::{DiskUsage, Version};
use crate::client::error::{ClientError, Result};
use crate::client::format::{ago, bytes_size, ellipsis, go_quote, human_size, human_size_prec, now_unix, short_id, split_repo_tag, table};
use crate::client::http::{EngineClient, Query};
use crate::client::template::Format;
use crate::client::timestamp::api_timestamp;
use serde_json::Value;

/// Go's name for our architecture, as docker prints it in OS/Arch.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The `Client:` section of `berth version`.
pub fn client_section() -> String {
    let mut s = String::from("Client:\n");
    s += &format!(" Version:           {}\n", env!("CARGO_PKG_VERSION"));
    s += &format!(" API version:       {}\n", crate::api::API_VERSION);
    s += &format!(" OS/Arch:           {}/{}\n", std::env::consts::OS, go_arch());
    s += " Context:           default\n";
    s
}

/// Go's `time.ANSIC` rendering ("Thu May  7 21:09:36 2026") of an RFC 3339 build time;
/// anything else is shown as sent.
fn ansic(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t).map(|d| d.format("%a %b %e %H:%M:%S %Y").to_string()).unwrap_or_else(|_| t.to_owned())
}

/// The `Server:` section of `berth version` from `GET /version` (`experimental` is the
/// answer's `Experimental` member, which the shared type does not carry).
pub fn server_section(v: &Version, experimental: bool) -> String {
    let mut s = String::from("Server:\n");
    let engine_name = v.platform.get("Name").cloned().unwrap_or_default();
    if !engine_name.is_empty() {
        s = format!("Server: {engine_name}\n");
    }
    s += " Engine:\n";
    s += &format!("  Version:          {}\n", v.version);
    if v.min_api_version.is_empty() {
        s += &format!("  API version:      {}\n", v.api_version);
    } else {
        s += &format!("  API version:      {} (minimum version {})\n", v.api_version, v.min_api_version);
    }
    if !v.go_version.is_empty() {
        s += &format!("  Go version:       {}\n", v.go_version);
    }
    s += &format!("  Git commit:       {}\n", v.git_commit);
    s += &format!("  Built:            {}\n", ansic(&v.build_time));
    s += &format!("  OS/Arch:          {}/{}\n", v.os, v.arch);
    s += &format!("  Experimental:     {experimental}\n");
    for c in v.components.iter().filter(|c| c.name != "Engine") {
        s += &format!(" {}:\n", c.name);
        s += &format!("  Version:          {}\n", c.version);
        let mut details: Vec<_> = c.details.iter().collect();
        details.sort();
        for (k, val) in details {
            s += &format!("  {:<17} {}\n", format!("{k}:"), val);
        }
    }
    s
}

/// Decodes `GET /version`. Docker spells the minimum version `MinAPIVersion`, which the
/// shared `Version` type (PascalCase: `MinApiVersion`) does not read; both are accepted.
pub fn parse_version(mut raw: Value) -> Result<Version> {
    crate::client::http::drop_nulls(&mut raw);
    let min = raw.get("MinAPIVersion").and_then(Value::as_str).map(str::to_owned);
    let mut v: Version = serde_json::from_value(raw)?;
    if let Some(min) = min.filter(|_| v.min_api_version.is_empty()) {
        v.min_api_version = min;
    }
    Ok(v)
}

/// `berth version`: the client section always; the server's when the daemon answers.
pub async fn version(client: &EngineClient, format: Option<&str>) -> Result<u8> {
    if let Some(f) = format.filter(|f| !f.is_empty()) {
        let f = Format::inspect(f)?;
        let client_info = serde_json::json!({
            "Platform": {"Name": ""},
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": crate::api::API_VERSION,
            "APIVersion": crate::api::API_VERSION,
            "DefaultAPIVersion": crate::api::API_VERSION,
            "Os": std::env::consts::OS,
            "Arch": go_arch(),
            "Context": "default",
        });
        let mut server = client.get_value("/version").await?;
        // docker's template sees Go's field names where they differ from the JSON's.
        if let Some(obj) = server.as_object_mut() {
            for (go, json) in [("APIVersion", "ApiVersion"), ("MinAPIVersion", "MinAPIVersion")] {
                let v = obj.get(json).cloned().unwrap_or_default();
                obj.insert(go.to_owned(), v);
            }
        }
        println!("{}", f.render(&serde_json::json!({"Client": client_info, "Server": server}))?);
        return Ok(0);
    }
    println!("{}", client_section());
    let raw = client.get_value("/version").await?;
    let experimental = raw.get("Experimental").and_then(Value::as_bool).unwrap_or(false);
    print!("{}", server_section(&parse_version(raw)?, experimental));
    Ok(0)
}

/// The `info` report from `GET /info` (tolerant of missing fields).
pub fn render_info(info: &Value) -> String {
    let get = |k: &str| -> String {
        match info.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    };
    let num = |k: &str| info.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut s = String::from("Client:\n Context:    default\n Debug Mode: false\n\nServer:\n");
    s += &format!(" Containers: {}\n", num("Containers"));
    s += &format!("  Running: {}\n", num("ContainersRunning"));
    s += &format!("  Paused: {}\n", num("ContainersPaused"));
    s += &format!("  Stopped: {}\n", num("ContainersStopped"));
    s += &format!(" Images: {}\n", num("Images"));
    let lines = [
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
    ];
    let more = [
        ("Default Runtime", "DefaultRuntime"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("OSType", "OSType"),
        ("Architecture", "Architecture"),
        ("CPUs", "NCPU"),
    ];
    let line = |s: &mut String, label: &str, key: &str| {
        let v = get(key);
        if !v.is_empty() {
            *s += &format!(" {label}: {v}\n");
        }
    };
    for (label, key) in lines {
        line(&mut s, label, key);
    }
    if let Some(runtimes) = info.get("Runtimes").and_then(Value::as_object) {
        let mut names: Vec<&str> = runtimes.keys().map(String::as_str).collect();
        names.sort();
        s += &format!(" Runtimes: {}\n", names.join(" "));
    }
    for (label, key) in more {
        line(&mut s, label, key);
    }
    if let Some(mem) = info.get("MemTotal").and_then(Value::as_i64) {
        s += &format!(" Total Memory: {}\n", bytes_size(mem));
    }
    for (label, key) in [("Name", "Name"), ("ID", "ID"), ("Docker Root Dir", "DockerRootDir")] {
        let v = get(key);
        if !v.is_empty() {
            s += &format!(" {label}: {v}\n");
        }
    }
    let flag = |k: &str| info.get(k).and_then(Value::as_bool).unwrap_or(false);
    s += &format!(" Debug Mode: {}\n", flag("Debug"));
    s += &format!(" Experimental: {}\n", flag("ExperimentalBuild"));
    s += &format!(" Live Restore Enabled: {}\n", flag("LiveRestoreEnabled"));
    s
}

/// `berth info`.
pub async fn info(client: &EngineClient, format: Option<&str>) -> Result<u8> {
    let f = match format.filter(|f| !f.is_empty()) {
        Some(f) => Some(Format::inspect(f)?),
        None => None,
    };
    let info = client.get_value("/info").await?;
    match f {
        Some(f) => println!("{}", f.render(&info)?),
        None => print!("{}", render_info(&info)),
    }
    Ok(0)
}

/// "SIZE (PERCENT%)" of the RECLAIMABLE column (docker's `units.HumanSize`).
fn reclaimable(part: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", human_size_prec(part, 4), part * 100 / total)
    } else {
        human_size_prec(part, 4)
    }
}

fn is_active(state: &str) -> bool {
    ["running", "paused", "restarting"].iter().any(|s| state.contains(s))
}

/// The summary table of `system df`, computed from `GET /system/df` as the docker CLI
/// does: images take `LayersSize`, and what containers' images use alone is not
/// reclaimable.
pub fn render_df(du: &DiskUsage) -> String {
    let total = du.layers_size;
    let used: i64 = du.images.iter().filter(|i| i.containers != 0 && i.size != -1 && i.shared_size != -1).map(|i| i.size - i.shared_size).sum();
    let active_images = du.images.iter().filter(|i| i.containers > 0).count();
    let rw: i64 = du.containers.iter().filter_map(|c| c.size_rw).sum();
    let idle_rw: i64 = du.containers.iter().filter(|c| !is_active(&c.state)).filter_map(|c| c.size_rw).sum();
    let active_containers = du.containers.iter().filter(|c| is_active(&c.state)).count();
    let rows = vec![
        vec!["Images".into(), du.images.len().to_string(), active_images.to_string(), human_size_prec(total, 4), reclaimable(total - used, total)],
        vec!["Containers".into(), du.containers.len().to_string(), active_containers.to_string(), human_size_prec(rw, 4), reclaimable(idle_rw, rw)],
        vec!["Local Volumes".into(), "0".into(), "0".into(), "0B".into(), "0B".into()],
        vec!["Build Cache".into(), "0".into(), "0".into(), "0B".into(), "0B".into()],
    ];
    table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows)
}

/// `system df -v`: per image (with SHARED SIZE and UNIQUE SIZE) and per container.
pub fn render_df_verbose(du: &DiskUsage, now: i64) -> String {
    let mut out = String::from("Images space usage:\n\n");
    let na = |v: i64, f: &dyn Fn(i64) -> String| if v == -1 { "N/A".to_owned() } else { f(v) };
    let rows: Vec<Vec<String>> = du
        .images
        .iter()
        .map(|i| {
            let (repo, tag) = match i.repo_tags.first().filter(|t| t.as_str() != "<none>:<none>") {
                Some(t) => split_repo_tag(t),
                None => ("<none>".into(), "<none>".into()),
            };
            let unique = if i.shared_size == -1 { -1 } else { i.size - i.shared_size };
            vec![
                repo,
                tag,
                short_id(&i.id),
                ago(i.created, now),
                human_size(i.size),
                na(i.shared_size, &human_size),
                na(unique, &human_size),
                na(i.containers, &|n| n.to_string()),
            ]
        })
        .collect();
    out += &table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], &rows);
    out += "\nContainers space usage:\n\n";
    let rows: Vec<Vec<String>> = du
        .containers
        .iter()
        .map(|c| {
            let names: Vec<&str> = c.names.iter().map(|n| n.trim_start_matches('/')).collect();
            vec![
                short_id(&c.id),
                c.image.clone(),
                go_quote(&ellipsis(&c.command, 20)),
                "0".into(),
                human_size(c.size_rw.unwrap_or(0)),
                ago(c.created, now),
                c.status.clone(),
                names.join(","),
            ]
        })
        .collect();
    out += &table(&["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"], &rows);
    out += "\nLocal Volumes space usage:\n\n";
    out += &table(&["VOLUME NAME", "LINKS", "SIZE"], &[]);
    out += "\nBuild cache usage: 0B\n\n";
    out += &table(&["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], &[]);
    out
}

/// `berth system df [-v]`.
pub async fn df(client: &EngineClient, verbose: bool) -> Result<u8> {
    let du: DiskUsage = client.get_json("/system/df").await?;
    print!("{}", if verbose { render_df_verbose(&du, now_unix()) } else { render_df(&du) });
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_tolerant_of_missing_fields() {
        let out = render_info(&serde_json::json!({"Containers": 3, "ContainersRunning": 1, "Driver": "overlay2", "MemTotal": 8_192_000_000i64}));
        assert!(out.contains(" Containers: 3\n  Running: 1\n"));
        assert!(out.contains(" Storage Driver: overlay2\n"));
        assert!(out.contains(" Total Memory: 7.629GiB\n"));
        assert!(!out.contains("Kernel Version"));
    }

    #[test]
    fn df_counts_shared_layers_once_and_keeps_what_running_images_use_alone() {
        use crate::api::types::{ContainerSummary, ImageSummary};
        let du = DiskUsage {
            layers_size: 3_000_000,
            images: vec![
                ImageSummary { size: 2_000_000, shared_size: 1_000_000, containers: 1, ..Default::default() },
                ImageSummary { size: 2_000_000, shared_size: 1_000_000, containers: 0, ..Default::default() },
            ],
            containers: vec![ContainerSummary { state: "exited".into(), size_rw: Some(1234), ..Default::default() }],
            ..Default::default()
        };
        let out = render_df(&du);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE");
        assert_eq!(lines[1], "Images          2         1         3MB       2MB (66%)");
        assert_eq!(lines[2], "Containers      1         0         1.234kB   1.234kB (100%)");
        assert_eq!(lines[3], "Local Volumes   0         0         0B        0B");
    }
}

/// `berth events` / `berth system events` options.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    pub filters: Vec<String>,
    pub format: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// docker's line for one event: "TIME TYPE ACTION ID (k=v, ...)".
pub fn render_event(ev: &Value) -> String {
    let nanos = ev.get("timeNano").and_then(Value::as_i64).unwrap_or(0);
    let t = chrono::DateTime::from_timestamp(nanos.div_euclid(1_000_000_000), nanos.rem_euclid(1_000_000_000) as u32).unwrap_or_default();
    let t = t.with_timezone(&chrono::Local);
    let zone = if t.offset().local_minus_utc() == 0 { "Z".to_owned() } else { t.format("%:z").to_string() };
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut line = format!("{}{zone} {} {} {}", t.format("%Y-%m-%dT%H:%M:%S%.9f"), s(&ev["Type"]), s(&ev["Action"]), s(&ev["Actor"]["ID"]));
    if let Some(attrs) = ev["Actor"]["Attributes"].as_object().filter(|a| !a.is_empty()) {
        let mut kv: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        kv.sort();
        line.push_str(&format!(" ({})", kv.join(", ")));
    }
    line
}

/// What `events --format` templates see: the message's JSON plus the Go field names of its
/// lower-case members (`.Status`, `.ID`, `.From`, `.Time`, `.TimeNano`, `.Scope`).
fn event_context(ev: &Value) -> Value {
    let mut ctx = ev.clone();
    if let Some(obj) = ctx.as_object_mut() {
        for (go, json) in [("Status", "status"), ("ID", "id"), ("From", "from"), ("Time", "time"), ("TimeNano", "timeNano"), ("Scope", "scope")] {
            let v = obj.get(json).cloned().unwrap_or(Value::Null);
            obj.insert(go.to_owned(), v);
        }
    }
    ctx
}

/// `berth events`: the daemon's events as they come, until `--until` or the stream ends.
pub async fn events(client: &EngineClient, opts: &EventsOptions) -> Result<u8> {
    use http_body_util::BodyExt;
    let filters = Filters::from_args(&opts.filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let format = match opts.format.as_deref().filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => Some(Format::inspect(f)?),
        None => None,
    };
    let raw_json = opts.format.as_deref() == Some("json");
    let now = super::container::now_nanos();
    let q = Query::new()
        .set_opt("since", opts.since.as_deref().map(|v| api_timestamp(v, now)).transpose()?)
        .set_opt("until", opts.until.as_deref().map(|v| api_timestamp(v, now)).transpose()?)
        .set_opt("filters", filters.encode())
        .encode();
    let mut body = client.call(hyper::Method::GET, &format!("/events{q}"), &[], crate::client::http::empty()).await?.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        pending.extend_from_slice(&data);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let ev: Value = serde_json::from_str(text)?;
            let out = match &format {
                _ if raw_json => text.to_owned(),
                Some(f) => f.render(&event_context(&ev))?,
                None => render_event(&ev),
            };
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{out}").and_then(|_| stdout.flush()).map_err(|e| ClientError::io("writing events", e))?;
        }
    }
    Ok(0)
}

/// `berth system prune [-a] [-f] [--filter k=v]...`: stopped containers, then dangling (with
/// `-a`: unused) images. berth has no networks, volumes or build cache to prune yet.
pub async fn prune(client: &EngineClient, all: bool, force: bool, volumes: bool, filters: &[String]) -> Result<u8> {
    if volumes {
        return Err(ClientError::Invalid("--volumes: berth has no volumes to prune yet".into()));
    }
    let f = Filters::from_args(filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let images = if all { "all images without at least one container associated to them" } else { "all dangling images" };
    let warning = format!("WARNING! This will remove:\n  - all stopped containers\n  - {images}\n\nAre you sure you want to continue?");
    if !force && !super::confirm(&warning) {
        return Err(ClientError::Invalid("system prune has been cancelled".into()));
    }
    let (ids, container_space) = super::container::prune_containers(client, &f).await?;
    let mut out = String::new();
    if !ids.is_empty() {
        out.push_str("Deleted Containers:\n");
        ids.iter().for_each(|id| out.push_str(&format!("{id}\n")));
        out.push('\n');
    }
    let image_filters = f.add("dangling", if all { "false" } else { "true" });
    let q = Query::new().set_opt("filters", image_filters.encode()).encode();
    let resp = client.call(hyper::Method::POST, &format!("/images/prune{q}"), &[], crate::client::http::empty()).await?;
    let report: crate::api::types::ImagesPruneReport = crate::client::http::decode(&crate::client::http::read_body(resp).await?)?;
    let images_part = super::image::render_prune(&report);
    // render_prune ends with its own total; the total here covers both.
    let images_part = images_part.lines().filter(|l| !l.starts_with("Total reclaimed space:")).map(|l| format!("{l}\n")).collect::<String>();
    out.push_str(&images_part);
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(container_space + report.space_reclaimed as i64)));
    print!("{out}");
    Ok(0)
}
