//! Sans-I/O HTTP/1.1 (RFC 9110, RFC 9112): no fds, no clock, no `std::net`.
//! Everything here takes bytes (and `now` where time matters) and returns
//! decisions, so it is tested with tables and byte-split transcripts.

pub mod basic;
pub mod cond;
pub mod date;
pub mod file;
pub mod listing;
pub mod mime;
pub mod page;
pub mod range;
pub mod request;
pub mod status;
pub mod target;
pub mod writer;
