#!/usr/bin/env bash
# Configuration is read once, at the edge: the binaries (CLI, app, server main, bench) read the
# environment and pass plain settings down; the libraries never call std::env (core/src/vars.rs
# says how they take variables instead). Fails naming each offending line.
set -euo pipefail
cd "$(dirname "$0")/.."

libraries=(proto/src machine/src core/src signal-server/src src-tauri/ipc/src src-tauri/launch/src)
# Code lines only (comments may name the function); signal-server's main.rs is its edge.
offenders="$(grep -rnE 'env::(var|var_os|vars|vars_os)\b' --include='*.rs' "${libraries[@]}" \
  | grep -v '^signal-server/src/main.rs:' \
  | grep -vE '^[^:]+:[0-9]+:\s*//' || true)"
if [[ -n "$offenders" ]]; then
  echo "FAIL: libraries must not read the environment (resolve it in the binary, pass it down):" >&2
  echo "$offenders" >&2
  exit 1
fi
echo "no library reads the environment (${libraries[*]})" >&2
