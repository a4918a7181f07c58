//! `berth run`: create → attach → wait → start → copy output → exit with the container's
//! code, exactly the order the docker CLI uses.

use super::container_path;
use crate::api::types::{ContainerConfig, ContainerCreateRequest, ContainerCreateResponse, HostConfig, LogConfig, RestartPolicy, WaitResponse};
use crate::client::error::{ClientError, Result};
use crate::client::http::{empty, read_body, EngineClient, Query};
use hyper::Method;

/// What `berth run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub detach: bool,
    pub rm: bool,
    pub name: Option<String>,
    pub env: Vec<String>,
    pub memory: Option<i64>,
    pub pids_limit: Option<i64>,
    /// `--restart`.
    pub restart: RestartPolicy,
    pub log_driver: Option<String>,
    /// `--log-opt KEY=VALUE` entries (a bare KEY is sent with an empty value).
    pub log_opts: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
    /// `--detach-keys` (the daemon's default, ctrl-p ctrl-q, when None).
    pub detach_keys: Option<String>,
    /// `--sig-proxy` (docker's default: true).
    pub sig_proxy: bool,
    pub image: String,
    pub cmd: Vec<String>,
    /// `--network`, `-p`, `--dns`... (see [`run_net`](super::run_net)).
    pub net: super::run_net::NetOptions,
}

/// Docker's `-e KEY` (no '='): takes KEY's value from our environment when it is set.
pub fn expand_env(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            if e.contains('=') {
                e.clone()
            } else {
                match std::env::var(e) {
                    Ok(v) => format!("{e}={v}"),
                    Err(_) => e.clone(),
                }
            }
        })
        .collect()
}

/// The body of `POST /containers/create` for `opts`.
pub fn create_request(opts: &RunOptions) -> ContainerCreateRequest {
    let env = expand_env(&opts.env);
    ContainerCreateRequest {
        config: ContainerConfig {
            image: opts.image.clone(),
            cmd: if opts.cmd.is_empty() { None } else { Some(opts.cmd.clone()) },
            env: if env.is_empty() { None } else { Some(env) },
            attach_stdin: opts.interactive && !opts.detach,
            attach_stdout: !opts.detach,
            attach_stderr: !opts.detach,
            tty: opts.tty,
            open_stdin: opts.interactive,
            // As docker: the end of a foreground run's input closes the container's stdin.
            stdin_once: opts.interactive && !opts.detach,
            ..Default::default()
        },
        host_config: HostConfig {
            // The terminal starts at our size (docker sends it from API 1.42).
            console_size: opts.tty.then(super::exec::terminal_size).flatten().map(|(w, h)| [h, w]),
            memory: opts.memory.unwrap_or(0),
            pids_limit: opts.pids_limit,
            auto_remove: opts.rm,
            restart_policy: opts.restart.clone(),
            log_config: LogConfig {
                kind: opts.log_driver.clone().unwrap_or_default(),
                config: opts
                    .log_opts
                    .iter()
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (kv.clone(), String::new()),
                    })
                    .collect(),
            },
            ..Default::default()
        },
        networking_config: None,
    }
}

/// The JSON body of `POST /containers/create` for `opts`: [`create_request`] with the
/// network members docker's CLI sends; an error is docker's message for a bad flag.
pub fn create_body(opts: &RunOptions) -> Result<serde_json::Value> {
    let mut body = serde_json::to_value(create_request(opts))?;
    super::run_net::apply(&opts.net, &mut body).map_err(ClientError::Invalid)?;
    Ok(body)
}

/// `--restart NAME[:MAX]` as the docker CLI reads it; the daemon checks the policy itself.
pub fn parse_restart(s: &str) -> std::result::Result<RestartPolicy, String> {
    let (name, count) = match s.split_once(':') {
        Some((name, n)) => {
            (name, n.parse::<i64>().map_err(|_| format!("invalid restart policy format: maximum retry count must be an integer: {n:?}"))?)
        }
        None => (s, 0),
    };
    if name.is_empty() {
        return Err("invalid restart policy format: no policy provided before colon".into());
    }
    Ok(RestartPolicy { name: name.to_owned(), maximum_retry_count: count })
}

