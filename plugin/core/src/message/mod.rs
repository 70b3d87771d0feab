//! Messages: what Postfix said, as typed fields borrowed from the line.
//!
//! Dispatch is on the daemon first (the program name after its last `/`),
//! then on the message's first bytes, so a line costs a few comparisons
//! before the one parser that applies runs. Nothing here keeps state or knows
//! about output formats; [`crate::context`] and [`crate::event`] come after.

mod admin;
mod chat;
pub mod fields;
mod limits;
mod notes;
mod postscreen;
mod queue;
pub mod smtp_client;
mod smtpd;
mod tls;

pub use chat::{ChatLine, ChatSide, Redaction};
pub use fields::{Peer, Reply};
pub use limits::split_ident as split_anvil_ident;
pub use smtp_client::RemoteReply;

/// Severity of a Postfix line (`warning: `, `error: `, ... prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// No prefix.
    Info,
    /// `warning: `
    Warning,
    /// `error: `
    Error,
    /// `fatal: `
    Fatal,
    /// `panic: `
    Panic,
}

impl Severity {
    /// Lower-case name, as ECS `log.level` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
            Severity::Panic => "panic",
        }
    }
}

/// Why an smtpd session ended abnormally (`<reason> after <STATE> from ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// `lost connection`
    LostConnection,
    /// `timeout`
    Timeout,
    /// `too many errors`
    TooManyErrors,
}

/// One verb's counts from a Postfix ≥ 3.0 `disconnect from` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerbCount {
    /// Lower-case verb as logged (`ehlo`, `auth`, ..., `unknown`, `commands`).
    pub verb: &'static str,
    /// Successful attempts.
    pub ok: u32,
    /// All attempts.
    pub total: u32,
}

/// Verbs that may appear in disconnect statistics, in smtpd's order.
pub const STAT_VERBS: [&str; 19] = [
    "helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
    "etrn", "quit", "help", "unknown", "expn", "commands",
];

/// Disconnect statistics: per-verb counts plus notes such as `bare_lf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisconnectStats {
    /// Counts in the order logged; `commands` is among them.
    pub counts: Vec<VerbCount>,
    /// `notes=` value (3.9+), e.g. `bare_lf`.
    pub notes: Option<&'static str>,
}

impl DisconnectStats {
    /// Counts for one verb, if logged.
    pub fn get(&self, verb: &str) -> Option<VerbCount> {
        self.counts.iter().copied().find(|c| c.verb == verb)
    }
}

/// A policy line: `<qid|NOQUEUE>: <action>: <STATE> from <client>: <text>; from=<> to=<> ...`,
/// as smtpd, postscreen and cleanup write it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy<'a> {
    /// `reject`, `reject_warning`, `hangup`, `milter-reject`, `discard`, `hold`, ...
    pub action: &'a str,
    /// Protocol stage: `CONNECT`, `RCPT`, `END-OF-MESSAGE`, ...
    pub stage: &'a str,
    /// The reply or reason text before the `;`.
    pub reply: Reply<'a>,
    /// `from=<>`.
    pub from: Option<&'a str>,
    /// `to=<>`.
    pub to: Option<&'a str>,
    /// `proto=`.
    pub proto: Option<&'a str>,
    /// `helo=<>`.
    pub helo: Option<&'a str>,
    /// `sasl_method=` (3.10+).
    pub sasl_method: Option<&'a str>,
    /// `sasl_username=` (3.10+).
    pub sasl_username: Option<&'a str>,
}

