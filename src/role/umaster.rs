//! umaster: the switchboard. It holds a link to every listener and vhost
//! worker, creates a data channel for every (listener, vhost) pair and hands
//! the two ends out, rewires when a child is replaced, and writes the access
//! log from the records listeners send. Unprivileged, chrooted to an empty
//! directory.

use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::{CtlChan, Sig};
use crate::http::date;
use crate::ipc::chan::{Chan, RecvError};
use crate::ipc::msg::*;
use crate::limits::*;
use crate::sys;

type Link = Chan<ToUmaster, FromUmaster>;

const K_CTL: usize = 0;
const K_SIG: usize = 1;
const K_LISTENER: usize = 100;
const K_VHOST: usize = 200;

/// Log lines are gathered here and written once per loop turn.
const LOG_BUF_BYTES: usize = 64 * 1024;

struct Umaster {
    conf: UmasterConf,
    poll: sys::Poll,
    ctl: CtlChan,
    listeners: [Option<Link>; MAX_LISTENERS],
    vhosts: [Option<Link>; MAX_VHOSTS],
    log_fd: Option<OwnedFd>,
    out: Vec<u8>,
}

// Not inlined into child_main: each role's frame stays its own (stack
// probes make every page of a frame resident).
#[inline(never)]
pub fn run(ctl: CtlChan, conf: UmasterConf) -> i32 {
    super::init_logger(super::level_from_u8(conf.common.log_level));
    sys::set_comm("rttpd: umaster");
    let mut sfd = match sys::signal_fd(super::SIGNALS) {
        Ok(s) => s,
        Err(e) => {
            log::error!("umaster: signalfd: {e}");
            return 1;
        }
    };
    super::drop_or_exit("umaster", &conf.common);
    let poll = match sys::Poll::new() {
        Ok(p) => p,
        Err(e) => {
            log::error!("umaster: poll: {e}");
            return 1;
        }
    };
    let mut u = Umaster {
        conf,
        poll,
        ctl,
        listeners: Default::default(),
        vhosts: Default::default(),
        log_fd: None,
        out: Vec::with_capacity(LOG_BUF_BYTES),
    };
    let _ = u.poll.add(u.ctl.raw(), K_CTL, true, false);
    let _ = u.poll.add(sfd.as_raw_fd(), K_SIG, true, false);
    let mut events = sys::Events::new(POLL_EVENTS);
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut stop_at: Option<Instant> = None;
    loop {
        if u.poll
            .wait(&mut events, Duration::from_millis(500))
            .is_err()
        {
            continue;
        }
        for ev in events.iter() {
            match ev.key {
                K_CTL if !u.on_ctl(&mut buf) => {
                    u.flush();
                    return 0; // pmaster is gone
                }
                K_SIG => super::read_signals(&mut sfd, |s| {
                    if let Sig::Stop = s {
                        stop_at.get_or_insert(
                            Instant::now() + Duration::from_millis(SHUTDOWN_GRACE_MS),
                        );
                    }
                }),
                k if (K_LISTENER..K_LISTENER + MAX_LISTENERS).contains(&k) => {
                    u.on_link(true, k - K_LISTENER, &mut buf)
                }
                k if (K_VHOST..K_VHOST + MAX_VHOSTS).contains(&k) => {
                    u.on_link(false, k - K_VHOST, &mut buf)
                }
                _ => {}
            }
        }
        u.flush();
        if let Some(t) = stop_at {
            let alive = u.listeners.iter().any(Option::is_some);
            if !alive || Instant::now() >= t {
                return 0;
            }
        }
    }
}

impl Umaster {
    /// False when the control channel is closed.
    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    fn on_ctl(&mut self, buf: &mut [u8; MAX_PACKET_BYTES]) -> bool {
        loop {
            match self.ctl.recv(buf) {
                Ok(None) => return true,
                Ok(Some((ToChild::LogFile, Some(fd)))) => self.log_fd = Some(fd),
                Ok(Some((ToChild::ChildLink { role, id }, Some(fd)))) => {
                    self.attach(role, id as usize, fd)
                }
                Ok(Some(_)) => log::warn!("umaster: unexpected control message ignored"),
                Err(RecvError::Closed) | Err(RecvError::Io(_)) => return false,
                Err(RecvError::Protocol) => {
                    log::error!("umaster: protocol error on the control channel");
                    return false;
                }
            }
        }
    }

    fn attach(&mut self, role: Role, id: usize, fd: OwnedFd) {
        let _ = sys::set_send_timeout(fd.as_raw_fd(), Duration::from_secs(1));
        let link = Link::new(fd);
        let (slot, key) = match role {
            Role::Listener if id < MAX_LISTENERS => (&mut self.listeners[id], K_LISTENER + id),
            Role::Vhost if id < MAX_VHOSTS => (&mut self.vhosts[id], K_VHOST + id),
            _ => return,
        };
        if let Some(old) = slot.take() {
            self.poll.delete(old.raw());
        }
        let _ = self.poll.add(link.raw(), key, true, false);
        *slot = Some(link);
        // Wire the new child to every peer of the other kind.
        match role {
            Role::Listener => {
                for v in 0..MAX_VHOSTS {
                    self.wire(id, v);
                }
            }
            Role::Vhost => {
                for l in 0..MAX_LISTENERS {
                    self.wire(l, id);
                }
            }
        }
    }

