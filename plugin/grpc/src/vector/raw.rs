//! The relay's hot path on encoded bytes: a log event is not decoded into a
//! tree. Its fields are scanned, the raw line is read from the configured
//! field, every field the enrichment does not replace is copied as encoded,
//! and the enriched fields are written straight from the Event's `Serialize`
//! impl as protobuf (`ProtoWriter`). Metadata, metrics and traces are copied
//! byte for byte. Only when an enriched object meets an existing object of the
//! same name (a deep merge) are those two values decoded.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use postfix_enrich_core::Event;
use prost::Message;
use serde::ser::{self, Serialize};

use super::wire::{value::Kind, Value};

/// `vector.PushEventsRequest` with each `EventWrapper` kept encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawPush {
    /// Encoded `event.EventWrapper`s.
    #[prost(bytes = "bytes", repeated, tag = "1")]
    pub events: Vec<Bytes>,
}

// ---- reading -------------------------------------------------------------

fn read_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// One field of an encoded message.
struct Field<'a> {
    tag: u32,
    /// Payload of a length-delimited field (empty for others).
    data: &'a [u8],
    wire_type: u8,
    /// The whole field, key included.
    raw: &'a [u8],
}

/// Iterates the fields of an encoded message; `None` at the end or on malformed input.
struct Fields<'a> {
    b: &'a [u8],
    pos: usize,
    malformed: bool,
}

fn fields(b: &[u8]) -> Fields<'_> {
    Fields {
        b,
        pos: 0,
        malformed: false,
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;
    fn next(&mut self) -> Option<Field<'a>> {
        if self.pos >= self.b.len() || self.malformed {
            return None;
        }
        let start = self.pos;
        let parsed = (|| {
            let key = read_varint(self.b, &mut self.pos)?;
            let (tag, wire_type) = ((key >> 3) as u32, (key & 7) as u8);
            let data = match wire_type {
                0 => {
                    read_varint(self.b, &mut self.pos)?;
                    &[][..]
                }
                1 => {
                    self.pos = self.pos.checked_add(8).filter(|&p| p <= self.b.len())?;
                    &[][..]
                }
                2 => {
                    let len = usize::try_from(read_varint(self.b, &mut self.pos)?).ok()?;
                    let end = self.pos.checked_add(len).filter(|&e| e <= self.b.len())?;
                    let d = &self.b[self.pos..end];
                    self.pos = end;
                    d
                }
                5 => {
                    self.pos = self.pos.checked_add(4).filter(|&p| p <= self.b.len())?;
                    &[][..]
                }
                _ => return None,
            };
            Some(Field {
                tag,
                data,
                wire_type,
                raw: &self.b[start..self.pos],
            })
        })();
        if parsed.is_none() {
            self.malformed = true;
        }
        parsed
    }
}

/// Key and value payload of an encoded map entry. The key stays bytes: it is
/// only compared, and checking it as UTF-8 on every entry cost more than the
/// comparison.
fn map_entry(entry: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut key, mut value) = (None, &[][..]);
    let mut it = fields(entry);
    for f in it.by_ref() {
        match (f.tag, f.wire_type) {
            (1, 2) => key = Some(f.data),
            (2, 2) => value = f.data,
            _ => {}
        }
    }
    if it.malformed {
        return None;
    }
    Some((key?, value))
}

/// The key of a map entry (its payload). Encoders write the key first, so
/// that case is read directly; any other order takes the general walk.
fn entry_key(entry: &[u8]) -> Option<&[u8]> {
    if entry.first() == Some(&0x0a) {
        // Field 1, LEN: the key.
        let mut pos = 1;
        let len = usize::try_from(read_varint(entry, &mut pos)?).ok()?;
        return entry.get(pos..pos.checked_add(len)?);
    }
    map_entry(entry).map(|(k, _)| k)
}

/// The bytes of a `Value` holding `raw_bytes`.
fn value_bytes(value: &[u8]) -> Option<&[u8]> {
    let f = fields(value).next()?;
    (f.tag == 1 && f.wire_type == 2).then_some(f.data)
}

fn value_is_map(value: &[u8]) -> bool {
    fields(value).next().is_some_and(|f| f.tag == 7 && f.wire_type == 2)
}

