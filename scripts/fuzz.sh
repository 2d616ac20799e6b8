#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ for a bounded time, after replaying every input that
# once crashed it (fuzz/regressions/<target>/). Exits non-zero on any crash; the crashing
# input is left in fuzz/artifacts/<target>/ — add it to fuzz/regressions/<target>/ and turn it
# into a unit test in the crate it belongs to.
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh sanitize_path
#
# cargo-fuzz needs nightly compiler flags (sanitizers); RUSTC_BOOTSTRAP=1 enables them on the
# stable toolchain this project uses. The fuzz crate is its own workspace (target in fuzz/target).
set -euo pipefail
# Another target (or workspace) than the host build: no clippy-driver wrapper from test.sh.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cd "$(dirname "$0")/../fuzz"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz" >&2
  cargo install cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo fuzz list)
fi

echo "==> cargo fuzz build (${targets[*]})" >&2
cargo fuzz build

for target in "${targets[@]}"; do
  if [[ -d "regressions/$target" ]]; then
    for input in "regressions/$target"/*; do
      [[ -f "$input" ]] || continue
      echo "==> $target: replay $input" >&2
      cargo fuzz run "$target" "$input" -- -runs=1 >/dev/null 2>&1 || {
        echo "FAIL: $target crashes again on $input" >&2
        cargo fuzz run "$target" "$input" -- -runs=1 || true
        exit 1
      }
    done
  fi
  mkdir -p "corpus/$target"
  echo "==> $target: fuzzing for ${seconds} s" >&2
  log="$(mktemp)"
  if ! cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    rm -f "$log"
    echo "FAIL: $target found a crash (input saved in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "$log" >&2 || true
  rm -f "$log"
done
echo "==> fuzz: no crashes" >&2
