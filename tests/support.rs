//! Helpers shared by the cross-crate tests: where the repository's files are,
//! and running the core over a file the way the CLI does.

use std::path::PathBuf;

use postfix_enrich_core::{encode, Config, Enricher};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// A file's lines as bytes, newline removed, nothing else touched.
pub fn lines(path: &std::path::Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: Vec<Vec<u8>> = data.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    if out.last().is_some_and(Vec::is_empty) {
        out.pop();
    }
    out
}

/// Enriches every line with one stateful enricher; returns the JSON values.
pub fn enrich_all(lines: &[Vec<u8>], config: Config) -> Vec<serde_json::Value> {
    let mut e = Enricher::new(config);
    lines
        .iter()
        .map(|l| {
            let mut buf = Vec::new();
            encode::write_json(&e.enrich(l), &mut buf);
            serde_json::from_slice(&buf).expect("encoder writes valid JSON")
        })
        .collect()
}

/// A config with a fixed year, so tests do not depend on today's date.
pub fn test_config(year: i32) -> Config {
    let mut c = Config::default();
    c.frame.years = postfix_enrich_core::YearPolicy::Fixed(year);
    c
}
