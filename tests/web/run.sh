#!/usr/bin/env bash
# Test entry point for the page (examples/web), for CI and by hand:
#   bash tests/web/run.sh
# Installs Debian's chromium when /usr/bin/chromium is missing (no browser
# is ever downloaded by npm), installs playwright-core at the version pinned
# in package-lock.json, builds the JS module into examples/web/pkg with
# the newcomer's command (examples/web/serve.sh --build-only, incremental),
# builds the CLI the tests compare the page with and the day example
# (examples/logs/make_day.rs → $CARGO_TARGET_DIR/day.log), then runs the
# headless-Chromium tests
# with `node --test`. Screenshots land in $CARGO_TARGET_DIR/web-test/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  printf '\n== installing chromium (Debian package)\n' >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

printf '\n== playwright-core (npm, pinned)\n' >&2
# playwright-core has no install script and downloads no browser.
(cd tests/web && npm ci --no-audit --no-fund --ignore-scripts >&2)

if [ -z "${SKIP_BUILD:-}" ]; then
  bash examples/web/serve.sh --build-only
  printf '\n== the CLI and the day example\n' >&2
  cargo build -p postfix-enrich --bin postfix-enrich -p postfix-enrich-tests --example make_day >&2
  "$CARGO_TARGET_DIR/debug/examples/make_day" > "$CARGO_TARGET_DIR/day.log"
fi

printf '\n== page tests in headless Chromium (node --test)\n'
node --test tests/web/page.test.mjs
