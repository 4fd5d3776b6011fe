//! Validators and conditional requests (RFC 9110 §8.8, §13).

use super::date;
use super::writer::Writer;

/// Longest ETag we make: `"` + 16 hex + `-` + 16 hex + `"`.
pub const ETAG_MAX: usize = 36;

/// Writes our entity tag for a file into `out`, returns its length.
/// Format (as nginx): `"<mtime secs hex>-<size hex>"`. A negative mtime is
/// written as its two's-complement bit pattern (16 hex digits).
pub fn etag(mtime: i64, size: u64, out: &mut [u8; ETAG_MAX]) -> usize {
    let mut w = Writer::new(out);
    w.str("\"").hex(mtime as u64).str("-").hex(size).str("\"");
    w.len()
}

/// RFC 9110 §13.2.2 for GET/HEAD: true when the answer is 304.
/// If-None-Match (weak comparison, `*` matches) takes precedence;
/// If-Modified-Since is used only without If-None-Match and is ignored when
/// it does not parse as an HTTP-date.
pub fn not_modified(
    if_none_match: Option<&[u8]>,
    if_modified_since: Option<&[u8]>,
    etag: &[u8],
    mtime: i64,
) -> bool {
    if let Some(inm) = if_none_match {
        // §13.1.2: the condition is false (-> 304) when a listed tag matches.
        return none_match_hits(inm, etag);
    }
    match if_modified_since.and_then(date::parse) {
        // §13.1.3: false (-> 304) when not modified after the given date.
        Some(since) => mtime <= since,
        None => false,
    }
}

/// RFC 9110 §13.1.5: true when a Range may be honoured given If-Range
/// (strong ETag comparison, or an HTTP-date equal to Last-Modified).
pub fn if_range_ok(if_range: &[u8], etag: &[u8], mtime: i64) -> bool {
    let v = trim_ows(if_range);
    if v.starts_with(b"W/") || v.starts_with(b"\"") {
        // §8.8.3.2 strong comparison: neither tag may be weak.
        return match entity_tag(v) {
            Some((false, tag, b"")) => {
                matches!(entity_tag(etag), Some((false, ours, b"")) if ours == tag)
            }
            _ => false,
        };
    }
    date::parse(v) == Some(mtime)
}

/// If-None-Match list against our tag, weak comparison (§8.8.3.2).
/// An unparseable list never matches (the full answer is always safe).
fn none_match_hits(list: &[u8], etag: &[u8]) -> bool {
    let ours = match entity_tag(etag) {
        Some((_, tag, b"")) => tag,
        _ => return false,
    };
    let mut rest = list;
    loop {
        rest = skip_list_sep(rest);
        if rest.is_empty() {
            return false;
        }
        if let Some(after) = rest.strip_prefix(b"*") {
            // `*` alone by grammar; accepted anywhere in the list.
            let after = trim_ows(after);
            return after.is_empty() || after.starts_with(b",");
        }
        let Some((_, tag, after)) = entity_tag(rest) else {
            return false;
        };
        if tag == ours {
            return true;
        }
        let after = trim_ows_start(after);
        if !after.is_empty() && !after.starts_with(b",") {
            return false;
        }
        rest = after;
    }
}

/// Parses one `[W/]"opaque"` at the start of `s`: (weak, `"opaque"` with
/// its quotes, the bytes after it).
fn entity_tag(s: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (weak, s) = match s.strip_prefix(b"W/") {
        Some(r) => (true, r),
        None => (false, s),
    };
    if s.first() != Some(&b'"') {
        return None;
    }
    let body = s.get(1..)?;
    let close = body.iter().position(|&b| b == b'"')?;
    // etagc = %x21 / %x23-7E / obs-text
    if body.get(..close)?.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return None;
    }
    Some((weak, s.get(..close + 2)?, s.get(close + 2..)?))
}

fn skip_list_sep(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b','))
        .count();
    s.get(n..).unwrap_or_default()
}

