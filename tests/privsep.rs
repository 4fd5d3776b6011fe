//! Privilege separation, process supervision and signals, against the real
//! binary. The privilege tests need root (CI and developer sessions run as
//! root); without it they print why and return.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{PermissionsExt, chown, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

// ------------------------------------------------------------------ helpers

const UID_A: u32 = 40001;
const UID_B: u32 = 40002;
const UID_C: u32 = 40003;
const NOBODY: u32 = 65534;

const A_INDEX: &[u8] = b"vhost A index\n";
const B_INDEX: &[u8] = b"vhost B index\n";
const C_INDEX: &[u8] = b"vhost C index (chrooted)\n";
const B_SECRET: &[u8] = b"B-SECRET-3f9c1e: only vhost B may read this\n";
const OTHER_UID_SECRET: &[u8] = b"OTHER-UID-SECRET-77ab: owned by 40002, 0600\n";
const ROOT_SECRET: &[u8] = b"ROOT-SECRET-d41d: owned by root, 0600\n";

/// The fields of /proc/PID/status this file checks.
#[derive(Debug, Clone)]
struct ProcStatus {
    uid: Vec<u32>,
    gid: Vec<u32>,
    groups: Vec<u32>,
    no_new_privs: Option<u32>,
    cap_prm: String,
    cap_eff: String,
    state: String,
}

fn proc_status(pid: i32) -> Option<ProcStatus> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let nums = |name: &str| -> Vec<u32> {
        field(name)
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()
    };
    Some(ProcStatus {
        uid: nums("Uid:"),
        gid: nums("Gid:"),
        groups: nums("Groups:"),
        no_new_privs: field("NoNewPrivs:").parse().ok(),
        cap_prm: field("CapPrm:"),
        cap_eff: field("CapEff:"),
        state: field("State:"),
    })
}

