//! A serde `Serializer` that builds Vector [`Value`]s directly, so the relay
//! turns an [`postfix_enrich_core::Event`] into Vector fields without the
//! intermediate `serde_json::Value` tree (half the allocations on the relay's
//! hot path). Names and shapes are exactly those of the JSON form, since both
//! come from the same `Serialize` impls.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::ser::{self, Serialize};

use super::wire::{value::Kind, Value, ValueArray, ValueMap, ValueNull};

/// Why a value could not be represented (never happens for Events).
#[derive(Debug)]
pub struct Error(pub(crate) String);

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

/// Serializes any `Serialize` value into a Vector [`Value`].
pub fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, Error> {
    v.serialize(ValueSerializer)
}

/// The serializer (stateless).
pub struct ValueSerializer;

fn v(kind: Kind) -> Result<Value, Error> {
    Ok(Value::of(kind))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = ser::Impossible<Value, Error>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = ser::Impossible<Value, Error>;

    fn serialize_bool(self, b: bool) -> Result<Value, Error> {
        v(Kind::Boolean(b))
    }
    fn serialize_i8(self, n: i8) -> Result<Value, Error> {
        v(Kind::Integer(n.into()))
    }
    fn serialize_i16(self, n: i16) -> Result<Value, Error> {
        v(Kind::Integer(n.into()))
    }
    fn serialize_i32(self, n: i32) -> Result<Value, Error> {
        v(Kind::Integer(n.into()))
    }
    fn serialize_i64(self, n: i64) -> Result<Value, Error> {
        v(Kind::Integer(n))
    }
    fn serialize_u8(self, n: u8) -> Result<Value, Error> {
        v(Kind::Integer(n.into()))
    }
    fn serialize_u16(self, n: u16) -> Result<Value, Error> {
        v(Kind::Integer(n.into()))
    }
    fn serialize_u32(self, n: u32) -> Result<Value, Error> {
        v(Kind::Integer(n.into()))
    }
    fn serialize_u64(self, n: u64) -> Result<Value, Error> {
        // Vector integers are i64; counts and sizes never come near the edge.
        v(Kind::Integer(i64::try_from(n).unwrap_or(i64::MAX)))
    }
    fn serialize_f32(self, n: f32) -> Result<Value, Error> {
        v(Kind::Float(n.into()))
    }
    fn serialize_f64(self, n: f64) -> Result<Value, Error> {
        v(Kind::Float(n))
    }
    fn serialize_char(self, c: char) -> Result<Value, Error> {
        v(Kind::RawBytes(Bytes::from(c.to_string())))
    }
    fn serialize_str(self, s: &str) -> Result<Value, Error> {
        v(Kind::RawBytes(Bytes::copy_from_slice(s.as_bytes())))
    }
    fn serialize_bytes(self, b: &[u8]) -> Result<Value, Error> {
        v(Kind::RawBytes(Bytes::copy_from_slice(b)))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        v(Kind::Null(ValueNull::NullValue as i32))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Value, Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        let mut fields = BTreeMap::new();
        fields.insert(variant.to_owned(), value.serialize(ValueSerializer)?);
        v(Kind::Map(ValueMap { fields }))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, Error> {
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
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::default())
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

/// Builds an array.
pub struct SeqBuilder(Vec<Value>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        v(Kind::Array(ValueArray { items: self.0 }))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

/// Builds an object.
#[derive(Default)]
pub struct MapBuilder {
    fields: BTreeMap<String, Value>,
    key: Option<String>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        match key.serialize(ValueSerializer)?.kind {
            Some(Kind::RawBytes(b)) => {
                self.key = Some(String::from_utf8(b.to_vec()).map_err(|e| Error(e.to_string()))?);
                Ok(())
            }
            _ => Err(Error("map keys must be strings".into())),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| Error("value without a key".into()))?;
        self.fields.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        v(Kind::Map(ValueMap { fields: self.fields }))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.fields.insert(key.to_owned(), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        v(Kind::Map(ValueMap { fields: self.fields }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postfix_enrich_core::{enrich_line, Config};

    /// The direct form equals the JSON form, field for field.
    #[test]
    fn same_as_through_json() {
        let line = b"Jun 19 16:27:22 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";
        let ev = enrich_line(line, &Config::default());
        let direct = to_value(&ev).unwrap();
        let via_json = super::super::from_json(serde_json::to_value(&ev).unwrap());
        assert_eq!(direct, via_json);
    }
}
