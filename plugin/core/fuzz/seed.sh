#!/bin/sh
# Splits the real-Postfix recording and the bundled sample into libFuzzer
# seed files: windows of 8 consecutive lines, so the stateful path sees
# connect/command/disconnect sequences, not only isolated lines.
# Usage: plugin/core/fuzz/seed.sh [OUTDIR]   (default: plugin/core/fuzz/seeds)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$here/seeds}
mkdir -p "$out"
for f in "$repo"/tests/corpus/recording/mail.log "$repo"/tests/corpus/recording/syslog.log \
         "$repo"/examples/logs/seed-ehlo-probe.log; do
    base=$(basename "$f" .log)
    split -l 8 -d -a 4 "$f" "$out/$base-"
done
# Frames the recording does not contain: journald JSON, a collector record, RFC 5424.
printf '%s\n' '{"__REALTIME_TIMESTAMP":"1785601538123456","_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"4242","MESSAGE":"connect from a[192.0.2.1]:1234","PRIORITY":"6"}' \
    '{"_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"4242","MESSAGE":[100,105,115,99,111,110,110,101,99,116,255]}' > "$out/journald-0000"
printf '%s\n' '{"log":"Jun 19 16:27:21 localhost postfix/smtpd[1]: connect from b[198.51.100.8]\n","stream":"stdout","n":3}' > "$out/collector-0000"
printf '%s\n' '<22>1 2026-08-01T16:35:38.123456+10:00 mx1 postfix/smtpd 4242 - [meta x="]\]"] connect from a[192.0.2.1]:25' \
    '<22>1 2026-08-01T16:35:39Z mx1 postfix/smtpd 4242 - - disconnect from a[192.0.2.1]:25 ehlo=1 quit=1 commands=2' > "$out/rfc5424-0000"
echo "$(ls "$out" | wc -l) seed files, $(cat "$out"/* | wc -c) bytes, in $out"
