//! HTTP/1.1 keep-alive pools.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::RequestBody;
use crate::tls::UpstreamConnector;

/// Largest response head accepted from a target (DECISIONS: over 32 KiB → 502).
const MAX_RESPONSE_HEAD: usize = 32 * 1024;

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
    sender: http1::SendRequest<RequestBody>,
    pool: Arc<Pool>,
    reused: bool,
}

impl Pool {
    /// An empty pool for `addr`, speaking TLS through `tls` when given.
    pub fn new(addr: SocketAddr, tls: Option<UpstreamConnector>, settings: PoolSettings) -> Pool {
        let pool = Pool {
            addr,
            tls,
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

    /// An idle connection if one is alive, else a new one.
    pub async fn checkout(
        self: &Arc<Self>,
        connect_timeout: Duration,
    ) -> Result<PooledConn, ConnectError> {
        if let Some(sender) = self.take_idle() {
            return Ok(PooledConn {
                sender,
                pool: self.clone(),
                reused: true,
            });
        }
        self.connect(connect_timeout).await
    }

    /// A new connection, never from the pool.
    pub async fn connect(self: &Arc<Self>, timeout: Duration) -> Result<PooledConn, ConnectError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ConnectError::Io { addr, source }),
            Err(_) => return Err(ConnectError::Timeout { addr, timeout }),
        };
        let _ = stream.set_nodelay(true);
        let sender = match &self.tls {
            None => handshake(TokioIo::new(stream), addr).await?,
            Some(tls) => {
                let stream = tokio::time::timeout(timeout, tls.connect(stream, addr))
                    .await
                    .map_err(|_| ConnectError::Timeout { addr, timeout })?
                    .map_err(|source| ConnectError::Tls { addr, source })?;
                handshake(TokioIo::new(stream), addr).await?
            }
        };
        Ok(PooledConn {
            sender,
            pool: self.clone(),
            reused: false,
        })
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
async fn handshake<T>(
    io: T,
    addr: SocketAddr,
) -> Result<http1::SendRequest<RequestBody>, ConnectError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .max_header_size(MAX_RESPONSE_HEAD)
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
        if let Err(e) = self.sender.ready().await {
            return Err((e, Some(req)));
        }
        self.sender.try_send_request(req).await.map_err(|mut e| {
            let req = e.take_message();
            (e.into_error(), req)
        })
    }

    /// Returns the connection to its pool (after the response was read to
    /// the end).
    pub fn release(self) {
        self.pool.put_back(self.sender);
    }
}
