//! The smtp/lmtp client's side of a delivery and the lines that name a
//! client's limits (issue 9 §3, §4), as Events. Every line follows Postfix's
//! own format strings (smtp_proto.c, smtp_trouble.c, smtp_connect.c,
//! smtp_sasl_glue.c, smtpd.c, anvil.c, cleanup_message.c), filled with
//! values a real log has; each test varies what the grammar allows (port or
//! none, queue id or none, IPv4 or IPv6, socket or address) so that the
//! parser is held to the structure, not to one example.

use postfix_enrich_tests::{enrich_all, test_config};
use serde_json::Value;

fn events(lines: &[&str]) -> Vec<Value> {
    let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    enrich_all(&lines, test_config(2026))
}

fn one(line: &str) -> Value {
    events(&[line]).remove(0)
}

fn smtp(msg: &str) -> Value {
    one(&format!("Nov 26 16:06:09 mx1 postfix/smtp[5151]: {msg}"))
}

/// `(postfix.event, postfix.delivery_failure, smtp.stage)`.
fn kind(ev: &Value) -> (&str, Option<&str>, Option<&str>) {
    (
        ev["postfix"]["event"].as_str().unwrap(),
        ev["postfix"]["delivery_failure"].as_str(),
        ev["smtp"]["stage"].as_str(),
    )
}

fn reply(ev: &Value) -> (u64, Option<&str>, &str) {
    let r = &ev["smtp"]["reply"];
    (
        r["code"].as_u64().unwrap(),
        r["enhanced"].as_str(),
        r["text"].as_str().unwrap(),
    )
}

#[test]
fn host_said_gives_server_reply_and_stage() {
    for (cmd, stage) in [
        ("RCPT TO command", "RCPT"),
        ("MAIL FROM command", "MAIL"),
        ("DATA command", "DATA"),
        ("end of DATA command", "END-OF-MESSAGE"),
        ("XFORWARD name/address command", "XFORWARD"),
        ("final RSET command", "RSET"),
        ("QUIT command", "QUIT"),
    ] {
        let ev = smtp(&format!(
            "3F2A81C0B7: host mx.example.net[203.0.113.9] said: 451 4.7.1 Greylisted, see (in reply) http://x/ (in reply to {cmd})"
        ));
        assert_eq!(
            kind(&ev),
            ("remote_failure", Some("remote_reply"), Some(stage)),
            "{cmd}"
        );
        assert_eq!(reply(&ev), (451, Some("4.7.1"), "Greylisted, see (in reply) http://x/"));
        assert_eq!(ev["server"]["ip"], "203.0.113.9");
        assert_eq!(ev["server"]["domain"], "mx.example.net");
        assert_eq!(ev["postfix"]["queue_id"], "3F2A81C0B7");
        assert!(ev["client"].is_null(), "the remote is the server, not a client");
    }
    // smtp_proto.c logs XFORWARD refusals as a warning without queue id.
    let ev = smtp("warning: host mx.example.net[2001:db8::25]:2525 said: 503 5.5.1 Error: access denied for 192.0.2.1 (in reply to XFORWARD helo/protocol command)");
    assert_eq!(kind(&ev), ("remote_failure", Some("remote_reply"), Some("XFORWARD")));
    assert_eq!(
        (ev["server"]["ip"].as_str(), ev["server"]["port"].as_u64()),
        (Some("2001:db8::25"), Some(2525))
    );
}

