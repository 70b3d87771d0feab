//! `what-if`: replays finished sessions ([`SessionSummary`]) against a
//! Postfix restriction list as written in main.cf, with Postfix's
//! first-match semantics, and counts who would have been refused:
//! suspicious sessions, legitimate ones (authenticated or delivered: the
//! false positives, each named), and sessions the log cannot judge because
//! it lacks the evidence the restriction needs (never guessed). It models
//! `smtpd_delay_reject` (client and HELO restrictions act at RCPT TO by
//! default) and reads `reject_warning` lines, Postfix's exact dry run.
//! Besides the sessions it reads smtpd's `hostname X does not resolve to
//! address IP` warnings ([`WhatIf::observe`]): they are exactly the clients
//! whose reverse name failed the forward check, which tells
//! `reject_unknown_reverse_client_hostname` from `reject_unknown_client_hostname`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::Serialize;

use crate::blocklist::Blocklists;
use crate::event::{Event, EventKind};
use crate::report::SessionSummary;
use crate::verdict::helo_is_fqdn;

/// The restriction names `what-if` understands, as main.cf spells them.
pub const SUPPORTED: [&str; 11] = [
    "permit_mynetworks",
    "permit_sasl_authenticated",
    "reject_non_fqdn_helo_hostname",
    "reject_invalid_helo_hostname",
    "smtpd_helo_required",
    "reject_unknown_reverse_client_hostname",
    "reject_unknown_client_hostname",
    "postscreen_greet_action",
    "smtpd_client_connection_rate_limit=N",
    "smtpd_client_auth_rate_limit=N",
    "check_client_access cidr:FILE",
];

/// One restriction of the list.
#[derive(Debug)]
pub enum Restriction {
    /// `permit_mynetworks`.
    PermitMynetworks,
    /// `permit_sasl_authenticated`.
    PermitSaslAuthenticated,
    /// `reject_non_fqdn_helo_hostname`.
    RejectNonFqdnHelo,
    /// `reject_invalid_helo_hostname`.
    RejectInvalidHelo,
    /// `smtpd_helo_required = yes`.
    HeloRequired,
    /// `reject_unknown_reverse_client_hostname`.
    RejectUnknownReverse,
    /// `reject_unknown_client_hostname`.
    RejectUnknownClient,
    /// `postscreen_greet_action = enforce|drop`.
    PostscreenGreet,
    /// `smtpd_client_connection_rate_limit = N` (per client, per 60 s).
    ConnectionRate(u32),
    /// `smtpd_client_auth_rate_limit = N` (per client, per 60 s).
    AuthRate(u32),
    /// `check_client_access cidr:FILE`: the file's text is given by the adapter.
    ClientAccess {
        /// The file as written.
        path: String,
        /// Its entries, once read.
        list: Option<Blocklists>,
    },
}

impl Restriction {
    /// The name as written in main.cf.
    pub fn name(&self) -> String {
        use Restriction::*;
        match self {
            PermitMynetworks => "permit_mynetworks".into(),
            PermitSaslAuthenticated => "permit_sasl_authenticated".into(),
            RejectNonFqdnHelo => "reject_non_fqdn_helo_hostname".into(),
            RejectInvalidHelo => "reject_invalid_helo_hostname".into(),
            HeloRequired => "smtpd_helo_required".into(),
            RejectUnknownReverse => "reject_unknown_reverse_client_hostname".into(),
            RejectUnknownClient => "reject_unknown_client_hostname".into(),
            PostscreenGreet => "postscreen_greet_action".into(),
            ConnectionRate(n) => format!("smtpd_client_connection_rate_limit={n}"),
            AuthRate(n) => format!("smtpd_client_auth_rate_limit={n}"),
            ClientAccess { path, .. } => format!("check_client_access cidr:{path}"),
        }
    }

    /// The reply smtpd_check.c sends when it refuses, with Postfix's default
    /// codes (unknown_client_reject_code = 450; temporary DNS errors always 450).
    fn reply(&self) -> Option<&'static str> {
        match self {
            Restriction::RejectUnknownReverse => {
                Some("450 4.7.1 Client host rejected: cannot find your reverse hostname, [IP]")
            }
            Restriction::RejectUnknownClient => {
                Some("450 4.7.25 Client host rejected: cannot find your hostname, [IP]")
            }
            _ => None,
        }
    }

    /// Acts before smtpd's restriction lists (postscreen, anvil limits), so
    /// `smtpd_delay_reject` does not postpone it.
    fn immediate(&self) -> bool {
        matches!(
            self,
            Restriction::PostscreenGreet | Restriction::ConnectionRate(_) | Restriction::AuthRate(_)
        )
    }

    /// Needs the HELO name: under `smtpd_delay_reject = no` it acts at HELO.
    fn helo_stage(&self) -> bool {
        matches!(
            self,
            Restriction::RejectNonFqdnHelo | Restriction::RejectInvalidHelo | Restriction::HeloRequired
        )
    }

    /// How to get the evidence when the log lacks it.
    fn evidence_hint(&self) -> &'static str {
        if matches!(self, Restriction::RejectUnknownReverse) {
            return "smtpd logs 'warning: hostname NAME does not resolve to address IP' just before 'connect from unknown[IP]' when the client has a reverse name that fails the forward check; for sessions whose connect line is not in the log it cannot tell that client (which this restriction lets through) from one without any reverse name (which it refuses)";
        }
        if self.helo_stage() {
            "the HELO name is logged only in verbose traces (debug_peer_list = <addresses>) and on reject lines (helo=<...>); running the restriction under warn_if_reject logs it for every session it would refuse"
        } else {
            "run the restriction under warn_if_reject: Postfix then logs reject_warning lines, the exact dry run"
        }
    }
}

