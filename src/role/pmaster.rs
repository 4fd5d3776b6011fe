//! pmaster: the only process that stays root. It binds the listening
//! sockets, opens the access log, spawns every child (fork + exec of its
//! own binary), hands each child its configuration and fds over fd 3,
//! respawns children with backoff, relays signals, and applies a new
//! configuration on SIGHUP. It never reads a client byte and never decodes
//! a message from a child.
//!
//! Children are identified by small ids that are never reused while their
//! previous owner may still be draining: a changed vhost gets a new worker
//! under a new id, listeners are switched to route to it, and only then is
//! the old worker told to stop. So a reload drops no request.

use std::ffi::CString;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use heapless::{String as HString, Vec as HVec};
use nix::sys::signal::Signal;

use super::{Sig, ToPmaster};
use crate::config::{Account, Config, LogTarget, VhostConfig};
use crate::ipc::chan::Chan;
use crate::ipc::msg::*;
use crate::limits::*;
use crate::sys;

/// uid and gid.
type Ids = (u32, u32);

/// pmaster's end of a child's control channel.
type CtlChan = Chan<ToPmaster, ToChild>;

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Umaster,
    /// A listener with its id (for umaster and vhosts) and the position of
    /// its socket set.
    Listener {
        id: u8,
        pos: usize,
    },
    Vhost {
        id: u8,
        conf: Box<VhostConfig>,
        ids: (u32, u32),
    },
}

struct Child {
    kind: Kind,
    pid: i32,
    ctl: Option<CtlChan>,
    started: Instant,
    backoff_ms: u64,
    respawn_at: Option<Instant>,
    /// Told to stop (reload or shutdown): not respawned when it exits.
    retired: bool,
}

pub struct Pmaster {
    conf: Config,
    config_file: Option<String>,
    server_ids: (u32, u32),
    root: bool,
    exe: CString,
    /// The children's whole environment: empty but for QEMU_CPU, passed
    /// through so that tests under qemu-user keep the CPU model (ARMv6,
    /// MIPS 24Kc) across the fork+exec; meaningless on a real device.
    env: Vec<CString>,
    /// sockets[position][address index], parallel to conf.listen.
    sockets: Vec<Vec<OwnedFd>>,
    log_file: Option<OwnedFd>,
    children: Vec<Child>,
    stopping: Option<Instant>,
    /// SIGKILL was sent to what was left after the grace period.
    killed: bool,
    next_vhost_id: u8,
    next_listener_id: u8,
}

/// What `-t` warns about beyond the syntax: accounts that do not exist and
/// docroots that are not directories on this machine, as
/// `file:line: warning: problem` (the vhost's section line).
pub fn check(conf: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let f = &conf.file;
    if let Err(e) = account(&conf.user, conf.group.as_ref()) {
        out.push(format!("{f}: warning: {e}"));
    }
    for v in &conf.vhosts {
        if let Some(u) = &v.user {
            if let Err(e) = account(u, v.group.as_ref()) {
                out.push(format!("{f}:{}: warning: vhost '{}': {e}", v.line, v.name));
            }
        } else if let Some(g) = &v.group {
            if let Err(e) = lookup_group(g) {
                out.push(format!("{f}:{}: warning: vhost '{}': {e}", v.line, v.name));
            }
        }
        if !v.root.is_dir() {
            out.push(format!(
                "{f}:{}: warning: vhost '{}': root {} is not a directory",
                v.line,
                v.name,
                v.root.display()
            ));
        }
    }
    out
}

/// Runs the server from a checked configuration. Returns the exit code.
pub fn run(conf: Config, config_file: Option<String>, detach: bool) -> i32 {
    let root = sys::is_root();
    let (server_ids, vhost_ids) = match resolve_ids(&conf, root) {
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
    raise_nofile(&conf);
    let sockets = match bind_all(&conf, &[], &[]) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            return 1;
        }
    };
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
        "rttpd {} listening on {} with {} listener(s), {} vhost(s)",
        env!("CARGO_PKG_VERSION"),
        addrs.join(" "),
        sockets.len(),
        conf.vhosts.len()
    );
    let mut pm = Pmaster {
        conf,
        config_file,
        server_ids,
        root,
        exe: CString::new("/proc/self/exe").unwrap_or_default(),
        env: std::env::var("QEMU_CPU")
            .ok()
            .and_then(|v| CString::new(format!("QEMU_CPU={v}")).ok())
            .into_iter()
            .collect(),
        sockets,
        log_file,
        children: Vec::new(),
        stopping: None,
        killed: false,
        next_vhost_id: 0,
        next_listener_id: 0,
    };
    pm.add_child(Kind::Umaster);
    for pos in 0..pm.sockets.len() {
        let id = pm.alloc_listener_id();
        pm.add_child(Kind::Listener { id, pos });
    }
    for (v, ids) in pm.conf.vhosts.clone().into_iter().zip(vhost_ids) {
        let id = pm.alloc_vhost_id();
        pm.add_child(Kind::Vhost {
            id,
            conf: Box::new(v),
            ids,
        });
    }
    pm.main_loop()
}

