//! smtpd's messages: the session skeleton (connect, disconnect with its
//! statistics, abnormal ends), queue-id birth, policy lines, SASL failures,
//! protocol violations and the verbose trace.

use super::chat::{self, ChatSide, Redaction};
use super::fields::{self, Peer};
use super::{limits, DisconnectStats, EndReason, Message, Policy, Severity, VerbCount, STAT_VERBS};

pub(super) fn parse<'a>(severity: Severity, body: &'a str, redaction: &mut Option<Redaction>) -> Message<'a> {
    let Some(&first) = body.as_bytes().first() else {
        return Message::Unparsed;
    };
    if severity != Severity::Info {
        return parse_warning(body);
    }
    match first {
        b'<' | b'>' => {
            if let Some(c) = chat::parse(body, ChatSide::Received, redaction) {
                return Message::Chat(c);
            }
        }
        b'c' => {
            if let Some(rest) = body.strip_prefix("connect from ") {
                if let Some(p) = fields::peer_exact(rest) {
                    return Message::Connect(p);
                }
            }
        }
        b'd' => {
            if let Some(rest) = body.strip_prefix("disconnect from ") {
                if let Some((p, stats)) = fields::peer(rest) {
                    let stats = stats.strip_prefix(' ').and_then(parse_stats);
                    return Message::Disconnect(p, stats);
                }
            }
        }
        b'l' | b't' | b'b' => {
            if let Some(m) = session_end(None, body) {
                return m;
            }
        }
        b'p' => {
            if let Some(m) = proxy_verdict(body) {
                return m;
            }
        }
        b'i' => {
            if let Some(rest) = body.strip_prefix("improper command pipelining after ") {
                if let Some((stage, rest)) = rest.split_once(" from ") {
                    if let Some((client, data)) = fields::peer(rest) {
                        let data = data.strip_prefix(": ").unwrap_or(data);
                        return Message::ImproperPipelining { stage, client, data };
                    }
                }
            }
        }
        _ => {}
    }
    if let Some((qid, rest)) = fields::queue_prefix(body) {
        if let Some(m) = session_end(qid, rest) {
            return m;
        }
        if let (Some(queue_id), Some(c)) = (qid, rest.strip_prefix("client=")) {
            return queued(queue_id, c);
        }
        if let Some(m) = policy_line(qid, rest) {
            return m;
        }
        if let Some(m) = super::notes::reply_filter(qid, rest) {
            return m;
        }
    }
    Message::Unparsed
}

fn session_end<'a>(queue_id: Option<&'a str>, s: &'a str) -> Option<Message<'a>> {
    let (reason, rest) = if let Some(r) = s.strip_prefix("lost connection after ") {
        (EndReason::LostConnection, r)
    } else if let Some(r) = s.strip_prefix("timeout after ") {
        (EndReason::Timeout, r)
    } else if let Some(r) = s.strip_prefix("too many errors after ") {
        (EndReason::TooManyErrors, r)
    } else if let Some(r) = s.strip_prefix("bare <LF> received after ") {
        let (stage, client) = r.rsplit_once(" from ")?;
        let stage = stage.split(" (").next().unwrap_or(stage);
        let (client, _) = fields::peer(client)?;
        return Some(Message::BareNewline {
            queue_id,
            stage,
            client,
        });
    } else {
        return None;
    };
    let (stage_part, client) = rest.rsplit_once(" from ")?;
    let (stage, bytes) = match stage_part.split_once(" (") {
        Some((st, b)) => (st, b.strip_suffix(" bytes)").and_then(fields::num)),
        None => (stage_part, None),
    };
    let (client, _) = fields::peer(client)?;
    Some(Message::SessionEnd {
        queue_id,
        reason,
        stage,
        bytes,
        client,
    })
}

fn queued<'a>(queue_id: &'a str, s: &'a str) -> Message<'a> {
    let (client, rest) = fields::peer(s).unwrap_or_default_peer(s);
    Message::Queued {
        queue_id,
        client,
        sasl_method: fields::plain_field(rest, "sasl_method"),
        sasl_username: fields::plain_field(rest, "sasl_username"),
        orig_queue_id: fields::plain_field(rest, "orig_queue_id"),
    }
}

