//! The berth client sends what docker 28's CLI sends for networking (issue 15): the same
//! command line is run through `/usr/local/bin/docker -H unix://S` and `berth -H unix://S`
//! against a fake Engine API on a unix socket S that records every request and answers
//! with canned JSON; the JSON bodies of `POST /containers/create` (its network members),
//! `POST /networks/create`, `/networks/{id}/connect` and `/disconnect` must be equal, and
//! `network ls|inspect|rm|prune` and `port` must print what docker prints for the same
//! canned answers. No daemon is involved: this is the client side only.

mod common;

use common::{need, TempDir, DOCKER_28};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// One request the fake API received: method, path without the `/vX.Y` prefix, query, body.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: String,
}

/// A fake Engine API on a unix socket, answering from canned JSON and recording requests.
struct FakeApi {
    dir: TempDir,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The canned answer to one request: status and JSON body (None: no body).
fn answer(method: &str, path: &str) -> (u16, Option<Value>) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (_, ["_ping"]) => (200, None),
        ("GET", ["version"]) => {
            (200, Some(json!({"ApiVersion": "1.47", "MinAPIVersion": "1.24", "Version": "28.0.0", "Os": "linux", "Arch": "amd64"})))
        }
        ("POST", ["containers", "create"]) => {
            (201, Some(json!({"Id": "c0ffee0000000000000000000000000000000000000000000000000000000001", "Warnings": []})))
        }
        ("POST", ["containers", _, "start"]) => (204, None),
        ("POST", ["containers", _, "wait"]) => (200, Some(json!({"StatusCode": 0}))),
        ("GET", ["containers", "web", "json"]) => (200, Some(container_inspect())),
        ("GET", ["containers", c, "json"]) => (404, Some(json!({"message": format!("No such container: {c}")}))),
        ("POST", ["networks", "create"]) => {
            (201, Some(json!({"Id": "5e1f0000000000000000000000000000000000000000000000000000000000aa", "Warning": ""})))
        }
        ("POST", ["networks", "missing", "connect" | "disconnect"]) => (404, Some(json!({"message": "network missing not found"}))),
        ("POST", ["networks", _, "connect" | "disconnect"]) => (200, None),
        ("GET", ["networks"]) => (200, Some(network_list())),
        ("GET", ["networks", "missing"]) | ("DELETE", ["networks", "missing"]) => (404, Some(json!({"message": "network missing not found"}))),
        ("DELETE", ["networks", "busy"]) => (403, Some(json!({"message": "error while removing network: network busy id 77 has active endpoints"}))),
        ("GET", ["networks", n]) => match network_list().as_array().and_then(|l| l.iter().find(|x| x["Name"] == *n || x["Id"] == *n).cloned()) {
            Some(v) => (200, Some(v)),
            None => (404, Some(json!({"message": format!("network {n} not found")}))),
        },
        ("DELETE", ["networks", _]) => (204, None),
        ("POST", ["networks", "prune"]) => (200, Some(json!({"NetworksDeleted": ["app", "net10"]}))),
        _ => (404, Some(json!({"message": format!("page not found: {method} {path}")}))),
    }
}

/// A canned container inspect with published ports (IPv4 and IPv6, tcp and udp).
fn container_inspect() -> Value {
    json!({
        "Id": "c0ffee0000000000000000000000000000000000000000000000000000000001",
        "Name": "/web",
        "State": {"Running": true, "Status": "running"},
        "Config": {"Tty": false, "Image": "busybox"},
        "NetworkSettings": {"Ports": {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "::", "HostPort": "32768"}],
            "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}],
            "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
            "443/tcp": null,
        }},
    })
}

