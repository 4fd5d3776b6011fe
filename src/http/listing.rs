//! HTML directory listings, rendered into a caller's fixed buffer.
//!
//! The page is built from checkpoints: the head and the footer's room are
//! reserved first, then each row is written whole or not at all, so a
//! listing that does not fit is cut after its last whole row and still
//! closes every element. Names are escaped for HTML text and
//! percent-encoded as one path segment for their links, so no file name
//! can add markup, a script, or a link to another scheme.

use super::date;
use super::writer::Writer;

/// One directory entry, as the vhost worker read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The file name (bytes, as Linux has them).
    pub name: &'a [u8],
    pub is_dir: bool,
    /// Bytes; not shown for directories.
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
}

const HEAD_TITLE: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Index of ";
const HEAD_H1: &str = "</title>\n<style>td{padding:0 1em 0 0}td+td{text-align:right}</style>\
</head>\n<body><h1>Index of ";
const HEAD_TABLE: &str =
    "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n";
const PARENT_ROW: &str = "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n";
const TABLE_END: &str = "</table>\n";
const NOTE_TRUNCATED: &str = "<p>listing truncated: ";
const NOTE_OMITTED: &str = "<p>";
const NOTE_END: &str = " more entries not shown</p>\n";
const PAGE_END: &str = "</body></html>\n";

/// Digits of the largest count a note can show (u64::MAX).
const MAX_COUNT_DIGITS: usize = 20;

/// Room kept for the footer, whatever it turns out to say.
const FOOTER_MAX: usize =
    TABLE_END.len() + NOTE_TRUNCATED.len() + MAX_COUNT_DIGITS + NOTE_END.len() + PAGE_END.len();

/// Renders a listing of the directory at URL path `dir` (decoded,
/// normalised, ending with '/') into `out`; returns the bytes written,
/// never more than `out.len()`, or 0 when `out` cannot hold even the page
/// head and footer. `omitted` counts entries the caller could not include
/// (too many); a note says so. Sorts `entries` in place (directories
/// first, then by name bytewise) and skips names that start with '.' and
/// empty names. When the rows do not all fit, the page ends after the last
/// whole row with a "listing truncated" note. Allocates nothing.
pub fn render(dir: &[u8], entries: &mut [Entry<'_>], omitted: usize, out: &mut [u8]) -> usize {
    entries.sort_unstable_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(b.name)));
    let Some(limit) = out.len().checked_sub(FOOTER_MAX) else {
        return 0;
    };
    let mut pos = {
        let mut w = Writer::new(out.get_mut(..limit).unwrap_or_default());
        w.str(HEAD_TITLE);
        html(&mut w, dir);
        w.str(HEAD_H1);
        html(&mut w, dir);
        w.str(HEAD_TABLE);
        if dir != b"/" {
            w.str(PARENT_ROW);
        }
        if w.overflowed() {
            return 0;
        }
        w.len()
    };
    // Index of the first visible entry that did not fit.
    let mut cut = None;
    for (i, e) in entries.iter().enumerate() {
        if !visible(e) {
            continue;
        }
        let mut w = Writer::new(out.get_mut(pos..limit).unwrap_or_default());
        row(&mut w, e);
        if w.overflowed() {
            cut = Some(i);
            break;
        }
        pos += w.len();
    }
    let mut w = Writer::new(out.get_mut(pos..).unwrap_or_default());
    w.str(TABLE_END);
    let omitted = u64::try_from(omitted).unwrap_or(u64::MAX);
    if let Some(i) = cut {
        let rest = entries.get(i..).unwrap_or_default();
        let left = rest.iter().filter(|e| visible(e)).count();
        let left = u64::try_from(left).unwrap_or(u64::MAX);
        w.str(NOTE_TRUNCATED)
            .dec(left.saturating_add(omitted))
            .str(NOTE_END);
    } else if omitted > 0 {
        w.str(NOTE_OMITTED).dec(omitted).str(NOTE_END);
    }
    w.str(PAGE_END);
    // The footer always fits its reserved room; this is only a guard.
    if w.overflowed() { 0 } else { pos + w.len() }
}

/// Dotfiles (also "." and "..") are never listed, nor an empty name.
fn visible(e: &Entry<'_>) -> bool {
    e.name.first().is_some_and(|&b| b != b'.')
}

