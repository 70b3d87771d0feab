#!/usr/bin/env bash
# Builds everything the wasm tests, the page and the benchmarks need, after
# installing the toolchain pieces (pinned): the rustup targets, and (through
# examples/web/serve.sh --build-only) the wasm-bindgen CLI at exactly the
# wasm-bindgen version Cargo.lock holds.
# Idempotent and incremental; honours CARGO_TARGET_DIR (default target/).
# Outputs:
#   $T/wasm32-wasip1/wasm/postfix_enrich_fluent_bit.wasm   Fluent Bit filter
#   $T/js-pkg/node/                                         JS module for Node
#   examples/web/pkg/                                       JS module for the page
#   $T/debug/postfix-enrich, $T/debug/examples/native       native CLI and reference
#   $T/day.log                                              the day example (examples/logs/make_day.rs)
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

step "rustup target wasm32-wasip1"
if command -v rustup >/dev/null; then
  rustup target add wasm32-wasip1 >&2
fi

step "native CLI and the native reference (plugin/wasm/examples/native.rs)"
cargo build -p postfix-enrich -p postfix-enrich-fluent-bit --bin postfix-enrich --example native >&2

step "the day example (the README's make_day command, written to \$T/day.log)"
cargo build -p postfix-enrich-tests --example make_day >&2
"$T/debug/examples/make_day" > "$T/day.log"
wc -l "$T/day.log" >&2

step "Fluent Bit filter (wasm32-wasip1)"
cargo build -p postfix-enrich-fluent-bit --target wasm32-wasip1 --profile wasm >&2
ls -l "$T/wasm32-wasip1/wasm/postfix_enrich_fluent_bit.wasm" >&2

# The page's build (target, pinned wasm-bindgen CLI, examples/web/pkg) is
# the one `bash examples/web/serve.sh` runs for a newcomer; Node's module
# comes from the same .wasm.
bash examples/web/serve.sh --build-only
step "JS module for Node (wasm-bindgen --target nodejs)"
JSWASM="$T/wasm32-unknown-unknown/wasm/postfix_enrich_js.wasm"
wasm-bindgen --target nodejs --remove-name-section --remove-producers-section --out-dir "$T/js-pkg/node" "$JSWASM"
ls -l "$T/js-pkg/node/postfix_enrich_js_bg.wasm" >&2
