//! Pull bench (issue 5 item 6): pull + unpack of a multi-layer image from a loopback
//! docker-registry, berth against `skopeo copy` + `umoci unpack`, in the same run.
//!
//! The bench makes the image itself: busybox, 16 MiB of random (incompressible) bytes, 16 MiB
//! of compressible text, and 2000 small files, pushes it with berth to a docker-registry it
//! starts on 127.0.0.1, then times, alternating which goes first, BENCH_RUNS times (default
//! 5, after one warm-up each):
//! - berth: a monolithic berthd on a fresh `--root` (started before the clock), `berth pull`
//!   (download, verify, extract every layer into the overlay2 layer store);
//! - theirs: `skopeo copy docker://… oci:DIR:tag` then `umoci unpack --image DIR:tag BUNDLE`,
//!   into fresh dirs.
//!
//! Prints both medians and berth/theirs (the target: ≤ 0.7). Needs root, skopeo,
//! umoci and docker-registry. Run: `cargo bench --bench pull`.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/images_support/mod.rs"]
mod images_support;

use common::{TempDir, TestDaemon};
use images_support::{docker_archive, layer, need, random_bytes, write_file, Registry, E};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s.get(s.len() / 2).copied().unwrap_or_default()
}

/// Text that compresses about 4:1 (words from a small vocabulary, random order).
fn compressible(len: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "container",
        "layer",
        "registry",
        "manifest",
        "digest",
        "overlay",
        "snapshot",
        "runtime",
        "shim",
        "daemon",
        "berth",
        "blob",
        "index",
        "config",
        "tar",
        "gzip",
    ];
    let noise = random_bytes(len / 4);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        let b = noise[i % noise.len()];
        out.extend_from_slice(WORDS[(b & 15) as usize].as_bytes());
        out.push(if b & 0x80 != 0 { b'\n' } else { b' ' });
        i += 1;
    }
    out.truncate(len);
    out
}

/// The bench image's layers (uncompressed tars).
fn layers() -> Vec<Vec<u8>> {
    let random = random_bytes(16 << 20);
    let text = compressible(16 << 20);
    let small: Vec<(String, Vec<u8>)> = (0..2000).map(|i| (format!("many/f{i:04}"), compressible(2048 + (i % 7) * 512))).collect();
    let mut small_entries = vec![E::Dir("many")];
    small_entries.extend(small.iter().map(|(n, d)| E::File(n, d)));
    vec![
        images_support::busybox_layer(),
        layer(&[E::Dir("data"), E::File("data/random.bin", &random)]),
        layer(&[E::Dir("text"), E::File("text/words.txt", &text)]),
        layer(&small_entries),
    ]
}

/// One berth pull on a fresh daemon root; the daemon starts before the clock.
fn berth_pull(image: &str) -> Duration {
    let d = TestDaemon::with_args("bpull", true, &[]);
    let t = Instant::now();
    d.berth_ok(&["pull", image]);
    let el = t.elapsed();
    let n = std::fs::read_dir(d.root().join("image/layers")).map(|r| r.count()).unwrap_or(0);
    assert_eq!(n, 4, "berth extracted every layer");
    el
}

/// One `skopeo copy` + `umoci unpack` into fresh dirs.
fn theirs_pull(image: &str) -> Duration {
    let tmp = TempDir::new("spull");
    let layout = format!("{}:bench", tmp.path().join("oci").display());
    let bundle = tmp.path().join("bundle");
    let t = Instant::now();
    let st = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", &format!("docker://{image}"), &format!("oci:{layout}")])
        .stdout(Stdio::null())
        .status()
        .expect("skopeo");
    assert!(st.success(), "skopeo copy failed");
    let st = Command::new("umoci").args(["unpack", "--image", &layout]).arg(&bundle).stdout(Stdio::null()).status().expect("umoci");
    assert!(st.success(), "umoci unpack failed");
    let el = t.elapsed();
    assert!(bundle.join("rootfs/many/f1999").exists(), "umoci unpacked every layer");
    el
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    need("skopeo", "skopeo");
    need("umoci", "umoci");
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let reg = Registry::start();
    let image = format!("{}/bench/pull:v1", reg.host());
    let tmp = TempDir::new("pullbench");
    let layers = layers();
    let total: usize = layers.iter().map(|l| l.len()).sum();
    let archive = write_file(tmp.path(), "bench.tar", &docker_archive(&image, &layers));
    {
        let d = TestDaemon::with_args("bpush", true, &[]);
        d.berth_ok(&["load", "-i", &archive]);
        d.berth_ok(&["push", &image]);
    }
    println!("pull bench: {} layers, {:.1} MiB uncompressed, {runs} runs (+1 warm-up) each, alternating", layers.len(), total as f64 / 1048576.0);
    berth_pull(&image);
    theirs_pull(&image);
    let (mut berth, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            berth.push(berth_pull(&image));
            theirs.push(theirs_pull(&image));
        } else {
            theirs.push(theirs_pull(&image));
            berth.push(berth_pull(&image));
        }
    }
    let (b, t) = (median(&berth), median(&theirs));
    println!(
        "berth pull + unpack:            median {:>7.1} ms  (runs: {:?})",
        b.as_secs_f64() * 1e3,
        berth.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
    );
    println!(
        "skopeo copy + umoci unpack:     median {:>7.1} ms  (runs: {:?})",
        t.as_secs_f64() * 1e3,
        theirs.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
    );
    println!("berth/theirs: {:.2} (target <= 0.7)", b.as_secs_f64() / t.as_secs_f64());
}
