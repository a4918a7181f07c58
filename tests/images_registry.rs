//! Registry pull and push (issue 5): berth against a real docker-registry on loopback, with
//! skopeo as the independent peer that reads what berth pushed and pushes what berth pulls.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Three layers: busybox; `/file` and `/data/x`; then `/etc/group` deleted by a whiteout
/// and `/data` made opaque (only `/data/y` survives).
fn three_layer_archive(name: &str) -> Vec<u8> {
    let l2 = layer(&[E::File("file", b"two\n"), E::Dir("data"), E::File("data/x", b"x\n")]);
    let l3 = layer(&[E::File("etc/.wh.group", b""), E::Dir("data"), E::File("data/.wh..wh..opq", b""), E::File("data/y", b"y\n")]);
    docker_archive(name, &[busybox_layer(), l2, l3])
}

#[test]
fn multi_layer_image_pushed_to_a_registry_is_pulled_on_a_fresh_daemon_and_runs_with_whiteouts_applied() {
    let reg = Registry::start();
    let image = format!("{}/multi:v1", reg.host());
    let tmp = TempDir::new("mlarch");
    let archive = write_file(tmp.path(), "multi.tar", &three_layer_archive(&image));

    let d1 = TestDaemon::modular_host_net("push");
    assert!(d1.berth_ok(&["load", "-i", &archive]).contains(&format!("Loaded image: {image}")));
    let pushed = d1.berth_ok(&["push", &image]);
    let digest = pushed
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("push printed no digest:\n{pushed}"))
        .to_owned();

    // The registry, read by skopeo, holds exactly that manifest, with three layers.
    let inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &format!("docker://{image}")])).expect("skopeo json");
    assert_eq!(inspect["Digest"].as_str(), Some(digest.as_str()));
    assert_eq!(inspect["Layers"].as_array().map(|l| l.len()), Some(3));

    // Pushing again uploads nothing.
    let again = d1.berth_ok(&["push", &image]);
    assert_eq!(again.matches("Layer already exists").count(), 3, "{again}");

    let d2 = TestDaemon::modular_host_net("pull");
    let pulled = d2.berth_ok(&["pull", &image]);
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert!(pulled.contains(&format!("Status: Downloaded newer image for {image}")), "{pulled}");
    assert_eq!(d2.berth_ok(&["run", "--rm", &image, "cat", "/file"]), "two\n");
    assert_eq!(d2.berth_ok(&["run", "--rm", &image, "sh", "-c", "test -e /etc/group && echo present || echo absent"]), "absent\n");
    assert_eq!(d2.berth_ok(&["run", "--rm", &image, "ls", "/data"]), "y\n");

    let inspect: serde_json::Value = serde_json::from_str(&d2.berth_ok(&["image", "inspect", &image])).expect("inspect json");
    assert_eq!(inspect[0]["RepoDigests"][0].as_str(), Some(format!("{}/multi@{digest}", reg.host()).as_str()));
    assert_eq!(inspect[0]["RootFS"]["Layers"].as_array().map(|l| l.len()), Some(3));
    let history = d2.berth_ok(&["history", &image]);
    assert!(history.contains("layer 2") && history.contains("layer 0"), "{history}");

    // A second pull finds everything there.
    let again = d2.berth_ok(&["pull", &image]);
    assert!(again.contains(&format!("Status: Image is up to date for {image}")), "{again}");
}

