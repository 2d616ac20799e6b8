#!/usr/bin/env bash
# Installs what building (and, by default, end-to-end testing) the PeerDrop app needs, skipping
# whatever is already there (safe to run again):
#   - Debian packages: WebKitGTK/GTK dev files and a C toolchain (to build and run), and
#     libayatana-appindicator3-dev (the tray icon: the app loads libayatana-appindicator3-1,
#     which it pulls in, at run time; the .deb depends on that library); for the
#     tests also Xvfb, WebKitWebDriver, ImageMagick, dbus-daemon (each e2e test gives its app a
#     private session bus for the single-instance hand-over), dunst (a real notification server
#     on that bus), xsel (reads the X clipboard the app's Copy buttons write), trayer (a real
#     XEmbed system tray for the tray-icon test)
#   - the wasm32-unknown-unknown Rust target
#   - wasm-bindgen-cli of exactly the wasm-bindgen version in Cargo.lock
#   - tauri-driver 2.x (tests only)
# Usage: scripts/app-deps.sh [--run] [--dry-run]
#   --run      only what building and running the app needs (README command 1)
#   --dry-run  print what would be installed, install nothing
# Needs root (or sudo) only for the apt step, and only when a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

only_run="" dry_run=""
for arg in "$@"; do
  case "$arg" in
    --run) only_run=yes ;;
    --dry-run) dry_run=yes ;;
    *) echo "usage: scripts/app-deps.sh [--run] [--dry-run]" >&2; exit 2 ;;
  esac
done
# Runs a command, or only shows it with --dry-run.
do_or_show() {
  if [[ -n "$dry_run" ]]; then echo "would run: $*" >&2; else "$@"; fi
}

packages=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libsoup-3.0-dev
  build-essential pkg-config libssl-dev)
[[ -n "$only_run" ]] || packages+=(xvfb xauth webkit2gtk-driver imagemagick dbus-daemon procps xsel dunst trayer)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}" >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  do_or_show "${sudo[@]}" apt-get update -qq
  do_or_show "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> rustup target add wasm32-unknown-unknown" >&2
  do_or_show rustup target add wasm32-unknown-unknown
fi

# The CLI must match the crate exactly; read the version from Cargo.lock.
wb_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[[ -n "$wb_version" ]] || { echo "wasm-bindgen not found in Cargo.lock" >&2; exit 1; }
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]]; then
  echo "==> cargo install wasm-bindgen-cli --version =$wb_version" >&2
  # No --locked: its lockfile pins crates this registry may lack (see docs).
  do_or_show cargo install wasm-bindgen-cli --version "=$wb_version" --force
fi

if [[ -z "$only_run" ]] && ! tauri-driver --help >/dev/null 2>&1; then
  echo "==> cargo install tauri-driver --locked (2.x)" >&2
  do_or_show cargo install tauri-driver --locked --version "^2"
fi
echo "app dependencies ready (wasm-bindgen $wb_version)" >&2
