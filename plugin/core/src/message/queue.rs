//! Messages about queued mail: cleanup, qmgr, the delivery agents (smtp, lmtp,
//! local, virtual, pipe, error, ...), bounce, pickup and postsuper, plus the
//! smtp client's own trace and dnsblog hits.

use super::chat::{self, ChatSide, Redaction};
use super::{fields, smtp_client};
use super::{Delivery, Message, Severity};

/// smtp/lmtp: the client trace runs the other way (`>` is what Postfix sent as client).
pub(super) fn parse_client<'a>(severity: Severity, body: &'a str, redaction: &mut Option<Redaction>) -> Message<'a> {
    if severity == Severity::Info && (body.starts_with('<') || body.starts_with('>')) {
        if let Some(c) = chat::parse(body, ChatSide::Sent, redaction) {
            return Message::Chat(c);
        }
    }
    if let Some(m) = smtp_client::parse_line(body) {
        return m;
    }
    parse("smtp", severity, body)
}

pub(super) fn parse<'a>(daemon: &str, severity: Severity, body: &'a str) -> Message<'a> {
    let Some((Some(qid), rest)) = fields::queue_prefix(body) else {
        return Message::Unparsed;
    };
    if severity != Severity::Info {
        return Message::Unparsed;
    }
    if rest.starts_with("to=<") {
        return parse_delivery(rest).map_or(Message::QueueNote(qid, rest), |d| Message::Delivery(qid, Box::new(d)));
    }
    if let Some(from) = rest.strip_prefix("from=<") {
        let (sender, tail) = match from.find(">, ") {
            Some(i) => (&from[..i], &from[i + 3..]),
            None => (from.trim_end_matches('>'), ""),
        };
        if let Some(status) = tail.strip_prefix("status=") {
            let status = status.split([',', ' ']).next().unwrap_or(status);
            return Message::Expired(qid, sender, status);
        }
        return Message::QueueActive {
            queue_id: qid,
            from: sender,
            size: fields::plain_field(tail, "size").and_then(fields::num),
            nrcpt: fields::plain_field(tail, "nrcpt").and_then(fields::num),
        };
    }
    if rest == "removed" || rest.starts_with("removed (") {
        return Message::Removed(qid);
    }
    if let Some(id) = rest
        .strip_prefix("message-id=")
        .or_else(|| rest.strip_prefix("resent-message-id="))
    {
        return message_id(qid, id);
    }
    if let Some(r) = rest.strip_prefix("uid=") {
        let from = fields::angle_field(r, "from").unwrap_or("");
        return Message::Pickup(qid, from);
    }
    if daemon == "bounce" {
        if let Some((kind, new)) = rest.rsplit_once(" notification: ") {
            if fields::is_queue_id(new) {
                return Message::Notification {
                    queue_id: qid,
                    kind,
                    new_queue_id: new,
                };
            }
        }
    }
    if daemon == "cleanup" {
        if let Some(m) = cleanup_action(qid, rest) {
            return m;
        }
    }
    if let Some(m) = super::notes::queue_note(daemon, qid, rest) {
        return m;
    }
    Message::QueueNote(qid, rest)
}

/// `<id>` as cleanup logs it; a malformed header may leave text after the
/// `>` (`<x>junk`), which is kept apart rather than glued to the id.
fn message_id<'a>(qid: &'a str, id: &'a str) -> Message<'a> {
    let Some(inner) = id.strip_prefix('<') else {
        return Message::MessageId(qid, id.trim_end_matches('>'), None);
    };
    match inner.find('>') {
        Some(end) => {
            let trailing = &inner[end + 1..];
            Message::MessageId(qid, &inner[..end], (!trailing.is_empty()).then_some(trailing))
        }
        None => Message::MessageId(qid, inner, None),
    }
}

/// cleanup's header/body check and milter lines:
/// `<qid>: <action>: <header|body|END-OF-MESSAGE> <text> from <client>; from=<> to=<> ...[: text]`.
fn cleanup_action<'a>(qid: &'a str, rest: &'a str) -> Option<Message<'a>> {
    let (action, tail) = rest.split_once(": ")?;
    if action.contains(' ') {
        return None;
    }
    let (what, tail) = tail.split_once(' ')?;
    // Milter lines: "END-OF-MESSAGE from h[1.2.3.4]: 5.7.1 text; from=<> ..."
    if let Some(from_at) = tail.strip_prefix("from ") {
        let (client, after) = fields::peer(from_at)?;
        let after = after.strip_prefix(": ").unwrap_or(after);
        let policy = super::smtpd::policy_fields(action, what, after);
        return Some(Message::Policy {
            queue_id: Some(qid),
            client: Some(client),
            policy: Box::new(policy),
        });
    }
    // Header/body checks: the matched text may itself contain " from ", so take the last one.
    let (matched, after) = tail.rsplit_once(" from ")?;
    let (client, after) = match fields::peer(after) {
        Some((c, a)) => (Some(c), a),
        None => (None, after.split_once(';').map_or("", |(_, a)| a)),
    };
    let after = after.strip_prefix("; ").unwrap_or(after);
    let mut policy = super::smtpd::policy_fields(action, what, after);
    // The optional text after the fields ("...helo=<h>: text") is the reason.
    policy.reply = fields::Reply {
        code: 0,
        enhanced: None,
        text: after.rsplit_once(">: ").map_or(matched, |(_, t)| t),
        last: true,
    };
    Some(Message::Policy {
        queue_id: Some(qid),
        client,
        policy: Box::new(policy),
    })
}

