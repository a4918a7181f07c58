//! The `berth` CLI against a fake Engine API server (a tiny hyper server on a temp unix
//! socket that records every request and answers canned responses).

mod common;

use berth::api::stream::{frame, StdStream};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// One request the fake daemon saw.
#[derive(Debug, Clone)]
struct Rec {
    method: String,
    /// Path and query, with the `/v1.41` prefix.
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Rec {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A canned answer.
enum Reply {
    Json(u16, Value),
    Status(u16),
    /// A body with a content type.
    Raw(u16, &'static str, Vec<u8>),
    /// 101 Switching Protocols, then these bytes on the raw connection once the container
    /// was started, then EOF.
    Upgrade(Vec<u8>),
    /// 200 with headers at once and this JSON body once the container was started.
    AfterStart(Value),
    /// 200 with headers at once and this JSON body once the container was killed.
    AfterKill(Value),
}

type Router = dyn Fn(&Rec) -> Reply + Send + Sync;

struct State {
    requests: Mutex<Vec<Rec>>,
    started: tokio::sync::watch::Sender<bool>,
    killed: tokio::sync::watch::Sender<bool>,
    router: Box<Router>,
}

/// The fake daemon; dropping it leaves its thread parked until the test process exits.
struct FakeDaemon {
    _dir: common::TempDir,
    sock: PathBuf,
    state: Arc<State>,
}

type RespBody = BoxBody<Bytes, Infallible>;

fn body(data: impl Into<Bytes>) -> RespBody {
    Full::new(data.into()).boxed()
}

async fn handle(state: Arc<State>, mut req: Request<Incoming>) -> Result<Response<RespBody>, Infallible> {
    let on_upgrade = hyper::upgrade::on(&mut req);
    let method = req.method().to_string();
    let uri = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
    let data = req.into_body().collect().await.map(|c| c.to_bytes().to_vec()).unwrap_or_default();
    let rec = Rec { method, uri: uri.clone(), headers, body: data };
    state.requests.lock().unwrap().push(rec.clone());
    let reply = (state.router)(&rec);
    let path = uri.split('?').next().unwrap_or("").to_owned();
    let mk = |status: u16, ct: Option<&str>, b: RespBody| {
        let mut r = Response::builder().status(status);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.body(b).unwrap()
    };
    let resp = match reply {
        Reply::Json(st, v) => {
            if path.ends_with("/start") && st < 300 {
                let _ = state.started.send(true);
            }
            mk(st, Some("application/json"), body(v.to_string()))
        }
        Reply::Status(st) => {
            if path.ends_with("/start") && st < 300 {
                let _ = state.started.send(true);
            }
            if path.ends_with("/kill") && st < 300 {
                let _ = state.killed.send(true);
            }
            mk(st, None, body(Bytes::new()))
        }
        Reply::Raw(st, ct, data) => mk(st, Some(ct), body(data)),
        Reply::Upgrade(data) => {
            let mut started = state.started.subscribe();
            tokio::spawn(async move {
                let Ok(up) = on_upgrade.await else { return };
                let mut io = TokioIo::new(up);
                let _ = started.wait_for(|s| *s).await;
                let _ = io.write_all(&data).await;
                let _ = io.shutdown().await;
            });
            Response::builder()
                .status(101)
                .header("connection", "Upgrade")
                .header("upgrade", "tcp")
                .header("content-type", "application/vnd.docker.multiplexed-stream")
                .body(body(Bytes::new()))
                .unwrap()
        }
        Reply::AfterStart(v) => gated(state.started.subscribe(), v),
        Reply::AfterKill(v) => gated(state.killed.subscribe(), v),
    };
    Ok(resp)
}

/// A 200 JSON response whose body is sent once `gate` turns true.
fn gated(gate: tokio::sync::watch::Receiver<bool>, v: Value) -> Response<RespBody> {
    let stream = futures::stream::unfold(Some((gate, v)), |st| async move {
        let (mut gate, v) = st?;
        let _ = gate.wait_for(|s| *s).await;
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(v.to_string()))), None))
    });
    Response::builder().status(200).header("content-type", "application/json").body(StreamBody::new(stream).boxed()).unwrap()
}

