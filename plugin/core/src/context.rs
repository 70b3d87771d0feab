//! The only state: which session each smtpd process and postscreen client is
//! in, which queue ids belong to which session, and a short per-address
//! window of failed-AUTH and probe sessions. Every map is capped and aged by
//! log time (`BoundedMap`), so memory is bounded whatever the input.

use std::collections::VecDeque;

use xxhash_rust::xxh3::Xxh3;

use crate::bounded::{BoundedMap, MapStats};
use crate::event::{EventKind, Probe, SessionId};
use crate::frame::FrameView;
use crate::message::{ChatLine, EndReason, Message, Parsed, Peer, Redaction};
use crate::verdict::{self, MessageState, SaslFailureKind, SessionFacts, VerdictConfig, WindowCounts};
use crate::{Event, REDACTED};

/// Caps and ages for the context's maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open smtpd sessions (one per process at most).
    pub max_sessions: usize,
    /// Seconds an smtpd session may stay idle before it is dropped.
    pub session_ttl: i64,
    /// Queue id → session links.
    pub max_queue_links: usize,
    /// Seconds a queue link lives without a line about it (deferred mail retries for days).
    pub queue_ttl: i64,
    /// Open postscreen sessions.
    pub max_postscreen: usize,
    /// Client addresses with a window.
    pub max_clients: usize,
    /// Length of the per-address window, in seconds.
    pub window_seconds: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 10_000,
            session_ttl: 3_600,
            max_queue_links: 100_000,
            queue_ttl: 6 * 86_400,
            max_postscreen: 10_000,
            max_clients: 50_000,
            window_seconds: 600,
        }
    }
}

/// Live entries and evictions of every map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContextStats {
    /// smtpd sessions.
    pub sessions: MapStats,
    /// Queue id links.
    pub queue_links: MapStats,
    /// postscreen sessions.
    pub postscreen: MapStats,
    /// Per-address windows.
    pub clients: MapStats,
    /// Sessions replaced by a new `connect from` before their `disconnect from`.
    pub unfinished_sessions: u64,
    /// Open messages behind `postfix.message` (kept by [`crate::record`], filled in by `Enricher::stats`).
    pub messages: MapStats,
}

impl ContextStats {
    /// Evictions and expiries of all maps together.
    pub fn dropped(&self) -> u64 {
        [
            self.sessions,
            self.queue_links,
            self.postscreen,
            self.clients,
            self.messages,
        ]
        .iter()
        .map(|m| m.evicted + m.expired)
        .sum()
    }
}

/// Replies pair with commands first-in first-out; a client that pipelines
/// more than this many unanswered commands is not worth more memory.
const MAX_PENDING: usize = 32;

struct Session {
    id: SessionId,
    client_ip: Option<Box<str>>,
    started: i64,
    facts: SessionFacts,
    pending: VecDeque<&'static str>,
    awaiting_sasl: bool,
}

struct QueueLink {
    session: SessionId,
    /// The smtpd process key of that session, so cleanup's and qmgr's lines
    /// about the message can reach it while it is open.
    process: u64,
}

#[derive(Default)]
struct ClientWindow {
    /// End time and failed AUTH attempts of each session with any.
    auth_failed: VecDeque<(i64, u32)>,
    probes: VecDeque<i64>,
}

/// Session and queue state for one stream of lines.
pub struct Context {
    limits: Limits,
    verdicts: VerdictConfig,
    // Boxed: a Session is over 500 bytes, and unboxed each was moved five
    // times on its way into and out of the map (callgrind: 5% of the
    // enriching thread in memcpy); a box costs one allocation a session.
    sessions: BoundedMap<Box<Session>>,
    postscreen: BoundedMap<Box<Session>>,
    queue: BoundedMap<QueueLink>,
    clients: BoundedMap<ClientWindow>,
    last_time: i64,
    unfinished: u64,
}

// Inlined into each key's call site, where the fixed-width parts (pid,
// port, time) have known lengths: copying them into the buffer is then a
// store, not a call to memcpy (callgrind: 17 M instructions fewer per
// 200,000 lines, the same hashes).
#[inline(always)]
fn hash(parts: &[&[u8]]) -> u64 {
    // One-shot hashing of a stack buffer: the streaming hasher's setup costs
    // more than the few dozen bytes of a key.
    let mut buf = [0u8; 256];
    let mut len = 0;
    for p in parts {
        if len + p.len() + 1 > buf.len() {
            let mut h = Xxh3::new();
            for p in parts {
                h.update(p);
                h.update(&[0xff]);
            }
            return h.digest();
        }
        buf[len..len + p.len()].copy_from_slice(p);
        buf[len + p.len()] = 0xff;
        len += p.len() + 1;
    }
    xxhash_rust::xxh3::xxh3_64(&buf[..len])
}

