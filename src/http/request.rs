//! Request head parsing and validation (RFC 9112 §2-§6, RFC 9110 §7.2).
//!
//! httparse checks syntax; this module adds what it leaves to us: Host,
//! request-target form, message framing and the fields we route on.

use super::range::parse_u64;
use crate::limits::MAX_HEADERS;

/// The methods a static server knows. Anything else that is a valid token
/// is `Unknown` and gets 501 (RFC 9110 §9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Trace,
    Connect,
    Unknown,
}

impl Method {
    /// Method names are case-sensitive (RFC 9110 §9.1): `get` is Unknown.
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            _ => Method::Unknown,
        }
    }
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    /// Transfer-Encoding with chunked as the final coding.
    Chunked,
}

/// A request whose head was complete and valid. Borrowed from the buffer.
#[derive(Debug)]
pub struct Request<'b> {
    pub method: Method,
    pub method_raw: &'b [u8],
    /// The raw request-target as sent.
    pub target: &'b [u8],
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Where routing comes from: the authority of an absolute-form target
    /// when present (RFC 9112 §3.2.2), else the Host header. Lower-case is
    /// NOT applied here.
    pub host: Option<&'b [u8]>,
    /// origin-form path and query: for absolute-form targets the part after
    /// the authority ("/" when empty). Starts with '/', or is b"*" for
    /// asterisk-form.
    pub path_and_query: &'b [u8],
    pub keep_alive: bool,
    pub body: Body,
    pub if_none_match: Option<&'b [u8]>,
    pub if_modified_since: Option<&'b [u8]>,
    pub if_range: Option<&'b [u8]>,
    pub range: Option<&'b [u8]>,
    pub accept_gzip: bool,
    pub authorization: Option<&'b [u8]>,
    pub referer: Option<&'b [u8]>,
    pub user_agent: Option<&'b [u8]>,
    /// Bytes of the head, including the final CRLF CRLF.
    pub head_len: usize,
}

/// A request that must be answered with an error status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    /// The connection must close after the answer: framing can't be trusted.
    pub close: bool,
}

/// Every reject closes: a `Reject` carries no head length and the body
/// framing may be unknown, so the caller can't find the next request.
const fn reject(status: u16) -> Reject {
    Reject {
        status,
        close: true,
    }
}

const BAD: Reject = reject(400);

/// Parses and validates one request head at the start of `buf`.
/// `Ok(None)`: incomplete, read more (caller answers 414/431 through
/// `overflow_status` when the buffer is full).
///
/// Decisions the RFCs leave open:
/// - `Content-Length: 0` is `Body::Length(0)`, so the caller can tell it
///   from no Content-Length (411).
/// - Single-valued fields sent twice keep the first (If-None-Match too:
///   with a list split over two lines we may answer 200 instead of 304,
///   never the reverse). Range or If-Range sent twice drops the Range
///   (RFC 9110 §14.2 lets a server ignore it).
/// - An empty Host is accepted as `host: None` (RFC 9112 §3.2).
/// - An absolute-form target whose query follows the authority directly
///   (`http://h?q`) is refused with 400: its path "/" is not in the
///   buffer, so it can't be borrowed. Clients send origin-form to servers.
/// - CONNECT with a valid authority-form target passes with that target as
///   `path_and_query` (the caller answers 405).
pub fn parse(buf: &[u8]) -> Result<Option<Request<'_>>, Reject> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(reject(431)),
        Err(httparse::Error::Version) => return Err(reject(505)),
        Err(_) => return Err(BAD),
    };
    let (Some(method_raw), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(BAD);
    };
    let (method_raw, target) = (method_raw.as_bytes(), target.as_bytes());
    let method = Method::from_bytes(method_raw);

    let mut f = Fields::default();
    for h in req.headers.iter() {
        f.add(h.name.as_bytes(), h.value);
    }

    let body = framing(&f, minor)?;
    let (target_host, path_and_query) = target_form(target, method)?;

    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, for more
    // than one Host, and for an invalid Host, even with absolute-form.
    let host = match (f.host_count, f.host) {
        (0, _) if minor >= 1 => return Err(BAD),
        (0, _) => None,
        (1, Some(b"")) => None,
        (1, Some(h)) if valid_host(h) => Some(h),
        _ => return Err(BAD),
    };
    // RFC 9112 §3.2.2: the target's authority overrides Host.
    let host = target_host.or(host);

    // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
    let keep_alive = !f.conn_close && (minor >= 1 || f.conn_keep_alive);

    let (range, if_range) = if f.range_count > 1 || f.if_range_count > 1 {
        (None, None)
    } else {
        (f.range, f.if_range)
    };
    let accept_gzip = if f.gzip_named { f.gzip_ok } else { f.star_ok };

    Ok(Some(Request {
        method,
        method_raw,
        target,
        minor,
        host,
        path_and_query,
        keep_alive,
        body,
        if_none_match: f.if_none_match,
        if_modified_since: f.if_modified_since,
        if_range,
        range,
        accept_gzip,
        authorization: f.authorization,
        referer: f.referer,
        user_agent: f.user_agent,
        head_len,
    }))
}

