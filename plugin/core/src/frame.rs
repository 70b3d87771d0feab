//! Frames: the transport wrapper around a Postfix message. A frame knows the
//! time, host, program and pid of a line and where the message text starts;
//! it knows nothing of what Postfix said.
//!
//! Formats are detected per line, so one stream may mix them: RFC 3164 and
//! `maillog_file` (`Jun 19 16:27:21 host prog[pid]: msg`, the day padded or
//! not, fractional seconds, `<PRI>` in front), RFC 3339 / ISO 8601 with or
//! without a zone (rsyslog's default file format, `journalctl -o short-iso`),
//! `journalctl -o short-full`, RFC 5424 with or without `<PRI>`,
//! `journalctl -o json` records, and collector records whose syslog line
//! sits in a `message`, `log` or `MESSAGE` field. The host and the pid may be
//! missing. When no header form fits, a Postfix tag found further in the
//! line still gives the program and the message ([`FrameFormat::Tag`]).

use std::borrow::Cow;

use serde::Deserialize;

use crate::timestamp::{is_zone_name, zone_offset, Timestamp, YearPolicy};

/// Which wrapper a line came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrameFormat {
    /// `Mmm dd hh:mm:ss host prog[pid]: msg` (classic syslog, `maillog_file`, `journalctl -o short`).
    Rfc3164,
    /// `2026-08-01T16:35:38.123456+10:00 host prog[pid]: msg`.
    Rfc3339,
    /// `<22>1 2026-... host prog pid - - msg`.
    Rfc5424,
    /// `journalctl -o json`.
    Journald,
    /// `Sat 2026-03-07 02:09:33 CET host prog[pid]: msg` (`journalctl -o short-full`).
    ShortFull,
    /// A header not understood, but a Postfix tag (`postfix…/daemon[pid]: `)
    /// found in the line: program, pid and message come from the tag, the
    /// time from the line's start when it holds a known stamp; no host.
    Tag,
    /// No recognisable wrapper: the whole line is the message.
    Bare,
}

/// A line split into its wrapper fields and the message text.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// Which wrapper the line had.
    pub format: FrameFormat,
    /// The syslog line (for JSON records, the line inside the record).
    pub line: Cow<'a, str>,
    /// When the line was written.
    pub timestamp: Option<Timestamp>,
    /// Host that wrote it.
    pub host: Option<Cow<'a, str>>,
    /// Full program name, e.g. `postfix/submission/smtpd`.
    pub program: Option<Cow<'a, str>>,
    /// Process id.
    pub pid: Option<u32>,
    /// Byte offset in `line` where the Postfix message starts.
    pub message_start: usize,
}

/// A frame's fields as plain borrowed strings: what the rest of the pipeline reads.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    /// Which wrapper the line had.
    pub format: FrameFormat,
    /// The syslog line (for journald, the MESSAGE).
    pub line: &'a str,
    /// Where the Postfix message starts in `line`.
    pub message_start: usize,
    /// When the line was written.
    pub timestamp: Option<Timestamp>,
    /// Host.
    pub host: Option<&'a str>,
    /// Program.
    pub program: Option<&'a str>,
    /// The program name after its last `/` (`smtpd` of `postfix/submission/smtpd`).
    pub daemon: Option<&'a str>,
    /// The program name before its last `/` (`postfix/submission`).
    pub instance: Option<&'a str>,
    /// Process id.
    pub pid: Option<u32>,
}

/// Splits a program name into (instance, daemon) at its last `/`.
pub fn split_program(p: &str) -> (Option<&str>, &str) {
    // A byte loop, as in `tag`: names are a few bytes long.
    match p.bytes().rposition(|c| c == b'/') {
        Some(i) => (Some(&p[..i]), &p[i + 1..]),
        None => (None, p),
    }
}

/// What the frame parser needs to know that the line does not say.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameOptions {
    /// How to choose a year for year-less stamps.
    pub years: YearPolicy,
    /// UTC offset (minutes) assumed for zone-less stamps.
    pub offset_minutes: i16,
}

