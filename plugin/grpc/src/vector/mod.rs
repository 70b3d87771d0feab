//! Vector's native protocol: the relay stage (`vector.Vector` served by the
//! sidecar, forwarding to a Vector `vector` source) and the conversion of an
//! enriched [`Event`] into Vector's dynamic values (also used by the exporter).
//!
//! Context choice: one [`Enricher`] shared by all concurrent `PushEvents`
//! calls, behind a mutex taken once per batch. The core keys smtpd state by
//! host+program+pid (and postscreen by client address), so lines of different
//! hosts and processes interleaving across batches do not disturb each other;
//! what one lock per batch buys over a per-host shard map is simplicity, and
//! on a sidecar the lock is held only for the CPU work of enrichment, while
//! decoding, encoding and the downstream call run outside it in parallel.
//!
//! Retries: Vector re-sends a batch the relay refused (downstream down). Re-
//! enriching it would feed the same lines to the context twice (a session
//! seen to connect twice, commands counted twice), so a refused batch is kept,
//! enriched, under a hash of its encoded form (deterministic: maps are
//! BTreeMaps, so equal batches encode equally), and a re-sent identical batch is
//! forwarded from there instead ([`RETRY_CACHE`] batches at most).

mod ser;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use postfix_enrich_core::{Enricher, Event};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::metrics::{Method, METRICS};
use crate::pb::vector::{
    vector_server, HealthCheckRequest, HealthCheckResponse, PushEventsRequest, PushEventsResponse, ServingStatus,
};
use wire::value::Kind;
use wire::{event_wrapper, Value, ValueArray, ValueMap};

/// A JSON value as a Vector value (the reference the direct serializer is tested against).
#[cfg(test)]
fn from_json(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    Value::of(match v {
        J::Null => Kind::Null(wire::ValueNull::NullValue as i32),
        J::Bool(b) => Kind::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Kind::Integer(i),
            None => Kind::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Kind::RawBytes(Bytes::from(s)),
        J::Array(a) => Kind::Array(ValueArray {
            items: a.into_iter().map(from_json).collect(),
        }),
        J::Object(m) => Kind::Map(ValueMap {
            fields: m.into_iter().map(|(k, v)| (k, from_json(v))).collect(),
        }),
    })
}

/// The fields of `ev` as Vector values: the nested JSON Event, field for
/// field, except that `@timestamp` is a native timestamp so that Vector sinks
/// format it as a time.
pub fn event_fields(ev: &Event<'_>) -> BTreeMap<String, Value> {
    let Ok(Value {
        kind: Some(Kind::Map(ValueMap { fields: mut out })),
    }) = ser::to_value(ev)
    else {
        unreachable!("an Event serializes as an object")
    };
    if let Some(t) = &ev.timestamp {
        out.insert(
            "@timestamp".to_owned(),
            Value::of(Kind::Timestamp(crate::convert::timestamp(t))),
        );
    }
    out
}

