//! Helpers of the image tests: hand-made layer tars (including hostile ones), docker-archive
//! and OCI-layout images, a throwaway docker-registry, and tool checks.
#![allow(dead_code)]

use crate::common::{self, TempDir};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// "sha256:<hex>" of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Fails the test unless `tool` is on PATH, naming the Debian package that provides it.
pub fn need(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join(tool)).find(|p| p.is_file())).unwrap_or(None);
    found.unwrap_or_else(|| panic!("{tool} is not installed: CI must install Debian's {package} package"))
}

/// One entry of a hand-made layer tar. Names and link targets are written raw, so hostile
/// paths ("../x", "/x") can be expressed.
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// An uncompressed layer tar of `entries`, in order.
pub fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (kind, name, link, data, mode): (tar::EntryType, &str, &str, &[u8], u32) = match e {
            E::Dir(n) => (tar::EntryType::Directory, n, "", b"", 0o755),
            E::File(n, d) => (tar::EntryType::Regular, n, "", d, 0o644),
            E::Symlink(n, t) => (tar::EntryType::Symlink, n, t, b"", 0o777),
            E::HardLink(n, t) => (tar::EntryType::Link, n, t, b"", 0o644),
        };
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append(&h, data).expect("append to layer tar");
    }
    b.into_inner().expect("finish layer tar")
}

/// The busybox rootfs tar the harness makes, as bytes.
pub fn busybox_layer() -> Vec<u8> {
    std::fs::read(common::busybox_tar()).expect("read busybox tar")
}

/// An image config for `layers` (uncompressed tars), with one history entry per layer.
pub fn config_for(layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let history: Vec<serde_json::Value> =
        (0..layers.len()).map(|i| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("layer {i}")})).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .expect("config json")
}

fn append(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).expect("append to archive");
}

/// A docker-archive (`docker save` format) of one image named `tag` made of `layers`.
pub fn docker_archive(tag: &str, layers: &[Vec<u8>]) -> Vec<u8> {
    let config = config_for(layers);
    let chex = sha256(&config).trim_start_matches("sha256:").to_owned();
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, &format!("{chex}.json"), &config);
    let mut paths = Vec::new();
    for l in layers {
        let p = format!("{}/layer.tar", sha256(l).trim_start_matches("sha256:"));
        if !paths.contains(&p) {
            append(&mut b, &p, l);
        }
        paths.push(p);
    }
    // RepoTags are always tagged in `docker save` output (Docker's load refuses a bare name).
    let tag = if tag.rsplit('/').next().is_some_and(|l| l.contains(':')) { tag.to_owned() } else { format!("{tag}:latest") };
    let manifest = serde_json::json!([{"Config": format!("{chex}.json"), "RepoTags": [tag], "Layers": paths}]);
    append(&mut b, "manifest.json", manifest.to_string().as_bytes());
    b.into_inner().expect("finish archive")
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// zstd of `data`.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).expect("zstd")
}

/// Writes an OCI image layout at `dir` holding one image (tag `latest`) whose layers are the
/// given blobs, each with its uncompressed tar (for the diff id) and media type.
/// `tamper` may replace a blob's bytes after its digest was computed.
pub fn oci_layout(dir: &Path, layers: &[(Vec<u8>, Vec<u8>, &str)], tamper: Option<usize>) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir blobs");
    let put = |data: &[u8]| -> (String, usize) {
        let d = sha256(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).expect("write blob");
        (d, data.len())
    };
    let plain: Vec<Vec<u8>> = layers.iter().map(|(_, p, _)| p.clone()).collect();
    let (cd, cs) = put(&config_for(&plain));
    let mut descs = Vec::new();
    for (i, (blob, _, mt)) in layers.iter().enumerate() {
        let (d, s) = put(blob);
        if tamper == Some(i) {
            let mut bad = blob.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0xff;
            std::fs::write(blobs.join(d.trim_start_matches("sha256:")), bad).expect("tamper blob");
        }
        descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": s}));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs,
    });
    let (md, ms) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
}

