#!/usr/bin/env bash
# Checks README command 1 (scripts/run.sh) as a person runs it: a non-root user, in a dry run
# (nothing is installed or built). Needs root (it creates that user once).
#   1. With no Rust toolchain on PATH it stops with exit 1 and says how to get one (rustup).
#   2. With one, on a machine missing every package (dpkg-query answers "not installed"), it
#      would install with sudo exactly what building and running needs — no test tools
#      (Xvfb, WebKitWebDriver, dunst, coturn, tauri-driver…).
set -euo pipefail
cd "$(dirname "$0")/.."

user=peerdrop-person
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# What run.sh reads, where the user can read it (the checkout may be in root's home).
mkdir -p "$work/repo/scripts" "$work/bin"
cp scripts/run.sh scripts/app-deps.sh "$work/repo/scripts/"
cp Cargo.lock "$work/repo/"
chmod -R a+rX "$work"

as_person() { su "$user" -s /bin/bash -c "cd '$work/repo' && PATH='$1' ./scripts/run.sh --dry-run" 2>&1; }

# 1. No Rust.
set +e
out="$(as_person /usr/bin:/bin)"
status=$?
set -e
[[ $status -eq 1 ]] || { echo "FAIL: without Rust run.sh exited $status:"$'\n'"$out" >&2; exit 1; }
grep -q "rustup" <<<"$out" && grep -q "sh.rustup.rs" <<<"$out" || { echo "FAIL: no rustup advice:"$'\n'"$out" >&2; exit 1; }

# 2. A toolchain (stand-ins that answer like an empty rustup), nothing installed.
for tool in cargo rustup wasm-bindgen; do printf '#!/bin/sh\nexit 0\n' >"$work/bin/$tool"; done
printf '#!/bin/sh\necho "unknown ok not-installed"\n' >"$work/bin/dpkg-query"
chmod a+rx "$work/bin"/*
out="$(as_person "$work/bin:/usr/bin:/bin")"
apt_line="$(grep 'would run: sudo env DEBIAN_FRONTEND=noninteractive apt-get install' <<<"$out" || true)"
[[ -n "$apt_line" ]] || { echo "FAIL: no apt-get install with sudo:"$'\n'"$out" >&2; exit 1; }
for needed in libwebkit2gtk-4.1-dev libgtk-3-dev build-essential pkg-config libssl-dev; do
  grep -qw -- "$needed" <<<"$apt_line" || { echo "FAIL: $needed missing from: $apt_line" >&2; exit 1; }
done
for test_only in xvfb webkit2gtk-driver dunst imagemagick coturn iptables nginx; do
  ! grep -qw -- "$test_only" <<<"$apt_line" || { echo "FAIL: test tool $test_only installed to run: $apt_line" >&2; exit 1; }
done
! grep -q "tauri-driver" <<<"$out" || { echo "FAIL: tauri-driver installed to run:"$'\n'"$out" >&2; exit 1; }
grep -q "would run: rustup target add wasm32-unknown-unknown" <<<"$out" || { echo "FAIL: no wasm target:"$'\n'"$out" >&2; exit 1; }
echo "README command 1 as a non-root person: says how to get Rust; installs with sudo only: ${apt_line#*-qq }" >&2
