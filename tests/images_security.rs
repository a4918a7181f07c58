//! Image paths under attack (issue 11, items 1, 4, 5, 6, and parts of 9 and 10): crafted
//! archives whose paths are or go through symlinks (or hard links) out never make berthd read
//! a host file; whiteouts that name no entry and writes through symlinked parents are refused
//! by name; references Docker's grammar refuses are 400 and store nothing; a symlink to `/`
//! is exported and committed as exactly `/`; refused or cut-off loads leave nothing behind;
//! a full disk is reported as "no space left on device" and leaves the previous state.
//! Every scenario runs in both modes.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DOCKER: &str = "/usr/local/bin/docker";

fn daemon(tag: &str, monolithic: bool) -> TestDaemon {
    if monolithic {
        TestDaemon::monolithic(tag)
    } else {
        TestDaemon::modular(tag)
    }
}

fn docker(d: &TestDaemon, args: &[&str]) -> Output {
    assert!(Path::new(DOCKER).exists(), "{DOCKER} is missing: CI must install the docker CLI");
    Command::new(DOCKER)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .args(args)
        .output()
        .expect("run docker")
}

/// Runs the docker CLI and returns stdout, failing the test on a non-zero exit.
fn docker_ok(d: &TestDaemon, args: &[&str]) -> String {
    let out = docker(d, args);
    assert!(out.status.success(), "docker {args:?} failed: {}\ndaemon log:\n{}", text(&out), d.log());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs `args` with both the docker CLI and the berth client; both must fail, and each
/// message must contain every one of `needles`.
fn both_clients_refuse(d: &TestDaemon, args: &[&str], needles: &[&str]) {
    for (who, out) in [("docker", docker(d, args)), ("berth", d.berth(args))] {
        assert!(!out.status.success(), "{who} {args:?} must fail; got: {}", text(&out));
        let msg = text(&out);
        for n in needles {
            assert!(msg.contains(n), "{who} {args:?}: expected {n:?} in: {msg}");
        }
    }
}

/// Every regular file below `dir` (not following symlinks).
fn all_files(dir: &Path) -> Vec<PathBuf> {
    files_below(dir).into_iter().filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The files under `root` whose bytes contain `token` (plain, or inside a gzip stream).
fn files_holding(root: &Path, token: &[u8]) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|p| {
            let data = std::fs::read(p).unwrap_or_default();
            let mut plain = Vec::new();
            let gz = flate2::read::MultiGzDecoder::new(&data[..]).read_to_end(&mut plain).is_ok();
            contains(&data, token) || (gz && contains(&plain, token))
        })
        .collect()
}

/// A tar entry of a hand-made archive; names and link targets are written raw.
enum A<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A tar of `entries`, in order (long names through GNU long-name entries).
fn archive(entries: &[A]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        match e {
            A::File(n, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, n, *data).expect("file entry");
            }
            A::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, n, &b""[..]).expect("dir entry");
            }
            A::Symlink(n, t) | A::HardLink(n, t) => {
                let kind = if matches!(e, A::Symlink(..)) { tar::EntryType::Symlink } else { tar::EntryType::Link };
                h.set_entry_type(kind);
                h.set_size(0);
                b.append_link(&mut h, n, t).expect("link entry");
            }
        }
    }
    b.into_inner().expect("finish archive")
}

/// Host files an attacker wants berthd to read, outside the daemon's root: a layer tar
/// holding a unique token, an image config for it, a docker-archive manifest and an OCI
/// index naming them. If any were followed, a whole image would load from host files.
struct Canary {
    dir: PathBuf,
    token: Vec<u8>,
    tar: Vec<u8>,
    config: Vec<u8>,
    index: Vec<u8>,
    before: Vec<(PathBuf, Vec<u8>, std::time::SystemTime)>,
}

