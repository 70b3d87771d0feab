//! `postfix-enrich`: the command-line adapter over the core. It reads files
//! or stdin (gzip transparently, `--follow` for live logs), writes one NDJSON
//! event per input line on stdout, and `explain` prints per-client session
//! timelines with verdicts. All parsing lives in `postfix-enrich-core`.

mod input;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ipnet::IpNet;
use postfix_enrich_core::explain::{render_text, Explainer};
use postfix_enrich_core::frame::FrameOptions;
use postfix_enrich_core::pipeline::enrich_on_a_second_thread;
use postfix_enrich_core::report::{text, ReportBuilder, ReportFilter, ReportLimits, SessionTracker};
use postfix_enrich_core::whatif;
use postfix_enrich_core::VerdictClass;
use postfix_enrich_core::{
    encode, Config, Enricher, Event, EventKind, Limits, Privacy, Timestamp, Treatment, YearPolicy,
};
use postfix_enrich_grpc::blocklist::{self, BlocklistSpec};

use input::{Follower, Input, Inputs};

/// jemalloc, not the system allocator: a large `explain` allocates and frees
/// a few small blocks per session, on two threads, and glibc's free (its
/// chunk coalescing, and blocks freed by the thread that did not allocate
/// them) was a sixth of the time. With jemalloc `report_flood` ran about
/// 1.15x faster on one thread for a peak of 434 MiB against 416 MiB;
/// mimalloc, tried earlier, peaked at 527 MiB, over the 500 MiB bound.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Enrich Postfix logs: one NDJSON event per line, with session ids, SMTP
/// verbs, directions and a probe verdict on the line that ends each session.
#[derive(Parser)]
#[command(name = "postfix-enrich", version, about, subcommand_precedence_over_arg = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The report: an overview of all clients in one screen, or (--client) one client's session patterns, cadence and verdicts.
    Explain(ExplainArgs),
    /// Replays the logs against a Postfix restriction list (as in main.cf): who it would refuse, which legitimate clients a permit saves, what the logs cannot tell.
    #[command(name = "what-if")]
    WhatIf(WhatIfArgs),
    /// gRPC sidecar: Enricher API, Vector transform stage (vector.Vector relay), health, reflection, metrics.
    Serve(ServeCmd),
}

