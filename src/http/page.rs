//! The small built-in HTML pages for error statuses.

use super::status;
use super::writer::Writer;

/// Writes the page for `code` into `out`, returns its length.
pub fn error_page(code: u16, out: &mut [u8]) -> usize {
    let reason = status::reason(code);
    let mut w = Writer::new(out);
    w.str("<!DOCTYPE html>\n<html><head><title>")
        .dec(code as u64)
        .str(" ")
        .str(reason)
        .str("</title></head>\n<body><h1>")
        .dec(code as u64)
        .str(" ")
        .str(reason)
        .str("</h1></body></html>\n");
    if w.overflowed() { 0 } else { w.len() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_names_the_status() {
        let mut b = [0u8; 512];
        let n = super::error_page(404, &mut b);
        let s = std::str::from_utf8(&b[..n]).unwrap();
        assert!(s.contains("<title>404 Not Found</title>"), "{s}");
        assert_eq!(super::error_page(404, &mut [0u8; 10]), 0);
    }
}
