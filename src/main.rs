//! berth: one multicall binary; argv[0] picks the role (see `roles`).

fn main() -> std::process::ExitCode {
    berth::roles::dispatch(std::env::args_os().collect())
}