impl<'a> Frame<'a> {
    /// Detaches the frame from the buffer it borrows.
    pub fn into_owned(self) -> Frame<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Frame {
            format: self.format,
            line: own(self.line),
            timestamp: self.timestamp,
            host: self.host.map(own),
            program: self.program.map(own),
            pid: self.pid,
            message_start: self.message_start,
        }
    }

    /// The Postfix message text (after `prog[pid]: `).
    pub fn message(&self) -> &str {
        &self.line[self.message_start..]
    }

    /// A view borrowing from this frame.
    pub fn view(&self) -> FrameView<'_> {
        FrameView {
            format: self.format,
            line: &self.line,
            message_start: self.message_start,
            timestamp: self.timestamp,
            host: self.host.as_deref(),
            program: self.program.as_deref(),
            daemon: self.daemon(),
            instance: self.instance(),
            pid: self.pid,
        }
    }

    /// A view that borrows from the input itself, when nothing had to be
    /// decoded or copied (the common, zero-copy case).
    pub fn view_borrowed(&self) -> Option<FrameView<'a>> {
        fn borrowed<'a>(c: &Option<Cow<'a, str>>) -> Option<Option<&'a str>> {
            match c {
                None => Some(None),
                Some(Cow::Borrowed(s)) => Some(Some(s)),
                Some(Cow::Owned(_)) => None,
            }
        }
        let Cow::Borrowed(line) = self.line else {
            return None;
        };
        let program = borrowed(&self.program)?;
        let (instance, daemon) = match program {
            Some(p) => {
                let (i, d) = split_program(p);
                (i, Some(d))
            }
            None => (None, None),
        };
        Some(FrameView {
            format: self.format,
            line,
            message_start: self.message_start,
            timestamp: self.timestamp,
            host: borrowed(&self.host)?,
            program,
            daemon,
            instance,
            pid: self.pid,
        })
    }

    /// The daemon: the program name after its last `/` (`smtpd` of
    /// `postfix/submission/smtpd`).
    pub fn daemon(&self) -> Option<&str> {
        Some(split_program(self.program.as_deref()?).1)
    }

    /// The instance or service tag: the program name before its last `/`
    /// (`postfix/submission`), or `None` when the program has no `/`.
    pub fn instance(&self) -> Option<&str> {
        split_program(self.program.as_deref()?).0
    }

    /// Splits one line (without its newline) into a frame. Never fails: an
    /// unrecognised wrapper gives a [`FrameFormat::Bare`] frame.
    pub fn parse(line: Cow<'a, str>, opts: &FrameOptions) -> Frame<'a> {
        let trimmed_start = line.len() - line.trim_start().len();
        if line.as_bytes().get(trimmed_start) == Some(&b'{') {
            let json = match &line {
                Cow::Borrowed(b) => parse_json_record(&b[trimmed_start..], opts),
                Cow::Owned(o) => parse_json_record(&o[trimmed_start..], opts).map(Frame::into_owned),
            };
            if let Some(f) = json {
                return f;
            }
        }
        let parsed = parse_text(line.as_bytes(), opts);
        match parsed {
            Some(t) => Frame {
                format: t.format,
                timestamp: t.timestamp,
                host: t.host.map(|r| sub(&line, r)),
                program: t.program.map(|r| sub(&line, r)),
                pid: t.pid,
                message_start: t.message_start,
                line,
            },
            None => Frame {
                format: FrameFormat::Bare,
                timestamp: None,
                host: None,
                program: None,
                pid: None,
                message_start: 0,
                line,
            },
        }
    }
}

/// Borrows a sub-range of a `Cow` line without copying when it is borrowed.
fn sub<'a>(line: &Cow<'a, str>, (s, e): (usize, usize)) -> Cow<'a, str> {
    match line {
        Cow::Borrowed(b) => Cow::Borrowed(&b[s..e]),
        Cow::Owned(o) => Cow::Owned(o[s..e].to_owned()),
    }
}

struct TextFrame {
    format: FrameFormat,
    timestamp: Option<Timestamp>,
    host: Option<Span>,
    program: Option<Span>,
    pid: Option<u32>,
    message_start: usize,
}

fn next_token(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut s = from;
    while s < b.len() && b[s] == b' ' {
        s += 1;
    }
    if s >= b.len() {
        return None;
    }
    let e = memchr::memchr(b' ', &b[s..]).map_or(b.len(), |i| s + i);
    Some((s, e))
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter()
        .try_fold(0u32, |a, d| a.checked_mul(10)?.checked_add((d - b'0') as u32))
}

