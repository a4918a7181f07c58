//! Inspect parity with a real dockerd (issue 14): the same containers and image, made the
//! same way on dockerd 20.10 (overlay2) and on berthd (both modes), inspected with Debian's
//! docker CLI; berth's answers carry every key dockerd's do, and no other (object keys
//! compared recursively, array elements' keys merged). `--format '{{json .State}}'` works;
//! image history (rows "<missing>" beyond the local parents), the `ps` entries, `/info` and
//! `/version` have dockerd's keys.

mod common;

use common::engines::ReferenceDockerd;
use common::{docker_bin_ok, wait_until, TempDir, TestDaemon};
use serde_json::Value;
use std::collections::BTreeSet;

const DOCKER_20: &str = "/usr/bin/docker";

/// The key paths of `v`: `.A.B` for object keys, `[]` for the elements of an array.
fn key_paths(v: &Value, at: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}.{k}");
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| key_paths(x, &format!("{at}[]"), out)),
        _ => {}
    }
}

/// Fails naming every key path dockerd shows and berth does not (missing), and the other way
/// round (extra).
fn assert_same_keys(what: &str, docker: &Value, berth: &Value) {
    let (mut dk, mut bk) = (BTreeSet::new(), BTreeSet::new());
    key_paths(docker, "", &mut dk);
    key_paths(berth, "", &mut bk);
    let missing: Vec<_> = dk.difference(&bk).collect();
    let extra: Vec<_> = bk.difference(&dk).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: keys missing in berth: {missing:?}\nkeys berth has and dockerd not: {extra:?}\ndockerd: {docker:#}\nberth: {berth:#}"
    );
}

/// The first object of `docker inspect` output.
fn first(out: &str) -> Value {
    let v: Value = serde_json::from_str(out).expect("inspect output is JSON");
    v.get(0).cloned().expect("one object")
}

/// What both daemons are asked: containers made the same way and the image they run.
struct Inspected {
    plain: Value,
    with_options: Value,
    exited: Value,
    image: Value,
    state_format: Value,
    /// `GET /images/{committed}/history`, `/info`, `/version` as the API answers them.
    history: Value,
    /// `GET /containers/json?all=1` (the `ps` entries of the same containers).
    ps: Value,
    info: Value,
    version: Value,
}

