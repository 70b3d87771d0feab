"""Every statement of examples/queries/clickhouse.sql, run on a real
ClickHouse engine (chdb: ClickHouse in-process) over the CLI's output for the
recorded corpus and for a day-sized log, with answers that follow from the
corpus labels: which addresses `probers` must and must not return, the brute
force sources, the lines of one session, one row per removed message with
the statuses the driver expected, and the verdict counts per hour."""

import collections
import json
import re

import pytest
from chdb import session as chs

from conftest import REPO, SUSPICIOUS, labels

SQL = (REPO / "examples/queries/clickhouse.sql").read_text()


def statements():
    """`{name: sql}` in file order, from the `-- name: slug` lines."""
    parts = re.split(r"^-- name: (\S+)\n", SQL, flags=re.M)
    assert parts[0].strip().startswith("--"), "only comments before the first named statement"
    named = dict(zip(parts[1::2], parts[2::2]))
    assert len(named) == len(parts[1::2]), "statement names are unique"
    return named


STATEMENTS = statements()
PARAM = re.compile(r"\{(\w+):String\}")


def render(sql, events, **params):
    """The statement with `{events}` and its query parameters filled in, as
    clickhouse-client's --param_NAME would."""
    sql = sql.replace("{events}", str(events))
    for name in PARAM.findall(sql):
        value = params[name]
        assert re.fullmatch(r"[\w.@-]*", value), value
        sql = sql.replace("{%s:String}" % name, "'%s'" % value)
    return sql


class Db:
    """One database of the ClickHouse session, its events table created and
    loaded by the file's own statements."""

    def __init__(self, session, name, events_file):
        self.s, self.name, self.events = session, name, events_file
        session.query(f"CREATE DATABASE IF NOT EXISTS {name}")
        for stmt in ("create_events", "load_events"):
            self.query(render(STATEMENTS[stmt], events_file))

    def query(self, sql, fmt="CSV"):
        # chdb runs one embedded server per process: each data set has its own database.
        self.s.query(f"USE {self.name}")
        return self.s.query(sql, fmt)

    def rows(self, name, **params):
        res = self.query(render(STATEMENTS[name], self.events, **params), "JSONEachRow")
        text = res.bytes().decode() if hasattr(res, "bytes") else str(res)
        return [json.loads(l) for l in text.splitlines() if l.strip()]

    def scalar(self, sql):
        return int(str(self.query(sql)).strip())


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    s = chs.Session(str(tmp_path_factory.mktemp("clickhouse")))
    yield s
    s.close()


@pytest.fixture(scope="module")
def corpus_db(clickhouse, corpus_events):
    out, events = corpus_events
    return Db(clickhouse, "corpus", out), events


@pytest.fixture(scope="module")
def day_db(clickhouse, day_events):
    out, events, copies = day_events
    return Db(clickhouse, "day", out), events, copies


def test_file_names_the_documented_queries():
    assert {"create_events", "load_events", "probers", "bruteforce_by_source", "session_lines",
            "message_status", "verdicts_per_hour"} <= set(STATEMENTS)


def by_ip():
    classes, queued = collections.defaultdict(set), set()
    for l in labels():
        classes[l["client_ip"]].add(l["expected_class"])
        if l["queue_ids"]:
            queued.add(l["client_ip"])
    return classes, queued


def check_probers(rows):
    got = {r["client_ip"] for r in rows}
    classes, queued = by_ip()
    must = {ip for ip, cs in classes.items() if cs <= SUSPICIOUS and ip not in queued}
    must_not = {ip for ip, cs in classes.items() if ip in queued or cs & {
        "mail_accepted", "authenticated_submission", "authenticated_idle"}}
    assert must and must_not
    assert must <= got, f"probers missing: {sorted(must - got)}"
    assert not (got & must_not), f"probers that delivered or authenticated: {sorted(got & must_not)}"
    for r in rows:
        assert set(r["classes"]) <= SUSPICIOUS, r


