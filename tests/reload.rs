//! Live reload (SIGHUP) and worker failure isolation against the real
//! binary: vhosts added, removed and changed; a broken config changes
//! nothing; a killed vhost worker gives 503 then recovers while another
//! vhost serves throughout; a reload under keep-alive load drops nothing;
//! a new listen address is bound by a reload.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ helpers

/// A config with `listen = 127.0.0.1:{port}` and the given vhost sections.
fn conf(vhosts: &str) -> String {
    format!("listen = 127.0.0.1:{{port}}\naccess_log = off\nlisteners = 2\n\n{vhosts}")
}

const A: &str = "[vhost a.test]\nroot = {dir}/a\ndefault = yes\n\n";
const B: &str = "[vhost b.test]\nroot = {dir}/b\n\n";
const C: &str = "[vhost c.test]\nroot = {dir}/c\n\n";

/// A temp dir with `a`, `b`, `b2` and `c` docroots whose index says which.
fn sites(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    for site in ["a", "b", "b2", "c"] {
        dir.write(
            &format!("{site}/index.html"),
            format!("root={site}\n").as_bytes(),
        );
    }
    dir
}

/// Rewrites the server's config file (placeholders replaced as at start).
fn rewrite(s: &Server, text: &str) -> String {
    let path = s.dir.path().join("rttpd.conf");
    let text = text
        .replace("{port}", &s.port.to_string())
        .replace("{dir}", &s.dir.path().to_string_lossy());
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

/// One `GET /` for `host` on a fresh connection with `Connection: close`,
/// to `addr`. Err describes a refused/reset connection, a hang (nothing
/// for `limit`), an unparsable answer or a short body.
fn get_root(addr: &str, host: &str, limit: Duration) -> Result<(u16, String), String> {
    fetch_resp(addr, host, "/", limit).map(|r| (r.status, text(&r.body)))
}

/// Polls `host` until it answers 200 with `want` (every response on the
/// way must be a 200 with one of `allowed`); returns the time it took.
fn wait_for(addr: &str, host: &str, want: &str, allowed: &[&str], limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        match get_root(addr, host, t(3000)) {
            Ok((200, b)) if b == want => return t0.elapsed(),
            Ok((200, b)) if allowed.contains(&b.as_str()) => {}
            other => panic!(
                "Host {host} at {:?} after the reload: {other:?} (want 200 {want:?} or one of {allowed:?})",
                t0.elapsed()
            ),
        }
        assert!(
            t0.elapsed() < limit,
            "Host {host} did not answer {want:?} within {limit:?}"
        );
        std::thread::sleep(t(10));
    }
}

fn vhost_pid(pm: i32, name: &str) -> Option<i32> {
    let t = format!("rttpd: vhost {name}");
    children(pm).into_iter().find(|&p| title(p) == t)
}

/// Pids of every worker of vhost `name` (a replaced one still draining
/// included), sorted.
fn workers_of(pm: i32, name: &str) -> Vec<i32> {
    let t = format!("rttpd: vhost {name}");
    let mut v: Vec<i32> = children(pm)
        .into_iter()
        .filter(|&p| title(p) == t)
        .collect();
    v.sort();
    v
}

/// Pids of every vhost worker (retired ones still draining included), sorted.
fn vhost_pids(pm: i32) -> Vec<i32> {
    let mut v: Vec<i32> = children(pm)
        .into_iter()
        .filter(|&p| title(p).starts_with("rttpd: vhost "))
        .collect();
    v.sort();
    v
}

// ------------------------------------------------------- add/remove/change

