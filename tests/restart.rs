//! Why the split matters (issue 2, items 4 and 5): in modular mode containers outlive a
//! SIGKILLed daemon and supervisor; in monolithic mode they die with the daemon.

mod common;

use common::{argv0_of, pid_alive, ppid_of, wait_until, TestDaemon};

fn inspect_pid(d: &TestDaemon, name: &str) -> i32 {
    let out = d.berth_ok(&["inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    v[0]["State"]["Pid"].as_i64().expect("State.Pid") as i32
}

fn ticks(d: &TestDaemon, name: &str) -> Vec<u64> {
    d.berth_ok(&["logs", name]).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

const COUNTER: &str = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done";

#[test]
fn modular_containers_survive_sigkill_of_daemon_and_supervisor_without_losing_logs() {
    let mut d = TestDaemon::modular("survive");
    d.import_busybox();
    d.berth_ok(&["run", "-d", "--name", "counter", "busybox", "sh", "-c", COUNTER]);
    d.berth_ok(&["run", "-d", "--name", "shortlived", "busybox", "sh", "-c", "sleep 2; exit 7"]);
    let pid = inspect_pid(&d, "counter");
    assert!(pid > 0);
    let parent = ppid_of(pid).expect("parent of the container init");
    let parent_name = argv0_of(parent).unwrap_or_default();
    assert!(parent_name.contains("shim"), "container's parent is a shim, not {parent_name}");
    assert_ne!(parent, d.pid());
    assert_ne!(Some(parent), d.supervisor_pid());

    d.kill_daemon();
    d.kill_supervisor();
    let log = std::fs::read_dir(d.root().join("containers"))
        .expect("containers dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p.join("config.v2.json")).unwrap_or_default().contains("\"/counter\""))
        .expect("counter's dir");
    let log_file =
        std::fs::read_dir(&log).expect("dir").flatten().map(|e| e.path()).find(|p| p.to_string_lossy().ends_with("-json.log")).expect("log file");
    let before = std::fs::metadata(&log_file).expect("log").len();
    // Long enough for the short-lived container to exit while nobody above the shim runs.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(pid_alive(pid), "container survived the kills");
    assert!(std::fs::metadata(&log_file).expect("log").len() > before, "container kept logging while both were down");

    d.start();
    let ps = d.berth_ok(&["ps"]);
    assert!(ps.lines().any(|l| l.ends_with("counter") && l.contains("Up")), "counter reported running:\n{ps}");
    assert_eq!(inspect_pid(&d, "counter"), pid);
    assert!(
        wait_until(10, || d.berth_ok(&["ps", "-a"]).lines().any(|l| l.ends_with("shortlived") && l.contains("Exited (7)"))),
        "exit while down is reported with its true code:\n{}",
        d.berth_ok(&["ps", "-a"])
    );
    let seq = ticks(&d, "counter");
    assert!(seq.len() > 20, "counter log: {seq:?}\n{}", d.log());
    for w in seq.windows(2) {
        assert_eq!(w[1], w[0] + 1, "no log line lost around the outage");
    }
    d.berth_ok(&["stop", "-t", "1", "counter"]);
    assert!(wait_until(10, || !pid_alive(pid)));
    d.berth_ok(&["rm", "counter", "shortlived"]);
}

#[test]
fn monolithic_containers_die_with_the_daemon_and_show_exited_after_restart() {
    let mut d = TestDaemon::monolithic("die");
    d.import_busybox();
    d.berth_ok(&["run", "-d", "--name", "counter", "busybox", "sh", "-c", COUNTER]);
    let pid = inspect_pid(&d, "counter");
    assert_eq!(ppid_of(pid), Some(d.pid()), "in monolithic mode the container is the daemon's child");
    d.kill_daemon();
    assert!(wait_until(10, || !pid_alive(pid)), "container died with the daemon");
    d.start();
    let ps = d.berth_ok(&["ps", "-a"]);
    assert!(ps.lines().any(|l| l.ends_with("counter") && l.contains("Exited")), "listed as exited:\n{ps}");
    assert!(d.container_pids().is_empty(), "no process left");
    // The API answers once the exits are on record; the rootfs mounts are released after.
    assert!(wait_until(10, || d.mounts().is_empty()), "no mount left: {:?}", d.mounts());
    let leftover: Vec<_> = d
        .cgroup_dirs()
        .iter()
        .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten().filter(|e| e.path().is_dir()).map(|e| e.path()))
        .collect();
    assert!(leftover.is_empty(), "no container cgroup left: {leftover:?}");
    d.berth_ok(&["rm", "counter"]);
}

#[test]
fn a_container_started_as_soon_as_a_monolithic_berthd_is_back_keeps_its_rootfs() {
    let mut d = TestDaemon::monolithic("dieup");
    d.import_busybox();
    let names: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
    for n in &names {
        d.berth_ok(&["run", "-d", "--name", n, "busybox", "sh", "-c", COUNTER]);
    }
    let pids: Vec<i32> = names.iter().map(|n| inspect_pid(&d, n)).collect();
    d.kill_daemon();
    assert!(wait_until(10, || pids.iter().all(|&p| !pid_alive(p))), "containers died with the daemon");
    d.start();
    // Started while the dead containers' mounts may still be being released: the start
    // waits for that release, which never unmounts the rootfs it has just mounted.
    d.berth_ok(&["start", "c0"]);
    // c0's rootfs and its network namespace file.
    let overlays = || d.mounts().iter().filter(|m| m.contains("/overlay2/")).count();
    let netns = || d.mounts().iter().filter(|m| m.contains("/exec/netns/")).count();
    assert!(wait_until(10, || overlays() == 1 && netns() == 1 && d.mounts().len() == 2), "only c0's rootfs and netns stay mounted: {:?}", d.mounts());
    assert_eq!(d.berth_ok(&["exec", "c0", "cat", "/etc/hostname"]).trim().len(), 12, "c0 runs on its rootfs");
    assert!(d.berth_ok(&["exec", "c0", "ls", "/bin/busybox"]).contains("busybox"));
    for n in &names {
        d.berth_ok(&["rm", "-f", n]);
    }
    assert!(wait_until(10, || d.mounts().is_empty()), "no mount left: {:?}", d.mounts());
}

#[test]
fn berthd_restarts_a_killed_supervisor_and_its_containers_stay_managed() {
    let d = TestDaemon::modular("respawn");
    d.import_busybox();
    d.berth_ok(&["run", "-d", "--name", "counter", "busybox", "sh", "-c", COUNTER]);
    let pid = inspect_pid(&d, "counter");
    let old = d.supervisor_pid().expect("supervisor pid");
    d.kill_supervisor();
    assert!(wait_until(15, || d.supervisor_pid().is_some_and(|p| p != old && pid_alive(p))), "berthd started a new supervisor");
    assert!(pid_alive(pid), "the container outlived its supervisor");
    d.berth_ok(&["stop", "-t", "1", "counter"]);
    assert!(wait_until(10, || !pid_alive(pid)));
    assert!(d.berth_ok(&["ps", "-a"]).lines().any(|l| l.ends_with("counter") && l.contains("Exited (137)")));
    d.berth_ok(&["rm", "counter"]);
}
