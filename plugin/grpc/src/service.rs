//! The `postfix_enrich.v1.Enricher` service: unary `Enrich` (a fresh context
//! per call) and bidirectional `EnrichStream` (one context per stream), with
//! the limits of [`Limits`] answered by documented status codes. Every call
//! and every batch of a stream enriches with the blocklists in force when it
//! starts ([`SharedBlocklists`]).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postfix_enrich_core::{Config, Enricher};
use tokio::sync::Semaphore;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::blocklist::SharedBlocklists;
use crate::convert;
use crate::metrics::{Method, METRICS};
use crate::pb::v1::{self as pb, enricher_server};

/// Per-request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest accepted line (bytes); longer: INVALID_ARGUMENT.
    pub max_line_bytes: usize,
    /// Unary calls (and relay pushes) must finish within this; else DEADLINE_EXCEEDED.
    pub call_timeout: Duration,
    /// Open `EnrichStream` calls at once; one more: RESOURCE_EXHAUSTED.
    pub max_streams: usize,
}

/// Refuses a request holding a line over the limit.
pub(crate) fn check_lines(lines: &[pb::LogLine], max: usize) -> Result<(), Status> {
    match lines.iter().position(|l| l.line.len() > max) {
        None => Ok(()),
        Some(i) => {
            METRICS.rejected.inc();
            Err(Status::invalid_argument(format!(
                "line {i} of the request is {} bytes, over the limit of {max} bytes (--max-line-bytes)",
                lines[i].line.len()
            )))
        }
    }
}

/// Enriches a batch; `deadline` is checked every 1024 lines because the
/// work is synchronous and cannot be interrupted by a timer.
fn enrich_batch(
    enricher: &mut Enricher,
    lines: &[pb::LogLine],
    deadline: Option<(Instant, Duration)>,
) -> Result<pb::EnrichResponse, Status> {
    let dropped_before = enricher.stats().dropped();
    let mut events = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i % 1024 == 1023 {
            if let Some((at, limit)) = deadline {
                if Instant::now() > at {
                    METRICS.rejected.inc();
                    return Err(Status::deadline_exceeded(format!(
                        "call took longer than {limit:?} (--call-timeout) after {i} lines"
                    )));
                }
            }
        }
        let ev = enricher.enrich(&line.line);
        METRICS.observe_event(&ev);
        let mut pe = convert::event(&ev);
        convert::apply_line_defaults(line, &mut pe);
        events.push(pe);
    }
    let dropped = enricher.stats().dropped().saturating_sub(dropped_before);
    METRICS.evictions.inc_by(dropped);
    Ok(pb::EnrichResponse { events })
}

/// The service state.
pub struct EnricherService {
    config: Config,
    limits: Limits,
    streams: Arc<Semaphore>,
    blocklists: Arc<SharedBlocklists>,
}

impl EnricherService {
    /// A service enriching with `config` (its blocklists replaced by
    /// `blocklists`' current ones) under `limits`.
    pub fn new(config: Config, limits: Limits, blocklists: Arc<SharedBlocklists>) -> Self {
        EnricherService {
            config,
            limits,
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            blocklists,
        }
    }

    /// A fresh enricher with the lists now in force.
    fn enricher(&self) -> Enricher {
        let mut enricher = Enricher::new(self.config.clone());
        enricher.set_blocklists(self.blocklists.current());
        enricher
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<pb::EnrichResponse, Status>> + Send>>;

#[tonic::async_trait]
impl enricher_server::Enricher for EnricherService {
    async fn enrich(&self, request: Request<pb::EnrichRequest>) -> Result<Response<pb::EnrichResponse>, Status> {
        let start = Instant::now();
        let req = request.into_inner();
        check_lines(&req.lines, self.limits.max_line_bytes)?;
        let mut enricher = self.enricher();
        let deadline = Some((start + self.limits.call_timeout, self.limits.call_timeout));
        let resp = enrich_batch(&mut enricher, &req.lines, deadline)?;
        METRICS.observe_latency(Method::Enrich, start.elapsed());
        Ok(Response::new(resp))
    }

    type EnrichStreamStream = ResponseStream;

    async fn enrich_stream(
        &self,
        request: Request<Streaming<pb::EnrichRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
            METRICS.rejected.inc();
            Status::resource_exhausted(format!(
                "{} streams are already open, the limit (--max-streams)",
                self.limits.max_streams
            ))
        })?;
        METRICS.open_streams.inc();
        let guard = StreamGuard(permit);
        let max_line = self.limits.max_line_bytes;
        let mut enricher = self.enricher();
        let blocklists = self.blocklists.clone();
        // tonic ends the call with the first error the stream yields.
        let out = request.into_inner().map(move |req| {
            let _held = &guard;
            let start = Instant::now();
            let req = req?;
            check_lines(&req.lines, max_line)?;
            // A reread (SIGHUP) reaches open streams at their next batch.
            blocklists.refresh(&mut enricher);
            let resp = enrich_batch(&mut enricher, &req.lines, None)?;
            METRICS.observe_latency(Method::EnrichStream, start.elapsed());
            Ok(resp)
        });
        Ok(Response::new(Box::pin(out)))
    }
}

/// Holds a stream slot; releases it (and the gauge) when the stream ends.
struct StreamGuard(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        METRICS.open_streams.dec();
    }
}