/// Parses a restriction list as main.cf writes it (commas or blanks between
/// items, `name=value` or `name = value` for the two rate limits, and
/// `check_client_access cidr:FILE`).
pub fn parse(spec: &str) -> Result<Vec<Restriction>, String> {
    let words: Vec<&str> = spec
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    let unknown = |w: &str| {
        format!(
            "unknown or unsupported restriction {w:?}; what-if supports: {}",
            SUPPORTED.join(", ")
        )
    };
    while i < words.len() {
        let w = words[i];
        i += 1;
        let (name, inline) = match w.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (w, None),
        };
        let mut value = || -> Result<u32, String> {
            let v = match inline.filter(|v| !v.is_empty()) {
                Some(v) => v,
                None => {
                    // `name = N` or `name =N`: the value is the next word.
                    let mut v = words.get(i).copied().unwrap_or("");
                    i += 1;
                    if v == "=" {
                        v = words.get(i).copied().unwrap_or("");
                        i += 1;
                    }
                    v.trim_start_matches('=')
                }
            };
            v.parse()
                .map_err(|_| format!("{name} needs a number (e.g. {name}=10), got {v:?}"))
        };
        out.push(match name {
            "permit_mynetworks" => Restriction::PermitMynetworks,
            "permit_sasl_authenticated" => Restriction::PermitSaslAuthenticated,
            "reject_non_fqdn_helo_hostname" | "reject_non_fqdn_hostname" => Restriction::RejectNonFqdnHelo,
            "reject_invalid_helo_hostname" | "reject_invalid_hostname" => Restriction::RejectInvalidHelo,
            "smtpd_helo_required" => {
                if let Some(v) = inline.filter(|v| !v.is_empty()) {
                    if v != "yes" {
                        continue;
                    }
                }
                Restriction::HeloRequired
            }
            "reject_unknown_reverse_client_hostname" => Restriction::RejectUnknownReverse,
            "reject_unknown_client_hostname" | "reject_unknown_client" => Restriction::RejectUnknownClient,
            "postscreen_greet_action" => Restriction::PostscreenGreet,
            "smtpd_client_connection_rate_limit" => Restriction::ConnectionRate(value()?),
            "smtpd_client_auth_rate_limit" => Restriction::AuthRate(value()?),
            "check_client_access" => {
                let table = words.get(i).copied().unwrap_or("");
                i += 1;
                match table.strip_prefix("cidr:") {
                    Some(path) if !path.is_empty() => Restriction::ClientAccess {
                        path: path.to_owned(),
                        list: None,
                    },
                    _ => return Err(format!("check_client_access needs a cidr:FILE table, got {table:?}")),
                }
            }
            _ => return Err(unknown(w)),
        });
    }
    if out.is_empty() {
        return Err(format!(
            "no restriction given; what-if supports: {}",
            SUPPORTED.join(", ")
        ));
    }
    Ok(out)
}

