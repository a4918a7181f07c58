//! tracing-subscriber set-up shared by every role: `--log-level`, `RUST_LOG`, optional file.

use std::io::IsTerminal;
use std::path::Path;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` wins over `level`; with `file`, logs are
/// appended there instead of stderr (daemons started in the background use that).
pub fn init(level: &str, file: Option<&Path>) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(path) => {
            let f = crate::fsperm::private_file().create(true).append(true).open(path)?;
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(f)).try_init()
        }
        // Colour only on a terminal: stderr sent to a file or a pipe gets plain text.
        None => builder.with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr).try_init(),
    }
    .map_err(|e| anyhow::anyhow!("logging: {e}"))
}
