//! The berth client prints what the docker CLI prints (issue 14): the same `--format` Go
//! templates (docker's functions, `table`, `json`) on `ps`, `images`, `inspect`, `history`,
//! `version`, `info` and `events`, the same filters, `top`, the `container`/`image`/`system`
//! management commands, and shell completions. Each output is compared with docker 28.x's
//! against the same berthd, in both modes.

mod common;

use common::{docker_bin_ok, TestDaemon};
use std::process::Command;

const DOCKER: &str = "/usr/local/bin/docker";

/// The berth client's stdout (it must succeed).
fn berth(d: &TestDaemon, args: &[&str]) -> String {
    d.berth_ok(args)
}

/// Both clients' stdout for the same arguments.
fn both(d: &TestDaemon, args: &[&str]) -> (String, String) {
    (docker_bin_ok(DOCKER, d, args), berth(d, args))
}

/// Asserts that docker and berth print the same for `args`.
fn same(d: &TestDaemon, args: &[&str]) -> String {
    let (docker, ours) = both(d, args);
    assert_eq!(ours, docker, "berth {args:?} differs from docker's");
    ours
}

/// Now as the docker CLI sends a time: Unix seconds with nanoseconds.
fn now() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// berth fails with a message containing `says` (and docker too, for the same input).
fn both_fail_saying(d: &TestDaemon, args: &[&str], says: &str) {
    let ours = d.berth(args);
    let theirs = common::docker_bin_cmd(DOCKER, d).args(args).output().expect("docker");
    for (who, out) in [("berth", &ours), ("docker", &theirs)] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{who} {args:?}: {err}");
    }
}

