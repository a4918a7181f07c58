//! The client's command line, as clap reads it: docker's commands, flags and management
//! sub-commands (`container ...`, `image ...`, `system ...`), each mapped onto one
//! top-level command so both spellings run the same code.

use crate::client::commands::{network, run_net, stats, update};
#[cfg(test)]
use clap::CommandFactory;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "berth", about = "A self-sufficient runtime for containers", version, arg_required_else_help = true)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path)
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level", default_value = "warn")]
    pub log_level: String,
    /// Location of client config files (default $DOCKER_CONFIG, else ~/.docker)
    #[arg(long = "config", value_name = "DIR")]
    pub config: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run a command in a new container
    Run(Box<RunArgs>),
    /// Create a new container (`run`'s flags; not started)
    Create(Box<RunArgs>),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneContainer),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(Containers),
    /// Unpause all processes within one or more containers
    Unpause(Containers),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Start one or more stopped containers
    Start(Containers),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Containers),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// List images
    Images(ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Download an image from a registry
    Pull(NameArg),
    /// Upload an image to a registry
    Push(NameArg),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout {
        /// SERVER (default: Docker Hub)
        server: Option<String>,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCmd),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCmd),
    /// Show the berth version information
    Version(FormatArg),
    /// Display system-wide information
    Info(FormatArg),
    /// Generate the autocompletion script for the specified shell
    Completion {
        /// bash, zsh or fish
        shell: clap_complete::Shell,
    },
}

/// `berth container COMMAND`: docker's container management commands.
#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Create a new container (`run`'s flags; not started)
    Create(Box<RunArgs>),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneContainer),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Display detailed information on one or more containers
    Inspect(ContainerInspectArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Pause all processes within one or more containers
    Pause(Containers),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Remove one or more containers
    #[command(visible_aliases = ["remove"])]
    Rm(RmArgs),
    /// Create and run a new container from an image
    Run(Box<RunArgs>),
    /// Start one or more stopped containers
    Start(Containers),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Unpause all processes within one or more containers
    Unpause(Containers),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Containers),
}

