#!/usr/bin/env bash
# The page in one command: builds the JS module for the browser into
# examples/web/pkg and serves examples/web on http://127.0.0.1:PORT/.
#   bash examples/web/serve.sh [PORT]        (default 8000)
#   bash examples/web/serve.sh --build-only  (what tests/web/run.sh and
#                                             tests/wasm/build.sh use)
# Installs what is missing, pinned: the wasm32-unknown-unknown target, and
# the wasm-bindgen CLI at exactly the wasm-bindgen version Cargo.lock holds
# (the glue the CLI writes talks to the macro-generated code of that
# version; any other version fails at load time). Incremental and
# idempotent; honours CARGO_TARGET_DIR (default target/). Serves with
# Python's http.server, bound to loopback only: the page never uploads a
# log, it runs the module in the browser.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
step() { printf '\n== %s\n' "$*" >&2; }

BUILD_ONLY=
PORT=8000
case "${1:-}" in
  --build-only) BUILD_ONLY=1 ;;
  '') ;;
  *[!0-9]*) echo "usage: bash examples/web/serve.sh [PORT | --build-only]" >&2; exit 2 ;;
  *) PORT=$1 ;;
esac

# The version the build will link: the lockfile's, which plugin/js pins exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$WB_VERSION" ] || { echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; }

if command -v rustup >/dev/null; then
  step "rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  step "wasm-bindgen CLI $WB_VERSION (cargo install, a few minutes once)"
  # --locked first (the versions its authors tested). When a dependency its
  # lockfile names is missing from the registry we reach (webpki-roots
  # 1.0.11 is, for 0.2.130), fall back to the newest semver-compatible set.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked >&2 \
    || cargo install wasm-bindgen-cli --version "$WB_VERSION" >&2
fi

step "JS module for the page (wasm32-unknown-unknown + wasm-bindgen --target web)"
# Not stripped here: wasm-bindgen reads the target_features section, then
# drops custom sections itself.
CARGO_PROFILE_WASM_STRIP=false \
  cargo build -p postfix-enrich-js --target wasm32-unknown-unknown --profile wasm >&2
JSWASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/postfix_enrich_js.wasm"
wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir examples/web/pkg "$JSWASM"
ls -l examples/web/pkg/postfix_enrich_js_bg.wasm >&2

[ -n "$BUILD_ONLY" ] && exit 0
step "serving examples/web on http://127.0.0.1:$PORT/ (Ctrl-C stops)"
exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory examples/web
