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

/// Reads `.ddd` (or `,ddd`) at `i`: nanoseconds, digits kept (at most 9;
/// further digits are read and dropped), and where the stamp continues.
/// `None` for a separator with no digit after it.
fn parse_fraction(b: &[u8], mut i: usize) -> Option<(u32, u8, usize)> {
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
        // A table, not `pow`, whose loop showed on every line of a log
        // with RFC 3339 stamps (callgrind).
        const SCALE: [u32; 10] = [
            1_000_000_000,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        nanos *= SCALE[frac_digits as usize];
    }
    Some((nanos, frac_digits, i))
}

/// `YYYY-MM-DD[T ]hh:mm:ss[.frac]` without a zone; the offset is left 0.
fn parse_iso_local(b: &[u8]) -> Option<(Timestamp, usize)> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let y = &b[0..4];
    if !y.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = y.iter().fold(0i32, |a, d| a * 10 + (d - b'0') as i32);
    let month = two_digits(&b[5..7]).filter(|m| (1..=12).contains(m))?;
    let day = two_digits(&b[8..10]).filter(|d| (1..=31).contains(d))?;
    let (hour, minute, second) = parse_hms(&b[11..19])?;
    let (nanos, frac_digits, i) = parse_fraction(b, 19)?;
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
            offset_minutes: 0,
        },
        i,
    ))
}

