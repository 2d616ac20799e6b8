#!/usr/bin/env bash
# Cross-compiles the desktop app for Windows (x86_64-pc-windows-gnu) with Debian's mingw-w64:
# proves the Windows side (single-instance, "Send to" arguments, icon resource, every
# dependency) compiles and links here. The .exe is not run.
# Usage: scripts/windows-build.sh [build|check]   (default: build — compile and link)
# Installs mingw-w64 and the Rust target if missing (apt needs root or sudo).
# Embeds src-ui/dist as it is: run scripts/app-build.sh first for the real UI (CI runs this
# after the e2e tests, which build it); on a fresh clone build.rs embeds a placeholder page.
set -euo pipefail
# Another target (or workspace) than the host build: no clippy-driver wrapper from test.sh.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cd "$(dirname "$0")/.."

mode="${1:-build}"
[[ "$mode" == build || "$mode" == check ]] || { echo "usage: $0 [build|check]" >&2; exit 2; }
target=x86_64-pc-windows-gnu

if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  echo "==> apt-get install mingw-w64" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mingw-w64
fi
if ! rustup target list --installed | grep -qx "$target"; then
  echo "==> rustup target add $target" >&2
  rustup target add "$target"
fi

echo "==> cargo $mode -p peerdrop-app --target $target" >&2
start=$(date +%s)
cargo "$mode" -p peerdrop-app --target "$target"
echo "windows $mode ok in $(( $(date +%s) - start )) s" >&2
if [[ "$mode" == build ]]; then
  target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  exe="$target_dir/$target/debug/peerdrop-app.exe"
  file "$exe" 2>/dev/null | grep -q "PE32+ executable" || { echo "not a Windows executable: $exe" >&2; exit 1; }
  echo "$exe"
fi