/// A canned `GET /networks`, unsorted, with labels, IPv6 and an internal network.
fn network_list() -> Value {
    let net = |id: &str, name: &str, driver: &str, scope: &str, v6: bool, internal: bool, labels: Value| {
        json!({
            "Name": name, "Id": id, "Created": "2026-12-07T23:00:01.123456789Z", "Scope": scope, "Driver": driver,
            "EnableIPv6": v6, "IPAM": {"Driver": "default", "Options": null, "Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]},
            "Internal": internal, "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
            "Containers": {}, "Options": {}, "Labels": labels,
        })
    };
    json!([
        net("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "net10", "bridge", "local", false, false, json!({})),
        net("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "bridge", "bridge", "local", false, false, json!({})),
        net("fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9", "app", "bridge", "local", true, true, json!({"env": "test"})),
        net("baa5a0964d3320fbc0c6a922140453c8513ea24ab8fd0577034804a967248096", "net2", "bridge", "local", false, false, json!({})),
        net("4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a", "host", "host", "local", false, false, json!({})),
    ])
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body); None at end of stream.
fn read_request(r: &mut BufReader<UnixStream>) -> Option<(String, String, String)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut it = line.split_whitespace();
    let (method, target) = (it.next()?.to_owned(), it.next()?.to_owned());
    let (mut len, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(len, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some((method, target, String::from_utf8_lossy(&body).into_owned()))
}

/// Serves one connection until the client closes it.
fn serve(stream: UnixStream, seen: Arc<Mutex<Vec<Seen>>>, version: &str) {
    let Ok(mut w) = stream.try_clone() else { return };
    let mut r = BufReader::new(stream);
    while let Some((method, target, body)) = read_request(&mut r) {
        let (path, query) = target.split_once('?').map(|(p, q)| (p.to_owned(), q.to_owned())).unwrap_or((target.clone(), String::new()));
        // Strip the API version prefix: docker negotiates 1.47, berth speaks 1.41.
        let path = match path.strip_prefix("/v").and_then(|rest| rest.split_once('/')) {
            Some((ver, rest)) if ver.chars().all(|c| c.is_ascii_digit() || c == '.') => format!("/{rest}"),
            _ => path,
        };
        let (status, reply) = answer(&method, &path);
        seen.lock().expect("record").push(Seen { method: method.clone(), path: path.clone(), query, body });
        let text = match (&reply, path.as_str()) {
            (_, "/_ping") => "OK".to_owned(),
            (Some(v), _) => v.to_string(),
            (None, _) => String::new(),
        };
        let body = if method == "HEAD" || status == 204 { String::new() } else { text };
        let ctype = if path == "/_ping" { "text/plain" } else { "application/json" };
        let reason = match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            403 => "Forbidden",
            _ => "Not Found",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nApi-Version: {version}\r\nOstype: linux\r\nServer: Docker/28.0.0 (linux)\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            if method == "HEAD" && path == "/_ping" { 2 } else { body.len() }
        );
        if w.write_all(head.as_bytes()).and_then(|_| w.write_all(body.as_bytes())).is_err() {
            return;
        }
    }
}

impl FakeApi {
    /// A fake API announcing docker 28's API version (1.47).
    fn start(tag: &str) -> FakeApi {
        FakeApi::start_at(tag, "1.47")
    }

    /// A fake API announcing `version`: docker negotiates down to it (berth always speaks 1.41).
    fn start_at(tag: &str, version: &'static str) -> FakeApi {
        need(Path::new(DOCKER_28).exists(), "docker 28 CLI at /usr/local/bin/docker");
        let dir = TempDir::new(tag);
        let listener = UnixListener::bind(dir.path().join("api.sock")).expect("bind the fake API socket");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        // The accept loop ends with the test process; each connection has its own thread.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, s, version));
            }
        });
        std::fs::create_dir_all(dir.path().join("docker-config")).expect("docker config dir");
        FakeApi { dir, seen }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("api.sock").display())
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("docker-config")
    }

    /// Runs `cli` (docker or berth) with `args`; returns its output and the requests it made.
    fn run(&self, cli: &Path, args: &[&str]) -> (Output, Vec<Seen>) {
        self.seen.lock().expect("record").clear();
        let out = Command::new(cli)
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", self.config())
            .env("TZ", "UTC")
            .output()
            .expect("run the client");
        let seen = self.seen.lock().expect("record").clone();
        (out, seen)
    }

    /// Runs `args` through docker 28 and berth.
    fn both(&self, args: &[&str]) -> ((Output, Vec<Seen>), (Output, Vec<Seen>)) {
        (self.run(Path::new(DOCKER_28), args), self.run(&common::berth_bin(), args))
    }
}

