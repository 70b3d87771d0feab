//! The report: to a day of logs what the Event is to a line. [`ReportBuilder`]
//! folds Events into per-client aggregates (verdict counts, session patterns
//! with one example each, the rhythm of session starts, what was tried and
//! what got through) and [`ReportBuilder::finish`] turns them into a
//! [`Report`], which the CLI renders as text ([`text`]), as JSON (its schema
//! is [`json_schema`]), and the JS module hands to the page. Aggregates are
//! bounded (patterns per client, examples in all, clients in all, open
//! sessions), so a month of logs fits in memory; what is not kept is counted.
//! Patterns are shared between clients and verdicts between a client's
//! classes and its examples, so a client that does what thousands of others
//! do costs its counts, not copies of the same text.

pub mod cadence;
pub mod session;
pub mod text;

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::hash_map::EntryRef;
use ipnet::IpNet;
use schemars::JsonSchema;
use serde::Serialize;

use crate::bounded::FastHash;
use crate::event::{Event, Probe, SessionId, VerdictClass};
use crate::explain::{SessionReport, Step};
use crate::timestamp::Timestamp;
use cadence::Intervals;
pub use cadence::Rhythm;
pub use session::{Pattern, SessionSummary, SessionTracker};

/// Version of the report format.
pub const REPORT_VERSION: &str = "1";

/// Caps that keep the report's memory bounded.
#[derive(Debug, Clone, Copy)]
pub struct ReportLimits {
    /// Clients kept; sessions of further clients are only counted.
    pub max_clients: usize,
    /// Patterns kept per client; sessions of further patterns are only counted.
    pub max_patterns: usize,
    /// Steps kept in a pattern's example timeline.
    pub example_steps: usize,
    /// Example timelines kept in the whole report. Beyond it the examples
    /// of the least frequent patterns are dropped, and a pattern without an
    /// example takes the next session of its shape once it is more frequent
    /// than any pattern whose example was dropped.
    pub max_examples: usize,
    /// Sessions read at the same time (the oldest is closed, unfinished, beyond it).
    pub max_open_sessions: usize,
    /// User names and relay targets kept per client.
    pub max_names: usize,
}

impl Default for ReportLimits {
    fn default() -> Self {
        ReportLimits {
            max_clients: 250_000,
            max_patterns: 8,
            example_steps: 24,
            max_examples: 20_000,
            max_open_sessions: 50_000,
            max_names: 16,
        }
    }
}

/// Which sessions the report covers.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// Only clients in these networks (an address is a /32 or /128); all when empty.
    pub clients: Vec<IpNet>,
    /// Only sessions that started at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only sessions that started before this time (Unix seconds).
    pub until: Option<i64>,
    /// Only sessions with this verdict.
    pub class: Option<VerdictClass>,
    /// Only suspicious sessions.
    pub suspicious: bool,
}

impl ReportFilter {
    /// Parses `--client` values: addresses or CIDR networks, IPv4 or IPv6.
    pub fn parse_network(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("not an address or CIDR network: {s:?}"))
    }

    /// Parses `--since`/`--until` values: `2026-06-19 08:00`,
    /// `2026-06-19T08:00:00Z`, `2026-06-19T08:00:00+02:00` → Unix seconds
    /// (UTC when no offset is given).
    pub fn parse_time(s: &str) -> Result<i64, String> {
        let mut t = s.trim().replacen(' ', "T", 1);
        if t.len() == 10 {
            t.push_str("T00:00");
        }
        if t.len() == 16 {
            t.push_str(":00");
        }
        if t.len() == 19 {
            t.push('Z');
        }
        Timestamp::parse_rfc3339(t.as_bytes(), 0)
            .filter(|(_, used)| *used == t.len())
            .map(|(ts, _)| ts.unix_seconds())
            .ok_or_else(|| format!("expected a time like 2026-06-19 08:00 or 2026-06-19T08:00:00Z, got {s:?}"))
    }

    /// Parses `--class` values: a verdict class name.
    pub fn parse_class(s: &str) -> Result<VerdictClass, String> {
        VerdictClass::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = VerdictClass::ALL.iter().map(|c| c.as_str()).collect();
            format!("unknown class {s:?}; one of: {}", names.join(", "))
        })
    }

    fn admits(&self, s: &SessionSummary) -> bool {
        if !self.clients.is_empty() {
            let Ok(ip) = s.client.parse::<IpAddr>() else {
                return false;
            };
            if !self.clients.iter().any(|n| n.contains(&ip)) {
                return false;
            }
        }
        let start = s.start.map(|t| t.unix_seconds());
        if let Some(since) = self.since {
            // A session of unknown start is outside any --since.
            if !matches!(start, Some(t) if t >= since) {
                return false;
            }
        }
        if let (Some(until), Some(start)) = (self.until, start) {
            if start >= until {
                return false;
            }
        }
        let verdict = s.verdict.as_ref();
        if self.class.is_some() && verdict.map(|v| v.class) != self.class {
            return false;
        }
        !self.suspicious || verdict.is_some_and(|v| v.suspicious)
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(
    title = "postfix-enrich report",
    description = "What `postfix-enrich explain --json` prints: per-client aggregates of the sessions in the input."
)]
pub struct Report {
    /// Report format version.
    pub report_version: &'static str,
    /// Input lines read.
    pub lines: u64,
    /// Time of the first line with a time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Time of the last line with a time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Seconds between the first and the last line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_seconds: Option<i64>,
    /// Sessions covered (after the filters).
    pub sessions: u64,
    /// Of those, sessions with a suspicious verdict.
    pub suspicious_sessions: u64,
    /// Of those, sessions without a verdict (the input ended first, or too many were open at once).
    pub unfinished_sessions: u64,
    /// Distinct client addresses covered.
    pub client_count: u64,
    /// Clients beyond the cap: counted, not detailed.
    pub clients_not_kept: u64,
    /// Sessions of those clients.
    pub sessions_not_kept: u64,
    /// Clients, suspicious first (by severity, then by volume), then the rest by volume.
    pub clients: Vec<ClientReport>,
    /// How the one-screen overview presents `clients` (the text and the page both follow it).
    pub overview: Overview,
}

