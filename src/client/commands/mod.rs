//! One module per command group. Every command returns the exit code it wants (after
//! printing its own per-item errors) or a [`ClientError`](super::error::ClientError) that
//! the role prints.

pub mod attach;
pub mod container;
pub mod cp;
pub mod exec;
pub mod image;
pub mod registry;
pub mod run;
pub mod system;

use super::http::escape;

/// `/containers/{id}` with the id escaped for the path.
pub(crate) fn container_path(id: &str, rest: &str) -> String {
    format!("/containers/{}{rest}", escape(id, false))
}
