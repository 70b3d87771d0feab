//! Native reference and benchmark for the wasm modules, built from the same
//! core source as they are (so a half-edited CLI elsewhere in the tree never
//! blocks the wasm tests):
//!
//! - `native ndjson FILE`     one Event JSON per line, as `postfix-enrich FILE`
//! - `native stateless FILE`  as `postfix-enrich --stateless FILE`
//! - `native explain FILE`    the report, as `postfix-enrich explain --json FILE`
//! - `native filter FILE [N]` N passes (default 1) of the filter's splice
//!   over the file's lines as `{"log": line}` records (made before the
//!   passes), printing records and output bytes: a fixed amount of work for
//!   profilers; the difference between 2 passes and 1 is one pass
//!   (`valgrind --tool=cachegrind` counts instructions, unmoved by load)
//! - `native bench FILE SECS` lines/s of the core (enrich + write_json, and
//!   enrich alone, the counterpart of the JS module's bulk `pushText`) and
//!   records/s of the filter's splice natively, each the median of 5
//!   interleaved rounds of at least SECS/15 seconds per measure.

use std::io::{BufWriter, Write};
use std::time::Instant;

use postfix_enrich_core::explain::Explainer;
use postfix_enrich_core::{encode, enrich_line, Config, Enricher};
use postfix_enrich_fluent_bit::filter::Filter;

fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.split(|&b| b == b'\n')
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `pass` (one pass over the input, returning items done) repeatedly
/// for at least `secs`, returning items per second.
fn rate(secs: f64, mut pass: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < secs || n == 0 {
        n += pass();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: native ndjson|stateless|explain|filter|bench FILE [SECS]");
        std::process::exit(2);
    };
    let data = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut json = Vec::with_capacity(4096);
    match mode.as_str() {
        "ndjson" | "stateless" => {
            let config = Config::default();
            let mut enricher = Enricher::new(config.clone());
            for line in lines(&data) {
                json.clear();
                if mode == "ndjson" {
                    encode::write_json(&enricher.enrich(line), &mut json);
                } else {
                    encode::write_json(&enrich_line(line, &config), &mut json);
                }
                json.push(b'\n');
                out.write_all(&json).expect("stdout");
            }
        }
        "explain" => {
            let mut enricher = Enricher::new(Config::default());
            let mut explainer = Explainer::new();
            for line in lines(&data) {
                explainer.push(&enricher.enrich(line));
            }
            let report = explainer.report();
            writeln!(out, "{}", serde_json::to_string(&report).expect("report")).expect("stdout");
        }
        "filter" => {
            let records: Vec<Vec<u8>> = lines(&data)
                .map(|l| serde_json::to_vec(&serde_json::json!({ "log": String::from_utf8_lossy(l) })).expect("record"))
                .collect();
            // Extra passes (each on a fresh filter) let a profiler subtract
            // the setup: instructions(2 passes) - instructions(1 pass).
            let passes: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
            let mut bytes = 0;
            for _ in 0..passes {
                let mut f = Filter::default();
                bytes = records.iter().map(|r| f.process(r).len()).sum();
            }
            writeln!(out, "{} records, {bytes} bytes out", records.len()).expect("stdout");
        }
        "bench" => {
            let secs: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5.0) / 15.0;
            let input: Vec<&[u8]> = lines(&data).collect();
            let records: Vec<Vec<u8>> = input
                .iter()
                .map(|l| serde_json::to_vec(&serde_json::json!({ "log": String::from_utf8_lossy(l) })).expect("record"))
                .collect();
            // Rounds interleave the three measures so load from other
            // processes on a shared machine hits them alike.
            let (mut core, mut enrich_only, mut filter) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..5 {
                core.push(rate(secs, || {
                    let mut enricher = Enricher::new(Config::default());
                    for l in &input {
                        json.clear();
                        encode::write_json(&enricher.enrich(l), &mut json);
                    }
                    input.len()
                }));
                enrich_only.push(rate(secs, || {
                    let mut enricher = Enricher::new(Config::default());
                    for l in &input {
                        std::hint::black_box(enricher.enrich(l));
                    }
                    input.len()
                }));
                filter.push(rate(secs, || {
                    let mut f = Filter::default();
                    for r in &records {
                        std::hint::black_box(f.process(r));
                    }
                    records.len()
                }));
            }
            writeln!(
                out,
                "{{\"core_lines_per_s\":{:.0},\"enrich_only_lines_per_s\":{:.0},\"filter_records_per_s\":{:.0},\"lines\":{}}}",
                median(core),
                median(enrich_only),
                median(filter),
                input.len()
            )
            .expect("stdout");
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}