/// The status for a head that did not fit the buffer: 414 while the
/// request line itself is incomplete, else 431. Empty lines before the
/// request line (RFC 9112 §2.2) don't count as its end.
pub fn overflow_status(buf: &[u8]) -> u16 {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n');
    let line = start.and_then(|s| buf.get(s..)).unwrap_or_default();
    if line.contains(&b'\n') { 431 } else { 414 }
}

/// What the header loop collects.
#[derive(Default)]
struct Fields<'b> {
    host: Option<&'b [u8]>,
    host_count: usize,
    content_length: Option<&'b [u8]>,
    content_length_count: usize,
    te_seen: bool,
    /// Last non-empty coding over all Transfer-Encoding lines.
    te_last: Option<&'b [u8]>,
    conn_close: bool,
    conn_keep_alive: bool,
    if_none_match: Option<&'b [u8]>,
    if_modified_since: Option<&'b [u8]>,
    if_range: Option<&'b [u8]>,
    if_range_count: usize,
    range: Option<&'b [u8]>,
    range_count: usize,
    authorization: Option<&'b [u8]>,
    referer: Option<&'b [u8]>,
    user_agent: Option<&'b [u8]>,
    /// Accept-Encoding named gzip or x-gzip; with an acceptable weight.
    gzip_named: bool,
    gzip_ok: bool,
    /// Accept-Encoding `*` with an acceptable weight.
    star_ok: bool,
}

