//! Fault injection (issue 11, must-show 4): for each of berthd (both modes), the supervisor,
//! a shim and a runtime process (both modes), SIGKILL at random instants of a container's
//! create → start → exec → stop → rm; after each recovery every container's state is true,
//! `start` and `rm -f` work, and nothing of a removed container is left. Seeded (printed;
//! `FAULT_SEED` overrides) and bounded (30 kills per victim; `FAULT_KILLS` overrides).
//! `benches/faults.rs` runs the same with 200 kills. Also: half-written records are removed
//! at start (issue 11 item 9).

mod common;
mod faults_support;

use common::TestDaemon;
use faults_support::{kills_from_env, run, seed_from_env, Plan, Victim};

fn check(victim: Victim, monolithic: bool) {
    let plan = Plan { victim, monolithic, kills: kills_from_env(30), seed: seed_from_env() };
    eprintln!("fault injection: victim {victim:?}, monolithic {monolithic}, {} kills, FAULT_SEED={}", plan.kills, plan.seed);
    let r = run(&plan);
    eprintln!("{} kills in {} rounds, {} violations", r.kills, r.iterations, r.violations.len());
    assert!(r.violations.is_empty(), "FAULT_SEED={}: {} invariant violations:\n{}", plan.seed, r.violations.len(), r.violations.join("\n"));
    assert!(r.kills * 2 >= plan.kills, "only {} of {} kills landed in {} rounds", r.kills, plan.kills, r.iterations);
}

#[test]
fn sigkill_of_berthd_at_random_instants_leaves_true_states_and_nothing_after_rm() {
    check(Victim::Berthd, false);
}

#[test]
fn sigkill_of_monolithic_berthd_at_random_instants_leaves_true_states_and_nothing_after_rm() {
    check(Victim::Berthd, true);
}

#[test]
fn sigkill_of_the_supervisor_at_random_instants_leaves_true_states_and_nothing_after_rm() {
    check(Victim::Supervisor, false);
}

#[test]
fn sigkill_of_a_shim_at_random_instants_leaves_true_states_and_nothing_after_rm() {
    check(Victim::Shim, false);
}

#[test]
fn sigkill_of_the_runtime_at_random_instants_leaves_true_states_and_nothing_after_rm() {
    check(Victim::Runtime, false);
}

#[test]
fn sigkill_of_monolithic_container_setup_at_random_instants_leaves_true_states_and_nothing_after_rm() {
    check(Victim::Runtime, true);
}

/// A pid above pid_max: the writer of a temp file named with it is surely gone.
const DEAD_PID: u32 = 0x3fff_fff0;

#[test]
fn records_that_never_became_whole_are_removed_at_start_and_whole_ones_kept() {
    let mut d = TestDaemon::modular("halfrec");
    d.import_busybox();
    let created = faults_support::docker(&d.host(), &d.dir.path().join("docker-config"), &["create", "--name", "whole", "busybox", "true"]);
    assert!(created.status.success(), "docker create: {}", String::from_utf8_lossy(&created.stderr));
    let whole_id = faults_support::id_of(&d, "whole").expect("id of whole");
    d.kill_daemon();
    // A create cut short: the container dir holds only the temp file of its record.
    let half = d.root().join("containers").join("a".repeat(64));
    std::fs::create_dir_all(&half).expect("mkdir");
    std::fs::write(half.join(format!(".config.v2.json.tmp.{DEAD_PID}")), b"{\"Id\":").expect("write");
    // A record update cut short beside a whole record, and one in the supervisor's store.
    let whole = d.root().join("containers").join(&whole_id);
    let stray = whole.join(format!(".config.v2.json.tmp.{DEAD_PID}"));
    std::fs::write(&stray, b"{").expect("write");
    let sup = d.root().join("supervisor/berth/containers");
    std::fs::create_dir_all(&sup).expect("mkdir");
    let sup_stray = sup.join(format!(".x.json.tmp.{DEAD_PID}"));
    std::fs::write(&sup_stray, b"{").expect("write");
    d.kill_supervisor();
    d.start();
    assert!(!half.exists(), "the half-made container dir is removed");
    assert!(!stray.exists() && !sup_stray.exists(), "stray temp files are removed");
    assert!(whole.join("config.v2.json").exists(), "the whole record stays");
    let ps = d.berth_ok(&["ps", "-a"]);
    assert_eq!(ps.lines().skip(1).count(), 1, "only the whole container is listed:\n{ps}");
    assert!(ps.contains("whole"), "{ps}");
    let log = d.log();
    assert_eq!(log.matches("create never completed").count(), 1, "one line about it:\n{log}");
    // At the next start nothing is left to warn about.
    d.kill_daemon();
    d.start();
    assert_eq!(d.log().matches("create never completed").count(), 1, "warned once, not at every start");
    assert!(!d.log().contains("skipping container record"), "no record skipped:\n{}", d.log());
    d.berth_ok(&["rm", "whole"]);
}
