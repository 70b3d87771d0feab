//! Coverage of Postfix's own message catalog (tests/postfix/log-catalog.tsv,
//! every message Postfix 3.11 can log): one line is derived from the format
//! of each row whose importance is session, probe, delivery, tls or sasl, and
//! run through the enricher. It reports, per importance class, the share
//! recognised (not `unparsed`) and the share given a specific event kind
//! (beyond the generic `warning`/`error`/`queue_note`/`notice`), and requires
//! 100% recognised. Rows whose line names a client or remote server
//! (`name[addr]`), a queue id or a limit are the target rows: each must get a
//! specific kind and the fields it names (`client.ip`/`server.ip`,
//! `postfix.queue_id`, `postfix.limit`), unless it is listed in [`NOT_TARGET`]
//! with the reason it is not what it seems. Reject and DSN texts are placed
//! inside the lines that carry them.

use postfix_enrich_core::{encode, Config, Enricher};
use postfix_enrich_tests::repo;
use serde_json::Value;

const CLIENT: &str = "unknown[192.0.2.7]:52814";
const SERVER: &str = "mx.example.net[192.0.2.7]:25";
const QID: &str = "3F2A81C0B4";

/// Fills printf conversions with plausible values, by what precedes them.
fn fill(format: &str, tls_source: bool, dsn_text: bool) -> String {
    let mut out = String::new();
    let mut chars = format.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Skip flags, width, precision and length modifiers up to the conversion.
        let mut conv = ' ';
        for (_, d) in chars.by_ref() {
            if d.is_ascii_alphabetic() && !matches!(d, 'l' | 'h' | 'z' | 'j' | 't') {
                conv = d;
                break;
            }
            if d == '%' {
                conv = '%';
                break;
            }
        }
        let before = &format[..i];
        let after = &format[i..];
        let value = match conv {
            '%' => "%".to_owned(),
            's' if after.starts_with("%s[") => "mx.example.net".to_owned(),
            // Command and reply filters name the peer (namaddr), not a queue id.
            's' if before.is_empty() && after.starts_with("%s: replacing command") => CLIENT.to_owned(),
            's' if before.is_empty() && after.starts_with("%s: replacing server reply") => SERVER.to_owned(),
            's' if after.starts_with("%smessage-id=") => "resent-".to_owned(),
            // tls_random_source's entropy daemon is a socket path, not a peer.
            's' if before.ends_with("EGD server ") => "/var/run/egd-pool".to_owned(),
            // smtpd_reject_filter_maps rewrites 4xx/5xx replies.
            's' if before.ends_with("reply filter in: ") || before.ends_with("reply filter out: ") => {
                "554 5.7.1 <b@example.com>: Relay access denied".to_owned()
            }
            's' if before.ends_with("transport=") => "dovecot".to_owned(),
            // abounce.c names the notice that could not be made.
            's' if before.ends_with("status=deferred (") => "delay warning".to_owned(),
            's' if after.starts_with("%s map lookup problem") => "sender_bcc_maps".to_owned(),
            // DSN texts name domains and addresses after "for"/"to", and host names to look up.
            's' if dsn_text
                && (before.ends_with("for ")
                    || before.ends_with("to ")
                    || before.ends_with("look up host ")
                    || before.ends_with("mail for ")) =>
            {
                "example.net".to_owned()
            }
            // smtpd's abnormal ends: "%s after %s (%lu bytes) from %s".
            's' if after.starts_with("%s after %s") => "lost connection".to_owned(),
            's' if before.ends_with(" after ") || before == "%s after " => "RCPT".to_owned(),
            // bounce notices name the queue id of the notice.
            's' if before.ends_with("notification: ") => "4A2B3C4D5E".to_owned(),
            's' if before.ends_with("proxy-") => "accept".to_owned(),
            // The smtp client names servers as host[addr]:port ("host %s said",
            // "server %s said", "lost connection with %s while %s").
            's' if before.ends_with("host ")
                || before.ends_with("server ")
                || before.ends_with("with ")
                || before.ends_with("talking to ")
                || before.ends_with("server was ") =>
            {
                SERVER.to_owned()
            }
            's' if before.ends_with("said: ") || before.ends_with("refused to talk to me: ") => {
                "550 5.1.1 <bob@example.net>: Recipient address rejected".to_owned()
            }
            's' if before.ends_with("(in reply to ") => "RCPT TO command".to_owned(),
            's' if before.ends_with(" while ") => "sending RCPT TO".to_owned(),
            // TLS library lines start with the peer label, not a queue id.
            's' if before.is_empty() && after.starts_with("%s: ") && tls_source => CLIENT.to_owned(),
            'd' | 'u' | 'i' | 'x' | 'X' | 'o' => "3".to_owned(),
            'm' => "Connection refused".to_owned(),
            'c' => "x".to_owned(),
            'f' | 'g' | 'e' => "0.5".to_owned(),
            _ if before.ends_with('[') && format[i..].starts_with("%s]:%s") => "192.0.2.7".to_owned(),
            _ if before.ends_with("]:") => "52814".to_owned(),
            _ if before.ends_with(']') => ":52814".to_owned(),
            _ if before.is_empty() && format[i..].starts_with("%sLIST") => "ALLOW".to_owned(),
            _ if before.ends_with('[') => "192.0.2.7".to_owned(),
            _ if before.is_empty() && format[i..].starts_with("%s: ") => QID.to_owned(),
            _ if before.ends_with("from ") || before.ends_with("to ") || before.ends_with("for ") => CLIENT.to_owned(),
            _ if before.ends_with("=<") || before.ends_with('<') => "user@example.org".to_owned(),
            _ => "text".to_owned(),
        };
        out.push_str(&value);
    }
    out
}

