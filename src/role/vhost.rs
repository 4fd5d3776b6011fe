//! vhost worker: serves one virtual host as that host's own uid/gid. It
//! resolves each path beneath its root (openat2 RESOLVE_BENEATH, or a
//! component walk with O_NOFOLLOW), decides the status and headers
//! (index, redirect, conditional, range, precompressed .gz), opens the file
//! and passes its fd to the listener. It never holds a client socket.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use heapless::Vec as HVec;

use super::{CtlChan, Sig};
use crate::config::settings::{Settings, parse_settings};
use crate::http::writer::Writer;
use crate::http::{cond, date, file, listing, mime, page, target};
use crate::ipc::chan::{Chan, RecvError};
use crate::ipc::msg::*;
use crate::limits::*;
use crate::sys;

type ListenerChan = Chan<ToVhost, ToListener>;
type Link = Chan<FromUmaster, ToUmaster>;

const K_CTL: usize = 0;
const K_LINK: usize = 1;
const K_SIG: usize = 2;
const K_LISTENER: usize = 16;

pub struct Vhost {
    conf: VhostConf,
    root: OwnedFd,
    resolver: sys::Resolver,
    /// The owner's settings: the last good parse of the settings file.
    settings: Settings,
    /// (mtime, size, inode) of the settings file last read, good or bad.
    settings_seen: Option<(i64, u64, u64)>,
    next_settings_check: Instant,
    /// Bumped whenever the settings change, so listeners drop cached answers.
    settings_gen: u32,
}

// Not inlined into child_main: each role's frame stays its own (stack
// probes make every page of a frame resident).
#[inline(never)]
pub fn run(ctl: CtlChan, conf: VhostConf) -> i32 {
    super::init_logger(super::level_from_u8(conf.common.log_level));
    sys::set_comm("rttpd: vhost");
    let mut sfd = match sys::signal_fd(super::SIGNALS) {
        Ok(s) => s,
        Err(e) => {
            log::error!("vhost {}: signalfd: {e}", conf.name);
            return 1;
        }
    };
    super::drop_or_exit("vhost", &conf.common);
    // The root is opened after the drop, as the vhost's own user: the
    // file system's permissions are the access check.
    let root_path = if conf.chroot { "/" } else { conf.root.as_str() };
    let root = match CString::new(root_path)
        .map_err(std::io::Error::other)
        .and_then(|p| sys::open_dir(&p))
    {
        Ok(fd) => fd,
        Err(e) => {
            log::error!("vhost {}: cannot open root {}: {e}", conf.name, conf.root);
            return 1;
        }
    };
    let resolver = sys::probe_resolver(root.as_raw_fd());
    if resolver == sys::Resolver::Walk {
        log::info!(
            "vhost {}: openat2 unavailable; resolving with an O_NOFOLLOW walk (symbolic links refused)",
            conf.name
        );
    }
    let poll = match sys::Poll::new() {
        Ok(p) => p,
        Err(e) => {
            log::error!("vhost: poll: {e}");
            return 1;
        }
    };
    let mut vh = Vhost::new(root, conf);
    let _ = poll.add(ctl.raw(), K_CTL, true, false);
    let _ = poll.add(sfd.as_raw_fd(), K_SIG, true, false);
    let mut link: Option<Link> = None;
    let mut listeners: [Option<ListenerChan>; MAX_LISTENERS] = Default::default();
    let mut events = sys::Events::new(POLL_EVENTS);
    let mut pbuf = [0u8; MAX_PACKET_BYTES];
    let mut stop_at: Option<Instant> = None;
    loop {
        let _ = poll.wait(&mut events, Duration::from_millis(100));
        vh.check_settings(false);
        for ev in events.iter() {
            match ev.key {
                K_CTL => loop {
                    match ctl.recv(&mut pbuf) {
                        Ok(None) => break,
                        Ok(Some((ToChild::Link, Some(fd)))) => {
                            if let Some(old) = link.take() {
                                poll.delete(old.raw());
                            }
                            let l = Link::new(fd);
                            let _ = poll.add(l.raw(), K_LINK, true, false);
                            link = Some(l);
                        }
                        Ok(Some(_)) => log::warn!("vhost: unexpected control message ignored"),
                        Err(_) => return 0, // pmaster is gone
                    }
                },
                K_LINK => {
                    while let Some(l) = link.as_ref() {
                        match l.recv(&mut pbuf) {
                            Ok(None) => break,
                            Ok(Some((FromUmaster::Peer { id }, Some(fd))))
                                if (id as usize) < MAX_LISTENERS =>
                            {
                                let i = id as usize;
                                if let Some(old) = listeners[i].take() {
                                    poll.delete(old.raw());
                                }
                                // A listener that stops reading must not stall
                                // this worker for the others.
                                let _ =
                                    sys::set_send_timeout(fd.as_raw_fd(), Duration::from_secs(1));
                                let ch = ListenerChan::new(fd);
                                let _ = poll.add(ch.raw(), K_LISTENER + i, true, false);
                                listeners[i] = Some(ch);
                            }
                            Ok(Some(_)) | Err(_) => {
                                if let Some(old) = link.take() {
                                    poll.delete(old.raw());
                                }
                                break;
                            }
                        }
                    }
                }
                K_SIG => {
                    let mut hup = false;
                    super::read_signals(&mut sfd, |s| match s {
                        Sig::Stop => {
                            stop_at.get_or_insert(
                                Instant::now() + Duration::from_millis(SHUTDOWN_GRACE_MS),
                            );
                        }
                        Sig::Hup => hup = true,
                        _ => {}
                    });
                    if hup {
                        vh.check_settings(true);
                    }
                }
                k if (K_LISTENER..K_LISTENER + MAX_LISTENERS).contains(&k) => {
                    let i = k - K_LISTENER;
                    if !vh.serve_channel(listeners[i].as_ref(), &mut pbuf) {
                        if let Some(old) = listeners[i].take() {
                            poll.delete(old.raw());
                        }
                    }
                }
                _ => {}
            }
        }
        // Told to stop (shutdown, or replaced in a reload): every listener
        // closes its channel once it routes elsewhere and nothing waits on
        // this worker, or when it exits itself; leave when all have, or at
        // the end of the grace period.
        if let Some(t) = stop_at {
            if listeners.iter().all(Option::is_none) || Instant::now() >= t {
                return 0;
            }
        }
    }
}

