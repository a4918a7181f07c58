//! Compose isolation (issue 14): Debian's docker-compose (1.29, docker-py) runs two projects
//! from the same file side by side against berthd; `up`, `ps` and `down` of one never see
//! or touch the other's containers (compose finds its containers with the label filter
//! `com.docker.compose.project=<name>`). Networks (issue 15): a project's client service
//! fetches its web service by service name over the project's default network, and `down`
//! leaves no network, bridge, veth or rule.

mod common;

use common::{docker_bin_ok, need, wait_until, TestDaemon};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const COMPOSE: &str = "/usr/bin/docker-compose";
const DOCKER_20: &str = "/usr/bin/docker";

const FILE: &str = r#"version: "2.4"
services:
  web:
    image: busybox
    command: sleep 1000
    network_mode: none
    stop_signal: SIGKILL
  worker:
    image: busybox
    command: sleep 1000
    network_mode: none
    stop_signal: SIGKILL
"#;

/// Runs `docker-compose -p project args` in `dir` against `d`; fails the test unless it succeeds.
fn compose(d: &TestDaemon, dir: &Path, project: &str, args: &[&str]) -> String {
    let out = Command::new(COMPOSE)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .args(["--no-ansi", "-p", project])
        .args(args)
        .output()
        .expect("run docker-compose");
    assert!(
        out.status.success(),
        "docker-compose -p {project} {args:?}: {}\n{}\ndaemon log tail:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log().lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ids(text: &str) -> BTreeSet<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The full ids of the containers labelled as project `p`'s, running or not.
fn labelled(d: &TestDaemon, p: &str) -> BTreeSet<String> {
    ids(&docker_bin_ok(DOCKER_20, d, &["ps", "-aq", "--no-trunc", "--filter", &format!("label=com.docker.compose.project={p}")]))
}

fn two_projects_never_touch_each_other(d: &TestDaemon) {
    need(Path::new(COMPOSE).exists(), "docker-compose (Debian's docker-compose)");
    d.import_busybox();
    let dir = d.dir.path().join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(dir.join("docker-compose.yml"), FILE).expect("compose file");

    compose(d, &dir, "alpha", &["up", "-d"]);
    compose(d, &dir, "beta", &["up", "-d"]);
    let (alpha, beta) = (ids(&compose(d, &dir, "alpha", &["ps", "-q"])), ids(&compose(d, &dir, "beta", &["ps", "-q"])));
    assert_eq!(alpha.len(), 2, "alpha's ps shows its two services: {alpha:?}");
    assert_eq!(beta.len(), 2, "beta's ps shows its two services: {beta:?}");
    assert!(alpha.is_disjoint(&beta), "each project's ps shows only its own: {alpha:?} {beta:?}");
    assert_eq!(alpha, labelled(d, "alpha"));
    assert_eq!(beta, labelled(d, "beta"));

    // A second `up` of alpha changes nothing of beta's.
    compose(d, &dir, "alpha", &["up", "-d"]);
    assert_eq!(ids(&compose(d, &dir, "beta", &["ps", "-q"])), beta);

    compose(d, &dir, "alpha", &["down"]);
    assert!(labelled(d, "alpha").is_empty(), "alpha's containers are gone");
    assert_eq!(labelled(d, "beta"), beta, "beta's containers are all still there");
    for id in &beta {
        let running = docker_bin_ok(DOCKER_20, d, &["inspect", "-f", "{{.State.Running}}", id]);
        assert_eq!(running.trim(), "true", "beta's {id} still runs");
    }
    assert!(compose(d, &dir, "alpha", &["ps", "-q"]).trim().is_empty(), "alpha's ps after down is empty");
    compose(d, &dir, "beta", &["down"]);
    assert!(wait_until(10, || labelled(d, "beta").is_empty()), "beta's containers are gone after its down");
}

const NETWORKED: &str = r#"version: "3"
services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /etc
  client:
    image: busybox
    command: sh -c "until wget -qO- http://web/hostname; do usleep 100000; done"
    depends_on: [web]
"#;

fn a_client_service_fetches_the_web_service_by_name(d: &TestDaemon) {
    need(Path::new(COMPOSE).exists(), "docker-compose (Debian's docker-compose)");
    d.import_busybox();
    let dir = d.dir.path().join("networked");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(dir.join("docker-compose.yml"), NETWORKED).expect("compose file");
    let rules_before = d.netns.run_ok("nft", &["list", "ruleset"]);
    let out = compose(d, &dir, "net", &["up", "--abort-on-container-exit", "--exit-code-from", "client"]);
    let web = docker_bin_ok(DOCKER_20, d, &["inspect", "-f", "{{.Config.Hostname}}", "net_web_1"]);
    assert!(out.lines().any(|l| l.contains("client_1") && l.trim_end().ends_with(web.trim())), "the client printed the web's page: {out}");
    let nets = docker_bin_ok(DOCKER_20, d, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.lines().any(|n| n == "net_default"), "{nets}");
    compose(d, &dir, "net", &["down"]);
    let nets = docker_bin_ok(DOCKER_20, d, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("net_default"), "{nets}");
    // The veths are deleted just after their containers stop, off the stop's path.
    let gone = || {
        let links = d.netns.run_ok("ip", &["-o", "link"]);
        !links.contains("veth") && !links.contains("br-")
    };
    assert!(wait_until(10, gone), "{}", d.netns.run_ok("ip", &["-o", "link"]));
    assert_eq!(d.netns.run_ok("nft", &["list", "ruleset"]), rules_before, "down leaves the rules as before up");
}

#[test]
fn a_compose_client_service_fetches_the_web_service_by_name_and_down_leaves_nothing_modular() {
    a_client_service_fetches_the_web_service_by_name(&TestDaemon::modular("composen"));
}

#[test]
fn a_compose_client_service_fetches_the_web_service_by_name_and_down_leaves_nothing_monolithic() {
    a_client_service_fetches_the_web_service_by_name(&TestDaemon::monolithic("composen"));
}

#[test]
fn compose_projects_side_by_side_see_and_touch_only_their_own_containers_modular() {
    two_projects_never_touch_each_other(&TestDaemon::modular("compose"));
}

#[test]
fn compose_projects_side_by_side_see_and_touch_only_their_own_containers_monolithic() {
    two_projects_never_touch_each_other(&TestDaemon::monolithic("compose"));
}
