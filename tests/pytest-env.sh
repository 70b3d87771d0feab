# Sourced by the pytest suites that drive the `postfix-enrich` binary
# (tests/grpc/run.sh, tests/queries/run.sh): makes a virtualenv at $1 with
# the pinned packages of requirements file $2 (installing Debian's
# python3-venv first when root and the venv module is missing), builds the
# debug binary, and exports POSTFIX_ENRICH_BIN and PYTHON (the venv's).
# Needs only Rust and Python 3.
pytest_env() {
  local venv=$1 requirements=$2
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || {
      # Debian's python3 lacks ensurepip until python3-venv is installed.
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
      else
        echo "python3 -m venv failed: install python3-venv" >&2
        return 1
      fi
    }
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  (cd "$root" && cargo build -q -p postfix-enrich)
  export POSTFIX_ENRICH_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/postfix-enrich"
  export PYTHON="$venv/bin/python"
}
