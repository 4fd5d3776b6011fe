//! Byte ranges (RFC 9110 §14).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Not a single satisfiable-or-not byte range we serve: send 200 full.
    /// (Invalid syntax and multiple ranges both land here: RFC 9110 §14.2
    /// lets a server ignore Range.)
    Ignore,
    /// 206 with this window.
    Part { start: u64, len: u64 },
    /// 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Interprets a Range header value for a representation of `len` bytes.
///
/// Only a single `bytes` range is served (§14.1.2: `a-b`, `a-`, `-n`);
/// empty list elements are skipped (§5.6.1.2). A number that does not fit
/// a u64 is treated as a syntax error (Ignore), as is `a-b` with a > b
/// (§14.1.1: invalid).
pub fn parse(value: &[u8], len: u64) -> Range {
    let Some(set) = strip_unit(value) else {
        return Range::Ignore;
    };
    let mut spec = None;
    for elem in set.split(|&b| b == b',').map(trim_ows) {
        if elem.is_empty() {
            continue;
        }
        if spec.is_some() {
            return Range::Ignore; // multiple ranges: we only serve one
        }
        spec = Some(elem);
    }
    let Some(spec) = spec else {
        return Range::Ignore;
    };
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return Range::Ignore;
    };
    let (first, rest) = spec.split_at(dash);
    let last = rest.get(1..).unwrap_or_default();
    if first.is_empty() {
        // suffix-range = "-" suffix-length (§14.1.2)
        return match parse_u64(last) {
            None => Range::Ignore,
            Some(0) => Range::Unsatisfiable,
            Some(_) if len == 0 => Range::Unsatisfiable,
            Some(n) => {
                let n = n.min(len);
                Range::Part {
                    start: len - n,
                    len: n,
                }
            }
        };
    }
    let Some(start) = parse_u64(first) else {
        return Range::Ignore;
    };
    let end = if last.is_empty() {
        None
    } else {
        match parse_u64(last) {
            Some(e) if e >= start => Some(e),
            _ => return Range::Ignore,
        }
    };
    if start >= len {
        return Range::Unsatisfiable;
    }
    // last-pos at or past the end means "to the end" (§14.1.2).
    let end = end.map_or(len - 1, |e| e.min(len - 1));
    Range::Part {
        start,
        len: end - start + 1,
    }
}

/// `bytes=` (range-unit is case-insensitive, §14.1) -> the range-set.
fn strip_unit(v: &[u8]) -> Option<&[u8]> {
    let unit = v.get(..6)?;
    unit.eq_ignore_ascii_case(b"bytes=")
        .then(|| v.get(6..))
        .flatten()
}

