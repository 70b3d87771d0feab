//! Blocklists at their largest (issue 10 §2): a generated list of 1,000,000
//! entries, the mix a merged OpenBL/FireHOL/Spamhaus export has (IPv4
//! addresses and networks, IPv6 addresses and prefixes, comments). Measures
//! the load, one lookup of an unlisted and of a listed address, and the
//! enrichment of the recorded corpus with that list loaded and without it,
//! in one group so that criterion prints the two throughputs side by side.
//! The list leaves out 127.0.0.0/8 and ::1, the recording's clients, so the
//! with-list run measures what every line pays when nothing matches.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use postfix_enrich_core::{Blocklists, Config, Enricher, YearPolicy};

const ENTRIES: usize = 1_000_000;

/// The list's text, and one address it lists.
fn list_text() -> (String, IpAddr) {
    // Seeded: the same list on every run.
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(ENTRIES * 20);
    text.push_str("# generated: 70% IPv4 /32, 15% IPv4 /16-/30, 10% IPv6 /128, 5% IPv6 /32-/64\n");
    let mut listed = None;
    let mut n = 0;
    while n < ENTRIES {
        let r = rng.u64(..);
        let v4 = Ipv4Addr::from((r >> 32) as u32);
        if v4.octets()[0] == 127 {
            continue;
        }
        let v6 = Ipv6Addr::from((u128::from(rng.u64(..)) << 64) | u128::from(r));
        if v6.is_loopback() {
            continue;
        }
        match r % 100 {
            0..=69 => {
                text.push_str(&format!("{v4}\n"));
                listed.get_or_insert(IpAddr::V4(v4));
            }
            70..=84 => text.push_str(&format!("{v4}/{} ; network\n", 16 + r % 15)),
            85..=94 => text.push_str(&format!("{v6}\n")),
            _ => text.push_str(&format!("{v6}/{}\n", 32 + r % 33)),
        }
        n += 1;
    }
    (text, listed.expect("the list has /32 entries"))
}

/// The recorded corpus, repeated to 50,000 lines.
fn corpus() -> Vec<Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus/recording/mail.log");
    let data = std::fs::read(path).expect("recorded corpus");
    let one: Vec<&[u8]> = data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    one.iter().cycle().take(50_000).map(|l| l.to_vec()).collect()
}

fn bench(c: &mut Criterion) {
    let (text, listed) = list_text();
    let mut lists = Blocklists::new();
    let report = lists.add("generated", &text);
    assert_eq!(report.entries, ENTRIES, "{report}");
    let unlisted: IpAddr = "127.0.0.10".parse().unwrap();
    assert!(lists.lookup(unlisted).next().is_none());
    assert!(lists.lookup(listed).next().is_some());

    let mut g = c.benchmark_group("blocklist");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("load 1M entries", |b| {
        b.iter(|| {
            let mut l = Blocklists::new();
            l.add("generated", &text).entries
        })
    });
    g.throughput(Throughput::Elements(1));
    g.sample_size(100);
    g.bench_function("lookup unlisted", |b| {
        b.iter(|| lists.lookup(std::hint::black_box(unlisted)).count())
    });
    g.bench_function("lookup listed", |b| {
        b.iter(|| lists.lookup(std::hint::black_box(listed)).count())
    });
    g.finish();

    let lines = corpus();
    let mut config = Config::default();
    config.frame.years = YearPolicy::Fixed(2026);
    let mut with_list = config.clone();
    with_list.blocklists = Some(Arc::new(lists));
    let mut g = c.benchmark_group("enrich corpus");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    for (name, config) in [("no list", &config), ("1M-entry list", &with_list)] {
        g.bench_with_input(BenchmarkId::from_parameter(name), config, |b, config| {
            b.iter(|| {
                let mut e = Enricher::new(config.clone());
                lines.iter().map(|l| e.enrich(l).message.len()).sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