/// Postfix's `reject_invalid_helo_hostname`: bad syntax (not an address
/// literal, characters a host name cannot have, empty labels, too long).
fn helo_is_invalid(h: &str) -> bool {
    if h.starts_with('[') && h.ends_with(']') {
        return h[1..h.len() - 1].parse::<IpAddr>().is_err() && !h[1..h.len() - 1].starts_with("IPv6:");
    }
    h.is_empty()
        || h.len() > 255
        || h.trim_end_matches('.').split('.').any(|l| {
            l.is_empty() || l.len() > 63 || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// How one session fares.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Refused(usize),
    NotStopped(usize),
    Permitted(usize),
    Passed,
    NotJudged(usize),
}

/// Settings of the replay.
#[derive(Debug, Clone)]
pub struct WhatIfOptions {
    /// `smtpd_delay_reject` (Postfix's default: yes).
    pub delay_reject: bool,
    /// `mynetworks` for `permit_mynetworks`.
    pub mynetworks: Vec<IpNet>,
}

impl Default for WhatIfOptions {
    fn default() -> Self {
        WhatIfOptions {
            delay_reject: true,
            mynetworks: Vec::new(),
        }
    }
}

/// Per-restriction counts.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct RestrictionCounts {
    /// The restriction as written.
    pub restriction: String,
    /// Suspicious sessions it refused.
    pub refused_suspicious: u64,
    /// Legitimate sessions it refused (false positives).
    pub refused_legitimate: u64,
    /// Other sessions it refused.
    pub refused_other: u64,
    /// Sessions it would have refused but that ended before it applies (never reached RCPT TO).
    pub not_stopped: u64,
    /// Sessions a permit let through.
    pub permitted: u64,
    /// Legitimate sessions a permit let through (the permit saved them).
    pub permitted_legitimate: u64,
    /// Sessions it could not judge: the log lacks the evidence.
    pub not_judged: u64,
    /// Sessions whose evidence it had (HELO name known, ...).
    pub with_evidence: u64,
    /// How to get the missing evidence from Postfix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_hint: Option<&'static str>,
    /// Clients saved by this permit (legitimate, a few).
    pub saved_clients: Vec<String>,
    /// The reply Postfix sends when this restriction refuses (smtpd_check.c's wording, default codes), where it has a fixed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<&'static str>,
}

/// What the log shows about the client host names of the replayed smtpd
/// sessions: the evidence behind `reject_unknown_reverse_client_hostname` and
/// `reject_unknown_client_hostname` (present when the list has either).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ClientNames {
    /// Sessions from `name[IP]` clients: the reverse name resolved back to the address; both restrictions let them through.
    pub verified: u64,
    /// `unknown[IP]` sessions after smtpd's `hostname NAME does not resolve to address IP` warning: a reverse name that fails the forward check; `reject_unknown_reverse_client_hostname` lets them through, `reject_unknown_client_hostname` refuses them.
    pub forward_failed: u64,
    /// Of `forward_failed`, those whose forward lookup failed temporarily (`Temporary failure in name resolution`): Postfix answers 450 whatever unknown_client_reject_code says, so the client may retry and pass.
    pub forward_temporary: u64,
    /// `unknown[IP]` sessions whose connect line was seen without that warning: no reverse name (or a failed reverse lookup); both restrictions refuse them.
    pub no_reverse_name: u64,
    /// `unknown[IP]` sessions whose connect line is not in the log: refused by `reject_unknown_client_hostname`, not judged for `reject_unknown_reverse_client_hostname`.
    pub start_not_seen: u64,
    /// Sessions (counted above as well) in which Postfix itself refused or warned with one of the two restrictions' texts (`cannot find your hostname`, `cannot find your reverse hostname`): that line decides for its restriction.
    pub postfix_said: u64,
}

/// The replay's answer (`what-if --json`; schema in `schemas/whatif.schema.json`).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[schemars(
    title = "postfix-enrich what-if report",
    description = "What a Postfix restriction list would have done to the sessions of the logs (`postfix-enrich what-if --json`)."
)]
pub struct WhatIfReport {
    /// The list as evaluated.
    pub restrictions: Vec<String>,
    /// `smtpd_delay_reject` as modelled.
    pub delay_reject: bool,
    /// Sessions replayed.
    pub sessions: u64,
    /// Sessions refused.
    pub refused: u64,
    /// Of those, suspicious.
    pub refused_suspicious: u64,
    /// Of those, legitimate (authenticated or delivered mail).
    pub refused_legitimate: u64,
    /// Distinct clients refused at least once.
    pub clients_refused: u64,
    /// Sessions a restriction would have refused but that never reached RCPT TO (smtpd_delay_reject = yes).
    pub not_stopped: u64,
    /// Clients of those sessions.
    pub clients_not_stopped: u64,
    /// Sessions that could not be judged (missing evidence).
    pub not_judged: u64,
    /// The legitimate sessions refused, named with what they did (the first few).
    pub false_positives: Vec<String>,
    /// Per restriction.
    pub by_restriction: Vec<RestrictionCounts>,
    /// `reject_warning` lines seen (Postfix's own dry run under warn_if_reject).
    pub reject_warnings: u64,
    /// Their sessions, in this order: suspicious, legitimate, other.
    pub reject_warning_sessions: [u64; 3],
    /// Client host names as the log shows them, when the list has `reject_unknown_reverse_client_hostname` or `reject_unknown_client_hostname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_names: Option<ClientNames>,
}

/// The JSON Schema of [`WhatIfReport`] (draft 2020-12), as committed in `schemas/whatif.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<WhatIfReport>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://postfix-enrich.invalid/schemas/whatif.schema.json".into(),
        );
    }
    schema
}

/// How the log names a session's client, for the two `reject_unknown_*` restrictions.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NameEvidence {
    /// `name[IP]`: forward-confirmed.
    Verified,
    /// `unknown[IP]` after a forward-check warning (temporary when `true`).
    ForwardFailed(bool),
    /// `unknown[IP]`, connect seen, no warning.
    NoReverseName,
    /// `unknown[IP]`, connect not seen.
    StartNotSeen,
}

