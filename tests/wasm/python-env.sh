#!/usr/bin/env bash
# Prints the path of a Python that has the pinned test packages (wasmtime
# from PyPI: a prebuilt runtime, no compile; pytest), installing them into a
# venv under $CARGO_TARGET_DIR when the current Python lacks them. Falls
# back to pip --user (--break-system-packages for Debian's PEP 668 Python)
# where the venv module is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
T="${CARGO_TARGET_DIR:-$PWD/target}"
PKGS=(wasmtime==50.0.1 pytest==9.2.0)
have() {
  "$1" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = {"wasmtime": "50.0.1", "pytest": "9.2.0"}
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) else 1)
PY
}
for py in "$T/wasm-test-venv/bin/python" python3; do
  if command -v "$py" >/dev/null && have "$py"; then command -v "$py"; exit 0; fi
done
if python3 -m venv "$T/wasm-test-venv" >&2 2>&1; then
  "$T/wasm-test-venv/bin/python" -m pip install -q --disable-pip-version-check "${PKGS[@]}" >&2
  echo "$T/wasm-test-venv/bin/python"
else
  python3 -m pip install -q --disable-pip-version-check --user "${PKGS[@]}" >&2 \
    || python3 -m pip install -q --disable-pip-version-check --user --break-system-packages "${PKGS[@]}" >&2
  command -v python3
fi
