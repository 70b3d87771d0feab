//! Limits a client ran into: smtpd's anvil-backed warnings (`Connection rate
//! limit exceeded: N from H[A] for service S` and its five siblings) and
//! anvil's own periodic `statistics: max ...` peaks. Both name the client, so
//! they are evidence about it, not just server housekeeping.

use super::fields;
use super::Message;

/// smtpd.c's limit warnings, by their opening words, and the kind each is
/// reported as (`postfix.limit.kind`).
const LIMITS: [(&str, &str); 6] = [
    ("Connection rate limit exceeded: ", "connection_rate"),
    ("Connection concurrency limit exceeded: ", "connection_concurrency"),
    ("Message delivery request rate limit exceeded: ", "message_rate"),
    ("Recipient address rate limit exceeded: ", "recipient_rate"),
    ("AUTH command rate limit exceeded: ", "auth_rate"),
    ("New TLS session rate limit exceeded: ", "newtls_rate"),
];

/// `<Kind> limit exceeded: N from H[A](:P) for service S` (a warning).
pub(super) fn parse_limit(body: &str) -> Option<Message<'_>> {
    let (prefix, kind) = LIMITS.iter().find(|(p, _)| body.starts_with(p))?;
    let rest = &body[prefix.len()..];
    let (count, rest) = rest.split_once(" from ")?;
    let (client, rest) = fields::peer(rest)?;
    let service = rest.strip_prefix(" for service ")?;
    Some(Message::RateLimit {
        kind,
        count: fields::num(count)?,
        client,
        service,
    })
}

/// anvil: `statistics: max connection rate 1/60s for (smtp:192.0.2.7) at Nov 26 16:06:09`,
/// `max connection count N for (S:A) at T`, `max cache size N at T`.
pub(super) fn parse_anvil(body: &str) -> Message<'_> {
    let Some(rest) = body.strip_prefix("statistics: max ") else {
        return Message::Unparsed;
    };
    // "<metric words> <value>[/<window>] [for (<ident>) ]at <time>": the
    // metric is every word before the first that starts with a digit.
    let Some(value_at) = rest
        .match_indices(' ')
        .map(|(i, _)| i + 1)
        .find(|&i| rest.as_bytes().get(i).is_some_and(u8::is_ascii_digit))
    else {
        return Message::Unparsed;
    };
    let metric = &rest[..value_at - 1];
    let value_word = fields::word(&rest[value_at..]).0;
    let value = value_word.split('/').next().and_then(fields::num).unwrap_or(0);
    let ident = rest.find(" for (").and_then(|i| {
        let r = &rest[i + 6..];
        r.find(')').map(|e| &r[..e])
    });
    Message::Anvil { metric, value, ident }
}

/// Splits anvil's `service:address` ident at the first colon only: the
/// service never holds one, an IPv6 address does (`smtpd:2604:8d00::3`).
pub fn split_ident(ident: &str) -> (Option<&str>, &str) {
    match ident.split_once(':') {
        Some((service, addr)) => (Some(service), addr),
        None => (None, ident),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        match parse_limit(
            "Connection concurrency limit exceeded: 51 from mail.example.org[2001:db8::7]:4431 for service submission",
        ) {
            Some(Message::RateLimit {
                kind,
                count,
                client,
                service,
            }) => {
                assert_eq!((kind, count, service), ("connection_concurrency", 51, "submission"));
                assert_eq!((client.addr, client.port), ("2001:db8::7", Some(4431)));
            }
            m => panic!("{m:?}"),
        }
        assert!(parse_limit("Connection rate limit exceeded: many from x[1.2.3.4] for service smtp").is_none());
    }

    #[test]
    fn anvil_ident_v6() {
        match parse_anvil("statistics: max auth rate 4/60s for (smtpd:2604:8d00:0:1::3) at Nov 26 16:06:09") {
            Message::Anvil {
                metric: "auth rate",
                value: 4,
                ident: Some(ident),
            } => assert_eq!(split_ident(ident), (Some("smtpd"), "2604:8d00:0:1::3")),
            m => panic!("{m:?}"),
        }
    }
}
