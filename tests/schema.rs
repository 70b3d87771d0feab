//! The JSON Schema in schemas/ is generated from the Rust types: this test
//! fails when the committed file and the types drift (run with
//! `UPDATE_SCHEMA=1` to rewrite it), when a field lacks a description, and
//! when an Event from the sample or the recording does not validate.

use postfix_enrich_core::event::json_schema;
use postfix_enrich_tests::{enrich_all, lines, repo, test_config};
use serde_json::Value;

fn committed_path() -> std::path::PathBuf {
    repo().join("schemas/event.schema.json")
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(committed_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path()).expect("schemas/event.schema.json exists");
    assert!(
        committed == generated,
        "schemas/event.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p postfix-enrich-tests --test schema`"
    );
}

/// Every property of every object in the schema has a description.
fn undocumented(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                for (k, p) in props {
                    let has = p.get("description").is_some();
                    if !has {
                        out.push(format!("{path}.{k}"));
                    }
                }
            }
            for (k, child) in m {
                undocumented(child, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| undocumented(c, path, out)),
        _ => {}
    }
}

#[test]
fn every_field_is_described() {
    let mut missing = Vec::new();
    undocumented(&json_schema(), "", &mut missing);
    assert!(missing.is_empty(), "fields without a description: {missing:#?}");
}

#[test]
fn events_validate_against_the_schema() {
    let schema = json_schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut files = vec![repo().join("examples/logs/seed-ehlo-probe.log")];
    for f in ["tests/corpus/recording/mail.log", "tests/corpus/recording/syslog.log"] {
        files.push(repo().join(f));
    }
    let mut checked = 0;
    for f in files.iter().filter(|f| f.exists()) {
        for ev in enrich_all(&lines(f), test_config(2026)) {
            if let Err(e) = validator.validate(&ev) {
                panic!("{}: event does not validate: {e}\n{ev}", f.display());
            }
            checked += 1;
        }
    }
    assert!(
        checked > 1000,
        "expected the sample and the recording, validated {checked} events"
    );
}

/// Compares a generated schema with the committed file (rewriting it under
/// `UPDATE_SCHEMA=1`) and requires a description on every field.
fn check_committed(file: &str, schema: &Value) {
    let path = repo().join(file);
    let generated = serde_json::to_string_pretty(schema).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        committed == generated,
        "{file} is stale: run `UPDATE_SCHEMA=1 cargo test -p postfix-enrich-tests --test schema`"
    );
    let mut missing = Vec::new();
    undocumented(schema, "", &mut missing);
    assert!(missing.is_empty(), "{file}: fields without a description: {missing:#?}");
}

/// The report `explain --json` prints: same rules as the Event's schema.
#[test]
fn committed_report_schema_matches_the_types() {
    check_committed(
        "schemas/report.schema.json",
        &postfix_enrich_core::report::json_schema(),
    );
}

#[test]
fn reports_validate_against_the_schema() {
    use postfix_enrich_core::report::{ReportBuilder, ReportFilter, ReportLimits};
    let schema = postfix_enrich_core::report::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("report schema compiles");
    let mut clients = 0;
    for f in ["examples/logs/seed-ehlo-probe.log", "tests/corpus/recording/mail.log"] {
        let mut e = postfix_enrich_core::Enricher::new(test_config(2026));
        let mut b = ReportBuilder::new(ReportLimits::default(), ReportFilter::default());
        for l in lines(&repo().join(f)) {
            b.push(&e.enrich(&l));
        }
        let report = serde_json::to_value(b.finish()).unwrap();
        if let Err(e) = validator.validate(&report) {
            panic!("{f}: report does not validate: {e}");
        }
        clients += report["clients"].as_array().map_or(0, Vec::len);
    }
    assert!(
        clients > 10,
        "expected the sample's and the recording's clients, got {clients}"
    );
}

/// The report `what-if --json` prints: same rules as the Event's schema
/// (plugin/cli/tests/cli.rs validates the CLI's output against it).
#[test]
fn committed_whatif_schema_matches_the_types() {
    check_committed(
        "schemas/whatif.schema.json",
        &postfix_enrich_core::whatif::json_schema(),
    );
}
