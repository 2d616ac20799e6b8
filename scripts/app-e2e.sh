#!/usr/bin/env bash
# Builds the app, the CLI and the signaling server, then runs the end-to-end tests in real
# WebKit (tauri-driver + WebKitWebDriver) under Xvfb, one at a time. Screenshots land in
# docs/screenshots/. Usage: scripts/app-e2e.sh [extra cargo test args, e.g. a test name]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/app-deps.sh
app_bin="$(scripts/app-build.sh | tail -n 1)"
cargo build -p peerdrop-cli -p peerdrop-signal
cargo test -p peerdrop-e2e --no-run

export PEERDROP_APP_BIN="$app_bin"
# A roomy virtual screen so the 1040×740 window and its screenshots are never clipped.
xvfb-run -a -s "-screen 0 1440x1000x24" \
  cargo test -p peerdrop-e2e -- --test-threads=1 --nocapture "$@"
