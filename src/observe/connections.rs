//! Connection counters of one listening socket (kept in its
//! [`ListenerSlot`](crate::listener::ListenerSlot), so they survive
//! reloads like the socket does).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a connection was closed before any request was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client address is on the block list.
    Blocked,
    /// The listener's `max_connections` was reached.
    MaxConnections,
    /// The address's `max_connections_per_ip` was reached.
    MaxPerIp,
    /// A PROXY header was expected from an untrusted sender.
    UntrustedProxy,
    /// The PROXY header was malformed or did not arrive in time.
    BadProxyHeader,
    /// The TLS handshake failed or timed out.
    TlsHandshake,
}

impl Refusal {
    /// Every reason, in label order.
    pub const ALL: [Refusal; 6] = [
        Refusal::Blocked,
        Refusal::MaxConnections,
        Refusal::MaxPerIp,
        Refusal::UntrustedProxy,
        Refusal::BadProxyHeader,
        Refusal::TlsHandshake,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Blocked => "blocked",
            Refusal::MaxConnections => "max_connections",
            Refusal::MaxPerIp => "max_connections_per_ip",
            Refusal::UntrustedProxy => "untrusted_proxy",
            Refusal::BadProxyHeader => "bad_proxy_header",
            Refusal::TlsHandshake => "tls_handshake",
        }
    }
}

/// Accepted and refused connections of a listening socket.
#[derive(Debug, Default)]
pub struct ConnCounters {
    accepted: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
}

impl ConnCounters {
    /// A connection was admitted.
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed for `why` before any request.
    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections admitted so far.
    pub fn accepted_total(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections refused for `why` so far.
    pub fn refused_total(&self, why: Refusal) -> u64 {
        self.refused[why as usize].load(Ordering::Relaxed)
    }
}
