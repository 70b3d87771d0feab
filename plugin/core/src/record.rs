//! The message record: per queue id, what the lines say about one message
//! (who submitted it from which session, sender, size, message-id, and each
//! recipient's final status), assembled as the lines go by and attached as
//! `postfix.message` to the Event of the last line Postfix writes for that
//! queue id (`removed`). Nothing is buffered or delayed: every line still
//! gives its own Event at once, and the record rides on the closing one.
//! Open messages live in a `BoundedMap` (cap and TTL by log time, evictions
//! counted) with a per-message recipient cap, like the rest of the context.

use std::borrow::Cow;

use crate::bounded::{BoundedMap, MapStats};
use crate::event::{IntoStatic, MessageClient, MessageRecord, RecipientRecord, RemoteReply, SessionId, VerdictClass};
use crate::frame::FrameView;
use crate::message::{Delivery, Message, Parsed};
use crate::timestamp::Timestamp;
use crate::Event;

/// Caps and ages of the open-message map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Open messages (queue ids seen and not yet removed).
    pub max_messages: usize,
    /// Seconds a message may stay without a line about it (deferred mail
    /// is retried within `maximal_backoff_time`, 4000 s by default, and
    /// lives up to `maximal_queue_lifetime`, 5 days).
    pub message_ttl: i64,
    /// Recipients kept per message; status lines of the rest are counted.
    pub max_recipients: usize,
    /// Messages per open session whose record waits for the session's verdict.
    pub max_per_session: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_messages: 100_000,
            message_ttl: 6 * 86_400,
            max_recipients: 100,
            max_per_session: 64,
        }
    }
}

// Bits of `Open::gaps`, in the order they are listed.
const SESSION_UNKNOWN: u8 = 1;
const VERDICT_PENDING: u8 = 2;
const ENTRY_NOT_SEEN: u8 = 4;
const GAP_NAMES: [(u8, &str); 3] = [
    (SESSION_UNKNOWN, "session_unknown"),
    (VERDICT_PENDING, "verdict_pending"),
    (ENTRY_NOT_SEEN, "entry_not_seen"),
];

/// The client of an smtpd message, as its `client=` line names it.
struct Client {
    ip: Option<Box<str>>,
    name: Box<str>,
    port: Option<u16>,
    verdict: Option<(VerdictClass, bool)>,
}

/// One recipient as stored while the message is open.
struct Rcpt {
    address: Box<str>,
    orig: Option<Box<str>>,
    status: Box<str>,
    deferred: u32,
    dsn: Option<Box<str>>,
    relay: Option<Box<str>>,
    delay: Option<f64>,
    /// The status text as logged; split into reply or detail on output.
    text: Option<Box<str>>,
}

/// An open message. Strings are boxed (no spare capacity): a million of
/// these is the worst case the caps allow for.
#[derive(Default)]
struct Open {
    queue_id: Box<str>,
    session: Option<SessionId>,
    origin: &'static str,
    client: Option<Box<Client>>,
    user: Option<Box<str>>,
    sasl_method: Option<Box<str>>,
    sender: Option<Box<str>>,
    size: Option<u64>,
    nrcpt: Option<u32>,
    message_id: Option<Box<str>>,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    delay: Option<f64>,
    expired: bool,
    /// Expired by `postsuper -e` (qmgr says `status=force-expired`).
    force_expired: bool,
    recipients: Vec<Rcpt>,
    omitted: u32,
    bounce_queue_id: Option<Box<str>>,
    notice_of: Option<Box<str>>,
    gaps: u8,
    /// A line other than the `client=` line named it: the transaction went
    /// on to cleanup. When its session ends without one, it was abandoned
    /// (RSET or QUIT after a recipient was accepted) and moves aside.
    progressed: bool,
}

/// Open messages of one stream, and which of them wait for a session's verdict.
pub(crate) struct Records {
    limits: MessageLimits,
    open: BoundedMap<Open>,
    /// Session id → keys of its messages still open, until the session ends.
    by_session: BoundedMap<Vec<u64>>,
    /// Transactions whose session ended with nothing after `client=`: kept
    /// for a session TTL in case a late cleanup line follows, apart from
    /// the open messages so that they never push out deferred mail.
    abandoned: BoundedMap<Open>,
    last_time: i64,
}

