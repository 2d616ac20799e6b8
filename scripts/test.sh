#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and end-to-end tests. CI runs exactly this
# (.ci/run) as root on a clean clone. Every test starts its own servers on loopback or inside
# network namespaces it creates (test ranges only); nothing leaves this machine.
#
# Each step prints how long it took, so a slow CI run shows where its time went.
# Under CI (CI=true) the build directory lives in ~/.cache/peerdrop-target unless
# CARGO_TARGET_DIR says otherwise: a clean clone then rebuilds only this workspace's crates,
# not the ~900 dependencies (cargo's fingerprints make a stale artifact impossible; delete the
# folder to start cold). Developers keep the usual ./target.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${CI:-}" && -z "${CARGO_TARGET_DIR:-}" ]]; then
  export CARGO_TARGET_DIR="$HOME/.cache/peerdrop-target"
  mkdir -p "$CARGO_TARGET_DIR"
fi

suite_start=$SECONDS
step_start=$SECONDS
step_name=""
# Closes the previous step (printing its duration) and announces the next one.
step() {
  if [[ -n "$step_name" ]]; then
    echo "<== ${step_name}: $((SECONDS - step_start)) s" >&2
  fi
  step_name="$1"
  step_start=$SECONDS
  [[ -n "$step_name" ]] && echo "==> ${step_name}" >&2
  return 0
}

step "dependencies (apt, rust targets, tools)"
./scripts/deps.sh
./scripts/app-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings (whole workspace; UI for wasm32)"
cargo clippy --workspace --exclude peerdrop-ui --all-targets -- -D warnings
cargo clippy -p peerdrop-ui --target wasm32-unknown-unknown -- -D warnings

step "cargo test (proto, core, signal-server, cli end-to-end, bench)"
cargo test

step "network test bed (namespaces, NAT routers, coturn): path table"
./scripts/netbed.sh

step "app end-to-end in real WebKit (tauri-driver, Xvfb)"
./scripts/app-e2e.sh

step "Linux package: .deb built (tauri-bundler), installed, desktop-file-validate, started under Xvfb"
./scripts/deb-check.sh

step "Android: committed project == tauri-cli's + android-edits.patch; share path checked for aarch64"
./scripts/android-check.sh

step "Windows cross-build of the app (x86_64-pc-windows-gnu, mingw-w64; built, not run)"
./scripts/windows-build.sh build

step "fuzz: every target for ${FUZZ_SECONDS:-20} s (scripts/fuzz.sh)"
./scripts/fuzz.sh

step ""
echo "==> whole suite: $((SECONDS - suite_start)) s" >&2
