//! Verbose protocol traces (`< peer: text` / `> peer: text`), the verbose
//! internals around them, and the spans of both that hold secrets.
//!
//! Which arrow is the SMTP client depends on the daemon: for smtpd and
//! postscreen `<` is what the client sent; for the smtp/lmtp client Postfix
//! is the client, so `>` is. Lines to a before-queue proxy filter have no
//! `[...]` peer and are not client traffic.

use super::fields::{self, Peer, Reply};

/// The arrow of a trace line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatSide {
    /// `<`: Postfix received it.
    Received,
    /// `>`: Postfix sent it.
    Sent,
}

/// A byte range of the message text that must not reach any output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redaction {
    /// Start offset.
    pub start: usize,
    /// End offset (exclusive).
    pub end: usize,
}

impl Redaction {
    pub(crate) fn shifted(self, by: usize) -> Redaction {
        Redaction {
            start: self.start + by,
            end: self.end + by,
        }
    }
}

/// One trace line, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine<'a> {
    /// The arrow.
    pub side: ChatSide,
    /// The remote peer (`None` for a before-queue proxy filter).
    pub peer: Option<Peer<'a>>,
    /// `true` when the SMTP client wrote it (client→server).
    pub from_client: bool,
    /// The text after `peer: `.
    pub text: &'a str,
    /// Canonical verb of a client line (`EHLO`, ..., `NON_SMTP`); `None` for an AUTH continuation.
    pub verb: Option<&'static str>,
    /// Arguments of a client line (redacted when they are credentials).
    pub args: &'a str,
    /// A client line that is a SASL payload (AUTH initial response or continuation).
    pub sasl_payload: bool,
    /// The reply, for server lines.
    pub reply: Option<Reply<'a>>,
}

/// SMTP and LMTP verbs smtpd and the smtp client know.
pub const VERBS: [&str; 18] = [
    "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "EXPN", "ETRN",
    "QUIT", "XCLIENT", "XFORWARD", "HELP",
];

/// Canonical verb for a command word, or `None` when it is not SMTP.
pub fn canonical_verb(word: &str) -> Option<&'static str> {
    if word.len() > 8 {
        return None;
    }
    VERBS.iter().copied().find(|v| v.eq_ignore_ascii_case(word))
}

/// Base64 alphabet, with `=` only as trailing padding (so `service=smtp` is not).
fn is_base64_token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
}

/// Parses `< peer: text` / `> peer: text`. `client_sends` is the arrow the SMTP
/// client's lines carry for this daemon.
pub fn parse<'a>(body: &'a str, client_sends: ChatSide, redaction: &mut Option<Redaction>) -> Option<ChatLine<'a>> {
    let b = body.as_bytes();
    let side = match b.first()? {
        b'<' => ChatSide::Received,
        b'>' => ChatSide::Sent,
        _ => return None,
    };
    if b.get(1) != Some(&b' ') {
        return None;
    }
    let label = &body[2..];
    let (peer, rest) = match fields::peer(label) {
        Some((p, rest)) => (
            Some(p),
            rest.strip_prefix(": ").or_else(|| (rest == ":").then_some(""))?,
        ),
        None => {
            // Before-queue proxy: "127.0.0.1:10025: text" (no brackets).
            let (host_port, rest) = label.split_once(": ")?;
            if host_port.contains(' ') {
                return None;
            }
            (None, rest)
        }
    };
    let text_start = body.len() - rest.len();
    let from_client = peer.is_some() && side == client_sends;
    let mut line = ChatLine {
        side,
        peer,
        from_client,
        text: rest,
        verb: None,
        args: "",
        sasl_payload: false,
        reply: None,
    };
    if peer.is_none() {
        return Some(line);
    }
    if from_client {
        let (word, args) = fields::word(rest);
        match canonical_verb(word) {
            Some("AUTH") => {
                line.verb = Some("AUTH");
                let (mech, initial) = fields::word(args);
                line.args = mech;
                if !initial.is_empty() {
                    line.sasl_payload = true;
                    let start = text_start + (rest.len() - initial.len());
                    *redaction = Some(Redaction { start, end: body.len() });
                }
            }
            Some(v) => {
                line.verb = Some(v);
                line.args = args;
            }
            None if !rest.contains(' ') && is_base64_token(rest) => {
                // A SASL continuation (the answer to a 334 challenge): all of it is secret.
                line.sasl_payload = true;
                *redaction = Some(Redaction {
                    start: text_start,
                    end: body.len(),
                });
            }
            None => {
                line.verb = Some("NON_SMTP");
                line.args = rest;
            }
        }
    } else {
        line.reply = fields::reply(rest);
    }
    Some(line)
}

