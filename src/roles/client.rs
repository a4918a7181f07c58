//! The client role (in progress).

use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point of the client role.
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("client: not built yet");
    ExitCode::FAILURE
}
