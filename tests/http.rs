//! Static HTTP/1.1 behaviour of the real binary (issue 2, point 4):
//! methods, index files, MIME types, redirects, validators, conditional
//! and range requests, precompressed files, keep-alive, pipelining,
//! HTTP/1.0 and large bodies, with raw sockets and curl.
mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

/// 2020-01-01T00:00:00Z: the mtime of every file whose dates we check.
const MTIME: u64 = 1_577_836_800;
const MTIME_HTTP: &str = "Wed, 01 Jan 2020 00:00:00 GMT";

fn set_mtime(p: &std::path::Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// Writes `rel` under the temp dir with the fixed mtime.
fn file(dir: &TempDir, rel: &str, data: &[u8]) {
    let p = dir.write(rel, data);
    set_mtime(&p, MTIME);
}

/// One request (Host: x, Connection: close, plus `extra` header lines).
fn req(s: &Server, method: &str, path: &str, extra: &str) -> Resp {
    get(
        &s.addr(),
        &format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"),
    )
}

/// Raw bytes of one request/response on a fresh connection.
fn req_raw(s: &Server, method: &str, path: &str, extra: &str) -> Vec<u8> {
    raw(
        &s.addr(),
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
        Duration::from_secs(5),
    )
}

/// The raw response must end right after its head (no body on the wire).
fn assert_no_body(data: &[u8]) {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    assert_eq!(
        end,
        data.len(),
        "bytes after the head: {:?}",
        String::from_utf8_lossy(data)
    );
}

/// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
fn assert_imf_date(v: Option<&str>) {
    let v = v.expect("a date header");
    let b = v.as_bytes();
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    assert_eq!(b.len(), 29, "{v:?}");
    assert!(
        days.contains(&&v[..3]) && &v[3..5] == ", " && months.contains(&&v[8..11]),
        "{v:?}"
    );
    assert!(
        v.ends_with(" GMT") && b[19] == b':' && b[22] == b':',
        "{v:?}"
    );
}

/// Headers every successful file response carries.
fn assert_file_headers(r: &Resp, len: usize) {
    assert_imf_date(r.header("date"));
    assert_eq!(
        r.header("content-length"),
        Some(len.to_string().as_str()),
        "{r:?}"
    );
    assert_eq!(r.header("last-modified"), Some(MTIME_HTTP), "{r:?}");
    let etag = r.header("etag").expect("ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "strong ETag: {etag}"
    );
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Deterministic pseudo-random bytes (xorshift).
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn get_and_head() {
    let dir = TempDir::new("http-get");
    file(&dir, "www/hello.txt", b"hello world\n");
    let s = Server::with_docroot(dir, &[]);

    let r = req(&s, "GET", "/hello.txt", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello world\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_file_headers(&r, 12);

    let data = req_raw(&s, "HEAD", "/hello.txt", "");
    assert!(
        data.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    assert_no_body(&data);
    let h = parse_responses(&data, &[0]).remove(0);
    assert_file_headers(&h, 12);
    assert_eq!(h.header("etag"), r.header("etag"));
    assert_eq!(h.header("content-type"), r.header("content-type"));

    // An empty file: 200 with Content-Length: 0.
    s.dir.write("www/empty.txt", b"");
    let r = req(&s, "GET", "/empty.txt", "");
    assert_eq!(
        (r.status, r.header("content-length"), r.body.len()),
        (200, Some("0"), 0)
    );
}

#[test]
fn index_files() {
    let dir = TempDir::new("http-index");
    file(&dir, "www/index.html", b"<p>root</p>\n");
    file(&dir, "www/dir/index.html", b"<p>dir</p>\n");
    file(&dir, "www/old/index.htm", b"<p>htm</p>\n");
    file(&dir, "www/bare/other.txt", b"x");
    let s = Server::with_docroot(dir, &[]);

    for (path, body) in [
        ("/", &b"<p>root</p>\n"[..]),
        ("/dir/", b"<p>dir</p>\n"),
        ("/old/", b"<p>htm</p>\n"),
    ] {
        let r = req(&s, "GET", path, "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body, body, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_file_headers(&r, body.len());
    }
    let r = req(&s, "GET", "/?q=1", "");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<p>root</p>\n"[..]));
    // A directory without an index file is not listed.
    let r = req(&s, "GET", "/bare/", "");
    assert!(r.status == 403 || r.status == 404, "{r:?}");
    assert_eq!(
        r.body,
        error_page_body(
            r.status,
            if r.status == 403 {
                "Forbidden"
            } else {
                "Not Found"
            }
        )
    );
}

#[test]
fn index_from_config() {
    let dir = TempDir::new("http-index-conf");
    file(&dir, "www/index.html", b"not me");
    file(&dir, "www/home.html", b"home");
    file(&dir, "www/sub/index.html", b"not me either");
    file(&dir, "www/sub/start.htm", b"start");
    let s = Server::with_config(dir, &conf_with("", "index = home.html start.htm"));
    let r = req(&s, "GET", "/", "");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"home"[..]));
    let r = req(&s, "GET", "/sub/", "");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"start"[..]));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
}

#[test]
fn mime_types() {
    let table = [
        ("a.html", "text/html; charset=utf-8"),
        ("a.htm", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.json", "application/json; charset=utf-8"),
        ("a.svg", "image/svg+xml; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.JPEG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.ico", "image/x-icon"),
        ("a.woff2", "font/woff2"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.xml", "application/xml; charset=utf-8"),
        ("a.wasm", "application/wasm"),
        ("a.tar.gz", "application/gzip"),
        ("fw.bin", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
        ("README", "application/octet-stream"),
    ];
    let dir = TempDir::new("http-mime");
    for (name, _) in &table {
        file(&dir, &format!("www/{name}"), name.as_bytes());
    }
    let s = Server::with_docroot(dir, &[]);
    for (name, ty) in &table {
        let r = req(&s, "GET", &format!("/{name}"), "");
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some(*ty), "{name}");
        assert_eq!(r.body, name.as_bytes(), "{name}");
    }
}

#[test]
fn directory_without_slash_redirects() {
    let dir = TempDir::new("http-redirect");
    file(&dir, "www/dir/index.html", b"in dir");
    file(&dir, "www/a/b/index.html", b"deep");
    file(&dir, "www/my dir/index.html", b"spaced");
    let s = Server::with_docroot(dir, &[]);
    for (path, loc) in [
        ("/dir", "/dir/"),
        ("/dir?a=1&b=2", "/dir/?a=1&b=2"),
        ("/a/b", "/a/b/"),
        ("/my%20dir", "/my%20dir/"),
    ] {
        let r = req(&s, "GET", path, "");
        assert_eq!(r.status, 301, "{path}");
        assert_eq!(r.header("location"), Some(loc), "{path}");
        assert_eq!(r.body, error_page_body(301, "Moved Permanently"), "{path}");
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        assert_imf_date(r.header("date"));
    }
    let data = req_raw(&s, "HEAD", "/dir", "");
    assert!(
        data.starts_with(b"HTTP/1.1 301 "),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    assert_no_body(&data);
    assert_eq!(
        parse_responses(&data, &[0])[0].header("location"),
        Some("/dir/")
    );
    // The redirect target is served.
    let (body, code) = curl(&["-L", &s.url("/my%20dir")]);
    assert_eq!((code, body.as_slice()), (0, &b"spaced"[..]));
}

#[test]
fn not_found_page() {
    let dir = TempDir::new("http-404");
    file(&dir, "www/hello.txt", b"hi");
    let s = Server::with_docroot(dir, &[]);
    for path in ["/nope.html", "/no/such/dir/", "/hello.txt/x", "/hello.txt/"] {
        let r = req(&s, "GET", path, "");
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, error_page_body(404, "Not Found"), "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        assert_imf_date(r.header("date"));
    }
    let data = req_raw(&s, "HEAD", "/nope.html", "");
    assert!(data.starts_with(b"HTTP/1.1 404 "));
    assert_no_body(&data);
    let h = parse_responses(&data, &[0]).remove(0);
    assert_eq!(
        h.header("content-length"),
        Some(error_page_body(404, "Not Found").len().to_string().as_str())
    );
}

#[test]
fn if_none_match() {
    let dir = TempDir::new("http-inm");
    file(&dir, "www/f.txt", b"0123456789");
    let s = Server::with_docroot(dir, &[]);
    let etag = req(&s, "GET", "/f.txt", "")
        .header("etag")
        .unwrap()
        .to_string();

    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        format!("\"a\",{etag} , \"b\""),
        "*".to_string(),
    ] {
        for method in ["GET", "HEAD"] {
            let data = req_raw(&s, method, "/f.txt", &format!("If-None-Match: {inm}\r\n"));
            assert!(
                data.starts_with(b"HTTP/1.1 304 "),
                "{method} {inm}: {:?}",
                String::from_utf8_lossy(&data)
            );
            assert_no_body(&data);
            let r = parse_responses(&data, &[0]).remove(0);
            assert_eq!(
                r.header("etag"),
                Some(etag.as_str()),
                "304 carries the ETag"
            );
            assert_imf_date(r.header("date"));
        }
    }
    for inm in [
        "\"nope\"".to_string(),
        format!("\"x{}", &etag[1..]),
        "W/\"0-0\", \"1-1\"".into(),
    ] {
        let r = req(&s, "GET", "/f.txt", &format!("If-None-Match: {inm}\r\n"));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"0123456789"[..]),
            "{inm}"
        );
    }
}

#[test]
fn if_modified_since() {
    let dir = TempDir::new("http-ims");
    file(&dir, "www/f.txt", b"0123456789");
    let s = Server::with_docroot(dir, &[]);
    // RFC 9110 §5.6.7: recipients MUST accept all three date formats.
    for ims in [
        MTIME_HTTP,
        "Thu, 02 Jan 2020 00:00:00 GMT",
        "Wednesday, 01-Jan-20 00:00:00 GMT",
        "Wed Jan  1 00:00:00 2020",
        "Fri, 01 Jan 2100 00:00:00 GMT",
    ] {
        let data = req_raw(
            &s,
            "GET",
            "/f.txt",
            &format!("If-Modified-Since: {ims}\r\n"),
        );
        assert!(
            data.starts_with(b"HTTP/1.1 304 "),
            "{ims}: {:?}",
            String::from_utf8_lossy(&data)
        );
        assert_no_body(&data);
        let r = parse_responses(&data, &[0]).remove(0);
        assert!(r.header("etag").is_some());
        assert_eq!(r.header("last-modified"), Some(MTIME_HTTP));
    }
    for ims in [
        "Tue, 31 Dec 2019 23:59:59 GMT",
        "Tuesday, 31-Dec-19 23:59:59 GMT",
        "garbage",
        "",
        "Wed, 01 Jan 2020 00:00:00",
        "Wed, 32 Jan 2020 00:00:00 GMT",
    ] {
        let r = req(
            &s,
            "GET",
            "/f.txt",
            &format!("If-Modified-Since: {ims}\r\n"),
        );
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"0123456789"[..]),
            "{ims:?}"
        );
        assert_file_headers(&r, 10);
    }
}

