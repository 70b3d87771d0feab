//! Secrets and personal data: applies the redaction spans found while
//! parsing to the `message` field, and hashes or drops e-mail addresses and
//! SASL user names when configured, in the structured fields and in the text.

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::event::{Event, Str};
use crate::message::Redaction;
use crate::REDACTED;

/// What to do with a kind of personal data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Treatment {
    /// Keep it as logged.
    #[default]
    Keep,
    /// Replace by `h:` and 16 hex digits of HMAC-SHA256 under a key, so the
    /// same value still correlates across lines without being readable.
    Hash(Vec<u8>),
    /// Remove it (`[dropped]` in text).
    Drop,
}

/// Privacy settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Privacy {
    /// E-mail addresses (`from=<>`, `to=<>`, `orig_to=<>`, `<rcpt>:`, `MAIL FROM:<>`).
    pub addresses: Treatment,
    /// SASL user names.
    pub users: Treatment,
}

impl Treatment {
    fn apply(&self, value: &str) -> Option<String> {
        match self {
            Treatment::Keep => None,
            Treatment::Drop => Some("[dropped]".to_owned()),
            Treatment::Hash(key) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
                mac.update(value.as_bytes());
                let out = mac.finalize().into_bytes();
                let mut s = String::with_capacity(18);
                s.push_str("h:");
                for b in &out[..8] {
                    s.push_str(&format!("{b:02x}"));
                }
                Some(s)
            }
        }
    }
}

/// Replaces the redaction spans of `line` by `[redacted]`.
pub(crate) fn redact<'a>(line: Str<'a>, spans: &[Redaction]) -> Str<'a> {
    if spans.is_empty() {
        return line;
    }
    let mut spans: Vec<Redaction> = spans
        .iter()
        .copied()
        .filter(|r| r.start < r.end && r.end <= line.len())
        .collect();
    spans.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    for r in spans {
        if r.start < at || !line.is_char_boundary(r.start) || !line.is_char_boundary(r.end) {
            continue;
        }
        out.push_str(&line[at..r.start]);
        out.push_str(REDACTED);
        at = r.end;
    }
    out.push_str(&line[at..]);
    Cow::Owned(out)
}

/// Rewrites `<local@domain>` spans and `sasl_username=` values in free text.
fn rewrite_text(text: &str, p: &Privacy) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let inner = &after[..close];
        out.push_str(&rest[..open + 1]);
        match (inner.contains('@') && !inner.contains(' '))
            .then(|| p.addresses.apply(inner))
            .flatten()
        {
            Some(r) => {
                out.push_str(&r);
                changed = true;
            }
            None => out.push_str(inner),
        }
        out.push('>');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if p.users != Treatment::Keep {
        for key in ["sasl_username=", "user="] {
            let mut result = String::with_capacity(out.len());
            let mut r = out.as_str();
            while let Some(i) = r.find(key) {
                let start = i + key.len();
                result.push_str(&r[..start]);
                let v = &r[start..];
                let end = v.find([',', ' ', ';', '?']).unwrap_or(v.len());
                let raw = &v[..end];
                let bare = raw.trim_start_matches('<').trim_end_matches('>');
                match p.users.apply(bare) {
                    Some(x) if !bare.is_empty() => {
                        result.push_str(&x);
                        changed = true;
                    }
                    _ => result.push_str(raw),
                }
                r = &v[end..];
            }
            result.push_str(r);
            out = result;
        }
    }
    changed.then_some(out)
}

fn rewrite_field(field: &mut Option<Str<'_>>, p: &Privacy) {
    if let Some(v) = field {
        if let Some(n) = rewrite_text(v, p) {
            *v = Cow::Owned(n);
        }
    }
}

/// Applies address and user-name treatment to every field that carries them.
pub(crate) fn apply(ev: &mut Event<'_>, p: &Privacy) {
    if p.addresses == Treatment::Keep && p.users == Treatment::Keep {
        return;
    }
    if let Some(n) = rewrite_text(&ev.message, p) {
        ev.message = Cow::Owned(n);
    }
    if let Some(e) = ev.email.as_mut() {
        for a in [e.from.as_mut(), e.to.as_mut()].into_iter().flatten() {
            if !a.address.is_empty() {
                if let Some(n) = p.addresses.apply(&a.address) {
                    a.address = Cow::Owned(n);
                }
            }
        }
    }
    if let Some(u) = ev.user.as_mut() {
        if let Some(n) = p.users.apply(&u.name) {
            u.name = Cow::Owned(n);
        }
    }
    if let Some(s) = ev.smtp.as_mut() {
        rewrite_field(&mut s.arguments, p);
        if let Some(r) = s.reply.as_mut() {
            if let Some(n) = rewrite_text(&r.text, p) {
                r.text = Cow::Owned(n);
            }
        }
        if let Some(r) = s.reject.as_mut() {
            if let Some(n) = rewrite_text(&r.reason, p) {
                r.reason = Cow::Owned(n);
            }
        }
    }
    if let Some(d) = ev.postfix.delivery.as_mut() {
        if let Some(o) = d.orig_to.as_mut() {
            if let Some(n) = p.addresses.apply(o) {
                *o = Cow::Owned(n);
            }
        }
        rewrite_field(&mut d.text, p);
    }
    if let Some(m) = ev.postfix.message.as_mut() {
        apply_record(m, p);
    }
}

/// The message record carries the same personal data as the lines it was built from.
fn apply_record(m: &mut crate::event::MessageRecord<'_>, p: &Privacy) {
    let address = |a: &mut Str<'_>| {
        if !a.is_empty() {
            if let Some(n) = p.addresses.apply(a) {
                *a = Cow::Owned(n);
            }
        }
    };
    if let Some(s) = m.sender.as_mut() {
        address(s);
    }
    if let Some(u) = m.user.as_mut() {
        if let Some(n) = p.users.apply(u) {
            *u = Cow::Owned(n);
        }
    }
    for r in &mut m.recipients {
        address(&mut r.address);
        if let Some(o) = r.orig_address.as_mut() {
            address(o);
        }
        if let Some(reply) = r.reply.as_mut() {
            if let Some(n) = rewrite_text(&reply.text, p) {
                reply.text = Cow::Owned(n);
            }
        }
        rewrite_field(&mut r.detail, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_text() {
        let line = "abc SECRET def";
        assert_eq!(
            redact(Cow::Borrowed(line), &[Redaction { start: 4, end: 10 }]),
            "abc [redacted] def"
        );
        let p = Privacy {
            addresses: Treatment::Drop,
            users: Treatment::Hash(b"k".to_vec()),
        };
        let t = rewrite_text("from=<a@b> to=<c@d> proto=ESMTP sasl_username=alice", &p).unwrap();
        assert!(
            t.starts_with("from=<[dropped]> to=<[dropped]> proto=ESMTP sasl_username=h:"),
            "{t}"
        );
        assert!(!t.contains("alice"));
        let p = Privacy {
            addresses: Treatment::Hash(b"k".to_vec()),
            users: Treatment::Keep,
        };
        let a = rewrite_text("<x@y>", &p).unwrap();
        assert_eq!(a, rewrite_text("<x@y>", &p).unwrap(), "hashing is deterministic");
        assert_eq!(a.len(), 2 + 2 + 16);
    }
}
