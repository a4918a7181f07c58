//! Bind mounts (issue 16), seen from inside the container: `-v $dir:/x:ro` can be read and
//! not written, `-v $dir:/x` writes land in `$dir`, `-v` makes a missing host directory
//! while `--mount type=bind` refuses one with Docker's message, inspect's `Mounts` is
//! Docker's, a destination that is a symlink in the image is resolved inside the rootfs
//! (never onto the host's /etc), and `rshared` carries a mount made inside the container
//! back to the host side. Volumes are not implemented yet and are refused by name. Both
//! modes, docker CLI 28.x and 20.10.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{docker_bin_fails_saying, docker_bin_ok as ok, TempDir, TestDaemon};

const DOCKER: &str = "/usr/local/bin/docker";
const DOCKER_20: &str = "/usr/bin/docker";

/// Unmounts what the test mounted on the host side, also when an assertion fails.
struct Unmount(Vec<PathBuf>);

impl Drop for Unmount {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-R").arg("-l").arg(p).status();
        }
    }
}

/// Whether `path` is a mount point in the test's mount namespace.
fn is_mount(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let want = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(want.as_ref()))
}

/// Imports, as `linked`, a busybox whose /data is a symlink to /etc.
fn import_linked(d: &TestDaemon, tmp: &TempDir) {
    let rootfs = tmp.path().join("linked-rootfs");
    common::make_busybox_rootfs(&rootfs);
    std::os::unix::fs::symlink("/etc", rootfs.join("data")).expect("symlink");
    let tar = tmp.path().join("linked.tar");
    let st = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(st.success(), "tar");
    ok(DOCKER, d, &["import", &tar.to_string_lossy(), "linked"]);
}

fn binds_flow(d: &TestDaemon, tag: &str) {
    d.import_busybox();
    let tmp = TempDir::new(&format!("binds{tag}"));
    import_linked(d, &tmp);
    for (bin, t) in [(DOCKER, "a"), (DOCKER_20, "b")] {
        let dir = tmp.path().join(format!("shared{t}"));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("in"), "from the host\n").expect("write");
        let src = dir.to_string_lossy().into_owned();
        // Read-only: readable, a write refused by the kernel.
        let out = ok(bin, d, &["run", "--rm", "-v", &format!("{src}:/x:ro"), "busybox", "sh", "-c", "cat /x/in; touch /x/new 2>&1 || echo refused"]);
        assert!(out.starts_with("from the host\n") && out.contains("Read-only file system") && out.ends_with("refused\n"), "{bin}: {out}");
        assert!(!dir.join("new").exists());
        // Read-write: the write lands in the host directory.
        ok(bin, d, &["run", "--rm", "-v", &format!("{src}:/x"), "busybox", "sh", "-c", "echo from inside > /x/out"]);
        assert_eq!(std::fs::read_to_string(dir.join("out")).expect("out"), "from inside\n", "{bin}");
        // --mount, read-only, and inspect's Mounts as Docker's.
        let name = format!("insp{t}");
        ok(
            bin,
            d,
            &[
                "create",
                "--name",
                &name,
                "--mount",
                &format!("type=bind,source={src},target=/m,readonly"),
                "-v",
                &format!("{src}:/v:ro"),
                "busybox",
                "true",
            ],
        );
        let mounts = ok(bin, d, &["inspect", "-f", "{{json .Mounts}}", &name]);
        let want = format!(
            r#"[{{"Type":"bind","Source":"{src}","Destination":"/m","Mode":"","RW":false,"Propagation":"rprivate"}},{{"Type":"bind","Source":"{src}","Destination":"/v","Mode":"ro","RW":false,"Propagation":"rprivate"}}]"#
        );
        assert_eq!(mounts.trim(), want, "{bin}");
        assert_eq!(ok(bin, d, &["ps", "-a", "--filter", &format!("volume={src}"), "--format", "{{.Names}}"]).trim(), name, "{bin}");
        ok(bin, d, &["rm", &name]);
        // -v makes a missing host directory; --mount refuses one, in Docker's words.
        let missing = tmp.path().join(format!("made{t}/deeper"));
        ok(bin, d, &["run", "--rm", "-v", &format!("{}:/y", missing.display()), "busybox", "true"]);
        assert!(missing.is_dir(), "{bin}: -v made {}", missing.display());
        let gone = tmp.path().join(format!("absent{t}"));
        docker_bin_fails_saying(
            bin,
            d,
            &["create", "--mount", &format!("type=bind,source={},target=/z", gone.display()), "busybox", "true"],
            &format!("invalid mount config for type \"bind\": bind source path does not exist: {}", gone.display()),
        );
        assert!(!gone.exists());
        // Volumes are not there yet: refused by name, never dropped.
        docker_bin_fails_saying(bin, d, &["create", "-v", "data:/d", "busybox", "true"], "volumes are not implemented by berth yet");
        docker_bin_fails_saying(bin, d, &["create", "-v", &format!("{src}:/x:bogus"), "busybox", "true"], "invalid mode: bogus");
        // A destination that is a symlink in the image resolves inside the rootfs: /data is
        // /etc there, so the bind shows at the container's /etc, and the host's /etc is
        // untouched.
        let host_etc = std::fs::read_dir("/etc").expect("/etc").count();
        let out = ok(bin, d, &["run", "--rm", "-v", &format!("{src}:/data"), "linked", "cat", "/etc/in"]);
        assert_eq!(out, "from the host\n", "{bin}");
        assert!(!is_mount(Path::new("/etc")) && !Path::new("/etc/in").exists(), "{bin}: the host's /etc was reached");
        assert_eq!(std::fs::read_dir("/etc").expect("/etc").count(), host_etc);
    }
    assert_eq!(ok(DOCKER, d, &["ps", "-aq"]), "", "no container left");
}

