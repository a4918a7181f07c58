//! Container logs in Docker's json-file format: written by whoever holds the container's
//! stdio (the shim in modular mode, the daemon in monolithic mode), read by the daemon.

pub mod jsonfile;
pub mod rotate;
