//! Exit codes as Docker reports them, the same in both modes (issue 12): a container's own
//! code, 128 + the signal for a container or exec process killed by one, in `docker run`'s
//! status, `docker inspect` and `docker ps -a`.

mod common;

use common::{docker, docker_ok, TempDir, TestDaemon};
use std::process::Command;

/// Imports image `crasher`: busybox plus `/crash`, a static program that dereferences NULL.
/// A fault's SIGSEGV is the one signal other than SIGKILL that ends a pid-namespace init
/// (the kernel ignores every other default-action signal sent to it, as under Docker).
fn import_crasher(d: &TestDaemon) {
    let dir = TempDir::new("crasher");
    let rootfs = dir.path().join("rootfs");
    common::make_busybox_rootfs(&rootfs);
    let src = dir.path().join("crash.c");
    std::fs::write(&src, "int main(void) { *(volatile int *)0 = 1; return 0; }\n").expect("write crash.c");
    let out = Command::new("gcc").args(["-static", "-O0", "-o"]).arg(rootfs.join("crash")).arg(&src).output().expect("run gcc");
    assert!(out.status.success(), "gcc -static (the README's test command installs gcc): {}", String::from_utf8_lossy(&out.stderr));
    let tar = dir.path().join("crasher.tar");
    let st = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(st.success(), "tar of the crasher rootfs");
    d.berth_ok(&["import", &tar.to_string_lossy(), "crasher"]);
}

fn exit_code_of(d: &TestDaemon, name: &str) -> String {
    docker_ok(d, &["inspect", "-f", "{{.State.ExitCode}}", name]).trim().to_owned()
}

fn status_line(d: &TestDaemon, name: &str) -> String {
    let ps = docker_ok(d, &["ps", "-a"]);
    ps.lines().find(|l| l.ends_with(name)).unwrap_or_else(|| panic!("{name} not in ps -a:\n{ps}")).to_owned()
}

fn true_exit_codes(d: TestDaemon) {
    d.import_busybox();
    import_crasher(&d);

    let out = docker(&d, &["run", "--name", "five", "busybox", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "run's status: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(exit_code_of(&d, "five"), "5");
    assert!(status_line(&d, "five").contains("Exited (5)"), "{}", status_line(&d, "five"));

    let out = docker(&d, &["run", "--name", "segv", "crasher", "/crash"]);
    assert_eq!(out.status.code(), Some(139), "SIGSEGV is 128 + 11: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(exit_code_of(&d, "segv"), "139");
    assert!(status_line(&d, "segv").contains("Exited (139)"), "{}", status_line(&d, "segv"));

    docker_ok(&d, &["run", "-d", "--name", "long", "busybox", "sleep", "1000"]);
    // An exec process is no namespace init: SIGTERM's default action ends it, as 143.
    let out = docker(&d, &["exec", "long", "sh", "-c", "kill -TERM $$; sleep 5"]);
    assert_eq!(out.status.code(), Some(143), "exec killed by SIGTERM: {}", String::from_utf8_lossy(&out.stderr));
    let out = docker(&d, &["exec", "long", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    docker_ok(&d, &["kill", "long"]);
    assert!(common::wait_until(10, || exit_code_of(&d, "long") == "137"), "killed: {}", exit_code_of(&d, "long"));
    assert!(status_line(&d, "long").contains("Exited (137)"), "{}", status_line(&d, "long"));

    for name in ["five", "segv", "long"] {
        docker_ok(&d, &["rm", name]);
    }
}

#[test]
fn exit_codes_and_signals_are_reported_truly_modular() {
    true_exit_codes(TestDaemon::modular("exitmod"));
}

#[test]
fn exit_codes_and_signals_are_reported_truly_monolithic() {
    true_exit_codes(TestDaemon::monolithic("exitmono"));
}
