"""Shared inputs of the query tests: the CLI binary, the recorded corpus and
its labels, the CLI's NDJSON output for the corpus and for a day-sized log
(the corpus replayed every ten minutes through one day), and the JSON Schema."""

import json
import os
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests/corpus/recording"
BIN = os.environ.get("POSTFIX_ENRICH_BIN", str(REPO / "target/debug/postfix-enrich"))

# Verdict classes that are signs of probing or abuse (verdict::is_suspicious).
SUSPICIOUS = {
    "non_smtp", "auth_bruteforce", "auth_failure", "relay_probe", "recipient_enumeration",
    "policy_rejected", "protocol_violation", "starttls_probe", "ehlo_quit_probe",
    "helo_quit_probe", "connect_only", "timeout",
}


def labels():
    with open(CORPUS / "labels.jsonl") as f:
        return [json.loads(l) for l in f if l.strip()]


def enrich(log: pathlib.Path, out: pathlib.Path) -> list:
    """Runs the CLI on `log`, writing NDJSON to `out`; returns the events."""
    with open(out, "wb") as f:
        subprocess.run([BIN, "--year", "2026", str(log)], stdout=f, check=True)
    with open(out) as f:
        return [json.loads(l) for l in f]


STAMP = re.compile(rb"^(\w{3} [ \d]\d) (\d\d):(\d\d):(\d\d) ")


def day_log(out: pathlib.Path, copies_per_hour: int = 6) -> int:
    """The corpus (a minute of traffic) replayed `copies_per_hour` times an
    hour through a whole day, stamps shifted so each copy starts on its own
    ten-minute mark; returns the number of copies."""
    src = (CORPUS / "mail.log").read_bytes().splitlines()
    minutes = [int(m.group(3)) for l in src if (m := STAMP.match(l))]
    first = min(minutes)
    step = 60 // copies_per_hour
    n = 0
    with open(out, "wb") as f:
        for hour in range(24):
            for k in range(copies_per_hour):
                n += 1
                for l in src:
                    m = STAMP.match(l)
                    if not m:
                        f.write(l + b"\n")
                        continue
                    minute = k * step + int(m.group(3)) - first
                    f.write(b"%s %02d:%02d:%s " % (m.group(1), hour, minute, m.group(4)) + l[m.end():] + b"\n")
    return n


@pytest.fixture(scope="session")
def corpus_events(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "events.ndjson"
    return out, enrich(CORPUS / "mail.log", out)


@pytest.fixture(scope="session")
def day_events(tmp_path_factory):
    d = tmp_path_factory.mktemp("day")
    # The report helper's generator under examples/logs/, when present, makes
    # a richer day; the replayed corpus keeps the labels' answers exact.
    log = d / "day.log"
    copies = day_log(log)
    out = d / "events.ndjson"
    return out, enrich(log, out), copies


@pytest.fixture(scope="session")
def schema():
    with open(REPO / "schemas/event.schema.json") as f:
        return json.load(f)
