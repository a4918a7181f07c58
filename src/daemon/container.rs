//! A container as the daemon keeps it: its settings, its state, persisted as
//! `<root>/containers/<id>/config.v2.json` (crash-safe).

use crate::api::types::{ContainerConfig, HostConfig};
use crate::image::config::RunConfig;
use serde::{Deserialize, Serialize};

/// Lifecycle states, with Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Exited,
    Removing,
}

impl Status {
    /// Docker's word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Removing => "removing",
        }
    }
}

/// The mutable part of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub status: Status,
    /// A running container whose processes are frozen (`pause`); `status` stays Running, as
    /// Docker keeps `Running` true for a paused container.
    pub paused: bool,
    /// An exited container waiting out its restart policy's back-off; `status` stays
    /// Exited, as nothing runs (Docker's inspect shows it running and restarting).
    pub restarting: bool,
    pub pid: i32,
    pub exit_code: i64,
    pub error: String,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The healthcheck's verdict, for a container that has one.
    pub health: Option<crate::api::types::Health>,
    /// The OOM killer acted in its cgroup since it last started.
    pub oom_killed: bool,
}

/// One container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    pub id: String,
    /// With Docker's leading slash.
    pub name: String,
    pub created: chrono::DateTime<chrono::Utc>,
    /// The image id ("sha256:...").
    pub image_id: String,
    /// The image as the user named it.
    pub image_name: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// The command that runs: entrypoint + cmd, image defaults applied.
    pub path: String,
    pub args: Vec<String>,
    /// Final environment (image env, then user env).
    pub env: Vec<String>,
    pub state: State,
    pub log_path: String,
    /// Restarts made by the restart policy since the user last started it.
    pub restart_count: u32,
    /// Stopped or killed through the API: no restart policy brings it back (but `always`
    /// does when the daemon starts, as Docker's).
    pub manually_stopped: bool,
    /// The networks it is on, by name, with what it asked of each (none for the host, none
    /// and container network modes).
    pub networks: std::collections::BTreeMap<String, super::network::EndpointConfig>,
    /// Its network namespace and endpoints while it runs (bridge networks).
    pub sandbox: Option<super::network::Sandbox>,
}

impl Container {
    /// Docker's state word: "paused" for a paused running container, else the status's.
    pub fn state_name(&self) -> &'static str {
        match self.state.status {
            Status::Running if self.state.paused => "paused",
            Status::Exited if self.state.restarting => "restarting",
            s => s.as_str(),
        }
    }

    /// `Status` column of `docker ps`: "Up 5 seconds", "Up 5 seconds (Paused)",
    /// "Exited (0) 3 seconds ago", "Created".
    pub fn status_text(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        match self.state.status {
            Status::Running => {
                let since = self.state.started_at.unwrap_or(self.created);
                let up = format!("Up {}", crate::units::human_duration((now - since).num_seconds()));
                match &self.state.health {
                    _ if self.state.paused => format!("{up} (Paused)"),
                    Some(h) if h.status == "starting" => format!("{up} (health: starting)"),
                    Some(h) => format!("{up} ({})", h.status),
                    None => up,
                }
            }
            Status::Exited => {
                let since = self.state.finished_at.unwrap_or(self.created);
                let word = if self.state.restarting { "Restarting" } else { "Exited" };
                format!("{word} ({}) {} ago", self.state.exit_code, crate::units::human_duration((now - since).num_seconds()))
            }
            Status::Created => "Created".into(),
            Status::Removing => "Removal In Progress".into(),
        }
    }

    /// The command line as `docker ps` shows it.
    pub fn command_line(&self) -> String {
        std::iter::once(self.path.as_str()).chain(self.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }
}

/// The (entrypoint, cmd) of `c` as Docker's inspect shows them, split back out of the
/// argv it runs: the user's own halves as given, the rest of the argv as the other half;
/// `img` (the image's defaults, when the image is still there) splits an argv that came
/// wholly from the image.
pub fn inspect_command(c: &Container, img: Option<&RunConfig>) -> (Vec<String>, Vec<String>) {
    let argv: Vec<String> = std::iter::once(c.path.clone()).chain(c.args.iter().cloned()).collect();
    let own = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    match (own(&c.config.entrypoint), own(&c.config.cmd)) {
        (Some(e), _) if argv.starts_with(&e) => {
            let rest = argv[e.len()..].to_vec();
            (e, rest)
        }
        (None, Some(cmd)) if argv.ends_with(&cmd) => (argv[..argv.len() - cmd.len()].to_vec(), cmd),
        (None, None) if img.is_some() => img.map(|i| effective_command(&c.config, i)).unwrap_or_default(),
        _ => (Vec::new(), argv),
    }
}

/// The (entrypoint, cmd) a container created with `req` runs on an image with defaults
/// `img`: its own when given, else the image's; an explicit entrypoint resets the image's
/// cmd, as in Docker.
pub fn effective_command(req: &ContainerConfig, img: &RunConfig) -> (Vec<String>, Vec<String>) {
    let own_entrypoint = req.entrypoint.clone().filter(|e| !e.is_empty());
    let cmd = match &req.cmd {
        Some(c) if !c.is_empty() => c.clone(),
        _ if own_entrypoint.is_some() => Vec::new(),
        _ => img.cmd.clone().unwrap_or_default(),
    };
    let entrypoint = own_entrypoint.or_else(|| img.entrypoint.clone()).unwrap_or_default();
    (entrypoint, cmd)
}
