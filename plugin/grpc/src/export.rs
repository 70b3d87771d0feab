//! Export of enriched events (`postfix-enrich --export URL`): batches pushed to
//! a Vector `vector` source (`vector://HOST:PORT`) or to any OTLP/gRPC logs
//! endpoint (`otlp://HOST:PORT`: OpenTelemetry Collector, Vector's
//! `opentelemetry` source, Fluent Bit).
//!
//! Delivery guarantees: a bounded buffer between the reader and the sender
//! (`--export-buffer` events) blocks the reader when full, so a slow or absent
//! endpoint slows reading down instead of dropping events; failed attempts are
//! retried with exponential backoff for as long as the reader runs; at
//! shutdown ([`ExportHandle::finish`]) what is buffered is sent for up to
//! `--export-drain-timeout`, and whatever could not be delivered is counted in
//! the returned [`ExportReport`], never silently lost.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};
use opentelemetry_proto::tonic::collector::logs::v1::{
    logs_service_client::LogsServiceClient, ExportLogsServiceRequest,
};
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use postfix_enrich_core::{encode, Event};
use prost::Message as _;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::metrics::{Method, METRICS};
use crate::pb::vector::vector_client::VectorClient;
use crate::serve::parse_duration;
use crate::vector::raw::RawPush;
use crate::vector::wire::{event_wrapper, EventWrapper, Log};

/// Export options, to flatten into a command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Push enriched events to `vector://HOST:PORT` (a Vector `vector` source)
    /// or `otlp://HOST:PORT` (an OTLP/gRPC logs endpoint) instead of writing NDJSON.
    #[arg(long, value_name = "URL")]
    pub export: Option<String>,
    /// Events per pushed batch.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub export_batch: usize,
    /// Longest wait before a partial batch is sent.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub export_linger: Duration,
    /// Events buffered between reading and sending; reading waits when full.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub export_buffer: usize,
    /// Deadline of one push attempt.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub export_timeout: Duration,
    /// At shutdown, how long to keep trying to deliver what was read.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub export_drain_timeout: Duration,
    /// OTLP `service.name` resource attribute.
    #[arg(long, default_value = "postfix", value_name = "NAME")]
    pub export_service_name: String,
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Vector `vector` source at this `host:port`.
    Vector(String),
    /// An OTLP/gRPC logs endpoint at this `host:port`.
    Otlp(String),
}

impl Target {
    /// Parses `vector://HOST:PORT` or `otlp://HOST:PORT`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let (scheme, addr) = url
            .split_once("://")
            .with_context(|| format!("export URL {url:?} has no scheme (vector:// or otlp://)"))?;
        let addr = addr.trim_end_matches('/');
        if addr.is_empty() || !addr.contains(':') {
            bail!("export URL {url:?} needs HOST:PORT");
        }
        match scheme {
            "vector" => Ok(Target::Vector(addr.to_owned())),
            "otlp" => Ok(Target::Otlp(addr.to_owned())),
            _ => bail!("export URL {url:?}: scheme must be vector:// or otlp://"),
        }
    }

    fn addr(&self) -> &str {
        match self {
            Target::Vector(a) | Target::Otlp(a) => a,
        }
    }
}

/// What the exporter did, returned at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Events the endpoint acknowledged.
    pub delivered: u64,
    /// Events read but not delivered (endpoint down past the drain deadline,
    /// or refused as invalid).
    pub undelivered: u64,
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events delivered, {} not delivered",
            self.delivered, self.undelivered
        )
    }
}

enum Client {
    Vector(VectorClient<Channel>),
    Otlp(LogsServiceClient<Channel>),
}

/// A prepared batch, encoded once and re-sent as is on retries.
enum Batch {
    Vector(RawPush),
    Otlp(ExportLogsServiceRequest),
}

/// Sends batches of events to one target (one attempt per [`Exporter::send`]).
pub struct Exporter {
    client: Client,
    target: Target,
    service_name: String,
    timeout: Duration,
}

impl Exporter {
    /// An exporter to `target`. The connection is lazy (made on first send and
    /// re-made after failures), so this must run inside a tokio runtime but
    /// does not need the endpoint to be up.
    pub fn new(target: Target, service_name: String, timeout: Duration) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(format!("http://{}", target.addr()))?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        let client = match &target {
            Target::Vector(_) => Client::Vector(VectorClient::new(channel)),
            Target::Otlp(_) => Client::Otlp(LogsServiceClient::new(channel)),
        };
        Ok(Exporter {
            client,
            target,
            service_name,
            timeout,
        })
    }

    fn prepare(&self, events: &[Event<'static>]) -> Batch {
        match self.client {
            Client::Vector(_) => Batch::Vector(RawPush {
                events: events.iter().map(|e| vector_event(e).encode_to_vec().into()).collect(),
            }),
            Client::Otlp(_) => Batch::Otlp(otlp_request(events, &self.service_name)),
        }
    }

    async fn attempt(&mut self, batch: &Batch) -> Result<(), Status> {
        let start = Instant::now();
        let call = async {
            match (&mut self.client, batch) {
                (Client::Vector(c), Batch::Vector(r)) => c.push_events(r.clone()).await.map(drop),
                (Client::Otlp(c), Batch::Otlp(r)) => c.export(r.clone()).await.map(|resp| {
                    // A partial success names what the endpoint refused; it is not retried.
                    if let Some(p) = resp.into_inner().partial_success {
                        if p.rejected_log_records > 0 {
                            tracing::warn!(rejected = p.rejected_log_records, "{}", p.error_message);
                        }
                    }
                }),
                _ => unreachable!("batches are prepared for their client"),
            }
        };
        let r = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {:?} (--export-timeout)",
                self.timeout
            ))),
        };
        METRICS.observe_latency(Method::Export, start.elapsed());
        r
    }

    /// Sends `events` in one push, once (no retry).
    pub async fn send(&mut self, events: &[Event<'static>]) -> Result<(), Status> {
        let batch = self.prepare(events);
        self.attempt(&batch).await
    }
}