/// The answer to one request, before it is sent.
pub struct Answer {
    pub resp: Response,
    pub fd: Option<OwnedFd>,
}

impl Vhost {
    /// Answers every queued request on one listener channel. False when
    /// the channel must be dropped (closed, or out of protocol).
    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    fn serve_channel(&self, ch: Option<&ListenerChan>, pbuf: &mut [u8; MAX_PACKET_BYTES]) -> bool {
        let Some(ch) = ch else { return true };
        loop {
            match ch.recv(pbuf) {
                Ok(None) => return true,
                Ok(Some((ToVhost::Request(req), _))) => {
                    let mut a = self.handle(&req);
                    a.resp.settings_gen = self.settings_gen;
                    let m = ToListener::Response(a.resp);
                    let fd = a.fd.as_ref().map(|f| f.as_raw_fd());
                    // The request is decoded: its packet buffer is free.
                    if ch.send_in(&m, fd, false, pbuf).is_err() {
                        return false;
                    }
                }
                Err(RecvError::Protocol) => {
                    log::error!(
                        "vhost {}: protocol error from a listener: channel closed",
                        self.conf.name
                    );
                    return false;
                }
                Err(_) => return false,
            }
        }
    }

    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    pub fn handle(&self, req: &Request) -> Answer {
        // The listener normalised the path; a worker trusts no one.
        let mut norm = [0u8; MAX_TARGET_BYTES];
        let path = match target::normalize(&req.path, &mut norm) {
            Ok(n) if norm[..n] == req.path[..] => &norm[..n],
            _ => return self.error(req, 400),
        };
        if req.method == Method::Other {
            return self.error(req, 405);
        }
        if !self.conf.dotfiles
            && target::has_dot_segment(path)
            && !path.starts_with(b"/.well-known/")
        {
            return self.error(req, 403);
        }
        if let Some(r) = self.settings.redirect_for(path) {
            let mut hb = [0u8; MAX_VHOST_HEAD_BYTES];
            let mut w = Writer::new(&mut hb);
            w.str("Location: ");
            r.location(path, &mut w);
            w.str("\r\n");
            if w.overflowed() {
                return self.error(req, 500);
            }
            let n = w.len();
            return self.error_with(req, r.status, &hb[..n]);
        }
        let auth = self.settings.auth_for(path);
        let cacheable = auth.is_none();
        if let Some(a) = auth {
            if !auth::allowed(&req.authorization, &a.user_file) {
                let mut hb = [0u8; 160];
                let mut w = Writer::new(&mut hb);
                w.str("WWW-Authenticate: Basic realm=\"")
                    .str(&a.realm)
                    .str("\", charset=\"UTF-8\"\r\n");
                let n = if w.overflowed() { 0 } else { w.len() };
                return self.error_with(req, 401, &hb[..n]);
            }
        }
        let rel = &path[1..];
        let fd = match self.open(rel) {
            Ok(fd) => fd,
            Err(code) => return self.error(req, code),
        };
        let Ok(st) = sys::fstat(fd.as_raw_fd()) else {
            return self.error(req, 500);
        };
        if st.is_dir {
            if !path.ends_with(b"/") {
                return self.redirect_slash(req, path);
            }
            // The owner's index names, else the administrator's.
            let mut names: HVec<&str, MAX_INDEX_NAMES> = HVec::new();
            match self.settings.index.as_deref() {
                Some(v) => v.iter().for_each(|n| {
                    let _ = names.push(n.as_str());
                }),
                None => self.conf.index.iter().for_each(|n| {
                    let _ = names.push(n.as_str());
                }),
            }
            for name in names.iter() {
                let mut p = [0u8; MAX_TARGET_BYTES + MAX_INDEX_NAME_BYTES];
                let mut w = Writer::new(&mut p);
                w.push(rel).str(name);
                if w.overflowed() {
                    continue;
                }
                let n = w.len();
                if let Ok(f) = self.open(&p[..n]) {
                    if let Ok(s) = sys::fstat(f.as_raw_fd()) {
                        if s.is_file {
                            return self.file(req, &p[..n], f, s, cacheable);
                        }
                    }
                }
            }
            if self.settings.listing.unwrap_or(self.conf.listing) {
                return self.listing(req, path, &fd);
            }
            return self.error(req, 403);
        }
        if !st.is_file {
            return self.error(req, 403);
        }
        self.file(req, rel, fd, st, cacheable)
    }

