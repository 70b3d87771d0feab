#!/usr/bin/env bash
# Benchmarks, in one run: lines/s of the native core, records/s of the
# Fluent Bit filter under wasmtime and on WAMR's interpreter (when a
# nightly toolchain is there), lines/s of the JS module under Node,
# on the same input (the corpus's mail.log, else the bundled sample), each
# the median of 5 runs, then the ratios to native.
#   bash tests/wasm/bench.sh [FILE] [SECONDS_PER_MEASURE]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
FILE=${1:-tests/corpus/recording/mail.log}
[ -f "$FILE" ] || FILE=examples/logs/seed-ehlo-probe.log
SECS=${2:-5}

if [ -z "${SKIP_BUILD:-}" ]; then
  bash tests/wasm/build.sh
  cargo build --release -p postfix-enrich-fluent-bit --example native >&2
fi
PY=$(bash tests/wasm/python-env.sh)

echo "input: $FILE ($(wc -l < "$FILE") lines), ${SECS}s per measure, median of 5" >&2
NATIVE=$("$CARGO_TARGET_DIR/release/examples/native" bench "$FILE" "$SECS")
WASM=$(cd tests/wasm && "$PY" bench_filter.py "$ROOT/$FILE" "$SECS")
JS=$(node tests/wasm/js/bench.mjs "$FILE" "$SECS")

# The filter on WAMR's fast interpreter, Fluent Bit's engine. WAMR is not
# packaged anywhere we install from; the wamr-sys crate vendors a WAMR source
# tree (2020, older than Fluent Bit 5.1's 2.4, same interpreter design), which
# tests/wasm/wamr builds into a host that calls the module as filter_wasm does.
# That WAMR reads only MVP encodings and the stable std carries newer ones, so
# the module is rebuilt with nightly's build-std for target-cpu=mvp, linking
# the stable toolchain's wasi-libc. Skipped, and said so, without a nightly
# toolchain; SKIP_INTERP=1 skips it.
INTERP='{}'
if [ -z "${SKIP_INTERP:-}" ] && command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly' \
   && rustup component add rust-src --toolchain nightly >&2 2>&1; then
  LIBC=$(rustc --print sysroot)/lib/rustlib/wasm32-wasip1/lib/self-contained
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR/mvp" RUSTFLAGS="-C target-cpu=mvp -L $LIBC" \
    cargo +nightly build -Z build-std=std,panic_abort -p postfix-enrich-fluent-bit \
    --target wasm32-wasip1 --profile wasm >&2
  command -v cmake >/dev/null || { apt-get update -q >&2 && apt-get install -y -q cmake >&2; }
  SRC="$CARGO_TARGET_DIR/wamr-src"
  mkdir -p "$SRC/src" && touch "$SRC/src/lib.rs"
  printf '[package]\nname = "wamr-src"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nwamr-sys = "=0.1.1"\n\n[workspace]\n' > "$SRC/Cargo.toml"
  cargo fetch --manifest-path "$SRC/Cargo.toml" >&2
  WAMR_DIR=$(cargo metadata --manifest-path "$SRC/Cargo.toml" --format-version 1 | "$PY" -c '
import json, os, sys
m = json.load(sys.stdin)
print(os.path.dirname(next(p["manifest_path"] for p in m["packages"] if p["name"] == "wamr-sys")))')/wasm-micro-runtime
  cmake -S tests/wasm/wamr -B "$CARGO_TARGET_DIR/wamr-host" -DWAMR_DIR="$WAMR_DIR" >&2
  cmake --build "$CARGO_TARGET_DIR/wamr-host" -j 2 >&2
  INTERP=$("$CARGO_TARGET_DIR/wamr-host/filter_host" \
    "$CARGO_TARGET_DIR/mvp/wasm32-wasip1/wasm/postfix_enrich_fluent_bit.wasm" "$FILE" 5)
else
  echo "no nightly toolchain with rust-src: the WAMR row is skipped" >&2
fi
"$PY" - "$NATIVE" "$WASM" "$JS" "$INTERP" <<'PY'
import json, sys
n, w, j, i = (json.loads(a) for a in sys.argv[1:])
core = n["core_lines_per_s"]
rows = [
    ("native core (enrich + write_json)", core),
    ("native core, enrich only (no JSON)", n["enrich_only_lines_per_s"]),
    ("native filter splice (Filter::process)", n["filter_records_per_s"]),
    ("wasm filter under wasmtime, net of host call", w["net_records_per_s"]),
    ("wasm filter under wasmtime, gross (wasmtime-py call)", w["gross_records_per_s"]),
    *([("wasm filter on WAMR's fast interpreter (Fluent Bit's engine)", i["records_per_s"])] if i else []),
    ("JS module: push (JSON.parse)", j["push_json_parse"]),
    ("JS module: pushDirect (serde-wasm-bindgen)", j["push_serde_wasm_bindgen"]),
    ("JS module: pushJson (text only)", j["push_json_text"]),
    ("JS module: pushText (bulk, no JSON; + report builder)", j["push_text_bulk"]),
]
print(f"{'what':62} {'per second':>12} {'vs native':>10}")
for name, v in rows:
    print(f"{name:62} {v:>12,} {v / core:>9.2f}x")
print(f"load average: {open('/proc/loadavg').read().split()[0]}")
print(f"(wasmtime-py host call overhead: {w['host_call_overhead_us']} us/call, subtracted for 'net')")
PY
