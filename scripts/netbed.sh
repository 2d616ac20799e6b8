#!/usr/bin/env bash
# The network test bed: brings up network namespaces (two homes behind NAT routers, an
# "internet" with peerdrop-signal and coturn), runs every path case and the coturn security
# tests with the real binaries, and prints a table: case, path, MB/s, hash ok.
# Runs every integration test of peerdrop-netbed. Extra arguments go to the test binaries.
# Needs root; installs coturn/iproute2/iptables when missing (scripts/deps.sh). Builds with the
# suite's one build (scripts/lib/workspace.sh), which also needs the app's build tools.
# Addresses used: 198.18.0.0/15 and 203.0.113.0/24 only, inside namespaces it creates.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/workspace.sh
source scripts/lib/workspace.sh

./scripts/deps.sh
./scripts/app-deps.sh
build_workspace

echo "==> cargo test: peerdrop-netbed (network namespaces, coturn)" >&2
# shellcheck disable=SC2046 # one word per line
exec cargo test --locked "${WORKSPACE_SELECTION[@]}" $(integration_test_args peerdrop-netbed) -- --nocapture "$@"
