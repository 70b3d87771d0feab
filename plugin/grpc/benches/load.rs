//! Load benchmark (not a test): the sidecar and a Rust load generator in one
//! process, over loopback TCP, on separate runtimes.
//!
//! 1. `EnrichStream`: N concurrent streams send batches of the recorded corpus
//!    (pipelined, a few batches in flight per stream); reports lines/s and
//!    p50/p99 batch latency.
//! 2. Relay: concurrent `vector.Vector/PushEvents` calls of log events through
//!    the sidecar to an in-process downstream `vector` source; reports events/s
//!    at each level of CONCURRENCY (a comma list, default 4 and 16: Vector's
//!    sink raises its concurrency while latency stays flat).
//! 3. Flood: many `EnrichStream` calls opened at once against
//!    `--max-streams`; reports how many were refused and the RSS growth.
//!
//! The relayed events carry Vector's ingest `timestamp`, so each batch goes
//! through the reordering window (REORDER_WINDOW_MS, default serve's).
//!
//! Each figure is the median of RUNS runs of SECS seconds (environment
//! variables; defaults 5 and 4). The client sends pre-encoded requests and
//! decodes responses only down to the event bytes, so it costs little next to
//! the server. Run: `cargo bench -p postfix-enrich-grpc --bench load`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes};
use postfix_enrich_core::Config;
use postfix_enrich_grpc::codec::Codec;
use postfix_enrich_grpc::pb::vector::{vector_server, PushEventsResponse};
use postfix_enrich_grpc::vector::raw::RawPush;
use postfix_enrich_grpc::ServeArgs;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

mod common;

/// A request encoded once and sent as is.
#[derive(Clone, Default)]
struct PreEncoded(Bytes);

impl Message for PreEncoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}

/// An `EnrichResponse` decoded only down to each event's bytes.
#[derive(Clone, PartialEq, Message)]
struct CountedResponse {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    events: Vec<Bytes>,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds used by this process so far (user + system), from /proc.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<i64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // utime and stime are fields 14 and 15 of the line; the state letter (3) is
    // not a number and is filtered out, so they are 10 and 11 here.
    f.get(10).zip(f.get(11)).map_or(0.0, |(u, s)| (u + s) as f64 / 100.0)
}

fn enrich_request(batch: usize) -> PreEncoded {
    use postfix_enrich_grpc::pb::v1::{EnrichRequest, LogLine};
    let all = common::lines();
    let req = EnrichRequest {
        lines: all
            .iter()
            .cycle()
            .take(batch)
            .map(|l| LogLine {
                line: l.to_vec(),
                ..LogLine::default()
            })
            .collect(),
    };
    PreEncoded(req.encode_to_vec().into())
}

fn push_request(batch: usize) -> PreEncoded {
    let all = common::lines();
    let events = all
        .iter()
        .cycle()
        .take(batch)
        .map(|l| common::log_event(l).into())
        .collect();
    PreEncoded(RawPush { events }.encode_to_vec().into())
}

