//! Connections to one target: HTTP/1.1 keep-alive pools, or one
//! multiplexed HTTP/2 connection (`forward_type` GRPC / GRPCS).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::RequestBody;
use crate::tls::UpstreamConnector;

/// Largest response head accepted from a target (DECISIONS: over 32 KiB → 502).
const MAX_RESPONSE_HEAD: usize = 32 * 1024;

/// The smallest read buffer a connection to a target gets: a maximal
/// response head plus 8 KiB (hyper refuses a head that fills the buffer).
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
    /// The HTTP handshake failed.
    #[error("handshake with {addr}: {source}")]
    Handshake {
        /// The target.
        addr: SocketAddr,
        /// hyper's error.
        source: hyper::Error,
    },
}

/// Pool limits, from `[global]`; changeable by a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Idle connections kept.
    pub max_idle: usize,
    /// An idle connection older than this is closed.
    pub idle_timeout: Duration,
}

/// The idle connections to one target.
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
    sender: http1::SendRequest<RequestBody>,
    since: Instant,
}

/// A connection checked out of a pool for one request.
#[derive(Debug)]
pub struct PooledConn {
    sender: Sender,
    pool: Arc<Pool>,
    reused: bool,
}

#[derive(Debug)]
enum Sender {
    H1(http1::SendRequest<RequestBody>),
    H2(http2::SendRequest<RequestBody>),
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

    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed))
    }

    /// An idle connection if one is alive, else a new one whose read
    /// buffer holds at most `read_buffer` bytes (at least [`MIN_READ_BUFFER`]).
    pub async fn checkout(
        self: &Arc<Self>,
        connect_timeout: Duration,
        read_buffer: usize,
    ) -> Result<PooledConn, ConnectError> {
        let reused = if self.h2 {
            self.shared_h2().map(Sender::H2)
        } else {
            self.take_idle().map(Sender::H1)
        };
        if let Some(sender) = reused {
            return Ok(PooledConn {
                sender,
                pool: self.clone(),
                reused: true,
            });
        }
        self.connect(connect_timeout, read_buffer).await
    }

    /// A new connection, never from the pool; its read buffer holds at most
    /// `read_buffer` bytes (at least [`MIN_READ_BUFFER`]).
    pub async fn connect(
        self: &Arc<Self>,
        timeout: Duration,
        read_buffer: usize,
    ) -> Result<PooledConn, ConnectError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ConnectError::Io { addr, source }),
            Err(_) => return Err(ConnectError::Timeout { addr, timeout }),
        };
        let _ = stream.set_nodelay(true);
        let sender = match &self.tls {
            None => self.handshake(TokioIo::new(stream), read_buffer).await?,
            Some(tls) => {
                let stream = tokio::time::timeout(timeout, tls.connect(stream, addr))
                    .await
                    .map_err(|_| ConnectError::Timeout { addr, timeout })?
                    .map_err(|source| ConnectError::Tls { addr, source })?;
                self.handshake(TokioIo::new(stream), read_buffer).await?
            }
        };
        if let Sender::H2(h2) = &sender {
            *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(h2.clone());
        }
        Ok(PooledConn {
            sender,
            pool: self.clone(),
            reused: false,
        })
    }

    /// HTTP/1.1 or HTTP/2 on an established stream; the connection runs on
    /// its own task.
    async fn handshake<T>(&self, io: T, read_buffer: usize) -> Result<Sender, ConnectError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        if self.h2 {
            h2_handshake(io, self.addr).await.map(Sender::H2)
        } else {
            h1_handshake(io, self.addr, read_buffer)
                .await
                .map(Sender::H1)
        }
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

    fn take_idle(&self) -> Option<http1::SendRequest<RequestBody>> {
        let timeout = self.idle_timeout();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(entry) = idle.pop() {
            if entry.since.elapsed() < timeout && !entry.sender.is_closed() {
                return Some(entry.sender);
            }
        }
        None
    }

    fn put_back(&self, sender: http1::SendRequest<RequestBody>) {
        if sender.is_closed() {
            return;
        }
        let max = self.max_idle.load(Ordering::Relaxed);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < max {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Closes idle connections past the idle timeout or already closed.
    pub fn reap(&self) {
        let timeout = self.idle_timeout();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|e| e.since.elapsed() < timeout && !e.sender.is_closed());
    }

    /// Idle connections now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |i| i.len())
    }
}

/// HTTP/1.1 on an established stream; the connection runs on its own task.
async fn h1_handshake<T>(
    io: T,
    addr: SocketAddr,
    read_buffer: usize,
) -> Result<http1::SendRequest<RequestBody>, ConnectError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .max_header_size(MAX_RESPONSE_HEAD)
        .max_buf_size(read_buffer.max(MIN_READ_BUFFER))
        .handshake(io)
        .await
        .map_err(|source| ConnectError::Handshake { addr, source })?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(%addr, error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}

/// HTTP/2 on an established stream; the connection runs on its own task.
async fn h2_handshake<T>(
    io: T,
    addr: SocketAddr,
) -> Result<http2::SendRequest<RequestBody>, ConnectError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_header_list_size(MAX_RESPONSE_HEAD as u32)
        .handshake(io)
        .await
        .map_err(|source| ConnectError::Handshake { addr, source })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(%addr, error = %e, "upstream HTTP/2 connection ended");
        }
    });
    Ok(sender)
}

impl PooledConn {
    /// Whether this connection had served a request before.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Sends a request. On failure, the request comes back when it was not
    /// written at all (the connection was already closed).
    pub async fn send(
        &mut self,
        req: hyper::Request<RequestBody>,
    ) -> Result<
        hyper::Response<hyper::body::Incoming>,
        (hyper::Error, Option<hyper::Request<RequestBody>>),
    > {
        let sent = match &mut self.sender {
            Sender::H1(s) => {
                if let Err(e) = s.ready().await {
                    return Err((e, Some(req)));
                }
                s.try_send_request(req).await
            }
            Sender::H2(s) => {
                if let Err(e) = s.ready().await {
                    return Err((e, Some(req)));
                }
                s.try_send_request(req).await
            }
        };
        sent.map_err(|mut e| {
            let req = e.take_message();
            (e.into_error(), req)
        })
    }

    /// Whether requests on this connection are HTTP/2.
    pub fn is_h2(&self) -> bool {
        matches!(self.sender, Sender::H2(_))
    }

    /// Returns the connection to its pool (after the response was read to
    /// the end). An HTTP/2 connection stays shared anyway.
    pub fn release(self) {
        if let Sender::H1(s) = self.sender {
            self.pool.put_back(s);
        }
    }
}
