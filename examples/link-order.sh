#!/usr/bin/env bash
# Regenerates src/link-order.txt: runs berth-runtime's container lifecycle (and the container
# init it re-executes), then a shim, the supervisor and the daemon, under callgrind and
# lists every function that ran, so the release link puts them side by side (see build.rs).
# Run as root after changes to the hot paths; benches/runtime_cycle (runtime) and
# benches/restart (shim) show the effect on time and RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
[ -x /bin/busybox ] || { apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null; }

export RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static'
T=x86_64-unknown-linux-gnu
cargo build --release --target $T
bin=$PWD/target/$T/release/berth
work=$(mktemp -d /tmp/berth-order.XXXXXX)
trap 'for c in $(ls "$work/root" 2>/dev/null); do "$work/bin/berth-runtime" --root "$work/root" delete -f "$c" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

mkdir -p "$work/bin" "$work/b/rootfs/bin" "$work/b2" "$work/out"
"$bin" install-links "$work/bin"
cp /bin/busybox "$work/b/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/b/rootfs/bin/$a"; done
(cd "$work/b" && "$work/bin/berth-runtime" spec)
# RLIMIT_CORE for RLIMIT_NOFILE: valgrind keeps descriptors of its own and refuses NOFILE
# changes, and the rlimit code must still run (the bench's bundle has the spec's rlimits).
# Its own top-level cgroup (containers run one at a time), so no /berth parent is left.
sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/; s/RLIMIT_NOFILE/RLIMIT_CORE/; s#"linux": {#"linux": { "cgroupsPath": "/'"$(basename "$work")"'",#' "$work/b/config.json"
# A second bundle on the same rootfs whose process stays up for exec, ps, pause...
sed 's/"true"/"sleep", "100"/; s#"path": "rootfs"#"path": "'"$work"'/b/rootfs"#' "$work/b/config.json" > "$work/b2/config.json"

rt=("$work/bin/berth-runtime" --root "$work/root")
step=0
# Profiles one runtime invocation and the init it starts (with children=yes; an exec'd
# process joins the container's mount namespace before it could write its profile there).
prof() { profile yes "$@"; }
profile() {
  step=$((step + 1))
  local children=$1
  shift
  valgrind -q --tool=callgrind --dump-instr=yes --trace-children="$children" --trace-children-skip='/bin/*,/usr/*' \
    --callgrind-out-file="$work/out/$(printf %02d $step).%p" "${rt[@]}" "$@" </dev/null >"$work/log" 2>&1 ||
    { echo "berth-runtime $* failed under valgrind: the profile would be partial" >&2; cat "$work/log" >&2; exit 1; }
}
prof create --bundle "$work/b" c1
prof state c1
prof start c1
prof delete -f c1
prof run --bundle "$work/b" c2
prof create --bundle "$work/b2" c3
prof start c3
profile no exec c3 true
prof ps c3
prof pause c3
prof resume c3
prof update --pids-limit 50 c3
prof list
prof kill c3 KILL
prof delete -f c3