fn key(host: &str, qid: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(host.as_bytes());
    h.update(&[0xff]);
    h.update(qid.as_bytes());
    h.digest()
}

fn boxed(s: &str) -> Box<str> {
    s.into()
}

/// How a queue file ends, from the line that says `removed`, or `None`
/// when the line does not end one. postsuper's `removed` is `postsuper -d`.
fn ending(daemon: &str, message: &Message<'_>, line: &str) -> Option<&'static str> {
    if !matches!(message, Message::Removed(_)) {
        return None;
    }
    Some(match daemon {
        "postsuper" => "deleted",
        // 3.10+: cleanup removes a transaction it never queued.
        "cleanup" if line.ends_with("(discarded)") => "discarded",
        "cleanup" => "canceled",
        _ => "removed",
    })
}

/// The remote server's reply quoted in a delivery status text:
/// `host H[A] said: 550 5.1.1 text (in reply to RCPT TO command)`, or the
/// reply itself when an smtp/lmtp delivery succeeded (`250 2.0.0 Ok: queued as X`).
/// Read by the smtp client's own parser, so a record's reply and the delivery
/// line's `smtp.reply`/`smtp.stage` always agree.
fn remote_reply(text: &str) -> Option<RemoteReply<'_>> {
    let parsed = crate::message::smtp_client::delivery_text(text)?;
    let r = parsed.reply?;
    Some(RemoteReply {
        code: r.code,
        enhanced: r.enhanced.map(Cow::Borrowed),
        text: Cow::Borrowed(r.text),
        in_reply_to: parsed.stage.map(Cow::Borrowed),
    })
}

impl Records {
    pub(crate) fn new(limits: MessageLimits, session_ttl: i64) -> Self {
        Records {
            open: BoundedMap::new(limits.max_messages, limits.message_ttl),
            by_session: BoundedMap::new(limits.max_messages, session_ttl),
            abandoned: BoundedMap::new(limits.max_messages, session_ttl),
            limits,
            last_time: i64::MIN,
        }
    }

    /// Counters of the open messages, abandoned transactions included.
    pub(crate) fn stats(&self) -> MapStats {
        let (a, b) = (self.open.stats(), self.abandoned.stats());
        MapStats {
            live: a.live + b.live,
            evicted: a.evicted + b.evicted,
            expired: a.expired + b.expired,
        }
    }

