#!/bin/sh
# Runs one bench of benches/ against the binary that ships: the static release build of
# .ci/run (linked in src/link-order.txt's order), copied aside to target/shipped/berth because
# `cargo bench` relinks target/<triple>/release/berth with its own feature set. The benches
# and tests/common take it from BERTH_BIN.
#   sh examples/bench-shipped.sh <bench name>
set -eu
[ $# -eq 1 ] || { echo "usage: $0 <bench name>" >&2; exit 2; }
cd "$(dirname "$0")/.."
export RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static'
T=x86_64-unknown-linux-gnu
cargo build --release --target $T
mkdir -p target/shipped
# A fresh file renamed into place: a berth still running from the old one keeps it.
cp target/$T/release/berth target/shipped/.berth.new
mv target/shipped/.berth.new target/shipped/berth
BERTH_BIN=$PWD/target/shipped/berth cargo bench --target $T --bench "$1"