/// "busybox" → "busybox:latest", as docker names the image it cannot find.
fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Exit code docker uses when starting the container failed.
pub fn start_error_code(message: &str) -> u8 {
    let m = message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") {
        126
    } else {
        125
    }
}

/// Prints a failure of `run` the way docker does (prefixed, with a hint).
pub fn print_run_error(err: &ClientError) {
    eprintln!("berth: {err}\n\nRun 'berth run --help' for more information");
}

fn report_start_error(err: &ClientError) -> u8 {
    print_run_error(err);
    start_error_code(&err.to_string())
}

async fn start(client: &EngineClient, id: &str) -> Result<()> {
    client.post_empty(&container_path(id, "/start")).await.map(|_| ())
}

/// Signals forwarded to an attached container, with the names docker's CLI sends.
const PROXIED: &[(i32, &str)] = &[
    (libc::SIGINT, "INT"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGHUP, "HUP"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
];

/// Starts catching the signals in [`PROXIED`] (before the container starts, so none is
/// missed); they queue up until [`proxy_signals`] forwards them.
pub(super) fn catch_signals() -> tokio::sync::mpsc::UnboundedReceiver<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    for &(num, name) in PROXIED {
        match signal(SignalKind::from_raw(num)) {
            Ok(mut s) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(name).is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot proxy SIG{name}: {e}"),
        }
    }
    rx
}

/// Forwards caught signals to the container with `POST /containers/{id}/kill?signal=NAME`
/// until forwarding fails (then the error is returned, so the user is never stuck).
pub(super) async fn proxy_signals(client: &EngineClient, id: &str, mut rx: tokio::sync::mpsc::UnboundedReceiver<&'static str>) -> ClientError {
    while let Some(name) = rx.recv().await {
        let path = container_path(id, &format!("/kill{}", Query::new().set("signal", name).encode()));
        tracing::debug!("forwarding SIG{name} to {id}");
        if let Err(e) = client.post_empty(&path).await {
            return e;
        }
    }
    std::future::pending::<ClientError>().await
}