trait PeerOrDefault<'a> {
    fn unwrap_or_default_peer(self, s: &'a str) -> (Peer<'a>, &'a str);
}

impl<'a> PeerOrDefault<'a> for Option<(Peer<'a>, &'a str)> {
    /// `client=local` and similar have no brackets: keep the name.
    fn unwrap_or_default_peer(self, s: &'a str) -> (Peer<'a>, &'a str) {
        self.unwrap_or_else(|| {
            let end = s.find(',').unwrap_or(s.len());
            (
                Peer {
                    name: &s[..end],
                    addr: "",
                    port: None,
                },
                &s[end..],
            )
        })
    }
}

/// A before-queue content filter's verdict on a message:
/// `proxy-accept: END-OF-MESSAGE: 250 2.0.0 Ok: queued as X; from=<> to=<> ...`
/// or `proxy-reject: ...`: a policy line without client (smtpd.c logs none).
fn proxy_verdict(s: &str) -> Option<Message<'_>> {
    let (action, rest) = s.split_once(": ")?;
    if !matches!(action, "proxy-accept" | "proxy-reject") {
        return None;
    }
    let (stage, rest) = rest.split_once(": ")?;
    Some(Message::Policy {
        queue_id: None,
        client: None,
        policy: Box::new(policy_fields(action, stage, rest)),
    })
}

/// `<action>: <STATE> from <client>: <text>; from=<> to=<> proto= helo=<>`.
pub(super) fn policy_line<'a>(queue_id: Option<&'a str>, s: &'a str) -> Option<Message<'a>> {
    let (action, rest) = s.split_once(": ")?;
    if action.is_empty() || action.contains(' ') {
        return None;
    }
    let (stage, rest) = rest.split_once(" from ")?;
    if stage.contains(' ') {
        return None;
    }
    let (client, rest) = fields::peer(rest)?;
    let rest = rest.strip_prefix(": ")?;
    Some(Message::Policy {
        queue_id,
        client: Some(client),
        policy: Box::new(policy_fields(action, stage, rest)),
    })
}

/// The text and the trailing `; from=<> ...` fields of a policy line.
pub(super) fn policy_fields<'a>(action: &'a str, stage: &'a str, rest: &'a str) -> Policy<'a> {
    // The field list starts at the last "; from=<" (or "; to=<", "; proto=").
    let split = ["; from=<", "; to=<", "; proto=", "; helo=<"]
        .iter()
        .filter_map(|k| rest.rfind(k))
        .min();
    let (text, tail) = match split {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, ""),
    };
    let reply = fields::reply(text).unwrap_or(fields::Reply {
        code: 0,
        enhanced: fields::enhanced_code(text),
        text,
        last: true,
    });
    let reply = if reply.code == 0 {
        // cleanup's milter-reject has no 3-digit code: "5.7.1 text".
        match reply.enhanced {
            Some(e) => fields::Reply {
                text: text[e.len()..].trim_start(),
                ..reply
            },
            None => reply,
        }
    } else {
        reply
    };
    Policy {
        action,
        stage,
        reply,
        from: fields::angle_field(tail, "from"),
        to: fields::angle_field(tail, "to"),
        proto: fields::plain_field(tail, "proto"),
        helo: fields::angle_field(tail, "helo"),
        sasl_method: fields::plain_field(tail, "sasl_method"),
        sasl_username: fields::plain_field(tail, "sasl_username")
            .map(|u| u.trim_start_matches('<').trim_end_matches('>')),
    }
}

