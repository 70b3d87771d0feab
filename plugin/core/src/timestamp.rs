//! Timestamps as Postfix logs carry them, kept as calendar fields so that no
//! time-zone database or allocation is needed on the per-line path.
//!
//! RFC 3164 and `maillog_file` stamps have no year and no zone: the year is
//! inferred from a reference date ([`YearPolicy`]) and the zone is the
//! configured offset (UTC by default). The value serializes as RFC 3339,
//! keeping the sub-second digits the source had.

use std::fmt;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

/// A point in time as written in a log line, with its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Calendar year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60 (leap second tolerated).
    pub second: u8,
    /// Fraction of the second, in nanoseconds.
    pub nanos: u32,
    /// Number of fraction digits the source had (0 = none), so output keeps its precision.
    pub frac_digits: u8,
    /// Offset from UTC in minutes.
    pub offset_minutes: i16,
}

/// How to give a year to stamps that have none (RFC 3164, `maillog_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearPolicy {
    /// Always this year (`--year`).
    Fixed(i32),
    /// Infer from a reference date (normally "today"): a stamp more than a day
    /// ahead of the reference belongs to the previous year, which is what a
    /// log read on 2 January that still holds 31 December lines needs.
    Reference {
        /// Reference year.
        year: i32,
        /// Reference month, 1–12.
        month: u8,
        /// Reference day, 1–31.
        day: u8,
    },
}

impl Default for YearPolicy {
    fn default() -> Self {
        // A fixed default keeps the library deterministic; the CLI passes today.
        YearPolicy::Reference {
            year: 2026,
            month: 12,
            day: 31,
        }
    }
}

impl YearPolicy {
    /// The year for a stamp of `month`/`day` that carries none.
    pub fn year_for(&self, month: u8, day: u8) -> i32 {
        match *self {
            YearPolicy::Fixed(y) => y,
            YearPolicy::Reference {
                year,
                month: rm,
                day: rd,
            } => {
                let stamp = days_from_civil(year, month, day);
                let reference = days_from_civil(year, rm, rd);
                if stamp > reference + 1 {
                    year - 1
                } else {
                    year
                }
            }
        }
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Month number (1–12) of a three-letter English abbreviation.
pub(crate) fn month_from_abbrev(s: &[u8]) -> Option<u8> {
    if s.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(&s[..3]))
        .map(|i| i as u8 + 1)
}

fn two_digits(b: &[u8]) -> Option<u8> {
    match b {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

/// Parses `hh:mm:ss` (exactly 8 bytes).
fn parse_hms(b: &[u8]) -> Option<(u8, u8, u8)> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (two_digits(&b[0..2])?, two_digits(&b[3..5])?, two_digits(&b[6..8])?);
    (h < 24 && m < 60 && s <= 60).then_some((h, m, s))
}

impl Timestamp {
    /// Parses an RFC 3164 stamp `Mmm dd hh:mm:ss` (day space- or zero-padded)
    /// at the start of `b`. Returns the stamp and the bytes it used (always 15).
    pub fn parse_rfc3164(b: &[u8], years: &YearPolicy, offset_minutes: i16) -> Option<(Self, usize)> {
        if b.len() < 15 || b[3] != b' ' || b[6] != b' ' {
            return None;
        }
        let month = month_from_abbrev(&b[0..3])?;
        let day = match (b[4], b[5]) {
            (b' ', d) if d.is_ascii_digit() => d - b'0',
            (a, d) if a.is_ascii_digit() && d.is_ascii_digit() => (a - b'0') * 10 + (d - b'0'),
            _ => return None,
        };
        if day == 0 || day > 31 {
            return None;
        }
        let (hour, minute, second) = parse_hms(&b[7..15])?;
        Some((
            Timestamp {
                year: years.year_for(month, day),
                month,
                day,
                hour,
                minute,
                second,
                nanos: 0,
                frac_digits: 0,
                offset_minutes,
            },
            15,
        ))
    }

    /// Parses an RFC 3339 stamp (`2026-08-01T16:35:38.123456+10:00`, `Z`,
    /// or journald's `+1000`) at the start of `b`; returns it and its length.
    pub fn parse_rfc3339(b: &[u8]) -> Option<(Self, usize)> {
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
            return None;
        }
        let year = {
            let y = &b[0..4];
            if !y.iter().all(u8::is_ascii_digit) {
                return None;
            }
            y.iter().fold(0i32, |a, d| a * 10 + (d - b'0') as i32)
        };
        let month = two_digits(&b[5..7]).filter(|m| (1..=12).contains(m))?;
        let day = two_digits(&b[8..10]).filter(|d| (1..=31).contains(d))?;
        let (hour, minute, second) = parse_hms(&b[11..19])?;
        let mut i = 19;
        let (mut nanos, mut frac_digits) = (0u32, 0u8);
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if frac_digits < 9 {
                    nanos = nanos * 10 + (b[i] - b'0') as u32;
                    frac_digits += 1;
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            nanos *= 10u32.pow(9 - frac_digits as u32);
        }
        let offset_minutes = match b.get(i) {
            Some(b'Z') | Some(b'z') => {
                i += 1;
                0
            }
            Some(&sign @ (b'+' | b'-')) => {
                let h = two_digits(b.get(i + 1..i + 3)?)? as i16;
                let (m, used) = if b.get(i + 3) == Some(&b':') {
                    (two_digits(b.get(i + 4..i + 6)?)? as i16, 6)
                } else {
                    (two_digits(b.get(i + 3..i + 5)?)? as i16, 5)
                };
                i += used;
                let off = h * 60 + m;
                if sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => 0,
        };
        Some((
            Timestamp {
                year,
                month,
                day,
                hour,
                minute,
                second,
                nanos,
                frac_digits,
                offset_minutes,
            },
            i,
        ))
    }

    /// A stamp from microseconds since the Unix epoch (journald's
    /// `__REALTIME_TIMESTAMP`), in UTC.
    pub fn from_unix_micros(micros: i64) -> Self {
        let secs = micros.div_euclid(1_000_000);
        let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Timestamp {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            nanos,
            frac_digits: 6,
            offset_minutes: 0,
        }
    }

    /// Seconds since the Unix epoch (UTC), for windows and TTLs.
    pub fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
            - self.offset_minutes as i64 * 60
    }

    /// Milliseconds since the Unix epoch (UTC).
    pub fn unix_millis(&self) -> i64 {
        self.unix_seconds() * 1000 + (self.nanos / 1_000_000) as i64
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm; written out because it is five lines and no date crate is
/// otherwise needed by the core).
pub(crate) fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y as i32, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.frac_digits > 0 {
            let digits = self.frac_digits as u32;
            let frac = self.nanos / 10u32.pow(9 - digits);
            write!(f, ".{:0width$}", frac, width = digits as usize)?;
        }
        if self.offset_minutes == 0 {
            f.write_str("Z")
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let off = self.offset_minutes.unsigned_abs();
            write!(f, "{}{:02}:{:02}", sign, off / 60, off % 60)
        }
    }
}

impl Timestamp {
    /// Writes the RFC 3339 form into `buf` without the formatting machinery
    /// (it runs once per line) and returns it.
    pub fn write_rfc3339<'b>(&self, buf: &'b mut [u8; 40]) -> &'b str {
        fn put(buf: &mut [u8; 40], at: &mut usize, v: u32, width: usize) {
            let mut v = v;
            for k in (0..width).rev() {
                buf[*at + k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            *at += width;
        }
        let mut n = 0;
        put(buf, &mut n, self.year.clamp(0, 9999) as u32, 4);
        for (sep, v) in [
            (b'-', self.month),
            (b'-', self.day),
            (b'T', self.hour),
            (b':', self.minute),
            (b':', self.second),
        ] {
            buf[n] = sep;
            n += 1;
            put(buf, &mut n, v as u32, 2);
        }
        if self.frac_digits > 0 {
            buf[n] = b'.';
            n += 1;
            let digits = self.frac_digits.min(9) as u32;
            put(buf, &mut n, self.nanos / 10u32.pow(9 - digits), digits as usize);
        }
        if self.offset_minutes == 0 {
            buf[n] = b'Z';
            n += 1;
        } else {
            buf[n] = if self.offset_minutes < 0 { b'-' } else { b'+' };
            n += 1;
            let off = self.offset_minutes.unsigned_abs() as u32;
            put(buf, &mut n, (off / 60).min(99), 2);
            buf[n] = b':';
            n += 1;
            put(buf, &mut n, off % 60, 2);
        }
        std::str::from_utf8(&buf[..n]).expect("ASCII digits and separators")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 40];
        s.serialize_str(self.write_rfc3339(&mut buf))
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 time of the line. Year-less syslog stamps get an inferred year and the configured UTC offset."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3164_space_and_zero_padded_days() {
        let p = YearPolicy::Fixed(2024);
        let (a, n) = Timestamp::parse_rfc3164(b"Aug  1 16:35:38 mx1", &p, 0).unwrap();
        let (b, _) = Timestamp::parse_rfc3164(b"Aug 01 16:35:38 mx1", &p, 0).unwrap();
        assert_eq!(n, 15);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2024-08-01T16:35:38Z");
        assert!(Timestamp::parse_rfc3164(b"Foo 01 16:35:38", &p, 0).is_none());
        assert!(Timestamp::parse_rfc3164(b"Aug 01 16:35:3", &p, 0).is_none());
    }

