//! Session facts and the verdict rules. The rules are one ordered list: the
//! first that matches names the class, and every class carries the facts
//! that made it. The same function serves the stateful context and the
//! stateless path (a Postfix ≥ 3.0 `disconnect from` line alone).

use std::borrow::Cow;

use crate::event::{Confidence, Evidence, Probe, Stats, VerdictClass};
use crate::message::{DisconnectStats, EndReason};

/// A piece of a reason: text, or a count written with itoa.
trait Piece {
    /// At most the bytes it writes, so that a reason is allocated once.
    fn size(&self) -> usize;
    fn push_to(&self, out: &mut String);
}

impl Piece for str {
    fn size(&self) -> usize {
        self.len()
    }
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for String {
    fn size(&self) -> usize {
        self.as_str().size()
    }
    fn push_to(&self, out: &mut String) {
        self.as_str().push_to(out);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn push_to(&self, out: &mut String) {
        (**self).push_to(out);
    }
}

impl Piece for u32 {
    fn size(&self) -> usize {
        // Decimal digits of the largest count.
        u32::MAX.ilog10() as usize + 1
    }
    fn push_to(&self, out: &mut String) {
        crate::event::push_count(out, *self);
    }
}

/// A reason made of pieces, in order, in one allocation. Not `format!`:
/// its machinery cost about 800 instructions a reason, 4% of the enriching
/// thread's work on a flood of sessions (callgrind), for wordings that are
/// only joined.
fn joined(pieces: &[&dyn Piece]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.size()).sum());
    for p in pieces {
        p.push_to(&mut out);
    }
    out
}

/// [`joined`] of the pieces given, each evaluated once.
macro_rules! text {
    ($($piece:expr),+ $(,)?) => {
        joined(&[$(&$piece),+])
    };
}

/// Queue ids a session keeps for its evidence; a session that sends
/// thousands of messages must not grow without bound.
pub const MAX_QUEUE_IDS_KEPT: usize = 8;

/// How far a queue id got, by the lines that named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageState {
    /// smtpd's `QID: client=`: a transaction began (at the first accepted RCPT).
    Assigned,
    /// cleanup's `QID: message-id=`: content arrived, not yet committed.
    Received,
    /// qmgr's `QID: from=..., (queue active)`: committed to the queue.
    Queued,
}

/// One queue id a session assigned, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The queue id.
    pub id: String,
    /// The furthest state a line showed.
    pub state: MessageState,
}

impl SessionFacts {
    /// Counts a transaction's queue id, keeping it while there is room.
    pub fn add_queued(&mut self, queue_id: &str) {
        if self.queued.iter().any(|q| q.id == queue_id) {
            return;
        }
        self.messages += 1;
        if self.queued.len() < MAX_QUEUE_IDS_KEPT {
            self.queued.push(QueuedMessage {
                id: queue_id.to_owned(),
                state: MessageState::Assigned,
            });
        }
    }

    /// Raises a kept queue id's state (cleanup and qmgr lines about it).
    pub fn confirm_queued(&mut self, queue_id: &str, state: MessageState) {
        if let Some(q) = self.queued.iter_mut().find(|q| q.id == queue_id) {
            q.state = q.state.max(state);
        }
    }

    /// Messages accepted. Command counts are the strongest evidence
    /// (`data=1`, a BDAT that succeeded); without them, cleanup's and qmgr's
    /// lines about the session's queue ids, except a message whose content
    /// was still arriving when the session ended abnormally.
    pub fn accepted_messages(&self) -> u32 {
        let data_ok = self.count("data").map(|c| c.0);
        let bdat_ok = self.count("bdat").map_or(0, |c| c.0);
        if let Some(n) = accepted_by_counts(data_ok, bdat_ok, self.messages) {
            return n;
        }
        let ended_in_content = matches!(&self.end, Some((r, st))
            if *r != EndReason::TooManyErrors && matches!(st.as_str(), "DATA" | "BDAT"));
        let last = self.queued.len().saturating_sub(1);
        self.queued
            .iter()
            .enumerate()
            .filter(|(i, q)| match q.state {
                MessageState::Queued => true,
                MessageState::Received => !(ended_in_content && *i == last),
                MessageState::Assigned => false,
            })
            .count() as u32
    }

    /// The kept queue ids whose message was accepted (or, when the counts
    /// say how many but no line named them, all kept ids), with a count of the others.
    fn accepted_text(&self, accepted: u32) -> String {
        let named: Vec<&str> = self
            .queued
            .iter()
            .filter(|q| q.state == MessageState::Queued)
            .map(|q| q.id.as_str())
            .collect();
        let ids: Vec<&str> = if named.is_empty() || named.len() as u32 > accepted {
            self.queued
                .iter()
                .map(|q| q.id.as_str())
                .take(accepted as usize)
                .collect()
        } else {
            named
        };
        if ids.is_empty() {
            return text!(accepted, " without a logged queue id");
        }
        let mut text = ids.join(", ");
        let more = (accepted as usize).saturating_sub(ids.len());
        if more > 0 {
            text.push_str(" and ");
            text.push_str(itoa::Buffer::new().format(more));
            text.push_str(" more");
        }
        text
    }

    /// What happened to transactions that got a queue id but no accepted message.
    fn unaccepted_text(&self, accepted: u32) -> Option<String> {
        if self.messages <= accepted {
            return None;
        }
        let open = self.messages - accepted;
        let last = self.queued.last().map_or("", |q| q.id.as_str());
        let counts = match (self.count("data"), self.count("bdat")) {
            (Some((ok, total)), _) if total > ok => text!(" (data=", ok, "/", total, ")"),
            (Some((_, 0)), Some((_, 0)) | None) => " (no DATA)".to_string(),
            _ => String::new(),
        };
        Some(match &self.end {
            Some((r, st)) if *r != EndReason::TooManyErrors && matches!(st.as_str(), "DATA" | "BDAT") => {
                text!(
                    "message ",
                    last,
                    " abandoned during ",
                    st,
                    counts,
                    ": ",
                    end_words(*r),
                    " after ",
                    st,
                    ", not accepted"
                )
            }
            _ => text!(
                open,
                " transaction(s) got a queue id (",
                last,
                ") but no message was accepted",
                counts
            ),
        })
    }
}

/// What a SASL failure warning says about the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslFailureKind {
    /// The credentials were checked and refused (or the reason is unknown).
    Password,
    /// The client's response was not valid base64: a broken guess, counted
    /// as an attempt (as fail2ban's auth mode does).
    Malformed,
    /// The mechanism is not offered: no password was checked.
    Mechanism,
    /// The client cancelled with `*` (`authentication aborted`).
    Aborted,
    /// The authentication service failed, not the client.
    Service,
}