async fn wait_ready(addr: SocketAddr) -> Channel {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(2 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .connect()
        .await
        .expect("connect")
}

/// A downstream Vector `vector` source that counts what it accepts.
struct CountingSink(Arc<AtomicU64>);

#[tonic::async_trait]
impl vector_server::Vector for CountingSink {
    async fn push_events(&self, r: Request<RawPush>) -> Result<Response<PushEventsResponse>, Status> {
        self.0.fetch_add(r.into_inner().events.len() as u64, Relaxed);
        Ok(Response::new(PushEventsResponse {}))
    }
    async fn health_check(
        &self,
        _: Request<postfix_enrich_grpc::pb::vector::HealthCheckRequest>,
    ) -> Result<Response<postfix_enrich_grpc::pb::vector::HealthCheckResponse>, Status> {
        Ok(Response::new(Default::default()))
    }
}

/// One stream for `secs`; returns (lines, batch latencies).
async fn one_stream(channel: Channel, req: PreEncoded, secs: Duration, depth: usize) -> (u64, Vec<Duration>) {
    let (tx, rx) = mpsc::channel::<PreEncoded>(depth);
    let (ttx, mut trx) = mpsc::unbounded_channel::<Instant>();
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(usize::MAX);
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_static("/postfix_enrich.v1.Enricher/EnrichStream");
    // At most `depth` batches in flight per stream, so latency is the
    // server's, not that of a queue growing on the client.
    let window = Arc::new(tokio::sync::Semaphore::new(depth));
    let credit = window.clone();
    let sender = tokio::spawn(async move {
        let end = Instant::now() + secs;
        while Instant::now() < end {
            credit.acquire().await.expect("open").forget();
            let t = Instant::now();
            if tx.send(req.clone()).await.is_err() {
                break;
            }
            let _ = ttx.send(t);
        }
    });
    let resp = grpc
        .streaming(
            Request::new(ReceiverStream::new(rx)),
            path,
            Codec::<PreEncoded, CountedResponse>::default(),
        )
        .await
        .expect("stream");
    let mut inbound = resp.into_inner();
    let (mut n, mut lat) = (0u64, Vec::new());
    while let Some(r) = inbound.message().await.expect("response") {
        let t0 = trx.recv().await.expect("a send time per response");
        lat.push(t0.elapsed());
        window.add_permits(1);
        n += r.events.len() as u64;
    }
    sender.await.unwrap();
    (n, lat)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; nothing else is read from the command line.
    let runs = env("RUNS", 5) as usize;
    let secs = Duration::from_secs(env("SECS", 4));
    let streams = env("STREAMS", 4) as usize;
    let batch = env("BATCH", 1000) as usize;
    // Vector's sink adapts its concurrency to the latency it sees, so the
    // relay is measured at a few levels (a comma list).
    let concurrencies: Vec<usize> = std::env::var("CONCURRENCY")
        .unwrap_or_else(|_| "4,16".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let server_threads = env("SERVER_THREADS", 2) as usize;

    // Sidecar (+ downstream sink) on their own runtime.
    let addr = free_addr();
    let sink_addr = free_addr();
    let sunk = Arc::new(AtomicU64::new(0));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .unwrap();
    let defaults = ServeArgs::listening_on(addr);
    let args = ServeArgs {
        forward_vector: Some(sink_addr.to_string()),
        max_message_bytes: 64 << 20,
        shutdown_grace: Duration::from_secs(1),
        // REORDER_WINDOW_MS: the relay's reordering window (default: serve's).
        reorder_window: std::env::var("REORDER_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(defaults.reorder_window, Duration::from_millis),
        ..defaults
    };
    {
        let sunk = sunk.clone();
        server_rt.spawn(async move {
            Server::builder()
                .tcp_nodelay(true)
                .add_service(vector_server::VectorServer::new(CountingSink(sunk)).max_decoding_message_size(usize::MAX))
                .serve(sink_addr)
                .await
                .unwrap()
        });
    }
    server_rt.spawn(postfix_enrich_grpc::serve_with_config(args, Config::default()));

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let channel = wait_ready(addr).await;
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "postfix-enrich-grpc load: {runs} runs x {secs:?}, server on {server_threads} worker threads, \
             client and server on one machine ({cores} cores)"
        );

        let only = std::env::var("ONLY").unwrap_or_default();
        // 1. EnrichStream.
        let req = enrich_request(batch);
        let (mut rates, mut p50s, mut p99s) = (vec![], vec![], vec![]);
        for run in 0..runs {
            if only == "relay" {
                break;
            }
            let start = Instant::now();
            let cpu0 = cpu_secs();
            let tasks: Vec<_> = (0..streams)
                .map(|_| {
                    // One connection per stream, as independent clients would have.
                    let req = req.clone();
                    tokio::spawn(async move {
                        let ch = wait_ready(addr).await;
                        one_stream(ch, req, secs, 2).await
                    })
                })
                .collect();
            let (mut n, mut lat) = (0, vec![]);
            for t in tasks {
                let (k, l) = t.await.unwrap();
                n += k;
                lat.extend(l);
            }
            let rate = n as f64 / start.elapsed().as_secs_f64();
            let per_cpu = n as f64 / (cpu_secs() - cpu0).max(1e-9);
            lat.sort();
            println!(
                "  EnrichStream run {run}: {rate:>10.0} lines/s  p50 {:>7.2?}  p99 {:>7.2?}  \
                 ({per_cpu:.0} lines per CPU-second, client+server)",
                pct(&lat, 0.5),
                pct(&lat, 0.99)
            );
            rates.push(rate);
            p50s.push(pct(&lat, 0.5).as_secs_f64() * 1e3);
            p99s.push(pct(&lat, 0.99).as_secs_f64() * 1e3);
        }
        if !rates.is_empty() {
            println!(
                "EnrichStream ({streams} streams, {batch} lines/batch): \
                 median {:.0} lines/s, p50 {:.2} ms, p99 {:.2} ms",
                median(rates),
                median(p50s),
                median(p99s)
            );
        }

        // 2. Relay.
        let push = push_request(batch);
        for &concurrency in &concurrencies {
            let mut rates = vec![];
            for run in 0..runs {
                let before = sunk.load(Relaxed);
                let start = Instant::now();
                let cpu0 = cpu_secs();
                let tasks: Vec<_> = (0..concurrency)
                    .map(|_| {
                        let (ch, push) = (channel.clone(), push.clone());
                        tokio::spawn(async move {
                            let mut grpc = tonic::client::Grpc::new(ch);
                            let end = Instant::now() + secs;
                            while Instant::now() < end {
                                grpc.ready().await.unwrap();
                                grpc.unary(
                                    Request::new(push.clone()),
                                    PathAndQuery::from_static("/vector.Vector/PushEvents"),
                                    Codec::<PreEncoded, PushEventsResponse>::default(),
                                )
                                .await
                                .expect("push");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                let n = (sunk.load(Relaxed) - before) as f64;
                let rate = n / start.elapsed().as_secs_f64();
                let per_cpu = n / (cpu_secs() - cpu0).max(1e-9);
                println!(
                    "  relay run {run}: {rate:>10.0} events/s  \
                 ({per_cpu:.0} events per CPU-second, client+relay+sink)"
                );
                rates.push(rate);
            }
            println!(
                "relay (PushEvents, {concurrency} concurrent, {batch} events/batch, downstream in-process): \
             median {:.0} events/s",
                median(rates)
            );
        }

        // 3. Flood of streams against --max-streams 64.
        let rss0 = rss_kib();
        let small = enrich_request(1);
        let mut held = vec![];
        let (mut open, mut refused) = (0, 0);
        for _ in 0..1000 {
            let (tx, rx) = mpsc::channel::<PreEncoded>(1);
            tx.send(small.clone()).await.unwrap();
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            grpc.ready().await.unwrap();
            let r = grpc
                .streaming(
                    Request::new(ReceiverStream::new(rx)),
                    PathAndQuery::from_static("/postfix_enrich.v1.Enricher/EnrichStream"),
                    Codec::<PreEncoded, CountedResponse>::default(),
                )
                .await;
            match r {
                Ok(resp) => {
                    let mut inbound = resp.into_inner();
                    match inbound.message().await {
                        Ok(Some(_)) => {
                            open += 1;
                            held.push((tx, inbound));
                        }
                        Ok(None) => {}
                        Err(s) if s.code() == tonic::Code::ResourceExhausted => refused += 1,
                        Err(s) => panic!("{s}"),
                    }
                }
                Err(s) if s.code() == tonic::Code::ResourceExhausted => refused += 1,
                Err(s) => panic!("{s}"),
            }
        }
        let rss1 = rss_kib();
        println!(
            "flood: 1000 streams opened at once: {open} served, {refused} refused with RESOURCE_EXHAUSTED; \
             RSS {} MiB -> {} MiB (client and server)",
            rss0 / 1024,
            rss1 / 1024
        );
        drop(held);
    });
}
