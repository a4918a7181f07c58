//! Volumes through the Engine API (issue 16): `volume create|ls|inspect|rm|prune` with the
//! docker CLI (28.x and 20.10), the local driver's options, labels and filters, Docker's
//! refusals (bad name, unknown driver or option, missing volume), events, and volumes kept
//! across a daemon restart. Mounting them into containers is not wired in yet. Both modes.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{docker_bin_fails_saying, docker_bin_ok as ok, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode() & 0o7777
}

fn volumes_flow(mut d: TestDaemon) {
    let since = chrono::Utc::now().timestamp().to_string();
    for (bin, t) in [(DOCKER, "a"), (DOCKER_20, "b")] {
        let data = format!("data{t}");
        assert_eq!(ok(bin, &d, &["volume", "create", "--label", "k=v", "--label", &format!("it={t}"), &data]).trim(), data);
        let got = ok(bin, &d, &["volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Mountpoint}}", &data]);
        let mountpoint = d.root().join("volumes").join(&data).join("_data");
        assert_eq!(got.trim(), format!("{data} local local map[it:{t} k:v] {}", mountpoint.display()), "{bin}");
        assert_eq!(mode(&mountpoint), 0o755, "{bin}: _data is Docker's 0755");
        assert_eq!(mode(&d.root().join("volumes")), 0o700, "{bin}: the store is root's only");
        // Creating it again returns it as it is.
        assert_eq!(ok(bin, &d, &["volume", "create", &data]).trim(), data);
        let anon = ok(bin, &d, &["volume", "create"]);
        let anon = anon.trim();
        assert!(anon.len() == 64 && anon.chars().all(|c| c.is_ascii_hexdigit()), "{bin}: {anon}");
        let mem = format!("mem{t}");
        ok(bin, &d, &["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", &mem]);
        let opts = ok(bin, &d, &["volume", "inspect", "-f", "{{.Options}}", &mem]);
        assert_eq!(opts.trim(), "map[device:tmpfs o:size=1m type:tmpfs]", "{bin}");
        // Filters.
        let names = |f: &[&str]| {
            let mut args = vec!["volume", "ls", "-q"];
            args.extend_from_slice(f);
            let mut v: Vec<String> = ok(bin, &d, &args).lines().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(names(&["--filter", &format!("label=it={t}")]), std::slice::from_ref(&data), "{bin}");
        assert!(names(&["--filter", &format!("name={}", &data[..4])]).contains(&data), "{bin}");
        assert!(names(&["--filter", "dangling=true"]).contains(&anon.to_owned()), "{bin}: unused volumes dangle");
        assert!(names(&["--filter", "driver=local"]).len() >= 3, "{bin}");
        // Docker's refusals, nothing made.
        docker_bin_fails_saying(bin, &d, &["volume", "create", "a/b"], "\"a/b\" includes invalid characters for a local volume name");
        docker_bin_fails_saying(bin, &d, &["volume", "create", "-d", "nfs-plugin", "x1"], "plugin \"nfs-plugin\" not found");
        docker_bin_fails_saying(bin, &d, &["volume", "create", "-o", "bogus=1", "x2"], "invalid option: \"bogus\"");
        docker_bin_fails_saying(bin, &d, &["volume", "create", "-o", "type=tmpfs", "x3"], "missing required option: \"device\"");
        docker_bin_fails_saying(bin, &d, &["volume", "inspect", "nope"], "such volume");
        docker_bin_fails_saying(bin, &d, &["volume", "rm", "nope"], "such volume");
        ok(bin, &d, &["volume", "rm", "-f", "nope"]);
        for x in ["a", "x1", "x2", "x3"] {
            assert!(!d.root().join("volumes").join(x).exists(), "{bin}: {x} made");
        }
        ok(bin, &d, &["volume", "rm", anon]);
        assert!(!names(&[]).contains(&anon.to_owned()));
    }
    // system df counts them, with the bytes written into one.
    std::fs::write(d.root().join("volumes/dataa/_data/kept"), "yes").expect("write");
    let df = ok(DOCKER, &d, &["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}"]);
    assert!(df.lines().any(|l| l == "Local Volumes 4 3B"), "{df}");
    let events = |d: &TestDaemon, since: &str| {
        let until = (chrono::Utc::now().timestamp() + 1).to_string();
        ok(DOCKER, d, &["events", "--since", since, "--until", &until, "--filter", "volume=dataa", "--format", "{{.Type}} {{.Action}}"])
    };
    assert_eq!(events(&d, &since).lines().collect::<Vec<_>>(), ["volume create"]);
    // Kept across a restart (a SIGKILL in the middle of nothing).
    d.kill_daemon();
    d.start();
    let since = chrono::Utc::now().timestamp().to_string();
    let all = ok(DOCKER, &d, &["volume", "ls", "--format", "{{.Name}}"]);
    for v in ["dataa", "datab", "mema", "memb"] {
        assert!(all.lines().any(|l| l == v), "{v} kept: {all}");
    }
    assert_eq!(std::fs::read_to_string(d.root().join("volumes/dataa/_data/kept")).expect("kept"), "yes");
    // prune: every unused volume (API 1.41), reporting them.
    let out = ok(DOCKER, &d, &["volume", "prune", "-f", "--filter", "label=k=v"]);
    assert!(out.contains("dataa") && out.contains("datab") && !out.contains("mema"), "{out}");
    assert!(out.contains("Total reclaimed space: 3B"), "{out}");
    ok(DOCKER, &d, &["volume", "prune", "-f"]);
    assert_eq!(ok(DOCKER, &d, &["volume", "ls", "-q"]), "");
    assert_eq!(events(&d, &since).lines().collect::<Vec<_>>(), ["volume destroy"]);
}

#[test]
fn volumes_are_created_listed_inspected_and_removed_as_dockers_modular() {
    volumes_flow(TestDaemon::modular("volm"));
}

#[test]
fn volumes_are_created_listed_inspected_and_removed_as_dockers_monolithic() {
    volumes_flow(TestDaemon::monolithic("volo"));
}
