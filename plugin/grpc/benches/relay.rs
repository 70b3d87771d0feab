//! The relay's per-event CPU path without the network: find the line in an
//! encoded `EventWrapper` (`raw::scan`), enrich it, and write the merged event
//! (`raw::splice`), beside enrichment alone so the cost of the byte path shows
//! as the difference. The load benchmark (`load.rs`) measures the whole relay
//! over loopback; this one is single-threaded and steadier, for comparing two
//! versions of the writer (`--save-baseline` / `--baseline`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use postfix_enrich_core::{Config, Enricher, YearPolicy};
use postfix_enrich_grpc::vector::raw;

mod common;

fn bench(c: &mut Criterion) {
    let events: Vec<Vec<u8>> = common::lines().into_iter().map(common::log_event).collect();
    let mut config = Config::default();
    config.frame.years = YearPolicy::Fixed(2026);
    let mut g = c.benchmark_group("relay");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("enrich only", |b| {
        b.iter(|| {
            let mut e = Enricher::new(config.clone());
            let mut n = 0usize;
            for w in &events {
                let s = raw::scan(w, "message", 1 << 20).expect("a line");
                n += e.enrich(s.line(w)).message.len();
            }
            n
        })
    });
    g.bench_function("scan + enrich + splice", |b| {
        let mut scratch = raw::Scratch::default();
        let input: usize = events.iter().map(Vec::len).sum();
        b.iter(|| {
            // One buffer per batch, sized as the relay sizes it.
            let mut out = bytes::BytesMut::with_capacity(input + 512 * events.len());
            let mut e = Enricher::new(config.clone());
            let mut n = 0usize;
            for w in &events {
                let s = raw::scan(w, "message", 1 << 20).expect("a line");
                let ev = e.enrich(s.line(w));
                n += raw::splice(w, &s, &ev, &mut scratch, &mut out).len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
