//! The line format of DESIGN.md (section Configuration).
//!
//! ```text
//! # comment            '#' to the end of the line is a comment, anywhere
//! key = value          whitespace around key and value is trimmed
//! [vhost NAME]         starts a vhost section; keys before the first are global
//! ```
//!
//! Values cannot contain `#`. Every key may be given once per scope, except
//! `listen` and `alias`, which repeat. Keywords in values (`yes`, `off`,
//! `debug`, `owner`, ...) are matched ignoring ASCII case; keys are not.
//! Without any `listen`, the server listens on `0.0.0.0:80`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::{Account, Config, ConfigError, LogTarget, Symlinks, VhostConfig};
use crate::limits;

/// Where a key may appear.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Global,
    Vhost,
    /// Global: the account of umaster and listeners; in a vhost: the worker's.
    Both,
    /// Named in DESIGN.md but not implemented yet: rejected everywhere.
    Reserved,
}

const KEYS: &[(&str, Scope)] = &[
    ("listen", Scope::Global),
    ("listeners", Scope::Global),
    ("max_connections", Scope::Global),
    ("header_buffer", Scope::Global),
    ("keepalive_timeout", Scope::Global),
    ("header_timeout", Scope::Global),
    ("send_timeout", Scope::Global),
    ("access_log", Scope::Global),
    ("log_level", Scope::Global),
    ("chroot_dir", Scope::Global),
    ("user", Scope::Both),
    ("group", Scope::Both),
    ("root", Scope::Vhost),
    ("alias", Scope::Vhost),
    ("index", Scope::Vhost),
    ("default", Scope::Vhost),
    ("chroot", Scope::Vhost),
    ("dotfiles", Scope::Vhost),
    ("gzip_static", Scope::Vhost),
    ("follow_symlinks", Scope::Vhost),
    ("settings", Scope::Vhost),
    ("listing", Scope::Vhost),
    ("cgi", Scope::Reserved),
];

/// Keys that may be given more than once in their scope.
const REPEATABLE: &[&str] = &["listen", "alias"];

/// Longest host name (RFC 1035: 253 characters without the final dot).
const MAX_HOST_NAME_BYTES: usize = 253;

/// Longest account name (useradd's limit on Linux).
const MAX_ACCOUNT_NAME_BYTES: usize = 32;

/// Longest value quoted back in an error message.
const MAX_SHOWN_CHARS: usize = 64;

/// The default listening address when the file has no `listen`.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80);

/// Parses a whole config file. `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        cfg: Config::defaults(file),
        seen: Vec::new(),
        default_vhost: None,
    };
    let mut last_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        last_line = n;
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let done = if line.starts_with('[') {
            p.section(line, n)
        } else {
            p.key_value(line, n)
        };
        done.map_err(|msg| error(file, n, msg))?;
    }
    p.finish(last_line.max(1))
        .map_err(|(n, msg)| error(file, n, msg))
}

fn error(file: &str, line: usize, msg: String) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        line,
        msg,
    }
}

