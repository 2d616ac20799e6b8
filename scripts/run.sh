#!/usr/bin/env bash
# Fresh machine → running PeerDrop. Installs what is missing (Debian packages, wasm target,
# wasm-bindgen-cli, tauri-driver), builds the CLI, the signaling server and the desktop app in
# release mode, starts a local signaling server on 127.0.0.1:8787 and opens the app.
# Without a display (SSH, CI) it prints how to use the CLI instead and keeps the server running.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
./scripts/app-deps.sh
# One release build: the app, `peerdrop` and `peerdrop-signal`.
app="$(./scripts/app-build.sh --release | tail -n 1)"
bin="$(dirname "$app")"

cat >&2 <<TXT

PeerDrop is built.
  app:      $app
  receive:  $bin/peerdrop receive --dir ~/Downloads        # prints "code: XXXX-XX"
  send:     $bin/peerdrop send --to XXXX-XX FILE_OR_FOLDER...
Signaling server: ws://127.0.0.1:8787/ws (other machines: start it with --listen 0.0.0.0:8787
and pass --server ws://THIS_HOST:8787/ws, or set it in the app's Settings).
TXT

"$bin/peerdrop-signal" --listen 127.0.0.1:8787 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  "$app"
else
  echo "No display found: the app needs one. The signaling server keeps running (Ctrl-C stops it)." >&2
  wait "$server"
fi