// ---- writing -------------------------------------------------------------

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Starts a length-delimited field with one byte reserved for its length.
///
/// One byte holds any length below 128, which covers nearly every leaf entry
/// (key plus a short value), so `end` shifts a body only for the few larger
/// objects. Reserving the full five bytes instead moved every body at every
/// nesting level, and that memmove was 14% of the relay's instructions.
#[inline]
fn begin(buf: &mut Vec<u8>, key: u8) -> usize {
    buf.push(key);
    buf.push(0);
    buf.len() - 1
}

/// Writes the length of the field begun at `at`, moving its body up only
/// when the length needs more than the one reserved byte.
#[inline]
fn end(buf: &mut Vec<u8>, at: usize) {
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
        return;
    }
    grow_length(buf, at, len);
}

/// `end`'s rare case, kept out of line so the common case inlines small.
#[cold]
fn grow_length(buf: &mut Vec<u8>, at: usize, len: usize) {
    let n = prost::encoding::encoded_len_varint(len as u64);
    let body_end = buf.len();
    buf.resize(body_end + n - 1, 0);
    buf.copy_within(at + 1..body_end, at + n);
    prost::encoding::encode_varint(len as u64, &mut &mut buf[at..at + n]);
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, key: u8, b: &[u8]) {
    buf.reserve(b.len() + 11);
    buf.push(key);
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// Why a value could not be written (never happens for Events).
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// A serde serializer writing the body of an `event.Value` (see
/// proto/vector/event.proto for the field numbers used below).
///
/// At the top level (`top`) an object is written as its bare list of entries
/// (what `Log.fields` holds), and a field named `@timestamp` is written as a
/// native timestamp from `stamp` instead of its RFC 3339 string.
struct ProtoWriter<'b> {
    buf: &'b mut Vec<u8>,
    top: bool,
    stamp: Option<(i64, i32)>,
    /// Where each top-level entry was written, so `splice` need not parse
    /// them back.
    tops: Option<&'b mut Vec<TopEntry>>,
}

fn nested(buf: &mut Vec<u8>) -> ProtoWriter<'_> {
    ProtoWriter {
        buf,
        top: false,
        stamp: None,
        tops: None,
    }
}

/// Writes an object or array body; `at` is where its length goes.
struct Compound<'b> {
    buf: &'b mut Vec<u8>,
    /// Where the length goes; `None` for the headerless top level.
    at: Option<usize>,
    entry: usize,
    stamp: Option<(i64, i32)>,
    tops: Option<&'b mut Vec<TopEntry>>,
}

impl Compound<'_> {
    /// Notes the top-level entry begun at `at` (its length byte) as complete.
    fn top_entry_done(&mut self, at: usize) {
        if let Some(tops) = self.tops.as_deref_mut() {
            // The entry's length, then its key: the first field we wrote.
            let mut pos = at;
            let _ = read_varint(self.buf, &mut pos);
            let key = entry_key(&self.buf[pos..]).map_or(0..0, |k| range_in(self.buf, k));
            tops.push(TopEntry {
                raw: at - 1..self.buf.len(),
                key,
            });
        }
    }
}

const RAW_BYTES: u8 = 0x0a; // 1, LEN
const INTEGER: u8 = 0x20; // 4, VARINT
const FLOAT: u8 = 0x29; // 5, I64
const BOOLEAN: u8 = 0x30; // 6, VARINT
const MAP: u8 = 0x3a; // 7, LEN
const ARRAY: u8 = 0x42; // 8, LEN
const NULL: u8 = 0x48; // 9, VARINT
const ENTRY: u8 = 0x0a; // map entry / array item: 1, LEN
const ENTRY_VALUE: u8 = 0x12; // map entry value: 2, LEN

