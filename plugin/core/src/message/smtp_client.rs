//! The smtp/lmtp client's side of a delivery: what a remote server answered
//! or how talking to it failed. Postfix builds these texts from a small
//! grammar (smtp_proto.c, smtp_trouble.c, smtp_connect.c, smtp_sasl_glue.c):
//! `host H[A] said: <reply> (in reply to <X> command)`, `lost connection
//! with H[A] while <doing X>`, `conversation with H[A] timed out while
//! <doing X>`, `host H[A] refused to talk to me: <reply>`, `connect to
//! H[A]:P: <errno text>`, `SASL authentication failed; server H[A] said:
//! <reply>`. The same texts appear as `QID: <text>` lines (a non-final
//! attempt) and inside `status=... (<text>)` of delivery lines, so one parser
//! serves both and the stage is read from the phrase, not from whole lines.

use super::fields::{self, Peer, Reply};
use super::Message;

/// How a delivery attempt to a remote SMTP/LMTP server went wrong, parsed
/// from a `QID: <text>` line or from a delivery line's status text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteReply<'a> {
    /// `remote_reply` (the server answered 4xx/5xx), `refused_to_talk` (4xx/5xx
    /// greeting or HELO/EHLO reply), `lost_connection`, `timeout`,
    /// `connect_failed`, `sasl_failed`, `tls_failed`, `local_data_error`;
    /// `None` when the server accepted (a 2xx reply in a delivery text).
    pub failure: Option<&'static str>,
    /// The server as Postfix named it (`host[addr]:port`, or a socket path in `addr`).
    pub server: Option<Peer<'a>>,
    /// The server's reply, when it answered.
    pub reply: Option<Reply<'a>>,
    /// Protocol stage, in smtpd's vocabulary: CONNECT, EHLO, HELO, LHLO,
    /// STARTTLS, AUTH, XFORWARD, MAIL, RCPT, DATA, END-OF-MESSAGE, RSET, QUIT.
    pub stage: Option<&'static str>,
    /// What is not a reply: the system error of a failed connect, the
    /// `while ...` phrase as logged, or the SASL/TLS problem.
    pub detail: Option<&'a str>,
}

/// The stage a `while <phrase>` or `in reply to <phrase>` names. Phrases are
/// Postfix's own (`xfer_states`, `xfer_request` and the `where` strings of
/// smtp_proto.c); an unknown phrase yields its first upper-case word, so a
/// future `sending FOO` still gives `FOO`.
fn stage_of(phrase: &str) -> Option<&'static str> {
    const STAGES: [(&str, &str); 17] = [
        ("receiving the initial server greeting", "CONNECT"),
        ("performing the EHLO handshake", "EHLO"),
        ("performing the HELO handshake", "HELO"),
        ("performing the LHLO handshake", "LHLO"),
        ("receiving the STARTTLS response", "STARTTLS"),
        ("performing the TLS handshake", "STARTTLS"),
        ("sending end of data", "END-OF-MESSAGE"),
        ("end of DATA", "END-OF-MESSAGE"),
        ("sending message body", "DATA"),
        ("sending DATA", "DATA"),
        ("DATA command", "DATA"),
        ("MAIL FROM", "MAIL"),
        ("RCPT TO", "RCPT"),
        ("XFORWARD", "XFORWARD"),
        ("RSET", "RSET"),
        ("QUIT", "QUIT"),
        ("AUTH", "AUTH"),
    ];
    if let Some((_, s)) = STAGES.iter().find(|(p, _)| phrase.contains(p)) {
        return Some(s);
    }
    phrase
        .split([' ', '/'])
        .find(|w| w.len() >= 4 && w.bytes().all(|b| b.is_ascii_uppercase()))
        .and_then(|w| {
            const VERBS: [&str; 8] = ["EHLO", "HELO", "LHLO", "STARTTLS", "BDAT", "VRFY", "NOOP", "ETRN"];
            VERBS.iter().copied().find(|v| *v == w)
        })
}

/// Splits `H[A](:P)<sep>rest` where `sep` must follow the peer.
fn peer_then<'a>(s: &'a str, sep: &str) -> Option<(Peer<'a>, &'a str)> {
    let (peer, rest) = fields::peer(s)?;
    Some((peer, rest.strip_prefix(sep)?))
}