#[test]
fn sighup_adds_a_vhost() {
    let s = Server::with_config(sites("add"), &conf(A));
    let addr = s.addr();
    assert_eq!(
        get_root(&addr, "b.test", t(3000)),
        Ok((200, "root=a\n".into()))
    );
    rewrite(&s, &conf(&format!("{A}{B}")));
    s.signal("HUP");
    let took = wait_for(&addr, "b.test", "root=b\n", &["root=a\n"], t(3000));
    eprintln!("new vhost answered {took:?} after SIGHUP");
    assert!(took <= t(1500), "new vhost answered only after {took:?}");
    assert_eq!(
        get_root(&addr, "a.test", t(3000)),
        Ok((200, "root=a\n".into()))
    );
    assert!(
        vhost_pid(s.pid(), "b.test").is_some(),
        "a worker for b.test"
    );
}

#[test]
fn sighup_removes_a_vhost_and_its_host_goes_to_the_default() {
    let s = Server::with_config(sites("remove"), &conf(&format!("{A}{B}")));
    let addr = s.addr();
    assert_eq!(
        get_root(&addr, "b.test", t(3000)),
        Ok((200, "root=b\n".into()))
    );
    let old = vhost_pid(s.pid(), "b.test").expect("a worker for b.test");
    rewrite(&s, &conf(A));
    s.signal("HUP");
    let took = wait_for(&addr, "b.test", "root=a\n", &["root=b\n"], t(3000));
    eprintln!("removed vhost's Host went to the default {took:?} after SIGHUP");
    assert!(took <= t(1500), "removal took effect only after {took:?}");
    // Its worker is drained and stopped.
    let end = Instant::now() + t(5000);
    while vhost_pid(s.pid(), "b.test").is_some()
        || std::path::Path::new(&format!("/proc/{old}")).exists()
    {
        assert!(
            Instant::now() < end,
            "the removed vhost's worker (pid {old}) is still running 5 s after the reload"
        );
        std::thread::sleep(t(20));
    }
    assert_eq!(
        get_root(&addr, "a.test", t(3000)),
        Ok((200, "root=a\n".into()))
    );
}

#[test]
fn sighup_applies_a_changed_vhost_root() {
    let s = Server::with_config(sites("change"), &conf(&format!("{A}{B}")));
    let addr = s.addr();
    assert_eq!(
        get_root(&addr, "b.test", t(3000)),
        Ok((200, "root=b\n".into()))
    );
    let a_pid = vhost_pid(s.pid(), "a.test").expect("worker a");
    rewrite(
        &s,
        &conf(&format!("{A}{}", B.replace("{dir}/b", "{dir}/b2"))),
    );
    s.signal("HUP");
    // No request may fail while the worker is replaced.
    let took = wait_for(&addr, "b.test", "root=b2\n", &["root=b\n"], t(3000));
    eprintln!("changed root served {took:?} after SIGHUP");
    assert!(
        took <= t(1500),
        "the new root was served only after {took:?}"
    );
    for _ in 0..20 {
        assert_eq!(
            get_root(&addr, "b.test", t(3000)),
            Ok((200, "root=b2\n".into()))
        );
    }
    assert_eq!(
        workers_of(s.pid(), "a.test"),
        vec![a_pid],
        "the unchanged vhost keeps its worker"
    );
}

#[test]
fn reload_with_a_broken_config_changes_nothing() {
    let s = Server::with_config(sites("broken"), &conf(&format!("{A}{B}")));
    let addr = s.addr();
    let mut before: Vec<i32> = children(s.pid());
    before.sort();
    // Adds c.test, moves b.test, and has an unknown key on its last line.
    let broken = conf(&format!(
        "{A}{}{C}frobnicate = yes\n",
        B.replace("{dir}/b", "{dir}/b2")
    ));
    let line = broken.lines().count();
    let path = rewrite(&s, &broken);
    s.signal("HUP");
    let want = format!("{path}:{line}:");
    assert!(
        wait_log(&s, &want, t(3000)),
        "no {want:?} on stderr; stderr:\n{}",
        s.log()
    );
    let log = s.log();
    assert!(
        log.contains("keeping the running configuration"),
        "stderr must say the running configuration is kept:\n{log}"
    );
    // Nothing changed: same vhosts, same roots, same processes.
    for _ in 0..5 {
        assert_eq!(
            get_root(&addr, "a.test", t(3000)),
            Ok((200, "root=a\n".into()))
        );
        assert_eq!(
            get_root(&addr, "b.test", t(3000)),
            Ok((200, "root=b\n".into()))
        );
        assert_eq!(
            get_root(&addr, "c.test", t(3000)),
            Ok((200, "root=a\n".into()))
        );
        std::thread::sleep(t(100));
    }
    let mut after = children(s.pid());
    after.sort();
    assert_eq!(
        before, after,
        "a failed reload must not replace any process"
    );
    // The server still reloads once the file is fixed.
    rewrite(&s, &conf(&format!("{A}{B}{C}")));
    s.signal("HUP");
    wait_for(&addr, "c.test", "root=c\n", &["root=a\n"], t(3000));
}