impl<'b> ser::Serializer for ProtoWriter<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'b>;
    type SerializeTuple = Compound<'b>;
    type SerializeTupleStruct = Compound<'b>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = Compound<'b>;
    type SerializeStruct = Compound<'b>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, b: bool) -> Result<(), Error> {
        self.buf.extend_from_slice(&[BOOLEAN, b as u8]);
        Ok(())
    }
    fn serialize_i8(self, n: i8) -> Result<(), Error> {
        self.serialize_i64(n.into())
    }
    fn serialize_i16(self, n: i16) -> Result<(), Error> {
        self.serialize_i64(n.into())
    }
    fn serialize_i32(self, n: i32) -> Result<(), Error> {
        self.serialize_i64(n.into())
    }
    fn serialize_i64(self, n: i64) -> Result<(), Error> {
        self.buf.push(INTEGER);
        put_varint(self.buf, n as u64);
        Ok(())
    }
    fn serialize_u8(self, n: u8) -> Result<(), Error> {
        self.serialize_i64(n.into())
    }
    fn serialize_u16(self, n: u16) -> Result<(), Error> {
        self.serialize_i64(n.into())
    }
    fn serialize_u32(self, n: u32) -> Result<(), Error> {
        self.serialize_i64(n.into())
    }
    fn serialize_u64(self, n: u64) -> Result<(), Error> {
        self.serialize_i64(i64::try_from(n).unwrap_or(i64::MAX))
    }
    fn serialize_f32(self, n: f32) -> Result<(), Error> {
        self.serialize_f64(n.into())
    }
    fn serialize_f64(self, n: f64) -> Result<(), Error> {
        self.buf.push(FLOAT);
        self.buf.extend_from_slice(&n.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, c: char) -> Result<(), Error> {
        self.serialize_str(c.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, s: &str) -> Result<(), Error> {
        put_bytes(self.buf, RAW_BYTES, s.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, b: &[u8]) -> Result<(), Error> {
        put_bytes(self.buf, RAW_BYTES, b);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.buf.extend_from_slice(&[NULL, 0]);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        use ser::SerializeMap;
        let mut m = self.serialize_map(Some(1))?;
        m.serialize_entry(variant, value)?;
        m.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'b>, Error> {
        let at = begin(self.buf, ARRAY);
        Ok(Compound {
            buf: self.buf,
            at: Some(at),
            entry: 0,
            stamp: None,
            tops: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error(format!("tuple variant of {name} not supported")))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'b>, Error> {
        let at = (!self.top).then(|| begin(self.buf, MAP));
        Ok(Compound {
            buf: self.buf,
            at,
            entry: 0,
            stamp: self.stamp,
            tops: self.tops,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error(format!("struct variant of {name} not supported")))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let item = begin(self.buf, ENTRY);
        value.serialize(nested(self.buf))?;
        end(self.buf, item);
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        if let Some(at) = self.at {
            end(self.buf, at);
        }
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // A string Value body (`0x0a len bytes`) is exactly a map entry's key field.
        self.entry = begin(self.buf, ENTRY);
        let before = self.buf.len();
        key.serialize(nested(self.buf))?;
        if self.buf.get(before) != Some(&RAW_BYTES) {
            return Err(Error("map keys must be strings".into()));
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let v = begin(self.buf, ENTRY_VALUE);
        value.serialize(nested(self.buf))?;
        end(self.buf, v);
        end(self.buf, self.entry);
        self.top_entry_done(self.entry);
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        if let Some(at) = self.at {
            end(self.buf, at);
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        match (key, self.stamp) {
            ("@timestamp", Some((seconds, nanos))) => {
                let e = begin(self.buf, ENTRY);
                put_bytes(self.buf, RAW_BYTES, key.as_bytes());
                let v = begin(self.buf, ENTRY_VALUE);
                let ts = begin(self.buf, 0x12); // Value.timestamp: 2, LEN
                self.buf.push(0x08);
                put_varint(self.buf, seconds as u64);
                self.buf.push(0x10);
                put_varint(self.buf, nanos as u64);
                end(self.buf, ts);
                end(self.buf, v);
                end(self.buf, e);
                self.top_entry_done(e);
                Ok(())
            }
            // A struct's keys are known strings: written directly, not
            // through the serializer as a map's keys must be.
            _ => {
                let e = begin(self.buf, ENTRY);
                put_bytes(self.buf, RAW_BYTES, key.as_bytes());
                let v = begin(self.buf, ENTRY_VALUE);
                value.serialize(nested(self.buf))?;
                end(self.buf, v);
                end(self.buf, e);
                self.top_entry_done(e);
                Ok(())
            }
        }
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeMap::end(self)
    }
}

/// The enriched fields of `ev` as encoded `Log.fields` entries (also the
/// body of a `ValueMap`), with `@timestamp` as a native timestamp.
pub fn event_entries(ev: &Event<'_>, out: &mut Vec<u8>) {
    write_entries(ev, out, None);
}

fn write_entries(ev: &Event<'_>, out: &mut Vec<u8>, tops: Option<&mut Vec<TopEntry>>) {
    let stamp = ev.timestamp.as_ref().map(|t| {
        let ts = crate::convert::timestamp(t);
        (ts.seconds, ts.nanos)
    });
    let w = ProtoWriter {
        buf: out,
        top: true,
        stamp,
        tops,
    };
    ev.serialize(w).expect("events serialize");
}

/// Where, in an encoded `EventWrapper`, the log body and its raw line are.
pub struct Scan {
    log: std::ops::Range<usize>,
    line: std::ops::Range<usize>,
    /// The log's root is the line itself (Vector's namespaced mode,
    /// `schema.log_namespace: true`), not an object holding it.
    string_root: bool,
}

impl Scan {
    /// The raw line, within the wrapper it was scanned from.
    pub fn line<'w>(&self, wrapper: &'w [u8]) -> &'w [u8] {
        &wrapper[self.line.clone()]
    }
}

/// Why an event is forwarded without enrichment. Each is counted
/// (`postfix_enrich_relay_passthrough_events_total{cause}`) and logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// A metric or a trace: only logs carry lines.
    NotALog,
    /// An object-root log without the `--field` field.
    NoField,
    /// The `--field` field holds something other than a string.
    FieldNotString,
    /// A namespaced log whose root is neither a string nor an object.
    RootNotString,
    /// The line is longer than `--max-line-bytes`.
    LineTooLong,
    /// The event does not decode as protobuf.
    Malformed,
}

impl Passthrough {
    /// Every cause, in the order of their metric series.
    pub const ALL: [Passthrough; 6] = [
        Passthrough::NotALog,
        Passthrough::NoField,
        Passthrough::FieldNotString,
        Passthrough::RootNotString,
        Passthrough::LineTooLong,
        Passthrough::Malformed,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Passthrough::NotALog => "not_a_log",
            Passthrough::NoField => "no_field",
            Passthrough::FieldNotString => "field_not_string",
            Passthrough::RootNotString => "root_not_string",
            Passthrough::LineTooLong => "line_too_long",
            Passthrough::Malformed => "malformed",
        }
    }
}

fn range_in(outer: &[u8], inner: &[u8]) -> std::ops::Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// Finds the line to enrich: in a log with an object root, the string in
/// `field`; in a log whose root is a string (Vector's namespaced mode), the
/// root itself. Anything else says why it is passed through.
pub fn scan(wrapper: &[u8], field: &str, max_line: usize) -> Result<Scan, Passthrough> {
    // EventWrapper: a log is field 1.
    let mut it = fields(wrapper);
    let log = it.by_ref().filter(|f| f.tag == 1 && f.wire_type == 2).last();
    if it.malformed {
        return Err(Passthrough::Malformed);
    }
    let log = log.ok_or(Passthrough::NotALog)?.data;
    let (mut entry, mut root) = (None, None);
    let mut it = fields(log);
    for f in it.by_ref() {
        match (f.tag, f.wire_type) {
            (1, 2) if entry_key(f.data) == Some(field.as_bytes()) => entry = Some(f.data),
            // `Log.value`: set when the root is not an object. Vector then
            // also writes a dummy `fields` entry named ".", ignored on decoding.
            (2, 2) => root = Some(f.data),
            _ => {}
        }
    }
    if it.malformed {
        return Err(Passthrough::Malformed);
    }
    let (line, string_root) = match root {
        Some(value) => (value_bytes(value).ok_or(Passthrough::RootNotString)?, true),
        None => {
            let (_, value) = map_entry(entry.ok_or(Passthrough::NoField)?).ok_or(Passthrough::Malformed)?;
            (value_bytes(value).ok_or(Passthrough::FieldNotString)?, false)
        }
    };
    if line.len() > max_line {
        return Err(Passthrough::LineTooLong);
    }
    Ok(Scan {
        log: range_in(wrapper, log),
        line: range_in(wrapper, line),
        string_root,
    })
}

/// The instant a `Value` holding a timestamp names, as (seconds, nanos).
fn value_timestamp(value: &[u8]) -> Option<(i64, i32)> {
    let f = fields(value).next()?;
    if f.tag != 2 || f.wire_type != 2 {
        return None;
    }
    let (mut secs, mut nanos) = (0i64, 0i32);
    for t in fields(f.data) {
        let mut pos = 0;
        let key = read_varint(t.raw, &mut pos)?;
        let v = read_varint(t.raw, &mut pos)?;
        match key {
            0x08 => secs = v as i64,
            0x10 => nanos = v as i32,
            _ => {}
        }
    }
    Some((secs, nanos))
}

/// The value under `key` in a `ValueMap` body (a list of entries).
fn map_get<'a>(entries: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    fields(entries)
        .filter(|f| f.tag == 1 && f.wire_type == 2)
        .find(|f| entry_key(f.data) == Some(key))
        .and_then(|f| map_entry(f.data))
        .map(|(_, v)| v)
}

/// The body of a `Value` holding a map.
fn value_map(value: &[u8]) -> Option<&[u8]> {
    let f = fields(value).next()?;
    (f.tag == 7 && f.wire_type == 2).then_some(f.data)
}

/// When Vector read the event: its ingest time, which the sending Vector's
/// sources stamp in reading order. In the legacy mode it is the `timestamp`
/// field; in the namespaced mode `%vector.ingest_timestamp` in the metadata.
/// `None` for events without one (or where a transform replaced it by
/// something other than a timestamp).
pub fn ingest_time(wrapper: &[u8], scan: &Scan) -> Option<(i64, i32)> {
    let log = &wrapper[scan.log.clone()];
    let mut from_metadata = None;
    for f in fields(log) {
        match (f.tag, f.wire_type, scan.string_root) {
            (1, 2, false) if entry_key(f.data) == Some(b"timestamp") => {
                return map_entry(f.data).and_then(|(_, v)| value_timestamp(v));
            }
            // `Log.metadata_full`: `Metadata.value` is its field 1.
            (4, 2, true) => {
                from_metadata = fields(f.data)
                    .find(|m| m.tag == 1 && m.wire_type == 2)
                    .and_then(|m| value_map(m.data))
                    .and_then(|m| map_get(m, b"vector"))
                    .and_then(value_map)
                    .and_then(|m| map_get(m, b"ingest_timestamp"))
                    .and_then(value_timestamp);
            }
            _ => {}
        }
    }
    from_metadata
}

/// Buffers `splice` reuses from one event to the next.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The enriched entries of the current event.
    entries: Vec<u8>,
    /// Where each of them is in `entries`.
    tops: Vec<TopEntry>,
    /// The fields of the input log that stay, as ranges of it.
    kept: Vec<Range<usize>>,
}

