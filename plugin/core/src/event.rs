//! The Event: one per input line, ECS-aligned, borrowing from the line where
//! it can. Its serde form is the product's output format and the JSON Schema
//! in `schemas/` is generated from these types, so every field carries a
//! description and names never change without a schema version bump.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Serialize;

use crate::timestamp::Timestamp;

/// Version of the event format; bumped when a field changes meaning or name.
pub const SCHEMA_VERSION: &str = "1";

/// A string borrowed from the input line, or owned when it had to be changed
/// (redaction, hashing, JSON unescaping, lossy UTF-8).
pub type Str<'a> = Cow<'a, str>;

/// Detaches a value from the line it borrows (for inputs that had to be decoded).
pub trait IntoStatic {
    /// The same type with `'static` lifetimes.
    type Static: 'static;
    /// Converts, copying what was borrowed.
    fn into_static(self) -> Self::Static;
}

impl IntoStatic for Cow<'_, str> {
    type Static = Cow<'static, str>;
    fn into_static(self) -> Cow<'static, str> {
        Cow::Owned(self.into_owned())
    }
}

impl<T: IntoStatic> IntoStatic for Option<T> {
    type Static = Option<T::Static>;
    fn into_static(self) -> Self::Static {
        self.map(IntoStatic::into_static)
    }
}

impl<T: IntoStatic> IntoStatic for Box<T> {
    type Static = Box<T::Static>;
    fn into_static(self) -> Self::Static {
        Box::new((*self).into_static())
    }
}

impl<T: IntoStatic> IntoStatic for Vec<T> {
    type Static = Vec<T::Static>;
    fn into_static(self) -> Self::Static {
        self.into_iter().map(IntoStatic::into_static).collect()
    }
}

macro_rules! static_identity {
    ($($t:ty),*) => { $(impl IntoStatic for $t { type Static = $t; fn into_static(self) -> $t { self } })* };
}
static_identity!(
    bool,
    u16,
    u32,
    u64,
    i64,
    f64,
    &'static str,
    String,
    Timestamp,
    SessionId,
    EventKind,
    VerdictClass,
    Confidence,
    Evidence
);

/// Declares an event struct and its `IntoStatic` impl from one field list, so
/// the two cannot drift.
macro_rules! event_struct {
    ($(#[$m:meta])* pub struct $name:ident<'a> { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        #[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
        $(#[$m])*
        pub struct $name<'a> { $($(#[$fm])* pub $f: $t,)* }
        impl<'a> IntoStatic for $name<'a> {
            type Static = $name<'static>;
            fn into_static(self) -> $name<'static> { $name { $($f: self.$f.into_static(),)* } }
        }
    };
}

const fn is_false(b: &bool) -> bool {
    !*b
}

event_struct! {
    /// One enriched log line.
    #[schemars(title = "postfix-enrich Event", description = "One enriched Postfix log line (ECS-aligned). Exactly one per input line.")]
    pub struct Event<'a> {
        /// When the line was written (RFC 3339).
        #[serde(rename = "@timestamp", skip_serializing_if = "Option::is_none")]
        pub timestamp: Option<Timestamp>,
        /// The original line, with secrets replaced by `[redacted]` (and addresses hashed or dropped when configured).
        pub message: Str<'a>,
        /// The host that wrote the line.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub host: Option<Host<'a>>,
        /// The process that wrote the line.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub process: Option<Process<'a>>,
        /// Log metadata.
        pub log: Log<'a>,
        /// ECS event categorisation.
        pub event: EventInfo,
        /// The SMTP client: the remote client for smtpd/postscreen lines (for delivery lines, see `server`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub client: Option<Endpoint<'a>>,
        /// The remote SMTP/LMTP server Postfix delivered to (smtp/lmtp lines).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub server: Option<Endpoint<'a>>,
        /// The SASL user (authenticated or tried).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub user: Option<User<'a>>,
        /// Envelope and header facts.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub email: Option<Email<'a>>,
        /// TLS facts.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tls: Option<Box<Tls<'a>>>,
        /// SMTP protocol facts (verb, reply, stage, reject).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub smtp: Option<Smtp<'a>>,
        /// Postfix-specific facts.
        pub postfix: Postfix<'a>,
        /// The session verdict; present on the line that ends a session.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub probe: Option<Probe>,
        /// ECS `threat`: the blocklists (`--blocklist NAME=PATH`) that list the client; absent when none does.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub threat: Option<Box<Threat>>,
    }
}

/// ECS `threat`, as far as blocklists go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Threat {
    /// One entry per list that lists the client.
    pub enrichments: Vec<ThreatEnrichment>,
}
static_identity!(Threat);

/// ECS `threat.enrichments[]`: one list's match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct ThreatEnrichment {
    /// The listed indicator.
    pub indicator: ThreatIndicator,
    /// How the event matched it.
    pub matched: ThreatMatched,
}

/// ECS `threat.enrichments.indicator`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct ThreatIndicator {
    /// The listed address (the client's).
    pub ip: String,
    /// The list's name, as given to `--blocklist NAME=PATH`.
    pub provider: String,
    /// ipv4-addr or ipv6-addr.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The list entry that covers it, e.g. `192.0.2.0/24`.
    pub description: String,
}

