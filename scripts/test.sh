#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and end-to-end tests. CI runs exactly this
# (.ci/run). Every test starts its own servers on loopback; nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh

echo "==> cargo fmt --check" >&2
cargo fmt --all --check

echo "==> cargo clippy (engine crates) -D warnings" >&2
cargo clippy --all-targets -- -D warnings

echo "==> cargo test (engine: proto, core, signal-server, cli, bench)" >&2
cargo test

echo "==> fuzz: every target for ${FUZZ_SECONDS:-20} s (scripts/fuzz.sh)" >&2
./scripts/fuzz.sh
