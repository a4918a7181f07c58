//! berth-runtime's device rules on cgroup v2, seen from inside the container: the eBPF
//! device filter must refuse what linux.resources.devices does not allow, even to a
//! container that keeps CAP_MKNOD (Docker's default capabilities) and makes its own nodes.
//!
//! On a hybrid host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) the runtime runs in
//! a private mount namespace in which /sys/fs/cgroup is that cgroup2 mount, so it sees a
//! pure v2 host (the filter needs no controller); its v1 devices cgroup stays the host's
//! root one, which allows everything, so every refusal below is the filter's. A pure v2
//! host needs no such namespace. Needs root. Every test has its own state root, bundle, id
//! and cgroup; the guard deletes the container and removes the cgroup even on failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{make_busybox_rootfs, role, TempDir};
use serde_json::{json, Value};

const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Where the host mounts cgroup2: /sys/fs/cgroup itself (pure v2) or the hybrid mount.
fn unified_mount() -> Option<&'static str> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let is_cgroup2 = |at: &str| {
        info.lines().any(|l| {
            let (mount, fs) = l.split_once(" - ").unwrap_or((l, ""));
            mount.split(' ').nth(4) == Some(at) && fs.starts_with("cgroup2 ")
        })
    };
    ["/sys/fs/cgroup", HYBRID_UNIFIED].into_iter().find(|at| is_cgroup2(at))
}

/// A char major no driver has registered (from the local/experimental ranges), so that an
/// open the filter lets through fails with ENXIO instead: the two errors tell the filter's
/// refusal from the kernel's.
fn free_char_major() -> u32 {
    let devices = std::fs::read_to_string("/proc/devices").expect("read /proc/devices");
    let chars = devices.split("Block devices:").next().unwrap_or_default();
    let used: Vec<u32> = chars.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
    (60..=63).chain(120..=127).find(|m| !used.contains(m)).expect("a free experimental char major")
}

/// Shell helper in the container: `check NAME CMD...` prints `NAME: ok` or `NAME: <stderr>`.
const CHECK: &str = r#"check() { n=$1; shift; if e=$("$@" 2>&1 >/dev/null); then echo "$n: ok"; else echo "$n: $e"; fi; }"#;

/// A container under test, run with `berth-runtime run` in the v2 view.
struct Ctr {
    id: String,
    cgroup: String,
    root: TempDir,
    bundle: TempDir,
}

impl Ctr {
    /// A busybox bundle running `script` (after [`CHECK`]) with CAP_MKNOD and `devices` as
    /// linux.resources.devices (`None`: no device rules at all).
    fn new(script: &str, devices: Option<Value>) -> Self {
        common::need(unified_mount().is_some(), "a cgroup2 mount (/sys/fs/cgroup or /sys/fs/cgroup/unified)");
        common::need(common::on_path("unshare").is_some(), "unshare (util-linux)");
        let n: u32 = rand::random();
        let c =
            Ctr { id: format!("dev-{n:08x}"), cgroup: format!("/berth-dev-test-{n:08x}"), root: TempDir::new("dvroot"), bundle: TempDir::new("dvb") };
        make_busybox_rootfs(&c.bundle.path().join("rootfs"));
        let out = c.rt(&["spec", "--bundle", &c.bundle.path().to_string_lossy()]);
        assert!(out.status.success(), "spec failed: {}", String::from_utf8_lossy(&out.stderr));
        let path = c.bundle.path().join("config.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).expect("read config")).expect("parse config");
        v["process"]["args"] = json!(["sh", "-c", format!("{CHECK}\n{script}")]);
        v["root"]["readonly"] = json!(false);
        v["linux"]["cgroupsPath"] = json!(c.cgroup);
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set].as_array_mut().expect("capability set").push(json!("CAP_MKNOD"));
        }
        if let Some(d) = devices {
            v["linux"]["resources"] = json!({ "devices": d });
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("encode")).expect("write config");
        c
    }

    /// berth-runtime `args`, in a mount namespace whose /sys/fs/cgroup is cgroup2.
    fn rt(&self, args: &[&str]) -> Output {
        let mut c = if unified_mount() == Some(HYBRID_UNIFIED) {
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c", r#"mount --bind "$0" /sys/fs/cgroup && exec "$@""#, HYBRID_UNIFIED]);
            c.arg(role("berth-runtime"));
            c
        } else {
            Command::new(role("berth-runtime"))
        };
        c.arg("--root").arg(self.root.path()).args(args).current_dir(self.bundle.path());
        c.stdin(Stdio::null()).output().expect("run berth-runtime")
    }

    /// Runs the container; its output, one `NAME: result` line per check.
    fn run(&self) -> String {
        let out = self.rt(&["run", &self.id]);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "run failed ({}): {text}", out.status);
        text
    }

    fn host_cgroup(&self) -> PathBuf {
        Path::new(unified_mount().unwrap_or(HYBRID_UNIFIED)).join(self.cgroup.trim_start_matches('/'))
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.rt(&["delete", "-f", &self.id]);
        let _ = std::fs::remove_dir(self.host_cgroup());
    }
}