/// ECS `threat.enrichments.matched`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct ThreatMatched {
    /// The value that matched (the client's address).
    pub atomic: String,
    /// The field it came from: `client.ip`.
    pub field: &'static str,
    /// `indicator_match_rule`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

event_struct! {
    /// ECS `host`.
    pub struct Host<'a> {
        /// Host name as logged.
        pub name: Str<'a>,
    }
}

event_struct! {
    /// ECS `process`.
    pub struct Process<'a> {
        /// Program name as logged, e.g. `postfix/submission/smtpd`.
        pub name: Str<'a>,
        /// Process id.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub pid: Option<u32>,
    }
}

event_struct! {
    /// ECS `log`.
    pub struct Log<'a> {
        /// Severity: info, warning, error, fatal, panic.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub level: Option<&'static str>,
        /// Syslog details.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub syslog: Option<Syslog<'a>>,
        /// Wrapper the line came in: rfc3164 (`Mar  7 02:09:33`, also unpadded, zero-padded, with fractions, after `<PRI>`), rfc3339 (ISO 8601 date-time with or without a zone), rfc5424, short_full (`journalctl -o short-full`), journald (`journalctl -o json`), tag (header not understood, but a Postfix tag `postfix…/daemon[pid]:` was found in the line: program, pid and message come from it, no host), bare (no wrapper recognised).
        #[schemars(extend("enum" = ["rfc3164", "rfc3339", "rfc5424", "short_full", "journald", "tag", "bare"]))]
        pub format: &'static str,
    }
}

event_struct! {
    /// ECS `log.syslog`.
    pub struct Syslog<'a> {
        /// The syslog tag (program), e.g. `postfix/smtpd`.
        pub appname: Str<'a>,
    }
}

/// ECS `event`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct EventInfo {
    /// ECS category: email, network, authentication, session, process, host.
    pub category: &'static str,
    /// What happened, same vocabulary as `postfix.event`.
    pub action: &'static str,
    /// success, failure or unknown, where the line says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// Event format version.
    pub dataset: &'static str,
}
static_identity!(EventInfo);

event_struct! {
    /// ECS `client` / `server`.
    pub struct Endpoint<'a> {
        /// IP address (absent when Postfix logged `unknown`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ip: Option<Str<'a>>,
        /// Reverse-DNS name as logged (`unknown` when there is none).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub domain: Option<Str<'a>>,
        /// Port.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub port: Option<u16>,
        /// Socket or service when the peer is not an IP (`private/dovecot-lmtp`, `local`, `dovecot`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub address: Option<Str<'a>>,
    }
}

event_struct! {
    /// ECS `user`.
    pub struct User<'a> {
        /// SASL user name (hashed or absent when so configured).
        pub name: Str<'a>,
    }
}

event_struct! {
    /// ECS `email`.
    pub struct Email<'a> {
        /// Envelope sender.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub from: Option<Address<'a>>,
        /// Envelope recipient.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub to: Option<Address<'a>>,
        /// Message-ID header value.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub message_id: Option<Str<'a>>,
        /// inbound (received by smtpd/postscreen) or outbound (sent by smtp/lmtp).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub direction: Option<&'static str>,
    }
}

event_struct! {
    /// An e-mail address.
    pub struct Address<'a> {
        /// The address as logged (empty for the null sender), hashed when so configured.
        pub address: Str<'a>,
    }
}

event_struct! {
    /// ECS `tls`.
    pub struct Tls<'a> {
        /// Protocol version number, e.g. `1.3`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub version: Option<Str<'a>>,
        /// Protocol name, `tls`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub version_protocol: Option<&'static str>,
        /// Cipher suite.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cipher: Option<Str<'a>>,
        /// True when a handshake completed.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub established: Option<bool>,
        /// True when a session was resumed.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub resumed: Option<bool>,
        /// Postfix's trust word: Anonymous, Untrusted, Trusted, Verified.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub trust: Option<Str<'a>>,
        /// Server name the client asked for (SNI).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub server_name: Option<Str<'a>>,
        /// What the line reports: established, reused, setup, accept_error, connect_error, abort, handshake_failed, verify_failed, library_problem, sni, tlsrpt, cache (session cache lines that name the peer), detail, starttls_offered (smtp: the server offered STARTTLS and TLS is off, `Host offered STARTTLS: [host]`), prng (the entropy daemon (EGD) of tls_random_source failed; `detail` quotes the line).
        pub action: &'static str,
        /// Error or detail text.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub detail: Option<Str<'a>>,
    }
}

event_struct! {
    /// SMTP protocol facts.
    pub struct Smtp<'a> {
        /// Command verb (EHLO HELO LHLO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY EXPN ETRN QUIT XCLIENT XFORWARD HELP, or NON_SMTP).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub verb: Option<&'static str>,
        /// Who spoke: client_to_server or server_to_client.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub direction: Option<&'static str>,
        /// Command arguments (`[redacted]` for credentials).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub arguments: Option<Str<'a>>,
        /// A reply (trace line or reject text).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub reply: Option<SmtpReply<'a>>,
        /// HELO/EHLO name.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub helo: Option<Str<'a>>,
        /// Whether the HELO name is a fully qualified domain name (or an address literal).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub helo_fqdn: Option<bool>,
        /// Protocol stage the line refers to (CONNECT, EHLO, RCPT, DATA, END-OF-MESSAGE, ...).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub stage: Option<Str<'a>>,
        /// `proto=` of policy lines: SMTP or ESMTP.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub proto: Option<Str<'a>>,
        /// Policy decision details.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub reject: Option<Reject<'a>>,
    }
}