#[test]
fn if_none_match_takes_precedence() {
    let dir = TempDir::new("http-prec");
    file(&dir, "www/f.txt", b"0123456789");
    let s = Server::with_docroot(dir, &[]);
    let etag = req(&s, "GET", "/f.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    // Mismatching If-None-Match: 200 even though IMS alone would give 304.
    let r = req(
        &s,
        "GET",
        "/f.txt",
        &format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {MTIME_HTTP}\r\n"),
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"0123456789"[..]));
    // Matching If-None-Match: 304 even though IMS alone would give 200.
    let r = req(
        &s,
        "GET",
        "/f.txt",
        &format!("If-Modified-Since: Tue, 31 Dec 2019 00:00:00 GMT\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
}

#[test]
fn byte_ranges() {
    let dir = TempDir::new("http-range");
    let data = pattern(1000);
    file(&dir, "www/r.bin", &data);
    let s = Server::with_docroot(dir, &[]);
    for (range, start, end) in [
        ("bytes=0-99", 0usize, 99usize),
        ("bytes=-10", 990, 999),
        ("bytes=100-", 100, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=5-5", 5, 5),
        ("bytes=-5000", 0, 999),
        ("BYTES=0-0", 0, 0),
    ] {
        let r = req(&s, "GET", "/r.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/1000").as_str()),
            "{range}"
        );
        assert_eq!(
            r.header("content-length"),
            Some((end - start + 1).to_string().as_str()),
            "{range}"
        );
        assert_eq!(r.body, &data[start..=end], "{range}");
        assert_eq!(r.header("last-modified"), Some(MTIME_HTTP));
        assert!(r.header("etag").is_some() && r.header("date").is_some());
    }
    // HEAD with a range: the 206 head, no body.
    let raw_head = req_raw(&s, "HEAD", "/r.bin", "Range: bytes=0-99\r\n");
    assert!(raw_head.starts_with(b"HTTP/1.1 206 "));
    assert_no_body(&raw_head);
    for range in [
        "bytes=1000-",
        "bytes=1000-2000",
        "bytes=5000-6000",
        "bytes=-0",
    ] {
        let r = req(&s, "GET", "/r.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("content-range"), Some("bytes */1000"), "{range}");
        assert_eq!(
            r.body,
            error_page_body(416, "Range Not Satisfiable"),
            "{range}"
        );
    }
    // Several ranges, or a range we don't understand: the whole file.
    for range in [
        "bytes=0-1,5-6",
        "bytes=0-1, 10-",
        "bytes=5-1",
        "items=0-1",
        "bytes=x-y",
    ] {
        let r = req(&s, "GET", "/r.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.header("content-range"), None, "{range}");
        assert_eq!(r.body, data, "{range}");
    }
}

#[test]
fn if_range() {
    let dir = TempDir::new("http-ifrange");
    let data = pattern(500);
    file(&dir, "www/r.bin", &data);
    let s = Server::with_docroot(dir, &[]);
    let etag = req(&s, "GET", "/r.bin", "")
        .header("etag")
        .unwrap()
        .to_string();
    for ir in [etag.clone(), MTIME_HTTP.to_string()] {
        let r = req(
            &s,
            "GET",
            "/r.bin",
            &format!("Range: bytes=10-19\r\nIf-Range: {ir}\r\n"),
        );
        assert_eq!(r.status, 206, "{ir}");
        assert_eq!(r.header("content-range"), Some("bytes 10-19/500"));
        assert_eq!(r.body, &data[10..20]);
    }
    // A different tag, a weak tag (§13.1.5 needs a strong match) or another
    // date: the whole representation.
    for ir in [
        "\"other\"".to_string(),
        format!("W/{etag}"),
        "Tue, 31 Dec 2019 00:00:00 GMT".to_string(),
        "Thu, 02 Jan 2020 00:00:00 GMT".to_string(),
    ] {
        let r = req(
            &s,
            "GET",
            "/r.bin",
            &format!("Range: bytes=10-19\r\nIf-Range: {ir}\r\n"),
        );
        assert_eq!(r.status, 200, "{ir}");
        assert_eq!(r.header("content-range"), None);
        assert_eq!(r.body, data, "{ir}");
    }
}

#[test]
fn precompressed_gzip() {
    let dir = TempDir::new("http-gz");
    let plain = b"function hello() { return 'hello'; }\n".repeat(10);
    let gz = b"\x1f\x8b\x08\x00fake-gzip-bytes".to_vec();
    file(&dir, "www/app.js", &plain);
    file(&dir, "www/app.js.gz", &gz);
    file(&dir, "www/only.css", b"body{}");
    let s = Server::with_docroot(dir, &[]);

    let plain_r = req(&s, "GET", "/app.js", "");
    for ae in ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"] {
        let r = req(&s, "GET", "/app.js", &format!("Accept-Encoding: {ae}\r\n"));
        assert_eq!(r.status, 200, "{ae}");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{ae}");
        let vary = r.header("vary").unwrap_or("").to_ascii_lowercase();
        assert!(
            vary.split(',').any(|v| v.trim() == "accept-encoding"),
            "{ae}: Vary {vary:?}"
        );
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{ae}"
        );
        assert_eq!(
            r.header("content-length"),
            Some(gz.len().to_string().as_str())
        );
        assert_eq!(r.body, gz, "{ae}");
        // A different representation has a different strong validator.
        assert_ne!(r.header("etag"), plain_r.header("etag"), "{ae}");
    }
    // HEAD announces the .gz length.
    let data = req_raw(&s, "HEAD", "/app.js", "Accept-Encoding: gzip\r\n");
    assert_no_body(&data);
    let h = parse_responses(&data, &[0]).remove(0);
    assert_eq!(h.header("content-encoding"), Some("gzip"));
    assert_eq!(
        h.header("content-length"),
        Some(gz.len().to_string().as_str())
    );

    for extra in [
        "",
        "Accept-Encoding: identity\r\n",
        "Accept-Encoding: gzip;q=0\r\n",
        "Accept-Encoding: br\r\n",
    ] {
        let r = req(&s, "GET", "/app.js", extra);
        assert_eq!(r.status, 200, "{extra:?}");
        assert_eq!(r.header("content-encoding"), None, "{extra:?}");
        assert_eq!(r.body, plain, "{extra:?}");
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
    }
    // No .gz next to it: the plain file even for gzip clients.
    let r = req(&s, "GET", "/only.css", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        (r.status, r.header("content-encoding"), r.body.as_slice()),
        (200, None, &b"body{}"[..])
    );
    // The .gz asked for by name is an ordinary gzip file.
    let r = req(&s, "GET", "/app.js.gz", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        (r.status, r.header("content-encoding"), r.body.as_slice()),
        (200, None, gz.as_slice())
    );
    assert_eq!(r.header("content-type"), Some("application/gzip"));
}

#[test]
fn keep_alive_two_requests_one_connection() {
    let dir = TempDir::new("http-ka");
    file(&dir, "www/a.txt", b"first");
    file(&dir, "www/b.txt", b"second!");
    let s = Server::with_docroot(dir, &[]);
    let mut c = Client::connect(&s.addr());
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.response(false).expect("first response");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"first"[..]));
    assert_eq!(r.header("connection"), None, "HTTP/1.1 persists: {r:?}");
    c.send(b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c
        .response(false)
        .expect("second response on the same connection");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"second!"[..]));
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.response(false).expect("third response");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"first"[..]));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "closed after Connection: close"
    );
    assert!(c.buf.is_empty());
}

