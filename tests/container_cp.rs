//! `docker cp` (issue 14): `GET`/`HEAD`/`PUT /containers/{id}/archive`, docker CLI 28.x and
//! 20.10, both modes, running and stopped containers. Files and directories both ways with
//! owner and mode checked inside the container (`stat`); symlinks in the container that lead
//! to `/` stay inside it (a host canary is never read or changed), also while the container
//! swaps a directory and such a link as fast as it can; archives that climb out are refused;
//! a missing destination gets Docker's answer; the berth client copies too.

mod common;

use common::{docker_bin_cmd, docker_bin_ok, TestDaemon};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// A host directory of the test's own, removed at the end.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let p = std::env::temp_dir().join(format!("berth-cp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("host dir");
        HostDir(p)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn exec(d: &TestDaemon, c: &str, script: &str) -> String {
    docker_bin_ok(DOCKER, d, &["exec", c, "sh", "-c", script]).trim().to_owned()
}

fn fails_saying(bin: &str, d: &TestDaemon, args: &[&str], says: &str) {
    let out = docker_bin_cmd(bin, d).args(args).output().expect("docker");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(says), "{bin} {args:?}: wanted {says:?}: {err}");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A host tree to copy in: a file 1234:5678 0640, a directory 42:43 0750 with a file and a
/// relative symlink.
fn host_tree(h: &Path) {
    let f = h.join("f");
    std::fs::write(&f, "file content\n").expect("write");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::os::unix::fs::chown(&f, Some(1234), Some(5678)).expect("chown");
    let d = h.join("d");
    std::fs::create_dir_all(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("sub/g"), "deep\n").expect("write");
    std::fs::set_permissions(d.join("sub/g"), std::fs::Permissions::from_mode(0o4755)).expect("chmod");
    std::os::unix::fs::symlink("sub/g", d.join("link")).expect("symlink");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    std::os::unix::fs::chown(&d, Some(42), Some(43)).expect("chown");
}

