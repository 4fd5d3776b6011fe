//! The owner-editable settings file of one vhost (`settings =` in its
//! section).
//!
//! The vhost's owner edits it and the vhost worker parses it, as the
//! owner's uid, each time it changes. So it may change how the site
//! behaves, never privileges, placement or limits: keys for those are
//! refused by name, and every value that reaches a response head is checked
//! so that it cannot add a header line or break framing.
//!
//! Same line format as the main config (`key = value`, `#` to the end of a
//! line is a comment, so values cannot contain `#`); no sections; every
//! list key repeats, `index` and `listing` are given once:
//!
//! ```text
//! index = index.html home.htm                  # 1 to 4 file names
//! listing = yes                                # yes/no/on/off/true/false/1/0
//! error_page = 404 /errors/404.html            # status 400..=599, path inside the root
//! header = /static/ Cache-Control: max-age=60  # path prefix ...
//! header = *.css Cache-Control: max-age=3600   # ... or extension pattern
//! mime = .apk application/vnd.android.package-archive
//! auth = /private/ "Staff only" /srv/site/.htpasswd
//! redirect = /old/ 301 https://example.org/new/
//! ```
//!
//! Paths (error pages and prefixes) are written as in a URL: they are
//! percent-decoded and normalised like a request path
//! ([`crate::http::target::normalize`]), and matched against the decoded,
//! normalised request path byte for byte.

use super::ConfigError;
use super::parse::{boolean, index, show};
use crate::http::target;
use crate::http::writer::Writer;
use crate::limits;

/// Largest settings file: it is read whole on every change.
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// Most rules of one kind (error pages, headers, MIME types, auth,
/// redirects): lookups are linear scans per request.
pub const MAX_RULES: usize = 32;

/// Longest value of one line.
pub const MAX_VALUE_BYTES: usize = 512;

/// Longest extension in a `*.EXT` pattern or a `mime` line.
pub const MAX_EXT_BYTES: usize = 16;

/// Keys of the main config (and names an owner might try) that touch
/// privileges, placement or limits. Matched ignoring ASCII case.
const FORBIDDEN_KEYS: &[&str] = &[
    "user",
    "group",
    "root",
    "chroot",
    "listen",
    "listeners",
    "max_connections",
    "header_buffer",
    "keepalive_timeout",
    "header_timeout",
    "send_timeout",
    "access_log",
    "log_level",
    "chroot_dir",
    "cgi",
    "cgi_interpreter",
    "interpreter",
    "settings",
    "alias",
    "default",
    "follow_symlinks",
    "dotfiles",
];

/// Response headers an owner may not set: they frame the message
/// (RFC 9112 §6, §9.6), are hop-by-hop (RFC 9110 §7.6.1), or the server
/// computes them and a second copy would contradict it. `Proxy-*` is
/// refused as a prefix. Set-Cookie, Cache-Control, CSP, ... stay allowed.
const SERVER_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "trailer",
    "te",
    "date",
    "server",
    "content-range",
    "content-encoding",
    "content-type",
    "accept-ranges",
    "etag",
    "last-modified",
    "location",
    "www-authenticate",
    "allow",
];

/// The settings of one vhost. `None` and empty lists mean "as the main
/// config says".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `index =`: replaces the vhost's index names.
    pub index: Option<Vec<String>>,
    /// `listing =`: directory listings on or off (the server's default: off).
    pub listing: Option<bool>,
    /// `error_page = STATUS /PATH`: normalised paths inside the root.
    pub error_pages: Vec<(u16, String)>,
    /// `header = MATCH Name: value`, in file order.
    pub headers: Vec<HeaderRule>,
    /// `mime = EXT TYPE`: lower-case extension without its dot, media type.
    pub mime: Vec<(String, String)>,
    pub auth: Vec<AuthRule>,
    pub redirects: Vec<Redirect>,
}

