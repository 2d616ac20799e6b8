#!/usr/bin/env bash
# Builds the PeerDrop desktop app: the Sycamore UI (wasm) into src-ui/dist, then the Tauri
# binary, which embeds that folder. Usage: scripts/app-build.sh [--release]
# Needs the tools from scripts/app-deps.sh. Prints the path of the app binary last.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_profile=()
if [[ "${1:-}" == "--release" ]]; then
  profile=release
  cargo_profile=(--release)
fi
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"

echo "==> UI: cargo build -p peerdrop-ui --target wasm32-unknown-unknown ${cargo_profile[*]}" >&2
cargo build -p peerdrop-ui --target wasm32-unknown-unknown "${cargo_profile[@]}"

echo "==> UI: wasm-bindgen → src-ui/dist" >&2
dist=src-ui/dist
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$staging" \
  "$target_dir/wasm32-unknown-unknown/$profile/peerdrop-ui.wasm"
cp src-ui/index.html src-ui/style.css src-ui/boot.js "$staging/"
# Replace dist only when everything is ready, so the app never embeds half a UI.
rm -rf "$dist"
mkdir -p "$dist"
cp -r "$staging"/. "$dist/"

echo "==> App: cargo build -p peerdrop-app ${cargo_profile[*]}" >&2
cargo build -p peerdrop-app "${cargo_profile[@]}"
echo "$target_dir/$profile/peerdrop-app"
