#!/usr/bin/env bash
# Keeps the committed Android project honest and the share-intent code compiling for Android,
# on a machine without the Android SDK or NDK (docs/android.md):
#
# 1. Regenerates the Tauri Android project with tauri-cli (`npm run tauri android init --ci`:
#    the prebuilt npm build of tauri-cli pinned by src-tauri/mobile/package-lock.json, the
#    version of the tauri crate in Cargo.lock) into a scratch copy of the repository, applies PeerDrop's edits (src-tauri/mobile/android-edits.patch), and
#    requires the result to equal src-tauri/mobile/gen/android exactly, apart from PeerDrop's
#    own Kotlin package (org/peerdrop/share). So the committed project is what tauri-cli makes
#    plus a reviewed patch, and a tauri upgrade that changes the template shows up here.
#    tauri-cli only needs the SDK and NDK to be *named* to generate files; a stand-in folder
#    with an NDK version file satisfies that, and nothing from it ends up in the project.
# 2. `cargo check --target aarch64-linux-android` of peerdrop-app-launch: the Android share path
#    (content URIs through tauri-plugin-fs) type-checks against tauri's mobile APIs.
#
# Usage: scripts/android-check.sh [--regenerate]   (--regenerate rewrites the patch from the
# committed project instead of checking it: run it after editing gen/android on purpose).
set -euo pipefail
# Another target (or workspace) than the host build: no clippy-driver wrapper from test.sh.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cd "$(dirname "$0")/.."
repo="$PWD"

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
if ! command -v patch >/dev/null; then
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq patch
fi

tauri_version="$(awk '/^name = "tauri"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
pinned="$(sed -n 's/.*"@tauri-apps\/cli": "\([^"]*\)".*/\1/p' src-tauri/mobile/package.json)"
if [[ "$pinned" != "$tauri_version" ]]; then
  echo "src-tauri/mobile/package.json pins @tauri-apps/cli $pinned but Cargo.lock has tauri $tauri_version" >&2
  exit 1
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# A copy of the tracked and new (not ignored) files, without the committed Android project.
# (The scratch folder is deleted at exit; the stand-in SDK lives inside it.)
git ls-files -z --cached --others --exclude-standard |
  (cd "$repo" && xargs -0 cp --parents -P -t "$scratch/" 2>/dev/null || true)
rm -rf "$scratch/src-tauri/mobile/gen/android"
sdk="$scratch/.stand-in-android-sdk"
mkdir -p "$sdk/ndk/27.0.12077973" "$sdk/platforms" "$sdk/platform-tools"
printf 'Pkg.Desc = Android NDK\nPkg.Revision = 27.0.12077973\n' >"$sdk/ndk/27.0.12077973/source.properties"

echo "==> npm ci; npm run tauri android init (in a scratch copy)" >&2
# Through npm, as a maintainer runs it: tauri-cli writes the command that started it into the
# project's Gradle build task (`npm run -- tauri android android-studio-script`).
(cd "$scratch/src-tauri/mobile" && npm ci --no-audit --no-fund --silent &&
  ANDROID_HOME="$sdk" NDK_HOME="$sdk/ndk/27.0.12077973" \
    npm run --silent tauri -- android init --ci --skip-targets-install >"$scratch/init.log" 2>&1) ||
  { cat "$scratch/init.log" >&2; echo "tauri android init failed" >&2; exit 1; }
generated="$scratch/src-tauri/mobile/gen/android"
committed="$repo/src-tauri/mobile/gen/android"
patch_file="$repo/src-tauri/mobile/android-edits.patch"
own_code="app/src/main/java/org/peerdrop/share"

if [[ "${1:-}" == "--regenerate" ]]; then
  mkdir -p "$scratch/cmp"
  cp -a "$generated" "$scratch/cmp/a"
  cp -a "$committed" "$scratch/cmp/b"
  rm -rf "$scratch/cmp/b/$own_code"
  (cd "$scratch/cmp" && diff -ruN a b || true) |
    sed -E 's/^((\+\+\+|---) [^\t]+)\t.*/\1/' >"$patch_file"
  echo "wrote $patch_file ($(grep -c '^+++' "$patch_file") files)" >&2
  exit 0
fi

echo "==> generated + android-edits.patch == src-tauri/mobile/gen/android" >&2
(cd "$generated" && patch -p1 --quiet --no-backup-if-mismatch <"$patch_file")
mkdir -p "$generated/$own_code"
cp -a "$committed/$own_code/." "$generated/$own_code/"
# Git keeps no empty folders (the generated app/src/main/assets is one): compare files only.
find "$generated" -type d -empty -delete
if ! diff -r "$generated" "$committed" >"$scratch/diff.txt"; then
  cat "$scratch/diff.txt" >&2
  echo "src-tauri/mobile/gen/android differs from tauri-cli $tauri_version's project plus" \
    "android-edits.patch (edited on purpose? run scripts/android-check.sh --regenerate)" >&2
  exit 1
fi
echo "Android project ok: tauri-cli $tauri_version output + $(grep -c '^+++' "$patch_file") edited files + $own_code" >&2

echo "==> cargo check -p peerdrop-app-launch --target aarch64-linux-android" >&2
rustup target list --installed | grep -qx aarch64-linux-android || rustup target add aarch64-linux-android
cargo check --locked -p peerdrop-app-launch --target aarch64-linux-android
echo "android check ok" >&2