/// One table row: link, size (or "-"), date.
fn row(w: &mut Writer, e: &Entry<'_>) {
    let slash = if e.is_dir { "/" } else { "" };
    w.str("<tr><td><a href=\"");
    href(w, e.name);
    w.str(slash).str("\">");
    html(w, e.name);
    w.str(slash).str("</a></td><td>");
    if e.is_dir {
        w.str("-");
    } else {
        w.dec(e.size);
    }
    let mut when = [0u8; date::DATE_LEN];
    date::format(e.mtime, &mut when);
    w.str("</td><td>").push(&when).str("</td></tr>\n");
}

/// Escapes `s` for HTML text and attribute values. Bytes that are not
/// UTF-8, and control characters, become U+FFFD.
fn html(w: &mut Writer, s: &[u8]) {
    for chunk in s.utf8_chunks() {
        let valid = chunk.valid();
        let mut start = 0;
        for (i, b) in valid.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                0..=0x1f | 0x7f => "\u{fffd}",
                _ => continue,
            };
            // `i` is an ASCII byte, so both ends are char boundaries.
            w.str(valid.get(start..i).unwrap_or_default()).str(rep);
            start = i + 1;
        }
        w.str(valid.get(start..).unwrap_or_default());
        if !chunk.invalid().is_empty() {
            w.str("\u{fffd}");
        }
    }
}