/// `berth image COMMAND`: docker's image management commands.
#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// Show the history of an image
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Display detailed information on one or more images
    Inspect(ImageInspectArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// List images
    #[command(visible_aliases = ["list"])]
    Ls(ImagesArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Download an image from a registry
    Pull(NameArg),
    /// Upload an image to a registry
    Push(NameArg),
    /// Remove one or more images
    #[command(visible_aliases = ["remove"])]
    Rm(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
}

/// `berth system COMMAND`.
#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show berth disk usage
    Df {
        /// Show detailed information on space usage
        #[arg(short, long)]
        verbose: bool,
    },
    /// Get real time events from the server
    Events(EventsArgs),
    /// Display system-wide information
    Info(FormatArg),
    /// Remove unused data
    Prune(SystemPruneArgs),
}

impl ContainerCmd {
    /// The top-level command this one is another spelling of (`None`: its own).
    pub fn into_cmd(self) -> Result<Cmd, ContainerInspectArgs> {
        Ok(match self {
            ContainerCmd::Attach(a) => Cmd::Attach(a),
            ContainerCmd::Commit(a) => Cmd::Commit(a),
            ContainerCmd::Cp(a) => Cmd::Cp(a),
            ContainerCmd::Create(a) => Cmd::Create(a),
            ContainerCmd::Diff(a) => Cmd::Diff(a),
            ContainerCmd::Exec(a) => Cmd::Exec(a),
            ContainerCmd::Export(a) => Cmd::Export(a),
            ContainerCmd::Inspect(a) => return Err(a),
            ContainerCmd::Kill(a) => Cmd::Kill(a),
            ContainerCmd::Logs(a) => Cmd::Logs(a),
            ContainerCmd::Ls(a) => Cmd::Ps(a),
            ContainerCmd::Pause(a) => Cmd::Pause(a),
            ContainerCmd::Port(a) => Cmd::Port(a),
            ContainerCmd::Prune(a) => Cmd::Container(ContainerCmd::Prune(a)),
            ContainerCmd::Rename(a) => Cmd::Rename(a),
            ContainerCmd::Restart(a) => Cmd::Restart(a),
            ContainerCmd::Rm(a) => Cmd::Rm(a),
            ContainerCmd::Run(a) => Cmd::Run(a),
            ContainerCmd::Start(a) => Cmd::Start(a),
            ContainerCmd::Stop(a) => Cmd::Stop(a),
            ContainerCmd::Stats(a) => Cmd::Stats(a),
            ContainerCmd::Top(a) => Cmd::Top(a),
            ContainerCmd::Update(a) => Cmd::Update(a),
            ContainerCmd::Unpause(a) => Cmd::Unpause(a),
            ContainerCmd::Wait(a) => Cmd::Wait(a),
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    pub container: String,
}

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, allow_negative_numbers = true)]
    pub last: Option<i64>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time")]
    pub time: Option<i64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(clap::Args, Debug)]
pub struct OneContainer {
    pub container: String,
}

#[derive(clap::Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// ps OPTIONS
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct Containers {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    /// Only inspect objects of the given type (container or image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ContainerInspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImageInspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// A tar file, or "-" for stdin
    pub file: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

/// `berth update`'s flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_parser = update::parse_cpus)]
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_parser = update::parse_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_parser = update::parse_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_parser = update::parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_parser = crate::client::commands::run::parse_restart)]
    pub restart: Option<crate::api::types::RestartPolicy>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    /// The library's options.
    pub fn options(self) -> update::UpdateOptions {
        update::UpdateOptions {
            blkio_weight: self.blkio_weight,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
            cpus: self.cpus,
            cpuset_cpus: self.cpuset_cpus,
            cpuset_mems: self.cpuset_mems,
            memory: self.memory,
            memory_reservation: self.memory_reservation,
            memory_swap: self.memory_swap,
            pids_limit: self.pids_limit,
            restart: self.restart,
            containers: self.containers,
        }
    }
}

/// `berth stats`' flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl StatsArgs {
    /// The library's options.
    pub fn options(self) -> stats::StatsOptions {
        stats::StatsOptions { all: self.all, no_stream: self.no_stream, no_trunc: self.no_trunc, format: self.format, containers: self.containers }
    }
}

#[derive(clap::Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a local path, or - (a tar on stdin)
    pub src: String,
    /// CONTAINER:DEST_PATH, a local path, or - (a tar on stdout)
    pub dest: String,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    pub container: String,
}

#[derive(clap::Args, Debug)]
pub struct NameArg {
    /// NAME[:TAG|@DIGEST]
    pub name: String,
}

#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// SERVER (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(clap::Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    pub image: String,
}

#[derive(clap::Args, Debug)]
pub struct FormatArg {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune volumes
    #[arg(long)]
    pub volumes: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Memory limit (e.g. 64m, 1g, bytes)
    #[arg(short, long, value_parser = parse_memory)]
    pub memory: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:max-retries])
    #[arg(long, value_parser = crate::client::commands::run::parse_restart)]
    pub restart: Option<crate::api::types::RestartPolicy>,
    /// Logging driver for the container (json-file)
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub net: RunNetArgs,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(required = true, trailing_var_arg = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub image_and_cmd: Vec<String>,
}

/// `run`'s network flags (checked by the library, which words errors as docker does).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunNetArgs {
    /// Connect a container to a network (bridge, host, none, container:NAME, a network, or name=NET,alias=A,ip=IP,...)
    #[arg(long = "network", visible_alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", visible_alias = "net-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Add link to another container (NAME[:ALIAS])
    #[arg(long)]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip", value_name = "IP")]
    pub link_local_ip: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort[-end]]:containerPort[-end][/proto])
    #[arg(short = 'p', long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", visible_alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip, host=ip, or host:host-gateway)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
}

