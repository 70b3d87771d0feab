//! Encoders: an [`Event`] as NDJSON, nested (ECS objects) or flat (dotted
//! keys, for stores that prefer them). Encoding is separate from parsing so
//! adapters choose the form and reuse one buffer per line.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::Event;

/// Appends the nested JSON form of `ev` to `out` (no newline).
pub fn write_json(ev: &Event<'_>, out: &mut Vec<u8>) {
    // Serializing these types cannot fail: every map key is a string and no
    // value is a non-finite float (delays are parsed from decimal text).
    ev.serialize(&mut serde_json::Serializer::new(out))
        .expect("event serializes");
}

/// The nested JSON form of `ev`.
pub fn to_json_string(ev: &Event<'_>) -> String {
    let mut v = Vec::with_capacity(512);
    write_json(ev, &mut v);
    String::from_utf8(v).expect("serde_json writes UTF-8")
}

/// Appends the flat form of `ev` (`{"client.ip": ..., "postfix.event": ...}`) to `out`.
pub fn write_flat_json(ev: &Event<'_>, out: &mut Vec<u8>) {
    let nested = serde_json::to_value(ev).expect("event serializes");
    let mut flat = Map::new();
    flatten("", nested, &mut flat);
    serde_json::to_writer(out, &Value::Object(flat)).expect("map serializes");
}

fn flatten(prefix: &str, v: Value, out: &mut Map<String, Value>) {
    match v {
        // Disconnect statistics stay an object: their keys are data, not schema.
        Value::Object(m) if !prefix.ends_with("disconnect_stats") && !prefix.ends_with("probe.commands") => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other);
        }
    }
}
