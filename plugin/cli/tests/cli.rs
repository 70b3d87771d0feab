//! The `postfix-enrich` binary as a user runs it: the bundled sample, NDJSON
//! shape and options, gzip, stdin, errors and exit codes, and `--follow`
//! across a rotation.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_postfix-enrich"))
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/logs/seed-ehlo-probe.log")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn explain_answers_the_seed_question() {
    let (code, out, _) = run(&["explain", sample().to_str().unwrap()]);
    assert_eq!(code, 0);
    for needle in [
        "client 72.38.252.2",
        "1 session(s)",
        "< EHLO User",
        "STARTTLS",
        "AUTH PLAIN",
        "< QUIT",
        "never tried AUTH or MAIL",
        "HELO name 'User' is not a FQDN",
        "verdict: ehlo_quit_probe (suspicious",
    ] {
        assert!(out.contains(needle), "explain output lacks {needle:?}:\n{out}");
    }
    let (_, json, _) = run(&[
        "explain",
        "--json",
        "--client",
        "72.38.252.2",
        sample().to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["clients"][0]["verdicts"][0]["verdict"]["class"], "ehlo_quit_probe");
    assert_eq!(v["clients"][0]["patterns"][0]["count"], 1);
    let (_, none, _) = run(&["explain", "--client", "192.0.2.1", sample().to_str().unwrap()]);
    // An empty report still says what was read, as the page does.
    let lines: Vec<&str> = none.lines().collect();
    assert!(lines[0].contains(" lines: 0 session(s) from 0 client(s)"), "{none}");
    assert_eq!(lines.get(1), Some(&"no sessions for client 192.0.2.1"), "{none}");
    // --sessions: every session's whole timeline, as before the report existed.
    let (_, sessions, _) = run(&["explain", "--sessions", sample().to_str().unwrap()]);
    assert!(
        sessions.contains("  session 0b89f40ec1d7eb77 smtpd[12172]"),
        "{sessions}"
    );
    let (code, _, err) = run(&["explain", "--class", "probing", sample().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("ehlo_quit_probe"), "the error lists the classes: {err}");
    let (_, other, _) = run(&["explain", "--class", "auth_bruteforce", sample().to_str().unwrap()]);
    assert!(other.contains("no sessions"), "{other}");
}

#[test]
fn blocklists_mark_listed_clients_and_bad_files_stop_before_output() {
    let dir = std::env::temp_dir().join(format!("pe-blocklist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("drop.txt");
    std::fs::write(
        &list,
        "; Spamhaus DROP\n72.38.0.0/16 ; SBL1\nnot-an-address\n2001:db8::/32 ; SBL2\n",
    )
    .unwrap();
    let arg = format!("spamhaus={}", list.display());
    let (code, out, err) = run(&["--drop-debug", "--blocklist", &arg, sample().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err.matches("line(s) skipped").count(),
        1,
        "bad lines reported once: {err}"
    );
    assert!(err.contains("blocklist spamhaus: 2 entries"), "{err}");
    let events: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let listed: Vec<&serde_json::Value> = events.iter().filter(|e| e.get("threat").is_some()).collect();
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|e| e["client"]["ip"] == "72.38.252.2"));
    let m = &listed[0]["threat"]["enrichments"][0];
    assert_eq!(m["indicator"]["provider"], "spamhaus");
    assert_eq!(m["indicator"]["description"], "72.38.0.0/16");
    assert_eq!(m["matched"]["atomic"], "72.38.252.2");
    assert!(events.iter().filter(|e| e["client"]["ip"].is_string()).count() >= listed.len());

    let (_, explained, _) = run(&["explain", "-q", "--blocklist", &arg, sample().to_str().unwrap()]);
    assert!(explained.contains("[listed: spamhaus]"), "{explained}");

    let missing = format!("openbl={}", dir.join("absent.txt").display());
    for cmd in [
        &["--blocklist", missing.as_str()][..],
        &["explain", "--blocklist", missing.as_str()][..],
    ] {
        let mut args = cmd.to_vec();
        let sample = sample();
        args.push(sample.to_str().unwrap());
        let (code, out, err) = run(&args);
        assert_eq!(code, 2);
        assert!(out.is_empty(), "nothing written before the error: {out}");
        assert!(err.contains("blocklist openbl") && err.contains("absent.txt"), "{err}");
    }
    let (code, _, err) = run(&["--blocklist", "no-equals-sign", sample().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("NAME=PATH"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn one_event_per_line_and_options() {
    let input = std::fs::read_to_string(sample()).unwrap();
    let n = input.lines().count();
    let (code, out, err) = run(&[sample().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), n);
    assert!(err.contains(&format!("{n} lines")), "summary: {err}");
    let events: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let debug = events.iter().filter(|e| e["postfix"]["event"] == "debug").count();
    assert!(debug * 10 >= n * 8, "most of a -v -v log is debug: {debug}/{n}");

    let (_, dropped, _) = run(&["--drop-debug", sample().to_str().unwrap()]);
    assert_eq!(dropped.lines().count(), n - debug);

    let (_, flat, _) = run(&["--flat", "--drop-debug", "-q", sample().to_str().unwrap()]);
    let last: serde_json::Value = serde_json::from_str(flat.lines().last().unwrap()).unwrap();
    assert_eq!(last["probe.class"], "ehlo_quit_probe");
    assert_eq!(last["client.ip"], "72.38.252.2");

    let (_, stateless, _) = run(&["--stateless", "-q", sample().to_str().unwrap()]);
    assert!(!stateless.contains("session_id"), "stateless mode mints no session ids");
}

#[test]
fn gzip_and_stdin_read_the_same() {
    let dir = std::env::temp_dir().join(format!("pe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gz = dir.join("sample.log.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(&std::fs::read(sample()).unwrap()).unwrap();
    enc.finish().unwrap();
    let (_, plain, _) = run(&["-q", "--year", "2026", sample().to_str().unwrap()]);
    let (_, unzipped, _) = run(&["-q", "--year", "2026", gz.to_str().unwrap()]);
    assert_eq!(plain, unzipped);
    let mut child = bin()
        .args(["-q", "--year", "2026"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(sample()).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), plain);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn explain_reads_its_files_as_one_stream() {
    // The sample many times over (several of the reading thread's buffers),
    // cut in two files in the middle of a session, the first without its
    // last newline: the report must be the one of the whole.
    let dir = std::env::temp_dir().join(format!("pe-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = std::fs::read_to_string(sample()).unwrap().repeat(400);
    assert!(whole.len() > 4 * 64 * 1024);
    let cut = whole[..whole.len() / 2].rfind('\n').unwrap();
    let (first, second) = (dir.join("a.log"), dir.join("b.log"));
    std::fs::write(&first, &whole[..cut]).unwrap();
    std::fs::write(&second, &whole[cut + 1..]).unwrap();
    let all = dir.join("all.log");
    std::fs::write(&all, &whole).unwrap();
    let (code, one, _) = run(&["explain", "--json", all.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (code, two, _) = run(&["explain", "--json", first.to_str().unwrap(), second.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(one, two);
    let report: serde_json::Value = serde_json::from_str(&one).unwrap();
    let lines = whole.lines().count() as u64;
    assert_eq!(report["lines"].as_u64(), Some(lines), "{}", &one[..one.len().min(400)]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_are_clear_and_exit_nonzero() {
    let (code, out, err) = run(&["/nonexistent/mail.log"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("cannot open /nonexistent/mail.log"), "{err}");
    // A bad file among good ones fails before any output.
    let (code, out, _) = run(&[sample().to_str().unwrap(), "/nonexistent/mail.log"]);
    assert_eq!((code, out.is_empty()), (2, true));
    let (code, _, err) = run(&["--no-such-option"]);
    assert_eq!(code, 2);
    assert!(err.contains("--no-such-option"));
    let (code, _, err) = run(&["--utc-offset", "bogus", sample().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("offset"), "{err}");
    let (code, _, err) = run(&["--addresses", "hash", sample().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--hash-key"), "{err}");
}

#[test]
fn follow_survives_rotation() {
    let dir = std::env::temp_dir().join(format!("pe-follow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("mail.log");
    std::fs::write(
        &log,
        "Nov 26 16:06:09 mail postfix/smtpd[1]: connect from unknown[192.0.2.1]:1000\n",
    )
    .unwrap();
    let mut child = bin()
        .args(["-q", "--follow", log.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let append = |path: &Path, text: &str| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    std::thread::sleep(Duration::from_millis(400));
    append(
        &log,
        "Nov 26 16:06:10 mail postfix/smtpd[1]: disconnect from unknown[192.0.2.1]:1000 commands=0/0\n",
    );
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.contains("\"connect_only\""),
        "verdict on the followed line: {first}"
    );
    // Rotate: the old file moves away, a new one appears at the path.
    std::fs::rename(&log, dir.join("mail.log.1")).unwrap();
    append(
        &log,
        "Nov 26 16:07:00 mail postfix/smtpd[2]: connect from unknown[192.0.2.2]:2000\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = lines.next().unwrap().unwrap();
    assert!(Instant::now() < deadline);
    assert!(second.contains("192.0.2.2"), "line from the new file: {second}");
    // SIGTERM ends the follower cleanly.
    Command::new("kill").arg(child.id().to_string()).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `what-if` on Postfix 3.x lines: a HELO name known from reject lines,
/// first-match permits, and smtpd_delay_reject.
#[test]
fn what_if_replays_a_restriction_with_first_match_and_delay_reject() {
    let dir = std::env::temp_dir().join(format!("pe-whatif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("mail.log");
    // A laptop that authenticates with a bare HELO name and sends; a probe
    // with a bare name that quits after EHLO; a relay attempt with a bare name refused at RCPT.
    std::fs::write(
        &log,
        "Nov 26 10:00:00 mail postfix/smtpd[101]: connect from unknown[192.0.2.9]\n\
         Nov 26 10:00:01 mail postfix/smtpd[101]: < unknown[192.0.2.9]: EHLO alice-laptop\n\
         Nov 26 10:00:02 mail postfix/smtpd[101]: 4B2C1A0001: client=unknown[192.0.2.9], sasl_method=PLAIN, sasl_username=alice\n\
         Nov 26 10:00:03 mail postfix/smtpd[101]: disconnect from unknown[192.0.2.9] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n\
         Nov 26 10:01:00 mail postfix/smtpd[102]: connect from unknown[198.51.100.7]\n\
         Nov 26 10:01:00 mail postfix/smtpd[102]: < unknown[198.51.100.7]: EHLO User\n\
         Nov 26 10:01:00 mail postfix/smtpd[102]: disconnect from unknown[198.51.100.7] ehlo=1 quit=1 commands=2\n\
         Nov 26 10:02:00 mail postfix/smtpd[103]: connect from unknown[203.0.113.5]\n\
         Nov 26 10:02:01 mail postfix/smtpd[103]: NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 554 5.7.1 <victim@example.com>: Relay access denied; from=<a@b.example> to=<victim@example.com> proto=ESMTP helo=<WIN-3X4MPL3>\n\
         Nov 26 10:02:01 mail postfix/smtpd[103]: disconnect from unknown[203.0.113.5] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4\n",
    )
    .unwrap();
    let f = log.to_str().unwrap();
    let (code, out, err) = run(&[
        "what-if",
        "-q",
        "--year",
        "2026",
        "--json",
        "reject_non_fqdn_helo_hostname",
        f,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sessions"], 3);
    assert_eq!(v["refused_legitimate"], 1, "{v:#}");
    assert_eq!(v["refused_suspicious"], 1, "{v:#}");
    assert_eq!(v["not_stopped"], 1, "the probe quits before RCPT TO: {v:#}");
    assert!(v["false_positives"][0]
        .as_str()
        .unwrap()
        .contains("192.0.2.9 HELO alice-laptop: authenticated as alice, sent 1 message(s)"));

    let list = "permit_mynetworks, permit_sasl_authenticated, reject_non_fqdn_helo_hostname";
    let (_, out, _) = run(&[
        "what-if",
        "-q",
        "--year",
        "2026",
        "--json",
        "--delay-reject",
        "no",
        list,
        f,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["refused_legitimate"], 0,
        "permit_sasl_authenticated comes first: {v:#}"
    );
    assert_eq!(
        v["refused_suspicious"], 2,
        "without delay the probe is refused at EHLO: {v:#}"
    );
    assert_eq!(v["by_restriction"][1]["saved_clients"][0], "192.0.2.9");

    let (code, _, err) = run(&["what-if", "reject_rbl_client", f]);
    assert_eq!(code, 2);
    assert!(err.contains("what-if supports: permit_mynetworks"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `what-if --json` validates against schemas/whatif.schema.json, and the
/// CLI feeds smtpd's forward-check warnings to the replay: a client whose
/// reverse name does not resolve back passes
/// reject_unknown_reverse_client_hostname and fails reject_unknown_client_hostname.
#[test]
fn what_if_json_follows_its_schema_and_reads_forward_check_warnings() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/whatif.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let dir = std::env::temp_dir().join(format!("pe-whatif-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("mail.log");
    std::fs::write(
        &log,
        "Nov 26 10:00:00 mail postfix/smtpd[201]: warning: hostname mail.example.org does not resolve to address 192.0.2.10\n\
         Nov 26 10:00:00 mail postfix/smtpd[201]: connect from unknown[192.0.2.10]\n\
         Nov 26 10:00:01 mail postfix/smtpd[201]: 4B2C1A0001: client=unknown[192.0.2.10]\n\
         Nov 26 10:00:02 mail postfix/smtpd[201]: disconnect from unknown[192.0.2.10] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n\
         Nov 26 10:02:00 mail postfix/smtpd[203]: connect from unknown[198.51.100.7]\n\
         Nov 26 10:02:01 mail postfix/smtpd[203]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 <v@example.com>: Relay access denied; from=<a@example.net> to=<v@example.com> proto=ESMTP helo=<x.example.net>\n\
         Nov 26 10:02:02 mail postfix/smtpd[203]: disconnect from unknown[198.51.100.7] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4\n",
    )
    .unwrap();
    let f = log.to_str().unwrap();
    for (restriction, refused, legitimate) in [
        ("reject_unknown_client_hostname", 2, 1),
        ("reject_unknown_reverse_client_hostname", 1, 0),
        ("permit_mynetworks, reject_non_fqdn_helo_hostname", 0, 0),
    ] {
        let (code, out, err) = run(&["what-if", "-q", "--year", "2026", "--json", restriction, f]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        if let Err(e) = validator.validate(&v) {
            panic!("{restriction}: what-if --json does not validate: {e}\n{v:#}");
        }
        assert_eq!(
            (v["refused"].as_u64(), v["refused_legitimate"].as_u64()),
            (Some(refused), Some(legitimate)),
            "{restriction}: {v:#}"
        );
        if restriction.contains("unknown") {
            assert_eq!(v["client_names"]["forward_failed"], 1, "{v:#}");
            assert_eq!(v["client_names"]["no_reverse_name"], 1, "{v:#}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
