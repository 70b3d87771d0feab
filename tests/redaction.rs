//! Redaction on real Postfix output: the verbose sessions of the recording
//! log SASL payloads (`AUTH PLAIN <initial response>`, the base64 answers to
//! `334` challenges, `xsasl_dovecot_server_first: ... init_response ...`).
//! The labels list, per session, every credential the driver sent. No
//! secret, in plain text or base64, may appear anywhere in any encoded
//! Event, nested or flat, from the stateful or the stateless path.

use std::collections::BTreeSet;

use postfix_enrich_core::{encode, enrich_line, Enricher, REDACTED};
use postfix_enrich_tests::{lines, repo, test_config};

const LOGS: [&str; 2] = ["mail.log", "syslog.log"];

/// Standard base64 with padding (RFC 4648), enough to derive the encoded
/// forms of plain-text secrets without a dependency.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every secret of every labelled session, plus the base64 form of each
/// (the driver sends some in plain text inside SASL PLAIN, some alone).
fn secrets() -> BTreeSet<String> {
    let path = repo().join("tests/corpus/recording/labels.jsonl");
    let text = std::fs::read_to_string(&path).expect("labels.jsonl");
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let label: serde_json::Value = serde_json::from_str(line).expect("label is JSON");
        let list = label["secrets"].as_array().expect("every label has a secrets list");
        for s in list {
            let s = s.as_str().expect("secret is a string");
            out.insert(s.to_owned());
            out.insert(base64(s.as_bytes()));
        }
    }
    out
}

/// The secrets that the recording actually logged: if this set were empty
/// the test would prove nothing, so it is checked, and it must include the
/// three kinds of payload the verbose sessions produce.
fn logged_secrets(secrets: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for log in LOGS {
        let data = std::fs::read(repo().join("tests/corpus/recording").join(log)).unwrap();
        let text = String::from_utf8_lossy(&data);
        for s in secrets {
            if text.contains(s.as_str()) {
                found.insert(s.clone());
            }
        }
    }
    found
}

fn assert_clean(json: &[u8], secrets: &BTreeSet<String>, what: &str) {
    let text = std::str::from_utf8(json).expect("encoder writes UTF-8");
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what}: secret {s:?} leaked in {text}");
    }
}

#[test]
fn base64_helper_matches_rfc4648() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"\0alice\0Lab-s3cret-pw"), "AGFsaWNlAExhYi1zM2NyZXQtcHc=");
}

#[test]
fn the_recording_logs_secrets_at_all() {
    let secrets = secrets();
    // JSON escaping would hide a leak from a plain substring search.
    for s in &secrets {
        assert!(!s.contains(['"', '\\']) && !s.chars().any(char::is_control), "{s:?}");
    }
    let logged = logged_secrets(&secrets);
    for expected in [
        // AUTH PLAIN initial response (and its xsasl_dovecot echo)
        "AGFsaWNlAHZlcmJvc2Utd3JvbmctMQ==",
        // AUTH LOGIN answers to 334 challenges, user name then password
        "aW5mb0BsYWIudGVzdA==",
        "dmVyYm9zZS13cm9uZy0y",
    ] {
        assert!(logged.contains(expected), "{expected} not in the recording");
    }
}

#[test]
fn stateful_output_has_no_secret() {
    let secrets = secrets();
    let mut redacted_lines = 0;
    for log in LOGS {
        let input = lines(&repo().join("tests/corpus/recording").join(log));
        let mut e = Enricher::new(test_config(2026));
        let mut buf = Vec::new();
        for (n, line) in input.iter().enumerate() {
            let ev = e.enrich(line);
            redacted_lines += usize::from(ev.postfix.redacted);
            let what = format!("{log}:{} stateful", n + 1);
            buf.clear();
            encode::write_json(&ev, &mut buf);
            assert_clean(&buf, &secrets, &what);
            buf.clear();
            encode::write_flat_json(&ev, &mut buf);
            assert_clean(&buf, &secrets, &what);
        }
    }
    // mail.log and syslog.log each: 2 AUTH PLAIN lines, their 2 xsasl echoes,
    // and 2 AUTH LOGIN answers.
    assert!(redacted_lines >= 12, "only {redacted_lines} lines redacted");
}

#[test]
fn stateless_output_has_no_secret() {
    let secrets = secrets();
    let config = test_config(2026);
    for log in LOGS {
        let input = lines(&repo().join("tests/corpus/recording").join(log));
        let mut buf = Vec::new();
        for (n, line) in input.iter().enumerate() {
            let ev = enrich_line(line, &config);
            let what = format!("{log}:{} stateless", n + 1);
            buf.clear();
            encode::write_json(&ev, &mut buf);
            assert_clean(&buf, &secrets, &what);
            buf.clear();
            encode::write_flat_json(&ev, &mut buf);
            assert_clean(&buf, &secrets, &what);
        }
    }
}

/// The redacted lines keep everything but the secret, so the timeline stays
/// readable: the `AUTH PLAIN` verb and mechanism survive.
#[test]
fn redaction_keeps_the_verb() {
    let input = lines(&repo().join("tests/corpus/recording/mail.log"));
    let mut e = Enricher::new(test_config(2026));
    let mut seen = 0;
    for line in &input {
        let text = String::from_utf8_lossy(line).into_owned();
        let ev = e.enrich(line);
        if text.contains(": AUTH PLAIN A") {
            seen += 1;
            assert!(ev.message.contains("AUTH PLAIN "), "{}", ev.message);
            assert!(ev.message.ends_with(REDACTED), "{}", ev.message);
        }
    }
    assert_eq!(seen, 2);
}
