#!/usr/bin/env bash
# gRPC tests with non-Rust clients: installs the pinned Python client side
# into a virtualenv, builds the `postfix-enrich` binary, and runs pytest on
# tests/grpc (stubs are generated from proto/ by the tests themselves).
# Needs only Rust and Python 3 (with pip/venv). All network is on 127.0.0.1,
# ports picked free at run time. Exits non-zero on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/tests/pytest-env.sh"
pytest_env "${POSTFIX_ENRICH_TEST_VENV:-$root/target/grpc-test-venv}" "$here/requirements.txt"

cd "$here"
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$@" .
