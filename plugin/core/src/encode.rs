//! Encoders: an [`Event`] as NDJSON, nested (ECS objects) or flat (dotted
//! keys, for stores that prefer them). Encoding is separate from parsing so
//! adapters choose the form and reuse one buffer per line.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::Event;

/// Appends the nested JSON form of `ev` to `out` (no newline).
pub fn write_json(ev: &Event<'_>, out: &mut Vec<u8>) {
    // Serializing these types cannot fail: every map key is a string and
    // they use no tuple or struct variants.
    ev.serialize(&mut crate::json::Writer::new(out))
        .expect("event serializes");
}

/// Appends the top-level members of `ev`'s nested JSON form that `keep`
/// accepts (by name), each as `,"name":value`, without braces: for splicing
/// into a JSON object that already has a member, with no second scan.
pub fn write_json_members(ev: &Event<'_>, out: &mut Vec<u8>, keep: &mut dyn FnMut(&str) -> bool) {
    ev.serialize(&mut crate::json::Writer::members(out, keep))
        .expect("event serializes");
}

/// Appends `s` as a JSON string (quoted and escaped).
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    crate::json::write_str(out, s);
}

/// The length of the longest prefix of `b` that a JSON string holds as is,
/// up to the first `"`, `\` or control byte: a JSON scanner's fast path.
pub fn json_plain_prefix(b: &[u8]) -> usize {
    crate::json::plain_prefix(b)
}

/// The nested JSON form of `ev`.
pub fn to_json_string(ev: &Event<'_>) -> String {
    let mut v = Vec::with_capacity(512);
    write_json(ev, &mut v);
    String::from_utf8(v).expect("the writer writes UTF-8")
}

/// Appends the flat form of `ev` (`{"client.ip": ..., "postfix.event": ...}`) to `out`.
pub fn write_flat_json(ev: &Event<'_>, out: &mut Vec<u8>) {
    let nested = serde_json::to_value(ev).expect("event serializes");
    let mut flat = Map::new();
    flatten("", nested, &mut flat);
    serde_json::to_writer(out, &Value::Object(flat)).expect("map serializes");
}

fn flatten(prefix: &str, v: Value, out: &mut Map<String, Value>) {
    match v {
        // Disconnect statistics stay an object: their keys are data, not schema.
        Value::Object(m) if !prefix.ends_with("disconnect_stats") && !prefix.ends_with("probe.commands") => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Enricher};

    /// Members mode is the full form less the braces and the refused names.
    #[test]
    fn members_splice_into_an_object() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let data = std::fs::read(format!("{root}/tests/corpus/recording/mail.log")).unwrap();
        let mut e = Enricher::new(Config::default());
        let mut asked = Vec::new();
        for l in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let ev = e.enrich(l);
            let mut spliced = br#"{"x":1"#.to_vec();
            asked.clear();
            write_json_members(&ev, &mut spliced, &mut |name| {
                asked.push(name.to_owned());
                name != "host" && name != "message"
            });
            spliced.push(b'}');
            let Value::Object(mut expected) = serde_json::to_value(&ev).unwrap() else {
                panic!("an object")
            };
            expected.remove("host");
            expected.remove("message");
            expected.insert("x".into(), Value::from(1));
            let got: Value = serde_json::from_slice(&spliced)
                .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&spliced)));
            assert_eq!(got, Value::Object(expected));
            assert!(asked.iter().any(|n| n == "host"), "every top-level name is offered");
        }
    }

    /// The fast writer must produce exactly what serde_json produces.
    #[test]
    fn writer_matches_serde_json() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for f in [
            "tests/corpus/recording/mail.log",
            "tests/corpus/recording/syslog.log",
            "examples/logs/seed-ehlo-probe.log",
        ] {
            let data = std::fs::read(format!("{root}/{f}")).unwrap();
            lines.extend(data.split(|b| *b == b'\n').map(<[u8]>::to_vec));
        }
        lines.push(b"Jun 19 16:27:21 h postfix/smtpd[1]: < x[1.2.3.4]: EHLO \"q\\\x01\x1f\xff \xe2\x82".to_vec());
        lines.push(br#"{"log":"Jun 19 16:27:21 h postfix/qmgr[1]: 3F2A81C0B4: to=<a@b>, relay=none, delay=inf, delays=1/2/3/4, dsn=4.0.0, status=deferred (x)"}"#.to_vec());
        let mut e = Enricher::new(Config::default());
        for l in &lines {
            let ev = e.enrich(l);
            let mut ours = Vec::new();
            write_json(&ev, &mut ours);
            let theirs = serde_json::to_vec(&ev).unwrap();
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }
    }
}