impl Canary {
    fn plant(tmp: &TempDir) -> Canary {
        let dir = tmp.path().join("host");
        std::fs::create_dir_all(dir.join("sha256")).expect("canary dir");
        let n: u64 = rand::random();
        let token = format!("CANARY-{n:016x}-SECRET").into_bytes();
        let tar = layer(&[E::File("secret", &token)]);
        let config = config_for(std::slice::from_ref(&tar));
        let chex = sha256(&config).trim_start_matches("sha256:").to_owned();
        let thex = sha256(&tar).trim_start_matches("sha256:").to_owned();
        let manifest =
            serde_json::json!([{"Config": "canary.json", "RepoTags": ["stolen:latest"], "Layers": ["canary.tar"]}]).to_string().into_bytes();
        let oci_manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&tar), "size": tar.len()}],
        })
        .to_string()
        .into_bytes();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(&oci_manifest), "size": oci_manifest.len(),
                           "annotations": {"io.containerd.image.name": "docker.io/library/stolen:latest"}}],
        })
        .to_string()
        .into_bytes();
        std::fs::write(dir.join("canary.tar"), &tar).expect("canary tar");
        std::fs::write(dir.join("canary.json"), &config).expect("canary config");
        std::fs::write(dir.join("manifest.json"), &manifest).expect("canary manifest");
        std::fs::write(dir.join("index.json"), &index).expect("canary index");
        // A host "blob store" too, for paths through a symlinked blobs/ dir.
        std::fs::write(dir.join("sha256").join(&chex), &config).expect("canary blob");
        std::fs::write(dir.join("sha256").join(&thex), &tar).expect("canary blob");
        std::fs::write(dir.join("sha256").join(sha256(&oci_manifest).trim_start_matches("sha256:")), &oci_manifest).expect("canary blob");
        let mut c = Canary { dir, token, tar, config, index, before: Vec::new() };
        c.before = c.snapshot();
        c
    }

    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
        let mut files = all_files(&self.dir);
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let data = std::fs::read(&p).unwrap_or_default();
                let mtime = std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                (p, data, mtime)
            })
            .collect()
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// `name` as a relative path from inside an archive unpacked anywhere: enough `..`.
    fn climb(&self, name: &str) -> String {
        format!("{}{}", "../".repeat(20), self.path(name).trim_start_matches('/'))
    }

    /// The canary was neither changed nor copied anywhere under `root`.
    fn check(&self, root: &Path, what: &str) {
        assert_eq!(self.snapshot(), self.before, "{what}: the host canary files were changed");
        let leaked = files_holding(root, &self.token);
        assert!(leaked.is_empty(), "{what}: the canary's content was read into the store: {leaked:?}");
    }
}

/// A docker-archive whose config and layer are the archive's own (valid), for variants
/// that replace one piece by a link.
fn honest_parts() -> (Vec<u8>, Vec<u8>) {
    let l = layer(&[E::File("ok", b"ok\n")]);
    (config_for(std::slice::from_ref(&l)), l)
}

