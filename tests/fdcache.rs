//! The listener's fd cache: answers without the worker for a short while,
//! but never longer than that, never for paths behind auth, and never with
//! the wrong variant.
mod common;
use common::*;
use std::time::{Duration, Instant};

fn body(s: &Server, path: &str, extra: &str) -> (u16, Vec<u8>) {
    let r = get(
        &s.addr(),
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"),
    );
    (r.status, r.body)
}

#[test]
fn a_changed_file_is_seen_within_the_validity_window() {
    let dir = TempDir::new("fdc-change");
    dir.write("www/f.txt", b"one\n");
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\n[vhost d]\nroot = {dir}/www\n",
    );
    assert_eq!(body(&s, "/f.txt", ""), (200, b"one\n".to_vec()));
    // Replace it (new inode, new size), as an editor or an upgrade would.
    let p = s.dir.path().join("www/f.txt.new");
    std::fs::write(&p, b"two, longer\n").unwrap();
    std::fs::rename(&p, s.dir.path().join("www/f.txt")).unwrap();
    let t0 = Instant::now();
    loop {
        let (st, b) = body(&s, "/f.txt", "");
        assert_eq!(st, 200);
        if b == b"two, longer\n" {
            break;
        }
        assert_eq!(b, b"one\n", "only the old or the new file, never a mix");
        assert!(
            t0.elapsed() < Duration::from_millis(1500),
            "stale for over 1.5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn auth_paths_are_never_answered_from_the_cache() {
    let dir = TempDir::new("fdc-auth");
    dir.write("www/priv/s.txt", b"secret\n");
    dir.write("users", b"alice:wonder\n");
    let users = dir.path().join("users");
    dir.write(
        "www/.rttpd",
        format!("auth = /priv/ \"Staff\" {}\n", users.display()).as_bytes(),
    );
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\n[vhost d]\nroot = {dir}/www\nsettings = {dir}/www/.rttpd\n",
    );
    // "alice:wonder"
    let ok = "Authorization: Basic YWxpY2U6d29uZGVy\r\n";
    for _ in 0..5 {
        assert_eq!(body(&s, "/priv/s.txt", ok), (200, b"secret\n".to_vec()));
        let (st, b) = body(&s, "/priv/s.txt", "");
        assert_eq!(st, 401);
        assert!(!String::from_utf8_lossy(&b).contains("secret"));
    }
}

#[test]
fn gzip_and_plain_variants_are_kept_apart() {
    let dir = TempDir::new("fdc-gz");
    dir.write("www/a.js", b"plain\n");
    dir.write("www/a.js.gz", b"GZ");
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\n[vhost d]\nroot = {dir}/www\n",
    );
    for _ in 0..3 {
        assert_eq!(
            body(&s, "/a.js", "Accept-Encoding: gzip\r\n"),
            (200, b"GZ".to_vec())
        );
        assert_eq!(body(&s, "/a.js", ""), (200, b"plain\n".to_vec()));
    }
    // Conditionals and ranges on a cached entry are decided like the worker's.
    let r = get(
        &s.addr(),
        "GET /a.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let etag = r.header("etag").unwrap().to_string();
    let r = get(
        &s.addr(),
        &format!(
            "GET /a.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(r.status, 304);
    let r = get(
        &s.addr(),
        "GET /a.js HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("content-range")),
        (206, &b"la"[..], Some("bytes 1-2/6"))
    );
    let r = get(
        &s.addr(),
        "GET /a.js HTTP/1.1\r\nHost: x\r\nRange: bytes=9-\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */6"))
    );
}
