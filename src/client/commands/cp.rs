//! `berth cp`: copies between a container and the local filesystem with the docker CLI's
//! syntax and rules: `CONTAINER:PATH` on one side, a local path or `-` (a tar on stdin or
//! stdout) on the other; a directory copies into an existing directory or becomes the
//! destination's name; `-a` keeps owners (the daemon's `copyUIDGID`), `-L` follows a source
//! link. What arrives from the daemon is extracted without ever going through a symlink
//! the archive made, nor outside the destination.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use http_body_util::BodyExt;
use hyper::Method;

use super::container_path;
use crate::client::error::{ClientError, Result};
use crate::client::http::{empty, EngineClient, Query};

/// `berth cp`'s options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpOptions {
    /// `-a`: keep (the container's user's) owners.
    pub archive: bool,
    /// `-L`: follow a symlink as the source.
    pub follow_link: bool,
    /// `-q`: no progress line.
    pub quiet: bool,
}

/// `CONTAINER:PATH` split, or None for a local path (one with a `/` before any `:`, as
/// the docker CLI decides).
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    if c.contains('/') {
        return None;
    }
    Some((c, p))
}

/// The `X-Docker-Container-Path-Stat` of `path` in `container`; None when it does not exist.
async fn stat(client: &EngineClient, container: &str, path: &str) -> Result<Option<serde_json::Value>> {
    let q = Query::new().set("path", path).encode();
    let resp = match client.call(Method::HEAD, &container_path(container, &format!("/archive{q}")), &[], empty()).await {
        Ok(r) => r,
        Err(ClientError::Daemon { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let header = resp.headers().get("X-Docker-Container-Path-Stat").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    use base64::Engine;
    let json =
        base64::engine::general_purpose::STANDARD.decode(header).map_err(|e| ClientError::Invalid(format!("bad path stat from the daemon: {e}")))?;
    Ok(Some(serde_json::from_slice(&json)?))
}

/// Go's `os.ModeDir`, as the stat's `mode` carries it.
const GO_MODE_DIR: u64 = 1 << 31;
const GO_MODE_SYMLINK: u64 = 1 << 27;

/// `berth cp SRC DEST`.
pub async fn cp(client: &EngineClient, src: &str, dest: &str, opts: CpOptions) -> Result<u8> {
    match (split_container(src), split_container(dest)) {
        (Some(_), Some(_)) => Err(ClientError::Invalid("copying between containers is not supported".into())),
        (None, None) => Err(ClientError::Invalid("must specify at least one container source".into())),
        (Some((c, p)), None) => from_container(client, c, p, dest, opts).await,
        (None, Some((c, p))) => into_container(client, src, c, p, opts).await,
    }
}

async fn from_container(client: &EngineClient, container: &str, path: &str, dest: &str, opts: CpOptions) -> Result<u8> {
    let mut path = path.to_owned();
    let mut rebase: Option<String> = None;
    if opts.follow_link
        && let Some(st) = stat(client, container, &path).await?
        && st["mode"].as_u64().unwrap_or(0) & GO_MODE_SYMLINK != 0
    {
        // The link's target, copied under the link's name.
        rebase = Some(base_of(&path));
        path = st["linkTarget"].as_str().unwrap_or_default().to_owned();
    }
    let q = Query::new().set("path", &path).encode();
    let resp = client.call(Method::GET, &container_path(container, &format!("/archive{q}")), &[], empty()).await?;
    if dest == "-" {
        return super::image::write_archive(resp, None).await;
    }
    let src_base = rebase.unwrap_or_else(|| base_of(&path));
    let dest_path = PathBuf::from(dest);
    // Into an existing directory under the source's name; else as the destination's name.
    let (dir, rename) = match std::fs::metadata(&dest_path) {
        Ok(md) if md.is_dir() => (dest_path.clone(), None),
        Ok(_) => (parent_of(&dest_path), Some(base_of(dest))),
        Err(_) if dest.ends_with('/') => return Err(ClientError::Invalid(format!("destination directory {dest} must exist"))),
        Err(_) => (parent_of(&dest_path), Some(base_of(dest))),
    };
    if !dir.is_dir() {
        return Err(ClientError::Invalid(format!("destination directory {} does not exist", dir.display())));
    }
    let (reader, writer) = std::io::pipe().map_err(|e| ClientError::io("pipe", e))?;
    let mut body = resp.into_body();
    let src_base2 = src_base.clone();
    let extract = tokio::task::spawn_blocking(move || extract_local(reader, &dir, &src_base2, rename.as_deref()));
    let mut w = tokio::fs::File::from_std(std::fs::File::from(OwnedFd::from(writer)));
    let mut total: u64 = 0;
    let mut sent: Result<()> = Ok(());
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(f) => f.into_data().unwrap_or_default(),
            Err(e) => {
                sent = Err(e.into());
                break;
            }
        };
        total += data.len() as u64;
        if let Err(e) = tokio::io::AsyncWriteExt::write_all(&mut w, &data).await {
            sent = Err(ClientError::io("extract", e));
            break;
        }
    }
    drop(w);
    let extracted = extract.await.map_err(|e| ClientError::Invalid(e.to_string()))?;
    extracted?;
    sent?;
    if !opts.quiet {
        eprintln!("Successfully copied {} to {dest}", crate::client::format::human_size_prec(total as i64, 3));
    }
    Ok(0)
}

/// The last element of `p` (Go's `filepath.Base`).
fn base_of(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_owned()
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Extracts the tar `r` into `dir`, the leading `src_base` of each name replaced by
/// `rename` when given. Names must stay below `dir`, and nothing is written through a
/// symlink below `dir` (one the archive made, above all).
fn extract_local(r: impl Read, dir: &Path, src_base: &str, rename: Option<&str>) -> Result<()> {
    let mut archive = tar::Archive::new(r);
    archive.set_preserve_permissions(true);
    for entry in archive.entries().map_err(|e| ClientError::io("read the archive", e))? {
        let mut entry = entry.map_err(|e| ClientError::io("read the archive", e))?;
        let name = entry.path().map_err(|e| ClientError::io("read the archive", e))?.into_owned();
        let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
        for c in name.components() {
            match c {
                Component::Normal(n) => parts.push(n),
                Component::CurDir => {}
                _ => return Err(ClientError::Invalid(format!("refusing archive entry {}: outside the destination", name.display()))),
            }
        }
        if let (Some(new), Some(first)) = (rename, parts.first_mut())
            && *first == std::ffi::OsStr::new(src_base)
        {
            *first = std::ffi::OsStr::new(new);
        }
        if parts.is_empty() {
            continue;
        }
        let target: PathBuf = parts.iter().fold(dir.to_path_buf(), |p, n| p.join(n));
        let mut at = dir.to_path_buf();
        for n in &parts[..parts.len() - 1] {
            at.push(n);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(ClientError::Invalid(format!("refusing to extract {} through the symlink {}", name.display(), at.display())));
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ClientError::io(format!("mkdir {}", parent.display()), e))?;
        }
        if entry.header().entry_type() != tar::EntryType::Directory && std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
            std::fs::remove_file(&target).map_err(|e| ClientError::io(format!("replace {}", target.display()), e))?;
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            // A hard link names another entry of the archive: renamed the same way.
            let link = entry.link_name().ok().flatten().map(|l| l.into_owned()).unwrap_or_default();
            let mut lparts: Vec<&std::ffi::OsStr> =
                link.components().filter_map(|c| if let Component::Normal(n) = c { Some(n) } else { None }).collect();
            if let (Some(new), Some(first)) = (rename, lparts.first_mut())
                && *first == std::ffi::OsStr::new(src_base)
            {
                *first = std::ffi::OsStr::new(new);
            }
            let from: PathBuf = lparts.iter().fold(dir.to_path_buf(), |p, n| p.join(n));
            std::fs::hard_link(&from, &target).map_err(|e| ClientError::io(format!("link {}", target.display()), e))?;
            continue;
        }
        entry.unpack(&target).map_err(|e| ClientError::io(format!("extract {}", target.display()), e))?;
    }
    Ok(())
}