/// Merges `src` into `dst`: objects merge key by key, anything else in `src`
/// replaces what `dst` had (the enriched fields win; other fields stay).
pub fn merge(dst: &mut BTreeMap<String, Value>, src: BTreeMap<String, Value>) {
    use std::collections::btree_map::Entry;
    for (k, v) in src {
        match dst.entry(k) {
            Entry::Occupied(mut o) => match (o.get_mut(), v) {
                (
                    Value {
                        kind: Some(Kind::Map(old)),
                    },
                    Value {
                        kind: Some(Kind::Map(new)),
                    },
                ) => merge(&mut old.fields, new.fields),
                (slot, v) => *slot = v,
            },
            Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
}

/// Enriches one log event in place from its `field`; false when the event has
/// no such string field (then it is left untouched).
fn enrich_log(enricher: &mut Enricher, log: &mut wire::Log, field: &str, max_line: usize) -> bool {
    if log.value.is_some() {
        return false; // a non-object root has no fields to merge into
    }
    let line = match log.fields.get(field) {
        Some(Value {
            kind: Some(Kind::RawBytes(b)),
        }) if b.len() <= max_line => b.clone(),
        _ => return false,
    };
    let ev = enricher.enrich(&line);
    METRICS.observe_event(&ev);
    let fields = event_fields(&ev);
    merge(&mut log.fields, fields);
    true
}

/// Refused batches kept enriched for Vector's retry.
pub const RETRY_CACHE: usize = 32;

/// An enriched batch shared by the downstream call and the retry cache, so
/// keeping it for a retry costs no copy.
#[derive(Debug, Clone, Default)]
struct SharedBatch(Arc<PushEventsRequest>);

impl prost::Message for SharedBatch {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        self.0.encode_raw(buf)
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        Arc::make_mut(&mut self.0).merge_field(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }

    fn clear(&mut self) {
        self.0 = Arc::default();
    }
}

/// Identifies a batch across Vector's re-sends (which are byte-identical):
/// a hash of its whole content, walked rather than encoded (cheaper).
fn batch_key(req: &PushEventsRequest) -> u64 {
    fn value(v: &Value, h: &mut impl Hasher) {
        match &v.kind {
            None => 0u8.hash(h),
            Some(Kind::RawBytes(b)) => (1u8, b).hash(h),
            Some(Kind::Timestamp(t)) => (2u8, t.seconds, t.nanos).hash(h),
            Some(Kind::Integer(i)) => (4u8, i).hash(h),
            Some(Kind::Float(f)) => (5u8, f.to_bits()).hash(h),
            Some(Kind::Boolean(b)) => (6u8, b).hash(h),
            Some(Kind::Map(m)) => map(&m.fields, h),
            Some(Kind::Array(a)) => {
                (8u8, a.items.len()).hash(h);
                a.items.iter().for_each(|i| value(i, h));
            }
            Some(Kind::Null(_)) => 9u8.hash(h),
        }
    }
    fn map(m: &BTreeMap<String, Value>, h: &mut impl Hasher) {
        (7u8, m.len()).hash(h);
        for (k, v) in m {
            k.hash(h);
            value(v, h);
        }
    }
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    req.events.len().hash(&mut h);
    for w in &req.events {
        match &w.event {
            None => 0u8.hash(&mut h),
            Some(event_wrapper::Event::Log(log)) => {
                map(&log.fields, &mut h);
                log.value.as_ref().map(|v| value(v, &mut h)).hash(&mut h);
                (&log.metadata, &log.metadata_full).hash(&mut h);
            }
            Some(event_wrapper::Event::Metric(b)) => (2u8, b).hash(&mut h),
            Some(event_wrapper::Event::Trace(b)) => (3u8, b).hash(&mut h),
        }
    }
    h.finish()
}

/// The relay: `vector.Vector` in, enriched, `vector.Vector` out.
pub struct Relay {
    enricher: Mutex<Enricher>,
    field: String,
    max_line_bytes: usize,
    call_timeout: Duration,
    downstream: Channel,
    downstream_addr: String,
    refused: Mutex<VecDeque<(u64, Arc<PushEventsRequest>)>>,
}

impl Relay {
    /// A relay enriching `field` and forwarding to the Vector source at `addr`
    /// (`host:port`). The connection is made lazily and re-made after failures.
    pub fn new(
        enricher: Enricher,
        field: String,
        max_line_bytes: usize,
        call_timeout: Duration,
        addr: &str,
    ) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Relay {
            enricher: Mutex::new(enricher),
            field,
            max_line_bytes,
            call_timeout,
            downstream: channel,
            downstream_addr: addr.to_owned(),
            refused: Mutex::new(VecDeque::new()),
        })
    }

    fn enrich_batch(&self, req: &mut PushEventsRequest) {
        let mut enricher = self.enricher.lock().unwrap_or_else(|p| p.into_inner());
        let dropped_before = enricher.stats().dropped();
        for w in &mut req.events {
            let enriched = match &mut w.event {
                Some(event_wrapper::Event::Log(log)) => {
                    enrich_log(&mut enricher, log, &self.field, self.max_line_bytes)
                }
                _ => false,
            };
            if !enriched {
                METRICS.relay_passthrough.fetch_add(1, Relaxed);
            }
        }
        let dropped = enricher.stats().dropped().saturating_sub(dropped_before);
        METRICS.evictions.fetch_add(dropped, Relaxed);
    }

    /// The enriched form of `req`: from the retry cache when this batch was
    /// refused before, else enriched now.
    fn prepare(&self, mut req: PushEventsRequest, key: u64) -> Arc<PushEventsRequest> {
        {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = refused.iter().position(|(k, _)| *k == key) {
                return refused.remove(i).expect("index found").1;
            }
        }
        self.enrich_batch(&mut req);
        Arc::new(req)
    }

    fn keep_for_retry(&self, key: u64, batch: Arc<PushEventsRequest>) {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.len() == RETRY_CACHE {
            refused.pop_front();
        }
        refused.push_back((key, batch));
    }

    async fn forward(&self, batch: Arc<PushEventsRequest>) -> Result<(), Status> {
        let mut grpc = tonic::client::Grpc::new(self.downstream.clone());
        grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
        let path = PathAndQuery::from_static("/vector.Vector/PushEvents");
        let codec = crate::codec::Codec::<SharedBatch, PushEventsResponse>::default();
        grpc.unary(Request::new(SharedBatch(batch)), path, codec)
            .await
            .map(drop)
    }
}

