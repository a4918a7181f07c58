//! `resume`: thaw a paused container.

use crate::runtime::Runtime;

/// Thaws container `id`.
pub fn run(rt: &Runtime, id: &str) -> Result<(), String> {
    rt.resume(id).map_err(|e| e.to_string())
}
