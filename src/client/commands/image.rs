//! Image commands: images, import, pull, push, tag, rmi, save, load, history, image inspect,
//! image prune.

use crate::api::filters::Filters;
use crate::api::types::{ImageSummary, ImagesPruneReport, ProgressMessage};
use crate::client::config::ClientConfig;
use crate::client::error::{ClientError, Result};
use crate::client::format::{ago, human_size, now_unix, short_id, split_repo_tag, table};
use crate::client::http::{empty, escape, read_body, EngineClient, Query, ReqBody};
use crate::client::template::Format;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Method;
use tokio::io::{AsyncRead, AsyncReadExt};

/// An image's (repository, tag) rows as docker lists them: `<none>` for what is missing.
fn repo_tag_rows(img: &ImageSummary) -> Vec<(String, String)> {
    let tags: Vec<(String, String)> = img
        .repo_tags
        .iter()
        .filter(|t| t.as_str() != "<none>:<none>")
        .map(|t| split_repo_tag(t))
        .map(|(r, t)| (r, if t.is_empty() { "<none>".to_owned() } else { t }))
        .collect();
    if tags.is_empty() {
        return vec![("<none>".to_owned(), "<none>".to_owned())];
    }
    tags
}

/// Renders `berth images` (or the id list with `quiet`) at time `now`.
pub fn render_images(list: &[ImageSummary], quiet: bool, now: i64) -> String {
    let mut rows = Vec::new();
    for img in list {
        for (repo, tag) in repo_tag_rows(img) {
            rows.push(vec![repo, tag, short_id(&img.id), ago(img.created, now), human_size(img.size)]);
        }
    }
    // Like docker: one id per row, so an image with several repositories shows up as often.
    if quiet {
        return rows.into_iter().map(|r| format!("{}\n", r[2])).collect();
    }
    table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
}

/// docker's default `images` table.
const IMAGES_TABLE: &str = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";

/// `berth images` options.
#[derive(Debug, Clone, Default)]
pub struct ImagesOptions {
    pub quiet: bool,
    pub no_trunc: bool,
    /// `-a`: intermediate images too (berth keeps none, so the same list).
    pub all: bool,
    pub digests: bool,
    pub filters: Vec<String>,
    pub format: Option<String>,
    /// `REPOSITORY[:TAG]`.
    pub reference: Option<String>,
}

/// The rows docker's `images --format` templates see: one per repository:tag.
fn images_contexts(list: &[ImageSummary], opts: &ImagesOptions, now: i64) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for img in list {
        let id = if opts.no_trunc { img.id.clone() } else { short_id(&img.id) };
        for (repo, tag) in repo_tag_rows(img) {
            let digest = img
                .repo_digests
                .iter()
                .find(|d| d.split_once('@').is_some_and(|(r, _)| r == repo))
                .and_then(|d| d.split_once('@'))
                .map(|(_, h)| h.to_owned())
                .unwrap_or_else(|| "<none>".to_owned());
            rows.push(serde_json::json!({
                "ID": id,
                "Repository": repo,
                "Tag": tag,
                "Digest": digest,
                "CreatedSince": ago(img.created, now),
                "CreatedAt": super::container::go_time(img.created),
                "Size": human_size(img.size),
                "Containers": if img.containers < 0 { "N/A".to_owned() } else { img.containers.to_string() },
                "VirtualSize": human_size(img.virtual_size.max(img.size)),
                "SharedSize": if img.shared_size < 0 { "N/A".to_owned() } else { human_size(img.shared_size) },
                "UniqueSize": if img.shared_size < 0 { "N/A".to_owned() } else { human_size(img.size - img.shared_size) },
            }));
        }
    }
    rows
}

/// `berth images [-q] [--filter k=v]... [--format F] [REPOSITORY[:TAG]]`.
pub async fn images(client: &EngineClient, opts: &ImagesOptions) -> Result<u8> {
    let mut f = Filters::from_args(&opts.filters).map_err(|e| ClientError::Invalid(e.to_string()))?;
    if let Some(r) = &opts.reference {
        f = f.add("reference", r);
    }
    let format = match (opts.format.as_deref().filter(|f| !f.is_empty() && !opts.quiet), opts.digests) {
        (Some(f), _) => Some(Format::list(f, IMAGES_TABLE)?),
        (None, true) if !opts.quiet => {
            Some(Format::list("table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}", IMAGES_TABLE)?)
        }
        _ => None,
    };
    let q = Query::new().flag("all", opts.all).set_opt("filters", f.encode()).encode();
    let list: Vec<ImageSummary> = client.get_json(&format!("/images/json{q}")).await?;
    let now = now_unix();
    match format {
        Some(fmt) => {
            let header = serde_json::json!({
                "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE",
                "UniqueSize": "UNIQUE SIZE",
            });
            print!("{}", fmt.render_all(&header, &images_contexts(&list, opts, now))?);
        }
        None if opts.quiet && opts.no_trunc => {
            let f = Format::list("{{.ID}}", IMAGES_TABLE)?;
            print!("{}", f.render_all(&serde_json::Value::Null, &images_contexts(&list, opts, now))?);
        }
        None => print!("{}", render_images(&list, opts.quiet, now)),
    }
    Ok(0)
}

