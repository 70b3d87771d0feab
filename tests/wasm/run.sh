#!/usr/bin/env bash
# Test entry point for the WebAssembly modules, for CI and by hand:
#   bash tests/wasm/run.sh
# On a fresh Debian machine with Rust, Python 3 + pip and Node/npm it
# installs what it needs (pinned), builds (tests/wasm/build.sh), then runs
#   - pytest tests/wasm      the Fluent Bit filter under wasmtime
#   - node --test tests/wasm/js   the JS module under Node
# Both suites always run; the exit status is non-zero if either failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

bash tests/wasm/build.sh || { echo "wasm build failed" >&2; exit 1; }

PY=$(bash tests/wasm/python-env.sh) || { echo "python env setup failed" >&2; exit 1; }

status=0
printf '\n== Fluent Bit filter under wasmtime (pytest)\n'
(cd tests/wasm && "$PY" -m pytest -q -p no:cacheprovider .) || status=1
printf '\n== JS module under Node (node --test)\n'
node --test tests/wasm/js/ || status=1
exit $status