fn crafted_archives_are_refused_and_no_host_file_is_read(monolithic: bool) {
    let d = daemon(if monolithic { "arlinkm" } else { "arlink" }, monolithic);
    let tmp = TempDir::new("arlink");
    let c = Canary::plant(&tmp);
    let (cfg, l) = honest_parts();
    let manifest = |config: &str, layer: &str| {
        serde_json::json!([{"Config": config, "RepoTags": ["crafted:latest"], "Layers": [layer]}]).to_string().into_bytes()
    };
    let m_canary = manifest("canary.json", "canary.tar");
    let m_cfg_link = manifest("cfg.json", "l/layer.tar");
    let m_through = manifest("d/canary.json", "d/canary.tar");
    let m_layer_link = manifest("cfg.json", "layer.tar");
    let (cpath, tpath) = (c.path("canary.json"), c.path("canary.tar"));
    let (cclimb, tclimb, mclimb) = (c.climb("canary.json"), c.climb("canary.tar"), c.climb("manifest.json"));
    let host_dir = c.dir.to_string_lossy().into_owned();
    let chex = sha256(&c.config).trim_start_matches("sha256:").to_owned();
    let cblob = format!("blobs/sha256/{chex}");
    let index_blob_link = {
        // An OCI layout whose manifest is its own, but whose config blob is a link out.
        let oci_manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&c.config), "size": c.config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&c.tar), "size": c.tar.len()}],
        })
        .to_string()
        .into_bytes();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(&oci_manifest), "size": oci_manifest.len()}],
        })
        .to_string()
        .into_bytes();
        (oci_manifest, index)
    };
    let mblob = format!("blobs/sha256/{}", sha256(&index_blob_link.0).trim_start_matches("sha256:"));
    let tblob = format!("blobs/sha256/{}", sha256(&c.tar).trim_start_matches("sha256:"));
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "manifest.json is an absolute symlink",
            archive(&[A::Symlink("manifest.json", &c.path("manifest.json"))]),
            &["manifest.json", "symlink", "outside the archive"],
        ),
        ("manifest.json climbs out", archive(&[A::Symlink("manifest.json", &mclimb)]), &["manifest.json", "symlink", "outside the archive"]),
        (
            "Config and Layers are absolute symlinks",
            archive(&[A::File("manifest.json", &m_canary), A::Symlink("canary.json", &cpath), A::Symlink("canary.tar", &tpath)]),
            &["canary.json", "symlink", "outside the archive"],
        ),
        (
            "Config climbs out",
            archive(&[A::File("manifest.json", &m_cfg_link), A::Symlink("cfg.json", &cclimb), A::File("l/layer.tar", &l)]),
            &["cfg.json", "symlink", "outside the archive"],
        ),
        (
            "a Layers entry is a symlink out",
            archive(&[A::File("manifest.json", &m_layer_link), A::File("cfg.json", &c.config), A::Symlink("layer.tar", &tclimb)]),
            &["layer.tar", "symlink", "outside the archive"],
        ),
        (
            "paths go through a symlinked directory",
            archive(&[A::File("manifest.json", &m_through), A::Symlink("d", &host_dir)]),
            &["\"d\"", "symlink", "outside the archive"],
        ),
        (
            "Config is a hard link to a host file",
            archive(&[A::File("manifest.json", &m_cfg_link), A::HardLink("cfg.json", &cpath), A::File("l/layer.tar", &l)]),
            &["cfg.json", "hard link", "not a file of the archive"],
        ),
        (
            "Config is a hard link climbing out",
            archive(&[A::File("manifest.json", &m_cfg_link), A::HardLink("cfg.json", &cclimb), A::File("l/layer.tar", &l)]),
            &["cfg.json", "hard link", "not a file of the archive"],
        ),
        (
            "index.json is a symlink out",
            archive(&[A::File("oci-layout", layout), A::Symlink("index.json", &c.path("index.json"))]),
            &["index.json", "symlink", "outside the archive"],
        ),
        (
            "blobs are symlinks out (their digests match the host files)",
            archive(&[
                A::File("oci-layout", layout),
                A::File("index.json", &index_blob_link.1),
                A::File(&mblob, &index_blob_link.0),
                A::Symlink(&cblob, &cpath),
                A::Symlink(&tblob, &tclimb),
            ]),
            &["symlink", "outside the archive"],
        ),
        (
            "blobs/ is a symlinked directory",
            archive(&[
                A::File("oci-layout", layout),
                A::File("index.json", &c.index),
                A::Dir("blobs"),
                A::Symlink("blobs/sha256", &c.path("sha256")),
            ]),
            &["blobs/sha256", "symlink", "outside the archive"],
        ),
    ];
    for (what, bytes, needles) in &cases {
        let file = write_file(tmp.path(), "crafted.tar", bytes);
        both_clients_refuse(&d, &["load", "-i", &file], needles);
        c.check(&d.root(), what);
        assert_eq!(d.berth_ok(&["images", "-q"]), "", "{what}: no image was added");
        assert!(files_below(&d.root().join("image/blobs")).is_empty(), "{what}: no blob was kept");
        assert!(files_below(&d.root().join("image/tmp")).is_empty(), "{what}: no temp file was left");
    }
    // A relative symlink that stays inside the archive (legacy `docker save` links duplicate
    // layers so) is followed; and `save` output carries nothing of the host files.
    let honest = archive(&[
        A::File("manifest.json", &manifest("cfg.json", "b/layer.tar")),
        A::File("cfg.json", &cfg),
        A::File("a/layer.tar", &l),
        A::Symlink("b/layer.tar", "../a/layer.tar"),
    ]);
    let file = write_file(tmp.path(), "honest.tar", &honest);
    assert!(d.berth_ok(&["load", "-i", &file]).contains("Loaded image: crafted:latest"));
    let out = d.berth(&["save", "crafted"]);
    assert!(out.status.success() && !out.stdout.is_empty(), "save: {}", text(&out));
    assert!(!contains(&out.stdout, &c.token), "save output holds the canary");
    c.check(&d.root(), "after an honest load and save");
}