/// A session's name evidence plus what Postfix's own reject or
/// reject_warning lines said (their texts are smtpd_check.c's).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Names {
    evidence: NameEvidence,
    /// `Client host rejected: cannot find your reverse hostname`.
    said_reverse: bool,
    /// `Client host rejected: cannot find your hostname`.
    said_client: bool,
}

/// smtpd's forward-check warning, waiting for the `connect from` of its process.
struct PendingWarning {
    ip: String,
    temporary: bool,
    time: i64,
}

/// One client's session starts and (start, AUTH attempts) in the last 60 s.
type Recent = (Vec<i64>, Vec<(i64, u32)>);

/// Folds sessions through a restriction list.
pub struct WhatIf {
    restrictions: Vec<Restriction>,
    options: WhatIfOptions,
    report: WhatIfReport,
    /// Per client: recent session starts and AUTH attempts (for the rate limits), bounded.
    recent: HashMap<String, Recent>,
    clients_refused: HashSet<String>,
    clients_not_stopped: HashSet<String>,
    /// Per smtpd process (host, pid): its last forward-check warning.
    pending: HashMap<(String, u32), PendingWarning>,
    /// Sessions whose `connect from` was seen: start time, and whether a
    /// forward-check warning (temporary or not) preceded it.
    connected: HashMap<u64, (i64, Option<bool>)>,
}

/// Clients remembered for the rate limits and the distinct counts.
const MAX_CLIENTS: usize = 200_000;
const MAX_NAMED: usize = 10;

impl WhatIf {
    /// A replay of `restrictions` (with every `cidr:` table's list filled in).
    pub fn new(restrictions: Vec<Restriction>, options: WhatIfOptions) -> Self {
        let report = WhatIfReport {
            restrictions: restrictions.iter().map(Restriction::name).collect(),
            delay_reject: options.delay_reject,
            by_restriction: restrictions
                .iter()
                .map(|r| RestrictionCounts {
                    restriction: r.name(),
                    reply: r.reply(),
                    ..RestrictionCounts::default()
                })
                .collect(),
            client_names: restrictions
                .iter()
                .any(|r| matches!(r, Restriction::RejectUnknownReverse | Restriction::RejectUnknownClient))
                .then(ClientNames::default),
            ..WhatIfReport::default()
        };
        WhatIf {
            restrictions,
            options,
            report,
            recent: HashMap::new(),
            clients_refused: HashSet::new(),
            clients_not_stopped: HashSet::new(),
            pending: HashMap::new(),
            connected: HashMap::new(),
        }
    }

    /// Reads one event of the stream the sessions come from, before it goes
    /// to the session tracker: smtpd's `hostname NAME does not resolve to
    /// address IP[: error]` warning (smtpd_peer.c logs it while looking the
    /// client up, just before `connect from unknown[IP]` of the same
    /// process) and the `connect from` lines it belongs to.
    pub fn observe(&mut self, ev: &Event<'_>) {
        if ev.postfix.daemon.as_deref() != Some("smtpd") {
            return;
        }
        let kind = ev.postfix.event;
        if kind != EventKind::ReverseDnsMismatch && kind != EventKind::Connect {
            return;
        }
        let (Some(pid), Some(ip)) = (
            ev.process.as_ref().and_then(|p| p.pid),
            ev.client.as_ref().and_then(|c| c.ip.as_deref()),
        ) else {
            return;
        };
        let host = ev.host.as_ref().map_or("", |h| h.name.as_ref());
        let time = ev.timestamp.map_or(0, |t| t.unix_seconds());
        if kind == EventKind::ReverseDnsMismatch {
            if self.pending.len() >= MAX_CLIENTS {
                self.pending.retain(|_, w| w.time > time - 3600);
            }
            // MAI_STRERROR of EAI_AGAIN, EAI_MEMORY, EAI_SYSTEM: Postfix's TEMP_AI_ERROR.
            let temporary = [
                "Temporary failure in name resolution",
                "Memory allocation failure",
                "System error",
            ]
            .iter()
            .any(|e| ev.message.ends_with(e));
            let w = PendingWarning {
                ip: ip.to_owned(),
                temporary,
                time,
            };
            self.pending.insert((host.to_owned(), pid), w);
            return;
        }
        let Some(id) = ev.postfix.session_id else {
            return;
        };
        let warned = self
            .pending
            .remove(&(host.to_owned(), pid))
            .filter(|w| w.ip == ip && time - w.time <= 120)
            .map(|w| w.temporary);
        if self.connected.len() >= MAX_CLIENTS {
            // smtpd sessions last minutes (its timeouts), not hours.
            self.connected.retain(|_, (t, _)| *t > time - 3600);
        }
        self.connected.insert(id.0, (time, warned));
    }