event_struct! {
    /// An SMTP reply.
    pub struct SmtpReply<'a> {
        /// Three-digit code (0 when the line had none, as in cleanup milter lines).
        pub code: u16,
        /// RFC 3463 enhanced status code.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enhanced: Option<Str<'a>>,
        /// Reply text.
        pub text: Str<'a>,
        /// True for the last line of a multi-line reply.
        pub last: bool,
    }
}

event_struct! {
    /// A policy decision (reject and other access actions).
    pub struct Reject<'a> {
        /// reject, reject_warning, hangup, discard, hold, milter-reject, ...; for header/body checks also the actions smtp logs (warning, info, replace, prepend, strip), with `smtp.stage` header or body and the matched line (and the rule's text, which Postfix does not delimit from it) as `reason`.
        pub action: Str<'a>,
        /// The reason text, without address prefix and code.
        pub reason: Str<'a>,
        /// What rejected it: relay_denied, unknown_recipient, client, helo, sender, recipient, rbl, data, content, milter, tls, other.
        pub class: &'static str,
    }
}

/// Deterministic session id: 16 hex digits of a hash of (host, program, pid,
/// connect time, client address), so replicas that see the same lines agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionId(pub u64);

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 16];
        s.serialize_str(self.hex(&mut buf))
    }
}

impl SessionId {
    /// Writes the 16 hex digits into `buf` and returns them.
    pub fn hex<'b>(&self, buf: &'b mut [u8; 16]) -> &'b str {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in buf.iter_mut().enumerate() {
            *b = HEX[((self.0 >> (60 - i * 4)) & 0xf) as usize];
        }
        std::str::from_utf8(buf).expect("hex digits are ASCII")
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl JsonSchema for SessionId {
    fn schema_name() -> Cow<'static, str> {
        "SessionId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[0-9a-f]{16}$", "description": "Deterministic session id (16 hex digits)."})
    }
}

/// `postfix.event`: what kind of line this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// smtpd `connect from`.
    Connect,
    /// smtpd `disconnect from`.
    Disconnect,
    /// `lost connection after STATE`.
    LostConnection,
    /// `timeout after STATE`.
    Timeout,
    /// `too many errors after STATE`.
    TooManyErrors,
    /// A command in a verbose trace.
    SmtpCommand,
    /// A reply in a verbose trace.
    SmtpReply,
    /// A SASL answer in a verbose trace (always redacted).
    SaslResponse,
    /// A trace line between smtpd and a before-queue proxy filter.
    ProxyChat,
    /// `<qid>: client=...`: a message entered the queue.
    Queued,
    /// A policy reject (smtpd, postscreen, cleanup, milter).
    Reject,
    /// A policy action other than reject (hold, discard, warn, ...).
    Policy,
    /// SASL authentication failed or was aborted.
    SaslFailure,
    /// `non-SMTP command` warning.
    NonSmtpCommand,
    /// `improper command pipelining`.
    ImproperPipelining,
    /// `Illegal address syntax`.
    IllegalAddress,
    /// `hostname X does not resolve to address Y`.
    ReverseDnsMismatch,
    /// TLS handshake summary or TLS problem.
    Tls,
    /// cleanup `message-id=`.
    MessageId,
    /// qmgr `from=..., size=..., nrcpt=...`.
    QueueActive,
    /// Per-recipient delivery status.
    Delivery,
    /// `status=expired, returned to sender`.
    Expired,
    /// `removed`.
    Removed,
    /// bounce/delay notification with the new queue id, or bounce's note that
    /// it sends none (`not sending trace/success notification for ...`, in `postfix.detail`).
    Bounce,
    /// pickup `uid=... from=...`.
    Pickup,
    /// Other `<qid>: text` lines.
    QueueNote,
    /// smtp/lmtp `connect to host[ip]:port: reason` (with or without a queue id).
    ConnectError,
    /// smtp/lmtp: a remote server answered 4xx/5xx, refused to talk, dropped
    /// or timed out the connection, or refused SASL/TLS (`postfix.delivery_failure` says which).
    RemoteFailure,
    /// smtp `enabling PIX workarounds: ... for host[ip]:port`.
    PixWorkaround,
    /// smtpd `<Kind> limit exceeded: N from client for service S` (anvil limits).
    RateLimit,
    /// smtpd `bare <LF> received after STATE from client` (smuggling patch releases).
    BareNewline,
    /// postscreen events.
    Postscreen,
    /// dnsblog hit.
    Dnsbl,
    /// anvil statistics.
    Anvil,
    /// postsuper: a message requeued, held, released or expired, or the count an operation touched.
    QueueAdmin,
    /// A cache's periodic cleanup report (verify, postscreen).
    CacheCleanup,
    /// smtpd `<qid>: reply filter in|out: <reply>`: smtpd_reject_filter_maps
    /// replaced a 4xx/5xx reply; `smtp.reply` is the reply, `postfix.detail`
    /// says `in` (the reply smtpd built) or `out` (the one it sent).
    ReplyFilter,
    /// smtp/lmtp `<qid>: breaking line > N bytes with <CR><LF>SPACE`: a line
    /// of the message exceeded smtp_line_length_limit (N, in `postfix.bytes`) and was folded.
    LongLine,
    /// `<qid>: passing <rcpt> to transport=T`: a delivery agent hands the
    /// recipient (`email.to`) to another transport (`postfix.detail`).
    TransportHandoff,
    /// `<qid>: status=deferred (bounce failed)` and `(<notice> failed)`: the
    /// bounce service could not make a notice (`postfix.detail`: bounce, delay
    /// warning, verp-bounce, trace), so the whole message stays queued;
    /// `postfix.delivery` holds the status and its text.
    NoticeFailed,
    /// master / postfix-script / postlog lifecycle lines.
    Service,
    /// A known informational line without fields of its own.
    Notice,
    /// A warning or error about one client (it names `name[addr]`), or an smtpd_command_filter note: `client` says which.
    ClientWarning,
    /// A warning or error of the smtp/lmtp client about one remote server, an smtp_reply_filter note, or a note on the server's capabilities (`offers SMTPUTF8 support, but not 8BITMIME`): `server` says which.
    ServerWarning,
    /// A warning or error about one queued message (`warning: QID: ...`, and cleanup's `QID: <map> map lookup problem -- message not accepted`, which one module logs without `warning:`): `postfix.queue_id` says which.
    MessageWarning,
    /// A warning no specific parser took.
    Warning,
    /// An error, fatal or panic line.
    Error,
    /// Verbose internals (`match_string:`, `send attr`, ...): drop them in one filter.
    Debug,
    /// A line from a program that is not Postfix, passed through.
    Foreign,
    /// A Postfix line not understood, passed through.
    #[default]
    Unparsed,
}

