//! Notes Postfix writes about one message or one remote server that carry
//! facts of their own but belong to no larger family: smtpd's reply filter,
//! the smtp client's header/body-check actions, line folding and capability
//! notes, a delivery agent handing a recipient on, and the bounce service's
//! notices that failed or were not sent. Each parser follows one format
//! string of the Postfix source, named in its comment, and takes nothing
//! else, so a line that only looks alike stays with the generic parsers.

use super::fields::{self, Peer, Reply};
use super::{Message, Policy, TlsInfo};

/// smtpd_chat.c: `%s: reply filter in: %s` and `%s: reply filter out: %s`
/// (smtpd_reject_filter_maps); the text is a 4xx/5xx reply.
pub(super) fn reply_filter<'a>(queue_id: Option<&'a str>, rest: &'a str) -> Option<Message<'a>> {
    let rest = rest.strip_prefix("reply filter ")?;
    let (side, text) = match rest.strip_prefix("in: ") {
        Some(t) => ("in", t),
        None => ("out", rest.strip_prefix("out: ")?),
    };
    let reply = fields::reply(text)?;
    Some(Message::ReplyFilter { queue_id, side, reply })
}

/// smtp/lmtp lines after a queue id that are neither a delivery status nor a
/// remote failure: header/body-check actions and line folding.
pub(super) fn smtp_queue_note<'a>(queue_id: &'a str, rest: &'a str) -> Option<Message<'a>> {
    header_body_action(queue_id, rest).or_else(|| long_line(queue_id, rest))
}

/// smtp_proto.c `smtp_hbc_logger`: `%s: %s: %s %.200s: %s` or
/// `%s: %s: %s %.200s`: queue id, action, `header` or `body`, the matched
/// line (cut at 200 bytes), and the rule's text when it has one. The actions
/// are the ones header_body_checks.c logs (`warning` for WARN, `info`,
/// `replace`, `prepend`, `strip`). Postfix puts no delimiter between the
/// matched line and the rule's text (both may contain `: `), so the two stay
/// together as the policy's text.
fn header_body_action<'a>(queue_id: &'a str, rest: &'a str) -> Option<Message<'a>> {
    let (action, rest) = rest.split_once(": ")?;
    if !matches!(action, "warning" | "info" | "replace" | "prepend" | "strip") {
        return None;
    }
    let (stage, text) = rest.split_once(' ')?;
    if !matches!(stage, "header" | "body") {
        return None;
    }
    Some(Message::Policy {
        queue_id: Some(queue_id),
        client: None,
        policy: Box::new(Policy {
            action,
            stage,
            reply: Reply {
                code: 0,
                enhanced: None,
                text,
                last: true,
            },
            ..Policy::default()
        }),
    })
}

/// smtp_proto.c `smtp_text_out`: `%s: breaking line > %d bytes with <CR><LF>SPACE`.
fn long_line<'a>(queue_id: &'a str, rest: &'a str) -> Option<Message<'a>> {
    let n = rest
        .strip_prefix("breaking line > ")?
        .strip_suffix(" bytes with <CR><LF>SPACE")?;
    Some(Message::LongLine {
        queue_id,
        limit: fields::num(n)?,
    })
}

/// smtp/lmtp notes about the server without a queue id (smtp_proto.c):
/// `host %s offers SMTPUTF8 support, but not 8BITMIME` (the server's
/// `name[addr]:port`), and `Host offered STARTTLS: [%s]` (logged with
/// smtp_tls_note_starttls_offer when TLS is off; it names the next-hop host,
/// which is the address itself for a literal `[addr]` next hop).
pub(super) fn smtp_server_note(text: &str) -> Option<Message<'_>> {
    if let Some(rest) = text.strip_prefix("host ") {
        let (server, tail) = fields::peer(rest)?;
        return (tail == " offers SMTPUTF8 support, but not 8BITMIME").then_some(Message::Diagnostic {
            client: Some(server),
            queue_id: None,
            text,
        });
    }
    let host = text.strip_prefix("Host offered STARTTLS: [")?.strip_suffix(']')?;
    if host.is_empty() || host.contains(' ') {
        return None;
    }
    let server = if host.parse::<std::net::IpAddr>().is_ok() {
        Peer {
            name: "",
            addr: host,
            port: None,
        }
    } else {
        Peer {
            name: host,
            addr: "",
            port: None,
        }
    };
    Some(Message::Tls(TlsInfo {
        action: "starttls_offered",
        peer: Some(server),
        inbound: Some(false),
        ..TlsInfo::default()
    }))
}

