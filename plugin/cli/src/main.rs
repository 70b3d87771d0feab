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
use postfix_enrich_core::explain::{render_text, Explainer};
use postfix_enrich_core::frame::FrameOptions;
use postfix_enrich_core::{encode, Config, Enricher, EventKind, Limits, Privacy, Timestamp, Treatment, YearPolicy};

use input::{Follower, Input};

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
    /// Per client address, its sessions as a short timeline with the verdict and its reasons.
    Explain(ExplainArgs),
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
    /// Only this client address.
    #[arg(long)]
    client: Option<String>,
    /// Only clients with a suspicious session.
    #[arg(long)]
    suspicious: bool,
    /// Print the report as JSON instead of text.
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
    fn config(&self) -> Result<Config> {
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
        Some(Command::Serve(cmd)) => cmd
            .common
            .config()
            .and_then(|config| postfix_enrich_grpc::serve_blocking(cmd.serve, config)),
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
    let mut enricher = Enricher::new(config);
    let mut explainer = Explainer::new();
    let mut buf = Vec::with_capacity(4096);
    for mut input in open_all(&args.files)? {
        while input
            .read_line(&mut buf)
            .with_context(|| format!("reading {}", input.name))?
            > 0
        {
            explainer.push(&enricher.enrich(&buf));
        }
    }
    let mut reports = explainer.report();
    if let Some(c) = &args.client {
        reports.retain(|r| &r.address == c);
    }
    if args.suspicious {
        reports.retain(|r| r.suspicious);
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &reports)?;
        out.write_all(b"\n")?;
    } else if reports.is_empty() {
        writeln!(
            out,
            "no sessions{}",
            args.client
                .as_deref()
                .map(|c| format!(" for client {c}"))
                .unwrap_or_default()
        )?;
    } else {
        out.write_all(render_text(&reports).as_bytes())?;
    }
    Ok(())
}
