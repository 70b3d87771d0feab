//! Verdicts through the whole pipeline (frame, message, context, verdict),
//! one behaviour per test, each fed real Postfix wording: lines of the
//! recording (tests/corpus/recording/mail.log, Postfix 3.7), of
//! ../shared/postfix/examples.log, or built from the format strings in
//! smtpd.c, smtpd_sasl_glue.c, xsasl_dovecot_server.c and postscreen_misc.c.
//! What each test checks is the class, the confidence and that the reasons
//! say what the log says, never something it contradicts.

use postfix_enrich_tests::{enrich_all, test_config};
use serde_json::Value;

/// Enriches `lines` (syslog lines without the newline) with one stateful
/// enricher and returns every verdict, in order.
fn verdicts<S: AsRef<str>>(lines: &[S]) -> Vec<Value> {
    let input: Vec<Vec<u8>> = lines.iter().map(|l| l.as_ref().as_bytes().to_vec()).collect();
    enrich_all(&input, test_config(2026))
        .into_iter()
        .filter_map(|e| e.get("probe").cloned())
        .collect()
}

/// The one verdict `lines` give.
fn verdict<S: AsRef<str>>(lines: &[S]) -> Value {
    let mut v = verdicts(lines);
    assert_eq!(v.len(), 1, "expected one verdict, got {v:#?}");
    v.remove(0)
}

fn class(v: &Value) -> &str {
    v["class"].as_str().expect("class")
}

fn confidence(v: &Value) -> &str {
    v["confidence"].as_str().expect("confidence")
}