struct Parser {
    cfg: Config,
    /// Keys set in the current scope, with their line (reset per section).
    seen: Vec<(&'static str, usize)>,
    /// Name and line of the vhost that has `default = yes`.
    default_vhost: Option<(String, usize)>,
}

impl Parser {
    fn section(&mut self, line: &str, n: usize) -> Result<(), String> {
        let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            return Err("expected '[vhost NAME]'".into());
        };
        let inner = inner.trim();
        let (kind, name) = match inner.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((kind, name)) => (kind, name.trim()),
            None => (inner, ""),
        };
        if kind != "vhost" {
            return Err(format!("unknown section '[{}]'", show(inner)));
        }
        if name.is_empty() {
            return Err("expected '[vhost NAME]'".into());
        }
        if !valid_vhost_name(name) {
            return Err(format!(
                "bad vhost name '{}' (1 to {} of A-Z a-z 0-9 . _ - *)",
                show(name),
                limits::MAX_NAME_BYTES
            ));
        }
        let vhosts = &self.cfg.vhosts;
        if let Some(v) = vhosts.iter().find(|v| v.name.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "duplicate vhost '{name}' (first on line {})",
                v.line
            ));
        }
        if vhosts.len() >= limits::MAX_VHOSTS {
            return Err(format!("too many vhosts (at most {})", limits::MAX_VHOSTS));
        }
        let mut vhost = VhostConfig::new(name, n, PathBuf::new());
        if looks_like_host(name) {
            let Some(host) = host_pattern(name) else {
                return Err(format!(
                    "vhost name '{name}' has a '.' but is not a valid host name"
                ));
            };
            if let Some(owner) = self.host_owner(&host) {
                return Err(format!("host '{host}' is already used by vhost '{owner}'"));
            }
            vhost.aliases.push(host);
        }
        self.cfg.vhosts.push(vhost);
        self.seen.clear();
        Ok(())
    }

    fn key_value(&mut self, line: &str, n: usize) -> Result<(), String> {
        let Some((key, value)) = line.split_once('=') else {
            return Err("expected 'key = value'".into());
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err("expected 'key = value'".into());
        }
        let Some(&(key, scope)) = KEYS.iter().find(|(k, _)| *k == key) else {
            return Err(format!("unknown key '{}'", show(key)));
        };
        let in_vhost = !self.cfg.vhosts.is_empty();
        match (scope, in_vhost) {
            (Scope::Reserved, _) => return Err(format!("'{key}' is not supported yet")),
            (Scope::Global, true) => {
                return Err(format!(
                    "'{key}' is a global key; put it before the first [vhost] section"
                ));
            }
            (Scope::Vhost, false) => {
                return Err(format!("'{key}' belongs in a [vhost NAME] section"));
            }
            _ => {}
        }
        if !REPEATABLE.contains(&key) {
            if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == key) {
                return Err(format!("'{key}' is already set on line {first}"));
            }
            self.seen.push((key, n));
        }
        if value.is_empty() {
            return Err(format!("'{key}' needs a value"));
        }
        if in_vhost {
            self.vhost_key(key, value, n)
        } else {
            self.global_key(key, value)
        }
    }

    fn global_key(&mut self, key: &'static str, value: &str) -> Result<(), String> {
        let cfg = &mut self.cfg;
        match key {
            "listen" => {
                let addr = parse_listen(value).ok_or_else(|| {
                    format!(
                        "'listen' must be ADDR:PORT, [IPv6]:PORT or PORT, with PORT from 1 to 65535; not '{}'",
                        show(value)
                    )
                })?;
                if cfg.listen.contains(&addr) {
                    return Err(format!("listen address {addr} is given twice"));
                }
                if cfg.listen.len() >= limits::MAX_LISTEN {
                    return Err(format!(
                        "too many 'listen' addresses (at most {})",
                        limits::MAX_LISTEN
                    ));
                }
                cfg.listen.push(addr);
            }
            "user" => cfg.user = account(key, value)?,
            "group" => cfg.group = Some(account(key, value)?),
            "listeners" => cfg.listeners = number(key, value, 0, limits::MAX_LISTENERS)?,
            "max_connections" => {
                cfg.max_connections = number(key, value, 1, limits::MAX_MAX_CONNECTIONS)?
            }
            "header_buffer" => {
                cfg.header_buffer = number(
                    key,
                    value,
                    limits::MIN_HEADER_BUFFER,
                    limits::MAX_HEADER_BUFFER,
                )?
            }
            "keepalive_timeout" => cfg.keepalive_timeout_ms = seconds_ms(key, value)?,
            "header_timeout" => cfg.header_timeout_ms = seconds_ms(key, value)?,
            "send_timeout" => cfg.send_timeout_ms = seconds_ms(key, value)?,
            "access_log" => {
                cfg.access_log = if value.eq_ignore_ascii_case("off") {
                    LogTarget::Off
                } else if value.eq_ignore_ascii_case("stderr") {
                    LogTarget::Stderr
                } else if value.starts_with('/') {
                    LogTarget::File(abs_path(key, value)?)
                } else {
                    return Err("'access_log' must be off, stderr or an absolute path".into());
                }
            }
            "log_level" => {
                cfg.log_level = log_level(value).ok_or_else(|| {
                    "'log_level' must be error, warn, info, debug, trace or off".to_string()
                })?
            }
            "chroot_dir" => cfg.chroot_dir = abs_path(key, value)?,
            _ => return Err(format!("'{key}' belongs in a [vhost NAME] section")),
        }
        Ok(())
    }

    fn vhost_key(&mut self, key: &'static str, value: &str, n: usize) -> Result<(), String> {
        if key == "alias" {
            return self.alias(value);
        }
        if key == "default" && boolean(key, value)? {
            if let Some((name, line)) = &self.default_vhost {
                return Err(format!(
                    "vhost '{name}' is already the default (line {line})"
                ));
            }
        }
        let Some(vhost) = self.cfg.vhosts.last_mut() else {
            return Err(format!("'{key}' belongs in a [vhost NAME] section"));
        };
        match key {
            "root" => vhost.root = abs_path(key, value)?,
            "user" => vhost.user = Some(account(key, value)?),
            "group" => vhost.group = Some(account(key, value)?),
            "index" => vhost.index = index(value)?,
            "default" => {
                vhost.default = boolean(key, value)?;
                if vhost.default {
                    self.default_vhost = Some((vhost.name.clone(), n));
                }
            }
            "chroot" => vhost.chroot = boolean(key, value)?,
            "dotfiles" => vhost.dotfiles = boolean(key, value)?,
            "gzip_static" => vhost.gzip_static = boolean(key, value)?,
            "listing" => vhost.listing = boolean(key, value)?,
            "settings" => vhost.settings = Some(abs_path(key, value)?),
            "follow_symlinks" => {
                vhost.follow_symlinks = if value.eq_ignore_ascii_case("owner") {
                    Symlinks::Owner
                } else if value.eq_ignore_ascii_case("no") {
                    Symlinks::No
                } else {
                    return Err("'follow_symlinks' must be owner or no".into());
                }
            }
            _ => {
                return Err(format!(
                    "'{key}' is a global key; put it before the first [vhost] section"
                ));
            }
        }
        Ok(())
    }

    /// `alias = NAME...`: one or more host names, space separated.
    fn alias(&mut self, value: &str) -> Result<(), String> {
        for word in value.split_ascii_whitespace() {
            let has_port = match word.strip_prefix('[') {
                Some(rest) => rest.contains("]:"),
                None => word.contains(':'),
            };
            if has_port {
                return Err(format!("alias '{}' must not contain a port", show(word)));
            }
            let Some(host) = host_pattern(word) else {
                return Err(format!(
                    "alias '{}' is not a host name, *.host name or [IPv6] address",
                    show(word)
                ));
            };
            if let Some(owner) = self.host_owner(&host) {
                return Err(format!("host '{host}' is already used by vhost '{owner}'"));
            }
            let Some(vhost) = self.cfg.vhosts.last_mut() else {
                return Err("'alias' belongs in a [vhost NAME] section".into());
            };
            // The vhost's own name counts even when it is not a host name.
            let names = vhost.aliases.len() + usize::from(!looks_like_host(&vhost.name));
            if names >= limits::MAX_NAMES_PER_VHOST {
                return Err(format!(
                    "too many names for vhost '{}' (at most {} with its own)",
                    vhost.name,
                    limits::MAX_NAMES_PER_VHOST
                ));
            }
            vhost.aliases.push(host);
        }
        Ok(())
    }

    /// The vhost that already answers to `host`, if any.
    fn host_owner(&self, host: &str) -> Option<&str> {
        self.cfg
            .vhosts
            .iter()
            .find(|v| v.aliases.iter().any(|a| a == host))
            .map(|v| v.name.as_str())
    }

    fn finish(mut self, last_line: usize) -> Result<Config, (usize, String)> {
        if self.cfg.vhosts.is_empty() {
            return Err((last_line, "no [vhost NAME] section".into()));
        }
        if let Some(v) = self
            .cfg
            .vhosts
            .iter()
            .find(|v| v.root.as_os_str().is_empty())
        {
            return Err((v.line, format!("vhost '{}' has no root", v.name)));
        }
        for v in &self.cfg.vhosts {
            if let (true, Some(s)) = (v.chroot, &v.settings) {
                if !s.starts_with(&v.root) || s == &v.root {
                    return Err((
                        v.line,
                        format!(
                            "vhost '{}': with chroot = yes, its settings file must be inside its root",
                            v.name
                        ),
                    ));
                }
            }
        }
        if self.cfg.listen.is_empty() {
            self.cfg.listen.push(DEFAULT_LISTEN);
        }
        Ok(self.cfg)
    }
}

