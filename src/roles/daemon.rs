//! The daemon role (in progress).

use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the daemon role.
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("daemon: not built yet");
    ExitCode::FAILURE
}
