//! Configuration: text → `Config`, pure (no I/O but what the caller hands in),
//! with `file:line: what is wrong` errors. Also the command line.

pub mod cli;
mod parse;
pub mod settings;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use parse::parse;

/// A system account given by name or by number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Account {
    Name(String),
    Id(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Off,
    Stderr,
    File(PathBuf),
}

/// Which symbolic links a vhost worker follows inside its root
/// (links out of the root are never followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Symlinks {
    /// Never follow a symbolic link.
    No,
    /// Follow a link only when the link and its target have the same owner
    /// (Apache's SymLinksIfOwnerMatch).
    Owner,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the config came from ("-" or "command line" for -p/-h).
    pub file: String,
    /// `listen =` (repeatable); default 0.0.0.0:80.
    pub listen: Vec<SocketAddr>,
    /// `user =`: account of umaster and listeners (default "nobody").
    pub user: Account,
    /// `group =`: default the user's primary group.
    pub group: Option<Account>,
    /// `listeners =`: default number of online CPUs (0 here means "auto").
    pub listeners: usize,
    pub max_connections: usize,
    pub header_buffer: usize,
    pub keepalive_timeout_ms: u64,
    pub header_timeout_ms: u64,
    pub send_timeout_ms: u64,
    pub access_log: LogTarget,
    pub log_level: log::LevelFilter,
    /// `chroot_dir =`: the empty directory umaster and listeners chroot into.
    pub chroot_dir: PathBuf,
    pub vhosts: Vec<VhostConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhostConfig {
    /// Line of the `[vhost NAME]` header, for later messages.
    pub line: usize,
    pub name: String,
    /// Lower-case host names that route here: the section name (when it is
    /// a host name) and every `alias =`.
    pub aliases: Vec<String>,
    pub root: PathBuf,
    /// Default: the global `user`.
    pub user: Option<Account>,
    pub group: Option<Account>,
    /// `index =` (space separated); default "index.html index.htm".
    pub index: Vec<String>,
    /// `default = yes`: catches unknown Hosts. Else the first vhost does.
    pub default: bool,
    /// `chroot = yes`: the worker chroots into its root.
    pub chroot: bool,
    pub follow_symlinks: Symlinks,
    /// `dotfiles = yes` serves names starting with '.'; default no.
    pub dotfiles: bool,
    /// `gzip_static = yes|no`, default yes: FILE.gz for clients that accept gzip.
    pub gzip_static: bool,
    /// `listing = yes`: HTML listing of directories without an index file
    /// (the owner's settings file may override it).
    pub listing: bool,
    /// `settings = PATH`: the owner-editable settings file, read by the
    /// worker as the vhost's own user.
    pub settings: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.msg)
    }
}

impl Config {
    /// The defaults of every global key, with no vhost.
    pub fn defaults(file: &str) -> Config {
        Config {
            file: file.to_string(),
            listen: Vec::new(),
            user: Account::Name("nobody".into()),
            group: None,
            listeners: 0,
            max_connections: crate::limits::DEFAULT_MAX_CONNECTIONS,
            header_buffer: crate::limits::DEFAULT_HEADER_BUFFER,
            keepalive_timeout_ms: crate::limits::DEFAULT_KEEPALIVE_MS,
            header_timeout_ms: crate::limits::DEFAULT_HEADER_TIMEOUT_MS,
            send_timeout_ms: crate::limits::DEFAULT_SEND_TIMEOUT_MS,
            access_log: LogTarget::Stderr,
            log_level: log::LevelFilter::Info,
            chroot_dir: PathBuf::from("/var/empty"),
            vhosts: Vec::new(),
        }
    }
}

impl VhostConfig {
    pub fn new(name: &str, line: usize, root: PathBuf) -> VhostConfig {
        VhostConfig {
            line,
            name: name.to_string(),
            aliases: Vec::new(),
            root,
            user: None,
            group: None,
            index: vec!["index.html".into(), "index.htm".into()],
            default: false,
            chroot: false,
            follow_symlinks: Symlinks::Owner,
            dotfiles: false,
            gzip_static: true,
            listing: false,
            settings: None,
        }
    }
}
