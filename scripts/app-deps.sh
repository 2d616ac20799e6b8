#!/usr/bin/env bash
# Installs what building and end-to-end testing the PeerDrop app needs, skipping whatever is
# already there (safe to run again):
#   - Debian packages: WebKitGTK/GTK dev files, Xvfb, WebKitWebDriver, ImageMagick, dbus-daemon
#     (each e2e test gives its app a private session bus for the single-instance hand-over),
#     xsel (reads the X clipboard the app's Copy buttons write)
#   - the wasm32-unknown-unknown Rust target
#   - wasm-bindgen-cli of exactly the wasm-bindgen version in Cargo.lock
#   - tauri-driver 2.x
# Needs root (or sudo) only for the apt step, and only when a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libsoup-3.0-dev
  build-essential pkg-config libssl-dev xvfb xauth webkit2gtk-driver imagemagick dbus-daemon
  procps xsel dunst)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> rustup target add wasm32-unknown-unknown" >&2
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the crate exactly; read the version from Cargo.lock.
wb_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[[ -n "$wb_version" ]] || { echo "wasm-bindgen not found in Cargo.lock" >&2; exit 1; }
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]]; then
  echo "==> cargo install wasm-bindgen-cli --version =$wb_version" >&2
  # No --locked: its lockfile pins crates this registry may lack (see docs).
  cargo install wasm-bindgen-cli --version "=$wb_version" --force
fi

if ! tauri-driver --help >/dev/null 2>&1; then
  echo "==> cargo install tauri-driver --locked (2.x)" >&2
  cargo install tauri-driver --locked --version "^2"
fi
echo "app dependencies ready (wasm-bindgen $wb_version)" >&2