impl EventKind {
    /// The snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        use EventKind::*;
        match self {
            Connect => "connect",
            Disconnect => "disconnect",
            LostConnection => "lost_connection",
            Timeout => "timeout",
            TooManyErrors => "too_many_errors",
            SmtpCommand => "smtp_command",
            SmtpReply => "smtp_reply",
            SaslResponse => "sasl_response",
            ProxyChat => "proxy_chat",
            Queued => "queued",
            Reject => "reject",
            Policy => "policy",
            SaslFailure => "sasl_failure",
            NonSmtpCommand => "non_smtp_command",
            ImproperPipelining => "improper_pipelining",
            IllegalAddress => "illegal_address",
            ReverseDnsMismatch => "reverse_dns_mismatch",
            Tls => "tls",
            MessageId => "message_id",
            QueueActive => "queue_active",
            Delivery => "delivery",
            Expired => "expired",
            Removed => "removed",
            Bounce => "bounce",
            Pickup => "pickup",
            QueueNote => "queue_note",
            ConnectError => "connect_error",
            RemoteFailure => "remote_failure",
            PixWorkaround => "pix_workaround",
            RateLimit => "rate_limit",
            BareNewline => "bare_newline",
            Postscreen => "postscreen",
            Dnsbl => "dnsbl",
            Anvil => "anvil",
            QueueAdmin => "queue_admin",
            CacheCleanup => "cache_cleanup",
            ReplyFilter => "reply_filter",
            LongLine => "long_line",
            TransportHandoff => "transport_handoff",
            NoticeFailed => "notice_failed",
            Service => "service",
            Notice => "notice",
            ClientWarning => "client_warning",
            ServerWarning => "server_warning",
            MessageWarning => "message_warning",
            Warning => "warning",
            Error => "error",
            Debug => "debug",
            Foreign => "foreign",
            Unparsed => "unparsed",
        }
    }
}

