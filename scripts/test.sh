#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and end-to-end tests. CI runs exactly this
# (.ci/run) as root on a clean clone. Every test starts its own servers on loopback or inside
# network namespaces it creates (test ranges only); nothing leaves this machine.
#
# One build serves every step (scripts/lib/workspace.sh): the host workspace is compiled once,
# with one package selection (so one feature set) and clippy-driver linting workspace crates
# while they compile; the test steps then only run what that build produced.
#
# Build folder: CARGO_TARGET_DIR if set; under CI (CI=true) otherwise ~/.cache/peerdrop-target,
# which CI keeps between runs. Developers who export
# CARGO_TARGET_DIR=$HOME/.cache/peerdrop-target build into the same folder, so their builds
# warm CI's (cargo's fingerprints make a stale artifact impossible; delete it to start cold).
#
# Each step prints how long it took; the end prints the total and the slowest steps.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${CI:-}" && -z "${CARGO_TARGET_DIR:-}" ]]; then
  export CARGO_TARGET_DIR="$HOME/.cache/peerdrop-target"
fi
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  mkdir -p "$CARGO_TARGET_DIR"
fi
# shellcheck source=lib/workspace.sh
source scripts/lib/workspace.sh

suite_start=$SECONDS
step_start=$SECONDS
step_name=""
step_times=()
# Closes the previous step (printing its duration) and announces the next one.
step() {
  if [[ -n "$step_name" ]]; then
    local took=$((SECONDS - step_start))
    echo "<== ${step_name}: ${took} s" >&2
    step_times+=("${took}"$'\t'"${step_name}")
  fi
  step_name="$1"
  step_start=$SECONDS
  [[ -n "$step_name" ]] && echo "==> ${step_name}" >&2
  return 0
}
summary() {
  local status=$?
  step ""
  echo "==> whole suite: $((SECONDS - suite_start)) s ($( ((status == 0)) && echo passed || echo "FAILED, exit $status"))" >&2
  echo "slowest steps:" >&2
  printf '%s\n' "${step_times[@]}" | sort -rn | head -n 5 | awk -F'\t' '{ printf "  %5d s  %s\n", $1, $2 }' >&2
}
trap summary EXIT

step "dependencies (apt, rust targets, tools)"
./scripts/deps.sh
./scripts/app-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "build + clippy -D warnings: UI (wasm32) and the whole workspace (host), once"
build_workspace

step "protocol crate (machine/) has no I/O dependencies or clock reads and builds for wasm32"
./scripts/check-machine-purity.sh

step "configuration is read at the edge: no library reads the environment"
./scripts/check-config-at-edge.sh

step "cargo test: unit, integration and doc tests (proto, machine, core, signal-server, cli, app, bench)"
# shellcheck disable=SC2046 # one word per line
cargo test --locked "${WORKSPACE_SELECTION[@]}" --lib --bins $(integration_test_args)
cargo test --locked "${WORKSPACE_SELECTION[@]}" --doc

step "README command 1 as a non-root person (scripts/run.sh --dry-run)"
./scripts/run-check.sh

step "UI unit tests (the Sycamore pages' model and wording, on the host)"
# peerdrop-ui is wasm in the app; its pure parts (transfer model, texts, formats) test natively.
cargo test --locked -p peerdrop-ui

step "network test bed (namespaces, NAT routers, coturn): path table"
./scripts/netbed.sh

step "app end-to-end in real WebKit (tauri-driver, Xvfb)"
./scripts/app-e2e.sh

step "Linux package: .deb built (tauri-bundler), installed, desktop-file-validate, started under Xvfb"
./scripts/deb-check.sh

step "Server package: peerdrop-signal .deb built, installed, its unit's settings run behind nginx, a file sent over wss://"
./scripts/server-deb-check.sh

step "Android: committed project == tauri-cli's + android-edits.patch; share path checked for aarch64"
./scripts/android-check.sh

step "Windows: the app type-checks for x86_64-pc-windows-gnu (mingw-w64; cargo check, not linked)"
./scripts/windows-build.sh check

step "fuzz: every target for ${FUZZ_SECONDS:-20} s (scripts/fuzz.sh)"
./scripts/fuzz.sh
