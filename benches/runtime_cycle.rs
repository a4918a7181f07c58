//! Container lifecycle benchmark: berth-runtime against runc and crun, on the same busybox
//! bundle whose process is `true`.
//!
//! For each runtime (alternating every iteration, so drift hits all alike) it times
//! `create` + `start` + `delete -f`, and `run` to completion, BENCH_RUNS times (default 30,
//! after 3 warm-ups), and prints medians, the berth/runc and berth/crun ratios, and the peak
//! RSS of the `create` invocation (wait4's ru_maxrss).
//!
//! berth is the release binary next to this bench (`cargo bench` builds it). crun refuses
//! hybrid cgroup hosts whose cgroup2 mount offers controllers, so crun alone runs in a
//! private mount namespace in which /sys/fs/cgroup/unified is unmounted (made once, held by
//! a child process, and joined with setns between fork and exec: a few microseconds charged
//! to crun). berth and runc run on the host's hybrid hierarchy as it is. Needs root.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Rt {
    name: &'static str,
    /// Mount namespace to enter before exec (crun's private one), as an open ns file.
    mnt_ns: Option<std::fs::File>,
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
    use std::os::fd::AsRawFd;
    let fd = rt.mnt_ns.as_ref().map(|ns| ns.as_raw_fd());
    // Every runtime is started by fork + exec, never posix_spawn: a pre_exec closure makes
    // std fork. Under vfork the child shares the bench's address space, and at exec the
    // kernel folds that address space's peak RSS into the child's ru_maxrss, so the figure
    // would be the bench's own size (7.5 MiB here), not the runtime's.
    // SAFETY: setns is async-signal-safe; the forked child is single-threaded, as joining
    // a mount namespace requires, and fd stays open in the parent until exec.
    unsafe {
        c.pre_exec(move || match fd {
            Some(fd) if libc::setns(fd, libc::CLONE_NEWNS) != 0 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    c.arg("--root").arg(&rt.root).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Minimum, median and maximum of RSS samples (KiB).
fn spread(v: &[i64]) -> (i64, i64, i64) {
    let mut s = v.to_vec();
    s.sort();
    match (s.first(), s.last()) {
        (Some(&lo), Some(&hi)) => (lo, s[s.len() / 2], hi),
        _ => (0, 0, 0),
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    if s.is_empty() {
        Duration::ZERO
    } else {
        s[s.len() / 2]
    }
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
    // A cgroup of the bench's own (containers run one at a time), so that nothing, not even
    // a parent directory such as berth's default /berth, is left behind.
    let tag = dir.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bench-rt".into());
    v["linux"]["cgroupsPath"] = serde_json::json!(format!("/{tag}"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).expect("encode")).expect("write config");
}

/// A child holding a private mount namespace without the cgroup2 'unified' mount (see the
/// module doc); killed when dropped.
struct PrivateMountNs {
    holder: std::process::Child,
}

impl PrivateMountNs {
    fn new() -> Self {
        let holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", "umount -l /sys/fs/cgroup/unified 2>/dev/null; echo ready; exec sleep 100000"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux)");
        let mut me = PrivateMountNs { holder };
        let mut line = String::new();
        use std::io::BufRead;
        let out = me.holder.stdout.take().expect("piped stdout");
        std::io::BufReader::new(out).read_line(&mut line).expect("read from the namespace holder");
        assert_eq!(line.trim(), "ready", "namespace holder did not start");
        me
    }

    fn file(&self) -> std::fs::File {
        std::fs::File::open(format!("/proc/{}/ns/mnt", self.holder.id())).expect("open the private mount namespace")
    }
}

impl Drop for PrivateMountNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// How many names of src/link-order.txt the measured binary defines: a stale list (the hot
/// path changed since examples/link-order.sh last ran) costs RSS and time, not correctness.
fn link_order_coverage(manifest: &Path, berth: &Path) -> Option<(usize, usize)> {
    let list = std::fs::read_to_string(manifest.join("src/link-order.txt")).ok()?;
    let out = Command::new("nm").arg("--defined-only").arg(berth).output().ok()?;
    let defined: std::collections::HashSet<&str> =
        std::str::from_utf8(&out.stdout).ok()?.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    let names: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    Some((names.iter().filter(|n| defined.contains(*n)).count(), names.len()))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let crun_ns = PrivateMountNs::new();
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent()?.parent().map(Path::to_path_buf));
    // The shipped binary is the plain release build; `cargo bench` links its own berth with
    // dev-dependency features unified in, so its symbol names miss src/link-order.txt and
    // it is not what users run. examples/runtime-bench.sh passes the shipped one.
    let berth = match std::env::var_os("BERTH_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            println!("note: BERTH_BIN not set: measuring cargo bench's own build of berth, not the shipped binary (see examples/runtime-bench.sh)");
            exe_dir.map(|d| d.join("berth")).filter(|p| p.exists()).unwrap_or_else(|| manifest.join("target/release/berth"))
        }
    };
    assert!(berth.exists(), "{} missing: cargo build --release", berth.display());

    let n: u32 = rand::random();
    let tmp = PathBuf::from(format!("/tmp/bench-rt-{n:08x}"));
    std::fs::create_dir_all(tmp.join("bin")).expect("tmp");
    let link = tmp.join("bin/berth-runtime");
    std::os::unix::fs::symlink(&berth, &link).expect("link");
    let bundle = tmp.join("bundle");
    make_bundle(&bundle, &berth);

    let mut rts = vec![Rt { name: "berth", mnt_ns: None, bin: link, root: tmp.join("root-berth"), cycle: vec![], run: vec![], rss_kb: vec![] }];
    for (name, path) in [("runc", "/usr/sbin/runc"), ("crun", "/usr/bin/crun")] {
        if Path::new(path).exists() {
            let mnt_ns = (name == "crun").then(|| crun_ns.file());
            rts.push(Rt { name, mnt_ns, bin: path.into(), root: tmp.join(format!("root-{name}")), cycle: vec![], run: vec![], rss_kb: vec![] });
        } else {
            println!("note: {name} not installed ({path}); skipped");
        }
    }
    println!("runtime_cycle: {runs} runs (+3 warm-up) per runtime, alternating; berth = {}", berth.display());
    match link_order_coverage(&manifest, &berth) {
        Some((found, total)) => println!(
            "link order: {found} of {total} hot functions of src/link-order.txt are in this binary{}",
            if found * 100 < total * 98 { " (stale: run examples/link-order.sh)" } else { "" }
        ),
        None => println!("note: could not read src/link-order.txt or run nm on the binary"),
    }
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
                if std::env::var_os("BENCH_VERBOSE").is_some() {
                    println!("{} iteration {i}: create maxrss {rss} KiB", rt.name);
                }
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{:<8} {:>14} {:>12} {:>24} {:>6}", "runtime", "cycle med ms", "run med ms", "create maxrss KiB min/med/max", "ok");
    for rt in &rts {
        let (lo, med, hi) = spread(&rt.rss_kb);
        println!("{:<8} {:>14.2} {:>12.2} {:>10}/{}/{} {:>6}", rt.name, ms(median(&rt.cycle)), ms(median(&rt.run)), lo, med, hi, rt.cycle.len());
    }
    let b = &rts[0];
    for peer in &rts[1..] {
        if peer.cycle.is_empty() || b.cycle.is_empty() {
            continue;
        }
        let ((_, b_med, b_hi), (_, p_med, p_hi)) = (spread(&b.rss_kb), spread(&peer.rss_kb));
        println!(
            "berth/{}: cycle {:.2}, run {:.2}, create maxrss median {:.2} max {:.2}",
            peer.name,
            ms(median(&b.cycle)) / ms(median(&peer.cycle)),
            ms(median(&b.run)) / ms(median(&peer.run)),
            b_med as f64 / p_med as f64,
            b_hi as f64 / p_hi as f64
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
