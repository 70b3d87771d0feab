"""`serve`'s metrics scraped by a real Prometheus (Debian's package, started
here on loopback with a config written here): after the test sends the
recorded corpus through the Enricher service, PromQL over the verdict
counters answers "suspicious sessions per class in the last 5 minutes" with
exactly the verdicts the service returned."""

import collections
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, CORPUS, REPO  # noqa: F401

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
QUERY = 'sum by (class) (increase(postfix_enrich_verdicts_total{suspicious="true"}[5m]))'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stubs():
    """Python stubs of the Enricher service, compiled from proto/."""
    import grpc_tools
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="pe-stubs-")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{REPO / 'proto'}", f"-I{well_known}", f"--python_out={out}",
                      f"--grpc_python_out={out}", "postfix_enrich/v1/enricher.proto"])
    assert rc == 0
    sys.path.insert(0, out)
    from postfix_enrich.v1 import enricher_pb2, enricher_pb2_grpc
    return enricher_pb2, enricher_pb2_grpc


def wait_for(what, check, timeout=60):
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def promql(port, query, at=None):
    params = {"query": query}
    if at is not None:
        params["time"] = repr(at)
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.fixture
def processes(tmp_path):
    procs = []

    def start(*args, log):
        p = subprocess.Popen(list(args), stdout=open(tmp_path / log, "wb"), stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_suspicious_sessions_per_class_in_the_last_5_minutes(tmp_path, processes):
    if not os.path.exists(PROMETHEUS):
        pytest.fail("prometheus is not installed (tests/queries/run.sh installs Debian's package)")
    import grpc
    pb, pb_grpc = stubs()

    grpc_port, metrics_port, prom_port = free_port(), free_port(), free_port()
    processes(BIN, "serve", "--listen", f"127.0.0.1:{grpc_port}",
              "--metrics-listen", f"127.0.0.1:{metrics_port}", log="serve.log")
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: postfix-enrich
    static_configs:
      - targets: ["127.0.0.1:{metrics_port}"]
""")
    processes(PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
              f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
              log="prometheus.log")

    def up():
        try:
            r = promql(prom_port, 'up{job="postfix-enrich"}')
            return r and r[0]["value"][1] == "1"
        except OSError:
            return False

    wait_for("Prometheus to scrape the sidecar", up)
    # A few scrapes of the counters at zero, so increase() sees them start.
    wait_for("zero samples", lambda: promql(prom_port, "count_over_time(postfix_enrich_lines_in_total[1m]) >= 3"))

    lines = (CORPUS / "mail.log").read_bytes().splitlines()
    stub = pb_grpc.EnricherStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
    resp = stub.Enrich(pb.EnrichRequest(lines=[pb.LogLine(line=l) for l in lines]), timeout=60)
    assert len(resp.events) == len(lines)
    want = collections.Counter(e.probe.__getattribute__("class") for e in resp.events
                               if e.HasField("probe") and e.probe.suspicious)
    assert len(want) > 5

    def scraped():
        r = promql(prom_port, "postfix_enrich_lines_in_total")
        if not (r and float(r[0]["value"][1]) >= len(lines)):
            return None
        # The time of that sample (an instant query answers at "now").
        return float(promql(prom_port, "timestamp(postfix_enrich_lines_in_total)")[0]["value"][1])

    # Evaluate at the last scrape: the range then ends on a sample, and the
    # first sample of each counter is 0, so increase() is exact.
    at = wait_for("a scrape after the traffic", scraped)
    got = {r["metric"]["class"]: float(r["value"][1]) for r in promql(prom_port, QUERY, at)}
    assert {c: n for c, n in got.items() if n > 0} == {c: float(n) for c, n in want.items()}
