//! The message record (`postfix.message`) against the recording of a real
//! Postfix (tests/corpus/recording, or `POSTFIX_ENRICH_CORPUS`): every
//! message the driver sent and Postfix removed gets exactly one record, on
//! its `removed` line, and the record agrees with the ground truth: sender,
//! client, session and verdict, and each recipient's final status as the
//! driver and the sink saw it (bounced, deferred then sent, expired,
//! deleted). The truth is `messages.jsonl` when the recording has it (one
//! object per message), else the per-session `deliveries` of `labels.jsonl`.
//! The same holds, marked, when the sessions were evicted before their
//! messages' lines arrived.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use postfix_enrich_core::{Config, Limits};
use postfix_enrich_tests::{enrich_all, lines, repo, test_config};
use serde::Deserialize;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("POSTFIX_ENRICH_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => repo().join("tests/corpus/recording"),
    }
}

fn jsonl<T: for<'de> Deserialize<'de>>(name: &str) -> Option<Vec<T>> {
    let text = std::fs::read_to_string(corpus_dir().join(name)).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect(),
    )
}

#[derive(Deserialize)]
struct Label {
    scenario: String,
    client_ip: String,
    client_port: u16,
    expected_class: String,
    #[serde(default)]
    queue_ids: Vec<String>,
    #[serde(default)]
    deliveries: HashMap<String, String>,
}

#[derive(Deserialize, Debug)]
struct Truth {
    scenario: String,
    queue_id: String,
    sender: Option<String>,
    client_ip: Option<String>,
    recipients: Vec<TruthRecipient>,
    bounce_queue_id: Option<String>,
    #[serde(default)]
    deleted: bool,
}

#[derive(Deserialize, Debug)]
struct TruthRecipient {
    address: String,
    final_status: String,
    #[serde(default)]
    deferred_first: bool,
    remote_reply_code: Option<String>,
}

fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn str_at<'v>(v: &'v Value, path: &str) -> Option<&'v str> {
    at(v, path).and_then(Value::as_str)
}

/// The events of one log file and its records by queue id; asserts the
/// invariants every record obeys whatever the truth says.
struct Run {
    events: Vec<Value>,
    records: HashMap<String, Value>,
    /// Queue ids with a line that ends them (`removed`).
    removed: Vec<String>,
}

fn run(file: &str, config: Config) -> Option<Run> {
    let path = corpus_dir().join(file);
    if !path.exists() {
        assert_ne!(file, "mail.log", "the recording must have mail.log");
        return None;
    }
    Some(run_lines(file, &lines(&path), config))
}

fn run_lines(file: &str, input: &[Vec<u8>], config: Config) -> Run {
    let events = enrich_all(input, config);
    assert_eq!(events.len(), input.len(), "{file}: one event per line");
    let mut records = HashMap::new();
    let mut removed = Vec::new();
    for e in &events {
        let qid = str_at(e, "postfix.queue_id");
        if str_at(e, "postfix.event") == Some("removed") {
            let qid = qid.expect("a removed line names its queue id");
            removed.push(qid.to_owned());
            let rec = at(e, "postfix.message").unwrap_or_else(|| panic!("{file}: no record on {}", e["message"]));
            assert_eq!(str_at(rec, "queue_id"), Some(qid));
            assert_eq!(
                at(rec, "last_seen"),
                at(e, "@timestamp"),
                "{file}: the record closes on its line"
            );
            assert!(
                records.insert(qid.to_owned(), rec.clone()).is_none(),
                "{file}: {qid} removed twice"
            );
        } else {
            assert!(
                at(e, "postfix.message").is_none(),
                "{file}: a record on a line that ends nothing: {}",
                e["message"]
            );
        }
    }
    Run {
        events,
        records,
        removed,
    }
}

impl Run {
    /// The session id the `client=` line of `qid` carries.
    fn session_of(&self, qid: &str) -> Option<&str> {
        self.events
            .iter()
            .find(|e| str_at(e, "postfix.queue_id") == Some(qid) && str_at(e, "postfix.event") == Some("queued"))
            .and_then(|e| str_at(e, "postfix.session_id"))
    }

    /// The sender qmgr logged for `qid`.
    fn qmgr_sender(&self, qid: &str) -> Option<&str> {
        self.events
            .iter()
            .find(|e| str_at(e, "postfix.queue_id") == Some(qid) && str_at(e, "postfix.event") == Some("queue_active"))
            .and_then(|e| str_at(e, "email.from.address"))
    }
}

