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
source "$root/tests/pytest-env.sh"

# Debian's Prometheus for the metrics test (the test starts it itself).
if ! command -v prometheus >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
pytest_env "${POSTFIX_ENRICH_QUERIES_VENV:-$root/target/queries-test-venv}" "$here/requirements.txt"

cd "$here"
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$@" .