/// `value` cut to a length fit for an error message.
pub(crate) fn show(value: &str) -> String {
    let mut s: String = value
        .chars()
        .take(MAX_SHOWN_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if value.chars().nth(MAX_SHOWN_CHARS).is_some() {
        s += "...";
    }
    s
}

/// A section name that is also a host name routes requests to its vhost.
fn looks_like_host(name: &str) -> bool {
    name.contains('.') || name.eq_ignore_ascii_case("localhost")
}

/// 1..=64 of `[A-Za-z0-9._-*]`.
fn valid_vhost_name(name: &str) -> bool {
    (1..=limits::MAX_NAME_BYTES).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'*'))
}

/// A decimal number in `min..=max` (digits only: no sign, no spaces).
fn number(key: &str, value: &str, min: usize, max: usize) -> Result<usize, String> {
    digits(value)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("'{key}' must be a number from {min} to {max}"))
}

/// Whole seconds, 1..=3600, returned in milliseconds.
fn seconds_ms(key: &str, value: &str) -> Result<u64, String> {
    digits(value)
        .filter(|n| (1..=3600).contains(n))
        .map(|n| n * 1000)
        .ok_or_else(|| format!("'{key}' must be a number of seconds from 1 to 3600"))
}

/// All ASCII digits, at most 19 of them (so the value fits a `u64`).
fn digits(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

pub(crate) fn boolean(key: &str, value: &str) -> Result<bool, String> {
    const YES: &[&str] = &["yes", "true", "on", "1"];
    const NO: &[&str] = &["no", "false", "off", "0"];
    if YES.iter().any(|y| value.eq_ignore_ascii_case(y)) {
        Ok(true)
    } else if NO.iter().any(|n| value.eq_ignore_ascii_case(n)) {
        Ok(false)
    } else {
        Err(format!("'{key}' must be yes or no"))
    }
}

fn log_level(value: &str) -> Option<log::LevelFilter> {
    use log::LevelFilter as L;
    [
        ("off", L::Off),
        ("error", L::Error),
        ("warn", L::Warn),
        ("info", L::Info),
        ("debug", L::Debug),
        ("trace", L::Trace),
    ]
    .into_iter()
    .find(|(name, _)| value.eq_ignore_ascii_case(name))
    .map(|(_, level)| level)
}

/// An absolute path of at most `MAX_PATH_BYTES`, without control characters.
fn abs_path(key: &str, value: &str) -> Result<PathBuf, String> {
    if !value.starts_with('/') || value.chars().any(char::is_control) {
        return Err(format!("'{key}' must be an absolute path"));
    }
    if value.len() > limits::MAX_PATH_BYTES {
        return Err(format!(
            "'{key}' is longer than {} bytes",
            limits::MAX_PATH_BYTES
        ));
    }
    Ok(PathBuf::from(value))
}

fn account(key: &str, value: &str) -> Result<Account, String> {
    parse_account(value).ok_or_else(|| {
        format!(
            "'{key}' must be an account name or number, not '{}'",
            show(value)
        )
    })
}

/// `index = NAME...`: 1..=`MAX_INDEX_NAMES` plain file names.
pub(crate) fn index(value: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = value.split_ascii_whitespace().map(String::from).collect();
    if names.len() > limits::MAX_INDEX_NAMES {
        return Err(format!(
            "'index' takes 1 to {} file names",
            limits::MAX_INDEX_NAMES
        ));
    }
    for name in &names {
        if name.contains('/') || name == "." || name == ".." || name.chars().any(char::is_control) {
            return Err(format!("index name '{}' is not a file name", show(name)));
        }
        if name.len() > limits::MAX_INDEX_NAME_BYTES {
            return Err(format!(
                "index name '{}' is longer than {} bytes",
                show(name),
                limits::MAX_INDEX_NAME_BYTES
            ));
        }
    }
    Ok(names)
}

/// An account: all digits is a number (0..=4294967294; -1 means "unchanged"
/// to setuid), else a name: a letter or `_`, then `[A-Za-z0-9._-]`, ≤ 32 bytes.
pub(crate) fn parse_account(value: &str) -> Option<Account> {
    let bytes = value.as_bytes();
    let first = *bytes.first()?;
    if bytes.iter().all(u8::is_ascii_digit) {
        return digits(value)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n != u32::MAX)
            .map(Account::Id);
    }
    let name_ok = (first.is_ascii_alphabetic() || first == b'_')
        && bytes.len() <= MAX_ACCOUNT_NAME_BYTES
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    name_ok.then(|| Account::Name(value.to_string()))
}