fn proc_root(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/root")).unwrap_or_default()
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// (pid, argv[0]) of pmaster's children, sorted by title.
fn roles(pm: i32) -> Vec<(i32, String)> {
    let mut v: Vec<(i32, String)> = children(pm).into_iter().map(|p| (p, title(p))).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

/// Pid of pmaster's child titled exactly `t`.
fn role_pid(pm: i32, t: &str) -> Option<i32> {
    children(pm).into_iter().find(|&p| title(p) == t)
}

fn kill(pid: i32, sig: &str) {
    let st = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -s {sig} {pid} failed");
}

const TWO_VHOSTS: &str = "\
listen = 127.0.0.1:{port}
listeners = 2
access_log = {log}

[vhost a.test]
root = {dir}/a
user = 40001
group = 40001

[vhost b.test]
alias = www.b.test
root = {dir}/b
user = 40002
group = 40002

[vhost c.test]
root = {dir}/c
user = 40003
group = 40003
chroot = yes
";

/// Three vhosts with their own numeric accounts (docroots 0700, owned by
/// them), two listeners. `log` is the access_log value.
fn three_vhosts(tag: &str, log: &str) -> Server {
    let dir = TempDir::new(tag);
    dir.write("a/index.html", A_INDEX);
    dir.write("a/sub/page.txt", b"a page\n");
    dir.write("b/index.html", B_INDEX);
    dir.write("b/secret.txt", B_SECRET);
    dir.write("c/index.html", C_INDEX);
    let other = dir.write("a/other-uid.txt", OTHER_UID_SECRET);
    let rootf = dir.write("a/root-only.txt", ROOT_SECRET);
    // Links out of A's root, to B's files (owned by A, as an attacker
    // with write access to A's root would make them).
    symlink(
        dir.path().join("b/secret.txt"),
        dir.path().join("a/abs-link.txt"),
    )
    .unwrap();
    symlink("../b/secret.txt", dir.path().join("a/rel-link.txt")).unwrap();
    symlink("../b", dir.path().join("a/bdir")).unwrap();
    own_tree(&dir.path().join("a"), UID_A);
    own_tree(&dir.path().join("b"), UID_B);
    own_tree(&dir.path().join("c"), UID_C);
    for l in ["abs-link.txt", "rel-link.txt", "bdir"] {
        lchown(dir.path().join("a").join(l), Some(UID_A), Some(UID_A)).unwrap();
    }
    chown(&other, Some(UID_B), Some(UID_B)).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    chown(&rootf, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&rootf, std::fs::Permissions::from_mode(0o600)).unwrap();
    Server::with_config(dir, &TWO_VHOSTS.replace("{log}", log))
}

fn assert_ids(pid: i32, what: &str, uid: u32, gid: u32) {
    let st = proc_status(pid).unwrap_or_else(|| panic!("{what} (pid {pid}) is gone"));
    assert_eq!(
        st.uid,
        vec![uid; 4],
        "{what} (pid {pid}): Uid (real, effective, saved, fs)"
    );
    assert_eq!(
        st.gid,
        vec![gid; 4],
        "{what} (pid {pid}): Gid (real, effective, saved, fs)"
    );
    assert!(
        st.groups.iter().all(|&g| g == gid),
        "{what} (pid {pid}): supplementary groups {:?} must be cleared (at most its own gid {gid})",
        st.groups
    );
    assert_eq!(st.no_new_privs, Some(1), "{what} (pid {pid}): NoNewPrivs");
    assert_eq!(st.cap_eff, "0000000000000000", "{what} (pid {pid}): CapEff");
    assert_eq!(st.cap_prm, "0000000000000000", "{what} (pid {pid}): CapPrm");
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

// ------------------------------------------------------ privileges (root)

#[test]
fn each_role_runs_with_its_account_and_chroot() {
    if skip_unless_root("each_role_runs_with_its_account_and_chroot") {
        return;
    }
    let s = three_vhosts("roles", "off");
    let pm = s.pid();
    let dir = s.dir.path().to_path_buf();
    let r = roles(pm);
    let titles: Vec<&str> = r.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "rttpd: listener 0",
            "rttpd: listener 1",
            "rttpd: umaster",
            "rttpd: vhost a.test",
            "rttpd: vhost b.test",
            "rttpd: vhost c.test"
        ],
        "pmaster's children (argv[0])"
    );
    let pst = proc_status(pm).unwrap();
    assert_eq!(pst.uid[1], 0, "pmaster stays root");
    for (pid, t) in &r {
        let want_comm = if t.starts_with("rttpd: listener") {
            "rttpd: listener"
        } else if t.starts_with("rttpd: vhost") {
            "rttpd: vhost"
        } else {
            "rttpd: umaster"
        };
        assert_eq!(comm(*pid), want_comm, "comm of {t}");
    }
    let empty = canon(Path::new("/var/empty"));
    for (pid, t) in &r {
        match t.as_str() {
            "rttpd: umaster" | "rttpd: listener 0" | "rttpd: listener 1" => {
                assert_ids(*pid, t, NOBODY, NOBODY);
                assert_eq!(proc_root(*pid), empty, "{t} is chrooted to chroot_dir");
            }
            "rttpd: vhost a.test" => {
                assert_ids(*pid, t, UID_A, UID_A);
                assert_eq!(
                    proc_root(*pid),
                    Path::new("/"),
                    "{t}: no chroot without chroot = yes"
                );
            }
            "rttpd: vhost b.test" => {
                assert_ids(*pid, t, UID_B, UID_B);
                assert_eq!(
                    proc_root(*pid),
                    Path::new("/"),
                    "{t}: no chroot without chroot = yes"
                );
            }
            "rttpd: vhost c.test" => {
                assert_ids(*pid, t, UID_C, UID_C);
                assert_eq!(proc_root(*pid), canon(&dir.join("c")), "{t}: chroot = yes");
            }
            other => panic!("unexpected child {other}"),
        }
    }
    // The chrooted vhost still serves its root.
    assert_eq!(
        fetch(&s.addr(), "c.test", "/", t(5000)),
        Ok((200, C_INDEX.to_vec()))
    );
    assert_eq!(
        fetch(&s.addr(), "c.test", "/index.html", t(5000)),
        Ok((200, C_INDEX.to_vec()))
    );
}

#[test]
fn names_as_accounts_and_chroot_dir_created_if_missing() {
    if skip_unless_root("names_as_accounts_and_chroot_dir_created_if_missing") {
        return;
    }
    let dir = TempDir::new("names");
    dir.write("www/index.html", b"named accounts\n");
    let jail = dir.path().join("jail/empty");
    assert!(!jail.exists());
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\nuser = daemon\ngroup = daemon\nchroot_dir = {dir}/jail/empty\naccess_log = off\n\
         [vhost www]\nroot = {dir}/www\nuser = nobody\ngroup = nogroup\n",
    );
    let daemon = nix_ids("daemon");
    let nogroup = group_id("nogroup");
    assert!(jail.is_dir(), "chroot_dir is created");
    let pm = s.pid();
    for t in ["rttpd: umaster", "rttpd: listener 0"] {
        let pid = role_pid(pm, t).unwrap_or_else(|| panic!("no {t}: {:?}", roles(pm)));
        assert_ids(pid, t, daemon.0, daemon.1);
        assert_eq!(
            proc_root(pid),
            canon(&jail),
            "{t} is chrooted to chroot_dir"
        );
    }
    let v = role_pid(pm, "rttpd: vhost www").expect("vhost worker");
    assert_ids(v, "vhost www", NOBODY, nogroup);
    assert_eq!(
        fetch(&s.addr(), "x", "/", t(5000)),
        Ok((200, b"named accounts\n".to_vec()))
    );
}