impl SaslFailureKind {
    /// The kind of a `SASL <mech> authentication failed: <reason>` or
    /// `... authentication aborted` warning, by Postfix's own reason texts
    /// (xsasl_dovecot_server.c; Cyrus' `sasl_errstring` for a mechanism it lacks).
    pub fn of(reason: Option<&str>, aborted: bool) -> SaslFailureKind {
        if aborted {
            return SaslFailureKind::Aborted;
        }
        let r = reason.unwrap_or("");
        if r.starts_with("Invalid authentication mechanism") || r == "no mechanism available" {
            SaslFailureKind::Mechanism
        } else if r.starts_with("Invalid base64 data") {
            SaslFailureKind::Malformed
        } else if matches!(
            r,
            "Connection lost to authentication server"
                | "Can't connect to authentication server"
                | "Authentication backend error"
        ) {
            SaslFailureKind::Service
        } else {
            SaslFailureKind::Password
        }
    }
}

/// SASL failure warnings of one session, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaslFailures {
    /// Credentials refused.
    pub password: u32,
    /// Malformed base64 responses.
    pub malformed: u32,
    /// Mechanisms the server does not offer.
    pub mechanism: u32,
    /// Exchanges the client cancelled.
    pub aborted: u32,
    /// Failures of the authentication service.
    pub service: u32,
}

impl SaslFailures {
    /// Counts one warning.
    pub fn record(&mut self, kind: SaslFailureKind) {
        let n = match kind {
            SaslFailureKind::Password => &mut self.password,
            SaslFailureKind::Malformed => &mut self.malformed,
            SaslFailureKind::Mechanism => &mut self.mechanism,
            SaslFailureKind::Aborted => &mut self.aborted,
            SaslFailureKind::Service => &mut self.service,
        };
        *n += 1;
    }

    /// Warnings of every kind.
    pub fn total(&self) -> u32 {
        self.password + self.malformed + self.mechanism + self.aborted + self.service
    }
}

/// A session's failed AUTH commands, split by what they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthOutcome {
    /// Guesses: credentials refused or malformed. Only these feed the brute-force rules.
    pub attempts: u32,
    /// Of `attempts`, the malformed ones.
    pub malformed: u32,
    /// Unsupported mechanisms.
    pub mechanism: u32,
    /// Cancelled by the client.
    pub aborted: u32,
    /// Authentication service failures.
    pub service: u32,
    /// AUTH commands refused before any SASL exchange (`503 5.5.1 Error:
    /// authentication not enabled`, `504 5.5.4 Encryption required ...`):
    /// counted as failed but with no SASL warning.
    pub refused: u32,
}

impl AuthOutcome {
    /// Any failed AUTH at all.
    pub fn any(&self) -> bool {
        self.attempts + self.mechanism + self.aborted + self.service + self.refused > 0
    }
}

/// Verb counts gathered from a verbose trace.
#[derive(Debug, Clone, Default)]
pub struct TraceCounts {
    counts: Vec<(&'static str, u32, u32)>,
}

impl TraceCounts {
    /// Records one command's outcome.
    pub fn record(&mut self, verb: &'static str, ok: bool) {
        let verb = stat_name(verb);
        match self.counts.iter_mut().find(|(v, _, _)| *v == verb) {
            Some(c) => {
                c.1 += ok as u32;
                c.2 += 1;
            }
            None => self.counts.push((verb, ok as u32, 1)),
        }
    }

    fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The lower-case name disconnect statistics use for a verb.
fn stat_name(verb: &'static str) -> &'static str {
    match verb {
        "EHLO" | "LHLO" => "ehlo",
        "HELO" => "helo",
        "STARTTLS" => "starttls",
        "AUTH" => "auth",
        "MAIL" => "mail",
        "RCPT" => "rcpt",
        "DATA" => "data",
        "BDAT" => "bdat",
        "RSET" => "rset",
        "NOOP" => "noop",
        "VRFY" => "vrfy",
        "EXPN" => "expn",
        "ETRN" => "etrn",
        "QUIT" => "quit",
        "XCLIENT" => "xclient",
        "XFORWARD" => "xforward",
        "HELP" => "help",
        _ => "unknown",
    }
}

/// Protocol stages a reject line can name, by the statistics' verb names
/// (`END-OF-MESSAGE` is `data`: the DATA command is the one that fails).
const REJECT_STAGES: [&str; 10] = [
    "connect", "helo", "ehlo", "mail", "rcpt", "data", "bdat", "vrfy", "expn", "etrn",
];

/// The statistics' verb name of a reject line's stage. cleanup's content
/// rejects (`reject: header ...`, `body`, milter `END-OF-MESSAGE`) fail DATA.
fn reject_stage_index(stage: &str) -> Option<usize> {
    let name = match stage {
        "END-OF-MESSAGE" | "header" | "body" | "content" => "data",
        s => s,
    };
    REJECT_STAGES.iter().position(|v| v.eq_ignore_ascii_case(name))
}

/// Kinds of reject a session collected.
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectCounts {
    /// `Relay access denied`.
    pub relay_denied: u32,
    /// Unknown local/virtual recipient.
    pub unknown_recipient: u32,
    /// Client, HELO, sender, recipient restrictions, RBL, postscreen blocks.
    pub policy: u32,
    /// Protocol-level rejects (pipelining, bare LF, bad sequence).
    pub protocol: u32,
    /// Rejects per stage, in [`REJECT_STAGES`] order: they explain failed commands.
    by_stage: [u32; REJECT_STAGES.len()],
}

impl RejectCounts {
    /// Notes that a reject line failed a command at `stage` (`RCPT`, `END-OF-MESSAGE`, ...).
    pub fn record_stage(&mut self, stage: &str) {
        if let Some(i) = reject_stage_index(stage) {
            self.by_stage[i] += 1;
        }
    }

    /// Reject lines at a stage, by the statistics' verb name.
    pub fn at(&self, verb: &str) -> u32 {
        REJECT_STAGES
            .iter()
            .position(|v| *v == verb)
            .map_or(0, |i| self.by_stage[i])
    }

    /// The earliest stage with a reject, by position in [`REJECT_STAGES`]:
    /// commands after a refused one fail as a consequence (`503 5.5.1 Error:
    /// need MAIL command`, `554 5.5.1 Error: no valid recipients`).
    fn earliest(&self) -> Option<usize> {
        self.by_stage.iter().position(|&n| n > 0)
    }
}

/// Everything known about one session, gathered line by line.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    /// Counts from a verbose trace.
    pub trace: TraceCounts,
    /// Counts from the disconnect line (Postfix ≥ 3.0).
    pub stats: Option<DisconnectStats>,
    /// SASL failure warnings, by kind.
    pub sasl: SaslFailures,
    /// SASL mechanisms tried.
    pub sasl_methods: Vec<String>,
    /// AUTH succeeded (from `sasl_username=` on a client= line or a 235 reply).
    pub auth_success: bool,
    /// Messages queued.
    pub messages: u32,
    /// Their queue ids, the first [`MAX_QUEUE_IDS_KEPT`] only (evidence, not a ledger).
    pub queued: Vec<QueuedMessage>,
    /// Reject kinds.
    pub rejects: RejectCounts,
    /// First reject reason, for the evidence.
    pub first_reject: Option<String>,
    /// Postfix's own `non-SMTP command` verdict, or postscreen's.
    pub non_smtp: Option<String>,
    /// Protocol violations seen (pipelining, pregreet, bare newline, limits).
    pub violations: Vec<&'static str>,
    /// How the session ended abnormally, and at what stage.
    pub end: Option<(EndReason, String)>,
    /// HELO/EHLO name.
    pub helo: Option<String>,
    /// The EHLO reply offered STARTTLS.
    pub offered_starttls: bool,
    /// The EHLO reply offered AUTH, with its mechanisms.
    pub offered_auth: Option<String>,
    /// A TLS handshake completed.
    pub tls: bool,
    /// Client without reverse DNS (`unknown[...]`).
    pub reverse_unknown: bool,
    /// Our host name as the syslog header gives it (often only the first label).
    pub our_host: Option<String>,
    /// Our full name as the 220 greeting gives it (verbose traces).
    pub our_banner_name: Option<String>,
    /// A postscreen session that passed the client to smtpd.
    pub postscreen_pass: bool,
    /// postscreen's `HANGUP after N from [IP]:PORT in <tests>`, as a reason.
    pub postscreen_hangup: Option<String>,
    /// A verbose trace was seen for this session.
    pub traced: bool,
    /// Anvil limits the client exceeded (`connection_rate`, `auth_rate`, ...), in order seen.
    pub rate_limits: Vec<&'static str>,
    /// The session's `connect from` was not seen (the log, or the process
    /// reading it, started mid-session): what came before is unknown.
    pub start_unseen: bool,
}

/// What the per-address window says about earlier sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowCounts {
    /// Sessions with failed AUTH and no success from this address within the window, this one included.
    pub auth_failed_sessions: u32,
    /// Failed AUTH attempts (guesses) of those sessions together.
    pub auth_failed_attempts: u32,
    /// Probe sessions (suspicious classes) from this address within the window, this one included.
    pub probe_sessions: u32,
    /// Window length in seconds.
    pub window_seconds: u32,
}

/// Thresholds for the verdict rules.
#[derive(Debug, Clone, Copy)]
pub struct VerdictConfig {
    /// Failing AUTH sessions from one address within the window that make a brute force.
    pub bruteforce_sessions: u32,
    /// Failed AUTH attempts from one address within the window (sessions
    /// together) that make a brute force.
    pub bruteforce_attempts: u32,
    /// Unknown-recipient rejects in one session that make an enumeration.
    pub enumeration_rejects: u32,
    /// Probe sessions from one address within the window that are reported as repeated.
    pub repeated_probes: u32,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        VerdictConfig {
            bruteforce_sessions: 3,
            bruteforce_attempts: 3,
            enumeration_rejects: 2,
            repeated_probes: 3,
        }
    }
}

impl SessionFacts {
    /// Counts for a verb: statistics when logged (authoritative), else the trace.
    pub fn count(&self, verb: &str) -> Option<(u32, u32)> {
        if let Some(s) = &self.stats {
            return Some(s.get(verb).map_or((0, 0), |c| (c.ok, c.total)));
        }
        if self.trace.is_empty() {
            return None;
        }
        Some(
            self.trace
                .counts
                .iter()
                .find(|c| c.0 == verb)
                .map_or((0, 0), |c| (c.1, c.2)),
        )
    }

    fn total(&self, verb: &str) -> u32 {
        self.count(verb).map_or(0, |c| c.1)
    }

    /// Whether command-level facts exist (statistics or a trace).
    pub fn knows_commands(&self) -> bool {
        self.stats.is_some() || !self.trace.is_empty() || self.traced
    }

    /// Did the session end abnormally (timeout, lost connection) while in `verb`?
    /// The command counts as failed then without having been refused.
    fn ended_in(&self, verb: &str) -> bool {
        matches!(&self.end, Some((r, st)) if *r != EndReason::TooManyErrors && st.eq_ignore_ascii_case(verb))
    }

    /// The session's failed AUTH commands, by kind. The SASL warnings are
    /// authoritative when the whole session was seen: an `auth=0/1` without
    /// one is an AUTH refused before any exchange, or cut short by a timeout
    /// or a lost connection (then not a failure at all). When the start was
    /// not seen, warnings may be missing, and the counts stand for guesses.
    pub fn auth_outcome(&self) -> AuthOutcome {
        let w = &self.sasl;
        let failed = self.count("auth").map_or(0, |(ok, total)| total - ok.min(total));
        let unexplained = failed.saturating_sub(w.total() + self.ended_in("AUTH") as u32);
        let mut out = AuthOutcome {
            attempts: w.password + w.malformed,
            malformed: w.malformed,
            mechanism: w.mechanism,
            aborted: w.aborted,
            service: w.service,
            refused: 0,
        };
        if self.start_unseen {
            out.attempts += unexplained;
        } else {
            out.refused = unexplained;
        }
        out
    }

    /// Failed commands no reject line, SASL warning or abnormal end explains:
    /// syntax errors, commands out of sequence, unrecognised commands. As
    /// `(verb, ok, total)`. AUTH, STARTTLS (TLS errors have lines of their
    /// own), VRFY/EXPN (their own rule) and QUIT are left out.
    pub fn unexplained_failures(&self) -> Vec<(&'static str, u32, u32)> {
        self.unexplained_failures_in(self.command_stats().as_ref())
    }

    /// [`SessionFacts::unexplained_failures`] from the session's
    /// [`SessionFacts::command_stats`], when the caller has them already.
    fn unexplained_failures_in(&self, stats: Option<&Stats>) -> Vec<(&'static str, u32, u32)> {
        let Some(stats) = stats else {
            return Vec::new();
        };
        if self.rejects.at("connect") > 0 {
            // After a CONNECT reject every command is answered "503 5.7.0 access denied".
            return Vec::new();
        }
        let earliest = self.rejects.earliest();
        stats
            .0
            .iter()
            .copied()
            .filter(|&(verb, ok, total)| {
                if ok >= total || matches!(verb, "commands" | "auth" | "starttls" | "vrfy" | "expn" | "quit") {
                    return false;
                }
                let position = REJECT_STAGES.iter().position(|v| *v == verb);
                if let (Some(p), Some(e)) = (position, earliest) {
                    if p > e {
                        return false;
                    }
                }
                if self.rate_limited(verb) {
                    // smtpd answers a rate-limited MAIL or RCPT with 421/450 and
                    // logs the anvil warning, not a reject line.
                    return false;
                }
                let explained = self.rejects.at(verb) + self.ended_in(verb) as u32;
                total - ok > explained
            })
            .collect()
    }