/// Which request paths a header rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// A normalised path prefix, starting with '/'.
    Prefix(String),
    /// An extension, lower case, without the dot (`*.CSS` → `css`).
    Ext(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderRule {
    pub on: Match,
    /// An RFC 9110 token, as written.
    pub name: String,
    /// Visible ASCII, spaces and tabs; trimmed.
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRule {
    /// Normalised path prefix.
    pub prefix: String,
    /// Printable ASCII without `"` or `\`, so it can be put between quotes
    /// in `WWW-Authenticate: Basic realm="..."` as is.
    pub realm: String,
    /// Absolute path of the htpasswd-style file.
    pub user_file: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// Normalised path prefix.
    pub prefix: String,
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// `http://` or `https://` URL, or a path starting with a single '/';
    /// visible ASCII only.
    pub url: String,
}

/// Parses a whole settings file. `file` names it in errors.
pub fn parse_settings(text: &str, file: &str) -> Result<Settings, ConfigError> {
    let error = |line: usize, msg: String| ConfigError {
        file: file.to_string(),
        line,
        msg,
    };
    if text.len() > MAX_SETTINGS_BYTES {
        return Err(error(
            1,
            format!("settings file is larger than {MAX_SETTINGS_BYTES} bytes"),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or_default().trim();
        if !line.is_empty() {
            p.line(line, n).map_err(|msg| error(n, msg))?;
        }
    }
    Ok(p.settings)
}

const KEYS: &[&str] = &[
    "index",
    "listing",
    "error_page",
    "header",
    "mime",
    "auth",
    "redirect",
];

#[derive(Default)]
struct Parser {
    settings: Settings,
    /// Line of `index` and `listing`, once given.
    index_line: Option<usize>,
    listing_line: Option<usize>,
    /// Line of each entry, parallel to the lists of `settings`, for
    /// "already set on line N".
    error_page_lines: Vec<usize>,
    mime_lines: Vec<usize>,
    auth_lines: Vec<usize>,
    redirect_lines: Vec<usize>,
}

impl Parser {
    fn line(&mut self, line: &str, n: usize) -> Result<(), String> {
        if line.starts_with('[') {
            return Err("sections not allowed in owner settings".into());
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err("expected 'key = value'".into());
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err("expected 'key = value'".into());
        }
        if FORBIDDEN_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k)) {
            return Err(format!("key '{}' not allowed in owner settings", show(key)));
        }
        let Some(&key) = KEYS.iter().find(|k| **k == key) else {
            return Err(format!("unknown key '{}'", show(key)));
        };
        if value.is_empty() {
            return Err(format!("'{key}' needs a value"));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "'{key}' value is longer than {MAX_VALUE_BYTES} bytes"
            ));
        }
        let s = &mut self.settings;
        let count = match key {
            "error_page" => s.error_pages.len(),
            "header" => s.headers.len(),
            "mime" => s.mime.len(),
            "auth" => s.auth.len(),
            "redirect" => s.redirects.len(),
            _ => 0,
        };
        if count >= MAX_RULES {
            return Err(format!("too many '{key}' rules (at most {MAX_RULES})"));
        }
        match key {
            "index" => {
                once(key, &mut self.index_line, n)?;
                s.index = Some(index(value)?);
            }
            "listing" => {
                once(key, &mut self.listing_line, n)?;
                s.listing = Some(boolean(key, value)?);
            }
            "error_page" => {
                let (status, path) = error_page(value)?;
                if let Some(i) = s.error_pages.iter().position(|(c, _)| *c == status) {
                    return Err(already(
                        format!("error_page {status}"),
                        &self.error_page_lines,
                        i,
                    ));
                }
                s.error_pages.push((status, path));
                self.error_page_lines.push(n);
            }
            "header" => s.headers.push(header(value)?),
            "mime" => {
                let (ext, media) = mime(value)?;
                if let Some(i) = s.mime.iter().position(|(e, _)| *e == ext) {
                    return Err(already(format!("mime for '.{ext}'"), &self.mime_lines, i));
                }
                s.mime.push((ext, media));
                self.mime_lines.push(n);
            }
            "auth" => {
                let rule = auth(value)?;
                if let Some(i) = s.auth.iter().position(|a| a.prefix == rule.prefix) {
                    let what = format!("auth for '{}'", show(&rule.prefix));
                    return Err(already(what, &self.auth_lines, i));
                }
                s.auth.push(rule);
                self.auth_lines.push(n);
            }
            _ => {
                let rule = redirect(value)?;
                if let Some(i) = s.redirects.iter().position(|r| r.prefix == rule.prefix) {
                    let what = format!("redirect for '{}'", show(&rule.prefix));
                    return Err(already(what, &self.redirect_lines, i));
                }
                s.redirects.push(rule);
                self.redirect_lines.push(n);
            }
        }
        Ok(())
    }
}

/// Records the line of a key that may be given once.
fn once(key: &str, seen: &mut Option<usize>, n: usize) -> Result<(), String> {
    if let Some(first) = *seen {
        return Err(format!("'{key}' is already set on line {first}"));
    }
    *seen = Some(n);
    Ok(())
}

fn already(what: String, lines: &[usize], i: usize) -> String {
    match lines.get(i) {
        Some(first) => format!("{what} is already set on line {first}"),
        None => format!("{what} is already set"),
    }
}

/// Splits off the first whitespace-separated word.
fn first_word(value: &str) -> (&str, &str) {
    match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (value, ""),
    }
}

/// A path inside the root, written as in a URL: percent-decoded and
/// normalised. None when it does not start with '/', goes above the root,
/// holds a control byte, backslash or encoded '/', or is not UTF-8.
fn root_path(value: &str) -> Option<String> {
    if !value.starts_with('/') {
        return None;
    }
    let mut out = vec![0u8; value.len()];
    let n = target::normalize(value.as_bytes(), &mut out).ok()?;
    out.truncate(n);
    String::from_utf8(out).ok()
}

/// `error_page = STATUS /PATH`.
fn error_page(value: &str) -> Result<(u16, String), String> {
    let mut words = value.split_ascii_whitespace();
    let (Some(code), Some(path), None) = (words.next(), words.next(), words.next()) else {
        return Err("'error_page' must be STATUS /PATH".into());
    };
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|c| code.bytes().all(|b| b.is_ascii_digit()) && (400..=599).contains(c))
        .ok_or_else(|| {
            format!(
                "error_page status must be a number from 400 to 599, not '{}'",
                show(code)
            )
        })?;
    let Some(norm) = root_path(path) else {
        return Err(format!(
            "error page '{}' is not a path inside the root",
            show(path)
        ));
    };
    if norm.ends_with('/') {
        return Err(format!("error page '{}' must name a file", show(path)));
    }
    Ok((status, norm))
}

/// tchar of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// token = 1*tchar.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A header field value (RFC 9110 §5.5) restricted to ASCII: visible
/// characters, spaces and tabs. No CR, LF, NUL or other control byte can
/// reach a response head.
fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// An extension: 1..=`MAX_EXT_BYTES` of `A-Z a-z 0-9 - _ + ~`, lower-cased.
fn extension_pattern(ext: &str) -> Result<String, String> {
    let ok = (1..=MAX_EXT_BYTES).contains(&ext.len())
        && ext
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+~".contains(&b));
    if !ok {
        return Err(format!(
            "extension '{}' must be 1 to {MAX_EXT_BYTES} of A-Z a-z 0-9 - _ + ~",
            show(ext)
        ));
    }
    Ok(ext.to_ascii_lowercase())
}

