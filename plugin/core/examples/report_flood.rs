//! Peak memory and speed of the `explain` report (Enricher + ReportBuilder)
//! on 1,000,000 sessions from 100,000 clients: the bound the report's caps
//! promise, as a number for the README. Each session is a Postfix 3.x
//! `connect from` and `disconnect from ... commands=` pair, so a client's
//! sessions have a few different shapes (patterns) and verdicts; session
//! starts advance one second per session, so clients also get a cadence.
//! The same lines go through the enrichment alone first, so the report's
//! share of the time is printed too.
//!
//! The report runs as the CLI's `explain` runs it: the lines are enriched
//! on a second thread ([`pipeline`]) while this one reads and frames the
//! next lines and folds the events, and the allocator is the CLI's
//! (jemalloc). There the lines are generated as they are read, so they
//! count in the time (a whole input generated first would count in the
//! peak memory instead; reading them from a file, as the CLI does, ran no
//! faster); `--one-thread` folds them on the thread that enriches them, as
//! before.
//!
//! ```text
//! cargo run --release -p postfix-enrich-core --example report_flood                  # 1,000,000 sessions, 100,000 clients
//! cargo run --release -p postfix-enrich-core --example report_flood -- 200000 20000
//! cargo run --release -p postfix-enrich-core --example report_flood -- --one-thread
//! cargo run --release -p postfix-enrich-core --example report_flood -- --print > /tmp/flood.log  # the lines, for the CLI
//! ```

use std::time::Instant;

use postfix_enrich_core::pipeline::{self, ReadLines};
use postfix_enrich_core::report::{ReportBuilder, ReportFilter, ReportLimits};
use postfix_enrich_core::{Config, Enricher};

/// The CLI's allocator, so that the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn hwm() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or_else(|| "?".to_owned(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0))
}

/// The end of a session, by kind: a capability probe, a connect-only scan,
/// an AUTH failure, a delivery.
const ENDS: [&str; 4] = [
    "ehlo=1 quit=1 commands=2",
    "commands=0/0",
    "ehlo=1 auth=0/1 quit=1 commands=2/3",
    "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
];

/// Sessions generated at a time: the lines are written into a buffer
/// first and only reading them is timed, so the figure is the report's
/// speed, not this generator's (formatting the lines cost a third as much
/// as enriching them).
const CHUNK: u64 = 10_000;

/// Writes the lines of sessions `from..to` into `buf`, one per line.
fn generate(from: u64, to: u64, clients: u64, buf: &mut Vec<u8>) {
    buf.clear();
    append(from, to, clients, buf);
}

/// Where the seconds are in a stamp as `Timestamp::write_rfc3339` writes
/// it (`2026-11-26T00:00:00.000000Z`).
const SECONDS: usize = 17;

/// Appends the lines of sessions `from..to` to `buf`.
fn append(from: u64, to: u64, clients: u64, buf: &mut Vec<u8>) {
    // Pieces pushed one by one, not `write!`: in the two-thread run the
    // lines are made on the reading thread, which carries half the work,
    // and formatting them with `write!` had cost a fifth of what enriching
    // them did.
    let base: i64 = 1_795_651_200;
    let (mut num, mut pid_num) = (itoa::Buffer::new(), itoa::Buffer::new());
    let mut ip = String::with_capacity(16);
    let (mut stamp, mut stamp_len) = ([0u8; 40], 0);
    for i in from..to {
        let c = i % clients;
        ip.clear();
        ip.push_str("10.");
        for (octet, dot) in [((c >> 16) & 255, "."), ((c >> 8) & 255, "."), (c & 255, "]")] {
            ip.push_str(num.format(octet));
            ip.push_str(dot);
        }
        // Sessions start a second apart, so a stamp is formatted once a
        // minute and its seconds are written in: formatting every stamp
        // had been about half of generating the lines (callgrind).
        let second = base + i as i64;
        if i == from || second % 60 == 0 {
            let t = postfix_enrich_core::Timestamp::from_unix_micros(second * 1_000_000);
            stamp_len = t.write_rfc3339(&mut stamp).len();
            let around = (stamp[SECONDS - 1], stamp[SECONDS + 2]);
            assert_eq!(around, (b':', b'.'), "the seconds are where SECONDS says");
        }
        let s = (second % 60) as u8;
        stamp[SECONDS..SECONDS + 2].copy_from_slice(&[b'0' + s / 10, b'0' + s % 10]);
        let stamp = &stamp[..stamp_len];
        let pid = pid_num.format(1000 + (i % 30_000));
        let end = ENDS[((c + i / clients) % 4) as usize];
        for (what, tail) in [("connect", ""), ("disconnect", end)] {
            buf.extend_from_slice(stamp);
            buf.extend_from_slice(b" mail postfix/smtpd[");
            buf.extend_from_slice(pid.as_bytes());
            buf.extend_from_slice(b"]: ");
            buf.extend_from_slice(what.as_bytes());
            buf.extend_from_slice(b" from unknown[");
            buf.extend_from_slice(ip.as_bytes());
            if !tail.is_empty() {
                buf.push(b' ');
                buf.extend_from_slice(tail.as_bytes());
            }
            buf.push(b'\n');
        }
    }
}

