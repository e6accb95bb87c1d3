//! Listening sockets and their accept loops.
//!
//! A bound listener owns a [`ListenerSlot`]: the listener's current compiled
//! configuration, swapped by a reload without touching the socket. Every
//! request reads the slot, so a reload applies to the next request on an
//! existing connection too.

pub(crate) mod admission;
pub(crate) mod conn;
pub mod h1;
pub mod head_scan;
mod io;
mod proxy_protocol;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::observe::Refusal;
use crate::runtime::snapshot::ListenerRuntime;

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 4096;

/// How long the kernel keeps a connection whose client has not sent its
/// first bytes before handing it over anyway (TCP_DEFER_ACCEPT, Linux;
/// rounded up to the next SYN-ACK retransmission, about a second).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT_SECS: libc::c_int = 1;

/// A bound listener's current configuration.
#[derive(Debug)]
pub struct ListenerSlot {
    /// Swapped by reloads.
    pub runtime: ArcSwap<ListenerRuntime>,
    /// Connections open now.
    pub connections: AtomicUsize,
    /// Connections open now per client address.
    pub per_ip: Arc<admission::PerIp>,
    /// Connections admitted and refused (metrics).
    pub counters: crate::observe::ConnCounters,
}

impl ListenerSlot {
    /// A slot holding `runtime`.
    pub fn new(runtime: Arc<ListenerRuntime>) -> Arc<ListenerSlot> {
        Arc::new(ListenerSlot {
            runtime: ArcSwap::new(runtime),
            connections: AtomicUsize::new(0),
            per_ip: Arc::default(),
            counters: Default::default(),
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
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    let listener = socket.into();
    inherit_options(&listener)?;
    TcpListener::from_std(listener)
}

/// The local address of every connection a listener bound to `listener`
/// accepts, when that is known without asking the socket: the listener's
/// own, unless it is a wildcard (0.0.0.0 or ::), whose connections each
/// have the address they came in on.
fn connection_local(listener: SocketAddr) -> Option<SocketAddr> {
    (!listener.ip().is_unspecified()).then_some(listener)
}

/// Sets on a listening socket, new ([`bind`]) or taken over from another
/// process, what the sockets it accepts inherit from it: TCP_NODELAY.
pub fn inherit_options(listener: &std::net::TcpListener) -> std::io::Result<()> {
    socket2::SockRef::from(listener).set_tcp_nodelay(true)
}

/// Defers accepting on `listener` (Linux; elsewhere nothing) unless its
/// `rules` act at accept: a connection is then handed over with its first
/// bytes (the request, the TLS ClientHello), so that its first read finds
/// them instead of costing a read that finds nothing and a wait for the
/// poller. Every protocol stgw serves has the client speak first; a client
/// silent for about a second is handed over anyway, and its header timeout
/// starts then. A listener that refuses or counts connections at accept
/// takes them at once, so that a silent connection is counted (and a
/// refused one closed) as it arrives.
pub fn defer_accept(listener: &TcpListener, rules: &admission::Admission) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let secs = if rules.acts_at_accept() {
            0
        } else {
            DEFER_ACCEPT_SECS
        };
        set_defer_accept(listener, secs)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (listener, rules);
        Ok(())
    }
}

/// TCP_DEFER_ACCEPT on `listener`, `secs` (0: off). Not in socket2.
#[cfg(target_os = "linux")]
fn set_defer_accept(listener: &TcpListener, secs: libc::c_int) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket descriptor, and an option value that lives for
    // the call with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            std::ptr::from_ref(&secs).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// How an accept loop meets a failed accept (out of descriptors, socket
/// buffers or memory: EMFILE, ENFILE, ENOBUFS…): it waits 50 ms instead of
/// spinning, and logs once a second with the number of failures since.
#[derive(Debug)]
pub(crate) struct AcceptFailures(Throttled);

impl AcceptFailures {
    /// No failure yet.
    pub(crate) fn new() -> AcceptFailures {
        AcceptFailures(Throttled::new(Duration::from_secs(1)))
    }