/// (uid, gid) of a user name from /etc/passwd.
fn nix_ids(name: &str) -> (u32, u32) {
    let pw = std::fs::read_to_string("/etc/passwd").unwrap();
    pw.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f[0] == name)
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .unwrap_or_else(|| panic!("no user {name}"))
}

fn group_id(name: &str) -> u32 {
    let gr = std::fs::read_to_string("/etc/group").unwrap();
    gr.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f[0] == name)
        .map(|f| f[2].parse().unwrap())
        .unwrap_or_else(|| panic!("no group {name}"))
}

#[test]
fn routes_by_host_to_each_vhost() {
    if skip_unless_root("routes_by_host_to_each_vhost") {
        return;
    }
    let s = three_vhosts("route", "off");
    let a = s.addr();
    for (host, body) in [
        ("a.test", A_INDEX),
        ("b.test", B_INDEX),
        ("www.b.test", B_INDEX),
        ("B.Test", B_INDEX),
        (&*format!("b.test:{}", s.port), B_INDEX),
        ("c.test", C_INDEX),
        ("unknown.example", A_INDEX),
    ] {
        assert_eq!(
            fetch(&a, host, "/", t(5000)),
            Ok((200, body.to_vec())),
            "Host: {host}"
        );
    }
    // Each vhost only has its own files.
    assert_eq!(
        fetch(&a, "b.test", "/sub/page.txt", t(5000)).map(|r| r.0),
        Ok(404)
    );
    assert_eq!(
        fetch(&a, "a.test", "/sub/page.txt", t(5000)).map(|r| r.0),
        Ok(200)
    );
}

