//! `explain`: groups enriched events into per-client session timelines with
//! their verdicts — the answer to "what is this client doing?" in one
//! screen. The data form serves the JS module and page; [`render_text`]
//! serves the CLI. Both read only Events, never log lines.

use std::collections::HashMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use crate::event::{Event, EventKind, Probe, SessionId};
use crate::timestamp::Timestamp;

/// Steps kept per session; longer sessions keep their first steps and a count.
const MAX_STEPS: usize = 200;

/// One line of a session timeline.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct Step {
    /// Time (RFC 3339), when known.
    // Kept as a Timestamp and written only when rendered: formatting it for
    // every event of every session cost the report builder more than the
    // rest of a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub time: Option<Timestamp>,
    /// Event kind (`smtp_command`, `reject`, ...).
    pub kind: &'static str,
    /// `<` client→server, `>` server→client, or empty.
    pub arrow: &'static str,
    /// What happened, short.
    pub text: String,
}

impl Step {
    /// `HH:MM:SS` of the step's time, or blanks of that width.
    pub fn clock(&self) -> String {
        self.time.map_or_else(
            || " ".repeat(8),
            |t| format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second),
        )
    }
}

/// One session of a client.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct SessionReport {
    /// Session id.
    pub session_id: String,
    /// Daemon (smtpd or postscreen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<String>,
    /// Process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// First line's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Timeline.
    pub steps: Vec<Step>,
    /// Steps not kept.
    pub steps_omitted: usize,
    /// Verdict, once the session ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Probe>,
    /// Queue ids of messages it sent.
    pub queue_ids: Vec<String>,
}

/// All sessions of one client address.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct ClientReport {
    /// Client IP (or `unknown`).
    pub address: String,
    /// Reverse-DNS names seen.
    pub names: Vec<String>,
    /// Any session suspicious.
    pub suspicious: bool,
    /// Verdict classes with counts, most frequent first.
    pub classes: Vec<(String, usize)>,
    /// Sessions in order of first line.
    pub sessions: Vec<SessionReport>,
}

/// Collects events into reports.
#[derive(Default)]
pub struct Explainer {
    sessions: Vec<SessionReport>,
    index: HashMap<SessionId, usize>,
    client_of: Vec<String>,
    names: HashMap<String, Vec<String>>,
    /// Per session: its last step opened a multi-line reply still being folded.
    in_reply: Vec<bool>,
}

impl Explainer {
    /// An empty explainer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event.
    pub fn push(&mut self, ev: &Event<'_>) {
        let Some(id) = ev.postfix.session_id else {
            return;
        };
        if matches!(ev.postfix.event, EventKind::Debug | EventKind::ProxyChat) {
            return;
        }
        let i = match self.index.get(&id) {
            Some(&i) => i,
            None => {
                let address = ev
                    .client
                    .as_ref()
                    .and_then(|c| c.ip.as_deref())
                    .unwrap_or("unknown")
                    .to_owned();
                self.sessions.push(SessionReport {
                    session_id: id.to_string(),
                    daemon: ev.postfix.daemon.as_deref().map(str::to_owned),
                    pid: ev.process.as_ref().and_then(|p| p.pid),
                    start: ev.timestamp.map(|t| t.to_string()),
                    steps: Vec::new(),
                    steps_omitted: 0,
                    verdict: None,
                    queue_ids: Vec::new(),
                });
                self.client_of.push(address);
                self.in_reply.push(false);
                self.index.insert(id, self.sessions.len() - 1);
                self.sessions.len() - 1
            }
        };
        if let Some(name) = ev.client.as_ref().and_then(|c| c.domain.as_deref()) {
            let names = self.names.entry(self.client_of[i].clone()).or_default();
            if name != "unknown" && !names.iter().any(|n| n == name) && names.len() < 8 {
                names.push(name.to_owned());
            }
        }
        if ev.postfix.event == EventKind::Queued {
            if let Some(q) = ev.postfix.queue_id.as_deref() {
                self.sessions[i].queue_ids.push(q.to_owned());
            }
        }
        if let Some(p) = &ev.probe {
            self.sessions[i].verdict = Some(p.clone());
        }
        let s = &mut self.sessions[i];
        append_step(&mut s.steps, &mut s.steps_omitted, MAX_STEPS, &mut self.in_reply[i], ev);
    }

