//! `list`: the containers under the root, as a table, JSON or ids.

use std::path::Path;

use crate::runtime::Runtime;

/// The flags of `list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// `table` or `json`.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

/// Prints the containers of `rt` (whose state lives under `root`).
pub fn run(rt: &Runtime, root: &Path, a: &Args) -> Result<(), String> {
    let list = rt.list().map_err(|e| e.to_string())?;
    if a.quiet {
        for s in &list {
            println!("{}", s.id);
        }
    } else if a.format == "json" {
        // runc's list entries also carry the owner.
        let mut out = Vec::with_capacity(list.len());
        for s in &list {
            let mut v = serde_json::to_value(s).map_err(|e| e.to_string())?;
            if let Some(o) = v.as_object_mut() {
                o.insert("owner".into(), serde_json::Value::String(owner_of(&root.join(&s.id))));
            }
            out.push(v);
        }
        println!("{}", serde_json::to_string(&out).map_err(|e| e.to_string())?);
    } else {
        println!("{:<20} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for s in &list {
            println!("{:<20} {:<8} {:<10} {:<40} {:<32} {}", s.id, s.pid, s.status, s.bundle.display(), s.created, owner_of(&root.join(&s.id)));
        }
    }
    Ok(())
}

/// The user name owning a container's state directory (runc's OWNER column).
fn owner_of(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(dir) else { return String::new() };
    crate::accounts::host_user(md.uid()).unwrap_or_else(|| md.uid().to_string())
}