/// Feeds the sessions' lines to `sink`, enriched; returns the lines fed and
/// the seconds spent enriching and in `sink` (generation not counted).
fn feed(sessions: u64, clients: u64, mut sink: impl FnMut(postfix_enrich_core::Event<'_>)) -> (u64, f64) {
    let mut enricher = Enricher::new(Config::default());
    let mut buf = Vec::with_capacity(2_000_000);
    let mut lines = 0u64;
    let mut seconds = 0.0;
    let mut from = 0;
    while from < sessions {
        let to = (from + CHUNK).min(sessions);
        generate(from, to, clients, &mut buf);
        let started = Instant::now();
        // Line ends by memchr, as the pipeline finds them.
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf) {
            sink(enricher.enrich(&buf[start..end]));
            lines += 1;
            start = end + 1;
        }
        seconds += started.elapsed().as_secs_f64();
        from = to;
    }
    (lines, seconds)
}

/// The sessions' lines, made as the pipeline reads them.
struct Generated {
    next: u64,
    sessions: u64,
    clients: u64,
}

impl ReadLines for Generated {
    type Error = std::convert::Infallible;

    fn read_lines(&mut self, buf: &mut Vec<u8>, min: usize) -> Result<bool, Self::Error> {
        let start = buf.len();
        while buf.len() - start < min && self.next < self.sessions {
            let to = (self.next + 100).min(self.sessions);
            // Straight into the pipeline's buffer, as a reader would.
            append(self.next, to, self.clients, buf);
            self.next = to;
        }
        Ok(buf.len() > start)
    }
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sessions = args.first().copied().unwrap_or(1_000_000);
    let clients = args.get(1).copied().unwrap_or(100_000).max(1);
    if std::env::args().any(|a| a == "--print") {
        // The same lines for `postfix-enrich explain`, which adds reading
        // and printing to what is timed here.
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut buf = Vec::new();
        for from in (0..sessions).step_by(CHUNK as usize) {
            generate(from, (from + CHUNK).min(sessions), clients, &mut buf);
            out.write_all(&buf).expect("stdout");
        }
        return;
    }
    // The same lines through the enrichment alone first (it keeps a few
    // MiB), so that the report builder's share of the time is a number.
    let (lines, enrich_only) = feed(sessions, clients, |ev| {
        std::hint::black_box(&ev);
    });
    let mut builder = ReportBuilder::new(ReportLimits::default(), ReportFilter::default());
    let one_thread = std::env::args().any(|a| a == "--one-thread");
    let fed = if one_thread {
        feed(sessions, clients, |mut ev| builder.push_taking(&mut ev)).1
    } else {
        let started = Instant::now();
        let input = Generated {
            next: 0,
            sessions,
            clients,
        };
        let mut enricher = Enricher::new(Config::default());
        let Ok(()) = pipeline::enrich_on_a_second_thread(&mut enricher, input, |ev| builder.push_taking(ev));
        started.elapsed().as_secs_f64()
    };
    let started = Instant::now();
    let report = builder.finish();
    let total = fed + started.elapsed().as_secs_f64();
    let patterns: usize = report.clients.iter().map(|c| c.patterns.len()).sum();
    let examples: usize = report
        .clients
        .iter()
        .flat_map(|c| &c.patterns)
        .filter(|p| p.example.is_some())
        .count();
    println!(
        "{} sessions={} clients={} lines={lines} patterns={patterns} examples={examples} unfinished={} time={total:.2}s ({:.0} lines/s incl. report, {:.0} lines/s feeding; enrichment alone {:.0} lines/s) VmHWM={}",
        if one_thread { "one thread:" } else { "two threads:" },
        report.sessions,
        report.client_count,
        report.unfinished_sessions,
        lines as f64 / total,
        lines as f64 / fed,
        lines as f64 / enrich_only,
        hwm()
    );
}