/// Suspicious clients the overview lists one by one; the rest are collapsed into one line.
pub const OVERVIEW_LISTED: usize = 20;

/// How one screen presents the clients: the worst suspicious ones one by
/// one, the rest in groups. Computed here, once, so that every rendering
/// (the CLI's text, the page's HTML) shows the same overview.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Overview {
    /// True when every client's detail fits one screen together (a few
    /// clients, as in the bundled one-session sample): renderings show the
    /// details instead of the overview.
    pub details: bool,
    /// Suspicious clients listed one by one: the first `listed` of `clients`.
    pub listed: usize,
    /// The suspicious clients after those, collapsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_suspicious: Option<ClientGroup>,
    /// Clients that are not suspicious and delivered mail or authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legitimate: Option<ClientGroup>,
    /// Clients that are neither suspicious nor legitimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<ClientGroup>,
}

/// Several clients summarised in one line.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ClientGroup {
    /// Clients in the group.
    pub clients: u64,
    /// Their sessions.
    pub sessions: u64,
    /// Their verdict classes with session counts, most frequent first.
    pub classes: Vec<ClassCount>,
    /// Messages they got accepted.
    pub messages_accepted: u64,
    /// Their successful AUTH.
    pub auth_successes: u64,
}

impl ClientGroup {
    fn of(clients: &[&ClientReport]) -> Option<ClientGroup> {
        if clients.is_empty() {
            return None;
        }
        let mut g = ClientGroup {
            clients: clients.len() as u64,
            ..ClientGroup::default()
        };
        for c in clients {
            g.sessions += c.sessions;
            g.messages_accepted += c.got.messages_accepted;
            g.auth_successes += c.got.auth_successes;
            for k in &c.classes {
                match g.classes.iter_mut().find(|x| x.class == k.class) {
                    Some(x) => x.count += k.count,
                    None => g.classes.push(k.clone()),
                }
            }
        }
        g.classes
            .sort_by(|a, b| b.count.cmp(&a.count).then(a.class.as_str().cmp(b.class.as_str())));
        Some(g)
    }
}

impl Overview {
    /// The overview of clients ranked as in [`Report::clients`].
    fn of(clients: &[ClientReport]) -> Overview {
        let fits = || {
            let lines: usize = clients.iter().map(|c| text::client_detail(c).len() + 1).sum();
            // The header line comes first.
            lines < text::OVERVIEW_LINES
        };
        if !clients.is_empty() && clients.len() <= 3 && fits() {
            return Overview {
                details: true,
                ..Overview::default()
            };
        }
        let (suspicious, rest): (Vec<&ClientReport>, Vec<&ClientReport>) = clients.iter().partition(|c| c.suspicious);
        let listed = if suspicious.len() > OVERVIEW_LISTED {
            OVERVIEW_LISTED - 1
        } else {
            suspicious.len()
        };
        let (legit, other): (Vec<&ClientReport>, Vec<&ClientReport>) = rest
            .into_iter()
            .partition(|c| c.got.messages_accepted > 0 || c.got.auth_successes > 0);
        Overview {
            details: false,
            listed,
            more_suspicious: ClientGroup::of(&suspicious[listed..]),
            legitimate: ClientGroup::of(&legit),
            other: ClientGroup::of(&other),
        }
    }
}

/// One client address and everything its sessions did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClientReport {
    /// Client IP, or `unknown`.
    pub address: String,
    /// Reverse-DNS names seen.
    pub names: Vec<String>,
    /// Names of the blocklists that list the address.
    pub blocklists: Vec<String>,
    /// Sessions.
    pub sessions: u64,
    /// Sessions with a suspicious verdict.
    pub suspicious_sessions: u64,
    /// Sessions without a verdict.
    pub unfinished_sessions: u64,
    /// True when any session was suspicious.
    pub suspicious: bool,
    /// How bad the worst suspicious verdict is, 0 (none) to 9 (password guessing, relay attempts).
    pub severity: u8,
    /// Verdict classes with their session counts, most frequent first.
    pub classes: Vec<ClassCount>,
    /// First session's start (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Last session's start (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// The rhythm of session starts, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cadence: Option<Rhythm>,
    /// What the client tried.
    pub tried: Tried,
    /// What it got.
    pub got: Got,
    /// HELO/EHLO names seen (a few).
    pub helo_names: Vec<String>,
    /// Sessions grouped by shape, most frequent first, each with one example.
    pub patterns: Vec<PatternReport>,
    /// Sessions whose shape was not kept (beyond the per-client cap).
    pub other_pattern_sessions: u64,
    /// One example verdict per class, with its count.
    pub verdicts: Vec<VerdictSummary>,
    /// One plain-language sentence on what the client does.
    pub conclusion: String,
}

/// A verdict class and how many sessions had it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClassCount {
    /// Verdict class.
    pub class: VerdictClass,
    /// Sessions.
    pub count: u64,
}

/// What a client tried.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Tried {
    /// AUTH attempts.
    pub auth_attempts: u64,
    /// SASL user names tried (the first few).
    pub user_names: Vec<String>,
    /// True when more user names were tried than listed.
    pub user_names_more: bool,
    /// MAIL FROM commands.
    pub mail: u64,
    /// RCPT TO commands.
    pub rcpt: u64,
    /// RCPT TO refused.
    pub rcpt_rejected: u64,
    /// Recipients refused as relaying (the first few).
    pub relay_targets: Vec<String>,
}

/// What a client got.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Got {
    /// Messages accepted into the queue.
    pub messages_accepted: u64,
    /// Successful AUTH.
    pub auth_successes: u64,
}

