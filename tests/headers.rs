//! Headers and program names as real syslog daemons, journalctl and
//! forwarders write them, end to end through the enricher: every header form
//! must give the same Event fields (time, host, program, pid, what Postfix
//! said) as the classic one, a header nobody understands must still give the
//! Postfix message when the line holds a Postfix tag, and every Postfix
//! program (multi-instance names included) must be parsed as Postfix, never
//! passed through as `foreign`. Whole-recording tests rewrite the headers of
//! the real-Postfix recording (tests/corpus/recording) and require identical
//! events; single-line tests use Postfix's own wording.

use postfix_enrich_core::Config;
use postfix_enrich_tests::{enrich_all, lines, repo, test_config};
use serde_json::Value;

/// One line through a fresh enricher, as JSON.
fn one(line: &str) -> Value {
    one_with(line, test_config(2026))
}

fn one_with(line: &str, config: Config) -> Value {
    enrich_all(&[line.as_bytes().to_vec()], config).remove(0)
}

/// A dotted path into an event (`"postfix.event"`), `Null` when absent.
fn at<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn str_at<'v>(v: &'v Value, path: &str) -> Option<&'v str> {
    at(v, path).as_str()
}

/// The recording's lines, as text.
fn recording(name: &str) -> Vec<String> {
    lines(&repo().join("tests/corpus/recording").join(name))
        .into_iter()
        .map(|l| String::from_utf8(l).expect("the recording is UTF-8"))
        .collect()
}

/// Events with the fields that legitimately differ removed.
fn without(mut events: Vec<Value>, paths: &[&str]) -> Vec<Value> {
    for ev in &mut events {
        for p in paths {
            let (parent, key) = match p.rsplit_once('.') {
                Some((parent, key)) => (parent, key),
                None => ("", *p),
            };
            let target = if parent.is_empty() {
                Some(&mut *ev)
            } else {
                parent.split('.').try_fold(&mut *ev, |v, k| v.get_mut(k))
            };
            if let Some(Value::Object(m)) = target {
                m.remove(key);
            }
        }
    }
    events
}

/// Session ids hash the host and the connect time to the precision logged,
/// so a header change may change them; what must not change is which lines
/// share a session. Each id becomes the number of the line that opened it.
fn canonical_sessions(mut events: Vec<Value>) -> Vec<Value> {
    let mut first_seen: Vec<Value> = Vec::new();
    let mut canonical = |id: &mut Value| {
        let n = match first_seen.iter().position(|s| s == id) {
            Some(n) => n,
            None => {
                first_seen.push(id.clone());
                first_seen.len() - 1
            }
        };
        *id = Value::from(n);
    };
    for ev in &mut events {
        if let Some(id) = ev["postfix"].get_mut("session_id") {
            canonical(id);
        }
        // The message record names its session too.
        if let Some(id) = ev["postfix"].get_mut("message").and_then(|m| m.get_mut("session_id")) {
            canonical(id);
        }
    }
    events
}

/// Runs both streams and requires the same events apart from `paths`, and
/// the same grouping into sessions.
fn assert_same_events(a: &[String], b: &[String], config: Config, paths: &[&str], what: &str) {
    let to_bytes = |v: &[String]| v.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>();
    let ea = without(canonical_sessions(enrich_all(&to_bytes(a), config.clone())), paths);
    let eb = without(canonical_sessions(enrich_all(&to_bytes(b), config)), paths);
    assert_eq!(ea.len(), eb.len());
    for (i, (x, y)) in ea.iter().zip(&eb).enumerate() {
        assert_eq!(x, y, "{what}: line {} differs:\n  {}\n  {}", i + 1, a[i], b[i]);
    }
}

/// Replaces the recording's day (`Nov 26`, `Nov 30`: two digits, as it is
/// recorded on a day from 10 to 31) with another day written `day`.
fn with_day(lines: &[String], day: &str) -> Vec<String> {
    let recorded = &lines[0][..6];
    assert!(
        recorded.as_bytes()[4].is_ascii_digit(),
        "the recording's day has two digits: {recorded}"
    );
    lines
        .iter()
        .map(|l| {
            format!(
                "{day}{}",
                l.strip_prefix(recorded).expect("the recording is from one day")
            )
        })
        .collect()
}

