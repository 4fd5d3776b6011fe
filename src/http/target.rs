//! Request-target decoding and normalisation (RFC 3986 §5.2.4, §6).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Bad percent-encoding, NUL, backslash, control byte, `..` above root,
    /// or not starting with '/'.
    Bad,
    /// Decoded path longer than the output.
    TooLong,
}

/// Splits "path?query" at the first '?'.
pub fn split_query(path_and_query: &[u8]) -> (&[u8], Option<&[u8]>) {
    match path_and_query.iter().position(|&b| b == b'?') {
        Some(i) => (
            path_and_query.get(..i).unwrap_or_default(),
            path_and_query.get(i + 1..),
        ),
        None => (path_and_query, None),
    }
}

/// Percent-decodes and normalises an origin-form path (no query) into
/// `out`, returning the length. The result starts with '/', has no empty,
/// "." or ".." segments, keeps a trailing '/', and contains no NUL or
/// backslash (also not percent-encoded). ".." above the root is an error.
///
/// Decoding comes first, so `%2e%2e` is a `..` segment (RFC 3986 §6.2.2.2
/// then §5.2.4). An encoded slash `%2F` is refused (Bad): it could only
/// mean a '/' inside a file name, which Linux doesn't have, and decoding it
/// to a separator would let `..%2F` sneak past segment checks done on the
/// raw form. Control bytes (< 0x20, 0x7f) are refused; other bytes
/// (including non-UTF-8) pass, since Linux paths are bytes. A path whose
/// last segment is "." or ".." ends in '/' (`/a/b/..` -> `/a/`).
/// `out` must also hold each decoded segment before "." or ".." drops it,
/// so TooLong may come a few bytes early; `path.len()` always suffices.
pub fn normalize(path: &[u8], out: &mut [u8]) -> Result<usize, TargetError> {
    if path.first() != Some(&b'/') {
        return Err(TargetError::Bad);
    }
    *out.first_mut().ok_or(TargetError::TooLong)? = b'/';
    let mut w = 1; // write position; out[..w] always ends with '/'
    let mut seg = 1; // start of the segment being written
    let mut i = 1; // read position in `path`
    loop {
        let c = path.get(i).copied();
        if c.is_none() || c == Some(b'/') {
            // End of a segment (RFC 3986 §5.2.4 remove_dot_segments).
            let s = out.get(seg..w).unwrap_or_default();
            if s.is_empty() || s == b"." {
                w = seg;
            } else if s == b".." {
                if seg <= 1 {
                    return Err(TargetError::Bad);
                }
                // Pop the previous segment: back to the '/' before it.
                let prev = out.get(..seg - 1).unwrap_or_default();
                w = prev.iter().rposition(|&b| b == b'/').map_or(1, |p| p + 1);
            } else if c.is_some() {
                *out.get_mut(w).ok_or(TargetError::TooLong)? = b'/';
                w += 1;
            }
            if c.is_none() {
                return Ok(w);
            }
            seg = w;
            i += 1;
            continue;
        }
        let (b, used) = match c {
            Some(b'%') => {
                let hi = path.get(i + 1).and_then(|&h| hex_val(h));
                let lo = path.get(i + 2).and_then(|&l| hex_val(l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => ((hi << 4) | lo, 3),
                    _ => return Err(TargetError::Bad),
                }
            }
            Some(b) => (b, 1),
            None => return Err(TargetError::Bad), // unreachable: handled above
        };
        if b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f {
            return Err(TargetError::Bad);
        }
        *out.get_mut(w).ok_or(TargetError::TooLong)? = b;
        w += 1;
        i += used;
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// True if a normalised path has a segment starting with '.'.
pub fn has_dot_segment(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|s| s.first() == Some(&b'.'))
}

/// Percent-encodes a normalised path for a Location header
/// (unreserved, '/', and sub-delims stay; everything else %XX, upper-case
/// hex as RFC 3986 §2.1 recommends).
pub fn encode_path(path: &[u8], out: &mut [u8]) -> Result<usize, TargetError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut w = 0;
    for &b in path {
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=".contains(&b);
        if keep {
            *out.get_mut(w).ok_or(TargetError::TooLong)? = b;
            w += 1;
        } else {
            let dst = out.get_mut(w..w + 3).ok_or(TargetError::TooLong)?;
            dst.copy_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            w += 3;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetError::*;

    fn norm(p: &[u8]) -> Result<Vec<u8>, TargetError> {
        let mut out = [0u8; 64];
        normalize(p, &mut out).map(|n| out[..n].to_vec())
    }

    #[test]
    fn split_query_table() {
        type Case<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);
        let table: &[Case] = &[
            (b"/", b"/", None),
            (b"/a?b", b"/a", Some(b"b")),
            (b"/a?", b"/a", Some(b"")),
            (b"/a?b?c", b"/a", Some(b"b?c")),
            (b"?x", b"", Some(b"x")),
            (b"", b"", None),
        ];
        for (pq, p, q) in table {
            assert_eq!(split_query(pq), (*p, *q));
        }
    }

    #[test]
    fn normalize_table() {
        type Case<'a> = (&'a [u8], Result<&'a [u8], TargetError>);
        let table: &[Case] = &[
            (b"/", Ok(b"/")),
            (b"/index.html", Ok(b"/index.html")),
            (b"/a/b/", Ok(b"/a/b/")),
            (b"/a/../b", Ok(b"/b")),
            (b"/a/b/../../c", Ok(b"/c")),
            (b"/a/b/..", Ok(b"/a/")),
            (b"/a/..", Ok(b"/")),
            (b"/a/.", Ok(b"/a/")),
            (b"/a/./b/.", Ok(b"/a/b/")),
            (b"//a//b/", Ok(b"/a/b/")),
            (b"///", Ok(b"/")),
            (b"/.", Ok(b"/")),
            (b"/./", Ok(b"/")),
            (b"/...", Ok(b"/...")),
            (b"/a/..b/c.", Ok(b"/a/..b/c.")),
            (b"/.hidden", Ok(b"/.hidden")),
            (b"/%41%62c", Ok(b"/Abc")),
            (b"/a%20b", Ok(b"/a b")),
            (b"/%2e/a", Ok(b"/a")),
            (b"/a/%2E%2e/b", Ok(b"/b")),
            (b"/caf%C3%A9", Ok("/café".as_bytes())),
            (b"/\xff%fe", Ok(b"/\xff\xfe")),
            (b"/a?b", Ok(b"/a?b")), // a query was split off before
            (b"/%3F", Ok(b"/?")),
            // Bad.
            (b"", Err(Bad)),
            (b"a/b", Err(Bad)),
            (b"*", Err(Bad)),
            (b"/..", Err(Bad)),
            (b"/../", Err(Bad)),
            (b"/a/../..", Err(Bad)),
            (b"/a/../../b", Err(Bad)),
            (b"/%2e%2e/etc/passwd", Err(Bad)),
            (b"/%2E%2E", Err(Bad)),
            (b"/.%2e/x", Err(Bad)),
            (b"/..%2f", Err(Bad)),
            (b"/..%2F..%2Fetc", Err(Bad)),
            (b"/a%2fb", Err(Bad)),
            (b"/a/%2e%2e/..", Err(Bad)),
            (b"/%00", Err(Bad)),
            (b"/a\0", Err(Bad)),
            (b"/a\\b", Err(Bad)),
            (b"/a%5cb", Err(Bad)),
            (b"/a%5Cb", Err(Bad)),
            (b"/..\\", Err(Bad)),
            (b"/a%0a", Err(Bad)),
            (b"/a%0D", Err(Bad)),
            (b"/a%7f", Err(Bad)),
            (b"/a%1f", Err(Bad)),
            (b"/a\tb", Err(Bad)),
            (b"/%", Err(Bad)),
            (b"/%4", Err(Bad)),
            (b"/%g0", Err(Bad)),
            (b"/%0g", Err(Bad)),
            (b"/%%41", Err(Bad)),
            (b"/a%", Err(Bad)),
        ];
        for (p, want) in table {
            let want = want.map(|w| w.to_vec());
            assert_eq!(norm(p), want, "{:?}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn normalize_too_long() {
        let mut out = [0u8; 4];
        assert_eq!(normalize(b"/abc", &mut out), Ok(4));
        assert_eq!(normalize(b"/abcd", &mut out), Err(TooLong));
        assert_eq!(normalize(b"/ab/", &mut out), Ok(4));
        assert_eq!(normalize(b"/abc/", &mut out), Err(TooLong));
        assert_eq!(normalize(b"/%41%41%41", &mut out), Ok(4));
        assert_eq!(normalize(b"/%41%41%41%41", &mut out), Err(TooLong));
        assert_eq!(normalize(b"/", &mut []), Err(TooLong));
        assert_eq!(normalize(b"x", &mut []), Err(Bad));
        // The output also holds each segment before "." or ".." drops it.
        let mut two = [0u8; 2];
        assert_eq!(normalize(b"//./", &mut two), Ok(1));
        assert_eq!(normalize(b"//./", &mut two[..1]), Err(TooLong));
        let long = [b'a'; 5000];
        let mut p = vec![b'/'];
        p.extend_from_slice(&long);
        assert_eq!(norm(&p), Err(TooLong));
    }

    #[test]
    fn normalize_output_invariants() {
        // Pseudo-random paths over a small alphabet: no panic, and every
        // success is a fixed point with no dot or empty segments.
        let alphabet: &[&[u8]] = &[b"/", b".", b"a", b"%2e", b"%2f", b"%", b"\\", b"..", b"%00"];
        let mut x: u32 = 1;
        for _ in 0..20_000 {
            let mut p = vec![b'/'];
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p.extend_from_slice(alphabet[(x % alphabet.len() as u32) as usize]);
            }
            x = x.wrapping_add(0x9e37_79b9);
            // An output as long as the input is always enough.
            let mut exact = vec![0u8; p.len()];
            assert_ne!(normalize(&p, &mut exact), Err(TooLong), "{p:?}");
            if let Ok(n) = norm(&p) {
                assert_eq!(n.first(), Some(&b'/'));
                assert_eq!(norm(&n), Ok(n.clone()), "{p:?}");
                let inner = &n[1..n.len() - usize::from(n.len() > 1 && n.ends_with(b"/"))];
                if !inner.is_empty() {
                    for s in inner.split(|&b| b == b'/') {
                        assert!(!s.is_empty() && s != b"." && s != b"..", "{p:?} -> {n:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn dot_segments() {
        assert!(has_dot_segment(b"/.git/config"));
        assert!(has_dot_segment(b"/a/.htpasswd"));
        assert!(has_dot_segment(b"/a/.d/"));
        assert!(!has_dot_segment(b"/a.b/c.d"));
        assert!(!has_dot_segment(b"/"));
        assert!(!has_dot_segment(b"/a/b/"));
    }

    #[test]
    fn encode_table() {
        let table: &[(&[u8], &[u8])] = &[
            (b"/", b"/"),
            (b"/a-b_c.d~e/", b"/a-b_c.d~e/"),
            (b"/!$&'()*+,;=", b"/!$&'()*+,;="),
            (b"/a b", b"/a%20b"),
            (b"/?#%", b"/%3F%23%25"),
            (b"/:@", b"/%3A%40"),
            (b"/\"<>\\^`{|}", b"/%22%3C%3E%5C%5E%60%7B%7C%7D"),
            ("/café".as_bytes(), b"/caf%C3%A9"),
            (b"/\x00\x7f\xff", b"/%00%7F%FF"),
        ];
        for (p, want) in table {
            let mut out = [0u8; 64];
            let n = encode_path(p, &mut out).unwrap();
            assert_eq!(&out[..n], *want);
            // Round trip through normalize for what it accepts.
            let mut back = [0u8; 64];
            if let Ok(m) = normalize(&out[..n], &mut back) {
                assert_eq!(&back[..m], *p);
            }
        }
        let mut out = [0u8; 3];
        assert_eq!(encode_path(b"/ab", &mut out), Ok(3));
        assert_eq!(encode_path(b"/abc", &mut out), Err(TooLong));
        assert_eq!(encode_path(b"/ ", &mut out), Err(TooLong));
        assert_eq!(encode_path(b" ", &mut out), Ok(3));
    }
}