#[test]
fn reload_that_cannot_bind_a_new_address_changes_nothing() {
    let s = Server::with_config(sites("nobind"), &conf(A));
    let addr = s.addr();
    // Someone else holds the port the new config wants (no SO_REUSEPORT).
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    rewrite(
        &s,
        &format!("listen = 127.0.0.1:{taken}\n{}", conf(&format!("{A}{C}"))),
    );
    s.signal("HUP");
    assert!(
        wait_log(&s, "keeping the running configuration", t(3000)),
        "stderr:\n{}",
        s.log()
    );
    for _ in 0..5 {
        assert_eq!(
            get_root(&addr, "c.test", t(3000)),
            Ok((200, "root=a\n".into()))
        );
        std::thread::sleep(t(100));
    }
    drop(squatter);
}

// ------------------------------------------------------- worker failure

#[test]
fn killed_vhost_worker_gives_503_then_recovers_while_the_other_serves() {
    let s = Server::with_config(sites("kill"), &conf(&format!("{A}{B}")));
    let addr = s.addr();
    let victim = vhost_pid(s.pid(), "b.test").expect("worker b");
    assert_eq!(
        get_root(&addr, "b.test", t(3000)),
        Ok((200, "root=b\n".into()))
    );

    // The other vhost under load throughout (fresh connections, ~5 ms apart).
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut ok, mut bad) = (0usize, Vec::new());
            let t0 = Instant::now();
            while !stop.load(Ordering::SeqCst) && t0.elapsed() < t(10_000) {
                match get_root(&addr, "a.test", t(3000)) {
                    Ok((200, b)) if b == "root=a\n" => ok += 1,
                    other => bad.push(format!("at {:?}: {other:?}", t0.elapsed())),
                }
                std::thread::sleep(t(5));
            }
            (ok, bad)
        })
    };
    std::thread::sleep(t(200));

    let st = std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    let mut seen: Vec<(Duration, u16, Duration)> = Vec::new();
    let mut bad = Vec::new();
    let mut recovered = None;
    while t0.elapsed() < t(5000) {
        let at = t0.elapsed();
        let r = fetch_resp(&addr, "b.test", "/", t(3000));
        let took = t0.elapsed() - at;
        match r {
            // A 200 before any 503 may come from a listener's fd cache (a
            // file the worker granted within the last second, answered
            // before the listener saw the worker's channel close).
            Ok(r) if r.status == 200 && r.body == b"root=b\n" && seen.is_empty() => {}
            Ok(r) if r.status == 200 && r.body == b"root=b\n" => {
                recovered = Some(t0.elapsed());
                break;
            }
            Ok(r) if r.status == 503 => {
                if r.header("retry-after").is_none() {
                    bad.push(format!(
                        "at {at:?}: 503 without Retry-After: {:?}",
                        r.headers
                    ));
                }
                seen.push((at, 503, took));
            }
            other => bad.push(format!("at {at:?} (took {took:?}): {other:?}")),
        }
        std::thread::sleep(t(5));
    }
    // Keep the other vhost under load a little after recovery.
    std::thread::sleep(t(300));
    stop.store(true, Ordering::SeqCst);
    let (ok, other_bad) = other.join().unwrap();

    let n503 = seen.len();
    let first = seen.first().map(|x| x.0);
    let last = seen.last().map(|x| x.0);
    let slowest = seen.iter().map(|x| x.2).max();
    eprintln!(
        "kill -9 of vhost b.test: {n503} × 503 (first at {first:?}, last at {last:?}, slowest 503 took {slowest:?}); 200 again after {recovered:?}; other vhost: {ok} × 200, {} failures",
        other_bad.len()
    );
    assert!(
        bad.is_empty(),
        "requests to the killed vhost must get 503 or 200, never hang or reset: {bad:?}"
    );
    let recovered = recovered.expect("b.test never answered 200 again within 5 s");
    assert!(
        n503 >= 1,
        "no 503 seen between the kill and the respawn (respawn backoff is >= 100 ms)"
    );
    assert!(
        recovered <= t(2000),
        "b.test served 200 again only after {recovered:?} (want <= 2 s)"
    );
    assert!(
        other_bad.is_empty(),
        "a.test must answer 200 on every request throughout: {other_bad:?}"
    );
    assert!(
        ok >= 20,
        "a.test answered only {ok} requests during the test"
    );
    let new = vhost_pid(s.pid(), "b.test").expect("a respawned worker for b.test");
    assert_ne!(new, victim);
}

