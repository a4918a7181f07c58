//! The supervisor role (in progress).

use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the supervisor role.
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("supervisor: not built yet");
    ExitCode::FAILURE
}
