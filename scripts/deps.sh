#!/usr/bin/env bash
# Installs what building and testing PeerDrop's engine needs on a fresh Debian machine.
# Idempotent and quick when everything is present. The app's extra tools (WebKitGTK, wasm,
# tauri-driver) are installed by scripts/app-deps.sh.
set -euo pipefail

need=()
# iproute2, iptables and coturn: the network test bed (netbed/, run as root).
# nginx: the TLS-terminating reverse proxy of cli/tests/wss_through_nginx.rs; ca-certificates:
# the OS trust store wss:// checks servers against.
for pkg in build-essential pkg-config iproute2 iptables coturn nginx ca-certificates; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