/// A request body streaming `reader` in 64 KiB chunks.
pub(crate) fn stream_body<R: AsyncRead + Unpin + Send + 'static>(reader: R) -> ReqBody {
    let chunks = futures::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    BodyExt::boxed_unsync(StreamBody::new(chunks))
}

/// `berth import FILE|- [REPOSITORY[:TAG]]`: streams the tar to the daemon and prints the
/// progress stream's status lines (the last is the new image id).
pub async fn import(client: &EngineClient, source: &str, reference: Option<&str>, changes: &[String], message: Option<&str>) -> Result<u8> {
    let body = if source == "-" {
        stream_body(tokio::io::stdin())
    } else {
        let f = tokio::fs::File::open(source).await.map_err(|e| ClientError::io(format!("open {source}"), e))?;
        stream_body(f)
    };
    let (repo, tag) = match reference {
        Some(r) => {
            let (repo, tag) = split_repo_tag(r);
            (Some(repo), Some(tag).filter(|t| !t.is_empty()))
        }
        None => (None, None),
    };
    let mut q = Query::new().set("fromSrc", "-").set_opt("repo", repo).set_opt("tag", tag).set_opt("message", message);
    for c in changes {
        q = q.set("changes", c);
    }
    let q = q.encode();
    let resp = client.call(Method::POST, &format!("/images/create{q}"), &[("content-type", "application/x-tar")], body).await?;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            pending.extend_from_slice(&data);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                failed |= show_progress(&line)?;
            }
        }
    }
    failed |= show_progress(&pending)?;
    Ok(if failed { 1 } else { 0 })
}

/// Prints one JSON progress line; returns whether it carried an error.
fn show_progress(line: &[u8]) -> Result<bool> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(false);
    }
    let msg: ProgressMessage = serde_json::from_str(text)?;
    let err = msg.error_detail.map(|d| d.message).filter(|m| !m.is_empty()).or(msg.error);
    if let Some(err) = err {
        eprintln!("{err}");
        return Ok(true);
    }
    if let Some(status) = msg.status {
        match (msg.id, msg.progress) {
            (Some(id), Some(p)) => println!("{id}: {status} {p}"),
            (Some(id), None) => println!("{id}: {status}"),
            (None, _) => println!("{status}"),
        }
    }
    Ok(false)
}

/// `/images/{name}{rest}`, with the name escaped but its '/' and ':' kept (Docker's routes
/// take the name with slashes).
fn image_path(name: &str, rest: &str) -> String {
    format!("/images/{}{rest}", escape(name, true))
}

/// `berth pull NAME[:TAG]`, with the credentials config.json (in `config_dir`) holds for its
/// registry.
pub async fn pull(client: &EngineClient, reference: &str, config_dir: &std::path::Path) -> Result<u8> {
    let (repo, tag) = split_repo_tag(reference);
    let (repo, tag) = match reference.split_once('@') {
        Some((r, d)) => (r.to_owned(), d.to_owned()),
        None => (repo, if tag.is_empty() { "latest".to_owned() } else { tag }),
    };
    let q = Query::new().set("fromImage", &repo).set("tag", &tag).encode();
    let auth = ClientConfig::load(config_dir)?.registry_auth(reference);
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("x-registry-auth", a)]).unwrap_or_default();
    let resp = client.call(Method::POST, &format!("/images/create{q}"), &headers, empty()).await?;
    crate::client::progress::render(resp).await
}

/// `berth push NAME[:TAG]`, with the credentials config.json holds for its registry.
pub async fn push(client: &EngineClient, reference: &str, config_dir: &std::path::Path) -> Result<u8> {
    let (repo, tag) = split_repo_tag(reference);
    let q = Query::new().set_opt("tag", Some(tag).filter(|t| !t.is_empty())).encode();
    // The daemon insists on a header, as dockerd does; "{}" is anonymous.
    let auth = ClientConfig::load(config_dir)?.registry_auth(reference).unwrap_or_else(|| "e30=".to_owned());
    let resp = client.call(Method::POST, &image_path(&repo, &format!("/push{q}")), &[("x-registry-auth", &auth)], empty()).await?;
    crate::client::progress::render(resp).await
}

