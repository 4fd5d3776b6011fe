//! A typed channel over a `SOCK_SEQPACKET` socket: one message per packet,
//! postcard-encoded, an fd attached exactly when the variant says so.
//! Anything else is a protocol error that ends the channel; nothing here
//! panics on what a peer sends.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::msg::Message;
use crate::limits::MAX_PACKET_BYTES;
use crate::sys;

/// A packet-sized scratch buffer (owned by the caller: no allocation per message).
pub type PacketBuf = [u8; MAX_PACKET_BYTES];

#[derive(Debug)]
pub enum RecvError {
    /// The peer closed its end.
    Closed,
    /// Undecodable, trailing bytes, or wrong fd attachment.
    Protocol,
    Io(io::Error),
}

/// Encodes `msg` into `buf` (exposed for tests and size checks).
pub fn encode<'a, M: Message>(msg: &M, buf: &'a mut [u8]) -> Option<&'a mut [u8]> {
    postcard::to_slice(msg, buf).ok()
}

/// Decodes exactly one message that fills `bytes` (no trailing bytes).
pub fn decode<M: Message>(bytes: &[u8]) -> Option<M> {
    match postcard::take_from_bytes::<M>(bytes) {
        Ok((m, [])) => Some(m),
        _ => None,
    }
}

pub struct Chan<In, Out> {
    fd: OwnedFd,
    _p: PhantomData<(In, Out)>,
}