/// Percent-encodes `name` as one relative path segment: only unreserved
/// characters (RFC 3986 §2.3) stay, so '/', '?', '#', '%', ';' and ':'
/// (a name like `javascript:x` would otherwise read as a scheme) are
/// encoded, and nothing needs HTML escaping inside the attribute.
fn href(w: &mut Writer, name: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in name {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            w.push(&[b]);
        } else {
            w.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: u64) -> Entry<'_> {
        Entry {
            name: name.as_bytes(),
            is_dir: false,
            size,
            mtime: 784_111_777,
        }
    }

    fn dir(name: &str) -> Entry<'_> {
        Entry {
            name: name.as_bytes(),
            is_dir: true,
            size: 4096,
            mtime: 0,
        }
    }

    fn page(path: &str, entries: &mut [Entry<'_>], omitted: usize, cap: usize) -> String {
        let mut out = vec![0u8; cap];
        let n = render(path.as_bytes(), entries, omitted, &mut out);
        assert!(n <= cap);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    fn sample() -> Vec<Entry<'static>> {
        vec![
            file("zeta.txt", 12),
            dir("beta"),
            file(".htpasswd", 1),
            file("Alpha.html", 1234),
            dir(".git"),
            file("<script>alert(1)</script>", 3),
            dir("alpha"),
            file("a?b#c%d;e f", 5),
            file("javascript:alert(1)", 7),
            file(".", 0),
            file("..", 0),
            file("", 0),
        ]
    }

    /// The body rows, in order.
    fn rows(p: &str) -> Vec<&str> {
        p.lines().filter(|l| l.starts_with("<tr><td>")).collect()
    }

    #[test]
    fn full_page() {
        let mut e = sample();
        let p = page("/docs/", &mut e, 0, 8192);
        assert!(p.starts_with("<!DOCTYPE html>\n<html><head>"), "{p}");
        assert!(p.ends_with("</table>\n</body></html>\n"), "{p}");
        assert!(p.contains("<title>Index of /docs/</title>"));
        assert!(!p.contains("truncated") && !p.contains("not shown"));
        assert_eq!(
            rows(&p),
            [
                "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>",
                "<tr><td><a href=\"alpha/\">alpha/</a></td><td>-</td><td>Thu, 01 Jan 1970 00:00:00 GMT</td></tr>",
                "<tr><td><a href=\"beta/\">beta/</a></td><td>-</td><td>Thu, 01 Jan 1970 00:00:00 GMT</td></tr>",
                "<tr><td><a href=\"%3Cscript%3Ealert%281%29%3C%2Fscript%3E\">&lt;script&gt;alert(1)&lt;/script&gt;</a></td><td>3</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td></tr>",
                "<tr><td><a href=\"Alpha.html\">Alpha.html</a></td><td>1234</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td></tr>",
                "<tr><td><a href=\"a%3Fb%23c%25d%3Be%20f\">a?b#c%d;e f</a></td><td>5</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td></tr>",
                "<tr><td><a href=\"javascript%3Aalert%281%29\">javascript:alert(1)</a></td><td>7</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td></tr>",
                "<tr><td><a href=\"zeta.txt\">zeta.txt</a></td><td>12</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td></tr>",
            ]
        );
        // The caller's slice is sorted: directories first, then bytewise.
        let names: Vec<&[u8]> = e.iter().map(|e| e.name).collect();
        assert_eq!(&names[..4], [&b".git"[..], b"alpha", b"beta", b""]);
    }

    #[test]
    fn names_cannot_add_markup() {
        let mut e = sample();
        let p = page("/", &mut e, 0, 8192);
        assert!(!p.contains("<script"), "{p}");
        assert!(!p.contains("</script"), "{p}");
        assert!(p.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!p.contains("href=\"javascript:"));
        // Dotfiles and empty names are not listed; the root has no "../".
        assert!(!p.contains("htpasswd") && !p.contains(".git") && !p.contains("../"));
        assert!(!p.contains("href=\"\"") && !p.contains("href=\"/\""));
        assert_eq!(rows(&p).len(), 7);
        // Quotes, ampersands, control bytes and bad UTF-8, in the title too.
        let mut e = [
            file("a\"b'c&d\x01\n", 1),
            Entry {
                name: b"x\xffy",
                ..file("", 2)
            },
        ];
        let p = page("/<b>&\"/", &mut e, 0, 4096);
        assert!(
            p.contains("<title>Index of /&lt;b&gt;&amp;&quot;/</title>"),
            "{p}"
        );
        assert!(
            p.contains(">a&quot;b&#39;c&amp;d\u{fffd}\u{fffd}</a>"),
            "{p}"
        );
        assert!(p.contains("href=\"a%22b%27c%26d%01%0A\""), "{p}");
        assert!(p.contains("href=\"x%FFy\">x\u{fffd}y</a>"), "{p}");
        assert!(!p.contains('\u{1}') && !p.contains("\n</a>"));
    }

    #[test]
    fn omitted_note() {
        let mut e = sample();
        let p = page("/d/", &mut e, 1000, 8192);
        assert!(
            p.ends_with("</table>\n<p>1000 more entries not shown</p>\n</body></html>\n"),
            "{p}"
        );
        assert!(!p.contains("truncated"));
        let p = page("/d/", &mut [], usize::MAX, 4096);
        assert!(
            p.contains(&format!("<p>{} more entries not shown</p>", usize::MAX)),
            "{p}"
        );
        assert_eq!(rows(&p).len(), 1, "only ../");
    }

    #[test]
    fn truncation_stays_well_formed() {
        let mut e = sample();
        let full = page("/docs/", &mut e, 0, 8192);
        let full_rows = rows(&full);
        let mut smallest = None;
        for cap in 0..full.len() + 64 {
            let mut e = sample();
            let p = page("/docs/", &mut e, 2, cap);
            if p.is_empty() {
                assert!(smallest.is_none(), "0 only below the smallest page: {cap}");
                continue;
            }
            smallest.get_or_insert(cap);
            assert!(p.starts_with("<!DOCTYPE html>\n"), "{cap}: {p}");
            assert!(p.ends_with("</body></html>\n"), "{cap}: {p}");
            assert_eq!(
                p.matches("<tr>").count(),
                p.matches("</tr>\n").count(),
                "{p}"
            );
            assert_eq!(p.matches("<a ").count(), p.matches("</a>").count(), "{p}");
            assert_eq!(p.matches("<table>").count(), p.matches("</table>").count());
            // Whole rows only, the first ones, in order.
            let r = rows(&p);
            assert_eq!(r[..], full_rows[..r.len()], "{cap}");
            let left = full_rows.len() - r.len();
            if left > 0 {
                let note = format!(
                    "<p>listing truncated: {} more entries not shown</p>",
                    left + 2
                );
                assert!(p.contains(&note), "{cap}: {p}");
            } else {
                assert!(p.contains("<p>2 more entries not shown</p>"), "{cap}: {p}");
            }
        }
        // The smallest page holds the head (with "../") and the footer.
        let smallest = smallest.unwrap();
        let mut e = sample();
        let p = page("/docs/", &mut e, 0, smallest);
        assert_eq!(rows(&p).len(), 1, "{p}");
        assert!(
            p.contains("listing truncated: 7 more entries not shown"),
            "{p}"
        );
        assert!(smallest < 700, "head + footer: {smallest}");
    }

    #[test]
    fn never_writes_past_out() {
        let mut e = sample();
        for cap in [0, 1, 50, 400, 600] {
            let mut out = vec![0xAAu8; cap + 16];
            let n = render(b"/x/", &mut e, 5, &mut out[..cap]);
            assert!(n <= cap);
            assert!(out[cap..].iter().all(|&b| b == 0xAA));
        }
    }
}