const CONNECT: &str = "connect from unknown[192.0.2.7]:52814";

// ---- §1 header forms -------------------------------------------------------

#[test]
fn unpadded_day_parses_like_space_and_zero_padded() {
    let rec = recording("mail.log");
    let padded = with_day(&rec, "Mar  7");
    let config = test_config(2026);
    // `message` keeps the line as written; everything else must agree.
    for variant in ["Mar 7", "Mar 07"] {
        assert_same_events(&padded, &with_day(&rec, variant), config.clone(), &["message"], variant);
    }
    let ev = one("Mar 7 02:09:33 mx1 postfix/smtpd[4242]: connect from unknown[192.0.2.7]:52814");
    assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-07T02:09:33Z"));
    assert_eq!(str_at(&ev, "host.name"), Some("mx1"));
    assert_eq!(str_at(&ev, "process.name"), Some("postfix/smtpd"));
    assert_eq!(at(&ev, "process.pid"), 4242);
    assert_eq!(str_at(&ev, "log.format"), Some("rfc3164"));
    assert_eq!(str_at(&ev, "postfix.event"), Some("connect"));
    // Two-digit days are not mistaken for unpadded ones.
    let ev = one(&format!("Mar 17 02:09:33 mx1 postfix/smtpd[4242]: {CONNECT}"));
    assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-17T02:09:33Z"));
}

#[test]
fn pri_before_an_rfc3164_stamp() {
    // What a syslog daemon forwards over the network, and `logger --rfc3164` writes.
    let ev = one(&format!("<22>Mar  7 02:09:33 mx1 postfix/smtpd[4242]: {CONNECT}"));
    assert_eq!(str_at(&ev, "log.format"), Some("rfc3164"));
    assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-07T02:09:33Z"));
    assert_eq!(str_at(&ev, "host.name"), Some("mx1"));
    assert_eq!(at(&ev, "process.pid"), 4242);
    assert_eq!(str_at(&ev, "client.ip"), Some("192.0.2.7"));
    let ev = one(&format!("<22>Mar 7 02:09:33 mx1 postfix/smtpd[4242]: {CONNECT}"));
    assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-07T02:09:33Z"));
    assert_eq!(str_at(&ev, "postfix.event"), Some("connect"));
}

