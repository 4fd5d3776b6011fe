//! Virtual hosts against the real binary: routing by Host (names, aliases,
//! wildcards, ports, trailing dots, IPv6 literals, default vhost,
//! absolute-form targets), isolation of two vhosts under two uids, the
//! owner-editable settings file (every key, forbidden keys, a broken file
//! keeps the last good settings) and directory listings.
//!
//! Tests that are only meaningful with real privilege separation need root
//! (CI runs as root); without it they print why and return.

mod common;
use common::*;

use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

// ------------------------------------------------------------------ helpers

const UID_A: u32 = 40011;
const UID_B: u32 = 40012;
const UID_S: u32 = 40013;

/// `GET path` with `Host: host` on a fresh connection.
fn host_get(s: &Server, host: &str, path: &str) -> Resp {
    get(
        &s.addr(),
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

/// Replaces the file at `path` atomically (write a temp file, set its
/// mode, owner and mtime, rename over): the worker never sees a half
/// written file, and (mtime, size, inode) always changes.
fn put_file(path: &Path, data: &str, uid: Option<u32>, mtime: SystemTime) {
    let tmp = PathBuf::from(format!("{}.new", path.display()));
    std::fs::write(&tmp, data).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
    if let Some(u) = uid {
        chown(&tmp, Some(u), Some(u)).unwrap();
    }
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A distinct mtime per version: `k` × 10 s after a fixed past instant.
fn version_time(k: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(100_000) + Duration::from_secs(10 * k)
}

/// curl against `http://HOST:PORT/PATH` resolved to 127.0.0.1; returns
/// (status, body). `extra` are more curl arguments (e.g. `-u`).
fn curl_host(s: &Server, host: &str, path: &str, extra: &[&str]) -> (u16, Vec<u8>) {
    let resolve = format!("{host}:{}:127.0.0.1", s.port);
    let url = format!("http://{host}:{}{path}", s.port);
    let mut args = vec![
        "--max-time",
        "5",
        "--resolve",
        &resolve,
        "-w",
        "\n%{http_code}",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let (out, code) = curl(&args);
    assert_eq!(code, 0, "curl {args:?} failed with exit code {code}");
    let nl = out
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("curl -w output");
    let status = text(&out[nl + 1..]).trim().parse().unwrap_or(0);
    (status, out[..nl].to_vec())
}

fn pid_titled(pm: i32, t: &str) -> Option<i32> {
    children(pm).into_iter().find(|&p| title(p) == t)
}

/// The four uid fields (real, effective, saved, fs) of a process.
fn uids(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

// ------------------------------------------------------------------ routing

const ROUTING: &str = "\
listen = 127.0.0.1:{port}
access_log = off

[vhost first]
root = {dir}/first

[vhost a.test]
alias = www.a.test
alias = alias-a.test other-a.test
root = {dir}/a

[vhost wild]
alias = *.example.org
root = {dir}/wild

[vhost deep]
alias = *.deep.example.org
root = {dir}/deep

[vhost six]
alias = [::1]
root = {dir}/six

[vhost fallback]
default = yes
root = {dir}/fallback
";

fn routing_server(tag: &str, conf: &str) -> Server {
    let dir = TempDir::new(tag);
    for site in ["first", "a", "wild", "deep", "six", "fallback"] {
        dir.write(
            &format!("{site}/index.html"),
            format!("site={site}\n").as_bytes(),
        );
        dir.write(
            &format!("{site}/x"),
            format!("x of site={site}\n").as_bytes(),
        );
    }
    Server::with_config(dir, conf)
}

#[test]
fn routes_by_name_alias_wildcard_case_port_trailing_dot_and_ipv6() {
    let s = routing_server("route", ROUTING);
    let p = s.port;
    let cases: Vec<(String, &str)> = vec![
        ("a.test".into(), "a"),
        ("www.a.test".into(), "a"),
        ("alias-a.test".into(), "a"),
        ("other-a.test".into(), "a"),
        ("A.TEST".into(), "a"),
        ("wWw.A.tEsT".into(), "a"),
        (format!("a.test:{p}"), "a"),
        (format!("WWW.A.TEST:{p}"), "a"),
        ("a.test.".into(), "a"),
        (format!("a.test.:{p}"), "a"),
        ("x.example.org".into(), "wild"),
        ("X.Example.ORG".into(), "wild"),
        (format!("x.example.org:{p}"), "wild"),
        ("x.example.org.".into(), "wild"),
        ("y.x.example.org".into(), "wild"),
        ("a.b.c.example.org".into(), "wild"),
        ("deep.example.org".into(), "wild"),
        ("q.deep.example.org".into(), "deep"),
        ("Q.R.DEEP.Example.Org".into(), "deep"),
        ("[::1]".into(), "six"),
        (format!("[::1]:{p}"), "six"),
        // Near misses go to the default vhost.
        ("example.org".into(), "fallback"),
        ("xexample.org".into(), "fallback"),
        ("a.test.evil".into(), "fallback"),
        ("b.a.test".into(), "fallback"),
        ("[::2]".into(), "fallback"),
        (format!("[::2]:{p}"), "fallback"),
        ("unknown.test".into(), "fallback"),
        ("127.0.0.1".into(), "fallback"),
        (format!("127.0.0.1:{p}"), "fallback"),
        // A section name without a dot is not a host name.
        ("first".into(), "fallback"),
        ("fallback".into(), "fallback"),
    ];
    let mut wrong = Vec::new();
    for (host, want) in &cases {
        let r = host_get(&s, host, "/");
        let body = text(&r.body);
        if r.status != 200 || body != format!("site={want}\n") {
            wrong.push(format!(
                "Host: {host} → {} {body:?}, want site={want}",
                r.status
            ));
        }
    }
    assert!(wrong.is_empty(), "misrouted:\n{}", wrong.join("\n"));
}

#[test]
fn missing_host_in_http10_goes_to_the_default_vhost() {
    let s = routing_server("route10", ROUTING);
    let r = get(&s.addr(), "GET /x HTTP/1.0\r\n\r\n");
    assert_eq!(
        (r.status, text(&r.body)),
        (200, "x of site=fallback\n".into())
    );
    // With a Host, HTTP/1.0 routes like 1.1.
    let r = get(&s.addr(), "GET /x HTTP/1.0\r\nHost: www.a.test\r\n\r\n");
    assert_eq!((r.status, text(&r.body)), (200, "x of site=a\n".into()));
}

#[test]
fn without_a_default_vhost_unknown_and_missing_hosts_go_to_the_first() {
    let conf = ROUTING.replace("default = yes\n", "");
    let s = routing_server("route-first", &conf);
    for host in ["unknown.test", "example.org", "first", "127.0.0.1"] {
        let r = host_get(&s, host, "/");
        assert_eq!(
            (r.status, text(&r.body)),
            (200, "site=first\n".into()),
            "Host: {host}"
        );
    }
    let r = get(&s.addr(), "GET / HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, text(&r.body)), (200, "site=first\n".into()));
    // Named hosts still route to their vhost.
    let r = host_get(&s, "www.a.test", "/");
    assert_eq!((r.status, text(&r.body)), (200, "site=a\n".into()));
}

#[test]
fn absolute_form_target_routes_by_its_authority_not_the_host_header() {
    let s = routing_server("route-abs", ROUTING);
    let p = s.port;
    let cases: Vec<(String, &str, &str)> = vec![
        // (target, Host header, expected site)
        ("http://a.test/x".into(), "unknown.test", "a"),
        ("http://a.test/x".into(), "q.deep.example.org", "a"),
        (format!("http://WWW.A.TEST:{p}/x"), "first", "a"),
        ("http://q.example.org/x".into(), "a.test", "wild"),
        ("HTTP://z.deep.example.org/x".into(), "a.test", "deep"),
        (format!("http://[::1]:{p}/x"), "a.test", "six"),
        ("http://nowhere.test/x".into(), "a.test", "fallback"),
    ];
    for (target, host, want) in &cases {
        let r = get(
            &s.addr(),
            &format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(
            (r.status, text(&r.body)),
            (200, format!("x of site={want}\n")),
            "GET {target} with Host: {host}"
        );
    }
    // An absolute-form target with an empty path is "/".
    let r = get(
        &s.addr(),
        "GET http://a.test HTTP/1.1\r\nHost: first\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, text(&r.body)), (200, "site=a\n".into()));
}

// ------------------------------------------------------- two uids (root)

const A_MARK: &str = "A-MARKER-7c1d: only vhost a.test (uid 40011) may serve this\n";
const B_MARK: &str = "B-MARKER-91fe: only vhost b.test (uid 40012) may serve this\n";

#[test]
fn two_vhosts_under_two_uids_serve_only_their_own_files() {
    if skip_unless_root("two_vhosts_under_two_uids_serve_only_their_own_files") {
        return;
    }
    let dir = TempDir::new("uids");
    let d = dir.path().to_path_buf();
    dir.write("a/index.html", b"index of a\n");
    dir.write("a/a-secret.txt", A_MARK.as_bytes());
    dir.write("a/sub/page.txt", b"a page\n");
    dir.write("b/index.html", b"index of b\n");
    dir.write("b/b-secret.txt", B_MARK.as_bytes());
    dir.write("b/sub/page.txt", b"b page\n");
    // In each root: links to the other's file and root (owned by the
    // attacker, as an owner with write access to their root would make
    // them), and a copy of the other's file owned by the other uid.
    for (me, other, mark) in [("a", "b", B_MARK), ("b", "a", A_MARK)] {
        symlink(
            d.join(format!("{other}/{other}-secret.txt")),
            d.join(format!("{me}/abs-link.txt")),
        )
        .unwrap();
        symlink(
            format!("../{other}/{other}-secret.txt"),
            d.join(format!("{me}/rel-link.txt")),
        )
        .unwrap();
        symlink(format!("../{other}"), d.join(format!("{me}/otherdir"))).unwrap();
        dir.write(&format!("{me}/theirs.txt"), mark.as_bytes());
    }
    own_tree(&d.join("a"), UID_A);
    own_tree(&d.join("b"), UID_B);
    for (me, other_uid) in [("a", UID_B), ("b", UID_A)] {
        let copy = d.join(format!("{me}/theirs.txt"));
        chown(&copy, Some(other_uid), Some(other_uid)).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let s = Server::with_config(
        dir,
        "\
listen = 127.0.0.1:{port}
access_log = off

[vhost a.test]
root = {dir}/a
user = 40011
group = 40011

[vhost b.test]
root = {dir}/b
user = 40012
group = 40012
",
    );
    // The workers really run as those uids.
    for (name, uid) in [("a.test", UID_A), ("b.test", UID_B)] {
        let pid = pid_titled(s.pid(), &format!("rttpd: vhost {name}"))
            .unwrap_or_else(|| panic!("no worker for {name}"));
        assert_eq!(uids(pid), vec![uid; 4], "uids of the {name} worker");
    }
    // Each serves its own files.
    for (host, secret, mark, page) in [
        ("a.test", "/a-secret.txt", A_MARK, "a page\n"),
        ("b.test", "/b-secret.txt", B_MARK, "b page\n"),
    ] {
        let r = host_get(&s, host, secret);
        assert_eq!((r.status, text(&r.body)), (200, mark.to_string()), "{host}");
        let r = host_get(&s, host, "/sub/page.txt");
        assert_eq!((r.status, text(&r.body)), (200, page.to_string()), "{host}");
    }
    // Neither serves the other's.
    let dirs = s.dir.path().to_string_lossy().to_string();
    for (host, other, other_mark) in [("a.test", "b", B_MARK), ("b.test", "a", A_MARK)] {
        let abs = format!("{dirs}/{other}/{other}-secret.txt");
        // Resolved by the worker: must be 403 or 404.
        let worker_level = [
            format!("/{other}-secret.txt"),
            "/abs-link.txt".to_string(),
            "/rel-link.txt".to_string(),
            format!("/otherdir/{other}-secret.txt"),
            "/otherdir/".to_string(),
            "/otherdir/index.html".to_string(),
            "/theirs.txt".to_string(),
            format!("/{}", abs.trim_start_matches('/')),
        ];
        // Refused by the listener or the worker: any 4xx.
        let traversal = [
            format!("/../{other}/{other}-secret.txt"),
            format!("/sub/../../{other}/{other}-secret.txt"),
            format!("/%2e%2e/{other}/{other}-secret.txt"),
            format!("/..%2f{other}%2f{other}-secret.txt"),
            format!("/../../../../../../..{abs}"),
        ];
        for (targets, worker) in [(&worker_level[..], true), (&traversal[..], false)] {
            for target in targets {
                let data = raw(
                    &s.addr(),
                    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                    t(5000),
                );
                assert!(
                    !contains(&data, &other_mark.as_bytes()[..14]),
                    "GET {target} via {host} leaked the other vhost's file: {:?}",
                    text(&data)
                );
                let status = parse_responses(&data, &[])
                    .first()
                    .map(|r| r.status)
                    .unwrap_or(0);
                let ok = if worker {
                    status == 403 || status == 404
                } else {
                    (400..500).contains(&status)
                };
                assert!(
                    ok,
                    "GET {target} via {host}: status {status}, want {}",
                    if worker { "403 or 404" } else { "a 4xx" }
                );
            }
        }
    }
}

// ------------------------------------------------------- owner settings

/// One vhost `s.test` (uid 40013 when root) with root `{dir}/s` and its
/// owner settings at `{dir}/s/.rttpd`, written (owned by the vhost uid)
/// before the server starts.
struct Owned {
    s: Server,
    settings: PathBuf,
    uid: Option<u32>,
}

impl Owned {
    fn put(&self, text: &str, version: u64) {
        put_file(&self.settings, text, self.uid, version_time(version));
    }
    fn path(&self) -> String {
        self.settings.to_string_lossy().to_string()
    }
}

fn owned_site(tag: &str, files: &[(&str, &str)], settings: &str, section: &str) -> Owned {
    let dir = TempDir::new(tag);
    for (name, data) in files {
        dir.write(&format!("s/{name}"), data.as_bytes());
    }
    let settings_text = settings.replace("{dir}", &dir.path().to_string_lossy());
    let path = dir.path().join("s/.rttpd");
    let uid = is_root().then_some(UID_S);
    if let Some(u) = uid {
        own_tree(&dir.path().join("s"), u);
    }
    put_file(&path, &settings_text, uid, version_time(1));
    let s = Server::with_config(
        dir,
        &format!(
            "\
listen = 127.0.0.1:{{port}}
access_log = off

[vhost s.test]
root = {{dir}}/s
user = 40013
group = 40013
settings = {{dir}}/s/.rttpd
{section}
"
        ),
    );
    Owned {
        s,
        settings: path,
        uid,
    }
}

const SITE: &[(&str, &str)] = &[
    ("home.htm", "HOME PAGE\n"),
    ("index.html", "DEFAULT INDEX (owner chose home.htm)\n"),
    ("pub/one.txt", "one\n"),
    ("pub/two.txt", "two two\n"),
    ("errors/404.html", "<h1>CUSTOM-404 of the owner</h1>\n"),
    ("static/app.js", "var x = 1;\n"),
    ("site.css", "body{}\n"),
    ("plain.txt", "plain\n"),
    ("pkg.apk", "PK\u{3}\u{4}apk\n"),
    ("data.weird", "weird\n"),
    ("private/secret.txt", "PRIVATE-CONTENT\n"),
    (".htpasswd", "# users\nbob:other\nalice:s3cret\n"),
];

const ALL_KEYS: &str = "\
# owner settings: every key
index = home.htm
listing = yes
error_page = 404 /errors/404.html
header = /static/ Cache-Control: max-age=60
header = *.css Cache-Control: max-age=3600
header = /static/ X-Owner: static-prefix
mime = .apk application/vnd.android.package-archive
mime = weird text/x-weird
auth = /private/ \"Staff only\" {dir}/s/.htpasswd
redirect = /old/ 301 https://example.org/new/
redirect = /moved 302 /home.htm
redirect = /tmp-r/ 307 http://other.test/t/
redirect = /perm 308 https://example.org/p
";

#[test]
fn owner_settings_every_key_is_applied() {
    let o = owned_site("settings-all", SITE, ALL_KEYS, "");
    let s = &o.s;
    // index
    let r = host_get(s, "s.test", "/");
    assert_eq!(
        (r.status, text(&r.body)),
        (200, "HOME PAGE\n".into()),
        "index = home.htm"
    );
    // listing
    let r = host_get(s, "s.test", "/pub/");
    assert_eq!(r.status, 200, "listing = yes: {}", text(&r.body));
    assert!(
        contains(&r.body, b"one.txt") && contains(&r.body, b"two.txt"),
        "listing of /pub/: {}",
        text(&r.body)
    );
    // error_page (status kept, the owner's page as the body)
    let r = host_get(s, "s.test", "/no/such/file");
    assert_eq!(r.status, 404);
    assert_eq!(text(&r.body), "<h1>CUSTOM-404 of the owner</h1>\n");
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        r.headers
    );
    // header by prefix, by extension, and neither
    let r = host_get(s, "s.test", "/static/app.js");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("max-age=60"),
        "{:?}",
        r.headers
    );
    assert_eq!(
        r.header("x-owner"),
        Some("static-prefix"),
        "{:?}",
        r.headers
    );
    let r = host_get(s, "s.test", "/site.css");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("max-age=3600"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-owner"), None);
    let r = host_get(s, "s.test", "/plain.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), None, "{:?}", r.headers);
    // mime
    let r = host_get(s, "s.test", "/pkg.apk");
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.android.package-archive")
    );
    let r = host_get(s, "s.test", "/data.weird");
    assert_eq!(r.header("content-type"), Some("text/x-weird"));
    // redirects: status and Location
    for (path, status, location) in [
        ("/old/a/b.html", 301, "https://example.org/new/a/b.html"),
        ("/old/", 301, "https://example.org/new/"),
        ("/moved", 302, "/home.htm"),
        ("/tmp-r/x", 307, "http://other.test/t/x"),
        ("/perm", 308, "https://example.org/p"),
    ] {
        let r = host_get(s, "s.test", path);
        assert_eq!(
            (r.status, r.header("location")),
            (status, Some(location)),
            "GET {path}: {:?}",
            r.headers
        );
    }
    // auth: 401 with a challenge, then the right password, then a wrong one
    let r = host_get(s, "s.test", "/private/secret.txt");
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic realm=\"Staff only\""),
        "WWW-Authenticate: {challenge:?}"
    );
    assert!(!contains(&r.body, b"PRIVATE-CONTENT"));
    let (st, body) = curl_host(s, "s.test", "/private/secret.txt", &["-u", "alice:s3cret"]);
    assert_eq!((st, text(&body)), (200, "PRIVATE-CONTENT\n".into()));
    let (st, body) = curl_host(s, "s.test", "/private/secret.txt", &["-u", "alice:wrong"]);
    assert_eq!(st, 401);
    assert!(!contains(&body, b"PRIVATE-CONTENT"));
    let (st, _) = curl_host(
        s,
        "s.test",
        "/private/secret.txt",
        &["-u", "mallory:s3cret"],
    );
    assert_eq!(st, 401);
    let (st, _) = curl_host(s, "s.test", "/private/secret.txt", &[]);
    assert_eq!(st, 401);
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let r = get(
        &s.addr(),
        "GET /private/secret.txt HTTP/1.1\r\nHost: s.test\r\nAuthorization: bAsIc YWxpY2U6czNjcmV0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, text(&r.body)), (200, "PRIVATE-CONTENT\n".into()));
    // Other spellings of the protected path are protected too.
    for path in [
        "/private/",
        "/private//secret.txt",
        "/./private/secret.txt",
        "/static/../private/secret.txt",
        "/%70rivate/secret.txt",
        "/private/%73ecret.txt",
        "//private/secret.txt",
    ] {
        let r = host_get(s, "s.test", path);
        assert!(
            r.status == 401 || r.status == 400,
            "GET {path} without credentials: {} (want 401)",
            r.status
        );
        assert!(!contains(&r.body, b"PRIVATE-CONTENT"), "GET {path} leaked");
    }
    // Outside the protected prefix no credentials are needed.
    let (st, _) = curl_host(s, "s.test", "/plain.txt", &[]);
    assert_eq!(st, 200);
    // The settings and user files themselves are dotfiles: not served.
    for path in ["/.rttpd", "/.htpasswd"] {
        let r = host_get(s, "s.test", path);
        assert!(
            r.status == 403 || r.status == 404,
            "GET {path}: {}",
            r.status
        );
        assert!(!contains(&r.body, b"s3cret") && !contains(&r.body, b"redirect"));
    }
}

#[test]
fn owner_settings_refuse_privileged_keys_and_keep_the_last_good_settings() {
    let good = "index = good.htm\nheader = / X-Settings: good\n";
    let files: &[(&str, &str)] = &[("good.htm", "GOOD\n"), ("bad.htm", "BAD\n")];
    let o = owned_site("settings-forbidden", files, good, "");
    let s = &o.s;
    let check_good = |when: &str| {
        let r = host_get(s, "s.test", "/");
        assert_eq!(
            (r.status, text(&r.body), r.header("x-settings")),
            (200, "GOOD\n".into(), Some("good")),
            "{when}: the last good settings must stay in force"
        );
    };
    check_good("at start");
    let cases = [
        ("user = 0", "user"),
        ("root = /", "root"),
        ("listen = 80", "listen"),
        ("chroot = no", "chroot"),
        ("cgi = x", "cgi"),
    ];
    for (k, (line, key)) in cases.iter().enumerate() {
        // Good-looking changes first: none of them may be applied.
        let bad = format!(
            "index = bad.htm\nheader = / X-Settings: bad\n# then a key that is not the owner's\n{line}\n"
        );
        o.put(&bad, 2 + k as u64);
        // SIGHUP to pmaster is forwarded to the workers: re-read now.
        s.signal("HUP");
        let want = format!("{}:4: key '{key}' not allowed in owner settings", o.path());
        assert!(
            wait_log(s, &want, t(3000)),
            "no {want:?} on stderr; stderr:\n{}",
            s.log()
        );
        check_good(&format!("after '{line}'"));
    }
    // And a good file is still taken afterwards.
    o.put("index = bad.htm\n", 20);
    s.signal("HUP");
    let end = Instant::now() + t(3000);
    loop {
        let r = host_get(s, "s.test", "/");
        if r.status == 200 && r.body == b"BAD\n" {
            break;
        }
        assert!(
            Instant::now() < end,
            "a good settings file after bad ones was not applied: {} {:?}",
            r.status,
            text(&r.body)
        );
        std::thread::sleep(t(50));
    }
}

#[test]
fn broken_owner_settings_keep_the_old_behaviour_and_a_fixed_file_is_picked_up() {
    let files: &[(&str, &str)] = &[
        ("one.htm", "ONE\n"),
        ("two.htm", "TWO\n"),
        ("three.htm", "THREE\n"),
    ];
    let o = owned_site("settings-broken", files, "index = one.htm\n", "");
    let s = &o.s;
    let body = || {
        let r = host_get(s, "s.test", "/");
        (r.status, text(&r.body))
    };
    assert_eq!(body(), (200, "ONE\n".into()));

    // A broken version (unknown key on line 3), found by the mtime check.
    o.put("index = two.htm\n\nbogus = 1\n", 2);
    let want = format!("{}:3: unknown key 'bogus'", o.path());
    assert!(
        wait_log(s, &want, t(4000)),
        "no {want:?} on stderr within 4 s (the worker checks mtime once a second); stderr:\n{}",
        s.log()
    );
    // The site keeps serving with the old settings, and keeps doing so.
    let end = Instant::now() + t(1500);
    while Instant::now() < end {
        assert_eq!(
            body(),
            (200, "ONE\n".into()),
            "broken settings were applied"
        );
        std::thread::sleep(t(100));
    }

    // A section header is broken too.
    o.put("[vhost x]\nindex = two.htm\n", 3);
    let want = format!("{}:1: sections not allowed in owner settings", o.path());
    assert!(wait_log(s, &want, t(4000)), "stderr:\n{}", s.log());
    assert_eq!(body(), (200, "ONE\n".into()));

    // Fixed: picked up by the mtime check alone (no signal).
    let t0 = Instant::now();
    o.put("index = three.htm\n", 4);
    loop {
        let b = body();
        if b == (200, "THREE\n".into()) {
            break;
        }
        assert_eq!(b, (200, "ONE\n".into()), "only ONE or THREE may be served");
        assert!(
            t0.elapsed() < t(3000),
            "the fixed settings file was not picked up within 3 s"
        );
        std::thread::sleep(t(50));
    }
    eprintln!("fixed settings picked up after {:?}", t0.elapsed());
}

#[test]
fn owner_settings_are_read_as_the_vhost_user() {
    if skip_unless_root("owner_settings_are_read_as_the_vhost_user") {
        return;
    }
    let files: &[(&str, &str)] = &[("home.htm", "HOME\n")];
    let o = owned_site("settings-uid", files, "index = home.htm\n", "");
    let s = &o.s;
    let r = host_get(s, "s.test", "/");
    assert_eq!((r.status, text(&r.body)), (200, "HOME\n".into()));
    // A file the vhost user cannot read (root's, 0600) is not applied.
    put_file(
        &o.settings,
        "index = nothing.htm\n",
        Some(0),
        version_time(5),
    );
    std::fs::set_permissions(&o.settings, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.signal("HUP");
    let want = format!("{}: Permission denied", o.path());
    assert!(
        wait_log(s, &want, t(3000)),
        "no {want:?}; stderr:\n{}",
        s.log()
    );
    let r = host_get(s, "s.test", "/");
    assert_eq!(
        (r.status, text(&r.body)),
        (200, "HOME\n".into()),
        "a settings file the vhost user cannot read must not change anything"
    );
}

// ------------------------------------------------------- directory listing

fn listing_files(dir: &TempDir, base: &str) {
    dir.write(&format!("{base}/d/<script>"), b"alert(1)\n");
    dir.write(&format!("{base}/d/b.txt"), b"bbb");
    dir.write(&format!("{base}/d/a.txt"), &[b'a'; 12345]);
    dir.write(&format!("{base}/d/.hidden-dotfile"), b"secret dot\n");
    dir.write(&format!("{base}/d/zsub/inner.txt"), b"inner\n");
}

#[test]
fn listing_escapes_names_sorts_hides_dotfiles_and_shows_sizes() {
    let dir = TempDir::new("listing");
    listing_files(&dir, "www");
    let s = Server::with_config(dir, &conf_with("", "listing = yes"));
    let r = host_get(&s, "localhost", "/d/");
    assert_eq!(r.status, 200, "{}", text(&r.body));
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        r.headers
    );
    let page = text(&r.body);
    assert!(
        !page.contains("<script>"),
        "a file name reached the page unescaped:\n{page}"
    );
    assert!(
        page.contains("&lt;script&gt;"),
        "escaped name missing:\n{page}"
    );
    assert!(
        page.contains("href=\"%3Cscript%3E\""),
        "percent-encoded link missing:\n{page}"
    );
    assert!(
        !page.contains("hidden-dotfile"),
        "dotfiles must be hidden:\n{page}"
    );
    assert!(page.contains("12345"), "size of a.txt missing:\n{page}");
    assert!(page.contains("zsub/"), "subdirectory missing:\n{page}");
    assert!(page.contains(" GMT"), "modification dates missing:\n{page}");
    // Directories first, then by name (bytewise: '<' before 'a' before 'b').
    let pos = |n: &str| {
        page.find(n)
            .unwrap_or_else(|| panic!("{n} missing:\n{page}"))
    };
    assert!(
        pos(">zsub/<") < pos("&lt;script&gt;")
            && pos("&lt;script&gt;") < pos(">a.txt<")
            && pos(">a.txt<") < pos(">b.txt<"),
        "entries are not sorted:\n{page}"
    );
    // The link works.
    let r = host_get(&s, "localhost", "/d/%3Cscript%3E");
    assert_eq!((r.status, text(&r.body)), (200, "alert(1)\n".into()));
    // A directory with an index file still serves its index.
    let r = host_get(&s, "localhost", "/d/zsub/");
    assert_eq!(r.status, 200);
}

#[test]
fn listing_is_off_by_default_and_the_owner_turns_it_on_or_off() {
    let dir = TempDir::new("listing-owner");
    for site in ["off", "on", "veto"] {
        listing_files(&dir, site);
    }
    dir.write("on.rttpd", b"listing = yes\n");
    dir.write("veto.rttpd", b"listing = no\n");
    let s = Server::with_config(
        dir,
        "\
listen = 127.0.0.1:{port}
access_log = off

[vhost off.test]
root = {dir}/off

[vhost on.test]
root = {dir}/on
settings = {dir}/on.rttpd

[vhost veto.test]
root = {dir}/veto
listing = yes
settings = {dir}/veto.rttpd
",
    );
    let r = host_get(&s, "off.test", "/d/");
    assert_eq!(r.status, 403, "listing is off by default");
    assert!(!contains(&r.body, b"a.txt"));
    let r = host_get(&s, "on.test", "/d/");
    assert_eq!(r.status, 200, "owner settings 'listing = yes'");
    let page = text(&r.body);
    assert!(
        page.contains("&lt;script&gt;") && !page.contains("<script>") && !page.contains("hidden"),
        "{page}"
    );
    let r = host_get(&s, "veto.test", "/d/");
    assert_eq!(r.status, 403, "owner settings 'listing = no' wins");
    assert!(!contains(&r.body, b"a.txt"));
}

#[test]
fn listing_of_a_long_directory_is_bounded_and_says_so() {
    let dir = TempDir::new("listing-long");
    for i in 0..1500 {
        dir.write(
            &format!("www/many/file-with-a-longish-name-{i:05}.txt"),
            b"x",
        );
    }
    let s = Server::with_config(dir, &conf_with("", "listing = yes"));
    let r = host_get(&s, "localhost", "/many/");
    assert_eq!(r.status, 200);
    let len: usize = r.header("content-length").unwrap().parse().unwrap();
    assert_eq!(r.body.len(), len, "the whole page arrives");
    assert!(len <= 128 * 1024, "listing of {len} bytes");
    let page = text(&r.body);
    assert!(
        page.contains("more entries not shown"),
        "1500 entries listed without a note"
    );
    assert!(page.trim_end().ends_with("</html>"), "page is not closed");
    // Each listed name appears twice (link and text); not all 1500 fit.
    let shown = page.matches("file-with-a-longish-name-").count() / 2;
    assert!((1..1500).contains(&shown), "{shown} of 1500 entries shown");
}
