//! A compact JSON writer for serde, byte-for-byte what `serde_json` writes
//! for our types, but faster on the two things an Event is made of: field
//! names (static, written without an escape scan) and strings (scanned eight
//! bytes at a time). It exists because string escaping was over a quarter of
//! the CLI's instructions (callgrind) and matters even more inside Fluent
//! Bit's WebAssembly interpreter; serde_json has no hook to replace its
//! per-byte escape loop. `tests` in encode.rs hold it to serde_json's output.

use std::fmt::{self, Write as _};

use serde::ser::{self, Impossible, Serialize};

/// Errors are impossible for our types; this exists for serde's signatures.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// True if any byte of `x` is < 0x20, `"` or `\`.
#[inline]
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    below_space | has_zero(x ^ (ONES * b'"' as u64)) | has_zero(x ^ (ONES * b'\\' as u64)) != 0
}

/// What each byte becomes: 0 = itself, b'u' = `\u00XX`, else the letter after `\`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = b'u';
        c += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// The length of the longest prefix of `b` that a JSON string holds as is:
/// up to the first `"`, `\` or control byte. Clean eight-byte words are
/// skipped whole, which is most of a log line.
pub fn plain_prefix(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        if needs_escape(u64::from_le_bytes(word.try_into().expect("eight bytes"))) {
            break;
        }
        i += 8;
    }
    while b.get(i).is_some_and(|&c| ESCAPE[c as usize] == 0) {
        i += 1;
    }
    i
}

/// Appends `s` as a JSON string, escaping as serde_json does.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let mut rest = s.as_bytes();
    out.reserve(rest.len() + 2);
    out.push(b'"');
    loop {
        let n = plain_prefix(rest);
        out.extend_from_slice(&rest[..n]);
        let Some(&c) = rest.get(n) else { break };
        match ESCAPE[c as usize] {
            b'u' => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 0xf) as usize]]),
            e => out.extend_from_slice(&[b'\\', e]),
        }
        rest = &rest[n + 1..];
    }
    out.push(b'"');
}

/// Decides, by name, which top-level members `Writer::members` writes.
pub type Keep<'k> = &'k mut dyn FnMut(&str) -> bool;

/// The serializer: appends to a byte vector.
pub struct Writer<'o> {
    out: &'o mut Vec<u8>,
    /// Members mode, until the top-level struct takes it.
    members: Option<Keep<'o>>,
}

impl<'o> Writer<'o> {
    /// A writer appending to `out`.
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Writer { out, members: None }
    }

    /// A writer that appends a struct's members without its braces, each
    /// as `,"name":value` and only those `keep` accepts: ready to splice
    /// into an object that already has at least one member.
    pub fn members(out: &'o mut Vec<u8>, keep: Keep<'o>) -> Self {
        Writer {
            out,
            members: Some(keep),
        }
    }

    fn float(&mut self, v: f64) {
        if v.is_finite() {
            let mut buf = ryu::Buffer::new();
            self.out.extend_from_slice(buf.format_finite(v).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
    }
}

/// Collects `Display` output into the string escaper without a temporary
/// String for the common short case.
struct StrCollector(String);

impl fmt::Write for StrCollector {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.push_str(s);
        Ok(())
    }
}

macro_rules! int {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, v: $t) -> Result<(), Error> {
            let mut buf = itoa::Buffer::new();
            self.out.extend_from_slice(buf.format(v).as_bytes());
            Ok(())
        })*
    };
}