/// Byte range `(start, end)` in the line.
type Span = (usize, usize);

/// A syslog tag `prog[pid]:` or `prog:` at `tok`: the program's span, the
/// pid, and where the message starts. A token ending in `::` is an IPv6
/// address (a host), not a tag.
fn tag(b: &[u8], (ts, te): Span) -> Option<(Span, Option<u32>, usize)> {
    let tok = &b[ts..te];
    if tok.len() < 2 || tok[tok.len() - 1] != b':' || tok[tok.len() - 2] == b':' {
        return None;
    }
    let msg_start = if te < b.len() { te + 1 } else { te };
    if tok.len() >= 4 && tok[tok.len() - 2] == b']' {
        // A byte loop: memrchr's setup costs more than a tag of a few
        // dozen bytes (callgrind).
        let open = tok.iter().rposition(|&c| c == b'[')?;
        let pid = parse_u32(&tok[open + 1..tok.len() - 2])?;
        (open > 0).then_some(((ts, ts + open), Some(pid), msg_start))
    } else {
        Some(((ts, te - 1), None, msg_start))
    }
}

/// Parses `host prog[pid]: msg` starting at `from`; the host may be missing
/// (`journalctl --no-hostname`, some `maillog_file` setups, forwarders that
/// strip it), which a first token that is itself a tag shows: host names
/// never end in `:`. Returns host, program, pid and where the message starts.
fn parse_tag(b: &[u8], from: usize) -> Option<(Option<Span>, Span, Option<u32>, usize)> {
    let first = next_token(b, from)?;
    if let Some((program, pid, msg)) = tag(b, first) {
        return Some((None, program, pid, msg));
    }
    let (program, pid, msg) = tag(b, next_token(b, first.1)?)?;
    Some((Some(first), program, pid, msg))
}

/// The header could not be read: look for a Postfix tag anywhere in the
/// line, `postfix[-…]/…/daemon[pid]: ` starting a word. A pid is required so
/// that prose naming a file (`postfix/main.cf: `) is not taken for a tag.
fn find_postfix_tag(b: &[u8]) -> Option<(Span, Option<u32>, usize)> {
    let mut from = 0;
    while let Some(k) = memchr::memmem::find(&b[from..], b"postfix") {
        let s = from + k;
        from = s + 7;
        let starts_word = s == 0 || matches!(b[s - 1], b' ' | b'\t' | b'|' | b'>' | b']' | b'"' | b',' | b';');
        if !starts_word {
            continue;
        }
        let e = memchr::memchr(b' ', &b[s..]).map_or(b.len(), |i| s + i);
        let first = &b[s..memchr::memchr(b'/', &b[s..e]).map_or(e, |i| s + i)];
        if !(first == b"postfix" || first.starts_with(b"postfix-")) || first.len() == e - s {
            continue;
        }
        if let Some(t @ (_, Some(_), _)) = tag(b, (s, e)) {
            return Some(t);
        }
    }
    None
}

/// Reads the stamp at `i`: RFC 3339/ISO 8601, RFC 3164, or journalctl's
/// `short-full`. Returns it, the wrapper it implies and where it ends.
fn parse_stamp(b: &[u8], i: usize, opts: &FrameOptions) -> Option<(Timestamp, FrameFormat, usize)> {
    let rest = &b[i..];
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        let (t, n) = Timestamp::parse_rfc3339(rest, opts.offset_minutes)?;
        return Some((t, FrameFormat::Rfc3339, i + n));
    }
    if let Some((t, n)) = Timestamp::parse_rfc3164(rest, &opts.years, opts.offset_minutes) {
        return Some((t, FrameFormat::Rfc3164, i + n));
    }
    let (t, n) = Timestamp::parse_short_full(rest, opts.offset_minutes)?;
    Some((t, FrameFormat::ShortFull, i + n))
}

