//! postfix-enrich for JavaScript (wasm-bindgen; Node and the browser).
//!
//! - `enrichLine(line)`: the stateless per-line enrichment, as a plain object;
//! - `new Enricher()`: stateful enrichment (session ids, verdicts on closing
//!   lines) with `push(line)` → Event object, `pushText(text)` for bulk
//!   input (the page's Web Worker), and `explain()` → the per-client
//!   sessions and verdicts that `postfix-enrich explain --json` prints.
//!
//! Objects cross into JS as JSON text parsed by the engine's `JSON.parse`:
//! measured faster than serde-wasm-bindgen's object-by-object construction
//! for these nested events (tests/wasm/bench.sh prints both; see
//! ../README.md). `*Json` variants return the JSON text itself (the CLI's
//! NDJSON line, byte for byte).

use postfix_enrich_core::explain::Explainer;
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

/// Stateful enrichment over a stream of lines, plus the explain view.
#[wasm_bindgen]
pub struct Enricher {
    enricher: CoreEnricher,
    explainer: Explainer,
    buf: Vec<u8>,
    lines: u32,
    suspicious: u32,
    verdicts: u32,
}

impl Default for Enricher {
    fn default() -> Self {
        Self::new(None)
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
        self.explainer.push(ev);
    }
}

#[wasm_bindgen]
impl Enricher {
    /// An enricher with an empty context. `referenceTime` (ms since the
    /// epoch, default now) dates year-less stamps, as "today" does in the CLI.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(js_name = referenceTime)] reference_time: Option<f64>) -> Enricher {
        Enricher {
            enricher: CoreEnricher::new(config_at(reference_time)),
            explainer: Explainer::new(),
            buf: Vec::with_capacity(2048),
            lines: 0,
            suspicious: 0,
            verdicts: 0,
        }
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

    /// Per client address, the sessions (timeline, verdict, reasons), as
    /// `postfix-enrich explain --json` prints them.
    #[wasm_bindgen(unchecked_return_type = "ClientReport[]")]
    pub fn explain(&self) -> Result<JsValue, JsError> {
        parse(&self.explain_json())
    }

    /// `explain()` as JSON text.
    #[wasm_bindgen(js_name = explainJson)]
    pub fn explain_json(&self) -> String {
        serde_json_string(&self.explainer.report())
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

fn serde_json_string<T: Serialize>(v: &T) -> String {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::new(&mut out);
    // Reports hold only strings, numbers and bools: serialising cannot fail.
    if v.serialize(&mut ser).is_err() {
        return "[]".to_owned();
    }
    String::from_utf8_lossy(&out).into_owned()
}