    /// The reports, one per client address, in order of first appearance.
    pub fn report(&self) -> Vec<ClientReport> {
        let mut order: Vec<String> = Vec::new();
        let mut by_client: HashMap<&str, Vec<&SessionReport>> = HashMap::new();
        for (s, c) in self.sessions.iter().zip(&self.client_of) {
            if !by_client.contains_key(c.as_str()) {
                order.push(c.clone());
            }
            by_client.entry(c.as_str()).or_default().push(s);
        }
        order
            .into_iter()
            .map(|address| {
                let sessions: Vec<SessionReport> = by_client[address.as_str()].iter().map(|s| (*s).clone()).collect();
                let mut classes: Vec<(String, usize)> = Vec::new();
                for v in sessions.iter().filter_map(|s| s.verdict.as_ref()) {
                    match classes.iter_mut().find(|c| c.0 == v.class.as_str()) {
                        Some(c) => c.1 += 1,
                        None => classes.push((v.class.as_str().to_owned(), 1)),
                    }
                }
                classes.sort_by_key(|c| std::cmp::Reverse(c.1));
                ClientReport {
                    names: self.names.get(&address).cloned().unwrap_or_default(),
                    suspicious: sessions
                        .iter()
                        .any(|s| s.verdict.as_ref().is_some_and(|v| v.suspicious)),
                    classes,
                    sessions,
                    address,
                }
            })
            .collect()
    }
}

/// Adds the event's step to a timeline of at most `cap` steps (counting the
/// rest in `omitted`). Continuation lines of a multi-line reply fold into
/// the step that opened it: `250 mx ... (PIPELINING, STARTTLS, AUTH PLAIN)`;
/// `in_reply` says whether the timeline's last step is such an open reply.
pub(crate) fn append_step(steps: &mut Vec<Step>, omitted: &mut usize, cap: usize, in_reply: &mut bool, ev: &Event<'_>) {
    let reply = ev
        .smtp
        .as_ref()
        .and_then(|s| s.reply.as_ref())
        .filter(|_| ev.postfix.event == EventKind::SmtpReply);
    let continuing = reply.is_some() && *in_reply;
    *in_reply = reply.is_some_and(|r| !r.last);
    if let (true, Some(r), Some(last)) = (continuing, reply, steps.last_mut()) {
        if last.text.ends_with(')') {
            last.text.pop();
            let _ = write!(last.text, ", {})", r.text);
        } else {
            let _ = write!(last.text, " ({})", r.text);
        }
        return;
    }
    if continuing {
        // The opening step was not kept (timeline full): nothing to fold into.
        return;
    }
    if let Some(step) = step(ev) {
        if steps.len() < cap {
            steps.push(step);
        } else {
            *omitted += 1;
        }
    }
}