    /// Accepting on `listener` failed with `e`: logs (or counts) it and
    /// waits before the next try.
    pub(crate) async fn back_off(&mut self, listener: Option<SocketAddr>, e: &std::io::Error) {
        if let Some(failures) = self.0.tick(std::time::Instant::now()) {
            tracing::error!(?listener, error = %e, failures, "accept failed");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A repeated event reported at most once per `every`: how many times it
/// happened since the last report.
#[derive(Debug)]
struct Throttled {
    every: Duration,
    last: Option<std::time::Instant>,
    unreported: u32,
}

impl Throttled {
    fn new(every: Duration) -> Throttled {
        Throttled {
            every,
            last: None,
            unreported: 0,
        }
    }

    /// The event happened at `now`: `Some(count)` when it is to be
    /// reported (the first time, then once per `every`), the count
    /// including this one.
    fn tick(&mut self, now: std::time::Instant) -> Option<u32> {
        self.unreported = self.unreported.saturating_add(1);
        if self
            .last
            .is_some_and(|at| now.duration_since(at) < self.every)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Accepts connections until `stop` turns true (the listener was removed);
/// each connection is served on its own task, and drained when `drain`
/// (the process's) turns true or when the listener stops: a removed
/// listener's keep-alive connections do not go on serving its old rules.
pub async fn accept_loop(
    listener: Arc<TcpListener>,
    slot: Arc<ListenerSlot>,
    mut stop: watch::Receiver<bool>,
    mut drain: watch::Receiver<bool>,
) {
    let local = listener.local_addr().ok();
    let specific = local.and_then(connection_local);
    let (drain_connections, connections_drain) = watch::channel(false);
    let mut accept_failures = AcceptFailures::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => {
                drain_connections.send_replace(true);
                return;
            }
            _ = drain.wait_for(|d| *d), if !*drain_connections.borrow() => {
                drain_connections.send_replace(true);
                continue;
            }
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                accept_failures.back_off(local, &e).await;
                continue;
            }
        };
        let runtime = slot.runtime.load_full();
        let rules = &runtime.admission;
        // Refuse fast: nothing is read from a refused connection.
        if rules.is_blocked(peer.ip()) {
            tracing::debug!(%peer, "refused: blocked address");
            slot.counters.refused(Refusal::Blocked);
            continue;
        }
        let open = slot.connections.load(Ordering::Relaxed);
        if rules.max_connections > 0 && open >= rules.max_connections as usize {
            tracing::debug!(%peer, open, "refused: max_connections");
            slot.counters.refused(Refusal::MaxConnections);
            continue;
        }
        let Some(per_ip) = slot.per_ip.admit(peer.ip(), rules.max_per_ip) else {
            tracing::debug!(%peer, "refused: max_connections_per_ip");
            slot.counters.refused(Refusal::MaxPerIp);
            continue;
        };
        if rules.proxy_protocol && !rules.is_trusted(peer.ip()) {
            tracing::debug!(%peer, "refused: PROXY protocol from an untrusted address");
            slot.counters.refused(Refusal::UntrustedProxy);
            continue;
        }
        slot.counters.accepted();
        // Linux: accepted sockets inherit TCP_NODELAY from the listening
        // socket (`bind`, `inherit_options`), so no system call here.
        #[cfg(not(target_os = "linux"))]
        let _ = stream.set_nodelay(true);
        let local = match specific {
            Some(addr) => addr,
            None => stream
                .local_addr()
                .unwrap_or_else(|_| local.unwrap_or(peer)),
        };
        let slot = slot.clone();
        let drain = connections_drain.clone();
        slot.connections.fetch_add(1, Ordering::Relaxed);
        let serving = async move {
            let _open = OpenConnection {
                slot: slot.clone(),
                _per_ip: per_ip,
            };
            serve_accepted(stream, peer, local, runtime, slot, drain).await;
        };
        tokio::spawn(serving);
    }
}

/// After admission: the PROXY header (if expected), the TLS handshake (on
/// HTTPS listeners), then HTTP.
async fn serve_accepted(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    runtime: Arc<crate::runtime::snapshot::ListenerRuntime>,
    slot: Arc<ListenerSlot>,
    drain: watch::Receiver<bool>,
) {
    let header_timeout = runtime.custom.client_header_timeout;
    let mut remote = peer;
    if runtime.admission.proxy_protocol {
        let header = Box::pin(proxy_protocol::read_header(&mut stream));
        match tokio::time::timeout(header_timeout, header).await {
            Ok(Ok(Some(client))) => remote = client,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "closing: bad PROXY header");
                slot.counters.refused(Refusal::BadProxyHeader);
                return;
            }
            Err(_) => {
                slot.counters.refused(Refusal::BadProxyHeader);
                return;
            }
        }
        if runtime.admission.is_blocked(remote.ip()) {
            tracing::debug!(%peer, client = %remote, "refused: blocked address");
            slot.counters.refused(Refusal::Blocked);
            return;
        }
    }
    let peers = conn::Peers {
        tcp: peer,
        client: remote,
        local,
    };
    let Some(tls) = &runtime.tls else {
        // Boxed, like the handshake below: the spawned task then stays small
        // (moving a large future into its task costs a copy per move).
        Box::pin(conn::serve(
            stream,
            peers,
            conn::Protocol::Sniff,
            None,
            slot,
            drain,
        ))
        .await;
        return;
    };
    // nginx bounds the handshake by client_header_timeout too.
    let handshake = Box::pin(tls.accept(stream, |sni| {
        runtime
            .routes
            .domain_exact(sni)
            .and_then(|d| d.tls_identity)
    }));
    // The handshake's result is taken apart before serving: a match on it
    // around the serving `.await` would keep the whole result (the TLS
    // stream inline) in this task's future, copied at every spawn.
    let (stream, info) = match tokio::time::timeout(header_timeout, handshake).await {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            slot.counters.refused(Refusal::TlsHandshake);
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            slot.counters.refused(Refusal::TlsHandshake);
            return;
        }
    };
    let protocol = conn::Protocol::Negotiated(info.h2);
    Box::pin(conn::serve(
        stream,
        peers,
        protocol,
        Some(info),
        slot,
        drain,
    ))
    .await;
}