event_struct! {
    /// Postfix-specific fields.
    pub struct Postfix<'a> {
        /// What kind of line this is.
        pub event: EventKind,
        /// Instance or service tag: the program name before its last `/` (`postfix`, `postfix/submission`, `postfix-out`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub instance: Option<Str<'a>>,
        /// Daemon: the program name after its last `/` (smtpd, smtp, qmgr, ...).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub daemon: Option<Str<'a>>,
        /// Queue id (short or long form); absent for NOQUEUE.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub queue_id: Option<Str<'a>>,
        /// Session id of the smtpd/postscreen session this line belongs to (also on queue lines of messages it received).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub session_id: Option<SessionId>,
        /// Another queue id this line names (bounce notice, `queued as`, `forwarded as`, `orig_queue_id`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub related_queue_id: Option<Str<'a>>,
        /// Per-verb counts from a Postfix >= 3.0 `disconnect from` line: `{"ehlo": {"ok": 1, "total": 1}, ...}`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub disconnect_stats: Option<Stats>,
        /// `notes=` of a disconnect line (3.9+), e.g. bare_lf.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub disconnect_notes: Option<&'static str>,
        /// Bytes received before an abnormal end during DATA/BDAT; on `long_line` events, the line length limit (smtp_line_length_limit) a line exceeded.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub bytes: Option<u64>,
        /// Message size (qmgr).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub size: Option<u64>,
        /// Recipient count (qmgr).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub nrcpt: Option<u32>,
        /// Delivery status details.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub delivery: Option<Box<DeliveryInfo<'a>>>,
        /// SASL details.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub sasl: Option<Box<Sasl<'a>>>,
        /// postscreen details.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub postscreen: Option<Box<PostscreenInfo<'a>>>,
        /// DNSBL zone (dnsblog) .
        #[serde(skip_serializing_if = "Option::is_none")]
        pub dnsbl: Option<Box<Dnsbl<'a>>>,
        /// anvil statistics.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub anvil: Option<Box<Anvil<'a>>>,
        /// How a delivery attempt to a remote SMTP/LMTP server failed (smtp/lmtp lines and delivery status texts): remote_reply (it answered 4xx/5xx), refused_to_talk (4xx/5xx greeting or HELO/EHLO reply), lost_connection, timeout, connect_failed, sasl_failed, tls_failed, local_data_error.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub delivery_failure: Option<&'static str>,
        /// Detail the line gives that is not a reply: the system error of a failed connect (`Connection refused`), the `while ...` phrase of a lost connection or timeout, a SASL/TLS problem, the PIX workaround words; the side of a `reply_filter` line (in, out), the transport of a `transport_handoff`, the notice of a `notice_failed` (bounce, delay warning, verp-bounce, trace), the words of a `bounce` line that sends no notice.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub detail: Option<Str<'a>>,
        /// A limit the client exceeded (smtpd's anvil warnings).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub limit: Option<Box<Limit<'a>>>,
        /// Text after the closing `>` of a malformed Message-ID (`<x>junk` gives `junk`); `email.message_id` holds `x`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub message_id_trailing: Option<Str<'a>>,
        /// postsuper's queue operation (`queue_admin` events).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub queue_admin: Option<Box<QueueAdmin>>,
        /// A cache cleanup report (`cache_cleanup` events).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cache: Option<Box<CacheCleanup<'a>>>,
        /// True when the line had invalid UTF-8; those bytes are U+FFFD in `message`.
        #[serde(skip_serializing_if = "is_false")]
        pub invalid_utf8: bool,
        /// True when part of `message` was replaced by `[redacted]`.
        #[serde(skip_serializing_if = "is_false")]
        pub redacted: bool,
        /// The message's record: present on the last line Postfix writes for a queue id (its `removed` line).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub message: Option<Box<MessageRecord<'a>>>,
    }
}

// Rare parts are boxed: an Event is built and moved for every line, and
// keeping it small keeps those moves cheap.

/// Appends a count in decimal. itoa, not `write!`: the formatting machinery
/// cost more than the rest of [`Stats::write_text`] together (callgrind);
/// and a count under ten, nearly all of them, is one byte pushed.
pub(crate) fn push_count(out: &mut String, n: u32) {
    match char::from_digit(n, 10) {
        Some(d) => out.push(d),
        None => out.push_str(itoa::Buffer::new().format(n)),
    }
}

/// Verb counts: `verb → {ok, total}`, in the order Postfix logs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats(pub Vec<(&'static str, u32, u32)>);
static_identity!(Stats);

impl Stats {
    /// `(ok, total)` of one verb, if logged.
    pub fn get(&self, verb: &str) -> Option<(u32, u32)> {
        self.0.iter().find(|c| c.0 == verb).map(|c| (c.1, c.2))
    }

    /// Appends `ehlo=1 rcpt=0/1 quit=1` as Postfix writes it; without the
    /// `commands=` total when `with_total` is false and other verbs are
    /// there. Written in place: the verdict, the timeline and the report's
    /// pattern each say it for every session that ends, and a string per
    /// verb, then joined, showed in profiles.
    pub fn write_text(&self, out: &mut String, with_total: bool) {
        // Room is made once: the calls to copy two-byte strings were most
        // of what this cost once the counts were written with itoa.
        let start = out.len();
        let counts = self
            .0
            .iter()
            .filter(|(v, _, _)| with_total || *v != "commands" || self.0.len() == 1);
        out.reserve(counts.clone().map(|(v, _, _)| v.len() + 6).sum());
        for &(v, ok, total) in counts {
            if out.len() > start {
                out.push(' ');
            }
            out.push_str(v);
            out.push('=');
            if ok != total {
                push_count(out, ok);
                out.push('/');
            }
            push_count(out, total);
        }
    }

    /// [`Stats::write_text`] into a new string.
    pub fn text(&self, with_total: bool) -> String {
        let mut out = String::with_capacity(16 * self.0.len());
        self.write_text(&mut out, with_total);
        out
    }
}

impl Serialize for Stats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Count {
            ok: u32,
            total: u32,
        }
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for &(verb, ok, total) in &self.0 {
            m.serialize_entry(verb, &Count { ok, total })?;
        }
        m.end()
    }
}

impl JsonSchema for Stats {
    fn schema_name() -> Cow<'static, str> {
        "Stats".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Per-verb command counts (lower-case verb, plus `commands` for the total).",
            "additionalProperties": {
                "type": "object",
                "required": ["ok", "total"],
                "additionalProperties": false,
                "properties": {
                    "ok": {"type": "integer", "minimum": 0, "description": "Successful attempts."},
                    "total": {"type": "integer", "minimum": 0, "description": "All attempts."}
                }
            }
        })
    }
}

