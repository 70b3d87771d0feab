//! `what-if`: replays finished sessions ([`SessionSummary`]) against a
//! Postfix restriction list as written in main.cf, with Postfix's
//! first-match semantics, and counts who would have been refused:
//! suspicious sessions, legitimate ones (authenticated or delivered: the
//! false positives, each named), and sessions the log cannot judge because
//! it lacks the evidence the restriction needs (never guessed). It models
//! `smtpd_delay_reject` (client and HELO restrictions act at RCPT TO by
//! default) and reads `reject_warning` lines, Postfix's exact dry run.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::blocklist::Blocklists;
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
#[derive(Debug, Clone, Default, Serialize)]
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
}

/// The replay's answer.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// Their sessions by suspicious / legitimate / other.
    pub reject_warning_sessions: [u64; 3],
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
                    ..RestrictionCounts::default()
                })
                .collect(),
            ..WhatIfReport::default()
        };
        WhatIf {
            restrictions,
            options,
            report,
            recent: HashMap::new(),
            clients_refused: HashSet::new(),
            clients_not_stopped: HashSet::new(),
        }
    }

    /// Replays one finished session.
    pub fn fold(&mut self, s: &SessionSummary) {
        if s.daemon.as_deref() != Some("smtpd") && s.daemon.as_deref() != Some("postscreen") {
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
        let outcome = if s.daemon.as_deref() == Some("postscreen") {
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
            self.judge(s, conn_rate, auth_rate)
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

    fn judge(&self, s: &SessionSummary, conn_rate: u32, auth_rate: u32) -> Outcome {
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
                Restriction::RejectUnknownReverse => Some(s.reverse_unknown),
                // Postfix logs the forward-check failure ("hostname ... does
                // not resolve"); a name without it passed, no name fails.
                Restriction::RejectUnknownClient => Some(s.reverse_unknown),
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
