//! Content-Type by file extension.

const OCTET: &str = "application/octet-stream";

/// Longest extension in `TABLE`; longer ones can't match.
const MAX_EXT: usize = 11;

/// Extension (lower-case) -> media type, sorted by extension for binary
/// search. Textual types (text/*, JavaScript, JSON, XML, SVG) carry a
/// charset so browsers don't sniff.
const TABLE: &[(&str, &str)] = &[
    ("7z", "application/x-7z-compressed"),
    ("aac", "audio/aac"),
    ("apng", "image/apng"),
    ("appcache", "text/cache-manifest; charset=utf-8"),
    ("atom", "application/atom+xml; charset=utf-8"),
    ("avif", "image/avif"),
    ("bin", OCTET),
    ("bmp", "image/bmp"),
    ("bz2", "application/x-bzip2"),
    ("cer", "application/pkix-cert"),
    ("conf", "text/plain; charset=utf-8"),
    ("crt", "application/x-x509-ca-cert"),
    ("css", "text/css; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("deb", "application/vnd.debian.binary-package"),
    ("eot", "application/vnd.ms-fontobject"),
    ("flac", "audio/flac"),
    ("gif", "image/gif"),
    ("gz", "application/gzip"),
    ("htm", "text/html; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("ico", "image/x-icon"),
    ("img", OCTET),
    ("ipk", OCTET),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("jsonld", "application/ld+json; charset=utf-8"),
    ("log", "text/plain; charset=utf-8"),
    ("lua", "text/plain; charset=utf-8"),
    ("m4a", "audio/mp4"),
    ("manifest", "application/manifest+json; charset=utf-8"),
    ("map", "application/json; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("opus", "audio/ogg"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("pem", "application/x-pem-file"),
    ("png", "image/png"),
    ("rss", "application/rss+xml; charset=utf-8"),
    ("sh", "text/plain; charset=utf-8"),
    ("sig", "application/pgp-signature"),
    ("svg", "image/svg+xml; charset=utf-8"),
    ("svgz", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tgz", "application/gzip"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json; charset=utf-8"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml; charset=utf-8"),
    ("xml", "application/xml; charset=utf-8"),
    ("xsl", "application/xml; charset=utf-8"),
    ("xz", "application/x-xz"),
    ("yaml", "text/plain; charset=utf-8"),
    ("yml", "text/plain; charset=utf-8"),
    ("zip", "application/zip"),
    ("zst", "application/zstd"),
];

/// The media type for a path by its extension (case-insensitive);
/// text types carry "; charset=utf-8". Unknown: application/octet-stream.
///
/// The extension is what follows the last '.' of the last path segment,
/// unless that '.' starts the name (`/.bashrc` has none) or ends it.
pub fn lookup(path: &[u8]) -> &'static str {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(0) | None => return OCTET,
        Some(i) => name.get(i + 1..).unwrap_or_default(),
    };
    let mut lower = [0u8; MAX_EXT];
    let Some(dst) = lower.get_mut(..ext.len()) else {
        return OCTET;
    };
    dst.copy_from_slice(ext);
    dst.make_ascii_lowercase();
    let key: &[u8] = dst;
    match TABLE.binary_search_by(|(e, _)| e.as_bytes().cmp(key)) {
        Ok(i) => TABLE.get(i).map_or(OCTET, |(_, t)| t),
        Err(_) => OCTET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_sized() {
        for w in TABLE.windows(2) {
            assert!(w[0].0 < w[1].0, "{} !< {}", w[0].0, w[1].0);
        }
        for (e, t) in TABLE {
            assert!(e.len() <= MAX_EXT && !e.is_empty());
            assert_eq!(*e, e.to_ascii_lowercase());
            // Every table entry is reachable.
            assert_eq!(lookup(format!("/x.{e}").as_bytes()), *t);
            let textual = t.starts_with("text/")
                || t.contains("javascript")
                || t.contains("json")
                || t.contains("xml")
                || *t == "image/svg+xml; charset=utf-8";
            let compressed = *e == "svgz";
            assert_eq!(
                t.ends_with("; charset=utf-8"),
                textual && !compressed,
                "{e}"
            );
        }
        assert!(TABLE.iter().any(|(e, _)| e.len() == MAX_EXT));
    }

    #[test]
    fn lookup_table() {
        let table: &[(&[u8], &str)] = &[
            (b"/index.html", "text/html; charset=utf-8"),
            (b"/INDEX.HTM", "text/html; charset=utf-8"),
            (b"/a/b/style.CsS", "text/css; charset=utf-8"),
            (b"/app.js", "text/javascript; charset=utf-8"),
            (b"/app.mjs", "text/javascript; charset=utf-8"),
            (b"/d.json", "application/json; charset=utf-8"),
            (b"/i.svg", "image/svg+xml; charset=utf-8"),
            (b"/p.png", "image/png"),
            (b"/p.JPG", "image/jpeg"),
            (b"/f.woff2", "font/woff2"),
            (b"/fw.bin", "application/octet-stream"),
            (b"/openwrt.img", "application/octet-stream"),
            (b"/x.tar.gz", "application/gzip"),
            (
                b"/site.webmanifest",
                "application/manifest+json; charset=utf-8",
            ),
            (b"/m.wasm", "application/wasm"),
            (b"index.html", "text/html; charset=utf-8"),
            // No extension.
            (b"/", OCTET),
            (b"", OCTET),
            (b"/README", OCTET),
            (b"/.bashrc", OCTET),
            (b"/a/.html", OCTET),
            (b"/dir.d/file", OCTET),
            (b"/dir.html/", OCTET),
            (b"/file.", OCTET),
            (b"/..", OCTET),
            // Unknown or too long.
            (b"/x.exe", OCTET),
            (b"/x.htmll", OCTET),
            (b"/x.webmanifestx", OCTET),
            (b"/x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OCTET),
            (b"/x.\xff\xfe", OCTET),
            (b"/x.ht\0ml", OCTET),
        ];
        for (p, want) in table {
            assert_eq!(lookup(p), *want, "{:?}", String::from_utf8_lossy(p));
        }
    }
}
