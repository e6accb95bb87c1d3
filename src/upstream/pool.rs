//! Connections to one target: HTTP/1.1 keep-alive pools (stgw's own
//! client, [`super::h1`]), or one multiplexed HTTP/2 connection
//! (`forward_type` GRPC / GRPCS, hyper's client).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::RequestBody;
use super::h1::{H1Conn, UpstreamIo};
use crate::tls::UpstreamConnector;

/// Largest response head accepted from a target (DECISIONS: over 32 KiB → 502).
const MAX_RESPONSE_HEAD: usize = 32 * 1024;

/// The smallest read buffer a connection to a target gets: a maximal
/// response head plus 8 KiB.
pub const MIN_READ_BUFFER: usize = MAX_RESPONSE_HEAD + 8 * 1024;

/// Why a new connection to a target failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The target refused or reset the connection, or is unreachable.
    #[error("connect to {addr}: {source}")]
    Io {
        /// The target.
        addr: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// `proxy_connect_timeout` passed.
    #[error("connect to {addr}: timed out after {timeout:?}")]
    Timeout {
        /// The target.
        addr: SocketAddr,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr}: {source}")]
    Tls {
        /// The target.
        addr: SocketAddr,
        /// The error.
        source: io::Error,
    },
    /// The HTTP/2 handshake failed.
    #[error("handshake with {addr}: {source}")]
    Handshake {
        /// The target.
        addr: SocketAddr,
        /// hyper's error.
        source: hyper::Error,
    },
}

impl ConnectError {
    /// Whether stgw itself ran out of a resource (open files, socket
    /// buffers, memory) before it could reach the target: not the
    /// target's failure, and another target would fail the same way.
    pub fn is_local(&self) -> bool {
        match self {
            ConnectError::Io { source, .. } => is_local_exhaustion(source),
            _ => false,
        }
    }
}

/// Whether `e` is a socket error of this host's limits, not the peer's.
fn is_local_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Pool limits, from `[global]`; changeable by a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Idle connections kept.
    pub max_idle: usize,
    /// An idle connection older than this is closed.
    pub idle_timeout: Duration,
}

/// The connections to one target.
#[derive(Debug)]
pub struct Pool {
    addr: SocketAddr,
    tls: Option<UpstreamConnector>,
    /// Speak HTTP/2 (one connection, many streams) instead of HTTP/1.1.
    h2: bool,
    shared: Mutex<Option<http2::SendRequest<RequestBody>>>,
    idle: Mutex<Vec<Idle>>,
    max_idle: AtomicUsize,
    idle_timeout_ms: AtomicU64,
}

#[derive(Debug)]
struct Idle {
    conn: H1Conn,
    since: Instant,
}

/// A connection checked out of a pool for one request.
#[derive(Debug)]
pub enum PooledConn {
    /// An HTTP/1.1 connection, owned by the request until its answer ends.
    H1 {
        /// The connection.
        conn: H1Conn,
        /// Whether it served a request before.
        reused: bool,
    },
    /// A handle on the shared HTTP/2 connection.
    H2 {
        /// The handle.
        sender: http2::SendRequest<RequestBody>,
        /// Whether the connection existed before.
        reused: bool,
    },
}

impl PooledConn {
    /// Whether the connection had been used before (a stale one may have
    /// been closed by the target meanwhile).
    pub fn reused(&self) -> bool {
        match self {
            PooledConn::H1 { reused, .. } | PooledConn::H2 { reused, .. } => *reused,
        }
    }
}

impl Pool {
    /// An empty pool for `addr`, speaking TLS through `tls` when given, and
    /// HTTP/2 when `h2` (else HTTP/1.1).
    pub fn new(
        addr: SocketAddr,
        tls: Option<UpstreamConnector>,
        h2: bool,
        settings: PoolSettings,
    ) -> Pool {
        let pool = Pool {
            addr,
            tls,
            h2,
            shared: Mutex::new(None),
            idle: Mutex::new(Vec::new()),
            max_idle: AtomicUsize::new(0),
            idle_timeout_ms: AtomicU64::new(0),
        };
        pool.configure(settings);
        pool
    }

    /// Applies new limits (a reload).
    pub fn configure(&self, settings: PoolSettings) {
        self.max_idle.store(settings.max_idle, Ordering::Relaxed);
        self.idle_timeout_ms
            .store(settings.idle_timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// The target address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the target speaks TLS (HTTPS, GRPCS).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether the target speaks HTTP/2 (GRPC, GRPCS).
    pub fn is_h2(&self) -> bool {
        self.h2
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed))
    }