#[tonic::async_trait]
impl vector_server::Vector for Relay {
    async fn push_events(&self, request: Request<PushEventsRequest>) -> Result<Response<PushEventsResponse>, Status> {
        let start = Instant::now();
        let req = request.into_inner();
        let n = req.events.len() as u64;
        let key = batch_key(&req);
        let batch = self.prepare(req, key);
        let result = tokio::time::timeout(self.call_timeout, self.forward(batch.clone())).await;
        let status = match result {
            Ok(Ok(_)) => {
                METRICS.relay_forwarded.fetch_add(n, Relaxed);
                METRICS.observe_latency(Method::PushEvents, start.elapsed());
                return Ok(Response::new(PushEventsResponse {}));
            }
            // Anything transient becomes UNAVAILABLE, which Vector retries;
            // the downstream's own refusals (bad data) are passed on as they are.
            Ok(Err(st)) => match st.code() {
                Code::InvalidArgument
                | Code::NotFound
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::ResourceExhausted
                | Code::Unimplemented => Status::new(
                    st.code(),
                    format!("downstream {}: {}", self.downstream_addr, st.message()),
                ),
                _ => Status::unavailable(format!(
                    "downstream Vector {} unavailable ({:?}: {}); retry later",
                    self.downstream_addr,
                    st.code(),
                    st.message()
                )),
            },
            Err(_) => Status::deadline_exceeded(format!(
                "downstream Vector {} did not answer within {:?} (--call-timeout)",
                self.downstream_addr, self.call_timeout
            )),
        };
        METRICS.relay_downstream_errors.fetch_add(1, Relaxed);
        self.keep_for_retry(key, batch);
        tracing::warn!(code = ?status.code(), "{}", status.message());
        Err(status)
    }

    async fn health_check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postfix_enrich_core::Config;

    #[test]
    fn enriched_fields_merge_and_others_stay() {
        let mut log = wire::Log::default();
        log.fields.insert(
            "message".into(),
            Value::string("Jun 19 16:27:21 mx postfix/smtpd[1]: connect from unknown[192.0.2.7]"),
        );
        log.fields.insert("source_type".into(), Value::string("file"));
        let mut postfix = BTreeMap::new();
        postfix.insert("mine".to_owned(), Value::of(Kind::Integer(1)));
        log.fields
            .insert("postfix".into(), Value::of(Kind::Map(ValueMap { fields: postfix })));
        log.metadata_full = Some(Bytes::from_static(b"\x1a\x03abc"));
        let mut e = Enricher::new(Config::default());
        assert!(enrich_log(&mut e, &mut log, "message", 1 << 20));
        assert_eq!(log.fields["source_type"], Value::string("file"));
        let Some(Kind::Map(pf)) = &log.fields["postfix"].kind else {
            panic!("postfix is a map")
        };
        assert_eq!(pf.fields["mine"], Value::of(Kind::Integer(1)));
        assert_eq!(pf.fields["event"], Value::string("connect"));
        assert!(pf.fields.contains_key("session_id"));
        assert_eq!(log.metadata_full.as_deref(), Some(&b"\x1a\x03abc"[..]));
    }
}