#[derive(Args)]
struct ServeCmd {
    #[command(flatten)]
    serve: postfix_enrich_grpc::ServeArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Log files (plain or gzip); stdin when none or `-`.
    files: Vec<PathBuf>,
    /// Dotted keys (`client.ip`) instead of nested objects.
    #[arg(long)]
    flat: bool,
    /// Leave out verbose internals (`postfix.event = "debug"`).
    #[arg(long)]
    drop_debug: bool,
    /// Follow a growing file (survives rotation); reads from its end unless --from-start.
    #[arg(long, short = 'f')]
    follow: bool,
    /// With --follow, read the file from the beginning first.
    #[arg(long, requires = "follow")]
    from_start: bool,
    /// Only what each line alone says: no session ids, no queue links (verdicts from Postfix >= 3.0 disconnect statistics still appear).
    #[arg(long)]
    stateless: bool,
    #[command(flatten)]
    export: postfix_enrich_grpc::ExportArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct ExplainArgs {
    /// Log files (plain or gzip); stdin when none.
    files: Vec<PathBuf>,
    /// Only this client: an address or a CIDR network (repeatable); shows each client in detail.
    #[arg(long, value_parser = ReportFilter::parse_network)]
    client: Vec<IpNet>,
    /// Every session's full timeline instead of the report.
    #[arg(long)]
    sessions: bool,
    /// Only sessions that started at or after this time (`2026-06-19 08:00`, RFC 3339).
    #[arg(long, value_parser = ReportFilter::parse_time)]
    since: Option<i64>,
    /// Only sessions that started before this time.
    #[arg(long, value_parser = ReportFilter::parse_time)]
    until: Option<i64>,
    /// Only sessions with this verdict class (ehlo_quit_probe, auth_bruteforce, ...).
    #[arg(long, value_parser = ReportFilter::parse_class)]
    class: Option<VerdictClass>,
    /// Only suspicious sessions.
    #[arg(long)]
    suspicious: bool,
    /// Print the report as JSON (schemas/report.schema.json) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct WhatIfArgs {
    /// One restriction or a list as written in main.cf, e.g. 'permit_mynetworks, permit_sasl_authenticated, reject_non_fqdn_helo_hostname'.
    restriction: String,
    /// Log files (plain or gzip); stdin when none.
    files: Vec<PathBuf>,
    /// mynetworks for permit_mynetworks (addresses or CIDR networks, comma-separated or repeated).
    #[arg(long, value_parser = ReportFilter::parse_network, value_delimiter = ',')]
    mynetworks: Vec<IpNet>,
    /// smtpd_delay_reject: yes (Postfix's default) applies client and HELO restrictions at RCPT TO.
    #[arg(long, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), default_value = "yes", value_name = "yes|no")]
    delay_reject: bool,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Handling {
    Keep,
    Hash,
    Drop,
}

#[derive(Args)]
struct CommonArgs {
    /// Year for stamps that have none (default: inferred from today's date).
    #[arg(long, global = true)]
    year: Option<i32>,
    /// UTC offset of zone-less stamps, e.g. +02:00 (default: UTC).
    #[arg(long, global = true, value_parser = parse_offset, default_value = "+00:00")]
    utc_offset: i16,
    /// E-mail addresses in every field and in `message`.
    #[arg(long, global = true, value_enum, default_value = "keep")]
    addresses: Handling,
    /// SASL user names in every field and in `message`.
    #[arg(long, global = true, value_enum, default_value = "keep")]
    users: Handling,
    /// Key for --addresses/--users hash (HMAC-SHA256).
    #[arg(long, global = true, env = "POSTFIX_ENRICH_HASH_KEY", hide_env_values = true)]
    hash_key: Option<String>,
    /// Open smtpd sessions kept at most.
    #[arg(long, global = true, default_value_t = Limits::default().max_sessions)]
    max_sessions: usize,
    /// Queue-id links kept at most.
    #[arg(long, global = true, default_value_t = Limits::default().max_queue_links)]
    max_queue_links: usize,
    /// Per-address window for repeated failures and probes, in seconds.
    #[arg(long, global = true, default_value_t = Limits::default().window_seconds)]
    window: i64,
    /// No progress bar, no summary on stderr.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    /// A blocklist file: one address or CIDR network per line, `#`/`;` comments (OpenBL, FireHOL, Spamhaus DROP, fail2ban); repeatable. Events of a listed client carry `threat.enrichments` with NAME.
    /// `serve` rereads them on SIGHUP.
    #[arg(long = "blocklist", global = true, value_name = "NAME=PATH", value_parser = blocklist::parse_arg)]
    blocklists: Vec<BlocklistSpec>,
}

fn parse_offset(s: &str) -> Result<i16, String> {
    let bad = || format!("expected an offset like +02:00 or -0530, got {s:?}");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: i16 = digits[..2].parse().map_err(|_| bad())?;
    let m: i16 = digits[2..].parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

impl CommonArgs {
    /// The configuration with the `--blocklist` files read (their reports on stderr unless `-q`).
    fn config(&self) -> Result<Config> {
        let mut config = self.config_without_blocklists()?;
        if !self.blocklists.is_empty() {
            let (lists, reports) = blocklist::load(&self.blocklists)?;
            if !self.quiet {
                for r in reports {
                    eprintln!("postfix-enrich: {r}");
                }
            }
            config.blocklists = Some(std::sync::Arc::new(lists));
        }
        Ok(config)
    }

    /// The configuration from everything but `--blocklist` (`serve` reads
    /// those itself, to reread them on SIGHUP).
    fn config_without_blocklists(&self) -> Result<Config> {
        let years = match self.year {
            Some(y) => YearPolicy::Fixed(y),
            None => {
                let micros = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as i64);
                let today = Timestamp::from_unix_micros(micros);
                YearPolicy::Reference {
                    year: today.year,
                    month: today.month,
                    day: today.day,
                }
            }
        };
        let treatment = |h: Handling, what: &str| -> Result<Treatment> {
            Ok(match h {
                Handling::Keep => Treatment::Keep,
                Handling::Drop => Treatment::Drop,
                Handling::Hash => match &self.hash_key {
                    Some(k) if !k.is_empty() => Treatment::Hash(k.as_bytes().to_vec()),
                    _ => bail!("--{what} hash needs --hash-key (or POSTFIX_ENRICH_HASH_KEY)"),
                },
            })
        };
        let limits = Limits {
            max_sessions: self.max_sessions,
            max_queue_links: self.max_queue_links,
            window_seconds: self.window,
            ..Limits::default()
        };
        Ok(Config {
            frame: FrameOptions {
                years,
                offset_minutes: self.utc_offset,
            },
            limits,
            privacy: Privacy {
                addresses: treatment(self.addresses, "addresses")?,
                users: treatment(self.users, "users")?,
            },
            ..Config::default()
        })
    }
}

/// Counts for the summary line.
#[derive(Default)]
struct Totals {
    lines: u64,
    written: u64,
    unparsed: u64,
    verdicts: u64,
    suspicious: u64,
}

static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Explain(args)) => explain(args),
        Some(Command::WhatIf(args)) => what_if(args),
        Some(Command::Serve(mut cmd)) => cmd.common.config_without_blocklists().and_then(|config| {
            cmd.serve.blocklists = std::mem::take(&mut cmd.common.blocklists);
            postfix_enrich_grpc::serve_blocking(cmd.serve, config)
        }),
        None => run(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postfix-enrich: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Enriches every line of `inputs` in order and hands each Event to `f`:
/// the reading loop `explain` and `what-if` share. Enriching runs on a
/// thread of its own, so on two cores it overlaps with `f` (the report)
/// and the reading, which stay on this one: see
/// [`enrich_on_a_second_thread`] for the figures.
fn enrich_each(inputs: Vec<Input>, enricher: &mut Enricher, f: impl FnMut(&mut Event<'_>)) -> Result<()> {
    enrich_on_a_second_thread(enricher, Inputs::new(inputs), f)
}

/// Opens every input before reading any, so a typo fails before output starts.
fn open_all(files: &[PathBuf]) -> Result<Vec<Input>> {
    if files.is_empty() {
        return Ok(vec![Input::open(std::path::Path::new("-"))?]);
    }
    files.iter().map(|f| Input::open(f)).collect()
}

fn progress(inputs: &[Input], quiet: bool) -> ProgressBar {
    let total: u64 = inputs.iter().filter_map(|i| i.size).sum();
    // Only worth drawing for big inputs on a terminal; piped stderr stays clean.
    if quiet || !io::stderr().is_terminal() || total < 32 * 1024 * 1024 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} eta {eta}")
            .expect("static template"),
    );
    bar
}

fn run(args: RunArgs) -> Result<()> {
    let config = args.common.config()?;
    let mut enricher = Enricher::new(config.clone());
    let mut out = Ndjson::new(io::stdout().lock());
    let mut totals = Totals::default();
    let mut buf = Vec::with_capacity(4096);
    let started = std::time::Instant::now();
    if args.export.export.is_some() {
        // Retries and refusals are worth seeing while they happen, not only in the final report.
        postfix_enrich_grpc::serve::init_logging("warn");
    }
    let exporter = postfix_enrich_grpc::ExportHandle::start(&args.export)?;
    let emit = |line: &[u8], enricher: &mut Enricher, out: &mut Ndjson<'_>, totals: &mut Totals| -> io::Result<()> {
        totals.lines += 1;
        let ev = if args.stateless {
            postfix_enrich_core::enrich_line(line, &config)
        } else {
            enricher.enrich(line)
        };
        if ev.postfix.event == EventKind::Unparsed {
            totals.unparsed += 1;
        }
        if let Some(p) = &ev.probe {
            totals.verdicts += 1;
            totals.suspicious += p.suspicious as u64;
        }
        if args.drop_debug && ev.postfix.event == EventKind::Debug {
            return Ok(());
        }
        if let Some(x) = &exporter {
            totals.written += 1;
            return x
                .push(postfix_enrich_core::IntoStatic::into_static(ev))
                .map_err(io::Error::other);
        }
        totals.written += 1;
        out.event(&ev, args.flat)
    };
    if args.follow {
        let [path] = args.files.as_slice() else {
            bail!("--follow takes exactly one file")
        };
        let mut follower = Follower::open(path, args.from_start)?;
        install_stop_handler();
        while follower.next_line(&mut buf, &|| STOP.load(Ordering::Relaxed))? {
            emit(&buf, &mut enricher, &mut out, &mut totals)?;
            out.flush()?;
        }
    } else {
        let mut inputs = open_all(&args.files)?;
        let bar = progress(&inputs, args.common.quiet);
        let mut unreported = 0u64;
        for input in &mut inputs {
            loop {
                let n = input
                    .read_line(&mut buf)
                    .with_context(|| format!("reading {}", input.name))?;
                if n == 0 {
                    break;
                }
                unreported += n as u64;
                emit(&buf, &mut enricher, &mut out, &mut totals)?;
                if totals.lines % 16_384 == 0 {
                    bar.inc(std::mem::take(&mut unreported));
                    bar.set_message(format!("{} lines", totals.lines));
                }
            }
        }
        bar.finish_and_clear();
    }
    out.flush()?;
    if let Some(x) = exporter {
        let report = x.finish();
        eprintln!("postfix-enrich: export: {report}");
        if report.undelivered > 0 {
            bail!(
                "{} events were not delivered to {}",
                report.undelivered,
                args.export.export.as_deref().unwrap_or("")
            );
        }
    }
    if !args.common.quiet {
        let s = enricher.stats();
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "postfix-enrich: {} lines, {} events written, {} unparsed, {} verdicts ({} suspicious), {} evictions, {:.0} lines/s",
            totals.lines,
            totals.written,
            totals.unparsed,
            totals.verdicts,
            totals.suspicious,
            s.dropped(),
            totals.lines as f64 / secs
        );
    }
    Ok(())
}