#[test]
fn image_pushed_by_skopeo_from_an_oci_layout_with_gzip_and_zstd_layers_is_pulled_and_run_by_berth() {
    let reg = Registry::start();
    let tmp = TempDir::new("skoci");
    let bb = busybox_layer();
    let extra = layer(&[E::Dir("opt"), E::File("opt/zstd", b"from a zstd layer\n")]);
    let layout = tmp.path().join("layout");
    oci_layout(
        &layout,
        &[
            (gzip(&bb), bb.clone(), "application/vnd.oci.image.layer.v1.tar+gzip"),
            (zstd(&extra), extra.clone(), "application/vnd.oci.image.layer.v1.tar+zstd"),
        ],
        None,
    );
    let image = format!("{}/fromskopeo:latest", reg.host());
    skopeo(&["copy", "--dest-tls-verify=false", &format!("oci:{}:latest", layout.display()), &format!("docker://{image}")]);

    let d = TestDaemon::modular_host_net("skpull");
    d.berth_ok(&["pull", &image]);
    assert_eq!(d.berth_ok(&["run", "--rm", &image, "cat", "/opt/zstd"]), "from a zstd layer\n");
    let inspect: serde_json::Value = serde_json::from_str(&d.berth_ok(&["image", "inspect", &image])).expect("inspect json");
    assert_eq!(inspect[0]["RootFS"]["Layers"][1].as_str(), Some(sha256(&extra).as_str()), "diff ids are the uncompressed digests");
}

#[test]
fn a_registry_blob_whose_bytes_do_not_match_its_digest_is_rejected_and_nothing_is_stored() {
    let reg = Registry::start();
    let image = format!("{}/corrupt:v1", reg.host());
    let tmp = TempDir::new("corrupt");
    let l2 = layer(&[E::File("file", b"genuine\n")]);
    let archive = write_file(tmp.path(), "c.tar", &docker_archive(&image, &[busybox_layer(), l2]));
    let d1 = TestDaemon::modular_host_net("cpush");
    d1.berth_ok(&["load", "-i", &archive]);
    d1.berth_ok(&["push", &image]);

    // Flip bytes of the second layer's blob inside the registry's storage (same length).
    let manifest: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{image}")])).expect("raw manifest");
    let blob = manifest["layers"][1]["digest"].as_str().expect("layer digest").to_owned();
    let file = reg.blob_file(&blob);
    let mut bytes = std::fs::read(&file).expect("registry blob");
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    bytes[n - 1] ^= 0xff;
    std::fs::write(&file, bytes).expect("tamper registry blob");

    let d2 = TestDaemon::modular_host_net("cpull");
    let out = d2.berth(&["pull", &image]);
    assert!(!out.status.success(), "a corrupted pull must fail");
    assert!(stderr_of(&out).to_lowercase().contains("digest"), "the error names the digest problem: {}", stderr_of(&out));
    let blobs = d2.root().join("image/blobs/sha256");
    assert!(!blobs.join(blob.trim_start_matches("sha256:")).exists(), "the bad blob was not stored");
    assert!(files_below(&d2.root().join("image/tmp")).is_empty(), "no partial download is left");
    assert!(d2.berth(&["image", "inspect", &image]).status.code() != Some(0), "no image was created");
}

#[test]
fn pushing_an_unchanged_pulled_image_under_a_new_name_keeps_its_manifest_digest_and_mounts_its_layers() {
    let reg = Registry::start();
    let tmp = TempDir::new("keepdg");
    // An OCI manifest written by skopeo, not by berth: re-serialising it would change its bytes.
    let bb = busybox_layer();
    let extra = layer(&[E::Dir("opt"), E::File("opt/kept", b"kept\n")]);
    let layout = tmp.path().join("layout");
    oci_layout(
        &layout,
        &[
            (gzip(&bb), bb.clone(), "application/vnd.oci.image.layer.v1.tar+gzip"),
            (gzip(&extra), extra.clone(), "application/vnd.oci.image.layer.v1.tar+gzip"),
        ],
        None,
    );
    let original = format!("{}/orig/app:v1", reg.host());
    skopeo(&["copy", "--dest-tls-verify=false", &format!("oci:{}:latest", layout.display()), &format!("docker://{original}")]);
    let digest_of = |image: &str| -> String {
        let v: serde_json::Value =
            serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &format!("docker://{image}")])).expect("skopeo json");
        v["Digest"].as_str().expect("Digest").to_owned()
    };
    let want = digest_of(&original);

    let d = TestDaemon::modular_host_net("keepdg");
    d.berth_ok(&["pull", &original]);
    let renamed = format!("{}/other/copy:v2", reg.host());
    d.berth_ok(&["tag", &original, &renamed]);
    let pushed = d.berth_ok(&["push", &renamed]);
    assert!(pushed.contains(&format!("v2: digest: {want} ")), "berth reports the original digest:\n{pushed}");
    assert_eq!(digest_of(&renamed), want, "the registry holds the same manifest under the new name");
    // Same registry: the layers are mounted from the repository they were pulled from, not uploaded.
    assert_eq!(pushed.matches("Mounted from orig/app").count(), 2, "{pushed}");
    assert!(!pushed.contains("Pushed"), "{pushed}");

    // Another registry: the layers are uploaded, and the manifest still keeps its digest.
    let reg2 = Registry::start();
    let elsewhere = format!("{}/moved:v3", reg2.host());
    d.berth_ok(&["tag", &original, &elsewhere]);
    let pushed = d.berth_ok(&["push", &elsewhere]);
    assert_eq!(pushed.matches("Pushed").count(), 2, "{pushed}");
    assert_eq!(digest_of(&elsewhere), want);
    let d2 = TestDaemon::modular_host_net("keepdg2");
    d2.berth_ok(&["pull", &elsewhere]);
    assert_eq!(d2.berth_ok(&["run", "--rm", &elsewhere, "cat", "/opt/kept"]), "kept\n");
}

