//! commit, export/import, the dangling filter, image prune and system df (issue 5), through
//! the berth CLI (and the Engine API where numbers are checked) against a test daemon. The
//! commit and export tests run on both storage drivers: the same functions, once with
//! overlay2 and once with vfs.

mod common;
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::*;
use serde_json::Value;

fn daemon(tag: &str, driver: &str) -> TestDaemon {
    TestDaemon::modular_with(&format!("{tag}-{driver}"), &["--storage-driver", driver])
}

/// Loads `base:v1`: busybox plus a layer with a file, a directory tree and a directory
/// with a file, for containers to delete.
fn load_base(d: &TestDaemon, tmp: &TempDir) {
    let doomed = layer(&[
        E::Dir("olddir"),
        E::Dir("olddir/sub"),
        E::File("olddir/sub/x", b"x\n"),
        E::File("etc/gone.conf", b"gone\n"),
        E::Dir("reborn"),
        E::File("reborn/old", b"old\n"),
    ]);
    let archive = write_file(tmp.path(), "base.tar", &docker_archive("base:v1", &[busybox_layer(), doomed]));
    d.berth_ok(&["load", "-i", &archive]);
}

/// `berth image inspect NAME`'s one object.
fn inspect(d: &TestDaemon, name: &str) -> Value {
    let v: Value = serde_json::from_str(&d.berth_ok(&["image", "inspect", name])).expect("inspect JSON");
    v.get(0).cloned().unwrap_or(Value::Null)
}

fn assert_image_id(out: &str) -> String {
    let id = out.trim();
    let hex = id.strip_prefix("sha256:").unwrap_or_else(|| panic!("an image id is printed: {out:?}"));
    assert!(hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()), "{out:?}");
    id.to_owned()
}

