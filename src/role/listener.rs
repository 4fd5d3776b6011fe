//! listener: owns client connections. Accepts, reads into the connection's
//! fixed buffer, parses and validates (`http::request`), routes by Host,
//! forwards a `Request` to the vhost worker, and writes back the head and
//! the body (inline bytes, or `sendfile` from the fd the worker passed).
//! Unprivileged, chrooted to an empty directory: it never opens a file.
//!
//! Memory is fixed at start: `max_connections` slots, each with a
//! `header_buffer` input buffer and an output buffer, in one arena.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use heapless::Vec as HVec;

use super::fdcache::FdCache;
use super::{CtlChan, Sig};
use crate::http::request::{self, Body as ReqBody, Method as HMethod};
use crate::http::writer::Writer;
use crate::http::{date, file, page, status, target};
use crate::ipc::chan::{Chan, PacketBuf, RecvError};
use crate::ipc::msg::*;
use crate::limits::*;
use crate::sys;

type VhostChan = Chan<ToListener, ToVhost>;
type Link = Chan<FromUmaster, ToUmaster>;

const K_CTL: usize = 0;
const K_LINK: usize = 1;
const K_SIG: usize = 2;
const K_LISTEN: usize = 16;
const K_VHOST: usize = 64;
const K_CONN: usize = 1024;

/// While stopping, how long an idle keep-alive connection may stay silent.
const STOP_IDLE_MS: u64 = 1_000;

/// Lingering close: after our last byte, read and drop what the client still
/// sends for this long, so our response is not destroyed by a reset.
const LINGER_MS: u64 = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Free,
    /// Keep-alive: waiting for the first byte of the next request.
    Idle,
    /// Part of a request head has arrived.
    Reading,
    /// The request was sent to vhost `.0`; waiting for its response.
    WaitVhost(u8),
    /// The vhost channel was full; the request waits to be sent.
    PendingVhost(u8),
    /// Writing the response head / inline body / file.
    Writing,
    /// Reading and dropping the rest of a request body.
    Discard,
    /// Write side shut; reading until EOF or timeout, then close.
    Lingering,
}

/// What a listener knows of a vhost worker's channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VState {
    /// Never wired yet (start-up, or a worker new in a reload): requests
    /// wait briefly for umaster to wire it.
    Unknown,
    Up,
    /// Its worker died: requests get 503 until a new one is wired.
    Down,
}

/// How long a request waits for a vhost that is not wired yet.
const WIRE_WAIT_MS: u64 = 2_000;

/// Where a response body comes from.
enum Src {
    None,
    /// An fd passed for this response only.
    Own(OwnedFd),
    /// An fd cache entry (released when the response is done).
    Cached(usize),
}

#[derive(Clone, Copy, Default)]
struct Span {
    start: u16,
    len: u16,
}

struct Conn {
    fd: Option<OwnedFd>,
    peer: [u8; 16],
    generation: u32,
    st: St,
    filled: usize,
    deadline: u64,
    /// (read, write) interest currently registered.
    interest: (bool, bool),
    out_len: usize,
    out_pos: usize,
    file: Src,
    file_off: u64,
    /// TCP_CORK is on until the first chunk of a paced body is out.
    corked: bool,
    file_end: u64,
    head_len: usize,
    body_left: u64,
    keep_alive: bool,
    close_after: bool,
    minor: u8,
    is_head: bool,
    // access log
    vhost: u8,
    req_line: Span,
    referer: Span,
    agent: Span,
    status: u16,
    bytes: u64,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            fd: None,
            peer: [0; 16],
            generation: 0,
            st: St::Free,
            filled: 0,
            deadline: 0,
            interest: (false, false),
            out_len: 0,
            out_pos: 0,
            file: Src::None,
            file_off: 0,
            corked: false,
            file_end: 0,
            head_len: 0,
            body_left: 0,
            keep_alive: false,
            close_after: false,
            minor: 1,
            is_head: false,
            vhost: 0,
            req_line: Span::default(),
            referer: Span::default(),
            agent: Span::default(),
            status: 0,
            bytes: 0,
        }
    }
}

struct Listener {
    conf: ListenerConf,
    poll: sys::Poll,
    ctl: CtlChan,
    link: Option<Link>,
    listen: HVec<OwnedFd, MAX_LISTEN>,
    listening: bool,
    vhosts: [Option<VhostChan>; MAX_VHOSTS],
    vstate: [VState; MAX_VHOSTS],
    /// On the heap: a Route holds up to 8 host names of 260 bytes, and 32 of
    /// them inline made this struct (and the stack frame that builds it)
    /// over 200 KiB, all of it resident through stack probing.
    routes: Vec<Route>,
    /// A route table being received (between RoutesBegin and RoutesEnd).
    next_routes: Option<Vec<Route>>,
    /// Bit v: some route leads to vhost id v.
    routed: u64,
    default_vhost: u8,
    /// Where requests to workers are encoded (one buffer, not one per call).
    enc: Box<PacketBuf>,
    /// Grows up to `max_conns` (capacity reserved at start), never beyond.
    conns: Vec<Conn>,
    max_conns: usize,
    free: Vec<u32>,
    arena: sys::Region,
    in_len: usize,
    out_len: usize,
    start: Instant,
    now: u64,
    date: [u8; date::DATE_LEN],
    date_secs: i64,
    stopping: bool,
    next_sweep: u64,
    blocked_vhosts: u64,
    cache: FdCache,
    /// Connections whose response just finished and whose buffer may hold
    /// the next (pipelined) request: handled by the loop, not by recursion
    /// (a long pipeline answered from the cache would otherwise nest a
    /// call per request). Capacity `max_connections`: never reallocates.
    again: Vec<u32>,
    /// Each worker's settings generation as last seen.
    vgen: [u32; MAX_VHOSTS],
}

