"""The sidecar as a Vector transform stage: a Python process plays Vector's
`vector` sink upstream and Vector's `vector` source downstream
(conftest.StandIn). Enriched fields are merged, everything else (fields,
metadata, metrics) passes untouched, an unreachable downstream is answered
UNAVAILABLE, and with Vector-style retries nothing is lost, duplicated or
reordered. Both of Vector's log modes (legacy object roots and
`schema.log_namespace: true` string roots) get the same enriched fields, and
batches pushed concurrently out of order are enriched in reading order."""

import threading
import time

import grpc
import pytest

from conftest import StandIn, cli_events, comparable, corpus_lines, free_port, metric as metric_value, pb, vector_value_to_py

# Ingest times the stand-in gives line i: seconds READ_AT + i (so a relayed
# event says which line it was, in either log mode).
READ_AT = 1_764_000_000


def log_event(line, read_at=None, **extra):
    """A log as Vector's legacy mode sends it: an object with `message`,
    `host`, `source_type` and (when `read_at` is given) the ingest `timestamp`."""
    fields = {"message": pb.event.Value(raw_bytes=line),
              "source_type": pb.event.Value(raw_bytes=b"file"),
              "host": pb.event.Value(raw_bytes=b"vector-node-1")}
    if read_at is not None:
        fields["timestamp"] = pb.event.Value(timestamp={"seconds": read_at})
    for k, v in extra.items():
        fields[k] = v
    meta = pb.event.Metadata(source_id="postfix_logs", source_type="file",
                             upstream_id=pb.event.OutputId(component="postfix_logs"),
                             secrets=pb.event.Secrets(entries={"token": "s3cr3t"}),
                             source_event_id=b"\x01\x02")
    return pb.event.EventWrapper(log=pb.event.Log(fields=fields, metadata_full=meta))


def namespaced_event(line, read_at):
    """A log as Vector's namespaced mode (`schema.log_namespace: true`) sends
    it: the line is the value, `fields` holds only the dummy "." entry, and
    the source's fields are metadata (`%vector.ingest_timestamp`, `%file.host`)."""
    vector = pb.event.Value(map=pb.event.ValueMap(fields={
        "source_type": pb.event.Value(raw_bytes=b"file"),
        "ingest_timestamp": pb.event.Value(timestamp={"seconds": read_at}),
    }))
    file = pb.event.Value(map=pb.event.ValueMap(fields={"host": pb.event.Value(raw_bytes=b"vector-node-1")}))
    value = pb.event.Value(map=pb.event.ValueMap(fields={"vector": vector, "file": file}))
    meta = pb.event.Metadata(value=value, source_id="postfix_logs", source_type="file",
                             secrets=pb.event.Secrets(entries={"token": "s3cr3t"}))
    return pb.event.EventWrapper(log=pb.event.Log(
        fields={".": pb.event.Value(null=pb.event.NULL_VALUE)},
        value=pb.event.Value(raw_bytes=line), metadata=value, metadata_full=meta))


MODES = {
    "legacy": lambda line, i: log_event(line, READ_AT + i),
    "namespaced": lambda line, i: namespaced_event(line, READ_AT + i),
}


def line_index(wrapper):
    """Which input line a relayed event came from (its ingest time, kept in either mode)."""
    log = wrapper.log
    if "timestamp" in log.fields:
        return log.fields["timestamp"].timestamp.seconds - READ_AT
    stamp = log.metadata_full.value.map.fields["vector"].map.fields["ingest_timestamp"]
    return stamp.timestamp.seconds - READ_AT


def assert_enriched_like_cli(got, reference):
    """Every relayed event holds the CLI's fields for its line, at the same
    paths, whatever the log mode it was sent in."""
    assert len(got) == len(reference)
    by_line = {line_index(e): e for e in got}
    assert sorted(by_line) == list(range(len(reference))), "each line once"
    for i, ref in enumerate(reference):
        out = by_line[i]
        assert not out.log.HasField("value"), (i, "the root is an object")
        view = enriched_view(out)
        ref = comparable(ref)
        for key in ref:
            assert view.get(key) == ref[key], (i, key, view.get(key), ref[key])


def metric_event():
    # A metric with content the relay does not model (kept as unknown fields).
    inner = b"\x0a\x03cpu\x12\x04host"
    return pb.event.EventWrapper.FromString(b"\x12" + bytes([len(inner)]) + inner)


def batches_of(events, n):
    return [pb.vector.PushEventsRequest(events=events[i:i + n]) for i in range(0, len(events), n)]


def enriched_view(wrapper):
    """The enriched fields of a relayed log, as the CLI's JSON would have them."""
    fields = {k: vector_value_to_py(v) for k, v in wrapper.log.fields.items()}
    # Nested stamps (the message record's) travel as RFC 3339 text.
    return comparable({k: v for k, v in fields.items() if k not in ("source_type", "timestamp")})


