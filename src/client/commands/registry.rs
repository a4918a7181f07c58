//! `berth login` / `berth logout`: the daemon checks the credentials against the registry
//! (`POST /auth`), the client keeps them in its Docker-compatible config.json.

use crate::client::config::ClientConfig;
use crate::client::error::{ClientError, Result};
use crate::client::http::EngineClient;
use crate::image::login::HUB_ADDRESS;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

/// What `berth login` was given.
pub struct LoginOptions {
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_stdin: bool,
}

/// Reads one line from stdin (without its newline); with `hide` and a terminal, without echo.
fn read_line(prompt: &str, hide: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    // Echo off while a password is typed; restored right after.
    let saved = if hide && tty { nix::sys::termios::tcgetattr(&stdin).ok() } else { None };
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(nix::sys::termios::LocalFlags::ECHO);
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    if let Some(t) = &saved {
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, t);
        eprintln!();
    }
    r.map_err(|e| ClientError::io("read stdin", e))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// `berth login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]`.
pub async fn login(client: &EngineClient, opts: LoginOptions, config: &Path) -> Result<u8> {
    let server = opts.server.unwrap_or_else(|| HUB_ADDRESS.to_owned());
    if opts.password.is_some() && opts.password_stdin {
        return Err(ClientError::Invalid("--password and --password-stdin are mutually exclusive".into()));
    }
    if opts.password_stdin && opts.username.is_none() {
        return Err(ClientError::Invalid("Must provide --username with --password-stdin".into()));
    }
    let username = match opts.username {
        Some(u) => u,
        None => read_line("Username: ", false)?,
    };
    let password = match opts.password {
        Some(p) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        None => read_line("Password: ", true)?,
    };
    if username.is_empty() || password.is_empty() {
        return Err(ClientError::Invalid("Error: Non-null Username and Password Required".into()));
    }
    let body = serde_json::json!({ "username": username, "password": password, "serveraddress": server });
    let answer: serde_json::Value = client.post_json("/auth", &body).await?;
    let mut cfg = ClientConfig::load(config)?;
    cfg.set(&server, &username, &password);
    cfg.save()?;
    eprintln!("WARNING! Your password will be stored unencrypted in {}.", config.join("config.json").display());
    println!("{}", answer.get("Status").and_then(|s| s.as_str()).unwrap_or("Login Succeeded"));
    Ok(0)
}

/// `berth logout [SERVER]`.
pub fn logout(server: Option<&str>, config: &Path) -> Result<u8> {
    let server = server.unwrap_or(HUB_ADDRESS);
    let mut cfg = ClientConfig::load(config)?;
    if cfg.erase(server) {
        cfg.save()?;
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
