//! Prometheus metrics of the sidecar and the exporter, kept in a
//! `prometheus-client` registry, and the tiny HTTP endpoint that serves them
//! (`--metrics-listen`).
//!
//! Counters are process-wide (every path: unary, stream, relay, exporter
//! feeds the same families). Each labelled series is created at start and its
//! handle kept, so the hot path is one atomic increment, as with hand-made
//! atomics, and every series is scraped from 0 (PromQL's `increase()` needs
//! that first sample). The HTTP side stays a small tokio responder: one GET
//! per scrape does not need hyper's server.

use std::sync::LazyLock;
use std::time::Duration;

use postfix_enrich_core::{Event, EventKind, VerdictClass};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::vector::raw::Passthrough;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

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

/// A label set of one label.
type Label = [(&'static str, &'static str); 1];

/// Every metric of the process, with the registry that renders them.
pub struct Metrics {
    registry: Registry,
    /// Lines received for enrichment.
    pub lines_in: Counter,
    /// Events produced.
    pub events_out: Counter,
    /// Events whose line was not understood.
    pub unparsed: Counter,
    /// Verdicts by class (`VerdictClass::ALL` order), then not suspicious /
    /// suspicious (a class can be either: repetition makes an otherwise quiet
    /// class suspicious).
    verdicts: Vec<[Counter; 2]>,
    /// Context entries evicted or expired (all maps).
    pub evictions: Counter,
    /// Requests refused by a limit or a malformed input.
    pub rejected: Counter,
    /// Open `EnrichStream` calls.
    pub open_streams: Gauge,
    /// Relay: events forwarded downstream (acknowledged).
    pub relay_forwarded: Counter,
    /// Relay: events passed without enrichment, by cause (`Passthrough::ALL` order).
    pub relay_passthrough_causes: Vec<Counter>,
    /// Relay: batches enriched after a later batch of the same host.
    pub relay_late_batches: Counter,
    /// Relay: batches refused because the downstream failed.
    pub relay_downstream_errors: Counter,
    /// Exporter: events delivered.
    pub export_delivered: Counter,
    /// Exporter: events given up at shutdown.
    pub export_undelivered: Counter,
    /// Exporter: failed attempts (each retried).
    pub export_retries: Counter,
    /// Blocklist rereads (SIGHUP): failed, succeeded.
    blocklist_reloads: [Counter; 2],
    /// Latency by method (`METHODS` order).
    latency: Vec<Histogram>,
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        // prometheus-client appends `_total` to counter names.
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let lines_in = counter("postfix_enrich_lines_in", "Lines received for enrichment");
        let events_out = counter("postfix_enrich_events_out", "Enriched events produced");
        let unparsed = counter(
            "postfix_enrich_unparsed",
            "Events whose line was not understood (passed through, marked unparsed)",
        );
        let evictions = counter(
            "postfix_enrich_context_evictions",
            "Session-context entries evicted or expired",
        );
        let rejected = counter(
            "postfix_enrich_rejected_requests",
            "Requests refused by a limit or as malformed",
        );
        let relay_forwarded = counter(
            "postfix_enrich_relay_forwarded_events",
            "Relay: events acknowledged by the downstream Vector",
        );
        let relay_late_batches = counter(
            "postfix_enrich_relay_late_batches",
            "Relay: batches enriched after a later batch of the same host (beyond --reorder-window)",
        );
        let relay_downstream_errors = counter(
            "postfix_enrich_relay_downstream_errors",
            "Relay: batches refused upstream because the downstream failed",
        );
        let export_delivered = counter(
            "postfix_enrich_export_delivered_events",
            "Exporter: events acknowledged by the endpoint",
        );
        let export_undelivered = counter(
            "postfix_enrich_export_undelivered_events",
            "Exporter: events given up at shutdown",
        );
        let export_retries = counter(
            "postfix_enrich_export_retries",
            "Exporter: failed attempts (retried with backoff)",
        );

        let open_streams = Gauge::default();
        registry.register(
            "postfix_enrich_open_streams",
            "Open EnrichStream calls",
            open_streams.clone(),
        );

        let passthrough = Family::<Label, Counter>::default();
        registry.register(
            "postfix_enrich_relay_passthrough_events",
            "Relay: events forwarded without enrichment, by cause",
            passthrough.clone(),
        );
        let relay_passthrough_causes = Passthrough::ALL
            .iter()
            .map(|c| passthrough.get_or_create_owned(&[("cause", c.as_str())]))
            .collect();

