//! Verdict accuracy against the recording of a real Postfix
//! (tests/corpus/recording, made by tests/corpus/record.sh), or against a
//! fresh recording when `POSTFIX_ENRICH_CORPUS` names its folder (CI's live
//! check). Every labelled session must get its expected class; every line
//! must give exactly one event and no Postfix line may be `unparsed`; session
//! ids, pids and queue-id links must agree with what the driver knows.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use postfix_enrich_tests::{enrich_all, lines, repo, test_config};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Debug)]
struct Label {
    scenario: String,
    client_ip: String,
    client_port: u16,
    service: String,
    expected_class: String,
    pid: Option<u32>,
    #[serde(default)]
    queue_ids: Vec<String>,
    #[serde(default)]
    deliveries: HashMap<String, String>,
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("POSTFIX_ENRICH_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => repo().join("tests/corpus/recording"),
    }
}

fn labels() -> Vec<Label> {
    let text = std::fs::read_to_string(corpus_dir().join("labels.jsonl")).expect("labels.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("label"))
        .collect()
}

fn s<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// One session's verdict as the enricher gave it.
struct Verdict {
    class: String,
    session_id: String,
    pid: Option<u64>,
    reasons: Vec<String>,
}

fn check_log(file: &str) {
    let path = corpus_dir().join(file);
    if !path.exists() {
        assert_ne!(file, "mail.log", "the recording must have mail.log");
        eprintln!("{file}: not in this recording (rsyslog could not run), skipped");
        return;
    }
    let input = lines(&path);
    let events = enrich_all(&input, test_config(2026));
    assert_eq!(events.len(), input.len(), "{file}: one event per line");

    let unparsed: Vec<&Value> = events
        .iter()
        .filter(|e| s(e, "postfix.event") == Some(&"unparsed".into()))
        .collect();
    assert!(
        unparsed.is_empty(),
        "{file}: unparsed Postfix lines:\n{:#?}",
        unparsed.iter().map(|e| &e["message"]).collect::<Vec<_>>()
    );

    // Verdicts by (daemon, ip, port); sessions without an address by daemon.
    let mut verdicts: HashMap<(String, String, u64), Verdict> = HashMap::new();
    let mut anonymous: Vec<Verdict> = Vec::new();
    for e in &events {
        let Some(p) = e.get("probe") else { continue };
        let v = Verdict {
            class: p["class"].as_str().unwrap().to_owned(),
            session_id: s(e, "postfix.session_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            pid: s(e, "process.pid").and_then(Value::as_u64),
            reasons: p["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect(),
        };
        let daemon = s(e, "postfix.daemon").and_then(Value::as_str).unwrap_or("").to_owned();
        match (
            s(e, "client.ip").and_then(Value::as_str),
            s(e, "client.port").and_then(Value::as_u64),
        ) {
            (Some(ip), Some(port)) => {
                verdicts.insert((daemon, ip.to_owned(), port), v);
            }
            _ => anonymous.push(v),
        }
    }

    let labels = labels();
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for l in &labels {
        // A client postscreen passed on (PASS OLD) continues in smtpd on the
        // same socket: the label's pid says which daemon's verdict counts.
        let daemon = if l.pid.is_some() {
            "smtpd".to_owned()
        } else {
            l.service.clone()
        };
        let key = (daemon, l.client_ip.clone(), l.client_port as u64);
        let got = match verdicts.get(&key) {
            Some(v) => Some(v),
            // A reset before smtpd learned the peer is logged as unknown[unknown]:
            // it can only be matched as "some anonymous session".
            None if l.pid.is_none() && l.service == "smtpd" => anonymous.iter().find(|v| v.class == l.expected_class),
            None => None,
        };
        let class = got.map_or("(no verdict)".to_owned(), |v| v.class.clone());
        *confusion.entry((l.expected_class.clone(), class.clone())).or_default() += 1;
        if class != l.expected_class {
            mismatches.push(format!(
                "{} {}:{} ({}) expected {} got {} {:?}",
                l.scenario,
                l.client_ip,
                l.client_port,
                l.service,
                l.expected_class,
                class,
                got.map(|v| &v.reasons)
            ));
        }
        if let (Some(v), Some(pid)) = (got, l.pid) {
            assert_eq!(
                v.pid,
                Some(pid as u64),
                "{file}: {} {}:{} pid",
                l.scenario,
                l.client_ip,
                l.client_port
            );
        }
        // Every line about the session's messages carries the session id.
        if let Some(v) = got {
            for qid in &l.queue_ids {
                let about: Vec<&Value> = events
                    .iter()
                    .filter(|e| s(e, "postfix.queue_id").and_then(Value::as_str) == Some(qid))
                    .collect();
                assert!(!about.is_empty(), "{file}: no line names queue id {qid}");
                for e in about {
                    assert_eq!(
                        s(e, "postfix.session_id").and_then(Value::as_str),
                        Some(v.session_id.as_str()),
                        "{file}: queue id {qid} not linked to its session: {}",
                        e["message"]
                    );
                }
                if let Some(want) = l.deliveries.get(qid) {
                    let statuses: Vec<&str> = events
                        .iter()
                        .filter(|e| s(e, "postfix.queue_id").and_then(Value::as_str) == Some(qid))
                        .filter_map(|e| s(e, "postfix.delivery.status").and_then(Value::as_str))
                        .collect();
                    assert!(
                        statuses.contains(&want.as_str()),
                        "{file}: {qid} expected status {want}, got {statuses:?}"
                    );
                }
            }
        }
    }

    // Per-class precision and recall.
    let classes: std::collections::BTreeSet<&String> = confusion.keys().flat_map(|(a, b)| [a, b]).collect();
    println!("{file}: {} labelled sessions", labels.len());
    println!("{:<26} {:>5} {:>9} {:>7}", "class", "n", "precision", "recall");
    for c in classes {
        let tp = confusion.get(&(c.clone(), c.clone())).copied().unwrap_or(0);
        let expected: usize = confusion.iter().filter(|((e, _), _)| e == c).map(|(_, n)| n).sum();
        let predicted: usize = confusion.iter().filter(|((_, g), _)| g == c).map(|(_, n)| n).sum();
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}", a as f64 / b as f64)
            }
        };
        println!(
            "{:<26} {:>5} {:>9} {:>7}",
            c,
            expected,
            ratio(tp, predicted),
            ratio(tp, expected)
        );
    }
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{file}: {} of {} sessions misclassified:\n{}",
        mismatches.len(),
        labels.len(),
        mismatches.join("\n")
    );
}

#[test]
fn maillog_file_verdicts_match_labels() {
    check_log("mail.log");
}

#[test]
fn rsyslog_copy_verdicts_match_labels() {
    check_log("syslog.log");
}
