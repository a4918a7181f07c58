#!/usr/bin/env bash
# Regenerates src/link-order.txt: runs berth-runtime's container lifecycle (and the container
# init it re-executes) under callgrind and lists every function that ran, so the release link
# puts them side by side (see build.rs). Run as root after changes to the runtime's hot path;
# benches/runtime_cycle shows the effect (time and peak RSS).
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

# link_order.rs needs std only: rustc alone builds it in seconds (cargo would build the
# example against the whole dev-dependency graph).
rustc -O --edition 2024 -o "$work/link_order" examples/link_order.rs
# The runtime's own invocations first (create before anything else), then the inits.
ls "$work/out"/* | sort > "$work/files"
"$work/link_order" "$bin" $(grep -v '\.1$' "$work/files") $(grep '\.1$' "$work/files") > src/link-order.txt
echo "src/link-order.txt: $(wc -l < src/link-order.txt) symbols; rebuild with cargo build --release --target $T"
