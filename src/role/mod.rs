//! The four processes. `pmaster` is what the command line starts; the
//! others are exec'd by it with `--role=NAME` and their control channel on
//! fd 3, whose first message is their configuration.

pub mod fdcache;
pub mod listener;
pub mod pmaster;
pub mod umaster;
pub mod vhost;

use std::ffi::CString;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::ipc::chan::{Chan, PacketBuf};
use crate::ipc::msg::{Common, Message, ToChild};
use crate::limits::MAX_PACKET_BYTES;
use crate::sys;

/// The fd number a child finds its control channel on.
pub const CTL_FD: i32 = 3;

/// Children never send to pmaster over the control channel today; the type
/// exists so the channel is typed both ways.
#[derive(
    serde::Serialize, serde::Deserialize, postcard::experimental::max_size::MaxSize, Debug,
)]
pub enum ToPmaster {
    Ready,
}

impl Message for ToPmaster {
    fn carries_fd(&self) -> bool {
        false
    }
}

pub type CtlChan = Chan<ToChild, ToPmaster>;

/// The signals every role handles through its signalfd.
pub const SIGNALS: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCHLD,
];

pub fn level_from_u8(v: u8) -> log::LevelFilter {
    match v {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

pub fn init_logger(level: log::LevelFilter) {
    let _ = simple_logger::SimpleLogger::new().with_level(level).init();
}

/// Entry point of a child process (`rttpd --role=NAME`). Never returns.
pub fn child_main(role: &str) -> ! {
    if !sys::is_socket(CTL_FD) {
        eprintln!("rttpd: --role is internal: pmaster starts these processes itself");
        std::process::exit(2);
    }
    sys::set_cloexec(CTL_FD);
    let ctl: CtlChan = Chan::new(sys::take_fd(CTL_FD));
    let Some(first) = first_message(&ctl) else {
        eprintln!("rttpd {role}: no configuration on the control channel");
        std::process::exit(2);
    };
    // This frame stays under the role's loop for the life of the process:
    // it holds only the configuration, not the receive buffer.
    let code = match (role, *first) {
        ("umaster", ToChild::Umaster(c)) => umaster::run(ctl, c),
        ("listener", ToChild::Listener(c)) => listener::run(ctl, c),
        ("vhost", ToChild::Vhost(c)) => vhost::run(ctl, c),
        _ => {
            eprintln!("rttpd {role}: unexpected first message");
            2
        }
    };
    std::process::exit(code)
}

/// The child's configuration, the first message on its control channel.
#[inline(never)]
fn first_message(ctl: &CtlChan) -> Option<Box<ToChild>> {
    let mut buf = [0u8; MAX_PACKET_BYTES];
    match recv_blocking(ctl, &mut buf, Duration::from_secs(10)) {
        Some((m, None)) => Some(Box::new(m)),
        _ => None,
    }
}

/// Waits up to `t` for one message (start-up only).
pub fn recv_blocking<I: Message, O: Message>(
    ch: &Chan<I, O>,
    buf: &mut PacketBuf,
    t: Duration,
) -> Option<(I, Option<std::os::fd::OwnedFd>)> {
    let end = Instant::now() + t;
    loop {
        match ch.recv(buf) {
            Ok(Some(m)) => return Some(m),
            Ok(None) => {}
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= end {
            return None;
        }
        sys::wait_readable(ch.raw(), (end - now).as_millis().min(1000) as i32);
    }
}

/// Drops privileges as `c` says and logs the outcome. Exits on failure:
/// a child that cannot drop must not serve.
pub fn drop_or_exit(role: &str, c: &Common) {
    let chroot = if c.chroot.is_empty() {
        None
    } else {
        Some(CString::new(c.chroot.as_bytes()).unwrap_or_default())
    };
    if let Err(e) = sys::drop_privileges(c.uid, c.gid, chroot.as_deref()) {
        log::error!("{role}: cannot drop privileges to {}:{}: {e}", c.uid, c.gid);
        std::process::exit(1);
    }
    let (u, g) = sys::ids();
    log::debug!(
        "{role}: running as {u}:{g}{}",
        if chroot.is_some() { ", chrooted" } else { "" }
    );
}

/// What a role does on a signal.
pub enum Sig {
    Stop,
    Hup,
    Usr1,
    Chld,
}

/// SIGUSR2 in any role: log this process's heap allocation count (the
/// tests use it to prove the request path does not allocate).
/// The count after the previous report was written, so that a report's
/// own formatting is not counted against the requests that follow it.
static REPORTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn log_allocations() {
    use std::sync::atomic::Ordering::Relaxed;
    let n = sys::allocations();
    let since = n.wrapping_sub(REPORTED.load(Relaxed));
    log::info!(
        "pid {}: {n} heap allocations, {since} since the last report",
        sys::getpid()
    );
    REPORTED.store(sys::allocations(), Relaxed);
}

/// Reads every pending signal from a signalfd.
pub fn read_signals(sfd: &mut nix::sys::signalfd::SignalFd, mut f: impl FnMut(Sig)) {
    while let Ok(Some(si)) = sfd.read_signal() {
        match Signal::try_from(si.ssi_signo as i32) {
            Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => f(Sig::Stop),
            Ok(Signal::SIGHUP) => f(Sig::Hup),
            Ok(Signal::SIGUSR1) => f(Sig::Usr1),
            Ok(Signal::SIGCHLD) => f(Sig::Chld),
            Ok(Signal::SIGUSR2) => log_allocations(),
            _ => {}
        }
    }
}

/// Milliseconds since `start` (monotonic), the clock of every role's loop.
pub fn ms_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}