/// A session id from what identifies a session: who logged it, when it
/// began and with whom.
fn session_id(view: &FrameView<'_>, now: i64, client: &Peer<'_>) -> SessionId {
    let ts = view.timestamp.map_or(now * 1000, |t| t.unix_millis()).to_le_bytes();
    SessionId(hash(&[
        view.host.unwrap_or("").as_bytes(),
        view.program.unwrap_or("").as_bytes(),
        &view.pid.unwrap_or(0).to_le_bytes(),
        &ts,
        client.addr.as_bytes(),
        &client.port.unwrap_or(0).to_le_bytes(),
    ]))
}

impl Session {
    fn new(id: SessionId, client: &Peer<'_>, now: i64, facts: SessionFacts) -> Session {
        Session {
            id,
            client_ip: client.has_ip().then(|| client.addr.into()),
            started: now,
            facts,
            pending: VecDeque::new(),
            awaiting_sasl: false,
        }
    }
}

/// What the context adds to an event beyond its fields.
#[derive(Default)]
pub(crate) struct Additions {
    /// Extra span of the line to hide (a SASL answer the parser could not tell by shape).
    pub redaction: Option<Redaction>,
}

impl Context {
    /// A context with the given limits and verdict thresholds.
    pub fn new(limits: Limits, verdicts: VerdictConfig) -> Self {
        Context {
            sessions: BoundedMap::new(limits.max_sessions, limits.session_ttl),
            postscreen: BoundedMap::new(limits.max_postscreen, limits.session_ttl),
            queue: BoundedMap::new(limits.max_queue_links, limits.queue_ttl),
            clients: BoundedMap::new(limits.max_clients, limits.window_seconds * 2),
            limits,
            verdicts,
            last_time: i64::MIN,
            unfinished: 0,
        }
    }

    /// Counters of every map.
    pub fn stats(&self) -> ContextStats {
        ContextStats {
            sessions: self.sessions.stats(),
            queue_links: self.queue.stats(),
            postscreen: self.postscreen.stats(),
            clients: self.clients.stats(),
            unfinished_sessions: self.unfinished,
            ..ContextStats::default()
        }
    }

