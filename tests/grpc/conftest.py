"""Fixtures of the gRPC tests: Python stubs generated from proto/ at session
start, free loopback ports, the sidecar process (`postfix-enrich serve`), and
a Python stand-in for Vector that serves `vector.Vector` (a Vector `vector`
source, downstream of the relay and target of the exporter) and OTLP's
LogsService (an OpenTelemetry Collector)."""

import datetime
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from concurrent import futures

import grpc
import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = os.environ.get("POSTFIX_ENRICH_BIN", str(ROOT / "target" / "debug" / "postfix-enrich"))
CORPUS = ROOT / "tests" / "corpus" / "recording" / "syslog.log"
SCHEMA = ROOT / "schemas" / "event.schema.json"


def _generate_stubs():
    """Compiles proto/ (and the standard health/reflection protos) into a
    temporary package directory and puts it on sys.path."""
    import grpc_tools
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="pe-stubs-")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [
        "postfix_enrich/v1/enricher.proto",
        "vector/event.proto",
        "vector/vector.proto",
        "health.proto",
        "reflection.proto",
    ]
    rc = protoc.main(
        ["protoc", f"-I{ROOT / 'proto'}", f"-I{HERE / 'proto_ext'}", f"-I{well_known}",
         f"--python_out={out}", f"--grpc_python_out={out}"] + files
    )
    assert rc == 0, "protoc failed"
    sys.path.insert(0, out)


_generate_stubs()

from postfix_enrich.v1 import enricher_pb2, enricher_pb2_grpc  # noqa: E402
from vector import event_pb2, vector_pb2, vector_pb2_grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
import reflection_pb2  # noqa: E402
import reflection_pb2_grpc  # noqa: E402
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc  # noqa: E402

pb = types.SimpleNamespace(
    enricher=enricher_pb2, enricher_grpc=enricher_pb2_grpc,
    event=event_pb2, vector=vector_pb2, vector_grpc=vector_pb2_grpc,
    health=health_pb2, health_grpc=health_pb2_grpc,
    reflection=reflection_pb2, reflection_grpc=reflection_pb2_grpc,
    otlp=logs_service_pb2, otlp_grpc=logs_service_pb2_grpc,
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus_lines():
    return CORPUS.read_bytes().splitlines()


def cli_events(path=CORPUS, *options):
    """The CLI's NDJSON for a file (with `options`, e.g. `--blocklist`): the reference JSON form."""
    out = subprocess.run([BIN, "--quiet", *options, str(path)], check=True, capture_output=True).stdout
    return [json.loads(l) for l in out.splitlines()]


def metric(port, name):
    """The value of the first series of `name` (or exactly `name{labels}`) at /metrics."""
    import urllib.request

    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


# ---- the sidecar ---------------------------------------------------------

class Sidecar:
    def __init__(self, *extra):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="sidecar-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", self.addr, *extra],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.channel = grpc.insecure_channel(self.addr, options=[("grpc.max_receive_message_length", 64 << 20)])
        self.health = pb.health_grpc.HealthStub(self.channel)
        deadline = time.time() + 30
        while True:
            try:
                r = self.health.Check(pb.health.HealthCheckRequest(service=""), timeout=1)
                if r.status == pb.health.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            assert self.proc.poll() is None, self.output()
            assert time.time() < deadline, "sidecar did not become healthy\n" + self.output()
            time.sleep(0.05)
        self.enricher = pb.enricher_grpc.EnricherStub(self.channel)
        self.vector = pb.vector_grpc.VectorStub(self.channel)

    def output(self):
        return pathlib.Path(self.log.name).read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    raise
            return self.proc.returncode
        finally:
            self.channel.close()


@pytest.fixture
def sidecar_factory():
    started = []

    def make(*extra):
        s = Sidecar(*extra)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def sidecar():
    s = Sidecar("--max-streams", "4", "--max-line-bytes", "100000", "--max-message-bytes", "2000000")
    yield s
    s.stop()


# ---- the Vector / OTLP stand-in --------------------------------------------

class _VectorService(pb.vector_grpc.VectorServicer):
    def __init__(self, owner):
        self.owner = owner

    def PushEvents(self, request, context):
        return self.owner._accept("vector", request, context, pb.vector.PushEventsResponse())

    def HealthCheck(self, request, context):
        return pb.vector.HealthCheckResponse(status=pb.vector.SERVING)


class _LogsService(pb.otlp_grpc.LogsServiceServicer):
    def __init__(self, owner):
        self.owner = owner

    def Export(self, request, context):
        return self.owner._accept("otlp", request, context, pb.otlp.ExportLogsServiceResponse())