fn trim_ows_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    s.get(n..).unwrap_or_default()
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let s = trim_ows_start(s);
    let n = s
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    s.get(..s.len() - n).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(mtime: i64, size: u64) -> Vec<u8> {
        let mut out = [0u8; ETAG_MAX];
        let n = etag(mtime, size, &mut out);
        out[..n].to_vec()
    }

    #[test]
    fn etag_format() {
        assert_eq!(tag(0, 0), b"\"0-0\"");
        assert_eq!(tag(0x5f5e_1000, 4096), b"\"5f5e1000-1000\"");
        assert_eq!(tag(-1, u64::MAX), b"\"ffffffffffffffff-ffffffffffffffff\"");
        assert_eq!(tag(i64::MIN, 1).len(), 2 + 16 + 1 + 1);
        // The longest tag fits with a byte to spare.
        assert_eq!(tag(-1, u64::MAX).len(), ETAG_MAX - 1);
    }

    const E: &[u8] = b"\"5f5e1000-1000\"";
    const WE: &[u8] = b"W/\"5f5e1000-1000\"";
    // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
    const T: i64 = 784_111_777;
    const D: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    #[test]
    fn not_modified_table() {
        type Case<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, &'a [u8], i64, bool);
        let table: &[Case] = &[
            (None, None, E, T, false),
            // If-None-Match, weak comparison.
            (Some(E), None, E, T, true),
            (Some(WE), None, E, T, true),
            (Some(E), None, WE, T, true),
            (Some(b"*"), None, E, T, true),
            (Some(b" * "), None, E, T, true),
            (Some(b"\"other\""), None, E, T, false),
            (Some(b"\"a\", \"5f5e1000-1000\""), None, E, T, true),
            (Some(b"\"a\",W/\"5f5e1000-1000\" , \"b\""), None, E, T, true),
            (Some(b", ,\"a\" ,, \"5f5e1000-1000\","), None, E, T, true),
            (Some(b"\"a,b\", \"5f5e1000-1000\""), None, E, T, true),
            (Some(b"\"5f5e1000-1000"), None, E, T, false),
            (Some(b"5f5e1000-1000"), None, E, T, false),
            (Some(b"\"x\" junk, \"5f5e1000-1000\""), None, E, T, false),
            (Some(b"w/\"5f5e1000-1000\""), None, E, T, false),
            (Some(b""), None, E, T, false),
            // INM present: IMS is ignored even when it would say 304.
            (Some(b"\"other\""), Some(D), E, T, false),
            // If-Modified-Since.
            (None, Some(D), E, T, true),
            (None, Some(D), E, T - 1, true),
            (None, Some(D), E, T + 1, false),
            (None, Some(b"Sunday, 06-Nov-94 08:49:37 GMT"), E, T, true),
            (None, Some(b"Sun Nov  6 08:49:37 1994"), E, T, true),
            (None, Some(b"yesterday"), E, T, false),
            (None, Some(b"Sun, 06 Nov 1994 08:49:37 GMT, x"), E, T, false),
            // Before the epoch.
            (None, Some(b"Wed, 31 Dec 1969 23:59:59 GMT"), E, 0, false),
            (None, Some(b"Wed, 31 Dec 1969 23:59:59 GMT"), E, -1, true),
            (None, Some(b"Thu, 01 Jan 1970 00:00:00 GMT"), E, 0, true),
            (
                None,
                Some(b"Thu, 01 Jan 1970 00:00:00 GMT"),
                E,
                i64::MIN,
                true,
            ),
            (
                None,
                Some(b"Fri, 31 Dec 9999 23:59:59 GMT"),
                E,
                i64::MAX,
                false,
            ),
        ];
        for (i, (inm, ims, e, m, want)) in table.iter().enumerate() {
            assert_eq!(not_modified(*inm, *ims, e, *m), *want, "case {i}");
        }
    }

    #[test]
    fn if_range_table() {
        let table: &[(&[u8], &[u8], i64, bool)] = &[
            (E, E, T, true),
            (b" \"5f5e1000-1000\" ", E, T, true),
            (WE, E, T, false),
            (E, WE, T, false),
            (WE, WE, T, false),
            (b"\"other\"", E, T, false),
            (b"\"5f5e1000-1000\", \"x\"", E, T, false),
            (b"\"5f5e1000-1000", E, T, false),
            (b"*", E, T, false),
            (D, E, T, true),
            (D, E, T - 1, false),
            (D, E, T + 1, false),
            (b"Sun Nov  6 08:49:37 1994", E, T, true),
            (b"not a date", E, T, false),
            (b"", E, T, false),
        ];
        for (i, (v, e, m, want)) in table.iter().enumerate() {
            assert_eq!(if_range_ok(v, e, *m), *want, "case {i}");
        }
    }

    #[test]
    fn our_tags_match_themselves() {
        for (m, s) in [(0, 0), (-5, 7), (T, u64::MAX), (i64::MAX, 1)] {
            let t = tag(m, s);
            assert!(not_modified(Some(&t), None, &t, m));
            assert!(if_range_ok(&t, &t, m));
            assert!(!not_modified(Some(&tag(m, s ^ 1)), None, &t, m));
        }
    }
}