    /// Folds one parsed line into the state and adds what the state knows to `ev`.
    pub(crate) fn observe<'a>(&mut self, view: &FrameView<'a>, parsed: &Parsed<'a>, ev: &mut Event<'a>) -> Additions {
        let now = match view.timestamp {
            Some(t) => {
                let s = t.unix_seconds();
                self.last_time = self.last_time.max(s);
                s
            }
            None => self.last_time.max(0),
        };
        let host = view.host.unwrap_or("").as_bytes();
        let daemon = view.daemon.unwrap_or("");
        let mut add = Additions::default();
        match daemon {
            "smtpd" => self.smtpd(view, parsed, ev, now, &mut add),
            "postscreen" => self.postscreen(view, parsed, ev, now),
            _ => {}
        }
        // Queue ids of any daemon: follow the link; bounce notices and
        // "queued as" inherit it.
        if let Some(qid) = ev.postfix.queue_id.as_deref() {
            let qkey = hash(&[host, qid.as_bytes()]);
            let mut process = 0;
            if ev.postfix.session_id.is_none() {
                if let Some(link) = self.queue.get_mut(qkey, now) {
                    ev.postfix.session_id = Some(link.session);
                    process = link.process;
                }
            }
            // cleanup and qmgr confirm that the session's message was
            // received and queued: `client=` alone only opened a transaction.
            let state = match &parsed.message {
                Message::MessageId(..) if daemon == "cleanup" => Some(MessageState::Received),
                Message::QueueActive { .. } => Some(MessageState::Queued),
                _ => None,
            };
            // cleanup's header/body and milter rejects fail the session's DATA.
            let content_reject = daemon == "cleanup" && ev.postfix.event == EventKind::Reject;
            if let Some(session) = ev.postfix.session_id.filter(|_| state.is_some() || content_reject) {
                if let Some(s) = self.sessions.get_mut(process, now).filter(|s| s.id == session) {
                    if let Some(state) = state {
                        s.facts.confirm_queued(qid, state);
                    }
                    if content_reject {
                        record_reject(&mut s.facts, ev);
                    }
                }
            }
            if let (Some(session), Some(related)) = (ev.postfix.session_id, ev.postfix.related_queue_id.as_deref()) {
                self.queue
                    .insert(hash(&[host, related.as_bytes()]), QueueLink { session, process }, now);
            }
            if matches!(parsed.message, Message::Removed(_)) && daemon != "cleanup" {
                self.queue.remove(qkey);
            }
        }
        add
    }

    fn smtpd<'a>(
        &mut self,
        view: &FrameView<'a>,
        parsed: &Parsed<'a>,
        ev: &mut Event<'a>,
        now: i64,
        add: &mut Additions,
    ) {
        let host = view.host.unwrap_or("").as_bytes();
        let program = view.program.unwrap_or("").as_bytes();
        let pid = view.pid.unwrap_or(0).to_le_bytes();
        let pkey = hash(&[host, program, &pid]);
        if let Message::Connect(p) = &parsed.message {
            let id = session_id(view, now, p);
            let facts = SessionFacts {
                reverse_unknown: p.name == "unknown",
                our_host: view.host.map(str::to_owned),
                ..SessionFacts::default()
            };
            let session = Session::new(id, p, now, facts);
            if self.sessions.insert(pkey, Box::new(session), now).is_some() {
                self.unfinished += 1;
            }
            ev.postfix.session_id = Some(id);
            return;
        }
        if self.sessions.get(pkey).is_none() {
            // The log (or this reader, after a restart) began in the middle
            // of this session: open it from here, marked, so its later lines
            // still count and its verdict says what it could not see.
            let Some(client) = session_client(&parsed.message) else {
                return;
            };
            let facts = SessionFacts {
                reverse_unknown: client.name == "unknown",
                our_host: view.host.map(str::to_owned),
                start_unseen: true,
                ..SessionFacts::default()
            };
            let session = Session::new(session_id(view, now, &client), &client, now, facts);
            self.sessions.insert(pkey, Box::new(session), now);
        }
        let Some(s) = self.sessions.get_mut(pkey, now) else {
            return;
        };
        ev.postfix.session_id = Some(s.id);
        let facts = &mut s.facts;
        match &parsed.message {
            Message::Chat(c) => {
                facts.traced = true;
                if c.peer.is_some() {
                    trace_line(s, c, view.line, ev, add);
                }
            }
            Message::SessionEnd { reason, stage, .. } => {
                facts.end = Some((*reason, (*stage).to_owned()));
                if *reason == EndReason::TooManyErrors {
                    push_unique(&mut facts.violations, "too many errors");
                }
            }
            Message::Queued {
                queue_id,
                sasl_method,
                sasl_username,
                ..
            } => {
                facts.add_queued(queue_id);
                if sasl_username.is_some() {
                    facts.auth_success = true;
                    if let Some(m) = sasl_method {
                        add_method(facts, m);
                    }
                }
                let qkey = hash(&[host, queue_id.as_bytes()]);
                let link = QueueLink {
                    session: s.id,
                    process: pkey,
                };
                self.queue.insert(qkey, link, now);
            }
            Message::Policy { policy, .. } => {
                if let Some(h) = policy.helo {
                    facts.helo.get_or_insert_with(|| short(h, 255).to_owned());
                }
                record_reject(facts, ev);
            }
            Message::SaslFailure {
                mechanism,
                reason,
                aborted,
                ..
            } => {
                facts.sasl.record(SaslFailureKind::of(*reason, *aborted));
                add_method(facts, mechanism);
            }
            Message::NonSmtpCommand(_, line) => {
                facts
                    .non_smtp
                    .get_or_insert_with(|| format!("non-SMTP command: {}", short(line, 60)));
            }
            Message::ImproperPipelining { .. } => {
                push_unique(&mut facts.violations, "improper command pipelining");
            }
            Message::Tls(t) if matches!(t.action, "established" | "reused") => facts.tls = true,
            // Limits and bare newlines are evidence about the client (issue 9 §4);
            // how they rank is the verdict's business.
            Message::RateLimit { kind, .. } => push_unique(&mut facts.rate_limits, kind),
            Message::BareNewline { .. } => push_unique(&mut facts.violations, "bare <LF> received"),
            Message::Disconnect(_, stats) => {
                facts.stats = stats.clone();
                let session = self.sessions.remove(pkey).expect("session looked up above");
                ev.probe = Some(self.verdict(session, now));
            }
            _ => {}
        }
    }

    fn postscreen<'a>(&mut self, view: &FrameView<'a>, parsed: &Parsed<'a>, ev: &mut Event<'a>, now: i64) {
        let client: Option<Peer<'_>> = match &parsed.message {
            Message::Screen(s) => s.client,
            Message::Policy { client, .. } => *client,
            Message::Chat(c) => c.peer,
            _ => None,
        };
        let Some(client) = client else { return };
        let host = view.host.unwrap_or("").as_bytes();
        let ckey = hash(&[
            host,
            b"postscreen",
            client.addr.as_bytes(),
            &client.port.unwrap_or(0).to_le_bytes(),
        ]);
        if let Message::Screen(s) = &parsed.message {
            if s.action == "connect" {
                let id = session_id(view, now, &client);
                let session = Session::new(id, &client, now, SessionFacts::default());
                self.postscreen.insert(ckey, Box::new(session), now);
                ev.postfix.session_id = Some(id);
                return;
            }
        }
        let Some(sess) = self.postscreen.get_mut(ckey, now) else {
            return;
        };
        ev.postfix.session_id = Some(sess.id);
        let facts = &mut sess.facts;
        let mut ends = false;
        match &parsed.message {
            Message::Screen(s) => match s.action {
                "pregreet" => push_unique(&mut facts.violations, "pregreet (talked before the greeting)"),
                "command_pipelining" => push_unique(&mut facts.violations, "command pipelining"),
                "bare_newline" => push_unique(&mut facts.violations, "bare newline"),
                "command_count_limit" | "command_length_limit" => push_unique(&mut facts.violations, s.action),
                "data_without_rcpt" => push_unique(&mut facts.violations, "DATA without valid RCPT"),
                "command_time_limit" => facts.end = Some((EndReason::Timeout, s.stage.unwrap_or("").to_owned())),
                "non_smtp_command" => {
                    facts.non_smtp.get_or_insert_with(|| {
                        format!("postscreen NON-SMTP COMMAND: {}", short(s.detail.unwrap_or(""), 60))
                    });
                }
                "dnsbl" => {
                    facts.rejects.policy += 1;
                    facts
                        .first_reject
                        .get_or_insert_with(|| format!("DNSBL rank {}", s.count.unwrap_or(0)));
                }
                "denylisted" => {
                    facts.rejects.policy += 1;
                    facts.first_reject.get_or_insert_with(|| "denylisted".into());
                }
                "hangup" => {
                    let stage = s.stage.unwrap_or("its tests");
                    let seconds = s.seconds.map(|t| format!(" after {t}s")).unwrap_or_default();
                    let what = if stage.contains("after SMTP handshake") {
                        "; postscreen logs no commands, so any the client sent are unknown"
                    } else {
                        ", before any SMTP command"
                    };
                    facts.postscreen_hangup = Some(format!("postscreen: the client hung up{seconds} in {stage}{what}"));
                }
                "pass_old" => {
                    facts.postscreen_pass = true;
                    ends = true;
                }
                "pass_new" => facts.postscreen_pass = true,
                "disconnect" => ends = true,
                _ => {}
            },
            Message::Policy { policy, .. } => {
                if let Some(h) = policy.helo {
                    facts.helo.get_or_insert_with(|| short(h, 255).to_owned());
                }
                // A good new client gets "450 4.3.2 Service currently unavailable"
                // from the deep tests and comes back: not a probe signal on its own.
                if !(policy.reply.code == 450 && policy.reply.enhanced == Some("4.3.2")) {
                    record_reject(facts, ev);
                }
            }
            Message::Chat(c) => {
                facts.traced = true;
                if c.from_client {
                    if let Some(v) = c.verb {
                        facts.trace.record(v, true);
                    }
                }
            }
            _ => {}
        }
        if ends {
            let session = self.postscreen.remove(ckey).expect("looked up above");
            ev.probe = Some(self.verdict(session, now));
        }
    }

    /// Classifies a finished session, consulting and updating its address's window.
    fn verdict(&mut self, session: Box<Session>, now: i64) -> Probe {
        let facts = &session.facts;
        let mut window = WindowCounts {
            window_seconds: self.limits.window_seconds as u32,
            ..WindowCounts::default()
        };
        let attempts = if facts.auth_succeeded() {
            0
        } else {
            facts.auth_outcome().attempts
        };
        let wkey = session.client_ip.as_deref().map(|ip| hash(&[ip.as_bytes()]));
        if let Some(wkey) = wkey {
            // This session, whether or not the address has a window yet.
            window.probe_sessions = 1;
            // An empty window counts as no window, so one is made only to
            // hold something: most sessions (a legitimate client's) add
            // nothing, and inserting then expiring their windows showed in
            // profiles.
            let w = if attempts > 0 {
                Some(self.clients.get_or_insert_with(wkey, now, ClientWindow::default))
            } else {
                self.clients.get_mut(wkey, now)
            };
            let horizon = now - self.limits.window_seconds;
            if let Some(w) = w {
                while w.auth_failed.front().is_some_and(|&(t, _)| t < horizon) {
                    w.auth_failed.pop_front();
                }
                while w.probes.front().is_some_and(|&t| t < horizon) {
                    w.probes.pop_front();
                }
                if attempts > 0 {
                    bounded_push(&mut w.auth_failed, (now, attempts));
                }
                window.auth_failed_sessions = w.auth_failed.len() as u32;
                window.auth_failed_attempts = w.auth_failed.iter().map(|&(_, n)| n).sum();
                window.probe_sessions = w.probes.len() as u32 + 1;
            }
        }
        let mut probe = verdict::classify(facts, window, &self.verdicts);
        if let (true, Some(wkey)) = (probe.suspicious, wkey) {
            let w = self.clients.get_or_insert_with(wkey, now, ClientWindow::default);
            bounded_push(&mut w.probes, now);
        }
        // A session opened mid-way has no known start.
        probe.duration = (!facts.start_unseen).then(|| now - session.started);
        probe
    }
}

