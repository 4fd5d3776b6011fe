//! Content-Type by file extension. STUB.

/// The media type for a path by its extension (case-insensitive);
/// text types carry "; charset=utf-8". Unknown: application/octet-stream.
pub fn lookup(path: &[u8]) -> &'static str {
    let _ = path;
    todo!()
}
