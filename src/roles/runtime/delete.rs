//! `delete`: remove a container (kill it first with `--force`).

use crate::runtime::Runtime;

/// The arguments of `delete`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Container id.
    pub id: String,
}

/// Deletes the container.
pub fn run(rt: &Runtime, a: &Args) -> Result<(), String> {
    match rt.delete(&a.id, a.force) {
        // runc: `delete --force` of a container that does not exist (e.g. after a failed
        // create) has nothing left to do and succeeds.
        Err(e) if a.force && e.is_not_found() => Ok(()),
        r => r.map_err(|e| e.to_string()),
    }
}