fn bad_whiteouts_and_writes_through_symlinks_are_refused_by_name(monolithic: bool) {
    let d = daemon(if monolithic { "whitm" } else { "whit" }, monolithic);
    let tmp = TempDir::new("whit");
    // A canary directory next to the daemon's root, and one the entries aim at.
    let canary = d.dir.path().join("canary");
    std::fs::create_dir_all(&canary).expect("canary dir");
    std::fs::write(canary.join("keep"), b"keep").expect("canary file");
    let canary_s = canary.to_string_lossy().into_owned();
    let before_root: Vec<String> =
        std::fs::read_dir(d.root().join("image")).expect("image dir").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (".wh...", layer(&[E::Dir("d/"), E::File("d/.wh...", b"")]), ".wh..."),
        (".wh..", layer(&[E::File(".wh..", b"")]), ".wh.."),
        (".wh.", layer(&[E::File("d/.wh.", b"")]), ".wh."),
        (".wh.a/b", layer(&[E::File(".wh.a/b", b"")]), ".wh.a"),
        ("a -> canary, a/x", layer(&[E::Symlink("a", &canary_s), E::File("a/x", b"pwned")]), "a/x"),
        ("a -> /, a/x", layer(&[E::Symlink("a", "/"), E::File(&format!("a{canary_s}/x"), b"pwned")]), "symlink"),
        ("a -> ../.., a/.wh.keep", layer(&[E::Symlink("a", "../../../../../../../.."), E::File(&format!("a{canary_s}/.wh.keep"), b"")]), "symlink"),
    ];
    for (what, tar, name) in &cases {
        let file = write_file(tmp.path(), "wh.tar", tar);
        both_clients_refuse(&d, &["import", &file, "wh"], &["refusing layer entry", name]);
        assert_eq!(std::fs::read(canary.join("keep")).ok().as_deref(), Some(&b"keep"[..]), "{what}: canary file changed");
        assert_eq!(files_below(&canary).len(), 1, "{what}: something was written into the canary dir");
        let now: Vec<String> =
            std::fs::read_dir(d.root().join("image")).expect("image dir").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(now, before_root, "{what}: the store's own directories (image/tmp) must stay");
        assert!(files_below(&d.root().join("image/layers")).is_empty(), "{what}: no layer kept");
        assert!(files_below(&d.root().join("image/tmp")).is_empty(), "{what}: no staging left");
        assert!(files_below(&d.root().join("image/blobs")).is_empty(), "{what}: no blob kept");
        assert_eq!(d.berth_ok(&["images", "-q"]), "", "{what}");
    }
    // The opaque marker still is one, and a plain whiteout still works.
    let ok = layer(&[E::Dir("d/"), E::File("d/.wh..wh..opq", b""), E::File("d/.wh.gone", b""), E::File("d/f", b"f")]);
    let file = write_file(tmp.path(), "ok.tar", &ok);
    d.berth_ok(&["import", &file, "wh"]);
}