fn formats_flow(d: &TestDaemon) {
    d.import_busybox();
    let t0 = now();
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "fa", "-l", "app=web", "-l", "tier=front", "busybox", "sleep", "1000"]);
    let fb = common::docker_bin_cmd(DOCKER, d).args(["run", "--name", "fb", "-l", "app=db", "busybox", "sh", "-c", "exit 3"]).status();
    assert_eq!(fb.ok().and_then(|s| s.code()), Some(3));
    docker_bin_ok(DOCKER, d, &["tag", "busybox", "other/box:v1"]);

    // ps: filters and templates, as docker prints them.
    let names = same(d, &["ps", "-a", "--format", "table {{.Names}}\t{{.Image}}\t{{.Labels}}\t{{.State}}"]);
    assert!(names.starts_with("NAMES") && names.contains("fa ") && names.contains("fb "), "{names}");
    assert_eq!(same(d, &["ps", "-a", "--filter", "name=fa", "--format", "{{.Names}} {{.Command}}"]), "fa \"sleep 1000\"\n");
    // (Status says "N seconds ago", which may tick between the two calls: compared apart.)
    assert_eq!(same(d, &["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.State}}"]), "fb exited\n");
    let exited = berth(d, &["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}"]);
    assert!(exited.starts_with("fb Exited (3) ") && exited.lines().count() == 1, "{exited}");
    assert_eq!(same(d, &["ps", "-a", "--filter", "label=app=db", "--format", "{{.Names}}"]), "fb\n");
    assert_eq!(same(d, &["ps", "-q", "--filter", "ancestor=busybox", "--no-trunc"]).trim().len(), 64);
    same(d, &["ps", "-a", "-n", "1", "--format", "{{.Names}} {{.Label \"app\"}}"]);
    same(d, &["ps", "-a", "--format", "{{json .Names}} {{upper .Names}} {{title .State}} {{pad .Names 1 1}}|{{truncate .ID 4}}"]);
    same(d, &["container", "ls", "-a", "--filter", "name=f", "--format", "{{.Names}}"]);

    // inspect: templates over the JSON; {{json}} gives the same object.
    same(d, &["inspect", "-f", "{{.Name}} {{.State.Running}} {{.Config.Cmd}} {{join .Config.Cmd \",\"}} {{index .Config.Labels \"tier\"}}", "fa"]);
    same(d, &["inspect", "--format", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "fa", "fb"]);
    let (docker, ours) = both(d, &["inspect", "-f", "{{json .State}}", "fa"]);
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"));
    assert_eq!(parse(&ours), parse(&docker));
    same(d, &["container", "inspect", "-f", "{{.State.ExitCode}}", "fb"]);
    same(d, &["image", "inspect", "-f", "{{.Id}} {{.RepoTags}}", "busybox"]);
    same(d, &["inspect", "--type", "image", "-f", "{{.Os}}", "busybox"]);

    // images, history, version, info.
    same(d, &["images", "--format", "table {{.Repository}}\t{{.Tag}}", "other/box"]);
    same(d, &["images", "--filter", "reference=other/*", "-q"]);
    // An image with several repositories: one row each (docker orders them at random).
    let (docker, ours) = both(d, &["images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"]);
    let sorted = |s: &str| {
        let mut l: Vec<String> = s.lines().map(str::to_owned).collect();
        l.sort();
        l
    };
    assert_eq!(sorted(&ours), sorted(&docker));
    assert_eq!(sorted(&berth(d, &["images", "-q"])), sorted(&docker_bin_ok(DOCKER, d, &["images", "-q"])));
    same(d, &["history", "--format", "{{.ID}} {{.Size}} {{.CreatedBy}}", "busybox"]);
    same(d, &["image", "history", "-q", "busybox"]);
    same(d, &["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}"]);
    same(d, &["info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{json .Driver}}"]);
    same(d, &["system", "info", "--format", "{{.ServerVersion}}"]);

    // top with ps options.
    same(d, &["top", "fa", "-o", "pid,comm,args"]);
    same(d, &["container", "top", "fa", "-o", "pid,user,args"]);
    // stats --format, on the columns that do not move between two samples.
    assert_eq!(same(d, &["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{len .ID}}", "fa"]), "fa 1 12\n");
    let table = same(d, &["stats", "--no-stream", "--format", "table {{.Name}}\t{{.PIDs}}", "fa"]);
    assert_eq!(table, "NAME      PIDS\nfa        1\n");

    let tops =
        berth(d, &["events", "--since", &t0, "--until", &now(), "--filter", "event=top", "--format", "{{.Action}} {{.Actor.Attributes.name}}"]);
    assert_eq!(tops, "top fa\n".repeat(4), "each top is an event, as Docker's");

    docker_bin_ok(DOCKER, d, &["commit", "-m", "snap", "fa", "snap:1"]);
    let tmp = common::TempDir::new("cfx");
    docker_bin_ok(DOCKER, d, &["export", "-o", &tmp.path().join("fa.tar").to_string_lossy(), "fa"]);
    let made = berth(
        d,
        &[
            "events",
            "--since",
            &t0,
            "--until",
            &now(),
            "--filter",
            "event=commit",
            "--filter",
            "event=export",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.comment}}",
        ],
    );
    assert_eq!(made, "commit fa snap\nexport fa <no value>\n");
    docker_bin_ok(DOCKER, d, &["rmi", "snap:1"]);

    // events: a stop/rm's lifecycle, bounded, filtered and formatted.
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "fa"]);
    docker_bin_ok(DOCKER, d, &["rm", "fa"]);
    let t1 = now();
    let ev = same(
        d,
        &[
            "events",
            "--since",
            &t0,
            "--until",
            &t1,
            "--filter",
            "container=fa",
            "--filter",
            "event=create",
            "--filter",
            "event=start",
            "--filter",
            "event=kill",
            "--filter",
            "event=die",
            "--filter",
            "event=stop",
            "--filter",
            "event=destroy",
        ],
    );
    let actions: Vec<&str> = ev.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    // In this order; a stop may send a second kill (KILL after TERM), logged before or
    // after the die it caused, as in Docker.
    let mut it = actions.iter();
    assert!(["create", "start", "kill", "die", "stop", "destroy"].iter().all(|w| it.any(|a| a == w)), "{ev}");
    assert!(actions.iter().all(|a| ["create", "start", "kill", "die", "stop", "destroy"].contains(a)), "{ev}");
    let ev = same(
        d,
        &[
            "system",
            "events",
            "--since",
            &t0,
            "--until",
            &t1,
            "--filter",
            "event=die",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}}",
        ],
    );
    assert_eq!(ev, "container die fb die\ncontainer die fa die\n");
    let ev = berth(d, &["events", "--since", &t0, "--until", &t1, "--filter", "type=image", "--format", "json"]);
    let tag: serde_json::Value = serde_json::from_str(ev.lines().next().unwrap_or_default()).expect("a json line");
    assert_eq!((tag["Action"].as_str(), tag["Actor"]["Attributes"]["name"].as_str()), (Some("tag"), Some("other/box:v1")), "{ev}");

    // container prune: the same report from both clients, each pruning its own.
    let mut ids = Vec::new();
    for (name, label) in [("p1", "x=1"), ("p2", "x=2")] {
        ids.push(docker_bin_ok(DOCKER, d, &["create", "--name", name, "-l", label, "busybox", "true"]).trim().to_owned());
    }
    let theirs = docker_bin_ok(DOCKER, d, &["container", "prune", "-f", "--filter", "label=x=1"]);
    let ours = berth(d, &["container", "prune", "-f", "--filter", "label=x=2"]);
    assert_eq!(theirs.replace(&ids[0], "ID"), ours.replace(&ids[1], "ID"), "{theirs}\n{ours}");
    assert!(ours.starts_with(&format!("Deleted Containers:\n{}\n\nTotal reclaimed space: ", ids[1])), "{ours}");
    assert_eq!(berth(d, &["ps", "-a", "--filter", "name=p", "-q"]), "");
    let out = berth(d, &["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:") && out.trim_end().lines().last().is_some_and(|l| l.starts_with("Total reclaimed space:")), "{out}");
    assert_eq!(berth(d, &["ps", "-a", "--filter", "status=exited", "-q"]), "", "system prune removed the stopped containers");
    assert!(!d.berth(&["system", "prune", "-f", "--volumes"]).status.success(), "berth has no volumes: refused");

    // Bad input: both refuse it the same way.
    both_fail_saying(d, &["ps", "--filter", "bogus=1"], "invalid filter 'bogus'");
    both_fail_saying(d, &["inspect", "-f", "{{.Name", "fb"], "template parsing error");
    both_fail_saying(d, &["events", "--since", "yesterday", "--until", "1"], "yesterday");
    docker_bin_ok(DOCKER, d, &["rmi", "other/box:v1"]);
}

#[test]
fn client_formats_match_docker_modular() {
    let d = TestDaemon::modular("cfmt");
    formats_flow(&d);
}

#[test]
fn client_formats_match_docker_monolithic() {
    let d = TestDaemon::monolithic("cfmtm");
    formats_flow(&d);
}

#[test]
fn completion_scripts_cover_the_management_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(common::berth_bin()).args(["completion", shell]).output().expect("berth completion");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        for word in ["container", "prune", "events", "format", "inspect"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // bash reads its script without a syntax error.
    let out = Command::new(common::berth_bin()).args(["completion", "bash"]).output().expect("berth completion");
    let check = Command::new("bash").arg("-n").stdin(std::process::Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().map(|mut i| i.write_all(&out.stdout)).transpose()?;
        c.wait()
    });
    assert!(check.is_ok_and(|s| s.success()), "bash -n rejects the completion script");
    let bad = Command::new(common::berth_bin()).args(["completion", "tcsh"]).output().expect("berth completion");
    assert_eq!(bad.status.code(), Some(2), "an unknown shell is a usage error");
}
