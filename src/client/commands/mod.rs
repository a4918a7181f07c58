//! One module per command group. Every command returns the exit code it wants (after
//! printing its own per-item errors) or a [`ClientError`](super::error::ClientError) that
//! the role prints.

pub mod attach;
pub mod container;
pub mod cp;
pub mod exec;
pub mod image;
pub mod network;
pub mod port;
pub mod registry;
pub mod run;
pub mod run_net;
pub mod stats;
pub mod system;
pub mod update;

use super::http::escape;

/// `/containers/{id}` with the id escaped for the path.
pub(crate) fn container_path(id: &str, rest: &str) -> String {
    format!("/containers/{}{rest}", escape(id, false))
}

/// Asks `question` on stdout and reads the answer from stdin: docker's `[y/N]` prompt.
pub fn confirm(question: &str) -> bool {
    use std::io::Write;
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