    /// What the log says about this session's client name.
    fn names(&mut self, s: &SessionSummary) -> Names {
        let connect = self.connected.remove(&s.id.0);
        let said = |text: &str| s.rejects.iter().any(|r| r.reason.contains(text));
        let evidence = if !s.reverse_unknown {
            NameEvidence::Verified
        } else {
            match connect {
                Some((_, Some(temporary))) => NameEvidence::ForwardFailed(temporary),
                Some((_, None)) => NameEvidence::NoReverseName,
                None => NameEvidence::StartNotSeen,
            }
        };
        Names {
            evidence,
            said_reverse: said("cannot find your reverse hostname"),
            said_client: said("cannot find your hostname"),
        }
    }

    /// Replays one finished session.
    pub fn fold(&mut self, s: &SessionSummary) {
        if !matches!(s.daemon, Some("smtpd" | "postscreen")) {
            return;
        }
        let legit = s.auth_successes > 0 || s.queued > 0;
        let suspicious = s.verdict.as_ref().is_some_and(|v| v.suspicious);
        let group = if suspicious {
            0
        } else if legit {
            1
        } else {
            2
        };
        let warnings = s.rejects.iter().filter(|r| r.action == "reject_warning").count() as u64;
        if warnings > 0 {
            self.report.reject_warnings += warnings;
            self.report.reject_warning_sessions[group] += 1;
        }
        let outcome = if s.daemon == Some("postscreen") {
            // postscreen's own session: only its greet test applies; the
            // smtpd session that may follow is replayed on its own.
            match self
                .restrictions
                .iter()
                .position(|r| matches!(r, Restriction::PostscreenGreet))
            {
                Some(i) if s.pregreet => Outcome::Refused(i),
                _ => return,
            }
        } else {
            let start = s.start.map(|t| t.unix_seconds());
            let (conn_rate, auth_rate) = self.rates(&s.client, start, s.auth_attempts);
            let names = self.names(s);
            if let Some(c) = self.report.client_names.as_mut() {
                match names.evidence {
                    NameEvidence::Verified => c.verified += 1,
                    NameEvidence::ForwardFailed(t) => {
                        c.forward_failed += 1;
                        c.forward_temporary += u64::from(t);
                    }
                    NameEvidence::NoReverseName => c.no_reverse_name += 1,
                    NameEvidence::StartNotSeen => c.start_not_seen += 1,
                }
                c.postfix_said += u64::from(names.said_reverse || names.said_client);
            }
            self.judge(s, conn_rate, auth_rate, names)
        };
        self.report.sessions += 1;
        let r = &mut self.report;
        match outcome {
            Outcome::Refused(i) => {
                r.refused += 1;
                let c = &mut r.by_restriction[i];
                match group {
                    0 => {
                        r.refused_suspicious += 1;
                        c.refused_suspicious += 1
                    }
                    1 => {
                        r.refused_legitimate += 1;
                        c.refused_legitimate += 1;
                        if r.false_positives.len() < MAX_NAMED {
                            r.false_positives.push(describe(s));
                        }
                    }
                    _ => c.refused_other += 1,
                }
                if self.clients_refused.len() < MAX_CLIENTS {
                    self.clients_refused.insert(s.client.clone());
                }
            }
            Outcome::NotStopped(i) => {
                r.not_stopped += 1;
                r.by_restriction[i].not_stopped += 1;
                if self.clients_not_stopped.len() < MAX_CLIENTS {
                    self.clients_not_stopped.insert(s.client.clone());
                }
            }
            Outcome::Permitted(i) => {
                let c = &mut r.by_restriction[i];
                c.permitted += 1;
                if legit {
                    c.permitted_legitimate += 1;
                    if c.saved_clients.len() < 5 && !c.saved_clients.contains(&s.client) {
                        c.saved_clients.push(s.client.clone());
                    }
                }
            }
            Outcome::Passed => {}
            Outcome::NotJudged(i) => {
                r.not_judged += 1;
                let c = &mut r.by_restriction[i];
                c.not_judged += 1;
                c.evidence_hint = Some(self.restrictions[i].evidence_hint());
            }
        }
    }

    /// Sessions started and AUTH attempts made by this client in the 60 s
    /// up to this session's start, including it (anvil's window).
    fn rates(&mut self, client: &str, start: Option<i64>, auth: u32) -> (u32, u32) {
        let Some(t) = start else {
            return (1, auth);
        };
        if !self.recent.contains_key(client) && self.recent.len() >= MAX_CLIENTS {
            // Forget everything old rather than grow: windows are 60 s long.
            self.recent
                .retain(|_, (c, a)| c.last().is_some_and(|l| *l > t - 60) || a.last().is_some_and(|l| l.0 > t - 60));
        }
        let (conns, auths) = self.recent.entry(client.to_owned()).or_default();
        conns.retain(|c| *c > t - 60);
        conns.push(t);
        auths.retain(|a| a.0 > t - 60);
        if auth > 0 {
            auths.push((t, auth));
        }
        (conns.len() as u32, auths.iter().map(|a| a.1).sum())
    }

