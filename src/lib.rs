//! rttpd: a small, static, privilege-separated HTTP/1.1 server.
//!
//! The module tree mirrors the process diagram (see DESIGN in README.md):
//! `role::{pmaster, umaster, listener, vhost}` are the four processes,
//! `http` and `config` are pure (sans-I/O), `ipc` holds every message,
//! and `sys` holds every `unsafe` block and raw syscall.
#![deny(unsafe_code)]

pub mod config;
pub mod http;
pub mod ipc;
pub mod limits;
pub mod role;
pub mod sys;
