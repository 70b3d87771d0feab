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
    assert_eq!(v[0]["sessions"][0]["verdict"]["class"], "ehlo_quit_probe");
    let (_, none, _) = run(&["explain", "--client", "192.0.2.1", sample().to_str().unwrap()]);
    assert!(none.contains("no sessions for client 192.0.2.1"));
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