/// `header = /PREFIX Name: value` or `header = *.EXT Name: value`.
fn header(value: &str) -> Result<HeaderRule, String> {
    const FORMAT: &str = "'header' must be /PREFIX or *.EXT, then 'Name: value'";
    let (pattern, rest) = first_word(value);
    let on = if let Some(ext) = pattern.strip_prefix("*.") {
        Match::Ext(extension_pattern(ext)?)
    } else if pattern.starts_with('/') {
        Match::Prefix(root_path(pattern).ok_or_else(|| {
            format!(
                "header prefix '{}' is not a path inside the root",
                show(pattern)
            )
        })?)
    } else {
        return Err(FORMAT.into());
    };
    let Some((name, field)) = rest.split_once(':') else {
        return Err(FORMAT.into());
    };
    let name = name.trim_end();
    if !is_token(name) {
        return Err(format!(
            "header name '{}' is not a valid field name",
            show(name)
        ));
    }
    let lower = name.to_ascii_lowercase();
    if SERVER_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Err(format!(
            "header '{}' cannot be set in owner settings",
            show(name)
        ));
    }
    let field = field.trim_matches([' ', '\t']);
    if !is_field_value(field) {
        // Not quoted back: it holds control bytes.
        return Err(format!(
            "header '{name}' value may only hold visible ASCII, spaces and tabs"
        ));
    }
    Ok(HeaderRule {
        on,
        name: name.to_string(),
        value: field.to_string(),
    })
}

/// `mime = [.]EXT type/subtype[; name=value]...`.
fn mime(value: &str) -> Result<(String, String), String> {
    let (ext, media) = first_word(value);
    if media.is_empty() {
        return Err("'mime' must be EXT type/subtype".into());
    }
    let ext = extension_pattern(ext.strip_prefix('.').unwrap_or(ext))?;
    if !is_media_type(media) {
        return Err(format!(
            "media type '{}' must be type/subtype[; name=value]",
            show(media)
        ));
    }
    Ok((ext, media.to_string()))
}

/// RFC 9110 §8.3.1: `type "/" subtype *( OWS ";" OWS parameter )`, where a
/// parameter value is a token or a quoted-string (here: without `;`, `\`
/// or control bytes).
fn is_media_type(s: &str) -> bool {
    let mut parts = s.split(';');
    let base = parts
        .next()
        .unwrap_or_default()
        .trim_end_matches([' ', '\t']);
    let base_ok = base
        .split_once('/')
        .is_some_and(|(t, sub)| is_token(t) && is_token(sub));
    base_ok
        && parts.all(|p| {
            let p = p.trim_matches([' ', '\t']);
            let Some((name, v)) = p.split_once('=') else {
                return false;
            };
            let quoted = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .is_some_and(|inner| {
                    inner.bytes().all(|b| {
                        b == b'\t' || ((0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
                    })
                });
            is_token(name) && (is_token(v) || quoted)
        })
}

/// `auth = /PREFIX "REALM" /USER/FILE`.
fn auth(value: &str) -> Result<AuthRule, String> {
    const FORMAT: &str = "'auth' must be /PREFIX \"REALM\" /USER/FILE";
    let (prefix, rest) = first_word(value);
    if !prefix.starts_with('/') {
        return Err(FORMAT.into());
    }
    let Some(prefix) = root_path(prefix) else {
        return Err(format!(
            "auth prefix '{}' is not a path inside the root",
            show(prefix)
        ));
    };
    let Some(rest) = rest.strip_prefix('"') else {
        return Err(FORMAT.into());
    };
    let Some((realm, user_file)) = rest.split_once('"') else {
        return Err("auth realm has no closing '\"'".into());
    };
    if realm.is_empty()
        || !realm
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        return Err(
            "auth realm must be 1 or more of visible ASCII and spaces, without '\"' or '\\'".into(),
        );
    }
    let user_file = user_file.trim();
    if user_file.is_empty() {
        return Err(FORMAT.into());
    }
    if !user_file.starts_with('/') || user_file.chars().any(char::is_control) {
        return Err(format!(
            "auth user file '{}' must be an absolute path",
            show(user_file)
        ));
    }
    if user_file.len() > limits::MAX_PATH_BYTES {
        return Err(format!(
            "auth user file is longer than {} bytes",
            limits::MAX_PATH_BYTES
        ));
    }
    Ok(AuthRule {
        prefix,
        realm: realm.to_string(),
        user_file: user_file.to_string(),
    })
}

/// `redirect = /PREFIX STATUS URL`.
fn redirect(value: &str) -> Result<Redirect, String> {
    let mut words = value.split_ascii_whitespace();
    let (Some(prefix), Some(code), Some(url), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("'redirect' must be /PREFIX STATUS URL".into());
    };
    let Some(prefix) = root_path(prefix) else {
        return Err(format!(
            "redirect prefix '{}' is not a path inside the root",
            show(prefix)
        ));
    };
    let status = match code {
        "301" => 301,
        "302" => 302,
        "307" => 307,
        "308" => 308,
        _ => {
            return Err(format!(
                "redirect status must be 301, 302, 307 or 308, not '{}'",
                show(code)
            ));
        }
    };
    if !url.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err("redirect URL may only hold visible ASCII (percent-encode the rest)".into());
    }
    let lower = url.to_ascii_lowercase();
    let authority = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default());
    match authority {
        Some(a) if !a.is_empty() => {}
        Some(_) => {
            return Err(format!("redirect URL '{}' has no host", show(url)));
        }
        None if url.starts_with('/') && !url.starts_with("//") => {
            // A local target under the prefix would be redirected again.
            let (path, _) = target::split_query(url.as_bytes());
            let mut norm = vec![0u8; path.len()];
            let Ok(n) = target::normalize(path, &mut norm) else {
                return Err(format!("redirect URL '{}' is not a valid path", show(url)));
            };
            if norm
                .get(..n)
                .unwrap_or_default()
                .starts_with(prefix.as_bytes())
            {
                return Err(format!(
                    "redirect from '{}' to '{}' would loop",
                    show(&prefix),
                    show(url)
                ));
            }
        }
        None => {
            return Err(format!(
                "redirect URL '{}' must be an absolute http(s) URL or a path starting with '/'",
                show(url)
            ));
        }
    }
    Ok(Redirect {
        prefix,
        status,
        url: url.to_string(),
    })
}

