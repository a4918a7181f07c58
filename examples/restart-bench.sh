#!/bin/sh
# Builds the shipped berth binary and runs the restart bench (benches/restart.rs): berth
# monolithic vs modular (daemon and supervisor killed), plus real dockerd 20.10 with and
# without --live-restore when /usr/sbin/dockerd exists. Needs root (containers, cgroups).
#   BERTH_BENCH_N=20            containers per run
#   BERTH_BENCH_NO_DOCKERD=1    skip the dockerd columns
# Results: table on stdout, target/restart-bench.csv, target/restart-bench.svg.
set -eu
cd "$(dirname "$0")/.."
# The shipped binary (static, linked in src/link-order.txt's order), copied aside because
# `cargo bench` relinks target/<triple>/release/berth with its own feature set.
export RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static'
T=x86_64-unknown-linux-gnu
cargo build --release --target $T
mkdir -p target/shipped
cp target/$T/release/berth target/shipped/berth
BERTH_BIN=$PWD/target/shipped/berth cargo bench --target $T --bench restart
