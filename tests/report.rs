//! The report on a day-sized log (examples/logs/make_day.rs: the sample's
//! probe every 3 minutes among the recorded corpus's traffic): the overview
//! fits one screen, the probe's detail fits 40 lines and names its pattern
//! and rhythm, the legitimate traffic is told apart, and the bundled
//! one-session sample still shows its timeline and verdict directly.

#[path = "../examples/logs/make_day.rs"]
mod make_day;

use postfix_enrich_core::report::{text, Report, ReportBuilder, ReportFilter, ReportLimits, Rhythm};
use postfix_enrich_core::Enricher;
use postfix_enrich_tests::{repo, test_config};

fn read(p: &str) -> String {
    std::fs::read_to_string(repo().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn day() -> String {
    make_day::day_log(
        &read("examples/logs/seed-ehlo-probe.log"),
        &read("tests/corpus/recording/mail.log"),
    )
}

fn report(log: &str, filter: ReportFilter) -> Report {
    let mut e = Enricher::new(test_config(2026));
    let mut b = ReportBuilder::new(ReportLimits::default(), filter);
    for line in log.lines() {
        b.push(&e.enrich(line.as_bytes()));
    }
    b.finish()
}

const PROBE: &str = "72.38.252.2";

/// The CLI takes each event's verdict into the report (`push_taking`, so a
/// verdict is not copied); the JS module lends it (`push`). Both must give
/// one report.
#[test]
fn taking_verdicts_gives_the_report_lending_events_gives() {
    let log = day();
    let lent = report(&log, ReportFilter::default());
    let mut e = Enricher::new(test_config(2026));
    let mut b = ReportBuilder::new(ReportLimits::default(), ReportFilter::default());
    for line in log.lines() {
        b.push_taking(&mut e.enrich(line.as_bytes()));
    }
    let moved = b.finish();
    assert!(lent.sessions > 500 && lent.unfinished_sessions < lent.sessions / 10);
    assert_eq!(
        serde_json::to_string(&moved).unwrap(),
        serde_json::to_string(&lent).unwrap()
    );
}

#[test]
fn the_day_overview_fits_one_screen_and_leads_with_the_probe() {
    let log = day();
    let r = report(&log, ReportFilter::default());
    assert_eq!(r.lines as usize, log.lines().count());
    let out = text::render_overview(&r);
    let n = out.lines().count();
    assert!(n <= text::OVERVIEW_LINES, "{n} lines:\n{out}");
    assert!(
        r.clients.len() > 10,
        "the corpus brings its own clients: {}",
        r.clients.len()
    );
    let probe = r
        .clients
        .iter()
        .find(|c| c.address == PROBE)
        .expect("the probe is a client");
    assert_eq!(probe.sessions, 480);
    assert!(
        out.contains(&format!(
            "{PROBE} s72-38-252-2.static.datacom.cgocable.net: 480 session(s), ehlo_quit_probe×480"
        )),
        "{out}"
    );
    assert!(out.contains("every 3 min 0 s ±"), "{out}");
    assert!(out.contains("legitimate traffic:"), "{out}");
}

#[test]
fn the_probes_detail_names_its_pattern_cadence_and_conclusion() {
    let filter = ReportFilter {
        clients: vec![ReportFilter::parse_network(PROBE).unwrap()],
        ..ReportFilter::default()
    };
    let r = report(&day(), filter);
    assert_eq!(r.clients.len(), 1);
    let c = &r.clients[0];
    match c.cadence {
        Some(Rhythm::Regular {
            period_seconds,
            jitter_seconds,
            ..
        }) => {
            assert!((period_seconds - 180.0).abs() < 1.0, "{period_seconds}");
            assert!(jitter_seconds > 0.5 && jitter_seconds < 4.0, "{jitter_seconds}");
        }
        other => panic!("expected a 3-minute rhythm, got {other:?}"),
    }
    assert_eq!(c.patterns.len(), 1, "{:#?}", c.patterns);
    assert_eq!(
        &*c.patterns[0].pattern,
        "EHLO User → 250 (offers STARTTLS, AUTH PLAIN) → QUIT → 221"
    );
    let out = text::render_clients(&r);
    let n = out.lines().count();
    assert!(n <= text::CLIENT_LINES, "{n} lines:\n{out}");
    for needle in [
        "480 × EHLO User → 250 (offers STARTTLS, AUTH PLAIN) → QUIT → 221",
        "cadence: every 3 min 0 s ± ",
        "480 times, 00:0",
        "-23:5",
        "< EHLO User",
        "verdict: ehlo_quit_probe (suspicious",
        "HELO name 'User' is not a FQDN",
        "conclusion: never tried AUTH or MAIL: a capability probe; nothing got in",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}:\n{out}");
    }
}

#[test]
fn a_cidr_covers_several_clients_and_filters_combine() {
    let log = day();
    let all = report(&log, ReportFilter::default());
    let net = ReportFilter {
        clients: vec![ReportFilter::parse_network("127.0.0.0/8").unwrap()],
        ..ReportFilter::default()
    };
    let r = report(&log, net.clone());
    assert!(r.clients.len() > 1 && r.clients.iter().all(|c| c.address.starts_with("127.")));
    assert_eq!(
        r.clients.len(),
        all.clients.iter().filter(|c| c.address.starts_with("127.")).count()
    );
    assert!(
        all.clients.len() > r.clients.len(),
        "the probe and the IPv6 clients are outside"
    );
    let suspicious = report(
        &log,
        ReportFilter {
            suspicious: true,
            ..net
        },
    );
    assert!(suspicious.sessions < r.sessions && suspicious.sessions == r.suspicious_sessions);
    // --since/--until by session start: the probe's sessions of the first
    // hour of the recording's day (the generator keeps the corpus's date).
    let day = &all.first_seen.as_deref().expect("the day has a start")[..10];
    let midnight = postfix_enrich_core::Timestamp::parse_rfc3339(format!("{day}T00:00:00Z").as_bytes(), 0)
        .expect("a date")
        .0
        .unix_seconds();
    let first_hour = report(
        &log,
        ReportFilter {
            clients: vec![ReportFilter::parse_network(PROBE).unwrap()],
            since: Some(midnight),
            until: Some(midnight + 3600),
            ..ReportFilter::default()
        },
    );
    assert_eq!(first_hour.sessions, 20, "one probe every 3 minutes in the first hour");
}

#[test]
fn the_one_session_sample_shows_its_detail_directly() {
    let r = report(&read("examples/logs/seed-ehlo-probe.log"), ReportFilter::default());
    let out = text::render_overview(&r);
    for needle in [
        "client 72.38.252.2 (s72-38-252-2.static.datacom.cgocable.net): 1 session(s)",
        "< EHLO User",
        "> 250 domain.tld (PIPELINING, SIZE 10240000, ETRN, STARTTLS, AUTH PLAIN",
        "< QUIT",
        "verdict: ehlo_quit_probe (suspicious, confidence high)",
        "- never tried AUTH or MAIL",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}:\n{out}");
    }
    assert!(r.clients[0].cadence.is_none(), "one session has no rhythm");
}

