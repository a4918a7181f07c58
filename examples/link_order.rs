//! Turns callgrind profiles (`--dump-instr=yes`) of a berth binary into a linker symbol
//! ordering file: every function that ran, in order of first appearance, one mangled name
//! a line. `examples/link-order.sh` drives it; build.rs hands the file to the linker.
//!
//! Usage: `link_order <berth binary> <callgrind.out>... > src/link-order.txt`

use std::collections::HashSet;
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((binary, profiles)) = args.split_first().filter(|(_, p)| !p.is_empty()) else {
        eprintln!("usage: link_order <binary> <callgrind.out>...");
        std::process::exit(2);
    };
    let run = || -> Result<(), String> {
        let syms = symbols(binary)?;
        let mut seen = HashSet::new();
        let mut stdout = std::io::stdout().lock();
        let (mut count, mut bytes) = (0usize, 0u64);
        for p in profiles {
            for a in addresses(p)? {
                let i = syms.partition_point(|s| s.addr <= a);
                let Some(s) = i.checked_sub(1).map(|i| &syms[i]) else { continue };
                if a < s.addr + s.size && seen.insert(s.name.as_str()) {
                    writeln!(stdout, "{}", s.name).map_err(|e| e.to_string())?;
                    count += 1;
                    bytes += s.size;
                }
            }
        }
        eprintln!("{count} functions, {} KiB of code", bytes / 1024);
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("link_order: {e}");
        std::process::exit(1);
    }
}
