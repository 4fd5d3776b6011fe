//! Path safety of the real binary (issue 2, point 5): no target escapes
//! the docroot, dotfiles are not served, symbolic links out of the root
//! are not followed, `follow_symlinks = owner|no`.
mod common;
use common::*;

use std::os::unix::fs::symlink;
use std::time::Duration;

const SECRET: &[u8] = b"TOP-SECRET-7f3a9c-outside-the-root\n";
const MARK: &[u8] = b"TOP-SECRET-7f3a9c";

/// A temp dir with `www/` (the docroot) and a world-readable `secret`
/// file (and `secret.txt`) beside it, outside the root.
fn layout(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    dir.write("secret", SECRET);
    dir.write("secret.txt", SECRET);
    dir.write("www/index.html", b"<p>index</p>\n");
    dir.write("www/sub/ok.txt", b"ok\n");
    dir.write("www/real.txt", b"real file inside\n");
    dir
}

/// Sends `GET <target>` and returns (status, whole raw response).
fn try_target(s: &Server, target: &[u8]) -> (u16, Vec<u8>) {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let data = raw(&s.addr(), &req, Duration::from_secs(5));
    let status = parse_responses(&data, &[])
        .first()
        .map(|r| r.status)
        .unwrap_or(0);
    (status, data)
}

fn assert_refused(s: &Server, target: &[u8], allowed: &[u16]) {
    let (status, data) = try_target(s, target);
    let t = String::from_utf8_lossy(target);
    assert!(
        !contains(&data, MARK),
        "{t}: the outside file leaked: {:?}",
        String::from_utf8_lossy(&data)
    );
    assert!(
        allowed.contains(&status),
        "{t}: status {status} not in {allowed:?}: {:?}",
        String::from_utf8_lossy(&data)
    );
}

#[test]
fn traversal_never_escapes_the_root() {
    let s = Server::with_docroot(layout("paths-trav"), &[]);
    // Control: the layout works, and the outside file really is readable.
    let (st, data) = try_target(&s, b"/sub/ok.txt");
    assert_eq!(st, 200);
    assert!(data.ends_with(b"ok\n"));
    assert_eq!(std::fs::read(s.dir.path().join("secret")).unwrap(), SECRET);

    let targets: &[&[u8]] = &[
        b"/../secret",
        b"/../secret.txt",
        b"/%2e%2e/secret",
        b"/%2E%2E/secret",
        b"/.%2e/secret",
        b"/%2e./secret",
        b"/%2e%2e%2fsecret",
        b"/%2E%2E%2Fsecret",
        b"/..%2fsecret",
        b"/..%2Fsecret",
        b"/a/../../secret",
        b"/sub/../../secret",
        b"/sub/%2e%2e/%2e%2e/secret",
        b"/sub/..%2f..%2fsecret",
        b"//..//secret",
        b"/./../secret",
        b"/..//secret",
        b"/..\\secret",
        b"/sub\\..\\..\\secret",
        b"/..%5csecret",
        b"/..%5Csecret",
        b"/%5c..%5csecret",
        b"/secret%00",
        b"/../secret%00.txt",
        b"/%00/../secret",
        b"/sub/ok.txt%00/../../secret",
        b"/%252e%252e/secret",
        b"/%c0%ae%c0%ae/secret",
        b"/../../../../../../../../secret",
        b"http://x/../secret",
        b"http://x/%2e%2e/secret",
        b"HTTP://x/..%2fsecret",
        b"http://x//../secret",
        b"../secret",
        b"..%2fsecret",
        b"secret",
    ];
    for t in targets {
        assert_refused(&s, t, &[400, 403, 404]);
    }
    // Absolute paths of the outside file, in origin and absolute form.
    let abs = s.dir.path().join("secret").to_string_lossy().to_string();
    assert_refused(&s, abs.as_bytes(), &[400, 403, 404]);
    assert_refused(&s, format!("/..{abs}").as_bytes(), &[400, 403, 404]);
    assert_refused(&s, format!("http://x{abs}").as_bytes(), &[400, 403, 404]);
    // A system file, through the same tricks.
    for t in [
        &b"/../../../../../../../../etc/passwd"[..],
        b"/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let (st, data) = try_target(&s, t);
        assert!([400, 403, 404].contains(&st), "{st}");
        assert!(!contains(&data, b"root:"), "/etc/passwd leaked");
    }
    // Still serving.
    assert_eq!(try_target(&s, b"/").0, 200);
}