/// Sessions of one shape.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatternReport {
    /// Sessions with this shape.
    pub count: u64,
    /// The shape: commands and reply codes in order, and how the session ended.
    // Shared: the clients of a flood mostly have the same few shapes, and a
    // copy per client was a string per pattern per client.
    #[schemars(with = "String")]
    pub pattern: Arc<str>,
    /// A session of this shape (the first one, unless the report's example
    /// budget went to more frequent patterns for a while); absent when it
    /// still goes to them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<SessionReport>,
}

/// One verdict class of a client, with the first session's verdict as example.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerdictSummary {
    /// Sessions with this class.
    pub count: u64,
    /// The first such session's verdict (class, reasons, flags).
    pub verdict: Probe,
}

/// Distinct patterns shared between clients (an `Arc` each) up to this
/// many; hostile input with endless distinct shapes gets unshared copies,
/// still bounded by the per-client cap.
const MAX_SHARED_PATTERNS: usize = 100_000;

/// An example session as kept while reading: its steps keep their
/// timestamps and its verdict is shared with the client's verdict of that
/// class; [`SessionReport`] is made of it only in the finished report.
#[derive(Clone)]
struct Example {
    id: SessionId,
    daemon: Option<&'static str>,
    pid: Option<u32>,
    start: Option<Timestamp>,
    steps: Vec<Step>,
    steps_omitted: usize,
    verdict: Option<Arc<Probe>>,
}

impl Example {
    fn report(self) -> SessionReport {
        SessionReport {
            session_id: self.id.to_string(),
            daemon: self.daemon.map(str::to_owned),
            pid: self.pid,
            start: self.start.map(|t| t.to_string()),
            steps: self.steps,
            steps_omitted: self.steps_omitted,
            verdict: self.verdict.map(unshare),
            queue_ids: Vec::new(),
        }
    }
}

fn unshare(p: Arc<Probe>) -> Probe {
    Arc::try_unwrap(p).unwrap_or_else(|p| (*p).clone())
}

#[derive(Clone)]
struct PatternAgg {
    /// The pattern's hash, beside it: a session's pattern is compared with
    /// each of its client's, and reaching into the shared pattern's units
    /// for every one that differs was a chain of cache misses.
    hash: u64,
    pattern: Arc<Pattern>,
    count: u64,
    /// The report's session count when the pattern was first met: which
    /// of equally frequent patterns keep their examples is then the input's
    /// order, not the client table's (whose hash is seeded per process, so
    /// two runs over one file kept different examples).
    first_met: u64,
    example: Option<Example>,
}

#[derive(Clone)]
struct VerdictAgg {
    /// The verdict's class, beside it: looked up for every session, and
    /// reaching into the shared verdict for it was a cache miss each time.
    class: VerdictClass,
    count: u64,
    verdict: Arc<Probe>,
}

#[derive(Default, Clone)]
struct ClientAgg {
    names: Vec<String>,
    blocklists: Vec<String>,
    sessions: u64,
    suspicious: u64,
    unfinished: u64,
    verdicts: Vec<VerdictAgg>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    intervals: Intervals,
    tried: Tried,
    got: Got,
    helo_names: Vec<String>,
    patterns: Vec<PatternAgg>,
    other_patterns: u64,
}

/// Folds Events into a [`Report`].
pub struct ReportBuilder {
    limits: ReportLimits,
    filter: ReportFilter,
    tracker: SessionTracker,
    /// Boxed: the table then holds a pointer per client, not a few hundred
    /// bytes, so its spare capacity and its growth cost little. hashbrown's
    /// own map, for its lookup by `&str` that inserts an owned key only
    /// when the client is new (std's `entry` takes the owned key first).
    clients: hashbrown::HashMap<String, Box<ClientAgg>, FastHash>,
    clients_not_kept: HashSet<u64, FastHash>,
    sessions_not_kept: u64,
    /// The distinct patterns, shared by the clients that show them.
    shared_patterns: HashSet<Arc<Pattern>, FastHash>,
    /// Hashes patterns for [`PatternAgg::hash`].
    pattern_hasher: FastHash,
    /// Examples kept in all.
    examples: usize,
    /// Patterns seen at most this often take no example (the budget went to
    /// more frequent ones).
    example_floor: u64,
    lines: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    sessions: u64,
    suspicious: u64,
    unfinished: u64,
}

impl ReportBuilder {
    /// An empty report under these caps and filters.
    pub fn new(limits: ReportLimits, filter: ReportFilter) -> Self {
        ReportBuilder {
            tracker: SessionTracker::new(limits.max_open_sessions, limits.example_steps),
            limits,
            filter,
            clients: hashbrown::HashMap::default(),
            clients_not_kept: HashSet::default(),
            sessions_not_kept: 0,
            shared_patterns: HashSet::default(),
            pattern_hasher: FastHash::default(),
            examples: 0,
            example_floor: 0,
            lines: 0,
            first: None,
            last: None,
            sessions: 0,
            suspicious: 0,
            unfinished: 0,
        }
    }

    /// Reads one event (every line's event, so the line count is right).
    pub fn push(&mut self, ev: &Event<'_>) {
        self.read(ev.timestamp, |tracker, done| tracker.push(ev, done));
    }

    /// [`ReportBuilder::push`] for a caller done with the event (the CLI):
    /// the session's verdict is taken out of it into the report instead of
    /// being copied. The event is lent, not moved: it is over a kilobyte,
    /// and moving it in meant copying it: callgrind counted 22.8 M
    /// instructions of memcpy called from `push_owned`, of the report
    /// thread's 842 M, in `report_flood 100000 10000`.
    pub fn push_taking(&mut self, ev: &mut Event<'_>) {
        let verdict = ev.probe.take();
        self.read(ev.timestamp, |tracker, done| tracker.track(ev, verdict, done));
    }

