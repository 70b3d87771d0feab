//! postscreen's messages (keyed by the client's `[ip]:port`, since one
//! postscreen process screens many clients at once) and tlsproxy's
//! CONNECT/DISCONNECT lines, which share the form.

use super::chat::{self, ChatSide, Redaction};
use super::fields::{self, Peer};
use super::{Message, Screen, Severity};

fn screen<'a>(action: &'static str, client: Option<Peer<'a>>) -> Screen<'a> {
    Screen {
        action,
        client,
        ..Screen::default()
    }
}

/// `[ip]:port` followed by `rest`.
fn client(s: &str) -> Option<(Peer<'_>, &str)> {
    fields::peer(s)
}

pub(super) fn parse(severity: Severity, body: &str) -> Message<'_> {
    if severity != Severity::Info {
        return Message::Unparsed;
    }
    let mut redaction: Option<Redaction> = None;
    if body.starts_with('<') || body.starts_with('>') {
        if let Some(c) = chat::parse(body, ChatSide::Received, &mut redaction) {
            return Message::Chat(c);
        }
    }
    if body.starts_with("cache ") {
        // "cache btree:/var/lib/postfix/postscreen_cache full cleanup: retained=0 dropped=0 entries"
        return super::admin::parse_cache_cleanup(body).unwrap_or(Message::Service(body));
    }
    if let Some(s) = parse_screen(body) {
        return Message::Screen(s);
    }
    parse_policy(body).unwrap_or(Message::Unparsed)
}

fn parse_screen(body: &str) -> Option<Screen<'_>> {
    let (head, rest) = fields::word(body);
    Some(match head {
        "CONNECT" => {
            let (c, rest) = client(rest.strip_prefix("from ")?)?;
            let server = rest.strip_prefix(" to ").and_then(fields::peer_exact);
            Screen {
                server,
                ..screen("connect", Some(c))
            }
        }
        "DISCONNECT" => screen("disconnect", Some(fields::peer_exact(rest)?)),
        "PASS" => {
            let (kind, rest) = fields::word(rest);
            let action = match kind {
                "NEW" => "pass_new",
                "OLD" => "pass_old",
                _ => "pass",
            };
            screen(action, Some(fields::peer_exact(rest)?))
        }
        "PREGREET" => {
            let (count, rest) = fields::word(rest);
            let rest = rest.strip_prefix("after ")?;
            let (secs, rest) = fields::word(rest);
            let (c, data) = client(rest.strip_prefix("from ")?)?;
            Screen {
                count: fields::num(count),
                seconds: fields::num(secs),
                detail: data.strip_prefix(": "),
                ..screen("pregreet", Some(c))
            }
        }
        "HANGUP" => {
            let rest = rest.strip_prefix("after ")?;
            let (secs, rest) = fields::word(rest);
            let (c, tail) = client(rest.strip_prefix("from ")?)?;
            Screen {
                seconds: fields::num(secs),
                stage: tail.strip_prefix(" in "),
                ..screen("hangup", Some(c))
            }
        }
        "DNSBL" => {
            let rest = rest.strip_prefix("rank ")?;
            let (rank, rest) = fields::word(rest);
            let c = fields::peer_exact(rest.strip_prefix("for ")?)?;
            Screen {
                count: fields::num(rank),
                ..screen("dnsbl", Some(c))
            }
        }
        "COMMAND" | "NON-SMTP" | "BARE" | "DATA" | "BDAT" => {
            let (action, rest) = if let Some(r) = rest.strip_prefix("PIPELINING from ") {
                ("command_pipelining", r)
            } else if let Some(r) = rest.strip_prefix("TIME LIMIT from ") {
                ("command_time_limit", r)
            } else if let Some(r) = rest.strip_prefix("COUNT LIMIT from ") {
                ("command_count_limit", r)
            } else if let Some(r) = rest.strip_prefix("LENGTH LIMIT from ") {
                ("command_length_limit", r)
            } else if let Some(r) = rest.strip_prefix("COMMAND from ") {
                ("non_smtp_command", r)
            } else if let Some(r) = rest.strip_prefix("NEWLINE from ") {
                ("bare_newline", r)
            } else if let Some(r) = rest.strip_prefix("without valid RCPT from ") {
                ("data_without_rcpt", r)
            } else {
                return None;
            };
            let (c, tail) = client(rest)?;
            let (stage, detail) = match tail.strip_prefix(" after ") {
                Some(t) => match t.split_once(": ") {
                    Some((st, d)) => (Some(st), Some(d)),
                    None => (Some(t), None),
                },
                None => (None, None),
            };
            Screen {
                stage,
                detail,
                ..screen(action, Some(c))
            }
        }
        "DENYLISTED" | "BLACKLISTED" => screen("denylisted", Some(fields::peer_exact(rest)?)),
        "ALLOWLISTED" | "WHITELISTED" => screen("allowlisted", Some(fields::peer_exact(rest)?)),
        "ALLOWLIST" | "WHITELIST" => screen("allowlist_veto", Some(fields::peer_exact(rest.strip_prefix("VETO ")?)?)),
        "NOQUEUE:" => {
            let r = rest.strip_prefix("reject: CONNECT from ")?;
            let (c, tail) = client(r)?;
            let action = if tail.contains("too many connections") {
                "too_many_connections"
            } else {
                "ports_busy"
            };
            Screen {
                detail: tail.strip_prefix(": "),
                ..screen(action, Some(c))
            }
        }
        "reject:" => {
            let (c, tail) = client(rest.strip_prefix("connect from ")?)?;
            Screen {
                detail: tail.strip_prefix(": "),
                ..screen("ports_busy", Some(c))
            }
        }
        "entering" | "leaving" => {
            let rest = rest.strip_prefix("STRESS mode with ")?;
            Screen {
                count: fields::num(rest.strip_suffix(" connections")?),
                detail: Some(head),
                ..screen("stress", None)
            }
        }
        _ => {
            // "[ip]:port: discarding EHLO keywords: ..." / "[ip]:port: replacing command ..."
            let (c, tail) = client(body)?;
            let tail = tail.strip_prefix(": ")?;
            let action = if tail.starts_with("discarding EHLO keywords") {
                "discard_ehlo_keywords"
            } else if tail.starts_with("replacing command") {
                "replace_command"
            } else {
                return None;
            };
            Screen {
                detail: Some(tail),
                ..screen(action, Some(c))
            }
        }
    })
}

