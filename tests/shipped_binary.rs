//! The shipped binary itself (the static release build, `.ci/run` makes it before the tests):
//! every other test drives the debug build, which is dynamically linked, so what only the
//! static one does wrong (glibc's NSS modules, which a static program cannot load, crashed
//! berthd at start on a host with `group: files systemd`) shows only here. Both modes run a
//! container with it, the client, supervisor, shim and runtime all static.

mod common;

use common::TestDaemon;

#[test]
fn the_shipped_static_binary_runs_containers_in_both_modes() {
    let bin = common::shipped_static();
    // SAFETY: this file's only test sets the variable before any thread it starts reads the
    // environment; every role link and client call of this test binary then runs `bin`.
    unsafe { std::env::set_var("BERTH_BIN", &bin) };
    let file = std::process::Command::new("file").arg("-L").arg(&bin).output().expect("file");
    assert!(String::from_utf8_lossy(&file.stdout).contains("statically linked"), "{}", String::from_utf8_lossy(&file.stdout));
    for d in [TestDaemon::modular("shipm"), TestDaemon::monolithic("shipo")] {
        d.import_busybox();
        let out = d.berth_ok(&["run", "--rm", "busybox", "echo", "from the shipped binary"]);
        assert_eq!(out, "from the shipped binary\n");
        let out = common::docker_ok(&d, &["run", "--rm", "busybox", "sh", "-c", "echo docker too"]);
        assert_eq!(out, "docker too\n");
    }
}
