//! seccomp through berth-runtime's command line (runc's interface) and through a real
//! dockerd: a profile's rules hold for every architecture it lists, including i386 calls
//! that a 64-bit process makes with `int $0x80`, and a call through an architecture the
//! profile does not list is never allowed. The probe that makes those calls is built here
//! with gcc: a static x86_64 binary that prints the raw kernel return of each call.
//! Needs root, gcc (and for the dockerd test, docker.io and containerd: .ci/run installs them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::engines::{Containerd, Dockerd};
use common::{make_busybox_rootfs, role, TempDir};
use serde_json::{json, Value};

/// The probe: each argument `call[:path]` makes one system call and prints `call=<return>`
/// (the kernel's raw return: 0 or more on success, minus the errno on failure), unbuffered
/// so that lines before a fatal signal are kept. `*32` calls enter through `int $0x80` with
/// i386 numbers, `*64` through `syscall` with x86_64 numbers.
const PROBE_C: &str = r#"
#include <stdio.h>
#include <string.h>

/* Static, so below 4 GiB in a non-PIE binary: int $0x80 takes 32-bit pointers. */
static char path[4096];

static long sys32(int nr, unsigned int a, unsigned int b) {
    int ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

static long sys64(long nr, long a, long b) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if ((unsigned long)path > 0xffffffffUL) { printf("path buffer above 4 GiB\n"); return 2; }
    unsigned int p32 = (unsigned int)(unsigned long)path;
    for (int i = 1; i < argc; i++) {
        char *call = argv[i], *arg = strchr(call, ':');
        if (arg) { *arg++ = 0; strncpy(path, arg, sizeof path - 1); }
        long r;
        if (!strcmp(call, "getpid32")) r = sys32(20, 0, 0);
        else if (!strcmp(call, "mkdir32")) r = sys32(39, p32, 0755);
        else if (!strcmp(call, "unshare32")) r = sys32(310, 0, 0);
        else if (!strcmp(call, "getpid64")) r = sys64(39, 0, 0);
        else if (!strcmp(call, "mkdir64")) r = sys64(83, (long)path, 0755);
        else if (!strcmp(call, "unshare64")) r = sys64(272, 0, 0);
        else { printf("%s=unknown call\n", call); return 2; }
        printf("%s=%ld\n", call, r);
    }
    return 0;
}
"#;

/// Builds the probe at `dest` (gcc, static, non-PIE).
fn build_probe(dest: &Path) {
    let dir = TempDir::new("probe");
    let src = dir.path().join("probe.c");
    std::fs::write(&src, PROBE_C).expect("write probe.c");
    let out = Command::new("gcc")
        .args(["-static", "-no-pie", "-O1", "-o"])
        .arg(dest)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("gcc (needed to build the int 0x80 probe; .ci/run installs it): {e}"));
    assert!(out.status.success(), "gcc failed building the probe: {}", String::from_utf8_lossy(&out.stderr));
}

/// A busybox bundle with the probe at /probe, run once with `berth-runtime run` under a
/// seccomp profile; the state root and bundle are removed on drop.
struct Ctr {
    id: String,
    root: TempDir,
    bundle: TempDir,
}

