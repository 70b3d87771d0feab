//! `postfix-enrich serve`: the sidecar's command-line arguments and its main
//! loop (listeners, TLS, health, reflection, metrics, blocklists reread on
//! SIGHUP, graceful shutdown).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use postfix_enrich_core::{Config, Enricher};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::blocklist::{BlocklistSpec, SharedBlocklists};
use crate::codec;
use crate::pb::v1::enricher_server::EnricherServer;
use crate::pb::vector::vector_server::VectorServer;
use crate::service::{EnricherService, Limits};
use crate::vector::Relay;

/// Parses `500ms`, `30s`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in {s} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// Arguments of `postfix-enrich serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address of the gRPC server (Enricher, vector.Vector relay, health, reflection).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// PEM certificate chain; with --tls-key, serve gRPC over TLS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Act as a Vector transform stage: serve vector.Vector and forward the
    /// enriched batches to the Vector `vector` source at HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub forward_vector: Option<String>,
    /// Field of Vector log events that holds the raw line.
    #[arg(long, default_value = "message")]
    pub field: String,
    /// How long a relayed batch waits for earlier batches of the same host that
    /// are still on their way: Vector's sink sends several at once by default
    /// (`request.concurrency: adaptive`), and they can arrive out of order.
    /// Every stamped batch waits this long, so with `request.concurrency: 1`
    /// (one batch in flight, always in order) set 0: the wait would only add
    /// latency to each round trip. 0: enrich in arrival order.
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub reorder_window: Duration,
    /// Largest request message, after decompression (bytes): RESOURCE_EXHAUSTED above.
    #[arg(long, default_value_t = codec::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,
    /// Longest line (bytes): INVALID_ARGUMENT above (the relay passes such events on unenriched).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line_bytes: usize,
    /// Most EnrichStream calls open at once: RESOURCE_EXHAUSTED above.
    #[arg(long, default_value_t = 64)]
    pub max_streams: usize,
    /// Deadline of a unary call, and of a relay push including the downstream: DEADLINE_EXCEEDED after.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// After SIGINT/SIGTERM, how long in-flight calls may take to finish.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Blocklist files, reread on SIGHUP. Not a flag of its own: the CLI's
    /// global `--blocklist NAME=PATH` fills it.
    #[arg(skip)]
    pub blocklists: Vec<BlocklistSpec>,
}

impl ServeArgs {
    /// The command line's defaults, listening on `listen`: for running the
    /// server in-process (tests, benchmarks) without restating every default.
    pub fn listening_on(listen: SocketAddr) -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            args: ServeArgs,
        }
        let mut args = <Defaults as clap::Parser>::parse_from(["serve"]).args;
        args.listen = listen;
        args
    }
}

/// Runs the sidecar with the default enrichment settings.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    serve_with_config(args, Config::default()).await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Sends `tracing` output to stderr at `default_level` (`RUST_LOG`
/// overrides), coloured only on a terminal (a log file or journald gets
/// plain text). A subscriber installed earlier is kept.
pub fn init_logging(default_level: &str) {
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the sidecar until SIGINT/SIGTERM, enriching with `config` (its
/// blocklists replaced by `args.blocklists` when there are any). A list file
/// that cannot be read is an error before anything is served.
pub async fn serve_with_config(args: ServeArgs, config: Config) -> anyhow::Result<()> {
    init_logging("info");
    let blocklists = Arc::new(SharedBlocklists::load(
        args.blocklists.clone(),
        config.blocklists.clone(),
    )?);
    #[cfg(unix)]
    let _reloader = AbortOnDrop(
        blocklists
            .clone()
            .reload_on_sighup()
            .context("installing the SIGHUP handler")?,
    );

    codec::set_max_message_bytes(args.max_message_bytes);
    // tonic's own check runs on the wire size, before decompression; ours
    // (with the proper status code) on the decoded size. Tonic's is a backstop
    // at twice the limit so that it never preempts ours on plain requests.
    let wire_limit = args.max_message_bytes.saturating_mul(2);
    let limits = Limits {
        max_line_bytes: args.max_line_bytes,
        call_timeout: args.call_timeout,
        max_streams: args.max_streams,
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<EnricherServer<EnricherService>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building the reflection service")?;

    let enricher = EnricherServer::new(EnricherService::new(config.clone(), limits, blocklists.clone()))
        .max_decoding_message_size(wire_limit)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd);

    let relay = match &args.forward_vector {
        Some(addr) => {
            let relay = Relay::new(
                Enricher::new(config),
                blocklists.clone(),
                args.field.clone(),
                args.max_line_bytes,
                args.call_timeout,
                args.reorder_window,
                addr,
            )?;
            health.set_serving::<VectorServer<Relay>>().await;
            tracing::info!(downstream = %addr, field = %args.field, "relaying vector.Vector");
            Some(
                VectorServer::new(relay)
                    .max_decoding_message_size(wire_limit)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd),
            )
        }
        None => None,
    };

    let mut builder = Server::builder()
        .initial_stream_window_size(Some(codec::WINDOW))
        .initial_connection_window_size(Some(4 * codec::WINDOW));
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .context("TLS configuration")?;
    }
    let router = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(enricher)
        .add_optional_service(relay);

    if let Some(addr) = args.metrics_listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding metrics on {addr}"))?;
        tracing::info!(%addr, "metrics at /metrics");
        tokio::spawn(crate::metrics::serve_http(listener));
    }

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, tls = args.tls_cert.is_some(), "serving gRPC");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The builder's tcp_nodelay covers only listeners it binds itself; this
    // one is ours (to report the bound address), so it is set here. Without
    // it Nagle held back the small frames (window updates, responses) of a
    // connection carrying several calls, and the relay idled at one core.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    }));
    tokio::select! {
        _ = shutdown_signal() => {}
        r = &mut server => { return r?.context("gRPC server"); }
    }
    // Not serving new work; let in-flight calls finish within the grace period.
    tracing::info!(grace = ?args.shutdown_grace, "shutting down");
    health.set_not_serving::<EnricherServer<EnricherService>>().await;
    let _ = stop_tx.send(());
    match tokio::time::timeout(args.shutdown_grace, &mut server).await {
        Ok(r) => r?.context("gRPC server")?,
        Err(_) => tracing::warn!("calls still open after the grace period; closing them"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Ends a background task when the server returns.
#[cfg(unix)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

#[cfg(unix)]
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// [`serve_with_config`] on its own multi-threaded runtime, for synchronous callers (the CLI).
pub fn serve_blocking(args: ServeArgs, config: Config) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(serve_with_config(args, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In-process servers get exactly what `serve` with no flags gets.
    #[test]
    fn listening_on_keeps_the_command_line_defaults() {
        let addr: SocketAddr = "127.0.0.1:6001".parse().unwrap();
        let args = ServeArgs::listening_on(addr);
        assert_eq!(args.listen, addr);
        assert_eq!(args.field, "message");
        assert_eq!(args.max_streams, 64);
        assert_eq!(args.max_message_bytes, codec::DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(args.call_timeout, Duration::from_secs(30));
        assert!(args.forward_vector.is_none() && args.tls_cert.is_none());
    }
}
