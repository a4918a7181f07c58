//! The logging-binary role (`berth logger <stdio URI>`): what containerd's runc shim runs for
//! a `binary://` stdout URI (containerd's shim logging protocol). The container's stdout and
//! stderr arrive on fds 3 and 4, closing fd 5 tells the shim it is ready, and the
//! environment holds CONTAINER_ID and CONTAINER_NAMESPACE only. berthd names it when its
//! containers run under containerd's runc shim, so that the shim's child, not berthd, writes
//! the json-file log (`jsonfile://PATH[?max-size=N&max-file=M]`), as berth's own shim does.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{FromRawFd, RawFd};
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

/// Takes fd `fd`, inherited from the shim; None when it is not open.
fn inherited(fd: RawFd) -> Option<File> {
    // SAFETY: F_GETFD only reads the fd's flags; a closed fd makes it fail with EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: the fd is open, was inherited for us, and nothing else in this process owns it.
    Some(unsafe { File::from_raw_fd(fd) })
}

/// Entry point of the logger role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let [_, uri] = args.as_slice() else {
        eprintln!("usage: berth logger jsonfile://PATH[?max-size=N&max-file=M] (run by a shim: output on fds 3 and 4, fd 5 closed when ready)");
        return ExitCode::from(2);
    };
    let uri = uri.to_string_lossy();
    if !uri.starts_with("jsonfile://") {
        eprintln!("berth logger: {uri:?}: only jsonfile:// logs are written here");
        return ExitCode::from(2);
    }
    let id = std::env::var("CONTAINER_ID").unwrap_or_default();
    let (Some(stdout), Some(stderr), Some(ready)) = (inherited(3), inherited(4), inherited(5)) else {
        eprintln!("berth logger: fds 3 (stdout), 4 (stderr) and 5 (ready) must be open");
        return ExitCode::from(2);
    };
    // The shim sends SIGTERM when it releases the container's io, after closing its ends of
    // the pipes: what is still in them is written first (at most DRAIN_TIMEOUT), instead of
    // dying with it. Blocked here, before any thread starts, so that only sigwait takes it.
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    if let Err(e) = term.thread_block() {
        eprintln!("berth logger: block SIGTERM: {e}");
        return ExitCode::FAILURE;
    }
    let drain = match crate::stdio::copy_streams(&id, stdout, stderr, &uri) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("berth logger: {e}");
            return ExitCode::FAILURE;
        }
    };
    drop(ready);
    let d = drain.clone();
    let waiter = std::thread::Builder::new().name("sigterm".into()).spawn(move || {
        if term.wait().is_ok() {
            d.wait(crate::stdio::DRAIN_TIMEOUT);
            std::process::exit(0);
        }
    });
    if let Err(e) = waiter {
        eprintln!("berth logger: spawn signal thread: {e}");
    }
    while !drain.wait(Duration::from_secs(3600)) {}
    ExitCode::SUCCESS
}
