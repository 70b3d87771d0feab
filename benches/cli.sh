#!/usr/bin/env bash
# End-to-end CLI throughput: scales the recorded corpus to N lines (default
# 1,000,000) and times `postfix-enrich` writing NDJSON to /dev/null, five
# runs, beside `cat` over the same file as the I/O floor. Prints medians and
# the ratio. Usage: benches/cli.sh [LINES]
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 benches/scale_log.py --lines "$lines" tests/corpus/recording/mail.log examples/logs/seed-ehlo-probe.log > "$work/big.log"
cargo build --release -q -p postfix-enrich
bin=${CARGO_TARGET_DIR:-target}/release/postfix-enrich
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {
  for _ in 1 2 3 4 5; do
    s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f\n", e - s }'
  done | median
}
size=$(stat -c %s "$work/big.log")
t_cat=$(time_runs cat "$work/big.log")
t_cli=$(time_runs "$bin" -q --year 2026 "$work/big.log")
t_drop=$(time_runs "$bin" -q --year 2026 --drop-debug "$work/big.log")
calc() { awk "BEGIN { print $1 }"; }
printf 'input: %d lines, %.1f MB\n' "$lines" "$(calc "$size/1000000")"
printf 'cat (I/O floor):          median %.3f s\n' "$t_cat"
printf 'postfix-enrich (NDJSON):  median %.3f s = %.0f lines/s, %.1f MB/s in\n' "$t_cli" "$(calc "$lines/$t_cli")" "$(calc "$size/1000000/$t_cli")"
printf 'postfix-enrich --drop-debug: median %.3f s = %.0f lines/s\n' "$t_drop" "$(calc "$lines/$t_drop")"
printf 'ratio postfix-enrich / cat: %.1f\n' "$(calc "$t_cli/$t_cat")"