fn bounded_push<T>(q: &mut VecDeque<T>, t: T) {
    if q.len() >= 256 {
        q.pop_front();
    }
    q.push_back(t);
}

/// Counts a reject line in the session's facts, by the class `describe`
/// already gave it (`smtp.reject.class`), so a line is classified once.
fn record_reject(facts: &mut SessionFacts, ev: &Event<'_>) {
    if ev.postfix.event != EventKind::Reject {
        return;
    }
    let Some(smtp) = ev.smtp.as_ref() else { return };
    let Some(reject) = smtp.reject.as_ref() else { return };
    if reject.action == "reject_warning" {
        // A dry run (`warn_if_reject`): the command went through.
        return;
    }
    facts.rejects.record_stage(smtp.stage.as_deref().unwrap_or(""));
    match reject.class {
        "relay_denied" => facts.rejects.relay_denied += 1,
        "unknown_recipient" => facts.rejects.unknown_recipient += 1,
        "protocol" => {
            facts.rejects.protocol += 1;
            push_unique(&mut facts.violations, "protocol reject");
        }
        _ => facts.rejects.policy += 1,
    }
    if facts.first_reject.is_none() {
        let stage = smtp.stage.as_deref().unwrap_or("");
        let text = smtp.reply.as_ref().map_or("", |r| &r.text);
        facts.first_reject = Some(format!("{stage} {}", short(text, 120)));
    }
}

