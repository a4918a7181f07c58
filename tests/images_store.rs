//! The image store and storage drivers (issue 5): hostile layers are refused, blobs are
//! verified, images in use are protected, save/load round-trips, and overlay2 (many layers)
//! and vfs both run multi-layer images.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Loads a one-layer archive made of `entries` and expects refusal naming the entry.
fn refused(d: &TestDaemon, tmp: &TempDir, what: &str, entries: &[E]) -> String {
    let archive = write_file(tmp.path(), &format!("{what}.tar"), &docker_archive(&format!("evil-{what}"), &[layer(entries)]));
    let out = d.berth(&["load", "-i", &archive]);
    assert!(!out.status.success(), "{what}: a hostile layer must be refused");
    let err = stderr_of(&out);
    assert!(err.contains("refusing layer entry"), "{what}: clear error expected, got: {err}");
    err
}

#[test]
fn hostile_layer_tars_are_refused_with_a_clear_error_and_write_nothing_outside_the_layer() {
    let d = TestDaemon::modular("evil");
    let tmp = TempDir::new("evil");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    let target = outside.join("evil");
    let target_s = target.to_string_lossy().into_owned();
    let dotdots = format!("{}{}", "../".repeat(12), target_s.trim_start_matches('/'));

    let e = refused(&d, &tmp, "dotdot", &[E::File(&dotdots, b"pwned")]);
    assert!(e.contains("'..'"), "{e}");
    let e = refused(&d, &tmp, "absolute", &[E::File(&target_s, b"pwned")]);
    assert!(e.contains("absolute"), "{e}");
    let outside_s = outside.to_string_lossy().into_owned();
    let e = refused(&d, &tmp, "symlink", &[E::Symlink("escape", &outside_s), E::File("escape/evil", b"pwned")]);
    assert!(e.contains("symlink"), "{e}");
    refused(&d, &tmp, "hardlink-abs", &[E::HardLink("passwd", "/etc/passwd")]);
    refused(&d, &tmp, "hardlink-dotdot", &[E::HardLink("passwd", "../../../../../../../../etc/passwd")]);
    // A hard link through a symlink that points out is an escape too.
    refused(&d, &tmp, "hardlink-via-symlink", &[E::Symlink("etc", "/etc"), E::HardLink("passwd", "etc/passwd")]);

    assert!(!target.exists(), "nothing was written outside the layer");
    assert!(files_below(&outside).is_empty());
    assert!(files_below(&d.root().join("image/layers")).is_empty(), "no partial layer is kept");
    assert!(files_below(&d.root().join("image/tmp")).is_empty(), "no staging dir is left");
    assert_eq!(d.berth_ok(&["images", "-q"]), "");
}

#[test]
fn an_oci_layout_blob_that_does_not_match_its_digest_is_rejected_and_not_stored() {
    let d = TestDaemon::modular("badblob");
    let tmp = TempDir::new("badblob");
    let l = layer(&[E::File("f", b"content\n")]);
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &[(gzip(&l), l.clone(), "application/vnd.oci.image.layer.v1.tar+gzip")], Some(0));
    let archive = write_file(tmp.path(), "oci.tar", &tar_dir(&layout));
    let out = d.berth(&["load", "-i", &archive]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("digest mismatch"), "{}", stderr_of(&out));
    let stored: Vec<String> =
        files_below(&d.root().join("image/blobs")).iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    assert!(!stored.contains(&sha256(&gzip(&l)).trim_start_matches("sha256:").to_owned()), "bad blob not stored: {stored:?}");
    assert_eq!(d.berth_ok(&["images", "-q"]), "");
}

#[test]
fn an_oci_layout_archive_loads_and_runs() {
    let d = TestDaemon::modular("ociload");
    let tmp = TempDir::new("ociload");
    let bb = busybox_layer();
    let l = layer(&[E::File("oci", b"layout\n")]);
    let layout = tmp.path().join("layout");
    oci_layout(
        &layout,
        &[
            (gzip(&bb), bb.clone(), "application/vnd.oci.image.layer.v1.tar+gzip"),
            (zstd(&l), l.clone(), "application/vnd.oci.image.layer.v1.tar+zstd"),
        ],
        None,
    );
    let archive = write_file(tmp.path(), "oci.tar", &tar_dir(&layout));
    let out = d.berth_ok(&["load", "-i", &archive]);
    let id = out.trim().strip_prefix("Loaded image ID: ").unwrap_or_else(|| panic!("an unnamed image is loaded by id: {out}")).to_owned();
    assert_eq!(d.berth_ok(&["run", "--rm", &id, "cat", "/oci"]), "layout\n");
}

/// Runs umoci with `args`, failing the test on error.
fn umoci(args: &[&str]) {
    let bin = need("umoci", "umoci");
    let out = std::process::Command::new(bin).args(args).output().expect("run umoci");
    assert!(out.status.success(), "umoci {args:?} failed: {}", stderr_of(&out));
}

