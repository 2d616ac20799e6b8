#!/usr/bin/env bash
# Builds the app, the CLI and the signaling server (the suite's one build,
# scripts/lib/workspace.sh), then runs the end-to-end tests in real WebKit (tauri-driver +
# WebKitWebDriver) under Xvfb, one at a time. Screenshots land in docs/screenshots/.
# Usage: scripts/app-e2e.sh [extra test-binary args, e.g. a test name]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/workspace.sh
source scripts/lib/workspace.sh

scripts/app-deps.sh
build_workspace

PEERDROP_APP_BIN="$(workspace_target_dir)/debug/peerdrop-app"
export PEERDROP_APP_BIN
# A roomy virtual screen so the 1040×740 window and its screenshots are never clipped.
# shellcheck disable=SC2046 # one word per line
xvfb-run -a -s "-screen 0 1440x1000x24" \
  cargo test --locked "${WORKSPACE_SELECTION[@]}" $(integration_test_args peerdrop-e2e) -- --test-threads=1 --nocapture "$@"