fn push_unique(v: &mut Vec<&'static str>, s: &'static str) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn add_method(facts: &mut SessionFacts, m: &str) {
    if facts.sasl_methods.len() < 8 && !facts.sasl_methods.iter().any(|x| x == m) {
        facts.sasl_methods.push(m.to_owned());
    }
}

fn short(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Facts from a disconnect line alone (stateless verdicts).
pub(crate) fn stateless_facts(p: &Peer<'_>, m: &Message<'_>) -> SessionFacts {
    let stats = match m {
        Message::Disconnect(_, s) => s.clone(),
        _ => None,
    };
    SessionFacts {
        stats,
        reverse_unknown: p.name == "unknown",
        start_unseen: true,
        ..SessionFacts::default()
    }
}

/// The client a line inside an smtpd session names, for opening a session
/// whose `connect from` was not seen.
fn session_client<'a>(m: &Message<'a>) -> Option<Peer<'a>> {
    match m {
        Message::Disconnect(p, _)
        | Message::SessionEnd { client: p, .. }
        | Message::Queued { client: p, .. }
        | Message::SaslFailure { client: p, .. }
        | Message::NonSmtpCommand(p, _)
        | Message::ImproperPipelining { client: p, .. }
        | Message::IllegalAddress(p, _) => Some(*p),
        Message::Policy { client, .. } => *client,
        Message::Chat(c) => c.peer,
        _ => None,
    }
}

