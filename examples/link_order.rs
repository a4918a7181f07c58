//! Turns callgrind profiles (`--dump-instr=yes`) of a berth binary into a linker symbol
//! ordering file: every function that ran, one mangled name a line, grouped by which
//! processes ran it (see [`rank`]) and in order of first appearance within a group.
//! `examples/link-order.sh` drives it; build.rs hands the file to the linker.
//!
//! Usage: `link_order <berth binary> <runtime profiles>... -- <shim start-up profiles>... --
//! <resident shim steady-state profiles>... [-- <more>...]
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
    let out = Command::new("nm").args(["-n", "-S", "--defined-only", binary]).output().map_err(|e| format!("running nm: {e}"))?;
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

/// Where a function goes, given the processes (groups of profiles) that ran it. The groups
/// are: 0 the runtime, 1 the shims' start-up (up to the container's start), 2 the resident
/// shim's steady state (after it; the shim sheds the pages of everything else then, see
/// `footprint`), then the others. The shim's steady state comes first, then what it shares
/// with the runtime, then the rest of the runtime, so that a resident shim maps one short
/// stretch of code, and the runtime one contiguous stretch that starts inside it. Later
/// groups follow in their order.
fn rank(groups: &[usize]) -> usize {
    let (runtime, start, steady) = (groups.contains(&0), groups.contains(&1), groups.contains(&2));
    match (steady, runtime, start) {
        (true, false, _) => 0,
        (true, true, _) => 1,
        (false, true, true) => 2,
        (false, true, false) => 3,
        (false, false, true) => 4,
        (false, false, false) => 5 + groups.first().copied().unwrap_or(0),
    }
}

/// Functions that run in the resident shim's address space after set-up, but that its
/// profile cannot show:
/// - the child side of glibc's posix_spawn, which std's Command uses to start the runtime
///   and the publish binary: the child shares the parent's memory (CLONE_VM) until it
///   execs, so the pages it runs are mapped into the shim; valgrind turns that clone into a
///   fork and loses the child's profile at the exec;
/// - the shim's shedding of its code pages (`footprint`), which runs once, at the end of
///   set-up, so lands in the start-up profile, although what it runs after the shed must
///   be mapped again.
fn unprofiled_steady(name: &str) -> bool {
    const SPAWN_CHILD: &[&str] = &[
        "__spawni_child",
        "__sigprocmask",
        "sigprocmask",
        "__pthread_sigmask",
        "pthread_sigmask",
        "__libc_sigaction",
        "__sigaction",
        "sigaction",
        "__setsid",
        "setsid",
        "__setpgid",
        "setpgid",
        "__dup2",
        "dup2",
        "__close_nocancel",
        "__open_nocancel",
        "__close_range",
        "close_range",
        "__chdir",
        "chdir",
        "__fchdir",
        "fchdir",
        "__execve",
        "execve",
        "__execvpex",
        "__execvpe",
        "__strchrnul",
        "_exit",
        "__GI__exit",
    ];
    SPAWN_CHILD.contains(&name) || ifunc_family(name).is_some_and(|f| SPAWN_CHILD.contains(&f)) || name.contains("5berth9footprint")
}

/// The family of a glibc string function variant (`__memmove_avx_unaligned_erms` is one of
/// `__memmove`'s), or None for other functions.
fn ifunc_family(name: &str) -> Option<&str> {
    if !name.starts_with("__") {
        return None;
    }
    ["_sse", "_ssse3", "_avx", "_evex", "_erms"].iter().filter_map(|m| name.find(m)).min().map(|i| &name[..i])
}

/// Puts every variant of a glibc string function next to the one that ran. Which variant
/// an ifunc picks depends on the CPU, and valgrind's virtual CPU lacks AVX-512: the profile
/// shows `__memchr_avx2` where the machine runs `__memchr_evex`.
fn with_ifunc_siblings<'a>(order: Vec<(usize, usize, &'a str)>, syms: &'a [Sym]) -> Vec<(usize, usize, &'a str)> {
    let mut seen: std::collections::HashSet<&str> = order.iter().map(|(_, _, n)| *n).collect();
    let mut out = Vec::with_capacity(order.len());
    for (rank, pos, name) in order {
        out.push((rank, pos, name));
        let Some(family) = ifunc_family(name) else { continue };
        for s in syms {
            if ifunc_family(&s.name) == Some(family) && seen.insert(s.name.as_str()) {
                out.push((rank, pos, s.name.as_str()));
            }
        }
    }
    out
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
        // Steady-state code no profile can show (see `unprofiled_steady`).
        for s in &syms {
            if unprofiled_steady(&s.name) {
                let e = first.entry(s.name.as_str()).or_insert_with(|| {
                    n += 1;
                    (n, Vec::new())
                });
                if !e.1.contains(&2) {
                    e.1.push(2);
                }
            }
        }
        let size: HashMap<&str, u64> = syms.iter().map(|s| (s.name.as_str(), s.size)).collect();
        let mut order: Vec<(usize, usize, &str)> = first.iter().map(|(name, (pos, gs))| (rank(gs), *pos, *name)).collect();
        order.sort();
        let order = with_ifunc_siblings(order, &syms);
        let mut stdout = std::io::stdout().lock();
        for (_, _, name) in &order {
            writeln!(stdout, "{name}").map_err(|e| e.to_string())?;
        }
        let bytes: u64 = order.iter().map(|(_, _, n)| size.get(n).copied().unwrap_or(0)).sum();
        eprintln!("{} functions, {} KiB of code", order.len(), bytes / 1024);
        let mut per_rank: std::collections::BTreeMap<usize, (usize, u64)> = Default::default();
        for (r, _, n) in &order {
            let e = per_rank.entry(*r).or_default();
            e.0 += 1;
            e.1 += size.get(n).copied().unwrap_or(0);
        }
        for (r, (count, b)) in per_rank {
            eprintln!("  rank {r}: {count} functions, {} KiB", b / 1024);
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("link_order: {e}");
        std::process::exit(1);
    }
}