#[test]
fn unreadable_file_of_another_uid_is_403() {
    if skip_unless_root("unreadable_file_of_another_uid_is_403") {
        return;
    }
    let s = three_vhosts("403", "off");
    for (path, secret) in [
        ("/other-uid.txt", OTHER_UID_SECRET),
        ("/root-only.txt", ROOT_SECRET),
    ] {
        let (status, body) = fetch(&s.addr(), "a.test", path, t(5000)).unwrap();
        assert_eq!(status, 403, "GET {path}: a 0600 file of another uid");
        assert!(
            !contains(&body, &secret[..20]),
            "GET {path}: body leaks the file"
        );
        let r = get(
            &s.addr(),
            &format!("HEAD {path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(r.status, 403, "HEAD {path}");
    }
}

#[test]
fn vhost_a_cannot_serve_vhost_b_files() {
    if skip_unless_root("vhost_a_cannot_serve_vhost_b_files") {
        return;
    }
    let s = three_vhosts("cross", "off");
    let dir = s.dir.path().to_string_lossy().to_string();
    let b_abs = format!("{dir}/b/secret.txt");
    let targets = [
        "/../b/secret.txt".to_string(),
        "/../../b/secret.txt".to_string(),
        "/sub/../../b/secret.txt".to_string(),
        "/%2e%2e/b/secret.txt".to_string(),
        "/%2E%2E%2Fb%2Fsecret.txt".to_string(),
        "/..%2fb%2fsecret.txt".to_string(),
        "/.%2e/.%2e/b/secret.txt".to_string(),
        "/..\\b\\secret.txt".to_string(),
        "/%5c..%5cb%5csecret.txt".to_string(),
        format!("/{b_abs}"),
        format!("/%2f{}", b_abs.trim_start_matches('/')),
        format!("/../../../../../../..{b_abs}"),
        "/abs-link.txt".to_string(),
        "/rel-link.txt".to_string(),
        "/bdir/secret.txt".to_string(),
        "/bdir/".to_string(),
        "/bdir".to_string(),
    ];
    for target in &targets {
        let data = raw(
            &s.addr(),
            format!("GET {target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
            t(5000),
        );
        assert!(
            !contains(&data, &B_SECRET[..16]),
            "GET {target} via vhost A leaked B's file: {:?}",
            String::from_utf8_lossy(&data)
        );
        let status = parse_responses(&data, &[])
            .first()
            .map(|r| r.status)
            .unwrap_or(0);
        assert!(
            status == 0 || (400..500).contains(&status),
            "GET {target} via vhost A: status {status}, want a 4xx"
        );
    }
    // B itself still serves its file: the check above is not vacuous.
    assert_eq!(
        fetch(&s.addr(), "b.test", "/secret.txt", t(5000)),
        Ok((200, B_SECRET.to_vec()))
    );
}

/// Requests `host` every 10 ms until `stop`; returns (good count, failures).
fn hammer(
    addr: String,
    host: &'static str,
    want: &'static [u8],
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let (mut ok, mut bad) = (0, Vec::new());
        while !stop.load(Ordering::SeqCst) {
            let t0 = Instant::now();
            match fetch(&addr, host, "/", t(3000)) {
                Ok((200, b)) if b == want => ok += 1,
                other => bad.push(format!("after {:?}: {other:?}", t0.elapsed())),
            }
            std::thread::sleep(t(10));
        }
        (ok, bad)
    })
}

#[test]
fn killed_vhost_worker_is_respawned_and_other_vhost_keeps_serving() {
    if skip_unless_root("killed_vhost_worker_is_respawned_and_other_vhost_keeps_serving") {
        return;
    }
    let s = three_vhosts("kill-vhost", "off");
    let pm = s.pid();
    let addr = s.addr();
    let old = role_pid(pm, "rttpd: vhost a.test").expect("vhost a worker");
    let stop = Arc::new(AtomicBool::new(false));
    let b = hammer(addr.clone(), "b.test", B_INDEX, stop.clone());
    std::thread::sleep(t(200));

    kill(old, "KILL");
    let t0 = Instant::now();
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    let mut recovered = None;
    while t0.elapsed() < t(4000) {
        match fetch(&addr, "a.test", "/", t(3000)) {
            Ok((200, body)) => {
                assert_eq!(body, A_INDEX);
                recovered = Some(t0.elapsed());
                break;
            }
            Ok((503, _)) => seen.push(503),
            other => bad.push(format!("at {:?}: {other:?}", t0.elapsed())),
        }
        std::thread::sleep(t(20));
    }
    // The first 200 may come from the listener's fd cache before pmaster
    // has even noticed the death: the new worker can still be starting.
    let new = wait_until(t(2000), || {
        role_pid(pm, "rttpd: vhost a.test").filter(|&p| p != old)
    });
    // Keep B under load a little longer after A is back.
    std::thread::sleep(t(300));
    stop.store(true, Ordering::SeqCst);
    let (b_ok, b_bad) = b.join().unwrap();

    assert!(
        bad.is_empty(),
        "requests to the killed vhost must get 503 or 200, never hang or reset: {bad:?}"
    );
    let recovered = recovered.unwrap_or_else(|| {
        panic!(
            "vhost a never answered 200 again after kill -9 (503s: {})",
            seen.len()
        )
    });
    assert!(
        recovered <= t(2000),
        "vhost a served 200 again only after {recovered:?} (want <= 2 s)"
    );
    let new = new.expect("a new 'rttpd: vhost a.test' process");
    assert_ne!(new, old, "the worker has a new pid");
    assert_ids(new, "respawned vhost a.test", UID_A, UID_A);
    assert!(
        b_bad.is_empty(),
        "vhost b must answer 200 throughout: {b_bad:?}"
    );
    assert!(
        b_ok >= 10,
        "vhost b answered only {b_ok} requests during the test"
    );
}

#[test]
fn killed_listener_is_respawned_and_server_keeps_answering() {
    if skip_unless_root("killed_listener_is_respawned_and_server_keeps_answering") {
        return;
    }
    let s = three_vhosts("kill-listener", "off");
    let pm = s.pid();
    let addr = s.addr();
    let old = role_pid(pm, "rttpd: listener 0").expect("listener 0");
    let other = role_pid(pm, "rttpd: listener 1").expect("listener 1");
    kill(old, "KILL");
    let t0 = Instant::now();
    let mut bad = Vec::new();
    let mut new = None;
    let mut last_ok = None;
    // Many fresh connections: SO_REUSEPORT hashes some onto the dead
    // listener's socket, which must be served by its replacement.
    while t0.elapsed() < t(2500) {
        match fetch(&addr, "a.test", "/", t(3000)) {
            Ok((200, body)) if body == A_INDEX => last_ok = Some(t0.elapsed()),
            Ok((503, _)) => {}
            other => bad.push(format!("at {:?}: {other:?}", t0.elapsed())),
        }
        if new.is_none() {
            new = role_pid(pm, "rttpd: listener 0")
                .filter(|&p| p != old)
                .map(|p| (p, t0.elapsed()));
        }
        std::thread::sleep(t(5));
    }
    assert!(
        bad.is_empty(),
        "requests after kill -9 of a listener: {bad:?}"
    );
    let (new, when) = new.expect("listener 0 respawned");
    assert!(when <= t(2000), "listener 0 respawned after {when:?}");
    assert!(
        last_ok.is_some_and(|l| l > when),
        "the server answers 200 after the respawn"
    );
    assert_eq!(
        role_pid(pm, "rttpd: listener 1"),
        Some(other),
        "the other listener is untouched"
    );
    assert_ids(new, "respawned listener 0", NOBODY, NOBODY);
    assert_eq!(proc_root(new), canon(Path::new("/var/empty")));
    // Every one of a burst of connections is served (none lands on a dead socket).
    for i in 0..40 {
        assert_eq!(
            fetch(&addr, "b.test", "/", t(3000)),
            Ok((200, B_INDEX.to_vec())),
            "request {i} after respawn"
        );
    }
}

#[test]
fn killed_umaster_is_respawned_and_service_continues() {
    if skip_unless_root("killed_umaster_is_respawned_and_service_continues") {
        return;
    }
    let s = three_vhosts("kill-umaster", "{dir}/access.log");
    let pm = s.pid();
    let addr = s.addr();
    let log = s.dir.path().join("access.log");
    let logged = |needle: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(needle)
    };
    assert_eq!(
        fetch(&addr, "a.test", "/?before", t(3000)).map(|r| r.0),
        Ok(200)
    );
    assert!(
        wait_until(t(2000), || logged("GET /?before ").then_some(())).is_some(),
        "access log works before"
    );

    let old = role_pid(pm, "rttpd: umaster").expect("umaster");
    kill(old, "KILL");
    let t0 = Instant::now();
    let mut bad = Vec::new();
    let mut ok_at = None;
    while t0.elapsed() < t(2000) {
        match fetch(&addr, "a.test", "/", t(3000)) {
            Ok((200, _)) => {
                ok_at.get_or_insert(t0.elapsed());
            }
            Ok((503, _)) => {}
            other => bad.push(format!("at {:?}: {other:?}", t0.elapsed())),
        }
        std::thread::sleep(t(20));
    }
    assert!(bad.is_empty(), "requests after kill -9 of umaster: {bad:?}");
    assert!(ok_at.is_some(), "no 200 within 2 s of killing umaster");
    let new = role_pid(pm, "rttpd: umaster").expect("umaster respawned within 2 s");
    assert_ne!(new, old);
    assert_ids(new, "respawned umaster", NOBODY, NOBODY);
    assert_eq!(proc_root(new), canon(Path::new("/var/empty")));

    // The new umaster writes the access log...
    assert_eq!(
        fetch(&addr, "b.test", "/?after", t(3000)).map(|r| r.0),
        Ok(200)
    );
    assert!(
        wait_until(t(2000), || logged("GET /?after ").then_some(())).is_some(),
        "the respawned umaster writes the access log; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // ...and wires a respawned vhost worker to the listeners.
    let vb = role_pid(pm, "rttpd: vhost b.test").unwrap();
    kill(vb, "KILL");
    let t1 = Instant::now();
    let back = wait_until(t(2000), || {
        matches!(fetch(&addr, "b.test", "/", t(1000)), Ok((200, _))).then_some(())
    });
    assert!(
        back.is_some(),
        "vhost b did not serve within 2 s of its respawn under the new umaster ({:?})",
        t1.elapsed()
    );
}

// ------------------------------------------------------ not root

fn have_setpriv() -> bool {
    Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn unprivileged_start_serves_as_the_invoking_user() {
    let root = is_root();
    if root && !have_setpriv() {
        eprintln!(
            "skipping unprivileged_start_serves_as_the_invoking_user: setpriv (util-linux) is not installed"
        );
        return;
    }
    let dir = TempDir::new("unpriv");
    dir.write("www/index.html", b"served without root\n");
    let port = free_port();
    let stderr = dir.path().join("stderr.log");
    let www = dir.path().join("www").to_string_lossy().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(["-p", &listen, "-h", &www]);
    let child = cmd
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
    let up = wait_until(t(10000), || {
        matches!(fetch(&s.addr(), "x", "/", t(2000)), Ok((200, _))).then_some(())
    });
    assert!(
        up.is_some(),
        "unprivileged server did not serve; stderr:\n{}",
        s.log()
    );
    let (body, code) = curl(&[&s.url("/index.html")]);
    assert_eq!((code, body.as_slice()), (0, &b"served without root\n"[..]));

    let me = if root { (NOBODY, NOBODY) } else { me_ids() };
    let pm = s.pid();
    let r = roles(pm);
    let titles: Vec<&str> = r.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        titles.contains(&"rttpd: umaster"),
        "same layout: {titles:?}"
    );
    assert!(
        titles.contains(&"rttpd: vhost default"),
        "same layout: {titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.starts_with("rttpd: listener")),
        "same layout: {titles:?}"
    );
    for pid in std::iter::once(pm).chain(r.iter().map(|(p, _)| *p)) {
        let st = proc_status(pid).unwrap();
        assert_eq!(st.uid, vec![me.0; 4], "pid {pid} ({}) Uid", title(pid));
        assert_eq!(st.gid, vec![me.1; 4], "pid {pid} ({}) Gid", title(pid));
    }
    let log = s.log();
    let n = log
        .lines()
        .filter(|l| l.contains("privileges are not separated"))
        .count();
    assert_eq!(
        n, 1,
        "exactly one line says privileges are not separated; stderr:\n{log}"
    );
}

fn me_ids() -> (u32, u32) {
    let st = proc_status(std::process::id() as i32).unwrap();
    (st.uid[1], st.gid[1])
}

// ------------------------------------------------------ signals

/// Stops `s` with `sig`; asserts exit 0 within 6 s and that none of its
/// children is left.
fn stop_with(mut s: Server, sig: &str) {
    let pm = s.pid();
    let kids = wait_until(t(3000), || {
        let k = children(pm);
        (k.len() >= 3).then_some(k)
    })
    .expect("children running");
    let mut child = s.child.take().unwrap();
    kill(pm, sig);
    let t0 = Instant::now();
    let status = wait_until(t(6000), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "pmaster did not exit within 6 s of SIG{sig}; stderr:\n{}",
            s.log()
        );
    };
    assert_eq!(
        status.code(),
        Some(0),
        "pmaster exit status after SIG{sig} ({status:?}); stderr:\n{}",
        s.log()
    );
    // pmaster reaps its children before it exits: nothing may be left,
    // neither running orphans nor zombies.
    let left = wait_until(t(1000), || {
        let l: Vec<String> = kids
            .iter()
            .filter_map(|&p| {
                proc_status(p).map(|st| format!("pid {p} ({}) state {}", comm(p), st.state))
            })
            .collect();
        l.is_empty().then_some(())
    });
    if left.is_none() {
        let l: Vec<String> = kids
            .iter()
            .filter_map(|&p| {
                proc_status(p).map(|st| format!("pid {p} ({}) state {}", comm(p), st.state))
            })
            .collect();
        for &p in &kids {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &p.to_string()])
                .status();
        }
        panic!(
            "processes left after SIG{sig} ({:?} after the signal): {l:?}",
            t0.elapsed()
        );
    }
    assert!(
        TcpStream::connect(s.addr()).is_err(),
        "the port is closed after SIG{sig}"
    );
}