/// The result of check `name` in `out`.
fn result<'a>(out: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    out.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("no {name:?} in the output:\n{out}"))
}

const EPERM: &str = "Operation not permitted";
const ENXIO: &str = "No such device or address";

/// Docker's default: deny everything, then the runtime's always-allowed list.
fn deny_all() -> Value {
    json!([{ "allow": false, "access": "rwm" }])
}

#[test]
fn the_default_rules_let_a_container_make_a_disk_node_but_not_open_it() {
    let c = Ctr::new(
        "check mknod-disk mknod /tmp/sda b 8 0
         check read-disk head -c 1 /tmp/sda
         check write-null sh -c 'echo x > /dev/null'
         check read-zero head -c 1 /dev/zero
         check mknod-null mknod /tmp/null c 1 3
         check write-own-null sh -c 'echo x > /tmp/null'
         sed 's/^/cgroup: /' /proc/self/cgroup",
        Some(deny_all()),
    );
    let out = c.run();
    // The filter, not a v1 devices cgroup, is what refuses: the runtime used the cgroup2
    // hierarchy only.
    let cgroups: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("cgroup: ")).collect();
    assert!(cgroups.contains(&format!("0::{}", c.cgroup).as_str()), "not in its cgroup2 cgroup: {cgroups:?}");
    assert!(!cgroups.iter().any(|l| l.contains(":devices:") && l.ends_with(&c.cgroup)), "in a v1 devices cgroup: {cgroups:?}");
    assert_eq!(result(&out, "mknod-disk"), "ok", "mknod of any block device is allowed (b *:* m):\n{out}");
    assert!(result(&out, "read-disk").contains(EPERM), "opening a disk must be refused by the filter:\n{out}");
    for name in ["write-null", "read-zero", "mknod-null", "write-own-null"] {
        assert_eq!(result(&out, name), "ok", "{name}: the always-allowed devices stay usable:\n{out}");
    }
    assert!(!c.host_cgroup().exists(), "run removes the container's cgroup");
}

#[test]
fn a_read_only_rule_lets_reads_through_and_refuses_writes() {
    let major = free_char_major();
    let c = Ctr::new(
        &format!(
            "mknod /tmp/ro c {major} 0; mknod /tmp/other c {major} 1
             check read sh -c 'exec 3</tmp/ro'
             check write sh -c 'exec 3>/tmp/ro'
             check read-write sh -c 'exec 3<>/tmp/ro'
             check read-other sh -c 'exec 3</tmp/other'
             check write-null sh -c 'echo x > /dev/null'"
        ),
        Some(json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": major, "minor": 0, "access": "r" }])),
    );
    let out = c.run();
    // Past the filter, the kernel finds no driver for the major.
    assert!(result(&out, "read").contains(ENXIO), "a read open passes the filter:\n{out}");
    for name in ["write", "read-write", "read-other"] {
        assert!(result(&out, name).contains(EPERM), "{name} must be refused by the filter:\n{out}");
    }
    assert_eq!(result(&out, "write-null"), "ok", "{out}");
}

#[test]
fn without_device_rules_no_filter_is_attached() {
    let major = free_char_major();
    let c = Ctr::new(
        &format!(
            "mknod /tmp/dev c {major} 0; mknod /tmp/sda b 8 0
             check write sh -c 'exec 3>/tmp/dev'
             check read-disk head -c 1 /tmp/sda"
        ),
        None,
    );
    let out = c.run();
    // The same opens as above reach the kernel's driver lookup: the refusals above are the
    // filter's, not the host's (no nodev mount, no v1 devices cgroup in the way).
    assert!(result(&out, "write").contains(ENXIO), "{out}");
    let disk = result(&out, "read-disk");
    assert!(!disk.contains(EPERM), "{out}");
}

#[test]
fn an_allow_all_rule_lets_every_device_through() {
    // `--privileged`'s rule: the disk open reaches the driver lookup (ENXIO, no such disk
    // here) or opens; it is not the filter's EPERM.
    let c = Ctr::new("mknod /tmp/sda b 8 0; check read-disk head -c 1 /tmp/sda", Some(json!([{ "allow": true, "access": "rwm" }])));
    let out = c.run();
    assert!(!result(&out, "read-disk").contains(EPERM), "{out}");
}

#[test]
fn a_rule_the_filter_cannot_express_fails_the_create_and_leaves_no_cgroup() {
    let c = Ctr::new("echo ran", Some(json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": 1, "access": "rwx" }])));
    let out = c.rt(&["run", &c.id]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && !text.contains("ran"), "{text}");
    assert!(text.contains("linux.resources.devices") && text.contains("c 1:* rwx"), "the error names the rule: {text}");
    assert!(!c.host_cgroup().exists(), "the failed create removes its cgroup");
}