    fn judge(&self, s: &SessionSummary, conn_rate: u32, auth_rate: u32, names: Names) -> Outcome {
        let ip: Option<IpAddr> = s.client.parse().ok();
        for (i, r) in self.restrictions.iter().enumerate() {
            // None: cannot tell; Some(true): acts; Some(false): does not.
            let acts: Option<bool> = match r {
                Restriction::PermitMynetworks => {
                    if ip.is_some_and(|ip| self.options.mynetworks.iter().any(|n| n.contains(&ip))) {
                        return Outcome::Permitted(i);
                    }
                    Some(false)
                }
                Restriction::PermitSaslAuthenticated => {
                    if s.auth_successes > 0 {
                        return Outcome::Permitted(i);
                    }
                    Some(false)
                }
                Restriction::RejectNonFqdnHelo => s.helo.as_deref().map(|h| !helo_is_fqdn(h)),
                Restriction::RejectInvalidHelo => s.helo.as_deref().map(helo_is_invalid),
                Restriction::HeloRequired => match (&s.helo, s.traced) {
                    (Some(_), _) => Some(false),
                    (None, true) => Some(s.mail > 0 || s.rcpt > 0),
                    (None, false) => None,
                },
                // smtpd_check.c: the reverse restriction fails only clients
                // without a reverse name; a name that fails the forward check
                // (smtpd then logs the client as unknown[IP] after its
                // warning) fails only reject_unknown_client_hostname.
                // Postfix's own line for a restriction decides it; no reverse
                // name also means no name.
                Restriction::RejectUnknownReverse if names.said_reverse => Some(true),
                Restriction::RejectUnknownReverse => match names.evidence {
                    NameEvidence::Verified | NameEvidence::ForwardFailed(_) => Some(false),
                    NameEvidence::NoReverseName => Some(true),
                    NameEvidence::StartNotSeen => None,
                },
                Restriction::RejectUnknownClient => {
                    Some(names.said_client || names.said_reverse || names.evidence != NameEvidence::Verified)
                }
                Restriction::PostscreenGreet => Some(s.pregreet),
                Restriction::ConnectionRate(n) => Some(conn_rate > *n),
                Restriction::AuthRate(n) => Some(auth_rate > *n),
                Restriction::ClientAccess { list, .. } => Some(
                    ip.zip(list.as_ref())
                        .is_some_and(|(ip, l)| l.lookup(ip).next().is_some()),
                ),
            };
            match acts {
                None => return Outcome::NotJudged(i),
                Some(false) => continue,
                Some(true) => {}
            }
            if r.immediate() {
                return Outcome::Refused(i);
            }
            let reached = if self.options.delay_reject {
                s.reached_rcpt
            } else if r.helo_stage() {
                s.helo.is_some()
            } else {
                true
            };
            return if reached {
                Outcome::Refused(i)
            } else {
                Outcome::NotStopped(i)
            };
        }
        Outcome::Passed
    }

    /// The answer.
    pub fn finish(&mut self) -> WhatIfReport {
        self.report.clients_refused = self.clients_refused.len() as u64;
        self.report.clients_not_stopped = self.clients_not_stopped.len() as u64;
        self.report.clone()
    }
}

/// `127.0.0.9 HELO alice-laptop: authenticated as alice, sent 3 messages`.
fn describe(s: &SessionSummary) -> String {
    let helo = s.helo.as_deref().map(|h| format!(" HELO {h}")).unwrap_or_default();
    let mut did = Vec::new();
    if s.auth_successes > 0 {
        match s.users.first() {
            Some(u) => did.push(format!("authenticated as {u}")),
            None => did.push("authenticated".to_owned()),
        }
    }
    if s.queued > 0 {
        did.push(format!("sent {} message(s)", s.queued));
    }
    format!("{}{helo}: {}", s.client, did.join(", "))
}

