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
//! Batches of one sending host take the lock in the order Vector read them,
//! not in the order they arrived ([`order`]).
//!
//! Log modes: with Vector's legacy (default) schema a log is an object and the
//! line is its `--field`; the enriched fields are merged into it. With
//! `schema.log_namespace: true` a log's root is the line itself: it becomes an
//! object holding the enriched fields (`message` is the line, redacted), and
//! the metadata (`%vector`, `%file`...) is kept as it was. Either way a
//! downstream Vector sees the same enriched fields at the same paths.
//!
//! Retries: Vector re-sends a batch the relay refused (downstream down). Re-
//! enriching it would feed the same lines to the context twice (a session
//! seen to connect twice, commands counted twice), so a refused batch is kept,
//! enriched, under a hash of its encoded form (deterministic: maps are
//! BTreeMaps, so equal batches encode equally), and a re-sent identical batch is
//! forwarded from there instead ([`RETRY_CACHE`] batches at most).

pub mod order;
pub mod raw;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use postfix_enrich_core::{Enricher, Event};
use prost::Message as _;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

use crate::blocklist::SharedBlocklists;
use crate::metrics::{Method, METRICS};
use crate::pb::vector::{vector_server, HealthCheckRequest, HealthCheckResponse, PushEventsResponse, ServingStatus};
use order::{Sequencer, Turn};
use raw::{Passthrough, RawPush, Scan};
use wire::value::Kind;
use wire::{Value, ValueMap};

/// A JSON value as a Vector value (the reference the protobuf writer is tested against).
#[cfg(test)]
fn from_json(v: serde_json::Value) -> Value {
    use bytes::Bytes;
    use serde_json::Value as J;
    use wire::ValueArray;
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
/// format it as a time. (Decoded from [`raw::event_entries`], the one writer:
/// a list of map entries is a `ValueMap` body.)
pub fn event_fields(ev: &Event<'_>) -> BTreeMap<String, Value> {
    let mut entries = Vec::with_capacity(1024);
    raw::event_entries(ev, &mut entries);
    ValueMap::decode(&entries[..]).expect("just encoded").fields
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

/// Refused batches kept enriched for Vector's retry.
pub const RETRY_CACHE: usize = 32;

/// An enriched batch shared by the downstream call and the retry cache, so
/// keeping it for a retry costs no copy.
#[derive(Debug, Clone, Default)]
struct SharedBatch(Arc<RawPush>);

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

/// Identifies a batch across Vector's re-sends (which are byte-identical).
fn batch_key(req: &RawPush) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    for e in &req.events {
        h.update(&(e.len() as u64).to_le_bytes());
        h.update(e);
    }
    h.digest()
}

/// Counts an event forwarded unenriched, and says why the first time each
/// cause occurs (a relay that silently passes lines on looks like it works).
fn passed_through(cause: Passthrough) {
    static WARNED: [AtomicBool; Passthrough::ALL.len()] = [const { AtomicBool::new(false) }; Passthrough::ALL.len()];
    let i = Passthrough::ALL.iter().position(|c| *c == cause).unwrap_or(0);
    METRICS.relay_passthrough_causes[i].inc();
    if !WARNED[i].swap(true, Relaxed) {
        let why = match cause {
            Passthrough::NotALog => "a metric or trace event: only logs are enriched",
            Passthrough::NoField => "a log without the --field field",
            Passthrough::FieldNotString => "a log whose --field is not a string",
            Passthrough::RootNotString => "a namespaced log whose value is neither a string nor an object",
            Passthrough::LineTooLong => "a line longer than --max-line-bytes",
            Passthrough::Malformed => "an event that does not decode",
        };
        tracing::warn!(
            cause = cause.as_str(),
            "forwarding events unenriched: {why} (counted in \
             postfix_enrich_relay_passthrough_events_total{{cause}}, logged once per cause)"
        );
    }
}

/// When the sending Vector read the batch's first log: its place in the
/// order. (Only the first log is scanned here, on the async worker; the whole
/// batch is scanned on the blocking pool.)
fn first_stamp(req: &RawPush, field: &str, max_line_bytes: usize) -> Option<order::Stamp> {
    req.events
        .iter()
        .find_map(|e| {
            raw::scan(e, field, max_line_bytes)
                .ok()
                .map(|s| raw::ingest_time(e, &s))
        })
        .flatten()
}

/// What enriching a batch needs, shared with tokio's blocking pool.
struct BatchEnricher {
    enricher: Mutex<Enricher>,
    blocklists: Arc<SharedBlocklists>,
    field: String,
    max_line_bytes: usize,
}

impl BatchEnricher {
    /// Enriches a batch during its `turn`. Only the enrichment holds the
    /// lock and the turn (it must see the lines in order); finding the lines
    /// and writing the merged events run in parallel across concurrent calls.
    fn enrich(&self, req: RawPush, turn: Turn) -> RawPush {
        let scans: Vec<Result<Scan, Passthrough>> = req
            .events
            .iter()
            .map(|e| raw::scan(e, &self.field, self.max_line_bytes))
            .collect();
        let events: Vec<Option<Event<'_>>> = {
            let mut enricher = self.enricher.lock().unwrap_or_else(|p| p.into_inner());
            // A reread (SIGHUP) applies from the next batch on.
            self.blocklists.refresh(&mut enricher);
            let dropped_before = enricher.stats().dropped();
            let events = scans
                .iter()
                .zip(&req.events)
                .map(|(s, e)| s.as_ref().ok().map(|s| enricher.enrich(s.line(e))))
                .collect();
            let dropped = enricher.stats().dropped().saturating_sub(dropped_before);
            METRICS.evictions.inc_by(dropped);
            events
        };
        drop(turn);
        let mut scratch = raw::Scratch::default();
        // One allocation for the whole enriched batch: each event is split
        // off it. An enriched event is its input plus a few hundred bytes.
        let input: usize = req.events.iter().map(Bytes::len).sum();
        let mut out = BytesMut::with_capacity(input + 512 * req.events.len());
        let out = req
            .events
            .iter()
            .zip(scans.iter().zip(&events))
            .map(|(wrapper, (s, ev))| match (s, ev) {
                (Ok(s), Some(ev)) => {
                    METRICS.observe_event(ev);
                    raw::splice(wrapper, s, ev, &mut scratch, &mut out)
                }
                (s, _) => {
                    if let Err(cause) = s {
                        passed_through(*cause);
                    }
                    wrapper.clone()
                }
            })
            .collect();
        RawPush { events: out }
    }
}

