//! HTTP-date (RFC 9110 §5.6.7), without a time crate.
//!
//! Calendar arithmetic is proleptic Gregorian (Howard Hinnant's
//! days-from-civil), exact for every year 0..=9999 that a 4-digit field can
//! hold. HTTP-date is case-sensitive (RFC 9110 §5.6.7), so names must match
//! exactly.

/// Length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
pub const DATE_LEN: usize = 29;

/// 9999-12-31T23:59:59Z: the last instant a 4-digit year can show.
pub const MAX_UNIX: i64 = 253_402_300_799;

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const LONG_DAYS: [&[u8]; 7] = [
    b"Sunday",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn put2(out: &mut [u8], at: usize, v: i64) {
    if let Some(d) = out.get_mut(at..at + 2) {
        d[0] = b'0' + (v / 10 % 10) as u8;
        d[1] = b'0' + (v % 10) as u8;
    }
}

/// Formats seconds since the epoch as IMF-fixdate. Values outside
/// 1970..=9999 are clamped to that range (a file time before the epoch is
/// shown as the epoch).
pub fn format(unix: i64, out: &mut [u8; DATE_LEN]) {
    let t = unix.clamp(0, MAX_UNIX);
    let days = t / 86_400;
    let secs = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    *out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    // 1970-01-01 was a Thursday (index 4).
    if let Some(name) = DAYS.get(((days + 4) % 7) as usize) {
        out[0..3].copy_from_slice(*name);
    }
    put2(out, 5, d);
    if let Some(name) = MONTHS.get((m - 1) as usize) {
        out[8..11].copy_from_slice(*name);
    }
    put2(out, 12, y / 100);
    put2(out, 14, y % 100);
    put2(out, 17, secs / 3600);
    put2(out, 20, secs / 60 % 60);
    put2(out, 23, secs % 60);
}

/// Parses IMF-fixdate, and the obsolete RFC 850 and asctime forms which a
/// recipient MUST accept (RFC 9110 §5.6.7). None when it is none of them or
/// a field is out of range (month name, day 32, Feb 30, hour 24, ...).
/// A second of 60 (leap second) is accepted and counts into the next minute.
pub fn parse(s: &[u8]) -> Option<i64> {
    parse_imf(s)
        .or_else(|| parse_rfc850(s))
        .or_else(|| parse_asctime(s))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf(s: &[u8]) -> Option<i64> {
    if s.len() != DATE_LEN || s.get(3..5)? != b", " || s.get(25..)? != b" GMT" {
        return None;
    }
    short_day(s.get(0..3)?)?;
    if s.get(7) != Some(&b' ') || s.get(11) != Some(&b' ') || s.get(16) != Some(&b' ') {
        return None;
    }
    let day = digits(s.get(5..7)?)?;
    let month = month(s.get(8..11)?)?;
    let year = digits(s.get(12..16)?)?;
    let (h, mi, sec) = time(s.get(17..25)?)?;
    to_unix(year, month, day, h, mi, sec)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`. Two-digit years: 00..=69 are 20yy,
/// 70..=99 are 19yy (RFC 9110 §5.6.7 asks for "not more than 50 years in
/// the future", which needs a clock; this fixed pivot is what most servers
/// do and is right until 2070).
fn parse_rfc850(s: &[u8]) -> Option<i64> {
    let comma = s.iter().position(|&b| b == b',')?;
    let name = s.get(..comma)?;
    if !LONG_DAYS.contains(&name) {
        return None;
    }
    let r = s.get(comma + 1..)?;
    // " DD-Mon-YY HH:MM:SS GMT"
    if r.len() != 23 || r.first() != Some(&b' ') || r.get(19..)? != b" GMT" {
        return None;
    }
    if r.get(3) != Some(&b'-') || r.get(7) != Some(&b'-') || r.get(10) != Some(&b' ') {
        return None;
    }
    let day = digits(r.get(1..3)?)?;
    let month = month(r.get(4..7)?)?;
    let yy = digits(r.get(8..10)?)?;
    let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
    let (h, mi, sec) = time(r.get(11..19)?)?;
    to_unix(year, month, day, h, mi, sec)
}

/// `Sun Nov  6 08:49:37 1994` (day is SP DIGIT or 2DIGIT).
fn parse_asctime(s: &[u8]) -> Option<i64> {
    if s.len() != 24 {
        return None;
    }
    short_day(s.get(0..3)?)?;
    for i in [3, 7, 10, 19] {
        if s.get(i) != Some(&b' ') {
            return None;
        }
    }
    let month = month(s.get(4..7)?)?;
    let day = match s.get(8..10)? {
        [b' ', d] => digits(&[*d])?,
        d => digits(d)?,
    };
    let (h, mi, sec) = time(s.get(11..19)?)?;
    let year = digits(s.get(20..24)?)?;
    to_unix(year, month, day, h, mi, sec)
}

fn short_day(s: &[u8]) -> Option<()> {
    DAYS.iter().any(|d| &d[..] == s).then_some(())
}

fn month(s: &[u8]) -> Option<i64> {
    let i = MONTHS.iter().position(|m| &m[..] == s)?;
    Some(i as i64 + 1)
}

/// A fixed-width run of 1..=4 ASCII digits.
fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
    s.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// `HH:MM:SS`
fn time(s: &[u8]) -> Option<(i64, i64, i64)> {
    if s.len() != 8 || s.get(2) != Some(&b':') || s.get(5) != Some(&b':') {
        return None;
    }
    Some((
        digits(s.get(0..2)?)?,
        digits(s.get(3..5)?)?,
        digits(s.get(6..8)?)?,
    ))
}

fn to_unix(y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let ok = (1..=12).contains(&m)
        && (1..=days_in_month(y, m)).contains(&d)
        && h < 24
        && mi < 60
        && s <= 60;
    ok.then(|| days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(t: i64) -> [u8; DATE_LEN] {
        let mut out = [0u8; DATE_LEN];
        format(t, &mut out);
        out
    }

    #[test]
    fn format_known_values() {
        let table: &[(i64, &[u8; DATE_LEN])] = &[
            (0, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, b"Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, b"Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_000_000_000, b"Sun, 09 Sep 2001 01:46:40 GMT"),
            (2_147_483_647, b"Tue, 19 Jan 2038 03:14:07 GMT"),
            (4_107_542_399, b"Sun, 28 Feb 2100 23:59:59 GMT"),
            (4_107_542_400, b"Mon, 01 Mar 2100 00:00:00 GMT"),
            (MAX_UNIX, b"Fri, 31 Dec 9999 23:59:59 GMT"),
            // Clamped.
            (-1, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (i64::MIN, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (i64::MAX, b"Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (t, want) in table {
            assert_eq!(&fmt(*t), *want, "t = {t}");
        }
    }

    #[test]
    fn parse_three_forms() {
        let t = Some(784_111_777);
        assert_eq!(parse(b"Sun, 06 Nov 1994 08:49:37 GMT"), t);
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT"), t);
        assert_eq!(parse(b"Sun Nov  6 08:49:37 1994"), t);
        assert_eq!(parse(b"Sun Nov 06 08:49:37 1994"), t);
        assert_eq!(
            parse(b"Sun Nov 16 08:49:37 1994"),
            Some(784_111_777 + 10 * 86_400)
        );
        // RFC 850 two-digit year pivot.
        assert_eq!(parse(b"Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
        assert_eq!(parse(b"Friday, 01-Jan-00 00:00:00 GMT"), Some(946_684_800));
        assert_eq!(
            parse(b"Wednesday, 31-Dec-69 23:59:59 GMT"),
            Some(3_155_759_999)
        );
        // Before the epoch: negative, not an error.
        assert_eq!(parse(b"Wed, 31 Dec 1969 23:59:59 GMT"), Some(-1));
        assert_eq!(
            parse(b"Mon, 01 Jan 1900 00:00:00 GMT"),
            Some(-2_208_988_800)
        );
        // Leap second and leap day.
        assert_eq!(parse(b"Sat, 31 Dec 2016 23:59:60 GMT"), Some(1_483_228_800));
        assert_eq!(parse(b"Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
    }

    #[test]
    fn parse_rejects() {
        let bad: &[&[u8]] = &[
            b"",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 06 Nov 1994 08:49:37 gmt",
            b"sun, 06 Nov 1994 08:49:37 GMT",
            b"Sun, 06 nov 1994 08:49:37 GMT",
            b"Sun, 06 Nox 1994 08:49:37 GMT",
            b"Xyz, 06 Nov 1994 08:49:37 GMT",
            b"Sun, 32 Jan 1994 08:49:37 GMT",
            b"Sun, 00 Jan 1994 08:49:37 GMT",
            b"Sun, 29 Feb 1900 08:49:37 GMT",
            b"Sun, 30 Feb 2000 08:49:37 GMT",
            b"Sun, 31 Apr 2000 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:00:00 GMT",
            b"Sun, 06 Nov 1994 08:60:00 GMT",
            b"Sun, 06 Nov 1994 08:49:61 GMT",
            b"Sun, 6 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 94 08:49:37 GMT",
            b"Sun, 06 Nov 1994 08:49:37 GMT ",
            b" Sun, 06 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 08-49-37 GMT",
            b"Sun, 06 Nov 199x 08:49:37 GMT",
            b"Sun, 06 Nov +994 08:49:37 GMT",
            b"Sun,_06 Nov 1994 08:49:37 GMT",
            b"Sunday, 06-Nov-1994 08:49:37 GMT",
            b"Sunday, 06 Nov 94 08:49:37 GMT",
            b"Sun, 06-Nov-94 08:49:37 GMT",
            b"Funday, 06-Nov-94 08:49:37 GMT",
            b"Sunday, 06-Nov-94 08:49:37 GMX",
            b", 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 94",
            b"Sun Nov 6 08:49:37 1994",
            b"Sun Nov  6 08:49:37 1994 ",
            b"Sun Nov  0 08:49:37 1994",
            b"Sun Nov 31 08:49:37 1994",
            b"Sun Nov 6  08:49:37 1994",
            b"Sun Nov  6 25:49:37 1994",
            b"1994-11-06T08:49:37Z",
            b"784111777",
            "Sun, 06 Nov 1994 08:49:37 GM\u{e9}".as_bytes(),
        ];
        for s in bad {
            assert_eq!(parse(s), None, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn round_trip_many_values() {
        // Every day boundary +/- a second over a stride of the whole range,
        // plus a pseudo-random walk.
        let mut t: i64 = 0;
        while t <= MAX_UNIX {
            for d in [0, 1, 86_399] {
                let v = (t + d).min(MAX_UNIX);
                assert_eq!(parse(&fmt(v)), Some(v), "t = {v}");
            }
            t += 86_400 * 97 + 3_607;
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x % (MAX_UNIX as u64 + 1)) as i64;
            assert_eq!(parse(&fmt(v)), Some(v), "t = {v}");
        }
    }

    #[test]
    fn civil_round_trip_every_day() {
        // days_from_civil and civil_from_days agree for 0000-03-01..9999-12-31.
        let first = days_from_civil(0, 3, 1);
        let last = days_from_civil(9999, 12, 31);
        let mut prev = civil_from_days(first - 1);
        for z in first..=last {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            assert!((1..=days_in_month(y, m)).contains(&d));
            // Consecutive days step the calendar by one day.
            if d == 1 {
                assert_eq!(prev.2, days_in_month(prev.0, prev.1));
            } else {
                assert_eq!((prev.0, prev.1, prev.2 + 1), (y, m, d));
            }
            prev = (y, m, d);
        }
    }

    #[test]
    fn all_three_forms_agree() {
        let mut x: u64 = 12345;
        for _ in 0..2_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // 1970..=2069, the span where an RFC 850 date is unambiguous.
            let v = ((x >> 11) % 3_155_760_000) as i64;
            let imf = fmt(v);
            let (y, m, d) = civil_from_days(v / 86_400);
            let wd = ((v / 86_400 + 4) % 7) as usize;
            let long = String::from_utf8_lossy(LONG_DAYS[wd]).into_owned();
            let hms = String::from_utf8_lossy(&imf[17..25]).into_owned();
            let mon = String::from_utf8_lossy(MONTHS[(m - 1) as usize]).into_owned();
            let short = String::from_utf8_lossy(DAYS[wd]).into_owned();
            let rfc850 = format!("{long}, {d:02}-{mon}-{:02} {hms} GMT", y % 100);
            let asc = format!("{short} {mon} {d:>2} {hms} {y}");
            assert_eq!(parse(rfc850.as_bytes()), Some(v), "{rfc850}");
            assert_eq!(parse(asc.as_bytes()), Some(v), "{asc}");
        }
    }
}