/// A delivery status line (`to=<>, relay=, delay=, delays=, dsn=, status= (text)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery<'a> {
    /// Recipient.
    pub to: &'a str,
    /// Original recipient before rewriting.
    pub orig_to: Option<&'a str>,
    /// `relay=` as logged.
    pub relay: &'a str,
    /// The relay as a peer, when it is `host[addr]:port`.
    pub relay_peer: Option<Peer<'a>>,
    /// `conn_use=`.
    pub conn_use: Option<u32>,
    /// `delay=` seconds.
    pub delay: Option<f64>,
    /// `delays=a/b/c/d`.
    pub delays: Option<[f64; 4]>,
    /// `tls=` (3.11).
    pub tls: Option<&'a str>,
    /// `dsn=`.
    pub dsn: Option<&'a str>,
    /// `status=`.
    pub status: &'a str,
    /// Text in parentheses after the status.
    pub text: Option<&'a str>,
    /// A queue id the text names (`queued as X`, `forwarded as X`).
    pub next_queue_id: Option<&'a str>,
    /// What the remote server answered or how reaching it failed, parsed
    /// from `text` (`host H[A] said: 550 5.1.1 ... (in reply to RCPT TO
    /// command)`, `250 2.0.0 Ok: queued as X`, `connect to H[A]:25: ...`).
    /// The per-message record reads the remote's reply from here.
    pub remote: Option<RemoteReply<'a>>,
}

/// A postscreen verdict or event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Screen<'a> {
    /// What happened: `connect`, `pass_new`, `pass_old`, `pregreet`, `hangup`,
    /// `dnsbl`, `command_pipelining`, `non_smtp_command`, `bare_newline`,
    /// `command_time_limit`, `command_count_limit`, `command_length_limit`,
    /// `data_without_rcpt`, `disconnect`, `denylisted`, `allowlisted`,
    /// `allowlist_veto`, `ports_busy`, `too_many_connections`, `stress`, `discard_ehlo_keywords`,
    /// `replace_command`.
    pub action: &'static str,
    /// Client `[ip]:port`.
    pub client: Option<Peer<'a>>,
    /// Local side `[ip]:port` (on CONNECT).
    pub server: Option<Peer<'a>>,
    /// Protocol state (`after <STATE>`).
    pub stage: Option<&'a str>,
    /// Escaped client bytes or other detail.
    pub detail: Option<&'a str>,
    /// A count (PREGREET byte count, DNSBL rank, STRESS connections).
    pub count: Option<u32>,
    /// Seconds since connect (PREGREET, HANGUP).
    pub seconds: Option<f64>,
}

/// A TLS summary or TLS problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo<'a> {
    /// `established`, `reused`, `setup`, `accept_error`, `connect_error`, `abort`,
    /// `handshake_failed`, `verify_failed`, `library_problem`, `sni`, `other`.
    pub action: &'static str,
    /// The peer.
    pub peer: Option<Peer<'a>>,
    /// `true` for `from` (we are the server), `false` for `to`.
    pub inbound: Option<bool>,
    /// `Anonymous`, `Untrusted`, `Trusted`, `Verified`.
    pub trust: Option<&'a str>,
    /// `TLSv1.3`.
    pub protocol: Option<&'a str>,
    /// Cipher name.
    pub cipher: Option<&'a str>,
    /// Server name indication.
    pub sni: Option<&'a str>,
    /// Error detail.
    pub detail: Option<&'a str>,
}

