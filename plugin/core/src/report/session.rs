//! Sessions as they pass: folds the Events of one smtpd or postscreen
//! session into a [`SessionSummary`] (its pattern, an example timeline, what
//! it tried and what it got), handed on when the session's verdict arrives.
//! Only sessions still open are kept, at most a configured number; when the
//! cap is reached the oldest is handed on unfinished, never dropped. The
//! report and `what-if` both read these summaries, never the log lines.

use std::collections::{HashMap, VecDeque};

use crate::bounded::FastHash;
use crate::event::{Event, EventKind, Probe, SessionId};
use crate::explain::{append_step, Step};
use crate::timestamp::Timestamp;

/// Units a pattern keeps; the rest are counted.
const MAX_UNITS: usize = 16;
/// Small lists (user names, relay targets, rejects) kept per session.
const MAX_LIST: usize = 4;

/// One finished (or, at the end of the input, unfinished) session.
#[derive(Debug, Clone, Default)]
pub struct SessionSummary {
    /// Session id.
    pub id: SessionId,
    /// Client IP, or `unknown`.
    pub client: String,
    /// Reverse-DNS name when Postfix had one (not `unknown`).
    pub name: Option<String>,
    /// True when Postfix logged the client as `unknown[IP]` (no reverse DNS name).
    pub reverse_unknown: bool,
    /// First line's time.
    pub start: Option<Timestamp>,
    /// Daemon: the tracker opens sessions of smtpd and postscreen only.
    pub daemon: Option<&'static str>,
    /// Process id.
    pub pid: Option<u32>,
    /// The verdict, when the session ended within the input.
    pub verdict: Option<Probe>,
    /// The session's shape: commands with their replies, how it ended.
    pub pattern: Pattern,
    /// The first steps of its timeline.
    pub steps: Vec<Step>,
    /// Steps not kept.
    pub steps_omitted: usize,
    /// HELO/EHLO name, when a trace or a reject line showed it.
    pub helo: Option<String>,
    /// AUTH attempts (commands, failures or statistics, whichever says more).
    pub auth_attempts: u32,
    /// AUTH successes.
    pub auth_successes: u32,
    /// SASL user names tried or used (a few).
    pub users: Vec<String>,
    /// MAIL FROM commands.
    pub mail: u32,
    /// RCPT TO commands.
    pub rcpt: u32,
    /// RCPT TO refused.
    pub rcpt_rejected: u32,
    /// Recipients refused with `Relay access denied` (a few).
    pub relay_targets: Vec<String>,
    /// Messages queued.
    pub queued: u32,
    /// Policy decisions logged for the session (a few): action, stage, class, reason.
    pub rejects: Vec<RejectSeen>,
    /// Highest protocol stage reached, as far as the log shows it.
    pub reached_rcpt: bool,
    /// True when a verbose trace showed the session's commands.
    pub traced: bool,
    /// True when postscreen logged PREGREET (the client spoke before its turn).
    pub pregreet: bool,
    /// Names of the blocklists that list the client.
    pub blocklists: Vec<String>,
    /// Session ended before its verdict arrived (input cut, or evicted at the cap).
    pub unfinished: bool,
}

/// A policy decision line of the session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RejectSeen {
    /// reject, reject_warning, hangup, ...
    pub action: String,
    /// Stage: CONNECT, EHLO, RCPT, ...
    pub stage: String,
    /// Classification (relay_denied, helo, client, ...).
    pub class: &'static str,
    /// Reason text.
    pub reason: String,
}

/// A session's shape: units (a client command and what answered it) with
/// consecutive repeats counted, so twenty refused recipients are one unit ×20.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pattern {
    units: Vec<(String, u32)>,
    more: u32,
}

impl Pattern {
    fn push_unit(&mut self, unit: String) {
        if unit.is_empty() {
            return;
        }
        let full = self.units.len() >= MAX_UNITS;
        match self.units.last_mut() {
            Some((u, n)) if *u == unit => *n += 1,
            _ if full => self.more += 1,
            _ => self.units.push((unit, 1)),
        }
    }

    /// Moves the pattern out, its vector no larger than its units.
    pub(crate) fn take_tight(&mut self) -> Pattern {
        let mut p = std::mem::take(self);
        p.units.shrink_to_fit();
        p
    }

