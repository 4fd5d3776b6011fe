//! The only module with `unsafe` code and raw syscalls. Each `unsafe` block
//! carries a `// SAFETY:` line. Everything here is small and stateless; the
//! roles decide *when* to call it.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::config::Symlinks;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_isize(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

// ---------------------------------------------------------------- polling

/// Readiness registry over `polling::Poller`, level-triggered so a source is
/// never re-armed per event. Registered fds must be `delete`d before they
/// are closed (the roles close connections through one function that does).
pub struct Poll {
    poller: polling::Poller,
}

impl Poll {
    pub fn new() -> io::Result<Poll> {
        Ok(Poll {
            poller: polling::Poller::new()?,
        })
    }

    pub fn add(&self, fd: RawFd, key: usize, read: bool, write: bool) -> io::Result<()> {
        let ev = interest(key, read, write);
        // SAFETY: callers delete `fd` from the poller before closing it
        // (see the contract above); the fd is open for the call.
        unsafe { self.poller.add_with_mode(fd, ev, polling::PollMode::Level) }
    }

    pub fn modify(&self, fd: RawFd, key: usize, read: bool, write: bool) -> io::Result<()> {
        // SAFETY: `fd` is registered and open; borrowing it for the call only.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        self.poller
            .modify_with_mode(b, interest(key, read, write), polling::PollMode::Level)
    }

    pub fn delete(&self, fd: RawFd) {
        // SAFETY: `fd` is still open (delete happens before close).
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = self.poller.delete(b);
    }

    /// Waits for events with one `epoll_wait` on the poller's own epoll fd.
    /// (`Poller::wait` with a timeout costs four more syscalls per wake-up:
    /// it arms a timerfd and re-arms its timer and notifier registrations;
    /// our loops need neither.) Keys and readiness are decoded as polling
    /// registers them: `data.u64` is the key.
    pub fn wait(&self, events: &mut Events, timeout: Duration) -> io::Result<usize> {
        events.n = 0;
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        let cap = events.buf.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: `buf` is a valid array of `cap` epoll_events for the kernel to fill.
        let r =
            unsafe { libc::epoll_wait(self.poller.as_raw_fd(), events.buf.as_mut_ptr(), cap, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        events.n = r as usize;
        Ok(events.n)
    }
}

/// One readiness event.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub key: usize,
    pub readable: bool,
    pub writable: bool,
}

/// A fixed buffer of events, reused by every wait.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    n: usize,
}

impl Events {
    pub fn new(cap: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; cap.max(1)],
            n: 0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        const READ: u32 = (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) as u32;
        const WRITE: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
        self.buf[..self.n]
            .iter()
            .map(|e| {
                let (flags, key) = (e.events, e.u64);
                Event {
                    key: key as usize,
                    readable: flags & READ != 0,
                    writable: flags & WRITE != 0,
                }
            })
            // polling's own notifier and timer use the key usize::MAX.
            .filter(|e| e.key != usize::MAX)
    }
}

fn interest(key: usize, read: bool, write: bool) -> polling::Event {
    match (read, write) {
        (true, true) => polling::Event::all(key),
        (true, false) => polling::Event::readable(key),
        (false, true) => polling::Event::writable(key),
        (false, false) => polling::Event::none(key),
    }
}

// ---------------------------------------------------------------- packets

