//! Test harness: the real `rttpd` binary on a free loopback port, a temp
//! docroot, raw-socket and curl clients.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rttpd");

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn is_root() -> bool {
    // SAFETY-free: read our own status.
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A temp directory (0755, removed on drop) that unprivileged roles can read.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("rttpd-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// Writes a file (parents created, 0755 dirs / 0644 files).
    pub fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
            let mut d = parent.to_path_buf();
            while d.starts_with(&self.0) && d != self.0 {
                let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
                d.pop();
            }
        }
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: TempDir,
    pub stderr: PathBuf,
}

impl Server {
    /// Starts `rttpd -c FILE` where FILE is `conf` with `{port}` and
    /// `{dir}` replaced; `dir` is a fresh temp dir (put docroots under it).
    pub fn with_config(dir: TempDir, conf: &str) -> Server {
        let port = free_port();
        let text = conf
            .replace("{port}", &port.to_string())
            .replace("{dir}", &dir.path().to_string_lossy());
        let cfg = dir.path().join("rttpd.conf");
        std::fs::write(&cfg, text).unwrap();
        Self::spawn(dir, port, &["-c", &cfg.to_string_lossy()])
    }

    /// Starts `rttpd -p 127.0.0.1:PORT -h DIR/www` plus `extra` args.
    pub fn with_docroot(dir: TempDir, extra: &[&str]) -> Server {
        let port = free_port();
        let www = dir.path().join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::set_permissions(&www, std::fs::Permissions::from_mode(0o755)).unwrap();
        let listen = format!("127.0.0.1:{port}");
        let www = www.to_string_lossy().to_string();
        let mut args = vec!["-p", &listen, "-h", &www];
        args.extend_from_slice(extra);
        Self::spawn(dir, port, &args)
    }

    fn spawn(dir: TempDir, port: u16, args: &[&str]) -> Server {
        let stderr = dir.path().join("stderr.log");
        let f = std::fs::File::create(&stderr).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn rttpd");
        let s = Server {
            child: Some(child),
            port,
            dir,
            stderr,
        };
        s.wait_ready();
        s
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    fn wait_ready(&self) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(mut s) = TcpStream::connect(self.addr()) {
                // A full round trip proves listener and vhost are wired.
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(b"HEAD / HTTP/1.1\r\nHost: ready\r\nConnection: close\r\n\r\n");
                let mut b = [0u8; 16];
                if let Ok(n) = s.read(&mut b) {
                    if n > 0 && b.starts_with(b"HTTP/1.1 ") && !b.starts_with(b"HTTP/1.1 503") {
                        return self.wait_dropped(end);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("rttpd did not become ready; stderr:\n{}", self.log());
    }

    /// Every child is spawned before the first answer; wait until each has
    /// exec'd and finished its privilege drop (NoNewPrivs is its last step).
    fn wait_dropped(&self, end: Instant) {
        while Instant::now() < end {
            let kids = children(self.pid());
            let done = !kids.is_empty()
                && kids.iter().all(|&p| {
                    title(p).starts_with("rttpd: ")
                        && std::fs::read_to_string(format!("/proc/{p}/status"))
                            .map(|st| {
                                st.lines()
                                    .any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1'))
                            })
                            .unwrap_or(false)
                });
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Sends a signal to pmaster.
    pub fn signal(&self, sig: &str) {
        Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .unwrap();
    }

    /// Stops with SIGTERM and waits (up to 10 s); returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        self.signal_pid(child.id() as i32, "TERM");
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    fn signal_pid(&self, pid: i32, sig: &str) {
        Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pids of the direct children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// `argv[0]` of a process (e.g. "rttpd: listener 0").
pub fn title(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).to_string())
        .unwrap_or_default()
}

/// Sends raw bytes, reads until the server closes or `timeout` passes.
pub fn raw(addr: &str, req: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(req).unwrap();
    read_all(&mut s)
}

pub fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 65536];
    loop {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&b[..n]),
            Err(_) => break,
        }
    }
    out
}

/// A parsed response (head fields lower-cased).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a byte stream into responses (Content-Length framing; HEAD
/// responses must be flagged by `head_for` index list).
pub fn parse_responses(mut data: &[u8], head_for: &[usize]) -> Vec<Resp> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_string();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let no_body = head_for.contains(&out.len()) || status == 304 || status == 204;
        let body_start = end + 4;
        let body_len = if no_body {
            0
        } else {
            len.min(data.len() - body_start)
        };
        out.push(Resp {
            status,
            headers,
            body: data[body_start..body_start + body_len].to_vec(),
        });
        data = &data[body_start + body_len..];
    }
    out
}

/// One request on a fresh connection, parsed.
pub fn get(addr: &str, req: &str) -> Resp {
    let data = raw(addr, req.as_bytes(), Duration::from_secs(5));
    let head = req.starts_with("HEAD ");
    parse_responses(&data, if head { &[0] } else { &[] })
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "no response to {req:?}: {:?}",
                String::from_utf8_lossy(&data)
            )
        })
}

/// Runs curl with `args`; returns (stdout, exit code). `-s` is added.
pub fn curl(args: &[&str]) -> (Vec<u8>, i32) {
    let out = Command::new("curl")
        .arg("-s")
        .args(args)
        .output()
        .expect("curl is installed");
    (out.stdout, out.status.code().unwrap_or(-1))
}