/// A tar of directory `dir`'s contents (for `berth load` of an OCI layout).
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).expect("tar dir");
    b.into_inner().expect("finish tar")
}

/// A docker-registry (distribution 2.8) on 127.0.0.1:<free port>, storing in a temp dir;
/// killed (by its pid) and removed on drop.
pub struct Registry {
    pub dir: TempDir,
    pub port: u16,
    child: Child,
}

impl Registry {
    /// Starts the registry and waits until `/v2/` answers.
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// Like [`start`](Self::start), with `extra` appended to its config.yml (e.g. an
    /// `auth:` section).
    pub fn start_with(extra: &str) -> Registry {
        let bin = need("docker-registry", "docker-registry");
        let dir = TempDir::new("reg");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{}",
                dir.path().join("data").display(),
                extra
            ),
        )
        .expect("registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child =
            Command::new(bin).arg("serve").arg(&cfg).stdout(log.try_clone().expect("log fd")).stderr(log).spawn().expect("spawn docker-registry");
        let reg = Registry { dir, port, child };
        let up = common::wait_until(15, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "docker-registry did not come up: {}", std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default());
        reg
    }

    /// "127.0.0.1:<port>".
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps the bytes of blob `digest`.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs skopeo with `args`; returns stdout, failing the test on error.
pub fn skopeo(args: &[&str]) -> String {
    let bin = need("skopeo", "skopeo");
    let out = Command::new(bin).args(args).output().expect("run skopeo");
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `data` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write test file");
    p.to_string_lossy().into_owned()
}

/// The files below `dir` (recursive), for "nothing was left behind" checks.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// GETs `path` (under `/v1.41`) from the daemon's Engine API and decodes the JSON answer,
/// failing the test on any status but 200.
pub fn api_get(d: &crate::common::TestDaemon, path: &str) -> serde_json::Value {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect to berthd");
    write!(s, "GET /v1.41{path} HTTP/1.0\r\nHost: docker\r\n\r\n").expect("send request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read answer");
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    assert!(head.split_whitespace().nth(1) == Some("200"), "GET {path}: {head}\n{body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The names of the entries of tar file `path`.
pub fn tar_names(path: &Path) -> Vec<String> {
    let f = std::fs::File::open(path).expect("open tar");
    let mut a = tar::Archive::new(f);
    a.entries()
        .expect("tar entries")
        .map(|e| e.expect("tar entry").path().expect("entry path").to_string_lossy().trim_end_matches('/').to_owned())
        .collect()
}

/// A loopback TCP proxy in front of `upstream` that passes at most `budget` bytes from the
/// server to its clients in all, then cuts every connection (and each new one at once):
/// a registry that goes away mid-transfer, at a chosen byte, deterministically.
/// [`CuttingProxy::heal`] lifts the limit. Its threads end when it is dropped.
pub struct CuttingProxy {
    pub port: u16,
    budget: std::sync::Arc<std::sync::atomic::AtomicI64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CuttingProxy {
    pub fn start(upstream: u16, budget: i64) -> CuttingProxy {
        use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let left = Arc::new(AtomicI64::new(budget));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, s2) = (left.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let left = l2.clone();
                let (c2, sv2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                // Client to server: unlimited.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (c2, sv2);
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
                // Server to client: counted against the budget.
                std::thread::spawn(move || {
                    use std::io::Read;
                    let (mut from, mut to) = (server, client);
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let allowed = left.fetch_sub(n as i64, Ordering::SeqCst).clamp(0, n as i64) as usize;
                        if to.write_all(&buf[..allowed]).is_err() || allowed < n {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    let _ = from.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CuttingProxy { port, budget: left, stop }
    }

    /// "127.0.0.1:<port>".
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Bytes the proxy may still pass (negative once it has cut).
    pub fn left(&self) -> i64 {
        self.budget.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets everything through from now on.
    pub fn heal(&self) {
        self.budget.store(i64::MAX / 2, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `len` bytes that do not compress (xorshift from a random seed).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = rand::random::<u64>() | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
