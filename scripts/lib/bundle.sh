# Sourced by scripts/deb-check.sh (CI: build, install, check) and scripts/run.sh --deb (a person:
# build the package to install). Defines bundle_deb.

# Builds the .deb of the `profile` build of the app in `target_dir` into the folder `out` and
# prints its path.
#
# The packaging tool (Tauri's bundler as a library, src-tauri/bundle, its own workspace) is
# installed like the other tools, once per machine: ~/.cargo/bin/peerdrop-app-bundle, rebuilt
# only when its sources or tauri.conf.json (which its unit test reads) change. Its ≈ 220 crates
# take 6–9 min to compile on 2 cores; they are no part of the workspace build.
# The package holds a stripped copy, as Debian packages ship binaries (the debug build's line
# tables are a third of its 63 MB, which would only make the package slower to compress and
# install).
bundle_deb() {
  local profile="$1" target_dir="$2" out="$3"
  (
    unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
    local bundler="$HOME/.cargo/bin/peerdrop-app-bundle"
    local stamp="$HOME/.cargo/bin/.peerdrop-app-bundle.sha256"
    local sources
    sources="$( (find src-tauri/bundle -path src-tauri/bundle/target -prune -o -type f -print | sort | xargs sha256sum; sha256sum tauri.conf.json) | sha256sum | cut -d' ' -f1)"
    if [[ ! -x "$bundler" || ! -f "$stamp" || "$(cat "$stamp")" != "$sources" ]]; then
      echo "==> installing the packaging tool: src-tauri/bundle (tests, then release build)" >&2
      local tools_target="${XDG_CACHE_HOME:-$HOME/.cache}/peerdrop-tools-target"
      cargo test --locked --release --manifest-path src-tauri/bundle/Cargo.toml --target-dir "$tools_target" >&2
      cargo build --locked --release --manifest-path src-tauri/bundle/Cargo.toml --target-dir "$tools_target" >&2
      mkdir -p "$(dirname "$bundler")"
      install -m 0755 "$tools_target/release/peerdrop-app-bundle" "$bundler"
      echo "$sources" >"$stamp"
    fi
    strip --strip-debug -o "$out/peerdrop-app" "$target_dir/$profile/peerdrop-app"
    echo "==> bundling the .deb (tauri-bundler)" >&2
    local deb
    deb="$("$bundler" --root . --profile "$profile" --out-dir "$out" | tail -n 1)"
    [[ -f "$deb" ]] || { echo "no .deb produced" >&2; exit 1; }
    echo "$deb"
  )
}