// Not inlined into child_main: each role's frame stays its own (stack
// probes make every page of a frame resident).
#[inline(never)]
pub fn run(ctl: CtlChan, conf: ListenerConf) -> i32 {
    super::init_logger(super::level_from_u8(conf.common.log_level));
    sys::set_comm("rttpd: listener");
    let mut sfd = match sys::signal_fd(super::SIGNALS) {
        Ok(s) => s,
        Err(e) => {
            log::error!("listener: signalfd: {e}");
            return 1;
        }
    };
    // Memory is reserved before the drop and never grows: pages of the
    // arena are only touched by connections that use them.
    let n = (conf.max_connections as usize).clamp(1, MAX_MAX_CONNECTIONS);
    let in_len = (conf.header_buffer as usize).clamp(MIN_HEADER_BUFFER, MAX_HEADER_BUFFER);
    let out_len = OUT_BUF_BYTES;
    let arena = match sys::Region::new(n * (in_len + out_len)) {
        Ok(r) => r,
        Err(e) => {
            log::error!("listener: cannot reserve connection buffers: {e}");
            return 1;
        }
    };
    // The pool is reserved here and filled as connections first need it:
    // its untouched pages cost nothing while the server is idle.
    let conns = Vec::with_capacity(n);
    let free: Vec<u32> = Vec::with_capacity(n);
    super::drop_or_exit("listener", &conf.common);
    let poll = match sys::Poll::new() {
        Ok(p) => p,
        Err(e) => {
            log::error!("listener: poll: {e}");
            return 1;
        }
    };
    let mut l = Listener {
        conf,
        poll,
        ctl,
        link: None,
        listen: HVec::new(),
        listening: true,
        vhosts: Default::default(),
        vstate: [VState::Unknown; MAX_VHOSTS],
        routes: Vec::new(),
        next_routes: None,
        routed: 0,
        default_vhost: 0,
        enc: Box::new([0; MAX_PACKET_BYTES]),
        conns,
        max_conns: n,
        free,
        arena,
        in_len,
        out_len,
        start: Instant::now(),
        now: 0,
        date: [0; date::DATE_LEN],
        date_secs: -1,
        stopping: false,
        next_sweep: 0,
        blocked_vhosts: 0,
        cache: FdCache::new(CACHE_ENTRIES),
        again: Vec::with_capacity(n),
        vgen: [0; MAX_VHOSTS],
    };
    let _ = l.poll.add(l.ctl.raw(), K_CTL, true, false);
    let _ = l.poll.add(sfd.as_raw_fd(), K_SIG, true, false);
    let mut events = sys::Events::new(POLL_EVENTS);
    let mut pbuf = [0u8; MAX_PACKET_BYTES];
    let mut stop_at = u64::MAX;
    loop {
        let _ = l.poll.wait(&mut events, Duration::from_millis(250));
        l.tick();
        for ev in events.iter() {
            match ev.key {
                // pmaster is gone: so are we.
                K_CTL if !l.on_ctl(&mut pbuf) => return 0,
                K_LINK => l.on_link(&mut pbuf),
                K_SIG => {
                    let mut stop = false;
                    super::read_signals(&mut sfd, |s| stop |= matches!(s, Sig::Stop));
                    if stop && !l.stopping {
                        l.begin_stop();
                        stop_at = l.now + SHUTDOWN_GRACE_MS;
                    }
                }
                k if (K_LISTEN..K_LISTEN + MAX_LISTEN).contains(&k) => l.on_accept(k - K_LISTEN),
                k if (K_VHOST..K_VHOST + MAX_VHOSTS).contains(&k) => {
                    if ev.readable {
                        l.on_vhost(k - K_VHOST, &mut pbuf);
                    }
                    if ev.writable {
                        l.on_vhost_writable(k - K_VHOST);
                    }
                }
                k if k >= K_CONN => {
                    let slot = k - K_CONN;
                    if slot < l.conns.len() {
                        if ev.readable {
                            l.on_readable(slot);
                        }
                        if ev.writable {
                            l.on_writable(slot);
                        }
                    }
                }
                _ => {}
            }
        }
        while let Some(slot) = l.again.pop() {
            if l.conns[slot as usize].st == St::Idle {
                l.process(slot as usize);
            }
        }
        if l.now >= l.next_sweep {
            l.sweep();
            l.next_sweep = l.now + 250;
        }
        if l.stopping {
            let busy = l.conns.iter().any(|c| c.st != St::Free);
            if !busy || l.now >= stop_at {
                return 0;
            }
        }
    }
}

