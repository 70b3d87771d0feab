//! Prometheus metrics of the sidecar and the exporter, and the tiny HTTP
//! endpoint that serves them (`--metrics-listen`).
//!
//! Hand-rolled on purpose: a dozen counters and three histograms are a few
//! atomics and one `format!` loop, whereas the `prometheus` crate brings a
//! registry, protobuf support and locks, and `metrics` needs an exporter crate
//! that starts its own hyper server. Counters are process-wide statics because
//! every path (unary, stream, relay, exporter) feeds the same families.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use postfix_enrich_core::{Event, EventKind, VerdictClass};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::vector::raw::Passthrough;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram (cumulative counts are computed when rendering).
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS.iter().position(|&b| secs <= b).unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }
}

/// Which RPC a latency belongs to.
#[derive(Clone, Copy)]
pub enum Method {
    /// `Enricher/Enrich` (whole call).
    Enrich = 0,
    /// `Enricher/EnrichStream` (one request of the stream).
    EnrichStream = 1,
    /// `vector.Vector/PushEvents` (enrich + forward).
    PushEvents = 2,
    /// One export attempt (exporter).
    Export = 3,
}

const METHODS: [&str; 4] = ["Enrich", "EnrichStream", "PushEvents", "Export"];

/// Every metric of the process.
pub struct Metrics {
    /// Lines received for enrichment.
    pub lines_in: AtomicU64,
    /// Events produced.
    pub events_out: AtomicU64,
    /// Events whose line was not understood.
    pub unparsed: AtomicU64,
    /// Verdicts by class, then not suspicious / suspicious (a class can be
    /// either: repetition makes an otherwise quiet class suspicious).
    verdicts: [[AtomicU64; 2]; VerdictClass::ALL.len()],
    /// Context entries evicted or expired (all maps).
    pub evictions: AtomicU64,
    /// Requests refused by a limit or a malformed input.
    pub rejected: AtomicU64,
    /// Open `EnrichStream` calls.
    pub open_streams: AtomicU64,
    /// Relay: events forwarded downstream (acknowledged).
    pub relay_forwarded: AtomicU64,
    /// Relay: events passed without enrichment, by cause (`Passthrough::ALL` order).
    pub relay_passthrough_causes: [AtomicU64; Passthrough::ALL.len()],
    /// Relay: batches enriched after a later batch of the same host.
    pub relay_late_batches: AtomicU64,
    /// Relay: batches refused because the downstream failed.
    pub relay_downstream_errors: AtomicU64,
    /// Exporter: events delivered.
    pub export_delivered: AtomicU64,
    /// Exporter: events given up at shutdown.
    pub export_undelivered: AtomicU64,
    /// Exporter: failed attempts (each retried).
    pub export_retries: AtomicU64,
    /// Blocklist rereads (SIGHUP): failed, succeeded.
    blocklist_reloads: [AtomicU64; 2],
    latency: [Histogram; METHODS.len()],
}

/// The process-wide metrics.
pub static METRICS: Metrics = Metrics {
    lines_in: AtomicU64::new(0),
    events_out: AtomicU64::new(0),
    unparsed: AtomicU64::new(0),
    verdicts: [const { [const { AtomicU64::new(0) }; 2] }; VerdictClass::ALL.len()],
    evictions: AtomicU64::new(0),
    rejected: AtomicU64::new(0),
    open_streams: AtomicU64::new(0),
    relay_forwarded: AtomicU64::new(0),
    relay_passthrough_causes: [const { AtomicU64::new(0) }; Passthrough::ALL.len()],
    relay_late_batches: AtomicU64::new(0),
    relay_downstream_errors: AtomicU64::new(0),
    export_delivered: AtomicU64::new(0),
    export_undelivered: AtomicU64::new(0),
    export_retries: AtomicU64::new(0),
    blocklist_reloads: [const { AtomicU64::new(0) }; 2],
    latency: [const { Histogram::new() }; METHODS.len()],
};