/// A top-level entry written by `write_entries`: the whole encoded entry and
/// its key, as ranges of the entries buffer.
#[derive(Debug)]
struct TopEntry {
    raw: Range<usize>,
    key: Range<usize>,
}

/// The enriched entry (an index into `tops`) that replaces field `f` of a log.
fn replacement(f: &Field<'_>, entries: &[u8], tops: &[TopEntry]) -> Option<usize> {
    if f.tag != 1 || f.wire_type != 2 {
        return None;
    }
    let key = entry_key(f.data)?;
    tops.iter().position(|t| &entries[t.key.clone()] == key)
}

/// Key and value of the enriched entry `t`: written by us, so well formed.
fn top_entry<'e>(entries: &'e [u8], t: &TopEntry) -> (&'e [u8], &'e [u8]) {
    let payload = fields(&entries[t.raw.clone()]).next().map_or(&[][..], |f| f.data);
    map_entry(payload).unwrap_or_default()
}

/// Appends `EventWrapper.log` with a body of `len` bytes, whose fields
/// `write` appends, and hands the result out of `out` without a copy.
fn finish_log(out: &mut BytesMut, len: usize, write: impl FnOnce(&mut BytesMut)) -> Bytes {
    out.reserve(len + 11);
    out.put_u8(0x0a); // EventWrapper.log: 1, LEN
    prost::encoding::encode_varint(len as u64, out);
    let body_start = out.len();
    write(out);
    debug_assert_eq!(out.len() - body_start, len);
    out.split().freeze()
}