/// NDJSON on stdout: events are encoded straight into one staging buffer
/// that is written out in large blocks, so each event is copied once.
struct Ndjson<'s> {
    buf: Vec<u8>,
    sink: io::StdoutLock<'s>,
}

impl<'s> Ndjson<'s> {
    const BLOCK: usize = 256 * 1024;

    fn new(sink: io::StdoutLock<'s>) -> Self {
        Ndjson {
            buf: Vec::with_capacity(Self::BLOCK + 64 * 1024),
            sink,
        }
    }

    fn event(&mut self, ev: &postfix_enrich_core::Event<'_>, flat: bool) -> io::Result<()> {
        if flat {
            encode::write_flat_json(ev, &mut self.buf);
        } else {
            encode::write_json(ev, &mut self.buf);
        }
        self.buf.push(b'\n');
        if self.buf.len() >= Self::BLOCK {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> io::Result<()> {
        self.sink.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.sink.flush()
    }
}

fn install_stop_handler() {
    // --follow ends on SIGINT/SIGTERM after finishing the current line; a
    // second signal kills as usual. A tiny handler: the platform crates that
    // do this (ctrlc, signal-hook) would be one more dependency for one flag.
    #[cfg(unix)]
    unsafe {
        extern "C" fn on_signal(_: i32) {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        }
        extern "C" {
            fn signal(sig: i32, handler: extern "C" fn(i32)) -> usize;
        }
        signal(2, on_signal);
        signal(15, on_signal);
    }
}

fn explain(args: ExplainArgs) -> Result<()> {
    let config = args.common.config()?;
    let inputs = open_all(&args.files)?;
    let mut enricher = Enricher::new(config);
    let filter = ReportFilter {
        clients: args.client.clone(),
        since: args.since,
        until: args.until,
        class: args.class,
        suspicious: args.suspicious,
    };
    let mut builder = ReportBuilder::new(ReportLimits::default(), filter.clone());
    let mut explainer = args.sessions.then(Explainer::new);
    enrich_each(inputs, &mut enricher, |ev| match &mut explainer {
        Some(x) => x.push(ev),
        None => builder.push_taking(ev),
    })?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Some(x) = explainer {
        let mut reports = x.report();
        reports.retain(|r| {
            let ip = r.address.parse::<std::net::IpAddr>().ok();
            filter.clients.is_empty() || ip.is_some_and(|ip| filter.clients.iter().any(|n| n.contains(&ip)))
        });
        if args.suspicious {
            reports.retain(|r| r.suspicious);
        }
        if args.json {
            serde_json::to_writer_pretty(&mut out, &reports)?;
            out.write_all(b"\n")?;
        } else if reports.is_empty() {
            writeln!(out, "no sessions{}", client_note(&args.client))?;
        } else {
            out.write_all(render_text(&reports).as_bytes())?;
        }
        return Ok(());
    }
    let report = builder.finish();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        out.write_all(b"\n")?;
    } else if report.clients.is_empty() {
        out.write_all(text::render_empty(&report, &client_note(&args.client)).as_bytes())?;
    } else if !args.client.is_empty() {
        out.write_all(text::render_clients(&report).as_bytes())?;
    } else {
        out.write_all(text::render_overview(&report).as_bytes())?;
    }
    Ok(())
}

fn client_note(clients: &[IpNet]) -> String {
    if clients.is_empty() {
        return String::new();
    }
    // A single address prints as given, not as a /32.
    let shown: Vec<String> = clients
        .iter()
        .map(|n| {
            if n.prefix_len() == n.max_prefix_len() {
                n.addr().to_string()
            } else {
                n.to_string()
            }
        })
        .collect();
    format!(" for client {}", shown.join(", "))
}

fn what_if(args: WhatIfArgs) -> Result<()> {
    let mut restrictions = whatif::parse(&args.restriction).map_err(anyhow::Error::msg)?;
    for r in &mut restrictions {
        if let whatif::Restriction::ClientAccess { path, list } = r {
            let spec = BlocklistSpec {
                name: "check_client_access".to_owned(),
                path: PathBuf::from(&*path),
            };
            let (lists, reports) = blocklist::load(std::slice::from_ref(&spec))?;
            if !args.common.quiet {
                for r in reports.iter().filter(|r| r.bad_lines > 0) {
                    eprintln!("postfix-enrich: {r}");
                }
            }
            *list = Some(lists);
        }
    }
    let config = args.common.config()?;
    let inputs = open_all(&args.files)?;
    let mut enricher = Enricher::new(config);
    let mut tracker = SessionTracker::new(ReportLimits::default().max_open_sessions, 0);
    let options = whatif::WhatIfOptions {
        delay_reject: args.delay_reject,
        mynetworks: args.mynetworks.clone(),
    };
    let mut replay = whatif::WhatIf::new(restrictions, options);
    enrich_each(inputs, &mut enricher, |ev| {
        replay.observe(ev);
        tracker.push_taking(ev, &mut |s| replay.fold(&s))
    })?;
    tracker.finish(&mut |s| replay.fold(&s));
    let answer = replay.finish();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &answer)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(whatif::render_text(&answer).as_bytes())?;
    }
    Ok(())
}