/// A `[composite]` row's notation: optional `[...]` parts dropped,
/// alternatives `A | B` reduced to the first, examples cut off.
fn composite(format: &str) -> String {
    let format = format.split("    (e.g.").next().unwrap_or(format);
    let format = format.split(" | ").next().unwrap_or(format);
    let mut out = String::new();
    let mut depth = 0;
    let b = format.as_bytes();
    for (i, c) in format.char_indices() {
        // "[%s]" is a client address, not an optional part.
        let literal_bracket = c == '[' && format[i..].starts_with("[%s]");
        match c {
            '[' if !literal_bracket
                && depth >= 0
                && (b.get(i + 1) == Some(&b',')
                    || b.get(i + 1) == Some(&b' ')
                    || format[i..].starts_with("[:")
                    || format[i..].starts_with("[(")) =>
            {
                depth += 1
            }
            ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

fn program(daemon: &str) -> String {
    let first = daemon.split(['|', ' ', '(']).next().unwrap_or(daemon);
    let d = match first {
        "smtp/lmtp" => "smtp",
        "delivery" => "local",
        d => d,
    };
    format!("postfix/{d}")
}

struct Row {
    daemon: String,
    level: String,
    format: String,
    source: String,
    importance: String,
}

fn rows() -> Vec<Row> {
    let path = repo().join("tests/postfix/log-catalog.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 6).then(|| Row {
                daemon: f[0].into(),
                level: f[1].into(),
                format: f[2].into(),
                source: f[3].into(),
                importance: f[5].into(),
            })
        })
        .filter(|r| matches!(r.importance.as_str(), "session" | "probe" | "delivery" | "tls" | "sasl"))
        .collect()
}

/// Rows whose notation no filling can turn into a real line, with the line
/// Postfix writes for them (from NOTES.md, the recording and the source the
/// row names), keyed by the row's whole format, a long prefix of it, or the
/// end of its source location.
const EXAMPLES: [(&str, &str); 5] = [
    (
        "%s TLS connection %s %s %s%s%s: %s with cipher",
        "Anonymous TLS connection established from unknown[192.0.2.7]:52814: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
    ),
    // smtp_hbc_logger: queue id, action, where, the matched line, the rule's text
    // (`/^X-Originating-IP:/ REPLACE X-Originating-IP: removed`, `/^X-Mailer:/ WARN`).
    (
        "%s: %s: %s %.200s: %s",
        "3F2A81C0B4: replace: header X-Originating-IP: 10.1.2.3: X-Originating-IP: removed",
    ),
    ("%s: %s: %s %.200s", "3F2A81C0B4: warning: header X-Mailer: PHPMailer 5.2.1"),
    // smtp_trouble.c's "%s: %s" is the queue id and a reason built by
    // smtp_proto.c: smtp_bulk_fail (a session-wide failure) ...
    (
        "smtp/smtp_trouble.c:254",
        "3F2A81C0B4: lost connection with mx.example.net[192.0.2.7] while receiving the initial server greeting",
    ),
    // ... and smtp_rcpt_fail (one recipient).
    (
        "smtp/smtp_trouble.c:429",
        "3F2A81C0B4: host mx.example.net[192.0.2.7] said: 450 4.1.1 <bob@example.net>: Recipient address rejected: unverified address (in reply to RCPT TO command)",
    ),
];

