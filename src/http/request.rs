//! Request head parsing and validation (RFC 9112 §2-§6, RFC 9110 §7.2).
//! STUB: signatures fixed; bodies to be written.

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

/// Parses and validates one request head at the start of `buf`.
/// `Ok(None)`: incomplete, read more (caller answers 414/431 through
/// `overflow_status` when the buffer is full).
pub fn parse(buf: &[u8]) -> Result<Option<Request<'_>>, Reject> {
    let _ = buf;
    todo!()
}

/// The status for a head that did not fit the buffer: 414 while the
/// request line itself is incomplete, else 431.
pub fn overflow_status(buf: &[u8]) -> u16 {
    let _ = buf;
    todo!()
}