/// Codes that mean the batch itself is refused: retrying cannot help.
fn permanent(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented
            | Code::DataLoss
            | Code::OutOfRange
    )
}

/// An event for a Vector `vector` source: the JSON Event's fields, plus
/// Vector's standard `timestamp` so that its sinks find the time.
fn vector_event(ev: &Event<'static>) -> EventWrapper {
    let mut fields = crate::vector::event_fields(ev);
    if let Some(t) = fields.get("@timestamp").cloned() {
        fields.insert("timestamp".to_owned(), t);
    }
    EventWrapper {
        event: Some(event_wrapper::Event::Log(Log {
            fields,
            ..Log::default()
        })),
    }
}

fn any(v: serde_json::Value) -> AnyValue {
    use any_value::Value as A;
    use serde_json::Value as J;
    let value = match v {
        J::Null => None,
        J::Bool(b) => Some(A::BoolValue(b)),
        J::Number(n) => Some(match n.as_i64() {
            Some(i) => A::IntValue(i),
            None => A::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        J::String(s) => Some(A::StringValue(s)),
        J::Array(a) => Some(A::ArrayValue(ArrayValue {
            values: a.into_iter().map(any).collect(),
        })),
        J::Object(m) => Some(A::KvlistValue(KeyValueList {
            values: m.into_iter().map(|(k, v)| kv(k, any(v))).collect(),
        })),
    };
    AnyValue { value }
}

fn kv(key: String, value: AnyValue) -> KeyValue {
    KeyValue {
        key,
        value: Some(value),
        ..KeyValue::default()
    }
}

fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_owned())),
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One OTLP log record: body = the line (as the Event's `message`, so with
/// secrets redacted), attributes = the enriched fields with dotted keys (the
/// core's flat form), minus what the body and the resource already carry.
fn log_record(ev: &Event<'static>, observed: u64) -> LogRecord {
    let mut flat = Vec::with_capacity(512);
    encode::write_flat_json(ev, &mut flat);
    let serde_json::Value::Object(map) = serde_json::from_slice(&flat).expect("flat JSON parses") else {
        unreachable!("an Event is an object")
    };
    let attributes = map
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "message" | "@timestamp" | "host.name"))
        .map(|(k, v)| kv(k, any(v)))
        .collect();
    let time = ev.timestamp.as_ref().map_or(0, |t| {
        let ts = crate::convert::timestamp(t);
        u64::try_from(ts.seconds).unwrap_or(0) * 1_000_000_000 + ts.nanos as u64
    });
    // OTLP SeverityNumber: INFO = 9, WARN = 13, ERROR = 17, FATAL = 21.
    let (severity_number, severity_text) = match ev.log.level {
        Some("info") => (9, "info"),
        Some("warning") => (13, "warning"),
        Some("error") => (17, "error"),
        Some(l @ ("fatal" | "panic")) => (21, l),
        Some(l) => (0, l),
        None => (0, ""),
    };
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        severity_number,
        severity_text: severity_text.to_owned(),
        body: Some(string(&ev.message)),
        attributes,
        ..LogRecord::default()
    }
}

