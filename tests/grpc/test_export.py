"""`postfix-enrich --export URL`: the CLI pushes enriched events to a Vector
`vector` source or an OTLP/gRPC logs endpoint (here the Python stand-in),
in order, exactly once, retrying while the endpoint refuses, holding the
reader back while it is away, and reporting what it could not deliver."""

import json
import signal
import subprocess
import threading
import time

from conftest import BIN, CORPUS, StandIn, cli_events, comparable, corpus_lines, free_port, vector_value_to_py


def run_cli(*args, **kw):
    return subprocess.run([BIN, "--quiet", *args], capture_output=True, timeout=120, **kw)


def any_to_py(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_to_py(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_to_py(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def test_export_to_vector_delivers_every_event_in_order(standin):
    r = run_cli("--export", f"vector://{standin.addr}", str(CORPUS))
    assert r.returncode == 0, r.stderr
    n = len(corpus_lines())
    assert f"{n} events delivered, 0 not delivered".encode() in r.stderr, r.stderr
    got = standin.vector_events()
    reference = cli_events()
    assert len(got) == len(reference)
    for i, (e, ref) in enumerate(zip(got, reference)):
        fields = {k: vector_value_to_py(v) for k, v in e.log.fields.items()}
        assert fields.pop("timestamp") == fields["@timestamp"]
        # Nested stamps (the message record's) travel as RFC 3339 text.
        assert comparable(fields) == comparable(ref), i


def test_export_to_otlp_flattens_attributes(standin):
    r = run_cli("--export", f"otlp://{standin.addr}", "--export-service-name", "mail-edge", str(CORPUS))
    assert r.returncode == 0, r.stderr
    records = standin.otlp_records()
    flat = [json.loads(l) for l in run_cli("--flat", str(CORPUS)).stdout.splitlines()]
    assert len(records) == len(flat)
    for i, ((resource, rec), ref) in enumerate(zip(records, flat)):
        res = {kv.key: any_to_py(kv.value) for kv in resource.attributes}
        assert res == {"service.name": "mail-edge", "host.name": ref["host.name"]}, i
        assert rec.body.string_value == ref["message"]
        assert rec.time_unix_nano > 0
        attrs = {kv.key: any_to_py(kv.value) for kv in rec.attributes}
        expected = {k: v for k, v in ref.items() if k not in ("message", "@timestamp", "host.name")}
        assert attrs == expected, i
    assert any("probe.class" in {kv.key for kv in rec.attributes} for _, rec in records)


def test_export_retries_until_accepted(standin):
    standin.fail_next = 3
    r = run_cli("--export", f"vector://{standin.addr}", "--export-batch", "200", str(CORPUS))
    assert r.returncode == 0, r.stderr
    assert standin.fail_next == 0
    got = standin.vector_events()
    assert [vector_value_to_py(e.log.fields["message"]) for e in got] == [e["message"] for e in cli_events()]


def test_export_reports_what_it_could_not_deliver():
    port = free_port()  # nothing listens there
    r = run_cli("--export", f"otlp://127.0.0.1:{port}", "--export-drain-timeout", "1s", str(CORPUS))
    assert r.returncode != 0
    n = len(corpus_lines())
    assert f"0 events delivered, {n} not delivered".encode() in r.stderr, r.stderr


def test_export_backpressure_holds_the_reader_and_loses_nothing():
    port = free_port()
    down = StandIn(port)
    lines = corpus_lines() * 4
    p = subprocess.Popen([BIN, "--quiet", "--export", f"vector://127.0.0.1:{port}", "--export-buffer", "10",
                          "--export-batch", "5", "--export-drain-timeout", "60s"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    done = threading.Event()

    def feed():
        p.stdin.write(b"\n".join(lines) + b"\n")
        p.stdin.close()
        done.set()

    threading.Thread(target=feed, daemon=True).start()
    time.sleep(2)
    # The endpoint is away and the buffer is small: reading has stopped, so
    # the writer is still blocked on the full pipe.
    assert not done.is_set()
    down.start()
    try:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        got = down.vector_events()
    finally:
        down.stop()
    assert len(got) == len(lines), err


def test_follow_export_delivers_everything_at_sigint(tmp_path, standin):
    lines = corpus_lines()
    log = tmp_path / "mail.log"
    log.write_bytes(b"\n".join(lines[:500]) + b"\n")
    p = subprocess.Popen([BIN, "--quiet", "--follow", "--from-start", str(log), "--export",
                          f"vector://{standin.addr}", "--export-linger", "100ms"], stderr=subprocess.PIPE)
    assert len(standin.wait_for(standin.vector_events, 500)) == 500
    with log.open("ab") as f:
        f.write(b"\n".join(lines[500:]) + b"\n")
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    got = standin.vector_events()
    assert [vector_value_to_py(e.log.fields["message"]) for e in got] == [e["message"] for e in cli_events()]