#[test]
fn pipelining_in_order() {
    let dir = TempDir::new("http-pipe");
    file(&dir, "www/a.txt", b"AAAA");
    file(&dir, "www/b.txt", b"BBBBBBBB");
    file(&dir, "www/c.txt", b"CC");
    let s = Server::with_docroot(dir, &[]);
    let three = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\
        HEAD /b.txt HTTP/1.1\r\nHost: x\r\n\r\n\
        GET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let data = raw(&s.addr(), three, Duration::from_secs(5));
    let rs = parse_responses(&data, &[1]);
    assert_eq!(rs.len(), 3, "{:?}", String::from_utf8_lossy(&data));
    assert_eq!((rs[0].status, rs[0].body.as_slice()), (200, &b"AAAA"[..]));
    assert_eq!((rs[1].status, rs[1].body.as_slice()), (200, &b""[..]));
    assert_eq!(rs[1].header("content-length"), Some("8"));
    assert_eq!((rs[2].status, rs[2].body.as_slice()), (200, &b"CC"[..]));
    // Nothing but the three responses on the wire.
    let total: usize = rs.iter().map(|r| r.body.len()).sum();
    let heads = data.windows(4).filter(|w| w == b"\r\n\r\n").count();
    assert_eq!(heads, 3);
    assert!(data.ends_with(b"CC") && total == 6);
    // Nothing after a request with Connection: close is answered.
    let data = raw(
        &s.addr(),
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    let rs = parse_responses(&data, &[]);
    assert_eq!(rs.len(), 1, "{:?}", String::from_utf8_lossy(&data));
    assert_eq!(rs[0].body, b"AAAA");

    // Many requests (mixed, including 404 and 304) in one write.
    let etag = req(&s, "GET", "/a.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    let mut batch = Vec::new();
    let mut want: Vec<(u16, Vec<u8>)> = Vec::new();
    for i in 0..30 {
        match i % 5 {
            0 => {
                batch.extend_from_slice(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
                want.push((200, b"AAAA".to_vec()));
            }
            1 => {
                batch.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
                want.push((404, error_page_body(404, "Not Found")));
            }
            2 => {
                batch.extend_from_slice(
                    format!("GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n")
                        .as_bytes(),
                );
                want.push((304, Vec::new()));
            }
            3 => {
                batch.extend_from_slice(
                    b"GET /b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-3\r\n\r\n",
                );
                want.push((206, b"BB".to_vec()));
            }
            _ => {
                batch.extend_from_slice(b"GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n");
                want.push((200, b"CC".to_vec()));
            }
        }
    }
    batch.extend_from_slice(b"GET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    want.push((200, b"CC".to_vec()));
    let data = raw(&s.addr(), &batch, Duration::from_secs(5));
    let rs = parse_responses(&data, &[]);
    let got: Vec<(u16, Vec<u8>)> = rs.into_iter().map(|r| (r.status, r.body)).collect();
    assert_eq!(got, want);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let dir = TempDir::new("http-10");
    file(&dir, "www/a.txt", b"ten");
    let s = Server::with_docroot(dir, &[]);

    let mut c = Client::connect(&s.addr());
    c.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    let r = c.response(false).expect("a response");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ten"[..]));
    assert_ne!(
        r.header("connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("keep-alive")
    );
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "HTTP/1.0 without keep-alive must close"
    );
    assert!(c.buf.is_empty());

    let mut c = Client::connect(&s.addr());
    c.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.response(false).expect("a response");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ten"[..]));
    assert_eq!(
        r.header("connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("keep-alive")
    );
    assert_eq!(r.header("content-length"), Some("3"));
    assert!(!c.closed_within(Duration::from_millis(300)), "kept open");
    c.send(b"HEAD /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c
        .response(true)
        .expect("second response on a 1.0 keep-alive connection");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("keep-alive")
    );
    c.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    let r = c.response(false).expect("third response");
    assert_eq!(r.body, b"ten");
    assert!(c.closed_within(Duration::from_secs(3)));
}

#[test]
fn curl_http10() {
    let dir = TempDir::new("http-curl10");
    file(&dir, "www/index.html", b"<h1>ok</h1>\n");
    let s = Server::with_docroot(dir, &[]);
    let hdr = s.dir.path().join("h.txt");
    let (body, code) = curl(&["--http1.0", "-D", &hdr.to_string_lossy(), &s.url("/")]);
    assert_eq!((code, body.as_slice()), (0, &b"<h1>ok</h1>\n"[..]));
    let head = std::fs::read_to_string(&hdr).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 12\r\n"),
        "{head}"
    );
    let (out, code) = curl(&[
        "--http1.0",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &s.url("/nope"),
    ]);
    assert_eq!((code, out.as_slice()), (0, &b"404"[..]));
}

#[test]
fn get_body_is_discarded() {
    let dir = TempDir::new("http-getbody");
    file(&dir, "www/a.txt", b"A");
    file(&dir, "www/b.txt", b"B");
    file(&dir, "www/c.txt", b"C");
    let s = Server::with_docroot(dir, &[]);

    // Body in the same write as the next request.
    let data = raw(
        &s.addr(),
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let rs = parse_responses(&data, &[]);
    let got: Vec<(u16, &[u8])> = rs.iter().map(|r| (r.status, r.body.as_slice())).collect();
    assert_eq!(
        got,
        vec![(200, &b"A"[..]), (200, &b"B"[..])],
        "{:?}",
        String::from_utf8_lossy(&data)
    );

    // A body that looks like a request is not one.
    let inner = b"GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut r = format!(
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        inner.len()
    )
    .into_bytes();
    r.extend_from_slice(inner);
    r.extend_from_slice(b"GET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let data = raw(&s.addr(), &r, Duration::from_secs(5));
    let got: Vec<(u16, Vec<u8>)> = parse_responses(&data, &[])
        .into_iter()
        .map(|r| (r.status, r.body))
        .collect();
    assert_eq!(got, vec![(200, b"A".to_vec()), (200, b"B".to_vec())]);

    // The body arrives later, in pieces, then the next request.
    let mut c = Client::connect(&s.addr());
    c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n0123");
    let r = c.response(false).expect("answered before the body is in");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"A"[..]));
    std::thread::sleep(Duration::from_millis(100));
    c.send(&vec![b'x'; 5000]);
    std::thread::sleep(Duration::from_millis(100));
    let mut rest = vec![b'y'; 10000 - 4 - 5000];
    rest.extend_from_slice(b"GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(&rest);
    let r = c.response(false).expect("the request after the body");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"C"[..]));
    // Content-Length: 0 on GET is fine too.
    c.send(b"GET /b.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(false).map(|r| r.body), Some(b"B".to_vec()));
    assert_eq!(c.response(false).map(|r| r.body), Some(b"A".to_vec()));
}

#[test]
fn large_file_intact_via_curl() {
    let dir = TempDir::new("http-large");
    let big = noise(3 * 1024 * 1024 + 17, 7);
    file(&dir, "www/big.bin", &big);
    let s = Server::with_docroot(dir, &[]);
    let out = s.dir.path().join("out.bin");
    let (code_out, code) = curl(&[
        "-o",
        &out.to_string_lossy(),
        "-w",
        "%{http_code}",
        &s.url("/big.bin"),
    ]);
    assert_eq!((code, code_out.as_slice()), (0, &b"200"[..]));
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got == big, "3 MiB body differs");

    // Twice on one raw keep-alive connection, the second after the first.
    let mut c = Client::connect(&s.addr());
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-5\r\n\r\n");
    let r = c.response(false).expect("big response");
    assert_eq!(r.status, 200);
    assert!(r.body == big, "raw body differs");
    let r = c.response(false).expect("range after big");
    assert_eq!((r.status, r.body.as_slice()), (206, &big[big.len() - 5..]));

    // Not pipelined: each request only after the whole previous answer,
    // some after a pause (a paced body leaves the connection waiting for
    // writability, not readability, until the next request is looked for).
    for pause in [0u64, 150, 0] {
        std::thread::sleep(Duration::from_millis(pause));
        c.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.response(false).expect("big response after the last");
        assert_eq!(r.status, 200);
        assert!(r.body == big, "body differs after a pause of {pause} ms");
    }
    std::thread::sleep(Duration::from_millis(150));
    c.send(b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.response(true).expect("HEAD after a big body");
    assert_eq!(r.header("content-length"), Some(&*big.len().to_string()));
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn curl_ranges_on_a_1mib_file() {
    let dir = TempDir::new("http-curl-range");
    let data = noise(1024 * 1024, 99);
    file(&dir, "www/m.bin", &data);
    let s = Server::with_docroot(dir, &[]);
    let out = s.dir.path().join("part.bin");
    let n = data.len();
    for (r, want) in [
        ("1000-1999", &data[1000..2000]),
        ("-100", &data[n - 100..]),
        ("524288-", &data[524_288..]),
        ("0-0", &data[..1]),
    ] {
        let _ = std::fs::remove_file(&out);
        let (code_out, code) = curl(&[
            "-r",
            r,
            "-o",
            &out.to_string_lossy(),
            "-w",
            "%{http_code}",
            &s.url("/m.bin"),
        ]);
        assert_eq!((code, code_out.as_slice()), (0, &b"206"[..]), "{r}");
        let got = std::fs::read(&out).unwrap();
        assert_eq!(got.len(), want.len(), "{r}");
        assert!(got == want, "{r}: bytes differ");
    }
}

#[test]
fn every_response_has_date_and_length() {
    let dir = TempDir::new("http-hdrs");
    file(&dir, "www/d/index.html", b"x");
    let s = Server::with_docroot(dir, &[]);
    for (m, path, extra) in [
        ("GET", "/d/", ""),
        ("GET", "/d", ""),
        ("GET", "/zz", ""),
        ("HEAD", "/d/", ""),
        ("GET", "/d/index.html", "Range: bytes=9-\r\n"),
    ] {
        let data = req_raw(&s, m, path, extra);
        let r = parse_responses(&data, if m == "HEAD" { &[0] } else { &[] }).remove(0);
        assert_imf_date(r.header("date"));
        assert!(r.header("content-length").is_some(), "{m} {path}: {r:?}");
        if m == "GET" {
            assert_eq!(
                r.header("content-length"),
                Some(r.body.len().to_string().as_str())
            );
            let end = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_eq!(
                data.len() - end,
                r.body.len(),
                "{m} {path}: Content-Length matches the bytes sent"
            );
        }
    }
    // A plain TCP read of a HEAD through the raw socket API (no helper).
    let mut t = TcpStream::connect(s.addr()).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    t.write_all(b"HEAD /d/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut v = Vec::new();
    let _ = t.read_to_end(&mut v);
    assert_no_body(&v);
}

#[test]
fn names_queries_and_absolute_form() {
    let dir = TempDir::new("http-names");
    file(&dir, "www/my file.txt", b"spaced");
    file(&dir, "www/caf\u{e9}.txt", b"accent");
    file(&dir, "www/hello.txt", b"hello");
    let s = Server::with_docroot(dir, &[]);
    for (target, body) in [
        ("/my%20file.txt", &b"spaced"[..]),
        ("/caf%C3%A9.txt", b"accent"),
        ("/caf%c3%a9.txt", b"accent"),
        ("/hello.txt?x=1&y=%2F..", b"hello"),
        ("/%68ello.txt", b"hello"),
        ("/./hello.txt", b"hello"),
        ("//hello.txt", b"hello"),
        ("/nope/../hello.txt", b"hello"),
        ("http://x/hello.txt", b"hello"),
        ("HTTP://other.example:81/hello.txt?q", b"hello"),
    ] {
        let r = req(&s, "GET", target, "");
        assert_eq!((r.status, r.body.as_slice()), (200, body), "{target}");
    }
}

#[test]
fn pipeline_longer_than_the_header_buffer() {
    let dir = TempDir::new("http-longpipe");
    file(&dir, "www/c.txt", b"CC");
    let s = Server::with_docroot(dir, &[]);
    // 400 requests, about 13 KB: more than the 8 KiB header buffer holds.
    let n = 400;
    let mut batch = b"GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n - 1);
    batch.extend_from_slice(b"GET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let data = raw(&s.addr(), &batch, Duration::from_secs(8));
    let rs = parse_responses(&data, &[]);
    assert_eq!(
        rs.len(),
        n,
        "{:?}",
        String::from_utf8_lossy(&data[data.len().saturating_sub(400)..])
    );
    assert!(rs.iter().all(|r| r.status == 200 && r.body == b"CC"));
}

#[test]
fn request_in_tiny_pieces() {
    let dir = TempDir::new("http-pieces");
    file(&dir, "www/a.txt", b"pieces");
    let s = Server::with_docroot(dir, &[]);
    let mut t = TcpStream::connect(s.addr()).unwrap();
    t.set_nodelay(true).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for b in b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" {
        t.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let data = read_all(&mut t);
    let r = parse_responses(&data, &[]).remove(0);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"pieces"[..]));
}

#[test]
fn conditional_before_range() {
    let dir = TempDir::new("http-cond-range");
    file(&dir, "www/r.bin", &pattern(300));
    let s = Server::with_docroot(dir, &[]);
    let etag = req(&s, "GET", "/r.bin", "")
        .header("etag")
        .unwrap()
        .to_string();
    // RFC 9110 §13.2.2: If-None-Match is evaluated before Range.
    let data = req_raw(
        &s,
        "GET",
        "/r.bin",
        &format!("If-None-Match: {etag}\r\nRange: bytes=0-9\r\n"),
    );
    assert!(
        data.starts_with(b"HTTP/1.1 304 "),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    assert_no_body(&data);
    let data = req_raw(
        &s,
        "GET",
        "/r.bin",
        &format!("If-None-Match: {etag}\r\nRange: bytes=1000-\r\n"),
    );
    assert!(
        data.starts_with(b"HTTP/1.1 304 "),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
}
