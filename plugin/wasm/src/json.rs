//! A small, strict, allocation-free JSON scanner for one record: validates
//! the whole text and reports the spans of the top-level members, plus a
//! string unescaper. It exists because the filter runs in Fluent Bit's
//! interpreter, where a full serde_json parse and re-serialisation of every
//! record costs ~6x the splice (see ../README.md): we only need to find one
//! string and the closing brace, and to be sure the text we splice into is
//! valid, since an invalid JSON return crashes Fluent Bit.
//!
//! Every function is panic-free on any input: indexing goes through `get`,
//! nesting is tracked in a fixed-size array (no recursion, so no stack
//! overflow in WAMR's small interpreter stack), and errors are values.

use std::ops::Range;

/// Deepest nesting accepted; deeper records are refused as invalid (Fluent
/// Bit itself never produces them from ordinary logs).
pub const MAX_DEPTH: usize = 256;

/// Why a record could not be scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// Not valid UTF-8.
    Utf8,
    /// Not a JSON object, or malformed at this byte offset.
    Syntax(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl ScanError {
    /// A short, static description for the error field.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanError::Utf8 => "record is not valid UTF-8",
            ScanError::Syntax(_) => "record is not a valid JSON object",
            ScanError::TooDeep => "record nests deeper than 256 levels",
        }
    }
}

/// One top-level member of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key's raw text, without its quotes (may contain escapes).
    pub key: Range<usize>,
    /// True when the key contains a backslash (compare after unescaping).
    pub key_escaped: bool,
    /// The value's raw text (for strings, including the quotes).
    pub value: Range<usize>,
    /// From the key's opening quote to the value's end.
    pub whole: Range<usize>,
}

impl Member {
    /// True when the value is a JSON string.
    pub fn is_string(&self, text: &[u8]) -> bool {
        text.get(self.value.start) == Some(&b'"')
    }
}

/// The result of scanning an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Offset of the closing `}`.
    pub close: usize,
    /// Number of top-level members.
    pub len: usize,
}

fn ws(s: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = s.get(i) {
        i += 1;
    }
    i
}

fn is_hex(b: Option<&u8>) -> bool {
    matches!(b, Some(b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F'))
}

/// Skips a string starting at its opening quote; returns the offset after
/// the closing quote and whether it contained an escape.
fn skip_string(s: &[u8], i: usize) -> Result<(usize, bool), ScanError> {
    if s.get(i) != Some(&b'"') {
        return Err(ScanError::Syntax(i));
    }
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j += postfix_enrich_core::encode::json_plain_prefix(s.get(j..).unwrap_or_default());
        match s.get(j) {
            None => return Err(ScanError::Syntax(j)),
            Some(b'"') => return Ok((j + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                match s.get(j + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                    Some(b'u') => {
                        if !(1..=4).all(|k| is_hex(s.get(j + 1 + k))) {
                            return Err(ScanError::Syntax(j));
                        }
                        j += 6;
                    }
                    _ => return Err(ScanError::Syntax(j)),
                }
            }
            Some(&c) if c < 0x20 => return Err(ScanError::Syntax(j)),
            Some(_) => j += 1,
        }
    }
}

fn skip_digits(s: &[u8], mut i: usize) -> (usize, bool) {
    let start = i;
    while let Some(b'0'..=b'9') = s.get(i) {
        i += 1;
    }
    (i, i > start)
}

fn skip_number(s: &[u8], mut i: usize) -> Result<usize, ScanError> {
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = skip_digits(s, i).0,
        _ => return Err(ScanError::Syntax(i)),
    }
    if s.get(i) == Some(&b'.') {
        let (j, any) = skip_digits(s, i + 1);
        if !any {
            return Err(ScanError::Syntax(i));
        }
        i = j;
    }
    if let Some(b'e' | b'E') = s.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = s.get(i) {
            i += 1;
        }
        let (j, any) = skip_digits(s, i);
        if !any {
            return Err(ScanError::Syntax(i));
        }
        i = j;
    }
    Ok(i)
}

