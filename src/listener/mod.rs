//! Listening sockets and their accept loops.
//!
//! A bound listener owns a [`ListenerSlot`]: the listener's current compiled
//! configuration, swapped by a reload without touching the socket. Every
//! request reads the slot, so a reload applies to the next request on an
//! existing connection too.

pub mod conn;
mod io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::runtime::snapshot::ListenerRuntime;

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 4096;

/// A bound listener's current configuration.
#[derive(Debug)]
pub struct ListenerSlot {
    /// Swapped by reloads.
    pub runtime: ArcSwap<ListenerRuntime>,
    /// Connections open now.
    pub connections: AtomicUsize,
}

impl ListenerSlot {
    /// A slot holding `runtime`.
    pub fn new(runtime: Arc<ListenerRuntime>) -> Arc<ListenerSlot> {
        Arc::new(ListenerSlot {
            runtime: ArcSwap::new(runtime),
            connections: AtomicUsize::new(0),
        })
    }
}

/// Binds a listening socket the way a proxy needs: address reuse (so a
/// restarted or upgraded stgw can bind at once), port reuse (so a new binary
/// can bind beside the old one), IPv6 sockets IPv6-only.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Accepts connections until `stop` turns true; each connection is served
/// on its own task and drained when `drain` turns true.
pub async fn accept_loop(
    listener: TcpListener,
    slot: Arc<ListenerSlot>,
    mut stop: watch::Receiver<bool>,
    drain: watch::Receiver<bool>,
) {
    let local = listener.local_addr().ok();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS…: back off instead of spinning.
                tracing::error!(listener = ?local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| local.unwrap_or(peer));
        let slot = slot.clone();
        let drain = drain.clone();
        slot.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _open = OpenConnection(slot.clone());
            let runtime = slot.runtime.load_full();
            let Some(tls) = &runtime.tls else {
                conn::serve(
                    stream,
                    peer,
                    local,
                    conn::Protocol::Sniff,
                    None,
                    slot,
                    drain,
                )
                .await;
                return;
            };
            // nginx bounds the handshake by client_header_timeout too.
            let handshake = tls.accept(stream, |sni| {
                runtime
                    .routes
                    .domain_exact(sni)
                    .and_then(|d| d.tls_identity)
            });
            match tokio::time::timeout(runtime.custom.client_header_timeout, handshake).await {
                Ok(Ok((stream, info))) => {
                    let protocol = conn::Protocol::Negotiated(info.h2);
                    conn::serve(
                        stream,
                        peer,
                        local,
                        protocol,
                        Some(info),
                        slot.clone(),
                        drain,
                    )
                    .await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Counts a connection in its listener's slot while alive.
struct OpenConnection(Arc<ListenerSlot>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
