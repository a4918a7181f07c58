#!/bin/sh
# Builds berth in release mode and runs the restart bench (benches/restart.rs): berth
# monolithic vs modular (daemon and supervisor killed), plus real dockerd 20.10 with and
# without --live-restore when /usr/sbin/dockerd exists. Needs root (containers, cgroups).
#   BERTH_BENCH_N=20            containers per run
#   BERTH_BENCH_NO_DOCKERD=1    skip the dockerd columns
# Results: table on stdout, target/restart-bench.csv, target/restart-bench.svg.
set -eu
cd "$(dirname "$0")/.."
cargo build --release
cargo bench --bench restart