/// The example for `row`, if it has one.
fn example(row: &Row) -> Option<&'static str> {
    EXAMPLES
        .iter()
        .find(|(key, _)| {
            row.format == *key || (key.len() > 30 && row.format.starts_with(key)) || row.source.ends_with(key)
        })
        .map(|(_, ex)| *ex)
}

/// Rows that are not lines: a bare `%s` (the whole line is built elsewhere
/// and appears as its own row), and the catalog's `[log_whatsup action=...]`
/// notes, whose lines are the policy line's row.
fn is_notation(format: &str) -> bool {
    format == "%s" || format.starts_with("[log_whatsup")
}

fn line_for(row: &Row) -> String {
    if let Some(ex) = example(row) {
        return format!("Nov 26 16:06:09 mail {}[4242]: {ex}", program(&row.daemon));
    }
    let is_composite = row.format.contains(" | ") || row.format.contains("[,") || row.format.contains("    (e.g.");
    let format = if is_composite {
        composite(&row.format)
    } else {
        row.format.clone()
    };
    let text = fill(&format, row.source.contains("/src/tls/"), row.level == "dsn-text");
    let message = match row.level.as_str() {
        "reject-text" => format!("NOQUEUE: reject: RCPT from {CLIENT}: 550 5.7.1 {text}; from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<x>"),
        "dsn-text" => format!("{QID}: to=<b@example.net>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred ({text})"),
        "warning" => format!("warning: {text}"),
        "error" => format!("error: {text}"),
        "fatal" => format!("fatal: {text}"),
        _ => text,
    };
    let program = match row.level.as_str() {
        "reject-text" => "postfix/smtpd".to_owned(),
        "dsn-text" => "postfix/smtp".to_owned(),
        _ => program(&row.daemon),
    };
    format!("Nov 26 16:06:09 mail {program}[4242]: {message}")
}

/// Rows whose filled line names a target yet that are not lines of that
/// kind, each with why; matched as a part of the row's format or source
/// (short formats only whole). Empty: every target row of Postfix 3.11's
/// catalog gets a specific kind and its fields. A row may be added here only
/// with a reason that holds for every line Postfix writes from it.
const NOT_TARGET: &[(&str, &str)] = &[];

/// Kinds that say only "a line of this severity" or "a line about a message".
fn is_generic(kind: &str) -> bool {
    matches!(kind, "warning" | "error" | "queue_note" | "notice")
}

/// What a filled line names, and whether the event carries it.
struct Names {
    peer: bool,
    queue_id: bool,
    /// An anvil-backed rate or concurrency limit (`postfix.limit`).
    limit: bool,
    /// smtp_line_length_limit (`postfix.bytes`).
    line_limit: bool,
}

impl Names {
    fn of(line: &str) -> Names {
        let message = line.split_once("]: ").map_or(line, |(_, m)| m);
        Names {
            peer: message.contains("[192.0.2.7]"),
            queue_id: message.contains(QID),
            limit: message.contains("rate limit exceeded: ") || message.contains("concurrency limit exceeded: "),
            line_limit: message.contains("breaking line > "),
        }
    }

    fn any(&self) -> bool {
        self.peer || self.queue_id || self.limit || self.line_limit
    }

    /// The fields the line names that the event lacks.
    fn missing(&self, ev: &Value) -> Vec<&'static str> {
        let mut m = Vec::new();
        let ip = |side: &str| ev[side]["ip"].as_str() == Some("192.0.2.7");
        if self.peer && !ip("client") && !ip("server") {
            m.push("client.ip/server.ip");
        }
        if self.queue_id && ev["postfix"]["queue_id"].as_str() != Some(QID) {
            m.push("postfix.queue_id");
        }
        if self.limit && ev["postfix"]["limit"].is_null() {
            m.push("postfix.limit");
        }
        if self.line_limit && ev["postfix"]["bytes"].as_u64() != Some(3) {
            m.push("postfix.bytes");
        }
        m
    }
}

