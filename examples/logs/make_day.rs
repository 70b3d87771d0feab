//! Makes a day-sized example log: the bundled sample's probe (a `-v -v`
//! session of `EHLO User` then `QUIT`) recurring every 3 minutes with a few
//! seconds of jitter for 24 hours, among the recorded corpus's ordinary
//! traffic spread across the same day. It is the shape of the question the
//! project exists for, at the size a mail admin meets it.
//!
//! `cargo run -q -p postfix-enrich-tests --example make_day > /tmp/day.log`
//! (reads `examples/logs/seed-ehlo-probe.log` and
//! `tests/corpus/recording/mail.log`; deterministic: the same files give the
//! same day). The tests build the same log through [`day_log`].

/// Seconds from midnight of the first probe, and the probe's period.
const FIRST_PROBE: i64 = 60;
const PERIOD: i64 = 180;
const PROBES: i64 = 480;
/// Jitter of each probe's start, in whole seconds either way.
const JITTER: i64 = 3;
/// Process ids of the probe's smtpd sessions start here (the corpus's are lower).
const PROBE_PID: u32 = 40_000;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Nov 26 16:45:42 host rest` → (month index, day, seconds of day, host, rest).
fn split(line: &str) -> Option<(usize, u32, i64, &str, &str)> {
    let month = MONTHS.iter().position(|m| line.starts_with(m))?;
    let day: u32 = line.get(4..6)?.trim().parse().ok()?;
    let hms = line.get(7..15)?;
    let mut p = hms.split(':').map(|x| x.parse::<i64>().ok());
    let secs = p.next()?? * 3600 + p.next()?? * 60 + p.next()??;
    let (host, rest) = line.get(16..)?.split_once(' ')?;
    Some((month, day, secs, host, rest))
}

fn stamp(month: usize, day: u32, secs: i64) -> String {
    let s = secs.clamp(0, 86_399);
    format!(
        "{} {day:2} {:02}:{:02}:{:02}",
        MONTHS[month],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Replaces `[pid]` of `program[pid]: ` with `pid`.
fn with_pid(rest: &str, pid: u32) -> String {
    match (rest.find('['), rest.find("]: ")) {
        (Some(a), Some(b)) if a < b => format!("{}[{pid}]{}", &rest[..a], &rest[b + 1..]),
        _ => rest.to_owned(),
    }
}

/// The day: corpus traffic cut into scenes (stretches with no smtpd session
/// open), each scene moved to its own time of day with its inner timing
/// kept, and the seed probe's session every [`PERIOD`] seconds.
pub fn day_log(seed: &str, corpus: &str) -> String {
    let corpus: Vec<(usize, u32, i64, &str, &str)> = corpus.lines().filter_map(split).collect();
    let Some(&(month, day, _, host, _)) = corpus.first() else {
        return String::new();
    };
    // Scenes: cut where no smtpd session is open.
    let mut scenes: Vec<Vec<(i64, &str)>> = vec![Vec::new()];
    let mut open = std::collections::HashSet::new();
    for &(_, _, secs, _, rest) in &corpus {
        let pid = rest.split_once(']').map(|(p, _)| p);
        if rest.contains("/smtpd[") {
            if rest.contains(": connect from ") {
                open.insert(pid);
            } else if rest.contains(": disconnect from ") {
                open.remove(&pid);
            }
        }
        scenes.last_mut().expect("one scene at least").push((secs, rest));
        if open.is_empty() {
            scenes.push(Vec::new());
        }
    }
    scenes.retain(|s| !s.is_empty());
    let mut out: Vec<(i64, usize, String)> = Vec::new();
    let spacing = 82_800 / scenes.len().max(1) as i64;
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for (k, scene) in scenes.iter().enumerate() {
        let t0 = scene[0].0;
        // Scenes land anywhere in their slot: ordinary traffic has no clock.
        let at = 1_800 + k as i64 * spacing + (next() % (spacing.max(2) as u64 / 2)) as i64;
        for (secs, rest) in scene {
            let t = at + secs - t0;
            out.push((t, out.len(), format!("{} {host} {rest}", stamp(month, day, t))));
        }
    }
    // The probe: the sample's session from its connect to its disconnect.
    let session: Vec<&str> = seed
        .lines()
        .filter_map(split)
        .map(|(.., rest)| rest)
        .skip_while(|r| !r.contains(": connect from "))
        .collect();
    let end = session
        .iter()
        .position(|r| r.contains(": disconnect from "))
        .map_or(session.len(), |i| i + 1);
    for i in 0..PROBES {
        let jitter = (next() % (2 * JITTER as u64 + 1)) as i64 - JITTER;
        let t = FIRST_PROBE + i * PERIOD + jitter;
        for rest in &session[..end] {
            let line = format!(
                "{} {host} {}",
                stamp(month, day, t),
                with_pid(rest.trim_end(), PROBE_PID + i as u32)
            );
            out.push((t, out.len(), line));
        }
    }
    out.sort_by_key(|(t, order, _)| (*t, *order));
    let mut text = String::with_capacity(out.iter().map(|l| l.2.len() + 1).sum());
    for (_, _, line) in out {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[allow(dead_code)]
fn main() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read_to_string(repo.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let day = day_log(
        &read("examples/logs/seed-ehlo-probe.log"),
        &read("tests/corpus/recording/mail.log"),
    );
    print!("{day}");
}