/// The encoded `EventWrapper` with `ev`'s fields merged into the log found by
/// `scan`. The result is split off `out`, so a batch's events can share one
/// allocation.
///
/// The log's length is counted before anything is written, so the fields are
/// copied once, straight to their place: kept fields as they were encoded,
/// then the enriched entries.
pub fn splice(wrapper: &[u8], scan: &Scan, ev: &Event<'_>, scratch: &mut Scratch, out: &mut BytesMut) -> Bytes {
    let log = &wrapper[scan.log.clone()];
    let Scratch { entries, tops, kept } = scratch;
    entries.clear();
    tops.clear();
    kept.clear();
    write_entries(ev, entries, Some(tops));
    let (entries, tops) = (&entries[..], &tops[..]);
    let mut kept_len = 0;
    if scan.string_root {
        // The line becomes an object: the enriched fields (`message` among
        // them) replace the root value and Vector's dummy "." entry; the
        // metadata stays as it was.
        for f in fields(log).filter(|f| f.tag != 1 && f.tag != 2) {
            kept_len += f.raw.len();
            kept.push(range_in(log, f.raw));
        }
        return finish_log(out, kept_len + entries.len(), |out| {
            for k in kept.iter() {
                out.extend_from_slice(&log[k.clone()]);
            }
            out.extend_from_slice(entries);
        });
    }
    for f in fields(log) {
        match replacement(&f, entries, tops) {
            None => {
                kept_len += f.raw.len();
                kept.push(range_in(log, f.raw));
            }
            Some(i) => {
                let old = map_entry(f.data).map_or(&[][..], |(_, v)| v);
                if value_is_map(old) && value_is_map(top_entry(entries, &tops[i]).1) {
                    return splice_merging(log, entries, tops, out);
                }
            }
        }
    }
    finish_log(out, kept_len + entries.len(), |out| {
        for k in kept.iter() {
            out.extend_from_slice(&log[k.clone()]);
        }
        out.extend_from_slice(entries);
    })
}

