//! Connections to targets: keep-alive pools per target, request bodies,
//! the HTTP/1.1 client, tunnels.
//!
//! A [`Pool`] belongs to one target identity (address and transport) and is
//! shared by every rule that forwards there, across configuration swaps.
//! Checking a connection out prefers the most recently used idle one and
//! dials a new one otherwise; an HTTP/1.1 answer's body hands its
//! connection back when it has been read to the end.

mod body;
pub mod h1;
mod incoming;
mod pool;
mod progress;
mod response;
pub(crate) mod tunnel;

pub use body::{BodyError, BoxError, BufferedBody, RequestBody, StreamBody};
pub use incoming::IncomingBody;
pub use pool::{ConnectError, MIN_READ_BUFFER, Pool, PoolSettings, PooledConn};
pub use progress::{Phase, SendProgress};
pub use response::UpstreamBody;