    /// Counts a line at `time`, lets `track` give it to the tracker, and
    /// folds the sessions that finished.
    fn read(
        &mut self,
        time: Option<Timestamp>,
        track: impl FnOnce(&mut SessionTracker, &mut dyn FnMut(SessionSummary)),
    ) {
        self.lines += 1;
        if let Some(t) = time {
            if self.first.is_none() {
                self.first = Some(t);
            }
            self.last = Some(t);
        }
        let mut finished = None;
        let mut extra = Vec::new();
        track(&mut self.tracker, &mut |s| {
            if finished.is_none() {
                finished = Some(s);
            } else {
                extra.push(s);
            }
        });
        for s in finished.into_iter().chain(extra) {
            self.fold(s);
        }
    }

    /// Folds one finished session (from this builder's tracker, or from a
    /// caller that tracks sessions itself).
    pub fn fold(&mut self, mut s: SessionSummary) {
        self.fold_summary(&mut s);
        // What the report did not keep of it (the timeline's and the
        // pattern's vectors, the address) serves the next session.
        self.tracker.recycle(s);
    }

    fn fold_summary(&mut self, s: &mut SessionSummary) {
        if !self.filter.admits(s) {
            return;
        }
        self.sessions += 1;
        let suspicious = s.verdict.as_ref().is_some_and(|v| v.suspicious);
        self.suspicious += suspicious as u64;
        self.unfinished += s.verdict.is_none() as u64;
        let limits = self.limits;
        let full = self.clients.len() >= limits.max_clients;
        // One lookup by the borrowed address; the key is copied once per
        // client, not once per session.
        let c = match self.clients.entry_ref(s.client.as_str()) {
            EntryRef::Occupied(e) => e.into_mut(),
            EntryRef::Vacant(_) if full => {
                self.sessions_not_kept += 1;
                // Distinct uncounted clients are tracked by hash, up to a bound of their own.
                if self.clients_not_kept.len() < 4 * limits.max_clients {
                    self.clients_not_kept
                        .insert(xxhash_rust::xxh3::xxh3_64(s.client.as_bytes()));
                }
                return;
            }
            EntryRef::Vacant(e) => e.insert(Box::default()),
        };
        c.sessions += 1;
        c.suspicious += suspicious as u64;
        c.unfinished += s.verdict.is_none() as u64;
        if let Some(n) = &s.name {
            push_capped(&mut c.names, n, 4);
        }
        if let Some(h) = &s.helo {
            push_capped(&mut c.helo_names, h, 4);
        }
        for b in &s.blocklists {
            push_capped(&mut c.blocklists, b, limits.max_names);
        }
        if let Some(t) = s.start {
            if c.first.is_none() {
                c.first = Some(t);
            }
            c.last = Some(t);
            c.intervals.push(t.unix_seconds() as f64 + t.nanos as f64 / 1e9);
        }
        let tr = &mut c.tried;
        tr.auth_attempts += s.auth_attempts as u64;
        tr.mail += s.mail as u64;
        tr.rcpt += s.rcpt as u64;
        tr.rcpt_rejected += s.rcpt_rejected as u64;
        for u in &s.users {
            if !tr.user_names.contains(u) {
                if tr.user_names.len() < limits.max_names {
                    tr.user_names.push(u.clone());
                } else {
                    tr.user_names_more = true;
                }
            }
        }
        for r in &s.relay_targets {
            push_capped(&mut tr.relay_targets, r, limits.max_names);
        }
        c.got.messages_accepted += s.queued as u64;
        c.got.auth_successes += s.auth_successes as u64;
        // The verdict is shared (an `Arc`) only when it is kept: as the
        // client's first of its class, or in an example. Most sessions'
        // verdicts are only counted, and wrapping each cost an allocation.
        let mut verdict = s.verdict.take();
        let mut first_of_class = None;
        if let Some(class) = verdict.as_ref().map(|v| v.class) {
            match c.verdicts.iter_mut().find(|x| x.class == class) {
                Some(x) => x.count += 1,
                None => {
                    let v = kept(verdict.take().expect("the verdict is there"));
                    c.verdicts.push(VerdictAgg {
                        class,
                        count: 1,
                        verdict: Arc::clone(&v),
                    });
                    first_of_class = Some(v);
                }
            }
        }
        // An example's verdict: the one just kept, or this session's.
        let verdict = move || first_of_class.or_else(|| verdict.map(kept));
        let room = c.patterns.len() < limits.max_patterns;
        let takes_example = |count: u64| limits.max_examples > 0 && count > self.example_floor;
        let hash = self.pattern_hasher.hash_one(&s.pattern);
        match c
            .patterns
            .iter_mut()
            .find(|p| p.hash == hash && *p.pattern == s.pattern)
        {
            Some(p) => {
                p.count += 1;
                if p.example.is_none() && takes_example(p.count) {
                    p.example = Some(example_of(s, verdict()));
                    self.examples += 1;
                }
            }
            None if room => {
                let example = takes_example(1).then(|| example_of(s, verdict()));
                self.examples += example.is_some() as usize;
                let pattern = share(&mut self.shared_patterns, &mut s.pattern);
                c.patterns.push(PatternAgg {
                    hash,
                    pattern,
                    count: 1,
                    first_met: self.sessions,
                    example,
                });
            }
            None => c.other_patterns += 1,
        }
        if self.examples > limits.max_examples {
            self.drop_examples();
        }
    }

    /// Brings the examples kept down to half the budget, keeping those of
    /// the most frequent patterns (among equally frequent ones, those met
    /// first in the input). A pattern seen at most as often as the most
    /// frequent one that lost its example takes a new one only once it is
    /// seen more often, so the budget is not spent again on patterns that
    /// would be dropped again.
    fn drop_examples(&mut self) {
        use std::cmp::Reverse;
        let mut ranked: Vec<(Reverse<u64>, u64)> = self
            .clients
            .values()
            .flat_map(|c| c.patterns.iter().filter(|p| p.example.is_some()))
            .map(|p| (Reverse(p.count), p.first_met))
            .collect();
        let keep = self.limits.max_examples / 2;
        if ranked.len() <= keep {
            return;
        }
        // Each pattern has its own `first_met`, so exactly `keep` rank at or
        // above the last kept.
        let (kept, first_dropped, _) = ranked.select_nth_unstable(keep);
        let last_kept = kept.iter().max().copied();
        self.example_floor = self.example_floor.max(first_dropped.0 .0);
        for c in self.clients.values_mut() {
            for p in c.patterns.iter_mut().filter(|p| p.example.is_some()) {
                if !last_kept.is_some_and(|last| (Reverse(p.count), p.first_met) <= last) {
                    p.example = None;
                    self.examples -= 1;
                }
            }
        }
    }

