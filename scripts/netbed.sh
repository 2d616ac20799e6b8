#!/usr/bin/env bash
# The network test bed: brings up network namespaces (two homes behind NAT routers, an
# "internet" with peerdrop-signal and coturn), runs every path case and the coturn security
# tests with the real binaries, and prints a table: case, path, MB/s, hash ok.
# Needs root; installs coturn/iproute2/iptables when missing (scripts/deps.sh).
# Addresses used: 198.18.0.0/15 and 203.0.113.0/24 only, inside namespaces it creates.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh

echo "==> cargo test -p peerdrop-netbed (network namespaces, coturn)" >&2
exec cargo test -p peerdrop-netbed --test coturn_security --test nat_paths -- --nocapture "$@"