event_struct! {
    /// Delivery status of one recipient.
    pub struct DeliveryInfo<'a> {
        /// sent, deferred, bounced, expired, SOFTBOUNCE, deliverable, undeliverable, ...
        pub status: Str<'a>,
        /// `relay=` as logged (host[ip]:port, local, virtual, none, a pipe service).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub relay: Option<Str<'a>>,
        /// DSN code.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub dsn: Option<Str<'a>>,
        /// Total delay in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub delay: Option<f64>,
        /// Delay breakdown.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub delays: Option<Delays>,
        /// Times the SMTP connection was reused.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub conn_use: Option<u32>,
        /// TLS feature status (3.11 `tls=`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tls: Option<Str<'a>>,
        /// Original recipient before rewriting.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub orig_to: Option<Str<'a>>,
        /// Status text in parentheses.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub text: Option<Str<'a>>,
    }
}

/// `delays=a/b/c/d`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, JsonSchema)]
pub struct Delays {
    /// Seconds before the active queue (including cleanup).
    pub before_queue_manager: f64,
    /// Seconds in the active queue.
    pub in_queue_manager: f64,
    /// Seconds for connection setup (DNS, HELO, TLS).
    pub connection_setup: f64,
    /// Seconds of transmission.
    pub transmission: f64,
}
static_identity!(Delays);

event_struct! {
    /// SASL details.
    pub struct Sasl<'a> {
        /// Mechanism (PLAIN, LOGIN, ...).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub method: Option<Str<'a>>,
        /// Failure reason as logged.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub reason: Option<Str<'a>>,
        /// True when the client aborted the exchange.
        #[serde(skip_serializing_if = "is_false")]
        pub aborted: bool,
    }
}

event_struct! {
    /// postscreen details.
    pub struct PostscreenInfo<'a> {
        /// connect, pass_new, pass_old, pregreet, hangup, dnsbl, command_pipelining, non_smtp_command, bare_newline, command_time_limit, command_count_limit, command_length_limit, data_without_rcpt, disconnect, denylisted, allowlisted, allowlist_veto, ports_busy, too_many_connections, stress, discard_ehlo_keywords, replace_command.
        pub action: &'static str,
        /// postscreen state (`after X`) or test phase.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub stage: Option<Str<'a>>,
        /// Escaped client bytes or detail text.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub detail: Option<Str<'a>>,
        /// PREGREET byte count, DNSBL rank, or STRESS connection count.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub count: Option<u32>,
        /// Seconds since connect.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub seconds: Option<f64>,
    }
}

event_struct! {
    /// dnsblog hit.
    pub struct Dnsbl<'a> {
        /// DNSBL zone.
        pub domain: Str<'a>,
        /// Answer record.
        pub result: Str<'a>,
    }
}

event_struct! {
    /// anvil statistics.
    pub struct Anvil<'a> {
        /// connection rate, connection count, message rate, recipient rate, newtls rate, auth rate, cache size.
        pub metric: Str<'a>,
        /// Peak value.
        pub value: u32,
        /// `service:client` the peak belongs to.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ident: Option<Str<'a>>,
        /// The master.cf service of `ident` (before its first colon); the client address is in `client.ip`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub service: Option<Str<'a>>,
    }
}

event_struct! {
    /// A limit a client exceeded (smtpd's anvil-backed limits).
    pub struct Limit<'a> {
        /// connection_rate, connection_concurrency, message_rate, recipient_rate, auth_rate, newtls_rate.
        pub kind: &'static str,
        /// The client's count when it exceeded the limit.
        pub count: u32,
        /// master.cf service name (smtp, submission, ...).
        pub service: Str<'a>,
    }
}

/// postsuper's queue operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct QueueAdmin {
    /// deleted, requeued, held, released, expired (postsuper -e/-f), renamed (queue file renamed to match its inode).
    pub action: &'static str,
    /// Messages the operation touched (summary lines such as `Deleted: 3 messages`); absent on per-message lines, which carry `postfix.queue_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}
static_identity!(QueueAdmin);

event_struct! {
    /// A cache's periodic cleanup report (`util/dict_cache.c`).
    pub struct CacheCleanup<'a> {
        /// The cache table, e.g. `btree:/var/lib/postfix/verify_cache`.
        pub table: Str<'a>,
        /// full (a complete pass) or partial (a pass cut short).
        pub scope: &'static str,
        /// Entries kept.
        pub retained: u32,
        /// Expired entries removed.
        pub dropped: u32,
    }
}

// The message record (`postfix.message`), assembled by `crate::record`.

