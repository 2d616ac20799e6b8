#!/usr/bin/env bash
# Packages the desktop app as a .deb with Tauri's bundler (peerdrop-app-bundle, no tauri-cli,
# nothing downloaded), installs it with apt, validates its .desktop entries with
# desktop-file-validate and starts the installed /usr/bin/peerdrop-app under Xvfb until it logs
# that it started. Removes the package again at the end.
# Usage: scripts/deb-check.sh [debug|release]   (default: debug — the binary the e2e tests
# built, so CI compiles no second app; release packages are made with `release`)
# Needs root or sudo (dpkg). Builds the app first if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-debug}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
need=()
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
command -v xvfb-run >/dev/null || need+=(xvfb xauth)
command -v strip >/dev/null || need+=(binutils)
if ((${#need[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# shellcheck source=lib/workspace.sh
source scripts/lib/workspace.sh
target_dir="$(workspace_target_dir)"
if [[ ! -x "$target_dir/$profile/peerdrop-app" ]]; then
  if [[ "$profile" == release ]]; then scripts/app-build.sh --release >/dev/null; else scripts/app-build.sh >/dev/null; fi
fi

# shellcheck source=lib/bundle.sh
source scripts/lib/bundle.sh
work="$(mktemp -d)"
deb="$(bundle_deb "$profile" "$target_dir" "$work")"
package="$(dpkg-deb -f "$deb" Package)"
echo "built $deb (package $package, $(du -h "$deb" | cut -f1))" >&2
dpkg-deb -c "$deb" | awk '{print $6}' >&2

echo "==> installing $package" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$(realpath "$deb")" >/dev/null
trap 'DEBIAN_FRONTEND=noninteractive $sudo dpkg -r "$package" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "==> desktop-file-validate" >&2
apps=/usr/share/applications
for entry in "$apps/PeerDrop.desktop" "$apps/PeerDrop-links.desktop"; do
  [[ -f "$entry" ]] || { echo "missing $entry" >&2; exit 1; }
  desktop-file-validate "$entry"
done
grep -q '^Exec=peerdrop-app %F$' "$apps/PeerDrop.desktop" || { echo "PeerDrop.desktop: Exec lacks %F" >&2; exit 1; }
grep -q '^MimeType=.*application/octet-stream' "$apps/PeerDrop.desktop" || { echo "PeerDrop.desktop: no MimeType" >&2; exit 1; }
grep -q '^MimeType=x-scheme-handler/peerdrop;$' "$apps/PeerDrop-links.desktop" || { echo "no peerdrop:// handler" >&2; exit 1; }
[[ -x /usr/bin/peerdrop-app ]] || { echo "/usr/bin/peerdrop-app missing" >&2; exit 1; }

echo "==> starting the installed /usr/bin/peerdrop-app under Xvfb" >&2
home="$(mktemp -d)"
log="$home/app.log"
# Our own X server on a free display (Xvfb picks it and writes the number to fd 3).
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$home/display" 2>/dev/null &
xvfb=$!
for _ in $(seq 1 100); do [[ -s "$home/display" ]] && break; sleep 0.1; done
display=":$(cat "$home/display")"
# No session bus (so no single-instance hand-over to some other PeerDrop) and private folders.
env -u DBUS_SESSION_BUS_ADDRESS DISPLAY="$display" HOME="$home" XDG_CONFIG_HOME="$home/config" \
  XDG_DATA_HOME="$home/data" XDG_CACHE_HOME="$home/cache" NO_AT_BRIDGE=1 PEERDROP_LOG=info \
  setsid /usr/bin/peerdrop-app >"$log" 2>&1 &
# setsid: the app leads its own process group, so its WebKit helper processes (which keep
# writing their shader cache under $home) can be stopped with it before $home is removed.
app=$!
started=""
for _ in $(seq 1 600); do
  if grep -q "PeerDrop starting" "$log"; then started=yes; break; fi
  kill -0 "$app" 2>/dev/null || break
  sleep 0.1
done
sleep 3
alive=""
kill -0 "$app" 2>/dev/null && alive=yes
stop_app_group() {
  kill -TERM -- "-$app" 2>/dev/null || true
  for _ in $(seq 1 50); do
    pgrep -g "$app" >/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$app" 2>/dev/null || true
  for _ in $(seq 1 50); do
    pgrep -g "$app" >/dev/null || return 0
    sleep 0.1
  done
}
stop_app_group
wait "$app" 2>/dev/null || true
kill -TERM "$xvfb" 2>/dev/null || true
wait "$xvfb" 2>/dev/null || true
if [[ -z "$started" || -z "$alive" ]]; then
  echo "the installed app did not start (started=${started:-no} still running=${alive:-no}):" >&2
  cat "$log" >&2
  exit 1
fi
rm -rf "$home"
echo "deb ok: $deb builds, installs, validates and starts" >&2