fn parse_text(b: &[u8], opts: &FrameOptions) -> Option<TextFrame> {
    let mut i = 0;
    let mut had_pri = false;
    if b.first() == Some(&b'<') {
        if let Some(close) = memchr::memchr(b'>', &b[..b.len().min(6)]) {
            if parse_u32(&b[1..close]).is_some() {
                i = close + 1;
                had_pri = true;
            }
        }
    }
    // RFC 5424 version field "1 ".
    let mut rfc5424 = false;
    if b.get(i) == Some(&b'1') && b.get(i + 1) == Some(&b' ') {
        i += 2;
        rfc5424 = true;
    }
    let Some((mut timestamp, format, mut after_ts)) = parse_stamp(b, i, opts) else {
        return search_tag(b, None);
    };
    if format == FrameFormat::ShortFull {
        // The zone name, unless the stamp had none and this is the host.
        if let Some(zone) = next_token(b, after_ts).filter(|z| is_zone_name(&b[z.0..z.1])) {
            if let Some(off) = zone_offset(&b[zone.0..zone.1]) {
                timestamp.offset_minutes = off;
            }
            after_ts = zone.1;
        }
    }
    if !rfc5424 {
        if let Some((host, program, pid, message_start)) = parse_tag(b, after_ts) {
            return Some(TextFrame {
                format,
                timestamp: Some(timestamp),
                host,
                program: Some(program),
                pid,
                message_start,
            });
        }
    }
    // RFC 5424: HOST APP PROCID MSGID SD MSG (also accepted without "<PRI>1 ").
    if format != FrameFormat::Rfc3339 && !had_pri {
        return search_tag(b, Some(timestamp));
    }
    parse_rfc5424(b, after_ts, timestamp).or_else(|| search_tag(b, Some(timestamp)))
}

/// The last resort for a line whose header was not understood: a Postfix
/// tag found in it ([`FrameFormat::Tag`]), keeping a stamp read at its start.
fn search_tag(b: &[u8], timestamp: Option<Timestamp>) -> Option<TextFrame> {
    let (program, pid, message_start) = find_postfix_tag(b)?;
    Some(TextFrame {
        format: FrameFormat::Tag,
        timestamp,
        host: None,
        program: Some(program),
        pid,
        message_start,
    })
}

/// RFC 5424 after the stamp: HOST APP PROCID MSGID SD MSG.
fn parse_rfc5424(b: &[u8], after_ts: usize, timestamp: Timestamp) -> Option<TextFrame> {
    let host = next_token(b, after_ts)?;
    let app = next_token(b, host.1)?;
    let procid = next_token(b, app.1)?;
    let msgid = next_token(b, procid.1)?;
    let mut pos = msgid.1;
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    // Structured data: "-" or one or more [..] elements (with escaped "]").
    if b.get(pos) == Some(&b'-') {
        pos += 1;
    } else if b.get(pos) == Some(&b'[') {
        while b.get(pos) == Some(&b'[') {
            pos += 1;
            let mut quoted = false;
            while pos < b.len() && (quoted || b[pos] != b']') {
                match b[pos] {
                    b'\\' => pos += 1,
                    b'"' => quoted = !quoted,
                    _ => {}
                }
                pos += 1;
            }
            pos += 1;
        }
    } else {
        return None;
    }
    // One space separates SD from MSG; a message glued to the SD (no space)
    // starts right after it, which may be a multi-byte character.
    let pos = pos.min(b.len());
    let message_start = if b.get(pos) == Some(&b' ') { pos + 1 } else { pos };
    let nil = |r: (usize, usize)| (&b[r.0..r.1] != b"-").then_some(r);
    Some(TextFrame {
        format: FrameFormat::Rfc5424,
        timestamp: Some(timestamp),
        host: nil(host),
        program: nil(app),
        pid: parse_u32(&b[procid.0..procid.1]),
        message_start,
    })
}

/// The fields of a JSON record that matter. Borrowed where the JSON has no escapes.
#[derive(Deserialize, Default)]
struct JsonRecord<'a> {
    #[serde(borrow, rename = "MESSAGE")]
    journald_message: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "SYSLOG_PID")]
    syslog_pid: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "_PID")]
    pid: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "_HOSTNAME")]
    hostname: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log: Option<Cow<'a, str>>,
}