    /// Closes the sessions still open and returns the report. The
    /// aggregates are consumed, not copied, so the report is the only copy
    /// at the end (copying them doubled the peak memory of a large input).
    pub fn finish(mut self) -> Report {
        self.close_open();
        let clients = client_reports(std::mem::take(&mut self.clients).into_iter().collect());
        self.assemble(clients)
    }

    /// The report of the lines read so far, for a caller that reads more
    /// afterwards (the JS module's `explain()` may be called again): closes
    /// the sessions still open (they count as unfinished; lines pushed
    /// afterwards start new ones) and copies the aggregates.
    pub fn report_so_far(&mut self) -> Report {
        self.close_open();
        let mut rendered = RenderedPatterns::default();
        let clients = self
            .clients
            .iter()
            .map(|(a, c)| client_report(a.clone(), (**c).clone(), &mut rendered))
            .collect();
        self.assemble(clients)
    }

    fn close_open(&mut self) {
        let mut rest = Vec::new();
        self.tracker.finish(&mut |s| rest.push(s));
        for s in rest {
            self.fold(s);
        }
    }

    /// The report around its clients (as many as were kept).
    fn assemble(&self, mut clients: Vec<ClientReport>) -> Report {
        // Sorted as indices, then put in place by swaps along the
        // permutation's cycles: sorting the reports themselves (408 bytes
        // each) moved each of them many times, and collecting them into a
        // new vector would add a second one (39 MiB for 100,000 clients) to
        // the peak.
        // The keys are copied out first: comparing the reports in place
        // read two of them, far apart in memory, for every comparison.
        let mut keys: Vec<RankKey> = clients.iter().enumerate().map(RankKey::of).collect();
        keys.sort_unstable_by(|a, b| a.order(b, &clients));
        let order: Vec<usize> = keys.into_iter().map(|k| k.index).collect();
        let mut placed = vec![false; order.len()];
        for start in 0..order.len() {
            let mut at = start;
            while !placed[at] {
                placed[at] = true;
                let from = order[at];
                if from == start {
                    break;
                }
                clients.swap(at, from);
                at = from;
            }
        }
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => Some(b.unix_seconds() - a.unix_seconds()),
            _ => None,
        };
        Report {
            report_version: REPORT_VERSION,
            lines: self.lines,
            first_seen: self.first.map(|t| t.to_string()),
            last_seen: self.last.map(|t| t.to_string()),
            span_seconds: span,
            sessions: self.sessions,
            suspicious_sessions: self.suspicious,
            unfinished_sessions: self.unfinished,
            client_count: (clients.len() + self.clients_not_kept.len()) as u64,
            clients_not_kept: self.clients_not_kept.len() as u64,
            sessions_not_kept: self.sessions_not_kept,
            overview: Overview::of(&clients),
            clients,
        }
    }
}