/// Parses the text of a client-side problem; `None` when it is not one.
pub fn parse(text: &str) -> Option<RemoteReply<'_>> {
    let first = *text.as_bytes().first()?;
    match first {
        b'h' => {
            let rest = text.strip_prefix("host ")?;
            if let Some((server, said)) = peer_then(rest, " said: ") {
                return Some(said_text(server, said, "remote_reply"));
            }
            let (server, said) = peer_then(rest, " refused to talk to me: ")?;
            // The greeting and the HELO/EHLO/LHLO reply use the same words,
            // so the stage is not known.
            let reply = fields::reply(said);
            return Some(RemoteReply {
                failure: Some("refused_to_talk"),
                server: Some(server),
                reply,
                detail: reply.is_none().then_some(said),
                ..RemoteReply::default()
            });
        }
        b'l' => {
            if let Some(rest) = text.strip_prefix("lost connection with ") {
                let (server, phrase) = peer_then(rest, " while ")?;
                return Some(phrase_failure(server, phrase, "lost_connection"));
            }
            if let Some(rest) = text.strip_prefix("local data error while talking to ") {
                let (server, _) = fields::peer(rest)?;
                return Some(RemoteReply {
                    failure: Some("local_data_error"),
                    server: Some(server),
                    ..RemoteReply::default()
                });
            }
        }
        b'c' => {
            if let Some(rest) = text.strip_prefix("conversation with ") {
                let (server, phrase) = peer_then(rest, " timed out while ")?;
                return Some(phrase_failure(server, phrase, "timeout"));
            }
            if let Some(rest) = text.strip_prefix("connect to ") {
                return connect_failure(rest);
            }
        }
        b'S' => return sasl_failure(text).or_else(|| tls_failure(text)),
        b'T' | b'C' => return tls_failure(text),
        _ => {}
    }
    None
}

/// `said: <reply> (in reply to <X>)`: the reply is everything before the
/// last ` (in reply to `, which cannot occur in the reply Postfix flattened.
fn said_text<'a>(server: Peer<'a>, said: &'a str, failure: &'static str) -> RemoteReply<'a> {
    let (reply_text, stage) = match said.rsplit_once(" (in reply to ") {
        Some((r, x)) => (r, stage_of(x.strip_suffix(')').unwrap_or(x))),
        None => (said, None),
    };
    let reply = fields::reply(reply_text);
    RemoteReply {
        failure: Some(failure),
        server: Some(server),
        reply,
        stage,
        detail: reply.is_none().then_some(reply_text),
    }
}

fn phrase_failure<'a>(server: Peer<'a>, phrase: &'a str, failure: &'static str) -> RemoteReply<'a> {
    RemoteReply {
        failure: Some(failure),
        server: Some(server),
        stage: stage_of(phrase),
        detail: Some(phrase),
        ..RemoteReply::default()
    }
}

/// `connect to H[A]:P: <errno text>`, `connect to H[A]: <errno text>` and
/// the socket forms `connect to private/lmtp: <errno text>`.
fn connect_failure(rest: &str) -> Option<RemoteReply<'_>> {
    let (server, reason) = match fields::peer(rest) {
        Some((p, r)) => (p, r.strip_prefix(": ")?),
        None => {
            let (path, reason) = rest.split_once(": ")?;
            if path.is_empty() || path.contains(' ') {
                return None;
            }
            let p = Peer {
                name: "",
                addr: path,
                port: None,
            };
            (p, reason)
        }
    };
    Some(RemoteReply {
        failure: Some("connect_failed"),
        server: Some(server),
        stage: Some("CONNECT"),
        detail: Some(reason),
        ..RemoteReply::default()
    })
}

/// smtp_sasl_glue.c / smtp_sasl_proto.c: `SASL [CACHED] authentication
/// failed; server H[A] said: <reply>`, `...; cannot authenticate to server
/// H[A]: <why>`, `...; authentication protocol loop with server H[A]`,
/// `...; non-empty initial X challenge from server H[A]: <c>`,
/// `SASL authentication failed: server H[A] offered no compatible ...`.
fn sasl_failure(text: &str) -> Option<RemoteReply<'_>> {
    let rest = text
        .strip_prefix("SASL authentication failed")
        .or_else(|| text.strip_prefix("SASL [CACHED] authentication failed"))?;
    let rest = rest.strip_prefix("; ").or_else(|| rest.strip_prefix(": "))?;
    let at = rest.find("server ")?;
    let (server, after) = fields::peer(&rest[at + 7..])?;
    let mut r = match after.strip_prefix(" said: ") {
        Some(said) => said_text(server, said, "sasl_failed"),
        None => RemoteReply {
            failure: Some("sasl_failed"),
            server: Some(server),
            detail: Some(rest),
            ..RemoteReply::default()
        },
    };
    r.stage = Some("AUTH");
    Some(r)
}