event_struct! {
    /// One message as the log told it, from its entry into the queue to its removal.
    pub struct MessageRecord<'a> {
        /// Queue id.
        pub queue_id: Str<'a>,
        /// Session that submitted the message (smtpd), when it was known.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub session_id: Option<SessionId>,
        /// How the message entered the queue: smtpd (`client=` line), pickup (local submission), notice (a bounce or delay notice Postfix wrote), other (through cleanup without either, e.g. a forwarded copy), unknown (its entry was not seen).
        pub origin: &'static str,
        /// The SMTP client that submitted it (smtpd messages).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub client: Option<MessageClient<'a>>,
        /// SASL user that submitted it (hashed or dropped when so configured).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub user: Option<Str<'a>>,
        /// SASL mechanism of that user.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub sasl_method: Option<Str<'a>>,
        /// Envelope sender (empty for the null sender).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub sender: Option<Str<'a>>,
        /// Size in bytes (qmgr).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub size: Option<u64>,
        /// Recipient count of the queue file (qmgr).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub nrcpt: Option<u32>,
        /// Message-ID header value.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub message_id: Option<Str<'a>>,
        /// Time of the first line about the queue id.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub first_seen: Option<Timestamp>,
        /// Time of the last line about the queue id (this one).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub last_seen: Option<Timestamp>,
        /// Seconds from arrival to the last delivery attempt: the largest `delay=` Postfix logged for a recipient.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub delay: Option<f64>,
        /// How the queue file ended: removed (qmgr, after every recipient was done), deleted (postsuper), canceled or discarded (cleanup, Postfix 3.10+).
        pub end: &'static str,
        /// True when the message expired (`status=expired` or `force-expired`, returned to sender).
        pub expired: bool,
        /// Recipients in the order Postfix first logged them, with their final status.
        pub recipients: Vec<RecipientRecord<'a>>,
        /// Delivery status lines about recipients beyond the per-message cap (a recipient deferred and then delivered counts twice).
        pub recipients_omitted: u32,
        /// Queue id of the non-delivery notice Postfix wrote about this message.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub bounce_queue_id: Option<Str<'a>>,
        /// For a notice: the queue id of the message it reports on.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub notice_of: Option<Str<'a>>,
        /// Why fields may be missing: session_unknown (the `client=` line belonged to no open session: evicted, or begun before the log), verdict_pending (the session had not ended when the message closed), entry_not_seen (the message's first lines were not seen: evicted, or before the log).
        pub gaps: Vec<&'static str>,
    }
}

event_struct! {
    /// The client that submitted a message, with its session's verdict.
    pub struct MessageClient<'a> {
        /// IP address (absent when Postfix logged `unknown`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ip: Option<Str<'a>>,
        /// Reverse-DNS name as logged (`unknown` when there is none).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub domain: Option<Str<'a>>,
        /// Port.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub port: Option<u16>,
        /// Verdict class of the session, when it had ended before the message closed.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub verdict: Option<VerdictClass>,
        /// Whether that verdict was suspicious.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub suspicious: Option<bool>,
    }
}

event_struct! {
    /// One recipient of a message and what finally happened to it.
    pub struct RecipientRecord<'a> {
        /// Recipient address (hashed or dropped when so configured).
        pub address: Str<'a>,
        /// Original address before rewriting (`orig_to=`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub orig_address: Option<Str<'a>>,
        /// Final status: the last `status=` logged (sent, bounced, deferred, ...), or expired / deleted when the message expired or was deleted while the recipient was still deferred.
        pub status: Str<'a>,
        /// How many times it was deferred (a recipient deferred and then sent has status sent and deferred >= 1).
        pub deferred: u32,
        /// DSN code of the last status.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub dsn: Option<Str<'a>>,
        /// `relay=` of the last status.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub relay: Option<Str<'a>>,
        /// `delay=` of the last status, in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub delay: Option<f64>,
        /// The remote server's reply, when the last status quotes one.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub reply: Option<RemoteReply<'a>>,
        /// The status text when it is not a remote reply (`delivered to mailbox`, `connect to ...: Connection refused`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub detail: Option<Str<'a>>,
    }
}

event_struct! {
    /// A remote SMTP/LMTP server's reply quoted in a delivery status.
    pub struct RemoteReply<'a> {
        /// Three-digit code.
        pub code: u16,
        /// RFC 3463 enhanced status code.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub enhanced: Option<Str<'a>>,
        /// Reply text after the codes.
        pub text: Str<'a>,
        /// The stage it answered, in `smtp.stage`'s vocabulary (`RCPT`, `END-OF-MESSAGE`, ...), when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub in_reply_to: Option<Str<'a>>,
    }
}

/// A probe verdict class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum VerdictClass {
    /// HTTP, proxy, TLS or other non-SMTP bytes.
    NonSmtp,
    /// Several failed AUTH attempts (in the session or from the address within the window), none succeeded.
    AuthBruteforce,
    /// One failed AUTH, none succeeded.
    AuthFailure,
    /// AUTH succeeded and mail was accepted.
    AuthenticatedSubmission,
    /// RCPT rejected with `Relay access denied`.
    RelayProbe,
    /// Several unknown-recipient rejects, or VRFY/EXPN use.
    RecipientEnumeration,
    /// At least one message queued, no abuse signal.
    MailAccepted,
    /// Rejected by client/HELO/sender/recipient/RBL restrictions.
    PolicyRejected,
    /// Pipelining, pregreet, bare newline, too many errors.
    ProtocolViolation,
    /// EHLO, STARTTLS, then nothing but EHLO/QUIT.
    StarttlsProbe,
    /// Only EHLO (and RSET/NOOP/QUIT).
    EhloQuitProbe,
    /// Only HELO (and RSET/NOOP/QUIT).
    HeloQuitProbe,
    /// AUTH succeeded but no mail was sent.
    AuthenticatedIdle,
    /// No command at all.
    ConnectOnly,
    /// Ended by timeout with no other signal.
    Timeout,
    /// Ended by lost connection with no other signal.
    Aborted,
    /// postscreen passed the client on to smtpd (its smtpd session has its own verdict).
    PostscreenPass,
    /// None of the above (or not enough evidence).
    Unknown,
}