    #[test]
    fn year_rolls_back_when_stamp_is_ahead_of_reference() {
        let p = YearPolicy::Reference {
            year: 2027,
            month: 1,
            day: 2,
        };
        assert_eq!(p.year_for(12, 31), 2026);
        assert_eq!(p.year_for(1, 3), 2027, "one day ahead is clock skew, not last year");
        assert_eq!(p.year_for(1, 4), 2026);
    }

    #[test]
    fn rfc3339_keeps_precision_and_offset() {
        let (t, n) = Timestamp::parse_rfc3339(b"2026-08-01T16:35:38.123456+10:00 mx1").unwrap();
        assert_eq!(n, 32);
        assert_eq!(t.to_string(), "2026-08-01T16:35:38.123456+10:00");
        let (t, _) = Timestamp::parse_rfc3339(b"2026-08-01T16:35:38+1000").unwrap();
        assert_eq!(t.offset_minutes, 600);
        assert_eq!(
            t.unix_seconds() + 600 * 60,
            Timestamp::parse_rfc3339(b"2026-08-01T16:35:38Z")
                .unwrap()
                .0
                .unix_seconds()
        );
    }

    #[test]
    fn fast_writer_matches_display() {
        for t in [
            "2026-08-01T16:35:38.123456+10:00",
            "2026-08-01T16:35:38Z",
            "1999-12-31T23:59:60.5-05:30",
            "2026-01-02T03:04:05.000000001Z",
        ] {
            let (ts, _) = Timestamp::parse_rfc3339(t.as_bytes()).unwrap();
            let mut buf = [0u8; 40];
            assert_eq!(ts.write_rfc3339(&mut buf), ts.to_string());
            assert_eq!(ts.to_string(), t);
        }
    }

    #[test]
    fn unix_micros_round_trip() {
        let t = Timestamp::from_unix_micros(1_785_601_538_123_456);
        assert_eq!(t.to_string(), "2026-08-01T16:25:38.123456Z");
        assert_eq!(t.unix_seconds(), 1_785_601_538);
    }
}