/// `GET /v1.41{path}` on the API socket `sock`, decoded; fails unless 200.
fn api_at(sock: &std::path::Path, path: &str) -> Value {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connect to the API socket");
    write!(s, "GET /v1.41{path} HTTP/1.0\r\nHost: docker\r\n\r\n").expect("send request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read answer");
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    assert!(head.split_whitespace().nth(1) == Some("200"), "GET {path}: {head}\n{body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Runs the containers through `docker` (a CLI bound to one daemon) and inspects them.
fn inspect_all(docker: &dyn Fn(&[&str]) -> String, sock: &std::path::Path) -> Inspected {
    docker(&["run", "-d", "--name", "plain", "--network", "none", "busybox", "sleep", "1000"]);
    docker(&[
        "run",
        "-d",
        "--name",
        "opts",
        "--network",
        "none",
        "-e",
        "FOO=bar",
        "-l",
        "k=v",
        "-u",
        "0",
        "--tmpfs",
        "/scratch",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    docker(&["run", "--name", "done", "--network", "none", "busybox", "true"]);
    // A health log with an entry on both sides (its entries' keys are compared too).
    let healthy = wait_until(30, || docker(&["inspect", "-f", "{{.State.Health.Status}}", "opts"]).trim() == "healthy");
    assert!(healthy, "opts did not become healthy");
    docker(&["commit", "done", "committed:one"]);
    let state_format = serde_json::from_str(&docker(&["inspect", "--format", "{{json .State}}", "plain"])).expect("{{json .State}} is JSON");
    Inspected {
        plain: first(&docker(&["inspect", "plain"])),
        with_options: first(&docker(&["inspect", "opts"])),
        exited: first(&docker(&["inspect", "--size", "done"])),
        image: first(&docker(&["image", "inspect", "busybox"])),
        state_format,
        history: api_at(sock, "/images/committed:one/history"),
        ps: api_at(sock, "/containers/json?all=1"),
        info: api_at(sock, "/info"),
        version: api_at(sock, "/version"),
    }
}

/// `v` without the children of maps keyed by names that differ between the daemons
/// (`Runtimes`: runc there, berth's runtime here).
fn without_named_children(mut v: Value) -> Value {
    if let Some(Value::Object(m)) = v.get_mut("Runtimes") {
        m.clear();
    }
    v
}

fn compare(mode: &str, dk: &Inspected, bt: &Inspected) {
    assert_same_keys(&format!("{mode}: running container"), &dk.plain, &bt.plain);
    assert_same_keys(&format!("{mode}: container with -e -l -u --tmpfs --health-cmd"), &dk.with_options, &bt.with_options);
    assert_same_keys(&format!("{mode}: exited container"), &dk.exited, &bt.exited);
    assert_same_keys(&format!("{mode}: image"), &dk.image, &bt.image);
    assert_same_keys(&format!("{mode}: --format '{{{{json .State}}}}'"), &dk.state_format, &bt.state_format);
    assert_same_keys(&format!("{mode}: image history"), &dk.history, &bt.history);
    assert_same_keys(&format!("{mode}: ps entries"), &dk.ps, &bt.ps);
    assert_same_keys(&format!("{mode}: info"), &without_named_children(dk.info.clone()), &without_named_children(bt.info.clone()));
    assert_same_keys(&format!("{mode}: version"), &dk.version, &bt.version);
    // History rows as dockerd's: the top one is the image (id, tags), the rest "<missing>".
    let rows = |h: &Value| -> Vec<(bool, String, String)> {
        h.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (r["Id"] == "<missing>", r["CreatedBy"].as_str().unwrap_or("").to_owned(), r["Comment"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(rows(&bt.history), rows(&dk.history), "{mode}: history rows\nberth: {:#}\ndockerd: {:#}", bt.history, dk.history);
    assert_eq!(bt.history[0]["Tags"], serde_json::json!(["committed:one"]), "{mode}");
    assert_eq!(bt.state_format["Running"], Value::Bool(true), "{mode}: {}", bt.state_format);
    // Resource settings nobody asked for read as dockerd records them.
    for k in ["PidsLimit", "MemorySwappiness", "Memory", "NanoCpus", "CpuShares", "OomKillDisable", "ShmSize", "IpcMode", "CgroupnsMode"] {
        assert_eq!(bt.plain["HostConfig"][k], dk.plain["HostConfig"][k], "{mode}: HostConfig.{k}");
    }
}

/// Values that are berth's own, not zero stand-ins: the overlay dirs exist, the hostname is
/// the one the container has, the health log is the probe's.
fn check_values(mode: &str, d: &TestDaemon, bt: &Inspected) {
    let data = &bt.plain["GraphDriver"]["Data"];
    for k in ["MergedDir", "UpperDir", "WorkDir"] {
        let p = data[k].as_str().unwrap_or_default();
        assert!(std::path::Path::new(p).is_dir(), "{mode}: GraphDriver.Data.{k} {p:?} is a directory");
    }
    for l in data["LowerDir"].as_str().unwrap_or_default().split(':') {
        assert!(std::path::Path::new(l).is_dir(), "{mode}: lower dir {l:?}");
    }
    let hostname = docker_bin_ok(DOCKER_20, d, &["exec", "plain", "hostname"]);
    assert_eq!(bt.plain["Config"]["Hostname"].as_str(), Some(hostname.trim()), "{mode}: Config.Hostname");
    for k in ["ResolvConfPath", "HostnamePath", "HostsPath"] {
        let p = bt.plain[k].as_str().unwrap_or_default();
        assert!(std::path::Path::new(p).is_file(), "{mode}: {k} {p:?} is a file");
    }
    assert_eq!(bt.with_options["State"]["Health"]["Log"][0]["ExitCode"], 0, "{mode}: {}", bt.with_options["State"]);
    assert_eq!(bt.plain["NetworkSettings"]["Networks"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()), Some(vec!["none".to_owned()]));
    // `inspect --size`: the image's bytes are in the container's root fs.
    assert!(bt.exited["SizeRootFs"].as_u64() >= bt.image["Size"].as_u64(), "{mode}: {} {}", bt.exited["SizeRootFs"], bt.image["Size"]);
    let upper = bt.image["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap_or_default();
    assert!(std::path::Path::new(upper).is_dir(), "{mode}: image UpperDir {upper:?}");
}

#[test]
fn container_and_image_inspect_carry_every_key_dockerd_shows_in_both_modes() {
    let tmp = TempDir::new("insp-dk");
    let dockerd = ReferenceDockerd::start(tmp.path());
    dockerd.import_busybox();
    let dk_sock = std::path::PathBuf::from(dockerd.host().trim_start_matches("unix://"));
    let dk = inspect_all(&|args| dockerd.docker_ok(args), &dk_sock);
    for monolithic in [false, true] {
        let mode = if monolithic { "monolithic" } else { "modular" };
        let d = TestDaemon::with_args("insp", monolithic, &[]);
        d.import_busybox();
        let bt = inspect_all(&|args| docker_bin_ok(DOCKER_20, &d, args), &d.socket());
        compare(mode, &dk, &bt);
        check_values(mode, &d, &bt);
    }
}