/// `verb=N[/M] ... commands=N[/M][ notes=bare_lf]`.
pub(super) fn parse_stats(s: &str) -> Option<DisconnectStats> {
    // One pass over the bytes, each item cut where its `=` and its space
    // are found, into a vector sized from the length (an item is at least
    // six bytes and a space): this runs for every session, and with
    // separate passes (`str::split`, a count of the spaces, a search for
    // each `=`) it took 988 instructions a session, against 792 in one
    // pass when this was written (callgrind, `report_flood 100000 10000`,
    // `ae056f9`).
    let b = s.as_bytes();
    let mut stats = DisconnectStats {
        counts: Vec::with_capacity(b.len() / 7 + 1),
        notes: None,
    };
    let mut i = 0;
    // `<=`: an empty input, or a space at the end, leaves an empty item,
    // which is refused like any item without `=`.
    while i <= b.len() {
        let key_start = i;
        while *b.get(i)? != b'=' {
            if b[i] == b' ' {
                return None;
            }
            i += 1;
        }
        let key = &b[key_start..i];
        let value_start = i + 1;
        i = value_start + space_or_end(&b[value_start..]);
        let value = &b[value_start..i];
        i += 1;
        if key == b"notes" {
            stats.notes = Some(if value == b"bare_lf" { "bare_lf" } else { "other" });
            continue;
        }
        let verb = STAT_VERBS
            .iter()
            .copied()
            .find(|v| v.len() == key.len() && v.as_bytes() == key)?;
        let (ok, total) = match value.iter().position(|&c| c == b'/') {
            Some(slash) => (count(&value[..slash])?, count(&value[slash + 1..])?),
            None => {
                let n = count(value)?;
                (n, n)
            }
        };
        stats.counts.push(VerbCount { verb, ok, total });
    }
    stats.get("commands")?;
    Some(stats)
}

/// Where the first space is, or the length: a byte loop, the values being
/// a few bytes long.
fn space_or_end(b: &[u8]) -> usize {
    b.iter().position(|&c| c == b' ').unwrap_or(b.len())
}

/// A decimal count as Postfix writes it: digits only, no sign; `None` on
/// anything else or on overflow. By hand because `str::parse` also takes a
/// leading `+`, and would want the bytes checked as UTF-8 first.
fn count(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| {
        let d = d.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u32::from(d))
    })
}

