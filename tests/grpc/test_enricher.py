"""The postfix_enrich.v1.Enricher service, health and reflection, called from
Python: events match the CLI's JSON and the JSON Schema, sessions span the
requests of a stream, and bad requests get the documented status codes
while the server stays up."""

import queue
import threading

import grpc
import pytest

from conftest import (BIN, CORPUS, Sidecar, cli_events, comparable, corpus_lines, for_schema, metric, pb,
                      proto_event_to_json)

CONNECT = b"Jun 19 16:27:21 mx postfix/smtpd[12172]: connect from unknown[192.0.2.7]"
DISCONNECT = b"Jun 19 16:27:22 mx postfix/smtpd[12172]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2"


def request(lines):
    return pb.enricher.EnrichRequest(lines=[pb.enricher.LogLine(line=l) for l in lines])


def test_enrich_matches_cli_json_and_schema(sidecar, strict_schema):
    lines = corpus_lines()
    resp = sidecar.enricher.Enrich(request(lines), timeout=60)
    assert len(resp.events) == len(lines)
    reference = cli_events(CORPUS)
    assert len(reference) == len(lines)
    for i, (ev, ref) in enumerate(zip(resp.events, reference)):
        got = proto_event_to_json(ev)
        assert got == comparable(ref), f"line {i + 1}"
        errors = sorted(strict_schema.iter_errors(for_schema(got)), key=str)
        assert not errors, f"line {i + 1}: {errors[0]}"
    sessions = {e.postfix.session_id for e in resp.events if e.postfix.HasField("session_id")}
    verdicts = [e.probe.__getattribute__("class") for e in resp.events if e.HasField("probe")]
    assert len(sessions) > 10 and len(verdicts) > 10


def test_enrich_is_stateless_across_calls(sidecar):
    a = sidecar.enricher.Enrich(request([CONNECT])).events[0]
    b = sidecar.enricher.Enrich(request([DISCONNECT])).events[0]
    assert a.postfix.HasField("session_id")
    # A fresh context per call: the disconnect alone is a session whose start
    # was not seen, and its verdict says so instead of judging with confidence.
    assert b.probe.confidence == "low"
    assert any("start was not seen" in r for r in b.probe.reasons), list(b.probe.reasons)
    both = sidecar.enricher.Enrich(request([CONNECT, DISCONNECT])).events
    assert both[0].postfix.session_id == both[1].postfix.session_id


def test_stream_session_spans_two_requests(sidecar):
    responses = list(sidecar.enricher.EnrichStream(iter([request([CONNECT]), request([DISCONNECT])]), timeout=10))
    assert [len(r.events) for r in responses] == [1, 1]
    first, second = responses[0].events[0], responses[1].events[0]
    assert first.postfix.event == "connect" and second.postfix.event == "disconnect"
    assert first.postfix.session_id and first.postfix.session_id == second.postfix.session_id
    assert getattr(second.probe, "class") == "ehlo_quit_probe"
    assert second.probe.suspicious


def test_line_defaults_fill_missing_host_and_time(sidecar):
    from google.protobuf.timestamp_pb2 import Timestamp

    t = Timestamp(seconds=1_750_000_000, nanos=5000)
    bare = pb.enricher.LogLine(line=b"connect from unknown[192.0.2.9]", host="mx9", received_time=t)
    full = pb.enricher.LogLine(line=CONNECT, host="other", received_time=t)
    ev = sidecar.enricher.Enrich(pb.enricher.EnrichRequest(lines=[bare, full])).events
    assert ev[0].host.name == "mx9" and ev[0].timestamp == t
    assert ev[1].host.name == "mx" and ev[1].timestamp != t


def test_invalid_utf8_in_a_line_is_enriched_and_marked(sidecar):
    line = b"Jun 19 16:27:21 mx postfix/smtpd[1]: < unknown[1.2.3.4]: EHLO \xff\xfe"
    ev = sidecar.enricher.Enrich(request([line])).events[0]
    assert ev.postfix.invalid_utf8
    assert "\ufffd" in ev.message


def test_health(sidecar):
    for service in ["", "postfix_enrich.v1.Enricher"]:
        r = sidecar.health.Check(pb.health.HealthCheckRequest(service=service))
        assert r.status == pb.health.HealthCheckResponse.SERVING, service


def test_reflection_lists_services(sidecar):
    stub = pb.reflection_grpc.ServerReflectionStub(sidecar.channel)
    req = pb.reflection.ServerReflectionRequest(list_services="")
    resp = next(iter(stub.ServerReflectionInfo(iter([req]), timeout=5)))
    names = {s.name for s in resp.list_services_response.service}
    assert {"postfix_enrich.v1.Enricher", "grpc.health.v1.Health"} <= names, names
    # The descriptors themselves are served too.
    req = pb.reflection.ServerReflectionRequest(file_containing_symbol="postfix_enrich.v1.Event")
    resp = next(iter(stub.ServerReflectionInfo(iter([req]), timeout=5)))
    assert resp.file_descriptor_response.file_descriptor_proto


def expect_code(call, code, mentions):
    with pytest.raises(grpc.RpcError) as e:
        call()
    assert e.value.code() == code, e.value.details()
    assert mentions in e.value.details(), e.value.details()
    return e.value


def test_oversized_line_is_invalid_argument(sidecar):
    big = b"Jun 19 16:27:21 mx postfix/smtpd[1]: " + b"x" * 150_000
    expect_code(lambda: sidecar.enricher.Enrich(request([CONNECT, big])), grpc.StatusCode.INVALID_ARGUMENT, "--max-line-bytes")
    expect_code(lambda: list(sidecar.enricher.EnrichStream(iter([request([big])]))), grpc.StatusCode.INVALID_ARGUMENT, "--max-line-bytes")
    assert sidecar.alive()
    assert len(sidecar.enricher.Enrich(request([CONNECT])).events) == 1


