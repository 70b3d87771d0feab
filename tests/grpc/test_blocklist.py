"""Blocklists in the sidecar (`serve --blocklist NAME=PATH`): events of a
listed client carry `threat.enrichments` in the protobuf Event and in the
relay's Vector events, as the CLI's JSON does; SIGHUP rereads the files
without ending an open stream, whose next batches see the new lists while
its sessions go on; a reread that fails keeps the old lists. Clients and
split points are taken from the recorded corpus, not fixed here."""

import collections
import signal
import subprocess
import time

import pytest

from conftest import (BIN, CORPUS, cli_events, comparable, corpus_lines, free_port, metric,
                      proto_event_to_json)
from test_enricher import request
from test_relay import READ_AT, batches_of, enriched_view, log_event, line_index

LIST = "local"


def ip_of(ev):
    return (ev.get("client") or {}).get("ip")


def providers(ev):
    return [e["indicator"]["provider"] for e in (ev.get("threat") or {}).get("enrichments", [])]


def without_threat(ev):
    return {k: v for k, v in ev.items() if k != "threat"}


@pytest.fixture(scope="module")
def plan():
    """Two clients of the corpus and three batches: `a` is the client with
    the most lines, whose sessions straddle both split points (so a session
    runs across a reread); `b` another client with lines in batches 2 and 3."""
    reference = cli_events(CORPUS)
    counts = collections.Counter(ip_of(e) for e in reference if ip_of(e))
    a = counts.most_common(1)[0][0]
    sessions = collections.defaultdict(list)
    for i, e in enumerate(reference):
        if ip_of(e) == a and e["postfix"].get("session_id"):
            sessions[e["postfix"]["session_id"]].append(i)
    long = sorted((idx for idx in sessions.values() if len(idx) >= 4), key=lambda idx: idx[0])
    assert len(long) >= 2, "the corpus has long sessions of its busiest client"
    s1, s2 = long[len(long) // 3], long[2 * len(long) // 3]
    assert s1 != s2
    k1, k2 = s1[len(s1) // 2], s2[len(s2) // 2]
    in2 = {ip_of(e) for e in reference[k1:k2]} - {None, a}
    in3 = collections.Counter(ip_of(e) for e in reference[k2:] if ip_of(e) in in2)
    b = in3.most_common(1)[0][0]
    return dict(reference=reference, a=a, b=b, k1=k1, k2=k2, straddling=s1)


def write_list(path, *entries):
    # Spamhaus-DROP-like comments, and one line that is no address.
    path.write_text("; test list\n" + "".join(f"{e} ; SBL{i}\n" for i, e in enumerate(entries)) + "<html>\n")


def wait_metric(port, name, value, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metric(port, name) >= value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} did not reach {value}")


RELOADED = 'postfix_enrich_blocklist_reloads_total{result="ok"}'
FAILED = 'postfix_enrich_blocklist_reloads_total{result="failed"}'


def test_listed_client_carries_threat_like_the_cli(sidecar_factory, plan, tmp_path):
    listfile = tmp_path / "list.txt"
    write_list(listfile, plan["a"])
    arg = f"{LIST}={listfile}"
    s = sidecar_factory("--blocklist", arg)
    lines = corpus_lines()
    got = [proto_event_to_json(e) for e in s.enricher.Enrich(request(lines), timeout=60).events]
    reference = cli_events(CORPUS, "--blocklist", arg)
    assert len(got) == len(reference) == len(lines)
    for i, (g, r) in enumerate(zip(got, reference)):
        assert g == comparable(r), f"line {i + 1}"
    listed = [g for g in got if "threat" in g]
    assert listed and all(ip_of(g) == plan["a"] for g in listed)
    assert all(providers(g) == [LIST] for g in listed)
    assert listed[0]["threat"]["enrichments"][0]["matched"] == {
        "atomic": plan["a"], "field": "client.ip", "type": "indicator_match_rule"}
    assert all("threat" not in g for g in got if ip_of(g) != plan["a"])
    # The line that is no address: reported once, at warn.
    out = s.output()
    assert out.count("line(s) skipped") == 1 and "WARN" in out, out


def test_missing_list_stops_serve_before_serving(tmp_path):
    port = free_port()
    p = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{port}",
                        "--blocklist", f"{LIST}={tmp_path / 'absent.txt'}"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert f"blocklist {LIST}" in p.stderr and "absent.txt" in p.stderr, p.stderr
    assert "serving gRPC" not in p.stderr + p.stdout


def test_sighup_rereads_lists_on_an_open_stream(sidecar_factory, plan, tmp_path):
    import queue

    a, b, k1, k2 = plan["a"], plan["b"], plan["k1"], plan["k2"]
    listfile = tmp_path / "list.txt"
    write_list(listfile, a)
    mport = free_port()
    s = sidecar_factory("--blocklist", f"{LIST}={listfile}", "--metrics-listen", f"127.0.0.1:{mport}")
    lines = corpus_lines()
    requests = queue.Queue()
    responses = s.enricher.EnrichStream(iter(requests.get, None), timeout=120)

    def send(part):
        requests.put(request(part))
        return [proto_event_to_json(e) for e in next(responses).events]

    first = send(lines[:k1])
    write_list(listfile, b)
    s.proc.send_signal(signal.SIGHUP)
    wait_metric(mport, RELOADED, 1)
    second = send(lines[k1:k2])
    listfile.unlink()
    s.proc.send_signal(signal.SIGHUP)
    wait_metric(mport, FAILED, 1)
    third = send(lines[k2:])
    requests.put(None)
    assert list(responses) == [], "the stream ends only when the client ends it"
    assert s.alive()

    got = first + second + third
    # One context through all three batches: apart from `threat`, exactly the CLI's events.
    reference = plan["reference"]
    assert len(got) == len(reference)
    for i, (g, r) in enumerate(zip(got, reference)):
        assert without_threat(g) == comparable(r), f"line {i + 1}"
    # The session that ran across the reread kept its id.
    ids = {got[i]["postfix"]["session_id"] for i in plan["straddling"]}
    assert len(ids) == 1 and plan["straddling"][0] < k1 <= plan["straddling"][-1]

    def listed(part, ip):
        return [providers(e) for e in part if ip_of(e) == ip]

    assert listed(first, a) and all(p == [LIST] for p in listed(first, a))
    assert listed(second, a) and all(p == [] for p in listed(second, a)), "a is no longer listed"
    assert listed(second, b) and all(p == [LIST] for p in listed(second, b))
    # The failed reread kept the second list.
    assert listed(third, b) and all(p == [LIST] for p in listed(third, b))
    assert all(p == [] for p in listed(third, a))
    assert all("threat" not in e for e in got if ip_of(e) not in (a, b))
    assert metric(mport, RELOADED) == 1 and metric(mport, FAILED) == 1
    out = s.output()
    assert "keeping the old ones" in out and "ERROR" in out, out


def test_relay_events_carry_threat_and_follow_a_reread(sidecar_factory, standin, plan, tmp_path):
    a, b, k1 = plan["a"], plan["b"], plan["k1"]
    listfile = tmp_path / "list.txt"
    write_list(listfile, a)
    mport = free_port()
    s = sidecar_factory("--forward-vector", standin.addr, "--blocklist", f"{LIST}={listfile}",
                        "--metrics-listen", f"127.0.0.1:{mport}")
    events = [log_event(l, READ_AT + i) for i, l in enumerate(corpus_lines())]
    for batch in batches_of(events[:k1], 100):
        s.vector.PushEvents(batch, timeout=30)
    write_list(listfile, b)
    s.proc.send_signal(signal.SIGHUP)
    wait_metric(mport, RELOADED, 1)
    for batch in batches_of(events[k1:], 100):
        s.vector.PushEvents(batch, timeout=30)
    got = sorted(standin.vector_events(), key=line_index)
    assert len(got) == len(events)
    # The CLI's events with the list in force before and after the reread.
    first_list = tmp_path / "first.txt"
    write_list(first_list, a)
    before = cli_events(CORPUS, "--blocklist", f"{LIST}={first_list}")
    after = cli_events(CORPUS, "--blocklist", f"{LIST}={listfile}")
    for i, out in enumerate(got):
        view = enriched_view(out)
        ref = comparable((before if i < k1 else after)[i])
        for key in ref:
            assert view.get(key) == ref[key], (i, key, view.get(key), ref[key])
        assert ("threat" in view) == ("threat" in ref), i
    assert any("threat" in enriched_view(e) for e in got[:k1])
    assert any("threat" in enriched_view(e) for e in got[k1:])