impl FakeDaemon {
    fn start(router: impl Fn(&Rec) -> Reply + Send + Sync + 'static) -> Self {
        let dir = common::TempDir::new("cli");
        let sock = dir.path().join("d.sock");
        let (started, _) = tokio::sync::watch::channel(false);
        let (killed, _) = tokio::sync::watch::channel(false);
        let state = Arc::new(State { requests: Mutex::new(Vec::new()), started, killed, router: Box::new(router) });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let st = state.clone();
        let sock2 = sock.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::bind(&sock2).unwrap();
                ready_tx.send(()).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let st = st.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).with_upgrades().await;
                    });
                }
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("fake daemon did not start");
        FakeDaemon { _dir: dir, sock, state }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    fn requests(&self) -> Vec<Rec> {
        self.state.requests.lock().unwrap().clone()
    }

    fn find(&self, method: &str, path_prefix: &str) -> Rec {
        let reqs = self.requests();
        reqs.iter()
            .find(|r| r.method == method && r.uri.starts_with(path_prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no {method} {path_prefix}… among {reqs:#?}"))
    }

    /// Runs `berth -H <sock> args...`.
    fn berth(&self, args: &[&str]) -> Output {
        let mut all = vec!["-H".to_owned(), self.host()];
        all.extend(args.iter().map(|s| s.to_string()));
        berth_with(&all, &[], None)
    }
}

/// Runs the berth binary (without DOCKER_HOST unless given), killing it after 20 s.
fn berth_with(args: &[String], env: &[(&str, &str)], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::new(common::berth_bin());
    cmd.args(args).env_remove("DOCKER_HOST").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn berth");
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = pipe.write_all(&data);
        });
    }
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(out) => out.expect("wait for berth"),
        Err(_) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            panic!("berth {args:?} did not finish within 20 s");
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ID: &str = "4f2c0a9d8e7b6c5d4f2c0a9d8e7b6c5d4f2c0a9d8e7b6c5d4f2c0a9d8e7b6c5d";

/// A router for the run flow: create → attach → wait → start.
fn run_router(start: fn() -> Reply, exit_code: i64) -> impl Fn(&Rec) -> Reply + Send + Sync + 'static {
    move |r: &Rec| {
        let path = r.uri.split('?').next().unwrap_or("");
        match (r.method.as_str(), path) {
            ("POST", "/v1.41/containers/create") => Reply::Json(201, json!({"Id": ID, "Warnings": []})),
            ("POST", p) if p.ends_with("/attach") => {
                let mut data = frame(StdStream::Stdout, b"hello out\n");
                data.extend(frame(StdStream::Stderr, b"hello err\n"));
                data.extend(frame(StdStream::Stdout, b"bye\n"));
                Reply::Upgrade(data)
            }
            ("POST", p) if p.ends_with("/wait") => Reply::AfterStart(json!({"StatusCode": exit_code, "Error": null})),
            ("POST", p) if p.ends_with("/start") => start(),
            _ => Reply::Json(404, json!({"message": "page not found"})),
        }
    }
}

#[test]
fn run_detached_posts_create_and_prints_the_id() {
    let d = FakeDaemon::start(run_router(|| Reply::Status(204), 0));
    let out = d.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        "echo hi",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("{ID}\n"));
    let create = d.find("POST", "/v1.41/containers/create");
    assert_eq!(create.uri, "/v1.41/containers/create?name=web");
    assert_eq!(create.header("host"), Some("docker"));
    let body = create.json();
    assert_eq!(body["Image"], "busybox");
    assert_eq!(body["Cmd"], json!(["sh", "-c", "echo hi"]));
    assert_eq!(body["Env"], json!(["A=1", "B=two words"]));
    assert_eq!(body["AttachStdout"], false);
    assert_eq!(body["HostConfig"]["Memory"], 67108864);
    assert_eq!(body["HostConfig"]["PidsLimit"], 20);
    assert_eq!(body["HostConfig"]["AutoRemove"], false);
    d.find("POST", &format!("/v1.41/containers/{ID}/start"));
    assert!(d.requests().iter().all(|r| !r.uri.contains("/attach") && !r.uri.contains("/wait")));
}