    /// Opens `rel` beneath the root; errors are statuses.
    fn open(&self, rel: &[u8]) -> Result<OwnedFd, u16> {
        // NUL-terminated on the stack: no allocation per request.
        let mut buf = [0u8; MAX_TARGET_BYTES + MAX_INDEX_NAME_BYTES + 8];
        let c = buf
            .get_mut(..rel.len() + 1)
            .and_then(|dst| {
                dst[..rel.len()].copy_from_slice(rel);
                dst[rel.len()] = 0;
                std::ffi::CStr::from_bytes_with_nul(dst).ok()
            })
            .ok_or(400u16)?;
        sys::open_beneath(self.root.as_raw_fd(), c, self.conf.symlinks, self.resolver).map_err(
            |e| {
                match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => 404,
                    Some(libc::EACCES) | Some(libc::EPERM) => 403,
                    // A refused symbolic link, or an attempt to leave the root.
                    Some(libc::ELOOP) | Some(libc::EXDEV) => 403,
                    Some(libc::ENAMETOOLONG) => 414,
                    _ => 500,
                }
            },
        )
    }

    /// A regular file: validators, conditionals, range, precompressed
    /// variant. `cacheable`: the listener may serve this path from its fd
    /// cache for a while (not for paths behind auth).
    fn file(
        &self,
        req: &Request,
        rel: &[u8],
        fd: OwnedFd,
        st: sys::Stat,
        cacheable: bool,
    ) -> Answer {
        let mut fd = fd;
        let mut st = st;
        let mut gz = false;
        if self.conf.gzip_static && req.accept_gzip {
            let mut p = [0u8; MAX_TARGET_BYTES + MAX_INDEX_NAME_BYTES + 3];
            let mut w = Writer::new(&mut p);
            w.push(rel).str(".gz");
            if !w.overflowed() {
                let n = w.len();
                if let Ok(f) = self.open(&p[..n]) {
                    if let Ok(s) = sys::fstat(f.as_raw_fd()) {
                        if s.is_file {
                            fd = f;
                            st = s;
                            gz = true;
                        }
                    }
                }
            }
        }
        let mut etag = [0u8; cond::ETAG_MAX];
        let elen = cond::etag(st.mtime, st.size, &mut etag);
        let etag = &etag[..elen];
        let mut lm = [0u8; date::DATE_LEN];
        date::format(st.mtime, &mut lm);

        // The head of a 200; a 304 carries its validators only.
        let mut bb = [0u8; MAX_VHOST_HEAD_BYTES];
        let mut w = Writer::new(&mut bb);
        w.str("Last-Modified: ")
            .push(&lm)
            .str("\r\nETag: ")
            .push(etag)
            .str("\r\n");
        if gz {
            w.str("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
        }
        let validators = w.len();
        let ctype = self
            .settings
            .mime_for(rel)
            .unwrap_or_else(|| mime::lookup(rel));
        w.str("Content-Type: ")
            .str(ctype)
            .str("\r\nAccept-Ranges: bytes\r\n");
        self.settings.header_lines_for(&req.path, &mut w);
        if w.overflowed() {
            return self.error(req, 500);
        }
        let base_len = w.len();
        let base = &bb[..base_len];

        let conds = file::Conditions::from_values(
            &req.if_none_match,
            &req.if_modified_since,
            &req.range,
            &req.if_range,
        );
        let d = file::decide(&conds, st.size, st.mtime, etag);
        let mut hb = [0u8; MAX_VHOST_HEAD_BYTES];
        let mut w = Writer::new(&mut hb);
        let (status, length, offset) = file::head(d, base, validators, st.size, &mut w);
        if d == file::Decision::Unsatisfiable {
            let n = w.len();
            return self.error_with(req, 416, &hb[..n]);
        }
        let mut head = HVec::<u8, MAX_VHOST_HEAD_BYTES>::new();
        if w.overflowed() || head.extend_from_slice(w.as_bytes()).is_err() {
            return self.error(req, 500);
        }
        let cache = if cacheable {
            let mut c = CacheInfo {
                size: st.size,
                mtime: st.mtime,
                etag: HVec::new(),
                base: HVec::new(),
                validators: validators as u16,
            };
            let _ = c.etag.extend_from_slice(etag);
            let _ = c.base.extend_from_slice(base);
            Some(c)
        } else {
            None
        };
        let body = if req.method == Method::Head || status == 304 {
            Body::None
        } else {
            Body::File { offset }
        };
        let fd = if matches!(body, Body::File { .. }) || cache.is_some() {
            Some(fd)
        } else {
            None
        };
        let mut r = resp(req, status, head, length, body);
        r.cache = cache;
        Answer { resp: r, fd }
    }

    /// 301 to the same path with a slash (and the query kept).
    fn redirect_slash(&self, req: &Request, path: &[u8]) -> Answer {
        let mut loc = [0u8; MAX_TARGET_BYTES * 3 + 16];
        let Ok(n) = target::encode_path(path, &mut loc) else {
            return self.error(req, 414);
        };
        let mut hb = [0u8; MAX_VHOST_HEAD_BYTES];
        let mut w = Writer::new(&mut hb);
        w.str("Location: ").push(&loc[..n]).str("/");
        if !req.query.is_empty() {
            w.str("?").push(&req.query);
        }
        w.str("\r\n");
        if w.overflowed() {
            return self.error(req, 414);
        }
        let n = w.len();
        self.error_with(req, 301, &hb[..n])
    }

    fn error(&self, req: &Request, code: u16) -> Answer {
        let extra: &[u8] = if code == 405 {
            b"Allow: GET, HEAD\r\n"
        } else {
            b""
        };
        self.error_with(req, code, extra)
    }

    /// The owner's page for an error status, when there is one and it opens.
    fn owner_page(&self, req: &Request, code: u16, extra: &[u8]) -> Option<Answer> {
        let page = self.settings.error_page(code)?;
        let rel = page.trim_start_matches('/').as_bytes();
        let fd = self.open(rel).ok()?;
        let st = sys::fstat(fd.as_raw_fd()).ok().filter(|s| s.is_file)?;
        let mut hb = [0u8; MAX_VHOST_HEAD_BYTES];
        let mut w = Writer::new(&mut hb);
        w.push(extra);
        let ctype = self
            .settings
            .mime_for(rel)
            .unwrap_or_else(|| mime::lookup(rel));
        w.str("Content-Type: ").str(ctype).str("\r\n");
        let mut head = HVec::new();
        head.extend_from_slice(w.as_bytes()).ok()?;
        Some(if req.method == Method::Head {
            Answer {
                resp: resp(req, code, head, Some(st.size), Body::None),
                fd: None,
            }
        } else {
            Answer {
                resp: resp(req, code, head, Some(st.size), Body::File { offset: 0 }),
                fd: Some(fd),
            }
        })
    }

    /// An HTML listing of a directory without an index file, rendered into
    /// a bounded buffer and sent as an in-memory file.
    fn listing(&self, req: &Request, path: &[u8], dir: &OwnedFd) -> Answer {
        let Ok((found, more)) =
            sys::list_dir(dir.as_raw_fd(), MAX_LISTING_ENTRIES, !self.conf.dotfiles)
        else {
            return self.error(req, 403);
        };
        let mut entries: Vec<listing::Entry<'_>> = found
            .iter()
            .map(|e| listing::Entry {
                name: &e.name,
                is_dir: e.is_dir,
                size: e.size,
                mtime: e.mtime,
            })
            .collect();
        // Fresh pages from the kernel, returned at the end of the request.
        let Ok(mut out) = sys::Region::new(MAX_LISTING_BYTES) else {
            return self.error(req, 500);
        };
        let n = listing::render(path, &mut entries, more, &mut out);
        if n == 0 {
            return self.error(req, 500);
        }
        let mut head = HVec::new();
        let _ = head.extend_from_slice(
            b"Content-Type: text/html; charset=utf-8\r\nCache-Control: no-cache\r\n",
        );
        if req.method == Method::Head {
            return Answer {
                resp: resp(req, 200, head, Some(n as u64), Body::None),
                fd: None,
            };
        }
        match sys::memfd(c"listing", &out[..n]) {
            Ok(fd) => Answer {
                resp: resp(req, 200, head, Some(n as u64), Body::File { offset: 0 }),
                fd: Some(fd),
            },
            Err(_) => self.error(req, 500),
        }
    }

    /// A status with the built-in page as its body, plus `extra` headers.
    fn error_with(&self, req: &Request, code: u16, extra: &[u8]) -> Answer {
        if code >= 400 {
            if let Some(a) = self.owner_page(req, code, extra) {
                return a;
            }
        }
        let mut head = HVec::<u8, MAX_VHOST_HEAD_BYTES>::new();
        let _ = head.extend_from_slice(extra);
        let _ = head.extend_from_slice(b"Content-Type: text/html; charset=utf-8\r\n");
        let mut body = [0u8; 512];
        let n = page::error_page(code, &mut body);
        let b = if req.method == Method::Head {
            Body::None
        } else {
            let mut v = HVec::new();
            let _ = v.extend_from_slice(&body[..n]);
            Body::Inline(v)
        };
        Answer {
            resp: resp(req, code, head, Some(n as u64), b),
            fd: None,
        }
    }
}