    /// `EHLO User → 250 (offers STARTTLS, AUTH PLAIN) → QUIT → 221`.
    pub fn render(&self) -> String {
        let mut parts: Vec<String> = self
            .units
            .iter()
            .map(|(u, n)| match (n, u.contains(" → ")) {
                (1, _) => u.clone(),
                (n, true) => format!("({u}) ×{n}"),
                (n, false) => format!("{u} ×{n}"),
            })
            .collect();
        if self.more > 0 {
            parts.push(format!("… {} more", self.more));
        }
        if parts.is_empty() {
            return "(nothing logged)".to_owned();
        }
        parts.join(" → ")
    }
}

/// Summaries' buffers kept for reuse, at most this many.
const MAX_SPARE: usize = 64;

/// The buffers of a summary the report is done with, emptied.
#[derive(Default)]
struct Spare {
    client: String,
    steps: Vec<Step>,
    units: Vec<(String, u32)>,
}

/// A session being read.
struct Open {
    summary: SessionSummary,
    unit: String,
    saw_command: bool,
    reply_code: Option<u16>,
    offers: Vec<String>,
    in_reply: bool,
    order: u64,
}

/// Tracks open sessions and hands each on as a [`SessionSummary`].
pub struct SessionTracker {
    open: HashMap<u64, Open, FastHash>,
    /// Buffers of summaries the report is done with, for the next sessions.
    spare: Vec<Spare>,
    order: VecDeque<(u64, u64)>,
    next: u64,
    cap: usize,
    example_steps: usize,
    evicted: u64,
}

impl SessionTracker {
    /// Keeps at most `cap` open sessions and `example_steps` steps of each.
    pub fn new(cap: usize, example_steps: usize) -> Self {
        SessionTracker {
            open: HashMap::default(),
            spare: Vec::new(),
            order: VecDeque::new(),
            next: 0,
            cap: cap.max(1),
            example_steps,
            evicted: 0,
        }
    }

    /// Takes back a summary the caller is done with, keeping its buffers
    /// (emptied) for a session still to come. Every session fills a
    /// timeline, a pattern and an address, and most are only counted; in
    /// profiles of a large report glibc's malloc and free (its chunk
    /// coalescing above all) took about a sixth of the time, and these were
    /// three allocations of every session.
    pub fn recycle(&mut self, summary: SessionSummary) {
        if self.spare.len() >= MAX_SPARE {
            return;
        }
        let SessionSummary {
            mut client,
            mut steps,
            pattern: Pattern { mut units, .. },
            ..
        } = summary;
        client.clear();
        steps.clear();
        units.clear();
        self.spare.push(Spare { client, steps, units });
    }

    /// Sessions handed on unfinished because the cap was reached.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Reads one event; calls `done` for each session it finishes (its own
    /// when the event carries the verdict, the oldest when the cap is hit).
    pub fn push(&mut self, ev: &Event<'_>, done: &mut (impl FnMut(SessionSummary) + ?Sized)) {
        self.track(ev, ev.probe.clone(), done);
    }

    /// [`SessionTracker::push`] for a caller done with the event: its
    /// verdict is taken out of it into the summary instead of being copied
    /// (a copy is five allocations, once per session).
    pub fn push_taking(&mut self, ev: &mut Event<'_>, done: &mut (impl FnMut(SessionSummary) + ?Sized)) {
        let verdict = ev.probe.take();
        self.track(ev, verdict, done);
    }

    /// `verdict` is the event's own (`ev.probe` may have been taken).
    pub(crate) fn track(
        &mut self,
        ev: &Event<'_>,
        verdict: Option<Probe>,
        done: &mut (impl FnMut(SessionSummary) + ?Sized),
    ) {
        let Some(id) = ev.postfix.session_id else {
            return;
        };
        if matches!(ev.postfix.event, EventKind::Debug | EventKind::ProxyChat) {
            return;
        }
        if !self.open.contains_key(&id.0) {
            // Queue lines of a finished session's messages carry its id too;
            // only smtpd and postscreen lines open (or reopen) a session.
            let daemon = match ev.postfix.daemon.as_deref() {
                Some("smtpd") => "smtpd",
                Some("postscreen") => "postscreen",
                _ => return,
            };
            self.open_session(id, daemon, ev, done);
        }
        let Some(open) = self.open.get_mut(&id.0) else {
            return;
        };
        observe(open, ev, self.example_steps);
        if verdict.is_some() {
            open.summary.verdict = verdict;
            if let Some(open) = self.open.remove(&id.0) {
                done(close(open));
            }
        }
        if self.order.len() > 2 * self.cap + 64 {
            let open = &self.open;
            self.order.retain(|(k, o)| open.get(k).is_some_and(|s| s.order == *o));
        }
    }

