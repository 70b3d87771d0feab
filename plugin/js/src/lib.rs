//! postfix-enrich for JavaScript (wasm-bindgen; Node and the browser).
//!
//! - `enrichLine(line)`: the stateless per-line enrichment, as a plain object;
//! - `new Enricher(options)`: stateful enrichment (session ids, verdicts on
//!   closing lines, `threat.enrichments` for clients on the blocklists given
//!   as text) with `push(line)` → Event object, `pushText(text)` for bulk
//!   input (the page's Web Worker), `explain()` → the report that
//!   `postfix-enrich explain --json` prints (the core's report model, the
//!   same one the CLI renders as text and the page as HTML), and
//!   `sessions()` → every session's timeline (`explain --sessions --json`);
//! - `explain(text, options)`: the report of a whole text in one call.
//!
//! Objects cross into JS as JSON text parsed by the engine's `JSON.parse`:
//! measured faster than serde-wasm-bindgen's object-by-object construction
//! for these nested events (tests/wasm/bench.sh prints both; see
//! ../README.md). `*Json` variants return the JSON text itself (the CLI's
//! NDJSON line, byte for byte).

mod options;

use postfix_enrich_core::explain::Explainer;
use postfix_enrich_core::report::{ReportBuilder, ReportLimits};
use postfix_enrich_core::{
    encode, enrich_line as core_enrich_line, Config, Enricher as CoreEnricher, Event, Timestamp, YearPolicy,
};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

/// The configuration with year-less stamps (RFC 3164, maillog_file) dated
/// relative to `reference_ms` (milliseconds since the epoch; default now),
/// as the CLI dates them relative to today.
fn config_at(reference_ms: Option<f64>) -> Config {
    let ms = reference_ms.unwrap_or_else(js_now);
    let day = Timestamp::from_unix_micros((ms * 1000.0) as i64);
    let mut config = Config::default();
    config.frame.years = YearPolicy::Reference {
        year: day.year,
        month: day.month,
        day: day.day,
    };
    config
}

#[cfg(target_arch = "wasm32")]
fn js_now() -> f64 {
    js_sys::Date::now()
}

// Native builds (clippy, cargo test) have no JS clock.
#[cfg(not(target_arch = "wasm32"))]
fn js_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Parses JSON text produced by serde_json into a JS value.
fn parse(json: &str) -> Result<JsValue, JsError> {
    js_sys::JSON::parse(json).map_err(|_| JsError::new("internal: invalid JSON from the core"))
}

fn event_json(ev: &Event<'_>, buf: &mut Vec<u8>) -> String {
    buf.clear();
    encode::write_json(ev, buf);
    // serde_json only writes UTF-8.
    String::from_utf8_lossy(buf).into_owned()
}

