//! Request-target decoding and normalisation (RFC 3986 §5.2.4, §6).
//! STUB.

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
    let _ = path_and_query;
    todo!()
}

/// Percent-decodes and normalises an origin-form path (no query) into
/// `out`, returning the length. The result starts with '/', has no empty,
/// "." or ".." segments, keeps a trailing '/', and contains no NUL or
/// backslash (also not percent-encoded). ".." above the root is an error.
pub fn normalize(path: &[u8], out: &mut [u8]) -> Result<usize, TargetError> {
    let _ = (path, out);
    todo!()
}

/// True if a normalised path has a segment starting with '.'.
pub fn has_dot_segment(path: &[u8]) -> bool {
    let _ = path;
    todo!()
}

/// Percent-encodes a normalised path for a Location header
/// (unreserved, '/', and sub-delims stay; everything else %XX).
pub fn encode_path(path: &[u8], out: &mut [u8]) -> Result<usize, TargetError> {
    let _ = (path, out);
    todo!()
}
