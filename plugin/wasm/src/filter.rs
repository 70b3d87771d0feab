//! The record transformation behind the exported function, free of any
//! wasm or host detail so it can be tested natively: find the Postfix line
//! in the record's JSON text, enrich it with the stateful core, and splice
//! the Event's top-level members in before the record's closing brace.
//!
//! Rules (documented for users in ../README.md):
//! - the line is the first *string* value among `log`, `message`,
//!   `MESSAGE` (in that order); a record without one passes unchanged;
//! - a `MESSAGE` record that also has `SYSLOG_IDENTIFIER` (Fluent Bit's
//!   systemd input) is handed to the core whole, so the journald host,
//!   program and pid are used;
//! - the line keeps its key; its value is replaced by the Event's
//!   `message` (the redacted line) whenever the two differ, so secrets the
//!   core redacts never leave; the Event's own `message` member is not
//!   added (it would duplicate the line);
//! - an Event member whose name the record already has (e.g. `log` when
//!   the line is under `log`) is not added: the record's keys are never
//!   overwritten or duplicated;
//! - text that is not a JSON object gives an object with only
//!   `postfix_enrich_error`: the output is always one valid JSON object.
//!   Nothing else can fail: the Event is written straight into the output,
//!   so there is no second text to scan.

use postfix_enrich_core::{encode, Config, Enricher, Timestamp, YearPolicy};

use crate::json::{scan_object, unescape_into, Member, ScanError};

/// The field added when a record could not be enriched.
pub const ERROR_KEY: &str = "postfix_enrich_error";

/// Keys the line is read from, in order of preference.
const LINE_KEYS: [&[u8]; 3] = [b"log", b"message", b"MESSAGE"];

/// Buffers above this are shrunk back after a huge record, so one 50 MB
/// record does not pin 150 MB of linear memory for the filter's lifetime.
const KEEP_CAPACITY: usize = 1 << 20;

/// One filter instance: the enricher (session context) and reused buffers.
pub struct Filter {
    enricher: Enricher,
    members: Vec<Member>,
    line: String,
    key: String,
    out: Vec<u8>,
    /// Records seen.
    pub records: u64,
    /// Records returned with an error field.
    pub errors: u64,
}

impl Default for Filter {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl Filter {
    /// A filter with an empty context.
    pub fn new(config: Config) -> Self {
        Filter {
            enricher: Enricher::new(config),
            members: Vec::with_capacity(16),
            line: String::with_capacity(1024),
            key: String::new(),
            out: Vec::with_capacity(4096),
            records: 0,
            errors: 0,
        }
    }

    /// Transforms one record (JSON text, no NUL) and returns the output
    /// JSON text followed by one NUL byte, valid until the next call.
    pub fn process(&mut self, record: &[u8]) -> &[u8] {
        self.records += 1;
        self.line.clear();
        if self.line.capacity() > KEEP_CAPACITY {
            self.line.shrink_to(KEEP_CAPACITY / 16);
        }
        self.out.clear();
        if self.out.capacity() > KEEP_CAPACITY {
            self.out.shrink_to(KEEP_CAPACITY / 16);
        }
        if let Err(e) = self.try_process(record) {
            self.errors += 1;
            self.out.clear();
            write_error(e, &mut self.out);
        }
        self.out.push(0);
        &self.out
    }

    fn try_process(&mut self, bytes: &[u8]) -> Result<(), ScanError> {
        let Filter {
            enricher,
            members,
            line,
            key,
            out,
            ..
        } = self;
        members.clear();
        // The one UTF-8 check of the record: the line unescaped from it is
        // then a `str` and goes to the core without a second check.
        let record = std::str::from_utf8(bytes).map_err(|_| ScanError::Utf8)?;
        let obj = scan_object(record, |m| members.push(m))?;
        let found = LINE_KEYS.iter().find_map(|&name| {
            members
                .iter()
                .find(|m| m.is_string(bytes) && key_is(record, m, name, key))
                .map(|m| (name, m))
        });
        let Some((line_key, line_member)) = found else {
            // Not a log record we understand: pass it through untouched.
            out.extend_from_slice(bytes);
            return Ok(());
        };
        let journald = record.get(line_member.key.clone()) == Some("MESSAGE")
            && members.iter().any(|m| key_is(record, m, b"SYSLOG_IDENTIFIER", key));
        unescape_into(record.get(line_member.value.clone()).unwrap_or_default(), line);
        let input: &str = if journald { record } else { line };
        let ev = enricher.enrich_str(input);

        // The record up to its closing brace, with the line's value
        // replaced by the redacted line when the core changed it.
        let value = line_member.value.clone();
        if ev.message != line.as_str() {
            out.extend_from_slice(bytes.get(..value.start).unwrap_or_default());
            encode::write_json_str(out, &ev.message);
            out.extend_from_slice(bytes.get(value.end..obj.close).unwrap_or_default());
        } else {
            out.extend_from_slice(bytes.get(..obj.close).unwrap_or_default());
        }
        // Then the Event's members, written straight after it: not its
        // `message` (that is the line) and none the record already has.
        // The record has at least the line member, so their leading commas fit.
        // A record of the line alone (in_tail's) has only its key to avoid,
        // already known unescaped: no per-name scan of the record's keys.
        let line_only = members.len() == 1;
        encode::write_json_members(&ev, out, &mut |name| {
            name != "message"
                && if line_only {
                    name.as_bytes() != line_key
                } else {
                    !members.iter().any(|r| key_is(record, r, name.as_bytes(), key))
                }
        });
        out.push(b'}');
        Ok(())
    }

