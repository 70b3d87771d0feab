//! Bounded memory: a flood of sessions that never end, distinct queue ids and
//! postscreen clients must never hold more live entries than the configured
//! caps, and every entry pushed out must be counted (`evicted`), never
//! dropped silently. Small caps keep the test fast while the inputs stay at
//! a million each; `plugin/core/examples/memory_flood.rs` measures the peak
//! RSS with the default caps.

use std::io::Write;

use postfix_enrich_core::{ContextStats, Enricher, Limits};
use postfix_enrich_tests::test_config;

const FLOOD: u64 = 1_000_000;
/// How often the caps are checked (every line would dominate the run time).
const CHECK_EVERY: u64 = 997;
const STAMP: &str = "2026-11-26T16:45:43.000000+00:00 mail";

/// Small caps and TTLs so long that nothing expires: evictions then account
/// for every entry exactly.
fn limits() -> Limits {
    Limits {
        max_sessions: 1_000,
        session_ttl: 1 << 40,
        max_queue_links: 2_000,
        queue_ttl: 1 << 40,
        max_postscreen: 500,
        max_clients: 700,
        window_seconds: 1 << 30,
    }
}

fn enricher(limits: Limits) -> Enricher {
    let mut config = test_config(2026);
    config.limits = limits;
    Enricher::new(config)
}

fn ip(i: u64) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

fn assert_within(s: &ContextStats, l: &Limits, at: u64) {
    assert!(s.sessions.live <= l.max_sessions, "line {at}: {s:?}");
    assert!(s.queue_links.live <= l.max_queue_links, "line {at}: {s:?}");
    assert!(s.postscreen.live <= l.max_postscreen, "line {at}: {s:?}");
    assert!(s.clients.live <= l.max_clients, "line {at}: {s:?}");
}

/// Feeds lines written by `write` into `e`, checking the caps as it goes.
fn flood(e: &mut Enricher, n: u64, mut write: impl FnMut(u64, &mut Vec<u8>)) {
    let l = e.config().limits;
    let mut line = Vec::with_capacity(256);
    for i in 0..n {
        line.clear();
        write(i, &mut line);
        let _ = e.enrich(&line);
        if i % CHECK_EVERY == 0 {
            assert_within(&e.stats(), &l, i);
        }
    }
    assert_within(&e.stats(), &l, n);
}

#[test]
fn sessions_that_never_disconnect() {
    let l = limits();
    let mut e = enricher(l);
    flood(&mut e, FLOOD, |i, line| {
        write!(
            line,
            "{STAMP} postfix/smtpd[{}]: connect from unknown[{}]:{}",
            100_000 + i,
            ip(i),
            1024 + i % 60_000
        )
        .unwrap();
    });
    let s = e.stats();
    assert_eq!(s.sessions.live, l.max_sessions);
    assert_eq!(s.sessions.expired, 0);
    // Every connect opened a new session (distinct processes): all but the
    // live ones were evicted, and counted.
    assert_eq!(s.sessions.evicted + s.sessions.live as u64, FLOOD);
    assert_eq!(s.unfinished_sessions, 0);

    // The newest sessions are the ones kept: their disconnect finds them.
    let last = FLOOD - 1;
    let line = format!(
        "{STAMP} postfix/smtpd[{}]: disconnect from unknown[{}]:{} ehlo=1 quit=1 commands=2",
        100_000 + last,
        ip(last),
        1024 + last % 60_000
    );
    assert!(e.enrich(line.as_bytes()).postfix.session_id.is_some());
    // And the oldest are gone: their disconnect opens a session of its own,
    // whose verdict says the start was not seen.
    let line = format!(
        "{STAMP} postfix/smtpd[100000]: disconnect from unknown[{}]:1024 ehlo=1 quit=1 commands=2",
        ip(0)
    );
    let probe = e.enrich(line.as_bytes()).probe.expect("a verdict");
    assert!(
        probe.reasons.iter().any(|r| r.contains("start was not seen")),
        "{probe:?}"
    );
}