impl<'a, 'o> ser::Serializer for &'a mut Writer<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Compound<'a, 'o>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
         serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if v.is_finite() {
            let mut buf = ryu::Buffer::new();
            self.out.extend_from_slice(buf.format_finite(v).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.float(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        write_str(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        v.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        self.out.push(b'[');
        Ok(Compound {
            w: self,
            first: true,
            close: b']',
            keep: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, 'o>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(ser::Error::custom(format!(
            "tuple variants are not used by events ({name})"
        )))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        // Members mode is for structs (named fields); a map is written whole.
        self.members = None;
        self.out.push(b'{');
        Ok(Compound {
            w: self,
            first: true,
            close: b'}',
            keep: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a, 'o>, Error> {
        let Some(keep) = self.members.take() else {
            return self.serialize_map(None);
        };
        Ok(Compound {
            w: self,
            first: false,
            close: b'}',
            keep: Some(keep),
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(ser::Error::custom(format!(
            "struct variants are not used by events ({name})"
        )))
    }
    fn collect_str<T: ?Sized + fmt::Display>(self, v: &T) -> Result<(), Error> {
        let mut s = StrCollector(String::with_capacity(40));
        write!(s, "{v}").map_err(|_| Error("Display failed".into()))?;
        write_str(self.out, &s.0);
        Ok(())
    }
}

/// An open array or object.
pub struct Compound<'a, 'o> {
    w: &'a mut Writer<'o>,
    first: bool,
    close: u8,
    /// Set for the top-level struct in members mode: no braces, filtered.
    keep: Option<Keep<'o>>,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !self.first {
            self.w.out.push(b',');
        }
        self.first = false;
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
        self.comma();
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.w.out.push(self.close);
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(KeyWriter { w: &mut *self.w })
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
        self.w.out.push(b':');
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.w.out.push(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    // Inlined into each derived `serialize` so that `key` is a constant
    // there: its copy then compiles to a few stores instead of a call to
    // memcpy (under wasm, a `memory.copy` that WAMR's AOT turns into a
    // bounds-checked libc call) for every field of every Event.
    #[inline(always)]
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, v: &T) -> Result<(), Error> {
        if let Some(keep) = self.keep.as_mut() {
            if !keep(key) {
                return Ok(());
            }
        }
        // Field names are ours and need no escaping. One reservation for
        // the separator, quotes and colon.
        let out = &mut *self.w.out;
        out.reserve(key.len() + 4);
        if !self.first {
            out.push(b',');
        }
        self.first = false;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        if self.keep.is_none() {
            self.w.out.push(b'}');
        }
        Ok(())
    }
}

fn not_a_string_key() -> Error {
    Error("map keys must be strings".into())
}

/// Map keys: strings only (all our maps have string keys).
struct KeyWriter<'a, 'o> {
    w: &'a mut Writer<'o>,
}

macro_rules! key_not_string {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, _: $t) -> Result<(), Error> { Err(not_a_string_key()) })*
    };
}

impl ser::Serializer for KeyWriter<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.w.out, v);
        Ok(())
    }
    key_not_string!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_bytes: &[u8]);
    fn serialize_none(self) -> Result<(), Error> {
        Err(not_a_string_key())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), Error> {
        Err(not_a_string_key())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(not_a_string_key())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Err(not_a_string_key())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(not_a_string_key())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_string_key())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_string_key())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_string_key())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_string_key())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_string_key())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_string_key())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_string_key())
    }
    fn collect_str<T: ?Sized + fmt::Display>(self, v: &T) -> Result<(), Error> {
        self.serialize_str(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(s: &str) -> (String, String) {
        let mut ours = Vec::new();
        write_str(&mut ours, s);
        (String::from_utf8(ours).unwrap(), serde_json::to_string(s).unwrap())
    }

    /// The word-at-a-time scan stops exactly where a byte loop does, for
    /// every length up to three words and every position of a special byte.
    #[test]
    fn plain_prefix_matches_a_byte_loop() {
        let naive = |b: &[u8]| {
            b.iter()
                .position(|&c| c < 0x20 || c == b'"' || c == b'\\')
                .unwrap_or(b.len())
        };
        for len in 0..24 {
            let clean = vec![b'a'; len];
            assert_eq!(plain_prefix(&clean), len);
            for pos in 0..len {
                for special in [b'"', b'\\', b'\n', 0x01, 0x1f] {
                    let mut b = clean.clone();
                    b[pos] = special;
                    assert_eq!(plain_prefix(&b), naive(&b), "{b:?}");
                }
            }
        }
    }

    #[test]
    fn escapes_like_serde_json() {
        let mut all = String::new();
        for c in 0u8..0x80 {
            all.push(c as char);
        }
        for s in [
            "",
            "plain ascii text longer than eight bytes",
            "quote\" back\\slash",
            "tab\tnl\ncr\r bell\x07 del\x7f",
            "ünïcødé \u{1F600} mixed \"quoted\" \u{0}",
            &all,
        ] {
            let (a, b) = both(s);
            assert_eq!(a, b);
        }
        // Every position of a special byte inside an eight-byte window.
        for pos in 0..17 {
            for special in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
                let mut s: String = "abcdefghijklmnopq".into();
                s.insert(pos, special);
                let (a, b) = both(&s);
                assert_eq!(a, b, "{s:?}");
            }
        }
    }
}
