//! Enriches every line of a file and prints how many events and verdicts
//! came out, without encoding: a harness for profilers (callgrind counts
//! instructions, which stay comparable when the machine is busy).
//! `cargo run --release -p postfix-enrich-core --example enrich_file -- FILE [--encode]`

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: enrich_file FILE [--encode]");
    let encode = args.next().as_deref() == Some("--encode");
    let data = std::fs::read(&path).expect("readable file");
    let mut e = postfix_enrich_core::Enricher::new(postfix_enrich_core::Config::default());
    let (mut events, mut verdicts, mut bytes) = (0usize, 0usize, 0usize);
    let mut out = Vec::with_capacity(1 << 16);
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let ev = e.enrich(line);
        events += 1;
        verdicts += ev.probe.is_some() as usize;
        if encode {
            out.clear();
            postfix_enrich_core::encode::write_json(&ev, &mut out);
            bytes += out.len();
        }
    }
    println!("{events} events, {verdicts} verdicts, {bytes} bytes encoded");
    println!(
        "size of Event: {} bytes",
        std::mem::size_of::<postfix_enrich_core::Event<'static>>()
    );
}
