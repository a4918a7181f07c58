//! Turns callgrind profiles (`--dump-instr=yes`) of a berth binary into a linker symbol
//! ordering file: every function that ran, one mangled name a line, grouped by which
//! processes ran it (see [`rank`]) and in order of first appearance within a group.
//! `examples/link-order.sh` drives it; build.rs hands the file to the linker.
//!
//! Usage: `link_order <berth binary> <runtime profiles>... -- <shim profiles>... [-- <more>...]
//! > src/link-order.txt`

use std::collections::HashMap;
use std::io::Write;
use std::process::Command;

/// One function symbol of the binary: start address, size, mangled name.
struct Sym {
    addr: u64,
    size: u64,
    name: String,
}

fn symbols(binary: &str) -> Result<Vec<Sym>, String> {
    let out = Command::new("nm")
        .args(["-n", "-S", "--defined-only", binary])
        .output()
        .map_err(|e| format!("running nm: {e}"))?;
    if !out.status.success() {
        return Err(format!("nm {binary}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let mut syms = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [addr, size, kind, name] = f[..]
            && matches!(kind, "t" | "T" | "w" | "W")
            && let (Ok(addr), Ok(size)) = (u64::from_str_radix(addr, 16), u64::from_str_radix(size, 16))
        {
            syms.push(Sym { addr, size: size.max(1), name: name.to_owned() });
        }
    }
    Ok(syms)
}

/// Instruction addresses of a callgrind profile, in file order. Position lines start with
/// an absolute `0x..` address or a `+n`/`-n` offset from the previous one (name
/// compression); everything else (fn=, calls=, headers) carries no address.
fn addresses(path: &str) -> Result<Vec<u64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut cur: u64 = 0;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(tok) = line.split_whitespace().next() else { continue };
        if let Some(hex) = tok.strip_prefix("0x") {
            match u64::from_str_radix(hex, 16) {
                Ok(a) => cur = a,
                Err(_) => continue,
            }
        } else if let Some(n) = tok.strip_prefix('+').and_then(|n| n.parse::<u64>().ok()) {
            cur = cur.wrapping_add(n);
        } else if let Some(n) = tok.strip_prefix('-').and_then(|n| n.parse::<u64>().ok()) {
            cur = cur.wrapping_sub(n);
        } else {
            continue;
        }
        out.push(cur);
    }
    Ok(out)
}

/// Where a function goes, given the processes (groups of profiles) that ran it. The first
/// two groups are the runtime and the resident shim: what both run comes first, then what
/// only the runtime runs, then what only the shim runs, so that each of the two maps one
/// contiguous stretch of code and skips the other's. Later groups follow in their order.
fn rank(groups: &[usize]) -> usize {
    match (groups.contains(&0), groups.contains(&1)) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3 + groups.first().copied().unwrap_or(0),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((binary, rest)) = args.split_first().filter(|(_, p)| !p.is_empty()) else {
        eprintln!("usage: link_order <binary> <callgrind.out>... [-- <callgrind.out>...]...");
        std::process::exit(2);
    };
    let groups: Vec<&[String]> = rest.split(|a| a == "--").collect();
    let run = || -> Result<(), String> {
        let syms = symbols(binary)?;
        // Each function: first-seen position over all profiles, and the groups that ran it.
        let mut first: HashMap<&str, (usize, Vec<usize>)> = HashMap::new();
        let mut n = 0usize;
        for (g, profiles) in groups.iter().enumerate() {
            for p in profiles.iter() {
                for a in addresses(p)? {
                    let i = syms.partition_point(|s| s.addr <= a);
                    let Some(s) = i.checked_sub(1).map(|i| &syms[i]) else { continue };
                    if a >= s.addr + s.size {
                        continue;
                    }
                    let e = first.entry(s.name.as_str()).or_insert_with(|| {
                        n += 1;
                        (n, Vec::new())
                    });
                    if !e.1.contains(&g) {
                        e.1.push(g);
                    }
                }
            }
        }
        let size: HashMap<&str, u64> = syms.iter().map(|s| (s.name.as_str(), s.size)).collect();
        let mut order: Vec<(usize, usize, &str)> = first.iter().map(|(name, (pos, gs))| (rank(gs), *pos, *name)).collect();
        order.sort();
        let mut stdout = std::io::stdout().lock();
        for (_, _, name) in &order {
            writeln!(stdout, "{name}").map_err(|e| e.to_string())?;
        }
        let bytes: u64 = order.iter().map(|(_, _, n)| size.get(n).copied().unwrap_or(0)).sum();
        eprintln!("{} functions, {} KiB of code", order.len(), bytes / 1024);
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("link_order: {e}");
        std::process::exit(1);
    }
}