impl Metrics {
    /// Counts one produced event (and its line).
    pub fn observe_event(&self, ev: &Event<'_>) {
        self.lines_in.fetch_add(1, Relaxed);
        self.events_out.fetch_add(1, Relaxed);
        if ev.postfix.event == EventKind::Unparsed {
            self.unparsed.fetch_add(1, Relaxed);
        }
        if let Some(p) = &ev.probe {
            if let Some(i) = VerdictClass::ALL.iter().position(|c| *c == p.class) {
                self.verdicts[i][usize::from(p.suspicious)].fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts one blocklist reread.
    pub fn observe_blocklist_reload(&self, ok: bool) {
        self.blocklist_reloads[usize::from(ok)].fetch_add(1, Relaxed);
    }

    /// Records the latency of one call.
    pub fn observe_latency(&self, m: Method, d: Duration) {
        self.latency[m as usize].observe(d);
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, v: &AtomicU64, kind: &str| {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Relaxed)
            );
        };
        counter(
            "postfix_enrich_lines_in_total",
            "Lines received for enrichment.",
            &self.lines_in,
            "counter",
        );
        counter(
            "postfix_enrich_events_out_total",
            "Enriched events produced.",
            &self.events_out,
            "counter",
        );
        counter(
            "postfix_enrich_unparsed_total",
            "Events whose line was not understood (passed through, marked unparsed).",
            &self.unparsed,
            "counter",
        );
        counter(
            "postfix_enrich_context_evictions_total",
            "Session-context entries evicted or expired.",
            &self.evictions,
            "counter",
        );
        counter(
            "postfix_enrich_rejected_requests_total",
            "Requests refused by a limit or as malformed.",
            &self.rejected,
            "counter",
        );
        counter(
            "postfix_enrich_open_streams",
            "Open EnrichStream calls.",
            &self.open_streams,
            "gauge",
        );
        counter(
            "postfix_enrich_relay_forwarded_events_total",
            "Relay: events acknowledged by the downstream Vector.",
            &self.relay_forwarded,
            "counter",
        );
        counter(
            "postfix_enrich_relay_late_batches_total",
            "Relay: batches enriched after a later batch of the same host (beyond --reorder-window).",
            &self.relay_late_batches,
            "counter",
        );
        counter(
            "postfix_enrich_relay_downstream_errors_total",
            "Relay: batches refused upstream because the downstream failed.",
            &self.relay_downstream_errors,
            "counter",
        );
        counter(
            "postfix_enrich_export_delivered_events_total",
            "Exporter: events acknowledged by the endpoint.",
            &self.export_delivered,
            "counter",
        );
        counter(
            "postfix_enrich_export_undelivered_events_total",
            "Exporter: events given up at shutdown.",
            &self.export_undelivered,
            "counter",
        );
        counter(
            "postfix_enrich_export_retries_total",
            "Exporter: failed attempts (retried with backoff).",
            &self.export_retries,
            "counter",
        );
        o.push_str("# HELP postfix_enrich_relay_passthrough_events_total Relay: events forwarded without enrichment, by cause.\n# TYPE postfix_enrich_relay_passthrough_events_total counter\n");
        for (c, v) in Passthrough::ALL.iter().zip(&self.relay_passthrough_causes) {
            let _ = writeln!(
                o,
                "postfix_enrich_relay_passthrough_events_total{{cause=\"{}\"}} {}",
                c.as_str(),
                v.load(Relaxed)
            );
        }
        o.push_str("# HELP postfix_enrich_blocklist_reloads_total Blocklist rereads on SIGHUP, by result (a failed one keeps the old lists).\n# TYPE postfix_enrich_blocklist_reloads_total counter\n");
        for (result, n) in ["failed", "ok"].iter().zip(&self.blocklist_reloads) {
            let _ = writeln!(
                o,
                "postfix_enrich_blocklist_reloads_total{{result=\"{result}\"}} {}",
                n.load(Relaxed)
            );
        }
        o.push_str("# HELP postfix_enrich_verdicts_total Session verdicts by probe class and whether they were suspicious.\n# TYPE postfix_enrich_verdicts_total counter\n");
        for (c, v) in VerdictClass::ALL.iter().zip(&self.verdicts) {
            for (suspicious, n) in ["false", "true"].iter().zip(v) {
                let _ = writeln!(
                    o,
                    "postfix_enrich_verdicts_total{{class=\"{}\",suspicious=\"{suspicious}\"}} {}",
                    c.as_str(),
                    n.load(Relaxed)
                );
            }
        }
        o.push_str("# HELP postfix_enrich_request_seconds Request latency by method.\n# TYPE postfix_enrich_request_seconds histogram\n");
        for (m, h) in METHODS.iter().zip(&self.latency) {
            let mut cum = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += h.buckets[i].load(Relaxed);
                let _ = writeln!(
                    o,
                    "postfix_enrich_request_seconds_bucket{{method=\"{m}\",le=\"{b}\"}} {cum}"
                );
            }
            cum += h.buckets[BUCKETS.len()].load(Relaxed);
            let _ = writeln!(
                o,
                "postfix_enrich_request_seconds_bucket{{method=\"{m}\",le=\"+Inf\"}} {cum}"
            );
            let _ = writeln!(
                o,
                "postfix_enrich_request_seconds_sum{{method=\"{m}\"}} {}",
                h.sum_micros.load(Relaxed) as f64 / 1e6
            );
            let _ = writeln!(o, "postfix_enrich_request_seconds_count{{method=\"{m}\"}} {cum}");
        }
        o
    }
}

/// Serves `GET /metrics` (any other path: 404) until the task is dropped.
/// One request per connection; the body is small, so no keep-alive.
pub async fn serve_http(listener: TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut n = 0;
            // Read the request head (bounded), with a timeout against idle sockets.
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let head = &buf[..n];
            let resp = if head.starts_with(b"GET /metrics ") || head.starts_with(b"GET /metrics?") {
                let body = METRICS.render();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