/// Both ways, running container `c`, one CLI.
fn round_trip(bin: &str, d: &TestDaemon, c: &str, h: &Path, tag: &str) {
    let into = format!("{c}:/data/{tag}/");
    exec(d, c, &format!("mkdir -p /data/{tag}"));
    docker_bin_ok(bin, d, &["cp", &h.join("f").to_string_lossy(), &into]);
    docker_bin_ok(bin, d, &["cp", &h.join("d").to_string_lossy(), &into]);
    assert_eq!(exec(d, c, &format!("stat -c '%u:%g %a %s' /data/{tag}/f")), "1234:5678 640 13", "{bin}: owner and mode from the archive");
    assert_eq!(exec(d, c, &format!("cat /data/{tag}/f")), "file content");
    assert_eq!(exec(d, c, &format!("stat -c '%u:%g %a' /data/{tag}/d")), "42:43 750", "{bin}");
    assert_eq!(
        exec(d, c, &format!("stat -c '%a' /data/{tag}/d/sub/g; readlink /data/{tag}/d/link")),
        "4755\nsub/g",
        "{bin}: set-uid kept, link kept"
    );

    // Out again: the directory, its link a link; a file renamed on the way.
    let out = h.join(format!("out-{tag}"));
    std::fs::create_dir_all(&out).expect("mkdir");
    docker_bin_ok(bin, d, &["cp", &format!("{c}:/data/{tag}/d"), &out.join("back").to_string_lossy()]);
    assert_eq!(std::fs::read_link(out.join("back/link")).expect("a link"), Path::new("sub/g"), "{bin}");
    assert_eq!(std::fs::read_to_string(out.join("back/sub/g")).expect("read"), "deep\n");
    assert_eq!(std::fs::metadata(out.join("back")).expect("stat").mode() & 0o7777, 0o750, "{bin}");
    docker_bin_ok(bin, d, &["cp", &format!("{c}:/data/{tag}/f"), &out.join("renamed").to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(out.join("renamed")).expect("read"), "file content\n");
    // A link copied out stays a link (not followed) unless -L.
    docker_bin_ok(bin, d, &["cp", &format!("{c}:/data/{tag}/d/link"), &out.join("l").to_string_lossy()]);
    assert!(std::fs::symlink_metadata(out.join("l")).expect("l").file_type().is_symlink(), "{bin}");
    docker_bin_ok(bin, d, &["cp", "-L", &format!("{c}:/data/{tag}/d/link"), &out.join("lf").to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(out.join("lf")).expect("followed"), "deep\n", "{bin}");
    // Contents of a directory with "/.".
    docker_bin_ok(bin, d, &["cp", &format!("{c}:/data/{tag}/d/."), &out.join("contents").to_string_lossy()]);
    assert_eq!(listing(&out.join("contents")), ["link", "sub"], "{bin}");
    // Names longer than a tar header holds, in a "/." copy.
    let deep = format!("{}/{}", "x".repeat(70), "y".repeat(70));
    exec(d, c, &format!("mkdir -p /data/{tag}/long/{deep} && echo z > /data/{tag}/long/{deep}/f"));
    docker_bin_ok(bin, d, &["cp", &format!("{c}:/data/{tag}/long/."), &out.join("long").to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(out.join("long").join(&deep).join("f")).expect("long name"), "z\n", "{bin}");

    // Missing paths: Docker's 404 message both ways.
    // (20.10's client words the daemon's 404 as its own.)
    let missing =
        if bin == DOCKER { format!("Could not find the file /no/such in container {c}") } else { format!("No such container:path: {c}:/no/such") };
    fails_saying(bin, d, &["cp", &format!("{c}:/no/such"), &out.to_string_lossy()], &missing);
    let missing =
        if bin == DOCKER { format!("Could not find the file /no/such in container {c}") } else { format!("No such container:path: {c}:/no/such") };
    fails_saying(bin, d, &["cp", &h.join("f").to_string_lossy(), &format!("{c}:/no/such/file")], &missing);
    if bin == DOCKER {
        // The client's own answer once the daemon's stat says 404.
        fails_saying(bin, d, &["cp", &h.join("f").to_string_lossy(), &format!("{c}:/no/such/dir/")], "no such directory");
    }
}

/// The container file at `path`, copied out (the container may be stopped).
fn read_in(d: &TestDaemon, c: &str, path: &str, h: &Path) -> String {
    let out = h.join("read-in");
    let _ = std::fs::remove_file(&out);
    docker_bin_ok(DOCKER, d, &["cp", &format!("{c}:{path}"), &out.to_string_lossy()]);
    std::fs::read_to_string(&out).expect("read")
}

/// Links to `/` in the container lead to the container's own root, both ways.
fn evil_links(bin: &str, d: &TestDaemon, c: &str, h: &Path, canary: &Path) {
    let out = h.join("evil-out");
    let _ = std::fs::remove_file(&out);
    docker_bin_ok(bin, d, &["cp", &format!("{c}:/tmp/evil/etc/shadow"), &out.to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "container-shadow\n", "{bin}: the container's file");
    std::fs::remove_file(&out).expect("rm");
    let via = format!("{c}:/tmp/evil{}/canary", canary.display());
    docker_bin_ok(bin, d, &["cp", &via, &out.to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "container\n", "{bin}: the container's canary, never the host's");
    docker_bin_ok(bin, d, &["cp", &h.join("f").to_string_lossy(), &format!("{c}:/tmp/evil{}/", canary.display())]);
    assert_eq!(read_in(d, c, &format!("{}/f", canary.display()), h), "file content\n", "{bin}: written inside");
    docker_bin_ok(bin, d, &["cp", &h.join("f").to_string_lossy(), &format!("{c}:/tmp/evil/root/")]);
    assert_eq!(read_in(d, c, "/root/f", h), "file content\n");
    assert_eq!(listing(canary), ["canary"], "{bin}: nothing written on the host");
    assert_eq!(std::fs::read_to_string(canary.join("canary")).expect("canary"), "host\n");
}

fn cp_flow(d: &TestDaemon, tag: &str) {
    d.import_busybox();
    let h = HostDir::new(tag);
    host_tree(&h.0);
    let canary = h.0.join("canary-dir");
    std::fs::create_dir_all(&canary).expect("mkdir");
    std::fs::write(canary.join("canary"), "host\n").expect("canary");
    let setup = format!(
        "mkdir -p {c} && echo container > {c}/canary && echo container-shadow > /etc/shadow && ln -sfn / /tmp/evil && touch /ready && exec sleep 1000",
        c = canary.display()
    );
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "c", "busybox", "sh", "-c", &setup]);
    assert!(common::wait_until(10, || exec(d, "c", "test -e /ready && echo y") == "y"), "setup");
    for (bin, v) in [(DOCKER, "v28"), (DOCKER_20, "v20")] {
        round_trip(bin, d, "c", &h.0, v);
        evil_links(bin, d, "c", &h.0, &canary);
    }

    // Stopped: both ways, and the rootfs mounted for the copy is unmounted after it.
    docker_bin_ok(DOCKER, d, &["stop", "-t", "0", "c"]);
    let id = docker_bin_ok(DOCKER, d, &["inspect", "-f", "{{.Id}}", "c"]).trim().to_owned();
    let merged = d.root().join("overlay2").join(&id).join("merged");
    let mounted = || std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo").contains(&format!(" {} ", merged.display()));
    assert!(common::wait_until(10, || !mounted()), "unmounted at stop");
    for bin in [DOCKER, DOCKER_20] {
        docker_bin_ok(bin, d, &["cp", &h.0.join("d").to_string_lossy(), "c:/stopped"]);
        let out = h.0.join("stopped-out");
        let _ = std::fs::remove_dir_all(&out);
        docker_bin_ok(bin, d, &["cp", "c:/stopped", &out.to_string_lossy()]);
        assert_eq!(std::fs::read_to_string(out.join("sub/g")).expect("read"), "deep\n", "{bin}");
        evil_links(bin, d, "c", &h.0, &canary);
        let missing = if bin == DOCKER { "Could not find the file /not/there in container c" } else { "No such container:path: c:/not/there" };
        fails_saying(bin, d, &["cp", "c:/not/there", &out.to_string_lossy()], missing);
        assert!(common::wait_until(10, || !mounted()), "{bin}: the copy's mount is released");
    }
    docker_bin_ok(DOCKER, d, &["start", "c"]);
    assert_eq!(exec(d, "c", "stat -c '%u:%g %a' /stopped /stopped/sub/g"), "42:43 750\n0:0 4755", "written while stopped");

    // A created (never started) container too.
    docker_bin_ok(DOCKER, d, &["create", "--name", "fresh", "busybox", "true"]);
    docker_bin_ok(DOCKER, d, &["cp", &h.0.join("f").to_string_lossy(), "fresh:/etc/"]);
    let out = h.0.join("fresh-out");
    docker_bin_ok(DOCKER_20, d, &["cp", "fresh:/etc/f", &out.to_string_lossy()]);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "file content\n");
    // The whole filesystem, from "/".
    for bin in [DOCKER, DOCKER_20] {
        let all = h.0.join(format!("all-{}", bin.len()));
        docker_bin_ok(bin, d, &["cp", "fresh:/", &all.to_string_lossy()]);
        assert_eq!(std::fs::read_to_string(all.join("etc/f")).expect("read"), "file content\n", "{bin}");
        assert!(std::fs::symlink_metadata(all.join("bin/sh")).expect("sh").file_type().is_symlink(), "{bin}");
    }

    // A read-only rootfs refuses writes with Docker's message; reads work.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--read-only", "--name", "ro", "busybox", "sleep", "1000"]);
    for bin in [DOCKER, DOCKER_20] {
        fails_saying(bin, d, &["cp", &h.0.join("f").to_string_lossy(), "ro:/tmp/"], "container rootfs is marked read-only");
    }

    // -a: owned by the container's user.
    docker_bin_ok(DOCKER, d, &["run", "-d", "--user", "1000:1001", "--name", "u", "busybox", "sleep", "1000"]);
    for bin in [DOCKER, DOCKER_20] {
        docker_bin_ok(bin, d, &["cp", "-a", &h.0.join("f").to_string_lossy(), "u:/tmp/"]);
        assert_eq!(exec(d, "u", "stat -c '%u:%g %a' /tmp/f"), "1000:1001 640", "{bin}: -a");
        docker_bin_ok(bin, d, &["cp", &h.0.join("f").to_string_lossy(), "u:/tmp/"]);
        assert_eq!(exec(d, "u", "stat -c '%u:%g' /tmp/f"), "1234:5678", "{bin}: without -a");
    }
    docker_bin_ok(DOCKER, d, &["rm", "-f", "c", "fresh", "ro", "u"]);
    assert_eq!(listing(&canary), ["canary"]);
}

#[test]
fn docker_cp_copies_both_ways_inside_the_container_modular() {
    cp_flow(&TestDaemon::modular("cpm"), "cpm");
}

#[test]
fn docker_cp_copies_both_ways_inside_the_container_monolithic() {
    cp_flow(&TestDaemon::monolithic("cpmo"), "cpmo");
}

/// A container swapping a directory and a link to `/` as fast as it can while copies go
/// both ways through it: every copy reads the container's files or fails, and the host
/// directory the link would reach on the host is never read or written.
fn swap_race(d: &TestDaemon, tag: &str) {
    d.import_busybox();
    let h = HostDir::new(&format!("{tag}-race"));
    let target = h.0.join("target");
    std::fs::create_dir_all(&target).expect("mkdir");
    std::fs::write(target.join("canary"), "host\n").expect("canary");
    std::fs::write(h.0.join("payload"), "payload\n").expect("payload");
    let t = target.display();
    // /sw/real is a directory holding <target>/canary, or a link to /, whose <target>/canary
    // is the container's too: either way the container's.
    let script = format!(
        "mkdir -p {t} /sw/real{t} && echo container-root > {t}/canary && echo container-dir > /sw/real{t}/canary && touch /ready && \
         while :; do mv /sw/real /sw/hold; ln -s / /sw/real; rm /sw/real; mv /sw/hold /sw/real; done"
    );
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "racer", "busybox", "sh", "-c", &script]);
    assert!(common::wait_until(10, || exec(d, "racer", "test -e /ready && echo y") == "y"), "setup");
    let out = h.0.join("out");
    let mut read = 0;
    for i in 0..60 {
        let bin = if i % 4 == 3 { DOCKER_20 } else { DOCKER };
        let _ = std::fs::remove_file(&out);
        let got = docker_bin_cmd(bin, d).args(["cp", &format!("racer:/sw/real{t}/canary"), &out.to_string_lossy()]).output().expect("docker");
        if got.status.success() {
            let s = std::fs::read_to_string(&out).expect("read");
            assert!(s == "container-root\n" || s == "container-dir\n", "iteration {i}: read {s:?}");
            read += 1;
        }
        let _ = docker_bin_cmd(bin, d).args(["cp", &h.0.join("payload").to_string_lossy(), &format!("racer:/sw/real{t}/")]).output().expect("docker");
        assert_eq!(listing(&target), ["canary"], "iteration {i}: written on the host");
        assert_eq!(std::fs::read_to_string(target.join("canary")).expect("canary"), "host\n", "iteration {i}");
    }
    assert!(read > 0, "no copy got through the race at all");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "racer"]);
}