/// `POST /containers/create` for `opts`, printing the daemon's warnings; the new id.
async fn create_container(client: &EngineClient, opts: &RunOptions) -> Result<String> {
    let req = create_body(opts)?;
    let path = format!("/containers/create{}", Query::new().set_opt("name", opts.name.as_deref()).encode());
    let created: ContainerCreateResponse = match client.post_json(&path, &req).await {
        Ok(c) => c,
        Err(e) => {
            if e.status() == Some(404) {
                eprintln!("Unable to find image '{}' locally", with_default_tag(&opts.image));
            }
            return Err(e);
        }
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(created.id)
}

/// Runs `berth create`: the container `run` would make, not started; prints its id.
pub async fn create(client: &EngineClient, opts: RunOptions) -> Result<u8> {
    if opts.detach {
        return Err(ClientError::Invalid("unknown shorthand flag: 'd' in -d".into()));
    }
    let id = create_container(client, &opts).await?;
    println!("{id}");
    Ok(0)
}

/// Runs `berth run`. Errors returned here are daemon/API errors (the role exits 125).
pub async fn run(client: &EngineClient, opts: RunOptions) -> Result<u8> {
    if opts.tty && opts.interactive && !opts.detach && !super::attach::stdin_is_terminal() {
        return Err(ClientError::Invalid("the input device is not a TTY".into()));
    }
    let id = create_container(client, &opts).await?;

    if opts.detach {
        // docker prints the id as soon as the container exists, before starting it.
        println!("{id}");
        if let Err(e) = start(client, &id).await {
            return Ok(report_start_error(&e));
        }
        return Ok(0);
    }

    // Attach first, so no output (and no input) is lost.
    let stream = super::attach::StreamOptions { stdin: opts.interactive, tty: opts.tty, detach_keys: opts.detach_keys.clone() };
    let attach = super::attach::open(client, &id, &stream).await?;

    // Then wait, before start, so a quick exit is not missed.
    let cond = if opts.rm { "removed" } else { "next-exit" };
    let wait_resp =
        client.call(Method::POST, &container_path(&id, &format!("/wait{}", Query::new().set("condition", cond).encode())), &[], empty()).await;
    let wait_resp = match wait_resp {
        Ok(r) => r,
        Err(e) => {
            attach.abort();
            return Err(e);
        }
    };
    let wait = tokio::spawn(async move {
        let body = read_body(wait_resp).await?;
        crate::client::http::decode::<WaitResponse>(&body)
    });

    // As docker: signals are proxied only to a container without a terminal.
    let signals = (opts.sig_proxy && !opts.tty).then(catch_signals);
    // A terminal of ours goes raw for the container's pty (which echoes and edits lines).
    let raw = if opts.tty && opts.interactive { crate::terminal::RawMode::enter().ok().flatten() } else { None };
    if let Err(e) = start(client, &id).await {
        drop(raw);
        attach.abort();
        wait.abort();
        return Ok(report_start_error(&e));
    }
    let resizer = opts.tty.then(|| tokio::spawn(super::exec::follow_window_size(client.clone(), container_path(&id, "/resize"))));

    let finished = async {
        match attach.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("attach stream: {e}"),
            Err(e) => tracing::warn!("attach task: {e}"),
        }
        if let Some(r) = resizer {
            r.abort();
        }
        // The stream ended with the container running: detached (the detach keys, or the
        // end of a terminal's input); the container runs on.
        if client.get_value(&container_path(&id, "/json")).await.is_ok_and(|c| c["State"]["Running"] == true) {
            wait.abort();
            return Ok(None);
        }
        match wait.await {
            Ok(r) => r.map(Some),
            Err(e) => Err(ClientError::Invalid(format!("waiting for the container: {e}"))),
        }
    };
    // Like docker's default --sig-proxy: signals we receive go to the container.
    let proxied = async {
        match signals {
            Some(rx) => proxy_signals(client, &id, rx).await,
            None => std::future::pending().await,
        }
    };
    let status = tokio::select! {
        r = finished => r?,
        e = proxied => return Err(e),
    };
    drop(raw);
    let Some(status) = status else { return Ok(0) };
    if let Some(err) = status.error.as_ref().filter(|e| !e.message.is_empty()) {
        eprintln!("Error waiting for container: {}", err.message);
    }
    Ok((status.status_code & 0xff) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_has_docker_field_names() {
        let opts = RunOptions {
            detach: true,
            rm: true,
            env: vec!["A=1".into()],
            memory: Some(67108864),
            pids_limit: Some(10),
            image: "busybox".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(create_request(&opts)).unwrap_or_default();
        assert_eq!(v["Image"], "busybox");
        assert!(v["Cmd"].is_null());
        assert_eq!(v["Env"][0], "A=1");
        assert_eq!(v["AttachStdout"], false);
        assert_eq!(v["HostConfig"]["Memory"], 67108864);
        assert_eq!(v["HostConfig"]["PidsLimit"], 10);
        assert_eq!(v["HostConfig"]["AutoRemove"], true);
    }

    #[test]
    fn start_errors_map_to_docker_codes() {
        assert_eq!(start_error_code("exec: \"nosuch\": executable file not found in $PATH"), 127);
        assert_eq!(start_error_code("open /x: no such file or directory"), 127);
        assert_eq!(start_error_code("exec /etc: permission denied"), 126);
        assert_eq!(start_error_code("something else"), 125);
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(with_default_tag("busybox:1"), "busybox:1");
    }
}
