//! The client role (`berth`, like the docker CLI): clap arguments, then one call into
//! `crate::client`, then the exit code docker would use.

use crate::client::commands::{attach, container, exec, image, network, port, registry, run, stats, system, update};
use crate::client::{ClientError, Endpoint, EngineClient};
use clap::{CommandFactory, Parser};
use std::ffi::OsString;

mod args;
use args::*;
use std::process::ExitCode;

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
    if let Cmd::Completion { shell } = cli.cmd {
        return completion(shell);
    }
    // `run` reports its own failures with docker's 125; everything else with 1.
    let failure_code =
        if matches!(cli.cmd, Cmd::Run(_) | Cmd::Create(_) | Cmd::Container(ContainerCmd::Run(_) | ContainerCmd::Create(_))) { 125 } else { 1 };
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
    let is_run = failure_code == 125;
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
        Cmd::Run(a) => run::run(client, run_options(*a)).await,
        Cmd::Create(a) => run::create(client, run_options(*a)).await,
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
        Cmd::Attach(AttachArgs { no_stdin, detach_keys, sig_proxy, container }) => {
            attach::attach(client, attach::AttachOptions { no_stdin, detach_keys, sig_proxy, container }).await
        }
        Cmd::Ps(a) => {
            let last = if a.latest { Some(1) } else { a.last };
            let opts =
                container::PsOptions { all: a.all, quiet: a.quiet, no_trunc: a.no_trunc, filters: a.filter, format: a.format, last, size: a.size };
            container::ps(client, opts).await
        }
        Cmd::Logs(a) => {
            let opts = container::LogsOptions {
                follow: a.follow,
                tail: a.tail,
                timestamps: a.timestamps,
                details: a.details,
                since: a.since,
                until: a.until,
                container: a.container,
            };
            container::logs(client, opts).await
        }
        Cmd::Stop(a) => Ok(container::stop(client, a.time, &a.containers).await),
        Cmd::Kill(a) => Ok(container::kill(client, a.signal, &a.containers).await),
        Cmd::Restart(a) => Ok(container::restart(client, a.time, &a.containers).await),
        Cmd::Rename(a) => container::rename(client, &a.container, &a.new_name).await,
        Cmd::Diff(a) => container::diff(client, &a.container).await,
        Cmd::Update(a) => update::update(client, &a.options()).await,
        Cmd::Stats(a) => stats::stats(client, &a.options()).await,
        Cmd::Top(a) => container::top(client, &a.container, &a.ps_args).await,
        Cmd::Pause(a) => Ok(container::pause(client, true, &a.containers).await),
        Cmd::Unpause(a) => Ok(container::pause(client, false, &a.containers).await),
        Cmd::Rm(a) => Ok(container::rm(client, a.force, &a.containers).await),
        Cmd::Start(a) => Ok(container::start(client, &a.containers).await),
        Cmd::Wait(a) => Ok(container::wait(client, &a.containers).await),
        Cmd::Inspect(a) => {
            let opts = container::InspectOptions { format: a.format, kind: a.kind, size: a.size };
            container::inspect(client, &a.names, &opts).await
        }
        Cmd::Events(a) | Cmd::System(SystemCmd::Events(a)) => {
            let opts = system::EventsOptions { filters: a.filter, format: a.format, since: a.since, until: a.until };
            system::events(client, &opts).await
        }
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => {
            let opts = image::ImagesOptions {
                quiet: a.quiet,
                no_trunc: a.no_trunc,
                all: a.all,
                digests: a.digests,
                filters: a.filter,
                format: a.format,
                reference: a.reference,
            };
            image::images(client, &opts).await
        }
        Cmd::Import(a) | Cmd::Image(ImageCmd::Import(a)) => {
            image::import(client, &a.file, a.reference.as_deref(), &a.change, a.message.as_deref()).await
        }
        Cmd::Commit(a) => {
            let opts = container::CommitOptions { author: a.author, message: a.message, changes: a.change, pause: a.pause };
            container::commit(client, &a.container, a.reference.as_deref(), &opts).await
        }
        Cmd::Cp(a) => {
            let opts = crate::client::commands::cp::CpOptions { archive: a.archive, follow_link: a.follow_link, quiet: a.quiet };
            crate::client::commands::cp::cp(client, &a.src, &a.dest, opts).await
        }
        Cmd::Export(a) => container::export(client, &a.container, a.output.as_deref()).await,
        Cmd::Pull(a) | Cmd::Image(ImageCmd::Pull(a)) => image::pull(client, &a.name, &config_dir).await,
        Cmd::Push(a) | Cmd::Image(ImageCmd::Push(a)) => image::push(client, &a.name, &config_dir).await,
        Cmd::Login(a) => {
            let opts = registry::LoginOptions { server: a.server, username: a.username, password: a.password, password_stdin: a.password_stdin };
            registry::login(client, opts, &config_dir).await
        }
        Cmd::Logout { server } => registry::logout(server.as_deref(), &config_dir),
        Cmd::Tag(a) | Cmd::Image(ImageCmd::Tag(a)) => image::tag(client, &a.source, &a.target).await,
        Cmd::Rmi(a) | Cmd::Image(ImageCmd::Rm(a)) => image::rmi(client, a.force, &a.images).await,
        Cmd::Save(a) | Cmd::Image(ImageCmd::Save(a)) => image::save(client, a.output.as_deref(), &a.images).await,
        Cmd::Load(a) | Cmd::Image(ImageCmd::Load(a)) => image::load(client, a.input.as_deref()).await,
        Cmd::History(a) | Cmd::Image(ImageCmd::History(a)) => {
            let opts = image::HistoryOptions { no_trunc: a.no_trunc, quiet: a.quiet, human: a.human, format: a.format };
            image::history(client, &a.image, &opts).await
        }
        Cmd::Image(ImageCmd::Inspect(a)) => image::inspect(client, &a.images, a.format.as_deref()).await,
        Cmd::Image(ImageCmd::Prune(a)) => image::prune(client, a.all, a.force, &a.filter).await,
        Cmd::Container(ContainerCmd::Prune(a)) => container::prune(client, a.force, &a.filter).await,
        Cmd::Container(c) => match c.into_cmd() {
            Ok(cmd) => Box::pin(dispatch(client, cmd, config)).await,
            Err(a) => {
                let opts = container::InspectOptions { format: a.format, kind: Some("container".into()), size: a.size };
                container::inspect(client, &a.containers, &opts).await
            }
        },
        Cmd::Network(n) => match n {
            NetworkCmd::Create(a) => network::create(client, &a.options()).await,
            NetworkCmd::Ls(a) => {
                let opts = network::LsOptions { quiet: a.quiet, no_trunc: a.no_trunc, filters: a.filter, format: a.format };
                network::ls(client, &opts).await
            }
            NetworkCmd::Inspect(a) => network::inspect(client, &a.networks, a.format.as_deref(), a.verbose).await,
            NetworkCmd::Rm(a) => network::rm(client, &a.networks, a.force).await,
            NetworkCmd::Connect(a) => network::connect(client, &a.options()).await,
            NetworkCmd::Disconnect(a) => network::disconnect(client, &a.network, &a.container, a.force).await,
            NetworkCmd::Prune(a) => network::prune(client, a.force, &a.filter).await,
        },
        Cmd::Port(a) => port::port(client, &a.container, a.private_port.as_deref()).await,
        Cmd::System(SystemCmd::Df { verbose }) => system::df(client, verbose).await,
        Cmd::System(SystemCmd::Prune(a)) => system::prune(client, a.all, a.force, a.volumes, &a.filter).await,
        Cmd::Version(a) => system::version(client, a.format.as_deref()).await,
        Cmd::Info(a) | Cmd::System(SystemCmd::Info(a)) => system::info(client, a.format.as_deref()).await,
        Cmd::Completion { .. } => Err(ClientError::Invalid("completion needs no daemon".into())),
    }
}

