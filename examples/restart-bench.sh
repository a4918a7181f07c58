#!/bin/sh
# Runs the restart bench (benches/restart.rs) on the shipped binary (see bench-shipped.sh):
# berth monolithic vs modular (daemon and supervisor killed), plus real dockerd 20.10 with
# and without --live-restore when /usr/sbin/dockerd exists. Needs root (containers, cgroups).
#   BERTH_BENCH_N=20            containers per run
#   BERTH_BENCH_NO_DOCKERD=1    skip the dockerd columns
# Results: table on stdout, target/restart-bench.csv, target/restart-bench.svg.
exec sh "$(dirname "$0")/bench-shipped.sh" restart
