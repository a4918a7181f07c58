//! Container lifecycle benchmark: berth-runtime against runc and crun, on the same busybox
//! bundle whose process is `true`.
//!
//! For each runtime (alternating every iteration, so drift hits all alike) it times
//! `create` + `start` + `delete -f`, and `run` to completion, BENCH_RUNS times (default 30,
//! after 3 warm-ups), and prints medians, the berth/runc and berth/crun ratios, and the peak
//! RSS of the `create` invocation (wait4's ru_maxrss).
//!
//! berth is the release binary next to this bench (`cargo bench` builds it). crun refuses
//! hybrid cgroup hosts whose cgroup2 mount offers controllers, so the whole benchmark runs in
//! a private mount namespace in which /sys/fs/cgroup/unified is unmounted: every runtime
//! sees the same plain cgroup v1 there, and nothing changes outside. Needs root.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Rt {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
    cycle: Vec<Duration>,
    run: Vec<Duration>,
    rss_kb: Vec<i64>,
}

/// Runs `cmd` to completion; (wall time, peak RSS in KiB, success).
fn timed(cmd: &mut Command) -> (Duration, i64, bool) {
    let t = Instant::now();
    let Ok(child) = cmd.spawn() else { return (t.elapsed(), 0, false) };
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills in; the pid is our child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid pointers to live locals.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let el = t.elapsed();
    (el, ru.ru_maxrss, r > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

fn rt_cmd(rt: &Rt, args: &[&str]) -> Command {
    let mut c = Command::new(&rt.bin);
    c.arg("--root").arg(&rt.root).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    if s.is_empty() { Duration::ZERO } else { s[s.len() / 2] }
}

fn make_bundle(dir: &Path, berth: &Path) {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static at /bin/busybox");
    for a in ["sh", "true"] {
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a));
    }
    let st = Command::new(berth).arg0("berth-runtime").args(["spec", "--bundle"]).arg(dir).status().expect("spec");
    assert!(st.success(), "berth-runtime spec failed");
    let p = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).expect("config")).expect("json");
    v["process"]["args"] = serde_json::json!(["true"]);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).expect("encode")).expect("write config");
}

/// Enters a private mount namespace without the cgroup2 'unified' mount (see module doc).
fn private_mount_ns() {
    // SAFETY: unshare/mount/umount2 with static NUL-terminated strings; we are still
    // single-threaded here, as unshare(CLONE_NEWNS) wants for a whole-process effect.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            panic!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error());
        }
        libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null());
        libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    private_mount_ns();
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent()?.parent().map(Path::to_path_buf));
    let berth = exe_dir.map(|d| d.join("berth")).filter(|p| p.exists()).unwrap_or_else(|| manifest.join("target/release/berth"));
    assert!(berth.exists(), "{} missing: cargo build --release", berth.display());

    let n: u32 = rand::random();
    let tmp = PathBuf::from(format!("/tmp/bench-rt-{n:08x}"));
    std::fs::create_dir_all(tmp.join("bin")).expect("tmp");
    let link = tmp.join("bin/berth-runtime");
    std::os::unix::fs::symlink(&berth, &link).expect("link");
    let bundle = tmp.join("bundle");
    make_bundle(&bundle, &berth);

    let mut rts = vec![Rt { name: "berth", bin: link, root: tmp.join("root-berth"), cycle: vec![], run: vec![], rss_kb: vec![] }];
    for (name, path) in [("runc", "/usr/sbin/runc"), ("crun", "/usr/bin/crun")] {
        if Path::new(path).exists() {
            rts.push(Rt { name, bin: path.into(), root: tmp.join(format!("root-{name}")), cycle: vec![], run: vec![], rss_kb: vec![] });
        } else {
            println!("note: {name} not installed ({path}); skipped");
        }
    }
    println!("runtime_cycle: {runs} runs (+3 warm-up) per runtime, alternating; berth = {}", berth.display());
    let mut failures = 0;
    for i in 0..runs + 3 {
        for rt in rts.iter_mut() {
            let id = format!("bench-{}-{n:08x}-{i}", rt.name);
            let (t_create, rss, ok1) = timed(rt_cmd(rt, &["create", "--bundle"]).arg(&bundle).arg(&id));
            let (t_start, _, ok2) = timed(&mut rt_cmd(rt, &["start", &id]));
            let (t_delete, _, ok3) = timed(&mut rt_cmd(rt, &["delete", "-f", &id]));
            let rid = format!("{id}-run");
            let (t_run, _, ok4) = timed(rt_cmd(rt, &["run", "--bundle"]).arg(&bundle).arg(&rid));
            if !(ok1 && ok2 && ok3 && ok4) {
                failures += 1;
                let _ = rt_cmd(rt, &["delete", "-f", &id]).status();
                let _ = rt_cmd(rt, &["delete", "-f", &rid]).status();
                if failures < 5 {
                    println!("warning: {} iteration {i} failed (create {ok1} start {ok2} delete {ok3} run {ok4})", rt.name);
                }
                continue;
            }
            if i >= 3 {
                rt.cycle.push(t_create + t_start + t_delete);
                rt.run.push(t_run);
                rt.rss_kb.push(rss);
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{:<8} {:>14} {:>12} {:>16} {:>6}", "runtime", "cycle med ms", "run med ms", "create maxrss KiB", "ok");
    for rt in &rts {
        let rss = rt.rss_kb.iter().copied().max().unwrap_or(0);
        println!("{:<8} {:>14.2} {:>12.2} {:>16} {:>6}", rt.name, ms(median(&rt.cycle)), ms(median(&rt.run)), rss, rt.cycle.len());
    }
    let b = &rts[0];
    for peer in &rts[1..] {
        if peer.cycle.is_empty() || b.cycle.is_empty() {
            continue;
        }
        println!(
            "berth/{}: cycle {:.2}, run {:.2}",
            peer.name,
            ms(median(&b.cycle)) / ms(median(&peer.cycle)),
            ms(median(&b.run)) / ms(median(&peer.run))
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
