//! The shipped board configurations, init scripts and firmware packages:
//! every `board-configs/**/*.conf` passes `rttpd -t` (also with its
//! commented-out examples switched on), the init scripts parse with `sh -n`
//! and keep their respawn/reload/check wiring, the systemd unit and the
//! configs agree on directories, the package recipes name files that exist,
//! and the x86_64 config really serves (ports and paths rewritten).

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every `*.conf` below `dir`, sorted (found by reading the tree, so a new
/// board config is covered without touching this file).
fn confs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            confs(&p, out);
        } else if p.extension().is_some_and(|x| x == "conf") {
            out.push(p);
        }
    }
}

fn board_confs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    confs(&repo().join("board-configs"), &mut v);
    v
}

/// `key = value` of a line that is not a comment (inline `# ...` removed).
fn active_kv(line: &str) -> Option<(&str, &str)> {
    let code = line.split('#').next().unwrap_or("").trim();
    let (k, v) = code.split_once('=')?;
    Some((k.trim(), v.trim()))
}

/// `rttpd -t -c FILE`: (exit code, stdout, stderr).
fn check(path: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-c")
        .arg(path)
        .output()
        .expect("run rttpd -t");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_board_config_passes_rttpd_t() {
    let all = board_confs();
    assert!(
        all.len() >= 5,
        "expected at least 5 board configs, found {}: {all:?}",
        all.len()
    );
    for name in [
        "openwrt-mipsel.conf",
        "raspberry-pi.conf",
        "pi-zero.conf",
        "x86_64.conf",
    ] {
        assert!(
            all.iter().any(|p| p.file_name().unwrap() == name),
            "board-configs/{name} is missing"
        );
    }
    for p in &all {
        let (code, out, err) = check(p);
        assert_eq!(code, 0, "rttpd -t -c {}: {err}", p.display());
        assert!(
            out.contains(": configuration ok ("),
            "rttpd -t -c {}: no 'configuration ok' line in {out:?}",
            p.display()
        );
    }
}

/// Commented-out settings are written `#key = value` / `#[vhost NAME]` (no
/// space after `#`, unlike prose): switched on, they must still be valid, so
/// the examples a user uncomments do not rot when keys change.
#[test]
fn commented_examples_stay_valid() {
    let dir = TempDir::new("boardcfg-uncomment");
    for p in board_confs() {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut switched = 0;
        let on: String = text
            .lines()
            .map(|l| {
                let rest = l.strip_prefix('#').unwrap_or("");
                let is_setting = rest.starts_with("[vhost ")
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    });
                if is_setting {
                    switched += 1;
                    format!("{rest}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let tmp = dir.path().join(p.file_name().unwrap());
        std::fs::write(&tmp, on).unwrap();
        let (code, _, err) = check(&tmp);
        assert_eq!(
            code,
            0,
            "{} with its {switched} commented-out settings switched on: {err}",
            p.display()
        );
    }
}

fn sh_n(rel: &str) {
    let out = Command::new("sh")
        .arg("-n")
        .arg(repo().join(rel))
        .output()
        .expect("run sh -n");
    assert!(
        out.status.success(),
        "sh -n {rel}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The body of shell function `name` (from `name() {` to the next line
/// that is just `}`).
fn shell_fn<'a>(text: &'a str, name: &str) -> &'a str {
    let head = format!("\n{name}() {{\n");
    let start = text
        .find(&head)
        .unwrap_or_else(|| panic!("no function {name}() in the script"))
        + head.len();
    let end = text[start..]
        .find("\n}\n")
        .unwrap_or_else(|| panic!("function {name}() is not closed"));
    &text[start..start + end]
}

#[test]
fn procd_init_script() {
    let rel = "board-configs/openwrt/rttpd.init";
    sh_n(rel);
    let t = read(rel);
    assert!(
        t.starts_with("#!/bin/sh /etc/rc.common\n"),
        "rc.common shebang"
    );
    for line in [
        "USE_PROCD=1",
        "START=50",
        "PROG=/usr/sbin/rttpd",
        "CONF=/etc/rttpd.conf",
    ] {
        assert!(t.lines().any(|l| l == line), "{rel}: no line {line:?}");
    }
    let check = shell_fn(&t, "check_config");
    assert!(
        check.contains("\"$PROG\" -t -c \"$CONF\""),
        "check_config must run rttpd -t"
    );

    let start = shell_fn(&t, "start_service");
    assert!(
        start.contains("check_config || return 1"),
        "start_service must check first"
    );
    for want in [
        "procd_set_param command \"$PROG\" -f -c \"$CONF\"",
        "procd_set_param respawn",
        "procd_set_param file \"$CONF\"",
        "procd_set_param stdout 1",
        "procd_set_param stderr 1",
    ] {
        assert!(start.contains(want), "start_service lacks {want:?}");
    }

    let reload = shell_fn(&t, "reload_service");
    assert!(
        reload.contains("check_config || return 1"),
        "reload_service must check first"
    );
    assert!(
        reload.contains("HUP") && (reload.contains("procd_send_signal") || reload.contains("kill")),
        "reload_service must send SIGHUP: {reload:?}"
    );
}

#[test]
fn sysv_init_script() {
    let rel = "cross/buildroot/rttpd/S50rttpd";
    sh_n(rel);
    let t = read(rel);
    assert!(t.lines().any(|l| l == "BIN=\"/usr/sbin/rttpd\""));
    assert!(t.lines().any(|l| l == "CONF=\"/etc/rttpd.conf\""));
    assert!(shell_fn(&t, "check").contains("\"$BIN\" -t -c \"$CONF\""));
    let start = shell_fn(&t, "start");
    assert!(start.contains("check || return 1") && start.contains("\"$BIN\" -f -c \"$CONF\""));
    assert!(shell_fn(&t, "stop").contains("kill -TERM"));
    let reload = shell_fn(&t, "reload");
    assert!(reload.contains("check || return 1") && reload.contains("kill -HUP"));
}

/// `Key=value` lines of the unit's [Service] section.
fn unit_service(text: &str) -> Vec<(String, String)> {
    let mut in_service = false;
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.starts_with('[') {
            in_service = l == "[Service]";
        } else if in_service && !l.starts_with('#') {
            if let Some((k, v)) = l.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

#[test]
fn systemd_unit() {
    let t = read("board-configs/systemd/rttpd.service");
    let svc = unit_service(&t);
    let all = |k: &str| -> Vec<&str> {
        svc.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let one = |k: &str| -> &str {
        let v = all(k);
        assert_eq!(v.len(), 1, "{k}= must appear once in [Service]: {v:?}");
        v[0]
    };
    assert_eq!(one("Type"), "simple");
    assert_eq!(one("ExecStartPre"), "/usr/sbin/rttpd -t -c /etc/rttpd.conf");
    let start = one("ExecStart");
    assert!(start.starts_with("/usr/sbin/rttpd ") && start.ends_with(" -c /etc/rttpd.conf"));
    assert!(
        !start.contains(" -d"),
        "rttpd must stay in the foreground under Type=simple"
    );
    let reload = all("ExecReload");
    assert!(
        reload.iter().any(|r| r.contains("kill -HUP $MAINPID")),
        "ExecReload must send SIGHUP to the master: {reload:?}"
    );
    assert_eq!(one("KillMode"), "mixed");
    assert_eq!(one("Restart"), "on-failure");
    let caps: Vec<&str> = one("CapabilityBoundingSet").split_whitespace().collect();
    for cap in [
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
        "CAP_SETGID",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
    ] {
        assert!(caps.contains(&cap), "CapabilityBoundingSet lacks {cap}");
    }
    assert!(all("User").is_empty(), "the master must start as root");

    // The configs' systemd paths live in the directories the unit creates.
    let run = format!("/run/{}/", one("RuntimeDirectory"));
    let logs = format!("/var/log/{}/", one("LogsDirectory"));
    for p in board_confs() {
        for (k, v) in std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .filter_map(active_kv)
        {
            if k == "chroot_dir" && v.starts_with("/run/") {
                assert!(
                    v.starts_with(&run),
                    "{}: chroot_dir {v} outside {run}",
                    p.display()
                );
            }
            if k == "access_log" && v.starts_with("/var/log/") {
                assert!(
                    v.starts_with(&logs),
                    "{}: access_log {v} outside {logs}",
                    p.display()
                );
            }
        }
    }
}

/// The literal paths after `prefix` in a recipe (paths built from make
/// variables, like the Kconfig-chosen config, are checked separately).
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '\\')
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|p| !p.contains("$("))
        .collect()
}

#[test]
fn package_recipes_name_existing_files() {
    let mk = read("cross/openwrt/Makefile");
    for line in [
        "PKG_NAME:=rttpd",
        "PKG_BUILD_DEPENDS:=rust/host",
        "include ../../lang/rust/rust-package.mk",
        "$(eval $(call RustBinPackage,rttpd))",
        "$(eval $(call BuildPackage,rttpd))",
    ] {
        assert!(
            mk.lines().any(|l| l == line),
            "cross/openwrt/Makefile: no line {line:?}"
        );
    }
    let from = paths_after(&mk, "$(PKG_BUILD_DIR)/");
    assert!(
        from.len() >= 2,
        "the OpenWrt package installs the init script and a config"
    );
    for rel in from {
        assert!(
            repo().join(rel).is_file(),
            "cross/openwrt/Makefile installs missing {rel}"
        );
    }

    let br = read("cross/buildroot/rttpd/rttpd.mk");
    assert!(br.lines().any(|l| l == "$(eval $(cargo-package))"));
    for rel in paths_after(&br, "$(@D)/") {
        assert!(
            repo().join(rel).is_file(),
            "rttpd.mk installs missing {rel}"
        );
    }
    for rel in paths_after(&br, "$(RTTPD_PKGDIR)/") {
        assert!(
            repo().join("cross/buildroot/rttpd").join(rel).is_file(),
            "rttpd.mk installs missing {rel}"
        );
    }
    let kconfig = read("cross/buildroot/rttpd/Config.in");
    let defaults: Vec<&str> = kconfig
        .lines()
        .filter_map(|l| l.trim().strip_prefix("default \""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(!defaults.is_empty());
    for d in defaults {
        assert!(
            repo().join("board-configs").join(d).is_file(),
            "Config.in defaults to missing board-configs/{d}"
        );
    }
}

fn account_exists(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_digit())
        || std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(name))
}

/// x86_64.conf as shipped, with only what ties it to a real machine
/// rewritten: its listen lines become one free loopback port, each root a
/// temp dir, the access log and chroot_dir paths land in the temp dir, and
/// an account this machine lacks becomes nobody.  It must then serve.
#[test]
fn x86_64_config_really_serves() {
    let text = read("board-configs/x86_64.conf");
    let mut out = String::new();
    let (mut listens, mut roots, mut log_to_file) = (0, 0, false);
    for line in text.lines() {
        match active_kv(line) {
            Some(("listen", _)) => {
                if listens == 0 {
                    out.push_str("listen = 127.0.0.1:{port}\n");
                }
                listens += 1;
            }
            Some(("root", _)) => {
                out.push_str(&format!("root = {{dir}}/root{roots}\n"));
                roots += 1;
            }
            Some(("access_log", v)) if v.starts_with('/') => {
                out.push_str("access_log = {dir}/access.log\n");
                log_to_file = true;
            }
            Some(("chroot_dir", _)) => out.push_str("chroot_dir = {dir}/empty\n"),
            Some(("user", v)) if !account_exists(v) => out.push_str("user = nobody\n"),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    assert!(
        listens >= 1 && roots >= 1,
        "x86_64.conf has no listen or root line"
    );

    let dir = TempDir::new("boardcfg-x86_64");
    let body = b"served by board-configs/x86_64.conf\n";
    for i in 0..roots {
        dir.write(&format!("root{i}/index.html"), body);
    }
    let mut s = Server::with_config(dir, &out);
    let r = get(
        &s.addr(),
        "GET / HTTP/1.1\r\nHost: box.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "server log:\n{}", s.log());
    assert_eq!(r.body, body);

    if log_to_file {
        let log = s.dir.path().join("access.log");
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            if t.contains("\"GET / HTTP/1.1\" 200 ") {
                break;
            }
            assert!(Instant::now() < end, "access log {}: {t:?}", log.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let st = s.stop().expect("server was running");
    assert!(
        st.success(),
        "SIGTERM should stop it cleanly: {st:?}\n{}",
        s.log()
    );
}