fn reasons(v: &Value) -> Vec<&str> {
    v["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r.as_str().expect("reason text"))
        .collect()
}

fn has_reason(v: &Value, needle: &str) -> bool {
    reasons(v).iter().any(|r| r.contains(needle))
}

/// A line of the `smtpd[pid]` at a given second of 16:46 on Nov 26.
fn smtpd(pid: u32, sec: u32, text: &str) -> String {
    format!("Nov 26 16:46:{sec:02} mail postfix/smtpd[{pid}]: {text}")
}

// --- 1. A timeout is the class unless something stronger was logged.

#[test]
fn ehlo_then_server_timeout_is_timeout_not_a_dropped_connection() {
    let l = [
        smtpd(4247, 0, "connect from unknown[192.0.2.23]:40123"),
        smtpd(4247, 10, "timeout after EHLO from unknown[192.0.2.23]:40123"),
        smtpd(4247, 10, "disconnect from unknown[192.0.2.23]:40123 ehlo=1 commands=1"),
    ];
    let v = verdict(&l);
    assert_eq!(class(&v), "timeout");
    assert_eq!(confidence(&v), "high");
    assert!(has_reason(&v, "timeout after EHLO"), "{v:#?}");
    assert!(!has_reason(&v, "dropped the connection"), "{v:#?}");
}

#[test]
fn rejects_outrank_a_timeout_and_the_end_is_still_said() {
    let l = [
        smtpd(4243, 0, "connect from unknown[192.0.2.7]:40124"),
        smtpd(
            4243,
            1,
            "NOQUEUE: reject: RCPT from unknown[192.0.2.7]:40124: 554 5.7.1 Service unavailable; Client host \
             [192.0.2.7] blocked using zen.spamhaus.org; from=<a@example.net> to=<b@example.com> proto=ESMTP helo=<x>",
        ),
        smtpd(4243, 11, "timeout after RCPT from unknown[192.0.2.7]:40124"),
        smtpd(
            4243,
            11,
            "disconnect from unknown[192.0.2.7]:40124 ehlo=1 mail=1 rcpt=0/1 commands=2/3",
        ),
    ];
    let v = verdict(&l);
    assert_eq!(class(&v), "policy_rejected");
    assert!(has_reason(&v, "session ended: timeout after RCPT"), "{v:#?}");
}

// --- 2. `client=` opens a transaction; only DATA's success or cleanup/qmgr accept a message.

#[test]
fn data_timeout_is_an_abandoned_message_not_mail_accepted() {
    for (end, expected) in [
        ("timeout after DATA (4096 bytes)", "timeout"),
        ("lost connection after DATA (4096 bytes)", "aborted"),
    ] {
        let l = [
            smtpd(4249, 0, "connect from mail.example.org[198.51.100.25]:40125"),
            smtpd(4249, 1, "4Q1ZnB0xY1zKq: client=mail.example.org[198.51.100.25]:40125"),
            "Nov 26 16:46:01 mail postfix/cleanup[4300]: 4Q1ZnB0xY1zKq: message-id=<abandoned@example.org>".into(),
            smtpd(4249, 20, &format!("{end} from mail.example.org[198.51.100.25]:40125")),
            smtpd(
                4249,
                20,
                "disconnect from mail.example.org[198.51.100.25]:40125 ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4",
            ),
        ];
        let v = verdict(&l);
        assert_eq!(class(&v), expected, "{end}: {v:#?}");
        assert!(
            has_reason(&v, "message 4Q1ZnB0xY1zKq abandoned during DATA (data=0/1)"),
            "{v:#?}"
        );
        assert!(!has_reason(&v, "accepted:"), "{v:#?}");
    }
}

/// A Postfix 2.x log (no disconnect statistics): cleanup's and qmgr's lines
/// about the queue id decide, not `client=`.
#[test]
fn without_statistics_queue_lines_decide_acceptance() {
    let session = |qmgr: bool, end: Option<&str>| {
        let mut l = vec![
            smtpd(4251, 0, "connect from mail.example.org[198.51.100.25]"),
            smtpd(4251, 1, "597ECB4981: client=mail.example.org[198.51.100.25]"),
        ];
        l.push("Nov 26 16:46:01 mail postfix/cleanup[14275]: 597ECB4981: message-id=<x@client.lab.test>".into());
        if qmgr {
            l.push(
                "Nov 26 16:46:01 mail postfix/qmgr[14001]: 597ECB4981: from=<news@example.org>, size=382, nrcpt=1 \
                 (queue active)"
                    .into(),
            );
        }
        if let Some(end) = end {
            l.push(smtpd(4251, 2, &format!("{end} from mail.example.org[198.51.100.25]")));
        }
        l.push(smtpd(4251, 2, "disconnect from mail.example.org[198.51.100.25]"));
        verdict(&l)
    };
    let v = session(true, None);
    assert_eq!(class(&v), "mail_accepted");
    assert!(has_reason(&v, "597ECB4981"));
    // Content was arriving when the client vanished: cleanup saw a
    // Message-ID, but nothing was queued.
    let v = session(false, Some("lost connection after DATA (382 bytes)"));
    assert_eq!(class(&v), "aborted", "{v:#?}");
    assert!(has_reason(&v, "abandoned during DATA"), "{v:#?}");
    // qmgr's "(queue active)" means committed, whatever followed.
    let v = session(true, Some("timeout after END-OF-MESSAGE"));
    assert_eq!(class(&v), "mail_accepted", "{v:#?}");
    assert!(has_reason(&v, "session ended: timeout after END-OF-MESSAGE"));
}

#[test]
fn client_line_alone_is_not_an_accepted_message() {
    // Recipient verification by another MTA: MAIL, RCPT, QUIT.
    let l = [
        smtpd(4252, 0, "connect from mx.example.net[198.51.100.7]:40126"),
        smtpd(4252, 0, "6671CB4981: client=mx.example.net[198.51.100.7]:40126"),
        smtpd(
            4252,
            1,
            "disconnect from mx.example.net[198.51.100.7]:40126 ehlo=1 mail=1 rcpt=1 quit=1 commands=4",
        ),
    ];
    let v = verdict(&l);
    assert_ne!(class(&v), "mail_accepted");
    assert!(
        has_reason(&v, "got a queue id (6671CB4981) but no message was accepted (no DATA)"),
        "{v:#?}"
    );
}

// --- 3 and 7. Failed AUTH: only guesses, counted per attempt, feed brute force.

/// The recording's brute-force session (5 guesses, then the error limit).
const BURST: [&str; 9] = [
    "Nov 26 16:45:51 mail postfix/smtpd[14030]: connect from unknown[127.0.0.10]:53035",
    "Nov 26 16:45:51 mail postfix/smtpd[14030]: warning: unknown[127.0.0.10]:53035: SASL PLAIN authentication failed: (reason unavailable), sasl_username=alice",
    "Nov 26 16:45:52 mail postfix/smtpd[14030]: warning: unknown[127.0.0.10]:53035: SASL LOGIN authentication failed: (reason unavailable), sasl_username=alice",
    "Nov 26 16:45:52 mail postfix/smtpd[14030]: warning: unknown[127.0.0.10]:53035: SASL PLAIN authentication failed: (reason unavailable), sasl_username=admin",
    "Nov 26 16:45:53 mail postfix/smtpd[14030]: warning: unknown[127.0.0.10]:53035: SASL LOGIN authentication failed: (reason unavailable), sasl_username=info@lab.test",
    "Nov 26 16:45:53 mail postfix/smtpd[14030]: warning: unknown[127.0.0.10]:53035: SASL PLAIN authentication failed: (reason unavailable), sasl_username=test",
    "Nov 26 16:45:53 mail postfix/smtpd[14030]: too many errors after AUTH from unknown[127.0.0.10]:53035",
    "Nov 26 16:45:53 mail postfix/smtpd[14030]: disconnect from unknown[127.0.0.10]:53035 ehlo=1 auth=0/5 commands=1/6",
    "",
];

/// One session from 127.0.0.10 with one failed guess.
fn one_failure(port: u32, sec: u32) -> Vec<String> {
    vec![
        smtpd(14031, sec, &format!("connect from unknown[127.0.0.10]:{port}")),
        smtpd(
            14031,
            sec,
            &format!(
                "warning: unknown[127.0.0.10]:{port}: SASL PLAIN authentication failed: (reason unavailable), \
                 sasl_username=alice"
            ),
        ),
        smtpd(
            14031,
            sec,
            &format!("disconnect from unknown[127.0.0.10]:{port} ehlo=1 auth=0/1 quit=1 commands=2/3"),
        ),
    ]
}

#[test]
fn one_failure_after_a_burst_from_the_same_address_is_bruteforce() {
    let mut l: Vec<String> = BURST.iter().filter(|l| !l.is_empty()).map(|l| l.to_string()).collect();
    l.extend(one_failure(41001, 30));
    let v = verdicts(&l);
    assert_eq!(v.len(), 2);
    assert_eq!(class(&v[0]), "auth_bruteforce");
    assert_eq!(class(&v[1]), "auth_bruteforce", "{:#?}", v[1]);
    assert!(
        has_reason(&v[1], "6 failed AUTH attempts from this address within 600s"),
        "{:#?}",
        v[1]
    );
    // The same single failure alone is one failure.
    let alone = one_failure(41001, 30);
    let v = verdict(&alone.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(class(&v), "auth_failure");
}

#[test]
fn timeout_after_auth_is_not_a_failed_auth_and_feeds_no_window() {
    // A client that sends AUTH LOGIN and never answers the 334 challenge.
    let mut l = Vec::new();
    for (i, port) in [41010u32, 41011, 41012, 41013].iter().enumerate() {
        let sec = i as u32 * 10;
        l.push(smtpd(14032, sec, &format!("connect from unknown[127.0.0.10]:{port}")));
        l.push(smtpd(
            14032,
            sec + 5,
            &format!("timeout after AUTH from unknown[127.0.0.10]:{port}"),
        ));
        l.push(smtpd(
            14032,
            sec + 5,
            &format!("disconnect from unknown[127.0.0.10]:{port} ehlo=1 auth=0/1 commands=1/2"),
        ));
    }
    l.extend(one_failure(41020, 50));
    let v = verdicts(&l);
    assert_eq!(v.len(), 5);
    for t in &v[..4] {
        assert_eq!(class(t), "timeout", "{t:#?}");
        assert!(has_reason(t, "timeout after AUTH"));
        assert!(!has_reason(t, "failed AUTH"), "{t:#?}");
    }
    assert_eq!(class(&v[4]), "auth_failure", "{:#?}", v[4]);
}

#[test]
fn mechanism_errors_and_cancels_are_kept_apart_from_guesses() {
    // xsasl_dovecot_server.c: "Invalid authentication mechanism: '%s'";
    // smtpd_sasl_glue.c: "SASL %s authentication aborted".
    let mut l = Vec::new();
    for (i, port) in [41030u32, 41031, 41032].iter().enumerate() {
        let sec = i as u32 * 5;
        l.push(smtpd(14033, sec, &format!("connect from unknown[127.0.0.10]:{port}")));
        l.push(smtpd(
            14033,
            sec,
            &format!(
                "warning: unknown[127.0.0.10]:{port}: SASL NTLM authentication failed: Invalid authentication \
                 mechanism: 'NTLM', sasl_username=(unavailable)"
            ),
        ));
        l.push(smtpd(
            14033,
            sec,
            &format!("warning: unknown[127.0.0.10]:{port}: SASL LOGIN authentication aborted"),
        ));
        l.push(smtpd(
            14033,
            sec,
            &format!("disconnect from unknown[127.0.0.10]:{port} ehlo=1 auth=0/2 quit=1 commands=2/4"),
        ));
    }
    l.extend(one_failure(41040, 30));
    let v = verdicts(&l);
    assert_eq!(v.len(), 4);
    for t in &v[..3] {
        assert_eq!(class(t), "auth_failure", "{t:#?}");
        assert!(
            has_reason(
                t,
                "AUTH failed without a password being checked: 1 with a mechanism the server does not offer, 1 \
                 cancelled by the client"
            ),
            "{t:#?}"
        );
    }
    // Three sessions of mechanism errors and cancels, then one guess: one failure.
    assert_eq!(class(&v[3]), "auth_failure", "{:#?}", v[3]);
}

#[test]
fn malformed_base64_is_a_guess_and_says_so() {
    let l = [
        smtpd(14034, 0, "connect from unknown[127.0.0.10]:41050"),
        smtpd(
            14034,
            0,
            "warning: unknown[127.0.0.10]:41050: SASL PLAIN authentication failed: Invalid base64 data in initial \
             response, sasl_username=(unavailable)",
        ),
        smtpd(
            14034,
            1,
            "warning: unknown[127.0.0.10]:41050: SASL PLAIN authentication failed: (reason unavailable), \
             sasl_username=alice",
        ),
        smtpd(
            14034,
            1,
            "disconnect from unknown[127.0.0.10]:41050 ehlo=1 auth=0/2 quit=1 commands=2/4",
        ),
    ];
    let v = verdict(&l);
    assert_eq!(class(&v), "auth_bruteforce");
    assert!(
        has_reason(&v, "2 failed AUTH attempt(s) (PLAIN), 1 of them malformed base64"),
        "{v:#?}"
    );
}

// --- 4 and 5. Failed commands without a reject; error limits and refused VRFY.

#[test]
fn failed_commands_without_reject_are_a_named_protocol_violation() {
    for (stats, named) in [
        (
            "ehlo=0/1 mail=0/1 unknown=0/1 commands=0/3",
            "ehlo=0/1 mail=0/1 unknown=0/1",
        ),
        (
            "ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5",
            "rcpt=0/1 data=0/1",
        ),
    ] {
        let l = [
            smtpd(4260, 0, "connect from unknown[192.0.2.50]:40130"),
            smtpd(4260, 1, &format!("disconnect from unknown[192.0.2.50]:40130 {stats}")),
        ];
        let v = verdict(&l);
        assert_eq!(class(&v), "protocol_violation", "{stats}: {v:#?}");
        assert!(
            has_reason(
                &v,
                &format!("failed commands with no reject logged (syntax errors or commands out of sequence): {named}")
            ),
            "{v:#?}"
        );
    }
    // The same counts with the reject line that explains them.
    let l = [
        smtpd(4243, 0, "connect from unknown[192.0.2.7]:40131"),
        smtpd(
            4243,
            1,
            "NOQUEUE: reject: RCPT from unknown[192.0.2.7]:40131: 550 5.7.1 <b@example.com>: Recipient address \
             rejected: Access denied; from=<a@example.net> to=<b@example.com> proto=ESMTP helo=<x.example.net>",
        ),
        smtpd(
            4243,
            1,
            "disconnect from unknown[192.0.2.7]:40131 ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5",
        ),
    ];
    assert_eq!(class(&verdict(&l)), "policy_rejected");
}

#[test]
fn a_content_reject_by_cleanup_explains_the_failed_data() {
    let l = [
        smtpd(4262, 0, "connect from unknown[192.0.2.50]:40134"),
        smtpd(4262, 0, "4Q1ZnF0bBczQq: client=unknown[192.0.2.50]:40134"),
        "Nov 26 16:46:01 mail postfix/cleanup[4301]: 4Q1ZnF0bBczQq: reject: header Subject: You won a prize from \
         unknown[192.0.2.50]:40134; from=<spam@example.net> to=<bob@example.com> proto=ESMTP helo=<x>: 5.7.1 Spam \
         rejected"
            .to_string(),
        smtpd(
            4262,
            1,
            "disconnect from unknown[192.0.2.50]:40134 ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5",
        ),
    ];
    let v = verdict(&l);
    assert_eq!(class(&v), "policy_rejected", "{v:#?}");
    assert!(!has_reason(&v, "no reject logged"), "{v:#?}");
}

#[test]
fn error_limit_outranks_refused_vrfy() {
    // disable_vrfy_command=yes: "502 5.5.1 VRFY command is disabled", no log line.
    let l = [
        smtpd(4261, 0, "connect from unknown[192.0.2.51]:40132"),
        smtpd(4261, 5, "too many errors after VRFY from unknown[192.0.2.51]:40132"),
        smtpd(
            4261,
            5,
            "disconnect from unknown[192.0.2.51]:40132 ehlo=1 vrfy=0/20 commands=1/21",
        ),
    ];
    let v = verdict(&l);
    assert_eq!(class(&v), "protocol_violation", "{v:#?}");
    assert!(has_reason(&v, "too many errors"));
    assert!(has_reason(&v, "VRFY/EXPN tried, none answered and no reject logged"));
    // Answered VRFY is enumeration, error limit or not.
    let l = [
        smtpd(4261, 0, "connect from unknown[192.0.2.51]:40133"),
        smtpd(4261, 5, "too many errors after VRFY from unknown[192.0.2.51]:40133"),
        smtpd(
            4261,
            5,
            "disconnect from unknown[192.0.2.51]:40133 ehlo=1 vrfy=3/20 commands=4/21",
        ),
    ];
    assert_eq!(class(&verdict(&l)), "recipient_enumeration");
}

// --- 6. Verbose traces: input smtpd could not read as a command.

fn traced(client_line: &str, reply: &str) -> Value {
    let c = "unknown[127.0.0.9]:40140";
    let l = [
        smtpd(14026, 0, &format!("connect from {c}")),
        smtpd(14026, 0, &format!("> {c}: 220 mail.lab.test ESMTP Postfix")),
        smtpd(14026, 0, &format!("< {c}: {client_line}")),
        smtpd(14026, 0, &format!("> {c}: {reply}")),
        smtpd(14026, 2, &format!("lost connection after CONNECT from {c}")),
        smtpd(14026, 2, &format!("disconnect from {c} commands=0/0")),
    ];
    verdict(&l)
}

#[test]
fn bad_utf8_bad_syntax_and_binary_in_a_trace_are_non_smtp() {
    // Invalid UTF-8 after a real verb: Postfix prints the bad bytes as '?'.
    let v = traced("EHLO caf??", "500 5.5.2 Error: bad UTF-8 syntax");
    assert_eq!(class(&v), "non_smtp", "{v:#?}");
    assert!(has_reason(&v, "bad UTF-8 syntax"));
    // A line of blanks: no token at all.
    let v = traced("   ", "500 5.5.2 Error: bad syntax");
    assert_eq!(class(&v), "non_smtp", "{v:#?}");
    // A TLS ClientHello on the plain port: control bytes printed as '?'.
    let v = traced("??????ZJP??????z??", "500 5.5.2 Error: command not recognized");
    assert_eq!(class(&v), "non_smtp", "{v:#?}");
    assert!(has_reason(&v, "binary bytes"));
    // A mistyped verb is no binary input.
    let v = traced("EHLOO x", "500 5.5.2 Error: command not recognized");
    assert_ne!(class(&v), "non_smtp", "{v:#?}");
}

// --- 8. postscreen hangups.

#[test]
fn postscreen_hangup_after_handshake_is_connect_only_medium_with_a_true_reason() {
    let ps = |t: &str| format!("Nov 26 16:46:02 mail postfix/postscreen[14347]: {t}");
    let l = [
        ps("CONNECT from [127.0.0.23]:50000 to [127.0.0.1]:2525"),
        ps("HANGUP after 7.1 from [127.0.0.23]:50000 in tests after SMTP handshake"),
        ps("DISCONNECT [127.0.0.23]:50000"),
    ];
    let v = verdict(&l);
    assert_eq!((class(&v), confidence(&v)), ("connect_only", "medium"), "{v:#?}");
    assert!(
        has_reason(&v, "hung up after 7.1s in tests after SMTP handshake"),
        "{v:#?}"
    );
    assert!(!has_reason(&v, "no SMTP command at all"), "{v:#?}");
    let l = [
        ps("CONNECT from [192.0.2.8]:40000 to [203.0.113.10]:25"),
        ps("HANGUP after 0.52 from [192.0.2.8]:40000 in tests before SMTP handshake"),
        ps("DISCONNECT [192.0.2.8]:40000"),
    ];
    let v = verdict(&l);
    assert_eq!(class(&v), "connect_only");
    assert!(has_reason(&v, "before any SMTP command"), "{v:#?}");
}

// --- 9. A reader that starts (or restarts) mid-session.

/// The recording's verbose failed-AUTH session (127.0.0.9:60639, pid 14026)
/// from its AUTH command on: the first half (connect, greeting, EHLO) is
/// what a restarted relay never saw.
const SECOND_HALF: [&str; 5] = [
    "Nov 26 16:46:01 mail postfix/smtpd[14026]: < unknown[127.0.0.9]:60639: AUTH PLAIN AGFsaWNlAHZlcmJvc2Utd3JvbmctMQ==",
    "Nov 26 16:46:02 mail postfix/smtpd[14026]: > unknown[127.0.0.9]:60639: 535 5.7.8 Error: authentication failed: (reason unavailable)",
    "Nov 26 16:46:02 mail postfix/smtpd[14026]: < unknown[127.0.0.9]:60639: QUIT",
    "Nov 26 16:46:02 mail postfix/smtpd[14026]: > unknown[127.0.0.9]:60639: 221 2.0.0 Bye",
    "Nov 26 16:46:02 mail postfix/smtpd[14026]: disconnect from unknown[127.0.0.9]:60639 ehlo=1 auth=0/1 quit=1 commands=2/3",
];

#[test]
fn a_session_whose_start_was_not_seen_is_marked() {
    let input: Vec<Vec<u8>> = SECOND_HALF.iter().map(|l| l.as_bytes().to_vec()).collect();
    let events = enrich_all(&input, test_config(2026));
    // Its later lines still belong to one session.
    let ids: Vec<&Value> = events.iter().map(|e| &e["postfix"]["session_id"]).collect();
    assert!(ids.iter().all(|id| id.is_string() && *id == ids[0]), "{ids:#?}");
    let v = events
        .last()
        .and_then(|e| e.get("probe"))
        .expect("a verdict on the disconnect line");
    assert_eq!(confidence(v), "low", "{v:#?}");
    assert!(has_reason(v, "the session's start was not seen"), "{v:#?}");
    assert!(v.get("duration").is_none(), "no start, no duration: {v:#?}");
    // The failed AUTH the counts show is still the class.
    assert_eq!(class(v), "auth_failure");

    // The disconnect line alone, as after a restart between its last two lines.
    let v = verdict(&[SECOND_HALF[4]]);
    assert_eq!((class(&v), confidence(&v)), ("auth_failure", "low"), "{v:#?}");
    assert!(has_reason(&v, "the session's start was not seen"));
}

#[test]
fn the_next_whole_session_on_that_process_is_confident_again() {
    let mut l: Vec<String> = SECOND_HALF[3..].iter().map(|s| s.to_string()).collect();
    l.extend([
        "Nov 26 16:46:03 mail postfix/smtpd[14026]: connect from unknown[127.0.0.4]:35139".to_string(),
        "Nov 26 16:46:03 mail postfix/smtpd[14026]: disconnect from unknown[127.0.0.4]:35139 ehlo=1 quit=1 commands=2"
            .to_string(),
    ]);
    let v = verdicts(&l);
    assert_eq!(v.len(), 2);
    assert_eq!(confidence(&v[0]), "low");
    assert_eq!((class(&v[1]), confidence(&v[1])), ("ehlo_quit_probe", "high"));
    assert!(!has_reason(&v[1], "start was not seen"));
}

#[test]
fn stateless_verdicts_say_they_saw_only_the_end() {
    let ev = postfix_enrich_core::enrich_line(SECOND_HALF[4].as_bytes(), &test_config(2026));
    let probe = ev.probe.expect("a Postfix >= 3.0 disconnect line has a verdict");
    assert_eq!(probe.confidence, postfix_enrich_core::event::Confidence::Low);
    assert!(probe.reasons.iter().any(|r| r.contains("start was not seen")));
}

/// One address's EHLO/QUIT probes within the window: the third says it is
/// repeated (the default threshold), and with a threshold of 1 the first
/// already does, although no earlier session left the address a window.
#[test]
fn repeated_probes_from_one_address_are_counted_from_the_first() {
    let probes: Vec<String> = (0..3)
        .flat_map(|i| {
            let pid = 300 + i;
            [
                format!("Nov 26 10:0{i}:00 mail postfix/smtpd[{pid}]: connect from unknown[198.51.100.23]"),
                format!("Nov 26 10:0{i}:01 mail postfix/smtpd[{pid}]: disconnect from unknown[198.51.100.23] ehlo=1 quit=1 commands=2"),
            ]
        })
        .collect();
    let repeated = |v: &Value| {
        v["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .filter_map(|r| r.as_str())
            .find(|r| r.starts_with("repeated: "))
            .map(str::to_owned)
    };
    let v = verdicts(&probes);
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|v| class(v) == "ehlo_quit_probe"), "{v:#?}");
    assert_eq!(repeated(&v[0]), None);
    assert_eq!(repeated(&v[1]), None);
    assert_eq!(
        repeated(&v[2]).as_deref(),
        Some("repeated: 3 suspicious sessions from this address within 600s")
    );

    let mut config = test_config(2026);
    config.verdicts.repeated_probes = 1;
    let input: Vec<Vec<u8>> = probes[..2].iter().map(|l| l.as_bytes().to_vec()).collect();
    let first = postfix_enrich_tests::enrich_all(&input, config)
        .into_iter()
        .find_map(|e| e.get("probe").cloned())
        .expect("the first session's verdict");
    assert_eq!(
        repeated(&first).as_deref(),
        Some("repeated: 1 suspicious sessions from this address within 600s")
    );
}