/// The extension of the last segment of `path` (what follows its last '.',
/// unless that '.' starts the name), as `http::mime::lookup` sees it.
fn extension(path: &[u8]) -> Option<&[u8]> {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    match name.iter().rposition(|&b| b == b'.') {
        Some(0) | None => None,
        Some(i) => name.get(i + 1..).filter(|e| !e.is_empty()),
    }
}

/// The rule whose prefix is the longest one `path` starts with.
fn longest<'a, T>(rules: &'a [T], path: &[u8], prefix: impl Fn(&T) -> &str) -> Option<&'a T> {
    rules
        .iter()
        .filter(|r| path.starts_with(prefix(r).as_bytes()))
        .max_by_key(|r| prefix(r).len())
}

// Lookups run per request: they scan the lists and allocate nothing.
// `path` is the decoded, normalised request path.
impl Settings {
    /// Writes `Name: value\r\n` for every header rule that matches `path`,
    /// in file order. On overflow `out` says so and the head is unusable.
    pub fn header_lines_for(&self, path: &[u8], out: &mut Writer) {
        let ext = extension(path);
        for rule in &self.headers {
            let hit = match &rule.on {
                Match::Prefix(p) => path.starts_with(p.as_bytes()),
                Match::Ext(e) => ext.is_some_and(|x| x.eq_ignore_ascii_case(e.as_bytes())),
            };
            if hit {
                out.str(&rule.name).str(": ").str(&rule.value).str("\r\n");
            }
        }
    }

    /// The owner's media type for `path`'s extension (case-insensitive).
    pub fn mime_for(&self, path: &[u8]) -> Option<&str> {
        let ext = extension(path)?;
        self.mime
            .iter()
            .find(|(e, _)| ext.eq_ignore_ascii_case(e.as_bytes()))
            .map(|(_, t)| t.as_str())
    }

    /// The path (inside the root) of the owner's page for `status`.
    pub fn error_page(&self, status: u16) -> Option<&str> {
        self.error_pages
            .iter()
            .find(|(c, _)| *c == status)
            .map(|(_, p)| p.as_str())
    }

    /// The redirect with the longest prefix of `path`.
    pub fn redirect_for(&self, path: &[u8]) -> Option<&Redirect> {
        longest(&self.redirects, path, |r| &r.prefix)
    }

    /// The auth rule with the longest prefix of `path`.
    pub fn auth_for(&self, path: &[u8]) -> Option<&AuthRule> {
        longest(&self.auth, path, |r| &r.prefix)
    }
}

impl Redirect {
    /// Writes the Location value for a request of `path` (which starts with
    /// `prefix`). When both the prefix and the URL end in '/', the rest of
    /// the path is kept, percent-encoded (`/old/` → `/new/`: `/old/a b` →
    /// `/new/a%20b`); otherwise every path under the prefix goes to the URL
    /// itself. The request's query is not carried over.
    pub fn location(&self, path: &[u8], out: &mut Writer) {
        out.str(&self.url);
        if self.prefix.ends_with('/') && self.url.ends_with('/') {
            let rest = path.get(self.prefix.len()..).unwrap_or_default();
            let rest = if path.starts_with(self.prefix.as_bytes()) {
                rest
            } else {
                &[]
            };
            encode_into(rest, out);
        }
    }
}

