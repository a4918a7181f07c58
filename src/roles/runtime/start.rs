//! `start`: let a created container's init run the user process.

use crate::runtime::Runtime;

/// Starts container `id`.
pub fn run(rt: &Runtime, id: &str) -> Result<(), String> {
    rt.start(id).map_err(|e| e.to_string())
}