@pytest.mark.parametrize("mode", MODES)
def test_both_log_modes_are_enriched_alike(sidecar_factory, standin, mode):
    s = sidecar_factory("--forward-vector", standin.addr)
    lines = corpus_lines()
    events = [MODES[mode](l, i) for i, l in enumerate(lines)]
    for b in batches_of(events, 100):
        s.vector.PushEvents(b, timeout=30)
    got = standin.vector_events()
    assert_enriched_like_cli(got, cli_events())
    for sent, out in zip(events, got):
        # The metadata (secrets, %vector, %file) byte for byte.
        assert out.log.metadata_full.SerializeToString() == sent.log.metadata_full.SerializeToString()
        assert out.log.metadata.SerializeToString() == sent.log.metadata.SerializeToString()
    if mode == "namespaced":
        # Nothing but the enriched fields: Vector's dummy "." is gone.
        assert all("." not in e.log.fields for e in got)


def push_swapped_pairs(s, batches, gap):
    """Pushes each pair of consecutive batches concurrently, the later one
    first and the earlier `gap` seconds after, as Vector's adaptive
    concurrency can deliver them."""
    errors = []

    def push(b, delay):
        time.sleep(delay)
        try:
            s.vector.PushEvents(b, timeout=60)
        except grpc.RpcError as e:  # pragma: no cover - reported below
            errors.append(e)

    for i in range(0, len(batches), 2):
        pair = batches[i:i + 2]
        threads = [threading.Thread(target=push, args=(b, gap * (len(pair) - 1 - k))) for k, b in enumerate(pair)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors


@pytest.mark.parametrize("mode", MODES)
def test_batches_out_of_order_are_enriched_in_reading_order(sidecar_factory, standin, mode):
    # The window is generous for a loaded test machine; the gap is what
    # separates the two batches' arrivals.
    s = sidecar_factory("--forward-vector", standin.addr, "--reorder-window", "400ms")
    lines = corpus_lines()
    batches = batches_of([MODES[mode](l, i) for i, l in enumerate(lines)], 50)
    push_swapped_pairs(s, batches, gap=0.05)
    assert_enriched_like_cli(standin.vector_events(), cli_events())


def test_batches_later_than_the_window_are_counted_and_logged(sidecar_factory, standin):
    mport = free_port()
    s = sidecar_factory("--forward-vector", standin.addr, "--reorder-window", "0",
                        "--metrics-listen", f"127.0.0.1:{mport}")
    lines = corpus_lines()
    batches = batches_of([log_event(l, READ_AT + i) for i, l in enumerate(lines)], 50)
    push_swapped_pairs(s, batches[:6], gap=0.05)
    assert metric_value(mport, "postfix_enrich_relay_late_batches_total") == 3
    assert s.output().count("arrived after a later batch") == 1, s.output()


def test_unenriched_events_are_counted_by_cause_and_logged_once(sidecar_factory, standin):
    mport = free_port()
    s = sidecar_factory("--forward-vector", standin.addr, "--max-line-bytes", "200",
                        "--metrics-listen", f"127.0.0.1:{mport}")
    line = corpus_lines()[0]
    odd = [metric_event(), metric_event(),
           log_event(b"", message=pb.event.Value(integer=7)),
           log_event(line + b" " + b"x" * 300),
           pb.event.EventWrapper(log=pb.event.Log(fields={"other": pb.event.Value(raw_bytes=line)})),
           pb.event.EventWrapper(log=pb.event.Log(fields={".": pb.event.Value(null=pb.event.NULL_VALUE)},
                                                  value=pb.event.Value(integer=7)))]
    for _ in range(2):
        s.vector.PushEvents(pb.vector.PushEventsRequest(events=odd + [log_event(line)]), timeout=30)
    got = standin.vector_events()
    assert len(got) == 2 * (len(odd) + 1)
    for sent, out in zip(odd, got):
        assert out.SerializeToString() == sent.SerializeToString()
    expected = {"not_a_log": 4, "field_not_string": 2, "line_too_long": 2, "no_field": 2, "root_not_string": 2}
    series = "postfix_enrich_relay_passthrough_events_total"
    for cause, n in expected.items():
        assert metric_value(mport, f'{series}{{cause="{cause}"}}') == n, cause
    out = s.output()
    assert out.count("forwarding events unenriched") == len(expected), out
    for cause in expected:
        assert out.count(f'cause="{cause}"') == 1, (cause, out)


def test_relay_merges_and_keeps_everything_else(sidecar_factory, standin):
    s = sidecar_factory("--forward-vector", standin.addr)
    lines = corpus_lines()[:300]
    events = [log_event(l) for l in lines]
    mixed = events[:100] + [metric_event(), log_event(b"", message=pb.event.Value(integer=7))] + events[100:]
    s.vector.PushEvents(pb.vector.PushEventsRequest(events=mixed), timeout=30)
    got = standin.vector_events()
    assert len(got) == len(mixed)
    # Metric and a log without a string message: byte for byte.
    assert got[100].SerializeToString() == mixed[100].SerializeToString()
    assert got[101].SerializeToString() == mixed[101].SerializeToString()
    relayed = got[:100] + got[102:]
    reference = cli_events()[:300]
    for i, (sent, out, ref) in enumerate(zip(events, relayed, reference)):
        assert out.log.metadata_full.SerializeToString() == sent.log.metadata_full.SerializeToString()
        assert out.log.fields["source_type"].raw_bytes == b"file"
        view = enriched_view(out)
        ref = comparable(ref)
        # The JSON Event's `host` (an object) replaces Vector's host string.
        assert view["host"] == ref.get("host", "vector-node-1"), i
        for key in ref:
            assert view[key] == ref[key], (i, key)


def test_downstream_down_is_unavailable_then_retries_deliver_exactly_once(sidecar_factory):
    port = free_port()
    s = sidecar_factory("--forward-vector", f"127.0.0.1:{port}")
    lines = corpus_lines()
    batches = batches_of([log_event(l) for l in lines], 100)

    with pytest.raises(grpc.RpcError) as e:
        s.vector.PushEvents(batches[0], timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
    assert s.alive()

    down = StandIn(port)
    downstream_up = threading.Timer(1.0, down.start)
    downstream_up.start()
    refusals = 0
    try:
        for i, batch in enumerate(batches):
            if i == 5:  # an outage in the middle of the stream
                down.stop()
                threading.Timer(1.0, down.start).start()
            for _ in range(200):  # Vector's sink: retry until accepted
                try:
                    s.vector.PushEvents(batch, timeout=10)
                    break
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.UNAVAILABLE, err.details()
                    refusals += 1
                    time.sleep(0.05)
            else:
                pytest.fail("batch never accepted")
        got = down.vector_events()
    finally:
        downstream_up.cancel()
        down.stop()
    assert refusals > 0
    # No loss, no duplicate, same order.
    reference = cli_events()
    assert [vector_value_to_py(e.log.fields["message"]) for e in got] == [r["message"] for r in reference]
    # And enrichment as if the outage never happened: refused batches were not
    # enriched twice (session ids and verdicts equal the CLI's on the whole file).
    for i, (out, ref) in enumerate(zip(got, reference)):
        view = enriched_view(out)
        ref = comparable(ref)
        assert view["postfix"] == ref["postfix"], i
        assert view.get("probe") == ref.get("probe"), i


def test_gzip_compressed_push_accepted(sidecar_factory, standin):
    s = sidecar_factory("--forward-vector", standin.addr)
    lines = corpus_lines()[:50]
    s.vector.PushEvents(pb.vector.PushEventsRequest(events=[log_event(l) for l in lines]),
                        compression=grpc.Compression.Gzip, timeout=10)
    assert len(standin.vector_events()) == 50


def test_concurrent_batches_keep_per_process_context(sidecar_factory, standin):
    # Two hosts' logs pushed concurrently, interleaved at batch granularity:
    # the context is keyed by host and process, so sessions come out as the
    # CLI sees each host's log alone. (The second host's clients get other
    # addresses: per-address windows rightly span hosts.)
    s = sidecar_factory("--forward-vector", standin.addr)
    lines = corpus_lines()
    other = [l.replace(b" mail postfix/", b" mx2 postfix/", 1).replace(b"127.0.0.", b"10.9.0.") for l in lines]
    results = []

    def push(ls):
        for b in batches_of([log_event(l) for l in ls], 50):
            s.vector.PushEvents(b, timeout=30)
        results.append(True)

    threads = [threading.Thread(target=push, args=(ls,)) for ls in (lines, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    got = standin.vector_events()
    assert len(got) == 2 * len(lines)
    by_host = {"mail": [], "mx2": []}
    for e in got:
        v = enriched_view(e)
        by_host[v["host"]["name"]].append(v)
    reference = cli_events()
    for host, evs in by_host.items():
        assert len(evs) == len(reference)
        for a, ref in zip(evs, reference):
            assert a["postfix"].get("event") == ref["postfix"].get("event")
            assert ("session_id" in a["postfix"]) == ("session_id" in ref["postfix"])
            assert (a.get("probe") or {}).get("class") == (ref.get("probe") or {}).get("class")


def test_health_check_of_vector_service(sidecar_factory, standin):
    s = sidecar_factory("--forward-vector", standin.addr)
    assert s.vector.HealthCheck(pb.vector.HealthCheckRequest()).status == pb.vector.SERVING
    r = s.health.Check(pb.health.HealthCheckRequest(service="vector.Vector"))
    assert r.status == pb.health.HealthCheckResponse.SERVING
