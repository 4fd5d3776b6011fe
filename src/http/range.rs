//! Byte ranges (RFC 9110 §14). STUB.

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
pub fn parse(value: &[u8], len: u64) -> Range {
    let _ = (value, len);
    todo!()
}
