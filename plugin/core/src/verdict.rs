//! Session facts and the verdict rules. The rules are one ordered list: the
//! first that matches names the class, and every class carries the facts
//! that made it. The same function serves the stateful context and the
//! stateless path (a Postfix ≥ 3.0 `disconnect from` line alone).

use crate::event::{Confidence, Evidence, Probe, Stats, VerdictClass};
use crate::message::{DisconnectStats, EndReason};

/// Queue ids a session keeps for its evidence; a session that sends
/// thousands of messages must not grow without bound.
pub const MAX_QUEUE_IDS_KEPT: usize = 8;

impl SessionFacts {
    /// Counts a queued message, keeping its id while there is room.
    pub fn add_queued(&mut self, queue_id: &str) {
        if self.queued.iter().any(|q| q == queue_id) {
            return;
        }
        self.messages += 1;
        if self.queued.len() < MAX_QUEUE_IDS_KEPT {
            self.queued.push(queue_id.to_owned());
        }
    }

    /// The kept queue ids, with a count of the others.
    fn queued_text(&self) -> String {
        let more = self.messages as usize - self.queued.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!("{}{more}", self.queued.join(", "))
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
}

/// Everything known about one session, gathered line by line.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    /// Counts from a verbose trace.
    pub trace: TraceCounts,
    /// Counts from the disconnect line (Postfix ≥ 3.0).
    pub stats: Option<DisconnectStats>,
    /// Failed AUTH attempts seen as warning lines.
    pub sasl_failures: u32,
    /// SASL mechanisms tried.
    pub sasl_methods: Vec<String>,
    /// AUTH succeeded (from `sasl_username=` on a client= line or a 235 reply).
    pub auth_success: bool,
    /// Messages queued.
    pub messages: u32,
    /// Their queue ids, the first [`MAX_QUEUE_IDS_KEPT`] only (evidence, not a ledger).
    pub queued: Vec<String>,
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
    /// postscreen ended before the SMTP handshake (HANGUP ... before).
    pub postscreen_hangup: bool,
    /// A verbose trace was seen for this session.
    pub traced: bool,
    /// Anvil limits the client exceeded (`connection_rate`, `auth_rate`, ...), in order seen.
    pub rate_limits: Vec<&'static str>,
}