/// Does a client line of a trace carry binary bytes? Postfix prints every
/// byte that is not printable as `?` (msg_output.c, printable()), and invalid
/// UTF-8 that slips through decodes as U+FFFD: a line that is mostly those
/// (a TLS ClientHello on the plain port, an RDP or SMB probe) is no command.
fn looks_binary(text: &str) -> bool {
    let mut odd = 0usize;
    let mut all = 0usize;
    for ch in text.chars() {
        all += 1;
        if ch == '?' || ch == char::REPLACEMENT_CHARACTER || ch.is_control() {
            odd += 1;
        }
    }
    odd >= 3 && odd * 4 >= all
}

/// One trace line inside an smtpd session: pair replies with commands, spot
/// AUTH exchanges, read what the EHLO reply offered.
fn trace_line<'a>(s: &mut Session, c: &ChatLine<'a>, line: &'a str, ev: &mut Event<'a>, add: &mut Additions) {
    let facts = &mut s.facts;
    if c.from_client {
        if s.awaiting_sasl {
            // The answer to a 334 challenge, whatever its shape, is a credential.
            s.awaiting_sasl = false;
            add.redaction = Some(Redaction {
                start: line.len() - c.text.len(),
                end: line.len(),
            });
            ev.postfix.event = EventKind::SaslResponse;
            ev.event.action = EventKind::SaslResponse.as_str();
            ev.event.category = "authentication";
            if let Some(sm) = ev.smtp.as_mut() {
                sm.verb = Some("AUTH");
                sm.arguments = Some(REDACTED.into());
                sm.helo = None;
                sm.helo_fqdn = None;
            }
            return;
        }
        let Some(verb) = c.verb else { return };
        if s.pending.len() < MAX_PENDING {
            s.pending.push_back(verb);
        }
        if matches!(verb, "EHLO" | "HELO") && !c.args.is_empty() {
            facts
                .helo
                .get_or_insert_with(|| short(c.args.split(' ').next().unwrap_or(""), 255).to_owned());
        }
        if verb == "NON_SMTP" {
            let a = c.args;
            let http =
                a.contains("HTTP/") || a.starts_with("GET ") || a.starts_with("POST ") || a.starts_with("CONNECT ");
            if http {
                facts
                    .non_smtp
                    .get_or_insert_with(|| format!("{} (trace)", short(a, 60)));
            } else if looks_binary(a) {
                facts
                    .non_smtp
                    .get_or_insert_with(|| format!("binary bytes from the client (trace: {})", short(a, 30)));
            }
        }
        return;
    }
    let Some(r) = c.reply else { return };
    if r.code == 500 && (r.text.ends_with("Error: bad UTF-8 syntax") || r.text == "Error: bad syntax") {
        // smtpd answers so before it even looks for a command (and 3.7
        // neither logs nor counts it): bytes that are not an SMTP command line.
        facts
            .non_smtp
            .get_or_insert_with(|| format!("client input answered \"{} {}\" (trace)", r.code, short(r.text, 40)));
    }
    let front = s.pending.front().copied();
    if r.code == 220 && front.is_none() && facts.our_banner_name.is_none() {
        // The greeting names us: "220 mail.example.com ESMTP Postfix".
        let name = r.text.split(' ').next().unwrap_or("");
        facts.our_banner_name = Some(short(name, 255).to_owned());
    }
    if matches!(front, Some("EHLO")) && r.code == 250 {
        let t = r.text;
        if t.eq_ignore_ascii_case("STARTTLS") {
            facts.offered_starttls = true;
        } else if let Some(m) = t.strip_prefix("AUTH ").or_else(|| t.strip_prefix("AUTH=")) {
            facts.offered_auth.get_or_insert_with(|| short(m, 64).to_owned());
        }
    }
    if r.code == 334 {
        s.awaiting_sasl = true;
        return;
    }
    if r.code == 354 || !r.last {
        return;
    }
    s.awaiting_sasl = false;
    if let Some(verb) = s.pending.pop_front() {
        let ok = r.code < 400;
        facts.trace.record(verb, ok);
        if verb == "AUTH" && r.code == 235 {
            facts.auth_success = true;
        }
    }
}