/// A zone suffix glued to a stamp: `Z`, `+hh:mm`, `+hhmm` or `+hh`.
fn parse_offset(b: &[u8]) -> Option<(i16, usize)> {
    match b.first()? {
        b'Z' | b'z' => Some((0, 1)),
        &sign @ (b'+' | b'-') => {
            let h = two_digits(b.get(1..3)?)? as i16;
            let (m, used) = if b.get(3) == Some(&b':') {
                (two_digits(b.get(4..6)?)? as i16, 6)
            } else if let Some(m) = b.get(3..5).and_then(two_digits) {
                (m as i16, 5)
            } else {
                (0, 3)
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 60 + m;
            Some((if sign == b'-' { -off } else { off }, used))
        }
        _ => None,
    }
}

/// The UTC offset of a zone as `strftime("%Z")` names it: numeric names
/// (`+03`, `-0530`, which glibc uses for zones without an abbreviation),
/// UTC/GMT, and the abbreviations that name one offset only. Ambiguous ones
/// (`CST`: China, US Central or Cuba; `IST`: India, Ireland or Israel; `AST`)
/// are deliberately absent: the caller falls back to the configured offset.
pub fn zone_offset(name: &[u8]) -> Option<i16> {
    if let Some((off, used)) = parse_offset(name) {
        return (used == name.len() && name[0] != b'Z' && name[0] != b'z').then_some(off);
    }
    const ZONES: [(&[u8], i16); 38] = [
        (b"UTC", 0),
        (b"GMT", 0),
        (b"UT", 0),
        (b"WET", 0),
        (b"WEST", 60),
        (b"BST", 60),
        (b"CET", 60),
        (b"CEST", 120),
        (b"MET", 60),
        (b"MEST", 120),
        (b"WAT", 60),
        (b"EET", 120),
        (b"EEST", 180),
        (b"CAT", 120),
        (b"SAST", 120),
        (b"EAT", 180),
        (b"MSK", 180),
        (b"PKT", 300),
        (b"HKT", 480),
        (b"AWST", 480),
        (b"JST", 540),
        (b"KST", 540),
        (b"ACST", 570),
        (b"ACDT", 630),
        (b"AEST", 600),
        (b"AEDT", 660),
        (b"NZST", 720),
        (b"NZDT", 780),
        (b"HST", -600),
        (b"AKST", -540),
        (b"AKDT", -480),
        (b"PST", -480),
        (b"PDT", -420),
        (b"MST", -420),
        (b"MDT", -360),
        (b"EST", -300),
        (b"EDT", -240),
        (b"NST", -210),
    ];
    ZONES.iter().find(|(n, _)| *n == name).map(|&(_, off)| off)
}

/// Could this token be a zone name as `strftime("%Z")` writes it (letters,
/// or a sign and digits)? Decides, in `short-full` stamps, whether the token
/// after the time is the zone or already the host.
pub fn is_zone_name(name: &[u8]) -> bool {
    zone_offset(name).is_some() || ((2..=5).contains(&name.len()) && name.iter().all(u8::is_ascii_uppercase))
}

impl Timestamp {
    /// Parses an RFC 3164 stamp `Mmm d hh:mm:ss` at the start of `b`: the day
    /// space-padded (`Mar  7`), zero-padded (`Mar 07`, journalctl) or not
    /// padded at all (`Mar 7`, some daemons and most copy-pasted logs), with
    /// optional fractional seconds (`02:09:33.123456`, journalctl
    /// `-o short-precise`, rsyslog high-precision templates). Returns the
    /// stamp and the bytes it used.
    pub fn parse_rfc3164(b: &[u8], years: &YearPolicy, offset_minutes: i16) -> Option<(Self, usize)> {
        if b.len() < 14 || b[3] != b' ' {
            return None;
        }
        let month = month_from_abbrev(&b[0..3])?;
        // One or two spaces, then one or two digits, then one space.
        let mut i = 4;
        if b[i] == b' ' {
            i += 1;
        }
        let (day, used) = match (b[i], b[i + 1]) {
            (a, d) if a.is_ascii_digit() && d.is_ascii_digit() => ((a - b'0') * 10 + (d - b'0'), 2),
            (d, b' ') if d.is_ascii_digit() => (d - b'0', 1),
            _ => return None,
        };
        i += used;
        if day == 0 || day > 31 || b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let (hour, minute, second) = parse_hms(b.get(i..i + 8)?)?;
        i += 8;
        let (nanos, frac_digits, i) = parse_fraction(b, i)?;
        if i < b.len() && b[i] != b' ' {
            return None;
        }
        Some((
            Timestamp {
                year: years.year_for(month, day),
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

    /// Parses an RFC 3339 / ISO 8601 stamp at the start of `b`:
    /// `2026-08-01T16:35:38.123456+10:00`, `Z`, `+1000` (older journalctl
    /// `-o short-iso`), `+10`, a space instead of `T`, or no zone at all, in
    /// which case `zoneless_offset` (the configured offset) applies. Returns
    /// the stamp and its length.
    pub fn parse_rfc3339(b: &[u8], zoneless_offset: i16) -> Option<(Self, usize)> {
        let (mut t, i) = parse_iso_local(b)?;
        let (offset, used) = match parse_offset(&b[i..]) {
            Some(z) => z,
            None => (zoneless_offset, 0),
        };
        // Whatever follows must be the next field, not a zone we misread.
        if b.get(i + used).is_some_and(|&c| c != b' ') {
            return None;
        }
        t.offset_minutes = offset;
        Some((t, i + used))
    }

    /// Parses the date and time of journalctl's `-o short-full` stamp,
    /// `Sat 2026-03-07 02:09:33 CET` (systemd's `format_timestamp_style`:
    /// weekday, date, time, then the zone's abbreviation, `UTC` with
    /// `--utc`, or nothing when the zone has no name). The zone is the
    /// caller's to read ([`zone_offset`], [`is_zone_name`]): it cannot be told
    /// from a host name without what follows. The offset is `zoneless_offset`.
    pub fn parse_short_full(b: &[u8], zoneless_offset: i16) -> Option<(Self, usize)> {
        const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
        if b.len() < 23 || b[3] != b' ' || b[14] != b' ' || !DAYS.iter().any(|d| d.eq_ignore_ascii_case(&b[..3])) {
            return None;
        }
        let (mut t, n) = parse_iso_local(&b[4..])?;
        t.offset_minutes = zoneless_offset;
        Some((t, 4 + n))
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
        let mut buf = [0u8; 40];
        f.write_str(self.write_rfc3339(&mut buf))
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
    fn rfc3164_unpadded_day_and_fractions() {
        let p = YearPolicy::Fixed(2026);
        let (a, n) = Timestamp::parse_rfc3164(b"Mar 7 02:09:33 mx1", &p, 0).unwrap();
        assert_eq!(n, 14);
        let (b, m) = Timestamp::parse_rfc3164(b"Mar  7 02:09:33 mx1", &p, 0).unwrap();
        assert_eq!(m, 15);
        assert_eq!(a, b);
        let (c, _) = Timestamp::parse_rfc3164(b"Mar 07 02:09:33", &p, 0).unwrap();
        assert_eq!(a, c);
        let (f, n) = Timestamp::parse_rfc3164(b"Mar 07 02:09:33.123456 mx1", &p, 60).unwrap();
        assert_eq!(n, 22);
        assert_eq!(f.to_string(), "2026-03-07T02:09:33.123456+01:00");
        let (f, _) = Timestamp::parse_rfc3164(b"Mar 7 02:09:33.5", &p, 0).unwrap();
        assert_eq!((f.nanos, f.frac_digits), (500_000_000, 1));
        for bad in [
            &b"Mar 7 02:09:33x mx1"[..],
            b"Mar 7 02:09:33. mx1",
            b"Mar 123 02:09:33 mx1",
            b"Mar 0 02:09:33 mx1x",
            b"Mar 32 02:09:33 mx1",
            b"Mar   7 02:09:33 mx1",
            b"Mar 7  02:09:33 mx1",
        ] {
            assert!(
                Timestamp::parse_rfc3164(bad, &p, 0).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn iso8601_zones_and_zoneless() {
        let (t, n) = Timestamp::parse_rfc3339(b"2026-03-07T02:09:33 mx1", 90).unwrap();
        assert_eq!((n, t.offset_minutes), (19, 90), "zone-less takes the configured offset");
        let (t, n) = Timestamp::parse_rfc3339(b"2026-03-07 02:09:33.25 mx1", -60).unwrap();
        assert_eq!((n, t.offset_minutes, t.frac_digits), (22, -60, 2));
        let (t, n) = Timestamp::parse_rfc3339(b"2026-03-07T02:09:33+01 mx1", 0).unwrap();
        assert_eq!((n, t.offset_minutes), (22, 60));
        let (t, n) = Timestamp::parse_rfc3339(b"2026-03-07T02:09:33-0330 mx1", 0).unwrap();
        assert_eq!((n, t.offset_minutes), (24, -210));
        let (t, _) = Timestamp::parse_rfc3339(b"2026-03-07T02:09:33z", 600).unwrap();
        assert_eq!(t.offset_minutes, 0);
        assert!(Timestamp::parse_rfc3339(b"2026-03-07T02:09:33+25:00", 0).is_none());
    }

    #[test]
    fn short_full_and_zone_names() {
        let (t, n) = Timestamp::parse_short_full(b"Sat 2026-03-07 02:09:33 CET mx1", 30).unwrap();
        assert_eq!(n, 23);
        assert_eq!(t.to_string(), "2026-03-07T02:09:33+00:30");
        assert!(Timestamp::parse_short_full(b"Sat 2026-03-07T02:09:33 CET", 0).is_none());
        assert!(Timestamp::parse_short_full(b"Mar 2026-03-07 02:09:33 CET", 0).is_none());
        assert_eq!(zone_offset(b"CET"), Some(60));
        assert_eq!(zone_offset(b"UTC"), Some(0));
        assert_eq!(zone_offset(b"+0530"), Some(330));
        assert_eq!(zone_offset(b"-03"), Some(-180));
        assert_eq!(zone_offset(b"CST"), None, "ambiguous");
        assert_eq!(zone_offset(b"Z"), None);
        assert_eq!(zone_offset(b"+05x"), None);
        assert!(is_zone_name(b"CST") && is_zone_name(b"+03") && is_zone_name(b"UTC"));
        assert!(!is_zone_name(b"mx1") && !is_zone_name(b"MX1") && !is_zone_name(b"M"));
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
        let (t, n) = Timestamp::parse_rfc3339(b"2026-08-01T16:35:38.123456+10:00 mx1", 0).unwrap();
        assert_eq!(n, 32);
        assert_eq!(t.to_string(), "2026-08-01T16:35:38.123456+10:00");
        let (t, _) = Timestamp::parse_rfc3339(b"2026-08-01T16:35:38+1000", 0).unwrap();
        assert_eq!(t.offset_minutes, 600);
        assert_eq!(
            t.unix_seconds() + 600 * 60,
            Timestamp::parse_rfc3339(b"2026-08-01T16:35:38Z", 0)
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
            let (ts, _) = Timestamp::parse_rfc3339(t.as_bytes(), 0).unwrap();
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
