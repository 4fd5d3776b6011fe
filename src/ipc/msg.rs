//! Every IPC message, one enum per receiving role and channel. All fields
//! are fixed-capacity (`heapless`), so each message has a maximum encoded
//! size, and the compile-time asserts at the bottom prove it fits a packet.
//!
//! Channels (all `SOCK_SEQPACKET`):
//! - control, pmaster → child (fd 3 of the child): [`ToChild`]
//! - link, listener/vhost → umaster: [`ToUmaster`]; umaster → them: [`FromUmaster`]
//! - data, listener → vhost: [`ToVhost`]; vhost → listener: [`ToListener`]

// Variants differ in size on purpose: messages live on the stack only
// while they are encoded or decoded, and boxing would allocate per request.
#![allow(clippy::large_enum_variant)]

use heapless::{String, Vec};
use postcard::experimental::max_size::MaxSize;
use serde::{Deserialize, Serialize};

use crate::config::Symlinks;
use crate::limits::*;

/// A message type: says which of its variants carry an fd, so a channel can
/// insist that exactly those frames (and no others) come with one.
pub trait Message: Serialize + for<'de> Deserialize<'de> + MaxSize {
    fn carries_fd(&self) -> bool;
}

impl MaxSize for Symlinks {
    const POSTCARD_MAX_SIZE: usize = 1;
}

// ------------------------------------------------------------ pmaster → child