#[derive(Default)]
struct Share {
    rows: usize,
    recognised: usize,
    specific: usize,
    /// Rows naming a client, server, queue id or limit (listed ones included).
    target: usize,
    /// Of those, the ones with a specific kind and the fields they name.
    target_ok: usize,
    excused: usize,
}

impl Share {
    fn add(&mut self, o: &Share) {
        self.rows += o.rows;
        self.recognised += o.recognised;
        self.specific += o.specific;
        self.target += o.target;
        self.target_ok += o.target_ok;
        self.excused += o.excused;
    }

    fn print(&self, class: &str) {
        let pct = |n: usize, d: usize| 100.0 * n as f64 / d.max(1) as f64;
        println!(
            "{class:>9}: {:>3} rows, recognised {:5.1}%, specific kind {:5.1}%; target rows (naming a client, server, queue id or limit) {:>3}, with a specific kind and their fields {:>3} = {:5.1}% ({} listed as not target)",
            self.rows,
            pct(self.recognised, self.rows),
            pct(self.specific, self.rows),
            self.target,
            self.target_ok,
            pct(self.target_ok, self.target),
            self.excused
        );
    }
}

#[test]
fn catalog_rows_are_recognised() {
    let all = rows();
    let notation = all.iter().filter(|r| is_notation(&r.format)).count();
    let rows: Vec<Row> = all.into_iter().filter(|r| !is_notation(&r.format)).collect();
    assert!(
        rows.len() > 780,
        "catalog has {} rows of the interesting classes",
        rows.len()
    );
    let mut enricher = Enricher::new(Config::default());
    let mut shares = std::collections::BTreeMap::<&str, Share>::new();
    let mut missed = Vec::new();
    let mut off_target = Vec::new();
    let mut excused = Vec::new();
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    for row in &rows {
        let line = line_for(row);
        let mut buf = Vec::new();
        encode::write_json(&enricher.enrich(line.as_bytes()), &mut buf);
        let ev: Value = serde_json::from_slice(&buf).unwrap();
        let kind = ev["postfix"]["event"].as_str().unwrap().to_owned();
        *by_kind.entry(kind.clone()).or_default() += 1;
        let share = shares.entry(row.importance.as_str()).or_default();
        share.rows += 1;
        if kind == "unparsed" || kind == "foreign" {
            missed.push(format!("{} | {} | {}", row.daemon, row.format, line));
            continue;
        }
        share.recognised += 1;
        if !is_generic(&kind) {
            share.specific += 1;
        }
        let names = Names::of(&line);
        if !names.any() {
            continue;
        }
        share.target += 1;
        let mut problems = names.missing(&ev);
        if is_generic(&kind) {
            problems.push("a specific postfix.event");
        }
        // A listed row that no longer needs its excuse is not kept excused.
        if problems.is_empty() {
            share.target_ok += 1;
        } else if let Some((_, why)) = NOT_TARGET
            .iter()
            .find(|(f, _)| row.format == *f || (f.len() > 6 && (row.format.contains(f) || row.source.contains(f))))
        {
            share.excused += 1;
            excused.push(format!("{why}: {line}"));
        } else {
            off_target.push(format!(
                "{kind} lacks {} | {} | {line}",
                problems.join(", "),
                row.source
            ));
        }
    }
    println!(
        "catalog rows (session, probe, delivery, tls, sasl): {} ({notation} notation rows left out)",
        rows.len()
    );
    let mut total = Share::default();
    for (class, s) in &shares {
        s.print(class);
        total.add(s);
    }
    total.print("all");
    println!("by kind: {by_kind:?}");
    for m in &missed {
        println!("MISSED {m}");
    }
    for m in &excused {
        println!("NOT TARGET {m}");
    }
    for m in &off_target {
        println!("INCOMPLETE {m}");
    }
    assert!(missed.is_empty(), "{} catalog rows not recognised", missed.len());
    assert!(
        off_target.is_empty(),
        "{} target rows without a specific kind or the fields they name",
        off_target.len()
    );
}