    /// Folds one line (after the context gave it its session id and
    /// verdict) into the open messages, and attaches the record to `ev`
    /// when the line closes one.
    pub(crate) fn observe(&mut self, view: &FrameView<'_>, parsed: &Parsed<'_>, ev: &mut Event<'_>) {
        let now = match view.timestamp {
            Some(t) => {
                self.last_time = self.last_time.max(t.unix_seconds());
                self.last_time
            }
            None => self.last_time.max(0),
        };
        if let (Some(probe), Some(session)) = (&ev.probe, ev.postfix.session_id) {
            self.session_ended(session, probe.class, probe.suspicious, now);
        }
        let Some(qid) = ev.postfix.queue_id.as_deref() else {
            return;
        };
        let host = view.host.unwrap_or("");
        let daemon = view.daemon.unwrap_or("");
        let k = key(host, qid);
        let stamp = view.timestamp;
        match &parsed.message {
            Message::Queued {
                client,
                sasl_method,
                sasl_username,
                ..
            } if daemon == "smtpd" => {
                let mut m = Open {
                    queue_id: boxed(qid),
                    session: ev.postfix.session_id,
                    origin: "smtpd",
                    client: Some(Box::new(Client {
                        ip: client.has_ip().then(|| boxed(client.addr)),
                        name: boxed(client.name),
                        port: client.port,
                        verdict: None,
                    })),
                    user: sasl_username.map(boxed),
                    sasl_method: sasl_method.map(boxed),
                    first_seen: stamp,
                    last_seen: stamp,
                    ..Open::default()
                };
                match m.session {
                    Some(s) => self.wait_for_verdict(s, k, now),
                    None => m.gaps |= SESSION_UNKNOWN,
                }
                self.open.insert(k, m, now);
            }
            Message::Pickup(_, from) => {
                let m = Open {
                    queue_id: boxed(qid),
                    origin: "pickup",
                    sender: Some(boxed(from)),
                    first_seen: stamp,
                    last_seen: stamp,
                    ..Open::default()
                };
                self.open.insert(k, m, now);
            }
            Message::Notification { kind, new_queue_id, .. } => {
                let m = self.get_or_open(k, qid, false, stamp, now);
                if kind.contains("non-delivery") && m.bounce_queue_id.is_none() {
                    m.bounce_queue_id = Some(boxed(new_queue_id));
                }
                // The notice is a message of its own; Postfix 3.11 logs this
                // line before the notice's cleanup lines, older versions after.
                let notice = self.get_or_open(key(host, new_queue_id), new_queue_id, true, stamp, now);
                notice.origin = "notice";
                notice.notice_of = Some(boxed(qid));
            }
            message => {
                let cap = self.limits.max_recipients;
                let m = self.get_or_open(k, qid, daemon == "cleanup", stamp, now);
                // smtpd's own later lines (a rejected RCPT) do not take a
                // transaction any further than its `client=` line did.
                m.progressed |= daemon != "smtpd";
                match message {
                    Message::MessageId(_, id, _) => m.message_id = Some(boxed(id)),
                    Message::QueueActive { from, size, nrcpt, .. } => {
                        m.sender = Some(boxed(from));
                        m.size = size.or(m.size);
                        m.nrcpt = nrcpt.or(m.nrcpt);
                    }
                    Message::Delivery(_, d) => add_delivery(m, d, cap),
                    Message::Expired(_, from, status) => {
                        m.expired = true;
                        m.force_expired |= *status == "force-expired";
                        m.sender.get_or_insert_with(|| boxed(from));
                    }
                    _ => {}
                }
                if let Some(end) = ending(daemon, message, view.line) {
                    let m = self.open.remove(k).expect("opened above");
                    ev.postfix.message = Some(Box::new(close(m, end)));
                }
            }
        }
    }

    /// The open message for `k`, opening one when none is (the log began
    /// after it entered, or it was evicted): marked unless this line is one
    /// a message can begin with (`entry`: cleanup writing it, or the bounce
    /// daemon announcing a notice).
    fn get_or_open(&mut self, k: u64, qid: &str, entry: bool, stamp: Option<Timestamp>, now: i64) -> &mut Open {
        let abandoned = &mut self.abandoned;
        let m = self.open.get_or_insert_with(k, now, || {
            abandoned.remove(k).unwrap_or_else(|| Open {
                queue_id: boxed(qid),
                origin: if entry { "other" } else { "unknown" },
                first_seen: stamp,
                gaps: if entry { 0 } else { ENTRY_NOT_SEEN },
                ..Open::default()
            })
        });
        if stamp.is_some() {
            m.last_seen = stamp;
        }
        m
    }

    fn wait_for_verdict(&mut self, session: SessionId, k: u64, now: i64) {
        let skey = session.0;
        let keys = self.by_session.get_or_insert_with(skey, now, Vec::new);
        if keys.len() < self.limits.max_per_session {
            keys.push(k);
        }
    }

    /// Gives a finished session's verdict to its messages still open.
    fn session_ended(&mut self, session: SessionId, class: VerdictClass, suspicious: bool, now: i64) {
        let Some(keys) = self.by_session.remove(session.0) else {
            return;
        };
        for k in keys {
            let Some(m) = self.open.get_mut(k, now) else { continue };
            if m.session != Some(session) {
                continue;
            }
            if let Some(c) = m.client.as_mut() {
                c.verdict = Some((class, suspicious));
            }
            if !m.progressed {
                let m = self.open.remove(k).expect("looked up above");
                self.abandoned.insert(k, m, now);
            }
        }
    }
}