        let verdict_family = Family::<[(&'static str, &'static str); 2], Counter>::default();
        registry.register(
            "postfix_enrich_verdicts",
            "Session verdicts by probe class and whether they were suspicious",
            verdict_family.clone(),
        );
        let verdicts = VerdictClass::ALL
            .iter()
            .map(|c| {
                ["false", "true"].map(|suspicious| {
                    verdict_family.get_or_create_owned(&[("class", c.as_str()), ("suspicious", suspicious)])
                })
            })
            .collect();

        let reloads = Family::<Label, Counter>::default();
        registry.register(
            "postfix_enrich_blocklist_reloads",
            "Blocklist rereads on SIGHUP, by result (a failed one keeps the old lists)",
            reloads.clone(),
        );
        let blocklist_reloads = ["failed", "ok"].map(|r| reloads.get_or_create_owned(&[("result", r)]));

        let latency_family =
            Family::<Label, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS.iter().copied()));
        registry.register(
            "postfix_enrich_request_seconds",
            "Request latency by method",
            latency_family.clone(),
        );
        let latency = METHODS
            .iter()
            .map(|m| latency_family.get_or_create_owned(&[("method", *m)]))
            .collect();

        Metrics {
            registry,
            lines_in,
            events_out,
            unparsed,
            verdicts,
            evictions,
            rejected,
            open_streams,
            relay_forwarded,
            relay_passthrough_causes,
            relay_late_batches,
            relay_downstream_errors,
            export_delivered,
            export_undelivered,
            export_retries,
            blocklist_reloads,
            latency,
        }
    }

    /// Counts one produced event (and its line).
    pub fn observe_event(&self, ev: &Event<'_>) {
        self.lines_in.inc();
        self.events_out.inc();
        if ev.postfix.event == EventKind::Unparsed {
            self.unparsed.inc();
        }
        if let Some(p) = &ev.probe {
            if let Some(i) = VerdictClass::ALL.iter().position(|c| *c == p.class) {
                self.verdicts[i][usize::from(p.suspicious)].inc();
            }
        }
    }

    /// Counts one blocklist reread.
    pub fn observe_blocklist_reload(&self, ok: bool) {
        self.blocklist_reloads[usize::from(ok)].inc();
    }

    /// Records the latency of one call.
    pub fn observe_latency(&self, m: Method, d: Duration) {
        self.latency[m as usize].observe(d.as_secs_f64());
    }

    /// The Prometheus text exposition (format 0.0.4) of everything.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(8192);
        prometheus_client::encoding::prometheus_text::encode(&mut o, &self.registry)
            .expect("writing to a String does not fail");
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
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The names dashboards and the README's PromQL use: renaming one breaks them.
    #[test]
    fn series_keep_their_names_and_labels() {
        let line = b"Jun 19 16:27:22 mx postfix/smtpd[7]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2";
        let ev = postfix_enrich_core::enrich_line(line, &postfix_enrich_core::Config::default());
        let class = ev.probe.as_ref().expect("a verdict").class.as_str();
        let series = format!("postfix_enrich_verdicts_total{{class=\"{class}\",suspicious=\"true\"}} ");
        let count = |text: &str| -> u64 {
            let line = text
                .lines()
                .find(|l| l.starts_with(&series))
                .expect("series present at 0");
            line[series.len()..].parse().unwrap()
        };
        let before = count(&METRICS.render());
        METRICS.observe_event(&ev);
        METRICS.observe_latency(Method::PushEvents, Duration::from_millis(3));
        let text = METRICS.render();
        assert_eq!(count(&text), before + 1);
        for name in [
            "postfix_enrich_lines_in_total ",
            "postfix_enrich_events_out_total ",
            "postfix_enrich_unparsed_total ",
            "postfix_enrich_context_evictions_total ",
            "postfix_enrich_rejected_requests_total ",
            "postfix_enrich_open_streams ",
            "postfix_enrich_relay_forwarded_events_total ",
            "postfix_enrich_relay_late_batches_total ",
            "postfix_enrich_relay_downstream_errors_total ",
            "postfix_enrich_relay_passthrough_events_total{cause=\"not_a_log\"} ",
            "postfix_enrich_export_delivered_events_total ",
            "postfix_enrich_export_undelivered_events_total ",
            "postfix_enrich_export_retries_total ",
            "postfix_enrich_blocklist_reloads_total{result=\"failed\"} ",
            "postfix_enrich_blocklist_reloads_total{result=\"ok\"} ",
            "postfix_enrich_request_seconds_bucket{method=\"PushEvents\",le=\"0.005\"} ",
            "postfix_enrich_request_seconds_count{method=\"PushEvents\"} ",
        ] {
            assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing in\n{text}");
        }
    }
}