    /// An anvil limit that gates `verb` was hit in this session, so its
    /// failures are the limit's, not the client's syntax.
    fn rate_limited(&self, verb: &str) -> bool {
        let kind = match verb {
            "mail" => "message_rate",
            "rcpt" => "recipient_rate",
            _ => return false,
        };
        self.rate_limits.contains(&kind)
    }

    /// Only unrecognised commands (and QUIT): an SSH banner, binary junk.
    fn only_unknown(&self) -> bool {
        self.knows_commands() && self.total("unknown") > 0 && !self.verbs_beyond(&["unknown", "quit"])
    }

    /// AUTH succeeded.
    pub fn auth_succeeded(&self) -> bool {
        self.auth_success || self.count("auth").is_some_and(|c| c.0 > 0)
    }

    /// Verbs used, other than those in `allowed`, with a non-zero total.
    fn verbs_beyond(&self, allowed: &[&str]) -> bool {
        let check = |v: &str, total: u32| total > 0 && v != "commands" && !allowed.contains(&v);
        match &self.stats {
            Some(s) => s.counts.iter().any(|c| check(c.verb, c.total)),
            None => self.trace.counts.iter().any(|c| check(c.0, c.2)),
        }
    }

    /// Command counts as a `Stats` value for the output.
    pub fn command_stats(&self) -> Option<Stats> {
        if let Some(s) = &self.stats {
            return Some(Stats(s.counts.iter().map(|c| (c.verb, c.ok, c.total)).collect()));
        }
        if self.trace.is_empty() {
            return None;
        }
        let mut v = self.trace.counts.clone();
        let (ok, total) = v.iter().fold((0, 0), |a, c| (a.0 + c.1, a.1 + c.2));
        v.push(("commands", ok, total));
        Some(Stats(v))
    }

    /// Flags that describe the session whatever its class.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        if let Some(h) = &self.helo {
            if !helo_is_fqdn(h) {
                f.push("helo_not_fqdn");
            }
            // Exact matches only: the syslog host is often just the first
            // label, and "mail.example.org" must not match our "mail".
            let ours = [&self.our_host, &self.our_banner_name];
            if ours
                .iter()
                .filter_map(|o| o.as_deref())
                .any(|o| !o.is_empty() && h.eq_ignore_ascii_case(o))
            {
                f.push("helo_is_our_host");
            }
        }
        if self.reverse_unknown {
            f.push("reverse_dns_unknown");
        }
        if self.offered_starttls {
            f.push("starttls_offered");
        }
        if self.offered_auth.is_some() {
            f.push("auth_offered");
            if self.total("auth") == 0 && self.sasl.total() == 0 && !self.auth_success {
                f.push("auth_offered_not_tried");
            }
        }
        if self.tls {
            f.push("tls");
        }
        if !self.rate_limits.is_empty() {
            f.push("rate_limited");
        }
        f
    }
}

/// Is a HELO name a fully qualified domain name or an address literal?
pub fn helo_is_fqdn(h: &str) -> bool {
    if h.starts_with('[') && h.ends_with(']') {
        return true;
    }
    let labels: Vec<&str> = h.trim_end_matches('.').split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// Is this class a sign of probing or abuse?
pub fn is_suspicious(class: VerdictClass) -> bool {
    use VerdictClass::*;
    matches!(
        class,
        NonSmtp
            | AuthBruteforce
            | AuthFailure
            | RelayProbe
            | RecipientEnumeration
            | PolicyRejected
            | ProtocolViolation
            | StarttlsProbe
            | EhloQuitProbe
            | HeloQuitProbe
            | ConnectOnly
            | Timeout
    )
}

/// Messages accepted as the command counts tell it, when they count DATA:
/// each successful DATA is one; BDAT counts chunks, so a successful BDAT is
/// at least one message and at most one per queued message beyond the DATA
/// ones. `queued` is how many messages the session's lines queued. The
/// verdict and the report's session summary both count this way.
pub(crate) fn accepted_by_counts(data_ok: Option<u32>, bdat_ok: u32, queued: u32) -> Option<u32> {
    let data_ok = data_ok?;
    let bdat = if bdat_ok > 0 {
        queued.saturating_sub(data_ok).clamp(1, bdat_ok)
    } else {
        0
    };
    Some(data_ok + bdat)
}

/// `commands: ehlo=1 quit=1`, or `commands: no commands`.
fn counts_reason(stats: &Stats) -> String {
    if stats.0.iter().all(|c| c.0 == "commands") {
        return "commands: no commands".to_owned();
    }
    let mut out = String::with_capacity(10 + 16 * stats.0.len());
    out.push_str("commands: ");
    stats.write_text(&mut out, false);
    out
}

/// The words Postfix logs for an abnormal end (`timeout after ...`).
fn end_words(r: EndReason) -> &'static str {
    match r {
        EndReason::LostConnection => "lost connection",
        EndReason::Timeout => "timeout",
        EndReason::TooManyErrors => "too many errors",
    }
}

/// The reasons that describe a session's failed AUTH commands, guesses first.
fn auth_reasons(facts: &SessionFacts, auth: &AuthOutcome, reasons: &mut Reasons) {
    let mechs = if facts.sasl_methods.is_empty() {
        String::new()
    } else {
        text!(" (", facts.sasl_methods.join(", "), ")")
    };
    if auth.attempts > 0 {
        let malformed = if auth.malformed > 0 {
            text!(", ", auth.malformed, " of them malformed base64")
        } else {
            String::new()
        };
        let source = if facts.start_unseen && auth.attempts > auth.malformed + facts.sasl.password {
            " (from the counts; warnings before this point were not seen)"
        } else {
            ""
        };
        reasons.push(text!(
            auth.attempts,
            " failed AUTH attempt(s)",
            mechs,
            malformed,
            source,
            ", none succeeded"
        ));
    }
    let mut others = Vec::new();
    if auth.mechanism > 0 {
        others.push(text!(auth.mechanism, " with a mechanism the server does not offer"));
    }
    if auth.aborted > 0 {
        others.push(text!(auth.aborted, " cancelled by the client"));
    }
    if auth.service > 0 {
        others.push(text!(auth.service, " failed in the authentication service"));
    }
    if auth.refused > 0 {
        others.push(text!(auth.refused, " refused before any SASL exchange"));
    }
    if !others.is_empty() {
        let lead = if auth.attempts > 0 {
            "other failed AUTH commands, no password checked"
        } else {
            "AUTH failed without a password being checked"
        };
        reasons.push(text!(lead, ": ", others.join(", ")));
    }
}