impl VerdictClass {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        use VerdictClass::*;
        match self {
            NonSmtp => "non_smtp",
            AuthBruteforce => "auth_bruteforce",
            AuthFailure => "auth_failure",
            AuthenticatedSubmission => "authenticated_submission",
            RelayProbe => "relay_probe",
            RecipientEnumeration => "recipient_enumeration",
            MailAccepted => "mail_accepted",
            PolicyRejected => "policy_rejected",
            ProtocolViolation => "protocol_violation",
            StarttlsProbe => "starttls_probe",
            EhloQuitProbe => "ehlo_quit_probe",
            HeloQuitProbe => "helo_quit_probe",
            AuthenticatedIdle => "authenticated_idle",
            ConnectOnly => "connect_only",
            Timeout => "timeout",
            Aborted => "aborted",
            PostscreenPass => "postscreen_pass",
            Unknown => "unknown",
        }
    }

    /// Every class, in rule order.
    pub const ALL: [VerdictClass; 18] = [
        VerdictClass::NonSmtp,
        VerdictClass::AuthBruteforce,
        VerdictClass::AuthFailure,
        VerdictClass::AuthenticatedSubmission,
        VerdictClass::RelayProbe,
        VerdictClass::RecipientEnumeration,
        VerdictClass::MailAccepted,
        VerdictClass::PolicyRejected,
        VerdictClass::ProtocolViolation,
        VerdictClass::StarttlsProbe,
        VerdictClass::EhloQuitProbe,
        VerdictClass::HeloQuitProbe,
        VerdictClass::AuthenticatedIdle,
        VerdictClass::ConnectOnly,
        VerdictClass::Timeout,
        VerdictClass::Aborted,
        VerdictClass::PostscreenPass,
        VerdictClass::Unknown,
    ];
}

/// How sure a verdict is, from the evidence it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Verbose trace or complete statistics.
    High,
    /// Statistics with gaps, or strong log lines.
    Medium,
    /// Postfix < 3.0 logs with neither statistics nor trace.
    Low,
}

impl Confidence {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// Where a verdict's facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A verbose protocol trace (`-v`, `debug_peer_list`).
    Trace,
    /// Postfix >= 3.0 disconnect statistics.
    Statistics,
    /// Only ordinary log lines (rejects, SASL warnings, abnormal ends).
    Lines,
}

impl Evidence {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Trace => "trace",
            Evidence::Statistics => "statistics",
            Evidence::Lines => "lines",
        }
    }
}

/// The session verdict.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Probe {
    /// Verdict class.
    pub class: VerdictClass,
    /// True when the class (or a repeated pattern from the address) suggests abuse or probing.
    pub suspicious: bool,
    /// Short evidence strings, most important first.
    // Fixed wordings are borrowed, not allocated: a verdict is made for
    // every session.
    pub reasons: Vec<std::borrow::Cow<'static, str>>,
    /// How sure the verdict is.
    pub confidence: Confidence,
    /// What the verdict rests on.
    pub evidence: Evidence,
    /// Session flags: helo_not_fqdn, helo_is_our_host, reverse_dns_unknown, auth_offered_not_tried, starttls_offered, auth_offered, tls, rate_limited (an anvil limit was exceeded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
    /// The session's command counts as far as known (from statistics or the trace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<Stats>,
    /// Session duration in seconds (connect to end), when both times are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
}
static_identity!(Probe);

/// The JSON Schema of [`Event`] (draft 2020-12), as committed in `schemas/event.schema.json`.
pub fn json_schema() -> serde_json::Value {
    // Serialize mode: fields skipped when empty are not required.
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Event<'static>>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://postfix-enrich.invalid/schemas/event.schema.json".into(),
        );
        obj.insert("x-schema-version".into(), SCHEMA_VERSION.into());
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn counts_read_as_postfix_writes_them() {
        let stats = Stats(vec![
            ("ehlo", 1, 1),
            ("auth", 0, 12),
            ("rcpt", 9, 10),
            ("data", u32::MAX, u32::MAX),
            ("commands", 10, 23),
        ]);
        assert_eq!(
            stats.text(true),
            "ehlo=1 auth=0/12 rcpt=9/10 data=4294967295 commands=10/23"
        );
        assert_eq!(stats.text(false), "ehlo=1 auth=0/12 rcpt=9/10 data=4294967295");
        // Appended after what is there, the total kept when it is all.
        let mut out = String::from("disconnect (");
        Stats(vec![("commands", 0, 0)]).write_text(&mut out, false);
        assert_eq!(out, "disconnect (commands=0");
    }
}