class StandIn:
    """A Vector `vector` source and an OTLP collector in one gRPC server.
    `fail_next` answers that many calls with UNAVAILABLE first (and does not
    keep them), as a busy or restarting endpoint would."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.vector_batches = []
        self.otlp_batches = []
        self.compressions = []
        self.fail_next = 0
        self.server = None

    def start(self):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                                  options=[("grpc.max_receive_message_length", 64 << 20)])
        pb.vector_grpc.add_VectorServicer_to_server(_VectorService(self), self.server)
        pb.otlp_grpc.add_LogsServiceServicer_to_server(_LogsService(self), self.server)
        bound = self.server.add_insecure_port(self.addr)
        assert bound == self.port
        self.server.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop(0).wait()
            self.server = None

    def _accept(self, kind, request, context, response):
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "stand-in: busy")
            (self.vector_batches if kind == "vector" else self.otlp_batches).append(request)
        return response

    def vector_events(self):
        with self.lock:
            return [e for b in self.vector_batches for e in b.events]

    def otlp_records(self):
        with self.lock:
            return [(rl.resource, r) for b in self.otlp_batches for rl in b.resource_logs
                    for sl in rl.scope_logs for r in sl.log_records]

    def wait_for(self, fn, n, timeout=30):
        deadline = time.time() + timeout
        while len(fn()) < n and time.time() < deadline:
            time.sleep(0.05)
        return fn()


@pytest.fixture
def standin():
    s = StandIn().start()
    yield s
    s.stop()


# ---- conversions -------------------------------------------------------------

def ts_instant(seconds, nanos):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc) + datetime.timedelta(microseconds=nanos // 1000)


def json_instant(s):
    if isinstance(s, datetime.datetime):
        return s
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)


# Proto3 scalars without presence that the JSON form leaves out when false.
_OMITTED_WHEN_FALSE = {"invalid_utf8", "redacted", "aborted"}
# Repeated fields the JSON form leaves out when empty.
_OMITTED_WHEN_EMPTY = {"flags", "disconnect_stats", "commands"}


def proto_event_to_json(msg):
    """The JSON Event form of a proto Event, following the mapping documented
    in enricher.proto; `@timestamp` becomes a UTC instant for comparison."""
    out = {}
    for f in msg.DESCRIPTOR.fields:
        name = f.name
        if name == "timestamp_offset_minutes":
            continue
        if f.is_repeated:
            items = list(getattr(msg, name))
            if not items and name in _OMITTED_WHEN_EMPTY:
                continue
            if name in ("disconnect_stats", "commands"):
                out[name] = {c.verb: {"ok": c.ok, "total": c.total} for c in items}
            else:
                out[name] = [proto_event_to_json(i) if f.message_type else i for i in items]
            continue
        if f.has_presence and not msg.HasField(name):
            continue
        v = getattr(msg, name)
        if f.message_type and f.message_type.full_name == "google.protobuf.Timestamp":
            out["@timestamp" if name == "timestamp" else name] = ts_instant(v.seconds, v.nanos)
            continue
        if f.message_type:
            out[name] = proto_event_to_json(v)
        elif name in _OMITTED_WHEN_FALSE and v is False:
            continue
        else:
            out[name] = v
    return out


def vector_value_to_py(v):
    kind = v.WhichOneof("kind")
    if kind == "raw_bytes":
        return v.raw_bytes.decode("utf-8", "replace")
    if kind == "timestamp":
        return ts_instant(v.timestamp.seconds, v.timestamp.nanos)
    if kind == "map":
        return {k: vector_value_to_py(x) for k, x in v.map.fields.items()}
    if kind == "array":
        return [vector_value_to_py(x) for x in v.array.items]
    if kind == "null":
        return None
    return getattr(v, kind)


def comparable(json_event):
    """A CLI JSON event with `@timestamp` as a UTC instant."""
    e = dict(json_event)
    if "@timestamp" in e:
        e["@timestamp"] = json_instant(e["@timestamp"])
    record = e.get("postfix", {}).get("message")
    if record:
        # The message record's times are protobuf Timestamps too.
        record = {k: json_instant(v) if k in ("first_seen", "last_seen") else v for k, v in record.items()}
        e["postfix"] = {**e["postfix"], "message": record}
    return e


@pytest.fixture(scope="session")
def strict_schema():
    """schemas/event.schema.json with additionalProperties=false on every
    object that lists its properties, so a misnamed field fails validation."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())

    def tighten(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for v in node.values():
                tighten(v)
        elif isinstance(node, list):
            for v in node:
                tighten(v)

    tighten(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def for_schema(event):
    """An event as JSON text would carry it (instants back to RFC 3339)."""
    def text(v):
        if isinstance(v, datetime.datetime):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: text(x) for k, x in v.items()}
        if isinstance(v, list):
            return [text(x) for x in v]
        return v
    return text(event)