/// Is this info line one of Postfix's verbose internals (`match_string: ...`,
/// `send attr ...`, `dict_open: ...`)? These are recognised by shape: a
/// lower-case C identifier and a colon, a `name = value` setting, or one of the
/// few library phrases that have neither.
pub fn is_debug(body: &str) -> bool {
    let b = body.as_bytes();
    let ident_end = b
        .iter()
        .position(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_'))
        .unwrap_or(b.len());
    if ident_end > 0 && b[0].is_ascii_lowercase() {
        match b.get(ident_end) {
            Some(b':') => return true,
            Some(b' ') if b.get(ident_end + 1..ident_end + 3) == Some(b"= ") => return true,
            _ => {}
        }
    }
    const PHRASES: [&str; 20] = [
        "send attr ",
        "input attribute ",
        "private/",
        "public/",
        "connect to subsystem ",
        "Compiled against ",
        "Run-time linked against ",
        "connection established",
        "connection closed",
        "proxymap stream ",
        "process generation:",
        ">>> ",
        "maps_find: ",
        "mail_addr_find: ",
        "ctable_",
        "watchdog_",
        "event_",
        "trying... ",
        "lookup ",
        "Reading ",
    ];
    PHRASES.iter().any(|p| body.starts_with(p))
        || body.starts_with("auto_clnt")
        || body.ends_with(" <<<")
        // "before input_transp_cleanup: cleanup flags = ..." and its "after" twin.
        || ((body.starts_with("before ") || body.starts_with("after "))
            && body.contains(": ")
            && body.contains(" = "))
}

/// Secrets in verbose internals: `init_response <b64>` and the base64 answers
/// the SASL glue echoes. A debug line is noise, so hiding too much is the safe error.
pub fn debug_redaction(body: &str) -> Option<Redaction> {
    // Only the SASL glue echoes credentials; its function names say so, and
    // checking the name keeps the other 99% of debug lines to one short scan.
    let function = &body[..body.find(':').unwrap_or(0)];
    if !(function.contains("sasl") || function.contains("auth")) {
        return None;
    }
    for key in ["init_response ", "response ", "challenge ", "uncoded ", "decoded "] {
        if let Some(i) = body.find(key) {
            let start = i + key.len();
            let rest = &body[start..];
            if rest.is_empty() {
                continue;
            }
            let end = start + rest.find([' ', ',']).unwrap_or(rest.len());
            return Some(Redaction { start, end });
        }
    }
    if body.contains("sasl") || body.contains("auth") {
        // Last line of defence: a credential-looking token in a SASL line.
        let mut offset = 0;
        for tok in body.split([' ', ',', '\t']) {
            let looks_secret = tok.len() >= 8
                && is_base64_token(tok)
                && tok
                    .bytes()
                    .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/' | b'='))
                && tok.bytes().any(|c| c.is_ascii_alphabetic());
            if looks_secret {
                return Some(Redaction {
                    start: offset,
                    end: body.len(),
                });
            }
            offset += tok.len() + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtpd_client_line_and_reply() {
        let mut r = None;
        let c = parse("< s72[72.38.252.2]: EHLO User", ChatSide::Received, &mut r).unwrap();
        assert!(c.from_client);
        assert_eq!((c.verb, c.args), (Some("EHLO"), "User"));
        let c = parse("> s72[72.38.252.2]: 250-STARTTLS", ChatSide::Received, &mut r).unwrap();
        assert!(!c.from_client);
        assert_eq!(c.reply.unwrap().text, "STARTTLS");
        assert!(r.is_none());
    }

    #[test]
    fn auth_payloads_are_marked() {
        let mut r = None;
        let body = "< unknown[127.0.0.9]:53801: AUTH PLAIN AGFsaWNlAHNlY3JldA==";
        let c = parse(body, ChatSide::Received, &mut r).unwrap();
        assert!(c.sasl_payload);
        let r = r.unwrap();
        assert_eq!(&body[r.start..r.end], "AGFsaWNlAHNlY3JldA==");
        let mut r = None;
        let body = "< unknown[127.0.0.9]:53801: c2VjcmV0";
        let c = parse(body, ChatSide::Received, &mut r).unwrap();
        assert_eq!(c.verb, None);
        assert_eq!(&body[r.unwrap().start..], "c2VjcmV0");
        // The smtp client's own AUTH travels on ">".
        let mut r = None;
        let body = "> relay[192.0.2.1]:587: AUTH PLAIN AHVzZXIAcGFzcw==";
        assert!(parse(body, ChatSide::Sent, &mut r).unwrap().sasl_payload);
        assert!(r.is_some());
    }

    #[test]
    fn proxy_lines_are_not_client_traffic() {
        let mut r = None;
        let c = parse("> 127.0.0.1:10025: MAIL FROM:<a@b>", ChatSide::Received, &mut r).unwrap();
        assert!(c.peer.is_none());
        assert!(!c.from_client);
    }

    #[test]
    fn debug_shapes() {
        assert!(is_debug("match_string: mynetworks ~? debug_peer_list"));
        assert!(is_debug("send attr request = open"));
        assert!(is_debug("unverified_sender_tempfail_action = defer_if_permit"));
        assert!(is_debug("private/proxymap socket: wanted attribute: status"));
        assert!(!is_debug("connect from x[1.2.3.4]"));
        assert!(!is_debug("3F2A81C0B4: client=x[1.2.3.4]"));
        assert_eq!(
            debug_redaction("xsasl_dovecot_server_create: SASL service=smtp, realm=(null)"),
            None
        );
        let b = "xsasl_dovecot_server_first: sasl_method PLAIN, init_response AGFsaWNlAHNlY3JldA==";
        let r = debug_redaction(b).unwrap();
        assert_eq!(&b[r.start..r.end], "AGFsaWNlAHNlY3JldA==");
    }
}
