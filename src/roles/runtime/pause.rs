//! `pause`: freeze every process of a container.

use crate::runtime::Runtime;

/// Freezes container `id`.
pub fn run(rt: &Runtime, id: &str) -> Result<(), String> {
    rt.pause(id).map_err(|e| e.to_string())
}
