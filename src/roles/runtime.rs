//! The runtime role (in progress).

use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the runtime role.
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("runtime: not built yet");
    ExitCode::FAILURE
}