fn parse_warning(body: &str) -> Message<'_> {
    if let Some(m) = limits::parse_limit(body) {
        return m;
    }
    if let Some(rest) = body.strip_prefix("non-SMTP command from ") {
        if let Some((client, line)) = fields::peer(rest) {
            return Message::NonSmtpCommand(client, line.strip_prefix(": ").unwrap_or(line));
        }
    }
    if let Some(rest) = body.strip_prefix("Illegal address syntax from ") {
        if let Some((client, rest)) = fields::peer(rest) {
            let addr = rest.split_once("command: ").map_or(rest, |(_, a)| a);
            return Message::IllegalAddress(client, addr);
        }
    }
    if let Some(rest) = body.strip_prefix("hostname ") {
        if let Some((name, rest)) = rest.split_once(" does not resolve to address ") {
            // smtpd_peer.c: "... address %s" or "... address %s: %s" (the
            // resolver's error); an IPv6 address has colons of its own.
            let addr = rest.split(": ").next().unwrap_or(rest);
            return Message::HostnameMismatch(name, addr);
        }
    }
    if let Some((client, rest)) = fields::peer(body) {
        if let Some(rest) = rest.strip_prefix(": SASL ") {
            let (mechanism, rest) = fields::word(rest);
            if rest == "authentication aborted" {
                return Message::SaslFailure {
                    client,
                    mechanism,
                    reason: None,
                    username: None,
                    aborted: true,
                };
            }
            if let Some(reason) = rest.strip_prefix("authentication failed") {
                // An empty reason leaves a bare ":" (trailing space trimmed).
                let reason = reason.strip_prefix(':').unwrap_or(reason).trim_start();
                let (reason, username) = match reason.rsplit_once(", sasl_username=") {
                    Some((r, u)) => (r, Some(u)),
                    None => (reason, None),
                };
                let reason = (!reason.is_empty()).then_some(reason);
                return Message::SaslFailure {
                    client,
                    mechanism,
                    reason,
                    username,
                    aborted: false,
                };
            }
        }
    }
    Message::Unparsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Message<'_> {
        let mut r = None;
        let (sev, body) = super::super::split_severity(s);
        parse(sev, body, &mut r)
    }

    #[test]
    fn skeleton() {
        assert!(matches!(
            p("connect from unknown[127.0.0.2]:60731"),
            Message::Connect(Peer {
                addr: "127.0.0.2",
                port: Some(60731),
                ..
            })
        ));
        match p("disconnect from unknown[192.0.2.7] ehlo=1 auth=0/1 commands=1/2") {
            Message::Disconnect(_, Some(s)) => {
                assert_eq!(
                    s.get("auth"),
                    Some(VerbCount {
                        verb: "auth",
                        ok: 0,
                        total: 1
                    })
                );
                assert_eq!(s.get("commands").unwrap().total, 2);
            }
            m => panic!("{m:?}"),
        }
        assert!(matches!(p("disconnect from x[1.2.3.4]"), Message::Disconnect(_, None)));
        match p("NOQUEUE: lost connection after DATA (1234 bytes) from unknown[192.0.2.7]") {
            Message::SessionEnd {
                queue_id: None,
                reason: EndReason::LostConnection,
                stage: "DATA",
                bytes: Some(1234),
                ..
            } => {}
            m => panic!("{m:?}"),
        }
        assert!(matches!(
            p("timeout after EHLO from unknown[192.0.2.7]"),
            Message::SessionEnd {
                reason: EndReason::Timeout,
                ..
            }
        ));
    }

    /// Statistics are read exactly as Postfix writes them; anything else
    /// leaves the disconnect without statistics rather than with wrong ones.
    #[test]
    fn statistics_take_only_postfix_counts() {
        let s = parse_stats("ehlo=1 mail=2/3 rcpt=0/4 notes=bare_lf commands=3/8").unwrap();
        let got: Vec<(&str, u32, u32)> = s.counts.iter().map(|c| (c.verb, c.ok, c.total)).collect();
        assert_eq!(
            got,
            [("ehlo", 1, 1), ("mail", 2, 3), ("rcpt", 0, 4), ("commands", 3, 8)]
        );
        assert_eq!(s.notes, Some("bare_lf"));
        assert_eq!(
            parse_stats("commands=4294967295")
                .unwrap()
                .get("commands")
                .unwrap()
                .total,
            u32::MAX
        );
        for bad in [
            "ehlo=1 quit=1",              // no commands= total
            "ehlo=+1 commands=1",         // a sign
            "ehlo=1/ commands=1",         // half a pair
            "ehlo=1 commands=4294967296", // overflow
            "ehlo=1  commands=1",         // an empty item
            "ehl=1 commands=1",           // a verb Postfix does not count
            "ehlo1 commands=1",           // no '='
            "commands=1 ",                // an empty item at the end
            "",                           // nothing
            "commands=1=1",               // a second '='
        ] {
            assert!(parse_stats(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn policy_and_sasl() {
        match p("NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 <v@example.net>: Relay access denied; from=<s@example.org> to=<v@example.net> proto=ESMTP helo=<example.org>") {
            Message::Policy { queue_id: None, policy, .. } => {
                assert_eq!((policy.action, policy.stage, policy.reply.code), ("reject", "RCPT", 554));
                assert_eq!(policy.reply.text, "<v@example.net>: Relay access denied");
                assert_eq!(policy.to, Some("v@example.net"));
                assert_eq!(policy.helo, Some("example.org"));
            }
            m => panic!("{m:?}"),
        }
        match p(
            "warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info@lab.test",
        ) {
            Message::SaslFailure {
                mechanism: "LOGIN",
                reason: Some("UGFzc3dvcmQ6"),
                username: Some("info@lab.test"),
                ..
            } => {}
            m => panic!("{m:?}"),
        }
        assert!(matches!(
            p("warning: non-SMTP command from unknown[1.2.3.4]: GET / HTTP/1.1"),
            Message::NonSmtpCommand(_, "GET / HTTP/1.1")
        ));
    }
}
