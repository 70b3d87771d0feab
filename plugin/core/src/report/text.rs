//! The report as text for a terminal: an overview that fits one screen (at
//! most [`OVERVIEW_LINES`] lines for a day of a typical server), and per
//! client a detail of at most [`CLIENT_LINES`] lines (patterns with one
//! example timeline, cadence, verdicts with reasons, a conclusion). When the
//! whole input is a few clients whose details fit, the overview shows the
//! details directly, as for the bundled one-session sample.

use std::fmt::Write as _;

use super::cadence::human_duration;
use super::{ClientGroup, ClientReport, Report, Rhythm};
use crate::explain::SessionReport;

/// Most lines of the overview.
pub const OVERVIEW_LINES: usize = 60;
/// Most lines of one client's detail.
pub const CLIENT_LINES: usize = 40;
/// Example steps shown per client detail.
const EXAMPLE_STEPS: usize = 12;
/// Patterns shown after the first (one line each).
const MORE_PATTERNS: usize = 4;
/// Said instead of a pattern's example when the report's example budget
/// (`ReportLimits::max_examples`) went to more frequent patterns.
pub const NO_EXAMPLE: &str = "(no example kept: too many patterns in the input; examples go to the most frequent)";
/// Reasons shown for the main verdict.
const REASONS: usize = 6;
/// Other verdict classes shown (one line each).
const MORE_VERDICTS: usize = 3;

/// `HH:MM` of an RFC 3339 stamp, with the date when the span crosses days.
fn clock(rfc3339: Option<&str>, with_date: bool) -> String {
    let Some(t) = rfc3339 else {
        return "?".to_owned();
    };
    match (with_date, t.get(5..10), t.get(11..16)) {
        (true, Some(d), Some(hm)) => format!("{d} {hm}"),
        (_, _, Some(hm)) => hm.to_owned(),
        _ => t.to_owned(),
    }
}

fn crosses_days(first: Option<&str>, last: Option<&str>) -> bool {
    first.and_then(|f| f.get(..10)) != last.and_then(|l| l.get(..10))
}

fn span(first: Option<&str>, last: Option<&str>) -> String {
    let d = crosses_days(first, last);
    format!("{}-{}", clock(first, d), clock(last, d))
}

/// `every 3 min 0 s ± 2 s, 480 times, 00:01-23:58`.
pub fn cadence_text(c: &ClientReport) -> Option<String> {
    let when = span(c.first_seen.as_deref(), c.last_seen.as_deref());
    Some(match c.cadence? {
        Rhythm::Regular {
            period_seconds,
            jitter_seconds,
            ..
        } => format!(
            "every {} ± {}, {} times, {when}",
            human_duration(period_seconds),
            human_duration(jitter_seconds),
            c.sessions
        ),
        Rhythm::Bursts {
            bursts,
            within_seconds,
            apart_seconds,
        } => format!(
            "in {bursts} bursts ({} between sessions, bursts {} apart), {} times, {when}",
            human_duration(within_seconds),
            human_duration(apart_seconds),
            c.sessions
        ),
    })
}

fn classes_text(c: &ClientReport) -> String {
    c.classes
        .iter()
        .map(|k| format!("{}×{}", k.class.as_str(), k.count))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tried_text(c: &ClientReport) -> String {
    let t = &c.tried;
    let mut parts = Vec::new();
    if t.auth_attempts > 0 {
        let users = if t.user_names.is_empty() {
            String::new()
        } else {
            format!(
                " as {}{}",
                t.user_names.join(", "),
                if t.user_names_more { ", ..." } else { "" }
            )
        };
        parts.push(format!("AUTH ×{}{users}", t.auth_attempts));
    }
    if t.mail > 0 {
        parts.push(format!("MAIL ×{}", t.mail));
    }
    if t.rcpt > 0 || t.rcpt_rejected > 0 {
        parts.push(format!(
            "RCPT ×{} ({} refused)",
            t.rcpt.max(t.rcpt_rejected),
            t.rcpt_rejected
        ));
    }
    if !t.relay_targets.is_empty() {
        parts.push(format!("relay to {}", t.relay_targets.join(", ")));
    }
    if parts.is_empty() {
        let helo = if c.helo_names.is_empty() {
            String::new()
        } else {
            format!(" (HELO {})", c.helo_names.join(", "))
        };
        return format!("no AUTH, no MAIL{helo}");
    }
    parts.join(", ")
}

fn got_text(c: &ClientReport) -> String {
    let g = &c.got;
    match (g.messages_accepted, g.auth_successes) {
        (0, 0) => "nothing".to_owned(),
        (m, 0) => format!("{m} message(s) accepted"),
        (0, a) => format!("{a} AUTH success(es)"),
        (m, a) => format!("{m} message(s) accepted, {a} AUTH success(es)"),
    }
}

fn heading(c: &ClientReport) -> String {
    let names = if c.names.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.names.join(", "))
    };
    let lists = if c.blocklists.is_empty() {
        String::new()
    } else {
        format!(" [listed: {}]", c.blocklists.join(", "))
    };
    let classes = classes_text(c);
    format!(
        "client {}{names}{lists}: {} session(s){}{}",
        c.address,
        c.sessions,
        if classes.is_empty() {
            String::new()
        } else {
            format!(", {classes}")
        },
        if c.suspicious { "  [SUSPICIOUS]" } else { "" }
    )
}

