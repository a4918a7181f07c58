//! `features`: print what this runtime implements (JSON, like `runc features`).

/// Prints the features document.
pub fn run() -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(&crate::runtime::features::features()).map_err(|e| e.to_string())?);
    Ok(())
}