    fn open_session(
        &mut self,
        id: SessionId,
        daemon: &'static str,
        ev: &Event<'_>,
        done: &mut (impl FnMut(SessionSummary) + ?Sized),
    ) {
        while self.open.len() >= self.cap {
            let Some((k, o)) = self.order.pop_front() else {
                break;
            };
            if self.open.get(&k).is_some_and(|s| s.order == o) {
                if let Some(old) = self.open.remove(&k) {
                    self.evicted += 1;
                    let mut s = close(old);
                    s.unfinished = true;
                    done(s);
                }
            }
        }
        let ip = ev.client.as_ref().and_then(|c| c.ip.as_deref()).unwrap_or("unknown");
        let Spare {
            mut client,
            steps,
            units,
        } = self.spare.pop().unwrap_or_default();
        client.push_str(ip);
        let order = self.next;
        self.next += 1;
        self.order.push_back((id.0, order));
        self.open.insert(
            id.0,
            Open {
                summary: SessionSummary {
                    id,
                    client,
                    steps,
                    pattern: Pattern { units, more: 0 },
                    start: ev.timestamp,
                    daemon: Some(daemon),
                    pid: ev.process.as_ref().and_then(|p| p.pid),
                    ..SessionSummary::default()
                },
                unit: String::new(),
                saw_command: false,
                reply_code: None,
                offers: Vec::new(),
                in_reply: false,
                order,
            },
        );
    }

    /// Hands on every session still open (the input ended), oldest first.
    pub fn finish(&mut self, done: &mut (impl FnMut(SessionSummary) + ?Sized)) {
        let mut rest: Vec<Open> = self.open.drain().map(|(_, o)| o).collect();
        rest.sort_by_key(|o| o.order);
        self.order.clear();
        for o in rest {
            let mut s = close(o);
            s.unfinished = true;
            done(s);
        }
    }
}

fn close(mut open: Open) -> SessionSummary {
    let unit = std::mem::take(&mut open.unit);
    let s = &mut open.summary;
    s.pattern.push_unit(unit);
    // Statistics (Postfix >= 3.0) say more than the lines when there is no trace.
    if let Some(stats) = s.verdict.as_ref().and_then(|v| v.commands.as_ref()) {
        if let Some((ok, total)) = stats.get("auth") {
            s.auth_attempts = s.auth_attempts.max(total);
            s.auth_successes = s.auth_successes.max(ok);
        }
        if let Some((_, total)) = stats.get("mail") {
            s.mail = s.mail.max(total);
        }
        if let Some((ok, total)) = stats.get("rcpt") {
            s.rcpt = s.rcpt.max(total);
            s.rcpt_rejected = s.rcpt_rejected.max(total - ok.min(total));
            s.reached_rcpt |= total > 0;
        }
        // Counted as the verdict counts them. Without this a session whose
        // `QID: client=` line is missing (a filtered or cut log) was
        // mail_accepted in its verdict and "got nothing" in the report.
        let data = stats.get("data").map(|(ok, _)| ok);
        let bdat = stats.get("bdat").map_or(0, |(ok, _)| ok);
        if let Some(accepted) = crate::verdict::accepted_by_counts(data, bdat, s.queued) {
            s.queued = accepted;
        }
    }
    open.summary
}

