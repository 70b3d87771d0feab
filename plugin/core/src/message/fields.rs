//! Small parsers for the pieces that recur across Postfix messages: client
//! labels (`name[addr]:port`), queue ids, `key=<value>` lists, reply codes.
//! Each borrows from the message text and never allocates.

/// A remote peer as Postfix labels it: `name[addr]`, `name[addr]:port` or `[addr]:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer<'a> {
    /// Reverse-DNS name (`unknown` when there is none); empty for postscreen's `[addr]:port`.
    pub name: &'a str,
    /// Address inside the brackets (an IP, `unknown`, or a socket path such as `private/dovecot-lmtp`).
    pub addr: &'a str,
    /// Port, when logged (`smtpd_client_port_logging`, postscreen, smtp client).
    pub port: Option<u16>,
}

impl<'a> Peer<'a> {
    /// Is this an IP address (not `unknown` and not a socket path)?
    pub fn has_ip(&self) -> bool {
        // A byte loop, not `contains('/')`: the address is a few bytes, and
        // the general search's setup cost more than the search (callgrind).
        !self.addr.is_empty() && self.addr != "unknown" && !self.addr.bytes().any(|b| b == b'/')
    }
}

/// Parses a peer label at the start of `s`; returns it and the rest after it.
pub fn peer(s: &str) -> Option<(Peer<'_>, &str)> {
    let b = s.as_bytes();
    let open = memchr::memchr(b'[', b)?;
    let name = &s[..open];
    if memchr::memchr(b' ', name.as_bytes()).is_some() {
        return None;
    }
    let close = open + memchr::memchr(b']', &b[open..])?;
    let addr = &s[open + 1..close];
    let mut rest = &s[close + 1..];
    let mut port = None;
    if let Some(after) = rest.strip_prefix(':') {
        let end = after.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(after.len());
        if end > 0 {
            port = after[..end].parse().ok();
            rest = &after[end..];
        } else if let Some(r) = after.strip_prefix("unknown") {
            rest = r;
        }
    }
    Some((Peer { name, addr, port }, rest))
}

/// The first `name[IP]` label anywhere in `s` whose address is an IP
/// address or `unknown` (so `[data 3 bytes]` or `[%s]` is not taken).
pub fn peer_in(s: &str) -> Option<Peer<'_>> {
    let mut from = 0;
    // Postfix names a peer early; a hostile line full of '[' must not cost
    // a scan to the next ']' per bracket.
    for _ in 0..8 {
        let Some(i) = memchr::memchr(b'[', &s.as_bytes()[from..]) else {
            break;
        };
        let open = from + i;
        let start = s[..open].rfind([' ', '(', '<', '\'', '"']).map_or(0, |j| j + 1);
        if let Some((p, _)) = peer(&s[start..]) {
            if p.addr == "unknown" || p.addr.parse::<std::net::IpAddr>().is_ok() {
                return Some(p);
            }
        }
        from = open + 1;
    }
    None
}

/// Parses a peer label that must be the whole of `s`.
pub fn peer_exact(s: &str) -> Option<Peer<'_>> {
    match peer(s)? {
        (p, "") => Some(p),
        _ => None,
    }
}

const LONG_ID: &[u8] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

/// Is `s` a Postfix queue id, short (`3F2A81C0B4`) or long (`4Q1ZmK3kH1zJrw`)?
pub fn is_queue_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 6 || b.len() > 32 {
        return false;
    }
    if b.iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)) {
        return true;
    }
    // Long form: >= 10 base-52 chars, 'z', then base-51 inode (no 'z').
    match memchr::memrchr(b'z', b) {
        Some(z) if z >= 10 && z + 1 < b.len() => {
            b[..z].iter().all(|c| LONG_ID.contains(c)) && b[z + 1..].iter().all(|c| LONG_ID.contains(c) && *c != b'z')
        }
        _ => false,
    }
}

/// Splits `QUEUEID: rest` or `NOQUEUE: rest`; the id is `None` for `NOQUEUE`.
pub fn queue_prefix(s: &str) -> Option<(Option<&str>, &str)> {
    let colon = memchr::memchr(b':', &s.as_bytes()[..s.len().min(34)])?;
    let id = &s[..colon];
    let rest = s[colon + 1..].strip_prefix(' ')?;
    if id == "NOQUEUE" {
        Some((None, rest))
    } else if is_queue_id(id) {
        Some((Some(id), rest))
    } else {
        None
    }
}

/// The queue id a text names as `queued as X` or `forwarded as X`.
pub fn queued_as(t: &str) -> Option<&str> {
    let idx = t
        .find("queued as ")
        .map(|i| i + 10)
        .or_else(|| t.find("forwarded as ").map(|i| i + 13))?;
    let id = &t[idx..];
    let id = &id[..id.find([' ', ')', ',', ';']).unwrap_or(id.len())];
    is_queue_id(id).then_some(id)
}

/// The text right after `key=` where `key` starts a field (at the start or
/// after a space, comma or semicolon).
fn after_key<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    // Walks the `=` signs (a handful per line, found with memchr) and looks
    // back for the key, instead of a substring search per call: `str::find`
    // builds a two-way searcher each time, a visible cost on every delivery
    // line. The first `=` that ends a bounded key is the first bounded key.
    let b = s.as_bytes();
    for eq in memchr::memchr_iter(b'=', b) {
        let Some(at) = eq.checked_sub(key.len()) else { continue };
        let boundary = at == 0 || matches!(b[at - 1], b' ' | b',' | b';');
        if boundary && &b[at..eq] == key.as_bytes() {
            return s.get(eq + 1..);
        }
    }
    None
}