#[test]
fn fractional_seconds_in_rfc3164_stamps() {
    for (stamp, want) in [
        ("Mar  7 02:09:33.123456", "2026-03-07T02:09:33.123456Z"),
        ("Mar 7 02:09:33.5", "2026-03-07T02:09:33.5Z"),
        ("Mar 07 02:09:33.000001", "2026-03-07T02:09:33.000001Z"),
    ] {
        let ev = one(&format!("{stamp} mx1 postfix/smtpd[4242]: {CONNECT}"));
        assert_eq!(str_at(&ev, "@timestamp"), Some(want), "{stamp}");
        assert_eq!(str_at(&ev, "host.name"), Some("mx1"), "{stamp}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("connect"), "{stamp}");
    }
}

#[test]
fn rfc3339_with_z_offset_and_fractions() {
    for (stamp, want) in [
        ("2026-03-07T02:09:33Z", "2026-03-07T02:09:33Z"),
        ("2026-03-07T02:09:33.123Z", "2026-03-07T02:09:33.123Z"),
        ("2026-03-07T02:09:33+01:00", "2026-03-07T02:09:33+01:00"),
        ("2026-03-07T02:09:33.123456-05:30", "2026-03-07T02:09:33.123456-05:30"),
    ] {
        let ev = one(&format!("{stamp} mx1 postfix/smtpd[4242]: {CONNECT}"));
        assert_eq!(str_at(&ev, "log.format"), Some("rfc3339"), "{stamp}");
        assert_eq!(str_at(&ev, "@timestamp"), Some(want), "{stamp}");
        assert_eq!(str_at(&ev, "host.name"), Some("mx1"), "{stamp}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("connect"), "{stamp}");
    }
}

#[test]
fn iso8601_without_a_zone_takes_the_configured_offset() {
    let mut config = test_config(2026);
    config.frame.offset_minutes = 60;
    for stamp in ["2026-03-07T02:09:33", "2026-03-07 02:09:33"] {
        let ev = one_with(&format!("{stamp} mx1 postfix/smtpd[4242]: {CONNECT}"), config.clone());
        assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-07T02:09:33+01:00"), "{stamp}");
        assert_eq!(str_at(&ev, "host.name"), Some("mx1"));
    }
    // A zone in the stamp wins over the configured one.
    let ev = one_with(
        &format!("2026-03-07T02:09:33Z mx1 postfix/smtpd[4242]: {CONNECT}"),
        config,
    );
    assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-07T02:09:33Z"));
}

/// How a journalctl mode writes an RFC 3339 stamp.
type Rewrite<'a> = dyn Fn(&str) -> String + 'a;

/// The recording's RFC 3339 stamps (`2026-11-26T16:45:42.463401+00:00`)
/// rewritten the way each journalctl `-o short-*` mode prints the same
/// instant (systemd's `output_timestamp_realtime`); the events must agree on
/// everything but the line and the stamp's precision.
#[test]
fn journalctl_short_modes_give_the_same_events() {
    let rec = recording("syslog.log");
    let split = |l: &String| -> (String, String) {
        let (stamp, rest) = l.split_once(' ').expect("stamp then host");
        (stamp.to_owned(), rest.to_owned())
    };
    let month = |m: &str| {
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][m.parse::<usize>().unwrap() - 1]
    };
    // The recording's weekday (journalctl prints it; the frame skips it).
    let weekday = {
        let d = &rec[0][..10];
        let (y, m, day): (i64, i64, i64) = (
            d[..4].parse().unwrap(),
            d[5..7].parse().unwrap(),
            d[8..10].parse().unwrap(),
        );
        // Sakamoto's method; 0 = Sunday.
        let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
        let y = if m < 3 { y - 1 } else { y };
        let w = (y + y / 4 - y / 100 + y / 400 + t[(m - 1) as usize] + day) % 7;
        ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][w as usize]
    };
    let modes: [(&str, &Rewrite<'_>); 6] = [
        // -o short-iso (systemd >= 249; older releases print `+0000`).
        ("short-iso", &|s: &str| format!("{}+00:00", &s[..19])),
        ("short-iso, older systemd", &|s: &str| format!("{}+0000", &s[..19])),
        // -o short-iso-precise before systemd 249: `%Y-%m-%dT%H:%M:%S.xxxxxx%z`.
        ("short-iso-precise, older systemd", &|s: &str| {
            format!("{}+0000", &s[..26])
        }),
        // -o short-precise: `Nov 26 16:45:42.463401`.
        ("short-precise", &|s: &str| {
            format!("{} {} {}", month(&s[5..7]), &s[8..10], &s[11..26])
        }),
        // -o short-full --utc: `Thu 2026-11-26 16:45:42 UTC`.
        ("short-full --utc", &|s: &str| {
            format!("{weekday} {} {} UTC", &s[..10], &s[11..19])
        }),
        // -o short-full in Europe/Berlin: the same instant an hour later, named CET.
        ("short-full CET", &|s: &str| {
            let hour: u32 = s[11..13].parse().unwrap();
            assert!(hour < 23, "the recording is made in the afternoon");
            format!("{weekday} {} {:02}{} CET", &s[..10], hour + 1, &s[13..19])
        }),
    ];
    // Compare instants, not spellings: precision and offset differ by mode.
    let instants =
        |evs: &[Value]| -> Vec<Option<i64>> { evs.iter().map(|e| str_at(e, "@timestamp").map(unix_seconds)).collect() };
    let config = test_config(2026);
    let base: Vec<Vec<u8>> = rec.iter().map(|l| l.as_bytes().to_vec()).collect();
    let base_events = enrich_all(&base, config.clone());
    for (name, rewrite) in modes {
        let rewritten: Vec<String> = rec
            .iter()
            .map(|l| {
                let (stamp, rest) = split(l);
                format!("{} {rest}", rewrite(&stamp))
            })
            .collect();
        assert_same_events(
            &rec,
            &rewritten,
            config.clone(),
            // The message record's times are stamps too, at the precision logged.
            &[
                "message",
                "@timestamp",
                "log.format",
                "postfix.message.first_seen",
                "postfix.message.last_seen",
            ],
            name,
        );
        let bytes: Vec<Vec<u8>> = rewritten.iter().map(|l| l.as_bytes().to_vec()).collect();
        let events = enrich_all(&bytes, config.clone());
        assert_eq!(instants(&events), instants(&base_events), "{name}: instants differ");
        let want = if name.starts_with("short-full") {
            "short_full"
        } else if name == "short-precise" {
            "rfc3164"
        } else {
            "rfc3339"
        };
        assert!(
            events.iter().all(|e| str_at(e, "log.format") == Some(want)),
            "{name}: not all {want}"
        );
    }
}

/// Seconds since the epoch of an RFC 3339 stamp as the encoder writes it.
fn unix_seconds(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant), independent of the core's copy.
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let mut secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    let zone = &t[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if *zone != "Z" {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        secs -= sign * (zone[1..3].parse::<i64>().unwrap() * 3600 + zone[4..6].parse::<i64>().unwrap() * 60);
    }
    secs
}

#[test]
fn short_full_zone_names() {
    let line = |zone: &str| format!("Sat 2026-03-07 02:09:33{zone} mx1 postfix/smtpd[4242]: {CONNECT}");
    let mut config = test_config(2026);
    config.frame.offset_minutes = -300;
    for (zone, want) in [
        (" UTC", "2026-03-07T02:09:33Z"),
        (" CET", "2026-03-07T02:09:33+01:00"),
        (" EDT", "2026-03-07T02:09:33-04:00"),
        // glibc names zones without an abbreviation by their offset.
        (" +03", "2026-03-07T02:09:33+03:00"),
        (" -0330", "2026-03-07T02:09:33-03:30"),
        // Ambiguous (China, US Central, Cuba): the configured offset.
        (" CST", "2026-03-07T02:09:33-05:00"),
        // No zone name at all: also the configured offset, and the host stays the host.
        ("", "2026-03-07T02:09:33-05:00"),
    ] {
        let ev = one_with(&line(zone), config.clone());
        assert_eq!(str_at(&ev, "@timestamp"), Some(want), "{zone:?}");
        assert_eq!(str_at(&ev, "host.name"), Some("mx1"), "{zone:?}");
        assert_eq!(str_at(&ev, "log.format"), Some("short_full"), "{zone:?}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("connect"), "{zone:?}");
    }
}

#[test]
fn host_names_with_dots_and_addresses() {
    for host in [
        "mx1.example.com",
        "mail.eu-west.example.co.uk",
        "192.0.2.25",
        "2001:db8::25",
    ] {
        let ev = one(&format!("Mar  7 02:09:33 {host} postfix/smtpd[4242]: {CONNECT}"));
        assert_eq!(str_at(&ev, "host.name"), Some(host));
        assert_eq!(str_at(&ev, "process.name"), Some("postfix/smtpd"), "{host}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("connect"), "{host}");
    }
}

/// `journalctl --no-hostname`, and `maillog_file` lines after a collector
/// stripped the host: the first token after the stamp is already the tag.
#[test]
fn missing_host() {
    let ev = one("Mar  7 02:09:33 postfix/smtpd[4242]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]:52814: 554 5.7.1 <victim@example.com>: Relay access denied; from=<spammer@example.com> to=<victim@example.com> proto=ESMTP helo=<User>");
    assert_eq!(at(&ev, "host"), &Value::Null);
    assert_eq!(str_at(&ev, "process.name"), Some("postfix/smtpd"));
    assert_eq!(at(&ev, "process.pid"), 4242);
    assert_eq!(str_at(&ev, "postfix.event"), Some("reject"));
    assert_eq!(str_at(&ev, "smtp.reject.class"), Some("relay_denied"));
    let ev = one(&format!(
        "2026-03-07T02:09:33.123456+01:00 postfix/smtpd[4242]: {CONNECT}"
    ));
    assert_eq!(at(&ev, "host"), &Value::Null);
    assert_eq!(str_at(&ev, "postfix.event"), Some("connect"));
    // Whole recording without its host: the same events but for the host
    // and what hashes it (session ids).
    let rec = recording("mail.log");
    let hostless: Vec<String> = rec.iter().map(|l| l.replacen(" mail ", " ", 1)).collect();
    assert_same_events(&rec, &hostless, test_config(2026), &["message", "host"], "no host");
}

#[test]
fn program_without_a_pid() {
    for line in [
        format!("Mar  7 02:09:33 mx1 postfix/smtpd: {CONNECT}"),
        format!("Mar  7 02:09:33 postfix/smtpd: {CONNECT}"),
        format!("2026-03-07T02:09:33Z mx1 postfix/smtpd: {CONNECT}"),
    ] {
        let ev = one(&line);
        assert_eq!(str_at(&ev, "process.name"), Some("postfix/smtpd"), "{line}");
        assert_eq!(at(&ev, "process.pid"), &Value::Null, "{line}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("connect"), "{line}");
        assert_eq!(str_at(&ev, "client.ip"), Some("192.0.2.7"), "{line}");
    }
}

#[test]
fn pid_zero_is_a_pid() {
    let ev = one(&format!("Mar  7 02:09:33 mx1 postfix/smtpd[0]: {CONNECT}"));
    assert_eq!(at(&ev, "process.pid"), 0);
    assert_eq!(str_at(&ev, "postfix.event"), Some("connect"));
}

#[test]
fn trailing_spaces_change_nothing_but_the_line() {
    let rec = recording("mail.log");
    for pad in [" ", "   ", " \t"] {
        let padded: Vec<String> = rec.iter().map(|l| format!("{l}{pad}")).collect();
        assert_same_events(&rec, &padded, test_config(2026), &["message"], &format!("{pad:?}"));
    }
}

// ---- §1 headers the frame cannot read ---------------------------------------

#[test]
fn unknown_header_with_a_postfix_tag_is_still_parsed() {
    let disconnect = "disconnect from unknown[192.0.2.7]:52814 ehlo=1 auth=0/1 quit=1 commands=2/3";
    for prefix in [
        // docker compose prefixes each line with the service.
        "mail-1  | ",
        // A European date format from a home-grown forwarder.
        "07.03.2026 02:09:33 mx1 ",
        // A bracketed stamp.
        "[2026-03-07 02:09:33] ",
        // Two hosts: a relay that kept the original host in the text.
        "Mar  7 02:09:33 relay1 mx1 ",
    ] {
        let ev = one(&format!("{prefix}postfix/smtpd[4242]: {disconnect}"));
        assert_eq!(str_at(&ev, "log.format"), Some("tag"), "{prefix:?}");
        assert_eq!(str_at(&ev, "process.name"), Some("postfix/smtpd"), "{prefix:?}");
        assert_eq!(at(&ev, "process.pid"), 4242, "{prefix:?}");
        assert_eq!(at(&ev, "host"), &Value::Null, "{prefix:?}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("disconnect"), "{prefix:?}");
        assert_eq!(at(&ev, "postfix.disconnect_stats.auth.total"), 1, "{prefix:?}");
    }
    // A stamp the line starts with is kept.
    let ev = one(&format!("Mar  7 02:09:33 relay1 mx1 postfix/smtpd[4242]: {disconnect}"));
    assert_eq!(str_at(&ev, "@timestamp"), Some("2026-03-07T02:09:33Z"));
    // Multi-instance tags are found too.
    let ev = one("mail-1  | postfix-out/smtp[77]: connect to mx.example.com[192.0.2.9]:25: Connection refused");
    assert_eq!(str_at(&ev, "log.format"), Some("tag"));
    assert_eq!(str_at(&ev, "postfix.instance"), Some("postfix-out"));
    assert_eq!(str_at(&ev, "postfix.event"), Some("connect_error"));
}

#[test]
fn text_that_only_mentions_postfix_stays_bare() {
    for line in [
        "error reading postfix/main.cf: permission denied",
        "see postfix/smtpd: it is fine",
        "postfix/smtpd[4242] connect from unknown[192.0.2.7]",
        "mypostfix/smtpd[4242]: connect from unknown[192.0.2.7]",
    ] {
        let ev = one(line);
        assert_eq!(str_at(&ev, "log.format"), Some("bare"), "{line}");
        assert_eq!(str_at(&ev, "postfix.event"), Some("unparsed"), "{line}");
    }
}

// ---- §2 every Postfix program is Postfix --------------------------------------

/// One real line per program (Postfix source wording), each under
/// `postfix/<program>`: recognised as Postfix and understood.
#[test]
fn every_postfix_program_is_postfix() {
    let qid = "4F9D12A3B4";
    let programs: &[(&str, String)] = &[
        ("trivial-rewrite", "warning: do not list domain example.com in BOTH mydestination and virtual_alias_domains".into()),
        ("postmap", "fatal: open /etc/postfix/transport: No such file or directory".into()),
        ("postalias", "fatal: open /etc/aliases: No such file or directory".into()),
        ("postsuper", "Deleted: 3 messages".into()),
        ("postmulti", "fatal: No matching instances".into()),
        ("postconf", "warning: /etc/postfix/main.cf, line 5: overriding earlier entry: smtpd_banner=$myhostname ESMTP".into()),
        ("postlog", "fatal: usage: postlog [-c config_dir] [-i] [-p priority] [-t tag] [-v] [text]".into()),
        ("postqueue", "warning: Mail system is down -- accessing queue directly".into()),
        ("postdrop", "fatal: chdir /var/spool/postfix: Permission denied".into()),
        ("sendmail", "warning: -f option specified malformed sender: a@b@c".into()),
        ("verify", "cache btree:/var/lib/postfix/verify_cache full cleanup: retained=12 dropped=3 entries".into()),
        ("proxymap", "warning: request for unapproved table: \"hash:/etc/postfix/private\"".into()),
        ("scache", "fatal: unexpected command-line argument: x".into()),
        ("tlsmgr", "warning: PRNG exchange file was removed -- exiting to reopen".into()),
        ("tlsproxy", "warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading:ssl/record/rec_layer_s3.c:696:".into()),
        ("flush", "fatal: flush_add_path: open fast flush logfile /var/spool/postfix/flush/example.com: Permission denied".into()),
        ("showq", format!("warning: {qid}: malformed size record: x -- skipped")),
        ("spawn", "fatal: missing user= attribute".into()),
        ("discard", format!("{qid}: to=<user@example.com>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (example.com)")),
        ("error", format!("{qid}: to=<user@example.com>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)")),
        ("retry", format!("{qid}: to=<user@example.com>, relay=none, delay=3600, delays=3600/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to mx.example.com[192.0.2.9]:25: Connection refused)")),
        ("virtual", format!("{qid}: to=<user@example.com>, relay=virtual, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)")),
        ("pipe", format!("{qid}: to=<user@example.com>, relay=dovecot, delay=0.3, delays=0.1/0/0/0.2, dsn=2.0.0, status=sent (delivered via dovecot service)")),
        ("oqmgr", format!("{qid}: from=<sender@example.org>, size=1234, nrcpt=1 (queue active)")),
        ("master", "daemon started -- version 3.7.11, configuration /etc/postfix".into()),
        ("postlogd", "warning: failed to receive message with recv: Connection refused".into()),
        ("dnsblog", "addr 192.0.2.7 listed by domain zen.spamhaus.org as 127.0.0.2".into()),
        ("anvil", "statistics: max connection rate 1/60s for (smtp:192.0.2.7) at Mar  7 02:09:33".into()),
        ("bounce", format!("{qid}: sender non-delivery notification: 5A0B23C4D5")),
        ("defer", format!("{qid}: sender delivery status notification: 5A0B23C4D5")),
        ("trace", format!("{qid}: sender delivery status notification: 5A0B23C4D5")),
    ];
    for (program, text) in programs {
        let ev = one(&format!("Mar  7 02:09:33 mx1 postfix/{program}[4242]: {text}"));
        let kind = str_at(&ev, "postfix.event").unwrap();
        assert!(
            kind != "foreign" && kind != "unparsed",
            "postfix/{program}: {kind}: {text}"
        );
        assert_eq!(str_at(&ev, "postfix.daemon"), Some(*program));
    }
}

#[test]
fn multi_instance_and_service_names_are_postfix() {
    for (program, instance, daemon) in [
        ("postfix-out/smtp", "postfix-out", "smtp"),
        ("postfix-10.20.30.40/smtp", "postfix-10.20.30.40", "smtp"),
        ("postfix/submission/smtpd", "postfix/submission", "smtpd"),
        ("postfix-in/smtps/smtpd", "postfix-in/smtps", "smtpd"),
        // Another syslog_name before a known daemon.
        ("mx-in/smtpd", "mx-in", "smtpd"),
        // A daemon a later release adds: the `postfix` tag says whose it is.
        ("postfix/newd", "postfix", "newd"),
    ] {
        let ev = one(&format!(
            "Mar  7 02:09:33 mx1 {program}[4242]: warning: hostname x.example does not resolve to address 192.0.2.7"
        ));
        assert_eq!(
            str_at(&ev, "postfix.event"),
            Some("reverse_dns_mismatch")
                .filter(|_| daemon == "smtpd")
                .or(Some("warning")),
            "{program}"
        );
        assert_eq!(str_at(&ev, "postfix.instance"), Some(instance), "{program}");
        assert_eq!(str_at(&ev, "postfix.daemon"), Some(daemon), "{program}");
    }
    let ev = one("Mar  7 02:09:33 mx1 postfix-10.20.30.40/smtp[4242]: connect to mx.example.com[192.0.2.9]:25: Connection timed out");
    assert_eq!(str_at(&ev, "postfix.event"), Some("connect_error"));
}

#[test]
fn programs_that_are_not_postfix_stay_foreign() {
    for program in ["smtpd", "sendmail", "postfix-policyd-spf-perl", "opendkim", "dovecot"] {
        let ev = one(&format!("Mar  7 02:09:33 mx1 {program}[4242]: {CONNECT}"));
        assert_eq!(str_at(&ev, "postfix.event"), Some("foreign"), "{program}");
    }
}

// ---- §2 postsuper and cache cleanup lines ----------------------------------

#[test]
fn postsuper_operations_and_counts() {
    let qid = "4F9D12A3B4";
    for (text, action, count, queue_id) in [
        ("Deleted: 1 message", "deleted", Some(1), None),
        ("Deleted: 12 messages", "deleted", Some(12), None),
        ("Requeued: 4 messages", "requeued", Some(4), None),
        ("Placed on hold: 2 messages", "held", Some(2), None),
        ("Released from hold: 0 messages", "released", Some(0), None),
        ("Force-expired: 7 messages", "expired", Some(7), None),
        ("Renamed to match inode number: 1 message", "renamed", Some(1), None),
        ("4F9D12A3B4: requeued", "requeued", None, Some(qid)),
        ("4F9D12A3B4: placed on hold", "held", None, Some(qid)),
        ("4F9D12A3B4: released from hold", "released", None, Some(qid)),
        ("4F9D12A3B4: expired", "expired", None, Some(qid)),
    ] {
        let ev = one(&format!("Mar  7 02:09:33 mx1 postfix/postsuper[4242]: {text}"));
        assert_eq!(str_at(&ev, "postfix.event"), Some("queue_admin"), "{text}");
        assert_eq!(str_at(&ev, "postfix.queue_admin.action"), Some(action), "{text}");
        assert_eq!(at(&ev, "postfix.queue_admin.count").as_u64(), count, "{text}");
        assert_eq!(str_at(&ev, "postfix.queue_id"), queue_id, "{text}");
    }
    // `removed` ends the queue id's life whoever logs it.
    let ev = one(&format!("Mar  7 02:09:33 mx1 postfix/postsuper[4242]: {qid}: removed"));
    assert_eq!(str_at(&ev, "postfix.event"), Some("removed"));
}

#[test]
fn cache_cleanup_from_verify_and_postscreen() {
    for (program, table, scope, retained, dropped) in [
        (
            "postfix/verify",
            "btree:/var/lib/postfix/verify_cache",
            "full",
            1520,
            37,
        ),
        (
            "postfix/postscreen",
            "btree:/var/lib/postfix/postscreen_cache",
            "full",
            0,
            0,
        ),
        (
            "postfix/postscreen",
            "lmdb:/var/lib/postfix/postscreen_cache",
            "partial",
            88,
            9,
        ),
    ] {
        let ev = one(&format!(
            "Mar  7 02:09:33 mx1 {program}[4242]: cache {table} {scope} cleanup: retained={retained} dropped={dropped} entries"
        ));
        assert_eq!(str_at(&ev, "postfix.event"), Some("cache_cleanup"), "{program}");
        assert_eq!(str_at(&ev, "postfix.cache.table"), Some(table));
        assert_eq!(str_at(&ev, "postfix.cache.scope"), Some(scope));
        assert_eq!(at(&ev, "postfix.cache.retained"), retained);
        assert_eq!(at(&ev, "postfix.cache.dropped"), dropped);
    }
}
