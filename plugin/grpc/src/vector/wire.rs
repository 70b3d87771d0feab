//! Vector's `event` package on the wire, written by hand (prost derive)
//! rather than generated, so that a relay can carry what it does not touch as
//! opaque bytes: metric and trace events, and a log's metadata (which may hold
//! secrets and fields newer than this build). Re-encoding an opaque
//! length-delimited field reproduces it byte for byte, whereas decoding it
//! into generated structs would silently drop unknown fields.
//!
//! Field numbers follow shared/integrations/vector.md and proto/vector/event.proto.

use std::collections::BTreeMap;

use bytes::Bytes;

/// One event of a `PushEventsRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventWrapper {
    /// Log, metric or trace.
    #[prost(oneof = "event_wrapper::Event", tags = "1, 2, 3")]
    pub event: Option<event_wrapper::Event>,
}

/// The variants of [`EventWrapper`].
pub mod event_wrapper {
    /// A log (decoded), or a metric or trace (kept as encoded bytes).
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Event {
        /// A log event.
        #[prost(message, tag = "1")]
        Log(super::Log),
        /// An encoded `event.Metric`, passed through untouched.
        #[prost(bytes = "bytes", tag = "2")]
        Metric(bytes::Bytes),
        /// An encoded `event.Trace`, passed through untouched.
        #[prost(bytes = "bytes", tag = "3")]
        Trace(bytes::Bytes),
    }
}

/// A log event.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    /// Fields of an object-root log.
    #[prost(btree_map = "string, message", tag = "1")]
    pub fields: BTreeMap<String, Value>,
    /// A non-object root (decoders prefer it to `fields` when present).
    #[prost(message, optional, tag = "2")]
    pub value: Option<Value>,
    /// Deprecated metadata value, kept encoded.
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub metadata: Option<Bytes>,
    /// `event.Metadata`, kept encoded: never decoded, never logged.
    #[prost(bytes = "bytes", optional, tag = "4")]
    pub metadata_full: Option<Bytes>,
}

/// A dynamically typed value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The value (tag 3 is reserved by Vector).
    #[prost(oneof = "value::Kind", tags = "1, 2, 4, 5, 6, 7, 8, 9")]
    pub kind: Option<value::Kind>,
}

/// The variants of [`Value`].
pub mod value {
    /// What a [`super::Value`] holds.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// Bytes; strings travel as UTF-8 here.
        #[prost(bytes = "bytes", tag = "1")]
        RawBytes(bytes::Bytes),
        /// A point in time.
        #[prost(message, tag = "2")]
        Timestamp(prost_types::Timestamp),
        /// An integer.
        #[prost(int64, tag = "4")]
        Integer(i64),
        /// A float.
        #[prost(double, tag = "5")]
        Float(f64),
        /// A boolean.
        #[prost(bool, tag = "6")]
        Boolean(bool),
        /// An object.
        #[prost(message, tag = "7")]
        Map(super::ValueMap),
        /// An array.
        #[prost(message, tag = "8")]
        Array(super::ValueArray),
        /// Null.
        #[prost(enumeration = "super::ValueNull", tag = "9")]
        Null(i32),
    }
}

/// An object.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueMap {
    /// Its fields.
    #[prost(btree_map = "string, message", tag = "1")]
    pub fields: BTreeMap<String, Value>,
}

/// An array.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueArray {
    /// Its items.
    #[prost(message, repeated, tag = "1")]
    pub items: Vec<Value>,
}

/// The only null.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ValueNull {
    /// Null.
    NullValue = 0,
}

impl Value {
    /// A value of the given kind.
    pub fn of(kind: value::Kind) -> Self {
        Value { kind: Some(kind) }
    }

    /// A UTF-8 string value.
    pub fn string(s: impl Into<String>) -> Self {
        Value::of(value::Kind::RawBytes(Bytes::from(s.into())))
    }
}