impl<In: Message, Out: Message> Chan<In, Out> {
    pub fn new(fd: OwnedFd) -> Self {
        Chan {
            fd,
            _p: PhantomData,
        }
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends one message; `pass` must be given exactly when the message
    /// carries an fd. `nonblock`: WouldBlock instead of waiting.
    pub fn send(&self, msg: &Out, pass: Option<RawFd>, nonblock: bool) -> io::Result<()> {
        let mut buf = [0u8; MAX_PACKET_BYTES];
        self.send_in(msg, pass, nonblock, &mut buf)
    }

    /// `send`, encoding into the caller's buffer: no packet-sized frame
    /// (or memset) per message on the request path.
    pub fn send_in(
        &self,
        msg: &Out,
        pass: Option<RawFd>,
        nonblock: bool,
        buf: &mut PacketBuf,
    ) -> io::Result<()> {
        if msg.carries_fd() != pass.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fd attachment mismatch",
            ));
        }
        let bytes = encode(msg, buf).ok_or_else(|| io::Error::other("message too large"))?;
        sys::send_packet(self.fd.as_raw_fd(), bytes, pass, nonblock)
    }

    /// Receives one message without blocking; `Ok(None)` when none is queued.
    pub fn recv(&self, buf: &mut PacketBuf) -> Result<Option<(In, Option<OwnedFd>)>, RecvError> {
        let p = match sys::recv_packet(self.fd.as_raw_fd(), buf) {
            Ok(None) => return Ok(None),
            Ok(Some(p)) => p,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Err(RecvError::Closed),
            Err(e) => return Err(RecvError::Io(e)),
        };
        if p.len == 0 && p.fd.is_none() {
            return Err(RecvError::Closed);
        }
        if p.malformed {
            return Err(RecvError::Protocol);
        }
        let msg: In = decode(&buf[..p.len]).ok_or(RecvError::Protocol)?;
        if msg.carries_fd() != p.fd.is_some() {
            return Err(RecvError::Protocol);
        }
        Ok(Some((msg, p.fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::msg::*;
    use heapless::Vec as HVec;
    use postcard::experimental::max_size::MaxSize;

    fn req() -> ToVhost {
        let mut path = HVec::new();
        path.extend_from_slice(b"/index.html").unwrap();
        ToVhost::Request(Request {
            slot: 7,
            generation: 3,
            method: Method::Get,
            path,
            query: HVec::new(),
            if_none_match: HVec::new(),
            if_modified_since: HVec::new(),
            if_range: HVec::new(),
            range: HVec::new(),
            accept_gzip: true,
            authorization: HVec::new(),
        })
    }

    #[test]
    fn round_trip_and_strict_decode() {
        let mut buf = [0u8; MAX_PACKET_BYTES];
        let m = req();
        let bytes = encode(&m, &mut buf).unwrap().to_vec();
        assert_eq!(decode::<ToVhost>(&bytes), Some(m));
        // Trailing garbage and truncation are refused, never panics.
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode::<ToVhost>(&longer), None);
        for cut in 0..bytes.len() {
            assert_eq!(decode::<ToVhost>(&bytes[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u32 = 0x1234_5678;
        let mut buf = [0u8; 300];
        for _ in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            let n = (x as usize) % buf.len();
            let _ = decode::<ToVhost>(&buf[..n]);
            let _ = decode::<ToListener>(&buf[..n]);
            let _ = decode::<ToChild>(&buf[..n]);
            let _ = decode::<ToUmaster>(&buf[..n]);
        }
    }

    fn full<const N: usize>() -> HVec<u8, N> {
        let mut v = HVec::new();
        v.resize(N, b'x').unwrap();
        v
    }

    #[test]
    fn max_sized_messages_fit_a_packet() {
        // Fill every variable field to capacity and encode: the result must
        // fit (the compile-time asserts prove the bound; this checks that the
        // bound is real).
        let mut r = Request {
            slot: u32::MAX,
            generation: u32::MAX,
            method: Method::Other,
            path: HVec::new(),
            query: HVec::new(),
            if_none_match: HVec::new(),
            if_modified_since: HVec::new(),
            if_range: HVec::new(),
            range: HVec::new(),
            accept_gzip: true,
            authorization: HVec::new(),
        };
        r.path.resize(r.path.capacity(), b'a').unwrap();
        r.query.resize(r.query.capacity(), b'q').unwrap();
        r.if_none_match
            .resize(r.if_none_match.capacity(), b'"')
            .unwrap();
        r.if_modified_since
            .resize(r.if_modified_since.capacity(), b'x')
            .unwrap();
        r.if_range.resize(r.if_range.capacity(), b'x').unwrap();
        r.range.resize(r.range.capacity(), b'x').unwrap();
        r.authorization
            .resize(r.authorization.capacity(), b'x')
            .unwrap();
        let mut buf = [0u8; MAX_PACKET_BYTES];
        let n = encode(&ToVhost::Request(r), &mut buf).unwrap().len();
        assert!(n <= ToVhost::POSTCARD_MAX_SIZE);

        let mut head = HVec::new();
        head.resize(head.capacity(), b'h').unwrap();
        let mut body = HVec::new();
        body.resize(body.capacity(), b'b').unwrap();
        let resp = ToListener::Response(Response {
            slot: u32::MAX,
            generation: u32::MAX,
            status: 599,
            head,
            length: Some(u64::MAX),
            body: Body::Inline(body),
            settings_gen: u32::MAX,
            cache: Some(CacheInfo {
                size: u64::MAX,
                mtime: i64::MIN,
                etag: full(),
                base: full(),
                validators: u16::MAX,
            }),
        });
        let n = encode(&resp, &mut buf).unwrap().len();
        assert!(n <= ToListener::POSTCARD_MAX_SIZE);
    }

    #[test]
    fn fd_attachment_is_enforced() {
        let (a, b) = sys::seqpacket_pair().unwrap();
        let tx: Chan<ToVhost, ToListener> = Chan::new(a);
        let rx: Chan<ToListener, ToVhost> = Chan::new(b);
        let resp = ToListener::Response(Response {
            slot: 1,
            generation: 1,
            status: 200,
            head: HVec::new(),
            length: Some(0),
            body: Body::File { offset: 0 },
            settings_gen: 0,
            cache: None,
        });
        // A file body without an fd is refused at the sender...
        assert!(tx.send(&resp, None, true).is_err());
        // ...and a request with an fd is refused at the receiver.
        let (x, _y) = sys::seqpacket_pair().unwrap();
        let mut enc = [0u8; MAX_PACKET_BYTES];
        let bytes = encode(&req(), &mut enc).unwrap();
        sys::send_packet(rx.raw(), bytes, Some(x.as_raw_fd()), true).unwrap();
        let mut buf = [0u8; MAX_PACKET_BYTES];
        assert!(matches!(tx.recv(&mut buf), Err(RecvError::Protocol)));
        // The right shape goes through with its fd.
        tx.send(&resp, Some(x.as_raw_fd()), true).unwrap();
        let (m, fd) = rx.recv(&mut buf).unwrap().unwrap();
        assert_eq!(m, resp);
        assert!(fd.is_some());
        // Nothing queued: Ok(None); peer gone: Closed.
        assert!(matches!(rx.recv(&mut buf), Ok(None)));
        drop(tx);
        assert!(matches!(rx.recv(&mut buf), Err(RecvError::Closed)));
    }
}