impl<'b> Fields<'b> {
    fn add(&mut self, name: &[u8], value: &'b [u8]) {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if is(b"host") {
            self.host_count += 1;
            self.host.get_or_insert(value);
        } else if is(b"content-length") {
            self.content_length_count += 1;
            self.content_length.get_or_insert(value);
        } else if is(b"transfer-encoding") {
            self.te_seen = true;
            if let Some(last) = list(value).last() {
                self.te_last = Some(last);
            }
        } else if is(b"connection") {
            for t in list(value) {
                self.conn_close |= t.eq_ignore_ascii_case(b"close");
                self.conn_keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if is(b"accept-encoding") {
            for e in list(value) {
                self.accept_encoding(e);
            }
        } else if is(b"if-none-match") {
            self.if_none_match.get_or_insert(value);
        } else if is(b"if-modified-since") {
            self.if_modified_since.get_or_insert(value);
        } else if is(b"if-range") {
            self.if_range_count += 1;
            self.if_range.get_or_insert(value);
        } else if is(b"range") {
            self.range_count += 1;
            self.range.get_or_insert(value);
        } else if is(b"authorization") {
            self.authorization.get_or_insert(value);
        } else if is(b"referer") {
            self.referer.get_or_insert(value);
        } else if is(b"user-agent") {
            self.user_agent.get_or_insert(value);
        }
    }

    /// One Accept-Encoding element `coding *( OWS ";" OWS param )`
    /// (RFC 9110 §12.5.3). A weight of 0 refuses the coding (§12.4.2); a
    /// malformed weight is taken as a refusal too.
    fn accept_encoding(&mut self, elem: &[u8]) {
        let mut parts = elem.split(|&b| b == b';');
        let coding = trim_ows(parts.next().unwrap_or_default());
        let mut ok = true;
        for p in parts.map(trim_ows) {
            let (k, v) = p.split_at(p.len().min(2));
            if k.eq_ignore_ascii_case(b"q=") {
                ok = qvalue_is_zero(v) == Some(false);
            }
        }
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            self.gzip_named = true;
            self.gzip_ok |= ok;
        } else if coding == b"*" {
            self.star_ok |= ok;
        }
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
/// (RFC 9110 §12.4.2): Some(true) for a zero weight, None if malformed.
fn qvalue_is_zero(v: &[u8]) -> Option<bool> {
    let (&first, rest) = v.split_first()?;
    let frac = match rest.split_first() {
        None => &[][..],
        Some((b'.', f)) => f,
        Some(_) => return None,
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let frac_zero = frac.iter().all(|&b| b == b'0');
    match first {
        b'0' => Some(frac_zero),
        b'1' if frac_zero => Some(false),
        _ => None,
    }
}

/// Message body framing (RFC 9112 §6.1, §6.3).
fn framing(f: &Fields<'_>, minor: u8) -> Result<Body, Reject> {
    if f.te_seen {
        // §6.1: Transfer-Encoding in 1.0 means faulty framing; §6.3(3): a
        // server MAY reject TE together with Content-Length; §6.3(4):
        // chunked must be the final coding of a request.
        let chunked_last = f
            .te_last
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        if minor == 0 || f.content_length_count > 0 || !chunked_last {
            return Err(BAD);
        }
        return Ok(Body::Chunked);
    }
    match (f.content_length_count, f.content_length) {
        (0, _) => Ok(Body::None),
        // §6.3(5): one field, 1*DIGIT; lists and overflow are invalid.
        (1, Some(v)) => parse_u64(v).map(Body::Length).ok_or(BAD),
        _ => Err(BAD),
    }
}

/// Classifies the request-target (RFC 9112 §3.2): returns the authority of
/// an absolute-form target and the path-and-query.
fn target_form(t: &[u8], method: Method) -> Result<(Option<&[u8]>, &[u8]), Reject> {
    // §3.2: no form has a fragment.
    if t.contains(&b'#') {
        return Err(BAD);
    }
    match t.first() {
        Some(b'/') => return Ok((None, t)),
        // §3.2.4: asterisk-form is for OPTIONS only.
        Some(b'*') if t.len() == 1 => {
            return if method == Method::Options {
                Ok((None, t))
            } else {
                Err(BAD)
            };
        }
        _ => {}
    }
    if method == Method::Connect {
        // §3.2.3: authority-form = uri-host ":" port.
        return match split_host_port(t) {
            Some((_, Some(port))) if !port.is_empty() => Ok((None, t)),
            _ => Err(BAD),
        };
    }
    // §3.2.2 absolute-form; scheme is case-insensitive (RFC 3986 §3.1).
    let rest = strip_prefix_ic(t, b"http://")
        .or_else(|| strip_prefix_ic(t, b"https://"))
        .ok_or(BAD)?;
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    // RFC 9110 §4.2.4: no userinfo; §4.2.1: no empty host.
    if authority.contains(&b'@') || !valid_host(authority) {
        return Err(BAD);
    }
    match path.first() {
        None => Ok((Some(authority), b"/")),
        Some(b'/') => Ok((Some(authority), path)),
        _ => Err(BAD), // "?q" right after the authority: see `parse`
    }
}

/// Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): a
/// non-empty reg-name (which covers IPv4) or an `[IPv6]` literal, then an
/// optional port of digits.
pub fn valid_host(h: &[u8]) -> bool {
    split_host_port(h).is_some()
}

/// Splits a valid `host[:port]` into host and port digits.
pub fn split_host_port(h: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let host_end = if h.first() == Some(&b'[') {
        let close = h.iter().position(|&b| b == b']')?;
        let lit = h.get(1..close)?;
        let ok = lit.contains(&b':')
            && lit
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok {
            return None;
        }
        close + 1
    } else {
        let end = h.iter().position(|&b| b == b':').unwrap_or(h.len());
        if end == 0 || !reg_name(h.get(..end)?) {
            return None;
        }
        end
    };
    let (host, port) = h.split_at(host_end);
    match port.split_first() {
        None => Some((host, None)),
        // RFC 3986 §3.2.3: port = *DIGIT.
        Some((b':', p)) if p.iter().all(u8::is_ascii_digit) => Some((host, Some(p))),
        _ => None,
    }
}

/// reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 §3.2.2).
fn reg_name(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3);
            if !hex.is_some_and(|x| x.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The non-empty elements of a comma-separated list (RFC 9110 §5.6.1).
fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

fn strip_prefix_ic<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &[u8]) -> Request<'_> {
        match parse(raw) {
            Ok(Some(r)) => r,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    fn status(raw: &[u8]) -> Option<u16> {
        parse(raw).err().map(|r| r.status)
    }

    /// Rejected requests, in the style of httparse's tables.
    #[test]
    fn rejects() {
        let table: &[(&[u8], u16)] = &[
            // Host (RFC 9112 §3.2).
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: \"a\"\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a:80:90\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: [1234]\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\xc3\xa9\r\n\r\n", 400),
            // Framing (RFC 9112 §6.3).
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n", 400),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            // Version.
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/3\r\nHost: a\r\n\r\n", 505),
            (b"GET / FTP/1.1\r\nHost: a\r\n\r\n", 505),
            // Request line syntax.
            (b"GET /\r\n\r\n", 400),
            (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
            (b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            // Target forms (RFC 9112 §3.2).
            (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://a/#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://a?q HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http:/a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET httpx://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://a/ HTTP/1.1\r\n\r\n", 400),
            (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"CONNECT a: HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"CONNECT http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            // Header syntax.
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHo\"st: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400),
        ];
        for (raw, want) in table {
            let got = parse(raw);
            assert_eq!(
                got.as_ref().err(),
                Some(&Reject {
                    status: *want,
                    close: true
                }),
                "{:?} -> {got:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn too_many_headers() {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 1..MAX_HEADERS {
            raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        let mut full = raw.clone();
        full.extend_from_slice(b"\r\n");
        assert_eq!(ok(&full).head_len, full.len());
        raw.extend_from_slice(b"X-last: v\r\n\r\n");
        assert_eq!(status(&raw), Some(431));
        // Known as soon as the extra line is in, before the head ends.
        let cut = raw.len() - 2;
        assert_eq!(status(&raw[..cut]), Some(431));
    }

    #[test]
    fn fields_table() {
        struct Want {
            raw: &'static [u8],
            method: Method,
            minor: u8,
            host: Option<&'static [u8]>,
            pq: &'static [u8],
            keep_alive: bool,
            body: Body,
        }
        const fn w(
            raw: &'static [u8],
            method: Method,
            minor: u8,
            host: Option<&'static [u8]>,
            pq: &'static [u8],
            keep_alive: bool,
            body: Body,
        ) -> Want {
            Want {
                raw,
                method,
                minor,
                host,
                pq,
                keep_alive,
                body,
            }
        }
        use Body::{Chunked, Length};
        use Method::*;
        let table = [
            w(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            w(b"GET / HTTP/1.0\r\n\r\n", Get, 0, None, b"/", false, Body::None),
            w(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n", Get, 0, Some(b"a"), b"/", false, Body::None),
            w(b"HEAD /x?y HTTP/1.1\r\nHost: a\r\n\r\n", Head, 1, Some(b"a"), b"/x?y", true, Body::None),
            w(b"get / HTTP/1.1\r\nHost: a\r\n\r\n", Unknown, 1, Some(b"a"), b"/", true, Body::None),
            w(b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", Unknown, 1, Some(b"a"), b"/", true, Body::None),
            w(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Body::None),
            w(b"PUT / HTTP/1.1\r\nHost: a\r\n\r\n", Put, 1, Some(b"a"), b"/", true, Body::None),
            w(b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", Delete, 1, Some(b"a"), b"/", true, Body::None),
            w(b"PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", Patch, 1, Some(b"a"), b"/", true, Body::None),
            w(b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", Trace, 1, Some(b"a"), b"/", true, Body::None),
            w(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Options, 1, Some(b"a"), b"*", true, Body::None),
            w(b"OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", Options, 1, Some(b"a"), b"/", true, Body::None),
            w(b"CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n\r\n", Connect, 1, Some(b"a.b:443"), b"a.b:443", true, Body::None),
            w(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n", Connect, 1, Some(b"x"), b"[::1]:443", true, Body::None),
            // Host forms.
            w(b"GET / HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n", Get, 1, Some(b"Example.COM:8080"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: 192.168.1.1\r\n\r\n", Get, 1, Some(b"192.168.1.1"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", Get, 1, Some(b"[::1]:80"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: [fe80::1:2.3.4.5]\r\n\r\n", Get, 1, Some(b"[fe80::1:2.3.4.5]"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", Get, 1, Some(b"a:"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a%41-b_c~\r\n\r\n", Get, 1, Some(b"a%41-b_c~"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost:  a \r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Get, 1, None, b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: \r\n\r\n", Get, 1, None, b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            // Absolute-form: the authority wins over Host.
            w(b"GET http://ex.org/a?b HTTP/1.1\r\nHost: other\r\n\r\n", Get, 1, Some(b"ex.org"), b"/a?b", true, Body::None),
            w(b"GET HTTP://Ex.org HTTP/1.1\r\nHost: other\r\n\r\n", Get, 1, Some(b"Ex.org"), b"/", true, Body::None),
            w(b"GET https://h:8443/x HTTP/1.1\r\nHost: h\r\n\r\n", Get, 1, Some(b"h:8443"), b"/x", true, Body::None),
            w(b"GET hTTpS://[::1]/ HTTP/1.1\r\nHost: h\r\n\r\n", Get, 1, Some(b"[::1]"), b"/", true, Body::None),
            w(b"GET http://h/?q HTTP/1.1\r\nHost:\r\n\r\n", Get, 1, Some(b"h"), b"/?q", true, Body::None),
            w(b"GET http://h//x HTTP/1.0\r\n\r\n", Get, 0, Some(b"h"), b"//x", false, Body::None),
            // Framing.
            w(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Length(5)),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Length(0)),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  007 \r\n\r\n", Post, 1, Some(b"a"), b"/", true, Length(7)),
            w(b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 18446744073709551615\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Length(u64::MAX)),
            w(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", Post, 0, None, b"/", false, Length(3)),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Chunked),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Chunked),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Chunked),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip ,chunked , \r\n\r\n", Post, 1, Some(b"a"), b"/", true, Chunked),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Post, 1, Some(b"a"), b"/", true, Chunked),
            w(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n", Post, 1, Some(b"a"), b"/", true, Chunked),
            // Connection (RFC 9112 §9.3).
            w(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", Get, 1, Some(b"a"), b"/", false, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", Get, 1, Some(b"a"), b"/", false, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n", Get, 1, Some(b"a"), b"/", false, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            w(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: \"close\"\r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            w(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", Get, 0, None, b"/", true, Body::None),
            w(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", Get, 0, None, b"/", true, Body::None),
            w(b"GET / HTTP/1.0\r\nConnection: te,\tkeep-alive \r\n\r\n", Get, 0, None, b"/", true, Body::None),
            w(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", Get, 0, None, b"/", false, Body::None),
            w(b"GET / HTTP/1.0\r\nConnection: keepalive\r\n\r\n", Get, 0, None, b"/", false, Body::None),
            w(b"GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", Get, 0, None, b"/", false, Body::None),
            // Line ending leniency httparse allows (RFC 9112 §2.2).
            w(b"GET / HTTP/1.1\nHost: a\n\n", Get, 1, Some(b"a"), b"/", true, Body::None),
            w(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Get, 1, Some(b"a"), b"/", true, Body::None),
        ];
        for t in &table {
            let r = ok(t.raw);
            let ctx = String::from_utf8_lossy(t.raw);
            assert_eq!(r.method, t.method, "{ctx:?}");
            assert_eq!(r.minor, t.minor, "{ctx:?}");
            assert_eq!(r.host, t.host, "{ctx:?}");
            assert_eq!(r.path_and_query, t.pq, "{ctx:?}");
            assert_eq!(r.keep_alive, t.keep_alive, "{ctx:?}");
            assert_eq!(r.body, t.body, "{ctx:?}");
            assert_eq!(r.head_len, t.raw.len(), "{ctx:?}");
            let line_start = t
                .raw
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap();
            assert!(t.raw[line_start..].starts_with(r.method_raw), "{ctx:?}");
        }
    }

    #[test]
    fn raw_fields_and_head_len() {
        let raw = b"POST http://h/cgi?x=1 HTTP/1.1\r\nHost: a\r\n\
            If-None-Match: \"1\"\r\nIf-None-Match: \"2\"\r\n\
            If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
            If-Range: \"1\"\r\nRange: bytes=0-1\r\n\
            Authorization: Basic YTpi\r\nReferer: http://r/\r\n\
            User-Agent: curl/8\r\nUser-Agent: other\r\n\
            Content-Length: 5\r\n\r\nhello";
        let r = ok(raw);
        assert_eq!(r.method_raw, b"POST");
        assert_eq!(r.target, b"http://h/cgi?x=1");
        assert_eq!(r.path_and_query, b"/cgi?x=1");
        assert_eq!(r.host, Some(&b"h"[..]));
        assert_eq!(r.if_none_match, Some(&b"\"1\""[..]));
        assert_eq!(
            r.if_modified_since,
            Some(&b"Sun, 06 Nov 1994 08:49:37 GMT"[..])
        );
        assert_eq!(r.if_range, Some(&b"\"1\""[..]));
        assert_eq!(r.range, Some(&b"bytes=0-1"[..]));
        assert_eq!(r.authorization, Some(&b"Basic YTpi"[..]));
        assert_eq!(r.referer, Some(&b"http://r/"[..]));
        assert_eq!(r.user_agent, Some(&b"curl/8"[..]));
        assert_eq!(r.body, Body::Length(5));
        assert_eq!(r.head_len, raw.len() - 5);
        assert_eq!(&raw[r.head_len..], b"hello");

        let r = ok(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(r.if_none_match, None);
        assert_eq!(r.if_modified_since, None);
        assert_eq!((r.range, r.if_range), (None, None));
        assert_eq!(
            (r.authorization, r.referer, r.user_agent),
            (None, None, None)
        );
        assert!(!r.accept_gzip);

        // Range or If-Range twice: the Range is dropped.
        let r = ok(b"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n");
        assert_eq!((r.range, r.if_range), (None, None));
        let r = ok(b"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nIf-Range: \"a\"\r\nIf-Range: \"b\"\r\n\r\n");
        assert_eq!((r.range, r.if_range), (None, None));
        // Pipelined: the head ends at the first blank line.
        let two = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
        let r = ok(two);
        assert_eq!(r.path_and_query, b"/1");
        assert_eq!(ok(&two[r.head_len..]).path_and_query, b"/2");
    }

    #[test]
    fn accept_gzip_table() {
        let table: &[(&[u8], bool)] = &[
            (b"gzip", true),
            (b"GZIP", true),
            (b"x-gzip", true),
            (b"gzip, deflate, br", true),
            (b"br;q=1.0, gzip;q=0.8, *;q=0.1", true),
            (b"deflate, gzip ; q=0.5", true),
            (b"gzip;Q=1", true),
            (b"gzip;q=1.000", true),
            (b"gzip;q=0.001", true),
            (b"*", true),
            (b"*;q=0.3", true),
            (b"br, *", true),
            (b"gzip;q=0, x-gzip", true),
            (b"", false),
            (b"identity", false),
            (b"br, deflate", false),
            (b"gzipx", false),
            (b"gzip;q=0", false),
            (b"gzip;q=0.", false),
            (b"gzip;q=0.0", false),
            (b"gzip;q=0.000", false),
            (b"gzip; q=0", false),
            (b"gzip;q=0, *", false),
            (b"*, gzip;q=0", false),
            (b"*;q=0", false),
            (b"*;q=0.00", false),
            // Malformed weights refuse.
            (b"gzip;q=", false),
            (b"gzip;q=0.0000", false),
            (b"gzip;q=1.5", false),
            (b"gzip;q=2", false),
            (b"gzip;q=-1", false),
            (b"gzip;q=0.5x", false),
            (b"gzip;q=.5", false),
        ];
        for (v, want) in table {
            let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: ".to_vec();
            raw.extend_from_slice(v);
            raw.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                ok(&raw).accept_gzip,
                *want,
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
        // Across several Accept-Encoding lines.
        let r = ok(
            b"GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\naccept-encoding: gzip\r\n\r\n",
        );
        assert!(r.accept_gzip);
        let r = ok(
            b"GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: *\r\nAccept-Encoding: gzip;q=0\r\n\r\n",
        );
        assert!(!r.accept_gzip);
    }

    const FULL: &[u8] = b"GET http://example.org/a/b.html?x=1 HTTP/1.1\r\n\
        Host: example.org\r\n\
        User-Agent: test\r\n\
        Accept-Encoding: gzip, br\r\n\
        If-None-Match: W/\"abc\", \"def\"\r\n\
        Range: bytes=0-99\r\n\
        Connection: keep-alive\r\n\
        Content-Length: 3\r\n\
        \r\n";

    /// Every strict prefix is Partial; the whole head parses the same
    /// whatever follows it.
    #[test]
    fn every_prefix_is_partial() {
        for raw in [
            FULL,
            b"GET / HTTP/1.0\n\n".as_slice(),
            b"\r\nOPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            for cut in 0..raw.len() {
                assert!(
                    matches!(parse(&raw[..cut]), Ok(None)),
                    "prefix {cut}: {:?}",
                    String::from_utf8_lossy(&raw[..cut])
                );
            }
            let whole = ok(raw);
            let mut more = raw.to_vec();
            more.extend_from_slice(b"abcGET / HTTP/1.1\r\n");
            let again = ok(&more);
            assert_eq!(format!("{whole:?}"), format!("{again:?}"));
            assert_eq!(whole.head_len, raw.len());
        }
        let r = ok(FULL);
        assert_eq!(r.host, Some(&b"example.org"[..]));
        assert_eq!(r.path_and_query, b"/a/b.html?x=1");
        assert!(r.accept_gzip && r.keep_alive);
        assert_eq!(r.body, Body::Length(3));
    }

    /// Bytes flipped anywhere in valid heads: never a panic.
    #[test]
    fn mutations_never_panic() {
        let specials = [
            0u8, b'\r', b'\n', b' ', b':', b',', b'/', b'%', b'#', b'@', b'[', 0x7f, 0xff,
        ];
        let mut buf = FULL.to_vec();
        for i in 0..FULL.len() {
            for &s in &specials {
                buf[i] = s;
                let _ = parse(&buf);
                let _ = parse(&buf[..i + 1]);
                let _ = overflow_status(&buf[..i]);
            }
            buf[i] = FULL[i];
        }
    }

    #[test]
    fn overflow_statuses() {
        let table: &[(&[u8], u16)] = &[
            (b"", 414),
            (b"GET /aaaaaaaa", 414),
            (b"GET /aaaaaaaa HTTP/1.1\r", 414),
            (b"\r\n\r\nGET /aaaa", 414),
            (b"\n", 414),
            (b"GET / HTTP/1.1\r\n", 431),
            (b"GET / HTTP/1.1\nHost: a\nX: aaaa", 431),
            (b"\r\nGET / HTTP/1.1\r\nX: a", 431),
        ];
        for (buf, want) in table {
            assert_eq!(
                overflow_status(buf),
                *want,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn host_syntax() {
        let good: &[&[u8]] = &[
            b"a",
            b"a.b.c",
            b"A-1.example",
            b"1.2.3.4",
            b"1.2.3.4:80",
            b"[::]",
            b"[::1]:",
            b"[2001:db8::1]:65535",
            b"x:",
            b"a%2Eb",
            b"sub!$&'()*+,;=",
        ];
        let bad: &[&[u8]] = &[
            b"", b":", b":1", b"[", b"]", b"[]", b"[:::", b"[::1]:a", b"[::1]]", b"[v1.x]", b"a:b",
            b"a::1", b"a b", b"a\tb", b"a@b", b"a/b", b"a?b", b"a#b", b"%", b"%zz", b"a%2",
            b"\xff",
        ];
        for h in good {
            assert!(valid_host(h), "{:?}", String::from_utf8_lossy(h));
        }
        for h in bad {
            assert!(!valid_host(h), "{:?}", String::from_utf8_lossy(h));
        }
        assert_eq!(
            split_host_port(b"a:80"),
            Some((&b"a"[..], Some(&b"80"[..])))
        );
        assert_eq!(split_host_port(b"[::1]"), Some((&b"[::1]"[..], None)));
    }

    #[test]
    fn qvalues() {
        let table: &[(&[u8], Option<bool>)] = &[
            (b"0", Some(true)),
            (b"0.", Some(true)),
            (b"0.000", Some(true)),
            (b"0.5", Some(false)),
            (b"1", Some(false)),
            (b"1.", Some(false)),
            (b"1.000", Some(false)),
            (b"1.001", None),
            (b"0.0000", None),
            (b"", None),
            (b"2", None),
            (b"0,5", None),
        ];
        for (v, want) in table {
            assert_eq!(qvalue_is_zero(v), *want, "{:?}", String::from_utf8_lossy(v));
        }
    }
}