fn raise_nofile(conf: &Config) {
    let need = (conf.max_connections + FD_RESERVE) as u64;
    let have = sys::raise_nofile(need);
    if have < need {
        log::warn!("open-file limit is {have}, below max_connections + {FD_RESERVE} = {need}");
    }
}

fn listener_count(conf: &Config) -> usize {
    let n = if conf.listeners == 0 {
        sys::online_cpus()
    } else {
        conf.listeners
    };
    n.clamp(1, MAX_LISTENERS / 2)
}

/// One socket per (listener position, address). Sockets of addresses that
/// stay are taken over from `old` (same socket: no queued connection is
/// lost); new ones are bound.
fn bind_all(
    conf: &Config,
    old_listen: &[SocketAddr],
    old: &[Vec<OwnedFd>],
) -> Result<Vec<Vec<OwnedFd>>, String> {
    let n = listener_count(conf);
    let mut out = Vec::new();
    for pos in 0..n {
        let mut v = Vec::new();
        for a in &conf.listen {
            let reused = old_listen
                .iter()
                .position(|o| o == a)
                .and_then(|i| old.get(pos).and_then(|s| s.get(i)))
                .and_then(|fd| fd.try_clone().ok());
            match reused {
                Some(fd) => v.push(fd),
                None => v.push(
                    sys::listen_tcp(a, 1024).map_err(|e| format!("cannot listen on {a}: {e}"))?,
                ),
            }
        }
        out.push(v);
    }
    Ok(out)
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

/// Accounts by name are looked up here, before any chroot: (server, per vhost).
fn resolve_ids(conf: &Config, root: bool) -> Result<(Ids, Vec<Ids>), String> {
    if !root {
        let me = sys::ids();
        return Ok((me, vec![me; conf.vhosts.len()]));
    }
    let server = account(&conf.user, conf.group.as_ref())?;
    if server.0 == 0 {
        return Err("umaster and listeners would run as root; set 'user'".into());
    }
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
    Ok((server, vhosts))
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

/// Global keys whose change needs new listeners (and umaster).
fn server_part(c: &Config) -> impl PartialEq + use<> {
    (
        c.listen.clone(),
        c.user.clone(),
        c.group.clone(),
        c.listeners,
        c.max_connections,
        c.header_buffer,
        (
            c.keepalive_timeout_ms,
            c.header_timeout_ms,
            c.send_timeout_ms,
        ),
        c.access_log == LogTarget::Off,
        c.log_level,
        c.chroot_dir.clone(),
    )
}

impl Pmaster {
    fn add_child(&mut self, kind: Kind) {
        self.children.push(Child {
            kind,
            pid: 0,
            ctl: None,
            started: Instant::now(),
            backoff_ms: 0,
            respawn_at: Some(Instant::now()),
            retired: false,
        });
    }

    /// Ids go round-robin, so a retired child's id is reused as late as possible.
    fn alloc_vhost_id(&mut self) -> u8 {
        for _ in 0..MAX_VHOSTS {
            let id = self.next_vhost_id;
            self.next_vhost_id = ((id as usize + 1) % MAX_VHOSTS) as u8;
            if !self
                .children
                .iter()
                .any(|c| matches!(c.kind, Kind::Vhost { id: i, .. } if i == id))
            {
                return id;
            }
        }
        self.next_vhost_id
    }

    fn alloc_listener_id(&mut self) -> u8 {
        for _ in 0..MAX_LISTENERS {
            let id = self.next_listener_id;
            self.next_listener_id = ((id as usize + 1) % MAX_LISTENERS) as u8;
            if !self
                .children
                .iter()
                .any(|c| matches!(c.kind, Kind::Listener { id: i, .. } if i == id))
            {
                return id;
            }
        }
        self.next_listener_id
    }

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
        loop {
            let now = Instant::now();
            if self.stopping.is_none() {
                self.start_due(now);
            }
            if let Some(deadline) = self.stopping {
                if self.children.iter().all(|c| c.pid == 0) {
                    log::info!("stopped");
                    return 0;
                }
                if now >= deadline {
                    if self.killed {
                        // SIGKILL did not work either (e.g. no CAP_KILL):
                        // give up rather than loop forever.
                        log::error!("children did not exit after SIGKILL; exiting anyway");
                        return 1;
                    }
                    for c in &self.children {
                        if c.pid > 0 {
                            log::warn!(
                                "{} (pid {}) did not stop in time: killed",
                                self.name(c),
                                c.pid
                            );
                            sys::kill(c.pid, Signal::SIGKILL);
                        }
                    }
                    self.killed = true;
                    self.stopping = Some(now + Duration::from_secs(2));
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
                    Sig::Hup => self.reload(),
                }
            }
        }
    }

    /// Starts every child whose time has come (umaster first: the others'
    /// links go to it).
    fn start_due(&mut self, now: Instant) {
        let mut due: Vec<usize> = (0..self.children.len())
            .filter(|&i| self.children[i].respawn_at.is_some_and(|t| t <= now))
            .collect();
        due.sort_by_key(|&i| self.children[i].kind != Kind::Umaster);
        for i in due {
            self.start(i);
        }
    }

    fn stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("stopping: children get {} ms to finish", SHUTDOWN_GRACE_MS);
        self.stopping = Some(Instant::now() + Duration::from_millis(SHUTDOWN_GRACE_MS + 500));
        // Listeners close their copies too: new connections are refused at
        // once instead of waiting in a backlog nobody accepts from.
        self.sockets.clear();
        for c in &mut self.children {
            c.respawn_at = None;
            c.retired = true;
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
            let name = self.name(&self.children[i]);
            if self.children[i].retired {
                log::debug!("{name} (pid {pid}) {how}");
                if self.stopping.is_some() {
                    self.children[i].pid = 0;
                    self.children[i].ctl = None;
                } else {
                    self.children.remove(i);
                }
                continue;
            }
            let c = &mut self.children[i];
            c.pid = 0;
            c.ctl = None;
            let lived = c.started.elapsed();
            c.backoff_ms = if lived > Duration::from_millis(RESPAWN_HEALTHY_MS) || c.backoff_ms == 0
            {
                RESPAWN_MIN_MS
            } else {
                (c.backoff_ms * 2).min(RESPAWN_MAX_MS)
            };
            c.respawn_at = Some(Instant::now() + Duration::from_millis(c.backoff_ms));
            let ms = c.backoff_ms;
            log::warn!("{name} (pid {pid}) {how}; respawning in {ms} ms");
        }
    }

    fn name(&self, c: &Child) -> String {
        match &c.kind {
            Kind::Umaster => "umaster".into(),
            Kind::Listener { id, .. } => format!("listener {id}"),
            Kind::Vhost { conf, .. } => format!("vhost '{}'", conf.name),
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
            .find(|c| c.kind == Kind::Umaster && !c.retired)
            .and_then(|c| c.ctl.as_ref())
    }

    // ------------------------------------------------------------ reload

    /// SIGHUP: re-read and check the config file; on error keep everything
    /// as it is. Else start workers for new and changed vhosts, switch the
    /// listeners' routes, then retire what is gone.
    fn reload(&mut self) {
        let Some(file) = self.config_file.clone() else {
            log::info!(
                "SIGHUP: no config file (-c) to reload; telling vhost workers to re-read settings"
            );
            self.hup_workers();
            return;
        };
        let new = match std::fs::read_to_string(&file)
            .map_err(|e| format!("{file}: {e}"))
            .and_then(|t| crate::config::parse(&t, &file).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                log::error!("reload failed, keeping the running configuration: {e}");
                return;
            }
        };
        let (server_ids, vhost_ids) = match resolve_ids(&new, self.root) {
            Ok(x) => x,
            Err(e) => {
                log::error!("reload failed, keeping the running configuration: {file}: {e}");
                return;
            }
        };
        let server_changed = server_part(&new) != server_part(&self.conf);
        let sockets = if server_changed {
            match bind_all(&new, &self.conf.listen, &self.sockets) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::error!("reload failed, keeping the running configuration: {e}");
                    return;
                }
            }
        } else {
            None
        };
        if new.access_log != self.conf.access_log {
            match open_log(&new.access_log) {
                Ok(f) => self.log_file = f,
                Err(e) => {
                    log::error!(
                        "reload failed, keeping the running configuration: access_log: {e}"
                    );
                    return;
                }
            }
        }
        // The new configuration is good: apply it.
        let old = std::mem::replace(&mut self.conf, new);
        self.server_ids = server_ids;
        let mut retire: Vec<usize> = Vec::new();
        let mut added = 0;
        // Vhosts: keep unchanged workers, start new ones for new/changed.
        let mut keep = vec![false; self.children.len()];
        for (v, ids) in self.conf.vhosts.clone().into_iter().zip(vhost_ids) {
            // Unchanged means the same section, wherever it now stands in the file.
            let same = self.children.iter().position(|c| {
                !c.retired
                    && matches!(&c.kind, Kind::Vhost { conf, ids: i, .. }
                        if VhostConfig { line: v.line, ..(**conf).clone() } == v && *i == ids)
            });
            match same {
                Some(i) => keep[i] = true,
                None => {
                    let id = self.alloc_vhost_id();
                    self.add_child(Kind::Vhost {
                        id,
                        conf: Box::new(v),
                        ids,
                    });
                    keep.push(true);
                    added += 1;
                }
            }
        }
        for (i, c) in self.children.iter().enumerate() {
            if matches!(c.kind, Kind::Vhost { .. }) && !c.retired && !keep[i] {
                retire.push(i);
            }
        }
        if let Some(s) = sockets {
            raise_nofile(&self.conf);
            self.sockets = s;
            for (i, c) in self.children.iter().enumerate() {
                if matches!(c.kind, Kind::Listener { .. } | Kind::Umaster) && !c.retired {
                    retire.push(i);
                }
            }
            self.add_child(Kind::Umaster);
            for pos in 0..self.sockets.len() {
                let id = self.alloc_listener_id();
                self.add_child(Kind::Listener { id, pos });
            }
        }
        if old.access_log != self.conf.access_log {
            self.send_log_file();
        }
        // Start what is new now: workers are wired by umaster as they come.
        // An old umaster being retired keeps its links until it exits; the
        // new one (if any) starts first.
        let now = Instant::now();
        for i in &retire {
            // Keep retired children out of the umaster lookup before starting.
            self.children[*i].retired = true;
        }
        self.start_due(now);
        // Listeners route to the new set (those started above get the new
        // table in their configuration already).
        for c in self.children.iter().filter(|c| !c.retired && c.pid > 0) {
            if matches!(c.kind, Kind::Listener { .. }) {
                if let Some(ctl) = &c.ctl {
                    let _ = self.send_routes(ctl);
                }
            }
        }
        for i in retire {
            let c = &self.children[i];
            if c.pid > 0 {
                sys::kill(c.pid, Signal::SIGTERM);
            } else {
                self.children[i].respawn_at = None;
            }
        }
        // Children that never ran and are retired can go now.
        self.children.retain(|c| !(c.retired && c.pid == 0));
        log::info!(
            "reloaded {file}: {} vhost(s), {added} new or changed{}",
            self.conf.vhosts.len(),
            if server_changed {
                ", listeners replaced"
            } else {
                ""
            }
        );
        self.hup_workers();
    }

    fn hup_workers(&self) {
        for c in &self.children {
            if matches!(c.kind, Kind::Vhost { .. }) && !c.retired && c.pid > 0 {
                sys::kill(c.pid, Signal::SIGHUP);
            }
        }
    }

    /// The route table of the live vhosts, swapped in at `RoutesEnd`.
    fn send_routes(&self, ctl: &CtlChan) -> io::Result<()> {
        ctl.send(&ToChild::RoutesBegin, None, false)?;
        let live: Vec<(u8, &VhostConfig)> = self
            .children
            .iter()
            .filter(|c| !c.retired)
            .filter_map(|c| match &c.kind {
                Kind::Vhost { id, conf, .. } => Some((*id, &**conf)),
                _ => None,
            })
            .collect();
        // The default vhost: `default = yes`, else the first in the file.
        let default_name = self
            .conf
            .vhosts
            .iter()
            .find(|v| v.default)
            .or(self.conf.vhosts.first())
            .map(|v| v.name.as_str());
        for (id, v) in live {
            let mut names = HVec::new();
            for a in &v.aliases {
                let _ = names.push(hstr(a));
            }
            let default = Some(v.name.as_str()) == default_name;
            ctl.send(
                &ToChild::Route(Route {
                    vhost: id,
                    default,
                    names,
                }),
                None,
                false,
            )?;
        }
        ctl.send(&ToChild::RoutesEnd, None, false)
    }

    // ------------------------------------------------------------ spawning

    /// Spawns child `i` and sends it everything it needs.
    fn start(&mut self, i: usize) {
        self.children[i].respawn_at = None;
        let (title, role) = match &self.children[i].kind {
            Kind::Umaster => ("rttpd: umaster".to_string(), "umaster"),
            Kind::Listener { id, .. } => (format!("rttpd: listener {id}"), "listener"),
            Kind::Vhost { conf, .. } => (format!("rttpd: vhost {}", conf.name), "vhost"),
        };
        let argv = [
            CString::new(title).unwrap_or_default(),
            CString::new(format!("--role={role}")).unwrap_or_default(),
        ];
        let r = self.spawn_and_configure(&self.children[i].kind, &argv);
        let name = self.name(&self.children[i]);
        let c = &mut self.children[i];
        match r {
            Ok((pid, ctl)) => {
                c.pid = pid;
                c.ctl = Some(ctl);
                c.started = Instant::now();
                log::debug!("{name} started as pid {pid}");
            }
            Err(e) => {
                c.backoff_ms = (c.backoff_ms * 2).clamp(RESPAWN_MIN_MS, RESPAWN_MAX_MS);
                c.respawn_at = Some(Instant::now() + Duration::from_millis(c.backoff_ms));
                log::error!("cannot start {name}: {e}");
                return;
            }
        }
        if self.children[i].kind == Kind::Umaster {
            // A new umaster needs a link to every running child.
            self.send_log_file();
            for j in 0..self.children.len() {
                let c = &self.children[j];
                if c.kind != Kind::Umaster && c.pid > 0 && !c.retired {
                    if let Err(e) = self.link(j) {
                        log::error!("cannot link {} to umaster: {e}", self.name(c));
                    }
                }
            }
        } else if let Err(e) = self.link(i) {
            log::error!("cannot link {name} to umaster: {e}");
        }
    }

    fn spawn_and_configure(&self, kind: &Kind, argv: &[CString]) -> io::Result<(i32, CtlChan)> {
        let (mine, theirs) = sys::seqpacket_pair()?;
        let ctl: CtlChan = Chan::new(mine);
        // A stuck child must not stall pmaster.
        sys::set_send_timeout(ctl.raw(), Duration::from_secs(1))?;
        // The configuration is queued before the child runs: it is the first
        // thing the child reads.
        let first = match kind {
            Kind::Umaster => ToChild::Umaster(UmasterConf {
                common: self.common(self.server_ids, Some(&self.conf.chroot_dir)),
                access_log: self.conf.access_log != LogTarget::Off,
            }),
            Kind::Listener { id, .. } => ToChild::Listener(ListenerConf {
                common: self.common(self.server_ids, Some(&self.conf.chroot_dir)),
                id: *id,
                max_connections: self.conf.max_connections as u32,
                header_buffer: self.conf.header_buffer as u32,
                keepalive_ms: self.conf.keepalive_timeout_ms as u32,
                header_timeout_ms: self.conf.header_timeout_ms as u32,
                send_timeout_ms: self.conf.send_timeout_ms as u32,
                access_log: self.conf.access_log != LogTarget::Off,
            }),
            Kind::Vhost { id, conf: v, ids } => {
                let mut index = HVec::new();
                for name in &v.index {
                    let _ = index.push(hstr(name));
                }
                let root = v.root.to_string_lossy();
                ToChild::Vhost(VhostConf {
                    common: self.common(*ids, if v.chroot { Some(&v.root) } else { None }),
                    id: *id,
                    name: hstr(&v.name),
                    root: hstr(&root),
                    chroot: v.chroot && self.root,
                    index,
                    symlinks: v.follow_symlinks,
                    dotfiles: v.dotfiles,
                    gzip_static: v.gzip_static,
                    listing: v.listing,
                    settings: match &v.settings {
                        // Inside a chroot the file is seen relative to the root.
                        Some(s) if v.chroot && self.root => match s.strip_prefix(&v.root) {
                            Ok(rel) => hstr(&format!("/{}", rel.to_string_lossy())),
                            Err(_) => HString::new(),
                        },
                        Some(s) => hstr(&s.to_string_lossy()),
                        None => HString::new(),
                    },
                })
            }
        };
        ctl.send(&first, None, false)?;
        if let Kind::Listener { pos, .. } = kind {
            self.send_routes(&ctl)?;
            for s in self.sockets.get(*pos).map(Vec::as_slice).unwrap_or(&[]) {
                ctl.send(&ToChild::Listen, Some(s.as_raw_fd()), false)?;
            }
        }
        let pid = sys::spawn(&self.exe, argv, &self.env, &theirs)?;
        Ok((pid, ctl))
    }

    /// A fresh umaster link for child `i`: one end to it, one to umaster.
    fn link(&self, i: usize) -> io::Result<()> {
        let (role, id) = match &self.children[i].kind {
            Kind::Listener { id, .. } => (Role::Listener, *id),
            Kind::Vhost { id, .. } => (Role::Vhost, *id),
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
