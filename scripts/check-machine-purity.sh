#!/usr/bin/env bash
# Keeps the protocol crate (machine/) free of I/O: its normal dependency tree must not contain
# a runtime, a socket layer or WebRTC, its code reads no clock, and it must build for wasm32-unknown-unknown, where the
# browser peer uses it. Fails with the offending crates named.
set -euo pipefail
# Another target than the host build: no clippy-driver wrapper from test.sh.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cd "$(dirname "$0")/.."

forbidden='^(tokio|mio|webrtc|rtc|socket2|tokio-tungstenite|tungstenite|reqwest|hyper)(-[a-z0-9-]+)? '
tree="$(cargo tree --locked -p peerdrop-machine -e normal --prefix none --no-dedupe)"
if offenders="$(grep -E "$forbidden" <<<"$tree" | sort -u)" && [[ -n "$offenders" ]]; then
  echo "FAIL: peerdrop-machine must stay free of I/O, but depends on:" >&2
  echo "$offenders" >&2
  exit 1
fi
echo "peerdrop-machine depends on: $(awk '{print $1}' <<<"$tree" | sort -u | tr '\n' ' ')" >&2

# No clock reads either: the driver passes `now` in (machine/src/time.rs).
if clock="$(grep -nE 'Instant::now|SystemTime::now|UNIX_EPOCH' machine/src/*.rs | grep -vE '^[^:]+:[0-9]+:\s*//')" && [[ -n "$clock" ]]; then
  echo "FAIL: peerdrop-machine must not read a clock (take \`now\` from the driver):" >&2
  echo "$clock" >&2
  exit 1
fi

echo "==> cargo build -p peerdrop-machine --target wasm32-unknown-unknown" >&2
cargo build --locked -p peerdrop-machine --target wasm32-unknown-unknown
