#!/bin/sh
# Runs benches/runtime_cycle.rs (berth-runtime against runc and crun) on the binary that
# ships: the static release build of .ci/run, copied aside because `cargo bench` relinks
# target/<triple>/release/berth with its own feature set. Needs root, runc and crun.
#   BENCH_RUNS=30    timed runs per runtime
set -eu
cd "$(dirname "$0")/.."
export RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static'
T=x86_64-unknown-linux-gnu
cargo build --release --target $T
mkdir -p target/shipped
cp target/$T/release/berth target/shipped/berth
BERTH_BIN=$PWD/target/shipped/berth cargo bench --target $T --bench runtime_cycle
