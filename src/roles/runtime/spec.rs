//! `spec`: write a default config.json into a bundle directory.

use std::path::PathBuf;

/// The arguments of `spec`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bundle directory (default: current directory).
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,
}

/// Writes the default spec, refusing to overwrite one.
pub fn run(a: &Args) -> Result<(), String> {
    let dir = match &a.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
    };
    let path = dir.join("config.json");
    if path.exists() {
        return Err(format!("File {} exists. Remove it first", path.display()));
    }
    std::fs::write(&path, crate::runtime::spec::DEFAULT_SPEC).map_err(|e| format!("{}: {e}", path.display()))
}
