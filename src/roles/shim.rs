//! The shim role (in progress).

use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the shim role.
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("shim: not built yet");
    ExitCode::FAILURE
}