/// A verdict's reasons: fixed wordings borrowed, the rest formatted.
#[derive(Default)]
struct Reasons(Vec<Cow<'static, str>>);

impl Reasons {
    fn push(&mut self, reason: impl Into<Cow<'static, str>>) {
        self.0.push(reason.into());
    }
}

/// Applies the rules to a finished session.
pub fn classify(facts: &SessionFacts, window: WindowCounts, cfg: &VerdictConfig) -> Probe {
    use VerdictClass::*;
    let mut reasons = Reasons::default();
    let evidence = if facts.traced || !facts.trace.is_empty() {
        Evidence::Trace
    } else if facts.stats.is_some() {
        Evidence::Statistics
    } else {
        Evidence::Lines
    };
    let knows = facts.knows_commands();
    let auth = facts.auth_outcome();
    let auth_ok = facts.auth_succeeded();
    let accepted = facts.accepted_messages();
    // Made once: the rules, the reasons and the output all read it.
    let commands = facts.command_stats();
    let unexplained = Stats(facts.unexplained_failures_in(commands.as_ref()));
    let timed_out = matches!(facts.end, Some((EndReason::Timeout, _)));
    let mut confidence = if evidence == Evidence::Lines {
        Confidence::Medium
    } else {
        Confidence::High
    };
    // VRFY/EXPN that were all refused with no `reject: VRFY` line (VRFY
    // disabled, `502 5.5.1`) leaked nothing: an error limit outranks them.
    let probes_answered = ["vrfy", "expn"]
        .iter()
        .any(|v| facts.count(v).is_some_and(|c| c.0 > 0) || facts.rejects.at(v) > 0);
    let probes_used = facts.total("vrfy") + facts.total("expn") > 0;
    let too_many_errors = matches!(facts.end, Some((EndReason::TooManyErrors, _)));

    let class = if let Some(what) = &facts.non_smtp {
        reasons.push(text!("non-SMTP traffic: ", what));
        NonSmtp
    } else if auth.any() && !auth_ok {
        auth_reasons(facts, &auth, &mut reasons);
        if auth.attempts >= 2 {
            AuthBruteforce
        } else if auth.attempts >= 1 && window.auth_failed_sessions >= cfg.bruteforce_sessions {
            reasons.push(text!(
                "session ",
                window.auth_failed_sessions,
                " with failed AUTH from this address within ",
                window.window_seconds,
                "s"
            ));
            AuthBruteforce
        } else if auth.attempts >= 1 && window.auth_failed_attempts >= cfg.bruteforce_attempts {
            reasons.push(text!(
                window.auth_failed_attempts,
                " failed AUTH attempts from this address within ",
                window.window_seconds,
                "s, this session's included"
            ));
            AuthBruteforce
        } else {
            AuthFailure
        }
    } else if auth_ok && accepted > 0 {
        reasons.push(text!(
            "AUTH succeeded; ",
            accepted,
            " message(s) accepted: ",
            facts.accepted_text(accepted)
        ));
        AuthenticatedSubmission
    } else if facts.rejects.relay_denied > 0 {
        reasons.push(text!(facts.rejects.relay_denied, " RCPT rejected: Relay access denied"));
        RelayProbe
    } else if facts.rejects.unknown_recipient >= cfg.enumeration_rejects
        || (probes_used && (probes_answered || !too_many_errors))
    {
        if facts.rejects.unknown_recipient > 0 {
            reasons.push(text!(
                facts.rejects.unknown_recipient,
                " RCPT rejected for unknown users"
            ));
        }
        for v in ["vrfy", "expn"] {
            if let Some((ok, total)) = facts.count(v).filter(|c| c.1 > 0) {
                reasons.push(text!(v.to_uppercase(), " used ", total, " time(s), ", ok, " answered"));
            }
        }
        RecipientEnumeration
    } else if !facts.violations.is_empty() || (!unexplained.0.is_empty() && !facts.only_unknown()) {
        // Before mail_accepted: a bot that pipelines blindly is still a bot
        // when its message got through.
        if !facts.violations.is_empty() {
            reasons.push(text!("protocol violation: ", facts.violations.join(", ")));
        }
        if !unexplained.0.is_empty() {
            reasons.push(text!(
                "failed commands with no reject logged (syntax errors or commands out of sequence): ",
                unexplained.text(true)
            ));
        }
        if probes_used {
            reasons.push("VRFY/EXPN tried, none answered and no reject logged");
        }
        if accepted > 0 {
            reasons.push(text!(
                accepted,
                " message(s) accepted anyway: ",
                facts.accepted_text(accepted)
            ));
        }
        ProtocolViolation
    } else if accepted > 0 {
        reasons.push(text!(accepted, " message(s) accepted: ", facts.accepted_text(accepted)));
        MailAccepted
    } else if facts.rejects.policy > 0 || facts.rejects.unknown_recipient > 0 {
        if let Some(r) = &facts.first_reject {
            reasons.push(text!("rejected: ", r));
        }
        PolicyRejected
    } else if facts.only_unknown() {
        reasons.push(text!(
            "only unrecognised commands (unknown=",
            facts.count("unknown").map_or(0, |c| c.0),
            "/",
            facts.total("unknown"),
            ")"
        ));
        NonSmtp
    } else if auth_ok {
        reasons.push("AUTH succeeded but no mail was sent");
        AuthenticatedIdle
    } else if facts.postscreen_pass {
        reasons.push("postscreen passed the client to smtpd");
        PostscreenPass
    } else if timed_out {
        let stage = facts.end.as_ref().map_or("", |e| e.1.as_str());
        reasons.push(text!("timeout after ", stage));
        match stage {
            "CONNECT" => reasons.push("the client sent no command before the server's timeout"),
            "AUTH" if facts.sasl.total() == 0 => {
                reasons.push("the client never finished the AUTH exchange (no SASL failure logged)");
            }
            "DATA" | "BDAT" => reasons.push("the message content stalled until the server's timeout"),
            "" => {}
            _ => reasons.push(text!(
                "the client sent nothing after ",
                stage,
                " until the server's timeout"
            )),
        }
        Timeout
    } else if knows
        && facts.total("starttls") > 0
        && !facts.verbs_beyond(&["ehlo", "helo", "starttls", "quit", "rset", "noop"])
    {
        reasons.push("EHLO, STARTTLS, then nothing but EHLO/QUIT");
        StarttlsProbe
    } else if knows
        && (facts.total("ehlo") > 0 || facts.total("helo") > 0)
        && !facts.verbs_beyond(&["ehlo", "helo", "quit", "rset", "noop"])
    {
        let verb = if facts.total("ehlo") > 0 { "EHLO" } else { "HELO" };
        let (space, name) = facts.helo.as_deref().map_or(("", ""), |h| (" ", h));
        let then = if facts.total("quit") > 0 {
            "then QUIT"
        } else if matches!(facts.end, Some((EndReason::LostConnection, _))) {
            "then dropped the connection"
        } else {
            "then ended without QUIT"
        };
        reasons.push(text!("only ", verb, space, name, " ", then));
        reasons.push("never tried AUTH or MAIL");
        if verb == "EHLO" {
            EhloQuitProbe
        } else {
            HeloQuitProbe
        }
    } else if let Some(hangup) = &facts.postscreen_hangup {
        // postscreen logs no commands: whether the client sent any during
        // the tests after the handshake is unknown, hence medium.
        reasons.push(hangup.clone());
        confidence = Confidence::Medium;
        ConnectOnly
    } else if (knows && facts.total("commands") == 0 && facts.trace.is_empty())
        || matches!(&facts.end, Some((EndReason::LostConnection, st)) if st == "CONNECT")
    {
        reasons.push("no SMTP command at all");
        if !knows {
            confidence = Confidence::Medium;
        }
        ConnectOnly
    } else if !knows && matches!(&facts.end, Some((_, st)) if st == "EHLO" || st == "HELO") {
        let st = facts.end.as_ref().map_or("", |e| e.1.as_str());
        reasons.push(text!(
            "last command ",
            st,
            "; no statistics or trace (Postfix < 3.0 log)"
        ));
        confidence = Confidence::Low;
        if st == "EHLO" {
            EhloQuitProbe
        } else {
            HeloQuitProbe
        }
    } else if matches!(facts.end, Some((EndReason::LostConnection, _))) {
        reasons.push(text!(
            "lost connection after ",
            facts.end.as_ref().map_or("", |e| e.1.as_str())
        ));
        Aborted
    } else {
        if !knows {
            reasons.push("no command statistics (Postfix < 3.0) and no verbose trace");
            confidence = Confidence::Low;
        }
        Unknown
    };

    if let Some(t) = facts.unaccepted_text(accepted) {
        reasons.push(t);
    }
    if let Some((r, st)) = facts.end.as_ref().filter(|_| !matches!(class, Timeout | Aborted)) {
        reasons.push(text!("session ended: ", end_words(*r), " after ", st));
    }
    if facts.start_unseen {
        reasons.push("the session's start was not seen (no connect from): earlier lines may hold stronger evidence");
        confidence = Confidence::Low;
    }
    if let Some(stats) = &commands {
        reasons.push(counts_reason(stats));
    }
    if !facts.rate_limits.is_empty() {
        reasons.push(text!("rate limit hit (", facts.rate_limits.join(", "), ")"));
    }
    if let Some(h) = &facts.helo {
        if !helo_is_fqdn(h) {
            reasons.push(text!("HELO name '", h, "' is not a FQDN"));
        }
    }
    if let Some(mechs) = &facts.offered_auth {
        if facts.total("auth") == 0 && facts.sasl.total() == 0 && !auth_ok {
            let starttls = if facts.offered_starttls { "STARTTLS and " } else { "" };
            reasons.push(text!(
                "server offered ",
                starttls,
                "AUTH ",
                mechs,
                "; client never tried AUTH"
            ));
        }
    } else if facts.offered_starttls && facts.total("starttls") == 0 {
        reasons.push("server offered STARTTLS; client did not use it");
    }
    let suspicious = is_suspicious(class);
    if suspicious && window.probe_sessions >= cfg.repeated_probes {
        reasons.push(text!(
            "repeated: ",
            window.probe_sessions,
            " suspicious sessions from this address within ",
            window.window_seconds,
            "s"
        ));
    }
    Probe {
        class,
        suspicious,
        reasons: reasons.0,
        confidence,
        evidence,
        flags: facts.flags(),
        commands,
        duration: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::VerbCount;

    fn stats(items: &[(&'static str, u32, u32)]) -> Option<DisconnectStats> {
        Some(DisconnectStats {
            counts: items
                .iter()
                .map(|&(verb, ok, total)| VerbCount { verb, ok, total })
                .collect(),
            notes: None,
        })
    }

    #[test]
    fn classes_from_statistics() {
        let cfg = VerdictConfig::default();
        let w = WindowCounts::default();
        // The disconnect line alone, as the stateless path sees it.
        let c = |s| {
            classify(
                &SessionFacts {
                    stats: s,
                    start_unseen: true,
                    ..Default::default()
                },
                w,
                &cfg,
            )
            .class
        };
        assert_eq!(c(stats(&[("commands", 0, 0)])), VerdictClass::ConnectOnly);
        assert_eq!(
            c(stats(&[("ehlo", 1, 1), ("quit", 1, 1), ("commands", 2, 2)])),
            VerdictClass::EhloQuitProbe
        );
        assert_eq!(
            c(stats(&[("helo", 1, 1), ("quit", 1, 1), ("commands", 2, 2)])),
            VerdictClass::HeloQuitProbe
        );
        assert_eq!(
            c(stats(&[
                ("ehlo", 2, 2),
                ("starttls", 1, 1),
                ("quit", 1, 1),
                ("commands", 4, 4)
            ])),
            VerdictClass::StarttlsProbe
        );
        assert_eq!(
            c(stats(&[
                ("ehlo", 1, 1),
                ("auth", 0, 10),
                ("quit", 1, 1),
                ("commands", 2, 12)
            ])),
            VerdictClass::AuthBruteforce
        );
        assert_eq!(
            c(stats(&[("ehlo", 1, 1), ("auth", 0, 1), ("commands", 1, 2)])),
            VerdictClass::AuthFailure
        );
        assert_eq!(
            c(stats(&[("unknown", 0, 1), ("commands", 0, 1)])),
            VerdictClass::NonSmtp
        );
        assert_eq!(
            c(stats(&[
                ("ehlo", 1, 1),
                ("vrfy", 3, 7),
                ("quit", 1, 1),
                ("commands", 5, 9)
            ])),
            VerdictClass::RecipientEnumeration
        );
        assert_eq!(
            c(stats(&[("ehlo", 1, 1), ("mail", 1, 1), ("commands", 2, 2)])),
            VerdictClass::Unknown
        );
    }

    #[test]
    fn window_turns_failures_into_bruteforce() {
        let cfg = VerdictConfig::default();
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("auth", 0, 1), ("quit", 1, 1), ("commands", 2, 3)]),
            sasl: guesses(1),
            ..Default::default()
        };
        let w2 = window(2, 2);
        let w3 = window(3, 3);
        assert_eq!(classify(&facts, w2, &cfg).class, VerdictClass::AuthFailure);
        let p = classify(&facts, w3, &cfg);
        assert_eq!(p.class, VerdictClass::AuthBruteforce);
        assert!(p.reasons.iter().any(|r| r.contains("session 3")));
    }

    #[test]
    fn old_logs_say_they_do_not_know() {
        let p = classify(
            &SessionFacts::default(),
            WindowCounts::default(),
            &VerdictConfig::default(),
        );
        assert_eq!((p.class, p.confidence), (VerdictClass::Unknown, Confidence::Low));
        let facts = SessionFacts {
            end: Some((EndReason::LostConnection, "EHLO".into())),
            ..Default::default()
        };
        let p = classify(&facts, WindowCounts::default(), &VerdictConfig::default());
        assert_eq!((p.class, p.confidence), (VerdictClass::EhloQuitProbe, Confidence::Low));
    }

    #[test]
    fn helo_naming_us_is_flagged_exactly() {
        let facts = |helo: &str| SessionFacts {
            helo: Some(helo.into()),
            our_host: Some("mail".into()),
            our_banner_name: Some("mail.lab.test".into()),
            ..Default::default()
        };
        assert!(facts("mail.lab.test").flags().contains(&"helo_is_our_host"));
        assert!(facts("MAIL").flags().contains(&"helo_is_our_host"));
        assert!(!facts("mail.example.org").flags().contains(&"helo_is_our_host"));
    }

    #[test]
    fn fqdn() {
        assert!(helo_is_fqdn("mail.example.org"));
        assert!(helo_is_fqdn("[192.0.2.1]"));
        assert!(!helo_is_fqdn("User"));
        assert!(!helo_is_fqdn("localhost"));
        assert!(!helo_is_fqdn("1.2.3.4"));
    }

    /// A window of `sessions` sessions with failed AUTH, `attempts` guesses together.
    fn window(sessions: u32, attempts: u32) -> WindowCounts {
        WindowCounts {
            auth_failed_sessions: sessions,
            auth_failed_attempts: attempts,
            probe_sessions: sessions,
            window_seconds: 600,
        }
    }

    fn guesses(password: u32) -> SaslFailures {
        SaslFailures {
            password,
            ..Default::default()
        }
    }

    fn ended(reason: EndReason, stage: &str) -> Option<(EndReason, String)> {
        Some((reason, stage.to_owned()))
    }

    fn run(facts: &SessionFacts) -> Probe {
        classify(facts, WindowCounts::default(), &VerdictConfig::default())
    }

    #[test]
    fn timeout_is_the_class_unless_stronger_evidence() {
        // "timeout after EHLO from ...", "disconnect from ... ehlo=1 commands=1".
        let mut facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("commands", 1, 1)]),
            end: ended(EndReason::Timeout, "EHLO"),
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::Timeout);
        assert!(p.reasons.iter().any(|r| r == "timeout after EHLO"), "{:?}", p.reasons);
        assert!(!p.reasons.iter().any(|r| r.contains("dropped")), "{:?}", p.reasons);
        // A lost connection after EHLO is what "dropped" means.
        facts.end = ended(EndReason::LostConnection, "EHLO");
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::EhloQuitProbe);
        assert!(p.reasons.iter().any(|r| r.ends_with("then dropped the connection")));
        // A reject outranks the timeout, and the reasons still name the end.
        facts.end = ended(EndReason::Timeout, "RCPT");
        facts.stats = stats(&[("ehlo", 1, 1), ("mail", 1, 1), ("rcpt", 0, 1), ("commands", 2, 3)]);
        facts.rejects.policy = 1;
        facts.rejects.record_stage("RCPT");
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::PolicyRejected);
        assert!(p.reasons.iter().any(|r| r == "session ended: timeout after RCPT"));
        // So does a failed AUTH with its SASL warning.
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("auth", 0, 1), ("commands", 1, 2)]),
            sasl: guesses(1),
            end: ended(EndReason::Timeout, "EHLO"),
            ..Default::default()
        };
        assert_eq!(run(&facts).class, VerdictClass::AuthFailure);
    }

    #[test]
    fn timeout_after_auth_without_warning_is_no_failed_auth() {
        // The client never answered the 334 challenge: auth=0/1, no SASL warning.
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("auth", 0, 1), ("commands", 1, 2)]),
            end: ended(EndReason::Timeout, "AUTH"),
            ..Default::default()
        };
        assert_eq!(facts.auth_outcome(), AuthOutcome::default());
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::Timeout);
        assert!(p.reasons.iter().any(|r| r == "timeout after AUTH"));
        // AUTH refused before any exchange ("503 5.5.1 Error: authentication
        // not enabled") fails, but is no password guess.
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("auth", 0, 4), ("quit", 1, 1), ("commands", 2, 6)]),
            ..Default::default()
        };
        let outcome = facts.auth_outcome();
        assert_eq!((outcome.attempts, outcome.refused), (0, 4));
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::AuthFailure);
        assert!(p
            .reasons
            .iter()
            .any(|r| r.contains("4 refused before any SASL exchange")));
    }

    #[test]
    fn client_line_alone_is_no_accepted_message() {
        let mut facts = SessionFacts::default();
        facts.add_queued("4Q1ZmK3kH1zJrw");
        // "timeout after DATA (1234 bytes)", data=0/1.
        facts.stats = stats(&[
            ("ehlo", 1, 1),
            ("mail", 1, 1),
            ("rcpt", 1, 1),
            ("data", 0, 1),
            ("commands", 3, 4),
        ]);
        facts.end = ended(EndReason::Timeout, "DATA");
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::Timeout);
        assert!(
            p.reasons
                .iter()
                .any(|r| r.contains("4Q1ZmK3kH1zJrw abandoned during DATA (data=0/1)")),
            "{:?}",
            p.reasons
        );
        assert!(!p.reasons.iter().any(|r| r.contains("accepted:")));
        facts.end = ended(EndReason::LostConnection, "DATA");
        assert_eq!(run(&facts).class, VerdictClass::Aborted);
        // data=1: accepted.
        facts.stats = stats(&[
            ("ehlo", 1, 1),
            ("mail", 1, 1),
            ("rcpt", 1, 1),
            ("data", 1, 1),
            ("quit", 1, 1),
        ]);
        facts.end = None;
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::MailAccepted);
        assert!(p.reasons[0].contains("4Q1ZmK3kH1zJrw"));
    }

    #[test]
    fn without_counts_cleanup_and_qmgr_confirm_acceptance() {
        let mut facts = SessionFacts::default();
        facts.add_queued("3F2A81C0B4");
        // client= alone: a transaction, not a message.
        assert_eq!(facts.accepted_messages(), 0);
        assert_ne!(run(&facts).class, VerdictClass::MailAccepted);
        // cleanup's message-id=, then the client vanished mid-content.
        facts.confirm_queued("3F2A81C0B4", MessageState::Received);
        facts.end = ended(EndReason::LostConnection, "DATA");
        assert_eq!(facts.accepted_messages(), 0);
        facts.end = None;
        assert_eq!(run(&facts).class, VerdictClass::MailAccepted);
        // qmgr's "(queue active)" is committed, whatever came after.
        facts.confirm_queued("3F2A81C0B4", MessageState::Queued);
        facts.end = ended(EndReason::Timeout, "DATA");
        assert_eq!(facts.accepted_messages(), 1);
    }

    #[test]
    fn failed_commands_without_reject_are_a_violation() {
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 0, 1), ("mail", 0, 1), ("unknown", 0, 1), ("commands", 0, 3)]),
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::ProtocolViolation);
        assert!(
            p.reasons[0].ends_with("ehlo=0/1 mail=0/1 unknown=0/1"),
            "{:?}",
            p.reasons
        );
        let mut facts = SessionFacts {
            stats: stats(&[
                ("ehlo", 1, 1),
                ("mail", 1, 1),
                ("rcpt", 0, 1),
                ("data", 0, 1),
                ("quit", 1, 1),
            ]),
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::ProtocolViolation);
        assert!(p.reasons[0].ends_with("rcpt=0/1 data=0/1"), "{:?}", p.reasons);
        // "NOQUEUE: reject: RCPT ...": the RCPT was refused, and DATA failed
        // for want of a recipient.
        facts.rejects.policy = 1;
        facts.rejects.record_stage("RCPT");
        assert!(facts.unexplained_failures().is_empty());
        assert_eq!(run(&facts).class, VerdictClass::PolicyRejected);
        // Only unrecognised commands stay non-SMTP (an SSH banner).
        let facts = SessionFacts {
            stats: stats(&[("unknown", 0, 1), ("commands", 0, 1)]),
            ..Default::default()
        };
        assert_eq!(run(&facts).class, VerdictClass::NonSmtp);
    }

    #[test]
    fn error_limit_outranks_refused_vrfy() {
        // VRFY disabled ("502 5.5.1 VRFY command is disabled", no reject line).
        let mut facts = SessionFacts {
            stats: stats(&[("vrfy", 0, 20), ("commands", 0, 20)]),
            end: ended(EndReason::TooManyErrors, "VRFY"),
            violations: vec!["too many errors"],
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::ProtocolViolation);
        assert!(p.reasons.iter().any(|r| r.contains("VRFY/EXPN tried, none answered")));
        // A "reject: VRFY" line means the probe got answers.
        facts.rejects.record_stage("VRFY");
        assert_eq!(run(&facts).class, VerdictClass::RecipientEnumeration);
        facts.rejects = RejectCounts::default();
        facts.stats = stats(&[("vrfy", 3, 20), ("commands", 3, 20)]);
        assert_eq!(run(&facts).class, VerdictClass::RecipientEnumeration);
    }

    #[test]
    fn sasl_failure_kinds_follow_postfix_wording() {
        use SaslFailureKind::*;
        let of = SaslFailureKind::of;
        assert_eq!(of(Some("Invalid authentication mechanism: 'NTLM'"), false), Mechanism);
        assert_eq!(of(Some("Invalid authentication mechanism"), false), Mechanism);
        assert_eq!(of(Some("Invalid base64 data in initial response"), false), Malformed);
        assert_eq!(of(Some("Invalid base64 data in continued response"), false), Malformed);
        assert_eq!(of(Some("Connection lost to authentication server"), false), Service);
        assert_eq!(of(Some("(reason unavailable)"), false), Password);
        assert_eq!(of(Some("authentication failure"), false), Password);
        assert_eq!(of(Some("UGFzc3dvcmQ6"), false), Password);
        assert_eq!(of(None, true), Aborted);
    }

    #[test]
    fn only_guesses_feed_bruteforce() {
        let cfg = VerdictConfig::default();
        let busy = window(5, 40);
        // Mechanism errors and cancels: failed AUTH, but nothing was guessed.
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("auth", 0, 3), ("quit", 1, 1), ("commands", 2, 5)]),
            sasl: SaslFailures {
                mechanism: 2,
                aborted: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(facts.auth_outcome().attempts, 0);
        let p = classify(&facts, busy, &cfg);
        assert_eq!(p.class, VerdictClass::AuthFailure);
        assert!(p.reasons[0].contains("2 with a mechanism the server does not offer, 1 cancelled by the client"));
        // One guess after a session of ten from the same address.
        let facts = SessionFacts {
            sasl: guesses(1),
            ..Default::default()
        };
        let after_ten = window(2, 11);
        let p = classify(&facts, after_ten, &cfg);
        assert_eq!(p.class, VerdictClass::AuthBruteforce);
        assert!(p.reasons.iter().any(|r| r.starts_with("11 failed AUTH attempts")));
        // Malformed base64 counts as a guess, and says so.
        let facts = SessionFacts {
            sasl: SaslFailures {
                password: 1,
                malformed: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!(p.class, VerdictClass::AuthBruteforce);
        assert!(p.reasons[0].contains("1 of them malformed base64"));
    }

    #[test]
    fn unseen_start_is_low_confidence_and_said() {
        let facts = SessionFacts {
            stats: stats(&[("ehlo", 1, 1), ("quit", 1, 1), ("commands", 2, 2)]),
            start_unseen: true,
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!(p.confidence, Confidence::Low);
        assert!(p
            .reasons
            .iter()
            .any(|r| r.starts_with("the session's start was not seen")));
        let seen = SessionFacts {
            start_unseen: false,
            ..facts
        };
        assert_eq!(run(&seen).confidence, Confidence::High);
    }

    #[test]
    fn postscreen_hangup_after_handshake_is_connect_only_medium() {
        let facts = SessionFacts {
            postscreen_hangup: Some("postscreen: the client hung up after 7.1s in tests after SMTP handshake".into()),
            ..Default::default()
        };
        let p = run(&facts);
        assert_eq!((p.class, p.confidence), (VerdictClass::ConnectOnly, Confidence::Medium));
        assert!(p.reasons[0].contains("tests after SMTP handshake"));
        assert!(!p.reasons.iter().any(|r| r == "no SMTP command at all"));
    }
}
