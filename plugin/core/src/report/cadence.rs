//! Cadence: whether one client's sessions start on a rhythm. It keeps the
//! intervals between session starts as a sparse log-scale histogram (count,
//! sum and sum of squares per bin), so a client seen a million times costs a
//! few dozen bytes, and reads from it a regular period with its jitter, or
//! bursts (groups of quick sessions separated by long gaps), or nothing when
//! there is no rhythm.

use schemars::JsonSchema;
use serde::Serialize;

/// Bins per doubling of the interval: a bin is about 19% wide, narrower than
/// any jitter worth calling "regular" and wide enough that a few seconds of
/// jitter on a three-minute period fall into one or two bins.
const BINS_PER_DOUBLING: f64 = 4.0;
/// Highest bin (about 2^31 s): longer gaps share it.
const MAX_BIN: u8 = 127;
/// Adjacent bins a regular cluster may span (about ±30% around its centre).
const CLUSTER_BINS: u8 = 3;
/// Share of intervals that must fall in the cluster to call arrivals regular.
const REGULAR_SHARE: f64 = 0.6;
/// Jitter (standard deviation) above this share of the period is no rhythm.
const MAX_RELATIVE_JITTER: f64 = 0.15;
/// Fewest intervals to call a rhythm (nine sessions): fewer fit any story.
const MIN_INTERVALS: u32 = 8;
/// Share of intervals that must be gaps between bursts.
const MIN_GAP_SHARE: f64 = 0.02;
/// Gaps between bursts are at least this many times the intervals within them.
const BURST_GAP_RATIO: f64 = 8.0;

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    index: u8,
    count: u32,
    sum: f64,
    sum_sq: f64,
}

/// Intervals between one client's session starts, summarised.
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    /// Occupied bins, sorted by index.
    bins: Vec<Bin>,
    last_start: Option<f64>,
}

impl Intervals {
    /// Records a session start (seconds since the epoch, fractions allowed).
    /// Starts that go backwards (files given out of order) count as no
    /// interval rather than a negative one.
    pub fn push(&mut self, start: f64) {
        if let Some(prev) = self.last_start {
            let gap = start - prev;
            if gap >= 0.0 {
                self.add(gap);
            }
        }
        self.last_start = Some(self.last_start.map_or(start, |p| p.max(start)));
    }

    fn add(&mut self, gap: f64) {
        let index = bin_of(gap);
        let at = match self.bins.binary_search_by_key(&index, |b| b.index) {
            Ok(i) => i,
            Err(i) => {
                self.bins.insert(
                    i,
                    Bin {
                        index,
                        ..Bin::default()
                    },
                );
                i
            }
        };
        let b = &mut self.bins[at];
        b.count += 1;
        b.sum += gap;
        b.sum_sq += gap * gap;
    }

    /// Intervals recorded.
    pub fn count(&self) -> u32 {
        self.bins.iter().map(|b| b.count).sum()
    }

    /// The rhythm, if there is one.
    pub fn cadence(&self) -> Option<Rhythm> {
        let n = self.count();
        if n < MIN_INTERVALS {
            return None;
        }
        match (self.regular(n), self.bursts(n)) {
            // Steady sessions inside bursts are the bursts' texture, not the rhythm.
            (Some(Rhythm::Regular { period_seconds, .. }), Some(b @ Rhythm::Bursts { apart_seconds, .. }))
                if period_seconds * BURST_GAP_RATIO <= apart_seconds =>
            {
                Some(b)
            }
            (Some(r), _) => Some(r),
            (None, b) => b,
        }
    }

