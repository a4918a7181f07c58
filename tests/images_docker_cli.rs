//! The real docker CLI drives berthd's image endpoints (issue 5): pull, push, tag, rmi,
//! history, inspect, save and load, against a docker-registry on loopback.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;
use std::process::Command;

const DOCKER: &str = "/usr/local/bin/docker";

fn docker(d: &TestDaemon, args: &[&str]) -> std::process::Output {
    assert!(std::path::Path::new(DOCKER).exists(), "{DOCKER} is missing");
    Command::new(DOCKER)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .args(args)
        .output()
        .expect("run docker")
}

fn docker_ok(d: &TestDaemon, args: &[&str]) -> String {
    let out = docker(d, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log().lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn docker_cli_tags_pushes_pulls_saves_loads_and_removes_images_through_berthd() {
    let reg = Registry::start();
    let d1 = TestDaemon::modular("dkimg1");
    d1.import_busybox();
    let image = format!("{}/viadocker:v3", reg.host());
    docker_ok(&d1, &["tag", "busybox", &image]);
    let pushed = docker_ok(&d1, &["push", &image]);
    assert!(pushed.contains("v3: digest: sha256:"), "{pushed}");

    let d2 = TestDaemon::modular("dkimg2");
    let pulled = docker_ok(&d2, &["pull", &image]);
    assert!(pulled.contains(&format!("Status: Downloaded newer image for {image}")), "{pulled}");
    assert_eq!(docker_ok(&d2, &["run", "--rm", &image, "echo", "pulled"]), "pulled\n");
    let digests = docker_ok(&d2, &["image", "inspect", "--format", "{{json .RepoDigests}}", &image]);
    assert!(digests.contains(&format!("{}/viadocker@sha256:", reg.host())), "{digests}");
    assert!(docker_ok(&d2, &["history", &image]).contains("IMAGE"));

    let tmp = TempDir::new("dksave");
    let tar = tmp.path().join("img.tar");
    docker_ok(&d2, &["save", "-o", &tar.to_string_lossy(), &image]);
    let removed = docker_ok(&d2, &["rmi", &image]);
    assert!(removed.contains(&format!("Untagged: {image}")) && removed.contains("Deleted: sha256:"), "{removed}");
    assert_eq!(docker_ok(&d2, &["images", "-q"]), "");
    let loaded = docker_ok(&d2, &["load", "-i", &tar.to_string_lossy()]);
    assert!(loaded.contains(&format!("Loaded image: {image}")), "{loaded}");
    assert_eq!(docker_ok(&d2, &["run", "--rm", &image, "echo", "loaded"]), "loaded\n");
}