/// Value of `key=<value>` (angle brackets) in a `; from=<a> to=<b>` list.
/// Finds the last `>` before the next ` key=` so that quoted local parts work.
pub fn angle_field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let v = after_key(s, key)?.strip_prefix('<')?;
    // A quoted local part ("john> doe"@x) may hold '>' and spaces.
    let skip = match v.strip_prefix('"') {
        Some(q) => q.find('"').map_or(0, |i| i + 2),
        None => 0,
    };
    let tail = &v[skip..];
    let end = tail
        .find(">, ")
        .or_else(|| tail.find("> "))
        .or_else(|| tail.rfind('>'))?;
    Some(&v[..skip + end])
}

/// Value of `key=value` ending at `,` or space (or `;`).
pub fn plain_field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let v = after_key(s, key)?;
    Some(&v[..v.find([',', ' ', ';']).unwrap_or(v.len())])
}

/// An SMTP reply split into code, enhanced code and text: `550 5.1.1 text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reply<'a> {
    /// Three-digit code.
    pub code: u16,
    /// RFC 3463 enhanced status, when present.
    pub enhanced: Option<&'a str>,
    /// Text after the codes.
    pub text: &'a str,
    /// `true` for the final line of a reply (`250 `), `false` for a continuation (`250-`).
    pub last: bool,
}

/// Parses `ddd[ -][x.y.z ]text`.
pub fn reply(s: &str) -> Option<Reply<'_>> {
    let b = s.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&b[0]) {
        return None;
    }
    let code = s[..3].parse().ok()?;
    let (last, rest) = match b.get(3) {
        None => (true, ""),
        Some(b' ') => (true, &s[4..]),
        Some(b'-') => (false, &s[4..]),
        _ => return None,
    };
    let (enhanced, text) = match enhanced_code(rest) {
        Some(e) => (Some(e), rest[e.len()..].trim_start()),
        None => (None, rest),
    };
    Some(Reply {
        code,
        enhanced,
        text,
        last,
    })
}

/// An RFC 3463 code `c.s.d` at the start of `s`.
pub fn enhanced_code(s: &str) -> Option<&str> {
    let end = s.find(' ').unwrap_or(s.len());
    let tok = &s[..end];
    let mut parts = tok.split('.');
    let class = parts.next()?;
    let ok = matches!(class, "2" | "4" | "5")
        && parts.clone().count() == 2
        && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()));
    ok.then_some(tok)
}

/// Splits off the first space-separated word.
pub fn word(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// Parses a decimal number, tolerating surrounding spaces.
pub fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        let (p, r) = peer("unknown[127.0.0.2]:60731 rest").unwrap();
        assert_eq!(
            (p.name, p.addr, p.port, r),
            ("unknown", "127.0.0.2", Some(60731), " rest")
        );
        let (p, _) = peer("[192.0.2.7]:52814").unwrap();
        assert_eq!((p.name, p.addr, p.port), ("", "192.0.2.7", Some(52814)));
        let (p, r) = peer("unknown[unknown]:unknown").unwrap();
        assert_eq!((p.addr, p.port, r), ("unknown", None, ""));
        assert!(!p.has_ip());
        assert!(peer("no brackets").is_none());
        let p = peer_in("BDAT request from mail.example.org[2001:db8::7]:52814 exceeds limit").unwrap();
        assert_eq!(
            (p.name, p.addr, p.port),
            ("mail.example.org", "2001:db8::7", Some(52814))
        );
        assert!(peer_in("write cache entry x: time=3 [data 3 bytes]").is_none());
        assert_eq!(peer_in("a [x] then (h[192.0.2.1])").map(|p| p.addr), Some("192.0.2.1"));
    }

    #[test]
    fn queue_ids() {
        assert!(is_queue_id("3F2A81C0B4"));
        assert!(is_queue_id("4Q1ZmK3kH1zJrw"));
        assert!(!is_queue_id("match_string"));
        assert!(!is_queue_id("warning"));
        assert_eq!(queue_prefix("NOQUEUE: reject: x"), Some((None, "reject: x")));
        assert_eq!(
            queue_prefix("3F2A81C0B4: client=x"),
            Some((Some("3F2A81C0B4"), "client=x"))
        );
        assert_eq!(queue_prefix("dict_open: x"), None);
    }

    #[test]
    fn fields_and_replies() {
        let s = "from=<a@b> to=<\"x> y\"@c> proto=ESMTP helo=<h>";
        assert_eq!(angle_field(s, "from"), Some("a@b"));
        assert_eq!(angle_field(s, "to"), Some("\"x> y\"@c"));
        assert_eq!(plain_field(s, "proto"), Some("ESMTP"));
        assert_eq!(angle_field(s, "helo"), Some("h"));
        // A key is matched whole and at a field start: `delay` is not read
        // from `delays=` or `xdelay=`, and a value may contain `key=`.
        let d = "to=<a@b>, relay=r[1.2.3.4]:25, xdelay=9, delays=0.1/0/0/0.2, delay=0.3, dsn=2.0.0, status=sent (250 delay=7)";
        assert_eq!(plain_field(d, "delay"), Some("0.3"));
        assert_eq!(plain_field(d, "delays"), Some("0.1/0/0/0.2"));
        assert_eq!(plain_field(d, "status"), Some("sent"));
        assert_eq!(plain_field(d, "lay"), None);
        assert_eq!(plain_field("delay=1", "delay"), Some("1"));
        let r = reply("250-PIPELINING").unwrap();
        assert_eq!((r.code, r.last, r.text), (250, false, "PIPELINING"));
        let r = reply("550 5.1.1 <x@y>: Recipient address rejected").unwrap();
        assert_eq!(
            (r.enhanced, r.text),
            (Some("5.1.1"), "<x@y>: Recipient address rejected")
        );
        assert!(reply("EHLO x").is_none());
    }
}
