//! Filters as Docker's (issue 14): the same images, tags and containers made on a real
//! dockerd 20.10 and on berthd (both modes); `docker images REPO`, `images --filter`
//! (reference globs, label, before, since, dangling), `ps --filter` (network, volume,
//! publish, expose, isolation, is-task, label), `container prune` and `image prune` with
//! `until`/`label`/`label!`, and the destroy events of a prune answer the same on both.
//! Malformed filters fail on both; berth names the filter.

mod common;

use common::engines::ReferenceDockerd;
use common::{busybox_tar, docker_bin_cmd, TempDir, TestDaemon};
use std::process::Output;

const DOCKER_20: &str = "/usr/bin/docker";

/// What one query answered: its sorted output lines, or that it failed (with stderr).
type Answer = Result<Vec<String>, String>;

fn answer(o: Output) -> Answer {
    if o.status.success() {
        let mut l: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect();
        l.sort();
        Ok(l)
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// Makes the same images, containers and prunes through `cli`, recording every answer.
fn scenario(cli: &dyn Fn(&[&str]) -> Output) -> Vec<(String, Answer)> {
    let mut out = Vec::new();
    let tar = busybox_tar().to_string_lossy().into_owned();
    let must = |args: &[&str]| {
        let o = cli(args);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    must(&["import", &tar, "busybox"]);
    for t in ["busybox:1", "app/web:v1", "app/web:v2", "localhost:5000/app/api:dev"] {
        must(&["tag", "busybox", t]);
    }
    must(&["import", "--change", "LABEL tier=web", &tar, "labelled:one"]);
    must(&["import", &tar, "later:one"]);
    let ask_fixed = |out: &mut Vec<(String, Answer)>, what: String, failed: bool| out.push((what, Ok(vec![failed.to_string()])));
    let ask = |out: &mut Vec<(String, Answer)>, what: &str, args: &[&str]| out.push((what.to_owned(), answer(cli(args))));
    let images = ["images", "--format", "{{.Repository}}:{{.Tag}}"];
    let img_queries: &[&[&str]] = &[
        &[],
        &["busybox"],
        &["app/web"],
        &["app/web:v1"],
        &["busy*"],
        &["nothing"],
        &["--filter", "reference=app/*"],
        &["--filter", "reference=*:v1"],
        &["--filter", "reference=localhost:5000/*/*"],
        &["--filter", "reference=*"],
        &["--filter", "reference=busybox", "--filter", "reference=app/web:v2"],
        &["--filter", "label=tier"],
        &["--filter", "label=tier=web"],
        &["--filter", "label=tier=db"],
        &["--filter", "before=labelled:one"],
        &["--filter", "since=busybox"],
        &["--filter", "dangling=false"],
        &["--filter", "color=red"],
        &["--filter", "before=nosuch:image"],
    ];
    for q in img_queries {
        ask(&mut out, &format!("images {q:?}"), &[&images[..], q].concat());
    }
    must(&["run", "-d", "--name", "up1", "--network", "none", "-l", "k=v", "busybox", "sleep", "1000"]);
    must(&["run", "--name", "ex1", "--network", "none", "busybox", "true"]);
    let ps = ["ps", "-a", "--format", "{{.Names}}"];
    let ps_queries: &[&[&str]] = &[
        &["--filter", "network=none"],
        &["--filter", "network=bridge"],
        &["--filter", "volume=/data"],
        &["--filter", "publish=80"],
        &["--filter", "expose=80/tcp"],
        &["--filter", "expose=8000-8080"],
        &["--filter", "isolation=default"],
        &["--filter", "is-task=false"],
        &["--filter", "is-task=true"],
        &["--filter", "label=k=v"],
        &["--filter", "publish=1:2"],
        &["--filter", "color=red"],
    ];
    for q in ps_queries {
        ask(&mut out, &format!("ps {q:?}"), &[&ps[..], q].concat());
    }
    // Prunes: stopped containers only, narrowed by label, label! and until.
    must(&["run", "--name", "p1", "--network", "none", "-l", "prune=yes", "busybox", "true"]);
    must(&["run", "--name", "p2", "--network", "none", "-l", "keep=1", "busybox", "true"]);
    must(&["run", "-d", "--name", "r1", "--network", "none", "-l", "prune=yes", "busybox", "sleep", "1000"]);
    let prunes: &[&[&str]] = &[
        &["container", "prune", "-f", "--filter", "label=prune=yes"],
        &["container", "prune", "-f", "--filter", "until=1h"],
        &["container", "prune", "-f", "--filter", "until=yesterday"],
        &["container", "prune", "-f", "--filter", "color=red"],
        &["container", "prune", "-f", "--filter", "label!=keep"],
    ];
    for p in prunes {
        let failed = answer(cli(p)).err();
        ask_fixed(&mut out, format!("{p:?} failed"), failed.is_some());
        ask(&mut out, &format!("ps -a after {p:?}"), &ps);
    }
    // `until` a second ahead, absolute (the CLI truncates durations to whole seconds, which
    // would cut off the events of the current second): every past event is in.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    ask(
        &mut out,
        "destroy events",
        &["events", "--since", "0", "--until", &until, "--filter", "event=destroy", "--format", "{{.Actor.Attributes.name}}"],
    );
    let image_prunes: &[&[&str]] = &[
        &["image", "prune", "-a", "-f", "--filter", "until=1h"],
        &["image", "prune", "-a", "-f", "--filter", "label!=tier"],
        &["image", "prune", "-a", "-f", "--filter", "label=tier=web"],
    ];
    for p in image_prunes {
        must(p);
        ask(&mut out, &format!("images after {p:?}"), &images);
    }
    // The prunes' own events, and the untag/delete events of what they removed.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    for ev in ["prune", "untag", "delete"] {
        let f = format!("event={ev}");
        let args = ["events", "--since", "0", "--until", &until, "--filter", &f, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"];
        let mut a = answer(cli(&args));
        // Deleted images are named by their ids, which differ between the daemons.
        if let Ok(lines) = &mut a {
            lines.iter_mut().for_each(|l| *l = l.split(" sha256:").next().unwrap_or_default().to_owned());
        }
        out.push((format!("{ev} events"), a));
    }
    out
}

#[test]
fn image_and_container_filters_and_prunes_answer_as_dockerd_does_in_both_modes() {
    let tmp = TempDir::new("filt-dk");
    let dockerd = ReferenceDockerd::start(tmp.path());
    let dk = scenario(&|args| dockerd.docker(args));
    for monolithic in [false, true] {
        let mode = if monolithic { "monolithic" } else { "modular" };
        let d = TestDaemon::with_args("filt", monolithic, &[]);
        let bt = scenario(&|args| docker_bin_cmd(DOCKER_20, &d).args(args).output().expect("docker"));
        assert_eq!(dk.len(), bt.len());
        for ((what, want), (_, got)) in dk.iter().zip(&bt) {
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{mode}: {what}: berth answered {g:?}, dockerd {w:?}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{mode}: {what}: dockerd {want:?}, berth {got:?}"),
            }
        }
        // berth's refusals name what is wrong.
        let says = |q: &str| bt.iter().find(|(w, _)| w == q).and_then(|(_, a)| a.clone().err()).unwrap_or_default();
        assert!(says(r#"images ["--filter", "color=red"]"#).contains("invalid filter 'color'"), "{mode}");
        assert!(says(r#"ps ["--filter", "color=red"]"#).contains("invalid filter 'color'"), "{mode}");
        assert!(says(r#"ps ["--filter", "publish=1:2"]"#).contains("should not contain ':'"), "{mode}");
        let hyperv = docker_bin_cmd(DOCKER_20, &d).args(["ps", "--filter", "isolation=hyperv"]).output().expect("docker");
        assert!(String::from_utf8_lossy(&hyperv.stderr).contains("only the \"default\" isolation"), "{mode}: {hyperv:?}");
        let until = docker_bin_cmd(DOCKER_20, &d).args(["container", "prune", "-f", "--filter", "until=yesterday"]).output().expect("docker");
        assert!(String::from_utf8_lossy(&until.stderr).contains("invalid filter 'until=yesterday'"), "{mode}: {until:?}");
    }
}
