//! `state`: print a container's OCI state JSON.

use crate::runtime::Runtime;

/// Prints the state of container `id`.
pub fn run(rt: &Runtime, id: &str) -> Result<(), String> {
    let st = rt.state(id).map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&st).map_err(|e| e.to_string())?);
    Ok(())
}
