//! Peak memory of one `Enricher` under a flood, with the default caps (or
//! with the caps scaled by `--cap-scale`), to put a number in the README.
//! Every map is filled past its cap at the same time, because that is what
//! bounds memory: smtpd sessions that never disconnect, queue ids linked to
//! them, postscreen clients that never finish, and finished sessions from
//! distinct addresses (the per-address windows). Nothing expires: all lines
//! carry the same timestamp, the worst case for TTLs.
//!
//! Prints VmHWM/VmRSS (Linux `/proc/self/status`) after each phase.
//!
//! ```text
//! cargo run --release -p postfix-enrich-core --example memory_flood            # 1,000,000 per phase
//! cargo run --release -p postfix-enrich-core --example memory_flood -- 200000
//! cargo run --release -p postfix-enrich-core --example memory_flood -- 1000000 --fat 2000
//! ```
//!
//! `--max-messages N` sets the cap on open messages (the message record's
//! map; default 100,000), so that the "open messages" phase, a million
//! messages with a sender, a message-id and one deferred recipient each that
//! are never removed, can be measured with all of them held.
//!
//! ```text
//! cargo run --release -p postfix-enrich-core --example memory_flood -- 1000000 --max-messages 1000000
//! ```
//!
//! `--fat N` adds a verbose-trace phase: every open session sends an `EHLO`
//! and 16 `AUTH` commands whose arguments are N bytes long (Postfix's
//! `line_length_limit` is 2048 by default), which measures the strings a
//! session keeps for its verdict evidence.

use std::io::Write;

use postfix_enrich_core::{Config, Enricher};

const STAMP: &str = "2026-11-26T16:45:43.000000+00:00 mail";

fn status(field: &str) -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or_else(|| "?".to_owned(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0))
}

fn report(phase: &str, e: &Enricher, lines: u64) {
    let s = e.stats();
    println!(
        "{phase:<28} lines={lines:<9} VmHWM={:<11} VmRSS={:<11} sessions={}/{}ev queue={}/{}ev postscreen={}/{}ev clients={}/{}ev messages={}/{}ev",
        status("VmHWM:"),
        status("VmRSS:"),
        s.sessions.live,
        s.sessions.evicted,
        s.queue_links.live,
        s.queue_links.evicted,
        s.postscreen.live,
        s.postscreen.evicted,
        s.clients.live,
        s.clients.evicted,
        s.messages.live,
        s.messages.evicted,
    );
}

/// A distinct loopback-free address per index (10.x.y.z).
fn ip(i: u64) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let fat: usize = args
        .iter()
        .position(|a| a == "--fat")
        .and_then(|i| args.get(i + 1))
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let mut config = Config::default();
    if let Some(cap) = args
        .iter()
        .position(|a| a == "--max-messages")
        .and_then(|i| args.get(i + 1))
        .and_then(|a| a.parse().ok())
    {
        config.messages.max_messages = cap;
    }
    println!("messages: {:?}", config.messages);
    println!("limits: {:?}", config.limits);
    let mut e = Enricher::new(config);
    let mut line = Vec::with_capacity(4096);
    let mut lines = 0u64;
    let mut feed = |e: &mut Enricher, line: &mut Vec<u8>| {
        let _ = e.enrich(line);
        line.clear();
        lines += 1;
    };
    report("start", &e, 0);

    // smtpd sessions that never disconnect: one process each.
    for i in 0..n {
        let pid = 100_000 + i;
        write!(
            line,
            "{STAMP} postfix/smtpd[{pid}]: connect from unknown[{}]:{}",
            ip(i),
            1024 + i % 60_000
        )
        .unwrap();
        feed(&mut e, &mut line);
    }
    report("sessions (no disconnect)", &e, n);

    // Distinct queue ids, ten per session, each followed by its qmgr line.
    for i in 0..n {
        let pid = 2_000_000 + i / 10;
        if i % 10 == 0 {
            write!(line, "{STAMP} postfix/smtpd[{pid}]: connect from unknown[{}]:25", ip(i)).unwrap();
            feed(&mut e, &mut line);
        }
        write!(
            line,
            "{STAMP} postfix/smtpd[{pid}]: {i:010X}: client=unknown[{}]:25",
            ip(i)
        )
        .unwrap();
        feed(&mut e, &mut line);
        write!(
            line,
            "{STAMP} postfix/qmgr[99]: {i:010X}: from=<a@example.org>, size=100, nrcpt=1 (queue active)"
        )
        .unwrap();
        feed(&mut e, &mut line);
    }
    report("queue ids", &e, n);

    // postscreen clients that never reach PASS or DISCONNECT.
    for i in 0..n {
        write!(
            line,
            "{STAMP} postfix/postscreen[98]: CONNECT from [{}]:{} to [127.0.0.1]:25",
            ip(i),
            1024 + i % 60_000
        )
        .unwrap();
        feed(&mut e, &mut line);
    }
    report("postscreen", &e, n);

    // Finished sessions from distinct addresses: per-address windows.
    for i in 0..n {
        let pid = 3_000_000 + i;
        write!(line, "{STAMP} postfix/smtpd[{pid}]: connect from unknown[{}]:25", ip(i)).unwrap();
        feed(&mut e, &mut line);
        write!(
            line,
            "{STAMP} postfix/smtpd[{pid}]: disconnect from unknown[{}]:25 ehlo=1 quit=1 commands=2",
            ip(i)
        )
        .unwrap();
        feed(&mut e, &mut line);
    }
    report("clients (windows)", &e, n);

    // Open messages that never end: local submissions with a sender, a
    // message-id and one deferred recipient each (what a record holds while
    // Postfix retries), none removed.
    for i in 0..n {
        let qid = format!("{:010X}", 0x10_0000_0000 + i);
        write!(line, "{STAMP} postfix/pickup[97]: {qid}: uid=1000 from=<user{i}>").unwrap();
        feed(&mut e, &mut line);
        write!(
            line,
            "{STAMP} postfix/cleanup[96]: {qid}: message-id=<{qid}.{i}@client.example.org>"
        )
        .unwrap();
        feed(&mut e, &mut line);
        write!(
            line,
            "{STAMP} postfix/qmgr[99]: {qid}: from=<user{i}@example.org>, size=1234, nrcpt=1 (queue active)"
        )
        .unwrap();
        feed(&mut e, &mut line);
        write!(line, "{STAMP} postfix/smtp[95]: {qid}: to=<rcpt{i}@example.net>, relay=none, delay=0.2, delays=0.1/0/0.1/0, dsn=4.4.1, status=deferred (connect to mx.example.net[203.0.113.7]:25: Connection refused)").unwrap();
        feed(&mut e, &mut line);
    }
    report("open messages", &e, n * 4);

    if fat > 0 {
        let cap = e.config().limits.max_sessions as u64;
        let arg = "A".repeat(fat);
        for i in 0..cap {
            let pid = 5_000_000 + i;
            let peer = format!("unknown[{}]:25", ip(i));
            write!(line, "{STAMP} postfix/smtpd[{pid}]: connect from {peer}").unwrap();
            feed(&mut e, &mut line);
            write!(line, "{STAMP} postfix/smtpd[{pid}]: < {peer}: EHLO {arg}").unwrap();
            feed(&mut e, &mut line);
            for _ in 0..16 {
                write!(line, "{STAMP} postfix/smtpd[{pid}]: < {peer}: AUTH {arg}").unwrap();
                feed(&mut e, &mut line);
            }
        }
        report(&format!("fat sessions ({fat} B args)"), &e, cap * 18);
    }
}