/// The JSON body of the one request `method path` in `seen`.
fn body_of(seen: &[Seen], method: &str, path: &str, who: &str) -> Value {
    let found: Vec<&Seen> = seen.iter().filter(|s| s.method == method && s.path == path).collect();
    assert_eq!(found.len(), 1, "{who} sent {method} {path} {} times: {seen:#?}", found.len());
    serde_json::from_str(&found[0].body).unwrap_or_else(|e| panic!("{who}'s {method} {path} body is not JSON ({e}): {}", found[0].body))
}

/// The members of a create body the network flags decide.
fn network_part(body: &Value) -> Value {
    let hc = &body["HostConfig"];
    let mut part = json!({
        "ExposedPorts": body.get("ExposedPorts").cloned().unwrap_or(Value::Null),
        "MacAddress": body.get("MacAddress").cloned().unwrap_or(Value::Null),
        "NetworkingConfig": body.get("NetworkingConfig").cloned().unwrap_or(Value::Null),
    });
    for k in ["NetworkMode", "PortBindings", "PublishAllPorts", "Links", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts"] {
        part[k] = hc.get(k).cloned().unwrap_or_else(|| json!("<absent>"));
    }
    part
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `run -d ARGS busybox` through both clients: their create bodies' network members are equal.
fn same_create(api: &FakeApi, flags: &[&str]) -> Value {
    same_create_with(api, &["run", "-d"], flags)
}

/// `VERB ARGS busybox` through both clients: their create bodies' network members are equal.
fn same_create_with(api: &FakeApi, verb: &[&str], flags: &[&str]) -> Value {
    let mut args = verb.to_vec();
    args.extend_from_slice(flags);
    args.push("busybox");
    let ((d, dseen), (b, bseen)) = api.both(&args);
    assert!(d.status.success(), "docker {args:?} failed: {}", stderr(&d));
    assert!(b.status.success(), "berth {args:?} failed: {}", stderr(&b));
    let docker = network_part(&body_of(&dseen, "POST", "/containers/create", "docker"));
    let ours = network_part(&body_of(&bseen, "POST", "/containers/create", "berth"));
    assert_eq!(ours, docker, "the network members of berth's create body differ from docker's for {flags:?}");
    ours
}

#[test]
fn publish_forms_send_dockers_port_bindings_and_exposed_ports() {
    let api = FakeApi::start("nf-pub");
    let v = same_create(&api, &["-p", "8080:80", "-p", "127.0.0.1:9000-9001:90-91/udp", "-p", "[::1]:8081:81", "-p", "::1:8082:82/tcp"]);
    assert_eq!(v["PortBindings"]["81/tcp"], json!([{"HostIp": "::1", "HostPort": "8081"}]));
    same_create(&api, &["-p", "80", "-p", "127.0.0.1::443", "-p", "8000-8002:8000", "-p", "53:53/udp", "-p", "53:53/tcp", "-p", "7000:7000/sctp"]);
    same_create(&api, &["-p", "8080:80", "-p", "8081:80", "-p", "[::]:80:80"]);
    let v = same_create(&api, &["-P", "--expose", "7000-7002", "--expose", "53/udp", "-p", "9000:90"]);
    assert_eq!(v["PublishAllPorts"], true);
    same_create(&api, &[]);
}

#[test]
fn user_network_with_static_addresses_aliases_mac_and_links_sends_dockers_endpoint() {
    let api = FakeApi::start("nf-user");
    let v = same_create(
        &api,
        &[
            "--network",
            "app",
            "--ip",
            "10.1.0.5",
            "--ip6",
            "fd00::5",
            "--network-alias",
            "web",
            "--network-alias",
            "www",
            "--mac-address",
            "02:42:ac:11:00:02",
            "--link",
            "db:database",
        ],
    );
    assert_eq!(v["NetworkingConfig"]["EndpointsConfig"]["app"]["IPAMConfig"]["IPv4Address"], "10.1.0.5");
    same_create(&api, &["--net", "app"]);
    same_create(&api, &["--network", "name=app,alias=api,ip=10.1.0.9", "--network", "other"]);
    same_create(
        &api,
        &[
            "--dns",
            "1.1.1.1",
            "--dns",
            "::1",
            "--dns-search",
            "example.com",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "a=1.2.3.4",
            "--add-host",
            "b:host-gateway",
            "--add-host",
            "c=[::2]",
        ],
    );
    same_create(&api, &["--mac-address", "02:42:ac:11:00:03", "--ip", "172.17.0.9"]);
}

#[test]
fn create_sends_the_network_members_run_sends_and_prints_the_id() {
    let api = FakeApi::start("nf-create");
    let flags = ["--network", "app", "--ip", "10.1.0.5", "--network-alias", "web", "-p", "127.0.0.1:8080-8081:80-81", "-P", "--expose", "9000/udp"];
    let by_create = same_create_with(&api, &["create"], &flags);
    let by_container_create = same_create_with(&api, &["container", "create"], &flags);
    assert_eq!(by_create, same_create(&api, &flags));
    assert_eq!(by_container_create, by_create);
    let ((d, _), (b, _)) = api.both(&["create", "-p", "80", "busybox"]);
    assert_eq!((stdout(&b), b.status.code()), (stdout(&d), d.status.code()));
}

#[test]
fn host_none_and_container_modes_send_dockers_network_mode() {
    let api = FakeApi::start("nf-modes");
    for mode in ["host", "none", "container:web", "bridge", "default"] {
        let v = same_create(&api, &["--network", mode]);
        assert_eq!(v["NetworkMode"], mode);
    }
    same_create(&api, &["--network", "host", "-p", "80:80"]);
    same_create(&api, &["--network", "bridge", "--link", "db:database", "--ip", "172.17.0.8"]);
}

#[test]
fn bad_network_flags_fail_like_docker_before_any_create() {
    let api = FakeApi::start("nf-bad");
    for flags in [
        &["-p", "80:80/xyz"][..],
        &["-p", "1.2.3:80:80"],
        &["-p", "80-81:90-92"],
        &["-p", "80:"],
        &["-p", "70000:80"],
        &["--expose", "80:81"],
        &["--mac-address", "zz"],
        &["--network", "host", "--network", "app"],
        &["--network", "app", "--network", "app"],
        &["--network", "bridge", "--network-alias", "x"],
        &["--network-alias", "x"],
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.push("busybox");
        let ((d, dseen), (b, bseen)) = api.both(&args);
        assert_eq!((b.status.code(), d.status.code()), (Some(125), Some(125)), "exit codes for {flags:?}: {} / {}", stderr(&b), stderr(&d));
        assert!(dseen.iter().chain(&bseen).all(|s| s.path != "/containers/create"), "{flags:?} reached the daemon");
        // docker: "docker: MESSAGE\n\nRun 'docker run --help'..."; berth the same with its name.
        let first = |s: String, name: &str| s.lines().next().unwrap_or_default().replacen(&format!("{name}: "), "", 1);
        assert_eq!(first(stderr(&b), "berth"), first(stderr(&d), "docker"), "message for {flags:?}");
    }
}

/// docker's IPAM.Config comes from a Go map: compare it as a set.
fn sorted_ipam(mut v: Value) -> Value {
    if let Some(cfg) = v["IPAM"]["Config"].as_array_mut() {
        cfg.sort_by_key(|c| c["Subnet"].as_str().unwrap_or_default().to_owned());
    }
    v
}

#[test]
fn network_create_connect_and_disconnect_send_dockers_bodies() {
    let api = FakeApi::start("nf-netbody");
    for args in [
        &["network", "create", "app"][..],
        &[
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            "10.1.0.0/16",
            "--gateway",
            "10.1.0.1",
            "--ip-range",
            "10.1.1.0/24",
            "--aux-address",
            "router=10.1.0.9",
            "--ipv6",
            "--subnet",
            "fd00:1::/64",
            "--internal",
            "--attachable",
            "--label",
            "env=test",
            "--label",
            "bare",
            "-o",
            "com.docker.network.bridge.name=br-app",
            "--ipam-driver",
            "default",
            "app",
        ],
        &["network", "create", "--ipv6=false", "--ipam-opt", "a=b", "-d", "macvlan", "--scope", "local", "x"],
    ] {
        let ((d, dseen), (b, bseen)) = api.both(args);
        assert!(d.status.success() && b.status.success(), "{args:?}: {} / {}", stderr(&d), stderr(&b));
        assert_eq!(stdout(&b), stdout(&d), "printed id for {args:?}");
        let docker = sorted_ipam(body_of(&dseen, "POST", "/networks/create", "docker"));
        let mut ours = sorted_ipam(body_of(&bseen, "POST", "/networks/create", "berth"));
        // berth speaks API 1.41, where a daemon checks for duplicate names only when asked
        // (docker 28 asks too below 1.44, as the next test shows); 1.44+ daemons ignore it.
        assert_eq!(ours.as_object_mut().and_then(|m| m.remove("CheckDuplicate")), Some(json!(true)), "{args:?}");
        assert_eq!(ours, docker, "berth's network create body differs from docker's for {args:?}");
    }
    for (args, path) in [
        (&["network", "connect", "app", "web"][..], "/networks/app/connect"),
        (
            &[
                "network",
                "connect",
                "--alias",
                "a",
                "--alias",
                "b",
                "--ip",
                "10.1.0.7",
                "--ip6",
                "fd00:1::7",
                "--link",
                "db:d",
                "--driver-opt",
                "k=v",
                "app",
                "web",
            ],
            "/networks/app/connect",
        ),
        (&["network", "disconnect", "app", "web"], "/networks/app/disconnect"),
        (&["network", "disconnect", "-f", "app", "web"], "/networks/app/disconnect"),
    ] {
        let ((d, dseen), (b, bseen)) = api.both(args);
        assert!(d.status.success() && b.status.success(), "{args:?}: {} / {}", stderr(&d), stderr(&b));
        assert_eq!((stdout(&b), stdout(&d)), (String::new(), String::new()));
        assert_eq!(body_of(&bseen, "POST", path, "berth"), body_of(&dseen, "POST", path, "docker"), "body of {args:?}");
    }
    // Client-side checks, with docker's words, and nothing sent.
    for args in [
        &["network", "create", "--gateway", "10.0.0.1", "x"][..],
        &["network", "create", "--subnet", "10.0.0.0/8", "--subnet", "10.1.0.0/16", "x"],
        &["network", "create", "--subnet", "10.0.0.0/24", "--gateway", "10.9.0.1", "x"],
        &["network", "create", "--subnet", "10.0.0.0/24", "--aux-address", "a=10.9.0.1", "x"],
    ] {
        let ((d, dseen), (b, bseen)) = api.both(args);
        assert_eq!((b.status.code(), stderr(&b)), (d.status.code(), stderr(&d)), "{args:?}");
        assert!(dseen.iter().chain(&bseen).all(|s| s.path != "/networks/create"), "{args:?} reached the daemon");
    }
    // A daemon error is printed as docker prints it.
    let ((d, _), (b, _)) = api.both(&["network", "connect", "missing", "web"]);
    assert_eq!((b.status.code(), stderr(&b)), (d.status.code(), stderr(&d)));
}

#[test]
fn network_create_sends_what_docker_sends_to_an_api_1_41_daemon() {
    let api = FakeApi::start_at("nf-v141", "1.41");
    let args = ["network", "create", "--subnet", "10.3.0.0/24", "--gateway", "10.3.0.1", "--label", "a=b", "--internal", "old"];
    let ((d, dseen), (b, bseen)) = api.both(&args);
    assert!(d.status.success() && b.status.success(), "{}", stderr(&d));
    assert!(dseen.iter().any(|s| s.path == "/networks/create") && bseen.iter().any(|s| s.path == "/networks/create"));
    assert_eq!(body_of(&bseen, "POST", "/networks/create", "berth"), body_of(&dseen, "POST", "/networks/create", "docker"));
    same_create(&api, &["--network", "app", "--ip", "10.3.0.5", "--network-alias", "web", "-p", "8080:80"]);
}

/// Both clients print the same (stdout, stderr, exit code) for `args`.
fn same_output(api: &FakeApi, args: &[&str]) -> String {
    let ((d, _), (b, _)) = api.both(args);
    assert_eq!(stdout(&b), stdout(&d), "stdout of {args:?}");
    assert_eq!(stderr(&b), stderr(&d), "stderr of {args:?}");
    assert_eq!(b.status.code(), d.status.code(), "exit code of {args:?}");
    stdout(&b)
}

#[test]
fn network_ls_inspect_rm_and_prune_print_what_docker_prints() {
    let api = FakeApi::start("nf-ls");
    let table = same_output(&api, &["network", "ls"]);
    assert!(table.starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"), "{table}");
    // Natural order: net2 before net10.
    assert!(table.find("net2").unwrap_or(0) < table.find("net10").unwrap_or(0), "{table}");
    same_output(&api, &["network", "ls", "-q"]);
    same_output(&api, &["network", "ls", "--no-trunc"]);
    same_output(&api, &["network", "ls", "-q", "--no-trunc"]);
    same_output(&api, &["network", "ls", "--format", "json"]);
    same_output(&api, &["network", "ls", "--format", "{{json .}}"]);
    same_output(&api, &["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label \"env\"}}"]);
    same_output(&api, &["network", "ls", "--format", "table {{.Name}}\t{{.IPv6}}\t{{.Internal}}\t{{.CreatedAt}}"]);
    let ((d, dseen), (b, bseen)) = api.both(&["network", "ls", "--filter", "driver=bridge", "--filter", "name=net"]);
    assert_eq!(stdout(&b), stdout(&d));
    let filters = |seen: &[Seen]| -> Value {
        let q = seen.iter().find(|s| s.path == "/networks").map(|s| s.query.clone()).unwrap_or_default();
        let enc = q.split('&').find_map(|kv| kv.strip_prefix("filters=")).unwrap_or_default().to_owned();
        let dec = percent_decode(&enc);
        serde_json::from_str(&dec).unwrap_or(Value::Null)
    };
    assert_eq!(filters(&bseen), filters(&dseen), "ls --filter query");

    same_output(&api, &["network", "inspect", "app"]);
    same_output(&api, &["network", "inspect", "app", "net2"]);
    same_output(&api, &["network", "inspect", "-f", "{{.Name}} {{.Driver}} {{.EnableIPv6}}", "app", "bridge"]);
    same_output(&api, &["network", "inspect", "app", "missing"]);

    same_output(&api, &["network", "rm", "app", "net2"]);
    same_output(&api, &["network", "rm", "app", "missing", "busy", "net2"]);
    same_output(&api, &["network", "rm", "-f", "missing"]);

    let out = same_output(&api, &["network", "prune", "-f"]);
    assert_eq!(out, "Deleted Networks:\napp\nnet10\n\n");
    let ((d, dseen), (b, bseen)) = api.both(&["network", "prune", "-f", "--filter", "label=env=test"]);
    assert_eq!(stdout(&b), stdout(&d));
    let q = |seen: &[Seen]| seen.iter().find(|s| s.path == "/networks/prune").map(|s| percent_decode(&s.query));
    assert_eq!(q(&bseen), q(&dseen), "prune --filter query");
}

#[test]
fn port_prints_what_docker_prints_for_the_same_inspect() {
    let api = FakeApi::start("nf-port");
    let all = same_output(&api, &["port", "web"]);
    assert_eq!(all, "53/udp -> 0.0.0.0:5353\n80/tcp -> 0.0.0.0:32768\n80/tcp -> [::]:32768\n8080/tcp -> 127.0.0.1:9000\n");
    assert_eq!(same_output(&api, &["port", "web", "80"]), "0.0.0.0:32768\n[::]:32768\n");
    same_output(&api, &["port", "web", "53/udp"]);
    same_output(&api, &["container", "port", "web", "8080/tcp"]);
    same_output(&api, &["port", "web", "443"]);
    same_output(&api, &["port", "web", "81"]);
    same_output(&api, &["port", "web", "http"]);
    let ((d, _), (b, _)) = api.both(&["port", "nosuch"]);
    assert_eq!((b.status.code(), stderr(&b)), (d.status.code(), stderr(&d)));
}

/// `%XX` decoding of a query string (and `+` as space).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
