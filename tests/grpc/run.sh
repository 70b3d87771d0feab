#!/usr/bin/env bash
# gRPC tests with non-Rust clients: installs the pinned Python client side
# into a virtualenv, builds the `postfix-enrich` binary, and runs pytest on
# tests/grpc (stubs are generated from proto/ by the tests themselves).
# Needs only Rust and Python 3 (with pip/venv). All network is on 127.0.0.1,
# ports picked free at run time. Exits non-zero on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${POSTFIX_ENRICH_TEST_VENV:-$root/target/grpc-test-venv}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" 2>/dev/null || {
    # Debian's python3 lacks ensurepip until python3-venv is installed.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      echo "python3 -m venv failed: install python3-venv" >&2; exit 1
    fi
  }
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"

target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build -q -p postfix-enrich)
export POSTFIX_ENRICH_BIN="$target/debug/postfix-enrich"

cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