fn add_delivery(m: &mut Open, d: &Delivery<'_>, cap: usize) {
    if let Some(delay) = d.delay {
        m.delay = Some(m.delay.map_or(delay, |x: f64| x.max(delay)));
    }
    let deferred = u32::from(d.status == "deferred");
    let found = m
        .recipients
        .iter()
        .position(|r| &*r.address == d.to && r.orig.as_deref() == d.orig_to);
    let r = match found {
        Some(i) => &mut m.recipients[i],
        None if m.recipients.len() >= cap => {
            m.omitted = m.omitted.saturating_add(1);
            return;
        }
        None => {
            m.recipients.push(Rcpt {
                address: boxed(d.to),
                orig: d.orig_to.map(boxed),
                status: boxed(""),
                deferred: 0,
                dsn: None,
                relay: None,
                delay: None,
                text: None,
            });
            m.recipients.last_mut().expect("pushed")
        }
    };
    r.deferred = r.deferred.saturating_add(deferred);
    if &*r.status != d.status {
        r.status = boxed(d.status);
    }
    r.dsn = d.dsn.map(boxed);
    r.relay = (!d.relay.is_empty()).then(|| boxed(d.relay));
    r.delay = d.delay;
    r.text = d.text.map(boxed);
}

fn owned(b: Box<str>) -> Cow<'static, str> {
    Cow::Owned(String::from(b))
}

