"""The sidecar as a Vector transform stage: a Python process plays Vector's
`vector` sink upstream and Vector's `vector` source downstream
(conftest.StandIn). Enriched fields are merged, everything else (fields,
metadata, metrics) passes untouched, an unreachable downstream is answered
UNAVAILABLE, and with Vector-style retries nothing is lost, duplicated or
reordered."""

import threading
import time

import grpc
import pytest

from conftest import StandIn, cli_events, comparable, corpus_lines, free_port, pb, vector_value_to_py

EV = None


def log_event(line, **extra):
    fields = {"message": pb.event.Value(raw_bytes=line),
              "source_type": pb.event.Value(raw_bytes=b"file"),
              "host": pb.event.Value(raw_bytes=b"vector-node-1")}
    for k, v in extra.items():
        fields[k] = v
    meta = pb.event.Metadata(source_id="postfix_logs", source_type="file",
                             upstream_id=pb.event.OutputId(component="postfix_logs"),
                             secrets=pb.event.Secrets(entries={"token": "s3cr3t"}),
                             source_event_id=b"\x01\x02")
    return pb.event.EventWrapper(log=pb.event.Log(fields=fields, metadata_full=meta))


def metric_event():
    # A metric with content the relay does not model (kept as unknown fields).
    inner = b"\x0a\x03cpu\x12\x04host"
    return pb.event.EventWrapper.FromString(b"\x12" + bytes([len(inner)]) + inner)


def batches_of(events, n):
    return [pb.vector.PushEventsRequest(events=events[i:i + n]) for i in range(0, len(events), n)]


def enriched_view(wrapper):
    """The enriched fields of a relayed log, as the CLI's JSON would have them."""
    fields = {k: vector_value_to_py(v) for k, v in wrapper.log.fields.items()}
    return {k: v for k, v in fields.items() if k not in ("source_type",)}


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