// ------------------------------------------------------- reload under load

/// `n` threads of `keepalive_load` on `host` until `Load::finish`.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Load {
    fn start(addr: &str, host: &'static str, want: &'static [&'static str], n: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let (addr, stop) = (addr.to_string(), stop.clone());
                std::thread::spawn(move || keepalive_load(addr, host, want, stop))
            })
            .collect();
        Load { stop, threads }
    }

    /// Stops the clients: (requests made, failures).
    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = 0;
        let mut errors = Vec::new();
        for h in self.threads {
            let (n, e) = h.join().unwrap();
            total += n;
            errors.extend(e);
        }
        (total, errors)
    }
}

/// A keep-alive client loop: `GET /` for `host` until `stop`, reconnecting
/// only when a response said `Connection: close`. Returns (requests, errors).
fn keepalive_load(
    addr: String,
    host: &'static str,
    want: &'static [&'static str],
    stop: Arc<AtomicBool>,
) -> (usize, Vec<String>) {
    let sa: SocketAddr = addr.parse().unwrap();
    let started = Instant::now();
    let mut n = 0usize;
    let mut errors = Vec::new();
    let mut conn: Option<(TcpStream, Vec<u8>, usize)> = None;
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    while !stop.load(Ordering::SeqCst) && started.elapsed() < t(10_000) && n < 1_000_000 {
        if conn.is_none() {
            match TcpStream::connect_timeout(&sa, t(3000)) {
                Ok(s) => {
                    s.set_read_timeout(Some(t(3000))).unwrap();
                    s.set_write_timeout(Some(t(3000))).unwrap();
                    conn = Some((s, Vec::new(), 0));
                }
                Err(e) => {
                    errors.push(format!("at {:?}: connect: {e}", started.elapsed()));
                    std::thread::sleep(t(10));
                    continue;
                }
            }
        }
        let (s, buf, used) = conn.as_mut().unwrap();
        n += 1;
        let at = started.elapsed();
        if let Err(e) = s.write_all(req.as_bytes()) {
            errors.push(format!(
                "at {at:?}: write (request {} on this connection): {e}",
                *used + 1
            ));
            conn = None;
            continue;
        }
        // Read one response (Content-Length framing).
        let result: Result<(u16, String, bool), String> = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = parse_responses(&buf[..end + 4], &[0]).pop().unwrap();
                let len: usize = head
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    let body = text(&buf[end + 4..end + 4 + len]);
                    buf.drain(..end + 4 + len);
                    let close = head
                        .header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    break Ok((head.status, body, close));
                }
            }
            let mut b = [0u8; 16384];
            match s.read(&mut b) {
                Ok(0) if buf.is_empty() => {
                    break Err(format!(
                        "EOF before any byte of the response (request {} on this connection)",
                        *used + 1
                    ));
                }
                Ok(0) => {
                    break Err(format!(
                        "EOF in the middle of a response ({} bytes)",
                        buf.len()
                    ));
                }
                Ok(k) => buf.extend_from_slice(&b[..k]),
                Err(e) => break Err(format!("read: {e} ({} bytes of the response)", buf.len())),
            }
        };
        *used += 1;
        match result {
            Ok((200, body, close)) if want.contains(&body.as_str()) => {
                if close {
                    conn = None;
                }
            }
            Ok((status, body, _)) => {
                errors.push(format!("at {at:?}: status {status} {body:?}"));
                conn = None;
            }
            Err(e) => {
                errors.push(format!("at {at:?}: {e}"));
                conn = None;
            }
        }
    }
    (n, errors)
}