#[test]
fn run_without_cmd_sends_null_cmd_and_rm_sets_auto_remove() {
    let d = FakeDaemon::start(run_router(|| Reply::Status(204), 0));
    let out = d.berth(&["run", "-d", "--rm", "busybox"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let body = d.find("POST", "/v1.41/containers/create").json();
    assert!(body["Cmd"].is_null(), "{body}");
    assert_eq!(body["HostConfig"]["AutoRemove"], true);
    assert_eq!(d.find("POST", "/v1.41/containers/create").uri, "/v1.41/containers/create");
}

#[test]
fn run_attached_demuxes_output_and_exits_with_the_status_code() {
    let d = FakeDaemon::start(run_router(|| Reply::Status(204), 3));
    let out = d.berth(&["run", "busybox", "sh", "-c", "echo hello; exit 3"]);
    assert_eq!(stdout(&out), "hello out\nbye\n");
    assert_eq!(stderr(&out), "hello err\n");
    assert_eq!(out.status.code(), Some(3));
    let reqs = d.requests();
    let pos = |needle: &str| reqs.iter().position(|r| r.uri.contains(needle)).unwrap_or(usize::MAX);
    assert!(pos("/create") < pos("/attach"));
    assert!(pos("/attach") < pos("/wait"), "attach before wait: {reqs:#?}");
    assert!(pos("/wait") < pos("/start"), "wait must be issued before start: {reqs:#?}");
    let attach = d.find("POST", &format!("/v1.41/containers/{ID}/attach"));
    assert_eq!(attach.uri, format!("/v1.41/containers/{ID}/attach?stream=1&stdout=1&stderr=1"));
    assert_eq!(attach.header("upgrade"), Some("tcp"));
    assert!(attach.header("connection").unwrap_or("").eq_ignore_ascii_case("upgrade"));
    let wait = d.find("POST", &format!("/v1.41/containers/{ID}/wait"));
    assert_eq!(wait.uri, format!("/v1.41/containers/{ID}/wait?condition=next-exit"));
    let body = d.find("POST", "/v1.41/containers/create").json();
    assert_eq!(body["AttachStdout"], true);
    assert_eq!(body["AttachStderr"], true);
}

#[test]
fn run_rm_waits_for_removal() {
    let d = FakeDaemon::start(run_router(|| Reply::Status(204), 0));
    let out = d.berth(&["run", "--rm", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let wait = d.find("POST", &format!("/v1.41/containers/{ID}/wait"));
    assert_eq!(wait.uri, format!("/v1.41/containers/{ID}/wait?condition=removed"));
}

#[test]
fn run_start_error_executable_not_found_exits_127() {
    let d = FakeDaemon::start(run_router(|| Reply::Json(400, json!({"message": "exec: \"nosuch\": executable file not found in $PATH"})), 0));
    let out = d.berth(&["run", "busybox", "nosuch"]);
    assert_eq!(out.status.code(), Some(127), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("Error response from daemon: exec: \"nosuch\": executable file not found in $PATH"));
}

#[test]
fn run_start_error_permission_denied_exits_126_and_other_125() {
    let d = FakeDaemon::start(run_router(|| Reply::Json(400, json!({"message": "exec /etc: permission denied"})), 0));
    let out = d.berth(&["run", "-d", "busybox", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "stderr: {}", stderr(&out));
    let d = FakeDaemon::start(run_router(|| Reply::Json(500, json!({"message": "cgroup trouble"})), 0));
    let out = d.berth(&["run", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "stderr: {}", stderr(&out));
}

#[test]
fn run_create_404_exits_125_with_the_message() {
    let d = FakeDaemon::start(|_r: &Rec| Reply::Json(404, json!({"message": "No such image: nosuch:latest"})));
    let out = d.berth(&["run", "nosuch"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("Unable to find image 'nosuch:latest' locally"), "{err}");
    assert!(err.contains("Error response from daemon: No such image: nosuch:latest"), "{err}");
}

#[test]
fn run_it_without_a_terminal_is_a_clear_error() {
    let d = FakeDaemon::start(run_router(|| Reply::Status(204), 0));
    // As docker: -it needs a terminal on stdin; nothing is created without one.
    let out = d.berth(&["run", "-it", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("the input device is not a TTY"), "{}", stderr(&out));
    assert!(d.requests().is_empty());
}

#[test]
fn ps_formats_a_table_with_names_without_slash() {
    let now = chrono::Utc::now().timestamp();
    let d = FakeDaemon::start(move |r: &Rec| {
        if r.uri.starts_with("/v1.41/containers/json") {
            Reply::Json(
                200,
                json!([{
                    "Id": ID, "Names": ["/web"], "Image": "busybox",
                    "Command": "sh -c 'while true; do sleep 1; done'", "Created": now - 5,
                    "State": "running", "Status": "Up 3 seconds", "Ports": []
                }]),
            )
        } else {
            Reply::Status(404)
        }
    });
    let out = d.berth(&["ps", "-a"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID   IMAGE     COMMAND   "), "{text}");
    let col = |line: &str, needle: &str| line.find(needle).map(|i| line[..i].chars().count());
    assert_eq!(col(lines[0], "CREATED"), col(lines[1], "5 seconds ago"), "{text}");
    assert_eq!(col(lines[0], "STATUS"), col(lines[1], "Up 3 seconds"), "{text}");
    assert_eq!(col(lines[0], "NAMES"), col(lines[1], "web"), "{text}");
    assert!(lines[0].contains("STATUS") && lines[0].contains("PORTS") && lines[0].ends_with("NAMES"), "{text}");
    assert!(lines[1].starts_with(&format!("{}   busybox   \"sh -c 'while true; …\"   ", &ID[..12])), "{text}");
    assert!(lines[1].contains("seconds ago") && lines[1].contains("Up 3 seconds"), "{text}");
    assert!(lines[1].ends_with(" web"), "{text}");
    assert_eq!(d.find("GET", "/v1.41/containers/json").uri, "/v1.41/containers/json?all=1");

    let out = d.berth(&["ps", "-q"]);
    assert_eq!(stdout(&out), format!("{}\n", &ID[..12]));
    assert!(d.requests().iter().any(|r| r.uri == "/v1.41/containers/json"));
}

#[test]
fn images_shows_a_12_char_id_and_human_size() {
    let d = FakeDaemon::start(|_r: &Rec| {
        Reply::Json(
            200,
            json!([{
                "Id": "sha256:9a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c",
                "RepoTags": ["busybox:latest"], "Created": 0, "Size": 1234567
            }]),
        )
    });
    let out = d.berth(&["images"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE");
    assert!(lines[1].starts_with("busybox      latest    9a3c1d2e4f5a   "), "{text}");
    assert!(lines[1].ends_with("years ago   1.23MB"), "{text}");
    let out = d.berth(&["images", "-q"]);
    assert_eq!(stdout(&out), "9a3c1d2e4f5a\n");
}

#[test]
fn docker_host_is_honoured() {
    let d = FakeDaemon::start(|_r: &Rec| Reply::Json(200, json!([])));
    let out = berth_with(&["ps".to_owned()], &[("DOCKER_HOST", &d.host())], None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).starts_with("CONTAINER ID"));
    assert_eq!(d.requests().len(), 1);
}

#[test]
fn connection_refused_gives_a_clear_message() {
    let dir = common::TempDir::new("cli");
    let sock = dir.path().join("none.sock");
    let host = format!("unix://{}", sock.display());
    let out = berth_with(&["-H".into(), host.clone(), "ps".into()], &[], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), format!("Cannot connect to the berth daemon at {host}: is berthd running?"));
    // A socket file nobody listens on: ECONNREFUSED.
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    drop(listener);
    let out = berth_with(&["-H".into(), host.clone(), "images".into()], &[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is berthd running?"), "{}", stderr(&out));
}

#[test]
fn tcp_hosts_are_refused_clearly_and_bad_flags_are_usage_errors() {
    let out = berth_with(&["-H".into(), "tcp://127.0.0.1:2375".into(), "ps".into()], &[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not supported yet"), "{}", stderr(&out));
    let out = berth_with(&["ps".into(), "--bogus".into()], &[], None);
    assert_eq!(out.status.code(), Some(2));
    let out = berth_with(&["frobnicate".into()], &[], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn daemon_errors_are_printed_like_docker() {
    let d =
        FakeDaemon::start(
            |r: &Rec| {
                if r.uri.contains("/gone") {
                    Reply::Json(404, json!({"message": "No such container: gone"}))
                } else {
                    Reply::Status(204)
                }
            },
        );
    let out = d.berth(&["stop", "-t", "3", "web", "gone"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "web\n");
    assert_eq!(stderr(&out).trim(), "Error response from daemon: No such container: gone");
    d.find("POST", "/v1.41/containers/web/stop?t=3");

    let out = d.berth(&["rm", "-f", "web"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "web\n");
    d.find("DELETE", "/v1.41/containers/web?force=1");

    let out = d.berth(&["kill", "-s", "TERM", "web"]);
    assert_eq!(stdout(&out), "web\n");
    d.find("POST", "/v1.41/containers/web/kill?signal=TERM");

    let out = d.berth(&["start", "web"]);
    assert_eq!(stdout(&out), "web\n");
    d.find("POST", "/v1.41/containers/web/start");
}

#[test]
fn wait_prints_the_status_code() {
    let d = FakeDaemon::start(|_r: &Rec| Reply::Json(200, json!({"StatusCode": 42, "Error": null})));
    let out = d.berth(&["wait", "web"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");
    d.find("POST", "/v1.41/containers/web/wait");
}

#[test]
fn logs_are_demuxed_to_stdout_and_stderr() {
    let d = FakeDaemon::start(|r: &Rec| {
        if r.uri.ends_with("/json") {
            return Reply::Json(200, json!({"Id": "web", "Config": {"Tty": false}}));
        }
        // API 1.41 daemons call the multiplexed framing "raw-stream" too.
        let mut data = frame(StdStream::Stdout, b"line 1\n");
        data.extend(frame(StdStream::Stderr, b"warn 1\n"));
        data.extend(frame(StdStream::Stdout, b"line 2\n"));
        Reply::Raw(200, "application/vnd.docker.raw-stream", data)
    });
    let out = d.berth(&["logs", "-f", "--tail", "10", "-t", "web"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "line 1\nline 2\n");
    assert_eq!(stderr(&out), "warn 1\n");
    let r = d.find("GET", "/v1.41/containers/web/logs");
    assert_eq!(r.uri, "/v1.41/containers/web/logs?stdout=1&stderr=1&follow=1&tail=10&timestamps=1");
}

#[test]
fn inspect_falls_back_to_images_and_prints_a_json_array() {
    let d = FakeDaemon::start(|r: &Rec| {
        if r.uri.starts_with("/v1.41/images/busybox:latest/json") {
            Reply::Json(200, json!({"Id": "sha256:abc", "RepoTags": ["busybox:latest"]}))
        } else {
            Reply::Json(404, json!({"message": "No such container"}))
        }
    });
    let out = d.berth(&["inspect", "busybox:latest"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("inspect prints JSON");
    assert_eq!(v[0]["Id"], "sha256:abc");
    assert!(stdout(&out).starts_with("[\n    {\n"));
    let out = d.berth(&["inspect", "nothing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "[]\n");
    assert!(stderr(&out).contains("Error: No such object: nothing"));
}

#[test]
fn import_streams_the_tar_and_prints_the_image_id() {
    let d = FakeDaemon::start(|r: &Rec| {
        let len = r.body.len();
        Reply::Raw(200, "application/json", format!("{{\"status\":\"sha256:{len:064}\"}}\r\n").into_bytes())
    });
    let dir = common::TempDir::new("cli");
    let tar = dir.path().join("x.tar");
    let payload = vec![7u8; 200_000];
    std::fs::write(&tar, &payload).expect("write tar");
    let out = d.berth(&["import", tar.to_str().unwrap_or_default(), "myimg:v1"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("sha256:{:064}\n", payload.len()));
    let r = d.find("POST", "/v1.41/images/create");
    assert_eq!(r.uri, "/v1.41/images/create?fromSrc=-&repo=myimg&tag=v1");
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert_eq!(r.body, payload);

    // From stdin.
    let args = vec!["-H".to_owned(), d.host(), "import".into(), "-".into()];
    let out = berth_with(&args, &[], Some(b"tar bytes".to_vec()));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("sha256:{:064}\n", 9));
}

#[test]
fn import_errors_in_the_progress_stream_exit_1() {
    let d = FakeDaemon::start(|_r: &Rec| {
        Reply::Raw(200, "application/json", b"{\"errorDetail\":{\"message\":\"bad tar\"},\"error\":\"bad tar\"}\n".to_vec())
    });
    let out = berth_with(&["-H".into(), d.host(), "import".into(), "-".into()], &[], Some(b"x".to_vec()));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad tar"));
}

#[test]
fn version_and_info_print_server_sections() {
    let d = FakeDaemon::start(|r: &Rec| {
        if r.uri.starts_with("/v1.41/version") {
            Reply::Json(
                200,
                json!({"Version": "0.1.0", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64",
                       "Components": [{"Name": "Engine", "Version": "0.1.0"}, {"Name": "berth-supervisor", "Version": "0.1.0", "Details": {"GitCommit": "abc"}}]}),
            )
        } else {
            Reply::Json(
                200,
                json!({"Containers": 2, "ContainersRunning": 1, "ContainersStopped": 1, "Images": 1,
                                    "ServerVersion": "0.1.0", "Driver": "overlay2", "DockerRootDir": "/var/lib/berth"}),
            )
        }
    });
    let out = d.berth(&["version"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Client:\n Version:"), "{text}");
    assert!(text.contains("Server:\n Engine:\n  Version:          0.1.0\n  API version:      1.41 (minimum version 1.12)\n"), "{text}");
    assert!(text.contains(" berth-supervisor:\n  Version:          0.1.0\n  GitCommit:        abc\n"), "{text}");
    let out = d.berth(&["info"]);
    let text = stdout(&out);
    assert!(text.contains(" Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 1\n"), "{text}");
    assert!(text.contains(" Storage Driver: overlay2\n") && text.contains(" Docker Root Dir: /var/lib/berth\n"), "{text}");
}

#[test]
fn run_attached_accepts_a_200_hijacked_stream() {
    let d = FakeDaemon::start(|r: &Rec| {
        let path = r.uri.split('?').next().unwrap_or("");
        match path {
            "/v1.41/containers/create" => Reply::Json(201, json!({"Id": ID})),
            p if p.ends_with("/attach") => {
                let mut data = frame(StdStream::Stdout, b"old style\n");
                data.extend(frame(StdStream::Stderr, b"err\n"));
                Reply::Raw(200, "application/vnd.docker.multiplexed-stream", data)
            }
            p if p.ends_with("/wait") => Reply::AfterStart(json!({"StatusCode": 0})),
            _ => Reply::Status(204),
        }
    });
    let out = d.berth(&["run", "busybox", "echo", "old style"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "old style\n");
    assert_eq!(stderr(&out), "err\n");
}

#[test]
fn run_attached_forwards_signals_to_the_container() {
    let d = FakeDaemon::start(|r: &Rec| {
        let path = r.uri.split('?').next().unwrap_or("");
        match path {
            "/v1.41/containers/create" => Reply::Json(201, json!({"Id": ID})),
            p if p.ends_with("/attach") => Reply::Upgrade(frame(StdStream::Stdout, b"up\n")),
            p if p.ends_with("/wait") => Reply::AfterKill(json!({"StatusCode": 143})),
            _ => Reply::Status(204),
        }
    });
    let mut child = Command::new(common::berth_bin())
        .args(["-H", &d.host(), "run", "busybox", "sleep", "100"])
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let started = common::wait_until(10, || d.requests().iter().any(|r| r.uri.ends_with("/start")));
    assert!(started, "berth never started the container");
    // berth catches signals before it sends start.
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let killed = common::wait_until(10, || d.requests().iter().any(|r| r.uri.contains("/kill")));
    if !killed {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wait for berth");
    assert!(killed, "no kill forwarded: {:#?}", d.requests());
    d.find("POST", &format!("/v1.41/containers/{ID}/kill?signal=TERM"));
    assert_eq!(out.status.code(), Some(143), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "up\n");
}

/// A private dockerd (Debian's docker.io) with its own roots and socket, to check the client
/// against the real Engine API. Stopped (SIGTERM, then SIGKILL) on drop.
struct RealDockerd {
    dir: common::TempDir,
    child: std::process::Child,
    /// The network namespace it runs in: its forwarding switch is that namespace's.
    _netns: common::netns::NetNs,
}

impl RealDockerd {
    /// A dockerd on private dirs (needs root and Debian's docker.io).
    fn start() -> Self {
        common::need(
            std::path::Path::new("/usr/sbin/dockerd").exists() && nix::unistd::geteuid().is_root(),
            "root and /usr/sbin/dockerd (Debian's docker.io)",
        );
        let dir = common::TempDir::new("dkd");
        let p = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
        let log = std::fs::File::create(dir.path().join("log")).expect("log file");
        // In a network namespace of the test's own: dockerd turns IPv4 forwarding on there
        // (as on any host it runs on), never in the host's namespace.
        let netns = common::netns::NetNs::new_in(dir.path());
        let child = netns
            .cmd("/usr/sbin/dockerd")
            .args(["--data-root", &p("root"), "--exec-root", &p("exec"), "--pidfile", &p("d.pid")])
            .args(["-H", &format!("unix://{}", p("d.sock"))])
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver=vfs"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let d = RealDockerd { dir, child, _netns: netns };
        let ok = common::wait_until(30, || berth_with(&["-H".into(), d.host(), "version".into()], &[], None).status.success());
        assert!(ok, "dockerd did not come up: {}", std::fs::read_to_string(d.dir.path().join("log")).unwrap_or_default());
        d
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("d.sock").display())
    }

    fn berth(&self, args: &[&str]) -> Output {
        let mut all = vec!["-H".to_owned(), self.host()];
        all.extend(args.iter().map(|s| s.to_string()));
        berth_with(&all, &[], None)
    }
}

impl Drop for RealDockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let exited = common::wait_until(20, || matches!(self.child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn works_against_the_real_dockerd() {
    let d = RealDockerd::start();
    let tar = common::busybox_tar().to_string_lossy().into_owned();
    let out = d.berth(&["import", &tar, "bbtest:latest"]);
    assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));
    assert!(stdout(&out).starts_with("sha256:"), "{}", stdout(&out));
    let out = d.berth(&["images"]);
    assert!(stdout(&out).lines().any(|l| l.starts_with("bbtest ") && l.contains(" latest ")), "{}", stdout(&out));

    let out = d.berth(&["run", "--rm", "bbtest", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str(), out.status.code()), ("out\n", "err\n", Some(3)));

    let out = d.berth(&["run", "bbtest", "nosuch"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let out = d.berth(&["run", "nosuchimage"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("Unable to find image 'nosuchimage:latest' locally"));

    let out =
        d.berth(&["run", "-d", "--name", "web", "-e", "A=hello", "-m", "64m", "--pids-limit", "50", "bbtest", "sh", "-c", "echo $A; sleep 100"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    assert_eq!(id.len(), 64);
    let out = d.berth(&["inspect", "web"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["HostConfig"]["Memory"], 67108864);
    assert_eq!(v[0]["HostConfig"]["PidsLimit"], 50);
    let out = d.berth(&["ps"]);
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with(&id[..12]) && l.contains("Up ") && l.ends_with(" web")), "{text}");
    assert!(common::wait_until(10, || stdout(&d.berth(&["logs", "web"])) == "hello\n"));
    let out = d.berth(&["stop", "-t", "1", "web"]);
    assert_eq!(stdout(&out), "web\n", "{}", stderr(&out));
    let out = d.berth(&["wait", "web"]);
    assert!(["137\n", "143\n"].contains(&stdout(&out).as_str()), "{}", stdout(&out));
    let out = d.berth(&["rm", "web"]);
    assert_eq!(stdout(&out), "web\n", "{}", stderr(&out));
    // What is left: the container whose start failed ("nosuch").
    let left = stdout(&d.berth(&["ps", "-aq"]));
    assert_eq!(left.lines().count(), 1, "{left}");
    let mut args = vec!["rm", "-f"];
    args.extend(left.lines());
    let out = d.berth(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&d.berth(&["ps", "-aq"])), "");
}
