#!/usr/bin/env bash
# Installs what `peerdrop-bench` compares against, all run on loopback only: Debian's
# magic-wormhole client and transit relay, plus the wormhole mailbox server from PyPI (not
# packaged in Debian) in a venv under ~/.cache/peerdrop-bench/wormhole-venv.
# Idempotent: quick when everything is present. Without it the bench skips magic-wormhole
# with a printed note.
set -euo pipefail

need=()
for pkg in magic-wormhole magic-wormhole-transit-relay python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}"
fi

venv="${XDG_CACHE_HOME:-$HOME/.cache}/peerdrop-bench/wormhole-venv"
if [[ ! -x "$venv/bin/twistd" ]] || ! "$venv/bin/python" -c 'import wormhole_mailbox_server' 2>/dev/null; then
  echo "==> mailbox server: venv $venv" >&2
  # Debian's interpreter (the one magic-wormhole uses), not whatever python3 is first on PATH.
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q magic-wormhole-mailbox-server
fi
echo "bench deps ready: $(command -v wormhole), mailbox server in $venv" >&2
