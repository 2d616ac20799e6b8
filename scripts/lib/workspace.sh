# Sourced by every script that builds or tests the workspace on this machine (test.sh,
# netbed.sh, app-e2e.sh, app-build.sh). It exists so that the whole suite compiles each crate
# once:
#
# - One package selection for every host build and test run (WORKSPACE_SELECTION). Cargo
#   resolves dependency features per selection, so `cargo build -p peerdrop-app` after
#   `cargo test` rebuilt ≈ 170 crates (the whole WebRTC stack among them) with other features,
#   and `-p peerdrop-cli -p peerdrop-signal` rebuilt the CLI yet again. Steps that run only some
#   tests narrow the *targets* (`--test NAME`), never the packages.
# - Lints in the same compile as the tests: clippy-driver runs as cargo's workspace wrapper
#   (what `cargo clippy` does, but for a real build), so workspace crates are linted while they
#   are compiled and dependencies are compiled once, not once more in check mode for clippy.
#   `CLIPPY_ARGS` is how cargo-clippy hands clippy-driver its arguments (`-- -D warnings`).
#   Every cargo call that builds host workspace crates must run with these variables, or cargo
#   rebuilds those crates without them (dependencies are unaffected).
#
# Packages left out of the host selection: peerdrop-ui (wasm only; built by build_ui) and
# peerdrop-app-mobile (the app as cdylib/staticlib for Android, which would link two more copies
# of the app; scripts/android-check.sh checks the mobile path).

WORKSPACE_SELECTION=(--workspace --exclude peerdrop-ui --exclude peerdrop-app-mobile)
# Integration tests that need more than a plain process: run by their own steps.
#   peerdrop-netbed: network namespaces, coturn (root)       → scripts/netbed.sh
#   peerdrop-e2e:    the app in WebKit under Xvfb             → scripts/app-e2e.sh
OWN_STEP_PACKAGES=(peerdrop-netbed peerdrop-e2e)

# Lints as part of the build (see above).
lint_while_building() {
  RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
  export RUSTC_WORKSPACE_WRAPPER
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

# The build folder cargo uses (CARGO_TARGET_DIR or ./target).
workspace_target_dir() {
  cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

# `--test NAME` for every integration test of the packages named ("" = every package not in
# OWN_STEP_PACKAGES).
integration_test_args() {
  local wanted="$*"
  cargo metadata --format-version 1 --no-deps | WANTED="$wanted" OWN="${OWN_STEP_PACKAGES[*]}" python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
wanted = os.environ["WANTED"].split()
own = os.environ["OWN"].split()
for pkg in meta["packages"]:
    chosen = pkg["name"] in wanted if wanted else pkg["name"] not in own
    if not chosen:
        continue
    for target in pkg["targets"]:
        if "test" in target["kind"]:
            print("--test")
            print(target["name"])
'
}

# The Sycamore UI for wasm32, linted, then wasm-bindgen into src-ui/dist, which the app embeds
# (tauri's generate_context! needs it before the app crate compiles, even for a check).
# Usage: build_ui [--release]
build_ui() {
  local profile=debug cargo_profile=()
  if [[ "${1:-}" == "--release" ]]; then
    profile=release
    cargo_profile=(--release)
  fi
  local target_dir
  target_dir="$(workspace_target_dir)"
  echo "==> UI: cargo build -p peerdrop-ui --target wasm32-unknown-unknown ${cargo_profile[*]}" >&2
  cargo build --locked -p peerdrop-ui --target wasm32-unknown-unknown "${cargo_profile[@]}"
  local wasm="$target_dir/wasm32-unknown-unknown/$profile/peerdrop-ui.wasm"
  local dist=src-ui/dist stamp="$target_dir/peerdrop-ui-dist.sha256"
  # wasm-bindgen only when the wasm changed: rewriting dist would make the app recompile.
  local fingerprint
  fingerprint="$(sha256sum "$wasm" src-ui/index.html src-ui/style.css src-ui/boot.js | sha256sum | cut -d' ' -f1)"
  if [[ -f "$dist/index.html" && -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]]; then
    return 0
  fi
  echo "==> UI: wasm-bindgen → $dist" >&2
  local staging
  staging="$(mktemp -d)"
  wasm-bindgen --target web --no-typescript --out-dir "$staging" "$wasm"
  cp src-ui/index.html src-ui/style.css src-ui/boot.js "$staging/"
  # Replace dist only when everything is ready, so the app never embeds half a UI.
  rm -rf "$dist"
  mkdir -p "$dist"
  cp -r "$staging"/. "$dist/"
  rm -rf "$staging"
  echo "$fingerprint" >"$stamp"
}

# Everything the host steps need, in one cargo build: every library, binary (peerdrop,
# peerdrop-signal, peerdrop-app, the bench) and test of the selection, linted as it compiles.
build_workspace() {
  lint_while_building
  build_ui
  echo "==> cargo build ${WORKSPACE_SELECTION[*]} --bins --tests (clippy-driver lints workspace crates)" >&2
  # --timings: target/cargo-timings/ shows where a build's time went (cheap to keep).
  cargo build --locked --timings "${WORKSPACE_SELECTION[@]}" --bins --tests
}
