//! Validators and conditional requests (RFC 9110 §8.8, §13). STUB.

/// Longest ETag we make: `"` + 16 hex + `-` + 16 hex + `"`.
pub const ETAG_MAX: usize = 36;

/// Writes our entity tag for a file into `out`, returns its length.
/// Format (as nginx): `"<mtime secs hex>-<size hex>"`.
pub fn etag(mtime: i64, size: u64, out: &mut [u8; ETAG_MAX]) -> usize {
    let _ = (mtime, size, out);
    todo!()
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
    let _ = (if_none_match, if_modified_since, etag, mtime);
    todo!()
}

/// RFC 9110 §13.1.5: true when a Range may be honoured given If-Range
/// (strong ETag comparison, or an HTTP-date equal to Last-Modified).
pub fn if_range_ok(if_range: &[u8], etag: &[u8], mtime: i64) -> bool {
    let _ = (if_range, etag, mtime);
    todo!()
}