#[test]
fn per_client_memory_is_capped() {
    // One client with many distinct shapes: patterns stop at the cap, the rest are counted.
    let mut log = String::new();
    for i in 0..40u32 {
        let pid = 1000 + i;
        log.push_str(&format!(
            "Nov 26 10:{:02}:00 mail postfix/smtpd[{pid}]: connect from unknown[192.0.2.9]\n",
            i
        ));
        for k in 0..=i % 20 {
            log.push_str(&format!("Nov 26 10:{:02}:01 mail postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 550 5.1.1 <u{k}@example.org>: Recipient address rejected: User unknown in local recipient table; from=<a@b.example> to=<u{k}@example.org> proto=ESMTP helo=<x{}>\n", i, i % 20));
        }
        log.push_str(&format!("Nov 26 10:{:02}:02 mail postfix/smtpd[{pid}]: disconnect from unknown[192.0.2.9] ehlo=1 mail=1 rcpt=0/{} quit=1 commands=3/{}\n", i, i % 20 + 1, i % 20 + 4));
    }
    let limits = ReportLimits::default();
    let r = report(&log, ReportFilter::default());
    let c = &r.clients[0];
    assert_eq!(c.sessions, 40);
    assert_eq!(c.patterns.len(), limits.max_patterns);
    let in_patterns: u64 = c.patterns.iter().map(|p| p.count).sum();
    assert_eq!(in_patterns + c.other_pattern_sessions, 40);
    assert!(c.tried.rcpt_rejected >= 40, "{:?}", c.tried);
    assert!(c.helo_names.len() <= 4);
}
