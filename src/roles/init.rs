//! The init role (`docker-init [--] COMMAND [ARG...]`): PID 1 of a container created with
//! `--init` (see [`crate::init`]). tini's options are not implemented and are refused.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;

/// Entry point of the init role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let mut rest = args.into_iter().skip(1).peekable();
    match rest.peek().map(|a| a.to_string_lossy().into_owned()) {
        Some(a) if a == "--" => {
            rest.next();
        }
        Some(a) if a.starts_with('-') => {
            eprintln!("berth init: option {a:?} is not supported (usage: docker-init [--] COMMAND [ARG...])");
            return ExitCode::from(2);
        }
        _ => {}
    }
    let argv: Result<Vec<CString>, _> = rest.map(|a| CString::new(a.into_vec())).collect();
    let Ok(argv) = argv else {
        eprintln!("berth init: an argument holds a NUL byte");
        return ExitCode::from(2);
    };
    match crate::init::run(&argv) {
        // A shell's convention: only the low 8 bits of a status exist.
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        Err(e) => {
            eprintln!("berth init: {e}");
            ExitCode::from(1)
        }
    }
}
