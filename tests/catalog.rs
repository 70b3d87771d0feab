//! Coverage of Postfix's own message catalog (tests/postfix/log-catalog.tsv,
//! every message Postfix 3.11 can log): one line is derived from the format
//! of each row whose importance is session, probe, delivery, tls or sasl, and
//! run through the enricher. It reports the share recognised (not
//! `unparsed`) and the share given a specific event kind (beyond the generic
//! `warning`/`error`/`queue_note`), lists what is missed, and requires 100%
//! recognised. Reject and DSN texts are placed inside the lines that carry them.

use postfix_enrich_core::{encode, Config, Enricher};
use postfix_enrich_tests::repo;
use serde_json::Value;

const CLIENT: &str = "unknown[192.0.2.7]:52814";
const QID: &str = "3F2A81C0B4";

/// Fills printf conversions with plausible values, by what precedes them.
fn fill(format: &str) -> String {
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
        let value = match conv {
            '%' => "%".to_owned(),
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
                importance: f[5].into(),
            })
        })
        .filter(|r| matches!(r.importance.as_str(), "session" | "probe" | "delivery" | "tls" | "sasl"))
        .collect()
}

/// Rows whose notation no filling can turn into a real line, with the line
/// Postfix writes for them (from NOTES.md and the recording).
const EXAMPLES: [(&str, &str); 1] = [(
    "%s TLS connection %s %s %s%s%s: %s with cipher",
    "Anonymous TLS connection established from unknown[192.0.2.7]:52814: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
)];

/// Rows that are not lines: a bare `%s` (the whole line is built elsewhere
/// and appears as its own row), and the catalog's `[log_whatsup action=...]`
/// notes, whose lines are the policy line's row.
fn is_notation(format: &str) -> bool {
    format == "%s" || format.starts_with("[log_whatsup")
}

fn line_for(row: &Row) -> String {
    if let Some((_, ex)) = EXAMPLES.iter().find(|(f, _)| row.format.starts_with(f)) {
        return format!("Nov 26 16:06:09 mail postfix/smtpd[4242]: {ex}");
    }
    let is_composite = row.format.contains(" | ") || row.format.contains("[,") || row.format.contains("    (e.g.");
    let format = if is_composite {
        composite(&row.format)
    } else {
        row.format.clone()
    };
    let text = fill(&format);
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
    let (mut recognised, mut specific) = (0, 0);
    let mut missed = Vec::new();
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    for row in &rows {
        let line = line_for(row);
        let mut buf = Vec::new();
        encode::write_json(&enricher.enrich(line.as_bytes()), &mut buf);
        let ev: Value = serde_json::from_slice(&buf).unwrap();
        let kind = ev["postfix"]["event"].as_str().unwrap().to_owned();
        *by_kind.entry(kind.clone()).or_default() += 1;
        if kind == "unparsed" || kind == "foreign" {
            missed.push(format!("{} | {} | {}", row.daemon, row.format, line));
            continue;
        }
        recognised += 1;
        if !matches!(kind.as_str(), "warning" | "error" | "queue_note" | "notice") {
            specific += 1;
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / rows.len() as f64;
    println!(
        "catalog rows (session, probe, delivery, tls, sasl): {} ({notation} notation rows left out)",
        rows.len()
    );
    println!(
        "recognised: {recognised} ({:.1}%), specific kind: {specific} ({:.1}%)",
        pct(recognised),
        pct(specific)
    );
    println!("by kind: {by_kind:?}");
    for m in &missed {
        println!("MISSED {m}");
    }
    assert!(missed.is_empty(), "{} catalog rows not recognised", missed.len());
}