    /// Most intervals within one narrow cluster of bins, with small spread.
    fn regular(&self, n: u32) -> Option<Rhythm> {
        let mut best: Option<Bin> = None;
        for (i, first) in self.bins.iter().enumerate() {
            let mut acc = Bin::default();
            for b in self.bins[i..]
                .iter()
                .take_while(|b| b.index < first.index + CLUSTER_BINS)
            {
                acc.count += b.count;
                acc.sum += b.sum;
                acc.sum_sq += b.sum_sq;
            }
            if best.map_or(true, |b| acc.count > b.count) {
                best = Some(acc);
            }
        }
        let c = best?;
        if (c.count as f64) < REGULAR_SHARE * n as f64 {
            return None;
        }
        let (mean, sd) = mean_sd(&c);
        // Sub-second "periods" are one burst, not a rhythm.
        if mean < 1.0 || sd > MAX_RELATIVE_JITTER * mean {
            return None;
        }
        Some(Rhythm::Regular {
            period_seconds: mean,
            jitter_seconds: sd,
            in_rhythm: c.count,
        })
    }

    /// Two well-separated groups of intervals: short ones within bursts and
    /// long gaps between them, with most intervals short.
    fn bursts(&self, n: u32) -> Option<Rhythm> {
        // The widest empty stretch between occupied bins splits the two groups.
        let split = self
            .bins
            .windows(2)
            .enumerate()
            .max_by_key(|(_, w)| w[1].index - w[0].index)
            .map(|(i, _)| i + 1)?;
        let (short, long) = self.bins.split_at(split);
        let sum = |bins: &[Bin]| {
            bins.iter().fold(Bin::default(), |mut a, b| {
                a.count += b.count;
                a.sum += b.sum;
                a.sum_sq += b.sum_sq;
                a
            })
        };
        let (s, l) = (sum(short), sum(long));
        let short_max = short.last()?.index;
        let long_min = long.first()?.index;
        let ratio = 2f64.powf((long_min - short_max) as f64 / BINS_PER_DOUBLING);
        // Bursts of at least three sessions on average: within-burst
        // intervals outnumber gaps at least two to one.
        // At least three bursts, and gaps not so rare that they are a
        // steady client's outages (one in fifty intervals).
        if ratio < BURST_GAP_RATIO
            || l.count < 2
            || (l.count as f64) < MIN_GAP_SHARE * n as f64
            || s.count < 2 * l.count
        {
            return None;
        }
        Some(Rhythm::Bursts {
            bursts: l.count + 1,
            within_seconds: s.sum / s.count as f64,
            apart_seconds: l.sum / l.count as f64,
        })
    }
}

fn mean_sd(b: &Bin) -> (f64, f64) {
    let n = b.count as f64;
    let mean = b.sum / n;
    let var = (b.sum_sq / n - mean * mean).max(0.0);
    (mean, var.sqrt())
}

fn bin_of(gap: f64) -> u8 {
    if gap < 1.0 {
        return 0;
    }
    let i = 1.0 + (gap.log2() * BINS_PER_DOUBLING).floor();
    i.min(MAX_BIN as f64) as u8
}

/// A rhythm found in the session starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rhythm {
    /// Sessions start at a steady period.
    Regular {
        /// Mean interval between session starts, in seconds.
        period_seconds: f64,
        /// Standard deviation of those intervals, in seconds.
        jitter_seconds: f64,
        /// Intervals that follow the period (the rest are gaps or extra sessions).
        in_rhythm: u32,
    },
    /// Sessions come in groups separated by long pauses.
    Bursts {
        /// Number of groups.
        bursts: u32,
        /// Mean interval between sessions within a group, in seconds.
        within_seconds: f64,
        /// Mean pause between groups, in seconds.
        apart_seconds: f64,
    },
}