/// Runs 4 keep-alive clients against `a.test` for ~4 s while the config
/// is switched to `during` (SIGHUP at ~1 s, `check_during` run after it)
/// and back to `initial` (SIGHUP at ~2.5 s, `check_after`). Asserts zero
/// failed requests and more than 200 requests in all.
fn load_across_two_reloads(
    s: &Server,
    initial: &str,
    during: &str,
    check_during: impl FnOnce() -> String,
    check_after: impl FnOnce() -> String,
) {
    let load = Load::start(&s.addr(), "a.test", &["root=a\n"], 4);
    let t0 = Instant::now();
    std::thread::sleep(t(1000));
    rewrite(s, during);
    s.signal("HUP");
    let first = check_during();
    std::thread::sleep(t(2500).saturating_sub(t0.elapsed()));
    rewrite(s, initial);
    s.signal("HUP");
    let second = check_after();
    std::thread::sleep(t(4000).saturating_sub(t0.elapsed()));
    let (total, errors) = load.finish();
    eprintln!(
        "reload under load: {total} requests over {:?}, {} errors; {first}; {second}",
        t0.elapsed(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} of {total} keep-alive requests failed across two reloads:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        total > 200,
        "only {total} requests were made: the test proves nothing"
    );
}

#[test]
fn reload_under_keepalive_load_drops_nothing() {
    let s = Server::with_config(sites("load"), &conf(A));
    let addr = s.addr();
    let a_pid = vhost_pid(s.pid(), "a.test").expect("worker a");
    load_across_two_reloads(
        &s,
        &conf(A),
        &conf(&format!("{A}{B}")),
        || {
            let d = wait_for(&addr, "b.test", "root=b\n", &["root=a\n"], t(2000));
            format!("b.test added after {d:?}")
        },
        || {
            let d = wait_for(&addr, "b.test", "root=a\n", &["root=b\n"], t(2000));
            format!("b.test removed after {d:?}")
        },
    );
    assert_eq!(
        workers_of(s.pid(), "a.test"),
        vec![a_pid],
        "the unchanged vhost keeps its worker across both reloads"
    );
}

fn listener_pids(pm: i32) -> Vec<i32> {
    let mut v: Vec<i32> = children(pm)
        .into_iter()
        .filter(|&p| title(p).starts_with("rttpd: listener"))
        .collect();
    v.sort();
    v
}