/// An OTLP request: one `ResourceLogs` per host (resource = `host.name` and
/// `service.name`), records in the order read.
fn otlp_request(events: &[Event<'static>], service_name: &str) -> ExportLogsServiceRequest {
    let observed = unix_nanos(SystemTime::now());
    let mut by_host: Vec<(Option<&str>, Vec<LogRecord>)> = Vec::new();
    for ev in events {
        let host = ev.host.as_ref().map(|h| &*h.name);
        let rec = log_record(ev, observed);
        match by_host.iter_mut().find(|(h, _)| *h == host) {
            Some((_, recs)) => recs.push(rec),
            None => by_host.push((host, vec![rec])),
        }
    }
    let resource_logs = by_host
        .into_iter()
        .map(|(host, log_records)| {
            let mut attributes = vec![kv("service.name".to_owned(), string(service_name))];
            if let Some(h) = host {
                attributes.push(kv("host.name".to_owned(), string(h)));
            }
            ResourceLogs {
                resource: Some(Resource {
                    attributes,
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "postfix-enrich".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    log_records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

/// A handle the (synchronous) reader feeds; the sending runs on its own
/// thread with a small tokio runtime.
pub struct ExportHandle {
    tx: mpsc::Sender<Event<'static>>,
    thread: std::thread::JoinHandle<ExportReport>,
}

impl ExportHandle {
    /// Starts exporting when `args.export` is set (else `Ok(None)`).
    pub fn start(args: &ExportArgs) -> anyhow::Result<Option<Self>> {
        let Some(url) = &args.export else {
            return Ok(None);
        };
        let target = Target::parse(url)?;
        let args = args.clone();
        let (tx, rx) = mpsc::channel(args.export_buffer.max(1));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the export runtime")?;
        let exporter = {
            let _guard = rt.enter();
            Exporter::new(target, args.export_service_name.clone(), args.export_timeout)?
        };
        let thread = std::thread::Builder::new()
            .name("export".into())
            .spawn(move || rt.block_on(run(exporter, rx, args)))
            .context("starting the export thread")?;
        Ok(Some(ExportHandle { tx, thread }))
    }

    /// Queues one event; blocks while the buffer is full (backpressure).
    /// Fails only when the export thread is gone.
    pub fn push(&self, ev: Event<'static>) -> anyhow::Result<()> {
        self.tx
            .blocking_send(ev)
            .map_err(|_| anyhow::anyhow!("the export thread has stopped"))
    }

    /// Stops taking events, delivers what is buffered (within
    /// `--export-drain-timeout`) and reports what was and was not delivered.
    pub fn finish(self) -> ExportReport {
        drop(self.tx);
        self.thread.join().unwrap_or_else(|_| {
            tracing::error!("the export thread panicked");
            ExportReport::default()
        })
    }
}

/// The export loop: batch, send with retries, drain at shutdown.
async fn run(mut exporter: Exporter, mut rx: mpsc::Receiver<Event<'static>>, args: ExportArgs) -> ExportReport {
    let mut report = ExportReport::default();
    let mut drain_until: Option<Instant> = None;
    let max = args.export_batch.max(1);
    loop {
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut events = Vec::with_capacity(max);
        events.push(first);
        let linger = tokio::time::sleep(args.export_linger);
        tokio::pin!(linger);
        while events.len() < max {
            tokio::select! {
                biased;
                ev = rx.recv() => match ev {
                    Some(ev) => events.push(ev),
                    None => break,
                },
                _ = &mut linger => break,
            }
        }
        let n = events.len() as u64;
        let batch = exporter.prepare(&events);
        drop(events);
        let mut backoff = Duration::from_millis(100);
        loop {
            match exporter.attempt(&batch).await {
                Ok(()) => {
                    report.delivered += n;
                    METRICS.export_delivered.inc_by(n);
                    break;
                }
                Err(st) if permanent(st.code()) => {
                    tracing::error!(code = ?st.code(), events = n, "export refused: {}", st.message());
                    report.undelivered += n;
                    break;
                }
                Err(st) => {
                    METRICS.export_retries.inc();
                    if drain_until.is_none() && rx.is_closed() {
                        drain_until = Some(Instant::now() + args.export_drain_timeout);
                    }
                    if drain_until.is_some_and(|d| Instant::now() + backoff > d) {
                        tracing::error!(
                            events = n,
                            "export to {} failed until the drain deadline: {}",
                            exporter.target.addr(),
                            st.message()
                        );
                        report.undelivered += n;
                        // Nothing more can be delivered: count what is still buffered.
                        rx.close();
                        while rx.recv().await.is_some() {
                            report.undelivered += 1;
                        }
                        METRICS.export_undelivered.inc_by(report.undelivered);
                        return report;
                    }
                    tracing::warn!(code = ?st.code(), retry_in = ?backoff, "export to {} failed: {}", exporter.target.addr(), st.message());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
    METRICS.export_undelivered.inc_by(report.undelivered);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Target::parse("vector://127.0.0.1:6000").unwrap(),
            Target::Vector("127.0.0.1:6000".into())
        );
        assert_eq!(
            Target::parse("otlp://collector:4317/").unwrap(),
            Target::Otlp("collector:4317".into())
        );
        assert!(Target::parse("http://x:1").is_err());
        assert!(Target::parse("otlp://nohost").is_err());
    }

    #[test]
    fn otlp_record_has_dotted_attributes_and_the_line_as_body() {
        use postfix_enrich_core::{enrich_line, Config, IntoStatic};
        let line = b"Jun 19 16:27:22 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";
        let ev = enrich_line(line, &Config::default()).into_static();
        let req = otlp_request(&[ev], "postfix");
        let rl = &req.resource_logs[0];
        let res = &rl.resource.as_ref().unwrap().attributes;
        assert!(res.iter().any(|kv| kv.key == "host.name"));
        let rec = &rl.scope_logs[0].log_records[0];
        assert!(rec.time_unix_nano > 0);
        let keys: Vec<&str> = rec.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert!(keys.contains(&"client.ip"), "{keys:?}");
        assert!(keys.contains(&"probe.class"), "{keys:?}");
        assert!(!keys.contains(&"message"));
    }
}