fn push_capped(list: &mut Vec<String>, item: &str, cap: usize) {
    if list.len() < cap && !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

/// The session as its pattern's example (its steps moved, not copied, in
/// a vector no larger than they are: it may be a recycled one).
fn example_of(s: &mut SessionSummary, verdict: Option<Arc<Probe>>) -> Example {
    let mut steps = std::mem::take(&mut s.steps);
    steps.shrink_to_fit();
    Example {
        id: s.id,
        daemon: s.daemon,
        pid: s.pid,
        start: s.start,
        steps,
        steps_omitted: s.steps_omitted,
        verdict,
    }
}

/// A verdict the report keeps, shared and without spare capacity (a
/// vector's or a string's clone holds just its contents). Moved in as
/// built, the verdicts of a report of 100,000 clients raised its peak by a
/// tenth (473 against 426 MiB on report_flood); shrinking them in place
/// left glibc's heap fragmented (451 MiB), while a fresh copy, the built
/// one freed, came to 416 MiB.
fn kept(verdict: Probe) -> Arc<Probe> {
    Arc::new(verdict.clone())
}

/// The shared copy of a pattern, while there are not too many distinct ones.
/// A pattern it keeps is taken out of `pattern`, tight (the session's
/// vector is a recycled one, sized for the longest session it served);
/// one it shares is left there for the tracker to reuse.
fn share(shared: &mut HashSet<Arc<Pattern>, FastHash>, pattern: &mut Pattern) -> Arc<Pattern> {
    if let Some(p) = shared.get(pattern) {
        return Arc::clone(p);
    }
    let p = Arc::new(pattern.take_tight());
    if shared.len() < MAX_SHARED_PATTERNS {
        shared.insert(Arc::clone(&p));
    }
    p
}

/// How bad a suspicious class is, for ranking clients: taking passwords or
/// relaying first, scans last.
pub fn severity(class: VerdictClass) -> u8 {
    use VerdictClass::*;
    match class {
        AuthBruteforce | RelayProbe => 9,
        RecipientEnumeration => 8,
        AuthFailure | NonSmtp | ProtocolViolation => 6,
        PolicyRejected => 5,
        StarttlsProbe | EhloQuitProbe | HeloQuitProbe => 4,
        ConnectOnly => 3,
        _ => 2,
    }
}

/// Where a client stands in "worst first": its worst verdict's severity
/// weighted by the order of magnitude of its sessions. Severity alone put a
/// probe that came 480 times a day below every client with one failed AUTH,
/// which is not what an admin reading one screen needs first; volume alone
/// would bury a brute force under connect-only noise. Doubling the sessions
/// adds one severity step's worth.
fn rank(c: &ClientReport) -> u64 {
    u64::from(c.severity) * u64::from(1 + (c.sessions.max(1)).ilog2())
}

/// What the clients are sorted by: suspicious first, then by rank,
/// severity and sessions, then by address. The address's first bytes are
/// kept beside the numbers (an IPv4 address whole), so most ties are
/// settled without reading the report.
struct RankKey {
    suspicious: bool,
    rank: u64,
    severity: u8,
    sessions: u64,
    /// The address's first bytes, zero-padded (zero sorts before any byte
    /// of an address, as the end of a shorter string does).
    prefix: [u8; 16],
    index: usize,
}

impl RankKey {
    fn of((index, c): (usize, &ClientReport)) -> RankKey {
        let mut prefix = [0u8; 16];
        let n = c.address.len().min(16);
        prefix[..n].copy_from_slice(&c.address.as_bytes()[..n]);
        RankKey {
            suspicious: c.suspicious,
            rank: rank(c),
            severity: c.severity,
            sessions: c.sessions,
            prefix,
            index,
        }
    }

    fn order(&self, other: &RankKey, clients: &[ClientReport]) -> std::cmp::Ordering {
        let (a, b) = (self, other);
        b.suspicious
            .cmp(&a.suspicious)
            .then(b.rank.cmp(&a.rank))
            .then(b.severity.cmp(&a.severity))
            .then(b.sessions.cmp(&a.sessions))
            .then(a.prefix.cmp(&b.prefix))
            .then_with(|| clients[a.index].address.cmp(&clients[b.index].address))
    }
}

/// Clients from which [`client_reports`] uses two threads; below it the
/// thread would cost more than it saves. (WebAssembly builds have one thread.)
#[cfg(not(target_family = "wasm"))]
const CLIENTS_FOR_TWO_THREADS: usize = 10_000;

/// The clients' reports, in the order given. A report of many clients is
/// made on two threads, half each: each client's is made of its own
/// aggregates, cold in memory by then, and `finish` was a tenth of the
/// samples of `report_flood` (perf), most of them in `client_report`.
fn client_reports(clients: Vec<(String, Box<ClientAgg>)>) -> Vec<ClientReport> {
    fn each(clients: Vec<(String, Box<ClientAgg>)>, reports: &mut Vec<ClientReport>) {
        let mut rendered = RenderedPatterns::default();
        reports.extend(clients.into_iter().map(|(a, c)| client_report(a, *c, &mut rendered)));
    }
    // Room for all of them at once: growing the first half's vector to
    // take the second's added a copy of both to the peak.
    let mut reports = Vec::with_capacity(clients.len());
    #[cfg(not(target_family = "wasm"))]
    if clients.len() >= CLIENTS_FOR_TWO_THREADS {
        let mut first = clients;
        let second = first.split_off(first.len() / 2);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| {
                let mut reports = Vec::with_capacity(second.len());
                each(second, &mut reports);
                reports
            });
            each(first, &mut reports);
            reports.append(&mut second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        });
        return reports;
    }
    each(clients, &mut reports);
    reports
}

/// Each shared pattern's text, rendered once for all the clients that show
/// it. Keyed by the shared copy's address; the entry holds the copy, so the
/// address cannot be reused while the map lives.
type RenderedPatterns = HashMap<*const Pattern, (Arc<Pattern>, Arc<str>), FastHash>;

fn client_report(address: String, c: ClientAgg, rendered: &mut RenderedPatterns) -> ClientReport {
    let mut patterns: Vec<PatternReport> = c
        .patterns
        .into_iter()
        .map(|p| PatternReport {
            count: p.count,
            pattern: rendered
                .entry(Arc::as_ptr(&p.pattern))
                .or_insert_with(|| (Arc::clone(&p.pattern), p.pattern.render().into()))
                .1
                .clone(),
            example: p.example.map(Example::report),
        })
        .collect();
    patterns.sort_by_key(|p| std::cmp::Reverse(p.count));
    let mut verdicts: Vec<VerdictSummary> = c
        .verdicts
        .into_iter()
        .map(|v| VerdictSummary {
            count: v.count,
            verdict: unshare(v.verdict),
        })
        .collect();
    verdicts.sort_by(|a, b| b.count.cmp(&a.count).then(a.verdict.class.cmp(&b.verdict.class)));
    let severity = verdicts
        .iter()
        .filter(|v| v.verdict.suspicious)
        .map(|v| severity(v.verdict.class))
        .max()
        .unwrap_or(0);
    let mut report = ClientReport {
        address,
        names: c.names,
        blocklists: c.blocklists,
        sessions: c.sessions,
        suspicious_sessions: c.suspicious,
        unfinished_sessions: c.unfinished,
        suspicious: c.suspicious > 0,
        severity,
        classes: verdicts
            .iter()
            .map(|v| ClassCount {
                class: v.verdict.class,
                count: v.count,
            })
            .collect(),
        first_seen: c.first.map(|t| t.to_string()),
        last_seen: c.last.map(|t| t.to_string()),
        cadence: c.intervals.cadence(),
        tried: c.tried,
        got: c.got,
        helo_names: c.helo_names,
        patterns,
        other_pattern_sessions: c.other_patterns,
        verdicts,
        conclusion: String::new(),
    };
    report.conclusion = conclusion(&report);
    report
}