#[test]
fn reload_replacing_the_listeners_under_keepalive_load_drops_nothing() {
    let s = Server::with_config(sites("load-listeners"), &conf(A));
    let pm = s.pid();
    let before = listener_pids(pm);
    let port2 = free_port();
    // A global change (one more listen address): every listener and
    // umaster are replaced; the clients' connections are on old listeners.
    let during = format!("listen = 127.0.0.1:{port2}\n{}", conf(A));
    let new = format!("127.0.0.1:{port2}");
    let new2 = new.clone();
    load_across_two_reloads(
        &s,
        &conf(A),
        &during,
        || {
            let t0 = Instant::now();
            while get_root(&new, "a.test", t(3000)) != Ok((200, "root=a\n".into())) {
                assert!(t0.elapsed() < t(2000), "the new address never answered");
                std::thread::sleep(t(10));
            }
            let now = listener_pids(pm);
            assert!(
                now.iter().any(|p| !before.contains(p)),
                "no new listener after a global change: {before:?} → {now:?}"
            );
            format!("new address answered after {:?}", t0.elapsed())
        },
        || {
            let t0 = Instant::now();
            while TcpStream::connect(&new2).is_ok() {
                assert!(t0.elapsed() < t(2000), "the removed address still accepts");
                std::thread::sleep(t(10));
            }
            format!("removed address closed after {:?}", t0.elapsed())
        },
    );
}

// ------------------------------------------------------- listen addresses

#[test]
fn reload_adds_a_listen_address_and_keeps_the_old_one() {
    let s = Server::with_config(sites("listen"), &conf(&format!("{A}{B}")));
    let old = s.addr();
    let port2 = free_port();
    let new = format!("127.0.0.1:{port2}");
    assert!(
        TcpStream::connect(&new).is_err(),
        "nothing listens on the new port before the reload"
    );
    rewrite(
        &s,
        &format!("listen = 127.0.0.1:{port2}\n{}", conf(&format!("{A}{B}"))),
    );
    s.signal("HUP");
    let t0 = Instant::now();
    loop {
        match get_root(&new, "b.test", t(3000)) {
            Ok((200, b)) if b == "root=b\n" => break,
            Ok(other) => panic!("new port answered {other:?}"),
            Err(_) => {}
        }
        assert!(
            t0.elapsed() < t(3000),
            "the new listen address did not answer within 3 s; stderr:\n{}",
            s.log()
        );
        std::thread::sleep(t(20));
    }
    eprintln!(
        "new listen address answered {:?} after SIGHUP",
        t0.elapsed()
    );
    for _ in 0..10 {
        assert_eq!(
            get_root(&old, "a.test", t(3000)),
            Ok((200, "root=a\n".into()))
        );
        assert_eq!(
            get_root(&new, "a.test", t(3000)),
            Ok((200, "root=a\n".into()))
        );
        assert_eq!(
            get_root(&old, "b.test", t(3000)),
            Ok((200, "root=b\n".into()))
        );
    }
}

// ------------------------------------------------------- changed vhosts

#[test]
fn changing_a_vhost_under_keepalive_load_drops_nothing() {
    let s = Server::with_config(sites("load-change"), &conf(&format!("{A}{B}")));
    let addr = s.addr();
    // Clients of the vhost being replaced: the old root or the new one.
    let load = Load::start(&addr, "b.test", &["root=b\n", "root=b2\n"], 4);
    let t0 = Instant::now();
    std::thread::sleep(t(1000));
    rewrite(
        &s,
        &conf(&format!("{A}{}", B.replace("{dir}/b", "{dir}/b2"))),
    );
    s.signal("HUP");
    let d1 = wait_for(&addr, "b.test", "root=b2\n", &["root=b\n"], t(2000));
    std::thread::sleep(t(2000).saturating_sub(t0.elapsed()));
    rewrite(&s, &conf(&format!("{A}{B}")));
    s.signal("HUP");
    let d2 = wait_for(&addr, "b.test", "root=b\n", &["root=b2\n"], t(2000));
    std::thread::sleep(t(3000).saturating_sub(t0.elapsed()));
    let (total, errors) = load.finish();
    eprintln!(
        "vhost changed under load: {total} requests, {} errors; new root after {d1:?}, old root back after {d2:?}",
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} of {total} keep-alive requests to the changed vhost failed:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(total > 200, "only {total} requests were made");
}

