//! Fuzz target: any bytes, split on '\n' into lines, go through one stateful
//! `Enricher` (so session, queue and postscreen state builds up across the
//! lines of one input) and through the stateless `enrich_line`, and every
//! Event is encoded. The properties checked are the ones the adapters rely
//! on: no panic, the encoder's output is valid JSON, and the `message` of a
//! line is exactly the line unless it was redacted, lossy-decoded or came
//! from a JSON record's field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfix_enrich_core::{encode, enrich_line, Config, Enricher, Event};

fn check(ev: &Event<'_>, line: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    encode::write_json(ev, buf);
    let v: serde_json::Value = serde_json::from_slice(buf).expect("encoded event is JSON");
    assert_eq!(v["message"].as_str(), Some(&*ev.message));
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let trimmed = &line[..end];
    match std::str::from_utf8(trimmed) {
        Ok(s) => {
            assert!(!ev.postfix.invalid_utf8, "valid UTF-8 marked invalid");
            let json_record = s.trim_start().starts_with('{');
            if !ev.postfix.redacted && !json_record {
                assert_eq!(&*ev.message, s, "message differs from the line");
            }
        }
        Err(_) => {
            assert!(ev.postfix.invalid_utf8, "lossy line not marked");
            // A JSON record may carry the bad bytes outside the field it
            // reads, and redaction may have replaced them.
            if !ev.postfix.redacted && !trimmed.trim_ascii_start().starts_with(b"{") {
                assert!(ev.message.contains('\u{FFFD}'), "replacement char missing");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let config = Config::default();
    let mut enricher = Enricher::new(config.clone());
    let mut buf = Vec::with_capacity(1024);
    for line in data.split(|b| *b == b'\n') {
        let ev = enricher.enrich(line);
        check(&ev, line, &mut buf);
        let ev = enrich_line(line, &config);
        check(&ev, line, &mut buf);
    }
    let stats = enricher.stats();
    let limits = config.limits;
    assert!(stats.sessions.live <= limits.max_sessions);
    assert!(stats.queue_links.live <= limits.max_queue_links);
    assert!(stats.postscreen.live <= limits.max_postscreen);
    assert!(stats.clients.live <= limits.max_clients);
});