async fn into_container(client: &EngineClient, src: &str, container: &str, path: &str, opts: CpOptions) -> Result<u8> {
    let put = |dir: String, body| async move {
        let q = Query::new().set("path", &dir).set("noOverwriteDirNonDir", "true").flag("copyUIDGID", opts.archive).encode();
        client.call(Method::PUT, &container_path(container, &format!("/archive{q}")), &[("content-type", "application/x-tar")], body).await
    };
    if src == "-" {
        put(path.to_owned(), super::image::stream_body(tokio::io::stdin())).await?;
        return Ok(0);
    }
    let mut local = PathBuf::from(src);
    if opts.follow_link
        && let Ok(target) = std::fs::canonicalize(&local)
    {
        local = target;
    }
    let md = std::fs::symlink_metadata(&local).map_err(|e| ClientError::io(format!("stat {src}"), e))?;
    // Where in the container, and under which name.
    let (dir, name) = match stat(client, container, path).await? {
        Some(st) if st["mode"].as_u64().unwrap_or(0) & GO_MODE_DIR != 0 => (path.to_owned(), base_of(src)),
        Some(_) if md.is_dir() => return Err(ClientError::Invalid("cannot copy a directory to a file".into())),
        Some(_) => (parent_in_container(path), base_of(path)),
        None if path.ends_with('/') => return Err(ClientError::Invalid("no such directory".into())),
        None => (parent_in_container(path), base_of(path)),
    };
    let (reader, writer) = std::io::pipe().map_err(|e| ClientError::io("pipe", e))?;
    let is_dir = md.is_dir();
    let build = std::thread::spawn(move || -> std::io::Result<u64> {
        let mut counted = CountingWriter(std::fs::File::from(OwnedFd::from(writer)), 0);
        {
            let mut b = tar::Builder::new(&mut counted);
            b.follow_symlinks(false);
            if is_dir {
                b.append_dir_all(&name, &local)?;
            } else {
                b.append_path_with_name(&local, &name)?;
            }
            b.finish()?;
        }
        Ok(counted.1)
    });
    let body = super::image::stream_body(tokio::fs::File::from_std(std::fs::File::from(OwnedFd::from(reader))));
    let sent = put(dir, body).await;
    let total = build.join().map_err(|_| ClientError::Invalid("archiving the source failed".into()))?;
    sent?;
    let total = total.map_err(|e| ClientError::io(format!("archive {src}"), e))?;
    if !opts.quiet {
        eprintln!("Successfully copied {} to {container}:{path}", crate::client::format::human_size_prec(total as i64, 3));
    }
    Ok(0)
}

fn parent_in_container(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((p, _)) => p.to_owned(),
    }
}

struct CountingWriter(std::fs::File, u64);

impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1 += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_arguments_are_split_as_the_docker_cli_does() {
        assert_eq!(split_container("c:/etc"), Some(("c", "/etc")));
        assert_eq!(split_container("/tmp/a:b"), None);
        assert_eq!(split_container("./c:d"), None);
        assert_eq!(split_container("dir/c:d"), None);
        assert_eq!(split_container("-"), None);
        assert_eq!(parent_in_container("/a/b/"), "/a");
        assert_eq!(parent_in_container("/a"), "/");
    }
}