#[test]
fn reload_that_only_moves_lines_keeps_every_worker() {
    // Same vhosts, same keys: only a comment added on top, so every line
    // number moves. No vhost changed, so no worker may be replaced.
    let s = Server::with_config(sites("lines"), &conf(&format!("{A}{B}")));
    let pm = s.pid();
    let before = vhost_pids(pm);
    assert_eq!(before.len(), 2, "two vhost workers");
    let path = rewrite(
        &s,
        &format!(
            "# edited by the administrator\n\n{}",
            conf(&format!("{A}{B}"))
        ),
    );
    s.signal("HUP");
    assert!(
        wait_log(&s, &format!("reloaded {path}"), t(3000)),
        "the reload did not happen; stderr:\n{}",
        s.log()
    );
    // A replaced worker drains for up to ~0.5 s before it exits: look at
    // every vhost worker, during and after that.
    let end = Instant::now() + t(1500);
    let mut after = vhost_pids(pm);
    while after == before && Instant::now() < end {
        std::thread::sleep(t(20));
        after = vhost_pids(pm);
    }
    assert_eq!(
        after,
        before,
        "unchanged vhosts were replaced by a reload that only moved lines; stderr:\n{}",
        s.log()
    );
}

#[test]
fn crash_looping_worker_is_backed_off_and_its_host_gets_503() {
    // d.test's root does not exist: its worker exits at once, every time.
    let d = "[vhost d.test]\nroot = {dir}/no-such-root\n\n";
    let s = Server::with_config(sites("crashloop"), &conf(&format!("{A}{d}")));
    let addr = s.addr();
    let t0 = Instant::now();
    while t0.elapsed() < t(3000) {
        let at = t0.elapsed();
        let r = fetch_resp(&addr, "d.test", "/", t(3000));
        match r {
            Ok(r) if r.status == 503 => {}
            other => panic!("d.test at {at:?}: {other:?}, want 503"),
        }
        assert!(
            t0.elapsed() - at < t(1000),
            "a request for a crashed vhost took {:?}",
            t0.elapsed() - at
        );
        assert_eq!(
            get_root(&addr, "a.test", t(3000)),
            Ok((200, "root=a\n".into()))
        );
        std::thread::sleep(t(50));
    }
    let log = s.log();
    let restarts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("vhost 'd.test'") && l.contains("respawning in"))
        .collect();
    eprintln!("crash loop: {} respawns in ~3 s", restarts.len());
    assert!(
        (2..=8).contains(&restarts.len()),
        "a crash-looping worker must be backed off (100 ms doubling), not spun: {} respawns in ~3 s:\n{}",
        restarts.len(),
        restarts.join("\n")
    );
    for ms in [
        "respawning in 100 ms",
        "respawning in 200 ms",
        "respawning in 400 ms",
    ] {
        assert!(log.contains(ms), "no {ms:?} in the log:\n{log}");
    }
}

#[test]
fn replaced_worker_leaves_once_the_listeners_let_it_go() {
    // The worker has up to 5 s of grace after SIGTERM; it leaves sooner
    // because every listener closes its channel once it routes elsewhere
    // and no request waits on it. Clients keep using the vhost meanwhile.
    let s = Server::with_config(sites("retire"), &conf(&format!("{A}{B}")));
    let (addr, pm) = (s.addr(), s.pid());
    let old = wait_until(t(3000), || vhost_pid(pm, "b.test")).expect("a worker for b.test");
    let load = Load::start(&addr, "b.test", &["root=b\n", "root=b2\n"], 2);
    std::thread::sleep(t(300));
    rewrite(
        &s,
        &conf(&format!("{A}{}", B.replace("{dir}/b", "{dir}/b2"))),
    );
    s.signal("HUP");
    let t0 = Instant::now();
    let gone = wait_until(t(3000), || {
        (title(old) != "rttpd: vhost b.test").then(|| t0.elapsed())
    });
    std::thread::sleep(t(200));
    let (_, errors) = load.finish();
    assert!(
        errors.is_empty(),
        "requests failed across the reload: {errors:?}"
    );
    let gone = gone.expect("the replaced worker was still running 3 s after the reload");
    eprintln!("replaced worker left {gone:?} after SIGHUP");
}