#[test]
fn binds_read_write_and_refuse_as_dockers_modular() {
    binds_flow(&TestDaemon::modular("bndm"), "m");
}

#[test]
fn binds_read_write_and_refuse_as_dockers_monolithic() {
    binds_flow(&TestDaemon::monolithic("bndo"), "o");
}

/// `rshared`: a mount the container makes below its bind shows on the host side.
fn propagation_flow(d: &TestDaemon, tag: &str) {
    d.import_busybox();
    let tmp = TempDir::new(&format!("prop{tag}"));
    let shared = tmp.path().join("shared");
    std::fs::create_dir_all(&shared).expect("dir");
    let mut guard = Unmount(Vec::new());
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "bt-prop"]).arg(&shared).status().expect("mount");
    assert!(st.success(), "mount tmpfs");
    guard.0.push(shared.clone());
    let st = Command::new("mount").arg("--make-shared").arg(&shared).status().expect("make-shared");
    assert!(st.success(), "make-shared");
    std::fs::create_dir(shared.join("sub")).expect("sub");
    let src = shared.to_string_lossy().into_owned();
    let name = format!("prop{tag}");
    ok(DOCKER, d, &["run", "-d", "--name", &name, "--privileged", "-v", &format!("{src}:/x:rshared"), "busybox", "sleep", "600"]);
    ok(DOCKER, d, &["exec", &name, "mount", "-t", "tmpfs", "inner", "/x/sub"]);
    assert!(common::wait_until(5, || is_mount(&shared.join("sub"))), "the container's mount did not reach the host side");
    ok(DOCKER, d, &["rm", "-f", &name]);
    // A private source refuses rshared, in Docker's words.
    let private = tmp.path().join("private");
    std::fs::create_dir_all(&private).expect("dir");
    docker_bin_fails_saying(
        DOCKER,
        d,
        &["run", "--rm", "-v", &format!("{}:/x:rshared", private.display()), "busybox", "true"],
        "but it is not a shared mount",
    );
    drop(guard);
    assert!(!is_mount(&shared));
}

#[test]
fn rshared_binds_carry_mounts_back_to_the_host_side_modular() {
    propagation_flow(&TestDaemon::modular("bprm"), "m");
}

#[test]
fn rshared_binds_carry_mounts_back_to_the_host_side_monolithic() {
    propagation_flow(&TestDaemon::monolithic("bpro"), "o");
}

/// docker-compose (Debian's) with a bind in a service.
#[test]
fn a_compose_service_with_a_bind_reads_the_host_directory() {
    let d = TestDaemon::modular("bcmp");
    d.import_busybox();
    let tmp = TempDir::new("bcmp");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("dir");
    std::fs::write(data.join("greeting"), "hello compose\n").expect("write");
    let yml = format!(
        "version: '3'\nservices:\n  app:\n    image: busybox\n    command: cat /data/greeting\n    volumes:\n      - {}:/data:ro\n",
        data.display()
    );
    std::fs::write(tmp.path().join("docker-compose.yml"), yml).expect("yml");
    let out = Command::new("docker-compose")
        .current_dir(tmp.path())
        .env("DOCKER_HOST", d.host())
        .args(["-p", "bcmp", "up", "--abort-on-container-exit"])
        .output()
        .expect("docker-compose (.ci/run installs it)");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && all.contains("hello compose"), "{all}");
    let down =
        Command::new("docker-compose").current_dir(tmp.path()).env("DOCKER_HOST", d.host()).args(["-p", "bcmp", "down"]).output().expect("down");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
}