#[test]
fn a_copy_racing_a_symlink_swap_never_reaches_the_host_modular() {
    swap_race(&TestDaemon::modular("cprm"), "cprm");
}

#[test]
fn a_copy_racing_a_symlink_swap_never_reaches_the_host_monolithic() {
    swap_race(&TestDaemon::monolithic("cprmo"), "cprmo");
}

/// Raw `PUT`s: an archive that climbs out with `..` is refused, an absolute name lands
/// below the destination, entries through a link the archive made stay in the container,
/// unknown parameters and an empty path are 400, a file as destination is Docker's 400.
fn crafted_archives(d: &TestDaemon, tag: &str) {
    d.import_busybox();
    let h = HostDir::new(&format!("{tag}-tar"));
    std::fs::write(h.0.join("canary"), "host\n").expect("canary");
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "t", "busybox", "sh", "-c", "mkdir -p /dest && exec sleep 1000"]);
    let tar_of = |entries: &[(&str, Option<&str>)]| {
        let mut b = tar::Builder::new(Vec::new());
        for (name, link) in entries {
            let mut hd = tar::Header::new_gnu();
            hd.set_mode(0o644);
            hd.set_uid(0);
            hd.set_gid(0);
            hd.set_mtime(0);
            match link {
                Some(target) => {
                    hd.set_entry_type(tar::EntryType::Symlink);
                    hd.set_size(0);
                    hd.set_link_name_literal(target.as_bytes()).expect("link");
                    set_name(&mut hd, name);
                    b.append(&hd, std::io::empty()).expect("append");
                }
                None => {
                    hd.set_entry_type(tar::EntryType::Regular);
                    hd.set_size(4);
                    set_name(&mut hd, name);
                    b.append(&hd, &b"evil"[..]).expect("append");
                }
            }
        }
        b.into_inner().expect("tar")
    };
    let put = |path: &str, body: &[u8]| common::http::raw(d, "PUT", format!("/containers/t/archive?path={path}").as_bytes(), "", body);

    let r = put("/dest", &tar_of(&[("../../escape", None)]));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("outside"), "{}", r.message());
    let r = put("/dest", &tar_of(&[("/abs", None)]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(exec(d, "t", "cat /dest/abs"), "evil", "an absolute name lands below the destination");
    let via = format!("l{}/canary", h.0.display());
    let r = put("/dest", &tar_of(&[("l", Some("/")), (&via, None)]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(exec(d, "t", &format!("cat {}/canary", h.0.display())), "evil", "through the archive's link, inside the container");
    assert_eq!(std::fs::read_to_string(h.0.join("canary")).expect("canary"), "host\n", "the host's file untouched");

    let r = put("/dest&bogus=1", &tar_of(&[]));
    assert_eq!(r.status, 400);
    assert!(r.message().contains("bogus"), "{}", r.message());
    let r = put("", &tar_of(&[]));
    assert_eq!((r.status, r.message()), (400, "bad parameter: path cannot be empty".to_owned()));
    let r = put("/etc/passwd", &tar_of(&[]));
    assert_eq!((r.status, r.message()), (400, "extraction point is not a directory".to_owned()));
    let r = put("/nope", &tar_of(&[]));
    assert_eq!((r.status, r.message()), (404, "Could not find the file /nope in container t".to_owned()));
    let r = common::http::raw(d, "GET", b"/containers/t/archive?path=/nope", "", b"");
    assert_eq!((r.status, r.message()), (404, "Could not find the file /nope in container t".to_owned()));
    let r = common::http::raw(d, "GET", b"/containers/t/archive?path=/etc&x=1", "", b"");
    assert_eq!(r.status, 400);
    // HEAD: the stat header, Go's FileMode bits, a link's target resolved in the container.
    exec(d, "t", "ln -s /etc /dest/etclink && chmod 4711 /dest/abs");
    let st = path_stat(d, "t", "/dest/etclink");
    assert_eq!(
        (st["name"].as_str(), st["mode"].as_u64(), st["linkTarget"].as_str()),
        (Some("etclink"), Some((1 << 27) | 0o777), Some("/etc")),
        "{st}"
    );
    let st = path_stat(d, "t", "/dest/etclink/");
    assert_eq!(st["mode"].as_u64(), Some((1 << 31) | 0o755), "a trailing slash follows the link: {st}");
    let st = path_stat(d, "t", "/dest/abs");
    assert_eq!((st["mode"].as_u64(), st["size"].as_u64()), (Some((1 << 23) | 0o711), Some(4)), "{st}");
    assert!(st["mtime"].as_str().is_some_and(|m| m.starts_with("1970-01-01T00:00:00")), "{st}");
    docker_bin_ok(DOCKER, d, &["rm", "-f", "t"]);
}

/// The decoded `X-Docker-Container-Path-Stat` of a `HEAD`.
fn path_stat(d: &TestDaemon, c: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect");
    write!(s, "HEAD /containers/{c}/archive?path={path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n").expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let value = resp
        .lines()
        .find_map(|l| l.strip_prefix("x-docker-container-path-stat: ").or_else(|| l.strip_prefix("X-Docker-Container-Path-Stat: ")))
        .unwrap_or_else(|| panic!("no stat header: {resp}"));
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD.decode(value.trim()).expect("base64");
    serde_json::from_slice(&json).expect("json")
}

/// Sets `name` in the header byte for byte (the tar crate would clean `..` and `/` away).
fn set_name(hd: &mut tar::Header, name: &str) {
    let field = &mut hd.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
    hd.set_cksum();
}

#[test]
fn crafted_archives_stay_inside_the_container_modular() {
    crafted_archives(&TestDaemon::modular("cpam"), "cpam");
}

#[test]
fn crafted_archives_stay_inside_the_container_monolithic() {
    crafted_archives(&TestDaemon::monolithic("cpamo"), "cpamo");
}

/// `berth cp`: both ways, a directory and a file, `-` as a tar on stdout and stdin.
fn berth_client(d: &TestDaemon, tag: &str) {
    d.import_busybox();
    let h = HostDir::new(&format!("{tag}-client"));
    host_tree(&h.0);
    docker_bin_ok(DOCKER, d, &["run", "-d", "--name", "bc", "busybox", "sh", "-c", "mkdir -p /in && exec sleep 1000"]);
    d.berth_ok(&["cp", &h.0.join("d").to_string_lossy(), "bc:/in/"]);
    d.berth_ok(&["cp", "-q", &h.0.join("f").to_string_lossy(), "bc:/in/renamed"]);
    assert_eq!(exec(d, "bc", "stat -c '%u:%g %a' /in/d /in/renamed; readlink /in/d/link"), "42:43 750\n1234:5678 640\nsub/g");
    let out = h.0.join("out");
    d.berth_ok(&["cp", "bc:/in/d", &out.to_string_lossy()]);
    assert_eq!(std::fs::read_link(out.join("link")).expect("link kept"), Path::new("sub/g"));
    assert_eq!(std::fs::read_to_string(out.join("sub/g")).expect("read"), "deep\n");
    // A tar on stdout, and one on stdin.
    let tar = d.berth(&["cp", "bc:/in/renamed", "-"]);
    assert!(tar.status.success(), "{}", String::from_utf8_lossy(&tar.stderr));
    let names: Vec<String> =
        tar::Archive::new(&tar.stdout[..]).entries().expect("tar").map(|e| e.expect("entry").path().expect("path").display().to_string()).collect();
    assert_eq!(names, ["renamed"]);
    let mut child = std::process::Command::new(common::berth_bin())
        .args(["-H", &d.host(), "cp", "-", "bc:/tmp"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("berth");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &tar.stdout).expect("write");
    drop(child.stdin.take());
    assert!(child.wait().expect("wait").success());
    assert_eq!(exec(d, "bc", "cat /tmp/renamed"), "file content");
    let bad = d.berth(&["cp", "bc:/nope", &out.to_string_lossy()]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("Could not find the file /nope in container bc"));
    docker_bin_ok(DOCKER, d, &["rm", "-f", "bc"]);
}

#[test]
fn berth_cp_copies_both_ways_modular() {
    berth_client(&TestDaemon::modular("cpcm"), "cpcm");
}

#[test]
fn berth_cp_copies_both_ways_monolithic() {
    berth_client(&TestDaemon::monolithic("cpcmo"), "cpcmo");
}
