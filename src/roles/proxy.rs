//! The userland port proxy role (`berth-proxy`, docker-proxy's flags): berthd runs one per
//! published port (see net::proxy).

use crate::net::proxy;
use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the proxy role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args.into_iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    if args.iter().any(|a| a == "-h" || a == "--help" || a == "-help") {
        println!("usage: berth-proxy [-proto tcp|udp] -host-ip IP -host-port N -container-ip IP -container-port N [-ready-fd FD]");
        return ExitCode::SUCCESS;
    }
    let parsed = match proxy::parse_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match proxy::run(&parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