/// postscreen's `NOQUEUE: reject: RCPT from [ip]:port: ...` policy lines (comma-separated fields).
pub(super) fn parse_policy(body: &str) -> Option<Message<'_>> {
    let (qid, rest) = fields::queue_prefix(body)?;
    super::smtpd::policy_line(qid, rest)
}

/// tlsproxy: `CONNECT from [ip]:port`, `DISCONNECT [ip]:port`, and TLS lines.
pub(super) fn parse_tlsproxy(body: &str) -> Message<'_> {
    let (head, rest) = fields::word(body);
    match head {
        "CONNECT" => {
            let r = rest.split_once(' ').map_or(rest, |(_, r)| r);
            fields::peer(r.trim_start_matches("from ")).map_or(Message::Notice(body), |(c, _)| {
                Message::Screen(screen("connect", Some(c)))
            })
        }
        "DISCONNECT" => fields::peer(rest).map_or(Message::Notice(body), |(c, _)| {
            Message::Screen(screen("disconnect", Some(c)))
        }),
        _ => Message::Unparsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens() {
        let m = parse(
            Severity::Info,
            "PREGREET 11 after 0.13 from [192.0.2.7]:52814: EHLO User\\r\\n",
        );
        match m {
            Message::Screen(s) => {
                assert_eq!((s.action, s.count, s.seconds), ("pregreet", Some(11), Some(0.13)));
                assert_eq!(s.client.unwrap().port, Some(52814));
                assert_eq!(s.detail, Some("EHLO User\\r\\n"));
            }
            m => panic!("{m:?}"),
        }
        match parse(
            Severity::Info,
            "NON-SMTP COMMAND from [192.0.2.7]:52814 after CONNECT: GET GET / HTTP/1.1",
        ) {
            Message::Screen(s) => {
                assert_eq!((s.action, s.stage), ("non_smtp_command", Some("CONNECT")))
            }
            m => panic!("{m:?}"),
        }
        assert!(matches!(
            parse(Severity::Info, "PASS NEW [192.0.2.7]:1"),
            Message::Screen(Screen { action: "pass_new", .. })
        ));
        assert!(matches!(parse_policy("NOQUEUE: reject: RCPT from [192.0.2.7]:52814: 450 4.3.2 Service currently unavailable; from=<a@b>, to=<c@d>, proto=ESMTP, helo=<x>"), Some(Message::Policy { .. })));
    }
}