/// The library's options of `run`'s (and `create`'s) arguments.
fn run_options(a: RunArgs) -> run::RunOptions {
    let mut it = a.image_and_cmd.into_iter();
    let image = it.next().unwrap_or_default();
    run::RunOptions {
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
        net: a.net.options(),
    }
}

/// `berth completion SHELL`: the shell's completion script for every command and flag.
fn completion(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "berth", &mut std::io::stdout());
    ExitCode::SUCCESS
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
        let Some(Cli { cmd: Cmd::Commit(a), .. }) = cli else { panic!("commit did not parse") };
        assert!(a.pause);
        assert_eq!(a.change, ["CMD [\"sh\"]", "ENV A=1"]);
        assert_eq!((a.container.as_str(), a.reference.as_deref()), ("c1", Some("img:v1")));
        let cli = parse(&["berth", "commit", "--pause=false", "c1"]).ok();
        let Some(Cli { cmd: Cmd::Commit(a), .. }) = cli else { panic!("commit did not parse") };
        assert!(!a.pause);
    }

    #[test]
    fn memory_is_parsed_at_the_edge() {
        let cli = parse(&["berth", "run", "-m", "64m", "busybox"]).ok();
        let Some(Cli { cmd: Cmd::Run(a), .. }) = cli else { panic!("run did not parse") };
        assert_eq!(a.memory, Some(67108864));
        assert!(parse(&["berth", "run", "--memory", "lots", "busybox"]).is_err());
    }
}