#[test]
fn one_process_reconnecting_replaces_its_session() {
    // The same smtpd process serving client after client without a
    // disconnect line: one live session, the rest counted as unfinished.
    let l = limits();
    let mut e = enricher(l);
    flood(&mut e, 100_000, |i, line| {
        write!(line, "{STAMP} postfix/smtpd[4242]: connect from unknown[{}]:25", ip(i)).unwrap();
    });
    let s = e.stats();
    assert_eq!(s.sessions.live, 1);
    assert_eq!(s.sessions.evicted, 0);
    assert_eq!(s.unfinished_sessions, 99_999);
}

#[test]
fn distinct_queue_ids() {
    let l = limits();
    let mut e = enricher(l);
    // Ten messages per session, each queue id linked by its `client=` line
    // and then seen by qmgr: 1,000,000 queue ids in 2,100,000 lines.
    let per_session = 10;
    let mut linked_qmgr_lines = 0u64;
    let mut line = Vec::with_capacity(256);
    for i in 0..FLOOD {
        let pid = 200_000 + i / per_session;
        if i % per_session == 0 {
            line.clear();
            write!(line, "{STAMP} postfix/smtpd[{pid}]: connect from unknown[{}]:25", ip(i)).unwrap();
            let _ = e.enrich(&line);
        }
        line.clear();
        write!(
            line,
            "{STAMP} postfix/smtpd[{pid}]: {i:010X}: client=unknown[{}]:25",
            ip(i)
        )
        .unwrap();
        assert!(
            e.enrich(&line).postfix.queue_id.is_some(),
            "{}",
            String::from_utf8_lossy(&line)
        );
        line.clear();
        write!(
            line,
            "{STAMP} postfix/qmgr[99]: {i:010X}: from=<a@example.org>, size=100, nrcpt=1 (queue active)"
        )
        .unwrap();
        linked_qmgr_lines += u64::from(e.enrich(&line).postfix.session_id.is_some());
        if i % CHECK_EVERY == 0 {
            assert_within(&e.stats(), &l, i);
        }
    }
    let s = e.stats();
    assert_within(&s, &l, FLOOD);
    assert_eq!(s.queue_links.live, l.max_queue_links);
    assert_eq!(s.queue_links.expired, 0);
    assert_eq!(s.queue_links.evicted + s.queue_links.live as u64, FLOOD);
    // The link is made before the cap bites: every qmgr line found its session.
    assert_eq!(linked_qmgr_lines, FLOOD);
    // 100,000 sessions, none finished.
    assert_eq!(s.sessions.evicted + s.sessions.live as u64, FLOOD / per_session);

    // An evicted queue id no longer resolves; a kept one does.
    let qmgr = |i: u64| format!("{STAMP} postfix/qmgr[99]: {i:010X}: removed");
    assert!(e.enrich(qmgr(0).as_bytes()).postfix.session_id.is_none());
    assert!(e.enrich(qmgr(FLOOD - 1).as_bytes()).postfix.session_id.is_some());
}

#[test]
fn postscreen_clients_from_distinct_ports() {
    let l = limits();
    let mut e = enricher(l);
    flood(&mut e, FLOOD, |i, line| {
        // 60,000 ports per address, so 17 addresses cover a million clients.
        write!(
            line,
            "{STAMP} postfix/postscreen[98]: CONNECT from [{}]:{} to [127.0.0.1]:25",
            ip(i / 60_000),
            1024 + i % 60_000
        )
        .unwrap();
    });
    let s = e.stats();
    assert_eq!(s.postscreen.live, l.max_postscreen);
    assert_eq!(s.postscreen.expired, 0);
    assert_eq!(s.postscreen.evicted + s.postscreen.live as u64, FLOOD);
}