/// What a Postfix line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<'a> {
    /// smtpd `connect from <client>`.
    Connect(Peer<'a>),
    /// smtpd `disconnect from <client>[ stats]`.
    Disconnect(Peer<'a>, Option<DisconnectStats>),
    /// smtpd `[<qid|NOQUEUE>: ]<reason> after <STATE>[ (N bytes)] from <client>`.
    SessionEnd {
        /// Queue id of an open transaction (3.10+ prefix).
        queue_id: Option<&'a str>,
        /// Why it ended.
        reason: EndReason,
        /// Last state.
        stage: &'a str,
        /// Message bytes received (during DATA/BDAT).
        bytes: Option<u64>,
        /// Client.
        client: Peer<'a>,
    },
    /// A verbose protocol trace line (`< peer: text`, `> peer: text`).
    Chat(ChatLine<'a>),
    /// smtpd `<qid>: client=<client>[, sasl_method=, sasl_username=, ...]`.
    Queued {
        /// Queue id.
        queue_id: &'a str,
        /// Client.
        client: Peer<'a>,
        /// SASL mechanism.
        sasl_method: Option<&'a str>,
        /// SASL user.
        sasl_username: Option<&'a str>,
        /// `orig_queue_id=` (after a content filter).
        orig_queue_id: Option<&'a str>,
    },
    /// A policy line (reject and other access actions).
    Policy {
        /// Queue id, `None` for `NOQUEUE`.
        queue_id: Option<&'a str>,
        /// Client (`None` for cleanup lines from local submissions).
        client: Option<Peer<'a>>,
        /// The fields.
        policy: Box<Policy<'a>>,
    },
    /// `warning: <client>: SASL <mech> authentication failed: <reason>[, sasl_username=<u>]`
    /// or `... authentication aborted`.
    SaslFailure {
        /// Client.
        client: Peer<'a>,
        /// Mechanism.
        mechanism: &'a str,
        /// Reason (absent for `aborted`).
        reason: Option<&'a str>,
        /// User name tried (3.9+).
        username: Option<&'a str>,
        /// `true` when the client aborted with `*`.
        aborted: bool,
    },
    /// `warning: non-SMTP command from <client>: <line>`.
    NonSmtpCommand(Peer<'a>, &'a str),
    /// `improper command pipelining after <STATE> from <client>: <data>`.
    ImproperPipelining {
        /// State.
        stage: &'a str,
        /// Client.
        client: Peer<'a>,
        /// Escaped data.
        data: &'a str,
    },
    /// `warning: Illegal address syntax from <client> in <MAIL|RCPT> command: <addr>`.
    IllegalAddress(Peer<'a>, &'a str),
    /// `warning: hostname <name> does not resolve to address <ip>` (reverse DNS mismatch).
    HostnameMismatch(&'a str, &'a str),
    /// A TLS summary or error.
    Tls(TlsInfo<'a>),
    /// cleanup `<qid>: message-id=<id>` (also `resent-message-id=`), and
    /// what followed the closing `>` of a malformed id (`<x>junk`).
    MessageId(&'a str, &'a str, Option<&'a str>),
    /// qmgr `<qid>: from=<s>, size=N, nrcpt=N (queue active)`.
    QueueActive {
        /// Queue id.
        queue_id: &'a str,
        /// Envelope sender.
        from: &'a str,
        /// Size in bytes.
        size: Option<u64>,
        /// Recipient count.
        nrcpt: Option<u32>,
    },
    /// A per-recipient delivery status line.
    Delivery(&'a str, Box<Delivery<'a>>),
    /// qmgr `<qid>: from=<s>, status=expired, returned to sender` (or
    /// `status=force-expired` after `postsuper -e`): queue id, sender, status word.
    Expired(&'a str, &'a str, &'a str),
    /// `<qid>: removed[ (reason)]` (qmgr, cleanup, postsuper).
    Removed(&'a str),
    /// bounce `<qid>: sender non-delivery notification: <newqid>` and relatives.
    Notification {
        /// Original queue id.
        queue_id: &'a str,
        /// Kind of notice, as logged.
        kind: &'a str,
        /// Queue id of the notice.
        new_queue_id: &'a str,
    },
    /// pickup `<qid>: uid=N from=<s>`.
    Pickup(&'a str, &'a str),
    /// Another `<qid>: text` line about a message (delivery problems, postsuper actions, ...).
    QueueNote(&'a str, &'a str),
    /// smtp/lmtp: a remote server refused, failed or could not be reached
    /// (`[<qid>: ]host H[A] said: ...`, `lost connection with ...`,
    /// `connect to H[A]:25: ...`, `SASL authentication failed; ...`).
    RemoteFailure {
        /// Queue id of the message being delivered, when logged.
        queue_id: Option<&'a str>,
        /// The parsed text.
        remote: RemoteReply<'a>,
    },
    /// smtp `<qid>: enabling PIX workarounds: <words> for H[A]:P`.
    PixWorkaround {
        /// Queue id.
        queue_id: &'a str,
        /// The remote server.
        server: Peer<'a>,
        /// The workarounds as logged (`disable_esmtp delay_dotcrlf`).
        workarounds: &'a str,
    },
    /// smtpd `warning: <Kind> limit exceeded: N from <client> for service S`.
    RateLimit {
        /// connection_rate, connection_concurrency, message_rate,
        /// recipient_rate, auth_rate, newtls_rate.
        kind: &'static str,
        /// The client's count that exceeded the limit.
        count: u32,
        /// Client.
        client: Peer<'a>,
        /// master.cf service name.
        service: &'a str,
    },
    /// smtpd (3.5.23/3.6.13/3.7.9/3.8.4 smuggling patches) `bare <LF> received
    /// after <STATE> from <client>`: a session ended for a bare newline.
    BareNewline {
        /// Queue id of an open transaction.
        queue_id: Option<&'a str>,
        /// Last state.
        stage: &'a str,
        /// Client.
        client: Peer<'a>,
    },
    /// postscreen events.
    Screen(Screen<'a>),
    /// dnsblog `addr <ip> listed by domain <zone> as <result>`.
    Dnsbl {
        /// Listed address.
        addr: &'a str,
        /// DNSBL zone.
        domain: &'a str,
        /// Answer.
        result: &'a str,
    },
    /// anvil `statistics: max <metric> rate|count ...`.
    Anvil {
        /// `connection rate`, `connection count`, `message rate`, `cache size`, ...
        metric: &'a str,
        /// The value.
        value: u32,
        /// `service:client` ident, when present.
        ident: Option<&'a str>,
    },
    /// postsuper: one message requeued, held, released or expired (with its
    /// queue id), or the count of messages an operation touched (`Deleted: 3 messages`).
    QueueAdmin {
        /// The message, on per-message lines.
        queue_id: Option<&'a str>,
        /// `deleted`, `requeued`, `held`, `released`, `expired`, `renamed`.
        action: &'static str,
        /// Messages affected, on summary lines.
        count: Option<u32>,
    },
    /// `cache <table> full|partial cleanup: retained=N dropped=N entries`
    /// (verify's address cache, postscreen's client cache).
    CacheCleanup {
        /// The cache table, e.g. `btree:/var/lib/postfix/verify_cache`.
        table: &'a str,
        /// `full` or `partial`.
        scope: &'static str,
        /// Entries kept.
        retained: u32,
        /// Entries expired and removed.
        dropped: u32,
    },
    /// smtpd `<qid|NOQUEUE>: reply filter in|out: <reply>`: smtpd_reject_filter_maps
    /// replaced a 4xx/5xx reply; `in` is the reply smtpd built, `out` the one it sent.
    ReplyFilter {
        /// Queue id of the open transaction, `None` for `NOQUEUE`.
        queue_id: Option<&'a str>,
        /// `in` or `out`.
        side: &'static str,
        /// The reply.
        reply: Reply<'a>,
    },
    /// smtp/lmtp `<qid>: breaking line > N bytes with <CR><LF>SPACE`: a line
    /// of the message was longer than smtp_line_length_limit and was folded.
    LongLine {
        /// Queue id.
        queue_id: &'a str,
        /// The limit in bytes.
        limit: u64,
    },
    /// `<qid>: passing <rcpt> to transport=<name>` (global/deliver_pass.c): a
    /// delivery agent hands a recipient to another transport.
    Handoff {
        /// Queue id.
        queue_id: &'a str,
        /// The recipient.
        recipient: &'a str,
        /// The master.cf transport it is passed to.
        transport: &'a str,
    },
    /// `<qid>: status=deferred (<notice> failed)` (global/bounce.c, abounce.c):
    /// the bounce service could not make a notice, so the whole message stays queued.
    NoticeFailed {
        /// Queue id.
        queue_id: &'a str,
        /// `bounce`, `delay warning`, `verp-bounce`, `trace`.
        notice: &'a str,
        /// The status text, `<notice> failed`.
        text: &'a str,
    },
    /// bounce `<qid>: not sending trace/success notification for
    /// double-bounce|single-bounce message`: a notice bounce decided not to send.
    NoticeSkipped {
        /// Queue id.
        queue_id: &'a str,
        /// The text after the queue id.
        text: &'a str,
    },
    /// master, postfix-script, postlog, postsuper lifecycle and other daemon lines.
    Service(&'a str),
    /// A known informational line that carries no fields of its own (TLS
    /// cache chatter, compatibility notes, `discarding EHLO keywords`, ...).
    Notice(&'a str),
    /// A verbose internal line (`match_string: ...`, `send attr ...`).
    Debug,
    /// A warning/error/fatal/panic line no specific parser took, or a
    /// command/reply filter note about a peer.
    Diagnostic {
        /// Peer named at the start (`warning: <peer>: ...`) or as the first
        /// `name[IP]` label in the text; the remote server for smtp/lmtp.
        client: Option<Peer<'a>>,
        /// Queue id named at the start (`warning: <qid>: ...`), if any.
        queue_id: Option<&'a str>,
        /// Text after the prefix.
        text: &'a str,
    },
    /// A Postfix line that nothing recognised.
    Unparsed,
}

/// A parsed Postfix message with what applies to every line.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    /// What it says.
    pub message: Message<'a>,
    /// Severity prefix.
    pub severity: Severity,
    /// A byte range of the message text to hide (AUTH payloads and the like).
    pub redaction: Option<Redaction>,
}

/// Is this daemon name one of Postfix's programs? Every program of the
/// source tree's `src/`, plus the service names master.cf gives them by
/// default (`bounce` runs as `defer` and `trace`, `error` as `retry`, `qmgr`
/// as `nqmgr`/`oqmgr`, `smtp` as `relay`, `lmtp`) and the scripts that log
/// under the `postfix/` tag.
pub fn is_postfix_daemon(daemon: &str) -> bool {
    matches!(
        daemon,
        "smtpd"
            | "smtp"
            | "lmtp"
            | "relay"
            | "postscreen"
            | "cleanup"
            | "qmgr"
            | "nqmgr"
            | "oqmgr"
            | "local"
            | "virtual"
            | "pipe"
            | "bounce"
            | "defer"
            | "trace"
            | "error"
            | "retry"
            | "discard"
            | "pickup"
            | "anvil"
            | "dnsblog"
            | "tlsproxy"
            | "tlsmgr"
            | "master"
            | "postfix"
            | "postfix-script"
            | "postfix-tls-script"
            | "postfix-wrapper"
            | "postmulti-script"
            | "postlog"
            | "postlogd"
            | "postsuper"
            | "postqueue"
            | "postdrop"
            | "postcat"
            | "postkick"
            | "postlock"
            | "postmap"
            | "postalias"
            | "postconf"
            | "postmulti"
            | "posttls-finger"
            | "showq"
            | "proxymap"
            | "proxywrite"
            | "scache"
            | "verify"
            | "sendmail"
            | "flush"
            | "spawn"
            | "qmqpd"
            | "trivial-rewrite"
            | "rewrite"
            | "nbdb_reindexd"
    )
}

/// Is this program one of Postfix's? It is when its first `/`-separated
/// component is `postfix` or starts with `postfix-` (`postfix/smtpd`,
/// `postfix/submission/smtpd`, multi-instance `postfix-out/smtp`,
/// `postfix-10.20.30.40/smtp`), so a daemon added in a later release is still
/// Postfix's; or when some other `syslog_name` (`mx-in/smtpd`) precedes a
/// known daemon. A program without a `/` is Postfix's only when it is
/// `postfix` itself: a bare `smtpd` is OpenSMTPD, a bare `sendmail` is
/// Sendmail, and `postfix-policyd-spf-perl` is a separate project.
pub fn is_postfix_program(instance: Option<&str>, daemon: &str) -> bool {
    match instance {
        Some(inst) => {
            // A byte loop: `split('/')` set up a char searcher for every
            // line's name of a few bytes (1% of the enriching thread's
            // instructions under callgrind).
            let first = inst.bytes().position(|b| b == b'/').map_or(inst, |i| &inst[..i]);
            first == "postfix" || first.starts_with("postfix-") || is_postfix_daemon(daemon)
        }
        None => daemon == "postfix",
    }
}

/// Parses the message text of a Postfix line written by `daemon`.
pub fn parse<'a>(daemon: &str, text: &'a str) -> Parsed<'a> {
    // Some syslog paths leave a trailing space or CR; they are kept in
    // `message` but would only get in the way of matching.
    let (severity, body) = split_severity(text.trim_end_matches([' ', '\r', '\t']));
    let mut redaction = None;
    let message = match daemon {
        "smtpd" => smtpd::parse(severity, body, &mut redaction),
        "postscreen" => postscreen::parse(severity, body),
        "smtp" | "lmtp" => queue::parse_client(severity, body, &mut redaction),
        "tlsproxy" => postscreen::parse_tlsproxy(body),
        "cleanup" | "qmgr" | "nqmgr" | "oqmgr" | "local" | "virtual" | "pipe" | "bounce" | "defer" | "trace"
        | "error" | "retry" | "discard" | "pickup" | "verify" => queue::parse(daemon, severity, body),
        "postsuper" => admin::parse_postsuper(severity, body).unwrap_or_else(|| queue::parse(daemon, severity, body)),
        "anvil" => limits::parse_anvil(body),
        "dnsblog" => queue::parse_dnsblog(body),
        "master" | "postfix-script" | "postfix-tls-script" | "postmulti-script" | "postfix-wrapper" | "postlog"
        | "postlogd" | "postfix" => Message::Service(body),
        _ => Message::Unparsed,
    };
    let message = match message {
        Message::Unparsed => fallback(severity, body, &mut redaction),
        m => m,
    };
    let redaction = redaction.map(|r: Redaction| r.shifted(text.len() - body.len()));
    Parsed {
        message,
        severity,
        redaction,
    }
}

fn split_severity(text: &str) -> (Severity, &str) {
    for (prefix, sev) in [
        ("warning: ", Severity::Warning),
        ("error: ", Severity::Error),
        ("fatal: ", Severity::Fatal),
        ("panic: ", Severity::Panic),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return (sev, rest);
        }
    }
    (Severity::Info, text)
}

/// Informational lines recognised by their opening words.
const NOTICES: [&str; 33] = [
    "discarding EHLO keywords",
    "bare <LF> received",
    "proxy-",
    "open ",
    "close ",
    "subject=",
    "issuer=",
    "initializing the ",
    "SSL3 alert ",
    "EGD server ",
    "cannot read ",
    "cannot write ",
    "cannot load ",
    "cannot set ",
    "tls_proxy_client_tlsa_scan ",
    "write ",
    "read ",
    "put ",
    "delete ",
    "lookup ",
    "looking for session ",
    "reloaded session ",
    "save session ",
    "remove session ",
    "TLS SNI ",
    "SSL_set_fd error",
    "using backwards-compatible default setting",
    "using using backwards-compatible",
    "Host offered STARTTLS",
    "host ",
    "SMTPS wrappermode",
    "table ",
    "TLS support is not compiled",
];

/// What no daemon-specific parser took: TLS library lines (any daemon),
/// diagnostics, verbose internals.
fn fallback<'a>(severity: Severity, body: &'a str, redaction: &mut Option<Redaction>) -> Message<'a> {
    // Verbose internals are most of a -v log: recognise them first, by shape.
    if severity == Severity::Info && chat::is_debug(body) {
        *redaction = chat::debug_redaction(body);
        return Message::Debug;
    }
    if let Some(m) = tls::parse(severity, body) {
        return m;
    }
    if severity != Severity::Info {
        let client = fields::peer(body)
            .and_then(|(p, rest)| rest.starts_with(": ").then_some(p))
            .or_else(|| fields::peer_in(body));
        let queue_id = fields::queue_prefix(body).and_then(|(q, _)| q);
        return Message::Diagnostic {
            client,
            queue_id,
            text: body,
        };
    }
    if let Some(m) = admin::parse_cache_cleanup(body) {
        return m;
    }
    if NOTICES.iter().any(|p| body.starts_with(p)) {
        return Message::Notice(body);
    }
    // smtpd_command_filter / smtp_reply_filter: "<peer>: replacing command
    // \"X\" with \"Y\"", "<peer>: replacing server reply ...": a note about that peer.
    if let Some((peer, rest)) = fields::peer(body) {
        if rest.starts_with(": replacing ") {
            return Message::Diagnostic {
                client: Some(peer),
                queue_id: None,
                text: body,
            };
        }
    }
    if let Some((Some(qid), _)) = fields::queue_prefix(body) {
        return Message::QueueNote(qid, body);
    }
    Message::Unparsed
}