    /// An idle connection if one is alive (and, at `now`, idle for less
    /// than the idle timeout), else a new one whose reads run at most
    /// `read_buffer` bytes ahead of the client (at least
    /// [`MIN_READ_BUFFER`]).
    pub async fn checkout(
        self: &Arc<Self>,
        connect_timeout: Duration,
        read_buffer: usize,
        now: Instant,
    ) -> Result<PooledConn, ConnectError> {
        if self.h2 {
            if let Some(sender) = self.shared_h2() {
                return Ok(PooledConn::H2 {
                    sender,
                    reused: true,
                });
            }
        } else if let Some(conn) = self.take_idle(now) {
            return Ok(PooledConn::H1 { conn, reused: true });
        }
        // Boxed: the connect path (TCP, TLS, h2 handshake) is large and
        // rare; inline it would grow every request's future.
        Box::pin(self.connect(connect_timeout, read_buffer)).await
    }

    /// A new connection to the target over the pool's transport (TLS
    /// with the rule's settings when it speaks TLS), not yet speaking
    /// HTTP: what a request and a health probe both start from. `timeout`
    /// bounds the TCP connect and the TLS handshake each.
    pub async fn open(&self, timeout: Duration) -> Result<UpstreamIo, ConnectError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ConnectError::Io { addr, source }),
            Err(_) => return Err(ConnectError::Timeout { addr, timeout }),
        };
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => Ok(UpstreamIo::Plain(stream)),
            Some(tls) => {
                let stream = tokio::time::timeout(timeout, tls.connect(stream, addr))
                    .await
                    .map_err(|_| ConnectError::Timeout { addr, timeout })?
                    .map_err(|source| ConnectError::Tls { addr, source })?;
                Ok(UpstreamIo::Tls(Box::new(stream)))
            }
        }
    }

    /// A new connection, never from the pool.
    pub async fn connect(
        self: &Arc<Self>,
        timeout: Duration,
        read_buffer: usize,
    ) -> Result<PooledConn, ConnectError> {
        let addr = self.addr;
        let io = self.open(timeout).await?;
        if !self.h2 {
            let conn = H1Conn::new(io, read_buffer.max(MIN_READ_BUFFER));
            return Ok(PooledConn::H1 {
                conn,
                reused: false,
            });
        }
        let sender = h2_handshake(io, addr).await?;
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender.clone());
        Ok(PooledConn::H2 {
            sender,
            reused: false,
        })
    }

    /// The shared HTTP/2 connection, if it is still open.
    fn shared_h2(&self) -> Option<http2::SendRequest<RequestBody>> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match shared.as_ref() {
            Some(s) if !s.is_closed() => Some(s.clone()),
            _ => {
                *shared = None;
                None
            }
        }
    }

    /// The most recently used idle connection that still looks usable at
    /// `now`.
    fn take_idle(&self, now: Instant) -> Option<H1Conn> {
        let timeout = self.idle_timeout();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(entry) = idle.pop() {
            let fresh = now.saturating_duration_since(entry.since) < timeout;
            if fresh && entry.conn.looks_alive() {
                return Some(entry.conn);
            }
        }
        None
    }

    /// Keeps a connection whose answer was read to its end, if there is room.
    pub(super) fn put_back_h1(&self, conn: H1Conn) {
        let max = self.max_idle.load(Ordering::Relaxed);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < max {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// Closes idle connections past the idle timeout or closed by the target.
    pub fn reap(&self) {
        let timeout = self.idle_timeout();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|e| e.since.elapsed() < timeout && e.conn.looks_alive());
    }

    /// Idle connections now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |i| i.len())
    }
}

/// HTTP/2 on an established stream; the connection runs on its own task.
async fn h2_handshake(
    io: UpstreamIo,
    addr: SocketAddr,
) -> Result<http2::SendRequest<RequestBody>, ConnectError> {
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_header_list_size(MAX_RESPONSE_HEAD as u32)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|source| ConnectError::Handshake { addr, source })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(%addr, error = %e, "upstream HTTP/2 connection ended");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(errno: i32) -> ConnectError {
        ConnectError::Io {
            addr: SocketAddr::from(([127, 0, 0, 1], 80)),
            source: io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn running_out_of_descriptors_or_buffers_is_local() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(io_error(errno).is_local(), "errno {errno}");
        }
    }

    #[test]
    fn a_refused_or_unreachable_target_is_not_local() {
        for errno in [libc::ECONNREFUSED, libc::ECONNRESET, libc::EHOSTUNREACH] {
            assert!(!io_error(errno).is_local(), "errno {errno}");
        }
        let timeout = ConnectError::Timeout {
            addr: SocketAddr::from(([127, 0, 0, 1], 80)),
            timeout: Duration::from_secs(4),
        };
        assert!(!timeout.is_local());
    }
}
