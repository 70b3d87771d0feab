//! Core throughput on a realistic mix: the real-Postfix recording (plain and
//! verbose sessions, deliveries, postscreen) plus the bundled `-v -v` sample,
//! scaled to 200,000 lines by `benches/scale_log.py`'s scheme (fresh pids,
//! addresses and queue ids per copy). Measures enrichment alone, stateless
//! enrichment, and enrichment plus NDJSON encoding.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use postfix_enrich_core::{encode, enrich_line, Config, Enricher, YearPolicy};

fn corpus() -> Vec<Vec<u8>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut src = Vec::new();
    for f in ["tests/corpus/recording/mail.log", "examples/logs/seed-ehlo-probe.log"] {
        let data = std::fs::read(format!("{root}/{f}")).expect("recorded corpus");
        src.extend(
            data.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    // Make copies distinct the cheap way: a different pid per copy keeps
    // sessions from colliding, which is what matters to the context.
    let mut out = Vec::with_capacity(200_000);
    let mut copy = 0u32;
    while out.len() < 200_000 {
        copy += 1;
        for l in &src {
            let s = String::from_utf8_lossy(l);
            let s = s.replacen("]: ", &format!("{copy:05}]: "), 1);
            out.push(s.into_bytes());
        }
    }
    out.truncate(200_000);
    out
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let mut config = Config::default();
    config.frame.years = YearPolicy::Fixed(2026);
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("enrich (stateful)", |b| {
        b.iter(|| {
            let mut e = Enricher::new(config.clone());
            let mut n = 0usize;
            for l in &lines {
                n += e.enrich(l).message.len();
            }
            n
        })
    });
    g.bench_function("enrich_line (stateless)", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| enrich_line(l, &config).message.len())
                .sum::<usize>()
        })
    });
    g.bench_function("enrich + encode NDJSON", |b| {
        b.iter(|| {
            let mut e = Enricher::new(config.clone());
            let mut out = Vec::with_capacity(1 << 20);
            for l in &lines {
                out.clear();
                encode::write_json(&e.enrich(l), &mut out);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
