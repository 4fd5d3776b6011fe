//! pmaster: the only process that stays root. It binds the listening
//! sockets, opens the access log, spawns every child (fork + exec of its
//! own binary), hands each child its configuration and fds over fd 3,
//! respawns children with backoff, and relays signals. It never reads a
//! client byte and never decodes a message from a child.

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use heapless::{String as HString, Vec as HVec};
use nix::sys::signal::Signal;

use super::{Sig, ToPmaster};

/// pmaster's end of a child's control channel.
type CtlChan = Chan<ToPmaster, ToChild>;
use crate::config::{Account, Config, LogTarget};
use crate::ipc::chan::Chan;
use crate::ipc::msg::*;
use crate::limits::*;
use crate::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Umaster,
    Listener(u8),
    Vhost(u8),
}

struct Child {
    kind: Kind,
    pid: i32,
    ctl: Option<CtlChan>,
    started: Instant,
    backoff_ms: u64,
    respawn_at: Option<Instant>,
}

/// Resolved accounts: (uid, gid) per role.
struct Ids {
    server: (u32, u32),
    vhosts: Vec<(u32, u32)>,
}

pub struct Pmaster {
    conf: Config,
    ids: Ids,
    root: bool,
    exe: CString,
    /// sockets[listener][address]
    sockets: Vec<Vec<OwnedFd>>,
    log_file: Option<OwnedFd>,
    children: Vec<Child>,
    stopping: Option<Instant>,
}

/// Runs the server from a checked configuration. Returns the exit code.
pub fn run(conf: Config, detach: bool) -> i32 {
    let root = sys::is_root();
    let ids = match resolve_ids(&conf, root) {
        Ok(ids) => ids,
        Err(e) => {
            log::error!("{e}");
            return 1;
        }
    };
    if root {
        if let Err(e) = ensure_empty_dir(&conf.chroot_dir) {
            log::error!("chroot_dir {}: {e}", conf.chroot_dir.display());
            return 1;
        }
    } else {
        let (u, g) = sys::ids();
        log::warn!(
            "not started as root: every process runs as {u}:{g}; privileges are not separated"
        );
    }
    let n = listener_count(&conf);
    let need = (conf.max_connections + FD_RESERVE) as u64;
    let have = sys::raise_nofile(need);
    if have < need {
        log::warn!("open-file limit is {have}, below max_connections + {FD_RESERVE} = {need}");
    }
    let mut sockets = Vec::new();
    for _ in 0..n {
        let mut v = Vec::new();
        for a in &conf.listen {
            match sys::listen_tcp(a, 1024) {
                Ok(fd) => v.push(fd),
                Err(e) => {
                    log::error!("cannot listen on {a}: {e}");
                    return 1;
                }
            }
        }
        sockets.push(v);
    }
    let log_file = match open_log(&conf.access_log) {
        Ok(f) => f,
        Err(e) => {
            log::error!("access_log: {e}");
            return 1;
        }
    };
    if detach {
        if let Err(e) = sys::daemonize() {
            log::error!("cannot detach: {e}");
            return 1;
        }
    }
    let addrs: Vec<String> = conf.listen.iter().map(SocketAddr::to_string).collect();
    log::info!(
        "rttpd {} listening on {} with {n} listener(s), {} vhost(s)",
        env!("CARGO_PKG_VERSION"),
        addrs.join(" "),
        conf.vhosts.len()
    );
    let mut pm = Pmaster {
        conf,
        ids,
        root,
        exe: CString::new("/proc/self/exe").unwrap_or_default(),
        sockets,
        log_file,
        children: Vec::new(),
        stopping: None,
    };
    pm.main_loop()
}

fn listener_count(conf: &Config) -> usize {
    let n = if conf.listeners == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        conf.listeners
    };
    n.clamp(1, MAX_LISTENERS)
}

fn lookup_user(a: &Account) -> Result<(u32, u32), String> {
    match a {
        Account::Id(id) => {
            let gid = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(*id))
                .ok()
                .flatten()
                .map(|u| u.gid.as_raw())
                .unwrap_or(*id);
            Ok((*id, gid))
        }
        Account::Name(n) => match nix::unistd::User::from_name(n) {
            Ok(Some(u)) => Ok((u.uid.as_raw(), u.gid.as_raw())),
            _ => Err(format!("unknown user '{n}'")),
        },
    }
}