/// Counts a connection in its listener's slot (and per address) while alive.
struct OpenConnection {
    slot: Arc<ListenerSlot>,
    _per_ip: admission::PerIpSlot,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.slot.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_error_is_reported_once_a_second_with_its_count() {
        let start = std::time::Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut errors = Throttled::new(Duration::from_secs(1));
        assert_eq!(errors.tick(ms(0)), Some(1));
        // Every 50 ms for a second: quiet until the second is over.
        for n in 1..20 {
            assert_eq!(errors.tick(ms(n * 50)), None);
        }
        assert_eq!(errors.tick(ms(1000)), Some(20));
        assert_eq!(errors.tick(ms(1500)), None);
        assert_eq!(errors.tick(ms(5000)), Some(2));
    }

    #[test]
    fn a_specific_listener_address_is_every_connections_local_address() {
        let specific: SocketAddr = "127.0.0.2:8080".parse().unwrap();
        assert_eq!(connection_local(specific), Some(specific));
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(connection_local(v6), Some(v6));
        // A wildcard listener's connections each have their own.
        assert_eq!(connection_local("0.0.0.0:80".parse().unwrap()), None);
        assert_eq!(connection_local("[::]:80".parse().unwrap()), None);
    }

    /// A listener on a free loopback port, deferring as one without rules
    /// does.
    fn deferring_listener() -> TcpListener {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        defer_accept(&listener, &admission::Admission::default()).unwrap();
        listener
    }

    /// Whether `listener` hands over a connection whose client is silent
    /// within 300 ms.
    async fn takes_a_silent_client(listener: &TcpListener) -> bool {
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_millis(300), listener.accept())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn accepted_connections_have_tcp_nodelay_from_the_listener() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[tokio::test]
    async fn a_taken_over_listener_gets_tcp_nodelay_too() {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        inherit_options(&std_listener).unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn without_rules_at_accept_a_connection_comes_with_its_first_bytes() {
        use std::io::Read;
        use tokio::io::AsyncWriteExt;
        let listener = deferring_listener();
        let addr = listener.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let early = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(early.is_err(), "handed over before the client spoke");
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        // A plain non-blocking read, no poller: the bytes are already there.
        let mut accepted = accepted.into_std().unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(accepted.read(&mut buf).unwrap(), 16);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_silent_client_is_handed_over_after_the_deferral() {
        let listener = deferring_listener();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
        assert!(accepted.is_ok(), "a silent connection must not be lost");
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_listener_that_counts_or_refuses_connections_takes_silent_ones_at_once() {
        // Rules that act at accept, set after the listener deferred.
        let listener = deferring_listener();
        let capped = admission::Admission {
            max_connections: 10,
            ..Default::default()
        };
        defer_accept(&listener, &capped).unwrap();
        assert!(takes_a_silent_client(&listener).await);
        let blocking = admission::Admission {
            blocked: vec![crate::config::IpNet::parse("127.9.0.0/16").unwrap()],
            ..Default::default()
        };
        defer_accept(&listener, &blocking).unwrap();
        assert!(takes_a_silent_client(&listener).await);
        #[cfg(target_os = "linux")]
        {
            defer_accept(&listener, &admission::Admission::default()).unwrap();
            assert!(!takes_a_silent_client(&listener).await);
        }
    }
}