# The resident shim, the supervisor and the daemon (each under callgrind) through a
# container's life: run -d, logs, pause/unpause, stop, rm, run --rm. Runtime and
# event-publish invocations are skipped here: profiled above, or short-lived.
st=$work/s
mkdir -p "$st/bin" "$work/stack" "$work/bb/bin" "$work/bb/etc"
"$bin" install-links "$st/bin"
cp /bin/busybox "$work/bb/bin/"
for a in sh echo sleep true; do ln -s busybox "$work/bb/bin/$a"; done
tar -C "$work/bb" -cf "$work/bb.tar" .
cgp=/$(basename "$work")-stack
b() { timeout 120 "$st/bin/berth" -H "unix://$st/d.sock" "$@"; }
# Containers and shims outlive daemon and supervisor (that is the point of the modular mode),
# so they go first; then the two servers, then whatever a failure left mounted or created.
stop_stack() {
  [ -f "$st/berthd.pid" ] && for c in $(b ps -aq 2>/dev/null); do b rm -f "$c" >/dev/null 2>&1 || true; done
  for p in "$st/berthd.pid" "$st/sup.pid"; do
    [ -f "$p" ] || continue
    kill "$(cat "$p")" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$(cat "$p")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$p"
  done
  { grep -o " $st/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  find /sys/fs/cgroup/ -depth -type d -path "*$cgp*" -exec rmdir {} + 2>/dev/null || true
}
trap 'stop_stack; for c in $(ls "$work/root" 2>/dev/null); do "$work/bin/berth-runtime" --root "$work/root" delete -f "$c" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
valgrind -q --tool=callgrind --dump-instr=yes --trace-children=yes --trace-children-skip-by-arg=json,publish \
  --callgrind-out-file="$work/stack/%p" "$st/bin/berth-supervisor" --address "$st/sup.sock" --root "$st/sroot" --state "$st/sstate" \
  </dev/null >"$st/sup.log" 2>&1 &
echo $! >"$st/sup.pid"
for _ in $(seq 300); do [ -S "$st/sup.sock" ] && break; sleep 0.1; done
mkdir -p "$work/daemon"
valgrind -q --tool=callgrind --dump-instr=yes --callgrind-out-file="$work/daemon/%p" \
  "$st/bin/berthd" --containerd "$st/sup.sock" -H "unix://$st/d.sock" --root "$st/root" --exec-root "$st/exec" \
  --cgroup-parent "$cgp" --log-file "$st/berthd.log" </dev/null >/dev/null 2>&1 &
echo $! >"$st/berthd.pid"
for _ in $(seq 300); do b version >/dev/null 2>&1 && break; sleep 0.1; done
b import "$work/bb.tar" busybox >/dev/null
b run -d --name s1 busybox sh -c 'while true; do echo tick; sleep 1; done' >/dev/null
for _ in $(seq 100); do b logs s1 | grep -q tick && break; sleep 0.1; done
# The container runs: the resident shim's set-up is over (it sheds its code mappings here), so
# its profile so far (<pid>.1) is start-up, and what it runs from now on is its steady state.
resident=$(callgrind_control | sed -n 's/^PID \([0-9]*\): .* -namespace .*/\1/p')
[ -n "$resident" ] || { echo "no resident shim under callgrind" >&2; exit 1; }
for p in $resident; do callgrind_control -d "$p" >/dev/null 2>&1; done
for _ in $(seq 50); do [ "$(b logs s1 | grep -c tick)" -ge 3 ] && break; sleep 0.2; done
b pause s1 >/dev/null && b unpause s1 >/dev/null
b stop -t 1 s1 >/dev/null
b rm s1 >/dev/null
b run --rm busybox echo bye >/dev/null
stop_stack

# link_order.rs needs std only: rustc alone builds it in seconds (cargo would build the
# example against the whole dev-dependency graph).
rustc -O --edition 2024 -o "$work/link_order" examples/link_order.rs
# Five groups: the runtime's own invocations (create before anything else) and the inits;
# the shims' start-up (`start`, then the resident one up to its dump); the resident shims'
# steady state (their final profiles); the supervisor; the daemon.
ls "$work/out"/* | sort > "$work/files"
shims=$(cd "$work/stack" && grep -l '^cmd: .* -namespace ' -- * | sort -n | sed "s#^#$work/stack/#")
steady=$(for p in $resident; do echo "$work/stack/$p"; done)
start=$(printf '%s\n' $shims | grep -vxF "$steady")
sup=$(grep -L '^cmd: .* -namespace ' "$work/stack"/*)
"$work/link_order" "$bin" $(grep -v '\.1$' "$work/files") $(grep '\.1$' "$work/files") -- $start -- $steady -- $sup -- "$work/daemon"/* > src/link-order.txt
echo "src/link-order.txt: $(wc -l < src/link-order.txt) symbols; rebuild with cargo build --release --target $T"
