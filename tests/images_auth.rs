//! Registry authentication (issue 5): `berth login`/`logout` keep credentials in a
//! Docker-compatible config.json (`--config DIR` or `$DOCKER_CONFIG`); pull and push use them
//! for Basic auth (docker-registry with an htpasswd file) and Bearer tokens (a token server
//! in front of a small fake registry); wrong passwords are refused clearly.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};

/// Runs the berth client against `d` with `env` set and `stdin` fed.
fn berth_with(d: &TestDaemon, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(common::berth_bin())
        .arg("-H")
        .arg(d.host())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("berth output")
}

fn text(o: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The `auths` member of `<dir>/config.json`.
fn auths(dir: &std::path::Path) -> serde_json::Value {
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).expect("config.json")).expect("json");
    cfg["auths"].clone()
}

#[test]
fn login_to_an_htpasswd_registry_stores_credentials_that_push_and_pull_use_and_logout_removes_them() {
    let tmp = TempDir::new("basic");
    let htpasswd = tmp.path().join("htpasswd");
    let out = Command::new(need("htpasswd", "apache2-utils")).args(["-Bbc"]).arg(&htpasswd).args(["alice", "s3cret"]).output().expect("htpasswd");
    assert!(out.status.success(), "htpasswd: {}", text(&out));
    let reg = Registry::start_with(&format!("auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n", htpasswd.display()));
    let host = reg.host();
    let image = format!("{host}/private/app:v1");
    let archive = write_file(tmp.path(), "app.tar", &docker_archive(&image, &[busybox_layer(), layer(&[E::File("secret", b"behind basic auth\n")])]));
    let cfg = tmp.path().join("cfg");
    let cfg_s = cfg.to_string_lossy().into_owned();

    let d = TestDaemon::modular_host_net("basic");
    d.berth_ok(&["load", "-i", &archive]);
    let anon = d.berth(&["--config", &cfg_s, "push", &image]);
    assert!(!anon.status.success(), "an anonymous push must be refused");
    assert!(String::from_utf8_lossy(&anon.stderr).to_lowercase().contains("unauthorized"), "{}", text(&anon));

    let wrong = berth_with(&d, &["--config", &cfg_s, "login", "-u", "alice", "--password-stdin", &host], &[], "nope\n");
    assert!(!wrong.status.success(), "a wrong password must be refused");
    let err = String::from_utf8_lossy(&wrong.stderr).into_owned();
    assert!(err.contains("incorrect username or password") && err.contains(&host), "{err}");
    assert!(!cfg.join("config.json").exists(), "nothing is stored for a failed login");

    let ok = berth_with(&d, &["--config", &cfg_s, "login", "-u", "alice", "--password-stdin", &host], &[], "s3cret\n");
    assert!(ok.status.success() && String::from_utf8_lossy(&ok.stdout).contains("Login Succeeded"), "{}", text(&ok));
    // Docker's format: base64("user:password") under the server's name, file private.
    assert_eq!(auths(&cfg)[&host]["auth"].as_str(), Some("YWxpY2U6czNjcmV0"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(cfg.join("config.json")).expect("stat").permissions().mode() & 0o077, 0, "config.json is private");

    d.berth_ok(&["--config", &cfg_s, "push", &image]);
    let inspect = skopeo(&["inspect", "--tls-verify=false", "--creds", "alice:s3cret", &format!("docker://{image}")]);
    assert!(inspect.contains("\"Digest\""), "{inspect}");

    // A fresh daemon pulls with the same config, found through $DOCKER_CONFIG this time.
    let d2 = TestDaemon::modular_host_net("basic2");
    let anon = d2.berth(&["pull", &image]);
    assert!(!anon.status.success(), "an anonymous pull must be refused");
    assert!(String::from_utf8_lossy(&anon.stderr).contains("unauthorized: authentication required"), "{}", text(&anon));
    let pulled = berth_with(&d2, &["pull", &image], &[("DOCKER_CONFIG", &cfg_s)], "");
    assert!(pulled.status.success(), "{}", text(&pulled));
    assert_eq!(d2.berth_ok(&["run", "--rm", &image, "cat", "/secret"]), "behind basic auth\n");

    let out = d2.berth_ok(&["--config", &cfg_s, "logout", &host]);
    assert!(out.contains(&format!("Removing login credentials for {host}")), "{out}");
    assert!(auths(&cfg).get(&host).is_none(), "logout removed the entry");
    d2.berth_ok(&["rmi", &image]);
    assert!(!d2.berth(&["--config", &cfg_s, "pull", &image]).status.success(), "after logout the pull is anonymous again");

    // The real docker CLI logs in through berthd's /auth, and berth reads what it stored.
    let docker = std::path::Path::new("/usr/local/bin/docker");
    assert!(docker.exists(), "/usr/local/bin/docker is missing");
    let dcfg = tmp.path().join("docker-cfg");
    let mut child = Command::new(docker)
        .arg("--config")
        .arg(&dcfg)
        .args(["-H", &d2.host(), "login", "-u", "alice", "--password-stdin", &host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker");
    child.stdin.take().map(|mut i| i.write_all(b"s3cret\n")).expect("stdin").expect("write password");
    let out = child.wait_with_output().expect("docker login");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"), "{}", text(&out));
    d2.berth_ok(&["--config", &dcfg.to_string_lossy(), "pull", &image]);
}

/// A registry that wants Bearer tokens: `/token` hands out a token for alice:s3cret (Basic),
/// and every `/v2/` request without that token gets a 401 naming the realm. It serves one
/// image (a manifest, its config and layer blobs) from memory, on connections it closes
/// after each answer. Counts the blob requests that carried the token.
struct TokenRegistry {
    port: u16,
    blobs_served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TokenRegistry {
    fn start(manifest: Vec<u8>, blobs: Vec<Vec<u8>>) -> TokenRegistry {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let token = format!("tok-{:016x}", rand::random::<u64>());
        let served = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (served2, stop2) = (served.clone(), stop.clone());
        let blobs: Vec<(String, Vec<u8>)> = blobs.into_iter().map(|b| (sha256(&b), b)).collect();
        let mdigest = sha256(&manifest);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut head = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push(line.trim_end().to_owned());
                }
                let first = head.first().cloned().unwrap_or_default();
                let mut parts = first.split(' ');
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let header = |name: &str| {
                    head.iter().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned()))
                };
                let bearer_ok = header("authorization").as_deref() == Some(&format!("Bearer {token}"));
                let (status, ctype, body, extra): (&str, &str, Vec<u8>, String) = if path.starts_with("/token") {
                    // base64("alice:s3cret")
                    if header("authorization").as_deref() == Some("Basic YWxpY2U6czNjcmV0") {
                        ("200 OK", "application/json", serde_json::json!({"token": token}).to_string().into_bytes(), String::new())
                    } else {
                        ("401 Unauthorized", "application/json", b"{\"details\":\"bad credentials\"}".to_vec(), String::new())
                    }
                } else if !bearer_ok {
                    let challenge = format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake-registry\"\r\n");
                    (
                        "401 Unauthorized",
                        "application/json",
                        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
                        challenge,
                    )
                } else if path == "/v2/" {
                    ("200 OK", "application/json", b"{}".to_vec(), String::new())
                } else if path.contains("/manifests/") {
                    ("200 OK", "application/vnd.oci.image.manifest.v1+json", manifest.clone(), format!("Docker-Content-Digest: {mdigest}\r\n"))
                } else if let Some((_, b)) = blobs.iter().find(|(d, _)| path.ends_with(&format!("/blobs/{d}"))) {
                    served2.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", "application/octet-stream", b.clone(), String::new())
                } else {
                    ("404 Not Found", "application/json", b"{}".to_vec(), String::new())
                };
                let _ =
                    write!(conn, "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n", body.len());
                if method != "HEAD" {
                    let _ = conn.write_all(&body);
                }
                let _ = conn.flush();
                // Drain what the client still sends so the close is clean.
                let _ = conn.shutdown(std::net::Shutdown::Write);
                let _ = reader.read_to_end(&mut Vec::new());
            }
        });
        TokenRegistry { port, blobs_served: served, stop }
    }
}