fn lookup_group(a: &Account) -> Result<u32, String> {
    match a {
        Account::Id(id) => Ok(*id),
        Account::Name(n) => match nix::unistd::Group::from_name(n) {
            Ok(Some(g)) => Ok(g.gid.as_raw()),
            _ => Err(format!("unknown group '{n}'")),
        },
    }
}

fn account(user: &Account, group: Option<&Account>) -> Result<(u32, u32), String> {
    let (u, mut g) = lookup_user(user)?;
    if let Some(gr) = group {
        g = lookup_group(gr)?;
    }
    Ok((u, g))
}

/// Accounts by name are looked up here, before any chroot.
fn resolve_ids(conf: &Config, root: bool) -> Result<Ids, String> {
    if !root {
        let me = sys::ids();
        return Ok(Ids {
            server: me,
            vhosts: vec![me; conf.vhosts.len()],
        });
    }
    let server = account(&conf.user, conf.group.as_ref())?;
    let mut vhosts = Vec::new();
    for v in &conf.vhosts {
        let user = v.user.as_ref().unwrap_or(&conf.user);
        let group = v.group.as_ref().or(if v.user.is_none() {
            conf.group.as_ref()
        } else {
            None
        });
        let ids = account(user, group).map_err(|e| format!("vhost '{}': {e}", v.name))?;
        if ids.0 == 0 {
            return Err(format!(
                "vhost '{}' would run as root; give it a user",
                v.name
            ));
        }
        vhosts.push(ids);
    }
    if server.0 == 0 {
        return Err("umaster and listeners would run as root; set 'user'".into());
    }
    Ok(Ids { server, vhosts })
}

/// The chroot of umaster and listeners: must exist (created if missing),
/// be a directory owned by root, and not be writable by anyone else.
fn ensure_empty_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
    }
    let m = std::fs::metadata(dir)?;
    if !m.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    if m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(io::Error::other(
            "must be owned by root and not writable by others",
        ));
    }
    Ok(())
}