fn step(ev: &Event<'_>) -> Option<Step> {
    let time = ev.timestamp;
    let smtp = ev.smtp.as_ref();
    let (arrow, text) = match ev.postfix.event {
        EventKind::SmtpCommand | EventKind::SaslResponse => {
            let s = smtp?;
            let verb = s.verb.unwrap_or("?");
            let text = match s.arguments.as_deref() {
                Some(a) if verb == "NON_SMTP" => a.to_owned(),
                Some(a) => format!("{verb} {a}"),
                None => verb.to_owned(),
            };
            ("<", text)
        }
        EventKind::SmtpReply => {
            let r = smtp?.reply.as_ref()?;
            let enhanced = r.enhanced.as_deref().map(|e| format!("{e} ")).unwrap_or_default();
            (">", format!("{} {enhanced}{}", r.code, r.text))
        }
        EventKind::Connect => ("", "connect".to_owned()),
        EventKind::Disconnect => {
            let stats = ev.postfix.disconnect_stats.as_ref();
            // Sized once: reserving after "disconnect" was a reallocation
            // for every session the report reads (callgrind).
            let mut text = String::with_capacity(16 + stats.map_or(0, |st| 16 * st.0.len()));
            text.push_str("disconnect");
            if let Some(stats) = stats {
                text.push_str(" (");
                stats.write_text(&mut text, true);
                text.push(')');
            }
            ("", text)
        }
        EventKind::LostConnection | EventKind::Timeout | EventKind::TooManyErrors => {
            let stage = smtp.and_then(|s| s.stage.as_deref()).unwrap_or("?");
            (
                "",
                format!("{} after {stage}", ev.postfix.event.as_str().replace('_', " ")),
            )
        }
        EventKind::Reject | EventKind::Policy => {
            let s = smtp?;
            let r = s.reject.as_ref()?;
            let code = s
                .reply
                .as_ref()
                .map(|r| r.code)
                .filter(|c| *c > 0)
                .map(|c| format!("{c} "))
                .unwrap_or_default();
            let to = ev
                .email
                .as_ref()
                .and_then(|e| e.to.as_ref())
                .map(|a| format!(" to=<{}>", a.address))
                .unwrap_or_default();
            (
                "",
                format!(
                    "{} {} {code}{}{to}",
                    r.action,
                    s.stage.as_deref().unwrap_or(""),
                    r.reason
                ),
            )
        }
        EventKind::SaslFailure => {
            let sasl = ev.postfix.sasl.as_ref()?;
            let user = ev
                .user
                .as_ref()
                .map(|u| format!(" user={}", u.name))
                .unwrap_or_default();
            let what = if sasl.aborted { "aborted" } else { "failed" };
            (
                "",
                format!("AUTH {} {what}{user}", sasl.method.as_deref().unwrap_or("")),
            )
        }
        EventKind::Queued => (
            "",
            format!("queued as {}", ev.postfix.queue_id.as_deref().unwrap_or("?")),
        ),
        EventKind::Delivery => {
            let d = ev.postfix.delivery.as_ref()?;
            let to = ev.email.as_ref().and_then(|e| e.to.as_ref()).map_or("", |a| &a.address);
            ("", format!("delivery to <{to}>: {}", d.status))
        }
        EventKind::Tls => {
            let t = ev.tls.as_ref()?;
            let v = t.version.as_deref().map(|v| format!(" TLSv{v}")).unwrap_or_default();
            ("", format!("TLS {}{v}", t.action))
        }
        EventKind::Postscreen => {
            let p = ev.postfix.postscreen.as_ref()?;
            let detail = p.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            ("", format!("postscreen {}{detail}", p.action))
        }
        EventKind::NonSmtpCommand => (
            "<",
            format!("non-SMTP: {}", smtp.and_then(|s| s.arguments.as_deref()).unwrap_or("")),
        ),
        EventKind::ImproperPipelining => ("", "improper command pipelining".to_owned()),
        EventKind::Warning | EventKind::Error => (
            "",
            ev.message
                .rsplit_once(": warning: ")
                .map_or("warning", |(_, w)| w)
                .to_owned(),
        ),
        _ => return None,
    };
    Some(Step {
        time,
        kind: ev.postfix.event.as_str(),
        arrow,
        text,
    })
}

/// The reports as the CLI prints them: per client, each session as a short
/// timeline, then its verdict and reasons.
pub fn render_text(reports: &[ClientReport]) -> String {
    let mut out = String::new();
    for c in reports {
        let names = if c.names.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.names.join(", "))
        };
        let classes: Vec<String> = c.classes.iter().map(|(k, n)| format!("{k}×{n}")).collect();
        let _ = writeln!(
            out,
            "client {}{names}: {} session(s){}{}",
            c.address,
            c.sessions.len(),
            if classes.is_empty() {
                String::new()
            } else {
                format!(", {}", classes.join(" "))
            },
            if c.suspicious { "  [SUSPICIOUS]" } else { "" }
        );
        for s in &c.sessions {
            let _ = writeln!(
                out,
                "  session {} {}[{}] {}",
                s.session_id,
                s.daemon.as_deref().unwrap_or("?"),
                s.pid.map_or("?".to_owned(), |p| p.to_string()),
                s.start.as_deref().unwrap_or("")
            );
            for st in &s.steps {
                let time = st.clock();
                let arrow = if st.arrow.is_empty() { " " } else { st.arrow };
                let _ = writeln!(out, "    {time} {arrow} {}", st.text);
            }
            if s.steps_omitted > 0 {
                let _ = writeln!(out, "    ... {} more steps", s.steps_omitted);
            }
            match &s.verdict {
                Some(v) => {
                    let flag = if v.suspicious { "suspicious" } else { "not suspicious" };
                    let conf = v.confidence.as_str();
                    let _ = writeln!(out, "    verdict: {} ({flag}, confidence {conf})", v.class.as_str());
                    for r in &v.reasons {
                        let _ = writeln!(out, "      - {r}");
                    }
                    if !v.flags.is_empty() {
                        let _ = writeln!(out, "      flags: {}", v.flags.join(", "));
                    }
                }
                None => {
                    let _ = writeln!(out, "    verdict: (session not finished in this log)");
                }
            }
        }
        out.push('\n');
    }
    out
}