    /// Dates later year-less stamps with `year`, keeping every session.
    pub fn set_year(&mut self, year: i32) {
        self.enricher.set_year_policy(year_policy(year));
    }

    /// The enricher (for its statistics).
    pub fn enricher(&self) -> &Enricher {
        &self.enricher
    }
}

/// True when member `m`'s key equals `name` (unescaping it if needed).
fn key_is(text: &str, m: &Member, name: &[u8], scratch: &mut String) -> bool {
    let raw = text.as_bytes().get(m.key.clone()).unwrap_or_default();
    if !m.key_escaped {
        return raw == name;
    }
    scratch.clear();
    // unescape_into wants the quotes; they are just outside the key span.
    let quoted = text
        .get(m.key.start.saturating_sub(1)..m.key.end + 1)
        .unwrap_or_default();
    unescape_into(quoted, scratch);
    scratch.as_bytes() == name
}

/// The error object for text that is not a JSON object.
fn write_error(failure: ScanError, out: &mut Vec<u8>) {
    // The text is a static ASCII message without quotes or backslashes.
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(ERROR_KEY.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(failure.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
}

/// The calendar year of a record time (Fluent Bit passes the record's
/// seconds, truncated to u32), or None for times before 2000 (a host that
/// passes no time).
pub fn record_year(time_sec: u32) -> Option<i32> {
    (time_sec >= 946_684_800).then(|| Timestamp::from_unix_micros(i64::from(time_sec) * 1_000_000).year)
}

/// How year-less stamps (RFC 3164, maillog_file) are dated for records of
/// `year`: with the year of the record time, i.e. when Fluent Bit read the
/// line. 31 December is the reference day, so every stamp of that year maps
/// to it.
pub fn year_policy(year: i32) -> YearPolicy {
    YearPolicy::Reference {
        year,
        month: 12,
        day: 31,
    }
}

/// The configuration for records of `year` (`None`: the core's default).
pub fn config_for_year(year: Option<i32>) -> Config {
    let mut config = Config::default();
    if let Some(year) = year {
        config.frame.years = year_policy(year);
    }
    config
}

/// The output for `rec_ptr == 0`: Fluent Bit could not copy the record
/// into the module (bigger than the heap); its body is lost either way,
/// so say why instead of reading the bottom of linear memory.
pub const NULL_RECORD: &[u8] =
    b"{\"postfix_enrich_error\":\"record not received (rec_ptr is 0: larger than the module can allocate?)\"}\0";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn run(f: &mut Filter, rec: &str) -> Value {
        let out = f.process(rec.as_bytes());
        assert_eq!(out.last(), Some(&0));
        let text = std::str::from_utf8(&out[..out.len() - 1]).unwrap();
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    const CONNECT: &str = "Jun 19 16:27:21 mx postfix/smtpd[12172]: connect from unknown[192.0.2.7]";
    const DISCONNECT: &str =
        "Jun 19 16:27:22 mx postfix/smtpd[12172]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";

    #[test]
    fn splices_event_and_keeps_other_keys() {
        let mut f = Filter::default();
        let rec = serde_json::json!({"log": CONNECT, "stream": "stdout", "n": [1, {"a": null}]});
        let v = run(&mut f, &rec.to_string());
        assert_eq!(v["log"], CONNECT);
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["n"], rec["n"]);
        assert_eq!(v["postfix"]["event"], "connect");
        assert_eq!(v["client"]["ip"], "192.0.2.7");
        assert!(v.get("message").is_none(), "the line is not duplicated");
        let d = run(&mut f, &serde_json::json!({ "log": DISCONNECT }).to_string());
        assert_eq!(d["probe"]["class"], "ehlo_quit_probe");
        assert_eq!(d["postfix"]["session_id"], v["postfix"]["session_id"]);
    }

    #[test]
    fn message_key_gets_the_ecs_log_object() {
        let mut f = Filter::default();
        let v = run(&mut f, &serde_json::json!({ "message": CONNECT }).to_string());
        assert_eq!(v["message"], CONNECT);
        assert!(v["log"].is_object());
    }

    #[test]
    fn secrets_are_replaced_in_the_record() {
        let mut f = Filter::default();
        let lines = [
            "Nov 26 16:06:09 mail postfix/smtpd[3006]: connect from unknown[127.0.0.9]:53801",
            "Nov 26 16:06:09 mail postfix/smtpd[3006]: < unknown[127.0.0.9]:53801: AUTH LOGIN",
            "Nov 26 16:06:09 mail postfix/smtpd[3006]: > unknown[127.0.0.9]:53801: 334 VXNlcm5hbWU6",
            "Nov 26 16:06:09 mail postfix/smtpd[3006]: < unknown[127.0.0.9]:53801: bXkgcGFzcyB3b3Jk",
        ];
        let mut last = Value::Null;
        for l in lines {
            last = run(&mut f, &serde_json::json!({ "log": l }).to_string());
        }
        let text = last.to_string();
        assert!(!text.contains("bXkgcGFzcyB3b3Jk"), "{text}");
        assert!(last["log"].as_str().unwrap().contains("[redacted]"));
    }

    #[test]
    fn non_ascii_escapes_are_decoded() {
        let mut f = Filter::default();
        let rec = r#"{"log":"Jun 19 16:27:21 mx postfix/smtpd[1]: < unknown[1.2.3.4]: EHLO caf\u00e9\ud83d\ude00"}"#;
        let v = run(&mut f, rec);
        assert_eq!(v["smtp"]["helo"], "café😀");
    }

    #[test]
    fn records_without_a_line_pass_unchanged() {
        let mut f = Filter::default();
        for rec in [r#"{}"#, r#"{"a":1}"#, r#"{"log":5,"x":"y"}"#, r#" {"message":null} "#] {
            let out = f.process(rec.as_bytes());
            assert_eq!(&out[..out.len() - 1], rec.as_bytes());
        }
    }

    #[test]
    fn invalid_records_give_an_error_object() {
        let mut f = Filter::default();
        for rec in ["", "[]", "{", "{\"log\":\"x\"", "\u{0}", "{\"log\":\"a\"}{}", "null"] {
            let v = run(&mut f, rec);
            assert!(v[ERROR_KEY].is_string(), "{rec:?}");
        }
        let out = f.process(b"{\"log\":\"\xff\"}");
        let v: Value = serde_json::from_slice(&out[..out.len() - 1]).unwrap();
        assert_eq!(v[ERROR_KEY], "record is not valid UTF-8");
        assert_eq!(f.errors, 8);
    }

    #[test]
    fn escaped_keys_are_recognised() {
        let mut f = Filter::default();
        let rec = format!(r#"{{"\u006cog":{:?}}}"#, CONNECT);
        let v = run(&mut f, &rec);
        assert_eq!(v["postfix"]["event"], "connect");
        // The Event's own `log` member would duplicate the escaped key.
        let out = f.process(rec.as_bytes());
        assert!(!String::from_utf8_lossy(out).contains("\"log\":"));
    }

    #[test]
    fn journald_records_use_their_fields() {
        let mut f = Filter::default();
        let rec = serde_json::json!({
            "_HOSTNAME": "mx1", "SYSLOG_IDENTIFIER": "postfix/smtpd", "_PID": "4242",
            "MESSAGE": "connect from a[1.2.3.4]",
        });
        let v = run(&mut f, &rec.to_string());
        assert_eq!(v["MESSAGE"], "connect from a[1.2.3.4]");
        assert_eq!(v["_HOSTNAME"], "mx1");
        assert_eq!(v["host"]["name"], "mx1");
        assert_eq!(v["process"]["pid"], 4242);
        assert_eq!(v["client"]["ip"], "1.2.3.4");
    }

    #[test]
    fn year_less_stamps_take_the_record_year() {
        assert_eq!(record_year(0), None);
        assert_eq!(record_year(1_782_000_000), Some(2026));
        let mut f = Filter::new(config_for_year(record_year(1_830_000_000)));
        let v = run(&mut f, &serde_json::json!({ "log": CONNECT }).to_string());
        assert_eq!(v["@timestamp"], "2027-06-19T16:27:21Z");
    }

    #[test]
    fn a_new_year_keeps_the_sessions() {
        let mut f = Filter::new(config_for_year(Some(2026)));
        let first = run(&mut f, &serde_json::json!({ "log": CONNECT }).to_string());
        f.set_year(2027);
        let end =
            "Jun 19 16:27:22 mx postfix/smtpd[12172]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";
        let last = run(&mut f, &serde_json::json!({ "log": end }).to_string());
        assert_eq!(last["@timestamp"], "2027-06-19T16:27:22Z");
        assert_eq!(last["probe"]["class"], "ehlo_quit_probe");
        assert!(first["postfix"]["session_id"].is_string());
    }

    #[test]
    fn existing_keys_are_not_duplicated() {
        let mut f = Filter::default();
        let out = f
            .process(
                serde_json::json!({"log": CONNECT, "postfix": "mine"})
                    .to_string()
                    .as_bytes(),
            )
            .to_vec();
        let text = std::str::from_utf8(&out[..out.len() - 1]).unwrap();
        assert_eq!(text.matches("\"postfix\":").count(), 1, "{text}");
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["postfix"], "mine");
    }
}
