//! Image commands: images, import.

use crate::api::types::{ImageSummary, ProgressMessage};
use crate::client::error::{ClientError, Result};
use crate::client::format::{ago, human_size, now_unix, short_id, split_repo_tag, table};
use crate::client::http::{EngineClient, Query, ReqBody};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Method;
use hyper::body::Frame;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Renders `berth images` (or the id list with `quiet`) at time `now`.
pub fn render_images(list: &[ImageSummary], quiet: bool, now: i64) -> String {
    if quiet {
        let mut seen = std::collections::HashSet::new();
        return list
            .iter()
            .map(|i| short_id(&i.id))
            .filter(|id| seen.insert(id.clone()))
            .map(|id| format!("{id}\n"))
            .collect();
    }
    let mut rows = Vec::new();
    for img in list {
        let tags: Vec<(String, String)> = img
            .repo_tags
            .iter()
            .filter(|t| t.as_str() != "<none>:<none>")
            .map(|t| split_repo_tag(t))
            .map(|(r, t)| (r, if t.is_empty() { "<none>".to_owned() } else { t }))
            .collect();
        let tags = if tags.is_empty() { vec![("<none>".to_owned(), "<none>".to_owned())] } else { tags };
        for (repo, tag) in tags {
            rows.push(vec![repo, tag, short_id(&img.id), ago(img.created, now), human_size(img.size)]);
        }
    }
    table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
}

/// `berth images [-q]`.
pub async fn images(client: &EngineClient, quiet: bool) -> Result<u8> {
    let list: Vec<ImageSummary> = client.get_json("/images/json").await?;
    print!("{}", render_images(&list, quiet, now_unix()));
    Ok(0)
}

/// A request body streaming `reader` in 64 KiB chunks.
fn stream_body<R: AsyncRead + Unpin + Send + 'static>(reader: R) -> ReqBody {
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
pub async fn import(client: &EngineClient, source: &str, reference: Option<&str>) -> Result<u8> {
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
    let q = Query::new().set("fromSrc", "-").set_opt("repo", repo).set_opt("tag", tag).encode();
    let resp = client
        .call(Method::POST, &format!("/images/create{q}"), &[("content-type", "application/x-tar")], body)
        .await?;
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