fn open_log(t: &LogTarget) -> io::Result<Option<OwnedFd>> {
    use std::os::unix::fs::OpenOptionsExt;
    match t {
        LogTarget::File(p) => {
            let f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .open(p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            Ok(Some(f.into()))
        }
        _ => Ok(None),
    }
}

fn hstr<const N: usize>(s: &str) -> HString<N> {
    let mut out = HString::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

impl Pmaster {
    fn common(&self, ids: (u32, u32), chroot: Option<&Path>) -> Common {
        Common {
            uid: ids.0,
            gid: ids.1,
            chroot: match chroot {
                Some(p) if self.root => hstr(&p.to_string_lossy()),
                _ => HString::new(),
            },
            log_level: self.conf.log_level as u8,
        }
    }

    fn main_loop(&mut self) -> i32 {
        let mut sfd = match sys::signal_fd(super::SIGNALS) {
            Ok(s) => s,
            Err(e) => {
                log::error!("signalfd: {e}");
                return 1;
            }
        };
        let mut kinds = vec![Kind::Umaster];
        for i in 0..self.sockets.len() {
            kinds.push(Kind::Listener(i as u8));
        }
        for j in 0..self.conf.vhosts.len() {
            kinds.push(Kind::Vhost(j as u8));
        }
        for k in kinds {
            self.children.push(Child {
                kind: k,
                pid: 0,
                ctl: None,
                started: Instant::now(),
                backoff_ms: 0,
                respawn_at: Some(Instant::now()),
            });
        }
        loop {
            let now = Instant::now();
            // Start what is due.
            if self.stopping.is_none() {
                let due: Vec<usize> = (0..self.children.len())
                    .filter(|&i| self.children[i].respawn_at.is_some_and(|t| t <= now))
                    .collect();
                // umaster first: the others' links go to it.
                let mut order: VecDeque<usize> = VecDeque::new();
                for i in due {
                    if self.children[i].kind == Kind::Umaster {
                        order.push_front(i);
                    } else {
                        order.push_back(i);
                    }
                }
                for i in order {
                    self.start(i);
                }
            }
            if let Some(deadline) = self.stopping {
                if self.children.iter().all(|c| c.pid == 0) {
                    log::info!("stopped");
                    return 0;
                }
                if now >= deadline {
                    for c in &self.children {
                        if c.pid > 0 {
                            log::warn!("{:?} (pid {}) did not stop in time: killed", c.kind, c.pid);
                            sys::kill(c.pid, Signal::SIGKILL);
                        }
                    }
                }
            }
            let next = self
                .children
                .iter()
                .filter_map(|c| c.respawn_at)
                .min()
                .map(|t| t.saturating_duration_since(now))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            sys::wait_readable(sfd.as_raw_fd(), next.as_millis().max(1) as i32);
            let mut sigs = Vec::new();
            super::read_signals(&mut sfd, |s| sigs.push(s));
            for s in sigs {
                match s {
                    Sig::Stop => self.stop(),
                    Sig::Chld => self.reap(),
                    Sig::Usr1 => self.reopen_logs(),
                    Sig::Hup => log::warn!(
                        "SIGHUP: live reload is not implemented yet; restart to apply a new config"
                    ),
                }
            }
        }
    }

    fn stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("stopping: children get {} ms to finish", SHUTDOWN_GRACE_MS);
        self.stopping = Some(Instant::now() + Duration::from_millis(SHUTDOWN_GRACE_MS));
        for c in &mut self.children {
            c.respawn_at = None;
            if c.pid > 0 {
                sys::kill(c.pid, Signal::SIGTERM);
            }
        }
    }

    fn reap(&mut self) {
        while let Some((pid, how)) = sys::reap() {
            let Some(i) = self.children.iter().position(|c| c.pid == pid) else {
                continue;
            };
            let c = &mut self.children[i];
            c.pid = 0;
            c.ctl = None;
            if self.stopping.is_some() {
                log::debug!("{:?} (pid {pid}) {how}", c.kind);
                continue;
            }
            let lived = c.started.elapsed();
            c.backoff_ms = if lived > Duration::from_millis(RESPAWN_HEALTHY_MS) || c.backoff_ms == 0
            {
                RESPAWN_MIN_MS
            } else {
                (c.backoff_ms * 2).min(RESPAWN_MAX_MS)
            };
            c.respawn_at = Some(Instant::now() + Duration::from_millis(c.backoff_ms));
            let ms = c.backoff_ms;
            log::warn!("{} (pid {pid}) {how}; respawning in {ms} ms", self.name(i));
        }
    }

    fn name(&self, i: usize) -> String {
        match self.children[i].kind {
            Kind::Umaster => "umaster".into(),
            Kind::Listener(n) => format!("listener {n}"),
            Kind::Vhost(j) => format!("vhost '{}'", self.conf.vhosts[j as usize].name),
        }
    }

    fn reopen_logs(&mut self) {
        match open_log(&self.conf.access_log) {
            Ok(Some(f)) => {
                self.log_file = Some(f);
                self.send_log_file();
                log::info!("SIGUSR1: access log reopened");
            }
            Ok(None) => {}
            Err(e) => log::error!("SIGUSR1: cannot reopen access log: {e}; keeping the old one"),
        }
    }

    fn send_log_file(&self) {
        if let (Some(f), Some(u)) = (&self.log_file, self.umaster_ctl()) {
            let _ = u.send(&ToChild::LogFile, Some(f.as_raw_fd()), false);
        }
    }

    fn umaster_ctl(&self) -> Option<&CtlChan> {
        self.children
            .iter()
            .find(|c| c.kind == Kind::Umaster)
            .and_then(|c| c.ctl.as_ref())
    }

    /// Spawns child `i` and sends it everything it needs.
    fn start(&mut self, i: usize) {
        let kind = self.children[i].kind;
        self.children[i].respawn_at = None;
        let (title, role) = match kind {
            Kind::Umaster => ("rttpd: umaster".to_string(), "umaster"),
            Kind::Listener(n) => (format!("rttpd: listener {n}"), "listener"),
            Kind::Vhost(j) => (
                format!("rttpd: vhost {}", self.conf.vhosts[j as usize].name),
                "vhost",
            ),
        };
        let argv = [
            CString::new(title).unwrap_or_default(),
            CString::new(format!("--role={role}")).unwrap_or_default(),
        ];
        let r = self.spawn_and_configure(kind, &argv);
        let c = &mut self.children[i];
        match r {
            Ok((pid, ctl)) => {
                c.pid = pid;
                c.ctl = Some(ctl);
                c.started = Instant::now();
                log::debug!("{} started as pid {pid}", self.name(i));
            }
            Err(e) => {
                c.backoff_ms = (c.backoff_ms * 2).clamp(RESPAWN_MIN_MS, RESPAWN_MAX_MS);
                c.respawn_at = Some(Instant::now() + Duration::from_millis(c.backoff_ms));
                log::error!("cannot start {}: {e}", self.name(i));
                return;
            }
        }
        if kind == Kind::Umaster {
            // A new umaster needs a link to every running child.
            self.send_log_file();
            for j in 0..self.children.len() {
                if self.children[j].kind != Kind::Umaster && self.children[j].pid > 0 {
                    if let Err(e) = self.link(j) {
                        log::error!("cannot link {} to umaster: {e}", self.name(j));
                    }
                }
            }
        } else if let Err(e) = self.link(i) {
            log::error!("cannot link {} to umaster: {e}", self.name(i));
        }
    }

    fn spawn_and_configure(&self, kind: Kind, argv: &[CString]) -> io::Result<(i32, CtlChan)> {
        let (mine, theirs) = sys::seqpacket_pair()?;
        let ctl: CtlChan = Chan::new(mine);
        // A stuck child must not stall pmaster.
        sys::set_send_timeout(ctl.raw(), Duration::from_secs(1))?;
        // The configuration is queued before the child runs: it is the first
        // thing the child reads.
        let first = match kind {
            Kind::Umaster => ToChild::Umaster(UmasterConf {
                common: self.common(self.ids.server, Some(&self.conf.chroot_dir)),
                access_log: self.conf.access_log != LogTarget::Off,
            }),
            Kind::Listener(n) => ToChild::Listener(ListenerConf {
                common: self.common(self.ids.server, Some(&self.conf.chroot_dir)),
                id: n,
                max_connections: self.conf.max_connections as u32,
                header_buffer: self.conf.header_buffer as u32,
                keepalive_ms: self.conf.keepalive_timeout_ms as u32,
                header_timeout_ms: self.conf.header_timeout_ms as u32,
                send_timeout_ms: self.conf.send_timeout_ms as u32,
                access_log: self.conf.access_log != LogTarget::Off,
                vhosts: self.conf.vhosts.len() as u8,
            }),
            Kind::Vhost(j) => {
                let v = &self.conf.vhosts[j as usize];
                let mut index = HVec::new();
                for name in &v.index {
                    let _ = index.push(hstr(name));
                }
                let root = v.root.to_string_lossy();
                ToChild::Vhost(VhostConf {
                    common: self.common(
                        self.ids.vhosts[j as usize],
                        if v.chroot { Some(&v.root) } else { None },
                    ),
                    id: j,
                    name: hstr(&v.name),
                    root: hstr(&root),
                    chroot: v.chroot && self.root,
                    index,
                    symlinks: v.follow_symlinks,
                    dotfiles: v.dotfiles,
                    gzip_static: v.gzip_static,
                })
            }
        };
        ctl.send(&first, None, false)?;
        if let Kind::Listener(n) = kind {
            let default = self.conf.vhosts.iter().position(|v| v.default).unwrap_or(0);
            for (j, v) in self.conf.vhosts.iter().enumerate() {
                let mut names = HVec::new();
                for a in &v.aliases {
                    let _ = names.push(hstr(a));
                }
                ctl.send(
                    &ToChild::Route(Route {
                        vhost: j as u8,
                        default: j == default,
                        names,
                    }),
                    None,
                    false,
                )?;
            }
            for s in &self.sockets[n as usize] {
                ctl.send(&ToChild::Listen, Some(s.as_raw_fd()), false)?;
            }
        }
        let pid = sys::spawn(&self.exe, argv, &[], &theirs)?;
        Ok((pid, ctl))
    }

    /// A fresh umaster link for child `i`: one end to it, one to umaster.
    fn link(&self, i: usize) -> io::Result<()> {
        let (role, id) = match self.children[i].kind {
            Kind::Listener(n) => (Role::Listener, n),
            Kind::Vhost(j) => (Role::Vhost, j),
            Kind::Umaster => return Ok(()),
        };
        let Some(u) = self.umaster_ctl() else {
            return Ok(());
        };
        let Some(c) = self.children[i].ctl.as_ref() else {
            return Ok(());
        };
        let (a, b) = sys::seqpacket_pair()?;
        c.send(&ToChild::Link, Some(a.as_raw_fd()), false)?;
        u.send(&ToChild::ChildLink { role, id }, Some(b.as_raw_fd()), false)?;
        Ok(())
    }
}