fn commit_records_new_files_with_owner_mode_and_links_and_deleted_files_and_dirs_stay_deleted(driver: &str) {
    let d = daemon("commit", driver);
    let tmp = TempDir::new("commit");
    load_base(&d, &tmp);
    let script = "echo new > /added && chown 1234:5678 /added && chmod 640 /added && ln /added /hardlink \
                  && mkdir -p /newdir/deep && echo deep > /newdir/deep/f \
                  && rm /etc/gone.conf && rm -r /olddir && rm -r /reborn && mkdir /reborn && echo fresh > /reborn/new";
    d.berth_ok(&["run", "--name", "c1", "base:v1", "sh", "-c", script]);
    let out = d.berth_ok(&[
        "commit",
        "-c",
        r#"CMD ["cat", "/added"]"#,
        "--change",
        "ENV COMMITTED=yes",
        "-m",
        "first commit",
        "-a",
        "berth test",
        "c1",
        "committed:v1",
    ]);
    let id = assert_image_id(&out);

    assert_eq!(d.berth_ok(&["run", "--rm", "committed:v1"]), "new\n", "the CMD change is the new default command");
    let check = "test ! -e /etc/gone.conf && test ! -e /olddir && echo gone; ls /reborn; cat /newdir/deep/f; \
                 echo $COMMITTED; stat -c '%a %u %g %h' /added; test /added -ef /hardlink && echo linked";
    assert_eq!(
        d.berth_ok(&["run", "--rm", "committed:v1", "sh", "-c", check]),
        "gone\nnew\ndeep\nyes\n640 1234 5678 2\nlinked\n",
        "deleted file and dirs stay deleted, a dir made again holds only its new files, owner/mode/links kept"
    );

    let img = inspect(&d, "committed:v1");
    assert_eq!(img["Id"], id);
    assert_eq!(img["Comment"], "first commit");
    assert_eq!(img["Author"], "berth test");
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["cat", "/added"]));
    let env: Vec<&str> = img["Config"]["Env"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    assert!(env.contains(&"COMMITTED=yes") && env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert_eq!(img["RootFS"]["Layers"].as_array().map(Vec::len), Some(3), "one layer more than its image");
    let history = d.berth_ok(&["history", "committed:v1"]);
    assert!(history.lines().nth(1).is_some_and(|l| l.contains("first commit")), "{history}");
}

fn commit_of_a_running_container_captures_what_it_wrote_so_far(driver: &str) {
    let d = daemon("livecommit", driver);
    d.import_busybox();
    d.berth_ok(&["run", "-d", "--name", "live", "busybox", "sh", "-c", "echo live > /live; echo ready; sleep 600"]);
    assert!(common::wait_until(20, || d.berth_ok(&["logs", "live"]).contains("ready")), "the container wrote its file");
    assert_image_id(&d.berth_ok(&["commit", "live", "snap"]));
    assert_eq!(d.berth_ok(&["run", "--rm", "snap", "cat", "/live"]), "live\n");
    let cmd = inspect(&d, "snap")["Config"]["Cmd"].clone();
    assert_eq!(cmd, serde_json::json!(["sh", "-c", "echo live > /live; echo ready; sleep 600"]), "the container's command is the image's");
    d.berth_ok(&["rm", "-f", "live"]);
}

fn an_exported_container_imports_as_a_one_layer_image_that_runs(driver: &str) {
    let d = daemon("export", driver);
    let tmp = TempDir::new("export");
    load_base(&d, &tmp);
    d.berth_ok(&["run", "--name", "ex", "base:v1", "sh", "-c", "echo exported > /e && rm -r /olddir"]);
    let tar = tmp.path().join("ex.tar");
    d.berth_ok(&["export", "-o", &tar.to_string_lossy(), "ex"]);
    let names = tar_names(&tar);
    assert!(names.iter().any(|n| n == "e") && names.iter().any(|n| n == "bin/busybox") && names.iter().any(|n| n == "reborn/old"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("olddir") || n.contains(".wh.")), "the export is the merged filesystem: {names:?}");

    let out = d.berth_ok(&["import", "-c", r#"CMD ["cat", "/e"]"#, "-m", "from export", &tar.to_string_lossy(), "imported:v1"]);
    assert_image_id(&out);
    assert_eq!(d.berth_ok(&["run", "--rm", "imported:v1"]), "exported\n");
    assert_eq!(d.berth_ok(&["run", "--rm", "imported:v1", "sh", "-c", "test -e /olddir || echo no-olddir"]), "no-olddir\n");
    let img = inspect(&d, "imported:v1");
    assert_eq!(img["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(img["Comment"], "from export");
}

/// Each function above, once per storage driver.
macro_rules! on_both_drivers {
    ($($name:ident),* $(,)?) => {
        mod overlay2 {
            $( #[test] fn $name() { super::$name("overlay2") } )*
        }
        mod vfs {
            $( #[test] fn $name() { super::$name("vfs") } )*
        }
    };
}

on_both_drivers!(
    commit_records_new_files_with_owner_mode_and_links_and_deleted_files_and_dirs_stay_deleted,
    commit_of_a_running_container_captures_what_it_wrote_so_far,
    an_exported_container_imports_as_a_one_layer_image_that_runs,
);

#[test]
fn a_bad_change_is_refused_before_anything_is_stored() {
    let d = TestDaemon::modular("badchange");
    d.import_busybox();
    d.berth_ok(&["run", "--name", "c", "busybox", "true"]);
    let layers_before = std::fs::read_dir(d.root().join("image/layers")).map(|r| r.count()).unwrap_or(0);
    let out = d.berth(&["commit", "-c", "RUN rm -rf /", "c", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RUN is not a valid change command"), "{err}");
    let layers_after = std::fs::read_dir(d.root().join("image/layers")).map(|r| r.count()).unwrap_or(0);
    assert_eq!(layers_before, layers_after, "no layer was made");
    let out = d.berth(&["commit", "no-such-container"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: no-such-container"));
}

#[test]
fn dangling_images_are_filtered_and_pruned_but_not_one_a_container_uses_and_prune_all_spares_used_images() {
    let d = TestDaemon::modular("prune");
    d.import_busybox();
    let busybox = d.berth_ok(&["images", "-q", "busybox"]);
    d.berth_ok(&["run", "--name", "w", "busybox", "sh", "-c", "echo 1 > /v"]);
    let first = assert_image_id(&d.berth_ok(&["commit", "w", "work:v1"]));
    d.berth_ok(&["run", "--name", "user", &first, "true"]);
    let second = assert_image_id(&d.berth_ok(&["commit", "w", "work:v1"]));
    let third = assert_image_id(&d.berth_ok(&["commit", "w", "work:v1"]));
    let short = |id: &str| format!("{}\n", &id[7..19]);
    // `first` and `second` lost their name to `third`: both dangle; a container uses `first`.
    let mut dangling: Vec<String> = d.berth_ok(&["images", "-q", "--filter", "dangling=true"]).lines().map(str::to_owned).collect();
    dangling.sort();
    let mut want = vec![short(&first).trim().to_owned(), short(&second).trim().to_owned()];
    want.sort();
    assert_eq!(dangling, want);
    let named = d.berth_ok(&["images", "-q", "-f", "dangling=false"]);
    assert!(named.contains(&short(&third)) && named.contains(&busybox) && !named.contains(&short(&second)), "{named}");
    assert_eq!(d.berth(&["images", "-f", "color=red"]).status.code(), Some(1), "an unknown filter is refused");

    let out = d.berth_ok(&["image", "prune", "-f"]);
    assert!(out.starts_with(&format!("Deleted Images:\ndeleted: {second}\n\nTotal reclaimed space: ")), "{out}");
    assert_eq!(d.berth_ok(&["images", "-q", "--filter", "dangling=true"]), short(&first), "the used dangling image stays");
    assert_eq!(d.berth_ok(&["image", "prune", "-f"]), "Total reclaimed space: 0B\n");

    let out = d.berth_ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains(&format!("untagged: work:v1\ndeleted: {third}\n")), "{out}");
    let left = d.berth_ok(&["images", "-q"]);
    assert!(left.contains(&short(&first)) && left.contains(&busybox), "images containers use are spared: {left}");
    assert_eq!(left.lines().count(), 2, "{left}");
    assert_eq!(d.berth_ok(&["run", "--rm", "busybox", "echo", "ok"]), "ok\n");
}

#[test]
fn two_images_sharing_a_base_layer_store_it_once_and_removing_one_keeps_the_other_runnable() {
    let d = TestDaemon::modular("shared");
    let tmp = TempDir::new("shared");
    let big = vec![b'a'; 300_000];
    for (name, file) in [("img-a", "a"), ("img-b", "b")] {
        let top = layer(&[E::File(file, &big)]);
        let archive = write_file(tmp.path(), &format!("{name}.tar"), &docker_archive(name, &[busybox_layer(), top]));
        d.berth_ok(&["load", "-i", &archive]);
    }
    let layers = d.root().join("image/layers");
    assert_eq!(std::fs::read_dir(&layers).map(|r| r.count()).unwrap_or(0), 3, "busybox's layer is extracted once");
    let on_disk: u64 = files_below(&layers).iter().filter_map(|p| std::fs::symlink_metadata(p).ok()).map(|m| m.len()).sum();

    let df = api_get(&d, "/system/df");
    let size = |name: &str| -> (i64, i64) {
        let img =
            df["Images"].as_array().and_then(|a| a.iter().find(|i| i["RepoTags"][0] == format!("{name}:latest")).cloned()).unwrap_or(Value::Null);
        (img["Size"].as_i64().unwrap_or(-1), img["SharedSize"].as_i64().unwrap_or(-1))
    };
    let ((size_a, shared_a), (size_b, shared_b)) = (size("img-a"), size("img-b"));
    let layers_size = df["LayersSize"].as_i64().unwrap_or(-1);
    let busybox_size = std::fs::metadata(common::busybox()).map(|m| m.len() as i64).unwrap_or(0);
    assert!(shared_a >= busybox_size && shared_a == shared_b, "the busybox layer is shared: {df}");
    assert!(layers_size < size_a + size_b, "LayersSize counts the shared layer once: {df}");
    assert_eq!(layers_size, size_a + size_b - shared_a, "{df}");
    assert_eq!(layers_size as u64, on_disk, "LayersSize is what the layer dirs hold");
    assert!(on_disk < (size_a + size_b) as u64);
    let table = d.berth_ok(&["system", "df"]);
    let images_row: Vec<&str> = table.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(&images_row[..3], ["Images", "2", "0"], "{table}");
    let verbose = d.berth_ok(&["system", "df", "-v"]);
    assert!(verbose.contains("SHARED SIZE") && verbose.contains("img-a") && verbose.contains("img-b"), "{verbose}");

    d.berth_ok(&["rmi", "img-a"]);
    assert_eq!(std::fs::read_dir(&layers).map(|r| r.count()).unwrap_or(0), 2, "only img-a's own layer went");
    assert_eq!(d.berth_ok(&["run", "--rm", "img-b", "sh", "-c", "wc -c < /b"]).trim(), "300000");
    let df = api_get(&d, "/system/df");
    assert_eq!(df["Images"][0]["SharedSize"].as_i64(), Some(0), "nothing is shared any more: {df}");
}

#[test]
fn system_df_reports_what_each_container_changed() {
    let d = TestDaemon::modular("dfcont");
    d.import_busybox();
    d.berth_ok(&["run", "--name", "writer", "busybox", "sh", "-c", "head -c 50000 /dev/zero > /blob"]);
    let df = api_get(&d, "/system/df");
    let c = &df["Containers"][0];
    assert_eq!(c["Names"][0], "/writer");
    assert_eq!(c["SizeRw"].as_i64(), Some(50000), "{df}");
    assert_eq!(df["Images"][0]["Containers"].as_i64(), Some(1));
    let table = d.berth_ok(&["system", "df"]);
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Containers", "1", "0", "50kB", "50kB", "(100%)"]), "{table}");
}