fn timeline(out: &mut Vec<String>, s: &SessionReport, indent: &str) {
    out.push(format!(
        "{indent}example: session {} {}[{}] {}",
        s.session_id,
        s.daemon.as_deref().unwrap_or("?"),
        s.pid.map_or("?".to_owned(), |p| p.to_string()),
        s.start.as_deref().unwrap_or("")
    ));
    for st in s.steps.iter().take(EXAMPLE_STEPS) {
        let time = st.clock();
        let arrow = if st.arrow.is_empty() { " " } else { st.arrow };
        out.push(format!("{indent}  {time} {arrow} {}", st.text));
    }
    let more = s.steps.len().saturating_sub(EXAMPLE_STEPS) + s.steps_omitted;
    if more > 0 {
        out.push(format!("{indent}  ... {more} more steps (--sessions shows them all)"));
    }
}

/// One client in at most [`CLIENT_LINES`] lines.
pub fn client_detail(c: &ClientReport) -> Vec<String> {
    let mut out = vec![heading(c)];
    out.push(format!(
        "  seen {}",
        span(c.first_seen.as_deref(), c.last_seen.as_deref())
    ));
    if let Some(cad) = cadence_text(c) {
        out.push(format!("  cadence: {cad}"));
    }
    out.push(format!("  tried: {}", tried_text(c)));
    out.push(format!("  got: {}", got_text(c)));
    if c.unfinished_sessions > 0 {
        out.push(format!(
            "  {} session(s) without a verdict (not finished in this input)",
            c.unfinished_sessions
        ));
    }
    out.push("  patterns:".to_owned());
    for (i, p) in c.patterns.iter().take(1 + MORE_PATTERNS).enumerate() {
        out.push(format!("    {} × {}", p.count, p.pattern));
        match (i, &p.example) {
            (0, Some(example)) => timeline(&mut out, example, "      "),
            (0, None) => out.push(format!("      {NO_EXAMPLE}")),
            _ => {}
        }
    }
    let hidden: u64 =
        c.patterns.iter().skip(1 + MORE_PATTERNS).map(|p| p.count).sum::<u64>() + c.other_pattern_sessions;
    if hidden > 0 {
        out.push(format!("    and {hidden} session(s) of other patterns"));
    }
    for (i, v) in c.verdicts.iter().take(1 + MORE_VERDICTS).enumerate() {
        let p = &v.verdict;
        let flag = if p.suspicious { "suspicious" } else { "not suspicious" };
        let line = format!(
            "  verdict: {} ({flag}, confidence {}) ×{}",
            p.class.as_str(),
            p.confidence.as_str(),
            v.count
        );
        if i == 0 {
            out.push(line);
            for r in p.reasons.iter().take(REASONS) {
                out.push(format!("    - {r}"));
            }
            if !p.flags.is_empty() {
                out.push(format!("    flags: {}", p.flags.join(", ")));
            }
        } else {
            let first = p.reasons.first().map(|r| format!(": {r}")).unwrap_or_default();
            out.push(format!("{line}{first}"));
        }
    }
    if c.verdicts.len() > 1 + MORE_VERDICTS {
        out.push(format!(
            "  and {} more verdict classes",
            c.verdicts.len() - 1 - MORE_VERDICTS
        ));
    }
    out.push(format!("  conclusion: {}", c.conclusion));
    out
}

