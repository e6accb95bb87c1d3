//! HTTP/1.1 to targets, driven by the request's own task.
//!
//! A connection is a socket and a read buffer: sending a request writes its
//! head (and a buffered body) with as few writes as possible, then reads
//! the answer's head from the same task — no connection task, no channels,
//! no per-request header map copy. The answer's body is read by
//! [`H1Body`], which hands the connection back to its pool at the end.
//!
//! Framing follows RFC 9112 §6: `Transfer-Encoding` ending in `chunked`
//! wins over `Content-Length`; differing or malformed `Content-Length` is
//! an invalid answer; without either the body runs until the target closes
//! (and the connection is not reused).

mod answer;
mod body;
mod conn;
mod io;
mod request;

#[cfg(test)]
mod tests;

pub use answer::{AnswerHead, PROXYS_OWN, TargetReason, parse_answer_head};
pub(crate) use answer::{decimal, list_items};
pub use body::H1Body;
pub use conn::{ExchangeError, H1Conn};
pub use io::{Upgraded, UpstreamIo};
pub use request::encode_head;
pub(crate) use request::{push_decimal, push_hex};

/// Largest answer head accepted (DECISIONS: over 32 KiB → 502).
pub const MAX_HEAD: usize = 32 * 1024;
/// Header fields an answer head is parsed into without allocating.
const INLINE_FIELDS: usize = 128;
/// Most header fields accepted in an answer head: nginx bounds a head by
/// its bytes alone (`proxy_buffer_size`), and an application may set many
/// cookies. A head with more than [`INLINE_FIELDS`] is parsed again into
/// slots on the heap.
const MAX_FIELDS: usize = 2048;
/// Read buffer granularity.
const READ_CHUNK: usize = 8 * 1024;