/// `curl` on the daemon's socket; returns (status code, body).
fn curl(d: &TestDaemon, method: &str, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(d.socket())
        .args(["-X", method, "-H", "Content-Type: application/x-tar", "--data-binary", "@/dev/null"])
        .arg(format!("http://localhost{path}"))
        .output()
        .expect("curl (Debian's curl package) must be installed");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = s.rsplit_once('\n').unwrap_or((&s, "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn references_docker_refuses_are_400_and_store_nothing(monolithic: bool) {
    let d = daemon(if monolithic { "refm" } else { "ref" }, monolithic);
    d.import_busybox();
    docker_ok(&d, &["create", "--name", "c", "busybox", "true"]);
    let long = "t".repeat(200);
    let fmt = "invalid reference format";
    let upper = "invalid reference format: repository name (library/UPPER) must be lowercase";
    let cases: Vec<(&str, String, &str)> = vec![
        ("POST", "/images/busybox/tag?repo=ok&tag=..%2F..%2Fx".into(), "invalid tag format"),
        ("POST", format!("/images/busybox/tag?repo=ok&tag={long}"), "invalid tag format"),
        ("POST", "/images/busybox/tag?repo=ok:..%2F..%2Fx".into(), fmt),
        ("POST", format!("/images/busybox/tag?repo=ok:{long}"), fmt),
        ("POST", "/images/busybox/tag?repo=..%2F..%2Fx".into(), fmt),
        ("POST", "/images/busybox/tag?repo=UPPER".into(), upper),
        ("POST", format!("/images/busybox/tag?repo={}", "a".repeat(250)), "must not be more than 255 characters"),
        ("POST", "/images/UPPER/tag?repo=ok".into(), upper),
        ("POST", "/images/create?fromImage=UPPER".into(), upper),
        ("POST", "/images/create?fromImage=busybox&tag=..%2Fx".into(), "invalid tag format"),
        ("POST", "/images/create?fromSrc=-&repo=UPPER".into(), upper),
        ("POST", "/images/create?fromSrc=-&repo=ok&tag=..%2F..%2Fx".into(), "invalid tag format"),
        ("POST", "/commit?container=c&repo=ok&tag=..%2F..%2Fx".into(), "invalid tag format"),
        ("POST", "/commit?container=c&repo=UPPER".into(), upper),
        ("POST", "/images/UPPER/push".into(), upper),
        ("GET", "/images/UPPER/json".into(), upper),
        ("GET", "/images/UPPER/history".into(), upper),
        ("GET", "/images/UPPER/get".into(), upper),
        ("DELETE", "/images/UPPER".into(), upper),
    ];
    for (method, path, want) in &cases {
        let (code, body) = curl(&d, method, path);
        assert_eq!(code, 400, "{method} {path}: {body}");
        assert!(body.contains(want), "{method} {path}: expected {want:?} in {body}");
    }
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(d.socket())
        .args(["-X", "POST", "-H", "Content-Type: application/json", "-d", r#"{"Image":"UPPER"}"#, "http://localhost/containers/create"])
        .output()
        .expect("curl");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(s.ends_with("\n400") && s.contains(upper), "container create with a bad image name: {s}");
    // Through the clients: the docker CLI refuses most of these itself; what reaches the
    // daemon gets Docker's message either way.
    // (The berth client sends "ok" and "../../x" apart, as `repo` and `tag`: then the
    // daemon's answer is Docker's "invalid tag format".)
    both_clients_refuse(&d, &["tag", "busybox", "ok:../../x"], &["invalid", "format"]);
    both_clients_refuse(&d, &["tag", "busybox", &format!("ok:{long}")], &["invalid", "format"]);
    both_clients_refuse(&d, &["tag", "busybox", "UPPER"], &["must be lowercase"]);
    both_clients_refuse(&d, &["rmi", "UPPER"], &["must be lowercase"]);
    both_clients_refuse(&d, &["image", "inspect", "UPPER"], &["must be lowercase"]);
    both_clients_refuse(&d, &["commit", "c", "ok:../../x"], &["invalid", "format"]);
    // Nothing was stored: one name, and it lists and removes as ever.
    let names = docker_ok(&d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names.trim(), "busybox:latest", "only the imported name exists");
    let refs = std::fs::read_to_string(d.root().join("image/repositories.json")).unwrap_or_default();
    assert!(!refs.contains("..") && !refs.contains("UPPER") && !refs.contains(&long), "{refs}");
    // A good tag of the maximum length works, lists and is removable.
    let max = "t".repeat(128);
    let (code, body) = curl(&d, "POST", &format!("/images/busybox/tag?repo=ok&tag={max}"));
    assert_eq!(code, 201, "{body}");
    assert!(docker_ok(&d, &["images", "--format", "{{.Tag}}"]).contains(&max));
    d.berth_ok(&["rmi", &format!("ok:{max}")]);
}

/// The link target of entry `name` in tar `data`.
fn link_of(data: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().ok()? {
        let e = e.ok()?;
        let path = e.path().ok()?.to_string_lossy().trim_start_matches("./").to_owned();
        if path == name {
            return e.link_name_bytes().map(|b| b.into_owned());
        }
    }
    None
}

fn a_symlink_to_root_is_written_as_exactly_slash(monolithic: bool) {
    let d = daemon(if monolithic { "slashm" } else { "slash" }, monolithic);
    let tmp = TempDir::new("slash");
    d.import_busybox();
    d.berth_ok(&["run", "--name", "c", "busybox", "ln", "-s", "/", "/rootlink"]);
    let export = tmp.path().join("export.tar");
    d.berth_ok(&["export", "-o", &export.to_string_lossy(), "c"]);
    let data = std::fs::read(&export).expect("export tar");
    assert_eq!(link_of(&data, "rootlink").as_deref(), Some(&b"/"[..]), "export");
    let exported_docker = docker(&d, &["export", "c"]);
    assert_eq!(link_of(&exported_docker.stdout, "rootlink").as_deref(), Some(&b"/"[..]), "docker export");
    d.berth_ok(&["commit", "c", "withlink"]);
    let saved = d.berth(&["save", "withlink"]);
    assert!(saved.status.success(), "{}", text(&saved));
    // The committed layer is the last in the manifest.
    let manifest: serde_json::Value = {
        let mut ar = tar::Archive::new(&saved.stdout[..]);
        let mut m = Vec::new();
        for e in ar.entries().expect("entries") {
            let mut e = e.expect("entry");
            if e.path().expect("path").to_string_lossy() == "manifest.json" {
                e.read_to_end(&mut m).expect("read");
            }
        }
        serde_json::from_slice(&m).expect("manifest.json")
    };
    let top = manifest[0]["Layers"].as_array().and_then(|l| l.last()).and_then(|l| l.as_str()).expect("layers").to_owned();
    let mut ar = tar::Archive::new(&saved.stdout[..]);
    let mut layer_tar = Vec::new();
    for e in ar.entries().expect("entries") {
        let mut e = e.expect("entry");
        if e.path().expect("path").to_string_lossy() == top {
            e.read_to_end(&mut layer_tar).expect("read");
        }
    }
    assert_eq!(link_of(&layer_tar, "rootlink").as_deref(), Some(&b"/"[..]), "commit");
}

/// A running container that keeps swapping a directory of 2000 files for a symlink to a
/// host directory holding the same names: an `export` or `commit --pause=false` walking its
/// files meanwhile must never follow the symlink to the host (before every path was resolved
/// below the container's tree, the walk's stat and the read went through it).
fn exporting_a_container_that_swaps_a_directory_for_a_host_symlink_never_reads_the_host(monolithic: bool, driver: &str) {
    let tag = format!("swap{}{}", if monolithic { "m" } else { "" }, &driver[..1]);
    let d = TestDaemon::with_args(&tag, monolithic, &["--storage-driver", driver]);
    let tmp = TempDir::new("swaphost");
    let canary = format!("HOST-CANARY-{:016x}", rand::random::<u64>());
    let host = tmp.path().join("hostdir");
    std::fs::create_dir_all(&host).expect("mkdir");
    for i in 0..2000 {
        std::fs::write(host.join(format!("f{i}")), &canary).expect("host file");
    }
    d.import_busybox();
    let script = format!(
        "mkdir /d; i=0; while [ $i -lt 2000 ]; do echo inside > /d/f$i; i=$((i+1)); done; echo ready; \
         while :; do mv /d /d.real; ln -s {} /d; rm /d; mv /d.real /d; done",
        host.display()
    );
    docker_ok(&d, &["run", "-d", "--name", "swapper", "busybox", "sh", "-c", &script]);
    assert!(common::wait_until(30, || docker_ok(&d, &["logs", "swapper"]).contains("ready")), "the container made its files");
    for round in 0..8 {
        let out = docker(&d, &["export", "swapper"]);
        assert!(out.status.success(), "export {round}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!contains(&out.stdout, canary.as_bytes()), "export {round} carries a host file");
        let mut ar = tar::Archive::new(&out.stdout[..]);
        assert!(ar.entries().expect("entries").all(|e| e.is_ok()), "export {round} is not a whole tar");
        docker_ok(&d, &["commit", "--pause=false", "swapper", &format!("snap:{round}")]);
    }
    // Scanned once the swapping has stopped (a scan by path would itself follow the symlink).
    docker_ok(&d, &["rm", "-f", "swapper"]);
    let leaked = files_holding(&d.root(), canary.as_bytes());
    assert!(leaked.is_empty(), "host files were stored: {leaked:?}");
}

fn exporting_a_container_that_swaps_a_directory_for_a_host_symlink_never_reads_the_host_overlay(monolithic: bool) {
    exporting_a_container_that_swaps_a_directory_for_a_host_symlink_never_reads_the_host(monolithic, "overlay2")
}

#[test]
fn exporting_a_vfs_container_that_swaps_a_directory_for_a_host_symlink_never_reads_the_host() {
    exporting_a_container_that_swaps_a_directory_for_a_host_symlink_never_reads_the_host(false, "vfs")
}

/// Hex names of the stored blobs.
fn blobs(d: &TestDaemon) -> Vec<String> {
    let mut v: Vec<String> =
        files_below(&d.root().join("image/blobs")).iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    v.sort();
    v
}

fn nothing_left(d: &TestDaemon, kept: &[String], what: &str) {
    assert!(
        common::wait_until(10, || files_below(&d.root().join("image/tmp")).is_empty()),
        "{what}: temp files left: {:?}",
        files_below(&d.root().join("image/tmp"))
    );
    assert_eq!(blobs(d), kept, "{what}: exactly the blobs of the images there before");
}

fn refused_or_cut_off_loads_leave_nothing_behind(monolithic: bool) {
    let mut d = daemon(if monolithic { "cutm" } else { "cut" }, monolithic);
    let tmp = TempDir::new("cut");
    // An image that is there before, whose blobs must stay.
    let base = layer(&[E::File("base", b"base\n")]);
    let file = write_file(tmp.path(), "base.tar", &docker_archive("base", &[base]));
    d.berth_ok(&["load", "-i", &file]);
    let kept = blobs(&d);
    let layers_before = files_below(&d.root().join("image/layers")).len();
    assert!(!kept.is_empty());

    // Refused late: the first layer is fine (stored, extracted), the second is hostile.
    let good = layer(&[E::File("good", &[7u8; 300_000])]);
    let evil = layer(&[E::File("../../escape", b"x")]);
    let file = write_file(tmp.path(), "late.tar", &docker_archive("late", &[good.clone(), evil]));
    let out = d.berth(&["load", "-i", &file]);
    assert!(!out.status.success() && text(&out).contains("refusing layer entry"), "{}", text(&out));
    nothing_left(&d, &kept, "refused load");
    assert_eq!(files_below(&d.root().join("image/layers")).len(), layers_before, "the good layer of the refused load is gone");

    // Cut off: a truncated archive, and an upload whose connection is closed midway.
    let full = docker_archive("cut", &[good]);
    let file = write_file(tmp.path(), "trunc.tar", &full[..full.len() / 2]);
    assert!(!d.berth(&["load", "-i", &file]).status.success());
    nothing_left(&d, &kept, "truncated archive");
    {
        let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect");
        let head =
            format!("POST /images/load HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n", full.len());
        s.write_all(head.as_bytes()).expect("send head");
        s.write_all(&full[..full.len() / 2]).expect("send half");
    }
    nothing_left(&d, &kept, "upload cut off");
    assert_eq!(docker_ok(&d, &["images", "--format", "{{.Repository}}"]).trim(), "base");

    // Leftovers of a crash (an unreferenced blob, a temp dir) go at the next start, and a
    // stray blob goes with `image prune -a`; the images there stay whole.
    let stray = b"stray blob of a killed pull";
    let stray_hex = sha256(stray).trim_start_matches("sha256:").to_owned();
    std::fs::write(d.root().join("image/blobs/sha256").join(&stray_hex), stray).expect("plant blob");
    std::fs::create_dir_all(d.root().join("image/tmp/work-crashed")).expect("plant tmp");
    d.kill_daemon();
    d.start();
    nothing_left(&d, &kept, "after a restart");
    // A container keeps its image from `prune -a`; the stray blob goes, the image's stay.
    docker_ok(&d, &["create", "--name", "keep", "base", "/base"]);
    std::fs::write(d.root().join("image/blobs/sha256").join(&stray_hex), stray).expect("plant blob");
    d.berth_ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(blobs(&d), kept, "prune -a collects the stray blob and keeps the used image's");
    let out = d.berth(&["save", "base"]);
    assert!(out.status.success() && !out.stdout.is_empty(), "the kept image still saves: {}", text(&out));
}

/// A tmpfs of `mb` MB mounted at `dir`; unmounted (with the daemon's TempDir) on drop.
fn mount_tmpfs(dir: &Path, mb: u32) {
    std::fs::create_dir_all(dir).expect("mount point");
    nix::mount::mount(Some("tmpfs"), dir, Some("tmpfs"), nix::mount::MsFlags::empty(), Some(format!("size={mb}m,mode=0700").as_str()))
        .expect("mount tmpfs (needs root)");
}

/// Fills the filesystem of `dir` with `dir/filler`; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).expect("filler");
    let chunk = vec![0xa5u8; 1 << 20];
    while f.write_all(&chunk).is_ok() {}
    for size in [4096usize, 1] {
        while f.write_all(&chunk[..size]).is_ok() {}
    }
    let _ = f.sync_all();
    p
}

fn a_full_disk_is_reported_as_such_and_leaves_the_previous_state(monolithic: bool) {
    let mut d = daemon(if monolithic { "fullm" } else { "full" }, monolithic);
    let tmp = TempDir::new("full");
    d.kill_daemon();
    mount_tmpfs(&d.root(), 20);
    d.start();
    d.import_busybox();
    let running = d.berth_ok(&["run", "-d", "--name", "r", "busybox", "sleep", "1000"]).trim().to_owned();
    d.berth_ok(&["run", "--name", "s", "busybox", "sh", "-c", "echo changed > /new"]);
    let archive_bytes = docker_archive("loaded", &[layer(&[E::File("f", &[1u8; 200_000])])]);
    let archive = write_file(tmp.path(), "load.tar", &archive_bytes);
    let bb = common::busybox_tar().to_string_lossy().into_owned();
    let kept = blobs(&d);
    let images_before = docker_ok(&d, &["images", "-q", "--no-trunc"]);

    let filler = fill(&d.root());
    let nospace = "no space left on device";
    for args in [vec!["import", bb.as_str(), "imported"], vec!["load", "-i", archive.as_str()], vec!["commit", "s", "committed"]] {
        let out = d.berth(&args);
        assert!(!out.status.success(), "{args:?} must fail on a full disk");
        let msg = text(&out);
        assert!(msg.contains(nospace), "{args:?}: expected {nospace:?}, got: {msg}");
        assert!(!msg.contains("failed to unpack") && !msg.contains("invalid image archive"), "{args:?}: {msg}");
        nothing_left(&d, &kept, &format!("{args:?} on a full disk"));
        assert_eq!(docker_ok(&d, &["images", "-q", "--no-trunc"]), images_before, "{args:?}: no image added");
    }
    // Docker answers a system error with 500. (A commit that pauses the container first
    // fails earlier, in the container store, on a full disk: that is pause's part of the
    // issue; this one does not pause.)
    let (code, body) = curl(&d, "POST", "/commit?container=r&repo=viacurl&pause=0");
    assert_eq!(code, 500, "{body}");
    assert!(body.contains(nospace), "{body}");
    nothing_left(&d, &kept, "commit of a running container on a full disk");
    assert_eq!(d.frozen(&running), Some(false), "the container is not frozen");

    std::fs::remove_file(&filler).expect("free space");
    d.berth_ok(&["import", &bb, "imported"]);
    assert!(d.berth_ok(&["load", "-i", &archive]).contains("Loaded image: loaded:latest"));
    d.berth_ok(&["commit", "s", "committed"]);
    assert_eq!(d.berth_ok(&["run", "--rm", "committed", "cat", "/new"]), "changed\n");
    d.berth_ok(&["commit", "r", "committed-running"]);
    d.berth_ok(&["rm", "-f", "r"]);
}

/// A digest names the manifest an image was pulled as, never the repository's `latest`:
/// a digest nothing was pulled as is "No such image" for inspect, run and rmi, and rmi
/// leaves the tagged image alone.
fn a_digest_reference_never_stands_for_the_latest_tag(monolithic: bool) {
    let d = daemon(if monolithic { "secdgm" } else { "secdg" }, monolithic);
    d.import_busybox();
    let id = docker_ok(&d, &["inspect", "-f", "{{.Id}}", "busybox"]);
    let by_digest = format!("busybox@sha256:{}", "0".repeat(64));
    for args in
        [vec!["inspect", by_digest.as_str()], vec!["rmi", by_digest.as_str()], vec!["run", "--rm", "--pull", "never", by_digest.as_str(), "true"]]
    {
        let out = docker(&d, &args);
        assert!(!out.status.success(), "docker {args:?} succeeded");
        assert!(text(&out).to_lowercase().contains("no such"), "docker {args:?}: {}", text(&out));
    }
    assert_eq!(docker_ok(&d, &["inspect", "-f", "{{.Id}}", "busybox"]), id, "the tagged image changed");
    assert!(docker_ok(&d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]).contains("busybox:latest"));
}

macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod modular {
            $( #[test] fn $name() { super::$name(false) } )*
        }
        mod monolithic {
            $( #[test] fn $name() { super::$name(true) } )*
        }
    };
}

in_both_modes!(
    crafted_archives_are_refused_and_no_host_file_is_read,
    bad_whiteouts_and_writes_through_symlinks_are_refused_by_name,
    references_docker_refuses_are_400_and_store_nothing,
    a_symlink_to_root_is_written_as_exactly_slash,
    exporting_a_container_that_swaps_a_directory_for_a_host_symlink_never_reads_the_host_overlay,
    refused_or_cut_off_loads_leave_nothing_behind,
    a_full_disk_is_reported_as_such_and_leaves_the_previous_state,
    a_digest_reference_never_stands_for_the_latest_tag,
);
