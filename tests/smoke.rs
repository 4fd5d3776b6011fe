mod common;
use common::*;

#[test]
fn serves_a_file_with_curl() {
    let dir = TempDir::new("smoke");
    dir.write("www/index.html", b"hello rttpd\n");
    let s = Server::with_docroot(dir, &[]);
    let (body, code) = curl(&[&s.url("/")]);
    assert_eq!(code, 0);
    assert_eq!(body, b"hello rttpd\n");
    let r = get(
        &s.addr(),
        "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert!(
        r.header("etag").is_some()
            && r.header("last-modified").is_some()
            && r.header("date").is_some()
    );
}