/// `ADDR:PORT`, `[IPv6]:PORT` or a bare `PORT` (meaning `0.0.0.0:PORT`);
/// PORT is 1..=65535. No host names: nothing here resolves names.
pub(crate) fn parse_listen(value: &str) -> Option<SocketAddr> {
    let (addr, port) = if value.bytes().all(|b| b.is_ascii_digit()) {
        (None, value)
    } else {
        let (addr, port) = value.rsplit_once(':')?;
        (Some(addr), port)
    };
    let port = digits(port)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)?;
    let ip = match addr {
        None => std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(a) => match a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
            Some(v6) => std::net::IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?),
            None => std::net::IpAddr::V4(a.parse::<Ipv4Addr>().ok()?),
        },
    };
    Some(SocketAddr::new(ip, port))
}

/// A host name as it routes: lower-cased; `*.` + host name for a wildcard;
/// `[IPv6]` in its RFC 5952 form (as browsers send it). None if invalid.
pub(crate) fn host_pattern(value: &str) -> Option<String> {
    if let Some(v6) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        return Some(format!("[{}]", v6.parse::<Ipv6Addr>().ok()?));
    }
    let host = value.to_ascii_lowercase();
    let name = host.strip_prefix("*.").unwrap_or(&host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (name.len() <= MAX_HOST_NAME_BYTES && name.split('.').all(label_ok)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const GOOD: &str = "\
# /etc/rttpd.conf
listen = 0.0.0.0:80
listen = [::]:80
user = rttpd              # account of umaster and listeners
listeners = 1             # default: number of cores
max_connections = 128     # per listener; memory is fixed by this
header_buffer = 8192
keepalive_timeout = 5
header_timeout = 7
send_timeout = 60
access_log = /var/log/rttpd.log   # or off
log_level = debug
chroot_dir = /var/empty/rttpd

[vhost default]
root = /www
user = www
index = index.html index.htm

[vhost example.org]
alias = www.example.org
root = /srv/example
user = 2001
group = 2001
chroot = yes
";

    fn ok(text: &str) -> Config {
        match parse(text, "t.conf") {
            Ok(c) => c,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse(text, "t.conf") {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn full_config() {
        let c = ok(GOOD);
        assert_eq!(c.file, "t.conf");
        assert_eq!(
            c.listen,
            vec![
                "0.0.0.0:80".parse::<SocketAddr>().unwrap(),
                "[::]:80".parse().unwrap()
            ]
        );
        assert_eq!(c.user, Account::Name("rttpd".into()));
        assert_eq!(c.group, None);
        assert_eq!(c.listeners, 1);
        assert_eq!(c.max_connections, 128);
        assert_eq!(c.header_buffer, 8192);
        assert_eq!(c.keepalive_timeout_ms, 5_000);
        assert_eq!(c.header_timeout_ms, 7_000);
        assert_eq!(c.send_timeout_ms, 60_000);
        assert_eq!(c.access_log, LogTarget::File("/var/log/rttpd.log".into()));
        assert_eq!(c.log_level, log::LevelFilter::Debug);
        assert_eq!(c.chroot_dir, Path::new("/var/empty/rttpd"));
        assert_eq!(c.vhosts.len(), 2);

        let d = &c.vhosts[0];
        assert_eq!((d.name.as_str(), d.line), ("default", 15));
        assert!(d.aliases.is_empty(), "'default' is not a host name");
        assert_eq!(d.root, Path::new("/www"));
        assert_eq!(d.user, Some(Account::Name("www".into())));
        assert_eq!(d.group, None);
        assert_eq!(d.index, vec!["index.html", "index.htm"]);
        assert!(!d.default && !d.chroot && !d.dotfiles && d.gzip_static);
        assert_eq!(d.follow_symlinks, Symlinks::Owner);

        let mut want = VhostConfig::new("example.org", 20, "/srv/example".into());
        want.aliases = vec!["example.org".into(), "www.example.org".into()];
        want.user = Some(Account::Id(2001));
        want.group = Some(Account::Id(2001));
        want.chroot = true;
        assert_eq!(c.vhosts[1], want);
    }

    #[test]
    fn defaults_minimal_file() {
        let c = ok("[vhost a]\nroot = /a\n");
        let mut want = Config::defaults("t.conf");
        want.listen = vec![DEFAULT_LISTEN];
        want.vhosts = vec![VhostConfig::new("a", 1, "/a".into())];
        assert_eq!(c, want);
        assert_eq!(c.listen[0].to_string(), "0.0.0.0:80");
    }

    #[test]
    fn comments_blank_lines_and_spacing() {
        let text = "\u{feff}# head\r\n\r\n   \n\t# indented comment\nlisten=8080#no space\n\
                    [ vhost   Localhost ]   # trailing\n  root\t=  /srv/x y  \r\n\
                    alias = A.Example.ORG   b.example.org # two\n#root = /nope\n";
        let c = ok(text);
        assert_eq!(c.listen, vec!["0.0.0.0:8080".parse().unwrap()]);
        let v = &c.vhosts[0];
        assert_eq!((v.name.as_str(), v.line), ("Localhost", 6));
        assert_eq!(v.root, Path::new("/srv/x y"));
        assert_eq!(
            v.aliases,
            vec!["localhost", "a.example.org", "b.example.org"]
        );
    }

    #[test]
    fn values_and_keywords() {
        let c = ok(
            "access_log = OFF\nlog_level = off\ngroup = _g-1.x\nuser = 0\n\
                    [vhost *.example.org]\nroot = /r\ndefault = On\ndotfiles = true\n\
                    gzip_static = 0\nfollow_symlinks = no\nindex = a.html\n\
                    alias = [0:0::1] 10.0.0.1 *.example.net\n",
        );
        assert_eq!(c.access_log, LogTarget::Off);
        assert_eq!(c.log_level, log::LevelFilter::Off);
        assert_eq!(c.user, Account::Id(0));
        assert_eq!(c.group, Some(Account::Name("_g-1.x".into())));
        let v = &c.vhosts[0];
        assert!(v.default && v.dotfiles && !v.gzip_static);
        assert_eq!(v.follow_symlinks, Symlinks::No);
        assert_eq!(v.index, vec!["a.html"]);
        assert_eq!(
            v.aliases,
            vec!["*.example.org", "[::1]", "10.0.0.1", "*.example.net"]
        );
        assert_eq!(
            ok("access_log = stderr\n[vhost a]\nroot=/\n").access_log,
            LogTarget::Stderr
        );
    }

    #[test]
    fn limits_at_their_edges() {
        let mut text = String::new();
        for p in 1..=limits::MAX_LISTEN {
            text += &format!("listen = {p}\n");
        }
        text += "listeners = 16\nmax_connections = 65536\nheader_buffer = 1024\n\
                 send_timeout = 3600\n[vhost a]\nroot = /a\n\
                 alias = b1.x b2.x b3.x b4.x b5.x b6.x b7.x\nindex = a b c d\n";
        let c = ok(&text);
        assert_eq!(c.listen.len(), limits::MAX_LISTEN);
        assert_eq!(c.vhosts[0].aliases.len(), 7, "7 aliases + the name 'a'");
        let name = "x".repeat(64);
        let c = ok(&format!("[vhost {name}]\nroot = /r\n"));
        assert_eq!(c.vhosts[0].name, name);
        let mut text = String::new();
        for i in 0..limits::MAX_VHOSTS {
            text += &format!("[vhost v{i}]\nroot = /r\n");
        }
        assert_eq!(ok(&text).vhosts.len(), limits::MAX_VHOSTS);
        text += "[vhost extra]\nroot = /r\n";
        assert_eq!(err(&text), "t.conf:65: too many vhosts (at most 32)");
    }

    #[test]
    fn errors() {
        let long = "a".repeat(65);
        let v = "[vhost v]\nroot = /r\n";
        let cases: Vec<(String, &str)> = vec![
            ("listne = 80\n".into(), "t.conf:1: unknown key 'listne'"),
            ("\n\nUser = x\n".into(), "t.conf:3: unknown key 'User'"),
            (
                "max_connections = lots\n".into(),
                "t.conf:1: 'max_connections' must be a number from 1 to 65536",
            ),
            (
                "max_connections = 65537\n".into(),
                "t.conf:1: 'max_connections' must be a number from 1 to 65536",
            ),
            (
                "max_connections = 0\n".into(),
                "t.conf:1: 'max_connections' must be a number from 1 to 65536",
            ),
            (
                "max_connections = -1\n".into(),
                "t.conf:1: 'max_connections' must be a number from 1 to 65536",
            ),
            (
                "max_connections = 99999999999999999999999\n".into(),
                "t.conf:1: 'max_connections' must be a number from 1 to 65536",
            ),
            (
                "listeners = 17\n".into(),
                "t.conf:1: 'listeners' must be a number from 0 to 16",
            ),
            (
                "header_buffer = 1023\n".into(),
                "t.conf:1: 'header_buffer' must be a number from 1024 to 65536",
            ),
            (
                "keepalive_timeout = 0\n".into(),
                "t.conf:1: 'keepalive_timeout' must be a number of seconds from 1 to 3600",
            ),
            (
                "header_timeout = 3601\n".into(),
                "t.conf:1: 'header_timeout' must be a number of seconds from 1 to 3600",
            ),
            (
                "send_timeout = 1.5\n".into(),
                "t.conf:1: 'send_timeout' must be a number of seconds from 1 to 3600",
            ),
            ("listen 80\n".into(), "t.conf:1: expected 'key = value'"),
            ("= 80\n".into(), "t.conf:1: expected 'key = value'"),
            ("listen =\n".into(), "t.conf:1: 'listen' needs a value"),
            (
                "[server x]\n".into(),
                "t.conf:1: unknown section '[server x]'",
            ),
            ("[vhost]\n".into(), "t.conf:1: expected '[vhost NAME]'"),
            ("[vhost x\n".into(), "t.conf:1: expected '[vhost NAME]'"),
            (
                "[vhost a b]\n".into(),
                "t.conf:1: bad vhost name 'a b' (1 to 64 of A-Z a-z 0-9 . _ - *)",
            ),
            (
                format!("[vhost {long}]\n"),
                "t.conf:1: bad vhost name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' (1 to 64 of A-Z a-z 0-9 . _ - *)",
            ),
            (
                "[vhost a..b]\n".into(),
                "t.conf:1: vhost name 'a..b' has a '.' but is not a valid host name",
            ),
            (
                format!("{v}[vhost V]\nroot = /r\n"),
                "t.conf:3: duplicate vhost 'V' (first on line 1)",
            ),
            (
                format!("{v}listeners = 2\n"),
                "t.conf:3: 'listeners' is a global key; put it before the first [vhost] section",
            ),
            (
                "root = /www\n".into(),
                "t.conf:1: 'root' belongs in a [vhost NAME] section",
            ),
            (
                "alias = x.org\n".into(),
                "t.conf:1: 'alias' belongs in a [vhost NAME] section",
            ),
            (
                "[vhost a]\nindex = x\n".into(),
                "t.conf:1: vhost 'a' has no root",
            ),
            (format!("[vhost a]\n{v}"), "t.conf:1: vhost 'a' has no root"),
            (
                "[vhost a]\nroot = www\n".into(),
                "t.conf:2: 'root' must be an absolute path",
            ),
            (
                format!("[vhost a]\nroot = /{}\n", "r".repeat(256)),
                "t.conf:2: 'root' is longer than 256 bytes",
            ),
            (
                format!("{v}root = /s\n"),
                "t.conf:3: 'root' is already set on line 2",
            ),
            (
                "user = a\nuser = b\n".into(),
                "t.conf:2: 'user' is already set on line 1",
            ),
            (
                format!("{v}default = yes\n[vhost w]\nroot = /w\ndefault = yes\n"),
                "t.conf:6: vhost 'v' is already the default (line 3)",
            ),
            (
                format!("{v}default = maybe\n"),
                "t.conf:3: 'default' must be yes or no",
            ),
            (
                format!("{v}follow_symlinks = yes\n"),
                "t.conf:3: 'follow_symlinks' must be owner or no",
            ),
            (
                "listen = 80\nlisten = 0.0.0.0:80\n".into(),
                "t.conf:2: listen address 0.0.0.0:80 is given twice",
            ),
            (
                "listen = 0\n".into(),
                "t.conf:1: 'listen' must be ADDR:PORT, [IPv6]:PORT or PORT, with PORT from 1 to 65535; not '0'",
            ),
            (
                "listen = localhost:80\n".into(),
                "t.conf:1: 'listen' must be ADDR:PORT, [IPv6]:PORT or PORT, with PORT from 1 to 65535; not 'localhost:80'",
            ),
            (
                "listen = ::1:80\n".into(),
                "t.conf:1: 'listen' must be ADDR:PORT, [IPv6]:PORT or PORT, with PORT from 1 to 65535; not '::1:80'",
            ),
            (
                "listen = 1.2.3.4:65536\n".into(),
                "t.conf:1: 'listen' must be ADDR:PORT, [IPv6]:PORT or PORT, with PORT from 1 to 65535; not '1.2.3.4:65536'",
            ),
            (
                (1..=9).map(|p| format!("listen = {p}\n")).collect(),
                "t.conf:9: too many 'listen' addresses (at most 8)",
            ),
            (
                format!("{v}alias = x.org:8080\n"),
                "t.conf:3: alias 'x.org:8080' must not contain a port",
            ),
            (
                format!("{v}alias = [::1]:80\n"),
                "t.conf:3: alias '[::1]:80' must not contain a port",
            ),
            (
                format!("{v}alias = -x.org\n"),
                "t.conf:3: alias '-x.org' is not a host name, *.host name or [IPv6] address",
            ),
            (
                format!("{v}alias = a.*.org\n"),
                "t.conf:3: alias 'a.*.org' is not a host name, *.host name or [IPv6] address",
            ),
            (
                format!("{v}alias = *\n"),
                "t.conf:3: alias '*' is not a host name, *.host name or [IPv6] address",
            ),
            (
                format!("{v}alias = [fe80::zz]\n"),
                "t.conf:3: alias '[fe80::zz]' is not a host name, *.host name or [IPv6] address",
            ),
            (
                format!("{v}alias = b.org\n[vhost w]\nroot = /w\nalias = x.org B.org\n"),
                "t.conf:6: host 'b.org' is already used by vhost 'v'",
            ),
            (
                format!("{v}alias = b.org\n[vhost B.ORG]\n"),
                "t.conf:4: host 'b.org' is already used by vhost 'v'",
            ),
            (
                "[vhost a.org]\nalias = a.org\n".into(),
                "t.conf:2: host 'a.org' is already used by vhost 'a.org'",
            ),
            (
                "[vhost a.org]\nroot = /\nalias = 1.x 2.x 3.x 4.x 5.x 6.x 7.x 8.x\n".into(),
                "t.conf:3: too many names for vhost 'a.org' (at most 8 with its own)",
            ),
            (
                format!("{v}index = a b c d e\n"),
                "t.conf:3: 'index' takes 1 to 4 file names",
            ),
            (
                format!("{v}index = a/b\n"),
                "t.conf:3: index name 'a/b' is not a file name",
            ),
            (
                format!("{v}index = ..\n"),
                "t.conf:3: index name '..' is not a file name",
            ),
            (
                format!("{v}index = {}\n", "i".repeat(65)),
                "t.conf:3: index name 'iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii...' is longer than 64 bytes",
            ),
            (
                "user = 9x\n".into(),
                "t.conf:1: 'user' must be an account name or number, not '9x'",
            ),
            (
                "group = 4294967295\n".into(),
                "t.conf:1: 'group' must be an account name or number, not '4294967295'",
            ),
            (
                format!("user = {}\n", "u".repeat(33)),
                "t.conf:1: 'user' must be an account name or number, not 'uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu'",
            ),
            (
                "access_log = syslog\n".into(),
                "t.conf:1: 'access_log' must be off, stderr or an absolute path",
            ),
            (
                "log_level = loud\n".into(),
                "t.conf:1: 'log_level' must be error, warn, info, debug, trace or off",
            ),
            (
                "chroot_dir = empty\n".into(),
                "t.conf:1: 'chroot_dir' must be an absolute path",
            ),
            (
                format!("{v}chroot = yes\nsettings = /www/.rttpd\n"),
                "t.conf:1: vhost 'v': with chroot = yes, its settings file must be inside its root",
            ),
            (
                format!("{v}settings = www/.rttpd\n"),
                "t.conf:3: 'settings' must be an absolute path",
            ),
            (
                "cgi = /cgi-bin/\n".into(),
                "t.conf:1: 'cgi' is not supported yet",
            ),
            ("".into(), "t.conf:1: no [vhost NAME] section"),
            (
                "listen = 80\n\n# end\n".into(),
                "t.conf:3: no [vhost NAME] section",
            ),
        ];
        let mut failed = Vec::new();
        for (text, want) in &cases {
            let got = parse(text, "t.conf").map(|_| ()).map_err(|e| e.to_string());
            if got != Err(want.to_string()) {
                failed.push(format!("{text:?}\n   want {want}\n    got {got:?}"));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn design_example_needs_cgi_and_settings() {
        let design = GOOD.replace(
            "index = index.html index.htm\n",
            "index = index.html index.htm\ncgi = /cgi-bin/\n",
        );
        assert_eq!(err(&design), "t.conf:19: 'cgi' is not supported yet");
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for text in [
            "[",
            "]",
            "[]",
            "[vhost ]",
            "=",
            "==",
            "#",
            "[vhost é.org]",
            "user = é",
            "\u{0}",
            "listen = []:80",
            "listen = [:80",
            "listen = :",
            "listen = 1:",
            "[vhost a]\nalias = [",
            "[vhost a]\nalias = é",
            "[vhost a]\nroot = /\u{0}",
            "[vhost a]\nindex = \u{0}",
        ] {
            assert!(parse(text, "f").is_err(), "{text:?}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(parse_listen("8080"), Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(parse_listen("[::1]:80"), Some("[::1]:80".parse().unwrap()));
        assert_eq!(parse_listen("+80"), None);
        assert_eq!(parse_listen("1.2.3.4:+80"), None);
        assert_eq!(parse_listen("[::1]"), None);
        assert_eq!(
            parse_account("4294967294"),
            Some(Account::Id(4_294_967_294))
        );
        assert_eq!(parse_account(""), None);
        assert_eq!(
            host_pattern("[2001:DB8:0::1]").as_deref(),
            Some("[2001:db8::1]")
        );
        assert_eq!(host_pattern("a.b.").as_deref(), None);
        assert_eq!(show(&"é".repeat(70)), format!("{}...", "é".repeat(64)));
    }
}
