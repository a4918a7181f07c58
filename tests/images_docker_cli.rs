//! The real docker CLI drives berthd's image endpoints (issue 5): pull, push, tag, rmi,
//! history, inspect, save and load against a docker-registry on loopback; commit,
//! export, import, the dangling filter, image prune and system df.

mod common;
mod images_support;

use common::{docker_ok, TempDir, TestDaemon};
use images_support::*;

#[test]
fn docker_cli_tags_pushes_pulls_saves_loads_and_removes_images_through_berthd() {
    let reg = Registry::start();
    let d1 = TestDaemon::modular_host_net("dkimg1");
    d1.import_busybox();
    let image = format!("{}/viadocker:v3", reg.host());
    docker_ok(&d1, &["tag", "busybox", &image]);
    let pushed = docker_ok(&d1, &["push", &image]);
    assert!(pushed.contains("v3: digest: sha256:"), "{pushed}");

    let d2 = TestDaemon::modular_host_net("dkimg2");
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

#[test]
fn docker_cli_commits_exports_imports_filters_dangling_prunes_and_reports_disk_usage_through_berthd() {
    let d = TestDaemon::modular_host_net("dkcommit");
    d.import_busybox();
    docker_ok(&d, &["run", "--name", "dc", "busybox", "sh", "-c", "echo hi > /hi && rm /bin/vi"]);
    let first = docker_ok(&d, &["commit", "-c", r#"CMD ["cat", "/hi"]"#, "-m", "via docker", "dc", "committed:dk"]);
    assert!(first.starts_with("sha256:"), "{first}");
    assert_eq!(docker_ok(&d, &["run", "--rm", "committed:dk"]), "hi\n");
    assert_eq!(docker_ok(&d, &["run", "--rm", "committed:dk", "sh", "-c", "test -e /bin/vi || echo novi"]), "novi\n");
    assert_eq!(docker_ok(&d, &["image", "inspect", "--format", "{{.Comment}}", "committed:dk"]), "via docker\n");

    let tmp = TempDir::new("dkexport");
    let tar = tmp.path().join("dc.tar");
    docker_ok(&d, &["export", "-o", &tar.to_string_lossy(), "dc"]);
    let imported = docker_ok(&d, &["import", "-c", r#"CMD ["cat", "/hi"]"#, &tar.to_string_lossy(), "imported:dk"]);
    assert!(imported.trim().starts_with("sha256:"), "{imported}");
    assert_eq!(docker_ok(&d, &["run", "--rm", "imported:dk"]), "hi\n");

    // A second commit under the same name leaves the first one dangling.
    docker_ok(&d, &["commit", "dc", "committed:dk"]);
    let dangling = docker_ok(&d, &["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling.trim(), &first.trim()[7..19]);
    let pruned = docker_ok(&d, &["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {}", first.trim())) && pruned.contains("Total reclaimed space:"), "{pruned}");
    assert_eq!(docker_ok(&d, &["images", "-q", "--filter", "dangling=true"]), "");

    let df = docker_ok(&d, &["system", "df"]);
    let images: Vec<&str> = df.lines().find(|l| l.starts_with("Images")).unwrap_or_default().split_whitespace().collect();
    assert_eq!(&images[..3], ["Images", "3", "1"], "busybox (used by dc), committed:dk, imported:dk: {df}");
    let containers: Vec<&str> = df.lines().find(|l| l.starts_with("Containers")).unwrap_or_default().split_whitespace().collect();
    assert_eq!(&containers[..3], ["Containers", "1", "0"], "{df}");
}