/// The one-line summary of a group of clients: `12 client(s), 40 session(s): mail_accepted ×30, ...`.
fn group_line(g: &ClientGroup) -> String {
    let shown: Vec<String> = g
        .classes
        .iter()
        .take(5)
        .map(|k| format!("{} ×{}", k.class.as_str(), k.count))
        .collect();
    let more = if g.classes.len() > 5 { ", ..." } else { "" };
    format!(
        "{} client(s), {} session(s){}{}{more}",
        g.clients,
        g.sessions,
        if shown.is_empty() { "" } else { ": " },
        shown.join(", ")
    )
}

/// The overview as [`Report::overview`] lays it out: header, suspicious
/// clients worst first (two lines each, the rest collapsed), one line for
/// legitimate traffic, one for the rest; or every client's detail when
/// they all fit.
pub fn render_overview(r: &Report) -> String {
    if r.clients.is_empty() {
        return render_empty(r, "");
    }
    let mut lines = vec![header(r)];
    let o = &r.overview;
    if o.details {
        for c in &r.clients {
            lines.push(String::new());
            lines.extend(client_detail(c));
        }
        return finish(lines);
    }
    lines.push(String::new());
    if o.listed > 0 || o.more_suspicious.is_some() {
        lines.push("suspicious clients, worst first:".to_owned());
        for c in r.clients.iter().take(o.listed) {
            let names = c.names.first().map(|n| format!(" {n}")).unwrap_or_default();
            let lists = if c.blocklists.is_empty() {
                String::new()
            } else {
                format!(" [listed: {}]", c.blocklists.join(", "))
            };
            lines.push(format!(
                "  {}{names}{lists}: {} session(s), {}",
                c.address,
                c.sessions,
                classes_text(c)
            ));
            let when = cadence_text(c).unwrap_or_else(|| span(c.first_seen.as_deref(), c.last_seen.as_deref()));
            lines.push(format!("      {when}; tried {}; got {}", tried_text(c), got_text(c)));
        }
        if let Some(g) = &o.more_suspicious {
            lines.push(format!("  and {}", group_line(g)));
        }
    }
    if let Some(g) = &o.legitimate {
        lines.push(format!(
            "legitimate traffic: {}; {} message(s) accepted, {} AUTH success(es)",
            group_line(g),
            g.messages_accepted,
            g.auth_successes
        ));
    }
    if let Some(g) = &o.other {
        lines.push(format!("other clients: {}", group_line(g)));
    }
    if r.clients_not_kept > 0 {
        lines.push(format!(
            "{} more client(s) with {} session(s) counted but not detailed (client cap)",
            r.clients_not_kept, r.sessions_not_kept
        ));
    }
    lines.push(String::new());
    lines.push("one client in detail: postfix-enrich explain --client ADDR FILE...".to_owned());
    finish(lines)
}

/// A report without clients: its header (the lines were read) and
/// `no sessions`, followed by `note` (what the filters kept, e.g. ` for
/// client 192.0.2.1`), as the page shows it.
pub fn render_empty(r: &Report, note: &str) -> String {
    finish(vec![header(r), format!("no sessions{note}")])
}

/// The report's first line: time span, lines, sessions, clients, the share
/// of suspicious sessions.
fn header(r: &Report) -> String {
    let pct = (r.suspicious_sessions * 100).checked_div(r.sessions).unwrap_or(0);
    let when = match (&r.first_seen, &r.last_seen) {
        (Some(a), Some(b)) => format!(
            "{} to {} ({}), ",
            a.get(..19).unwrap_or(a).replace('T', " "),
            b.get(..19).unwrap_or(b).replace('T', " "),
            human_duration(r.span_seconds.unwrap_or(0) as f64)
        ),
        _ => String::new(),
    };
    let unfinished = if r.unfinished_sessions > 0 {
        format!(", {} without a verdict", r.unfinished_sessions)
    } else {
        String::new()
    };
    format!(
        "{when}{} lines: {} session(s) from {} client(s), {} suspicious ({pct}%){unfinished}",
        r.lines, r.sessions, r.client_count, r.suspicious_sessions
    )
}

/// The details of the given clients, one after the other.
pub fn render_clients(r: &Report) -> String {
    if r.clients.is_empty() {
        return render_empty(r, "");
    }
    let mut lines = vec![header(r)];
    for c in &r.clients {
        lines.push(String::new());
        lines.extend(client_detail(c));
    }
    finish(lines)
}

fn finish(lines: Vec<String>) -> String {
    let mut out = String::new();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    out
}