/// `splice` when an enriched object meets an existing object of the same
/// name: the merged entry takes the old one's place.
fn splice_merging(log: &[u8], entries: &[u8], tops: &[TopEntry], out: &mut BytesMut) -> Bytes {
    let mut merged = vec![false; tops.len()];
    let mut body = Vec::with_capacity(log.len() + entries.len());
    for f in fields(log) {
        if let Some(i) = replacement(&f, entries, tops) {
            let (key, new_value) = top_entry(entries, &tops[i]);
            let old = map_entry(f.data).map_or(&[][..], |(_, v)| v);
            merged[i] = value_is_map(old) && value_is_map(new_value) && deep_merge(&mut body, key, old, new_value);
            continue; // replaced by the enriched entry
        }
        body.extend_from_slice(f.raw);
    }
    for (t, _) in tops.iter().zip(&merged).filter(|(_, m)| !**m) {
        body.extend_from_slice(&entries[t.raw.clone()]);
    }
    finish_log(out, body.len(), |out| out.extend_from_slice(&body))
}

/// The rare slow path: an enriched object meets an existing object of the
/// same name, so both are decoded and merged key by key. False when the old
/// value does not decode: then the enriched entry simply replaces it.
fn deep_merge(body: &mut Vec<u8>, key: &[u8], old: &[u8], new: &[u8]) -> bool {
    let (Ok(key), Ok(old), Ok(new)) = (std::str::from_utf8(key), Value::decode(old), Value::decode(new)) else {
        return false;
    };
    let (Some(Kind::Map(mut old)), Some(Kind::Map(new))) = (old.kind, new.kind) else {
        return false;
    };
    super::merge(&mut old.fields, new.fields);
    let mut one = BTreeMap::new();
    one.insert(key.to_owned(), Value::of(Kind::Map(old)));
    // A `ValueMap` body is a list of entries, as `Log.fields` is.
    let vm = super::wire::ValueMap { fields: one };
    body.extend_from_slice(&vm.encode_to_vec());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::wire::{event_wrapper, EventWrapper, Log, ValueMap};
    use postfix_enrich_core::{Config, Enricher};

    fn log(fields: &[(&str, Value)]) -> EventWrapper {
        let mut l = Log::default();
        for (k, v) in fields {
            l.fields.insert((*k).to_owned(), v.clone());
        }
        l.metadata_full = Some(Bytes::from_static(b"\x1a\x03abc"));
        EventWrapper {
            event: Some(event_wrapper::Event::Log(l)),
        }
    }

    /// The byte path gives the same event as the tree path.
    #[test]
    fn same_as_the_tree_path() {
        let line = "Jun 19 16:27:22 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";
        let mut mine = BTreeMap::new();
        mine.insert("mine".to_owned(), Value::of(Kind::Integer(1)));
        let input = log(&[
            ("message", Value::string(line)),
            ("host", Value::string("node")),
            ("source_type", Value::string("file")),
            ("postfix", Value::of(Kind::Map(ValueMap { fields: mine }))),
        ]);
        let bytes = input.encode_to_vec();
        let mut e1 = Enricher::new(Config::default());
        let s = scan(&bytes, "message", 1 << 20).expect("a line");
        let spliced = splice(
            &bytes,
            &s,
            &e1.enrich(s.line(&bytes)),
            &mut Scratch::default(),
            &mut BytesMut::new(),
        );
        let got = EventWrapper::decode(spliced).unwrap();

        let mut expected = input.clone();
        let Some(event_wrapper::Event::Log(l)) = &mut expected.event else {
            unreachable!()
        };
        let mut e2 = Enricher::new(Config::default());
        let ev = e2.enrich(line.as_bytes());
        crate::vector::merge(&mut l.fields, crate::vector::event_fields(&ev));
        assert_eq!(got, expected);
    }

    /// Lengths of one, two and three varint bytes all come out right, at
    /// every nesting level (a long line lands in `message` and `event.original`).
    #[test]
    fn long_values_shift_into_place() {
        for n in [10, 120, 127, 128, 200, 16_383, 16_384, 70_000] {
            let line = format!(
                "Jun 19 16:27:22 mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 {}; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
                "y".repeat(n)
            );
            let ev = Enricher::new(Config::default()).enrich(line.as_bytes());
            let mut entries = Vec::new();
            event_entries(&ev, &mut entries);
            let got = ValueMap::decode(&entries[..]).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(got.fields, crate::vector::event_fields(&ev), "line of {n} extra bytes");
        }
    }

    /// A map entry may legally carry its value before its key.
    #[test]
    fn value_before_key() {
        let line = b"Jun 19 16:27:22 mx postfix/smtpd[7]: connect from unknown[192.0.2.7]";
        let value = [&[0x0a, line.len() as u8][..], line].concat(); // Value.raw_bytes
        let entry = [&[0x12, value.len() as u8][..], &value, &[0x0a, 7], b"message"].concat();
        let log = [&[0x0a, entry.len() as u8][..], &entry].concat(); // Log.fields
        let wrapper = [&[0x0a, log.len() as u8][..], &log].concat(); // EventWrapper.log
        let s = scan(&wrapper, "message", 1 << 20).expect("the line is found");
        assert_eq!(s.line(&wrapper), line);
        let ev = Enricher::new(Config::default()).enrich(line);
        let out = splice(&wrapper, &s, &ev, &mut Scratch::default(), &mut BytesMut::new());
        let log = fields(&out).next().expect("a log").data;
        let entries = fields(log).filter(|f| f.tag == 1).count();
        let expected = crate::vector::event_fields(&ev);
        assert_eq!(
            entries,
            expected.len(),
            "the old entry is replaced, not kept beside the new one"
        );
        let Some(event_wrapper::Event::Log(l)) = EventWrapper::decode(out).unwrap().event else {
            panic!("a log")
        };
        assert_eq!(l.fields, expected);
    }

    #[test]
    fn untouched_without_the_field() {
        let input = log(&[("other", Value::string("x"))]).encode_to_vec();
        assert_eq!(scan(&input, "message", 1 << 20).err(), Some(Passthrough::NoField));
        let metric = b"\x12\x03abc";
        assert_eq!(scan(metric, "message", 1 << 20).err(), Some(Passthrough::NotALog));
        let long = log(&[("message", Value::string("x".repeat(100)))]).encode_to_vec();
        assert_eq!(scan(&long, "message", 99).err(), Some(Passthrough::LineTooLong));
        let number = log(&[("message", Value::of(Kind::Integer(7)))]).encode_to_vec();
        assert_eq!(
            scan(&number, "message", 1 << 20).err(),
            Some(Passthrough::FieldNotString)
        );
        let truncated = &long[..long.len() - 3];
        assert_eq!(scan(truncated, "message", 1 << 20).err(), Some(Passthrough::Malformed));
        let mut namespaced_number = namespaced(Value::of(Kind::Integer(7)), (1, 0));
        let Some(event_wrapper::Event::Log(l)) = &mut namespaced_number.event else {
            unreachable!()
        };
        l.fields.clear();
        let bytes = namespaced_number.encode_to_vec();
        assert_eq!(scan(&bytes, "message", 1 << 20).err(), Some(Passthrough::RootNotString));
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        let fields = entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        Value::of(Kind::Map(ValueMap { fields }))
    }

    fn stamp((seconds, nanos): (i64, i32)) -> Value {
        Value::of(Kind::Timestamp(prost_types::Timestamp { seconds, nanos }))
    }

    /// A log as Vector's namespaced mode sends it: the root value, a dummy
    /// "." field, and `%vector` in the metadata.
    fn namespaced(root: Value, read_at: (i64, i32)) -> EventWrapper {
        let meta_value = map(&[(
            "vector",
            map(&[
                ("source_type", Value::string("file")),
                ("ingest_timestamp", stamp(read_at)),
            ]),
        )]);
        let body = meta_value.encode_to_vec();
        let mut metadata_full = vec![0x0a]; // Metadata.value
        prost::encoding::encode_varint(body.len() as u64, &mut metadata_full);
        metadata_full.extend_from_slice(&body);
        let mut l = Log::default();
        l.fields.insert(".".to_owned(), Value::of(Kind::Null(0)));
        l.value = Some(root);
        l.metadata = Some(Bytes::from(body));
        l.metadata_full = Some(Bytes::from(metadata_full));
        EventWrapper {
            event: Some(event_wrapper::Event::Log(l)),
        }
    }

    fn relayed(input: &EventWrapper) -> Log {
        let bytes = input.encode_to_vec();
        let s = scan(&bytes, "message", 1 << 20).expect("a line");
        let ev = Enricher::new(Config::default()).enrich(s.line(&bytes));
        let out = splice(&bytes, &s, &ev, &mut Scratch::default(), &mut BytesMut::new());
        match EventWrapper::decode(out).unwrap().event {
            Some(event_wrapper::Event::Log(l)) => l,
            _ => panic!("a log"),
        }
    }

    /// Legacy and namespaced logs of the same line come out with the same
    /// enriched fields at the same paths, and their read time is found in
    /// either place.
    #[test]
    fn both_log_modes_are_enriched_alike() {
        let line =
            "Jun 19 16:27:22 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.7] auth=0/1 quit=1 commands=1/2";
        let read_at = (1_718_807_242, 123_456_789);
        let legacy = log(&[("message", Value::string(line)), ("timestamp", stamp(read_at))]);
        let spaced = namespaced(Value::string(line), read_at);
        let expected = crate::vector::event_fields(&Enricher::new(Config::default()).enrich(line.as_bytes()));
        assert!(expected.contains_key("postfix") && expected.contains_key("client"));

        for (mode, input) in [("legacy", &legacy), ("namespaced", &spaced)] {
            let bytes = input.encode_to_vec();
            let s = scan(&bytes, "message", 1 << 20).expect("a line");
            assert_eq!(s.line(&bytes), line.as_bytes(), "{mode}");
            assert_eq!(ingest_time(&bytes, &s), Some(read_at), "{mode}");
            let out = relayed(input);
            for (k, v) in &expected {
                assert_eq!(out.fields.get(k), Some(v), "{mode}: {k}");
            }
            assert!(out.value.is_none(), "{mode}: the root is an object");
        }
        // Namespaced: nothing but the enriched fields (the dummy "." is gone),
        // and the metadata byte for byte.
        let out = relayed(&spaced);
        assert_eq!(out.fields, expected);
        let Some(event_wrapper::Event::Log(sent)) = &spaced.event else {
            unreachable!()
        };
        assert_eq!(out.metadata_full, sent.metadata_full);
        assert_eq!(out.metadata, sent.metadata);
    }
}