/// 1*DIGIT into a u64; None on anything else or overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Range::*;

    const M: u64 = u64::MAX;

    #[test]
    fn table() {
        let table: &[(&[u8], u64, Range)] = &[
            (b"bytes=0-0", 10, Part { start: 0, len: 1 }),
            (b"bytes=0-9", 10, Part { start: 0, len: 10 }),
            (b"bytes=0-", 10, Part { start: 0, len: 10 }),
            (b"bytes=2-5", 10, Part { start: 2, len: 4 }),
            (b"bytes=9-9", 10, Part { start: 9, len: 1 }),
            (b"bytes=5-", 10, Part { start: 5, len: 5 }),
            (b"bytes=-3", 10, Part { start: 7, len: 3 }),
            (b"bytes=-10", 10, Part { start: 0, len: 10 }),
            (b"bytes=-11", 10, Part { start: 0, len: 10 }),
            (b"bytes=5-100", 10, Part { start: 5, len: 5 }),
            (b"BYTES=1-2", 10, Part { start: 1, len: 2 }),
            (b"Bytes=1-2", 10, Part { start: 1, len: 2 }),
            (b"bytes= 1-2 ", 10, Part { start: 1, len: 2 }),
            (b"bytes=\t1-2", 10, Part { start: 1, len: 2 }),
            (b"bytes=1-2,", 10, Part { start: 1, len: 2 }),
            (b"bytes=, ,1-2", 10, Part { start: 1, len: 2 }),
            (b"bytes=007-008", 10, Part { start: 7, len: 2 }),
            // Unsatisfiable.
            (b"bytes=10-", 10, Unsatisfiable),
            (b"bytes=10-20", 10, Unsatisfiable),
            (b"bytes=-0", 10, Unsatisfiable),
            (b"bytes=0-0", 0, Unsatisfiable),
            (b"bytes=0-", 0, Unsatisfiable),
            (b"bytes=-5", 0, Unsatisfiable),
            (b"bytes=-0", 0, Unsatisfiable),
            // Ignored: syntax, invalid, multiple, other units.
            (b"bytes=5-4", 10, Ignore),
            (b"bytes=5-4", 0, Ignore),
            (b"bytes=1-2,3-4", 10, Ignore),
            (b"bytes=1-2, -1", 10, Ignore),
            (b"bytes=-", 10, Ignore),
            (b"bytes=", 10, Ignore),
            (b"bytes=,", 10, Ignore),
            (b"bytes", 10, Ignore),
            (b"", 10, Ignore),
            (b"bytes=a-b", 10, Ignore),
            (b"bytes=1", 10, Ignore),
            (b"bytes=1--2", 10, Ignore),
            (b"bytes=--2", 10, Ignore),
            (b"bytes=+1-2", 10, Ignore),
            (b"bytes=1 -2", 10, Ignore),
            (b"bytes=1- 2", 10, Ignore),
            (b"bytes =1-2", 10, Ignore),
            (b" bytes=1-2", 10, Ignore),
            (b"bytes:1-2", 10, Ignore),
            (b"items=1-2", 10, Ignore),
            (b"bytes=0x1-2", 10, Ignore),
            (b"bytes=\xff-2", 10, Ignore),
            // Near and past u64::MAX.
            (
                b"bytes=0-18446744073709551615",
                M,
                Part { start: 0, len: M },
            ),
            (b"bytes=0-", M, Part { start: 0, len: M }),
            (
                b"bytes=18446744073709551614-",
                M,
                Part {
                    start: M - 1,
                    len: 1,
                },
            ),
            (b"bytes=18446744073709551615-", M, Unsatisfiable),
            (b"bytes=-18446744073709551615", M, Part { start: 0, len: M }),
            (
                b"bytes=-18446744073709551615",
                10,
                Part { start: 0, len: 10 },
            ),
            (
                b"bytes=-1",
                M,
                Part {
                    start: M - 1,
                    len: 1,
                },
            ),
            (
                b"bytes=18446744073709551615-18446744073709551615",
                10,
                Unsatisfiable,
            ),
            (b"bytes=0-18446744073709551616", 10, Ignore),
            (b"bytes=18446744073709551616-", 10, Ignore),
            (b"bytes=-18446744073709551616", 10, Ignore),
            (b"bytes=-99999999999999999999999999999", 10, Ignore),
        ];
        for (v, len, want) in table {
            assert_eq!(
                parse(v, *len),
                *want,
                "{:?} len {len}",
                String::from_utf8_lossy(v)
            );
        }
    }

    #[test]
    fn part_always_inside_representation() {
        let lens = [0, 1, 2, 10, 1000, M - 1, M];
        let nums = [0, 1, 2, 9, 10, 11, 999, 1000, 1001, M - 1, M];
        let mut buf = String::new();
        for &len in &lens {
            for &a in &nums {
                for &b in &nums {
                    for v in [
                        format!("bytes={a}-{b}"),
                        format!("bytes={a}-"),
                        format!("bytes=-{b}"),
                    ] {
                        buf.clear();
                        buf.push_str(&v);
                        if let Part { start, len: n } = parse(buf.as_bytes(), len) {
                            assert!(n >= 1 && start < len, "{v} {len}");
                            assert!(start.checked_add(n).is_some_and(|e| e <= len), "{v} {len}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn parse_u64_overflow() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(M));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"0000000000000000000000001"), Some(1));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1 "), None);
    }
}
