//! Container commands: ps, logs, stop, kill, pause, unpause, rm, start, wait, inspect,
//! commit, export.

use super::container_path;
use crate::api::types::{ContainerSummary, IdResponse, WaitResponse};
use crate::client::error::{ClientError, Result};
use crate::client::format::{ago, ellipsis, go_quote, inspect_array, now_unix, short_id, table};
use crate::client::http::{empty, escape, EngineClient, Query};
use crate::client::stdio::{copy_body, StdioSink};
use hyper::Method;

/// `berth ps` options.
#[derive(Debug, Clone, Default)]
pub struct PsOptions {
    pub all: bool,
    pub quiet: bool,
    pub no_trunc: bool,
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
    let q = Query::new().flag("all", opts.all).encode();
    let list: Vec<ContainerSummary> = client.get_json(&format!("/containers/json{q}")).await?;
    print!("{}", render_ps(&list, &opts, now_unix()));
    Ok(0)
}

/// `berth logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub tail: Option<String>,
    pub timestamps: bool,
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
pub async fn inspect(client: &EngineClient, names: &[String]) -> Result<u8> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        let container = client.get_text(&container_path(name, "/json")).await;
        match container {
            Ok(v) => found.push(v),
            Err(e) if e.status() == Some(404) => match client.get_text(&format!("/images/{}/json", escape(name, true))).await {
                Ok(v) => found.push(v),
                Err(e) if e.status() == Some(404) => errors.push(ClientError::NoSuchObject(name.clone())),
                Err(e) => errors.push(e),
            },
            Err(e @ ClientError::Connect { .. }) => return Err(e),
            Err(e) => errors.push(e),
        }
    }
    println!("{}", inspect_array(&found));
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
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
