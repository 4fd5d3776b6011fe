//! The command line (`-V`, `--help`, `-t -c`, `-p`, `-u`, `-d`) and the
//! access log, against the real binary.

mod common;
use common::*;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Runs the binary to completion (at most `limit`): (exit code, stdout, stderr).
fn run(args: &[&str], limit: Duration) -> (i32, String, String) {
    let dir = TempDir::new("run");
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rttpd {args:?} still running after {limit:?}");
        }
        std::thread::sleep(t(10));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code().unwrap_or(-1), read(&o), read(&e))
}

/// Starts the binary with `args` (stderr to DIR/stderr.log) and waits until
/// `ready` serves a 200.
fn start(dir: TempDir, port: u16, args: &[&str], ready: &str) -> Server {
    let stderr = dir.path().join("stderr.log");
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let s = Server {
        child: Some(child),
        port,
        dir,
        stderr,
    };
    if wait_until(t(10000), || {
        matches!(fetch(ready, "x", "/", t(3000)), Ok((200, _))).then_some(())
    })
    .is_none()
    {
        panic!(
            "rttpd {args:?} does not serve on {ready}; stderr:\n{}",
            s.log()
        );
    }
    s
}

fn uid_gid(pid: i32) -> (u32, u32) {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let f = |k: &str| -> u32 {
        st.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    (f("Uid:"), f("Gid:"))
}

// ------------------------------------------------------------ -V, --help

#[test]
fn version_flag_prints_the_version() {
    let (code, out, err) = run(&["-V"], t(5000));
    assert_eq!(code, 0, "stderr: {err}");
    assert!(
        out.contains(env!("CARGO_PKG_VERSION")),
        "-V prints the version: {out:?}"
    );
    assert!(out.to_lowercase().contains("rttpd"), "{out:?}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
}

#[test]
fn help_prints_usage() {
    let (code, out, err) = run(&["--help"], t(5000));
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.to_lowercase().contains("usage"), "{out}");
    for opt in [
        "-c", "-t", "-p", "-h", "-u", "-f", "-d", "-v", "-V", "--help",
    ] {
        assert!(out.contains(opt), "--help mentions {opt}:\n{out}");
    }
}

#[test]
fn unknown_options_are_errors() {
    for args in [
        &["-x"][..],
        &["--bogus"],
        &["-p", "8080", "-Q"],
        &["stray-argument"],
        &["-p"],
    ] {
        let (code, out, err) = run(args, t(5000));
        assert_ne!(code, 0, "rttpd {args:?} must fail (stdout {out:?})");
        assert!(
            !err.trim().is_empty(),
            "rttpd {args:?} explains itself on stderr"
        );
        let bad = args
            .iter()
            .rev()
            .find(|a| a.starts_with('-'))
            .copied()
            .unwrap_or(args[0]);
        let named = bad.trim_start_matches('-');
        assert!(
            err.contains(named),
            "rttpd {args:?}: the message names '{bad}': {err:?}"
        );
    }
}

// ------------------------------------------------------------ -t -c

fn write_conf(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text.replace("{dir}", &dir.path().to_string_lossy())).unwrap();
    p.to_string_lossy().to_string()
}

#[test]
fn check_accepts_a_good_config() {
    let dir = TempDir::new("good");
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    let good = write_conf(
        &dir,
        "good.conf",
        "# a full config\nlisten = 127.0.0.1:8080\nlisten = [::1]:8080\nlisteners = 1\nuser = nobody\n\
         access_log = off\n\n[vhost default]\nroot = {dir}/a\nindex = index.html index.htm\n\n\
         [vhost example.org]\nalias = www.example.org\nroot = {dir}/a\nuser = 2001\ngroup = 2001\nchroot = yes\n",
    );
    let (code, out, err) = run(&["-t", "-c", &good], t(5000));
    assert_eq!(
        code, 0,
        "-t on a good config: stdout {out:?} stderr {err:?}"
    );
    assert!(
        !err.contains(&format!("{good}:")),
        "no problem reported: {err:?}"
    );
}