/// A `SOCK_SEQPACKET` socketpair, close-on-exec, blocking.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: on success both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one packet, with `pass` attached as SCM_RIGHTS when given.
/// `nonblock`: fail with WouldBlock instead of waiting for buffer space.
pub fn send_packet(fd: RawFd, bytes: &[u8], pass: Option<RawFd>, nonblock: bool) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut _,
        iov_len: bytes.len(),
    };
    // Room for one cmsg with one int, aligned as cmsghdr.
    let mut cbuf = [0u64; 4];
    // SAFETY: a zeroed msghdr is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(pfd) = pass {
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
        debug_assert!(space <= size_of::<[u64; 4]>());
        msg.msg_control = cbuf.as_mut_ptr() as *mut _;
        msg.msg_controllen = space as _;
        // SAFETY: msg_control points at `cbuf`, large enough for one cmsg
        // holding one fd; CMSG_FIRSTHDR is therefore non-null and in bounds.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut RawFd, pfd);
        }
    }
    let flags = libc::MSG_NOSIGNAL | if nonblock { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // SAFETY: `msg` points at live buffers for the duration of the call.
        let r = unsafe { libc::sendmsg(fd, &msg, flags) };
        match cvt_isize(r) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One received packet.
pub struct Packet {
    pub len: usize,
    /// The single fd that came with the packet, if any.
    pub fd: Option<OwnedFd>,
    /// More than one fd, a truncated packet or truncated ancillary data:
    /// out of protocol (extra fds were closed).
    pub malformed: bool,
}

/// Receives one packet without blocking. `Ok(None)`: nothing to read.
/// `len == 0`: the peer closed the channel.
pub fn recv_packet(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<Packet>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut _,
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut _;
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    let n = loop {
        // SAFETY: `msg` points at live buffers for the duration of the call.
        let r = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
        match cvt_isize(r) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut out = Packet {
        len: n,
        fd: None,
        malformed: false,
    };
    if msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
        out.malformed = true;
    }
    // SAFETY: walking the cmsgs the kernel wrote into `cbuf`, bounded by
    // msg_controllen; each SCM_RIGHTS payload holds whole ints, which we take
    // ownership of exactly once.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const RawFd;
                let hdr = libc::CMSG_LEN(0) as usize;
                let count = ((*c).cmsg_len as usize).saturating_sub(hdr) / size_of::<RawFd>();
                for i in 0..count {
                    let f = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                    if out.fd.is_none() {
                        out.fd = Some(f);
                    } else {
                        out.malformed = true; // dropped: closes it
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Some(out))
}

/// Bounds how long a blocking send may wait (a stalled peer must not hold
/// a process forever).
pub fn set_send_timeout(fd: RawFd, t: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: `tv` is a valid timeval for SO_SNDTIMEO.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            &tv as *const _ as *const libc::c_void,
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `v` is a valid int option value.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &v as *const _ as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

// ---------------------------------------------------------------- TCP

/// A listening TCP socket: non-blocking, close-on-exec, SO_REUSEADDR, and
/// SO_REUSEPORT so each listener process has its own socket on the address.
pub fn listen_tcp(addr: &SocketAddr, backlog: i32) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall with constant arguments.
    let fd = cvt(unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just created and is owned here.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    if addr.is_ipv6() {
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    let (ss, len) = sockaddr_from(addr);
    // SAFETY: `ss` holds a valid sockaddr of `len` bytes.
    cvt(unsafe { libc::bind(fd, &ss as *const _ as *const libc::sockaddr, len) })?;
    // SAFETY: plain syscall on our socket.
    cvt(unsafe { libc::listen(fd, backlog) })?;
    Ok(owned)
}

fn sockaddr_from(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            (ss, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            (ss, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

fn sockaddr_to(ss: &libc::sockaddr_storage) -> SocketAddr {
    match ss.ss_family as libc::c_int {
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family says so).
            let sin6 = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let ip = match ip.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(ip),
            };
            SocketAddr::new(ip, u16::from_be(sin6.sin6_port))
        }
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family says so).
            let sin = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port))
        }
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    }
}

