#!/usr/bin/env bash
# Builds the PeerDrop desktop app: the Sycamore UI (wasm) into src-ui/dist, then the Tauri
# binary, which embeds that folder. Usage: scripts/app-build.sh [--release]
#   debug (default): the suite's one build of the whole workspace (scripts/lib/workspace.sh),
#                    so the app, the CLI and the tests share every compiled crate;
#   --release:       the app, `peerdrop` and `peerdrop-signal` in one release build.
# Needs the tools from scripts/app-deps.sh. Prints the path of the app binary last.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/workspace.sh
source scripts/lib/workspace.sh

target_dir="$(workspace_target_dir)"
if [[ "${1:-}" == "--release" ]]; then
  build_ui --release
  echo "==> cargo build --release -p peerdrop-app -p peerdrop-cli -p peerdrop-signal" >&2
  cargo build --locked --release -p peerdrop-app -p peerdrop-cli -p peerdrop-signal
  echo "$target_dir/release/peerdrop-app"
else
  build_workspace
  echo "$target_dir/debug/peerdrop-app"
fi