// ---------------------------------------------------------------- added for http/limits tests

/// The exact built-in error page rttpd sends for `code`.
pub fn error_page_body(code: u16, reason: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n<body><h1>{code} {reason}</h1></body></html>\n"
    )
    .into_bytes()
}

/// A config file text for `Server::with_config`: listen on `{port}`,
/// `globals` lines, then one vhost `default` rooted at `{dir}/www` with
/// `vhost` lines. Put files under `www/` in the TempDir before starting.
pub fn conf_with(globals: &str, vhost: &str) -> String {
    format!(
        "listen = 127.0.0.1:{{port}}\naccess_log = off\n{globals}\n[vhost default]\nroot = {{dir}}/www\n{vhost}\n"
    )
}

/// One persistent client connection that reads one response at a time
/// (Content-Length framing; `head` for responses to HEAD).
pub struct Client {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Client { s, buf: Vec::new() }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.s.write_all(data).unwrap();
    }

    /// Reads one full response; None if the server closed (or 5 s passed)
    /// before a complete one arrived. Bytes after it stay buffered.
    pub fn response(&mut self, head: bool) -> Option<Resp> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let r = parse_responses(&self.buf[..end + 4], &[0]).pop()?;
                let no_body = head || r.status == 304 || r.status == 204 || r.status < 200;
                let len: usize = if no_body {
                    0
                } else {
                    r.header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                if self.buf.len() >= end + 4 + len {
                    let body = self.buf[end + 4..end + 4 + len].to_vec();
                    self.buf.drain(..end + 4 + len);
                    return Some(Resp { body, ..r });
                }
            }
            let mut b = [0u8; 65536];
            match self.s.read(&mut b) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
            }
        }
    }

    /// True when the server ends the connection (EOF or reset) within `d`
    /// without sending anything more; extra bytes are kept in `buf`.
    pub fn closed_within(&mut self, d: Duration) -> bool {
        let mut b = [0u8; 4096];
        self.s
            .set_read_timeout(Some(d.max(Duration::from_millis(1))))
            .unwrap();
        let closed = match self.s.read(&mut b) {
            Ok(0) => true,
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                false
            }
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ), // a reset ends it too
        };
        self.s
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        closed
    }
}

// ------------------------------------------------ helpers shared by tests

pub fn t(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Polls `f` every 10 ms until it gives a value or `limit` passes.
pub fn wait_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(t(10));
    }
}

/// Waits until the server's stderr contains `needle`.
pub fn wait_log(s: &Server, needle: &str, limit: Duration) -> bool {
    wait_until(limit, || s.log().contains(needle).then_some(())).is_some()
}

/// True (and says so) when not root: uids, chroots and 0700 docroots of
/// other users are only real when the server starts as root.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!(
        "skipping {test}: privilege separation (vhost uids, chroots, 0700 docroots) is only real when the server starts as root, and this test runs as an ordinary user"
    );
    true
}

/// chown -R `uid:uid` (directories 0700, files 0644); symbolic links are
/// given to `uid` too, never followed.
pub fn own_tree(p: &Path, uid: u32) {
    use std::os::unix::fs::{chown, lchown};
    let md = std::fs::symlink_metadata(p).unwrap();
    if md.file_type().is_symlink() {
        lchown(p, Some(uid), Some(uid)).unwrap();
        return;
    }
    chown(p, Some(uid), Some(uid)).unwrap();
    if md.is_dir() {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
        for e in std::fs::read_dir(p).unwrap().flatten() {
            own_tree(&e.path(), uid);
        }
    } else if md.is_file() {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// One `GET path` with `Host: host` on a fresh connection with
/// `Connection: close`, to any address (IPv6 too). Err describes a
/// refused/reset connection, a hang (nothing for `limit`), an unparsable
/// answer, or a body that is not its Content-Length.
pub fn fetch_resp(addr: &str, host: &str, path: &str, limit: Duration) -> Result<Resp, String> {
    let sa: std::net::SocketAddr = addr.parse().unwrap();
    let mut s =
        TcpStream::connect_timeout(&sa, limit).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(limit)).unwrap();
    s.set_write_timeout(Some(limit)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    let mut b = [0u8; 65536];
    loop {
        if Instant::now() > end {
            return Err(format!(
                "hang: not closed within {limit:?} ({} bytes read)",
                out.len()
            ));
        }
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&b[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "hang: nothing for {limit:?} after {} bytes",
                    out.len()
                ));
            }
            Err(e) => return Err(format!("read: {e} after {} bytes", out.len())),
        }
    }
    let r = parse_responses(&out, &[])
        .into_iter()
        .next()
        .ok_or_else(|| format!("no HTTP response: {:?}", text(&out)))?;
    let cl = r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    if cl != Some(r.body.len()) && !(cl.is_none() && matches!(r.status, 204 | 304)) {
        return Err(format!(
            "status {} body {} bytes, Content-Length {cl:?}",
            r.status,
            r.body.len()
        ));
    }
    Ok(r)
}

/// `fetch_resp` as (status, body).
pub fn fetch(
    addr: &str,
    host: &str,
    path: &str,
    limit: Duration,
) -> Result<(u16, Vec<u8>), String> {
    fetch_resp(addr, host, path, limit).map(|r| (r.status, r.body))
}