/// Queue-file notes of the delivery agents, qmgr, bounce and cleanup:
/// deliver_pass.c `%s: passing <%s> to transport=%s`; bounce.c and
/// abounce.c `%s: status=deferred (%s failed)` (the notice could not be
/// made: `bounce`, `delay warning`, `verp-bounce`, `trace`);
/// bounce_trace_service.c `%s: not sending trace/success notification for
/// double-bounce|single-bounce message`; cleanup_masquerade.c's info-level
/// `%s: %s map lookup problem -- message not accepted, try again later`,
/// which the other cleanup modules log as a warning with the same words.
pub(super) fn queue_note<'a>(daemon: &str, queue_id: &'a str, rest: &'a str) -> Option<Message<'a>> {
    if let Some(r) = rest.strip_prefix("passing <") {
        let (recipient, transport) = r.rsplit_once("> to transport=")?;
        return (!transport.is_empty() && !transport.contains(' ')).then_some(Message::Handoff {
            queue_id,
            recipient,
            transport,
        });
    }
    if let Some(text) = rest.strip_prefix("status=deferred (") {
        let text = text.strip_suffix(')')?;
        let notice = text.strip_suffix(" failed")?;
        return Some(Message::NoticeFailed { queue_id, notice, text });
    }
    if rest.starts_with("not sending trace/success notification for ") {
        return Some(Message::NoticeSkipped { queue_id, text: rest });
    }
    if daemon == "cleanup" && rest.ends_with(" map lookup problem -- message not accepted, try again later") {
        return Some(Message::Diagnostic {
            client: None,
            queue_id: Some(queue_id),
            text: rest,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_body_actions_need_postfix_words() {
        let m = smtp_queue_note("3F2A81C0B4", "warning: header X-Mailer: PHPMailer 5.2.1").unwrap();
        let Message::Policy { policy, .. } = m else {
            panic!("{m:?}")
        };
        assert_eq!(
            (policy.action, policy.stage, policy.reply.text),
            ("warning", "header", "X-Mailer: PHPMailer 5.2.1")
        );
        // Not an action header_body_checks.c logs, or not header/body.
        assert!(smtp_queue_note("3F2A81C0B4", "reject: header X: y").is_none());
        assert!(smtp_queue_note("3F2A81C0B4", "warning: envelope x").is_none());
        assert!(smtp_queue_note("3F2A81C0B4", "host mx[192.0.2.1] said: 450 x").is_none());
    }

    #[test]
    fn long_lines_and_notes() {
        assert_eq!(
            smtp_queue_note("3F2A81C0B4", "breaking line > 999 bytes with <CR><LF>SPACE"),
            Some(Message::LongLine {
                queue_id: "3F2A81C0B4",
                limit: 999
            })
        );
        assert!(smtp_queue_note("3F2A81C0B4", "breaking line > many bytes with <CR><LF>SPACE").is_none());
        assert!(queue_note("local", "3F2A81C0B4", "status=deferred (bounce failed)").is_some());
        assert!(queue_note("local", "3F2A81C0B4", "status=deferred (mail loops)").is_none());
        assert!(queue_note("local", "3F2A81C0B4", "passing <a@b> to transport=").is_none());
        assert!(queue_note(
            "qmgr",
            "3F2A81C0B4",
            "x map lookup problem -- message not accepted, try again later"
        )
        .is_none());
    }
}
