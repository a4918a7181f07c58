//! argv[0] → role. Each role lives in its own file and only parses, wires and calls the
//! libraries.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

pub mod client;
pub mod daemon;
pub mod init;
pub mod logger;
pub mod proxy;
pub mod runtime;
pub mod shim;
pub mod supervisor;

/// A role of the multicall binary: the names it answers to and its entry point.
struct Role {
    names: &'static [&'static str],
    sub: &'static str,
    main: fn(Vec<OsString>) -> ExitCode,
}

const ROLES: &[Role] = &[
    Role { names: &["berth"], sub: "client", main: client::main },
    Role { names: &["berthd"], sub: "daemon", main: daemon::main },
    Role { names: &["berth-supervisor"], sub: "supervisor", main: supervisor::main },
    Role { names: &["berth-shim", "containerd-shim-berth-v2"], sub: "shim", main: shim::main },
    Role { names: &["berth-runtime"], sub: "runtime", main: runtime::main },
    // Run by containerd's runc shim as `<berth> logger URI` (its `binary://` logging).
    Role { names: &["berth-logger"], sub: "logger", main: logger::main },
    // One per published port, as docker-proxy (see net::proxy).
    Role { names: &["berth-proxy"], sub: "proxy", main: proxy::main },
    // PID 1 of a `--init` container: berthd binds this binary at /sbin/docker-init.
    Role { names: &["docker-init", "berth-init"], sub: "init", main: init::main },
];

/// Names `install-links` creates, pointing at this binary.
pub const LINK_NAMES: &[&str] = &["berthd", "berth-supervisor", "berth-shim", "containerd-shim-berth-v2", "berth-runtime", "berth-proxy"];

fn role_list() -> String {
    ROLES.iter().flat_map(|r| r.names.iter().copied()).collect::<Vec<_>>().join(", ")
}

/// Picks the role from argv[0]'s basename, or from `berth <role> ...`, or (for `berth`
/// with no role argument) from the role a berth that re-executed itself put in the
/// environment.
pub fn dispatch(mut args: Vec<OsString>) -> ExitCode {
    let argv0 = args.first().cloned().unwrap_or_else(|| OsString::from("berth"));
    let base = Path::new(&argv0).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if base == "berth" {
        // `berth <role> ...` reaches a role without a symlink.
        if let Some(sub) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) {
            if sub == "install-links" {
                return install_links(args.get(2).map(Path::new));
            }
            if let Some(role) = ROLES.iter().find(|r| r.sub == sub && r.sub != "client") {
                let name = role.names[0];
                args.remove(0);
                args[0] = OsString::from(name);
                return (role.main)(args);
            }
        }
        // A re-executed berth whose argv[0] a wrapper replaced (see util::self_command).
        if let Ok(name) = std::env::var(crate::util::ROLE_ENV)
            && let Some(role) = ROLES.iter().find(|r| r.names.contains(&name.as_str()))
        {
            args[0] = OsString::from(name);
            return (role.main)(args);
        }
        return client::main(args);
    }
    match ROLES.iter().find(|r| r.names.contains(&base.as_str())) {
        Some(role) => (role.main)(args),
        None => {
            eprintln!("berth: unknown role name {base:?} (argv[0]); this binary answers to: {}", role_list());
            ExitCode::from(2)
        }
    }
}

fn install_links(dir: Option<&Path>) -> ExitCode {
    let Some(dir) = dir else {
        eprintln!("usage: berth install-links DIR");
        return ExitCode::from(2);
    };
    let (exe, dir) = match (std::env::current_exe().and_then(|e| e.canonicalize()), dir.canonicalize()) {
        (Ok(e), Ok(d)) => (e, d),
        (Err(e), _) => {
            eprintln!("berth install-links: cannot find own executable: {e}");
            return ExitCode::FAILURE;
        }
        (_, Err(e)) => {
            eprintln!("berth install-links: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    for name in LINK_NAMES.iter().chain(std::iter::once(&"berth")) {
        let link = dir.join(name);
        // Never replace the binary itself when it already lives in DIR under a role's name.
        if link == exe {
            continue;
        }
        let _ = std::fs::remove_file(&link);
        if let Err(e) = std::os::unix::fs::symlink(&exe, &link) {
            eprintln!("berth install-links: {}: {e}", link.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
