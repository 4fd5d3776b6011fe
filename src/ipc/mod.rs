//! Inter-process communication: every message (`msg`) and the typed
//! SOCK_SEQPACKET channel that carries them with their fds (`chan`).

pub mod chan;
pub mod msg;