#[test]
fn lost_connection_and_timeout_name_the_stage() {
    for (phrase, stage) in [
        ("receiving the initial server greeting", "CONNECT"),
        ("performing the EHLO handshake", "EHLO"),
        ("performing the LHLO handshake", "LHLO"),
        ("receiving the STARTTLS response", "STARTTLS"),
        ("sending MAIL FROM", "MAIL"),
        ("sending RCPT TO", "RCPT"),
        ("sending DATA command", "DATA"),
        ("sending message body", "DATA"),
        (
            "sending end of data -- message may be sent more than once",
            "END-OF-MESSAGE",
        ),
        ("sending QUIT", "QUIT"),
    ] {
        let ev = smtp(&format!(
            "4Q1ZmK3kH1zJrw: lost connection with mx.example.net[203.0.113.9] while {phrase}"
        ));
        assert_eq!(
            kind(&ev),
            ("remote_failure", Some("lost_connection"), Some(stage)),
            "{phrase}"
        );
        assert_eq!(ev["postfix"]["detail"], phrase);
        assert!(ev["smtp"]["reply"].is_null());
        let ev = smtp(&format!(
            "3F2A81C0B7: conversation with mx.example.net[203.0.113.9] timed out while {phrase}"
        ));
        assert_eq!(kind(&ev), ("remote_failure", Some("timeout"), Some(stage)), "{phrase}");
        assert_eq!(ev["server"]["ip"], "203.0.113.9");
    }
}

#[test]
fn refused_to_talk_and_sasl_and_tls_failures() {
    let ev = smtp("3F2A81C0B7: host mx.example.net[203.0.113.9] refused to talk to me: 554 5.7.1 mx.example.net ESMTP not accepting messages");
    assert_eq!(kind(&ev).1, Some("refused_to_talk"));
    assert_eq!(
        reply(&ev),
        (554, Some("5.7.1"), "mx.example.net ESMTP not accepting messages")
    );
    let ev = smtp("3F2A81C0B7: SASL authentication failed; server smtp.example.net[198.51.100.4]:587 said: 535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6");
    assert_eq!(kind(&ev), ("remote_failure", Some("sasl_failed"), Some("AUTH")));
    assert_eq!(reply(&ev).0, 535);
    assert_eq!(ev["server"]["port"], 587);
    let ev = smtp("3F2A81C0B7: SASL authentication failed; cannot authenticate to server smtp.example.net[198.51.100.4]: no mechanism available");
    assert_eq!(kind(&ev).1, Some("sasl_failed"));
    assert_eq!(ev["server"]["ip"], "198.51.100.4");
    let ev = smtp("3F2A81C0B7: TLS is required, but host mx.example.net[203.0.113.9] refused to start TLS: 454 4.7.0 TLS not available due to local problem");
    assert_eq!(kind(&ev), ("remote_failure", Some("tls_failed"), Some("STARTTLS")));
    assert_eq!(reply(&ev).0, 454);
}

#[test]
fn connect_failures_with_and_without_queue_id() {
    for (prefix, qid) in [("", None), ("3F2A81C0B7: ", Some("3F2A81C0B7"))] {
        for errno in ["Connection refused", "Connection timed out", "Network is unreachable"] {
            let ev = smtp(&format!("{prefix}connect to mx.example.net[203.0.113.9]:25: {errno}"));
            assert_eq!(kind(&ev), ("connect_error", Some("connect_failed"), Some("CONNECT")));
            assert_eq!(
                (ev["server"]["ip"].as_str(), ev["server"]["port"].as_u64()),
                (Some("203.0.113.9"), Some(25))
            );
            assert_eq!(ev["postfix"]["detail"], errno);
            assert_eq!(ev["postfix"]["queue_id"].as_str(), qid);
        }
    }
    // LMTP over a UNIX socket: the path is an address, never an IP.
    for msg in [
        "connect to subsidiary/private/lmtp: No such file or directory",
        "connect to mail.example.com[private/dovecot-lmtp]: No such file or directory",
    ] {
        let ev = one(&format!("Nov 26 16:06:09 mx1 postfix/lmtp[5151]: {msg}"));
        assert_eq!(kind(&ev).0, "connect_error", "{msg}");
        assert!(ev["server"]["ip"].is_null(), "{msg}");
        assert!(ev["server"]["address"].as_str().unwrap().ends_with("lmtp"), "{msg}");
        assert_eq!(ev["postfix"]["detail"], "No such file or directory");
    }
}

