//! Registry-side image endpoints (issue 14), both modes: `GET /distribution/{name}/json`
//! answers the descriptor of the manifest a real docker-registry holds (the digest skopeo
//! reads there) and its platform, without pulling; an unknown name is a 404 naming it.
//! `GET /images/search` (`docker search`) is refused with the reason, not a 404 page.

mod common;
mod images_support;

use common::http::get;
use common::{docker_bin_cmd, TestDaemon};
use images_support::{skopeo, Registry};

const DOCKER_20: &str = "/usr/bin/docker";

fn distribution_and_search(d: &TestDaemon, reg: &Registry, repo: &str) {
    d.import_busybox();
    let image = format!("{}/{repo}:v1", reg.host());
    d.berth_ok(&["tag", "busybox", &image]);
    d.berth_ok(&["push", &image]);
    let inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &format!("docker://{image}")])).expect("skopeo json");

    let r = get(d, &format!("/v1.41/distribution/{image}/json"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["Descriptor"]["digest"], inspect["Digest"], "{v}");
    assert_eq!(v["Descriptor"]["mediaType"], "application/vnd.docker.distribution.manifest.v2+json", "{v}");
    assert!(v["Descriptor"]["size"].as_u64().is_some_and(|s| s > 0), "{v}");
    assert_eq!(v["Platforms"], serde_json::json!([{ "architecture": inspect["Architecture"], "os": "linux" }]), "{v}");
    // Nothing was pulled: the daemon knows only the local image under that name.
    // (`images -q` prints an id per name, as docker does: count distinct ids.)
    let ids: std::collections::BTreeSet<String> = d.berth_ok(&["images", "-q"]).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");

    let missing = get(d, &format!("/v1.41/distribution/{}/{repo}-nothing:v1/json", reg.host()));
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert!(missing.message().contains(&format!("{repo}-nothing")), "{}", missing.text());

    let search = get(d, "/v1.41/images/search?term=busybox");
    assert_eq!(search.status, 501, "{}", search.text());
    assert!(search.message().contains("no registry search index"), "{}", search.text());
    let cli = docker_bin_cmd(DOCKER_20, d).args(["search", "busybox"]).output().expect("docker search");
    assert!(!cli.status.success() && String::from_utf8_lossy(&cli.stderr).contains("no registry search index"), "{cli:?}");
}

#[test]
fn distribution_inspect_reads_the_registry_and_search_is_refused_with_its_reason_in_both_modes() {
    let reg = Registry::start();
    distribution_and_search(&TestDaemon::modular_host_net("dist"), &reg, "dist-mod");
    distribution_and_search(&TestDaemon::monolithic_host_net("dist"), &reg, "dist-mono");
}
