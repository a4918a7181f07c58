//! The client role (`berth`, like the docker CLI): clap arguments, then one call into
//! `crate::client`, then the exit code docker would use.

use crate::client::commands::{attach, container, exec, image, registry, run, system};
use crate::client::{ClientError, Endpoint, EngineClient};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "berth", about = "A self-sufficient runtime for containers", version, arg_required_else_help = true)]
struct Cli {
    /// Daemon socket to connect to (unix:///path)
    #[arg(short = 'H', long = "host", global = true, value_name = "HOST")]
    host: Option<String>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level", global = true, default_value = "warn")]
    log_level: String,
    /// Location of client config files (default $DOCKER_CONFIG, else ~/.docker)
    #[arg(long = "config", global = true, value_name = "DIR")]
    config: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a command in a new container
    Run(RunArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach {
        /// Do not attach STDIN
        #[arg(long)]
        no_stdin: bool,
        /// Override the key sequence for detaching a container
        #[arg(long, value_name = "KEYS")]
        detach_keys: Option<String>,
        /// Proxy all received signals to the process
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        sig_proxy: bool,
        container: String,
    },
    /// List containers
    Ps {
        /// Show all containers (default shows just running)
        #[arg(short, long)]
        all: bool,
        /// Only display container IDs
        #[arg(short, long)]
        quiet: bool,
        /// Don't truncate output
        #[arg(long)]
        no_trunc: bool,
    },
    /// Fetch the logs of a container
    Logs {
        /// Follow log output
        #[arg(short, long)]
        follow: bool,
        /// Number of lines to show from the end of the logs
        #[arg(short = 'n', long)]
        tail: Option<String>,
        /// Show timestamps
        #[arg(short, long)]
        timestamps: bool,
        container: String,
    },
    /// Stop one or more running containers
    Stop {
        /// Seconds to wait for stop before killing it
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Restart one or more containers
    Restart {
        /// Seconds to wait for stop before killing it
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Rename a container
    Rename { container: String, new_name: String },
    /// Inspect changes to files or directories on a container's filesystem
    Diff { container: String },
    /// Kill one or more running containers
    Kill {
        /// Signal to send to the container
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Pause all processes within one or more containers
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Unpause all processes within one or more containers
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove one or more containers
    Rm {
        /// Force the removal of a running container (uses SIGKILL)
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Start one or more stopped containers
    Start {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Block until one or more containers stop, then print their exit codes
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Return low-level information on containers or images
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List images
    Images(ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import {
        /// Apply Dockerfile instruction to the created image
        #[arg(short, long = "change", value_name = "INSTRUCTION")]
        change: Vec<String>,
        /// Set commit message for imported image
        #[arg(short, long)]
        message: Option<String>,
        /// A tar file, or "-" for stdin
        file: String,
        /// REPOSITORY[:TAG]
        reference: Option<String>,
    },
    /// Create a new image from a container's changes
    Commit {
        /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
        #[arg(short, long)]
        author: Option<String>,
        /// Apply Dockerfile instruction to the created image
        #[arg(short, long = "change", value_name = "INSTRUCTION")]
        change: Vec<String>,
        /// Commit message
        #[arg(short, long)]
        message: Option<String>,
        /// Pause container during commit
        #[arg(short, long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
        pause: bool,
        container: String,
        /// REPOSITORY[:TAG]
        reference: Option<String>,
    },
    /// Copy files/folders between a container and the local filesystem
    Cp {
        /// Archive mode (copy all uid/gid information)
        #[arg(short, long)]
        archive: bool,
        /// Always follow symbol link in SRC_PATH
        #[arg(short = 'L', long)]
        follow_link: bool,
        /// Suppress progress output during copy
        #[arg(short, long)]
        quiet: bool,
        /// CONTAINER:SRC_PATH, a local path, or - (a tar on stdin)
        src: String,
        /// CONTAINER:DEST_PATH, a local path, or - (a tar on stdout)
        dest: String,
    },
    /// Export a container's filesystem as a tar archive
    Export {
        /// Write to a file, instead of STDOUT
        #[arg(short, long)]
        output: Option<String>,
        container: String,
    },
    /// Download an image from a registry
    Pull {
        /// NAME[:TAG|@DIGEST]
        name: String,
    },
    /// Upload an image to a registry
    Push {
        /// NAME[:TAG]
        name: String,
    },
    /// Log in to a registry
    Login {
        /// Username
        #[arg(short, long)]
        username: Option<String>,
        /// Password
        #[arg(short, long)]
        password: Option<String>,
        /// Take the password from stdin
        #[arg(long)]
        password_stdin: bool,
        /// SERVER (default: Docker Hub)
        server: Option<String>,
    },
    /// Log out from a registry
    Logout {
        /// SERVER (default: Docker Hub)
        server: Option<String>,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Remove one or more images
    Rmi {
        /// Force removal of the image
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save {
        /// Write to a file, instead of STDOUT
        #[arg(short, long)]
        output: Option<String>,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Load an image from a tar archive or STDIN
    Load {
        /// Read from tar archive file, instead of STDIN
        #[arg(short, long)]
        input: Option<String>,
    },
    /// Show the history of an image
    History {
        /// Don't truncate output
        #[arg(long)]
        no_trunc: bool,
        image: String,
    },
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCmd),
    /// Show the berth version information
    Version,
    /// Display system-wide information
    Info,
}

#[derive(Subcommand, Debug)]
enum ImageCmd {
    /// Display detailed information on one or more images
    Inspect {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// List images
    Ls(ImagesArgs),
    /// Remove unused images
    Prune {
        /// Remove all unused images, not just dangling ones
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        /// Provide filter values
        #[arg(long, value_name = "FILTER")]
        filter: Vec<String>,
    },
    /// Remove one or more images
    Rm {
        /// Force removal of the image
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum SystemCmd {
    /// Show berth disk usage
    Df {
        /// Show detailed information on space usage
        #[arg(short, long)]
        verbose: bool,
    },
}

#[derive(clap::Args, Debug)]
struct ImagesArgs {
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Filter output based on conditions provided (dangling=true|false, reference=PATTERN)
    #[arg(short, long, value_name = "FILTER")]
    filter: Vec<String>,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Memory limit (e.g. 64m, 1g, bytes)
    #[arg(short, long, value_parser = parse_memory)]
    memory: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:max-retries])
    #[arg(long, value_parser = run::parse_restart)]
    restart: Option<crate::api::types::RestartPolicy>,
    /// Logging driver for the container (json-file)
    #[arg(long = "log-driver")]
    log_driver: Option<String>,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    log_opt: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    sig_proxy: bool,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(required = true, trailing_var_arg = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    image_and_cmd: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <uid>[:<gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Override the key sequence for detaching from the process
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// CONTAINER COMMAND [ARG...]
    #[arg(required = true, num_args = 2.., trailing_var_arg = true, value_name = "CONTAINER COMMAND [ARG...]")]
    container_and_cmd: Vec<String>,
}

fn parse_memory(s: &str) -> Result<i64, String> {
    crate::units::parse_ram_bytes(s).map_err(|e| e.to_string())
}

/// Entry point of the client role.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let level = if cli.log_level == "fatal" { "error" } else { cli.log_level.as_str() };
    if let Err(e) = crate::logging::init(level, None) {
        eprintln!("berth: {e}");
        return ExitCode::from(2);
    }
    // `run` reports its own failures with docker's 125; everything else with 1.
    let failure_code = if matches!(cli.cmd, Cmd::Run(_)) { 125 } else { 1 };
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let endpoint = match Endpoint::resolve(cli.host.as_deref(), docker_host.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(failure_code);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let client = EngineClient::new(endpoint);
    let is_run = matches!(cli.cmd, Cmd::Run(_));
    let result = rt.block_on(dispatch(&client, cli.cmd, cli.config.as_deref()));
    // A read of our stdin may still be blocked in a runtime thread (exec -i on a terminal
    // that did not end): do not wait for it.
    rt.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_run {
                run::print_run_error(&e);
            } else {
                eprintln!("{e}");
            }
            ExitCode::from(failure_code)
        }
    }
}

async fn dispatch(client: &EngineClient, cmd: Cmd, config: Option<&str>) -> Result<u8, ClientError> {
    let config_dir = crate::client::config::config_dir(config);
    match cmd {
        Cmd::Run(a) => {
            let mut it = a.image_and_cmd.into_iter();
            let image = it.next().unwrap_or_default();
            let opts = run::RunOptions {
                detach: a.detach,
                rm: a.rm,
                name: a.name,
                env: a.env,
                memory: a.memory,
                pids_limit: a.pids_limit,
                restart: a.restart.unwrap_or_default(),
                log_driver: a.log_driver,
                log_opts: a.log_opt,
                tty: a.tty,
                interactive: a.interactive,
                detach_keys: a.detach_keys,
                sig_proxy: a.sig_proxy,
                image,
                cmd: it.collect(),
            };
            run::run(client, opts).await
        }
        Cmd::Exec(a) => {
            let mut it = a.container_and_cmd.into_iter();
            let opts = exec::ExecOptions {
                detach: a.detach,
                interactive: a.interactive,
                tty: a.tty,
                env: a.env,
                workdir: a.workdir,
                user: a.user,
                privileged: a.privileged,
                detach_keys: a.detach_keys,
                container: it.next().unwrap_or_default(),
                cmd: it.collect(),
            };
            exec::exec(client, opts).await
        }
        Cmd::Attach { no_stdin, detach_keys, sig_proxy, container } => {
            attach::attach(client, attach::AttachOptions { no_stdin, detach_keys, sig_proxy, container }).await
        }
        Cmd::Ps { all, quiet, no_trunc } => container::ps(client, container::PsOptions { all, quiet, no_trunc }).await,
        Cmd::Logs { follow, tail, timestamps, container } => {
            container::logs(client, container::LogsOptions { follow, tail, timestamps, container }).await
        }
        Cmd::Stop { time, containers } => Ok(container::stop(client, time, &containers).await),
        Cmd::Kill { signal, containers } => Ok(container::kill(client, signal, &containers).await),
        Cmd::Restart { time, containers } => Ok(container::restart(client, time, &containers).await),
        Cmd::Rename { container, new_name } => container::rename(client, &container, &new_name).await,
        Cmd::Diff { container } => container::diff(client, &container).await,
        Cmd::Pause { containers } => Ok(container::pause(client, true, &containers).await),
        Cmd::Unpause { containers } => Ok(container::pause(client, false, &containers).await),
        Cmd::Rm { force, containers } => Ok(container::rm(client, force, &containers).await),
        Cmd::Start { containers } => Ok(container::start(client, &containers).await),
        Cmd::Wait { containers } => Ok(container::wait(client, &containers).await),
        Cmd::Inspect { names } => container::inspect(client, &names).await,
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => image::images(client, a.quiet, &a.filter, a.reference.as_deref()).await,
        Cmd::Import { change, message, file, reference } => image::import(client, &file, reference.as_deref(), &change, message.as_deref()).await,
        Cmd::Commit { author, change, message, pause, container, reference } => {
            let opts = container::CommitOptions { author, message, changes: change, pause };
            container::commit(client, &container, reference.as_deref(), &opts).await
        }
        Cmd::Cp { archive, follow_link, quiet, src, dest } => {
            crate::client::commands::cp::cp(client, &src, &dest, crate::client::commands::cp::CpOptions { archive, follow_link, quiet }).await
        }
        Cmd::Export { output, container } => container::export(client, &container, output.as_deref()).await,
        Cmd::Pull { name } => image::pull(client, &name, &config_dir).await,
        Cmd::Push { name } => image::push(client, &name, &config_dir).await,
        Cmd::Login { username, password, password_stdin, server } => {
            registry::login(client, registry::LoginOptions { server, username, password, password_stdin }, &config_dir).await
        }
        Cmd::Logout { server } => registry::logout(server.as_deref(), &config_dir),
        Cmd::Tag { source, target } => image::tag(client, &source, &target).await,
        Cmd::Rmi { force, images } => image::rmi(client, force, &images).await,
        Cmd::Save { output, images } => image::save(client, output.as_deref(), &images).await,
        Cmd::Load { input } => image::load(client, input.as_deref()).await,
        Cmd::History { no_trunc, image } => image::history(client, &image, no_trunc).await,
        Cmd::Image(ImageCmd::Inspect { images }) => image::inspect(client, &images).await,
        Cmd::Image(ImageCmd::Prune { all, force, filter }) => image::prune(client, all, force, &filter).await,
        Cmd::System(SystemCmd::Df { verbose }) => system::df(client, verbose).await,
        Cmd::Image(ImageCmd::Rm { force, images }) => image::rmi(client, force, &images).await,
        Cmd::Version => system::version(client).await,
        Cmd::Info => system::info(client).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(args.iter().map(OsString::from))
    }

    #[test]
    fn run_takes_command_flags_after_the_image() {
        let cli = parse(&["berth", "run", "--rm", "-e", "A=1", "busybox", "sh", "-c", "echo hi"]).ok();
        let Some(Cli { cmd: Cmd::Run(a), .. }) = cli else { panic!("run did not parse") };
        assert!(a.rm);
        assert_eq!(a.image_and_cmd, ["busybox", "sh", "-c", "echo hi"]);
        let cli = parse(&["berth", "run", "busybox", "ls", "--rm"]).ok();
        let Some(Cli { cmd: Cmd::Run(a), .. }) = cli else { panic!("run did not parse") };
        assert!(!a.rm);
        assert_eq!(a.image_and_cmd, ["busybox", "ls", "--rm"]);
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let e = parse(&["berth", "ps", "--bogus"]).err().map(|e| e.exit_code());
        assert_eq!(e, Some(2));
        let e = parse(&["berth", "run", "--bogus", "busybox"]).err().map(|e| e.exit_code());
        assert_eq!(e, Some(2));
        let e = parse(&["berth", "frobnicate"]).err().map(|e| e.exit_code());
        assert_eq!(e, Some(2));
    }

    #[test]
    fn commit_pauses_unless_told_not_to_and_takes_several_changes() {
        let cli = parse(&["berth", "commit", "-c", "CMD [\"sh\"]", "--change", "ENV A=1", "c1", "img:v1"]).ok();
        let Some(Cli { cmd: Cmd::Commit { pause, change, container, reference, .. }, .. }) = cli else { panic!("commit did not parse") };
        assert!(pause);
        assert_eq!(change, ["CMD [\"sh\"]", "ENV A=1"]);
        assert_eq!((container.as_str(), reference.as_deref()), ("c1", Some("img:v1")));
        let cli = parse(&["berth", "commit", "--pause=false", "c1"]).ok();
        let Some(Cli { cmd: Cmd::Commit { pause, .. }, .. }) = cli else { panic!("commit did not parse") };
        assert!(!pause);
    }

    #[test]
    fn memory_is_parsed_at_the_edge() {
        let cli = parse(&["berth", "run", "-m", "64m", "busybox"]).ok();
        let Some(Cli { cmd: Cmd::Run(a), .. }) = cli else { panic!("run did not parse") };
        assert_eq!(a.memory, Some(67108864));
        assert!(parse(&["berth", "run", "--memory", "lots", "busybox"]).is_err());
    }
}