/// A duration as people say it: `3 min 0 s`, `45 s`, `2 h 5 min`, `0.4 s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 10.0 && s.fract() != 0.0 {
        return format!("{s:.1} s");
    }
    let t = s.round() as u64;
    match t {
        0..=59 => format!("{t} s"),
        60..=3599 => format!("{} min {} s", t / 60, t % 60),
        3600..=86_399 => format!("{} h {} min", t / 3600, t / 60 % 60),
        _ => format!("{} d {} h", t / 86_400, t / 3600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so tests need no crate
    /// and always see the same arrivals.
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn of(starts: &[f64]) -> Option<Rhythm> {
        let mut iv = Intervals::default();
        starts.iter().for_each(|s| iv.push(*s));
        iv.cadence()
    }

    #[test]
    fn exact_period_is_regular_with_no_jitter() {
        let starts: Vec<f64> = (0..480).map(|i| 1_000.0 + 180.0 * i as f64).collect();
        match of(&starts) {
            Some(Rhythm::Regular {
                period_seconds,
                jitter_seconds,
                in_rhythm,
            }) => {
                assert!((period_seconds - 180.0).abs() < 1e-6);
                assert!(jitter_seconds < 1e-3);
                assert_eq!(in_rhythm, 479);
            }
            other => panic!("expected regular, got {other:?}"),
        }
    }

    #[test]
    fn jittered_period_reports_period_and_jitter() {
        // Every 3 min, each start moved by up to ±3 s, one-second log stamps.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let starts: Vec<f64> = (0..480)
            .map(|i| (180.0 * i as f64 + (rng.unit() * 6.0 - 3.0)).round())
            .collect();
        match of(&starts) {
            Some(Rhythm::Regular {
                period_seconds,
                jitter_seconds,
                ..
            }) => {
                assert!((period_seconds - 180.0).abs() < 1.0, "{period_seconds}");
                assert!(jitter_seconds > 1.0 && jitter_seconds < 4.0, "{jitter_seconds}");
            }
            other => panic!("expected regular, got {other:?}"),
        }
    }

    #[test]
    fn a_missed_beat_does_not_hide_the_rhythm() {
        let starts: Vec<f64> = (0..100).filter(|i| i % 10 != 5).map(|i| 300.0 * i as f64).collect();
        assert!(
            matches!(of(&starts), Some(Rhythm::Regular { period_seconds, .. }) if (period_seconds - 300.0).abs() < 1e-6)
        );
    }

    #[test]
    fn bursts_are_groups_with_long_gaps() {
        // 12 bursts of 10 sessions 2 s apart, bursts 2 h apart.
        let starts: Vec<f64> = (0..12)
            .flat_map(|b| (0..10).map(move |k| 7200.0 * b as f64 + 2.0 * k as f64 + (k % 3) as f64))
            .collect();
        match of(&starts) {
            Some(Rhythm::Bursts {
                bursts,
                within_seconds,
                apart_seconds,
            }) => {
                assert_eq!(bursts, 12);
                assert!(within_seconds < 5.0, "{within_seconds}");
                assert!(apart_seconds > 7000.0, "{apart_seconds}");
            }
            other => panic!("expected bursts, got {other:?}"),
        }
    }

    #[test]
    fn a_steady_client_with_two_outages_stays_regular() {
        let starts: Vec<f64> = (0..480)
            .map(|i| 180.0 * i as f64 + if i > 100 { 7200.0 } else { 0.0 } + if i > 300 { 9000.0 } else { 0.0 })
            .collect();
        assert!(matches!(of(&starts), Some(Rhythm::Regular { .. })), "{:?}", of(&starts));
    }

    #[test]
    fn random_arrivals_have_no_rhythm() {
        // Poisson arrivals: exponential intervals with a mean of 10 minutes.
        for seed in [1u64, 7, 42, 1234, 99_999] {
            let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
            let mut t = 0.0;
            let starts: Vec<f64> = (0..300)
                .map(|_| {
                    t += -600.0 * (1.0 - rng.unit()).ln();
                    t.round()
                })
                .collect();
            assert_eq!(of(&starts), None, "seed {seed}");
        }
    }

    #[test]
    fn too_few_sessions_say_nothing() {
        let starts: Vec<f64> = (0..8).map(|i| 180.0 * i as f64).collect();
        assert_eq!(of(&starts), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(180.0), "3 min 0 s");
        assert_eq!(human_duration(2.4), "2.4 s");
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(7500.0), "2 h 5 min");
    }
}