#[test]
fn pix_workarounds_and_client_tls() {
    let ev =
        smtp("3F2A81C0B7: enabling PIX workarounds: disable_esmtp delay_dotcrlf for mx.example.net[203.0.113.9]:25");
    assert_eq!(kind(&ev).0, "pix_workaround");
    assert_eq!(ev["postfix"]["detail"], "disable_esmtp delay_dotcrlf");
    assert_eq!(ev["server"]["port"], 25);
    for trust in ["Trusted", "Verified", "Untrusted", "Anonymous"] {
        let ev = smtp(&format!("{trust} TLS connection established to mx.example.net[203.0.113.9]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256"));
        assert_eq!(kind(&ev).0, "tls");
        assert_eq!(ev["tls"]["trust"], trust);
        assert_eq!(ev["tls"]["version"], "1.3");
        assert_eq!(ev["server"]["ip"], "203.0.113.9");
        assert!(ev["client"].is_null());
    }
}

#[test]
fn delivery_lines_keep_their_fields_and_gain_the_remote_reply() {
    let ev = smtp("3F2A81C0B6: to=<erin@example.net>, relay=mx.example.net[203.0.113.8]:25, delay=0.9, delays=0.1/0/0.3/0.5, dsn=4.7.1, status=deferred (host mx.example.net[203.0.113.8] said: 450 4.7.1 <erin@example.net>: Recipient address rejected: try later (in reply to RCPT TO command))");
    assert_eq!(kind(&ev), ("delivery", Some("remote_reply"), Some("RCPT")));
    assert_eq!(
        reply(&ev),
        (
            450,
            Some("4.7.1"),
            "<erin@example.net>: Recipient address rejected: try later"
        )
    );
    let d = &ev["postfix"]["delivery"];
    assert_eq!(
        (d["status"].as_str(), d["dsn"].as_str()),
        (Some("deferred"), Some("4.7.1"))
    );
    assert!(d["text"].as_str().unwrap().starts_with("host mx.example.net"));
    // relay=none: the server comes from the text.
    let ev = smtp("3F2A81C0B6: to=<erin@example.net>, relay=none, delay=31, delays=0.1/0/31/0, dsn=4.4.1, status=deferred (connect to mx.example.net[203.0.113.8]:25: Connection timed out)");
    assert_eq!(kind(&ev), ("delivery", Some("connect_failed"), Some("CONNECT")));
    assert_eq!(ev["server"]["ip"], "203.0.113.8");
    // qmgr repeats the reason for a throttled destination.
    let ev = one("Nov 26 16:06:09 mx1 postfix/qmgr[600]: 3F2A81C0B6: to=<erin@example.net>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mx.example.net[203.0.113.8] while receiving the initial server greeting)");
    assert_eq!(kind(&ev), ("delivery", Some("lost_connection"), Some("CONNECT")));
    // A successful delivery: the remote's reply, no failure.
    let ev = smtp("3F2A81C0B6: to=<bob@example.net>, relay=mx.example.net[203.0.113.5]:25, delay=0.31, delays=0.05/0.01/0.12/0.13, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4A2B3C4D5E)");
    assert_eq!(kind(&ev), ("delivery", None, Some("END-OF-MESSAGE")));
    assert_eq!(reply(&ev), (250, Some("2.0.0"), "Ok: queued as 4A2B3C4D5E"));
    assert_eq!(ev["postfix"]["related_queue_id"], "4A2B3C4D5E");
    // Local delivery texts are not replies.
    let ev = one("Nov 26 16:06:09 mx1 postfix/local[77]: 3F2A81C0B6: to=<bob@example.com>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)");
    assert!(ev["smtp"].is_null() && ev["postfix"]["delivery_failure"].is_null());
}

#[test]
fn rate_limits_name_client_kind_count_and_service() {
    for (words, want) in [
        ("Connection rate", "connection_rate"),
        ("Connection concurrency", "connection_concurrency"),
        ("Message delivery request rate", "message_rate"),
        ("Recipient address rate", "recipient_rate"),
        ("AUTH command rate", "auth_rate"),
        ("New TLS session rate", "newtls_rate"),
    ] {
        for (client, ip, port) in [
            ("unknown[192.0.2.25]", "192.0.2.25", None),
            ("mail.example.org[2001:db8::7]:40123", "2001:db8::7", Some(40123)),
        ] {
            let ev = one(&format!(
                "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: warning: {words} limit exceeded: 31 from {client} for service submission"
            ));
            assert_eq!(ev["postfix"]["event"], "rate_limit");
            let l = &ev["postfix"]["limit"];
            assert_eq!(
                (l["kind"].as_str(), l["count"].as_u64(), l["service"].as_str()),
                (Some(want), Some(31), Some("submission"))
            );
            assert_eq!(
                (ev["client"]["ip"].as_str(), ev["client"]["port"].as_u64()),
                (Some(ip), port)
            );
        }
    }
}