/// serde-wasm-bindgen in JSON-compatible mode (maps as plain objects), kept
/// for the benchmark that chose `JSON.parse`.
fn to_js_direct<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Enriches one line without context (no session ids; verdicts only on
/// Postfix ≥ 3.0 `disconnect from` lines, from their statistics).
/// `referenceTime` (ms since the epoch, default now) dates year-less stamps.
#[wasm_bindgen(js_name = enrichLine, unchecked_return_type = "Event")]
pub fn enrich_line(
    line: &str,
    #[wasm_bindgen(js_name = referenceTime)] reference_time: Option<f64>,
) -> Result<JsValue, JsError> {
    parse(&enrich_line_json(line, reference_time))
}

/// `enrichLine` as JSON text (one NDJSON line without the newline).
#[wasm_bindgen(js_name = enrichLineJson)]
pub fn enrich_line_json(line: &str, #[wasm_bindgen(js_name = referenceTime)] reference_time: Option<f64>) -> String {
    let ev = core_enrich_line(line.as_bytes(), &config_at(reference_time));
    event_json(&ev, &mut Vec::with_capacity(1024))
}

/// `enrichLine` built with serde-wasm-bindgen instead of `JSON.parse`
/// (same result; kept to measure the two).
#[wasm_bindgen(js_name = enrichLineDirect, unchecked_return_type = "Event")]
pub fn enrich_line_direct(
    line: &str,
    #[wasm_bindgen(js_name = referenceTime)] reference_time: Option<f64>,
) -> Result<JsValue, JsError> {
    to_js_direct(&core_enrich_line(line.as_bytes(), &config_at(reference_time)))
}

/// Stateful enrichment over a stream of lines, plus the report.
#[wasm_bindgen]
pub struct Enricher {
    enricher: CoreEnricher,
    report: ReportBuilder,
    /// Every session's timeline, only when asked for (`sessions: true`):
    /// unlike the report it grows with the input.
    explainer: Option<Explainer>,
    /// What loading each blocklist found, as JSON objects.
    blocklist_report: Vec<options::ListLoad>,
    buf: Vec<u8>,
    lines: u32,
    suspicious: u32,
    verdicts: u32,
}

impl Default for Enricher {
    fn default() -> Self {
        Self::with(options::Options::default())
    }
}

impl Enricher {
    fn step(&mut self, line: &[u8]) -> Event<'static> {
        use postfix_enrich_core::IntoStatic;
        let ev = self.enricher.enrich(line);
        self.record(&ev);
        ev.into_static()
    }

    fn record(&mut self, ev: &Event<'_>) {
        self.lines += 1;
        if let Some(p) = &ev.probe {
            self.verdicts += 1;
            self.suspicious += u32::from(p.suspicious);
        }
        self.report.push(ev);
        if let Some(x) = &mut self.explainer {
            x.push(ev);
        }
    }

    fn with(o: options::Options) -> Enricher {
        let mut config = config_at(o.reference_time);
        config.blocklists = o.blocklists;
        Enricher {
            enricher: CoreEnricher::new(config),
            report: ReportBuilder::new(ReportLimits::default(), o.filter),
            explainer: o.sessions.then(Explainer::new),
            blocklist_report: o.loads,
            buf: Vec::with_capacity(2048),
            lines: 0,
            suspicious: 0,
            verdicts: 0,
        }
    }
}