def test_every_event_is_a_row(corpus_db):
    db, events = corpus_db
    assert db.scalar("SELECT count() FROM postfix_events") == len(events)
    assert db.scalar("SELECT count() FROM postfix_events WHERE doc.postfix.event::String = 'removed'") == \
        sum(1 for e in events if e["postfix"]["event"] == "removed")


def test_probers(corpus_db):
    db, events = corpus_db
    check_probers(db.rows("probers"))


def test_bruteforce_by_source(corpus_db):
    db, events = corpus_db
    rows = db.rows("bruteforce_by_source")
    want = {l["client_ip"] for l in labels() if l["expected_class"] == "auth_bruteforce"}
    assert {r["client_ip"] for r in rows} == want
    for r in rows:
        failures = sum(1 for e in events if e["postfix"]["event"] == "sasl_failure"
                       and e.get("client", {}).get("ip") == r["client_ip"])
        assert int(r["failed_auth_lines"]) == failures > 0


def test_session_lines_include_the_messages_lines(corpus_db):
    db, events = corpus_db
    label = next(l for l in labels() if l["expected_class"] == "authenticated_submission" and l["queue_ids"])
    qid = label["queue_ids"][0]
    sid = next(e["postfix"]["session_id"] for e in events
               if e["postfix"].get("queue_id") == qid and e["postfix"]["event"] == "queued")
    rows = db.rows("session_lines", session_id=sid)
    assert len(rows) == sum(1 for e in events if e["postfix"].get("session_id") == sid)
    assert rows[0]["event"] == "connect"
    assert {"queued", "queue_active", "delivery", "disconnect"} <= {r["event"] for r in rows}
    assert [r["message"] for r in rows] == [e["message"] for e in events if e["postfix"].get("session_id") == sid]


def test_message_status(corpus_db):
    db, events = corpus_db
    rows = db.rows("message_status")
    assert len(rows) == sum(1 for e in events if e["postfix"]["event"] == "removed")
    got = {r["queue_id"]: r for r in rows}
    checked = collections.Counter()
    for l in labels():
        for qid, status in l["deliveries"].items():
            if status == "deferred" and qid not in got:
                continue  # still queued when the recording stopped
            r = got[qid]
            assert r["statuses"] and set(r["statuses"]) == {status}, r
            assert r["client_ip"] == l["client_ip"] and r["verdict"] in ("", l["expected_class"]), r
            if status == "bounced":
                assert r["bounce_queue_id"] in got and got[r["bounce_queue_id"]]["origin"] == "notice"
            checked[status] += 1
    assert checked["sent"] and checked["bounced"], checked


def test_verdicts_per_hour(corpus_db):
    db, events = corpus_db
    rows = db.rows("verdicts_per_hour")
    want = collections.Counter(e["probe"]["class"] for e in events if "probe" in e)
    got = collections.Counter()
    for r in rows:
        got[r["probe_class"]] += int(r["sessions"])
    assert got == want


def test_day(day_db, corpus_events):
    db, events, copies = day_db
    _, corpus = corpus_events
    assert db.scalar("SELECT count() FROM postfix_events") == len(events) == copies * len(corpus)
    check_probers(db.rows("probers"))
    # Replays ten minutes apart can turn single failures into brute force
    # (the per-address window), never the other way round.
    brute = {r["client_ip"] for r in db.rows("bruteforce_by_source")}
    cls, _ = by_ip()
    assert {ip for ip, c in cls.items() if "auth_bruteforce" in c} <= brute
    assert brute <= {ip for ip, c in cls.items() if c & {"auth_bruteforce", "auth_failure"}}
    messages = db.rows("message_status")
    assert len(messages) == copies * sum(1 for e in corpus if e["postfix"]["event"] == "removed")
    hours = db.rows("verdicts_per_hour")
    assert len({r["hour"] for r in hours}) == 24
    assert sum(int(r["sessions"]) for r in hours) == copies * sum(1 for e in corpus if "probe" in e)
    sid = next(e["postfix"]["session_id"] for e in events if e["postfix"]["event"] == "queued")
    assert len(db.rows("session_lines", session_id=sid)) == \
        sum(1 for e in events if e["postfix"].get("session_id") == sid)