#[test]
fn rate_limit_is_session_evidence() {
    let evs = events(&[
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: connect from unknown[192.0.2.25]",
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: warning: Connection rate limit exceeded: 31 from unknown[192.0.2.25] for service smtp",
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: disconnect from unknown[192.0.2.25] commands=0/0",
    ]);
    let probe = &evs[2]["probe"];
    assert!(probe["flags"].as_array().unwrap().iter().any(|f| f == "rate_limited"));
    let reasons: Vec<&str> = probe["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(reasons.contains(&"rate limit hit (connection_rate)"), "{reasons:?}");
    assert_eq!(evs[1]["postfix"]["session_id"], evs[0]["postfix"]["session_id"]);
}

#[test]
fn anvil_statistics_split_ident_at_first_colon() {
    for (metric, value, ident, service, ip) in [
        ("connection rate", "1/60s", "smtp:192.0.2.25", "smtp", "192.0.2.25"),
        (
            "connection count",
            "4",
            "smtpd:2604:8d00:0:1::3",
            "smtpd",
            "2604:8d00:0:1::3",
        ),
        (
            "message rate",
            "12/60s",
            "submission:198.51.100.9",
            "submission",
            "198.51.100.9",
        ),
        ("recipient rate", "40/60s", "smtp:::1", "smtp", "::1"),
        ("newtls rate", "2/60s", "smtp:192.0.2.25", "smtp", "192.0.2.25"),
        (
            "auth rate",
            "9/60s",
            "submission:2001:db8::7",
            "submission",
            "2001:db8::7",
        ),
    ] {
        let ev = one(&format!(
            "Nov 26 16:06:09 mx1 postfix/anvil[600]: statistics: max {metric} {value} for ({ident}) at Nov 26 16:05:09"
        ));
        assert_eq!(ev["postfix"]["event"], "anvil");
        let a = &ev["postfix"]["anvil"];
        assert_eq!(a["metric"], metric);
        assert_eq!(a["service"], service);
        assert_eq!(a["value"].as_u64(), value.split('/').next().unwrap().parse().ok());
        assert_eq!(ev["client"]["ip"], ip);
    }
    let ev = one("Nov 26 16:06:09 mx1 postfix/anvil[600]: statistics: max cache size 3 at Nov 26 16:05:09");
    assert_eq!(
        (ev["postfix"]["anvil"]["value"].as_u64(), ev["client"].is_null()),
        (Some(3), true)
    );
}

#[test]
fn bare_newline_is_a_protocol_violation() {
    let evs = events(&[
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: connect from unknown[192.0.2.27]:41000",
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: bare <LF> received after DATA (120 bytes) from unknown[192.0.2.27]:41000",
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: disconnect from unknown[192.0.2.27]:41000 ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4",
    ]);
    assert_eq!(evs[1]["postfix"]["event"], "bare_newline");
    assert_eq!(evs[1]["smtp"]["stage"], "DATA");
    assert_eq!(
        (evs[1]["client"]["ip"].as_str(), evs[1]["client"]["port"].as_u64()),
        (Some("192.0.2.27"), Some(41000))
    );
    let reasons = evs[2]["probe"]["reasons"].to_string();
    assert!(reasons.contains("bare <LF> received"), "{reasons}");
}

#[test]
fn other_lines_that_name_a_message_or_client() {
    let ev = one("Nov 26 16:06:09 mx1 postfix/cleanup[300]: warning: 3F2A81C0B4: header_checks map lookup problem -- message not accepted, try again later");
    assert_eq!(
        (ev["postfix"]["event"].as_str(), ev["postfix"]["queue_id"].as_str()),
        (Some("message_warning"), Some("3F2A81C0B4"))
    );
    // A warning's subject: the first name[IP] label, wherever it stands.
    let ev = one("Nov 26 16:06:09 mx1 postfix/smtpd[4250]: warning: 3F2A81C0B4: too much BDAT content -- disabling further input from unknown[2001:db8::7]:52814");
    assert_eq!(
        (
            ev["postfix"]["event"].as_str(),
            ev["client"]["ip"].as_str(),
            ev["postfix"]["queue_id"].as_str()
        ),
        (Some("client_warning"), Some("2001:db8::7"), Some("3F2A81C0B4"))
    );
    let ev = smtp("warning: to prevent loss of mail, turn off command pipelining for mx.example.net[203.0.113.9]:25 with the smtp_pipelining parameter");
    assert_eq!(
        (ev["postfix"]["event"].as_str(), ev["server"]["ip"].as_str()),
        (Some("server_warning"), Some("203.0.113.9"))
    );
    let ev = one("Nov 26 16:06:09 mx1 postfix/smtpd[4250]: warning: dict_nis_init: NIS domain name not set - NIS lookups disabled");
    assert_eq!(ev["postfix"]["event"], "warning");
    let ev = one(
        "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: unknown[192.0.2.7]: replacing command \"EHLO x\" with \"EHLO y\"",
    );
    assert_eq!(
        (ev["postfix"]["event"].as_str(), ev["client"]["ip"].as_str()),
        (Some("client_warning"), Some("192.0.2.7"))
    );
    let ev = one("Nov 26 16:06:09 mx1 postfix/smtpd[4250]: proxy-accept: END-OF-MESSAGE: 250 2.0.0 Ok: queued as 4Q1ZmK3kH1zJrw; from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<mail.example.org>");
    assert_eq!(ev["postfix"]["event"], "policy");
    assert_eq!(ev["postfix"]["related_queue_id"], "4Q1ZmK3kH1zJrw");
    assert_eq!(
        (ev["smtp"]["stage"].as_str(), reply(&ev).0),
        (Some("END-OF-MESSAGE"), 250)
    );
    assert_eq!(ev["email"]["to"]["address"], "b@example.com");
    let ev = one("Nov 26 16:06:09 mx1 postfix/smtpd[4250]: proxy-reject: END-OF-MESSAGE: 554 5.7.1 Spam detected; from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<mail.example.org>");
    assert_eq!(ev["postfix"]["event"], "reject");
    assert_eq!(reply(&ev), (554, Some("5.7.1"), "Spam detected"));
    let ev = one(
        "Nov 26 16:06:09 mx1 postfix/cleanup[300]: 3F2A81C0B4: message-id=<20261126.x@example.org>(added by relay)",
    );
    assert_eq!(ev["email"]["message_id"], "20261126.x@example.org");
    assert_eq!(ev["postfix"]["message_id_trailing"], "(added by relay)");
    let ev = one("Nov 26 16:06:09 mx1 postfix/cleanup[300]: 3F2A81C0B4: message-id=<20261126.x@example.org>");
    assert!(ev["postfix"]["message_id_trailing"].is_null());
    let ev =
        one("Nov 26 16:06:09 mx1 postfix/smtpd[4250]: warning: unknown[192.0.2.7]: SASL PLAIN authentication failed: ");
    assert_eq!(ev["postfix"]["event"], "sasl_failure");
    assert!(ev["postfix"]["sasl"]["reason"].is_null(), "{}", ev["postfix"]["sasl"]);
}

/// Real Postfix 3.7 lines (tests/corpus, scenario anvil_message_rate): the
/// refused MAIL and RCPT are the limits' doing, logged as warnings rather
/// than rejects, so they are no protocol violation and the two messages
/// that did go through make the session `mail_accepted`.
#[test]
fn rate_limited_commands_are_not_a_protocol_violation() {
    let evs = events(&[
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: connect from unknown[127.0.0.44]:38553",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: 81B0C1F00B0: client=unknown[127.0.0.44]:38553",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: 82CE81F00B1: client=unknown[127.0.0.44]:38553",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: warning: Recipient address rate limit exceeded: 4 from unknown[127.0.0.44]:38553 for service smtp",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: warning: Message delivery request rate limit exceeded: 3 from unknown[127.0.0.44]:38553 for service smtp",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: disconnect from unknown[127.0.0.44]:38553 ehlo=1 mail=2/3 rcpt=3/4 data=2 quit=1 commands=9/11",
    ]);
    let probe = &evs[5]["probe"];
    assert_eq!(probe["class"], "mail_accepted", "{probe}");
    // Without the warnings the same statistics are unexplained failures.
    let evs = events(&[
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: connect from unknown[127.0.0.44]:38553",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: 81B0C1F00B0: client=unknown[127.0.0.44]:38553",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: 82CE81F00B1: client=unknown[127.0.0.44]:38553",
        "Nov 30 18:34:52 mail postfix/smtpd[29666]: disconnect from unknown[127.0.0.44]:38553 ehlo=1 mail=2/3 rcpt=3/4 data=2 quit=1 commands=9/11",
    ]);
    assert_eq!(evs[3]["probe"]["class"], "protocol_violation");
}

/// smtp_proto.c `smtp_hbc_logger` (`QID: action: header|body line[: text]`):
/// the same kind as cleanup's header/body checks, on the outbound side.
#[test]
fn smtp_header_and_body_checks_are_policy_events() {
    for (daemon, msg, action, stage, reason) in [
        (
            "smtp",
            "3F2A81C0B4: warning: header X-Mailer: PHPMailer 5.2.1",
            "warning",
            "header",
            "X-Mailer: PHPMailer 5.2.1",
        ),
        (
            "smtp",
            "4Q1ZmK3kH1zJrw: replace: header X-Originating-IP: 10.1.2.3: X-Originating-IP: removed",
            "replace",
            "header",
            "X-Originating-IP: 10.1.2.3: X-Originating-IP: removed",
        ),
        (
            "lmtp",
            "3F2A81C0B4: info: body Unsubscribe: https://lists.example.org/u: list footer",
            "info",
            "body",
            "Unsubscribe: https://lists.example.org/u: list footer",
        ),
        (
            "smtp",
            "3F2A81C0B4: strip: header Received: from x ",
            "strip",
            "header",
            "Received: from x",
        ),
    ] {
        let ev = one(&format!("Nov 26 16:06:09 mx1 postfix/{daemon}[5151]: {msg}"));
        assert_eq!(ev["postfix"]["event"], "policy", "{msg}");
        let qid = msg.split(':').next().unwrap();
        assert_eq!(ev["postfix"]["queue_id"], qid);
        assert_eq!(ev["smtp"]["stage"], stage);
        assert_eq!(ev["smtp"]["reject"]["action"], action);
        assert_eq!(ev["smtp"]["reject"]["reason"], reason);
        assert_eq!(ev["smtp"]["reject"]["class"], "content");
        assert_eq!(ev["email"]["direction"], "outbound");
    }
    // A word header_body_checks.c does not log, or a place that is not
    // header/body, is not taken for an action.
    let ev = smtp("3F2A81C0B4: hold: header X-Spam: yes");
    assert_eq!(ev["postfix"]["event"], "queue_note");
}

#[test]
fn line_folding_names_message_and_limit() {
    for (qid, n) in [("3F2A81C0B4", 990), ("4Q1ZmK3kH1zJrw", 2048)] {
        let ev = smtp(&format!("{qid}: breaking line > {n} bytes with <CR><LF>SPACE"));
        assert_eq!(ev["postfix"]["event"], "long_line");
        assert_eq!(ev["postfix"]["queue_id"], qid);
        assert_eq!(ev["postfix"]["bytes"], n);
    }
}

/// smtp_proto.c's notes about the server: `host %s offers SMTPUTF8 support,
/// but not 8BITMIME` (namaddr) and `Host offered STARTTLS: [%s]` (the
/// next-hop host, an address for a literal next hop).
#[test]
fn server_capability_notes_name_the_server() {
    for (label, ip, name, port) in [
        (
            "mx.example.net[203.0.113.9]:25",
            "203.0.113.9",
            Some("mx.example.net"),
            Some(25),
        ),
        (
            "mail.example.org[2001:db8::25]:587",
            "2001:db8::25",
            Some("mail.example.org"),
            Some(587),
        ),
    ] {
        let ev = smtp(&format!("host {label} offers SMTPUTF8 support, but not 8BITMIME"));
        assert_eq!(ev["postfix"]["event"], "server_warning", "{label}");
        assert_eq!(ev["log"]["level"], "info");
        assert_eq!(ev["server"]["ip"], ip);
        assert_eq!(ev["server"]["domain"].as_str(), name);
        assert_eq!(ev["server"]["port"].as_u64(), port);
    }
    let ev = smtp("Host offered STARTTLS: [mx.example.net]");
    assert_eq!(
        (ev["postfix"]["event"].as_str(), ev["tls"]["action"].as_str()),
        (Some("tls"), Some("starttls_offered"))
    );
    assert_eq!(ev["server"]["domain"], "mx.example.net");
    assert!(ev["server"]["ip"].is_null() && ev["client"].is_null());
    for addr in ["192.0.2.25", "2001:db8::25"] {
        let ev = smtp(&format!("Host offered STARTTLS: [{addr}]"));
        assert_eq!(ev["tls"]["action"], "starttls_offered");
        assert_eq!(ev["server"]["ip"], addr);
        assert!(ev["server"]["domain"].is_null());
    }
}

/// smtpd_chat.c: smtpd_reject_filter_maps logs the reply it replaced and the
/// one it sent, under the transaction's queue id or NOQUEUE.
#[test]
fn reply_filter_lines_carry_the_reply() {
    let evs = events(&[
        "Nov 26 16:06:09 mx1 postfix/smtpd[4260]: connect from unknown[192.0.2.31]:41000",
        "Nov 26 16:06:09 mx1 postfix/smtpd[4260]: NOQUEUE: reply filter in: 554 5.7.1 <b@example.com>: Relay access denied",
        "Nov 26 16:06:09 mx1 postfix/smtpd[4260]: NOQUEUE: reply filter out: 550 5.7.1 Relaying is not offered here",
        "Nov 26 16:06:10 mx1 postfix/smtpd[4260]: 3F2A81C0B4: reply filter in: 450 4.7.1 <b@example.com>: Recipient address rejected: try later",
    ]);
    let id = evs[0]["postfix"]["session_id"].as_str().unwrap();
    for (ev, side, code, enhanced, text, qid) in [
        (
            &evs[1],
            "in",
            554,
            "5.7.1",
            "<b@example.com>: Relay access denied",
            None,
        ),
        (&evs[2], "out", 550, "5.7.1", "Relaying is not offered here", None),
        (
            &evs[3],
            "in",
            450,
            "4.7.1",
            "<b@example.com>: Recipient address rejected: try later",
            Some("3F2A81C0B4"),
        ),
    ] {
        assert_eq!(ev["postfix"]["event"], "reply_filter");
        assert_eq!(ev["postfix"]["detail"], side);
        assert_eq!(reply(ev), (code, Some(enhanced), text));
        assert_eq!(ev["smtp"]["direction"], "server_to_client");
        assert_eq!(ev["postfix"]["queue_id"].as_str(), qid);
        assert_eq!(ev["postfix"]["session_id"], id, "the line belongs to its smtpd session");
    }
}

/// Queue-file notes of the delivery agents and the bounce service
/// (deliver_pass.c, bounce.c, abounce.c, bounce_trace_service.c, cleanup).
#[test]
fn queue_notes_get_kinds_and_fields() {
    let ev =
        one("Nov 26 16:06:09 mx1 postfix/local[900]: 3F2A81C0B4: passing <alice@example.org> to transport=dovecot");
    assert_eq!(ev["postfix"]["event"], "transport_handoff");
    assert_eq!(ev["email"]["to"]["address"], "alice@example.org");
    assert_eq!(ev["postfix"]["detail"], "dovecot");
    assert_eq!(ev["postfix"]["queue_id"], "3F2A81C0B4");
    for (daemon, notice) in [
        ("local", "bounce"),
        ("smtp", "bounce"),
        ("qmgr", "delay warning"),
        ("qmgr", "verp-bounce"),
        ("qmgr", "trace"),
    ] {
        let ev = one(&format!(
            "Nov 26 16:06:09 mx1 postfix/{daemon}[900]: 4Q1ZmK3kH1zJrw: status=deferred ({notice} failed)"
        ));
        assert_eq!(ev["postfix"]["event"], "notice_failed", "{daemon} {notice}");
        assert_eq!(ev["postfix"]["queue_id"], "4Q1ZmK3kH1zJrw");
        assert_eq!(ev["postfix"]["detail"], notice);
        assert_eq!(ev["postfix"]["delivery"]["status"], "deferred");
        assert_eq!(ev["postfix"]["delivery"]["text"], format!("{notice} failed"));
        assert!(ev["email"]["to"].is_null(), "message-wide: no recipient");
    }
    for which in ["double-bounce", "single-bounce"] {
        let text = format!("not sending trace/success notification for {which} message");
        let ev = one(&format!("Nov 26 16:06:09 mx1 postfix/bounce[901]: 3F2A81C0B4: {text}"));
        assert_eq!(ev["postfix"]["event"], "bounce");
        assert_eq!(ev["postfix"]["detail"], text);
        assert!(ev["postfix"]["related_queue_id"].is_null(), "no notice was made");
    }
    // cleanup_masquerade.c logs at info what the other modules log as a warning.
    for prefix in ["", "warning: "] {
        let ev = one(&format!("Nov 26 16:06:09 mx1 postfix/cleanup[300]: {prefix}3F2A81C0B4: masquerade_exceptions map lookup problem -- message not accepted, try again later"));
        assert_eq!(ev["postfix"]["event"], "message_warning", "{prefix}");
        assert_eq!(ev["postfix"]["queue_id"], "3F2A81C0B4");
    }
}

/// tls_prng_egd.c names the entropy daemon's socket, which is no peer.
#[test]
fn egd_failures_are_tls_prng_facts() {
    for msg in [
        "cannot write to EGD server /var/run/egd-pool: Broken pipe",
        "cannot read from EGD server /var/run/egd-pool: Connection reset by peer",
        "EGD server /var/run/egd-pool reports zero bytes available",
        "cannot read 32 bytes from EGD server /var/run/egd-pool: Resource temporarily unavailable",
    ] {
        let ev = one(&format!("Nov 26 16:06:09 mx1 postfix/tlsmgr[77]: {msg}"));
        assert_eq!(ev["postfix"]["event"], "tls", "{msg}");
        assert_eq!(ev["tls"]["action"], "prng");
        assert_eq!(ev["tls"]["detail"], msg);
        assert!(ev["server"].is_null() && ev["client"].is_null());
    }
}

/// smtpd_peer.c: `hostname %s does not resolve to address %s[: %s]`; an
/// IPv6 address keeps its colons, the resolver's error is not part of it.
#[test]
fn forward_check_warnings_keep_the_whole_address() {
    for (tail, ip) in [
        ("192.0.2.10", "192.0.2.10"),
        ("192.0.2.10: Name or service not known", "192.0.2.10"),
        ("2001:db8::25", "2001:db8::25"),
        ("2001:db8::25: Temporary failure in name resolution", "2001:db8::25"),
        ("2001:db8::: Name or service not known", "2001:db8::"),
    ] {
        let ev = one(&format!(
            "Nov 26 16:06:09 mx1 postfix/smtpd[4250]: warning: hostname mail.example.org does not resolve to address {tail}"
        ));
        assert_eq!(ev["postfix"]["event"], "reverse_dns_mismatch");
        assert_eq!(ev["client"]["ip"], ip, "{tail}");
        assert_eq!(ev["client"]["domain"], "mail.example.org");
    }
}
