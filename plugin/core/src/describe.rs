//! Turns a frame and its parsed message into the stateless part of an Event:
//! every field the line alone determines. The context adds the rest.

use std::borrow::Cow;

use crate::event::*;
use crate::frame::{FrameFormat, FrameView};
use crate::message::{self, EndReason, Message, Parsed, Peer, RemoteReply, Reply, Severity};
use crate::verdict::helo_is_fqdn;

fn b(s: &str) -> Str<'_> {
    Cow::Borrowed(s)
}

fn endpoint<'a>(p: &Peer<'a>) -> Endpoint<'a> {
    Endpoint {
        ip: p.has_ip().then(|| b(p.addr)),
        domain: (!p.name.is_empty()).then(|| b(p.name)),
        port: p.port,
        address: (!p.has_ip() && p.addr != "unknown" && !p.addr.is_empty()).then(|| b(p.addr)),
    }
}

fn address(s: &str) -> Option<Address<'_>> {
    Some(Address { address: b(s) })
}

fn reply<'a>(r: &Reply<'a>) -> SmtpReply<'a> {
    SmtpReply {
        code: r.code,
        enhanced: r.enhanced.map(b),
        text: b(r.text),
        last: r.last,
    }
}

/// Classifies a reject reason for `smtp.reject.class`.
pub(crate) fn reject_class(action: &str, stage: &str, text: &str) -> &'static str {
    if action.starts_with("milter") {
        return "milter";
    }
    if text.contains("Relay access denied") {
        return "relay_denied";
    }
    if text.contains("User unknown")
        || text.contains("unknown user")
        || text.contains("Recipient address rejected: undeliverable")
        || text.contains("does not exist")
    {
        return "unknown_recipient";
    }
    if text.contains(" blocked using ") {
        return "rbl";
    }
    for (needle, class) in [
        ("Client host rejected", "client"),
        ("Helo command rejected", "helo"),
        ("Sender address rejected", "sender"),
        ("Recipient address rejected", "recipient"),
        ("Data command rejected", "data"),
        ("End-of-data rejected", "data"),
        ("bare <LF>", "protocol"),
        ("Improper use of SMTP command pipelining", "protocol"),
        ("SMTP protocol synchronization", "protocol"),
        // postscreen's answer after a failed pregreet/pipelining/bare-newline test.
        ("Protocol error", "protocol"),
    ] {
        if text.contains(needle) {
            return class;
        }
    }
    if matches!(stage, "header" | "body" | "content") {
        return "content";
    }
    "other"
}

/// The reason part of a reject text: after `<addr>: ` and without the code.
fn reject_reason(text: &str) -> &str {
    match text.strip_prefix('<').and_then(|t| t.split_once(">: ")) {
        Some((_, r)) => r,
        None => text,
    }
}

