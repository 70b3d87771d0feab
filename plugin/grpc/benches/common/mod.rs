//! Input shared by the relay benchmarks: the real-Postfix recording as the
//! encoded `EventWrapper`s a Vector `file` source would send.

use postfix_enrich_grpc::vector::wire::{event_wrapper, value, EventWrapper, Log, Value};
use prost::Message;

/// The recording, one line per event.
pub const CORPUS: &[u8] = include_bytes!("../../../../tests/corpus/recording/syslog.log");

/// The recording's lines.
pub fn lines() -> Vec<&'static [u8]> {
    CORPUS.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect()
}

/// One encoded log event: the line in `message` beside the usual host,
/// source type, file and ingest timestamp fields.
pub fn log_event(line: &[u8]) -> Vec<u8> {
    let mut log = Log::default();
    log.fields
        .insert("message".into(), Value::string(String::from_utf8_lossy(line)));
    log.fields.insert("host".into(), Value::string("vector-node-1"));
    log.fields.insert("source_type".into(), Value::string("file"));
    log.fields.insert("file".into(), Value::string("/var/log/mail.log"));
    let read_at = prost_types::Timestamp {
        seconds: 1_764_000_000,
        nanos: 0,
    };
    log.fields
        .insert("timestamp".into(), Value::of(value::Kind::Timestamp(read_at)));
    EventWrapper {
        event: Some(event_wrapper::Event::Log(log)),
    }
    .encode_to_vec()
}
