//! The static request path allocates nothing: the real binary counts its heap
//! allocations (a counting global allocator) and logs the count on SIGUSR2.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn report(s: &Server, pids: &[i32]) -> Vec<(i32, usize)> {
    let before = s.log().matches("since the last report").count();
    for p in pids {
        std::process::Command::new("kill")
            .args(["-USR2", &p.to_string()])
            .status()
            .unwrap();
    }
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let log = s.log();
        if log.matches("since the last report").count() >= before + pids.len() {
            break;
        }
        assert!(Instant::now() < end, "no allocation report in:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = s.log();
    pids.iter()
        .map(|p| {
            let tag = format!("pid {p}: ");
            let line = log
                .lines()
                .rfind(|l| l.contains(&tag))
                .expect("a report per pid");
            let since = line
                .split(", ")
                .nth(1)
                .and_then(|x| x.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unparsable report {line:?}"));
            (*p, since)
        })
        .collect()
}

fn traffic(addr: &str, etag: &str) -> usize {
    let mut n = 0;
    // Keep-alive and pipelined requests on one connection.
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..200 {
        let req = match i % 6 {
            0 => "GET /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            1 => "HEAD /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            2 => format!("GET /4k.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n"),
            3 => "GET /4k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-99\r\n\r\n".to_string(),
            4 => "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            _ => "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".to_string(),
        };
        c.write_all(req.as_bytes()).unwrap();
        // Read one response: head, then Content-Length bytes unless HEAD/304.
        let mut got = 0;
        let head_end = loop {
            let k = c.read(&mut buf[got..]).unwrap();
            assert!(k > 0, "server closed");
            got += k;
            if let Some(p) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let body = if i % 6 == 1 || head.starts_with("http/1.1 304") {
            0
        } else {
            len
        };
        while got < head_end + body {
            let k = c.read(&mut buf[got..]).unwrap();
            assert!(k > 0);
            got += k;
        }
        n += 1;
    }
    // New connections, and answers made by the listener itself.
    for i in 0..100 {
        let req: &[u8] = match i % 4 {
            0 => b"GET /4k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            1 => b"GET / HTTP/1.0\r\n\r\n",
            2 => b"POST /4k.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            _ => b"GET /../x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        };
        let r = raw(addr, req, Duration::from_secs(5));
        assert!(
            r.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&r)
        );
        n += 1;
    }
    n
}

#[test]
fn serving_requests_allocates_nothing() {
    let dir = TempDir::new("alloc");
    dir.write("www/4k.bin", &[7u8; 4096]);
    dir.write("www/index.html", b"<h1>hi</h1>\n");
    dir.write("www/index.html.gz", b"\x1f\x8b not really gzip");
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\naccess_log = {dir}/access.log\n\
         [vhost default]\nroot = {dir}/www\n",
    );
    let etag = get(
        &s.addr(),
        "GET /4k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .header("etag")
    .unwrap()
    .to_string();
    // Warm up every path once (first-use allocations are allowed).
    traffic(&s.addr(), &etag);
    let kids: Vec<i32> = children(s.pid());
    let roles: Vec<(i32, String)> = kids.iter().map(|&p| (p, title(p))).collect();
    let pids: Vec<i32> = roles
        .iter()
        .filter(|(_, t)| {
            t.starts_with("rttpd: listener")
                || t.starts_with("rttpd: vhost")
                || t.starts_with("rttpd: umaster")
        })
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(pids.len(), 3, "{roles:?}");
    report(&s, &pids);
    let n = traffic(&s.addr(), &etag);
    assert_eq!(n, 300);
    for (pid, since) in report(&s, &pids) {
        let t = title(pid);
        assert_eq!(
            since, 0,
            "{t} (pid {pid}) allocated {since} times over {n} requests"
        );
    }
}
