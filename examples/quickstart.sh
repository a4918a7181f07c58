#!/usr/bin/env bash
# quickstart.sh - on a fresh Debian 12 machine, as root: build berth (static), start the
# daemon, make the default busybox image from Debian's busybox-static, run a container.
#
#   bash examples/quickstart.sh            # modular (daemon + supervisor + shims)
#   MODE=monolithic bash examples/quickstart.sh
#
# State goes to /var/lib/berth and /run/berth (berth's defaults); the daemon keeps running
# afterwards (its pid is in /run/berth/berthd.pid) so you can go on with target/bin/berth.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v busybox >/dev/null || need+=(busybox-static)
command -v file >/dev/null || need+=(file)
command -v cc >/dev/null || need+=(gcc)
# nft: berthd's NAT and isolation rules for the default bridge and published ports.
command -v nft >/dev/null || need+=(nftables)
# libseccomp.a: the seccomp filter compiler, linked into the static binary (.cargo/config.toml).
[[ -e /usr/lib/x86_64-linux-gnu/libseccomp.a ]] || need+=(libseccomp-dev)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static' cargo build --release --target x86_64-unknown-linux-gnu
BIN=target/x86_64-unknown-linux-gnu/release/berth
file -L "$BIN"
mkdir -p target/bin
cp "$BIN" target/bin/berth
target/bin/berth install-links target/bin
export PATH=$PWD/target/bin:$PATH

sock=/run/berth/berth.sock
if ! berth version >/dev/null 2>&1; then
  mkdir -p /run/berth
  flags=()
  [[ ${MODE:-modular} == monolithic ]] && flags+=(--monolithic)
  setsid berthd "${flags[@]}" --log-file /run/berth/berthd.log </dev/null >/dev/null 2>&1 &
  echo $! >/run/berth/berthd.pid
  for _ in $(seq 100); do [[ -S $sock ]] && berth version >/dev/null 2>&1 && break; sleep 0.1; done
fi

if ! berth images | grep -q '^busybox '; then
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root}
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  for a in $("$rootfs/bin/busybox" --list); do [[ $a == busybox ]] || ln -sf busybox "$rootfs/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  berth import "$rootfs.tar" busybox
  rm -rf "$rootfs" "$rootfs.tar"
fi

berth run --rm busybox echo "Hello from inside a berth container!"