/// `berth tag SOURCE TARGET`.
pub async fn tag(client: &EngineClient, source: &str, target: &str) -> Result<u8> {
    let (repo, tag) = split_repo_tag(target);
    let q = Query::new().set("repo", &repo).set_opt("tag", Some(tag).filter(|t| !t.is_empty())).encode();
    client.post_empty(&image_path(source, &format!("/tag{q}"))).await?;
    Ok(0)
}

/// `berth rmi [-f] IMAGE...`: prints Docker's "Untagged:"/"Deleted:" lines.
pub async fn rmi(client: &EngineClient, force: bool, images: &[String]) -> Result<u8> {
    let mut code = 0;
    for name in images {
        let q = Query::new().flag("force", force).encode();
        match client.call(Method::DELETE, &image_path(name, &q), &[], empty()).await {
            Ok(resp) => {
                let items: Vec<serde_json::Value> = serde_json::from_slice(&read_body(resp).await?)?;
                for it in items {
                    for key in ["Untagged", "Deleted"] {
                        if let Some(v) = it.get(key).and_then(|v| v.as_str()) {
                            println!("{key}: {v}");
                        }
                    }
                }
            }
            Err(e @ ClientError::Connect { .. }) => return Err(e),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `berth save -o FILE IMAGE...` (stdout without -o).
pub async fn save(client: &EngineClient, output: Option<&str>, images: &[String]) -> Result<u8> {
    let mut q = Query::new();
    for i in images {
        q = q.set("names", i);
    }
    let resp = client.call(Method::GET, &format!("/images/get{}", q.encode()), &[], empty()).await?;
    write_archive(resp, output).await
}

/// Writes a tar response body to `output`, or to stdout (refused when it is a terminal, as
/// docker does). A file is written beside the target and renamed at the end, so a failed
/// transfer leaves no torn file.
pub(crate) async fn write_archive(resp: hyper::Response<hyper::body::Incoming>, output: Option<&str>) -> Result<u8> {
    use std::io::IsTerminal;
    use tokio::io::AsyncWriteExt;
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(ClientError::Invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect".into()));
    }
    let mut body = resp.into_body();
    let (mut out, tmp): (Box<dyn tokio::io::AsyncWrite + Unpin>, Option<(String, String)>) = match output {
        Some(path) => {
            let tmp = format!("{path}.berth-tmp");
            let f = tokio::fs::File::create(&tmp).await.map_err(|e| ClientError::io(format!("create {tmp}"), e))?;
            (Box::new(f), Some((tmp, path.to_owned())))
        }
        None => (Box::new(tokio::io::stdout()), None),
    };
    let result: Result<()> = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                out.write_all(&data).await.map_err(|e| ClientError::io("write the archive", e))?;
            }
        }
        out.flush().await.map_err(|e| ClientError::io("write the archive", e))?;
        Ok(())
    }
    .await;
    match (result, tmp) {
        (Ok(()), Some((tmp, path))) => {
            tokio::fs::rename(&tmp, &path).await.map_err(|e| ClientError::io(format!("rename to {path}"), e))?;
            Ok(0)
        }
        (Ok(()), None) => Ok(0),
        (Err(e), tmp) => {
            if let Some((tmp, _)) = tmp {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            Err(e)
        }
    }
}

/// `berth load -i FILE` (stdin without -i).
pub async fn load(client: &EngineClient, input: Option<&str>) -> Result<u8> {
    let body = match input {
        None | Some("-") => stream_body(tokio::io::stdin()),
        Some(path) => {
            let f = tokio::fs::File::open(path).await.map_err(|e| ClientError::io(format!("open {path}"), e))?;
            stream_body(f)
        }
    };
    let resp = client.call(Method::POST, "/images/load", &[("content-type", "application/x-tar")], body).await?;
    crate::client::progress::render(resp).await
}

/// `berth history IMAGE`.
pub async fn history(client: &EngineClient, image: &str, opts: &HistoryOptions) -> Result<u8> {
    let no_trunc = opts.no_trunc;
    let format = match opts.format.as_deref().filter(|f| !f.is_empty() && !opts.quiet) {
        Some(f) => Some(Format::list(f, HISTORY_TABLE)?),
        None => None,
    };
    let items: Vec<serde_json::Value> = client.get_value(&image_path(image, "/history")).await?.as_array().cloned().unwrap_or_default();
    let now = now_unix();
    let mut rows = Vec::new();
    let mut contexts = Vec::new();
    for it in items {
        let id = it.get("Id").and_then(|v| v.as_str()).unwrap_or("<missing>");
        let id = if id.starts_with("sha256:") && !no_trunc { short_id(id) } else { id.to_owned() };
        if opts.quiet {
            println!("{id}");
            continue;
        }
        let created = it.get("Created").and_then(|v| v.as_i64()).unwrap_or(0);
        let mut by = it.get("CreatedBy").and_then(|v| v.as_str()).unwrap_or("").to_owned();
        if !no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        let size = it.get("Size").and_then(|v| v.as_i64()).unwrap_or(0);
        let size = if opts.human { human_size(size) } else { size.to_string() };
        let comment = it.get("Comment").and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let since = if opts.human {
            ago(created, now)
        } else {
            chrono::DateTime::from_timestamp(created, 0).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
        };
        contexts.push(serde_json::json!({
            "ID": id, "CreatedSince": since, "CreatedAt": super::container::go_time(created),
            "CreatedBy": by, "Size": size, "Comment": comment,
        }));
        rows.push(vec![id, since, by, size, comment]);
    }
    match format {
        Some(f) => {
            let header = serde_json::json!({
                "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                "Size": "SIZE", "Comment": "COMMENT",
            });
            print!("{}", f.render_all(&header, &contexts)?);
        }
        None if opts.quiet => {}
        None => print!("{}", table(&["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], &rows)),
    }
    Ok(0)
}

/// docker's default `history` table.
const HISTORY_TABLE: &str = "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}";

/// `berth history` options.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub no_trunc: bool,
    pub quiet: bool,
    /// `-H`: sizes and dates for humans (the default).
    pub human: bool,
    pub format: Option<String>,
}

/// `berth image inspect IMAGE...`.
pub async fn inspect(client: &EngineClient, images: &[String], format: Option<&str>) -> Result<u8> {
    let format = match format.filter(|f| !f.is_empty()) {
        Some(f) => Some(Format::inspect(f)?),
        None => None,
    };
    let mut found = Vec::new();
    let mut code = 0;
    for name in images {
        match client.get_text(&image_path(name, "/json")).await {
            Ok(v) => found.push(v),
            Err(e @ ClientError::Connect { .. }) => return Err(e),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    match format {
        Some(f) => super::container::print_templated(&f, &found)?,
        None => println!("{}", crate::client::format::inspect_array(&found)),
    }
    Ok(code)
}

/// `berth image prune [-a] [-f] [--filter k=v]...`: deletes dangling images (with `-a`,
/// every image no container uses) and prints what went and the space reclaimed.
pub async fn prune(client: &EngineClient, all: bool, force: bool, filters: &[String]) -> Result<u8> {
    let f = Filters::from_args(filters).map_err(|e| ClientError::Invalid(e.to_string()))?.add("dangling", if all { "false" } else { "true" });
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
    };
    if !force && !super::confirm(warning) {
        return Err(ClientError::Invalid("image prune has been cancelled".into()));
    }
    let q = Query::new().set_opt("filters", f.encode()).encode();
    let resp = client.call(Method::POST, &format!("/images/prune{q}"), &[], empty()).await?;
    let report: ImagesPruneReport = crate::client::http::decode(&read_body(resp).await?)?;
    print!("{}", render_prune(&report));
    Ok(0)
}

/// The report of `image prune`, as docker prints it.
pub fn render_prune(report: &ImagesPruneReport) -> String {
    let mut out = String::new();
    if !report.images_deleted.is_empty() {
        out.push_str("Deleted Images:\n");
        for item in &report.images_deleted {
            match (&item.untagged, &item.deleted) {
                (Some(u), _) => out.push_str(&format!("untagged: {u}\n")),
                (None, Some(d)) => out.push_str(&format!("deleted: {d}\n")),
                (None, None) => {}
            }
        }
        out.push('\n');
    }
    let reclaimed = if report.images_deleted.is_empty() { 0 } else { report.space_reclaimed };
    out.push_str(&format!("Total reclaimed space: {}\n", crate::client::format::human_size_prec(reclaimed as i64, 4)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_table_matches_docker() {
        let img = ImageSummary {
            id: "sha256:abcdef0123456789abcdef".into(),
            repo_tags: vec!["busybox:latest".into()],
            created: 0,
            size: 1_234_567,
            ..Default::default()
        };
        let none = ImageSummary { id: "sha256:1111112222223333".into(), created: 0, size: 5, ..Default::default() };
        let out = render_images(&[img, none], false, 10);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE");
        assert_eq!(lines[1], "busybox      latest    abcdef012345   10 seconds ago   1.23MB");
        assert_eq!(lines[2], "<none>       <none>    111111222222   10 seconds ago   5B");
    }
}