/// The relay: `vector.Vector` in, enriched, `vector.Vector` out.
pub struct Relay {
    batches: Arc<BatchEnricher>,
    order: Sequencer,
    call_timeout: Duration,
    downstream: Channel,
    downstream_addr: String,
    refused: Mutex<VecDeque<(u64, Arc<RawPush>)>>,
}

impl Relay {
    /// A relay enriching `field` with the lists of `blocklists` in force at
    /// each batch, and forwarding to the Vector source at `addr`
    /// (`host:port`), holding each batch up to `reorder_window` for earlier
    /// ones ([`order`]). The connection is made lazily and re-made after failures.
    pub fn new(
        enricher: Enricher,
        blocklists: Arc<SharedBlocklists>,
        field: String,
        max_line_bytes: usize,
        call_timeout: Duration,
        reorder_window: Duration,
        addr: &str,
    ) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(crate::codec::WINDOW))
            .initial_connection_window_size(Some(4 * crate::codec::WINDOW))
            .connect_lazy();
        Ok(Relay {
            batches: Arc::new(BatchEnricher {
                enricher: Mutex::new(enricher),
                blocklists,
                field,
                max_line_bytes,
            }),
            order: Sequencer::new(reorder_window),
            call_timeout,
            downstream: channel,
            downstream_addr: addr.to_owned(),
            refused: Mutex::new(VecDeque::new()),
        })
    }

    /// The enriched form of `req`: from the retry cache when this batch was
    /// refused before, else enriched now.
    ///
    /// The CPU work of a batch (a few milliseconds) runs on tokio's blocking
    /// pool, so it never stalls the other tasks of an async worker (other
    /// calls' I/O, health checks). Throughput is the same either way within
    /// the load bench's noise.
    async fn prepare(&self, req: RawPush, key: u64, peer: IpAddr) -> Result<Arc<RawPush>, Status> {
        {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = refused.iter().position(|(k, _)| *k == key) {
                return Ok(refused.remove(i).expect("index found").1);
            }
        }
        let batches = self.batches.clone();
        let stamp = first_stamp(&req, &batches.field, batches.max_line_bytes);
        let turn = self.order.turn(peer, stamp).await;
        match tokio::task::spawn_blocking(move || batches.enrich(req, turn)).await {
            Ok(batch) => Ok(Arc::new(batch)),
            Err(e) => Err(Status::internal(format!("enriching the batch failed: {e}"))),
        }
    }

    fn keep_for_retry(&self, key: u64, batch: Arc<RawPush>) {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.len() == RETRY_CACHE {
            refused.pop_front();
        }
        refused.push_back((key, batch));
    }

    async fn forward(&self, batch: Arc<RawPush>) -> Result<(), Status> {
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
    async fn push_events(&self, request: Request<RawPush>) -> Result<Response<PushEventsResponse>, Status> {
        let start = Instant::now();
        let peer = request
            .remote_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let req = request.into_inner();
        let n = req.events.len() as u64;
        let key = batch_key(&req);
        let batch = self.prepare(req, key, peer).await?;
        let result = tokio::time::timeout(self.call_timeout, self.forward(batch.clone())).await;
        let status = match result {
            Ok(Ok(_)) => {
                METRICS.relay_forwarded.inc_by(n);
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
        METRICS.relay_downstream_errors.inc();
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
    use postfix_enrich_core::{enrich_line, Config};

    /// The protobuf writer gives the JSON form, field for field.
    #[test]
    fn event_fields_are_the_json_event() {
        let line = b"2024-06-19T16:27:22.123456+02:00 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";
        let ev = enrich_line(line, &Config::default());
        let serde_json::Value::Object(json) = serde_json::to_value(&ev).unwrap() else {
            unreachable!()
        };
        let mut expected: BTreeMap<String, Value> = json.into_iter().map(|(k, v)| (k, from_json(v))).collect();
        let t = crate::convert::timestamp(ev.timestamp.as_ref().unwrap());
        expected.insert("@timestamp".into(), Value::of(Kind::Timestamp(t)));
        assert_eq!(event_fields(&ev), expected);
    }
}