/// The answer as text, one screen.
pub fn render_text(r: &WhatIfReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "what-if {} (smtpd_delay_reject = {}), {} session(s) replayed",
        r.restrictions.join(", "),
        if r.delay_reject { "yes" } else { "no" },
        r.sessions
    );
    let _ = writeln!(
        o,
        "would refuse {} session(s) from {} client(s): {} suspicious, {} legitimate (false positives), {} other",
        r.refused,
        r.clients_refused,
        r.refused_suspicious,
        r.refused_legitimate,
        r.refused - r.refused_suspicious - r.refused_legitimate
    );
    if r.not_stopped > 0 {
        let _ = writeln!(
            o,
            "not stopped: {} session(s) from {} client(s) never reached RCPT TO, where smtpd_delay_reject = yes applies client and HELO restrictions (--delay-reject no shows the earlier setting)",
            r.not_stopped, r.clients_not_stopped
        );
    }
    if r.not_judged > 0 {
        let _ = writeln!(
            o,
            "could not judge {} session(s): the log lacks the evidence",
            r.not_judged
        );
    }
    if let Some(c) = &r.client_names {
        let temporary = if c.forward_temporary > 0 {
            format!(
                ", {} of them a temporary DNS failure that Postfix answers with 450",
                c.forward_temporary
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "client names: {} session(s) from name[IP] clients (forward-confirmed, both reject_unknown_* let them through); {} unknown[IP] whose reverse name fails the forward check (smtpd's 'hostname NAME does not resolve to address IP' warning{temporary}): only reject_unknown_client_hostname refuses them; {} unknown[IP] without a reverse name: both refuse them",
            c.verified, c.forward_failed, c.no_reverse_name
        );
        if c.start_not_seen + c.postfix_said > 0 {
            let _ = writeln!(
                o,
                "  {} unknown[IP] session(s) began before the log (the warning would precede their connect line); {} judged by Postfix's own 'cannot find your (reverse) hostname' lines",
                c.start_not_seen, c.postfix_said
            );
        }
    }
    for fp in &r.false_positives {
        let _ = writeln!(o, "  refused but legitimate: {fp}");
    }
    for c in &r.by_restriction {
        let refused = c.refused_suspicious + c.refused_legitimate + c.refused_other;
        let mut parts = Vec::new();
        if c.permitted > 0 {
            parts.push(format!(
                "let {} session(s) through, {} legitimate{}",
                c.permitted,
                c.permitted_legitimate,
                if c.saved_clients.is_empty() {
                    String::new()
                } else {
                    format!(" (saved {})", c.saved_clients.join(", "))
                }
            ));
        }
        if refused > 0 || c.not_stopped > 0 {
            parts.push(format!(
                "refuses {refused} ({} suspicious, {} legitimate), {} more never reached RCPT TO",
                c.refused_suspicious, c.refused_legitimate, c.not_stopped
            ));
        }
        if c.not_judged > 0 {
            parts.push(format!("could not judge {}", c.not_judged));
        }
        if parts.is_empty() {
            parts.push("no effect on these sessions".to_owned());
        }
        let _ = writeln!(o, "  {}: {}", c.restriction, parts.join("; "));
        if let Some(reply) = c.reply.filter(|_| refused + c.not_stopped > 0) {
            let _ = writeln!(o, "    Postfix answers: {reply}");
        }
        if let Some(h) = c.evidence_hint.filter(|_| c.not_judged > 0) {
            let _ = writeln!(o, "    to judge them: {h}");
        }
    }
    if r.reject_warnings > 0 {
        let [s, l, x] = r.reject_warning_sessions;
        let _ = writeln!(
            o,
            "Postfix's own dry run (reject_warning lines): {} line(s) in {} suspicious, {l} legitimate, {x} other session(s)",
            r.reject_warnings, s
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_supported_ones() {
        let e = parse("permit_mynetworks, reject_rbl_client zen.spamhaus.org").unwrap_err();
        assert!(
            e.contains("reject_rbl_client") && e.contains("reject_non_fqdn_helo_hostname"),
            "{e}"
        );
        let list = parse("permit_mynetworks, permit_sasl_authenticated,\n  reject_non_fqdn_helo_hostname smtpd_client_auth_rate_limit = 5 check_client_access cidr:/etc/postfix/drop.cidr").unwrap();
        let names: Vec<String> = list.iter().map(Restriction::name).collect();
        assert_eq!(
            names,
            [
                "permit_mynetworks",
                "permit_sasl_authenticated",
                "reject_non_fqdn_helo_hostname",
                "smtpd_client_auth_rate_limit=5",
                "check_client_access cidr:/etc/postfix/drop.cidr"
            ]
        );
        assert!(parse("smtpd_client_connection_rate_limit=x").is_err());
    }

    /// Replays `lines` as the CLI does: every event to `observe`, then to the tracker.
    fn replay(spec: &str, lines: &[&str]) -> WhatIfReport {
        let mut enricher = crate::Enricher::new(crate::Config::default());
        let mut tracker = crate::report::SessionTracker::new(1000, 0);
        let mut w = WhatIf::new(parse(spec).unwrap(), WhatIfOptions::default());
        for l in lines {
            let ev = enricher.enrich(l.as_bytes());
            w.observe(&ev);
            tracker.push(&ev, &mut |s| w.fold(&s));
        }
        tracker.finish(&mut |s| w.fold(&s));
        w.finish()
    }

    /// Five smtpd sessions that all reach RCPT TO, in smtpd_peer.c's and
    /// smtpd_check.c's wording: a reverse name that does not resolve back
    /// (and one that fails temporarily, IPv6), no reverse name, a verified
    /// name, and a session whose connect line is not in the log.
    const NAMES: [&str; 17] = [
        "Nov 26 10:00:00 mail postfix/smtpd[201]: warning: hostname mail.example.org does not resolve to address 192.0.2.10",
        "Nov 26 10:00:00 mail postfix/smtpd[201]: connect from unknown[192.0.2.10]",
        "Nov 26 10:00:01 mail postfix/smtpd[201]: 4B2C1A0001: client=unknown[192.0.2.10]",
        "Nov 26 10:00:02 mail postfix/smtpd[201]: disconnect from unknown[192.0.2.10] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
        "Nov 26 10:01:00 mail postfix/smtpd[202]: warning: hostname mx.example.net does not resolve to address 2001:db8::25: Temporary failure in name resolution",
        "Nov 26 10:01:00 mail postfix/smtpd[202]: connect from unknown[2001:db8::25]",
        "Nov 26 10:01:01 mail postfix/smtpd[202]: 4B2C1A0002: client=unknown[2001:db8::25]",
        "Nov 26 10:01:02 mail postfix/smtpd[202]: disconnect from unknown[2001:db8::25] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
        "Nov 26 10:02:00 mail postfix/smtpd[203]: connect from unknown[198.51.100.7]",
        "Nov 26 10:02:01 mail postfix/smtpd[203]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 <v@example.com>: Relay access denied; from=<a@example.net> to=<v@example.com> proto=ESMTP helo=<x.example.net>",
        "Nov 26 10:02:02 mail postfix/smtpd[203]: disconnect from unknown[198.51.100.7] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
        "Nov 26 10:03:00 mail postfix/smtpd[204]: connect from mail.example.com[203.0.113.5]",
        "Nov 26 10:03:01 mail postfix/smtpd[204]: 4B2C1A0004: client=mail.example.com[203.0.113.5]",
        "Nov 26 10:03:02 mail postfix/smtpd[204]: disconnect from mail.example.com[203.0.113.5] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
        // Its start is before the log: no connect line, so no warning either.
        "Nov 26 10:04:01 mail postfix/smtpd[205]: NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 554 5.7.1 <v@example.com>: Relay access denied; from=<a@example.net> to=<v@example.com> proto=ESMTP helo=<y.example.net>",
        "Nov 26 10:04:02 mail postfix/smtpd[205]: disconnect from unknown[198.51.100.9] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
        // A warning for another process does not make pid 203's client forward-failed.
        "Nov 26 10:05:00 mail postfix/smtpd[299]: warning: hostname z.example does not resolve to address 198.51.100.7",
    ];

    #[test]
    fn unknown_client_and_unknown_reverse_differ_by_the_forward_check() {
        let r = replay("reject_unknown_client_hostname", &NAMES);
        let c = r.client_names.clone().unwrap();
        assert_eq!(
            (
                c.verified,
                c.forward_failed,
                c.forward_temporary,
                c.no_reverse_name,
                c.start_not_seen
            ),
            (1, 2, 1, 1, 1),
            "{c:?}"
        );
        // Every unknown[IP] client fails the forward-confirmed name check.
        assert_eq!((r.sessions, r.refused, r.not_judged), (5, 4, 0), "{r:?}");
        assert_eq!(
            r.by_restriction[0].reply,
            Some("450 4.7.25 Client host rejected: cannot find your hostname, [IP]")
        );
        let r = replay("reject_unknown_reverse_client_hostname", &NAMES);
        // Only the client without a reverse name; the one whose connect
        // is missing cannot be told apart.
        assert_eq!((r.refused, r.not_judged), (1, 1), "{r:?}");
        assert!(r.by_restriction[0]
            .evidence_hint
            .unwrap()
            .contains("does not resolve to address"));
        let text = render_text(&r);
        assert!(
            text.contains("2 unknown[IP] whose reverse name fails the forward check"),
            "{text}"
        );
        assert!(text.contains("1 of them a temporary DNS failure"), "{text}");
        assert!(replay("reject_non_fqdn_helo_hostname", &NAMES).client_names.is_none());
    }

    #[test]
    fn postfix_own_lines_decide_their_restriction() {
        // The log begins after the connect line, so only Postfix's own dry
        // run (warn_if_reject) tells that the client has no reverse name.
        let lines = [
            "Nov 26 10:00:01 mail postfix/smtpd[301]: NOQUEUE: reject_warning: RCPT from unknown[192.0.2.66]: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.66]; from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<mail.example.org>",
            "Nov 26 10:00:02 mail postfix/smtpd[301]: disconnect from unknown[192.0.2.66] ehlo=1 mail=1 rcpt=1 quit=1 commands=4",
        ];
        let r = replay("reject_unknown_reverse_client_hostname", &lines);
        assert_eq!((r.refused, r.not_judged, r.reject_warnings), (1, 0, 1), "{r:?}");
        let c = r.client_names.unwrap();
        assert_eq!((c.start_not_seen, c.postfix_said), (1, 1));
    }

    #[test]
    fn invalid_helo_is_syntax_not_qualification() {
        assert!(!helo_is_invalid("User"));
        assert!(!helo_is_invalid("alice-laptop"));
        assert!(!helo_is_invalid("[192.0.2.1]"));
        assert!(helo_is_invalid("bad..name"));
        assert!(helo_is_invalid("a b"));
        assert!(helo_is_invalid("[999.1.1.1]"));
    }
}