    /// A fresh data channel between listener `l` and vhost `v`.
    fn wire(&mut self, l: usize, v: usize) {
        let (Some(lc), Some(vc)) = (&self.listeners[l], &self.vhosts[v]) else {
            return;
        };
        let Ok((a, b)) = sys::seqpacket_pair() else {
            log::error!("umaster: socketpair failed");
            return;
        };
        let ok = lc
            .send(
                &FromUmaster::Peer { id: v as u8 },
                Some(a.as_raw_fd()),
                false,
            )
            .is_ok()
            && vc
                .send(
                    &FromUmaster::Peer { id: l as u8 },
                    Some(b.as_raw_fd()),
                    false,
                )
                .is_ok();
        if !ok {
            log::warn!("umaster: could not wire listener {l} to vhost {v}");
        }
        // Our copies of both ends close here; the children hold theirs.
    }

    #[inline(never)] // keeps its frame out of the loop's (resident stack)
    fn on_link(&mut self, listener: bool, id: usize, buf: &mut [u8; MAX_PACKET_BYTES]) {
        loop {
            let slot = if listener {
                &mut self.listeners[id]
            } else {
                &mut self.vhosts[id]
            };
            let Some(link) = slot.as_ref() else { return };
            match link.recv(buf) {
                Ok(None) => return,
                Ok(Some((ToUmaster::Access(r), _))) if listener => {
                    if self.conf.access_log {
                        format_clf(&r, &mut self.out);
                        if self.out.len() > LOG_BUF_BYTES - 2048 {
                            self.flush();
                        }
                    }
                }
                Ok(Some(_)) | Err(RecvError::Protocol) => {
                    log::error!(
                        "umaster: protocol error from {} {id}: link closed",
                        if listener { "listener" } else { "vhost" }
                    );
                    self.drop_link(listener, id);
                    return;
                }
                Err(_) => {
                    self.drop_link(listener, id);
                    return;
                }
            }
        }
    }

    fn drop_link(&mut self, listener: bool, id: usize) {
        let slot = if listener {
            &mut self.listeners[id]
        } else {
            &mut self.vhosts[id]
        };
        if let Some(l) = slot.take() {
            self.poll.delete(l.raw());
        }
    }

    fn flush(&mut self) {
        if self.out.is_empty() {
            return;
        }
        let fd = self.log_fd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(2);
        if let Err(e) = sys::write_all(fd, &self.out) {
            log::error!("umaster: access log write failed: {e}");
        }
        self.out.clear();
    }
}

/// Combined Log Format; bytes from the client are escaped (`\xHH`) so a
/// request cannot forge log lines.
pub fn format_clf(r: &AccessRecord, out: &mut Vec<u8>) {
    use std::io::Write;
    let ip = Ipv6Addr::from(r.peer);
    let _ = match ip.to_ipv4_mapped() {
        Some(v4) => write!(out, "{v4}"),
        None => write!(out, "{ip}"),
    };
    let mut d = [0u8; date::DATE_LEN];
    date::format(r.time, &mut d);
    // "Sun, 06 Nov 1994 08:49:37 GMT" → "06/Nov/1994:08:49:37 +0000"
    out.extend_from_slice(b" - - [");
    out.extend_from_slice(&d[5..7]);
    out.push(b'/');
    out.extend_from_slice(&d[8..11]);
    out.push(b'/');
    out.extend_from_slice(&d[12..16]);
    out.push(b':');
    out.extend_from_slice(&d[17..25]);
    out.extend_from_slice(b" +0000] \"");
    escape(&r.request, out);
    let _ = write!(out, "\" {} ", r.status);
    if r.bytes == 0 {
        out.push(b'-');
    } else {
        let _ = write!(out, "{}", r.bytes);
    }
    out.extend_from_slice(b" \"");
    if r.referer.is_empty() {
        out.push(b'-')
    } else {
        escape(&r.referer, out)
    }
    out.extend_from_slice(b"\" \"");
    if r.agent.is_empty() {
        out.push(b'-')
    } else {
        escape(&r.agent, out)
    }
    out.extend_from_slice(b"\"\n");
}

fn escape(b: &[u8], out: &mut Vec<u8>) {
    for &c in b {
        if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
            out.extend_from_slice(b"\\x");
            out.push(b"0123456789abcdef"[(c >> 4) as usize]);
            out.push(b"0123456789abcdef"[(c & 15) as usize]);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapless::Vec as HVec;

    #[test]
    fn clf_line_is_escaped() {
        let mut request = HVec::new();
        request.extend_from_slice(b"GET /a\"b\n HTTP/1.1").unwrap();
        let mut agent = HVec::new();
        agent.extend_from_slice(b"curl/8").unwrap();
        let r = AccessRecord {
            peer: std::net::Ipv4Addr::new(127, 0, 0, 1)
                .to_ipv6_mapped()
                .octets(),
            time: 784111777,
            vhost: 0,
            request,
            status: 200,
            bytes: 4096,
            referer: HVec::new(),
            agent,
        };
        let mut out = Vec::new();
        format_clf(&r, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a\\x22b\\x0a HTTP/1.1\" 200 4096 \"-\" \"curl/8\"\n"
        );
    }
}