#[test]
fn an_oci_layout_made_by_umoci_with_two_layers_and_a_whiteout_loads_and_runs() {
    let tmp = TempDir::new("umoci");
    let layout = tmp.path().join("layout");
    let image = format!("{}:app", layout.display());
    let bundle = tmp.path().join("bundle");
    let b = bundle.to_string_lossy().into_owned();
    umoci(&["init", "--layout", &layout.to_string_lossy()]);
    umoci(&["new", "--image", &image]);
    // Layer 1: a busybox system plus a file the next layer deletes.
    umoci(&["unpack", "--image", &image, &b]);
    common::make_busybox_rootfs(&bundle.join("rootfs"));
    std::fs::write(bundle.join("rootfs/etc/motd"), "doomed\n").expect("motd");
    umoci(&["repack", "--image", &image, &b]);
    std::fs::remove_dir_all(&bundle).expect("rm bundle");
    // Layer 2: /hello added, /etc/motd deleted (umoci writes a .wh. whiteout for it).
    umoci(&["unpack", "--image", &image, &b]);
    std::fs::write(bundle.join("rootfs/hello"), "made by umoci\n").expect("hello");
    std::fs::remove_file(bundle.join("rootfs/etc/motd")).expect("rm motd");
    umoci(&["repack", "--image", &image, &b]);
    umoci(&["config", "--image", &image, "--config.cmd", "cat", "--config.cmd", "/hello", "--config.env", "PATH=/bin"]);

    let d = TestDaemon::modular("umoci");
    let archive = write_file(tmp.path(), "umoci.tar", &tar_dir(&layout));
    let out = d.berth_ok(&["load", "-i", &archive]);
    // umoci names the image only by its tag ("app"), which names no repository.
    let id = out.trim().strip_prefix("Loaded image ID: ").unwrap_or_else(|| panic!("loaded by id: {out}")).to_owned();
    d.berth_ok(&["tag", &id, "fromumoci:v1"]);
    assert_eq!(d.berth_ok(&["run", "--rm", "fromumoci:v1"]), "made by umoci\n", "the config's Cmd runs");
    assert_eq!(d.berth_ok(&["run", "--rm", "fromumoci:v1", "sh", "-c", "test -e /etc/motd && echo present || echo absent"]), "absent\n");
    let inspect: serde_json::Value = serde_json::from_str(&d.berth_ok(&["image", "inspect", "fromumoci:v1"])).expect("inspect json");
    assert_eq!(inspect[0]["RootFS"]["Layers"].as_array().map(|l| l.len()), Some(2));
}

