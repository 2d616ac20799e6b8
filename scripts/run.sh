#!/usr/bin/env bash
# Builds PeerDrop on a fresh machine (installing what it needs) and starts a local signaling
# server on 127.0.0.1:8787; then prints how to send a file from a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
echo "==> cargo build --release (peerdrop, peerdrop-signal)" >&2
cargo build --release -p peerdrop-cli -p peerdrop-signal
bin="$(pwd)/target/release"

cat >&2 <<TXT

PeerDrop is built. Signaling server starting on ws://127.0.0.1:8787/ws (Ctrl-C stops it).
In another terminal:
  receive:  $bin/peerdrop receive --dir ~/Downloads        # prints "code: XXXX-XX"
  send:     $bin/peerdrop send --to XXXX-XX FILE_OR_FOLDER...
Other machines use --server ws://THIS_HOST:8787/ws (start the server with --listen 0.0.0.0:8787).
TXT
exec "$bin/peerdrop-signal" --listen 127.0.0.1:8787
