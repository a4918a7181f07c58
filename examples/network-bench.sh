#!/bin/sh
# Runs the network bench (benches/network.rs) on the shipped binary (see bench-shipped.sh):
# berth modular against the real dockerd 20.10, each in a network namespace of its own:
# network set-up + teardown per container, container-to-container and published-port
# throughput. Needs root, docker.io and containerd.
#   BERTH_BENCH_N=10   runs per timing
exec sh "$(dirname "$0")/bench-shipped.sh" network