#[test]
fn sigterm_stops_gracefully_without_orphans() {
    let dir = TempDir::new("term");
    dir.write("www/index.html", b"x\n");
    let s = Server::with_docroot(dir, &[]);
    assert_eq!(fetch(&s.addr(), "x", "/", t(3000)).map(|r| r.0), Ok(200));
    stop_with(s, "TERM");
}

#[test]
fn sigint_stops_gracefully_without_orphans() {
    let dir = TempDir::new("int");
    dir.write("www/index.html", b"x\n");
    let s = Server::with_docroot(dir, &[]);
    assert_eq!(fetch(&s.addr(), "x", "/", t(3000)).map(|r| r.0), Ok(200));
    stop_with(s, "INT");
}

#[test]
fn sigterm_lets_an_inflight_download_finish() {
    const SIZE: usize = 20 << 20;
    let dir = TempDir::new("inflight");
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    dir.write("www/big.bin", &data);
    let mut s = Server::with_docroot(dir, &[]);
    let pm = s.pid();
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(t(3000))).unwrap();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::with_capacity(SIZE + 1024);
    let mut b = vec![0u8; 64 * 1024];
    let n = c.read(&mut b).unwrap();
    assert!(n > 0, "download started");
    got.extend_from_slice(&b[..n]);

    let mut child = s.child.take().unwrap();
    kill(pm, "TERM");
    let t0 = Instant::now();
    // A slow reader: ~6 MiB/s, so the transfer needs ~3 s after SIGTERM
    // (well past what socket buffers hold, within the 5 s grace).
    let mut exited_early = None;
    loop {
        match c.read(&mut b) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) => panic!(
                "download broken {:?} after SIGTERM at {} bytes: {e}",
                t0.elapsed(),
                got.len()
            ),
        }
        if exited_early.is_none() {
            if let Some(st) = child.try_wait().unwrap() {
                exited_early = Some((st, got.len()));
            }
        }
        std::thread::sleep(t(10));
        assert!(t0.elapsed() < t(12000), "download too slow");
    }
    let took = t0.elapsed();
    let head_end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&got[..head_end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = &got[head_end..];
    assert_eq!(
        body.len(),
        SIZE,
        "the in-flight download completes after SIGTERM (took {took:?}; pmaster exited early: {exited_early:?})"
    );
    assert!(body == &data[..], "body content");
    assert!(
        took > t(1000),
        "the reader really was slow ({took:?}), so the test means something"
    );
    let status = wait_until(t(7000).saturating_sub(t0.elapsed()), || {
        child.try_wait().unwrap()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("pmaster did not exit within 7 s of SIGTERM");
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigusr1_reopens_the_access_log() {
    let dir = TempDir::new("usr1");
    dir.write("www/index.html", b"x\n");
    let s = Server::with_config(
        dir,
        "listen = 127.0.0.1:{port}\nlisteners = 1\naccess_log = {dir}/access.log\n[vhost www]\nroot = {dir}/www\n",
    );
    let log = s.dir.path().join("access.log");
    let old = s.dir.path().join("access.log.1");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert_eq!(
        fetch(&s.addr(), "x", "/?one", t(3000)).map(|r| r.0),
        Ok(200)
    );
    assert!(
        wait_until(t(2000), || read(&log).contains("GET /?one ").then_some(())).is_some(),
        "first line logged"
    );
    std::fs::rename(&log, &old).unwrap();
    // Still written to the renamed file until SIGUSR1.
    assert_eq!(
        fetch(&s.addr(), "x", "/?two", t(3000)).map(|r| r.0),
        Ok(200)
    );
    assert!(
        wait_until(t(2000), || read(&old).contains("GET /?two ").then_some(())).is_some(),
        "before SIGUSR1 the old file is used"
    );
    assert!(!log.exists());

    s.signal("USR1");
    assert!(
        wait_until(t(2000), || log.exists().then_some(())).is_some(),
        "SIGUSR1 creates a new access.log"
    );
    std::thread::sleep(t(200));
    assert_eq!(
        fetch(&s.addr(), "x", "/?three", t(3000)).map(|r| r.0),
        Ok(200)
    );
    assert!(
        wait_until(t(2000), || read(&log)
            .contains("GET /?three ")
            .then_some(()))
        .is_some(),
        "after SIGUSR1 the new access.log gets the line; new: {:?}; old: {:?}",
        read(&log),
        read(&old)
    );
    assert!(
        !read(&old).contains("/?three"),
        "the rotated file gets no new lines"
    );
    assert_eq!(read(&log).lines().count(), 1, "{}", read(&log));
    assert!(s.child.is_some());
}