/// Accepts one connection (non-blocking, close-on-exec). `Ok(None)`: none.
pub fn accept(listen: RawFd) -> io::Result<Option<(OwnedFd, SocketAddr)>> {
    // SAFETY: sockaddr_storage is plain data.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    loop {
        // SAFETY: `ss`/`len` describe a writable buffer for the peer address.
        let r = unsafe {
            libc::accept4(
                listen,
                &mut ss as *mut _ as *mut libc::sockaddr,
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if r >= 0 {
            // SAFETY: a new fd owned by us.
            return Ok(Some((unsafe { OwnedFd::from_raw_fd(r) }, sockaddr_to(&ss))));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) | Some(libc::ECONNABORTED) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// TCP_CORK on or off: while on, partial segments wait (at most 200 ms) for
/// more data; turning it off sends what is queued.
pub fn set_cork(fd: RawFd, on: bool) {
    let _ = setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_CORK, on as i32);
}

pub fn set_nodelay(fd: RawFd) {
    let _ = setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
}

/// `read` that retries on EINTR.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid writable buffer of its length.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut _, buf.len()) };
        match cvt_isize(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Non-blocking send on a socket; `more` sets MSG_MORE so a head and the
/// file body that follows leave in one segment.
pub fn send(fd: RawFd, buf: &[u8], more: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT | if more { libc::MSG_MORE } else { 0 };
    loop {
        // SAFETY: `buf` is a valid readable buffer of its length.
        let r = unsafe { libc::send(fd, buf.as_ptr() as *const _, buf.len(), flags) };
        match cvt_isize(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// `sendfile` with a 64-bit offset on every target (32-bit ARM/MIPS too).
pub fn sendfile(out: RawFd, file: RawFd, offset: &mut u64, count: usize) -> io::Result<usize> {
    // off_t is 64-bit on every target we build (musl always; glibc x86_64).
    const _: () = assert!(size_of::<libc::off_t>() == 8);
    let mut off = *offset as libc::off_t;
    loop {
        // SAFETY: both fds are open for the call; `off` is a valid in/out offset.
        let r = unsafe { libc::sendfile(out, file, &mut off, count) };
        match cvt_isize(r) {
            Ok(n) => {
                *offset = off as u64;
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

pub fn shutdown_write(fd: RawFd) {
    // SAFETY: plain syscall; errors (e.g. not connected) are irrelevant.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

// ---------------------------------------------------------------- files

/// What `fstat` tells a vhost worker.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub is_dir: bool,
    pub is_file: bool,
    pub is_link: bool,
    pub size: u64,
    pub mtime: i64,
    pub uid: u32,
}

pub fn fstat(fd: RawFd) -> io::Result<Stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer; initialised on success.
    cvt(unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so `st` is initialised.
    let st = unsafe { st.assume_init() };
    let fmt = st.st_mode & libc::S_IFMT;
    Ok(Stat {
        is_dir: fmt == libc::S_IFDIR,
        is_file: fmt == libc::S_IFREG,
        is_link: fmt == libc::S_IFLNK,
        size: st.st_size as u64,
        #[allow(clippy::unnecessary_cast)] // time_t differs by target
        mtime: st.st_mtime as i64,
        uid: st.st_uid,
    })
}

/// Opens a directory (the vhost root) read-only, close-on-exec.
pub fn open_dir(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid C string.
    let fd = cvt(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: a new fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// How `open_beneath` resolves; probed once per process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Resolver {
    Openat2,
    Walk,
}

/// openat2(2) exists since Linux 5.6; qemu-user and old router kernels may
/// lack it. Probe with a harmless open of ".".
pub fn probe_resolver(root: RawFd) -> Resolver {
    let how = nix::fcntl::OpenHow::new()
        .flags(nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC)
        .resolve(nix::fcntl::ResolveFlag::RESOLVE_BENEATH);
    // SAFETY: `root` is open for the call.
    let dir = unsafe { BorrowedFd::borrow_raw(root) };
    match nix::fcntl::openat2(dir, c".", how) {
        Ok(_) => Resolver::Openat2,
        Err(_) => Resolver::Walk,
    }
}

fn openat2_beneath(
    root: RawFd,
    path: &CStr,
    flags: libc::c_int,
    no_symlinks: bool,
) -> io::Result<OwnedFd> {
    let mut resolve =
        nix::fcntl::ResolveFlag::RESOLVE_BENEATH | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS;
    if no_symlinks {
        resolve |= nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS;
    }
    let how = nix::fcntl::OpenHow::new()
        .flags(nix::fcntl::OFlag::from_bits_truncate(
            flags | libc::O_CLOEXEC,
        ))
        .resolve(resolve);
    // SAFETY: `root` is open for the call.
    let dir = unsafe { BorrowedFd::borrow_raw(root) };
    loop {
        match nix::fcntl::openat2(dir, path, how) {
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

fn openat_raw(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid C string; `dir` is open.
    let fd = cvt(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: a new fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `path` (relative: normalised, no "." or ".." segments, no leading
/// '/') beneath the directory `root`, for reading (`O_RDONLY|O_NONBLOCK`:
/// a FIFO must not block the worker). Symbolic links: never followed out of
/// the root; inside it, per `mode`. Errors are the kernel's (ENOENT,
/// EACCES, ELOOP for a refused link, EXDEV for an escape).
pub fn open_beneath(
    root: RawFd,
    path: &CStr,
    mode: Symlinks,
    how: Resolver,
) -> io::Result<OwnedFd> {
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
    if path.to_bytes().is_empty() {
        return openat_raw(root, c".", flags | libc::O_DIRECTORY);
    }
    match how {
        Resolver::Openat2 => match openat2_beneath(root, path, flags, true) {
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) && mode == Symlinks::Owner => {
                check_link_owners(root, path)?;
                openat2_beneath(root, path, flags, false)
            }
            r => r,
        },
        // A walk with O_NOFOLLOW on every component: with no ".." segments
        // it cannot leave the root. Links are refused here whatever `mode`.
        Resolver::Walk => walk_nofollow(root, path.to_bytes(), flags),
    }
}

fn walk_nofollow(root: RawFd, path: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let mut cur: Option<OwnedFd> = None;
    let mut parts = path
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty())
        .peekable();
    while let Some(part) = parts.next() {
        if part == b".." || part == b"." {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        let name = CString::new(part).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let dir = cur.as_ref().map(|f| f.as_raw_fd()).unwrap_or(root);
        let last = parts.peek().is_none();
        let f = if last {
            openat_raw(dir, &name, flags | libc::O_NOFOLLOW)?
        } else {
            openat_raw(
                dir,
                &name,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            )?
        };
        cur = Some(f);
    }
    match cur {
        Some(f) => Ok(f),
        None => openat_raw(root, c".", flags | libc::O_DIRECTORY),
    }
}

/// For `follow_symlinks = owner`: every symbolic link on the way must have
/// the same owner as what it points to (both resolved beneath the root).
fn check_link_owners(root: RawFd, path: &CStr) -> io::Result<()> {
    let bytes = path.to_bytes();
    let mut end = 0;
    while end < bytes.len() {
        end = match bytes[end..].iter().position(|&b| b == b'/') {
            Some(p) => end + p,
            None => bytes.len(),
        };
        let prefix =
            CString::new(&bytes[..end]).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // O_PATH|O_NOFOLLOW opens the link itself when the last component is one.
        let link = openat2_beneath(root, &prefix, libc::O_PATH | libc::O_NOFOLLOW, false)?;
        let ls = fstat(link.as_raw_fd())?;
        if ls.is_link {
            let target = openat2_beneath(root, &prefix, libc::O_PATH, false)?;
            if fstat(target.as_raw_fd())?.uid != ls.uid {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
        }
        end += 1;
    }
    Ok(())
}

// ---------------------------------------------------------------- processes

/// Forks and execs `exe` with `argv` (already built: nothing is allocated
/// in the child), the control channel `ctl` as fd 3, an empty environment
/// but for `env`. The signal mask is inherited on purpose: pmaster blocks
/// the signals every role reads from its signalfd, so a signal sent before
/// the child has set up its own signalfd waits instead of killing it.
pub fn spawn(exe: &CStr, argv: &[CString], env: &[CString], ctl: &OwnedFd) -> io::Result<i32> {
    let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let ctl = ctl.as_raw_fd();
    // SAFETY: the child only calls async-signal-safe functions (dup2,
    // fcntl, execve, _exit) on data prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; every pointer stays valid in the child's copy.
        unsafe {
            if ctl == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(ctl, 3) < 0 {
                libc::_exit(126);
            }
            libc::execve(exe.as_ptr(), argp.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    Ok(pid)
}

/// Sets the thread name (`comm`, what `ps -e` and `top` show; 15 bytes).
pub fn set_comm(name: &str) {
    let mut b = [0u8; 16];
    let n = name.len().min(15);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    if let Ok(c) = CStr::from_bytes_until_nul(&b) {
        let _ = nix::sys::prctl::set_name(c);
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn ids() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// Drops to `uid:gid` for good: chroot (if given) and chdir("/"), setgroups,
/// setresgid, setresuid, PR_SET_NO_NEW_PRIVS, then proves root is gone.
/// Not root: only PR_SET_NO_NEW_PRIVS.
pub fn drop_privileges(uid: u32, gid: u32, chroot: Option<&CStr>) -> io::Result<()> {
    if is_root() {
        if let Some(dir) = chroot {
            nix::unistd::chroot(dir)?;
            nix::unistd::chdir("/")?;
        }
        let g = nix::unistd::Gid::from_raw(gid);
        let u = nix::unistd::Uid::from_raw(uid);
        nix::unistd::setgroups(&[g])?;
        nix::unistd::setresgid(g, g, g)?;
        nix::unistd::setresuid(u, u, u)?;
        if uid != 0 {
            // SAFETY: plain syscall; it must fail now.
            if unsafe { libc::setuid(0) } == 0 || nix::unistd::geteuid().is_root() {
                return Err(io::Error::other("root could be regained after the drop"));
            }
        }
    }
    nix::sys::prctl::set_no_new_privs()?;
    Ok(())
}

/// Raises RLIMIT_NOFILE to at least `want` (root may raise the hard limit).
pub fn raise_nofile(want: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    if soft >= want {
        return soft;
    }
    let new_hard = if is_root() { hard.max(want) } else { hard };
    let new_soft = want.min(new_hard);
    match setrlimit(Resource::RLIMIT_NOFILE, new_soft, new_hard) {
        Ok(()) => new_soft,
        Err(_) => soft,
    }
}

/// Blocks the signals a role handles and returns a signalfd for them.
pub fn signal_fd(sigs: &[nix::sys::signal::Signal]) -> io::Result<nix::sys::signalfd::SignalFd> {
    use nix::sys::signal::SigSet;
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    for s in sigs {
        set.add(*s);
    }
    set.thread_block()?;
    Ok(SignalFd::with_flags(
        &set,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )?)
}

/// Detaches from the terminal (`-d`): fork, setsid, stdio to /dev/null.
pub fn daemonize() -> io::Result<()> {
    nix::unistd::daemon(true, false)?;
    Ok(())
}

pub fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

pub fn kill(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// Reaps one exited child without blocking: `Some((pid, description))`.
pub fn reap() -> Option<(i32, String)> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) => return Some((p.as_raw(), format!("exited with {c}"))),
            Ok(WaitStatus::Signaled(p, s, _)) => {
                return Some((p.as_raw(), format!("killed by {s}")));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Writes all of `buf` to a (blocking) fd such as a log file or stderr.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable buffer of its length.
        let r = unsafe { libc::write(fd, buf.as_ptr() as *const _, buf.len()) };
        match cvt_isize(r) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// fd 3 must be a socket for a child role (and is, when pmaster spawned us).
pub fn is_socket(fd: RawFd) -> bool {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat succeeded.
    let st = unsafe { st.assume_init() };
    st.st_mode & libc::S_IFMT == libc::S_IFSOCK
}

/// Takes ownership of an inherited fd number (fd 3 in children).
pub fn take_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: called once per inherited fd, at start, before anything else
    // could own it; the caller checked it is open.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Sets close-on-exec on an inherited fd.
pub fn set_cloexec(fd: RawFd) {
    // SAFETY: plain fcntl on an fd we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// Current time as seconds since the epoch (vDSO; no syscall on most targets).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Waits until `fd` is readable or `ms` pass (start-up paths only).
pub fn wait_readable(fd: RawFd, ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// An anonymous in-memory file (for generated bodies such as listings,
/// which then travel like any file: as an fd, sent with sendfile).
pub fn memfd(name: &CStr, data: &[u8]) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid C string.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: a new fd owned by us.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    write_all(fd, data)?;
    Ok(owned)
}

/// One directory entry as a listing needs it.
pub struct DirEntry {
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: i64,
}

/// Reads up to `max` entries of the directory `dir` (not "." or ".."),
/// (without dotfiles when `skip_dot`), returning them and how many more
/// there were (readdir order decides which are kept). Entries that vanish or
/// cannot be stat'ed are skipped; symbolic links are listed as what they
/// are, not followed.
pub fn list_dir(dir: RawFd, max: usize, skip_dot: bool) -> io::Result<(Vec<DirEntry>, usize)> {
    let fd = openat_raw(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY)?;
    let raw = fd.as_raw_fd();
    // SAFETY: fdopendir takes ownership of a valid directory fd on success.
    let d = unsafe { libc::fdopendir(raw) };
    if d.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(fd); // now owned by `d`, closed by closedir
    let mut out = Vec::new();
    let mut more = 0;
    loop {
        // SAFETY: `d` is a valid DIR*; the entry stays valid until the next readdir.
        let e = unsafe { libc::readdir(d) };
        if e.is_null() {
            break;
        }
        // SAFETY: d_name is a NUL-terminated array inside the entry.
        let name = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) };
        let nb = name.to_bytes();
        if nb == b"." || nb == b".." || (skip_dot && nb.starts_with(b".")) {
            continue;
        }
        if out.len() >= max {
            more += 1;
            continue;
        }
        let mut st = MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `name` is valid; `st` is a valid out-pointer.
        let r = unsafe {
            libc::fstatat(
                raw,
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if r != 0 {
            continue;
        }
        // SAFETY: fstatat succeeded.
        let st = unsafe { st.assume_init() };
        #[allow(clippy::unnecessary_cast)] // time_t differs by target
        out.push(DirEntry {
            name: nb.to_vec(),
            is_dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
            size: st.st_size as u64,
            mtime: st.st_mtime as i64,
        });
    }
    // SAFETY: `d` came from fdopendir and is closed once.
    unsafe { libc::closedir(d) };
    Ok((out, more))
}

/// The system allocator, counting allocations: `kill -USR2` makes every
/// process log its count, which is how the tests prove that serving a
/// request allocates nothing. One relaxed atomic add per allocation.
pub struct CountingAlloc;

static ALLOCATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged; the counter has no
// effect on the memory returned.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

/// Heap allocations (and reallocations) made by this process so far.
pub fn allocations() -> usize {
    ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Online CPUs (`listeners = 0`). sysconf rather than std's
/// available_parallelism, whose cgroup parsing costs kilobytes of code.
pub fn online_cpus() -> usize {
    // SAFETY: plain libc call with a constant argument.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 { 1 } else { n as usize }
}

/// Zero-filled anonymous memory straight from the kernel: its pages cost
/// RAM only once touched, whatever the libc's calloc does (musl's and
/// zig's allocators write every page of a large calloc). The listener's
/// connection buffers live here, so memory is reserved for
/// `max_connections` at start but resident only for connections in use.
pub struct Region {
    ptr: *mut u8,
    len: usize,
}

impl Region {
    pub fn new(len: usize) -> io::Result<Region> {
        let len = len.max(1);
        // SAFETY: an anonymous private mapping; no fd, no fixed address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Region {
            ptr: p as *mut u8,
            len,
        })
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, writable, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`, once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

impl std::ops::Deref for Region {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for Region {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}