fn skip_literal(s: &[u8], i: usize, lit: &[u8]) -> Result<usize, ScanError> {
    match s.get(i..i + lit.len()) {
        Some(x) if x == lit => Ok(i + lit.len()),
        _ => Err(ScanError::Syntax(i)),
    }
}

/// Parses `"key" ws : ws` from `i` (at the quote); returns the offset of the value.
fn key_colon(s: &[u8], i: usize) -> Result<usize, ScanError> {
    let (j, _) = skip_string(s, i)?;
    let j = ws(s, j);
    if s.get(j) != Some(&b':') {
        return Err(ScanError::Syntax(j));
    }
    Ok(ws(s, j + 1))
}

/// Skips one value starting at `i` (no leading whitespace); returns the
/// offset after it. `depth` is the nesting of the value's container.
pub fn skip_value(s: &[u8], mut i: usize, depth: usize) -> Result<usize, ScanError> {
    // true = object, false = array; index = nesting below `depth`.
    let mut stack = [false; MAX_DEPTH];
    let mut n = 0usize;
    loop {
        // A value is expected at i.
        match s.get(i) {
            Some(b'{') | Some(b'[') => {
                let is_obj = s.get(i) == Some(&b'{');
                let close = if is_obj { b'}' } else { b']' };
                let j = ws(s, i + 1);
                if s.get(j) == Some(&close) {
                    i = j + 1;
                } else {
                    if depth + n + 1 >= MAX_DEPTH {
                        return Err(ScanError::TooDeep);
                    }
                    if let Some(slot) = stack.get_mut(n) {
                        *slot = is_obj;
                    }
                    n += 1;
                    i = if is_obj { key_colon(s, j)? } else { j };
                    continue;
                }
            }
            Some(b'"') => i = skip_string(s, i)?.0,
            Some(b't') => i = skip_literal(s, i, b"true")?,
            Some(b'f') => i = skip_literal(s, i, b"false")?,
            Some(b'n') => i = skip_literal(s, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = skip_number(s, i)?,
            _ => return Err(ScanError::Syntax(i)),
        }
        // After a value: close containers until one continues.
        loop {
            if n == 0 {
                return Ok(i);
            }
            let is_obj = stack.get(n - 1).copied().unwrap_or(false);
            i = ws(s, i);
            match s.get(i) {
                Some(b',') => {
                    let j = ws(s, i + 1);
                    i = if is_obj { key_colon(s, j)? } else { j };
                    break;
                }
                Some(b'}') if is_obj => {
                    i += 1;
                    n -= 1;
                }
                Some(b']') if !is_obj => {
                    i += 1;
                    n -= 1;
                }
                _ => return Err(ScanError::Syntax(i)),
            }
        }
    }
}

/// Validates `s` as exactly one JSON object (surrounding whitespace
/// allowed) and calls `each` for every top-level member in order.
/// The text is a `str`: the caller checked UTF-8 once, and the unescaped
/// line it takes from it is then UTF-8 by construction.
pub fn scan_object(text: &str, mut each: impl FnMut(Member)) -> Result<Object, ScanError> {
    let s = text.as_bytes();
    let mut i = ws(s, 0);
    if s.get(i) != Some(&b'{') {
        return Err(ScanError::Syntax(i));
    }
    i = ws(s, i + 1);
    let mut len = 0;
    if s.get(i) != Some(&b'}') {
        loop {
            let (key_end, key_escaped) = skip_string(s, i)?;
            let v = key_colon(s, i)?;
            let end = skip_value(s, v, 1)?;
            each(Member {
                key: i + 1..key_end - 1,
                key_escaped,
                value: v..end,
                whole: i..end,
            });
            len += 1;
            i = ws(s, end);
            match s.get(i) {
                Some(b',') => i = ws(s, i + 1),
                Some(b'}') => break,
                _ => return Err(ScanError::Syntax(i)),
            }
        }
    }
    let close = i;
    if ws(s, close + 1) != s.len() {
        return Err(ScanError::Syntax(close + 1));
    }
    Ok(Object { close, len })
}

fn hex4(s: &[u8], i: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..4 {
        let d = match s.get(i + k)? {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v * 16 + u32::from(d);
    }
    Some(v)
}

/// Appends the unescaped contents of a validated JSON string literal
/// (`raw` includes the quotes) to `out`. `\uXXXX` escapes, including
/// surrogate pairs (Fluent Bit escapes all non-ASCII this way), become
/// UTF-8; a lone surrogate becomes U+FFFD, as the core does for bad bytes.
pub fn unescape_into(raw: &str, out: &mut String) {
    let body = match raw.len() {
        n if n >= 2 => raw.get(1..n - 1).unwrap_or_default(),
        _ => return,
    };
    // Runs are copied as `str` (cut at ASCII backslashes, so on char
    // boundaries) and escapes pushed as chars: the output is UTF-8 by type.
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < body.len() {
        // Copy the run up to the next backslash in one go.
        let run_end = bytes
            .get(i..)
            .and_then(|r| memchr::memchr(b'\\', r))
            .map_or(body.len(), |p| i + p);
        out.push_str(body.get(i..run_end).unwrap_or_default());
        i = run_end;
        if i >= body.len() {
            break;
        }
        let simple = match bytes.get(i + 1) {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            Some(b'n') => Some('\n'),
            Some(b'r') => Some('\r'),
            Some(b't') => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        // \uXXXX (the scanner guaranteed the four hex digits).
        let Some(hi) = hex4(bytes, i + 2) else {
            out.push('\u{FFFD}');
            i += 2;
            continue;
        };
        i += 6;
        let c = if (0xD800..0xDC00).contains(&hi) {
            let lo = if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u') {
                hex4(bytes, i + 2).filter(|lo| (0xDC00..0xE000).contains(lo))
            } else {
                None
            };
            match lo {
                Some(lo) => {
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                }
                None => None,
            }
        } else {
            char::from_u32(hi)
        };
        out.push(c.unwrap_or('\u{FFFD}'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &str) -> Result<Vec<(String, String)>, ScanError> {
        let mut v = Vec::new();
        scan_object(s, |m| {
            v.push((s[m.key.clone()].to_owned(), s[m.value.clone()].to_owned()))
        })?;
        Ok(v)
    }

    #[test]
    fn finds_top_level_members_only() {
        let m = members(r#" {"a":1, "log" : "x\"y", "n":{"log":"no"}, "l":[1,{"b":[]}], "e":{} } "#).unwrap();
        assert_eq!(m.len(), 5);
        assert_eq!(m[1], ("log".into(), r#""x\"y""#.into()));
        assert_eq!(m[2].1, r#"{"log":"no"}"#);
        assert_eq!(m[3].1, r#"[1,{"b":[]}]"#);
    }

    #[test]
    fn agrees_with_serde_json_on_validity() {
        let cases = [
            "{}",
            "{ }",
            "[]",
            "1",
            "",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":-0.5e+3}",
            "{\"a\":1.}",
            "{\"a\":tru}",
            "{\"a\":true}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"\\ud83d\\ude00\"}",
            "{\"a\":[1,2,]}",
            "{\"a\":[1 2]}",
            "{\"a\":{\"b\":1}} x",
            "{\"a\":\"\t\"}",
            "{\"a\":null,\"b\":[{}, [], \"\"]}",
            "{\"a\":{\"b\":1,}}",
            "{1:2}",
            "{\"a\":-}",
        ];
        for c in cases {
            let ours = scan_object(c, |_| {}).is_ok();
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(c).is_ok();
            assert_eq!(ours, theirs, "{c:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(scan_object(&deep, |_| {}), Err(ScanError::TooDeep));
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(scan_object(&ok, |_| {}).is_ok());
    }

    #[test]
    fn unescapes_like_serde_json() {
        for s in [
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""caf\u00e9 \u2603 \ud83d\ude00""#,
            r#""lone \ud83d x \ude00 y""#,
            r#""\u0000nul""#,
        ] {
            let mut ours = String::new();
            unescape_into(s, &mut ours);
            match serde_json::from_str::<String>(s) {
                Ok(theirs) => assert_eq!(ours, theirs),
                // serde_json refuses lone surrogates; we replace them.
                Err(_) => assert_eq!(ours, "lone \u{FFFD} x \u{FFFD} y"),
            }
        }
    }
}