fn push_small(list: &mut Vec<String>, item: &str) {
    if list.len() < MAX_LIST && !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

fn observe(open: &mut Open, ev: &Event<'_>, example_steps: usize) {
    let s = &mut open.summary;
    append_step(
        &mut s.steps,
        &mut s.steps_omitted,
        example_steps,
        &mut open.in_reply,
        ev,
    );
    if let Some(c) = &ev.client {
        match c.domain.as_deref() {
            Some("unknown") => s.reverse_unknown = true,
            Some(name) if s.name.is_none() => s.name = Some(name.to_owned()),
            _ => {}
        }
    }
    if let Some(t) = &ev.threat {
        for e in &t.enrichments {
            push_small(&mut s.blocklists, &e.indicator.provider);
        }
    }
    let smtp = ev.smtp.as_ref();
    if let Some(h) = smtp.and_then(|m| m.helo.as_deref()) {
        s.helo = Some(h.to_owned());
    }
    if let Some(stage) = smtp.and_then(|m| m.stage.as_deref()) {
        s.reached_rcpt |= matches!(stage, "RCPT" | "DATA" | "BDAT" | "END-OF-MESSAGE");
    }
    let user = ev.user.as_ref().map(|u| u.name.as_ref());
    let token: Option<String> = match ev.postfix.event {
        EventKind::SmtpCommand => {
            let verb = smtp.and_then(|m| m.verb).unwrap_or("?");
            let args = smtp.and_then(|m| m.arguments.as_deref()).unwrap_or("");
            match verb {
                "AUTH" => s.auth_attempts += 1,
                "MAIL" => s.mail += 1,
                "RCPT" => {
                    s.rcpt += 1;
                    s.reached_rcpt = true;
                }
                _ => {}
            }
            let unit = std::mem::take(&mut open.unit);
            s.pattern.push_unit(unit);
            open.saw_command = true;
            s.traced = true;
            open.unit = match verb {
                "EHLO" | "HELO" | "LHLO" => format!("{verb} {}", args.split(' ').next().unwrap_or(""))
                    .trim_end()
                    .to_owned(),
                "AUTH" => format!("AUTH {}", args.split(' ').next().unwrap_or(""))
                    .trim_end()
                    .to_owned(),
                "NON_SMTP" => "non-SMTP".to_owned(),
                v => v.to_owned(),
            };
            None
        }
        EventKind::SmtpReply => {
            let r = smtp.and_then(|m| m.reply.as_ref());
            match r {
                // The greeting before any command is the same for every session.
                Some(r) if !open.saw_command && r.code == 220 => None,
                Some(r) => {
                    open.reply_code.get_or_insert(r.code);
                    let text = r.text.as_ref();
                    // `AUTH=PLAIN` repeats `AUTH PLAIN` for old clients: one is enough.
                    if (text == "STARTTLS" || text.starts_with("AUTH ")) && open.offers.len() < MAX_LIST {
                        open.offers.push(text.to_owned());
                    }
                    if r.code == 235 {
                        s.auth_successes += 1;
                    }
                    if r.last {
                        let code = open.reply_code.take().unwrap_or(r.code);
                        let offers = std::mem::take(&mut open.offers);
                        Some(if offers.is_empty() {
                            code.to_string()
                        } else {
                            format!("{code} (offers {})", offers.join(", "))
                        })
                    } else {
                        None
                    }
                }
                None => None,
            }
        }
        EventKind::Reject | EventKind::Policy => smtp.and_then(|m| m.reject.as_ref()).map(|r| {
            let stage = smtp.and_then(|m| m.stage.as_deref()).unwrap_or("");
            if stage == "RCPT" && r.action.contains("reject") {
                s.rcpt_rejected += 1;
                if r.class == "relay_denied" {
                    if let Some(to) = ev.email.as_ref().and_then(|e| e.to.as_ref()) {
                        push_small(&mut s.relay_targets, &to.address);
                    }
                }
            }
            if s.rejects.len() < MAX_LIST {
                s.rejects.push(RejectSeen {
                    action: r.action.to_string(),
                    stage: stage.to_owned(),
                    class: r.class,
                    reason: r.reason.to_string(),
                });
            }
            format!("{stage} {} ({})", r.action, r.class).trim_start().to_owned()
        }),
        EventKind::SaslFailure => {
            if let Some(u) = user {
                push_small(&mut s.users, u);
            }
            // A trace already shows the AUTH command and its 535.
            (!open.saw_command).then(|| {
                s.auth_attempts += 1;
                "AUTH failed".to_owned()
            })
        }
        EventKind::Queued => {
            s.queued += 1;
            if let Some(u) = user {
                push_small(&mut s.users, u);
                s.auth_successes = s.auth_successes.max(1);
            }
            Some("queued".to_owned())
        }
        EventKind::LostConnection | EventKind::Timeout | EventKind::TooManyErrors => {
            let stage = smtp.and_then(|m| m.stage.as_deref()).unwrap_or("?");
            Some(format!("{} after {stage}", ev.postfix.event.as_str().replace('_', " ")))
        }
        EventKind::Disconnect if !open.saw_command => Some(
            ev.postfix
                .disconnect_stats
                .as_ref()
                .map_or_else(|| "disconnect".to_owned(), |st| st.text(false)),
        ),
        EventKind::NonSmtpCommand => Some("non-SMTP command".to_owned()),
        EventKind::ImproperPipelining => Some("improper pipelining".to_owned()),
        EventKind::Postscreen => ev.postfix.postscreen.as_ref().map(|p| {
            s.pregreet |= p.action == "pregreet";
            format!("postscreen {}", p.action)
        }),
        _ => None,
    };
    if let Some(t) = token {
        if !open.saw_command {
            // Without a trace every logged fact is a unit of its own, so
            // repeated refusals collapse into one `×n`.
            s.pattern.push_unit(t);
        } else if open.unit.is_empty() {
            open.unit = t;
        } else {
            open.unit.push_str(" → ");
            open.unit.push_str(&t);
        }
    }
}