fn resp(
    req: &Request,
    status: u16,
    head: HVec<u8, MAX_VHOST_HEAD_BYTES>,
    length: Option<u64>,
    body: Body,
) -> Response {
    Response {
        settings_gen: 0,
        cache: None,
        slot: req.slot,
        generation: req.generation,
        status,
        head,
        length,
        body,
    }
}

impl Vhost {
    /// A worker over an open root directory (the sans-socket core, for tests).
    pub fn new(root: OwnedFd, conf: VhostConf) -> Vhost {
        let resolver = sys::probe_resolver(root.as_raw_fd());
        let mut v = Vhost {
            conf,
            root,
            resolver,
            settings: Settings::default(),
            settings_seen: None,
            next_settings_check: Instant::now(),
            settings_gen: 0,
        };
        v.check_settings(true);
        v
    }

    /// Re-reads the owner's settings file when it changed (looked at most
    /// once a second, or now when `force`). A bad file keeps the last good
    /// settings: the site keeps serving, the error is logged once.
    pub fn check_settings(&mut self, force: bool) {
        if self.conf.settings.is_empty() {
            return;
        }
        let now = Instant::now();
        if !force && now < self.next_settings_check {
            return;
        }
        self.next_settings_check = now + Duration::from_secs(1);
        let path = self.conf.settings.as_str();
        use std::os::unix::fs::MetadataExt;
        let seen = match std::fs::metadata(path) {
            Ok(m) => (m.mtime(), m.size(), m.ino()),
            Err(e) => {
                if self.settings_seen.take().is_some() || force {
                    log::error!(
                        "vhost {}: settings {path}: {e}; keeping the last good settings",
                        self.conf.name
                    );
                }
                return;
            }
        };
        if !force && self.settings_seen == Some(seen) {
            return;
        }
        self.settings_seen = Some(seen);
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|t| parse_settings(&t, path).map_err(|e| e.to_string()));
        match parsed {
            Ok(s) => {
                if s != self.settings {
                    log::info!("vhost {}: settings {path} applied", self.conf.name);
                    self.settings_gen = self.settings_gen.wrapping_add(1);
                }
                self.settings = s;
            }
            Err(e) => log::error!(
                "vhost {}: {e}; keeping the last good settings",
                self.conf.name
            ),
        }
    }
}

/// Basic authentication against the owner's user file, read as the vhost's
/// own user on each protected request (the file may change at any time).
mod auth {
    use crate::http::basic;

    pub fn allowed(authorization: &[u8], user_file: &str) -> bool {
        let mut buf = [0u8; crate::limits::MAX_AUTH_BYTES];
        let Some((user, pass)) = basic::decode(authorization, &mut buf) else {
            return false;
        };
        match std::fs::read(user_file) {
            Ok(text) if text.len() <= 64 * 1024 => basic::check(&text, user, pass),
            Ok(_) => false,
            Err(e) => {
                log::error!("auth user file {user_file}: {e}");
                false
            }
        }
    }
}
