//! Fault-injection bench (issue 11, must-show 4): the same runs as `tests/faults.rs` with
//! 200 SIGKILLs per victim (`FAULT_KILLS` overrides; `FAULT_SEED` sets the seed, printed),
//! printing the number of invariant violations per victim (target 0).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/faults_support/mod.rs"]
mod faults_support;

use faults_support::{kills_from_env, run, seed_from_env, Plan, Victim};

fn main() {
    let kills = kills_from_env(200);
    let seed = seed_from_env();
    println!("fault injection bench: {kills} kills per victim, FAULT_SEED={seed}");
    let plans = [
        (Victim::Berthd, false),
        (Victim::Berthd, true),
        (Victim::Supervisor, false),
        (Victim::Shim, false),
        (Victim::Runtime, false),
        (Victim::Runtime, true),
    ];
    let mut total = 0;
    println!("{:<12} {:<11} {:>6} {:>7} {:>11}", "victim", "mode", "kills", "rounds", "violations");
    for (victim, monolithic) in plans {
        let r = run(&Plan { victim, monolithic, kills, seed });
        let mode = if monolithic { "monolithic" } else { "modular" };
        println!("{:<12} {:<11} {:>6} {:>7} {:>11}", format!("{victim:?}"), mode, r.kills, r.iterations, r.violations.len());
        for v in &r.violations {
            println!("    {v}");
        }
        total += r.violations.len();
    }
    println!("total invariant violations: {total}");
}
