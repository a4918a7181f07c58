//! seccomp as Docker applies it (issue 13, security), seen from inside the container: every
//! container runs under Docker's default profile (`Seccomp: 2`, one filter), which refuses
//! what Docker's default capabilities do not cover (a new user namespace, mount) and lets
//! mount through with `--cap-add SYS_ADMIN`; `--security-opt seccomp=unconfined` runs with no
//! filter; `--security-opt seccomp=FILE` runs under the profile in FILE (Docker's format); a
//! profile that cannot be used fails `docker run` naming the problem, and creates nothing; an
//! exec runs under its container's filter. Both modes, the docker CLI 28.x.

mod common;

use common::http::post_json;
use common::{docker, docker_ok, TempDir, TestDaemon};

/// The value of a /proc/self/status line (`Seccomp:`) in a fresh container run with `flags`.
fn status(d: &TestDaemon, flags: &[&str], key: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "grep", key, "/proc/self/status"]);
    docker_ok(d, &args).split_whitespace().nth(1).unwrap_or_default().to_owned()
}

/// Runs `script` with sh in a fresh busybox container started with `flags`; its output.
fn sh(d: &TestDaemon, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "sh", "-c", script]);
    docker_ok(d, &args)
}

/// A new user namespace needs no capability: only the filter can refuse it.
const NEW_USERNS: &str = "unshare -U true 2>&1; echo rc=$?";
/// A tmpfs mount: needs CAP_SYS_ADMIN and, under Docker's profile, the rule it opens.
const MOUNT: &str = "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m 2>&1; echo rc=$?; grep -c ' /tmp/m ' /proc/mounts; true";

fn default_profile(d: &TestDaemon) {
    assert_eq!(status(d, &[], "Seccomp:"), "2", "a filter is installed");
    assert_eq!(status(d, &[], "Seccomp_filters:"), "1", "exactly one");
    assert_eq!(sh(d, &[], NEW_USERNS), "unshare: unshare(0x10000000): Operation not permitted\nrc=1\n");
    assert_eq!(sh(d, &["--security-opt", "seccomp=unconfined"], NEW_USERNS), "rc=0\n", "without the filter nothing refuses it");
    assert_eq!(sh(d, &[], MOUNT), "mount: permission denied (are you root?)\nrc=1\n0\n");
    // The profile's CAP_SYS_ADMIN rules: with the capability, mount (and unshare) are let
    // through, the filter still in place.
    let script = format!("grep Seccomp: /proc/self/status; {MOUNT}; {NEW_USERNS}");
    assert_eq!(sh(d, &["--cap-add", "SYS_ADMIN"], &script), "Seccomp:\t2\nrc=0\n1\nrc=0\n");
    assert_eq!(status(d, &["--security-opt", "seccomp=unconfined"], "Seccomp:"), "0");
    assert_eq!(status(d, &["--security-opt", "seccomp:unconfined"], "Seccomp:"), "0", "Docker's older ':' form");
    assert_eq!(status(d, &["--security-opt", "seccomp=builtin"], "Seccomp:"), "2");
}

fn custom_profiles(d: &TestDaemon) {
    let dir = TempDir::new("scprof");
    // Allow everything but mkdir, refused with EACCES (not the EPERM of Docker's default).
    let profile = dir.path().join("no-mkdir.json");
    let body = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "no new directories"}]
    }"#;
    std::fs::write(&profile, body).expect("write profile");
    let opt = format!("seccomp={}", profile.display());
    let script = "grep Seccomp: /proc/self/status; mkdir /x 2>&1; echo rc=$?; touch /y && echo touched; unshare -U true && echo unshared";
    assert_eq!(
        sh(d, &["--security-opt", &opt], script),
        "Seccomp:\t2\nmkdir: can't create directory '/x': Permission denied\nrc=1\ntouched\nunshared\n",
        "the profile's rule, and its default instead of Docker's"
    );

    // A profile that is not JSON: the docker CLI itself refuses to send it.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"defaultAction\": \"SCMP_ACT_ALLOW\",").expect("write profile");
    let out = docker(d, &["run", "--rm", "--security-opt", &format!("seccomp={}", broken.display()), "busybox", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("seccomp profile") && err.contains("broken.json"), "{out:?}");
    // JSON, but an action that does not exist: berthd refuses the create, naming it.
    let unknown = dir.path().join("unknown-action.json");
    std::fs::write(&unknown, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_SOMETIMES"}]}"#)
        .expect("write profile");
    let out = docker(d, &["run", "--rm", "--name", "bad", "--security-opt", &format!("seccomp={}", unknown.display()), "busybox", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains(r#"Error response from daemon: seccomp profile .syscalls[0].action: unknown action "SCMP_ACT_SOMETIMES""#), "{err}");
    // Straight through the API (no CLI to check the JSON first): a value that is not JSON.
    let create = r#"{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"SecurityOpt": ["seccomp={\"defaultAction\": "]}}"#;
    let reply = post_json(d, "/containers/create", create);
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.message().starts_with("decoding the seccomp profile failed: defaultAction: EOF while parsing"), "{}", reply.message());
    // Other security options are refused by name, as before.
    let out = docker(d, &["run", "--rm", "--security-opt", "apparmor=unconfined", "busybox", "true"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("apparmor=unconfined"), "{out:?}");
    assert_eq!(docker_ok(d, &["ps", "-a", "-q"]), "", "nothing was created");
}

fn exec_under_the_containers_filter(d: &TestDaemon) {
    docker_ok(d, &["run", "-d", "--name", "sc", "busybox", "sleep", "100"]);
    assert_eq!(docker_ok(d, &["exec", "sc", "grep", "Seccomp:", "/proc/self/status"]), "Seccomp:\t2\n");
    assert_eq!(docker_ok(d, &["exec", "sc", "sh", "-c", NEW_USERNS]), "unshare: unshare(0x10000000): Operation not permitted\nrc=1\n");
    docker_ok(d, &["rm", "-f", "sc"]);
    docker_ok(d, &["run", "-d", "--name", "uc", "--security-opt", "seccomp=unconfined", "busybox", "sleep", "100"]);
    assert_eq!(docker_ok(d, &["exec", "uc", "grep", "Seccomp:", "/proc/self/status"]), "Seccomp:\t0\n");
    docker_ok(d, &["rm", "-f", "uc"]);
}

fn seccomp_flow(d: &TestDaemon) {
    d.import_busybox();
    default_profile(d);
    custom_profiles(d);
    exec_under_the_containers_filter(d);
}

#[test]
fn containers_run_under_dockers_seccomp_profile_or_the_one_asked_for_modular() {
    seccomp_flow(&TestDaemon::modular("scm"));
}

#[test]
fn containers_run_under_dockers_seccomp_profile_or_the_one_asked_for_monolithic() {
    seccomp_flow(&TestDaemon::monolithic("sco"));
}