#[wasm_bindgen]
impl Enricher {
    /// An enricher with an empty context. `options` is an
    /// `EnricherOptions` object (reference time for year-less stamps,
    /// blocklists as text, the report's filters, `sessions`), or for
    /// compatibility just the reference time in ms since the epoch (default
    /// now: year-less stamps are dated as "today" dates them in the CLI).
    /// Throws on an option the CLI would refuse (a client that is neither an
    /// address nor a network, an unknown class, a time it cannot read);
    /// blocklist lines that are not addresses are only counted
    /// (`blocklistReport`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "EnricherOptions | number | null")] options: JsValue,
    ) -> Result<Enricher, JsError> {
        Ok(Self::with(options::Options::from_js(&options)?))
    }

    /// Enriches the next line of the stream; returns its Event.
    #[wasm_bindgen(unchecked_return_type = "Event")]
    pub fn push(&mut self, line: &str) -> Result<JsValue, JsError> {
        parse(&self.push_json(line))
    }

    /// `push` as JSON text (the CLI's NDJSON line without the newline).
    #[wasm_bindgen(js_name = pushJson)]
    pub fn push_json(&mut self, line: &str) -> String {
        let ev = self.enricher.enrich(line.as_bytes());
        self.record(&ev);
        let mut buf = std::mem::take(&mut self.buf);
        let s = event_json(&ev, &mut buf);
        self.buf = buf;
        s
    }

    /// `push` built with serde-wasm-bindgen (kept to measure the two).
    #[wasm_bindgen(js_name = pushDirect, unchecked_return_type = "Event")]
    pub fn push_direct(&mut self, line: &str) -> Result<JsValue, JsError> {
        let ev = self.step(line.as_bytes());
        to_js_direct(&ev)
    }

    /// Enriches every line of `text` (split on `\n`; a trailing partial
    /// line is treated as a whole line, so callers that stream a file
    /// should pass complete lines) without returning events: for bulk
    /// input whose result is read with `explain()`. Returns the line count.
    #[wasm_bindgen(js_name = pushText)]
    pub fn push_text(&mut self, text: &str) -> u32 {
        let mut n = 0;
        for line in text.split_terminator('\n') {
            let ev = self.enricher.enrich(line.as_bytes());
            self.record(&ev);
            n += 1;
        }
        n
    }

    /// The report (`Report`, schemas/report.schema.json): what
    /// `postfix-enrich explain --json` prints for the same lines and options.
    /// Like the end of the CLI's input, it closes the sessions still open
    /// (they count as unfinished); lines pushed afterwards start new ones.
    #[wasm_bindgen(unchecked_return_type = "Report")]
    pub fn explain(&mut self) -> Result<JsValue, JsError> {
        parse(&self.explain_json())
    }

    /// `explain()` as JSON text.
    #[wasm_bindgen(js_name = explainJson)]
    pub fn explain_json(&mut self) -> String {
        serde_json_string(&self.report.report_so_far())
    }

    /// Per client address, every session (timeline, verdict, reasons), as
    /// `postfix-enrich explain --sessions --json` prints them. Needs
    /// `sessions: true` in the options (the timelines grow with the input).
    #[wasm_bindgen(unchecked_return_type = "SessionsReport[]")]
    pub fn sessions(&self) -> Result<JsValue, JsError> {
        match &self.explainer {
            Some(x) => parse(&serde_json_string(&x.report())),
            None => Err(JsError::new("sessions() needs new Enricher({ sessions: true })")),
        }
    }

    /// What loading each blocklist found: `{ name, entries, badLines,
    /// firstBad?: { line, text }, message }` per list, in the order given;
    /// `message` is the CLI's stderr line for it.
    #[wasm_bindgen(getter, js_name = blocklistReport, unchecked_return_type = "BlocklistLoad[]")]
    pub fn blocklist_report(&self) -> Result<JsValue, JsError> {
        parse(&serde_json_string(&self.blocklist_report))
    }

    /// Lines pushed so far.
    #[wasm_bindgen(getter)]
    pub fn lines(&self) -> u32 {
        self.lines
    }

    /// Verdicts (ended sessions) so far.
    #[wasm_bindgen(getter)]
    pub fn verdicts(&self) -> u32 {
        self.verdicts
    }

    /// Suspicious verdicts so far.
    #[wasm_bindgen(getter)]
    pub fn suspicious(&self) -> u32 {
        self.suspicious
    }
}

/// The report of a whole text: `new Enricher(options)`, `pushText(text)`,
/// `explain()`. A blocklist with lines that are not addresses is reported
/// through `options.onWarning(message)` when given (once per list), as the
/// CLI reports it on stderr.
#[wasm_bindgen(unchecked_return_type = "Report")]
pub fn explain(
    text: &str,
    #[wasm_bindgen(unchecked_param_type = "ExplainOptions | null")] options: JsValue,
) -> Result<JsValue, JsError> {
    let o = options::Options::from_js(&options)?;
    options::warn(&options, &o.loads);
    let mut e = Enricher::with(o);
    e.push_text(text);
    // The enricher ends here: its report is taken, not copied (a copy
    // doubled the peak memory of a large text, as it did for the CLI).
    parse(&serde_json_string(&e.report.finish()))
}

/// The verdict class names, in the core's order (for a class filter's choices).
#[wasm_bindgen(js_name = verdictClasses, unchecked_return_type = "VerdictClass[]")]
pub fn verdict_classes() -> Vec<String> {
    postfix_enrich_core::VerdictClass::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

fn serde_json_string<T: Serialize>(v: &T) -> String {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::new(&mut out);
    // Reports hold only strings, numbers and bools: serialising cannot fail.
    if v.serialize(&mut ser).is_err() {
        return "null".to_owned();
    }
    String::from_utf8_lossy(&out).into_owned()
}
