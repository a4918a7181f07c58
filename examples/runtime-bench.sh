#!/bin/sh
# Runs benches/runtime_cycle.rs (berth-runtime against runc and crun) on the shipped binary
# (see bench-shipped.sh). Needs root, runc and crun.
#   BENCH_RUNS=30    timed runs per runtime
exec sh "$(dirname "$0")/bench-shipped.sh" runtime_cycle
