#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and end-to-end tests. CI runs exactly this
# (.ci/run) as root on a clean clone. Every test starts its own servers on loopback or inside
# network namespaces it creates (test ranges only); nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
./scripts/app-deps.sh

echo "==> cargo fmt --check" >&2
cargo fmt --all --check

echo "==> cargo clippy -D warnings (engine, netbed, app shell, e2e; UI for wasm32)" >&2
cargo clippy --all-targets -- -D warnings
cargo clippy -p peerdrop-netbed -p peerdrop-app -p peerdrop-app-ipc -p peerdrop-e2e --all-targets -- -D warnings
cargo clippy -p peerdrop-ui --target wasm32-unknown-unknown -- -D warnings

echo "==> cargo test (proto, core, signal-server, cli end-to-end, bench)" >&2
cargo test

echo "==> network test bed (namespaces, NAT routers, coturn): path table" >&2
./scripts/netbed.sh

echo "==> app end-to-end in real WebKit (tauri-driver, Xvfb)" >&2
./scripts/app-e2e.sh

echo "==> fuzz: every target for ${FUZZ_SECONDS:-20} s (scripts/fuzz.sh)" >&2
./scripts/fuzz.sh