/// What the per-address window says about earlier sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowCounts {
    /// Sessions with failed AUTH and no success from this address within the window, this one included.
    pub auth_failed_sessions: u32,
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
    /// Unknown-recipient rejects in one session that make an enumeration.
    pub enumeration_rejects: u32,
    /// Probe sessions from one address within the window that are reported as repeated.
    pub repeated_probes: u32,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        VerdictConfig {
            bruteforce_sessions: 3,
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

    /// Failed AUTH attempts (the larger of warnings and counts).
    pub fn auth_failures(&self) -> u32 {
        let counted = self.count("auth").map_or(0, |(ok, total)| total - ok.min(total));
        counted.max(self.sasl_failures)
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
            if self.total("auth") == 0 && self.sasl_failures == 0 && !self.auth_success {
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

fn counts_text(facts: &SessionFacts) -> Option<String> {
    let s = facts.command_stats()?;
    let parts: Vec<String> =
        s.0.iter()
            .filter(|c| c.0 != "commands")
            .map(|&(v, ok, total)| {
                if ok == total {
                    format!("{v}={total}")
                } else {
                    format!("{v}={ok}/{total}")
                }
            })
            .collect();
    Some(if parts.is_empty() {
        "no commands".to_string()
    } else {
        parts.join(" ")
    })
}

/// Applies the rules to a finished session.
pub fn classify(facts: &SessionFacts, window: WindowCounts, cfg: &VerdictConfig) -> Probe {
    use VerdictClass::*;
    let mut reasons: Vec<String> = Vec::new();
    let evidence = if facts.traced || !facts.trace.is_empty() {
        Evidence::Trace
    } else if facts.stats.is_some() {
        Evidence::Statistics
    } else {
        Evidence::Lines
    };
    let knows = facts.knows_commands();
    let auth_failures = facts.auth_failures();
    let auth_ok = facts.auth_succeeded();
    let msgs = facts.messages;
    let mut confidence = if evidence == Evidence::Lines {
        Confidence::Medium
    } else {
        Confidence::High
    };

    let class = if let Some(what) = &facts.non_smtp {
        reasons.push(format!("non-SMTP traffic: {what}"));
        NonSmtp
    } else if auth_failures > 0 && !auth_ok {
        let mechs = if facts.sasl_methods.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.sasl_methods.join(", "))
        };
        reasons.push(format!("{auth_failures} failed AUTH attempt(s){mechs}, none succeeded"));
        if auth_failures >= 2 {
            AuthBruteforce
        } else if window.auth_failed_sessions >= cfg.bruteforce_sessions {
            reasons.push(format!(
                "session {} with failed AUTH from this address within {}s",
                window.auth_failed_sessions, window.window_seconds
            ));
            AuthBruteforce
        } else {
            AuthFailure
        }
    } else if auth_ok && msgs > 0 {
        reasons.push(format!(
            "AUTH succeeded; {msgs} message(s) queued: {}",
            facts.queued_text()
        ));
        AuthenticatedSubmission
    } else if facts.rejects.relay_denied > 0 {
        reasons.push(format!(
            "{} RCPT rejected: Relay access denied",
            facts.rejects.relay_denied
        ));
        RelayProbe
    } else if facts.rejects.unknown_recipient >= cfg.enumeration_rejects
        || facts.total("vrfy") > 0
        || facts.total("expn") > 0
    {
        if facts.rejects.unknown_recipient > 0 {
            reasons.push(format!(
                "{} RCPT rejected for unknown users",
                facts.rejects.unknown_recipient
            ));
        }
        for v in ["vrfy", "expn"] {
            if let Some((ok, total)) = facts.count(v).filter(|c| c.1 > 0) {
                reasons.push(format!("{} used {total} time(s), {ok} answered", v.to_uppercase()));
            }
        }
        RecipientEnumeration
    } else if !facts.violations.is_empty() {
        // Before mail_accepted: a bot that pipelines blindly is still a bot
        // when its message got through.
        reasons.push(format!("protocol violation: {}", facts.violations.join(", ")));
        if msgs > 0 {
            reasons.push(format!("{msgs} message(s) queued anyway: {}", facts.queued_text()));
        }
        ProtocolViolation
    } else if msgs > 0 {
        reasons.push(format!("{msgs} message(s) queued: {}", facts.queued_text()));
        MailAccepted
    } else if facts.rejects.policy > 0 || facts.rejects.unknown_recipient > 0 {
        if let Some(r) = &facts.first_reject {
            reasons.push(format!("rejected: {r}"));
        }
        PolicyRejected
    } else if knows && facts.total("unknown") > 0 && !facts.verbs_beyond(&["unknown", "quit"]) {
        reasons.push(format!(
            "only unrecognised commands (unknown={}/{})",
            facts.count("unknown").map_or(0, |c| c.0),
            facts.total("unknown")
        ));
        NonSmtp
    } else if auth_ok {
        reasons.push("AUTH succeeded but no mail was sent".into());
        AuthenticatedIdle
    } else if facts.postscreen_pass {
        reasons.push("postscreen passed the client to smtpd".into());
        PostscreenPass
    } else if knows
        && facts.total("starttls") > 0
        && !facts.verbs_beyond(&["ehlo", "helo", "starttls", "quit", "rset", "noop"])
    {
        reasons.push("EHLO, STARTTLS, then nothing but EHLO/QUIT".into());
        StarttlsProbe
    } else if knows
        && (facts.total("ehlo") > 0 || facts.total("helo") > 0)
        && !facts.verbs_beyond(&["ehlo", "helo", "quit", "rset", "noop"])
    {
        let verb = if facts.total("ehlo") > 0 { "EHLO" } else { "HELO" };
        let name = facts.helo.as_deref().map(|h| format!(" {h}")).unwrap_or_default();
        let quit = if facts.total("quit") > 0 {
            "then QUIT"
        } else {
            "then dropped the connection"
        };
        reasons.push(format!("only {verb}{name} {quit}"));
        reasons.push("never tried AUTH or MAIL".into());
        if verb == "EHLO" {
            EhloQuitProbe
        } else {
            HeloQuitProbe
        }
    } else if matches!(facts.end, Some((EndReason::Timeout, _))) {
        reasons.push(format!(
            "timeout after {}",
            facts.end.as_ref().map_or("", |e| e.1.as_str())
        ));
        Timeout
    } else if (knows && facts.total("commands") == 0 && facts.trace.is_empty())
        || matches!(&facts.end, Some((EndReason::LostConnection, st)) if st == "CONNECT")
        || facts.postscreen_hangup
    {
        reasons.push("no SMTP command at all".into());
        if !knows {
            confidence = Confidence::Medium;
        }
        ConnectOnly
    } else if !knows && matches!(&facts.end, Some((_, st)) if st == "EHLO" || st == "HELO") {
        let st = facts.end.as_ref().map_or("", |e| e.1.as_str()).to_string();
        reasons.push(format!("last command {st}; no statistics or trace (Postfix < 3.0 log)"));
        confidence = Confidence::Low;
        if st == "EHLO" {
            EhloQuitProbe
        } else {
            HeloQuitProbe
        }
    } else if matches!(facts.end, Some((EndReason::LostConnection, _))) {
        reasons.push(format!(
            "lost connection after {}",
            facts.end.as_ref().map_or("", |e| e.1.as_str())
        ));
        Aborted
    } else {
        if !knows {
            reasons.push("no command statistics (Postfix < 3.0) and no verbose trace".into());
            confidence = Confidence::Low;
        }
        Unknown
    };

    if let Some(t) = counts_text(facts) {
        reasons.push(format!("commands: {t}"));
    }
    if !facts.rate_limits.is_empty() {
        reasons.push(format!("rate limit hit ({})", facts.rate_limits.join(", ")));
    }
    if let Some(h) = &facts.helo {
        if !helo_is_fqdn(h) {
            reasons.push(format!("HELO name '{h}' is not a FQDN"));
        }
    }
    if let Some(mechs) = &facts.offered_auth {
        let offered = if facts.offered_starttls {
            format!("STARTTLS and AUTH {mechs}")
        } else {
            format!("AUTH {mechs}")
        };
        if facts.total("auth") == 0 && facts.sasl_failures == 0 && !auth_ok {
            reasons.push(format!("server offered {offered}; client never tried AUTH"));
        }
    } else if facts.offered_starttls && facts.total("starttls") == 0 {
        reasons.push("server offered STARTTLS; client did not use it".into());
    }
    let suspicious = is_suspicious(class);
    if suspicious && window.probe_sessions >= cfg.repeated_probes {
        reasons.push(format!(
            "repeated: {} suspicious sessions from this address within {}s",
            window.probe_sessions, window.window_seconds
        ));
    }
    Probe {
        class,
        suspicious,
        reasons,
        confidence,
        evidence,
        flags: facts.flags(),
        commands: facts.command_stats(),
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
        let c = |s| {
            classify(
                &SessionFacts {
                    stats: s,
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
            ..Default::default()
        };
        let w2 = WindowCounts {
            auth_failed_sessions: 2,
            probe_sessions: 2,
            window_seconds: 600,
        };
        let w3 = WindowCounts {
            auth_failed_sessions: 3,
            ..w2
        };
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
}
