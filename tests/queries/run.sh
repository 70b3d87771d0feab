#!/usr/bin/env bash
# The documented queries on real engines: every statement of
# examples/queries/clickhouse.sql on an embedded ClickHouse (chdb), and
# `serve`'s metrics scraped by a real Prometheus (Debian's package, started
# by the test on loopback), plus the field names of the LogQL and
# Elasticsearch examples against the JSON Schema. Installs chdb and pytest
# into a virtualenv, builds the `postfix-enrich` binary, runs pytest on
# tests/queries. Extra arguments go to pytest (`-k clickhouse`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${POSTFIX_ENRICH_QUERIES_VENV:-$root/target/queries-test-venv}

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

# Debian's Prometheus for the metrics test (the test starts it itself).
if ! command -v prometheus >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build -q -p postfix-enrich)
export POSTFIX_ENRICH_BIN="$target/debug/postfix-enrich"

cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
