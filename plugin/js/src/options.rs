//! The options object of `new Enricher(options)` and `explain(text,
//! options)`, read from JS: the reference time for year-less stamps, the
//! blocklists as text (loaded here with the core's `Blocklists`, so bad
//! lines are counted exactly as the CLI counts them), and the report's
//! filters with the CLI's meaning and the CLI's parsers (`--client`,
//! `--suspicious`, `--class`, `--since`, `--until`). Fields are read one by
//! one with `Reflect` rather than through JSON so the blocklists keep the
//! order the caller wrote them in (the order of `threat.enrichments`, as
//! the order of `--blocklist` flags is for the CLI).

use std::sync::Arc;

use postfix_enrich_core::report::ReportFilter;
use postfix_enrich_core::Blocklists;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsError, JsValue};

/// The options, read and checked.
#[derive(Default)]
pub struct Options {
    /// Milliseconds since the epoch that date year-less stamps (default now).
    pub reference_time: Option<f64>,
    /// The lists, when any were given.
    pub blocklists: Option<Arc<Blocklists>>,
    /// What loading each list found.
    pub loads: Vec<ListLoad>,
    /// Which sessions the report covers.
    pub filter: ReportFilter,
    /// Keep every session's timeline for `sessions()`.
    pub sessions: bool,
}

/// What loading one list found, for `blocklistReport`.
#[derive(Serialize)]
pub struct ListLoad {
    name: String,
    entries: usize,
    bad_lines: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_bad: Option<BadLine>,
    /// The CLI's stderr line for this list.
    message: String,
}

#[derive(Serialize)]
struct BadLine {
    line: usize,
    text: String,
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn string(v: &JsValue, what: &str) -> Result<String, JsError> {
    v.as_string()
        .ok_or_else(|| JsError::new(&format!("{what}: expected a string")))
}

/// `since`/`until`: the CLI's time text, or milliseconds since the epoch (a number or a Date).
fn time(v: &JsValue, what: &str) -> Result<i64, JsError> {
    if let Some(ms) = v.as_f64() {
        return Ok((ms / 1000.0).floor() as i64);
    }
    if let Some(d) = v.dyn_ref::<js_sys::Date>() {
        return Ok((d.get_time() / 1000.0).floor() as i64);
    }
    ReportFilter::parse_time(&string(v, what)?).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

impl Options {
    /// Reads `undefined`/`null` (defaults), a number (the reference time,
    /// as the constructor took before options existed) or an options object.
    pub fn from_js(v: &JsValue) -> Result<Options, JsError> {
        let mut o = Options::default();
        if v.is_undefined() || v.is_null() {
            return Ok(o);
        }
        if let Some(ms) = v.as_f64() {
            o.reference_time = Some(ms);
            return Ok(o);
        }
        if !v.is_object() {
            return Err(JsError::new("options: expected an object"));
        }
        o.reference_time = get(v, "referenceTime").and_then(|t| t.as_f64());
        if let Some(lists) = get(v, "blocklists") {
            let mut all = Blocklists::new();
            for entry in js_sys::Object::entries(&js_sys::Object::from(lists)).iter() {
                let pair = js_sys::Array::from(&entry);
                let name = pair.get(0).as_string().unwrap_or_default();
                let text = string(&pair.get(1), &format!("blocklists.{name}"))?;
                let r = all.add(&name, &text);
                o.loads.push(ListLoad {
                    message: r.to_string(),
                    name: r.name,
                    entries: r.entries,
                    bad_lines: r.bad_lines,
                    first_bad: r.first_bad.map(|(line, text)| BadLine { line, text }),
                });
            }
            if !all.is_empty() {
                o.blocklists = Some(Arc::new(all));
            }
        }
        if let Some(c) = get(v, "client") {
            let list: Vec<JsValue> = if js_sys::Array::is_array(&c) {
                js_sys::Array::from(&c).iter().collect()
            } else {
                vec![c]
            };
            for c in list {
                let net = ReportFilter::parse_network(&string(&c, "client")?)
                    .map_err(|e| JsError::new(&format!("client: {e}")))?;
                o.filter.clients.push(net);
            }
        }
        if let Some(c) = get(v, "class") {
            o.filter.class = Some(
                ReportFilter::parse_class(&string(&c, "class")?).map_err(|e| JsError::new(&format!("class: {e}")))?,
            );
        }
        o.filter.suspicious = get(v, "suspicious").is_some_and(|s| s.is_truthy());
        o.filter.since = get(v, "since").map(|t| time(&t, "since")).transpose()?;
        o.filter.until = get(v, "until").map(|t| time(&t, "until")).transpose()?;
        o.sessions = get(v, "sessions").is_some_and(|s| s.is_truthy());
        Ok(o)
    }
}

/// Calls `options.onWarning(message)` once per list that had lines that
/// are not addresses, when the caller gave such a function.
pub fn warn(options: &JsValue, loads: &[ListLoad]) {
    let Some(f) = get(options, "onWarning").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) else {
        return;
    };
    for l in loads.iter().filter(|l| l.bad_lines > 0) {
        // A throwing callback is the caller's business; the report goes on.
        let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&l.message));
    }
}
