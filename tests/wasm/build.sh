#!/usr/bin/env bash
# Builds everything the wasm tests, the page and the benchmarks need, after
# installing the toolchain pieces (pinned): the rustup targets, and the
# wasm-bindgen CLI at exactly the wasm-bindgen version plugin/js pins.
# Idempotent and incremental; honours CARGO_TARGET_DIR (default target/).
# Outputs:
#   $T/wasm32-wasip1/wasm/postfix_enrich_fluent_bit.wasm   Fluent Bit filter
#   $T/js-pkg/node/                                         JS module for Node
#   examples/web/pkg/                                       JS module for the page
#   $T/debug/postfix-enrich, $T/debug/examples/native       native CLI and reference
# The native side is built in the dev profile: CI's `cargo test --workspace`
# has compiled all of it already, so this costs seconds there (the release
# CLI pulls in the gRPC stack: ~10 minutes on 2 cores). bench.sh builds its
# own release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
T=$CARGO_TARGET_DIR
step() { printf '\n== %s\n' "$*" >&2; }

# The CLI must match the crate version exactly: the glue it writes talks to
# the macro-generated code of that version.
WB_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' plugin/js/Cargo.toml)
[ -n "$WB_VERSION" ] || { echo "no exact wasm-bindgen pin in plugin/js/Cargo.toml" >&2; exit 1; }

step "rustup targets"
if command -v rustup >/dev/null; then
  rustup target add wasm32-wasip1 wasm32-unknown-unknown >&2
fi

step "wasm-bindgen CLI $WB_VERSION"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  # --locked first (the versions its authors tested). When a dependency its
  # lockfile names is missing from the registry we reach (webpki-roots
  # 1.0.11 is, for 0.2.130), fall back to the newest semver-compatible set.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked >&2 \
    || cargo install wasm-bindgen-cli --version "$WB_VERSION" >&2
fi

step "native CLI and the native reference (plugin/wasm/examples/native.rs)"
cargo build -p postfix-enrich -p postfix-enrich-fluent-bit --bin postfix-enrich --example native >&2

step "Fluent Bit filter (wasm32-wasip1)"
cargo build -p postfix-enrich-fluent-bit --target wasm32-wasip1 --profile wasm >&2
ls -l "$T/wasm32-wasip1/wasm/postfix_enrich_fluent_bit.wasm" >&2

step "JS module (wasm32-unknown-unknown + wasm-bindgen)"
# Not stripped here: wasm-bindgen reads the target_features section, then
# drops custom sections itself.
CARGO_PROFILE_WASM_STRIP=false \
  cargo build -p postfix-enrich-js --target wasm32-unknown-unknown --profile wasm >&2
JSWASM="$T/wasm32-unknown-unknown/wasm/postfix_enrich_js.wasm"
wasm-bindgen --target nodejs --remove-name-section --remove-producers-section --out-dir "$T/js-pkg/node" "$JSWASM"
wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir examples/web/pkg "$JSWASM"
ls -l "$T/js-pkg/node/postfix_enrich_js_bg.wasm" examples/web/pkg/postfix_enrich_js_bg.wasm >&2
