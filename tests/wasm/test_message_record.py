"""The message record (`postfix.message`, on the last line Postfix writes
for a queue id) from the Fluent Bit filter equals the CLI's for every
message of the RFC 3164 recording, whichever key in_tail puts the line
under; and there is exactly one per removed message."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import CORPUS, cli_path, log_lines
from harness import FluentBitHost

RFC3164 = CORPUS / "syslog-3164.log"


@pytest.mark.skipif(not RFC3164.exists(), reason=f"{RFC3164} absent")
@pytest.mark.parametrize("key", ["message", "log"])
def test_every_message_record_equals_the_cli(key):
    out = subprocess.run([str(cli_path()), "--quiet", "--year", "2026", str(RFC3164)],
                         check=True, capture_output=True).stdout
    expected = [json.loads(l) for l in out.splitlines()]
    lines = log_lines(RFC3164)
    assert len(lines) == len(expected)
    host = FluentBitHost()
    records = []
    for i, (line, ev) in enumerate(zip(lines, expected)):
        got = host.filter_line(line, key)["postfix"].get("message")
        assert got == ev["postfix"].get("message"), (i, line)
        if got is not None:
            records.append((ev["postfix"]["event"], got["queue_id"], ev["postfix"].get("queue_id")))
    removed = [ev for ev in expected if ev["postfix"]["event"] == "removed"]
    assert removed, "the recording removes messages"
    assert len(records) == len(removed)
    assert all(event == "removed" and qid == line_qid for event, qid, line_qid in records), records
    assert len({qid for _, qid, _ in records}) == len(records), "one record per queue id"