#[test]
fn rmi_refuses_an_image_a_container_uses_untags_extra_names_and_deletes_the_last() {
    let d = TestDaemon::modular("rmi");
    d.import_busybox();
    d.berth_ok(&["tag", "busybox", "other:v2"]);
    assert_eq!(d.berth_ok(&["rmi", "other:v2"]), "Untagged: other:v2\n", "an extra name is only untagged");

    d.berth_ok(&["run", "--name", "user", "busybox", "true"]);
    let out = d.berth(&["rmi", "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("conflict") && stderr_of(&out).contains("is using its referenced image"), "{}", stderr_of(&out));
    assert!(d.berth_ok(&["images"]).contains("busybox"), "still there after a refused rmi");

    d.berth_ok(&["rm", "user"]);
    let out = d.berth_ok(&["rmi", "busybox"]);
    assert!(out.starts_with("Untagged: busybox:latest\nDeleted: sha256:"), "{out}");
    assert!(files_below(&d.root().join("image/layers")).is_empty(), "the unused layer is gone");
    assert_eq!(d.berth_ok(&["images", "-q"]), "");
}

#[test]
fn save_then_load_on_another_daemon_gives_the_same_image_id_and_content() {
    let d1 = TestDaemon::modular("save");
    let tmp = TempDir::new("save");
    let l2 = layer(&[E::File("etc/.wh.passwd", b""), E::File("hello", b"saved\n")]);
    let archive = write_file(tmp.path(), "in.tar", &docker_archive("two:layers", &[busybox_layer(), l2]));
    d1.berth_ok(&["load", "-i", &archive]);
    let id = d1.berth_ok(&["images", "-q"]);
    let out = tmp.path().join("out.tar");
    d1.berth_ok(&["save", "-o", &out.to_string_lossy(), "two:layers"]);

    let d2 = TestDaemon::modular("load");
    assert_eq!(d2.berth_ok(&["load", "-i", &out.to_string_lossy()]), "Loaded image: two:layers\n");
    assert_eq!(d2.berth_ok(&["images", "-q"]), id);
    assert_eq!(d2.berth_ok(&["run", "--rm", "two:layers", "cat", "/hello"]), "saved\n");
    assert_eq!(d2.berth_ok(&["run", "--rm", "two:layers", "sh", "-c", "test -e /etc/passwd || echo gone"]), "gone\n");
}

#[test]
fn overlay2_mounts_an_image_with_more_layers_than_a_page_of_lowerdirs_holds() {
    let d = TestDaemon::modular("deep");
    let tmp = TempDir::new("deep");
    let mut layers = vec![busybox_layer()];
    for i in 0..45 {
        let name = format!("l{i}");
        layers.push(layer(&[E::File(&name, format!("{i}\n").as_bytes())]));
    }
    let archive = write_file(tmp.path(), "deep.tar", &docker_archive("deep", &layers));
    d.berth_ok(&["load", "-i", &archive]);
    assert_eq!(d.berth_ok(&["run", "--rm", "deep", "cat", "/l0", "/l44"]), "0\n44\n");
    assert!(d.root().join("overlay2/l").is_dir(), "short layer links were used");
}

#[test]
fn vfs_driver_runs_a_multi_layer_image_from_a_full_copy_and_info_reports_it() {
    let d = TestDaemon::with_args("vfs", true, &["--storage-driver", "vfs"]);
    assert!(d.berth_ok(&["info"]).contains("Storage Driver: vfs"));
    let tmp = TempDir::new("vfsarch");
    let l2 = layer(&[E::File("bin/.wh.cat", b""), E::File("etc/hello", b"vfs\n")]);
    let archive = write_file(tmp.path(), "v.tar", &docker_archive("vfsimg", &[busybox_layer(), l2]));
    d.berth_ok(&["load", "-i", &archive]);
    assert_eq!(d.berth_ok(&["run", "--rm", "vfsimg", "sh", "-c", "read l < /etc/hello; echo $l; test -e /bin/cat || echo nocat"]), "vfs\nnocat\n");
    assert!(d.mounts().iter().all(|m| !m.contains("/vfs/")), "vfs mounts nothing");
}

/// `rmi` of an image racing the `load` of another that shares its base layer never takes
/// the layer from under the load (the load finds the layer extracted and references it only
/// once its config is stored): in whatever order the two end, the loaded image runs.
fn rmi_racing_a_load_that_reuses_its_layer_leaves_the_loaded_image_whole(monolithic: bool) {
    let d = if monolithic { TestDaemon::monolithic("rmiracem") } else { TestDaemon::modular("rmirace") };
    let tmp = TempDir::new("rmirace");
    let base = busybox_layer();
    let a = write_file(tmp.path(), "a.tar", &docker_archive("a:v1", std::slice::from_ref(&base)));
    for round in 0..5 {
        d.berth_ok(&["load", "-i", &a]);
        // An own layer of many small files: quick to send, slow to extract, so the load is
        // busy after it found the base layer (and before it stores its config).
        let names: Vec<String> = (0..5000).map(|i| format!("many/f{i}")).collect();
        let round_text = format!("{round}\n");
        let mut entries = vec![E::Dir("many"), E::File("round", round_text.as_bytes())];
        entries.extend(names.iter().map(|n| E::File(n, b"x")));
        let own = layer(&entries);
        let b = write_file(tmp.path(), "b.tar", &docker_archive(&format!("b:{round}"), &[base.clone(), own]));
        let (host, b2) = (d.host(), b.clone());
        let load = std::thread::spawn(move || {
            std::process::Command::new(common::berth_bin()).args(["-H", &host, "load", "-i", &b2]).output().expect("berth load")
        });
        // The rmi goes in once the load is extracting its own layer (a staging dir holds
        // `many`): it has passed the base layer by then.
        let tmp_dir = d.root().join("image/tmp");
        let extracting = || std::fs::read_dir(&tmp_dir).into_iter().flatten().flatten().any(|e| e.path().join("many").is_dir());
        assert!(common::wait_until(60, extracting), "round {round}: the load never extracted its own layer");
        let rmi = d.berth(&["rmi", "a:v1"]);
        let load = load.join().expect("load thread");
        assert!(rmi.status.success(), "round {round}: rmi: {}", stderr_of(&rmi));
        assert!(load.status.success(), "round {round}: load: {}", stderr_of(&load));
        assert_eq!(d.berth_ok(&["run", "--rm", &format!("b:{round}"), "cat", "/round"]), format!("{round}\n"), "round {round}");
        d.berth_ok(&["rmi", &format!("b:{round}")]);
    }
    assert!(files_below(&d.root().join("image/layers")).is_empty(), "every layer is gone with its last image");
}

#[test]
fn rmi_racing_a_load_that_reuses_its_layer_leaves_the_loaded_image_whole_modular() {
    rmi_racing_a_load_that_reuses_its_layer_leaves_the_loaded_image_whole(false)
}

#[test]
fn rmi_racing_a_load_that_reuses_its_layer_leaves_the_loaded_image_whole_monolithic() {
    rmi_racing_a_load_that_reuses_its_layer_leaves_the_loaded_image_whole(true)
}
