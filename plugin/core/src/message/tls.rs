//! TLS library lines, which smtpd, the smtp client and tlsproxy all write:
//! the handshake summary, setup, and the failures scanners cause.

use super::fields;
use super::{Message, Severity, TlsInfo};

fn info(action: &'static str) -> TlsInfo<'static> {
    TlsInfo {
        action,
        ..TlsInfo::default()
    }
}

/// `from <peer>` / `to <peer>` at the start of `s`.
fn direction(s: &str) -> Option<(bool, fields::Peer<'_>, &str)> {
    let (inbound, rest) = if let Some(r) = s.strip_prefix("from ") {
        (true, r)
    } else {
        (false, s.strip_prefix("to ")?)
    };
    let (peer, rest) = fields::peer(rest)?;
    Some((inbound, peer, rest))
}

pub(super) fn parse(severity: Severity, body: &str) -> Option<Message<'_>> {
    if severity == Severity::Info {
        // "<Trust> TLS connection <established|reused> <from|to> peer[ to sni]: TLSv1.3 with cipher X (256/256 bits)..."
        if let Some(i) = body.find(" TLS connection ") {
            let trust = &body[..i];
            if !trust.contains(' ') {
                let rest = &body[i + 16..];
                let (kind, rest) = fields::word(rest);
                let action = match kind {
                    "established" => "established",
                    "reused" => "reused",
                    _ => return None,
                };
                let (inbound, peer, rest) = direction(rest)?;
                let (sni, rest) = match rest.strip_prefix(" to ") {
                    Some(r) => {
                        let (s, r) = r.split_once(':')?;
                        (Some(s), r)
                    }
                    None => (None, rest.strip_prefix(':')?),
                };
                let rest = rest.trim_start();
                let (protocol, rest) = fields::word(rest);
                let cipher = rest.strip_prefix("with cipher ").map(|c| fields::word(c).0);
                return Some(Message::Tls(TlsInfo {
                    peer: Some(peer),
                    inbound: Some(inbound),
                    trust: Some(trust),
                    protocol: Some(protocol),
                    cipher,
                    sni,
                    ..info(action)
                }));
            }
        }
        if let Some(rest) = body.strip_prefix("setting up TLS connection ") {
            let (inbound, peer, _) = direction(rest)?;
            return Some(Message::Tls(TlsInfo {
                peer: Some(peer),
                inbound: Some(inbound),
                ..info("setup")
            }));
        }
        for (prefix, action, inbound) in [
            ("SSL_accept error ", "accept_error", true),
            ("SSL_connect error ", "connect_error", false),
        ] {
            if let Some(rest) = body.strip_prefix(prefix) {
                let (_, peer, rest) = direction(rest)?;
                return Some(Message::Tls(TlsInfo {
                    peer: Some(peer),
                    inbound: Some(inbound),
                    detail: rest.strip_prefix(": "),
                    ..info(action)
                }));
            }
        }
        if let Some(rest) = body.strip_prefix("NOQUEUE: abort: TLS from ") {
            let (peer, rest) = fields::peer(rest)?;
            return Some(Message::Tls(TlsInfo {
                peer: Some(peer),
                inbound: Some(true),
                detail: rest.strip_prefix(": "),
                ..info("abort")
            }));
        }
        if let Some(rest) = body.strip_prefix("TLS handshake failed for service=") {
            return Some(Message::Tls(TlsInfo {
                detail: Some(rest),
                ..info("handshake_failed")
            }));
        }
        if let Some(rest) = body.strip_prefix("TLSRPT: ") {
            // "receiving_mx=name[addr]" is the remote server.
            return Some(Message::Tls(TlsInfo {
                peer: fields::peer_in(rest),
                inbound: Some(false),
                detail: Some(rest),
                ..info("tlsrpt")
            }));
        }
        if let Some(i) = body.find("certificate verification failed for ") {
            let rest = &body[i + 36..];
            let peer = fields::peer(rest).map(|(p, _)| p);
            return Some(Message::Tls(TlsInfo {
                peer,
                detail: Some(rest),
                ..info("verify_failed")
            }));
        }
        if let Some((label, rest)) = body.split_once(": ") {
            // "<peer>: subject_CN=..., issuer=...", "<peer>: Reusing old session", "<peer>: SNI hostname: x", ...
            if let Some(peer) = fields::peer_exact(label) {
                let tls_words = [
                    "subject_CN=",
                    "Reusing old session",
                    "SNI hostname",
                    "Matched",
                    "depth=",
                    "Issuing session",
                    "Decrypting session",
                    "TLS cipher list",
                    "matched peername",
                    "raw public key",
                    "re-using session",
                    "verify=",
                    "save session",
                    "remove session",
                    "reloaded session",
                    "looking up session",
                ];
                // Info lines that open with the peer label are the TLS
                // library's (tls_dane.c prints "<peer>: <usage>: 3 1 1 <data>").
                let filter_note = rest.starts_with("replacing ");
                if tls_words.iter().any(|w| rest.starts_with(w)) || !(rest.is_empty() || filter_note) {
                    let sni = rest.strip_prefix("SNI hostname: ");
                    return Some(Message::Tls(TlsInfo {
                        peer: Some(peer),
                        sni,
                        detail: Some(rest),
                        ..info("detail")
                    }));
                }
            }
        }
        // tls_prng_egd.c: the entropy daemon that tls_random_source names (a
        // socket path, not a peer) failed to seed the PRNG.
        if body.contains("EGD server ") && (body.starts_with("cannot ") || body.starts_with("EGD server ")) {
            return Some(Message::Tls(TlsInfo {
                detail: Some(body),
                ..info("prng")
            }));
        }
        // Session cache and SNI chatter that names the peer: TLS facts about it.
        for (prefix, action) in [
            ("reloaded session ", "cache"),
            ("save session ", "cache"),
            ("remove session ", "cache"),
            ("looking for session ", "cache"),
            ("SSL_set_fd error ", "library_problem"),
            ("TLS SNI ", "sni"),
        ] {
            if body.starts_with(prefix) {
                let peer = fields::peer_in(body)?;
                return Some(Message::Tls(TlsInfo {
                    peer: Some(peer),
                    detail: Some(body),
                    ..info(action)
                }));
            }
        }
        return None;
    }
    if let Some(rest) = body.strip_prefix("TLS library problem: ") {
        return Some(Message::Tls(TlsInfo {
            detail: Some(rest),
            ..info("library_problem")
        }));
    }
    if body.starts_with("TLS SNI ") {
        return Some(Message::Tls(TlsInfo {
            peer: fields::peer_in(body),
            detail: Some(body),
            ..info("sni")
        }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary() {
        let m = parse(Severity::Info, "Anonymous TLS connection established from mail.example.org[198.51.100.25]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519").unwrap();
        let Message::Tls(t) = m else { panic!() };
        assert_eq!(
            (t.action, t.trust, t.protocol, t.cipher, t.inbound),
            (
                "established",
                Some("Anonymous"),
                Some("TLSv1.3"),
                Some("TLS_AES_256_GCM_SHA384"),
                Some(true)
            )
        );
        let m = parse(Severity::Info, "Trusted TLS connection established to mx[203.0.113.5]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)").unwrap();
        let Message::Tls(t) = m else { panic!() };
        assert_eq!((t.inbound, t.peer.unwrap().port), (Some(false), Some(25)));
        let m = parse(
            Severity::Info,
            "SSL_accept error from unknown[192.0.2.7]:5000: lost connection",
        )
        .unwrap();
        assert!(matches!(
            m,
            Message::Tls(TlsInfo {
                action: "accept_error",
                detail: Some("lost connection"),
                ..
            })
        ));
    }
}