/// One sentence on what the client does, from its commonest suspicious
/// verdict (or commonest verdict) and what it tried and got.
fn conclusion(c: &ClientReport) -> String {
    use VerdictClass::*;
    let main = c
        .verdicts
        .iter()
        .find(|v| v.verdict.suspicious)
        .or(c.verdicts.first())
        .map(|v| v.verdict.class);
    let t = &c.tried;
    let g = &c.got;
    let what = match main {
        None => return "no session of this client ended within the input: nothing to conclude yet".to_owned(),
        Some(EhloQuitProbe | HeloQuitProbe) if t.auth_attempts == 0 && t.mail == 0 => {
            "never tried AUTH or MAIL: a capability probe".to_owned()
        }
        Some(StarttlsProbe) => "only tests STARTTLS and leaves: a TLS scanner".to_owned(),
        Some(ConnectOnly) => "connects and says nothing: a port scan or a connection check".to_owned(),
        Some(AuthBruteforce | AuthFailure) => format!(
            "guesses passwords: {} AUTH attempt(s) with {}{} user name(s)",
            t.auth_attempts,
            t.user_names.len(),
            if t.user_names_more { "+" } else { "" }
        ),
        Some(RelayProbe) => format!(
            "tries to relay mail through this server ({} recipient(s) refused)",
            t.rcpt_rejected
        ),
        Some(RecipientEnumeration) => format!("probes which recipients exist ({} refused)", t.rcpt_rejected),
        Some(NonSmtp) => "speaks something other than SMTP (HTTP, TLS, a proxy): a scanner".to_owned(),
        Some(ProtocolViolation) => {
            "breaks the SMTP protocol (pipelining, pregreet): typical of spam software".to_owned()
        }
        Some(PolicyRejected) => "refused by your restrictions".to_owned(),
        Some(AuthenticatedSubmission) => "authenticated users sending mail".to_owned(),
        Some(MailAccepted) => "delivers mail".to_owned(),
        Some(AuthenticatedIdle) => "authenticates and sends nothing (a mail client checking its settings)".to_owned(),
        Some(class) => format!("sessions end as {} with no clearer sign", class.as_str()),
    };
    let got = if g.messages_accepted == 0 && g.auth_successes == 0 {
        if c.suspicious {
            "; nothing got in".to_owned()
        } else {
            String::new()
        }
    } else {
        let mut parts = Vec::new();
        if g.messages_accepted > 0 {
            parts.push(format!("{} message(s) accepted", g.messages_accepted));
        }
        if g.auth_successes > 0 {
            parts.push(format!("{} AUTH success(es)", g.auth_successes));
        }
        format!("; got in: {}", parts.join(", "))
    };
    what + &got
}