/// Builds the stateless event in `ev`, a fresh [`Event::default`].
///
/// Written in place, not returned: an Event is over a kilobyte, and
/// returned it was copied once here, once by each caller on the way out,
/// and once more into the pipeline's vector (callgrind: three 1,200-byte
/// copies per line, 8% of the enriching thread's instructions).
/// Field by field, because assigning a whole Event drops the default that
/// was there, which cost as much as a copy.
pub(crate) fn describe<'a>(view: &FrameView<'a>, parsed: Option<&Parsed<'a>>, invalid_utf8: bool, ev: &mut Event<'a>) {
    debug_assert!(*ev == Event::default(), "describe fills a fresh event");
    let (daemon, instance) = (view.daemon, view.instance);
    ev.timestamp = view.timestamp;
    ev.message = b(view.line);
    ev.host = view.host.map(|h| Host { name: b(h) });
    ev.process = view.program.map(|p| Process {
        name: b(p),
        pid: view.pid,
    });
    ev.log = Log {
        level: parsed.map(|p| p.severity.as_str()),
        syslog: view.program.map(|p| Syslog { appname: b(p) }),
        format: match view.format {
            FrameFormat::Rfc3164 => "rfc3164",
            FrameFormat::Rfc3339 => "rfc3339",
            FrameFormat::Rfc5424 => "rfc5424",
            FrameFormat::Journald => "journald",
            FrameFormat::ShortFull => "short_full",
            FrameFormat::Tag => "tag",
            FrameFormat::Bare => "bare",
        },
    };
    ev.event = EventInfo {
        category: "email",
        action: "unparsed",
        outcome: None,
        dataset: "postfix",
    };
    ev.postfix.instance = instance.map(b);
    ev.postfix.daemon = daemon.map(b);
    ev.postfix.invalid_utf8 = invalid_utf8;
    let kind = match parsed {
        Some(parsed) => {
            let inbound_daemon = matches!(daemon, Some("smtpd" | "postscreen" | "tlsproxy"));
            let kind = fill(ev, &parsed.message, parsed.severity, inbound_daemon);
            ev.event.category = category(kind);
            kind
        }
        // A line with a program that is not Postfix's is passed through as
        // foreign; a line with no recognisable header is unparsed.
        None if view.program.is_some() => EventKind::Foreign,
        None => EventKind::Unparsed,
    };
    ev.postfix.event = kind;
    ev.event.action = kind.as_str();
}

fn category(kind: EventKind) -> &'static str {
    use EventKind::*;
    match kind {
        Connect | Disconnect | LostConnection | Timeout | TooManyErrors | Postscreen | ConnectError | Tls
        | RemoteFailure | PixWorkaround | RateLimit | BareNewline => "network",
        SaslFailure | SaslResponse => "authentication",
        Service | Anvil | CacheCleanup => "process",
        _ => "email",
    }
}

fn smtp_mut<'s, 'a>(ev: &'s mut Event<'a>) -> &'s mut Smtp<'a> {
    ev.smtp.get_or_insert_with(Smtp::default)
}

fn email_mut<'s, 'a>(ev: &'s mut Event<'a>) -> &'s mut Email<'a> {
    ev.email.get_or_insert_with(Email::default)
}

fn set_helo<'a>(ev: &mut Event<'a>, helo: &'a str) {
    let s = smtp_mut(ev);
    s.helo = Some(b(helo));
    s.helo_fqdn = Some(helo_is_fqdn(helo));
}

/// The remote server's side of a delivery attempt: server, reply, stage, failure kind.
fn remote<'a>(ev: &mut Event<'a>, r: &RemoteReply<'a>) {
    if ev.server.is_none() {
        ev.server = r.server.as_ref().map(endpoint);
    }
    if r.reply.is_some() || r.stage.is_some() {
        let s = smtp_mut(ev);
        s.reply = r.reply.as_ref().map(reply);
        s.stage = r.stage.map(b);
    }
    ev.postfix.delivery_failure = r.failure;
    ev.postfix.detail = r.detail.map(b);
    if r.failure.is_some() {
        ev.event.outcome = Some("failure");
    }
}