#[test]
fn finished_sessions_from_distinct_addresses() {
    // Each finished session opens a per-address window for its client.
    let l = limits();
    let mut e = enricher(l);
    let n = FLOOD / 4;
    flood(&mut e, 2 * n, |i, line| {
        let (k, pid) = (i / 2, 300_000 + i / 2);
        if i % 2 == 0 {
            write!(line, "{STAMP} postfix/smtpd[{pid}]: connect from unknown[{}]:25", ip(k)).unwrap();
        } else {
            write!(
                line,
                "{STAMP} postfix/smtpd[{pid}]: disconnect from unknown[{}]:25 ehlo=1 quit=1 commands=2",
                ip(k)
            )
            .unwrap();
        }
    });
    let s = e.stats();
    assert_eq!(s.sessions.live, 0);
    assert_eq!(s.sessions.evicted, 0);
    assert_eq!(s.clients.live, l.max_clients);
    assert_eq!(s.clients.evicted + s.clients.live as u64, n);
}

#[test]
fn idle_entries_expire_by_log_time() {
    // With TTLs, time moving on drops idle entries and counts them as
    // expired, so a quiet stream does not keep a full map forever.
    let l = Limits {
        session_ttl: 60,
        queue_ttl: 60,
        ..limits()
    };
    let mut e = enricher(l);
    let stamp = |s: u64| {
        format!(
            "2026-11-26T{:02}:{:02}:{:02}.000000+00:00 mail",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    };
    flood(&mut e, 50_000, |i, line| {
        // One connect per second for about 14 hours.
        write!(
            line,
            "{} postfix/smtpd[{}]: connect from unknown[{}]:25",
            stamp(i),
            100_000 + i,
            ip(i)
        )
        .unwrap();
    });
    let s = e.stats();
    assert!(s.sessions.live <= 62, "{s:?}");
    assert!(s.sessions.expired > 49_000, "{s:?}");
    assert_eq!(s.sessions.expired + s.sessions.evicted + s.sessions.live as u64, 50_000);
}

/// One long session (a legitimate bulk sender, or a flood) that queues many
/// messages: the verdict on its disconnect line must stay small. The session
/// used to keep every queue id and the AUTH-success evidence joined them all,
/// so the Event (and the session's memory) grew without bound; the evidence
/// now keeps a few ids and a count, and this test holds it there.
#[test]
fn a_session_with_many_messages_stays_small() {
    let mut e = enricher(limits());
    let pid = 777;
    let peer = "unknown[10.9.9.9]:25";
    let mut line = Vec::new();
    let mut feed = |e: &mut Enricher, f: &dyn Fn(&mut Vec<u8>)| -> Vec<u8> {
        line.clear();
        f(&mut line);
        let mut out = Vec::new();
        postfix_enrich_core::encode::write_json(&e.enrich(&line), &mut out);
        out
    };
    feed(&mut e, &|l| {
        write!(l, "{STAMP} postfix/smtpd[{pid}]: connect from {peer}").unwrap()
    });
    let messages = 20_000u64;
    for i in 0..messages {
        feed(&mut e, &|l| {
            write!(
                l,
                "{STAMP} postfix/smtpd[{pid}]: {i:010X}: client={peer}, sasl_method=PLAIN, sasl_username=alice"
            )
            .unwrap()
        });
    }
    let end = feed(&mut e, &|l| {
        write!(l, "{STAMP} postfix/smtpd[{pid}]: disconnect from {peer} ehlo=1 auth=1 mail=20000 rcpt=20000 data=20000 quit=1 commands=60003").unwrap()
    });
    let v: serde_json::Value = serde_json::from_slice(&end).unwrap();
    assert!(v["probe"].is_object(), "the session ended with a verdict");
    assert!(
        end.len() < 16 * 1024,
        "disconnect Event is {} bytes: {}",
        end.len(),
        String::from_utf8_lossy(&end[..end.len().min(600)])
    );
}