impl RunNetArgs {
    /// The library's options.
    pub fn options(self) -> run_net::NetOptions {
        run_net::NetOptions {
            networks: self.network,
            ip: self.ip,
            ip6: self.ip6,
            aliases: self.network_alias,
            links: self.link,
            link_local_ips: self.link_local_ip,
            mac_address: self.mac_address,
            publish: self.publish,
            publish_all: self.publish_all,
            expose: self.expose,
            dns: self.dns,
            dns_search: self.dns_search,
            dns_options: self.dns_option,
            add_hosts: self.add_host,
        }
    }
}

/// `berth port`'s arguments.
#[derive(clap::Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub private_port: Option<String>,
}

/// `berth network COMMAND`: docker's network management commands.
#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Create a network
    Create(NetworkCreateArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// List networks
    #[command(visible_aliases = ["list"])]
    Ls(NetworkLsArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Remove one or more networks
    #[command(visible_aliases = ["remove"])]
    Rm(NetworkRmArgs),
}

/// `berth network create`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkCreateArgs {
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver (NAME=IP)
    #[arg(long = "aux-address", value_name = "NAME=IP")]
    pub aux_address: Vec<String>,
    /// The network from which to copy the configuration
    #[arg(long = "config-from", value_name = "NETWORK")]
    pub config_from: Option<String>,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_delimiter = ',')]
    pub gateway: Vec<String>,
    /// Create swarm routing-mesh network
    #[arg(long)]
    pub ingress: bool,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_delimiter = ',')]
    pub ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "KEY=VALUE")]
    pub ipam_opt: Vec<String>,
    /// Enable or disable IPv4 address assignment
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// Control the network's scope
    #[arg(long, default_value = "")]
    pub scope: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_delimiter = ',')]
    pub subnet: Vec<String>,
    pub name: String,
}

impl NetworkCreateArgs {
    /// The library's options.
    pub fn options(self) -> network::CreateOptions {
        network::CreateOptions {
            name: self.name,
            driver: self.driver,
            driver_opts: self.opt,
            labels: self.label,
            scope: self.scope,
            internal: self.internal,
            attachable: self.attachable,
            ingress: self.ingress,
            config_only: self.config_only,
            config_from: self.config_from,
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            ipam_driver: self.ipam_driver,
            ipam_opts: self.ipam_opt,
            subnets: self.subnet,
            ip_ranges: self.ip_range,
            gateways: self.gateway,
            aux_addresses: self.aux_address,
        }
    }
}

/// `berth network ls`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkLsArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
}

/// `berth network inspect`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkInspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// `berth network rm`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// `berth network connect`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias")]
    pub alias: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_delimiter = ',')]
    pub driver_opt: Vec<String>,
    /// Highest gw-priority provides the default gateway
    #[arg(long = "gw-priority", default_value_t = 0, allow_negative_numbers = true)]
    pub gw_priority: i64,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long)]
    pub link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    pub network: String,
    pub container: String,
}

impl NetworkConnectArgs {
    /// The library's options.
    pub fn options(self) -> network::ConnectOptions {
        network::ConnectOptions {
            network: self.network,
            container: self.container,
            ip: self.ip,
            ip6: self.ip6,
            links: self.link,
            aliases: self.alias,
            link_local_ips: self.link_local_ip,
            driver_opts: self.driver_opt,
            gw_priority: self.gw_priority,
        }
    }
}

/// `berth network disconnect`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <uid>[:<gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the key sequence for detaching from the process
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// CONTAINER COMMAND [ARG...]
    #[arg(required = true, num_args = 2.., trailing_var_arg = true, value_name = "CONTAINER COMMAND [ARG...]")]
    pub container_and_cmd: Vec<String>,
}

pub fn parse_memory(s: &str) -> Result<i64, String> {
    crate::units::parse_ram_bytes(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
