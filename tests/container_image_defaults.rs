//! What a container inherits from its image (issue 13): the image's labels under its own (and
//! the `label` filter finds them), and the image's healthcheck, which `--health-*` fill or
//! override and `--no-healthcheck` turns off. Both modes, docker CLI 28.x.

mod common;

use common::http::raw;
use common::{docker_bin_ok, wait_until, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";

fn inherit_flow(d: &TestDaemon) {
    d.import_busybox();
    let ok = |args: &[&str]| docker_bin_ok(DOCKER, d, args);
    ok(&["create", "--name", "src", "busybox", "sleep", "1000"]);
    // An image with labels (commit --change) and a healthcheck (the commit's config body).
    let body = r#"{"Labels": {"tier": "image", "team": "image"}, "Healthcheck": {"Test": ["CMD-SHELL", "echo image-probe"], "Interval": 200000000}}"#;
    let r = raw(d, "POST", b"/commit?container=src&repo=withdefaults&tag=1", "Content-Type: application/json\r\n", body.as_bytes());
    assert_eq!(r.status, 201, "commit: {}", r.text());
    let labels = ok(&["image", "inspect", "-f", "{{json .Config.Labels}}", "withdefaults:1"]);
    assert_eq!(labels.trim(), r#"{"team":"image","tier":"image"}"#);

    // Labels: the image's under the container's own.
    let id = ok(&["run", "-d", "--label", "team=mine", "withdefaults:1", "sleep", "1000"]);
    let id = id.trim();
    assert_eq!(ok(&["inspect", "-f", "{{json .Config.Labels}}", id]).trim(), r#"{"team":"mine","tier":"image"}"#);
    assert_eq!(ok(&["ps", "-q", "--no-trunc", "--filter", "label=tier=image"]).trim(), id);
    // Healthcheck: the image's probe runs in the container.
    let health = || ok(&["inspect", "-f", "{{json .State.Health}}", id]);
    assert!(wait_until(20, || health().contains(r#""Status":"healthy""#)), "{}", health());
    assert!(health().contains("image-probe"), "the image's probe ran: {}", health());
    // --health-cmd overrides the test and keeps the image's interval; --no-healthcheck has none.
    let own = ok(&["run", "-d", "--health-cmd", "echo own-probe", "withdefaults:1", "sleep", "1000"]);
    let own = own.trim();
    assert_eq!(
        ok(&["inspect", "-f", "{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}", own]).trim(),
        "[CMD-SHELL echo own-probe] 200ms"
    );
    let none = ok(&["run", "-d", "--no-healthcheck", "withdefaults:1", "sleep", "1000"]);
    let none = none.trim();
    assert_eq!(ok(&["inspect", "-f", "{{json .State.Health}}", none]).trim(), "null");
    ok(&["rm", "-f", id, own, none, "src"]);
}

#[test]
fn containers_inherit_their_images_labels_and_healthcheck_modular() {
    inherit_flow(&TestDaemon::modular("imdm"));
}

#[test]
fn containers_inherit_their_images_labels_and_healthcheck_monolithic() {
    inherit_flow(&TestDaemon::monolithic("imdmo"));
}