/// What every child needs before it drops privileges.
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct Common {
    pub uid: u32,
    pub gid: u32,
    /// chroot here before dropping (empty: no chroot).
    pub chroot: String<MAX_PATH_BYTES>,
    /// log::LevelFilter as usize (0 off .. 5 trace).
    pub log_level: u8,
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct UmasterConf {
    pub common: Common,
    /// Write access-log records (to the fd from `LogFile`, else stderr).
    pub access_log: bool,
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct ListenerConf {
    pub common: Common,
    pub id: u8,
    pub max_connections: u32,
    pub header_buffer: u32,
    pub keepalive_ms: u32,
    pub header_timeout_ms: u32,
    pub send_timeout_ms: u32,
    pub access_log: bool,
}

/// Host names that route to one vhost (lower-case; `*.x` wildcards).
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct Route {
    pub vhost: u8,
    pub default: bool,
    pub names: Vec<String<MAX_HOST_BYTES>, MAX_NAMES_PER_VHOST>,
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct VhostConf {
    pub common: Common,
    pub id: u8,
    pub name: String<MAX_NAME_BYTES>,
    /// Docroot; with `chroot` the worker chroots here and serves "/".
    pub root: String<MAX_PATH_BYTES>,
    pub chroot: bool,
    pub index: Vec<String<MAX_INDEX_NAME_BYTES>, MAX_INDEX_NAMES>,
    pub symlinks: Symlinks,
    pub dotfiles: bool,
    pub gzip_static: bool,
    pub listing: bool,
    /// The owner settings file as the worker sees it (inside its chroot
    /// when chrooted); empty: none.
    pub settings: String<MAX_PATH_BYTES>,
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub enum ToChild {
    /// First message to umaster.
    Umaster(UmasterConf),
    /// First message to a listener; a route table follows.
    Listener(ListenerConf),
    /// First message to a vhost worker.
    Vhost(VhostConf),
    /// To a listener: a new route table follows (`Route`s, then `RoutesEnd`,
    /// where it replaces the old one at once).
    RoutesBegin,
    Route(Route),
    RoutesEnd,
    /// A listening socket (fd attached).
    Listen,
    /// The child's end of its link to umaster (fd attached).
    Link,
    /// To umaster: the umaster end of a child's link (fd attached).
    ChildLink {
        role: Role,
        id: u8,
    },
    /// To umaster: the access log file (fd attached).
    LogFile,
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Listener,
    Vhost,
}

impl Message for ToChild {
    fn carries_fd(&self) -> bool {
        matches!(
            self,
            ToChild::Listen | ToChild::Link | ToChild::ChildLink { .. } | ToChild::LogFile
        )
    }
}

// ------------------------------------------------------------ links

/// listener → umaster.
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub enum ToUmaster {
    Access(AccessRecord),
}

impl Message for ToUmaster {
    fn carries_fd(&self) -> bool {
        false
    }
}

/// One access-log line's worth of fields, formatted by umaster (CLF).
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct AccessRecord {
    /// IPv4 as a mapped IPv6 address.
    pub peer: [u8; 16],
    pub time: i64,
    pub vhost: u8,
    /// The request line: method, target, version, cut to fit.
    pub request: Vec<u8, LOG_TARGET_BYTES>,
    pub status: u16,
    pub bytes: u64,
    pub referer: Vec<u8, LOG_REFERER_BYTES>,
    pub agent: Vec<u8, LOG_AGENT_BYTES>,
}

/// umaster → listener / vhost: a data channel to a peer (fd attached).
/// To a listener `id` is a vhost id; to a vhost it is a listener id.
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub enum FromUmaster {
    Peer { id: u8 },
}

impl Message for FromUmaster {
    fn carries_fd(&self) -> bool {
        true
    }
}

// ------------------------------------------------------------ data

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    /// Any other known method (POST, PUT, ...): not allowed on static files.
    Other,
}

/// listener → vhost.
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub enum ToVhost {
    Request(Request),
}

impl Message for ToVhost {
    fn carries_fd(&self) -> bool {
        false
    }
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct Request {
    /// Connection slot and its generation: the listener's key for the reply.
    pub slot: u32,
    pub generation: u32,
    pub method: Method,
    /// Decoded, normalised path (starts with '/'). Re-checked by the vhost.
    pub path: Vec<u8, MAX_TARGET_BYTES>,
    /// Raw query (after '?'), kept for redirects.
    pub query: Vec<u8, MAX_TARGET_BYTES>,
    pub if_none_match: Vec<u8, MAX_COND_BYTES>,
    pub if_modified_since: Vec<u8, MAX_COND_BYTES>,
    pub if_range: Vec<u8, MAX_COND_BYTES>,
    pub range: Vec<u8, MAX_COND_BYTES>,
    pub accept_gzip: bool,
    pub authorization: Vec<u8, MAX_AUTH_BYTES>,
}

/// vhost → listener.
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub enum ToListener {
    Response(Response),
}

impl Message for ToListener {
    fn carries_fd(&self) -> bool {
        match self {
            ToListener::Response(r) => matches!(r.body, Body::File { .. }) || r.cache.is_some(),
        }
    }
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct Response {
    pub slot: u32,
    pub generation: u32,
    pub status: u16,
    /// Header lines, each ending in CRLF (Content-Type, ETag, ...). The
    /// listener adds the status line, Date, Server, Content-Length and
    /// Connection.
    pub head: Vec<u8, MAX_VHOST_HEAD_BYTES>,
    /// Content-Length to send (None for 304).
    pub length: Option<u64>,
    pub body: Body,
    /// The worker's settings generation: when it changes, the listener
    /// drops what it cached for this vhost.
    pub settings_gen: u32,
    /// Present when the file may be served from the listener's fd cache
    /// for a short while (the fd is attached even for 304 and HEAD).
    pub cache: Option<CacheInfo>,
}

/// What the listener needs to answer later GET/HEADs of the same path
/// itself: the file's validators and its 200 head.
#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub struct CacheInfo {
    pub size: u64,
    pub mtime: i64,
    pub etag: Vec<u8, { crate::http::cond::ETAG_MAX }>,
    /// The vhost head lines of a 200; its first `validators` bytes are what
    /// a 304 carries.
    pub base: Vec<u8, MAX_VHOST_HEAD_BYTES>,
    pub validators: u16,
}

#[derive(Serialize, Deserialize, MaxSize, Debug, Clone, PartialEq)]
pub enum Body {
    /// No body (HEAD, 304).
    None,
    Inline(Vec<u8, MAX_INLINE_BODY_BYTES>),
    /// `length` bytes of the attached file from `offset`.
    File {
        offset: u64,
    },
}

// ------------------------------------------------------------ proofs

const _: () = assert!(ToChild::POSTCARD_MAX_SIZE <= MAX_PACKET_BYTES);
const _: () = assert!(ToUmaster::POSTCARD_MAX_SIZE <= MAX_PACKET_BYTES);
const _: () = assert!(FromUmaster::POSTCARD_MAX_SIZE <= MAX_PACKET_BYTES);
const _: () = assert!(ToVhost::POSTCARD_MAX_SIZE <= MAX_PACKET_BYTES);
const _: () = assert!(ToListener::POSTCARD_MAX_SIZE <= MAX_PACKET_BYTES);