impl Ctr {
    fn new(args: &[&str], seccomp: Value) -> Self {
        let n: u32 = rand::random();
        let c = Ctr { id: format!("sc-{n:08x}"), root: TempDir::new("scroot"), bundle: TempDir::new("scb") };
        let rootfs = c.bundle.path().join("rootfs");
        make_busybox_rootfs(&rootfs);
        build_probe(&rootfs.join("probe"));
        let out = c.rt(&["spec", "--bundle", &c.bundle.path().to_string_lossy()]);
        assert!(out.status.success(), "spec failed: {}", String::from_utf8_lossy(&out.stderr));
        let config = c.bundle.path().join("config.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&config).expect("read config")).expect("parse config");
        v["process"]["args"] = json!(args);
        v["root"]["readonly"] = json!(false);
        v["linux"]["cgroupsPath"] = json!(format!("/berth-sc-test-{n:08x}"));
        v["linux"]["seccomp"] = seccomp;
        std::fs::write(&config, serde_json::to_vec_pretty(&v).expect("encode")).expect("write config");
        c
    }

    fn rt(&self, args: &[&str]) -> Output {
        Command::new(role("berth-runtime"))
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .current_dir(self.bundle.path())
            .stdin(Stdio::null())
            .output()
            .expect("berth-runtime")
    }

    /// `berth-runtime run`: the container's exit code, its stdout, and stderr (the
    /// container's and the runtime's).
    fn run(&self) -> (Option<i32>, String, String) {
        let out = self.rt(&["run", &self.id]);
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn rootfs(&self) -> PathBuf {
        self.bundle.path().join("rootfs")
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.rt(&["delete", "-f", &self.id]);
    }
}

/// A default-allow profile refusing mkdir with EPERM, for `architectures`.
fn refuse_mkdir(architectures: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": architectures,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    })
}

#[test]
fn a_rule_refusing_mkdir_also_refuses_the_i386_mkdir_made_through_int_0x80() {
    let c = Ctr::new(
        &["/probe", "getpid32", "mkdir64:/tmp/m64", "mkdir32:/tmp/m32"],
        refuse_mkdir(&["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    );
    let (code, text, err) = c.run();
    // getpid through int 0x80 is allowed and works: pid 1 in the container's pid namespace
    // (so the kernel has i386 emulation and the mkdir lines below mean what they say).
    assert_eq!(text, "getpid32=1\nmkdir64=-1\nmkdir32=-1\n", "exit {code:?}, stderr: {err}");
    assert_eq!(code, Some(0));
    assert!(!c.rootfs().join("tmp/m32").exists() && !c.rootfs().join("tmp/m64").exists(), "a directory was made");
}

#[test]
fn an_i386_call_is_killed_when_the_profile_lists_only_x86_64() {
    let c = Ctr::new(&["/probe", "getpid64", "mkdir64:/tmp/m64", "getpid32", "mkdir32:/tmp/m32"], refuse_mkdir(&["SCMP_ARCH_X86_64"]));
    let (code, text, err) = c.run();
    // The 64-bit calls get the profile; the first i386 call, although defaultAction is
    // ALLOW, gets the bad-architecture action: the probe dies of SIGSYS (128 + 31).
    assert_eq!(text, "getpid64=1\nmkdir64=-1\n", "exit {code:?}, stderr: {err}");
    assert_eq!(code, Some(128 + libc::SIGSYS), "{text}{err}");
    assert!(!c.rootfs().join("tmp/m32").exists(), "the i386 mkdir ran");
}

#[test]
fn dockers_default_profile_runs_busybox_and_holds_for_i386_calls_too() {
    assert!(Dockerd::installed() && Containerd::installed(), "docker.io and containerd are needed (.ci/run installs them)");
    let tmp = TempDir::new("scdk");
    let probe = tmp.path().join("probe");
    build_probe(&probe);
    let containerd = Containerd::start(&tmp.path().join("c"));
    let flags = ["--add-runtime".to_owned(), format!("berth={}", role("berth-runtime").display())];
    let dockerd = Dockerd::start(&tmp.path().join("d"), &containerd.socket(), &flags);
    dockerd.import_busybox();
    // dockerd hands berth-runtime its built-in default profile (default ERRNO, an allow
    // list, SCMP_ARCH_X86_64 + X86 + X32 on amd64); unshare needs CAP_SYS_ADMIN under it.
    let mount = format!("{}:/probe:ro", probe.display());
    let script = "grep '^Seccomp:' /proc/self/status; /probe getpid32 unshare32 getpid64 unshare64";
    let out = dockerd.docker_ok(&["run", "--rm", "--runtime", "berth", "--network", "none", "-v", &mount, "busybox", "sh", "-c", script]);
    assert_eq!(out, "Seccomp:\t2\ngetpid32=1\nunshare32=-1\ngetpid64=1\nunshare64=-1\n");
}