#[test]
fn check_reports_file_line_problem() {
    let dir = TempDir::new("bad");
    let cases: &[(&str, &str, usize, &[&str])] = &[
        (
            "unknown-key.conf",
            "# comment\nlisten = 127.0.0.1:8080\n\n[vhost a]\nroot = /srv/a\nfrobnicate = 1\n",
            6,
            &["frobnicate"],
        ),
        (
            "unknown-global.conf",
            "listen = 8080\nwhatever = yes\n[vhost a]\nroot = /srv/a\n",
            2,
            &["whatever"],
        ),
        (
            "bad-number.conf",
            "listen = 8080\n\nlisteners = many\n[vhost a]\nroot = /a\n",
            3,
            &["listeners"],
        ),
        (
            "bad-number2.conf",
            "max_connections = 12x\n[vhost a]\nroot = /a\n",
            1,
            &["max_connections"],
        ),
        (
            "bad-port.conf",
            "\n\n\nlisten = 127.0.0.1:99999\n[vhost a]\nroot = /a\n",
            4,
            &["listen"],
        ),
        (
            "missing-root.conf",
            "listen = 8080\n\n[vhost a]\nindex = index.html\n",
            3,
            &["root"],
        ),
        (
            "missing-root2.conf",
            "[vhost a]\nroot = /a\n# b has none\n[vhost b.example]\nalias = c.example\n",
            4,
            &["root"],
        ),
        (
            "relative-root.conf",
            "[vhost a]\n\nroot = srv/a\n",
            3,
            &["root"],
        ),
        (
            "crlf.conf",
            "listen = 8080\r\n# c\r\n[vhost a]\r\nroot = /a\r\nbogus = 1\r\n",
            5,
            &["bogus"],
        ),
    ];
    let mut wrong = Vec::new();
    for (name, text, line, words) in cases {
        let path = write_conf(&dir, name, text);
        let (code, out, err) = run(&["-t", "-c", &path], t(5000));
        if code != 1 {
            wrong.push(format!(
                "{name}: exit status {code}, want 1 (stdout {out:?}, stderr {err:?})"
            ));
        }
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() != 1 {
            wrong.push(format!("{name}: want one line on stderr, got {err:?}"));
            continue;
        }
        let want = format!("{path}:{line}: ");
        let Some(msg) = lines[0].strip_prefix(&want) else {
            wrong.push(format!(
                "{name}: want exactly 'PATH:LINE: message' starting {want:?}, got {:?}",
                lines[0]
            ));
            continue;
        };
        if msg.trim().is_empty() || words.iter().any(|w| !msg.contains(w)) {
            wrong.push(format!("{name}: message {msg:?} should name {words:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "-t -c BAD must print PATH:LINE: message and exit 1:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn check_of_a_missing_file_fails() {
    let dir = TempDir::new("nofile");
    let path = dir.path().join("nope.conf").to_string_lossy().to_string();
    let (code, _, err) = run(&["-t", "-c", &path], t(5000));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&path), "names the file: {err:?}");
}

#[test]
fn bad_config_without_t_exits_1_and_serves_nothing() {
    let dir = TempDir::new("badrun");
    let port = free_port();
    let path = write_conf(
        &dir,
        "bad.conf",
        &format!("listen = 127.0.0.1:{port}\n[vhost a]\nroot = /tmp\nnope = 1\n"),
    );
    let (code, _, err) = run(&["-c", &path], t(5000));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{path}:4: ")), "{err:?}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

// ------------------------------------------------------------ -p

#[test]
fn listens_on_ipv6_loopback() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipping listens_on_ipv6_loopback: this machine has no ::1");
        return;
    };
    let port = l.local_addr().unwrap().port();
    drop(l);
    let dir = TempDir::new("v6");
    dir.write("www/index.html", b"over ipv6\n");
    let www = dir.path().join("www").to_string_lossy().to_string();
    let listen = format!("[::1]:{port}");
    let s = start(dir, port, &["-p", &listen, "-h", &www], &listen);
    let (body, code) = curl(&["-g", &format!("http://[::1]:{port}/")]);
    assert_eq!(
        (code, body.as_slice()),
        (0, &b"over ipv6\n"[..]),
        "curl over IPv6 (Host: [::1]:{port})"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "only ::1 is bound, not 127.0.0.1"
    );
    drop(s);
}

#[test]
fn p_given_twice_listens_on_both() {
    let dir = TempDir::new("twice");
    dir.write("www/index.html", b"both ports\n");
    let www = dir.path().join("www").to_string_lossy().to_string();
    let (p1, p2) = (free_port(), free_port());
    let a1 = format!("127.0.0.1:{p1}");
    let a2 = format!("127.0.0.1:{p2}");
    let s = start(dir, p1, &["-p", &a1, "-p", &a2, "-h", &www], &a1);
    for a in [&a1, &a2] {
        assert_eq!(
            fetch(a, "x", "/", t(3000)),
            Ok((200, b"both ports\n".to_vec())),
            "served on {a}"
        );
        let (body, code) = curl(&[&format!("http://{a}/index.html")]);
        assert_eq!(
            (code, body.as_slice()),
            (0, &b"both ports\n"[..]),
            "curl on {a}"
        );
    }
    drop(s);
}

// ------------------------------------------------------------ -u (root)

fn roles_ids(pm: i32) -> Vec<(String, (u32, u32))> {
    children(pm)
        .into_iter()
        .map(|p| (title(p), uid_gid(p)))
        .collect()
}

#[test]
fn u_sets_the_account_of_unprivileged_roles() {
    if !is_root() {
        eprintln!(
            "skipping u_sets_the_account_of_unprivileged_roles: -u only matters when started as root"
        );
        return;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let daemon: (u32, u32) = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f[0] == "daemon")
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .expect("a daemon user");
    for (u, want) in [
        (Some("daemon"), daemon),
        (Some("40005:40006"), (40005, 40006)),
        (None, (65534, 65534)),
    ] {
        let dir = TempDir::new("u");
        dir.write("www/index.html", b"u\n");
        let s = match u {
            Some(u) => Server::with_docroot(dir, &["-u", u]),
            None => Server::with_docroot(dir, &[]),
        };
        assert_eq!(
            fetch(&s.addr(), "x", "/", t(3000)),
            Ok((200, b"u\n".to_vec()))
        );
        // A child is root for a moment between exec and its drop: give every
        // role up to 2 s to be seen as its account.
        let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut ids = roles_ids(s.pid());
        while std::time::Instant::now() < end && !ids.iter().all(|(_, id)| *id == want) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            ids = roles_ids(s.pid());
        }
        assert!(
            ids.iter().any(|(t, _)| t.starts_with("rttpd: listener")),
            "{ids:?}"
        );
        for (t, id) in &ids {
            assert_eq!(*id, want, "-u {u:?}: {t} runs as uid:gid");
        }
        assert_eq!(uid_gid(s.pid()).0, 0, "pmaster stays root");
    }
}

// ------------------------------------------------------------ -d, -f

fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Pids whose full command line is `argv`.
fn pids_with_cmdline(argv: &[String]) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&p| cmdline(p) == argv)
        .collect()
}