fn fill<'a>(ev: &mut Event<'a>, m: &Message<'a>, severity: Severity, inbound_daemon: bool) -> EventKind {
    match m {
        Message::Connect(p) => {
            ev.client = Some(endpoint(p));
            ev.smtp = Some(Smtp {
                stage: Some(b("CONNECT")),
                ..Smtp::default()
            });
            EventKind::Connect
        }
        Message::Disconnect(p, stats) => {
            ev.client = Some(endpoint(p));
            if let Some(s) = stats {
                ev.postfix.disconnect_stats = Some(Stats(s.counts.iter().map(|c| (c.verb, c.ok, c.total)).collect()));
                ev.postfix.disconnect_notes = s.notes;
                let failed = s.counts.iter().any(|c| c.ok != c.total);
                ev.event.outcome = Some(if failed { "failure" } else { "success" });
            }
            EventKind::Disconnect
        }
        Message::SessionEnd {
            queue_id,
            reason,
            stage,
            bytes,
            client,
        } => {
            ev.client = Some(endpoint(client));
            ev.postfix.queue_id = queue_id.map(b);
            ev.postfix.bytes = *bytes;
            smtp_mut(ev).stage = Some(b(stage));
            ev.event.outcome = Some("failure");
            match reason {
                EndReason::LostConnection => EventKind::LostConnection,
                EndReason::Timeout => EventKind::Timeout,
                EndReason::TooManyErrors => EventKind::TooManyErrors,
            }
        }
        Message::Chat(c) => {
            if let Some(p) = &c.peer {
                let e = endpoint(p);
                if inbound_daemon {
                    ev.client = Some(e);
                } else {
                    ev.server = Some(e);
                }
            } else {
                return EventKind::ProxyChat;
            }
            let direction = if c.from_client {
                "client_to_server"
            } else {
                "server_to_client"
            };
            let s = smtp_mut(ev);
            s.direction = Some(direction);
            if c.from_client {
                if c.sasl_payload && c.verb.is_none() {
                    s.verb = Some("AUTH");
                    s.arguments = Some(b(crate::REDACTED));
                    return EventKind::SaslResponse;
                }
                s.verb = c.verb;
                if c.sasl_payload {
                    s.arguments = Some(Cow::Owned(format!("{} {}", c.args, crate::REDACTED)));
                } else if !c.args.is_empty() {
                    s.arguments = Some(b(c.args));
                }
                if matches!(c.verb, Some("EHLO" | "HELO" | "LHLO")) && !c.args.is_empty() {
                    let name = c.args.split(' ').next().unwrap_or(c.args);
                    set_helo(ev, name);
                }
                EventKind::SmtpCommand
            } else {
                if let Some(r) = &c.reply {
                    s.reply = Some(reply(r));
                    ev.event.outcome = Some(if r.code < 400 { "success" } else { "failure" });
                }
                EventKind::SmtpReply
            }
        }
        Message::Queued {
            queue_id,
            client,
            sasl_method,
            sasl_username,
            orig_queue_id,
        } => {
            ev.client = Some(endpoint(client));
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.related_queue_id = orig_queue_id.map(b);
            if let Some(u) = sasl_username {
                ev.user = Some(User { name: b(u) });
                ev.postfix.sasl = Some(Box::new(Sasl {
                    method: sasl_method.map(b),
                    ..Sasl::default()
                }));
            }
            email_mut(ev).direction = Some("inbound");
            ev.event.outcome = Some("success");
            EventKind::Queued
        }
        Message::Policy {
            queue_id,
            client,
            policy,
        } => {
            ev.postfix.queue_id = queue_id.map(b);
            if let Some(c) = client {
                ev.client = Some(endpoint(c));
            }
            // smtp/lmtp's header/body checks act on mail going out.
            let outbound = matches!(ev.postfix.daemon.as_deref(), Some("smtp" | "lmtp"));
            let e = email_mut(ev);
            e.from = policy.from.and_then(address);
            e.to = policy.to.and_then(address);
            e.direction = Some(if outbound { "outbound" } else { "inbound" });
            if let Some(u) = policy.sasl_username {
                ev.user = Some(User { name: b(u) });
            }
            if let Some(h) = policy.helo {
                set_helo(ev, h);
            }
            if policy.action == "proxy-accept" {
                // The filter's reply names the queue id it gave the message.
                ev.postfix.related_queue_id = message::fields::queued_as(policy.reply.text).map(b);
            }
            let s = smtp_mut(ev);
            s.stage = Some(b(policy.stage));
            s.proto = policy.proto.map(b);
            s.reply = Some(reply(&policy.reply));
            let is_reject = policy.action.contains("reject") || policy.action == "hangup";
            s.reject = Some(Reject {
                action: b(policy.action),
                reason: b(reject_reason(policy.reply.text)),
                class: reject_class(policy.action, policy.stage, policy.reply.text),
            });
            if is_reject {
                ev.event.outcome = Some("failure");
                EventKind::Reject
            } else {
                EventKind::Policy
            }
        }
        Message::SaslFailure {
            client,
            mechanism,
            reason,
            username,
            aborted,
        } => {
            ev.client = Some(endpoint(client));
            if let Some(u) = username.filter(|u| *u != "(unavailable)") {
                ev.user = Some(User { name: b(u) });
            }
            ev.postfix.sasl = Some(Box::new(Sasl {
                method: Some(b(mechanism)),
                reason: reason.map(b),
                aborted: *aborted,
            }));
            smtp_mut(ev).verb = Some("AUTH");
            ev.event.outcome = Some("failure");
            EventKind::SaslFailure
        }
        Message::NonSmtpCommand(client, line) => {
            ev.client = Some(endpoint(client));
            let s = smtp_mut(ev);
            s.verb = Some("NON_SMTP");
            s.arguments = Some(b(line));
            s.direction = Some("client_to_server");
            EventKind::NonSmtpCommand
        }
        Message::ImproperPipelining { stage, client, data } => {
            ev.client = Some(endpoint(client));
            let s = smtp_mut(ev);
            s.stage = Some(b(stage));
            s.arguments = Some(b(data));
            EventKind::ImproperPipelining
        }
        Message::IllegalAddress(client, addr) => {
            ev.client = Some(endpoint(client));
            smtp_mut(ev).arguments = Some(b(addr));
            EventKind::IllegalAddress
        }
        Message::HostnameMismatch(name, addr) => {
            ev.client = Some(Endpoint {
                ip: Some(b(addr)),
                domain: Some(b(name)),
                ..Endpoint::default()
            });
            EventKind::ReverseDnsMismatch
        }
        Message::Tls(t) => {
            if let Some(p) = &t.peer {
                if t.inbound.unwrap_or(inbound_daemon) {
                    ev.client = Some(endpoint(p));
                } else {
                    ev.server = Some(endpoint(p));
                }
            }
            let established = matches!(t.action, "established" | "reused");
            ev.tls = Some(Box::new(Tls {
                version: t.protocol.map(|p| b(p.strip_prefix("TLSv").unwrap_or(p))),
                version_protocol: t.protocol.map(|_| "tls"),
                cipher: t.cipher.map(b),
                established: established.then_some(true).or(matches!(
                    t.action,
                    "accept_error" | "connect_error" | "abort" | "handshake_failed"
                )
                .then_some(false)),
                resumed: (t.action == "reused").then_some(true),
                trust: t.trust.map(b),
                server_name: t.sni.map(b),
                action: t.action,
                detail: t.detail.map(b),
            }));
            if established {
                ev.event.outcome = Some("success");
            } else if ev.tls.as_ref().and_then(|t| t.established) == Some(false) {
                ev.event.outcome = Some("failure");
            }
            EventKind::Tls
        }
        Message::MessageId(qid, id, trailing) => {
            ev.postfix.queue_id = Some(b(qid));
            email_mut(ev).message_id = Some(b(id));
            ev.postfix.message_id_trailing = trailing.map(b);
            EventKind::MessageId
        }
        Message::QueueActive {
            queue_id,
            from,
            size,
            nrcpt,
        } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.size = *size;
            ev.postfix.nrcpt = *nrcpt;
            email_mut(ev).from = address(from);
            EventKind::QueueActive
        }
        Message::Delivery(qid, d) => {
            ev.postfix.queue_id = Some(b(qid));
            if let Some(p) = &d.relay_peer {
                ev.server = Some(endpoint(p));
            }
            let e = email_mut(ev);
            e.to = address(d.to);
            e.direction = Some(if inbound_daemon { "inbound" } else { "outbound" });
            ev.postfix.related_queue_id = d.next_queue_id.map(b);
            ev.postfix.delivery = Some(Box::new(DeliveryInfo {
                status: b(d.status),
                relay: (!d.relay.is_empty()).then(|| b(d.relay)),
                dsn: d.dsn.map(b),
                delay: d.delay,
                delays: d.delays.map(|x| Delays {
                    before_queue_manager: x[0],
                    in_queue_manager: x[1],
                    connection_setup: x[2],
                    transmission: x[3],
                }),
                conn_use: d.conn_use,
                tls: d.tls.map(b),
                orig_to: d.orig_to.map(b),
                text: d.text.map(b),
            }));
            if let Some(r) = &d.remote {
                remote(ev, r);
            }
            ev.event.outcome = Some(match d.status {
                "sent" | "deliverable" | "delivered" | "relayed" | "expanded" => "success",
                "deferred" | "SOFTBOUNCE" => "unknown",
                _ => "failure",
            });
            EventKind::Delivery
        }
        Message::Expired(qid, from, status) => {
            ev.postfix.queue_id = Some(b(qid));
            email_mut(ev).from = address(from);
            // The message's last status, for all recipients still queued.
            ev.postfix.delivery = Some(Box::new(DeliveryInfo {
                status: b(status),
                ..DeliveryInfo::default()
            }));
            ev.event.outcome = Some("failure");
            EventKind::Expired
        }
        Message::Removed(qid) => {
            ev.postfix.queue_id = Some(b(qid));
            EventKind::Removed
        }
        Message::Notification {
            queue_id, new_queue_id, ..
        } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.related_queue_id = Some(b(new_queue_id));
            EventKind::Bounce
        }
        Message::Pickup(qid, from) => {
            ev.postfix.queue_id = Some(b(qid));
            email_mut(ev).from = address(from);
            EventKind::Pickup
        }
        Message::QueueNote(qid, _) => {
            ev.postfix.queue_id = Some(b(qid));
            EventKind::QueueNote
        }
        Message::RemoteFailure { queue_id, remote: r } => {
            ev.postfix.queue_id = queue_id.map(b);
            email_mut(ev).direction = Some("outbound");
            remote(ev, r);
            if r.failure == Some("connect_failed") {
                EventKind::ConnectError
            } else {
                EventKind::RemoteFailure
            }
        }
        Message::PixWorkaround {
            queue_id,
            server,
            workarounds,
        } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.server = Some(endpoint(server));
            ev.postfix.detail = Some(b(workarounds));
            EventKind::PixWorkaround
        }
        Message::RateLimit {
            kind,
            count,
            client,
            service,
        } => {
            ev.client = Some(endpoint(client));
            ev.postfix.limit = Some(Box::new(Limit {
                kind,
                count: *count,
                service: b(service),
            }));
            ev.event.outcome = Some("failure");
            EventKind::RateLimit
        }
        Message::BareNewline {
            queue_id,
            stage,
            client,
        } => {
            ev.client = Some(endpoint(client));
            ev.postfix.queue_id = queue_id.map(b);
            smtp_mut(ev).stage = Some(b(stage));
            ev.event.outcome = Some("failure");
            EventKind::BareNewline
        }
        Message::Screen(s) => {
            if let Some(c) = &s.client {
                ev.client = Some(endpoint(c));
            }
            if let Some(sv) = &s.server {
                ev.server = Some(endpoint(sv));
            }
            ev.postfix.postscreen = Some(Box::new(PostscreenInfo {
                action: s.action,
                stage: s.stage.map(b),
                detail: s.detail.map(b),
                count: s.count,
                seconds: s.seconds,
            }));
            if s.action == "non_smtp_command" {
                let sm = smtp_mut(ev);
                sm.verb = Some("NON_SMTP");
                sm.direction = Some("client_to_server");
            }
            EventKind::Postscreen
        }
        Message::Dnsbl { addr, domain, result } => {
            ev.client = Some(Endpoint {
                ip: Some(b(addr)),
                ..Endpoint::default()
            });
            ev.postfix.dnsbl = Some(Box::new(Dnsbl {
                domain: b(domain),
                result: b(result),
            }));
            EventKind::Dnsbl
        }
        Message::Anvil { metric, value, ident } => {
            let (service, addr) = match ident {
                Some(i) => message::split_anvil_ident(i),
                None => (None, ""),
            };
            if !addr.is_empty() {
                ev.client = Some(Endpoint {
                    ip: Some(b(addr)),
                    ..Endpoint::default()
                });
            }
            ev.postfix.anvil = Some(Box::new(Anvil {
                metric: b(metric),
                value: *value,
                ident: ident.map(b),
                service: service.map(b),
            }));
            EventKind::Anvil
        }
        Message::QueueAdmin {
            queue_id,
            action,
            count,
        } => {
            ev.postfix.queue_id = queue_id.map(b);
            ev.postfix.queue_admin = Some(Box::new(QueueAdmin { action, count: *count }));
            EventKind::QueueAdmin
        }
        Message::CacheCleanup {
            table,
            scope,
            retained,
            dropped,
        } => {
            ev.postfix.cache = Some(Box::new(CacheCleanup {
                table: b(table),
                scope,
                retained: *retained,
                dropped: *dropped,
            }));
            EventKind::CacheCleanup
        }
        Message::ReplyFilter {
            queue_id,
            side,
            reply: r,
        } => {
            ev.postfix.queue_id = queue_id.map(b);
            ev.postfix.detail = Some(b(side));
            let s = smtp_mut(ev);
            s.reply = Some(reply(r));
            s.direction = Some("server_to_client");
            EventKind::ReplyFilter
        }
        Message::LongLine { queue_id, limit } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.bytes = Some(*limit);
            email_mut(ev).direction = Some("outbound");
            EventKind::LongLine
        }
        Message::Handoff {
            queue_id,
            recipient,
            transport,
        } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.detail = Some(b(transport));
            email_mut(ev).to = address(recipient);
            EventKind::TransportHandoff
        }
        Message::NoticeFailed { queue_id, notice, text } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.detail = Some(b(notice));
            ev.postfix.delivery = Some(Box::new(DeliveryInfo {
                status: b("deferred"),
                text: Some(b(text)),
                ..DeliveryInfo::default()
            }));
            ev.event.outcome = Some("failure");
            EventKind::NoticeFailed
        }
        Message::NoticeSkipped { queue_id, text } => {
            ev.postfix.queue_id = Some(b(queue_id));
            ev.postfix.detail = Some(b(text));
            EventKind::Bounce
        }
        Message::Service(_) => EventKind::Service,
        Message::Notice(_) => EventKind::Notice,
        Message::Debug => EventKind::Debug,
        Message::Diagnostic { client, queue_id, .. } => {
            ev.postfix.queue_id = queue_id.map(b);
            // The kind says what the diagnostic is about, so that warnings
            // about a client can be counted as evidence about it.
            let outbound = matches!(ev.postfix.daemon.as_deref(), Some("smtp" | "lmtp"));
            match client {
                Some(c) if outbound => {
                    ev.server = Some(endpoint(c));
                    EventKind::ServerWarning
                }
                Some(c) => {
                    ev.client = Some(endpoint(c));
                    EventKind::ClientWarning
                }
                None if queue_id.is_some() => EventKind::MessageWarning,
                None if severity == Severity::Warning => EventKind::Warning,
                None => EventKind::Error,
            }
        }
        Message::Unparsed => EventKind::Unparsed,
    }
}

/// Parses `view` as a Postfix line when its program is Postfix's.
pub(crate) fn parse_view<'a>(view: &FrameView<'a>) -> Option<Parsed<'a>> {
    let daemon = view.daemon?;
    if !message::is_postfix_program(view.instance, daemon) {
        return None;
    }
    Some(message::parse(daemon, &view.line[view.message_start..]))
}