#[test]
fn a_pull_cut_off_mid_transfer_fails_clearly_leaves_no_image_or_partial_blob_and_a_retry_succeeds() {
    let reg = Registry::start();
    let tmp = TempDir::new("cutpull");
    // busybox plus three 4 MiB layers of incompressible data.
    let mut layers = vec![busybox_layer()];
    for i in 0..3 {
        let name = format!("r{i}");
        layers.push(layer(&[E::File(&name, &random_bytes(4 << 20))]));
    }
    let direct = format!("{}/big:v1", reg.host());
    let archive = write_file(tmp.path(), "big.tar", &docker_archive(&direct, &layers));
    let d1 = TestDaemon::modular_host_net("cutpush");
    d1.berth_ok(&["load", "-i", &archive]);
    d1.berth_ok(&["push", &direct]);

    // The registry "goes away" after 6 MiB: in the middle of the random layers.
    let proxy = CuttingProxy::start(reg.port, 6 << 20);
    let image = format!("{}/big:v1", proxy.host());
    let d = TestDaemon::modular_host_net("cutpull");
    let out = d.berth(&["pull", &image]);
    assert!(proxy.left() < 0, "the proxy cut the transfer");
    assert!(!out.status.success(), "a cut pull must fail:\n{}", String::from_utf8_lossy(&out.stdout));
    let err = stderr_of(&out);
    eprintln!("the cut pull said: {err}");
    // Layers download in parallel: the cut lands either inside a body ("broke off after") or
    // on a later request for another blob; either way the error names the image and the blob.
    let names_blob = (err.contains("download sha256:") && err.contains("broke off after")) || err.contains("/blobs/sha256:");
    assert!(err.contains(&image) && names_blob, "the error names the image and the blob: {err}");
    assert_eq!(d.berth_ok(&["images", "-q"]), "", "no image is listed");
    assert!(!d.berth(&["image", "inspect", &image]).status.success());
    assert!(files_below(&d.root().join("image/tmp")).is_empty(), "no partial download or staging dir is left");
    for blob in files_below(&d.root().join("image/blobs/sha256")) {
        let name = blob.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        assert_eq!(sha256(&std::fs::read(&blob).expect("read blob")), format!("sha256:{name}"), "every stored blob is whole");
    }

    proxy.heal();
    let again = d.berth_ok(&["pull", &image]);
    assert!(again.contains(&format!("Status: Downloaded newer image for {image}")), "{again}");
    assert_eq!(d.berth_ok(&["run", "--rm", &image, "sh", "-c", "cat /r0 /r1 /r2 | wc -c"]).trim(), (3 * (4 << 20)).to_string());
}