fn ppid(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

fn gone_or_zombie(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// SIGTERMs a detached pmaster at the end, even when an assertion fails.
struct Detached(Option<i32>);
impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &p.to_string()])
                .status();
            let _ = wait_until(t(8000), || gone_or_zombie(p).then_some(()));
        }
    }
}

#[test]
fn d_detaches_and_keeps_serving() {
    let dir = TempDir::new("detach");
    dir.write("www/index.html", b"detached\n");
    let www = dir.path().join("www").to_string_lossy().to_string();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let args = ["-d", "-p", addr.as_str(), "-h", www.as_str()];
    let argv: Vec<String> = std::iter::once(BIN.to_string())
        .chain(args.iter().map(|s| s.to_string()))
        .collect();
    let mut guard = Detached(None);
    let t0 = Instant::now();
    let (code, _out, err) = run(&args, t(5000));
    let took = t0.elapsed();
    let served = wait_until(t(5000), || {
        matches!(fetch(&addr, "x", "/", t(3000)), Ok((200, _))).then_some(())
    });
    // Find the daemon first so it is stopped even if an assertion fails.
    // (A child between fork and exec briefly has the same command line:
    // pmaster is the match whose parent is not a match.)
    let daemons = || {
        let m = pids_with_cmdline(&argv);
        m.iter()
            .copied()
            .filter(|&p| !m.contains(&ppid(p)))
            .collect::<Vec<i32>>()
    };
    guard.0 = wait_until(t(3000), || daemons().first().copied());
    assert_eq!(code, 0, "-d returns success; stderr {err:?}");
    assert!(took < t(3000), "-d returns quickly ({took:?})");
    let pm = guard
        .0
        .expect("the detached pmaster (a process with the same command line)");
    assert_eq!(daemons(), [pm], "one detached pmaster");
    assert!(served.is_some(), "the detached server answers");
    // A daemon leads its own session, apart from the caller's.
    let stat = std::fs::read_to_string(format!("/proc/{pm}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let sid: i32 = fields[3].parse().unwrap();
    assert_eq!(sid, pm, "the detached pmaster is a session leader (setsid)");
    let kids: Vec<String> = children(pm).into_iter().map(title).collect();
    assert!(kids.iter().any(|t| t == "rttpd: umaster"), "{kids:?}");
    for _ in 0..5 {
        assert_eq!(
            fetch(&addr, "x", "/", t(3000)),
            Ok((200, b"detached\n".to_vec()))
        );
    }
    // Stop it: SIGTERM to that pid only.
    let _ = Command::new("kill")
        .args(["-s", "TERM", &pm.to_string()])
        .status();
    assert!(
        wait_until(t(7000), || gone_or_zombie(pm).then_some(())).is_some(),
        "the detached pmaster stops on SIGTERM"
    );
    guard.0 = None;
    assert!(wait_until(t(2000), || TcpStream::connect(&addr).is_err().then_some(())).is_some());
}

#[test]
fn f_stays_in_the_foreground() {
    let dir = TempDir::new("fg");
    dir.write("www/index.html", b"fg\n");
    let mut s = Server::with_docroot(dir, &["-f"]);
    let child = s.child.as_mut().unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "-f: the started process keeps running"
    );
    let kids: Vec<String> = children(s.pid()).into_iter().map(title).collect();
    assert!(
        kids.iter().any(|t| t == "rttpd: umaster"),
        "-f: the started process is pmaster: {kids:?}"
    );
    assert_eq!(s.stop().and_then(|st| st.code()), Some(0));
}

// ------------------------------------------------------------ access log

const LOG_CONF: &str = "listen = 127.0.0.1:{port}\nlisteners = 1\naccess_log = {dir}/access.log\n[vhost www]\nroot = {dir}/www\n";

fn log_server(tag: &str) -> Server {
    let dir = TempDir::new(tag);
    dir.write("www/x", b"0123456789abcdef\n");
    dir.write("www/index.html", b"index\n");
    Server::with_config(dir, LOG_CONF)
}

fn log_lines(s: &Server) -> Vec<Vec<u8>> {
    std::fs::read(s.dir.path().join("access.log"))
        .unwrap_or_default()
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        // The harness's readiness probe (tests here never send HEAD /).
        .filter(|l| !l.windows(17).any(|w| w == b"\"HEAD / HTTP/1.1\""))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The fields of one Combined Log Format line, or why it is not one.
#[derive(Debug)]
struct Clf {
    ip: String,
    time: String,
    request: String,
    status: u16,
    bytes: String,
    referer: String,
    agent: String,
}

fn parse_clf(line: &[u8]) -> Result<Clf, String> {
    if let Some(b) = line.iter().find(|&&b| !(0x20..0x7f).contains(&b)) {
        return Err(format!("raw byte {b:#04x} in the log line"));
    }
    let s = std::str::from_utf8(line).unwrap();
    let err = || format!("not Combined Log Format: {s:?}");
    let (ip, rest) = s.split_once(" - - [").ok_or_else(err)?;
    let (time, rest) = rest.split_once("] \"").ok_or_else(err)?;
    // Exactly three quoted fields: no raw '"' inside any of them.
    let parts: Vec<&str> = rest.split('"').collect();
    if parts.len() != 6 || parts[3] != " " || !parts[5].is_empty() {
        return Err(format!(
            "quoted fields broken (raw '\"' inside a field?): {s:?}"
        ));
    }
    let (request, mid, referer, agent) = (parts[0], parts[1], parts[2], parts[4]);
    let mut sb = mid.split_whitespace();
    let status: u16 = sb.next().and_then(|x| x.parse().ok()).ok_or_else(err)?;
    let bytes = sb.next().ok_or_else(err)?.to_string();
    if sb.next().is_some() || !mid.starts_with(' ') || !mid.ends_with(' ') {
        return Err(err());
    }
    if !(bytes == "-" || bytes.bytes().all(|b| b.is_ascii_digit())) {
        return Err(err());
    }
    check_time(time).map_err(|e| format!("{e}: {s:?}"))?;
    Ok(Clf {
        ip: ip.to_string(),
        time: time.to_string(),
        request: request.to_string(),
        status,
        bytes,
        referer: referer.to_string(),
        agent: agent.to_string(),
    })
}

/// `dd/Mon/yyyy:HH:MM:SS +0000`, within two minutes of now.
fn check_time(s: &str) -> Result<(), String> {
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    let shape = b.len() == 26
        && b[2] == b'/'
        && b[6] == b'/'
        && b[11] == b':'
        && b[14] == b':'
        && b[17] == b':'
        && &s[20..] == " +0000";
    if !shape {
        return Err(format!("time {s:?} is not dd/Mon/yyyy:HH:MM:SS +0000"));
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        s[r.clone()]
            .parse::<i64>()
            .map_err(|_| format!("time {s:?}: bad number {:?}", &s[r]))
    };
    let (d, y, hh, mm, ss) = (
        num(0..2)?,
        num(7..11)?,
        num(12..14)?,
        num(15..17)?,
        num(18..20)?,
    );
    let m = MON
        .iter()
        .position(|&x| x == &s[3..6])
        .ok_or_else(|| format!("time {s:?}: bad month"))? as i64
        + 1;
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (secs - now).abs() > 120 {
        return Err(format!(
            "time {s:?} is {} s away from now (UTC)",
            secs - now
        ));
    }
    Ok(())
}

fn curl_version() -> String {
    let out = Command::new("curl").arg("--version").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn access_log_is_combined_log_format() {
    let s = log_server("clf");
    let url = s.url("/x");
    let (_, code) = curl(&["-o", "/dev/null", "-e", "http://ref.example/from?q=1", &url]);
    assert_eq!(code, 0);
    let (_, code) = curl(&[
        "-o",
        "/dev/null",
        "-A",
        "TestAgent/2.0 (rttpd tests)",
        &s.url("/missing"),
    ]);
    assert_eq!(code, 0);
    let lines = wait_until(t(3000), || {
        let l = log_lines(&s);
        (l.len() >= 2).then_some(l)
    })
    .unwrap_or_else(|| panic!("two access log lines; got {:?}", log_lines(&s)));
    assert_eq!(lines.len(), 2, "one line per request: {lines:?}");

    let a = parse_clf(&lines[0]).unwrap();
    assert_eq!(a.ip, "127.0.0.1");
    assert_eq!(a.request, "GET /x HTTP/1.1");
    assert_eq!(a.status, 200);
    assert_eq!(a.bytes, "17", "bytes sent in the body");
    assert_eq!(a.referer, "http://ref.example/from?q=1");
    assert_eq!(a.agent, format!("curl/{}", curl_version()));
    let line = String::from_utf8(lines[0].clone()).unwrap();
    assert_eq!(
        line,
        format!(
            "127.0.0.1 - - [{}] \"GET /x HTTP/1.1\" 200 17 \"http://ref.example/from?q=1\" \"curl/{}\"",
            a.time,
            curl_version()
        )
    );

    let b = parse_clf(&lines[1]).unwrap();
    assert_eq!(b.request, "GET /missing HTTP/1.1");
    assert_eq!(b.status, 404);
    assert_eq!(b.referer, "-");
    assert_eq!(b.agent, "TestAgent/2.0 (rttpd tests)");
    // Nothing of this goes to stderr when a file is configured.
    assert!(!s.log().contains("\"GET /x HTTP/1.1\""), "{}", s.log());
}

#[test]
fn access_log_escapes_quotes_and_control_bytes() {
    let s = log_server("escape");
    let addr = s.addr();
    let reqs: Vec<(Vec<u8>, bool)> = vec![
        // (request, must be logged)
        (b"GET /x HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\"quote\tTAB\xffhigh\r\nReferer: r\"ef\r\nConnection: close\r\n\r\n".to_vec(), true),
        (b"GET /x%0a127.0.0.1%20-%20-%20%5bforged%5d%20%22GET%20/evil%22 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), true),
        (b"GET /q\"uote HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), false),
        (b"GET /c\x01ctl\x1b[31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), false),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x1b[2Jb\r\nConnection: close\r\n\r\n".to_vec(), false),
        (b"GET /hi\x80\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), false),
    ];
    let mut answered = 0;
    for (r, _) in &reqs {
        let data = raw(&addr, r, t(3000));
        if data.starts_with(b"HTTP/1.1 ") {
            answered += 1;
        }
    }
    let must = reqs.iter().filter(|r| r.1).count();
    let show = |l: &[Vec<u8>]| -> Vec<String> {
        l.iter()
            .map(|x| String::from_utf8_lossy(x).to_string())
            .collect()
    };
    let _ = wait_until(t(3000), || (log_lines(&s).len() >= answered).then_some(()));
    std::thread::sleep(t(300));
    let lines = log_lines(&s);
    assert!(
        lines.len() >= must,
        "the 200/404 requests are logged: {:?}",
        show(&lines)
    );
    assert_eq!(
        lines.len(),
        answered,
        "one line per answered request, no injected lines: {:?}",
        show(&lines)
    );
    let mut parsed = Vec::new();
    for l in &lines {
        parsed.push(parse_clf(l).unwrap_or_else(|e| panic!("{e}")));
    }
    let ua = parsed
        .iter()
        .find(|c| c.agent.contains("quote"))
        .expect("the line with the quoting user agent");
    assert!(
        ua.agent.starts_with("ua") && ua.agent.contains("TAB") && ua.agent.contains("high"),
        "{ua:?}"
    );
    assert!(
        ua.agent.len() > "uaquoteTABhigh".len(),
        "the '\"', tab and 0xff are escaped, not dropped: {ua:?}"
    );
    assert!(
        ua.referer.starts_with('r') && ua.referer.ends_with("ef") && ua.referer.len() > 3,
        "{ua:?}"
    );
    let forged = parsed
        .iter()
        .find(|c| c.request.contains("forged"))
        .expect("the percent-encoded request");
    assert!(matches!(forged.status, 400 | 404), "{forged:?}");
    assert!(
        !parsed.iter().any(|c| c.request.starts_with("GET /evil")),
        "no forged line"
    );
}

#[test]
fn access_log_off_writes_nothing() {
    let dir = TempDir::new("logoff");
    dir.write("www/index.html", b"quiet\n");
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\naccess_log = off\n[vhost www]\nroot = {dir}/www\n",
    );
    for p in ["/", "/index.html", "/missing-page"] {
        let (_, code) = curl(&["-o", "/dev/null", &s.url(p)]);
        assert_eq!(code, 0);
    }
    std::thread::sleep(t(500));
    let log = s.log();
    assert!(
        !log.contains("\"GET "),
        "access_log = off: no access lines on stderr:\n{log}"
    );
    let mut files: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["rttpd.conf", "stderr.log", "www"],
        "no log file is created"
    );
}

#[test]
fn access_log_default_for_command_line_goes_to_stderr() {
    // Control for the test above: without `off` the same requests are logged.
    let dir = TempDir::new("logstderr");
    dir.write("www/index.html", b"loud!\n");
    let s = Server::with_docroot(dir, &[]);
    let (_, code) = curl(&["-o", "/dev/null", &s.url("/index.html")]);
    assert_eq!(code, 0);
    let found = wait_until(t(3000), || {
        s.log()
            .contains("\"GET /index.html HTTP/1.1\" 200 6 ")
            .then_some(())
    });
    assert!(found.is_some(), "stderr:\n{}", s.log());
}

#[test]
fn check_warns_about_missing_accounts_and_docroots() {
    let dir = TempDir::new("t-warn");
    let conf = dir.path().join("w.conf");
    std::fs::write(
        &conf,
        "listen = 8080\n[vhost a]\nroot = /nonexistent-rttpd-root\nuser = no-such-user-rttpd\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["-t", "-c", &conf.to_string_lossy()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let c = conf.to_string_lossy();
    assert_eq!(out.status.code(), Some(0), "warnings do not fail -t: {err}");
    assert!(
        err.contains(&format!(
            "{c}:2: warning: vhost 'a': unknown user 'no-such-user-rttpd'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{c}:2: warning: vhost 'a': root /nonexistent-rttpd-root is not a directory"
        )),
        "{err}"
    );
}
