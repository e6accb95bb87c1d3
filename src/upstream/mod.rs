//! Connections to targets: keep-alive pools per target, request bodies.
//!
//! A [`Pool`] belongs to one target identity (address and transport) and is
//! shared by every rule that forwards there, across configuration swaps.
//! Checking a connection out prefers the most recently used idle one and
//! dials a new one otherwise; a response body hands its connection back
//! when it has been read to the end.

mod body;
mod pool;
mod progress;

pub use body::{BodyError, BufferedBody, RequestBody, StreamBody};
pub use pool::{ConnectError, MIN_READ_BUFFER, Pool, PoolSettings, PooledConn};
pub use progress::{Phase, SendProgress};
pub mod tunnel;