/// The JSON Schema of [`Report`] (draft 2020-12), as committed in `schemas/report.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Report>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://postfix-enrich.invalid/schemas/report.schema.json".into(),
        );
        obj.insert("x-report-version".into(), REPORT_VERSION.into());
    }
    // schemars gives serde's internal tag no description of its own.
    if let Some(variants) = schema.pointer_mut("/$defs/Rhythm/oneOf").and_then(|v| v.as_array_mut()) {
        for v in variants {
            if let Some(kind) = v.pointer_mut("/properties/kind").and_then(|k| k.as_object_mut()) {
                kind.insert("description".into(), "Which rhythm: regular or bursts.".into());
            }
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Enricher};

    /// Feeds sessions as Postfix 3.x logs them without a trace: `connect
    /// from` and `disconnect from ... commands=`, whose statistics make
    /// the session's pattern.
    struct Feed {
        enricher: Enricher,
        builder: ReportBuilder,
        n: i64,
    }

    impl Feed {
        fn new(limits: ReportLimits) -> Self {
            Feed {
                enricher: Enricher::new(Config::default()),
                builder: ReportBuilder::new(limits, ReportFilter::default()),
                n: 0,
            }
        }

        fn session(&mut self, client: &str, stats: &str) {
            self.n += 1;
            let t = Timestamp::from_unix_micros((1_795_651_200 + self.n) * 1_000_000);
            let pid = 1000 + self.n;
            for text in [
                format!("connect from unknown[{client}]"),
                format!("disconnect from unknown[{client}] {stats}"),
            ] {
                let line = format!("{t} mail postfix/smtpd[{pid}]: {text}");
                self.builder.push(&self.enricher.enrich(line.as_bytes()));
            }
        }
    }

    #[test]
    fn clients_past_the_cap_are_counted_not_kept() {
        let mut feed = Feed::new(ReportLimits {
            max_clients: 2,
            ..ReportLimits::default()
        });
        // Two clients fill the table; three more come, one of them twice,
        // and a kept client comes back after them.
        for client in [
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.4",
            "192.0.2.3",
            "192.0.2.5",
        ] {
            feed.session(client, "commands=0/0");
        }
        feed.session("192.0.2.1", "ehlo=1 quit=1 commands=2");
        let report = feed.builder.finish();
        let mut kept: Vec<(&str, u64)> = report
            .clients
            .iter()
            .map(|c| (c.address.as_str(), c.sessions))
            .collect();
        kept.sort();
        assert_eq!(kept, [("192.0.2.1", 2), ("192.0.2.2", 1)]);
        assert_eq!((report.clients_not_kept, report.sessions_not_kept), (3, 4));
        assert_eq!(report.client_count, 5);
        assert_eq!(report.sessions, 7);
    }

    #[test]
    fn a_delivery_known_only_from_the_statistics_counts_as_accepted() {
        // No `QID: client=` line: the statistics alone say DATA succeeded,
        // as the verdict (mail_accepted) reads them.
        let mut feed = Feed::new(ReportLimits::default());
        feed.session("198.51.100.7", "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5");
        // One DATA and a BDAT transaction: two messages.
        feed.session("198.51.100.7", "ehlo=1 mail=2 rcpt=2 data=1 bdat=2 quit=1 commands=9");
        feed.session("198.51.100.8", "ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5");
        // Scanners besides, so that the overview groups clients rather
        // than showing each one's detail.
        for n in 1..=4 {
            feed.session(&format!("192.0.2.{n}"), "commands=0/0");
        }
        let report = feed.builder.finish();
        let Some(c) = report.clients.iter().find(|c| c.address == "198.51.100.7") else {
            panic!("client missing: {report:?}");
        };
        assert_eq!(c.got.messages_accepted, 3, "{:?}", c.got);
        let Some(refused) = report.clients.iter().find(|c| c.address == "198.51.100.8") else {
            panic!("client missing: {report:?}");
        };
        assert_eq!(refused.got.messages_accepted, 0, "a refused DATA is no message");
        assert_eq!(
            report.overview.legitimate.as_ref().map(|g| g.clients),
            Some(1),
            "{:?}",
            report.overview
        );
    }

    #[test]
    fn clients_come_out_worst_first_whatever_order_they_came_in() {
        // Clients of every kind and volume, met in a scrambled order, so
        // the ranking has long permutation cycles to put in place.
        let ends = [
            "ehlo=1 auth=0/1 quit=1 commands=2/3",
            "commands=0/0",
            "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
            "ehlo=1 quit=1 commands=2",
        ];
        let mut feed = Feed::new(ReportLimits::default());
        let mut rng = fastrand::Rng::with_seed(7);
        for i in 0..400u32 {
            let c = rng.u32(0..120);
            let sessions = 1 + c % 7;
            for _ in 0..sessions.min(1 + i % 3) {
                feed.session(&format!("192.0.2.{c}"), ends[(c % 4) as usize]);
            }
        }
        let report = feed.builder.finish();
        assert!(report.clients.len() > 100, "{}", report.clients.len());
        for pair in report.clients.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let key = |c: &ClientReport| (c.suspicious, rank(c), c.severity, c.sessions);
            assert!(
                key(a) > key(b) || (key(a) == key(b) && a.address < b.address),
                "{} ({:?}) ranked before {} ({:?})",
                a.address,
                key(a),
                b.address,
                key(b)
            );
        }
    }

    #[test]
    fn examples_stay_within_the_budget_and_go_to_the_most_frequent_patterns() {
        let limits = ReportLimits {
            max_examples: 10,
            max_patterns: 3,
            ..ReportLimits::default()
        };
        let mut feed = Feed::new(limits);
        let frequent: Vec<String> = (1..=4).map(|i| format!("192.0.2.{i}")).collect();
        // Rare clients come first and in between, so the frequent patterns
        // lose their examples early and must take new ones later.
        for round in 0..40u32 {
            for k in 0..30u32 {
                let client = format!("198.51.{}.{}", round, k);
                // Five shapes for a cap of three patterns: two are only counted.
                for rcpt in 1..=5u32 {
                    feed.session(
                        &client,
                        &format!("ehlo=1 mail=1 rcpt=0/{rcpt} quit=1 commands=3/{}", rcpt + 3),
                    );
                }
            }
            for c in &frequent {
                feed.session(c, "ehlo=1 quit=1 commands=2");
            }
        }
        let report = feed.builder.finish();
        assert_eq!(report.sessions, 40 * (30 * 5 + 4));
        let patterns = || report.clients.iter().flat_map(|c| &c.patterns);
        let kept = patterns().filter(|p| p.example.is_some()).count();
        assert!(kept <= 10, "{kept} examples kept for a budget of 10");
        assert!(patterns().count() > 10 * kept, "the budget was not reached");
        for c in report.clients.iter().filter(|c| frequent.contains(&c.address)) {
            assert_eq!(c.patterns.len(), 1);
            let example = c.patterns[0]
                .example
                .as_ref()
                .expect("the most frequent patterns keep an example");
            // An example taken late is still a session of its shape.
            assert!(example.steps.iter().any(|s| s.text.contains("ehlo=1 quit=1")));
        }
        let mut counted = 0;
        for c in &report.clients {
            let own: u64 = c.patterns.iter().map(|p| p.count).sum::<u64>() + c.other_pattern_sessions;
            assert_eq!(own, c.sessions, "{}", c.address);
            counted += own;
        }
        assert_eq!(counted, report.sessions, "no session lost from the pattern counts");
        // A client whose patterns lost their examples says so, and shows no timeline.
        let rare = report
            .clients
            .iter()
            .find(|c| c.patterns[0].example.is_none())
            .expect("a rare client");
        let detail = text::client_detail(rare).join("\n");
        assert!(detail.contains(text::NO_EXAMPLE), "{detail}");
        assert!(!detail.contains("example: session"), "{detail}");
    }

    #[test]
    fn among_equally_frequent_patterns_the_first_met_keep_their_examples() {
        // Eleven clients of one session each for a budget of ten: the
        // eleventh brings it down to five, and the five kept are those met
        // first, whatever order the client table holds them in.
        let limits = ReportLimits {
            max_examples: 10,
            ..ReportLimits::default()
        };
        let mut feed = Feed::new(limits);
        let clients: Vec<String> = (0..40).map(|i| format!("198.51.100.{}", 200 - i)).collect();
        for c in &clients {
            feed.session(c, "ehlo=1 quit=1 commands=2");
        }
        let report = feed.builder.finish();
        let mut with_example: Vec<&str> = report
            .clients
            .iter()
            .filter(|c| c.patterns.iter().any(|p| p.example.is_some()))
            .map(|c| c.address.as_str())
            .collect();
        with_example.sort_by_key(|a| clients.iter().position(|c| c == a));
        let first: Vec<&str> = clients[..5].iter().map(String::as_str).collect();
        assert_eq!(with_example, first);
    }

    #[test]
    fn under_the_budget_every_pattern_keeps_its_first_session() {
        let mut feed = Feed::new(ReportLimits::default());
        for i in 0..3 {
            feed.session("192.0.2.7", "ehlo=1 quit=1 commands=2");
            feed.session(
                "192.0.2.7",
                &format!("ehlo=1 auth=0/{} quit=1 commands=2/{}", i + 1, i + 3),
            );
        }
        let report = feed.builder.finish();
        let c = &report.clients[0];
        assert_eq!(c.patterns.len(), 4);
        let first = c
            .patterns
            .iter()
            .find(|p| p.count == 3)
            .and_then(|p| p.example.as_ref());
        assert_eq!(
            first.and_then(|e| e.start.as_deref()),
            report.first_seen.as_deref(),
            "the example is the first session of its shape"
        );
        assert!(c.patterns.iter().all(|p| p.example.is_some()));
    }
}