/// smtp_proto.c's TLS problems: `TLS is required, but host H[A] refused to
/// start TLS: <reply>`, `TLS is required, but was not offered by host H[A]`,
/// `Cannot start TLS: handshake failure`, `Server certificate not verified`.
fn tls_failure(text: &str) -> Option<RemoteReply<'_>> {
    let known = [
        "TLS is required, but ",
        "Cannot start TLS: ",
        "Server certificate not verified",
        "Sender requested REQUIRETLS, but ",
    ];
    if !known.iter().any(|k| text.starts_with(k)) {
        return None;
    }
    let server = text
        .find("host ")
        .map(|i| i + 5)
        .or_else(|| text.rfind("server was ").map(|i| i + 11))
        .and_then(|i| fields::peer(&text[i..]));
    // "... host H[A] refused to start TLS: <reply>": the reply follows the first ": ".
    let reply = server
        .and_then(|(_, r)| r.split_once(": "))
        .and_then(|(_, r)| fields::reply(r));
    Some(RemoteReply {
        failure: Some("tls_failed"),
        server: server.map(|(p, _)| p),
        reply,
        stage: Some("STARTTLS"),
        detail: Some(text),
    })
}

/// A delivery line's status text: a problem as above, or a 2xx/4xx/5xx reply
/// the remote gave for a final status (`250 2.0.0 Ok: queued as X`).
pub fn delivery_text(text: &str) -> Option<RemoteReply<'_>> {
    // qmgr's throttled destinations repeat the earlier reason.
    let text = text.strip_prefix("delivery temporarily suspended: ").unwrap_or(text);
    if let Some(r) = parse(text) {
        return Some(r);
    }
    let Some(reply) = fields::reply(text) else {
        // Other texts that name the server ("message size N exceeds size
        // limit M of server H[A]", "The last attempted server was H[A]").
        let server = fields::peer_in(text)?;
        return Some(RemoteReply {
            server: Some(server),
            ..RemoteReply::default()
        });
    };
    Some(RemoteReply {
        failure: (reply.code >= 400).then_some("remote_reply"),
        reply: Some(reply),
        stage: (reply.code < 400).then_some("END-OF-MESSAGE"),
        ..RemoteReply::default()
    })
}

/// `QID: enabling PIX workarounds: <words> for H[A]:P` (smtp_proto.c).
fn pix<'a>(queue_id: &'a str, rest: &'a str) -> Option<Message<'a>> {
    let words = rest.strip_prefix("enabling PIX workarounds: ")?;
    let (words, server) = words.rsplit_once(" for ")?;
    let server = fields::peer_exact(server)?;
    Some(Message::PixWorkaround {
        queue_id,
        server,
        workarounds: words,
    })
}

/// smtp/lmtp `QID: <text>` and `connect to ...` lines about a remote server.
pub(super) fn parse_line(body: &str) -> Option<Message<'_>> {
    let (queue_id, text) = match fields::queue_prefix(body) {
        Some((qid, rest)) => (qid, rest),
        None => (None, body),
    };
    if let Some(qid) = queue_id {
        if let Some(m) = pix(qid, text).or_else(|| super::notes::smtp_queue_note(qid, text)) {
            return Some(m);
        }
    } else if let Some(m) = super::notes::smtp_server_note(text) {
        return Some(m);
    }
    let remote = parse(text)?;
    Some(Message::RemoteFailure { queue_id, remote })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let r = parse("host mx.example.net[203.0.113.9] said: 451 4.7.1 Greylisted, try again later (in reply to RCPT TO command)").unwrap();
        assert_eq!((r.failure, r.stage), (Some("remote_reply"), Some("RCPT")));
        let reply = r.reply.unwrap();
        assert_eq!(
            (reply.code, reply.enhanced, reply.text),
            (451, Some("4.7.1"), "Greylisted, try again later")
        );
        assert_eq!(r.server.unwrap().addr, "203.0.113.9");
        let r =
            parse("lost connection with mx[192.0.2.1] while sending end of data -- message may be sent more than once")
                .unwrap();
        assert_eq!((r.failure, r.stage), (Some("lost_connection"), Some("END-OF-MESSAGE")));
        let r = parse("conversation with mx[192.0.2.1] timed out while performing the LHLO handshake").unwrap();
        assert_eq!((r.failure, r.stage), (Some("timeout"), Some("LHLO")));
        let r = parse("connect to private/dovecot-lmtp: No such file or directory").unwrap();
        assert_eq!(
            (r.server.unwrap().addr, r.detail),
            ("private/dovecot-lmtp", Some("No such file or directory"))
        );
        assert!(parse("delivered to mailbox").is_none());
        assert!(parse("host not found").is_none());
    }
}