fn ip16(a: &SocketAddr) -> [u8; 16] {
    match a.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn span_of(buf: &[u8], part: Option<&[u8]>) -> Span {
    match part {
        Some(p) => {
            let start = (p.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
            if start <= buf.len() && p.len() <= buf.len() - start {
                Span {
                    start: start.min(u16::MAX as usize) as u16,
                    len: p.len().min(u16::MAX as usize) as u16,
                }
            } else {
                Span::default()
            }
        }
        None => Span::default(),
    }
}

fn copy_into<const N: usize>(dst: &mut HVec<u8, N>, src: &[u8]) {
    dst.clear();
    let n = src.len().min(N);
    let _ = dst.extend_from_slice(&src[..n]);
}

impl Listener {
    fn tick(&mut self) {
        self.now = super::ms_since(self.start);
        let secs = sys::unix_now();
        if secs != self.date_secs {
            self.date_secs = secs;
            date::format(secs, &mut self.date);
        }
    }

    /// The input and output buffers of connection `slot`.
    fn bufs(&mut self, slot: usize) -> (&mut [u8], &mut [u8]) {
        let stride = self.in_len + self.out_len;
        let base = slot * stride;
        let (a, b) = self.arena[base..base + stride].split_at_mut(self.in_len);
        (a, b)
    }

    // ------------------------------------------------------------ control

    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    fn on_ctl(&mut self, pbuf: &mut [u8; MAX_PACKET_BYTES]) -> bool {
        loop {
            match self.ctl.recv(pbuf) {
                Ok(None) => return true,
                Ok(Some((ToChild::RoutesBegin, None))) => self.next_routes = Some(Vec::new()),
                Ok(Some((ToChild::Route(r), None))) => {
                    if let Some(t) = self.next_routes.as_mut().filter(|t| t.len() < MAX_VHOSTS) {
                        t.push(r);
                    }
                }
                Ok(Some((ToChild::RoutesEnd, None))) => {
                    if let Some(t) = self.next_routes.take() {
                        self.default_vhost = t
                            .iter()
                            .find(|r| r.default)
                            .or(t.first())
                            .map(|r| r.vhost)
                            .unwrap_or(0);
                        self.routed = t.iter().fold(0, |m, r| m | 1u64 << (r.vhost % 64));
                        self.routes = t;
                        for v in 0..MAX_VHOSTS {
                            self.release_unrouted(v);
                        }
                    }
                }
                Ok(Some((ToChild::Listen, Some(fd)))) => {
                    let i = self.listen.len();
                    if self
                        .poll
                        .add(fd.as_raw_fd(), K_LISTEN + i, true, false)
                        .is_ok()
                    {
                        let _ = self.listen.push(fd);
                    }
                }
                Ok(Some((ToChild::Link, Some(fd)))) => {
                    if let Some(old) = self.link.take() {
                        self.poll.delete(old.raw());
                    }
                    let link = Link::new(fd);
                    let _ = self.poll.add(link.raw(), K_LINK, true, false);
                    self.link = Some(link);
                }
                Ok(Some(_)) => log::warn!("listener: unexpected control message ignored"),
                Err(RecvError::Protocol) => {
                    log::error!("listener: protocol error on the control channel");
                    return false;
                }
                Err(_) => return false,
            }
        }
    }

    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    fn on_link(&mut self, pbuf: &mut [u8; MAX_PACKET_BYTES]) {
        loop {
            let Some(link) = self.link.as_ref() else {
                return;
            };
            match link.recv(pbuf) {
                Ok(None) => return,
                Ok(Some((FromUmaster::Peer { id }, Some(fd)))) => {
                    let v = id as usize;
                    if v >= MAX_VHOSTS {
                        continue;
                    }
                    self.drop_vhost(v, false);
                    let ch = VhostChan::new(fd);
                    let _ = self.poll.add(ch.raw(), K_VHOST + v, true, false);
                    self.vhosts[v] = Some(ch);
                    self.vstate[v] = VState::Up;
                    // Requests that waited for this worker go now.
                    for slot in 0..self.conns.len() {
                        if self.conns[slot].st == St::PendingVhost(v as u8) {
                            self.resend(slot);
                        }
                    }
                }
                Ok(Some(_)) | Err(_) => {
                    if let Some(l) = self.link.take() {
                        self.poll.delete(l.raw());
                    }
                    return;
                }
            }
        }
    }

    fn begin_stop(&mut self) {
        self.stopping = true;
        for fd in self.listen.iter() {
            self.poll.delete(fd.as_raw_fd());
        }
        self.listen.clear();
        // Idle keep-alive connections are not cut at once (a client may be
        // sending its next request right now): each may bring one more
        // request, answered with `Connection: close`, or is closed when
        // silent for a moment.
        let soon = self.now + STOP_IDLE_MS;
        for c in self.conns.iter_mut() {
            if c.st == St::Idle {
                c.deadline = c.deadline.min(soon);
            }
        }
    }

    // ------------------------------------------------------------ accept

    fn on_accept(&mut self, i: usize) {
        if !self.listening {
            return;
        }
        loop {
            let Some(lfd) = self.listen.get(i).map(|f| f.as_raw_fd()) else {
                return;
            };
            match sys::accept(lfd) {
                Ok(Some((fd, peer))) => {
                    let slot = match self.free.pop() {
                        Some(slot) => slot as usize,
                        None if self.conns.len() < self.max_conns => {
                            // Within the reserved capacity: no allocation.
                            self.conns.push(Conn::new());
                            self.conns.len() - 1
                        }
                        None => {
                            // Over max_connections: refuse at once; established
                            // connections keep being served.
                            drop(fd);
                            continue;
                        }
                    };
                    sys::set_nodelay(fd.as_raw_fd());
                    if self
                        .poll
                        .add(fd.as_raw_fd(), K_CONN + slot, true, false)
                        .is_err()
                    {
                        self.free.push(slot as u32);
                        continue;
                    }
                    let c = &mut self.conns[slot];
                    c.fd = Some(fd);
                    c.peer = ip16(&peer);
                    c.generation = c.generation.wrapping_add(1);
                    c.st = St::Idle;
                    c.filled = 0;
                    c.interest = (true, false);
                    c.deadline = self.now + self.conf.header_timeout_ms as u64;
                }
                Ok(None) => return,
                Err(e) => {
                    // EMFILE and friends: stop accepting until the next sweep
                    // (level-triggered polling would spin otherwise).
                    log::warn!("listener: accept: {e}");
                    self.listening = false;
                    for f in self.listen.iter() {
                        let _ = self.poll.modify(f.as_raw_fd(), 0, false, false);
                    }
                    return;
                }
            }
        }
    }

    fn set_interest(&mut self, slot: usize, read: bool, write: bool) {
        let c = &mut self.conns[slot];
        if c.interest == (read, write) {
            return;
        }
        if let Some(fd) = c.fd.as_ref() {
            if self
                .poll
                .modify(fd.as_raw_fd(), K_CONN + slot, read, write)
                .is_ok()
            {
                c.interest = (read, write);
            }
        }
    }

    fn close(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if c.st == St::Free {
            return;
        }
        if let Some(fd) = c.fd.take() {
            self.poll.delete(fd.as_raw_fd());
        }
        c.st = St::Free;
        c.filled = 0;
        c.interest = (false, false);
        c.corked = false;
        self.release_file(slot);
        self.free.push(slot as u32);
    }

    // ------------------------------------------------------------ reading

    fn on_writable(&mut self, slot: usize) {
        match self.conns[slot].st {
            St::Writing => self.write_some(slot),
            // Still registered for writing after a paced body (see process):
            // look for the next request, else wait for it by readability.
            St::Idle => {
                self.on_readable(slot);
                if self.conns[slot].st == St::Idle {
                    self.set_interest(slot, true, false);
                }
            }
            _ => {}
        }
    }

    fn on_readable(&mut self, slot: usize) {
        let st = self.conns[slot].st;
        let Some(fd) = self.conns[slot].fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        match st {
            St::Idle | St::Reading => {
                let filled = self.conns[slot].filled;
                let (inb, _) = self.bufs(slot);
                if filled >= inb.len() {
                    return self.process(slot);
                }
                match sys::read(fd, &mut inb[filled..]) {
                    Ok(0) => self.close(slot),
                    Ok(n) => {
                        let c = &mut self.conns[slot];
                        c.filled += n;
                        if c.st == St::Idle {
                            c.st = St::Reading;
                            c.deadline = self.now + self.conf.header_timeout_ms as u64;
                        }
                        self.process(slot);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => self.close(slot),
                }
            }
            St::Discard | St::Lingering => {
                let (inb, _) = self.bufs(slot);
                match sys::read(fd, inb) {
                    Ok(0) => self.close(slot),
                    Ok(n) => {
                        if st == St::Discard {
                            let c = &mut self.conns[slot];
                            let drop_n = (n as u64).min(c.body_left) as usize;
                            c.body_left -= drop_n as u64;
                            if c.body_left == 0 {
                                // Bytes after the body are the next request.
                                let (inb, _) = self.bufs(slot);
                                inb.copy_within(drop_n..n, 0);
                                self.conns[slot].filled = n - drop_n;
                                self.conns[slot].st = St::Reading;
                                self.process(slot);
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => self.close(slot),
                }
            }
            _ => self.set_interest(slot, false, self.conns[slot].interest.1),
        }
    }

    /// Parses the head at the start of the buffer and acts on it.
    fn process(&mut self, slot: usize) {
        let filled = self.conns[slot].filled;
        if filled == 0 {
            let c = &mut self.conns[slot];
            c.st = St::Idle;
            c.deadline = self.now + self.conf.keepalive_ms as u64;
            if self.stopping {
                // As in begin_stop: one more request may still come.
                c.deadline = c.deadline.min(self.now + STOP_IDLE_MS);
            }
            if c.interest == (false, true) {
                // A paced body just ended. The next request usually arrives
                // before the socket's next writability event, which then
                // reads it (on_writable); switching the interest now would
                // cost two epoll_ctl per response.
                return;
            }
            return self.set_interest(slot, true, false);
        }
        if self.conns[slot].st == St::Idle {
            self.conns[slot].st = St::Reading;
            self.conns[slot].deadline = self.now + self.conf.header_timeout_ms as u64;
        }
        // Nothing of the previous request may leak into this one's answer
        // (a reject after a HEAD must still carry its body).
        let c = &mut self.conns[slot];
        c.is_head = false;
        c.keep_alive = false;
        c.minor = 1;
        c.close_after = false;
        c.body_left = 0;
        let in_len = self.in_len;
        let base = slot * (self.in_len + self.out_len);
        let buf: &[u8] = &self.arena[base..base + filled];
        match request::parse(buf) {
            Ok(None) => {
                if filled >= in_len {
                    let code = request::overflow_status(buf);
                    self.conns[slot].req_line = Span { start: 0, len: 0 };
                    self.local_response(slot, code, true);
                } else {
                    self.set_interest(slot, true, false);
                }
            }
            Err(rej) => {
                let line_end = buf
                    .iter()
                    .position(|&b| b == b'\r' || b == b'\n')
                    .unwrap_or(buf.len().min(64));
                self.conns[slot].req_line = Span {
                    start: 0,
                    len: line_end as u16,
                };
                self.conns[slot].head_len = filled;
                self.local_response(slot, rej.status, true);
            }
            Ok(Some(req)) => {
                let mut s = req_summary(buf, &req);
                s.vhost = route(&self.routes, self.default_vhost, req.host);
                let msg = build_msg(&req, slot, self.conns[slot].generation);
                self.on_request(slot, s, msg)
            }
        }
    }

    fn on_request(&mut self, slot: usize, s: Summary, msg: Result<Request, u16>) {
        {
            let c = &mut self.conns[slot];
            c.head_len = s.head_len;
            c.keep_alive = s.keep_alive;
            c.minor = s.minor;
            c.is_head = s.method == HMethod::Head;
            c.req_line = s.req_line;
            c.referer = s.referer;
            c.agent = s.agent;
            c.close_after = false;
            c.body_left = 0;
            match s.body {
                ReqBody::None => {}
                ReqBody::Length(n) => {
                    c.body_left = n;
                    if n > MAX_DISCARD_BODY_BYTES {
                        c.close_after = true;
                    }
                }
                // Not decoded by a static server: answer, then close.
                ReqBody::Chunked => c.close_after = true,
            }
            c.vhost = s.vhost;
        }
        match s.method {
            HMethod::Unknown => return self.local_response(slot, 501, false),
            HMethod::Connect | HMethod::Options if s.path_kind != PathKind::Origin => {
                return self.local_response(slot, 405, false);
            }
            _ => {}
        }
        match msg {
            Ok(m) if self.answer_from_cache(slot, &m) => {}
            Ok(m) => self.send_to_vhost(slot, m),
            Err(code) => self.local_response(slot, code, false),
        }
    }

    /// Answers from the fd cache when the worker granted this path a
    /// moment ago. False: ask the worker.
    fn answer_from_cache(&mut self, slot: usize, m: &Request) -> bool {
        if m.method == Method::Other {
            return false;
        }
        let v = self.conns[slot].vhost;
        let Some(i) = self.cache.get(v, m.accept_gzip, &m.path, self.now) else {
            return false;
        };
        let info = self.cache.info(i);
        // The same decision the worker makes (http::file), on what it granted.
        let conds = file::Conditions::from_values(
            &m.if_none_match,
            &m.if_modified_since,
            &m.range,
            &m.if_range,
        );
        let d = file::decide(&conds, info.size, info.mtime, &info.etag);
        if d == file::Decision::Unsatisfiable {
            return false; // the worker renders 416 (and the owner's page)
        }
        let mut hb = [0u8; MAX_VHOST_HEAD_BYTES + 96];
        let mut w = Writer::new(&mut hb);
        let (code, length, offset) =
            file::head(d, &info.base, info.validators as usize, info.size, &mut w);
        if w.overflowed() {
            return false;
        }
        let n = w.len();
        let src = if code == 304 || m.method == Method::Head {
            Src::None
        } else {
            Src::Cached(i)
        };
        if let Src::Cached(i) = src {
            self.cache.acquire(i);
        }
        self.respond(slot, code, &hb[..n], length, &[], (src, offset));
        true
    }

    fn release_file(&mut self, slot: usize) {
        if let Src::Cached(i) = std::mem::replace(&mut self.conns[slot].file, Src::None) {
            self.cache.release(i);
        }
    }

    /// Sends again a request that found its vhost channel full.
    fn resend(&mut self, slot: usize) {
        let filled = self.conns[slot].filled;
        let generation = self.conns[slot].generation;
        let base = slot * (self.in_len + self.out_len);
        let buf: &[u8] = &self.arena[base..base + filled];
        let msg = match request::parse(buf) {
            Ok(Some(req)) => build_msg(&req, slot, generation),
            _ => Err(400),
        };
        match msg {
            Ok(m) => self.send_to_vhost(slot, m),
            Err(code) => self.local_response(slot, code, true),
        }
    }

    fn send_to_vhost(&mut self, slot: usize, msg: Request) {
        let v = self.conns[slot].vhost;
        let Some(ch) = self.vhosts.get(v as usize).and_then(Option::as_ref) else {
            if self.vstate.get(v as usize) == Some(&VState::Unknown) {
                let c = &mut self.conns[slot];
                c.st = St::PendingVhost(v);
                c.deadline = self.now + WIRE_WAIT_MS;
                return self.set_interest(slot, false, false);
            }
            return self.local_response(slot, 503, false);
        };
        let raw = ch.raw();
        match ch.send_in(&ToVhost::Request(msg), None, true, &mut self.enc) {
            Ok(()) => {
                let c = &mut self.conns[slot];
                c.st = St::WaitVhost(v);
                c.deadline = self.now + VHOST_REPLY_TIMEOUT_MS;
                self.set_interest(slot, false, false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The worker is busy: wait for room on its channel.
                let c = &mut self.conns[slot];
                c.st = St::PendingVhost(v);
                c.deadline = self.now + VHOST_REPLY_TIMEOUT_MS;
                self.set_interest(slot, false, false);
                if self.blocked_vhosts & (1 << v) == 0 {
                    self.blocked_vhosts |= 1 << v;
                    let _ = self.poll.modify(raw, K_VHOST + v as usize, true, true);
                }
            }
            Err(_) => {
                self.drop_vhost(v as usize, true);
                self.local_response(slot, 503, false);
            }
        }
    }

    fn on_vhost_writable(&mut self, v: usize) {
        if self.blocked_vhosts & (1 << v) == 0 {
            return;
        }
        self.blocked_vhosts &= !(1 << v);
        if let Some(ch) = self.vhosts[v].as_ref() {
            let raw = ch.raw();
            let _ = self.poll.modify(raw, K_VHOST + v, true, false);
        }
        for slot in 0..self.conns.len() {
            if self.conns[slot].st == St::PendingVhost(v as u8) {
                self.resend(slot);
                if self.blocked_vhosts & (1 << v) != 0 {
                    return; // full again
                }
            }
        }
    }

    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    fn on_vhost(&mut self, v: usize, pbuf: &mut [u8; MAX_PACKET_BYTES]) {
        loop {
            let Some(ch) = self.vhosts[v].as_ref() else {
                return;
            };
            match ch.recv(pbuf) {
                Ok(None) => return,
                Ok(Some((ToListener::Response(r), fd))) => {
                    let slot = r.slot as usize;
                    let ok = slot < self.conns.len()
                        && self.conns[slot].generation == r.generation
                        && self.conns[slot].st == St::WaitVhost(v as u8);
                    if ok {
                        self.vhost_response(slot, v, r, fd);
                        if self.routed & (1 << v) == 0 {
                            self.release_unrouted(v);
                        }
                    }
                }
                Err(e) => {
                    if let RecvError::Protocol = e {
                        log::error!("listener: protocol error from vhost {v}: channel closed");
                    }
                    self.drop_vhost(v, true);
                    return;
                }
            }
        }
    }

    /// Closes the channel to a worker no route leads to any more (replaced
    /// or removed in a reload) once no request waits on it: a retired
    /// worker leaves when its listeners have let it go, never while one
    /// may still send to it.
    fn release_unrouted(&mut self, v: usize) {
        // routed == 0: no table yet (start-up), nothing is known to be gone.
        if self.routed == 0 || self.routed & (1 << v) != 0 || self.vhosts[v].is_none() {
            return;
        }
        let waiting = self
            .conns
            .iter()
            .any(|c| c.st == St::WaitVhost(v as u8) || c.st == St::PendingVhost(v as u8));
        if !waiting {
            self.drop_vhost(v, false);
            // A later worker under this id is unknown until wired.
            self.vstate[v] = VState::Unknown;
        }
    }

    /// Forgets the channel to vhost `v`; with `fail`, requests waiting on
    /// it get 503 (the worker died; pmaster respawns it).
    fn drop_vhost(&mut self, v: usize, fail: bool) {
        if let Some(ch) = self.vhosts[v].take() {
            self.poll.delete(ch.raw());
        }
        self.cache.flush_vhost(v as u8);
        self.blocked_vhosts &= !(1 << v);
        if fail {
            self.vstate[v] = VState::Down;
            for slot in 0..self.conns.len() {
                let st = self.conns[slot].st;
                if st == St::WaitVhost(v as u8) || st == St::PendingVhost(v as u8) {
                    self.local_response(slot, 503, false);
                }
            }
        }
    }

    // ------------------------------------------------------------ writing

    fn vhost_response(&mut self, slot: usize, v: usize, r: Response, fd: Option<OwnedFd>) {
        if r.settings_gen != self.vgen[v] {
            self.vgen[v] = r.settings_gen;
            self.cache.flush_vhost(v as u8);
        }
        let mut fd = fd;
        let mut cached = None;
        // Only a response that offers its file for caching gives up its fd here.
        let offered = if r.cache.is_some() { fd.take() } else { None };
        if let (Some(info), Some(f)) = (r.cache, offered) {
            // The request's key: re-read from the buffer it is still in.
            match self.request_key(slot) {
                Some((gzip, path)) => match self.cache.put(v as u8, gzip, &path, f, info, self.now)
                {
                    Ok(i) => cached = Some(i),
                    Err(f) => fd = Some(f),
                },
                None => fd = Some(f),
            }
        }
        let (inline, src, off): (&[u8], Src, u64) = match (&r.body, fd, cached) {
            (Body::Inline(b), _, _) => (b.as_slice(), Src::None, 0),
            (Body::File { offset }, _, Some(i)) => {
                self.cache.acquire(i);
                (&[], Src::Cached(i), *offset)
            }
            (Body::File { offset }, Some(fd), None) => (&[], Src::Own(fd), *offset),
            _ => (&[], Src::None, 0),
        };
        self.respond(slot, r.status, &r.head, r.length, inline, (src, off));
    }

    /// (accepts gzip, normalised path) of the request in `slot`'s buffer.
    fn request_key(&self, slot: usize) -> Option<(bool, HVec<u8, CACHE_PATH_BYTES>)> {
        let base = slot * (self.in_len + self.out_len);
        let buf = &self.arena[base..base + self.conns[slot].filled];
        let req = request::parse(buf).ok()??;
        let (path, _) = target::split_query(req.path_and_query);
        let mut norm = [0u8; CACHE_PATH_BYTES];
        let n = target::normalize(path, &mut norm).ok()?;
        let mut out = HVec::new();
        out.extend_from_slice(&norm[..n]).ok()?;
        Some((req.accept_gzip, out))
    }

    /// An answer made here (bad requests, 503 when a worker is down).
    fn local_response(&mut self, slot: usize, code: u16, close: bool) {
        if close {
            self.conns[slot].close_after = true;
            self.conns[slot].body_left = 0;
        }
        let mut body = [0u8; 512];
        let n = page::error_page(code, &mut body);
        let mut head = [0u8; 128];
        let mut w = Writer::new(&mut head);
        w.str("Content-Type: text/html; charset=utf-8\r\n");
        match code {
            405 => {
                w.str("Allow: GET, HEAD\r\n");
            }
            503 => {
                w.str("Retry-After: 1\r\n");
            }
            _ => {}
        }
        let hl = w.len();
        self.respond(
            slot,
            code,
            &head[..hl],
            Some(n as u64),
            &body[..n],
            (Src::None, 0),
        );
    }

    fn respond(
        &mut self,
        slot: usize,
        code: u16,
        vhead: &[u8],
        length: Option<u64>,
        inline: &[u8],
        (src, offset): (Src, u64),
    ) {
        let date = self.date;
        let stopping = self.stopping;
        let c = &mut self.conns[slot];
        let keep = c.keep_alive && !c.close_after && !stopping;
        c.keep_alive = keep;
        let minor = c.minor;
        let is_head = c.is_head;
        c.status = code;
        c.bytes = 0;
        self.release_file(slot);
        let (_, out) = self.bufs(slot);
        let mut w = Writer::new(out);
        w.str("HTTP/1.1 ")
            .dec(code as u64)
            .str(" ")
            .str(status::reason(code))
            .str("\r\n");
        w.str("Server: rttpd\r\nDate: ").push(&date).str("\r\n");
        w.push(vhead);
        if let Some(n) = length {
            w.str("Content-Length: ").dec(n).str("\r\n");
        }
        if !keep {
            w.str("Connection: close\r\n");
        } else if minor == 0 {
            w.str("Connection: keep-alive\r\n");
        }
        w.str("\r\n");
        let mut body_bytes = 0u64;
        if !is_head {
            w.push(inline);
            body_bytes = inline.len() as u64;
        }
        let len = if w.overflowed() { 0 } else { w.len() };
        if len == 0 {
            // Cannot happen with our bounds; fail closed.
            if let Src::Cached(i) = src {
                self.cache.release(i);
            }
            return self.close(slot);
        }
        let c = &mut self.conns[slot];
        c.out_len = len;
        c.out_pos = 0;
        match (src, is_head) {
            (Src::None, _) => {}
            (Src::Cached(i), true) => self.cache.release(i),
            (src, _) => {
                let n = length.unwrap_or(0);
                c.file = src;
                c.file_off = offset;
                c.file_end = offset.saturating_add(n);
                body_bytes = n;
            }
        }
        let c = &mut self.conns[slot];
        c.bytes = body_bytes;
        c.st = St::Writing;
        c.deadline = self.now + self.conf.send_timeout_ms as u64;
        self.write_some(slot);
    }

    fn write_some(&mut self, slot: usize) {
        let Some(fd) = self.conns[slot].fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        loop {
            let file_fd = match &self.conns[slot].file {
                Src::None => None,
                Src::Own(f) => Some(f.as_raw_fd()),
                Src::Cached(i) => self.cache.raw(*i),
            };
            let (pos, len, has_file) = {
                let c = &self.conns[slot];
                (c.out_pos, c.out_len, file_fd.is_some())
            };
            if pos < len {
                let c = &mut self.conns[slot];
                if pos == 0
                    && has_file
                    && !c.corked
                    && c.file_end - c.file_off > SENDFILE_CHUNK_BYTES as u64
                {
                    // A paced body: the head and the first chunk leave as
                    // one exactly chunk-sized write (see the first chunk).
                    c.corked = true;
                    sys::set_cork(fd, true);
                }
                let (_, out) = self.bufs(slot);
                match sys::send(fd, &out[pos..len], has_file) {
                    Ok(n) => {
                        self.conns[slot].out_pos += n;
                        self.conns[slot].deadline = self.now + self.conf.send_timeout_ms as u64;
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        return self.set_interest(slot, false, true);
                    }
                    Err(_) => return self.close(slot),
                }
            }
            let c = &mut self.conns[slot];
            if let Some(file) = file_fd {
                let left = c.file_end - c.file_off;
                if left > 0 {
                    let mut chunk = SENDFILE_CHUNK_BYTES as u64;
                    if c.corked {
                        // head + first chunk = one chunk, so every later
                        // write ends on a chunk boundary of the stream, as
                        // lighttpd does (measured: ~30% less CPU per 1 MiB
                        // body than an uncorked, unaligned start).
                        chunk = chunk.saturating_sub(c.out_len as u64).max(4096);
                    }
                    let chunk = left.min(chunk) as usize;
                    match sys::sendfile(fd, file, &mut c.file_off, chunk) {
                        Ok(0) => {
                            // The file shrank under us: the promised length
                            // cannot be kept, so the connection must end.
                            c.keep_alive = false;
                            return self.close(slot);
                        }
                        Ok(_) => {
                            if c.corked {
                                c.corked = false;
                                sys::set_cork(fd, false);
                            }
                            c.deadline = self.now + self.conf.send_timeout_ms as u64;
                            if c.file_off < c.file_end {
                                // One chunk per writability event: pouring a whole
                                // large file into the socket at once overruns the
                                // receiver's buffer, and on loopback the kernel then
                                // copies ("collapses") queued data on our CPU.
                                return self.set_interest(slot, false, true);
                            }
                            continue;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            return self.set_interest(slot, false, true);
                        }
                        Err(_) => return self.close(slot),
                    }
                }
            }
            return self.finish(slot);
        }
    }

    /// The response is out: log it, then the next request, a body to drop,
    /// or the close.
    fn finish(&mut self, slot: usize) {
        self.log_access(slot);
        self.release_file(slot);
        let c = &mut self.conns[slot];
        let keep = c.keep_alive;
        if !keep {
            return self.linger(slot);
        }
        // Drop the head and whatever of the body is already buffered.
        let head = c.head_len.min(c.filled);
        let body_here = ((c.filled - head) as u64).min(c.body_left) as usize;
        c.body_left -= body_here as u64;
        let consumed = head + body_here;
        let filled = c.filled;
        let (inb, _) = self.bufs(slot);
        inb.copy_within(consumed..filled, 0);
        let c = &mut self.conns[slot];
        c.filled = filled - consumed;
        c.head_len = 0;
        if c.body_left > 0 {
            c.st = St::Discard;
            c.deadline = self.now + self.conf.header_timeout_ms as u64;
            return self.set_interest(slot, true, false);
        }
        c.st = St::Idle;
        self.again.push(slot as u32);
    }

    fn linger(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if let Some(fd) = c.fd.as_ref() {
            sys::shutdown_write(fd.as_raw_fd());
        }
        c.st = St::Lingering;
        c.deadline = self.now + LINGER_MS;
        self.set_interest(slot, true, false);
    }

    fn log_access(&mut self, slot: usize) {
        if !self.conf.access_log {
            return;
        }
        let Some(link) = self.link.as_ref() else {
            return;
        };
        let c = &self.conns[slot];
        let stride = self.in_len + self.out_len;
        let inb = &self.arena[slot * stride..slot * stride + self.in_len];
        let get = |s: Span| -> &[u8] {
            let a = s.start as usize;
            inb.get(a..a + s.len as usize).unwrap_or(&[])
        };
        let mut r = AccessRecord {
            peer: c.peer,
            time: self.date_secs,
            vhost: c.vhost,
            request: HVec::new(),
            status: c.status,
            bytes: c.bytes,
            referer: HVec::new(),
            agent: HVec::new(),
        };
        copy_into(&mut r.request, get(c.req_line));
        copy_into(&mut r.referer, get(c.referer));
        copy_into(&mut r.agent, get(c.agent));
        // A full link drops the record rather than stall clients.
        let _ = link.send(&ToUmaster::Access(r), None, true);
    }

    // ------------------------------------------------------------ timeouts

    fn sweep(&mut self) {
        if !self.listening && !self.stopping {
            self.listening = true;
            for (i, f) in self.listen.iter().enumerate() {
                let _ = self.poll.modify(f.as_raw_fd(), K_LISTEN + i, true, false);
            }
        }
        let now = self.now;
        for slot in 0..self.conns.len() {
            let c = &self.conns[slot];
            if c.st == St::Free || now < c.deadline {
                continue;
            }
            match c.st {
                // Slow or silent clients: a slowloris is cut off here.
                St::Reading => self.local_response(slot, 408, true),
                St::WaitVhost(_) => self.local_response(slot, 504, false),
                St::PendingVhost(_) => self.local_response(slot, 503, false),
                _ => self.close(slot),
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Origin,
    Asterisk,
    Authority,
}

/// What `on_request` needs of a parsed request, detached from the buffer.
struct Summary {
    method: HMethod,
    minor: u8,
    keep_alive: bool,
    body: ReqBody,
    head_len: usize,
    vhost: u8,
    path_kind: PathKind,
    req_line: Span,
    referer: Span,
    agent: Span,
}

fn req_summary(buf: &[u8], r: &request::Request<'_>) -> Summary {
    let line_end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(0);
    let path_kind = if r.path_and_query == b"*" {
        PathKind::Asterisk
    } else if !r.path_and_query.starts_with(b"/") {
        PathKind::Authority
    } else {
        PathKind::Origin
    };
    Summary {
        method: r.method,
        minor: r.minor,
        keep_alive: r.keep_alive,
        body: r.body,
        head_len: r.head_len,
        vhost: 0,
        path_kind,
        req_line: Span {
            start: 0,
            len: line_end.min(u16::MAX as usize) as u16,
        },
        referer: span_of(buf, r.referer),
        agent: span_of(buf, r.user_agent),
    }
}

/// The message for the vhost worker, or the status that answers instead.
fn build_msg(req: &request::Request<'_>, slot: usize, generation: u32) -> Result<Request, u16> {
    let mut msg = Request {
        slot: slot as u32,
        generation,
        method: match req.method {
            HMethod::Get => Method::Get,
            HMethod::Head => Method::Head,
            _ => Method::Other,
        },
        path: HVec::new(),
        query: HVec::new(),
        if_none_match: HVec::new(),
        if_modified_since: HVec::new(),
        if_range: HVec::new(),
        range: HVec::new(),
        accept_gzip: req.accept_gzip,
        authorization: HVec::new(),
    };
    if !req.path_and_query.starts_with(b"/") {
        return Err(400);
    }
    let (path, query) = target::split_query(req.path_and_query);
    let mut norm = [0u8; MAX_TARGET_BYTES];
    let n = match target::normalize(path, &mut norm) {
        Ok(n) => n,
        Err(target::TargetError::TooLong) => return Err(414),
        Err(_) => return Err(400),
    };
    let _ = msg.path.extend_from_slice(&norm[..n]);
    if let Some(q) = query {
        msg.query.extend_from_slice(q).map_err(|_| 414u16)?;
    }
    // Longer validators than we could have issued are treated as absent.
    let opt = |dst: &mut HVec<u8, MAX_COND_BYTES>, v: Option<&[u8]>| {
        if let Some(v) = v {
            let _ = dst.extend_from_slice(v);
        }
    };
    opt(&mut msg.if_none_match, req.if_none_match);
    opt(&mut msg.if_modified_since, req.if_modified_since);
    opt(&mut msg.if_range, req.if_range);
    opt(&mut msg.range, req.range);
    if let Some(a) = req.authorization {
        copy_into(&mut msg.authorization, a);
    }
    Ok(msg)
}

/// Picks the vhost for a Host value (or absolute-form authority):
/// case-insensitive, port and trailing dot ignored, exact names first, then
/// `*.domain` wildcards (longest wins), else the default vhost.
pub fn route(routes: &[Route], default: u8, host: Option<&[u8]>) -> u8 {
    let Some(host) = host else { return default };
    let mut lower = [0u8; MAX_HOST_BYTES];
    if host.len() > lower.len() {
        return default;
    }
    // Strip ":port" (after "]" for IPv6 literals).
    let end = if host.starts_with(b"[") {
        host.iter()
            .position(|&b| b == b']')
            .map(|i| i + 1)
            .unwrap_or(host.len())
    } else {
        host.iter().rposition(|&b| b == b':').unwrap_or(host.len())
    };
    let mut h = &host[..end];
    if h.ends_with(b".") {
        h = &h[..h.len() - 1];
    }
    for (d, s) in lower.iter_mut().zip(h) {
        *d = s.to_ascii_lowercase();
    }
    let h = &lower[..h.len()];
    let mut best: Option<(usize, u8)> = None;
    for r in routes {
        for name in r.names.iter() {
            let n = name.as_bytes();
            if n == h {
                return r.vhost;
            }
            if let Some(suffix) = n.strip_prefix(b"*") {
                // "*.example.org" matches "a.example.org", not "example.org".
                if h.len() > suffix.len()
                    && h.ends_with(suffix)
                    && best.is_none_or(|(l, _)| suffix.len() > l)
                {
                    best = Some((suffix.len(), r.vhost));
                }
            }
        }
    }
    best.map(|(_, v)| v).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: u8, names: &[&str]) -> Route {
        let mut out = Route {
            vhost: v,
            default: false,
            names: HVec::new(),
        };
        for n in names {
            let mut s = heapless::String::new();
            s.push_str(n).unwrap();
            out.names.push(s).unwrap();
        }
        out
    }

    #[test]
    fn routing_table() {
        let routes = [
            r(0, &["localhost"]),
            r(1, &["example.org", "www.example.org"]),
            r(2, &["*.example.org"]),
            r(3, &["*.deep.example.org", "[::1]"]),
        ];
        let cases: &[(Option<&str>, u8)] = &[
            (None, 9),
            (Some("localhost"), 0),
            (Some("LOCALHOST:8080"), 0),
            (Some("example.org."), 1),
            (Some("Www.Example.Org:80"), 1),
            (Some("a.example.org"), 2),
            (Some("x.deep.example.org"), 3),
            (Some("deep.example.org"), 2),
            (Some("[::1]:8080"), 3),
            (Some("[::2]"), 9),
            (Some("other.net"), 9),
            (Some("xexample.org"), 9),
        ];
        for (host, want) in cases {
            assert_eq!(
                route(&routes, 9, host.map(str::as_bytes)),
                *want,
                "{host:?}"
            );
        }
    }
}