fn statuses(rec: &Value) -> Vec<(String, String, u64)> {
    rec["recipients"]
        .as_array()
        .expect("recipients is a list")
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["deferred"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Checks the records against `labels.jsonl`: the messages of each session,
/// their client, session and verdict, and the status the driver expected.
fn check_labels(file: &str, r: &Run, sessions_known: bool) -> BTreeMap<String, usize> {
    let labels: Vec<Label> = jsonl("labels.jsonl").expect("labels.jsonl");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for l in &labels {
        for qid in &l.queue_ids {
            let want = l.deliveries.get(qid).map(String::as_str);
            let Some(rec) = r.records.get(qid) else {
                // Only mail still queued when the recording stopped has no end.
                assert!(
                    !r.removed.contains(qid) && matches!(want, Some("deferred") | None),
                    "{file}: {} {qid}: no record (expected {want:?})",
                    l.scenario
                );
                continue;
            };
            let ctx = format!("{file}: {} {qid}: {rec}", l.scenario);
            assert_eq!(str_at(rec, "origin"), Some("smtpd"), "{ctx}");
            assert_eq!(str_at(rec, "client.ip"), Some(l.client_ip.as_str()), "{ctx}");
            assert_eq!(
                at(rec, "client.port").and_then(Value::as_u64),
                Some(l.client_port as u64),
                "{ctx}"
            );
            assert_eq!(str_at(rec, "sender"), r.qmgr_sender(qid), "{ctx}");
            let gaps: Vec<&str> = rec["gaps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if sessions_known {
                assert_eq!(str_at(rec, "session_id"), r.session_of(qid), "{ctx}");
                assert!(str_at(rec, "session_id").is_some(), "{ctx}");
                // The verdict is there unless the message ended before its session did.
                match str_at(rec, "client.verdict") {
                    Some(v) => assert_eq!(v, l.expected_class, "{ctx}"),
                    None => assert_eq!(gaps, ["verdict_pending"], "{ctx}"),
                }
            } else if str_at(rec, "session_id").is_none() {
                assert_eq!(gaps, ["session_unknown"], "{ctx}");
                assert!(at(rec, "client.verdict").is_none(), "{ctx}");
            }
            let st = statuses(rec);
            assert!(!st.is_empty(), "{ctx}");
            if let Some(want) = want {
                assert!(st.iter().all(|(_, s, _)| s == want), "{ctx}: expected {want}");
                *seen.entry(want.to_owned()).or_default() += 1;
                if want == "bounced" {
                    let notice = str_at(rec, "bounce_queue_id").unwrap_or_else(|| panic!("{ctx}: no bounce id"));
                    if let Some(n) = r.records.get(notice) {
                        assert_eq!(str_at(n, "notice_of"), Some(qid.as_str()), "{ctx}");
                        assert_eq!(str_at(n, "origin"), Some("notice"), "{ctx}");
                    }
                }
            }
        }
    }
    seen
}

/// The status a record gives for a status in messages.jsonl.
fn same_status(truth: &str, got: &str) -> bool {
    truth == got || (truth == "deferred_then_sent" && got == "sent")
}

/// Checks the records against `messages.jsonl`; returns how many messages
/// of each kind were checked.
fn check_messages(file: &str, r: &Run, truth: &[Truth]) -> BTreeMap<&'static str, usize> {
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for t in truth {
        let qid = &t.queue_id;
        let Some(rec) = r.records.get(qid) else {
            // A message without a closing line in the log (still queued or on
            // hold when the recording ended, or deleted by a postsuper whose
            // lines did not reach the log) has no record.
            assert!(
                !r.removed.contains(qid),
                "{file}: {} {qid}: removed but no record",
                t.scenario
            );
            *kinds.entry("not closed in the log").or_default() += 1;
            continue;
        };
        let ctx = format!("{file}: {} {qid}: {rec}", t.scenario);
        if let Some(sender) = &t.sender {
            assert_eq!(str_at(rec, "sender"), Some(sender.as_str()), "{ctx}");
        }
        assert_eq!(str_at(rec, "client.ip"), t.client_ip.as_deref(), "{ctx}");
        assert_eq!(str_at(rec, "bounce_queue_id"), t.bounce_queue_id.as_deref(), "{ctx}");
        assert_eq!(str_at(rec, "end") == Some("deleted"), t.deleted, "{ctx}");
        let got = rec["recipients"].as_array().unwrap();
        for tr in &t.recipients {
            let g = got
                .iter()
                .find(|g| str_at(g, "address") == Some(tr.address.as_str()))
                .unwrap_or_else(|| panic!("{ctx}: recipient {} missing", tr.address));
            let status = str_at(g, "status").unwrap();
            assert!(same_status(&tr.final_status, status), "{ctx}: {} {status}", tr.address);
            let deferred = g["deferred"].as_u64().unwrap() > 0;
            assert_eq!(deferred, tr.deferred_first, "{ctx}: {} deferred first", tr.address);
            let code = at(g, "reply.code").and_then(Value::as_u64).map(|c| c.to_string());
            if tr.remote_reply_code.is_some() {
                assert_eq!(code, tr.remote_reply_code, "{ctx}: {} reply code", tr.address);
            }
            let kind = match status {
                "sent" if deferred => "deferred then sent",
                "sent" => "sent",
                "bounced" => "bounced",
                "expired" => "expired",
                "deleted" => "deleted",
                _ => "other",
            };
            *kinds.entry(kind).or_default() += 1;
        }
    }
    kinds
}

fn check(file: &str) {
    let Some(r) = run(file, test_config(2026)) else {
        eprintln!("{file}: not in this recording, skipped");
        return;
    };
    assert!(!r.records.is_empty(), "{file}: no record at all");
    match jsonl::<Truth>("messages.jsonl") {
        Some(truth) => {
            let kinds = check_messages(file, &r, &truth);
            println!("{file}: messages.jsonl, recipients checked by final status: {kinds:?}");
            for kind in ["bounced", "deferred then sent", "expired"] {
                assert!(
                    kinds.contains_key(kind),
                    "{file}: no {kind} message was checked: {kinds:?}"
                );
            }
            let deleted = truth.iter().filter(|t| t.deleted).count();
            println!("{file}: {deleted} deleted messages in the truth");
        }
        None => {
            let seen = check_labels(file, &r, true);
            println!("{file}: labels.jsonl, messages checked by status: {seen:?}");
            assert!(seen.contains_key("sent") && seen.contains_key("bounced"), "{seen:?}");
        }
    }
    println!(
        "{file}: {} records on {} removed lines",
        r.records.len(),
        r.removed.len()
    );
}

#[test]
fn records_agree_with_the_driver_mail_log() {
    check("mail.log");
}

#[test]
fn records_agree_with_the_driver_syslog_log() {
    check("syslog.log");
}

/// With room for a single smtpd session and another client connecting
/// just before each message's `client=` line, every message's session is
/// pushed out before its lines arrive: each still gets its record, with the
/// client from its own `client=` line, linked to the session the context
/// opens for that line (its start unseen), and the same recipients and
/// statuses as with room for all.
#[test]
fn records_survive_evicted_sessions() {
    let mut config = test_config(2026);
    config.limits = Limits {
        max_sessions: 1,
        ..Limits::default()
    };
    let mut input = Vec::new();
    for l in lines(&corpus_dir().join("mail.log")) {
        let text = String::from_utf8_lossy(&l);
        if let (true, Some(i)) = (text.contains(": client="), text.find("postfix/smtpd[")) {
            input.push(
                format!(
                    "{}postfix/smtpd[999999]: connect from unknown[192.0.2.99]:4000",
                    &text[..i]
                )
                .into_bytes(),
            );
        }
        input.push(l);
    }
    let tight = run_lines("mail.log (max_sessions=1)", &input, config);
    let roomy = run("mail.log", test_config(2026)).expect("mail.log");
    assert_eq!(tight.removed, roomy.removed);
    // Each `client=` line then finds no open session on its process, so the
    // context opens one whose start was not seen, and the record links to
    // that one: its id is derived from the same process, client and second
    // as the evicted one's, so in this corpus (client= within the connect's
    // second) it is the same id.
    let mut unknown = 0;
    for (qid, rec) in &roomy.records {
        let t = &tight.records[qid];
        assert_eq!(statuses(t), statuses(rec), "{qid}");
        assert_eq!(at(t, "client.ip"), at(rec, "client.ip"), "{qid}");
        if str_at(t, "origin") == Some("smtpd") && str_at(t, "session_id").is_some() {
            unknown += 1;
        }
    }
    // Sessions really were pushed out: their verdicts say the start was not seen.
    let unseen = tight
        .events
        .iter()
        .filter(|e| {
            e["probe"]["reasons"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|x| x.as_str().is_some_and(|x| x.contains("start was not seen")))
            })
        })
        .count();
    assert!(unseen > 0, "the tight run evicted sessions");
    check_labels("mail.log (max_sessions=1)", &tight, false);
    assert_eq!(
        unknown,
        roomy
            .records
            .values()
            .filter(|r| str_at(r, "origin") == Some("smtpd"))
            .count(),
        "every smtpd message is linked to a session"
    );
}