#[test]
fn dotfiles_are_not_served() {
    let dir = layout("paths-dot");
    dir.write("www/.htpasswd", b"admin:TOP-SECRET-7f3a9c-hash\n");
    dir.write("www/.git/config", b"[remote] TOP-SECRET-7f3a9c\n");
    dir.write("www/sub/.env", b"KEY=TOP-SECRET-7f3a9c\n");
    let s = Server::with_docroot(dir, &[]);
    for t in [
        &b"/.htpasswd"[..],
        b"/.git/config",
        b"/.git/",
        b"/.git",
        b"/sub/.env",
        b"/%2ehtpasswd",
        b"/%2Egit/config",
        b"/sub/../.htpasswd",
        b"/./.htpasswd",
    ] {
        assert_refused(&s, t, &[403]);
        let (_, data) = try_target(&s, t);
        let r = parse_responses(&data, &[]).remove(0);
        assert_eq!(
            r.body,
            error_page_body(403, "Forbidden"),
            "{}",
            String::from_utf8_lossy(t)
        );
    }
    let r = get(
        &s.addr(),
        "HEAD /.htpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn dotfiles_yes_serves_them() {
    let dir = layout("paths-dot-yes");
    dir.write("www/.well-known/security.txt", b"Contact: x\n");
    dir.write("www/.hidden.txt", b"now visible\n");
    let s = Server::with_config(dir, &conf_with("", "dotfiles = yes"));
    let r = get(
        &s.addr(),
        "GET /.hidden.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"now visible\n"[..]));
    // Still no way out of the root.
    assert_refused(&s, b"/../secret", &[400, 403, 404]);
}

#[test]
fn symlinks_out_of_the_root_are_not_followed() {
    let dir = layout("paths-link-out");
    let base = dir.path().to_path_buf();
    let www = base.join("www");
    symlink(base.join("secret"), www.join("abs.txt")).unwrap();
    symlink("../secret", www.join("rel.txt")).unwrap();
    symlink("..", www.join("updir")).unwrap();
    symlink(&base, www.join("absdir")).unwrap();
    symlink("/", www.join("rootdir")).unwrap();
    symlink("hop2", www.join("hop1")).unwrap();
    symlink("../secret", www.join("hop2")).unwrap();
    symlink("../secret", www.join("sub/deep.txt")).unwrap();
    let s = Server::with_docroot(dir, &[]);
    for t in [
        &b"/abs.txt"[..],
        b"/rel.txt",
        b"/updir/secret",
        b"/updir/www/../secret",
        b"/absdir/secret",
        b"/absdir/secret.txt",
        b"/hop1",
        b"/hop2",
        b"/sub/deep.txt",
        b"/rootdir/etc/passwd",
    ] {
        assert_refused(&s, t, &[403, 404]);
        let (_, data) = try_target(&s, t);
        assert!(!contains(&data, b"root:"), "{}", String::from_utf8_lossy(t));
    }
    // Byte ranges and gzip variants don't open another door.
    let r = get(
        &s.addr(),
        "GET /abs.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-5\r\nConnection: close\r\n\r\n",
    );
    assert!(r.status == 403 || r.status == 404);
    assert_eq!(
        get(
            &s.addr(),
            "GET /sub/ok.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .status,
        200
    );
}

#[test]
fn symlink_inside_root_same_owner_is_followed() {
    let dir = layout("paths-link-in");
    let www = dir.path().join("www");
    symlink("real.txt", www.join("alias.txt")).unwrap();
    symlink(www.join("real.txt"), www.join("absalias.txt")).unwrap();
    symlink("sub", www.join("subalias")).unwrap();
    symlink("../real.txt", www.join("sub/up.txt")).unwrap();
    let s = Server::with_docroot(dir, &[]);
    for t in ["/alias.txt", "/sub/up.txt"] {
        let r = get(
            &s.addr(),
            &format!("GET {t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"real file inside\n"[..]),
            "{t}: {}",
            s.log()
        );
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    let r = get(
        &s.addr(),
        "GET /subalias/ok.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
    // An absolute link naming a file inside the root resolves against
    // the real "/", so beneath the root it is refused (or followed
    // within the root): either way never anything but the inside file.
    let r = get(
        &s.addr(),
        "GET /absalias.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        r.status == 403 || r.status == 404 || (r.status == 200 && r.body == b"real file inside\n"),
        "{r:?}"
    );
}

#[test]
fn symlink_with_other_owner_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to give a link another owner");
        return;
    }
    let dir = layout("paths-link-owner");
    let www = dir.path().join("www");
    symlink("real.txt", www.join("foreign.txt")).unwrap();
    std::os::unix::fs::lchown(www.join("foreign.txt"), Some(65534), Some(65534)).unwrap();
    symlink("real.txt", www.join("mine.txt")).unwrap();
    let s = Server::with_docroot(dir, &[]);
    let r = get(
        &s.addr(),
        "GET /foreign.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        r.status == 403 || r.status == 404,
        "owner mismatch must not be followed: {r:?}"
    );
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
    let r = get(
        &s.addr(),
        "GET /mine.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"real file inside\n"[..])
    );
}

#[test]
fn follow_symlinks_no_refuses_every_link() {
    let dir = layout("paths-link-no");
    let www = dir.path().join("www");
    symlink("real.txt", www.join("alias.txt")).unwrap();
    symlink("sub", www.join("subalias")).unwrap();
    symlink("../secret", www.join("rel.txt")).unwrap();
    let s = Server::with_config(dir, &conf_with("", "follow_symlinks = no"));
    for t in ["/alias.txt", "/subalias/ok.txt", "/subalias/", "/rel.txt"] {
        let r = get(
            &s.addr(),
            &format!("GET {t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(r.status == 403 || r.status == 404, "{t}: {r:?}");
        assert!(
            !contains(&r.body, b"real file inside") && !contains(&r.body, MARK),
            "{t}"
        );
    }
    let r = get(
        &s.addr(),
        "GET /real.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"real file inside\n"[..])
    );
}
