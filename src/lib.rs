//! berth: a container engine with Docker's architecture (client, daemon, supervisor, shim,
//! OCI runtime) in one multicall binary. See DESIGN.md in the shared folder and README.md.

#![recursion_limit = "256"]

pub mod accounts;
pub mod api;
pub mod bundle;
pub mod client;
pub mod daemon;
pub mod exitcode;
pub mod footprint;
pub mod fsperm;
pub mod image;
pub mod init;
pub mod inroot;
pub mod logging;
pub mod logs;
pub mod mountinfo;
pub mod mountopts;
pub mod net;
pub mod proto;
pub mod roles;
pub mod runtime;
pub mod shim;
pub mod stdio;
pub mod storage;
pub mod supervisor;
pub mod terminal;
pub mod units;
pub mod util;
pub mod volume;