fn parse_json_record<'a>(text: &'a str, opts: &FrameOptions) -> Option<Frame<'a>> {
    // Records whose values are not all strings (numbers, nested objects) are
    // common from collectors; only the string fields above are read.
    let rec: JsonRecord<'a> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(_) => lenient_record(text)?,
    };
    if let (Some(msg), Some(ident)) = (&rec.journald_message, &rec.identifier) {
        let pid = rec
            .syslog_pid
            .as_deref()
            .or(rec.pid.as_deref())
            .and_then(|p| parse_u32(p.as_bytes()));
        let timestamp = rec
            .realtime
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok())
            .map(Timestamp::from_unix_micros);
        return Some(Frame {
            format: FrameFormat::Journald,
            line: msg.clone(),
            timestamp,
            host: rec.hostname.clone(),
            program: Some(ident.clone()),
            pid,
            message_start: 0,
        });
    }
    let inner_line = rec.message.or(rec.log).or(rec.journald_message)?;
    let inner_line = match inner_line {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim_end_matches(['\n', '\r'])),
        Cow::Owned(o) => Cow::Owned(o.trim_end_matches(['\n', '\r']).to_owned()),
    };
    Some(Frame::parse(inner_line, opts))
}

/// Reads the string fields of a record that strict deserialization refused
/// (e.g. a `MESSAGE` that journald wrote as an array of bytes, or duplicate keys).
fn lenient_record(text: &str) -> Option<JsonRecord<'_>> {
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    let get = |k: &str| -> Option<Cow<'static, str>> {
        match v.get(k)? {
            serde_json::Value::String(s) => Some(Cow::Owned(s.clone())),
            serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
            serde_json::Value::Array(a) => {
                // journald encodes non-UTF-8 MESSAGE as an array of byte values.
                let bytes: Option<Vec<u8>> = a.iter().map(|x| x.as_u64().map(|b| b as u8)).collect();
                Some(Cow::Owned(String::from_utf8_lossy(&bytes?).into_owned()))
            }
            _ => None,
        }
    };
    Some(JsonRecord {
        journald_message: get("MESSAGE"),
        identifier: get("SYSLOG_IDENTIFIER"),
        syslog_pid: get("SYSLOG_PID"),
        pid: get("_PID"),
        hostname: get("_HOSTNAME"),
        realtime: get("__REALTIME_TIMESTAMP"),
        message: get("message"),
        log: get("log"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Frame<'_> {
        Frame::parse(
            Cow::Borrowed(s),
            &FrameOptions {
                years: YearPolicy::Fixed(2026),
                offset_minutes: 0,
            },
        )
    }

    #[test]
    fn rfc3164_with_multi_instance_program() {
        let fr = f("Jun 19 16:27:21 localhost postfix/submission/smtpd[12172]: connect from x[1.2.3.4]");
        assert_eq!(fr.format, FrameFormat::Rfc3164);
        assert_eq!(fr.host.as_deref(), Some("localhost"));
        assert_eq!(fr.daemon(), Some("smtpd"));
        assert_eq!(fr.instance(), Some("postfix/submission"));
        assert_eq!(fr.pid, Some(12172));
        assert_eq!(fr.message(), "connect from x[1.2.3.4]");
        assert!(matches!(fr.host, Some(Cow::Borrowed(_))), "zero-copy");
    }

    #[test]
    fn rfc3339_and_rfc5424() {
        let fr = f("2026-08-01T16:35:38.123456+10:00 mx1 postfix/smtpd[4242]: connect from a[1.2.3.4]");
        assert_eq!(fr.format, FrameFormat::Rfc3339);
        assert_eq!(fr.message(), "connect from a[1.2.3.4]");
        let fr = f("<22>1 2026-08-01T16:35:38.123456+10:00 mx1 postfix/smtpd 4242 - - connect from a[1.2.3.4]");
        assert_eq!(fr.format, FrameFormat::Rfc5424);
        assert_eq!(fr.pid, Some(4242));
        assert_eq!(fr.daemon(), Some("smtpd"));
        assert_eq!(fr.message(), "connect from a[1.2.3.4]");
        let fr = f("2026-08-01T16:35:38Z mx1 postfix/smtpd 4242 - [meta x=\"]\\]\"] hello");
        assert_eq!(fr.format, FrameFormat::Rfc5424);
        assert_eq!(fr.message(), "hello");
    }

    #[test]
    fn journald_and_collector_json() {
        let fr = f(
            r#"{"__REALTIME_TIMESTAMP":"1785601538123456","_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"4242","MESSAGE":"connect from a[1.2.3.4]","PRIORITY":"6"}"#,
        );
        assert_eq!(fr.format, FrameFormat::Journald);
        assert_eq!(fr.pid, Some(4242));
        assert_eq!(fr.message(), "connect from a[1.2.3.4]");
        let fr = f(
            r#"{"log":"Jun 19 16:27:21 localhost postfix/smtpd[1]: connect from b[5.6.7.8]\n","stream":"stdout","n":3}"#,
        );
        assert_eq!(fr.format, FrameFormat::Rfc3164);
        assert_eq!(fr.message(), "connect from b[5.6.7.8]");
    }

    #[test]
    fn host_and_pid_may_be_missing() {
        let fr = f("Mar  7 02:09:33 postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 no");
        assert_eq!(fr.format, FrameFormat::Rfc3164);
        assert_eq!(fr.host, None);
        assert_eq!(fr.program.as_deref(), Some("postfix/smtpd"));
        assert_eq!(fr.message(), "NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 no");
        let fr = f("Mar 7 02:09:33 mx1 postfix/smtpd: connect from x[192.0.2.1]");
        assert_eq!((fr.host.as_deref(), fr.pid), (Some("mx1"), None));
        assert_eq!(fr.message(), "connect from x[192.0.2.1]");
        let fr = f("Mar 7 02:09:33 postfix/smtpd: connect from x[192.0.2.1]");
        assert_eq!(
            (fr.host.as_deref(), fr.program.as_deref()),
            (None, Some("postfix/smtpd"))
        );
        // An IPv6 host ending in "::" is a host, not a tag.
        let fr = f("Mar 7 02:09:33 2001:db8:: postfix/smtpd[0]: connect from x[192.0.2.1]");
        assert_eq!((fr.host.as_deref(), fr.pid), (Some("2001:db8::"), Some(0)));
    }

    #[test]
    fn pri_and_short_full() {
        let fr = f("<22>Mar 7 02:09:33 mx1 postfix/smtpd[1]: connect from x[192.0.2.1]");
        assert_eq!(fr.format, FrameFormat::Rfc3164);
        assert_eq!(fr.host.as_deref(), Some("mx1"));
        let fr = f("Sat 2026-03-07 02:09:33 CET mx1 postfix/smtpd[1]: connect from x[192.0.2.1]");
        assert_eq!(fr.format, FrameFormat::ShortFull);
        assert_eq!(fr.host.as_deref(), Some("mx1"));
        assert_eq!(fr.timestamp.unwrap().offset_minutes, 60);
        let fr = f("Sat 2026-03-07 02:09:33 mx1 postfix/smtpd[1]: connect from x[192.0.2.1]");
        assert_eq!(fr.host.as_deref(), Some("mx1"), "no zone name: the token is the host");
        let fr = f("Sat 2026-03-07 02:09:33 UTC postfix/smtpd[1]: connect from x[192.0.2.1]");
        assert_eq!((fr.host.as_deref(), fr.pid), (None, Some(1)));
    }

    #[test]
    fn postfix_tag_found_behind_an_unknown_header() {
        let fr = f("mail-1  | postfix/smtpd[7]: connect from x[192.0.2.1]");
        assert_eq!(fr.format, FrameFormat::Tag);
        assert_eq!(
            (fr.program.as_deref(), fr.pid, fr.host.as_deref()),
            (Some("postfix/smtpd"), Some(7), None)
        );
        assert_eq!(fr.message(), "connect from x[192.0.2.1]");
        assert_eq!(fr.timestamp, None);
        let fr = f("Mar  7 02:09:33 relay mx1 postfix-out/smtp[7]: x");
        assert_eq!(fr.format, FrameFormat::Tag);
        assert_eq!(fr.program.as_deref(), Some("postfix-out/smtp"));
        assert!(fr.timestamp.is_some(), "a stamp the line starts with is kept");
        let fr = f("<22>1 2026-08-01T16:35:38Z mx1 postfix/smtpd 4242");
        assert_eq!(fr.format, FrameFormat::Bare, "truncated RFC 5424, no tag");
        for prose in [
            "read postfix/main.cf: denied",
            "xpostfix/smtpd[1]: connect",
            "postfix[1]: not a path",
            "postfixes/smtpd[1]: connect",
        ] {
            assert_eq!(f(prose).format, FrameFormat::Bare, "{prose}");
        }
    }

    #[test]
    fn bare_lines_are_kept() {
        let fr = f("garbage without a header");
        assert_eq!(fr.format, FrameFormat::Bare);
        assert_eq!(fr.message(), "garbage without a header");
    }
}
