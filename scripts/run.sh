#!/usr/bin/env bash
# Fresh machine → running PeerDrop (README command 1). Checks for a Rust toolchain (and says how
# to get one), installs only what building and running needs (Debian packages with sudo when
# not root, the wasm target, wasm-bindgen-cli; no test tools), builds the desktop app, the CLI
# and the signaling server in release mode, says where they are, starts a local signaling
# server on 127.0.0.1:8787 and opens the app. Without a display (SSH) it prints how to use the
# CLI instead and keeps the server running.
# Usage: scripts/run.sh [--deb] [--dry-run]
#   --deb      also build the desktop package (.deb) and say how to install it
#   --dry-run  check and say what would be installed and built, change nothing
set -euo pipefail
cd "$(dirname "$0")/.."

deb="" dry_run=""
for arg in "$@"; do
  case "$arg" in
    --deb) deb=yes ;;
    --dry-run) dry_run=yes ;;
    *) echo "usage: scripts/run.sh [--deb] [--dry-run]" >&2; exit 2 ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1 || ! command -v rustup >/dev/null 2>&1; then
  cat >&2 <<'TXT'
PeerDrop is built from source with Rust, and no Rust toolchain (cargo and rustup) was found.
Install one with rustup (https://rustup.rs), as your own user, not root:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh
then open a new terminal (or run: . "$HOME/.cargo/env") and run ./scripts/run.sh again.
TXT
  exit 1
fi
if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
  echo "note: not root and no sudo: missing Debian packages cannot be installed (ask an administrator, or install sudo)" >&2
fi

if [[ -n "$dry_run" ]]; then
  ./scripts/app-deps.sh --run --dry-run
  echo "would run: scripts/app-build.sh --release   (the app, peerdrop and peerdrop-signal)" >&2
  [[ -z "$deb" ]] || echo "would run: bundle the .deb (scripts/lib/bundle.sh)" >&2
  echo "would start: peerdrop-signal --listen 127.0.0.1:8787, then the app" >&2
  exit 0
fi

./scripts/app-deps.sh --run
# One release build: the app, `peerdrop` and `peerdrop-signal`.
app="$(./scripts/app-build.sh --release | tail -n 1)"
bin="$(dirname "$app")"

package=""
if [[ -n "$deb" ]]; then
  # shellcheck source=lib/bundle.sh
  source scripts/lib/bundle.sh
  mkdir -p "$bin/bundle"
  package="$(bundle_deb release "$(dirname "$bin")" "$bin/bundle")"
fi

cat >&2 <<TXT

PeerDrop is built.
  app:      $app
  CLI:      $bin/peerdrop      receive: $bin/peerdrop receive --dir ~/Downloads   (prints "code: XXXX-XX")
                               send:    $bin/peerdrop send --to XXXX-XX FILE_OR_FOLDER...
  server:   $bin/peerdrop-signal
TXT
if [[ -n "$package" ]]; then
  cat >&2 <<TXT
  package:  $package
            install it with: sudo apt install $package
TXT
else
  echo "  package:  ./scripts/run.sh --deb builds a .deb to install the app system-wide" >&2
fi
cat >&2 <<TXT
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
