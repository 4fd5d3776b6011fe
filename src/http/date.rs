//! HTTP-date (RFC 9110 §5.6.7), without a time crate. STUB.

/// Length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
pub const DATE_LEN: usize = 29;

/// Formats seconds since the epoch as IMF-fixdate.
pub fn format(unix: i64, out: &mut [u8; DATE_LEN]) {
    let _ = (unix, out);
    todo!()
}

/// Parses IMF-fixdate, and the obsolete RFC 850 and asctime forms which a
/// recipient MUST accept. None when it is none of them.
pub fn parse(s: &[u8]) -> Option<i64> {
    let _ = s;
    todo!()
}