/// The record of a message that just ended.
fn close(m: Open, end: &'static str) -> MessageRecord<'static> {
    let mut gaps = m.gaps;
    let client = m.client.map(|c| {
        if c.verdict.is_none() && gaps & SESSION_UNKNOWN == 0 {
            gaps |= VERDICT_PENDING;
        }
        MessageClient {
            ip: c.ip.map(owned),
            domain: Some(owned(c.name)),
            port: c.port,
            verdict: c.verdict.map(|v| v.0),
            suspicious: c.verdict.map(|v| v.1),
        }
    });
    let recipients = m
        .recipients
        .into_iter()
        .map(|r| {
            let mut status = owned(r.status);
            if status == "deferred" && (end == "deleted" || m.expired) {
                status = Cow::Borrowed(match (end, m.force_expired) {
                    ("deleted", _) => "deleted",
                    (_, true) => "force-expired",
                    _ => "expired",
                });
            }
            let reply = r.text.as_deref().and_then(remote_reply).map(IntoStatic::into_static);
            RecipientRecord {
                address: owned(r.address),
                orig_address: r.orig.map(owned),
                status,
                deferred: r.deferred,
                dsn: r.dsn.map(owned),
                relay: r.relay.map(owned),
                delay: r.delay,
                detail: if reply.is_none() { r.text.map(owned) } else { None },
                reply,
            }
        })
        .collect();
    MessageRecord {
        queue_id: owned(m.queue_id),
        session_id: m.session,
        origin: m.origin,
        client,
        user: m.user.map(owned),
        sasl_method: m.sasl_method.map(owned),
        sender: m.sender.map(owned),
        size: m.size,
        nrcpt: m.nrcpt,
        message_id: m.message_id.map(owned),
        first_seen: m.first_seen,
        last_seen: m.last_seen,
        delay: m.delay,
        end,
        expired: m.expired,
        recipients,
        recipients_omitted: m.omitted,
        bounce_queue_id: m.bounce_queue_id.map(owned),
        notice_of: m.notice_of.map(owned),
        gaps: GAP_NAMES
            .iter()
            .filter(|(bit, _)| gaps & bit != 0)
            .map(|(_, name)| *name)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{Config, Enricher, Limits, Privacy, Treatment};

    /// Feeds `lines` (prefixed with a syslog stamp and host) and returns
    /// the records in the order they came out, with the index of their line.
    fn records(config: Config, lines: &[&str]) -> Vec<(usize, MessageRecord<'static>)> {
        let mut e = Enricher::new(config);
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let line = format!("Nov 26 16:45:{:02} mail {l}", i % 60);
            let ev = e.enrich(line.as_bytes()).into_static();
            if let Some(m) = ev.postfix.message {
                out.push((i, *m));
            }
        }
        out
    }

    fn config() -> Config {
        let mut c = Config::default();
        c.frame.years = crate::YearPolicy::Fixed(2026);
        c
    }

    const BOUNCED: [&str; 12] = [
        "postfix/smtpd[14030]: connect from unknown[127.0.0.12]:56791",
        "postfix/smtpd[14030]: 1FB29B4037: client=unknown[127.0.0.12]:56791, sasl_method=LOGIN, sasl_username=alice",
        "postfix/cleanup[14275]: 1FB29B4037: message-id=<corpus-003.authenticated_submission@client.lab.test>",
        "postfix/qmgr[14001]: 1FB29B4037: from=<alice@lab.test>, size=423, nrcpt=2 (queue active)",
        "postfix/smtpd[14030]: disconnect from unknown[127.0.0.12]:56791 ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9",
        "postfix/smtp[14276]: 1FB29B4037: to=<reject-dave@sink.test>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.01, delays=0/0/0/0.01, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <reject-dave@sink.test>: Recipient address rejected: User unknown in sink (in reply to RCPT TO command))",
        "postfix/local[14277]: 1FB29B4037: to=<bob@lab.test>, orig_to=<info@lab.test>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
        "postfix/cleanup[14275]: 22A10B4045: message-id=<20261126164556.22A10B4045@mail.lab.test>",
        "postfix/bounce[14283]: 1FB29B4037: sender non-delivery notification: 22A10B4045",
        "postfix/qmgr[14001]: 22A10B4045: from=<>, size=2469, nrcpt=1 (queue active)",
        "postfix/qmgr[14001]: 1FB29B4037: removed",
        "postfix/local[14277]: 22A10B4045: to=<bob@lab.test>, orig_to=<alice@lab.test>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
    ];

    #[test]
    fn bounced_message_and_its_notice_point_at_each_other() {
        let mut lines = BOUNCED.to_vec();
        lines.push("postfix/qmgr[14001]: 22A10B4045: removed");
        let recs = records(config(), &lines);
        assert_eq!(recs.len(), 2, "one record per removed line");
        let (at, m) = &recs[0];
        assert_eq!(*at, 10, "the record rides on the removed line");
        assert_eq!((&*m.queue_id, m.origin, m.end), ("1FB29B4037", "smtpd", "removed"));
        assert!(m.session_id.is_some());
        let c = m.client.as_ref().unwrap();
        assert_eq!((c.ip.as_deref(), c.port), (Some("127.0.0.12"), Some(56791)));
        assert_eq!(c.verdict, Some(VerdictClass::AuthenticatedSubmission));
        assert_eq!(
            (m.user.as_deref(), m.sender.as_deref()),
            (Some("alice"), Some("alice@lab.test"))
        );
        assert_eq!((m.size, m.nrcpt), (Some(423), Some(2)));
        assert_eq!(m.delay, Some(0.02));
        let r: Vec<_> = m.recipients.iter().map(|r| (&*r.address, &*r.status)).collect();
        assert_eq!(
            r,
            [("reject-dave@sink.test", "bounced"), ("bob@lab.test", "sent")],
            "logged order"
        );
        let reply = m.recipients[0].reply.as_ref().unwrap();
        assert_eq!((reply.code, reply.in_reply_to.as_deref()), (550, Some("RCPT")));
        assert_eq!(m.recipients[1].orig_address.as_deref(), Some("info@lab.test"));
        assert_eq!(m.recipients[1].detail.as_deref(), Some("delivered to mailbox"));
        assert_eq!(m.bounce_queue_id.as_deref(), Some("22A10B4045"));
        assert!(m.gaps.is_empty(), "{:?}", m.gaps);
        let (_, notice) = &recs[1];
        assert_eq!(
            (notice.origin, notice.notice_of.as_deref()),
            ("notice", Some("1FB29B4037"))
        );
        assert_eq!(notice.sender.as_deref(), Some(""));
        assert!(notice.client.is_none() && notice.gaps.is_empty());
    }

    #[test]
    fn deferred_then_sent_expired_and_deleted() {
        let recs = records(
            config(),
            &[
                "postfix/pickup[77]: 3F2A81C0B4: uid=1000 from=<alice>",
                "postfix/cleanup[88]: 3F2A81C0B4: message-id=<a@example.org>",
                "postfix/qmgr[99]: 3F2A81C0B4: from=<alice@example.org>, size=900, nrcpt=1 (queue active)",
                "postfix/smtp[5152]: 3F2A81C0B4: to=<carol@example.net>, relay=none, delay=120, delays=0.1/0/120/0, dsn=4.4.1, status=deferred (connect to mx.example.net[203.0.113.7]:25: Connection timed out)",
                "postfix/qmgr[99]: 3F2A81C0B4: from=<alice@example.org>, size=900, nrcpt=1 (queue active)",
                "postfix/smtp[5152]: 3F2A81C0B4: to=<carol@example.net>, relay=mx.example.net[203.0.113.7]:25, delay=3611, delays=3610/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Q1ZnD5sTvzWx)",
                "postfix/qmgr[99]: 3F2A81C0B4: removed",
                "postfix/pickup[77]: 3F2A81C0B5: uid=1000 from=<alice>",
                "postfix/qmgr[99]: 3F2A81C0B5: from=<alice@example.org>, size=900, nrcpt=1 (queue active)",
                "postfix/qmgr[99]: 3F2A81C0B5: to=<dave@example.net>, relay=none, delay=0.2, delays=0.1/0.1/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to mx.example.net[203.0.113.7]:25: Connection timed out)",
                "postfix/qmgr[99]: 3F2A81C0B5: from=<alice@example.org>, status=expired, returned to sender",
                "postfix/bounce[66]: 3F2A81C0B5: sender non-delivery notification: 3F2A81D1C2",
                "postfix/qmgr[99]: 3F2A81C0B5: removed",
                "postfix/pickup[77]: 3F2A81C0B6: uid=1000 from=<alice>",
                "postfix/qmgr[99]: 3F2A81C0B6: from=<alice@example.org>, size=900, nrcpt=1 (queue active)",
                "postfix/smtp[5152]: 3F2A81C0B6: to=<erin@example.net>, relay=none, delay=1, delays=0.1/0/1/0, dsn=4.4.1, status=deferred (connect to mx.example.net[203.0.113.7]:25: Connection refused)",
                "postfix/postsuper[400]: 3F2A81C0B6: removed",
            ],
        );
        let by_id = |q: &str| &recs.iter().find(|(_, m)| m.queue_id == q).unwrap().1;
        let sent = by_id("3F2A81C0B4");
        assert_eq!(
            (sent.origin, sent.sender.as_deref()),
            ("pickup", Some("alice@example.org"))
        );
        let r = &sent.recipients[0];
        assert_eq!((&*r.status, r.deferred), ("sent", 1), "deferred then sent");
        assert_eq!(r.reply.as_ref().map(|x| x.code), Some(250));
        assert_eq!(sent.delay, Some(3611.0));
        let expired = by_id("3F2A81C0B5");
        assert!(expired.expired);
        assert_eq!((&*expired.recipients[0].status, expired.end), ("expired", "removed"));
        assert_eq!(expired.bounce_queue_id.as_deref(), Some("3F2A81D1C2"));
        let deleted = by_id("3F2A81C0B6");
        assert_eq!((&*deleted.recipients[0].status, deleted.end), ("deleted", "deleted"));
        assert!(recs.iter().all(|(_, m)| m.gaps.is_empty() && m.client.is_none()));
    }

    #[test]
    fn evicted_session_and_unseen_entry_are_marked_not_dropped() {
        let mut c = config();
        c.limits = Limits {
            max_sessions: 1,
            ..Limits::default()
        };
        let recs = records(
            c,
            &[
                "postfix/smtpd[1]: connect from unknown[192.0.2.1]:1000",
                // A second process's session pushes the first out of the capped map.
                "postfix/smtpd[2]: connect from unknown[192.0.2.2]:2000",
                "postfix/smtpd[1]: 3F2A81C0B4: client=unknown[192.0.2.1]:1000",
                "postfix/qmgr[99]: 3F2A81C0B4: from=<a@example.org>, size=10, nrcpt=1 (queue active)",
                "postfix/smtpd[1]: disconnect from unknown[192.0.2.1]:1000 ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
                "postfix/qmgr[99]: 3F2A81C0B4: removed",
                "postfix/qmgr[99]: 0E5F4B4037: removed",
                "postfix/smtpd[2]: NOQUEUE: reject: RCPT from unknown[192.0.2.2]:2000: 554 5.7.1 <x@example.com>: Relay access denied; from=<a@b> to=<x@example.com> proto=ESMTP helo=<h>",
            ],
        );
        assert_eq!(recs.len(), 2, "NOQUEUE rejects carry no record");
        // The `client=` line finds no open session on its process, so the
        // context opens one whose start was not seen (its verdict says so
        // with low confidence); the record still links to it.
        let m = &recs[0].1;
        assert!(m.session_id.is_some());
        assert_eq!(
            m.client.as_ref().and_then(|c| c.verdict),
            Some(VerdictClass::MailAccepted)
        );
        assert_eq!(m.client.as_ref().and_then(|c| c.ip.as_deref()), Some("192.0.2.1"));
        let m = &recs[1].1;
        assert_eq!((&*m.queue_id, m.origin), ("0E5F4B4037", "unknown"));
        assert_eq!(m.gaps, ["entry_not_seen"]);
    }

    #[test]
    fn abandoned_transactions_step_aside_but_come_back() {
        let recs = records(
            config(),
            &[
                "postfix/smtpd[14030]: connect from unknown[127.0.0.14]:45991",
                "postfix/smtpd[14030]: 6D2E7B4044: client=unknown[127.0.0.14]:45991",
                "postfix/smtpd[14030]: disconnect from unknown[127.0.0.14]:45991 helo=1 mail=1 rcpt=1/4 rset=1 quit=1 commands=5/8",
                "postfix/smtpd[14031]: connect from unknown[127.0.0.21]:40000",
                "postfix/smtpd[14031]: 597ECB4981: client=unknown[127.0.0.21]:40000",
                "postfix/smtpd[14031]: disconnect from unknown[127.0.0.21]:40000 ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
                // A late line brings the transaction back, with its client.
                "postfix/qmgr[99]: 597ECB4981: from=<news@example.org>, size=382, nrcpt=1 (queue active)",
                "postfix/qmgr[99]: 597ECB4981: removed",
            ],
        );
        assert_eq!(recs.len(), 1);
        let m = &recs[0].1;
        assert_eq!(
            m.client.as_ref().and_then(|c| c.verdict),
            Some(VerdictClass::MailAccepted)
        );
        assert!(m.gaps.is_empty(), "{:?}", m.gaps);
        let mut e = Enricher::new(config());
        for l in [
            "postfix/smtpd[14030]: connect from unknown[127.0.0.14]:45991",
            "postfix/smtpd[14030]: 6D2E7B4044: client=unknown[127.0.0.14]:45991",
            "postfix/smtpd[14030]: 6D2E7B4044: reject: RCPT from unknown[127.0.0.14]:45991: 550 5.1.1 <nobody@lab.test>: Recipient address rejected: User unknown in local recipient table; from=<x@example.com> to=<nobody@lab.test> proto=SMTP helo=<h>",
            "postfix/smtpd[14030]: disconnect from unknown[127.0.0.14]:45991 helo=1 mail=1 rcpt=1/4 rset=1 quit=1 commands=5/8",
        ] {
            e.enrich(format!("Nov 26 16:45:00 mail {l}").as_bytes());
        }
        assert_eq!(e.records.open.stats().live, 0, "not among the open messages");
        assert_eq!(e.stats().messages.live, 1, "but still counted");
        // The next abandoned transaction, two hours later, finds the first past its TTL.
        for l in [
            "postfix/smtpd[14030]: connect from unknown[127.0.0.14]:45992",
            "postfix/smtpd[14030]: 7D2E7B4044: client=unknown[127.0.0.14]:45992",
            "postfix/smtpd[14030]: disconnect from unknown[127.0.0.14]:45992 helo=1 mail=1 rcpt=1/4 rset=1 quit=1 commands=5/8",
        ] {
            e.enrich(format!("Nov 26 18:45:00 mail {l}").as_bytes());
        }
        let s = e.stats().messages;
        assert_eq!((s.live, s.expired), (1, 1), "gone after a session TTL, counted");
    }

    #[test]
    fn caps_count_what_they_leave_out() {
        let mut c = config();
        c.messages.max_recipients = 2;
        c.messages.max_messages = 2;
        let mut lines = vec!["postfix/pickup[77]: 3F2A81C0B4: uid=1000 from=<alice>".to_owned()];
        for r in ["a", "b", "c", "d"] {
            lines.push(format!("postfix/local[5]: 3F2A81C0B4: to=<{r}@lab.test>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)"));
        }
        lines.push("postfix/qmgr[99]: 3F2A81C0B4: removed".to_owned());
        for q in ["3F2A81C0C1", "3F2A81C0C2", "3F2A81C0C3"] {
            lines.push(format!("postfix/pickup[77]: {q}: uid=1000 from=<alice>"));
        }
        let mut e = Enricher::new(c);
        let mut record = None;
        for l in &lines {
            let line = format!("Nov 26 16:45:00 mail {l}");
            if let Some(m) = e.enrich(line.as_bytes()).postfix.message {
                record = Some(m.into_static());
            }
        }
        let m = record.unwrap();
        assert_eq!((m.recipients.len(), m.recipients_omitted), (2, 2));
        let s = e.stats();
        assert_eq!((s.messages.live, s.messages.evicted), (2, 1));
        assert_eq!(s.dropped(), 1, "evicted messages count among the context's drops");
    }

    #[test]
    fn privacy_reaches_the_record() {
        let mut c = config();
        c.privacy = Privacy {
            addresses: Treatment::Hash(b"k".to_vec()),
            users: Treatment::Drop,
        };
        let mut lines = BOUNCED.to_vec();
        lines.push("postfix/qmgr[14001]: 22A10B4045: removed");
        let recs = records(c, &lines);
        let json = serde_json::to_string(&recs[0].1).unwrap();
        for secret in ["alice", "reject-dave", "bob@", "info@"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains("\"address\":\"h:"), "{json}");
    }

    #[test]
    fn replies_quoted_in_status_texts() {
        let r = remote_reply("host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <reject-dave@sink.test>: Recipient address rejected: User unknown in sink (in reply to RCPT TO command)").unwrap();
        assert_eq!((r.code, r.enhanced.as_deref()), (550, Some("5.1.1")));
        assert_eq!(
            r.text,
            "<reject-dave@sink.test>: Recipient address rejected: User unknown in sink"
        );
        assert_eq!(r.in_reply_to.as_deref(), Some("RCPT"));
        let r = remote_reply("250 2.0.0 Ok: queued as SINK0001").unwrap();
        assert_eq!((r.code, &*r.text), (250, "Ok: queued as SINK0001"));
        let r = remote_reply(
            "host mx.example.net[203.0.113.5] said: 450 4.7.1 Try again later (in reply to end of DATA command)",
        )
        .unwrap();
        assert_eq!((r.code, r.in_reply_to.as_deref()), (450, Some("END-OF-MESSAGE")));
        for not_a_reply in [
            "delivered to mailbox",
            "connect to 127.0.0.1[127.0.0.1]:2527: Connection refused",
            "lost connection with mx.example.net[203.0.113.5] while receiving the initial server greeting",
            "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2527: Connection refused",
        ] {
            assert!(remote_reply(not_a_reply).is_none(), "{not_a_reply}");
        }
    }
}