/// `target::encode_path`, writing into a `Writer` (no scratch buffer).
fn encode_into(path: &[u8], out: &mut Writer) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=".contains(&b) {
            out.push(&[b]);
        } else {
            out.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "\u{feff}# settings of example.org\r\n\
index = index.html home.htm          # 1..4 names\r\n\
listing = YES\r\n\
\r\n\
error_page = 404 /errors/404.html\n\
error_page = 503 /errors/../maint%20page.html\n\
header = /static/ Cache-Control: public, max-age=86400\n\
header = *.CSS Cache-Control: max-age=3600\n\
header = /   Set-Cookie:\tseen=1; Path=/\t \n\
mime = .APK application/vnd.android.package-archive\n\
mime = md text/markdown; charset=utf-8\n\
auth = /private/ \"Staff only\" /srv/site/.htpasswd\n\
auth = /private/admin/ \"Admins\"   /srv/site/admins file\n\
redirect = /old/ 301 https://example.org/new/\n\
redirect = /old/keep/ 308 /kept/\n\
redirect = /gone 302 HTTP://Example.org\n";

    fn ok(text: &str) -> Settings {
        match parse_settings(text, "s.conf") {
            Ok(s) => s,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn prefix(p: &str) -> Match {
        Match::Prefix(p.into())
    }

    #[test]
    fn full_file() {
        let want = Settings {
            index: Some(vec!["index.html".into(), "home.htm".into()]),
            listing: Some(true),
            error_pages: vec![
                (404, "/errors/404.html".into()),
                (503, "/maint page.html".into()),
            ],
            headers: vec![
                HeaderRule {
                    on: prefix("/static/"),
                    name: "Cache-Control".into(),
                    value: "public, max-age=86400".into(),
                },
                HeaderRule {
                    on: Match::Ext("css".into()),
                    name: "Cache-Control".into(),
                    value: "max-age=3600".into(),
                },
                HeaderRule {
                    on: prefix("/"),
                    name: "Set-Cookie".into(),
                    value: "seen=1; Path=/".into(),
                },
            ],
            mime: vec![
                (
                    "apk".into(),
                    "application/vnd.android.package-archive".into(),
                ),
                ("md".into(), "text/markdown; charset=utf-8".into()),
            ],
            auth: vec![
                AuthRule {
                    prefix: "/private/".into(),
                    realm: "Staff only".into(),
                    user_file: "/srv/site/.htpasswd".into(),
                },
                AuthRule {
                    prefix: "/private/admin/".into(),
                    realm: "Admins".into(),
                    user_file: "/srv/site/admins file".into(),
                },
            ],
            redirects: vec![
                Redirect {
                    prefix: "/old/".into(),
                    status: 301,
                    url: "https://example.org/new/".into(),
                },
                Redirect {
                    prefix: "/old/keep/".into(),
                    status: 308,
                    url: "/kept/".into(),
                },
                Redirect {
                    prefix: "/gone".into(),
                    status: 302,
                    url: "HTTP://Example.org".into(),
                },
            ],
        };
        assert_eq!(ok(FULL), want);
        assert_eq!(ok(""), Settings::default());
        assert_eq!(ok("# only\n\n  \r\n"), Settings::default());
        assert_eq!(ok("listing = off").listing, Some(false));
    }

    #[test]
    fn errors() {
        let long = "v".repeat(MAX_VALUE_BYTES);
        let many = |line: &str| -> String { format!("{line}\n").repeat(MAX_RULES + 1) };
        let numbered = |f: &dyn Fn(usize) -> String| -> String {
            (0..=MAX_RULES).map(|i| f(i) + "\n").collect()
        };
        // Spelled out, not FORBIDDEN_KEYS: dropping one from there must fail.
        let forbidden = [
            "user",
            "group",
            "root",
            "chroot",
            "listen",
            "listeners",
            "max_connections",
            "header_buffer",
            "keepalive_timeout",
            "header_timeout",
            "send_timeout",
            "access_log",
            "log_level",
            "chroot_dir",
            "cgi",
            "cgi_interpreter",
            "interpreter",
            "settings",
            "alias",
            "default",
            "follow_symlinks",
            "dotfiles",
        ];
        let mut cases: Vec<(String, String)> = forbidden
            .iter()
            .map(|k| {
                (
                    format!("listing = no\n{k} = x\n"),
                    format!("s.conf:2: key '{k}' not allowed in owner settings"),
                )
            })
            .collect();
        let table: Vec<(String, &str)> = vec![
            (
                "User = 0\n".into(),
                "s.conf:1: key 'User' not allowed in owner settings",
            ),
            (
                "root=/\n".into(),
                "s.conf:1: key 'root' not allowed in owner settings",
            ),
            (
                "chroot =\n".into(),
                "s.conf:1: key 'chroot' not allowed in owner settings",
            ),
            (
                "\n[vhost x]\n".into(),
                "s.conf:2: sections not allowed in owner settings",
            ),
            (
                "[settings]\nindex = a\n".into(),
                "s.conf:1: sections not allowed in owner settings",
            ),
            (
                "gzip_static = no\n".into(),
                "s.conf:1: unknown key 'gzip_static'",
            ),
            ("Index = a\n".into(), "s.conf:1: unknown key 'Index'"),
            (
                "error page = 404 /x\n".into(),
                "s.conf:1: unknown key 'error page'",
            ),
            ("index a.html\n".into(), "s.conf:1: expected 'key = value'"),
            ("= a\n".into(), "s.conf:1: expected 'key = value'"),
            ("index =\n".into(), "s.conf:1: 'index' needs a value"),
            (
                "index = a\nindex = b\n".into(),
                "s.conf:2: 'index' is already set on line 1",
            ),
            (
                "index = a b c d e\n".into(),
                "s.conf:1: 'index' takes 1 to 4 file names",
            ),
            (
                "index = ../x\n".into(),
                "s.conf:1: index name '../x' is not a file name",
            ),
            (
                "listing = maybe\n".into(),
                "s.conf:1: 'listing' must be yes or no",
            ),
            (
                "listing = yes\nlisting = no\n".into(),
                "s.conf:2: 'listing' is already set on line 1",
            ),
            (
                format!("header = / X-A: {long}\n"),
                "s.conf:1: 'header' value is longer than 512 bytes",
            ),
            (
                "error_page = 404\n".into(),
                "s.conf:1: 'error_page' must be STATUS /PATH",
            ),
            (
                "error_page = 404 /a /b\n".into(),
                "s.conf:1: 'error_page' must be STATUS /PATH",
            ),
            (
                "error_page = 200 /ok.html\n".into(),
                "s.conf:1: error_page status must be a number from 400 to 599, not '200'",
            ),
            (
                "error_page = 600 /x.html\n".into(),
                "s.conf:1: error_page status must be a number from 400 to 599, not '600'",
            ),
            (
                "error_page = +404 /x.html\n".into(),
                "s.conf:1: error_page status must be a number from 400 to 599, not '+404'",
            ),
            (
                "error_page = 99999 /x.html\n".into(),
                "s.conf:1: error_page status must be a number from 400 to 599, not '99999'",
            ),
            (
                "error_page = 404 /../etc/passwd\n".into(),
                "s.conf:1: error page '/../etc/passwd' is not a path inside the root",
            ),
            (
                "error_page = 404 /a/%2e%2e/../x\n".into(),
                "s.conf:1: error page '/a/%2e%2e/../x' is not a path inside the root",
            ),
            (
                "error_page = 404 errors/404.html\n".into(),
                "s.conf:1: error page 'errors/404.html' is not a path inside the root",
            ),
            (
                "error_page = 404 /a%2fb\n".into(),
                "s.conf:1: error page '/a%2fb' is not a path inside the root",
            ),
            (
                "error_page = 404 /%ff\n".into(),
                "s.conf:1: error page '/%ff' is not a path inside the root",
            ),
            (
                "error_page = 404 /errors/\n".into(),
                "s.conf:1: error page '/errors/' must name a file",
            ),
            (
                "error_page = 404 /a\nerror_page = 404 /b\n".into(),
                "s.conf:2: error_page 404 is already set on line 1",
            ),
            // Header injection: a lone CR stays inside a line (only "\n" and
            // "\r\n" end one); other control bytes too.
            (
                "header = / X-A: b\rSet-Cookie: x\n".into(),
                "s.conf:1: header 'X-A' value may only hold visible ASCII, spaces and tabs",
            ),
            (
                "header = / X-A: b\u{0}c\n".into(),
                "s.conf:1: header 'X-A' value may only hold visible ASCII, spaces and tabs",
            ),
            (
                "header = / X-A: b\u{b}c\n".into(),
                "s.conf:1: header 'X-A' value may only hold visible ASCII, spaces and tabs",
            ),
            (
                "header = / X-A: b\u{7f}c\n".into(),
                "s.conf:1: header 'X-A' value may only hold visible ASCII, spaces and tabs",
            ),
            (
                "header = / X-A: caf\u{e9}\n".into(),
                "s.conf:1: header 'X-A' value may only hold visible ASCII, spaces and tabs",
            ),
            (
                "header = / X\rA: b\n".into(),
                "s.conf:1: header name 'X?A' is not a valid field name",
            ),
            (
                "header = / X A: b\n".into(),
                "s.conf:1: header name 'X A' is not a valid field name",
            ),
            (
                "header = / : b\n".into(),
                "s.conf:1: header name '' is not a valid field name",
            ),
            (
                "header = / X-A b\n".into(),
                "s.conf:1: 'header' must be /PREFIX or *.EXT, then 'Name: value'",
            ),
            (
                "header = X-A: b\n".into(),
                "s.conf:1: 'header' must be /PREFIX or *.EXT, then 'Name: value'",
            ),
            (
                "header = static/ X-A: b\n".into(),
                "s.conf:1: 'header' must be /PREFIX or *.EXT, then 'Name: value'",
            ),
            (
                "header = *.c.s X-A: b\n".into(),
                "s.conf:1: extension 'c.s' must be 1 to 16 of A-Z a-z 0-9 - _ + ~",
            ),
            (
                "header = *. X-A: b\n".into(),
                "s.conf:1: extension '' must be 1 to 16 of A-Z a-z 0-9 - _ + ~",
            ),
            (
                "header = /../ X-A: b\n".into(),
                "s.conf:1: header prefix '/../' is not a path inside the root",
            ),
            // Framing and server-owned headers.
            (
                "header = / Content-Length: 0\n".into(),
                "s.conf:1: header 'Content-Length' cannot be set in owner settings",
            ),
            (
                "header = *.js transfer-encoding: chunked\n".into(),
                "s.conf:1: header 'transfer-encoding' cannot be set in owner settings",
            ),
            (
                "header = / Connection : close\n".into(),
                "s.conf:1: header 'Connection' cannot be set in owner settings",
            ),
            (
                "header = / TE: trailers\n".into(),
                "s.conf:1: header 'TE' cannot be set in owner settings",
            ),
            (
                "header = / Location: /x\n".into(),
                "s.conf:1: header 'Location' cannot be set in owner settings",
            ),
            (
                "header = / ETag: \"x\"\n".into(),
                "s.conf:1: header 'ETag' cannot be set in owner settings",
            ),
            (
                "header = / Content-Type: text/html\n".into(),
                "s.conf:1: header 'Content-Type' cannot be set in owner settings",
            ),
            (
                "header = / Proxy-Authenticate: x\n".into(),
                "s.conf:1: header 'Proxy-Authenticate' cannot be set in owner settings",
            ),
            (
                "mime = apk\n".into(),
                "s.conf:1: 'mime' must be EXT type/subtype",
            ),
            (
                "mime = .a/b text/plain\n".into(),
                "s.conf:1: extension 'a/b' must be 1 to 16 of A-Z a-z 0-9 - _ + ~",
            ),
            (
                "mime = apk application\n".into(),
                "s.conf:1: media type 'application' must be type/subtype[; name=value]",
            ),
            (
                "mime = apk a/b c\n".into(),
                "s.conf:1: media type 'a/b c' must be type/subtype[; name=value]",
            ),
            (
                "mime = apk a/b; charset\n".into(),
                "s.conf:1: media type 'a/b; charset' must be type/subtype[; name=value]",
            ),
            (
                "mime = apk a/b; q=\"x\rSet-Cookie: y\"\n".into(),
                "s.conf:1: media type 'a/b; q=\"x?Set-Cookie: y\"' must be type/subtype[; name=value]",
            ),
            (
                "mime = apk a/b\nmime = .APK c/d\n".into(),
                "s.conf:2: mime for '.apk' is already set on line 1",
            ),
            (
                "auth = /p/ Staff /f\n".into(),
                "s.conf:1: 'auth' must be /PREFIX \"REALM\" /USER/FILE",
            ),
            (
                "auth = p/ \"Staff\" /f\n".into(),
                "s.conf:1: 'auth' must be /PREFIX \"REALM\" /USER/FILE",
            ),
            (
                "auth = /p/ \"Staff\"\n".into(),
                "s.conf:1: 'auth' must be /PREFIX \"REALM\" /USER/FILE",
            ),
            (
                "auth = /p/ \"Staff /f\n".into(),
                "s.conf:1: auth realm has no closing '\"'",
            ),
            (
                "auth = /p/ \"\" /f\n".into(),
                "s.conf:1: auth realm must be 1 or more of visible ASCII and spaces, without '\"' or '\\'",
            ),
            (
                "auth = /p/ \"a\\\" /f\n".into(),
                "s.conf:1: auth realm must be 1 or more of visible ASCII and spaces, without '\"' or '\\'",
            ),
            (
                "auth = /p/ \"a\tb\" /f\n".into(),
                "s.conf:1: auth realm must be 1 or more of visible ASCII and spaces, without '\"' or '\\'",
            ),
            (
                "auth = /p/ \"a\" f\n".into(),
                "s.conf:1: auth user file 'f' must be an absolute path",
            ),
            (
                "auth = /p/ \"a\" /f\u{1}\n".into(),
                "s.conf:1: auth user file '/f?' must be an absolute path",
            ),
            (
                format!("auth = /p/ \"a\" /{}\n", "f".repeat(256)),
                "s.conf:1: auth user file is longer than 256 bytes",
            ),
            (
                "auth = /a/../.. \"a\" /f\n".into(),
                "s.conf:1: auth prefix '/a/../..' is not a path inside the root",
            ),
            (
                "auth = /p/ \"a\" /f\nauth = /x/../p/ \"b\" /g\n".into(),
                "s.conf:2: auth for '/p/' is already set on line 1",
            ),
            (
                "redirect = /old/ 301\n".into(),
                "s.conf:1: 'redirect' must be /PREFIX STATUS URL",
            ),
            (
                "redirect = /old/ 301 /a /b\n".into(),
                "s.conf:1: 'redirect' must be /PREFIX STATUS URL",
            ),
            (
                "redirect = /old/ 300 /new/\n".into(),
                "s.conf:1: redirect status must be 301, 302, 307 or 308, not '300'",
            ),
            (
                "redirect = /old/ 303 /new/\n".into(),
                "s.conf:1: redirect status must be 301, 302, 307 or 308, not '303'",
            ),
            (
                "redirect = /old/ 200 /new/\n".into(),
                "s.conf:1: redirect status must be 301, 302, 307 or 308, not '200'",
            ),
            (
                "redirect = /old/ 301 new/\n".into(),
                "s.conf:1: redirect URL 'new/' must be an absolute http(s) URL or a path starting with '/'",
            ),
            (
                "redirect = /old/ 301 ../new/\n".into(),
                "s.conf:1: redirect URL '../new/' must be an absolute http(s) URL or a path starting with '/'",
            ),
            (
                "redirect = /old/ 301 //evil.example/\n".into(),
                "s.conf:1: redirect URL '//evil.example/' must be an absolute http(s) URL or a path starting with '/'",
            ),
            (
                "redirect = /old/ 301 javascript:alert(1)\n".into(),
                "s.conf:1: redirect URL 'javascript:alert(1)' must be an absolute http(s) URL or a path starting with '/'",
            ),
            (
                "redirect = /old/ 301 ftp://x/\n".into(),
                "s.conf:1: redirect URL 'ftp://x/' must be an absolute http(s) URL or a path starting with '/'",
            ),
            (
                "redirect = /old/ 301 https:///x\n".into(),
                "s.conf:1: redirect URL 'https:///x' has no host",
            ),
            (
                "redirect = /old/ 301 https://x/\u{1}\n".into(),
                "s.conf:1: redirect URL may only hold visible ASCII (percent-encode the rest)",
            ),
            (
                "redirect = /old/ 301 /caf\u{e9}\n".into(),
                "s.conf:1: redirect URL may only hold visible ASCII (percent-encode the rest)",
            ),
            (
                "redirect = /old/ 301 /old/new/\n".into(),
                "s.conf:1: redirect from '/old/' to '/old/new/' would loop",
            ),
            (
                "redirect = / 302 /maintenance.html\n".into(),
                "s.conf:1: redirect from '/' to '/maintenance.html' would loop",
            ),
            (
                "redirect = /a 302 /a?x=1\n".into(),
                "s.conf:1: redirect from '/a' to '/a?x=1' would loop",
            ),
            (
                "redirect = /a 302 /%zz\n".into(),
                "s.conf:1: redirect URL '/%zz' is not a valid path",
            ),
            (
                "redirect = /.. 302 /x\n".into(),
                "s.conf:1: redirect prefix '/..' is not a path inside the root",
            ),
            (
                "redirect = /a/ 301 /b/\nredirect = /a/ 302 /c/\n".into(),
                "s.conf:2: redirect for '/a/' is already set on line 1",
            ),
            (
                many("header = / X-A: b"),
                "s.conf:33: too many 'header' rules (at most 32)",
            ),
            (
                numbered(&|i| format!("mime = e{i} a/b")),
                "s.conf:33: too many 'mime' rules (at most 32)",
            ),
            (
                numbered(&|i| format!("error_page = {} /e.html", 400 + i)),
                "s.conf:33: too many 'error_page' rules (at most 32)",
            ),
            (
                numbered(&|i| format!("auth = /{i}/ \"r\" /f")),
                "s.conf:33: too many 'auth' rules (at most 32)",
            ),
            (
                numbered(&|i| format!("redirect = /{i}/ 301 https://x/")),
                "s.conf:33: too many 'redirect' rules (at most 32)",
            ),
            (
                format!("index = a\n{}", " ".repeat(MAX_SETTINGS_BYTES)),
                "s.conf:1: settings file is larger than 65536 bytes",
            ),
        ];
        cases.extend(table.into_iter().map(|(t, w)| (t, w.to_string())));
        let mut failed = Vec::new();
        for (text, want) in &cases {
            let got = parse_settings(text, "s.conf")
                .map(|_| ())
                .map_err(|e| e.to_string());
            if got.as_ref() != Err(want) {
                failed.push(format!("{text:?}\n   want {want}\n    got {got:?}"));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn limits_at_their_edges() {
        let v = "v".repeat(MAX_VALUE_BYTES - "/ X-A: ".len());
        assert_eq!(ok(&format!("header = / X-A: {v}")).headers[0].value, v);
        let text = "header = / X-A: b\n".repeat(MAX_RULES);
        assert_eq!(ok(&text).headers.len(), MAX_RULES);
        let mut text = "#".repeat(MAX_SETTINGS_BYTES - 12);
        text += "\nlisting=on\n";
        assert_eq!(text.len(), MAX_SETTINGS_BYTES);
        assert_eq!(ok(&text).listing, Some(true));
        // Tabs are fine inside a header value, and so is an empty value.
        assert_eq!(ok("header = / X-A: a\tb").headers[0].value, "a\tb");
        assert_eq!(ok("header = / X-A:").headers[0].value, "");
        assert!(parse_settings("header = / X-A: b\r\nheader = / X-B: c\r\n", "f").is_ok());
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for text in [
            "[",
            "=",
            "==",
            "\u{0}",
            "é = x",
            "index = é/",
            "header = é",
            "header = / é: x",
            "header = *.é X: y",
            "mime = é",
            "mime = x é/é",
            "auth = /",
            "auth = / \"",
            "auth = / \"é\" /x",
            "redirect = / 301 é",
            "redirect = /é 301 /é",
            "error_page = 4é /x",
            "error_page = 404 /%",
            "redirect = /a 301 https://",
        ] {
            assert!(parse_settings(text, "f").is_err(), "{text:?}");
        }
    }

    #[test]
    fn header_lines() {
        let s = ok("header = /static/ Cache-Control: public\n\
                    header = *.css X-Css: 1\n\
                    header = /static/css/ X-Deep: 2\n\
                    header = / X-All: 3\n\
                    header = *.gz X-Gz: 4\n");
        let lines = |path: &[u8]| {
            let mut buf = [0u8; 256];
            let mut w = Writer::new(&mut buf);
            s.header_lines_for(path, &mut w);
            assert!(!w.overflowed());
            String::from_utf8(w.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(
            lines(b"/static/css/site.CSS"),
            "Cache-Control: public\r\nX-Css: 1\r\nX-Deep: 2\r\nX-All: 3\r\n"
        );
        assert_eq!(
            lines(b"/static/a.js"),
            "Cache-Control: public\r\nX-All: 3\r\n"
        );
        assert_eq!(lines(b"/static"), "X-All: 3\r\n", "prefix needs its '/'");
        assert_eq!(
            lines(b"/a.css/b"),
            "X-All: 3\r\n",
            "extension of the last segment"
        );
        assert_eq!(
            lines(b"/.css"),
            "X-All: 3\r\n",
            "a dotfile has no extension"
        );
        assert_eq!(lines(b"/x.tar.gz"), "X-All: 3\r\nX-Gz: 4\r\n");
        assert_eq!(lines(b"/a.css/"), "X-All: 3\r\n");
        // A head that is too small says so.
        let mut small = [0u8; 8];
        let mut w = Writer::new(&mut small);
        s.header_lines_for(b"/x", &mut w);
        assert!(w.overflowed());
        assert!(Settings::default().mime_for(b"/a.css").is_none());
    }

    #[test]
    fn mime_and_error_pages() {
        let s = ok(FULL);
        assert_eq!(
            s.mime_for(b"/dl/app.Apk"),
            Some("application/vnd.android.package-archive")
        );
        assert_eq!(
            s.mime_for(b"/README.md"),
            Some("text/markdown; charset=utf-8")
        );
        assert_eq!(s.mime_for(b"/x.apk.gz"), None);
        assert_eq!(s.mime_for(b"/apk"), None);
        assert_eq!(s.mime_for(b"/.apk"), None);
        assert_eq!(s.mime_for(b"/a."), None);
        assert_eq!(s.mime_for(b"/"), None);
        assert_eq!(s.error_page(404), Some("/errors/404.html"));
        assert_eq!(s.error_page(503), Some("/maint page.html"));
        assert_eq!(s.error_page(500), None);
    }

    #[test]
    fn longest_prefix_wins() {
        let s = ok(FULL);
        let realm = |p: &[u8]| s.auth_for(p).map(|a| a.realm.as_str());
        assert_eq!(realm(b"/private/x.html"), Some("Staff only"));
        assert_eq!(realm(b"/private/admin/"), Some("Admins"));
        assert_eq!(realm(b"/private/admin/a/b"), Some("Admins"));
        assert_eq!(realm(b"/private/adminx"), Some("Staff only"));
        assert_eq!(realm(b"/private"), None);
        assert_eq!(realm(b"/public/"), None);
        let url = |p: &[u8]| s.redirect_for(p).map(|r| (r.status, r.url.as_str()));
        assert_eq!(url(b"/old/a"), Some((301, "https://example.org/new/")));
        assert_eq!(url(b"/old/keep/b"), Some((308, "/kept/")));
        assert_eq!(url(b"/old/keep"), Some((301, "https://example.org/new/")));
        assert_eq!(url(b"/gone/x"), Some((302, "HTTP://Example.org")));
        assert_eq!(url(b"/goner"), Some((302, "HTTP://Example.org")));
        assert_eq!(url(b"/ol"), None);
        // Order in the file does not matter.
        let s = ok("auth = /a/b/ \"deep\" /f\nauth = /a/ \"top\" /g\n");
        assert_eq!(
            s.auth_for(b"/a/b/c").map(|a| a.realm.as_str()),
            Some("deep")
        );
        assert_eq!(s.auth_for(b"/a/c").map(|a| a.realm.as_str()), Some("top"));
    }

    #[test]
    fn redirect_location() {
        let s = ok(FULL);
        let loc = |p: &[u8]| {
            let mut buf = [0u8; 128];
            let mut w = Writer::new(&mut buf);
            s.redirect_for(p).unwrap().location(p, &mut w);
            String::from_utf8(w.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(
            loc(b"/old/a b/c?#.html"),
            "https://example.org/new/a%20b/c%3F%23.html"
        );
        assert_eq!(loc(b"/old/"), "https://example.org/new/");
        assert_eq!(loc(b"/old/keep/x"), "/kept/x");
        assert_eq!(loc(b"/gone/x/y"), "HTTP://Example.org", "fixed target");
    }
}
