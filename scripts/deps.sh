#!/usr/bin/env bash
# Installs what building and testing PeerDrop's engine needs on a fresh Debian machine.
# Idempotent and quick when everything is present. The app's extra tools (WebKitGTK, wasm,
# tauri-driver) are installed by scripts/app-deps.sh.
set -euo pipefail

need=()
# iproute2, iptables and coturn: the network test bed (netbed/, run as root).
# nginx: the TLS-terminating reverse proxy of cli/tests/wss_through_nginx.rs; ca-certificates:
# the OS trust store wss:// checks servers against.
# zsh, fish and groff: the generated completions and manual page are parsed by the real tools
# (cli/tests/completions_and_man.rs).
# redis-server: the Redis that several peerdrop-signal nodes share in
# signal-server/tests/redis_scale_out.rs, cli/tests/across_server_nodes.rs and the load bench
# (each run starts its own on a free loopback port, nothing persisted).
for pkg in build-essential pkg-config iproute2 iptables coturn nginx ca-certificates zsh fish groff redis-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# aiortc (PyPI): an independent WebRTC stack that plays the hostile peers of cli/tests
# (PeerDrop's own stack will not send what they send) and another team's receiver (blake3
# for its hashes). Cached beside the build folder.
venv="$HOME/.cache/peerdrop-venv"
if ! "$venv/bin/python" -c 'import aiortc, websockets, blake3' 2>/dev/null; then
  echo "==> pip install aiortc websockets blake3 into $venv" >&2
  if ! python3 -m venv --clear "$venv" 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv --clear "$venv"
  fi
  "$venv/bin/pip" install -q 'aiortc==1.16.0' 'aioice==0.13.0' 'websockets==17.4' 'blake3==1.0.11'
fi