impl Drop for TokenRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn bearer_token_registry_login_and_pull_use_a_token_from_the_realm_and_a_wrong_password_is_refused() {
    let bb = busybox_layer();
    let extra = layer(&[E::File("token", b"pulled with a bearer token\n")]);
    let config = config_for(&[bb.clone(), extra.clone()]);
    let (l1, l2) = (gzip(&bb), gzip(&extra));
    let desc = |mt: &str, b: &[u8]| serde_json::json!({"mediaType": mt, "digest": sha256(b), "size": b.len()});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", &l1), desc("application/vnd.oci.image.layer.v1.tar+gzip", &l2)],
    })
    .to_string()
    .into_bytes();
    let reg = TokenRegistry::start(manifest, vec![config, l1, l2]);
    let host = format!("127.0.0.1:{}", reg.port);
    let image = format!("{host}/tokened/app:v1");
    let tmp = TempDir::new("bearer");
    let cfg = tmp.path().join("cfg");
    let cfg_s = cfg.to_string_lossy().into_owned();

    let d = TestDaemon::modular_host_net("bearer");
    let anon = d.berth(&["--config", &cfg_s, "pull", &image]);
    assert!(!anon.status.success(), "an anonymous pull must be refused");
    assert!(String::from_utf8_lossy(&anon.stderr).contains("unauthorized: authentication required"), "{}", text(&anon));

    let wrong = berth_with(&d, &["--config", &cfg_s, "login", "-u", "alice", "-p", "nope", &host], &[], "");
    assert!(!wrong.status.success(), "a wrong password must be refused");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("incorrect username or password"), "{}", text(&wrong));
    assert!(!cfg.join("config.json").exists());

    let ok = berth_with(&d, &["--config", &cfg_s, "login", "-u", "alice", "-p", "s3cret", &host], &[], "");
    assert!(ok.status.success() && String::from_utf8_lossy(&ok.stdout).contains("Login Succeeded"), "{}", text(&ok));
    assert_eq!(reg.blobs_served.load(std::sync::atomic::Ordering::SeqCst), 0);
    d.berth_ok(&["--config", &cfg_s, "pull", &image]);
    assert_eq!(reg.blobs_served.load(std::sync::atomic::Ordering::SeqCst), 3, "config and both layers were fetched with the token");
    assert_eq!(d.berth_ok(&["run", "--rm", &image, "cat", "/token"]), "pulled with a bearer token\n");
}