/// `to=<r>[, orig_to=<o>], relay=R[, conn_use=N], delay=D, delays=a/b/c/d[, tls=T], dsn=X, status=S (text)`.
fn parse_delivery(s: &str) -> Option<Delivery<'_>> {
    let to = fields::angle_field(s, "to")?;
    let status_at = s.find(", status=")?;
    let (head, status_part) = (&s[..status_at], &s[status_at + 9..]);
    let (status, text) = match status_part.split_once(" (") {
        Some((st, t)) => (st, Some(t.strip_suffix(')').unwrap_or(t))),
        None => (status_part, None),
    };
    let relay = fields::plain_field(head, "relay").unwrap_or("");
    // relay= may be "host[addr]:port" (its own commas are impossible) or a name.
    let relay_full = head
        .find("relay=")
        .map(|i| {
            let r = &head[i + 6..];
            &r[..r.find(", ").unwrap_or(r.len())]
        })
        .unwrap_or(relay);
    let delays = fields::plain_field(head, "delays").and_then(|d| {
        let mut it = d.split('/').map(|x| x.parse::<f64>().ok());
        Some([it.next()??, it.next()??, it.next()??, it.next()??])
    });
    let next_queue_id = text.and_then(fields::queued_as);
    Some(Delivery {
        to,
        orig_to: fields::angle_field(head, "orig_to"),
        relay: relay_full,
        relay_peer: fields::peer_exact(relay_full),
        conn_use: fields::plain_field(head, "conn_use").and_then(fields::num),
        delay: fields::plain_field(head, "delay").and_then(fields::num),
        delays,
        tls: fields::plain_field(head, "tls"),
        dsn: fields::plain_field(head, "dsn"),
        status,
        text,
        next_queue_id,
        remote: text.and_then(smtp_client::delivery_text),
    })
}

/// dnsblog: `addr 192.0.2.7 listed by domain zen.spamhaus.org as 127.0.0.4`.
pub(super) fn parse_dnsblog(body: &str) -> Message<'_> {
    let parsed = body.strip_prefix("addr ").and_then(|r| {
        let (addr, r) = r.split_once(" listed by domain ")?;
        let (domain, result) = r.split_once(" as ")?;
        Some(Message::Dnsbl { addr, domain, result })
    });
    parsed.unwrap_or(Message::Unparsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_lines() {
        let m = parse("smtp", Severity::Info, "4Q1ZmK3kH1zJrw: to=<bob@example.net>, orig_to=<b@x>, relay=mx.example.net[203.0.113.5]:25, conn_use=2, delay=0.31, delays=0.05/0.01/0.12/0.13, tls=may, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3F2A81C0B4)");
        let Message::Delivery(qid, d) = m else { panic!("{m:?}") };
        assert_eq!(qid, "4Q1ZmK3kH1zJrw");
        assert_eq!(
            (d.to, d.orig_to, d.status, d.dsn),
            ("bob@example.net", Some("b@x"), "sent", Some("2.0.0"))
        );
        assert_eq!(d.relay_peer.unwrap().port, Some(25));
        assert_eq!(d.delays, Some([0.05, 0.01, 0.12, 0.13]));
        assert_eq!(d.next_queue_id, Some("3F2A81C0B4"));
        assert_eq!(d.conn_use, Some(2));
    }

    #[test]
    fn queue_lifecycle() {
        assert!(matches!(
            parse(
                "qmgr",
                Severity::Info,
                "3F2A81C0B4: from=<a@b>, size=1234, nrcpt=1 (queue active)"
            ),
            Message::QueueActive {
                size: Some(1234),
                nrcpt: Some(1),
                ..
            }
        ));
        assert!(matches!(
            parse(
                "qmgr",
                Severity::Info,
                "3F2A81C0B4: from=<a@b>, status=expired, returned to sender"
            ),
            Message::Expired("3F2A81C0B4", "a@b", "expired")
        ));
        // After `postsuper -e` (Postfix 3.7 wording, tests/corpus).
        assert!(matches!(
            parse(
                "qmgr",
                Severity::Info,
                "CFD401F00AB: from=<alice@lab.test>, status=force-expired, returned to sender"
            ),
            Message::Expired("CFD401F00AB", "alice@lab.test", "force-expired")
        ));
        assert!(matches!(
            parse("qmgr", Severity::Info, "3F2A81C0B4: removed"),
            Message::Removed(_)
        ));
        assert!(matches!(
            parse(
                "bounce",
                Severity::Info,
                "3F2A81C0B4: sender non-delivery notification: 4A2B3C4D5E"
            ),
            Message::Notification {
                new_queue_id: "4A2B3C4D5E",
                ..
            }
        ));
        assert!(matches!(
            parse("cleanup", Severity::Info, "3F2A81C0B4: message-id=<x@y>"),
            Message::MessageId(_, "x@y", None)
        ));
        match parse("cleanup", Severity::Info, "3F2A81C0B4: reject: header Subject: win from x from h[1.2.3.4]; from=<a@b> to=<c@d> proto=ESMTP helo=<h>: spam") {
            Message::Policy { policy, .. } => assert_eq!((policy.action, policy.stage, policy.reply.text), ("reject", "header", "spam")),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn dnsblog() {
        assert!(matches!(
            parse_dnsblog("addr 192.0.2.7 listed by domain zen.spamhaus.org as 127.0.0.4"),
            Message::Dnsbl { .. }
        ));
    }
}
