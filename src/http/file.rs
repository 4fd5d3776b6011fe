//! What to send for a GET/HEAD of a file, given its validators and the
//! request's conditional and range headers (RFC 9110 §13, §14): one pure
//! decision shared by the vhost worker and the listener's fd cache.

use super::writer::Writer;
use super::{cond, range};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 304: validators only, no body.
    NotModified,
    /// 200 with the whole file.
    Full,
    /// 206 with this window.
    Part { start: u64, len: u64 },
    /// 416 with `Content-Range: bytes */SIZE`.
    Unsatisfiable,
}

/// The request's headers that matter (empty = absent).
#[derive(Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
}

impl<'a> Conditions<'a> {
    /// From header values as they travel in IPC, where empty means absent.
    pub fn from_values(inm: &'a [u8], ims: &'a [u8], range: &'a [u8], if_range: &'a [u8]) -> Self {
        let o = |b: &'a [u8]| if b.is_empty() { None } else { Some(b) };
        Conditions {
            if_none_match: o(inm),
            if_modified_since: o(ims),
            range: o(range),
            if_range: o(if_range),
        }
    }
}

/// Conditionals first (RFC 9110 §13.2.2), then Range (honoured only when
/// If-Range, if any, still matches).
pub fn decide(c: &Conditions<'_>, size: u64, mtime: i64, etag: &[u8]) -> Decision {
    if cond::not_modified(c.if_none_match, c.if_modified_since, etag, mtime) {
        return Decision::NotModified;
    }
    let Some(r) = c.range else {
        return Decision::Full;
    };
    if let Some(ir) = c.if_range {
        if !cond::if_range_ok(ir, etag, mtime) {
            return Decision::Full;
        }
    }
    match range::parse(r, size) {
        range::Range::Ignore => Decision::Full,
        range::Range::Part { start, len } => Decision::Part { start, len },
        range::Range::Unsatisfiable => Decision::Unsatisfiable,
    }
}

/// Writes the vhost-part of the head for `d` (the base head of a 200 is
/// `base`; its first `validators` bytes are what a 304 carries) and returns
/// (status, Content-Length, body offset). For `Unsatisfiable` nothing of
/// `base` is written, only the Content-Range.
pub fn head(
    d: Decision,
    base: &[u8],
    validators: usize,
    size: u64,
    w: &mut Writer,
) -> (u16, Option<u64>, u64) {
    match d {
        Decision::NotModified => {
            w.push(base.get(..validators).unwrap_or(base));
            (304, None, 0)
        }
        Decision::Full => {
            w.push(base);
            (200, Some(size), 0)
        }
        Decision::Part { start, len } => {
            w.push(base)
                .str("Content-Range: bytes ")
                .dec(start)
                .str("-")
                .dec(start + len - 1)
                .str("/")
                .dec(size)
                .str("\r\n");
            (206, Some(len), start)
        }
        Decision::Unsatisfiable => {
            w.str("Content-Range: bytes */").dec(size).str("\r\n");
            (416, None, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &[u8] = b"\"5f-1000\"";

    fn c<'a>(inm: &'a str, ims: &'a str, range: &'a str, ir: &'a str) -> Conditions<'a> {
        let o = |s: &'a str| {
            if s.is_empty() {
                None
            } else {
                Some(s.as_bytes())
            }
        };
        Conditions {
            if_none_match: o(inm),
            if_modified_since: o(ims),
            range: o(range),
            if_range: o(ir),
        }
    }

    #[test]
    fn decisions() {
        let t = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
        let cases = [
            (c("", "", "", ""), Decision::Full),
            (c("\"5f-1000\"", "", "bytes=0-1", ""), Decision::NotModified),
            (c("W/\"5f-1000\"", "", "", ""), Decision::NotModified),
            (
                c("\"other\"", "Sun, 06 Nov 1994 08:49:37 GMT", "", ""),
                Decision::Full,
            ),
            (
                c("", "Sun, 06 Nov 1994 08:49:37 GMT", "", ""),
                Decision::NotModified,
            ),
            (
                c("", "", "bytes=10-19", ""),
                Decision::Part { start: 10, len: 10 },
            ),
            (
                c("", "", "bytes=10-19", "\"5f-1000\""),
                Decision::Part { start: 10, len: 10 },
            ),
            (c("", "", "bytes=10-19", "\"nope\""), Decision::Full),
            (c("", "", "bytes=5000-", ""), Decision::Unsatisfiable),
            (c("", "", "bytes=0-1,5-6", ""), Decision::Full),
        ];
        for (i, (cond, want)) in cases.iter().enumerate() {
            assert_eq!(decide(cond, 4096, t, ETAG), *want, "case {i}");
        }
    }

    #[test]
    fn heads() {
        let base = b"ETag: \"x\"\r\nContent-Type: text/plain\r\n";
        let v = b"ETag: \"x\"\r\n".len();
        let mut b = [0u8; 256];
        let mut w = Writer::new(&mut b);
        assert_eq!(
            head(Decision::NotModified, base, v, 10, &mut w),
            (304, None, 0)
        );
        assert_eq!(w.as_bytes(), b"ETag: \"x\"\r\n");
        let mut w = Writer::new(&mut b);
        assert_eq!(
            head(Decision::Part { start: 2, len: 3 }, base, v, 10, &mut w),
            (206, Some(3), 2)
        );
        assert!(w.as_bytes().ends_with(b"Content-Range: bytes 2-4/10\r\n"));
        let mut w = Writer::new(&mut b);
        assert_eq!(
            head(Decision::Unsatisfiable, base, v, 10, &mut w),
            (416, None, 0)
        );
        assert_eq!(w.as_bytes(), b"Content-Range: bytes */10\r\n");
    }
}
