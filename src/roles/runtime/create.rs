//! `create`: make a container from a bundle; its init waits for `start`.

use std::path::PathBuf;

use crate::runtime::{CreateExtra, CreateOptions, Runtime};

/// The flags of `create` (and `run`).
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    /// Bundle directory (default: current directory).
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master (process.terminal).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// runc's "do not use pivot_root": refused, berth-runtime always pivots.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a session keyring: berth-runtime never creates one.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) on to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
}

impl Args {
    /// The bundle directory, the create options and the less common ones.
    pub fn options(&self) -> Result<(PathBuf, CreateOptions, CreateExtra), String> {
        if self.no_pivot {
            return Err("--no-pivot is not supported: berth-runtime always uses pivot_root".into());
        }
        let bundle = match &self.bundle {
            Some(b) => b.clone(),
            None => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
        };
        let opts = CreateOptions { pid_file: self.pid_file.clone(), stdio: None, parent_death_signal: None };
        let extra = CreateExtra { console_socket: self.console_socket.clone(), preserve_fds: self.preserve_fds, spec: None };
        Ok((bundle, opts, extra))
    }
}

/// Creates the container.
pub fn run(rt: &Runtime, a: &Args) -> Result<(), String> {
    let (bundle, opts, extra) = a.options()?;
    rt.create_ext(&a.id, &bundle, &opts, &extra).map_err(|e| e.to_string())?;
    Ok(())
}