def test_oversized_message_is_resource_exhausted(sidecar):
    lines = [b"x" * 90_000] * 30  # 2.7 MB, over --max-message-bytes 2000000
    expect_code(lambda: sidecar.enricher.Enrich(request(lines)), grpc.StatusCode.RESOURCE_EXHAUSTED, "--max-message-bytes")
    assert sidecar.alive()


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_invalid_utf8_in_a_string_field_is_invalid_argument(sidecar):
    # LogLine{line: CONNECT, host: b"\xff\xfe"} encoded by hand: Python's
    # protobuf refuses to build a string field that is not UTF-8.
    logline = b"\x0a" + _varint(len(CONNECT)) + CONNECT + b"\x12\x02\xff\xfe"
    raw = b"\x0a" + _varint(len(logline)) + logline
    call = sidecar.channel.unary_unary(
        "/postfix_enrich.v1.Enricher/Enrich",
        request_serializer=lambda b: b,
        response_deserializer=pb.enricher.EnrichResponse.FromString,
    )
    expect_code(lambda: call(raw, timeout=5), grpc.StatusCode.INVALID_ARGUMENT, "malformed")
    assert sidecar.alive()


class OpenStream:
    """An EnrichStream kept open by a request queue."""

    def __init__(self, stub):
        self.q = queue.Queue()
        self.responses = stub.EnrichStream(iter(self.q.get, None), timeout=30)

    def roundtrip(self, lines):
        self.q.put(request(lines))
        return next(self.responses)

    def close(self):
        self.q.put(None)
        for _ in self.responses:
            pass


def test_too_many_streams_is_resource_exhausted(sidecar):
    streams = [OpenStream(sidecar.enricher) for _ in range(4)]  # the --max-streams of the fixture
    for s in streams:
        assert len(s.roundtrip([CONNECT]).events) == 1
    extra = OpenStream(sidecar.enricher)
    expect_code(lambda: extra.roundtrip([CONNECT]), grpc.StatusCode.RESOURCE_EXHAUSTED, "--max-streams")
    for s in streams:
        s.close()
    # Slots are released when streams end, and the server is still serving.
    again = OpenStream(sidecar.enricher)
    for _ in range(50):
        try:
            assert len(again.roundtrip([CONNECT]).events) == 1
            break
        except grpc.RpcError:
            again = OpenStream(sidecar.enricher)
            threading.Event().wait(0.1)
    again.close()


def test_call_deadline_is_deadline_exceeded(sidecar_factory):
    s = sidecar_factory("--call-timeout", "1ms")
    lines = corpus_lines() * 60
    expect_code(lambda: s.enricher.Enrich(request(lines), timeout=60), grpc.StatusCode.DEADLINE_EXCEEDED, "--call-timeout")
    assert s.alive()


def test_gzip_request_accepted(sidecar):
    resp = sidecar.enricher.Enrich(request([CONNECT, DISCONNECT]), compression=grpc.Compression.Gzip)
    assert len(resp.events) == 2


def test_sigterm_finishes_in_flight_call(sidecar_factory):
    from conftest import free_port

    mport = free_port()
    s = sidecar_factory("--metrics-listen", f"127.0.0.1:{mport}")
    lines = corpus_lines() * 40
    req = request(lines)
    result = {}

    def call():
        try:
            result["resp"] = s.enricher.Enrich(req, timeout=60)
        except grpc.RpcError as e:
            result["error"] = (e.code(), e.details())

    t = threading.Thread(target=call)
    t.start()
    # Signal once the call is being handled (lines are being counted).
    for _ in range(600):
        if metric(mport, "postfix_enrich_lines_in_total") > 0:
            break
        threading.Event().wait(0.01)
    rc = s.stop()
    t.join()
    assert "error" not in result, result
    assert len(result["resp"].events) == len(lines)
    assert rc == 0, s.output()


def test_metrics_endpoint(sidecar_factory):
    from conftest import free_port

    mport = free_port()
    s = sidecar_factory("--metrics-listen", f"127.0.0.1:{mport}")
    s.enricher.Enrich(request([CONNECT, DISCONNECT, b"garbage"]))
    assert metric(mport, "postfix_enrich_lines_in_total") == 3
    assert metric(mport, "postfix_enrich_events_out_total") == 3
    assert metric(mport, "postfix_enrich_unparsed_total") >= 1
    assert metric(mport, 'postfix_enrich_verdicts_total{class="ehlo_quit_probe",suspicious="true"}') == 1
    assert metric(mport, 'postfix_enrich_request_seconds_count{method="Enrich"}') == 1


def test_tls(sidecar_factory, tmp_path):
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    from conftest import free_port

    port = free_port()
    s = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        channel = grpc.secure_channel(f"127.0.0.1:{port}", creds)
        grpc.channel_ready_future(channel).result(timeout=20)
        stub = pb.enricher_grpc.EnricherStub(channel)
        assert len(stub.Enrich(request([CONNECT, DISCONNECT]), timeout=10).events) == 2
        # Plain text is refused on the TLS port.
        plain = pb.enricher_grpc.EnricherStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        with pytest.raises(grpc.RpcError):
            plain.Enrich(request([CONNECT]), timeout=3)
        channel.close()
    finally:
        s.terminate()
        s.wait(10)
