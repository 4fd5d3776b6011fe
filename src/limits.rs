//! Every size, count and timeout of rttpd, one named constant each, with why.
//!
//! Sizes that travel in IPC messages are type parameters of `heapless` types,
//! so the maximum size of every message is known at compile time
//! (see `ipc::msg`, which asserts each one fits `MAX_PACKET_BYTES`).

/// One IPC packet (SOCK_SEQPACKET). Big enough for the largest message (a
/// request to a worker, ~5.7 KB with every field full; `ipc::msg` proves
/// each fits), small enough that the few packet buffers on a role's stack
/// stay cheap: every page of stack a loop touches stays resident.
pub const MAX_PACKET_BYTES: usize = 8 * 1024;

/// Longest request target (path + query) we forward to a vhost worker.
/// Longer targets get 414. nginx's default large header buffer is 8 KiB;
/// router UIs never come close to 2 KiB.
pub const MAX_TARGET_BYTES: usize = 2048;

/// Longest Host header value (RFC 1035 names are at most 253 bytes, plus ":port").
pub const MAX_HOST_BYTES: usize = 260;

/// Conditional and range header values forwarded to the vhost worker.
/// Longer values are treated as absent (ETags we issue are ~20 bytes).
pub const MAX_COND_BYTES: usize = 256;

/// Authorization header forwarded to the vhost worker (basic auth).
pub const MAX_AUTH_BYTES: usize = 512;

/// Response header lines built by the vhost worker (Content-Type, ETag, ...).
pub const MAX_VHOST_HEAD_BYTES: usize = 1024;

/// Inline response bodies: the built-in error pages (`http::page`, under
/// 300 bytes). Everything bigger (owner error pages, listings, files) goes
/// as an fd. It sizes every connection's output buffer, so it stays small.
pub const MAX_INLINE_BODY_BYTES: usize = 512;

/// Output buffer of one connection: status line + our headers + the vhost's
/// header lines + an inline body, written with one `writev`.
pub const OUT_BUF_BYTES: usize = 512 + MAX_VHOST_HEAD_BYTES + MAX_INLINE_BODY_BYTES;

/// Header lines httparse may return for one request; more gets 431.
pub const MAX_HEADERS: usize = 64;

/// Virtual hosts per configuration.
pub const MAX_VHOSTS: usize = 32;

/// Names per vhost (its name plus aliases).
pub const MAX_NAMES_PER_VHOST: usize = 8;

/// Index file names per vhost.
pub const MAX_INDEX_NAMES: usize = 4;

/// Length of one index file name.
pub const MAX_INDEX_NAME_BYTES: usize = 64;

/// A filesystem path in configuration (docroot, chroot dir).
pub const MAX_PATH_BYTES: usize = 256;

/// A vhost or account name.
pub const MAX_NAME_BYTES: usize = 64;

/// Listening addresses.
pub const MAX_LISTEN: usize = 8;

/// Listener processes.
pub const MAX_LISTENERS: usize = 16;

/// Access-log fields that come from the client are cut to these lengths.
pub const LOG_TARGET_BYTES: usize = 512;
pub const LOG_REFERER_BYTES: usize = 256;
pub const LOG_AGENT_BYTES: usize = 256;

/// Defaults of the configurable limits.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
pub const DEFAULT_HEADER_BUFFER: usize = 8192;
/// Smallest header buffer that still holds a typical browser request.
pub const MIN_HEADER_BUFFER: usize = 1024;
/// Largest header buffer: bounds per-connection memory.
pub const MAX_HEADER_BUFFER: usize = 64 * 1024;
pub const MAX_MAX_CONNECTIONS: usize = 65_536;

/// Idle time allowed between keep-alive requests (nginx: 75 s, lighttpd: 5 s).
pub const DEFAULT_KEEPALIVE_MS: u64 = 5_000;
/// Time allowed for a whole request head to arrive: cuts slowloris clients.
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
/// Time a response may make no progress before the connection is dropped.
pub const DEFAULT_SEND_TIMEOUT_MS: u64 = 30_000;
/// Time a request may wait for its vhost worker before 504.
pub const VHOST_REPLY_TIMEOUT_MS: u64 = 10_000;
/// Graceful stop: in-flight responses get this long, then children are killed.
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;

/// A request body on a static path (GET with a body, POST to a file) is read
/// and discarded up to this many bytes; beyond, the connection is closed.
pub const MAX_DISCARD_BODY_BYTES: u64 = 1024 * 1024;

/// Respawn backoff for a crashed child: first delay, doubled up to the max.
pub const RESPAWN_MIN_MS: u64 = 100;
pub const RESPAWN_MAX_MS: u64 = 30_000;
/// A child that lived this long is considered healthy: its backoff resets.
pub const RESPAWN_HEALTHY_MS: u64 = 10_000;

/// File descriptors kept free beyond the connections of a listener
/// (listening sockets, vhost channels, passed file fds in flight).
pub const FD_RESERVE: usize = 64;

/// Events fetched per poll wake-up.
pub const POLL_EVENTS: usize = 256;

/// sendfile chunk per call: bounds the time one connection holds the loop.
pub const SENDFILE_CHUNK_BYTES: usize = 256 * 1024;

/// Directory listings: entries read (more are counted, not shown) and the
/// size of the rendered page (longer pages are cut with a note).
pub const MAX_LISTING_ENTRIES: usize = 1000;
pub const MAX_LISTING_BYTES: usize = 128 * 1024;

/// The listener's fd cache: entries (each holds one open file and its
/// ~1.3 KiB of head and path), the longest cached path, and how long an
/// entry answers without asking the worker again (a changed file is seen
/// within this time).
pub const CACHE_ENTRIES: usize = 32;
pub const CACHE_PATH_BYTES: usize = 256;
pub const CACHE_VALID_MS: u64 = 1_000;
