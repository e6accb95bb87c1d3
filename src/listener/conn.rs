//! One client connection: protocol selection, the HTTP server (stgw's own
//! HTTP/1.1 server, handing over to hyper for what it leaves, or hyper's
//! HTTP/2), and the timeouts that hyper does not keep (nginx's
//! `client_header_timeout`, `keepalive_timeout`, `send_timeout`).
//!
//! The connection's [`ConnState`] is stamped by the socket wrapper (reads,
//! blocked writes) and by the request pipeline (request start and end). One
//! timer per connection wakes at the earliest deadline those stamps imply
//! and closes the connection when it has really passed.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::ext::ReasonPhrase;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;

use super::ListenerSlot;
use super::h1::Outcome;
use super::io::ClientIo;
use crate::proxy::{self, ClientBody};
use crate::tls::TlsInfo;
use crate::upstream::IncomingBody;
use crate::upstream::h1::TargetReason;

/// hyper's read buffer limit: an 8 KiB request line plus 32 KiB of headers.
const MAX_HEAD: usize = 40 * 1024;

/// Most fields in an HTTP/1.1 head that hyper takes (its default is 100).
/// nginx limits a head by its bytes alone (the 32 KiB above), and some
/// clients send more than 100 fields; hyper then allocates this many slots
/// per request (32 KiB), on its path only.
const MAX_FIELDS: usize = 1024;

/// Timestamps and counters of one connection, shared by its socket wrapper,
/// its requests and its timer. Times are milliseconds since the connection
/// started, plus one (0 = unset).
#[derive(Debug)]
pub struct ConnState {
    epoch: Instant,
    h2: AtomicBool,
    in_flight: AtomicU32,
    served: AtomicU32,
    first_byte: AtomicU64,
    idle_since: AtomicU64,
    write_blocked: AtomicU64,
    /// HTTP/2: answers that yielded a data frame and wait for the client
    /// to make room (flow-control window) before they are asked for more.
    answers_waiting: AtomicU32,
    /// HTTP/2: when an answer on this connection last moved (ms stamp).
    answers_moved: AtomicU64,
    linger: AtomicBool,
    refused_with: std::sync::atomic::AtomicU16,
    body_unread: AtomicBool,
    scan_off: AtomicBool,
    /// The connection was asked to close after the request in progress
    /// (a drain; stgw's own HTTP/1.1 server looks at it).
    close_asked: AtomicBool,
    /// An answer given without a request for it (access log): hyper's own
    /// 400/431 for a head it could not parse, or 408 for a head that did
    /// not arrive in time.
    unanswered: std::sync::atomic::AtomicU16,
    /// The stamp the connection's timer is armed for (0 while it is being
    /// armed). A stamp that implies an earlier deadline wakes the timer;
    /// later ones are found when it fires, so a request costs no wake-up.
    armed: AtomicU64,
    /// The timeouts the timer was last armed with, in ms.
    header_ms: AtomicU64,
    keepalive_ms: AtomicU64,
    send_ms: AtomicU64,
    /// Wakes the connection's timer (see `armed`).
    wake: tokio::sync::Notify,
}

impl ConnState {
    pub(super) fn new() -> ConnState {
        ConnState {
            epoch: Instant::now(),
            h2: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            served: AtomicU32::new(0),
            first_byte: AtomicU64::new(0),
            idle_since: AtomicU64::new(1),
            write_blocked: AtomicU64::new(0),
            answers_waiting: AtomicU32::new(0),
            answers_moved: AtomicU64::new(0),
            linger: AtomicBool::new(false),
            refused_with: std::sync::atomic::AtomicU16::new(0),
            body_unread: AtomicBool::new(false),
            scan_off: AtomicBool::new(false),
            close_asked: AtomicBool::new(false),
            unanswered: std::sync::atomic::AtomicU16::new(0),
            armed: AtomicU64::new(0),
            header_ms: AtomicU64::new(0),
            keepalive_ms: AtomicU64::new(0),
            send_ms: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        stamp(self.epoch.elapsed())
    }

    /// Bytes arrived: while idle, they start the next request's header clock.
    pub(super) fn on_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.first_byte.load(Ordering::Relaxed) == 0
        {
            let now = self.now();
            self.first_byte.store(now, Ordering::Relaxed);
            if !self.is_h2() {
                self.wake_before(now + self.header_ms.load(Ordering::Relaxed));
            }
        }
    }

    /// Wakes the timer if `deadline` comes before the one it is armed for.
    fn wake_before(&self, deadline: u64) {
        // Pairs with the fence in `arm`: either the timer sees our stamp,
        // or we see the stamp it was armed for (or 0, and wake it).
        std::sync::atomic::fence(Ordering::SeqCst);
        if deadline < self.armed.load(Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    /// A request ended at `now` (a stamp): the connection is idle since
    /// then if no other request is in flight.
    fn request_ended(&self, now: u64) {
        if self.body_unread.swap(false, Ordering::Relaxed) {
            self.scan_off.store(true, Ordering::Relaxed);
        }
        self.idle_since.store(now, Ordering::Relaxed);
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.wake_before(now + self.keepalive_ms.load(Ordering::Relaxed));
        }
    }

    /// Computes the next deadline with `t` and records it as the one the
    /// timer is armed for.
    fn arm(&self, t: &Timeouts) -> (u64, Expiry) {
        let ms = |d: Duration| d.as_millis() as u64;
        self.header_ms.store(ms(t.header), Ordering::Relaxed);
        self.keepalive_ms.store(ms(t.keepalive), Ordering::Relaxed);
        self.send_ms.store(ms(t.send), Ordering::Relaxed);
        self.armed.store(0, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        let (stamp, expiry) = self.deadline(t);
        self.armed.store(stamp, Ordering::Relaxed);
        (stamp, expiry)
    }

    /// A write was attempted: `blocked` starts the send clock, progress stops it.
    pub(super) fn on_write(&self, blocked: bool) {
        if !blocked {
            if self.write_blocked.load(Ordering::Relaxed) != 0 {
                self.write_blocked.store(0, Ordering::Relaxed);
            }
        } else if self.write_blocked.load(Ordering::Relaxed) == 0 {
            let now = self.now();
            self.write_blocked.store(now, Ordering::Relaxed);
            self.wake_before(now + self.send_ms.load(Ordering::Relaxed));
        }
    }

    /// HTTP/2: an answer yielded a data frame; until it is asked for the
    /// next one it waits for the client (its window). While any answer
    /// waits and none moves, `send_timeout` runs.
    fn answer_waits(&self) {
        let now = self.now();
        self.answers_moved.store(now, Ordering::Relaxed);
        if self.answers_waiting.fetch_add(1, Ordering::Relaxed) == 0 {
            self.wake_before(now + self.send_ms.load(Ordering::Relaxed));
        }
    }

    /// HTTP/2: an answer that waited was asked for more (or dropped).
    fn answer_resumed(&self) {
        self.answers_waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Asks the connection to close after the request in progress.
    fn ask_close(&self) {
        self.close_asked.store(true, Ordering::Relaxed);
    }

    /// Whether the connection was asked to close after the request in
    /// progress.
    pub(super) fn close_asked(&self) -> bool {
        self.close_asked.load(Ordering::Relaxed)
    }

    /// Whether closing should linger (an early answer was sent).
    pub(super) fn lingers(&self) -> bool {
        self.linger.load(Ordering::Relaxed)
    }

    /// Whether the next bytes read start a request head (idle, nothing
    /// of the next request seen yet).
    pub(super) fn head_expected(&self) -> bool {
        !self.scan_off.load(Ordering::Relaxed)
            && self.in_flight.load(Ordering::Relaxed) == 0
            && self.first_byte.load(Ordering::Relaxed) == 0
    }

    /// The connection becomes a tunnel (an upgrade was answered): what the
    /// client sends from now on is the tunnel's, never a request head, so
    /// the head scan stops for good.
    pub fn tunnel(&self) {
        self.scan_off.store(true, Ordering::Relaxed);
    }

    /// The current request has a body that has not been read to its end
    /// yet. If it ends so, the bytes after it are not a known head
    /// boundary, and head scanning stops for this connection.
    pub fn body_pending(&self, pending: bool) {
        self.body_unread.store(pending, Ordering::Relaxed);
    }

    /// The head scan refused a request with `status` (stgw answered it).
    pub(super) fn refused(&self, status: u16) {
        self.refused_with.store(status, Ordering::Relaxed);
    }

    /// The status stgw answered a refused request head with, if any.
    pub fn refused_with(&self) -> Option<u16> {
        match self.refused_with.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// The status of an answer the connection gave without a parsed
    /// request: a head the head scan refused, hyper's own 400/431, or a
    /// header timeout (408, nothing sent).
    pub fn unanswered(&self) -> Option<u16> {
        self.refused_with()
            .or(match self.unanswered.load(Ordering::Relaxed) {
                0 => None,
                s => Some(s),
            })
    }

    /// When the next request's first byte arrived (call before
    /// [`start_request`](Self::start_request)); now when unknown (HTTP/2,
    /// pipelined requests).
    pub fn head_started(&self) -> std::time::Instant {
        match self.first_byte.load(Ordering::Relaxed) {
            // HTTP/2: reads stamp frames of any stream (or none).
            _ if self.is_h2() => std::time::Instant::now(),
            0 => std::time::Instant::now(),
            stamp => (self.epoch + Duration::from_millis(stamp - 1)).into_std(),
        }
    }

    /// Requests started on this connection so far.
    pub fn requests_started(&self) -> u32 {
        self.served.load(Ordering::Relaxed)
    }

    /// Asks for a lingering close after the current answer.
    pub fn set_linger(&self) {
        self.linger.store(true, Ordering::Relaxed);
    }

    /// A request's head has been read: returns its number on this
    /// connection (1 for the first) and counts it until the guard drops.
    pub fn start_request(self: &Arc<Self>) -> (u32, RequestGuard) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.first_byte.store(0, Ordering::Relaxed);
        let n = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        (n, RequestGuard(Some(self.clone())))
    }

    /// Whether the connection speaks HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.h2.load(Ordering::Relaxed)
    }

    /// The next deadline (ms stamp) and what expires then.
    fn deadline(&self, t: &Timeouts) -> (u64, Expiry) {
        let ms = |d: Duration| d.as_millis() as u64;
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        if blocked != 0 {
            return (blocked + ms(t.send), Expiry::Send);
        }
        let h2 = self.is_h2();
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            if h2 && self.answers_waiting.load(Ordering::Relaxed) > 0 {
                // HTTP/2 stalls in flow control, not in the socket: an
                // answer waiting for the client's window counts as a
                // blocked write (nginx's send_timeout does the same).
                let moved = self.answers_moved.load(Ordering::Relaxed);
                return (moved + ms(t.send), Expiry::Send);
            }
            // Busy: nothing can expire before a write blocks; look again later.
            return (self.now() + ms(t.send), Expiry::Recheck);
        }
        let first = self.first_byte.load(Ordering::Relaxed);
        if first != 0 && !h2 {
            return (first + ms(t.header), Expiry::Header);
        }
        let idle = self.idle_since.load(Ordering::Relaxed);
        if self.served.load(Ordering::Relaxed) == 0 && !h2 {
            return (idle + ms(t.header), Expiry::Header);
        }
        let idle_until = idle + ms(t.keepalive);
        if h2 {
            // Armed no later than a send timeout from now: an answer that
            // starts waiting for the client's window then needs no wake
            // (it would cost one per request), and a stall is still seen
            // within `send_timeout` of its start.
            let recheck = self.now() + ms(t.send);
            if recheck < idle_until {
                return (recheck, Expiry::Recheck);
            }
        }
        (idle_until, Expiry::Idle)
    }
}

/// The ms stamp of a time `since_epoch` after the connection's epoch:
/// milliseconds plus one (0 means unset).
fn stamp(since_epoch: Duration) -> u64 {
    since_epoch.as_millis() as u64 + 1
}

/// Ends a request's count on its connection when dropped (after its
/// response body was sent), or by [`end_at`](Self::end_at).
#[derive(Debug)]
pub struct RequestGuard(Option<Arc<ConnState>>);

impl RequestGuard {
    /// HTTP/2: the request's answer yielded a data frame and now waits
    /// for the client to take it; returns whether it is counted (call
    /// [`answer_resumed`](Self::answer_resumed) once it is asked for more).
    pub fn answer_waits(&self) -> bool {
        match &self.0 {
            Some(s) if s.is_h2() => {
                s.answer_waits();
                true
            }
            _ => false,
        }
    }

    /// The answer counted by [`answer_waits`](Self::answer_waits) moves again.
    pub fn answer_resumed(&self) {
        if let Some(s) = &self.0 {
            s.answer_resumed();
        }
    }

    /// Ends the request as of `at` (a time already read: now).
    pub fn end_at(mut self, at: std::time::Instant) {
        if let Some(s) = self.0.take() {
            s.request_ended(stamp(at.saturating_duration_since(s.epoch.into_std())));
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.request_ended(s.now());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Send,
    Header,
    Idle,
    Recheck,
}

struct Timeouts {
    header: Duration,
    keepalive: Duration,
    send: Duration,
}

/// The addresses of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peers {
    /// The TCP peer.
    pub tcp: SocketAddr,
    /// The client: the PROXY header's source, else the TCP peer.
    pub client: SocketAddr,
    /// The local address it connected to.
    pub local: SocketAddr,
}

/// What a request handler knows about its connection.
#[derive(Debug)]
pub struct ClientConn {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The client as the connection tells it (PROXY header source, else the
    /// TCP peer).
    pub remote: SocketAddr,
    /// The local address it connected to.
    pub local: SocketAddr,
    /// `remote`'s address as a header value (rendered once).
    pub remote_ip: http::HeaderValue,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// What the TLS handshake established (HTTPS listeners).
    pub tls: Option<TlsInfo>,
    /// The listener's current configuration.
    pub slot: Arc<ListenerSlot>,
    /// Timestamps and counters.
    pub state: Arc<ConnState>,
}

/// How the connection's protocol is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Cleartext: HTTP/2 if the client starts with the h2c preface.
    Sniff,
    /// TLS: as ALPN negotiated (`true` = h2).
    Negotiated(bool),
}

/// Serves one accepted connection until it closes, times out, or is drained.
pub(crate) async fn serve<T>(
    io: T,
    peers: Peers,
    protocol: Protocol,
    tls: Option<TlsInfo>,
    slot: Arc<ListenerSlot>,
    mut drain: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState::new());
    let keep_alive = !slot.runtime.load().custom.keepalive_timeout.is_zero();
    let conn = Arc::new(ClientConn {
        peer: peers.tcp,
        remote: peers.client,
        local: peers.local,
        remote_ip: proxy::headers::ip_header_value(peers.client.ip()),
        scheme: if tls.is_some() { "https" } else { "http" },
        tls,
        slot: slot.clone(),
        state: state.clone(),
    });
    let io = ClientIo::new(io, state.clone());
    let client = conn.clone();
    let (h1, sniff) = match protocol {
        Protocol::Negotiated(h2) => (!h2, false),
        Protocol::Sniff => (true, true),
    };
    if h1 {
        let own = pin!(super::h1::serve(io, conn.clone(), keep_alive, sniff));
        let outcome = drive(own, |_| state.ask_close(), &state, &slot, &mut drain).await;
        let (io, rest, server) = match outcome {
            Some(Outcome::Handover(io, rest)) => (io, rest, HyperServer::H1 { keep_alive }),
            Some(Outcome::H2(io, preface)) => (io, preface, HyperServer::H2),
            Some(Outcome::Closed) | None => return note_unanswered(&client),
        };
        if let HyperServer::H2 = server {
            state.h2.store(true, Ordering::Relaxed);
        }
        let io = io.replayed(rest);
        serve_with_hyper(io, conn, server, &state, &slot, &mut drain).await;
    } else {
        state.h2.store(true, Ordering::Relaxed);
        serve_with_hyper(io, conn, HyperServer::H2, &state, &slot, &mut drain).await;
    }
    note_unanswered(&client);
}

/// Logs the answer a closing connection gave without a parsed request.
fn note_unanswered(conn: &ClientConn) {
    if let Some(status) = conn.state.unanswered() {
        crate::observe::exchange::unanswered(conn, status, 0);
    }
}

/// Which of hyper's servers serves (the rest of) a connection.
#[derive(Debug, Clone, Copy)]
enum HyperServer {
    /// HTTP/2.
    H2,
    /// HTTP/1.1, for what stgw's own server leaves to it (bodies,
    /// upgrades, malformed heads).
    H1 { keep_alive: bool },
}

/// Serves a connection with hyper until it closes, times out or drains.
async fn serve_with_hyper<T>(
    io: ClientIo<T>,
    conn: Arc<ClientConn>,
    server: HyperServer,
    state: &ConnState,
    slot: &ListenerSlot,
    drain: &mut watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    // The connections are boxed: inline they would grow every connection's
    // future, stgw's own HTTP/1.1 connections included.
    let served = match server {
        HyperServer::H2 => {
            // Each request's future is boxed: hyper spawns a task per
            // stream, and a task copies its future when it starts and again
            // when it ends (kilobytes per request, and a larger task).
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let (parts, body) = req.into_parts();
                Box::pin(proxy::handle(
                    conn.clone(),
                    parts,
                    Some(ClientBody::Incoming(IncomingBody::http2(body))),
                ))
            });
            let mut builder = http2::Builder::new(TokioExecutor::new());
            builder
                .timer(TokioTimer::new())
                .max_concurrent_streams(128)
                .enable_connect_protocol()
                .max_pending_accept_reset_streams(Some(20))
                .max_local_error_reset_streams(Some(256))
                .max_header_list_size(MAX_HEAD as u32)
                .initial_stream_window_size(1 << 20)
                .initial_connection_window_size(2 << 20);
            let mut conn = Box::pin(builder.serve_connection(io, service));
            drive(conn.as_mut(), |c| c.graceful_shutdown(), state, slot, drain).await
        }
        HyperServer::H1 { keep_alive } => {
            // hyper keeps the request's future in its connection.
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let (parts, body) = req.into_parts();
                let body = ClientBody::Incoming(IncomingBody::http1(body));
                let answer = proxy::handle(conn.clone(), parts, Some(body));
                async move { answer.await.map(with_target_reason) }
            });
            let mut builder = http1::Builder::new();
            builder
                .max_buf_size(MAX_HEAD)
                .max_headers(MAX_FIELDS)
                .keep_alive(keep_alive)
                // As stgw's own server writes them (`h1::head::encode`).
                .title_case_headers(true)
                .header_read_timeout(None);
            let mut conn = Box::pin(builder.serve_connection(io, service).with_upgrades());
            drive(conn.as_mut(), |c| c.graceful_shutdown(), state, slot, drain).await
        }
    };
    note_hyper_error(served, state);
}

/// Hands a target's own reason phrase ([`TargetReason`]) to hyper's
/// HTTP/1.1 server, which writes it in the status line.
fn with_target_reason<B>(mut answer: hyper::Response<B>) -> hyper::Response<B> {
    let phrase = TargetReason::for_status(answer.extensions(), answer.status())
        .and_then(|p| ReasonPhrase::try_from(p).ok());
    if let Some(phrase) = phrase {
        answer.extensions_mut().insert(phrase);
    }
    answer
}

/// Records the answer hyper gave to a head it could not parse (it closed
/// the connection after it).
fn note_hyper_error(served: Option<Result<(), hyper::Error>>, state: &ConnState) {
    if let Some(Err(e)) = served {
        tracing::debug!(error = %e, "client connection ended with an error");
        if e.is_parse() || e.is_parse_too_large() {
            let answered = if e.is_parse_too_large() { 431 } else { 400 };
            state.unanswered.store(answered, Ordering::Relaxed);
        }
    }
}

/// Polls the connection, enforcing the timeouts and the drain signal:
/// its output, or `None` when it was closed for them. The connection is
/// pinned by the caller (moving a connection's future is a copy).
async fn drive<C>(
    mut conn: std::pin::Pin<&mut C>,
    graceful: impl Fn(std::pin::Pin<&mut C>),
    state: &ConnState,
    slot: &ListenerSlot,
    drain: &mut watch::Receiver<bool>,
) -> Option<C::Output>
where
    C: Future,
{
    // Set once the connection has been asked to finish (GOAWAY, or
    // keep-alive off for the request in progress).
    let mut closing = false;
    // Draining an idle HTTP/1.1 connection: until when a request that may
    // already be on its way is waited for.
    let mut waiting: Option<Instant> = None;
    let at = |stamp: u64| state.epoch + Duration::from_millis(stamp.saturating_sub(1));
    let mut timer = pin!(tokio::time::sleep_until(at(state.arm(&timeouts(slot)).0)));
    if *drain.borrow() {
        waiting = start_drain(conn.as_mut(), &graceful, state, &mut closing);
    }
    // Made once: a fresh one per loop turn would register with the watch
    // each time.
    let mut drained = pin!(drain.changed());
    // Likewise: a `Notified` registers as a waiter when first polled, and
    // one made per turn would register and unregister on every poll.
    let mut woken = pin!(state.wake.notified());
    loop {
        if waiting.is_some() {
            // Poll the drain wait briefly: it ends within a second.
            timer.as_mut().reset(Instant::now() + DRAIN_POLL);
        }
        tokio::select! {
            biased;
            output = conn.as_mut() => return Some(output),
            _ = drained.as_mut(), if !closing && waiting.is_none() => {
                waiting = start_drain(conn.as_mut(), &graceful, state, &mut closing);
            }
            () = woken.as_mut(), if !closing && waiting.is_none() => {
                woken.set(state.wake.notified());
                timer.as_mut().reset(at(state.arm(&timeouts(slot)).0));
            }
            () = timer.as_mut() => {
                if let Some(until) = waiting {
                    if state.in_flight.load(Ordering::Relaxed) > 0 {
                        // The request arrived: answer it, then close.
                        graceful(conn.as_mut());
                        closing = true;
                        waiting = None;
                    } else if Instant::now() >= until && state.first_byte.load(Ordering::Relaxed) == 0 {
                        return None;
                    }
                    continue;
                }
                let (deadline, expiry) = state.arm(&timeouts(slot));
                if expiry == Expiry::Recheck || state.now() < deadline {
                    timer.as_mut().reset(at(deadline));
                    continue;
                }
                match expiry {
                    Expiry::Idle if state.is_h2() && !closing => {
                        // GOAWAY, then let the connection finish by itself.
                        graceful(conn.as_mut());
                        closing = true;
                        timer.as_mut().reset(Instant::now() + super::io::LINGER);
                    }
                    _ => {
                        tracing::debug!(?expiry, "closing client connection: timed out");
                        if expiry == Expiry::Header && state.first_byte.load(Ordering::Relaxed) != 0 {
                            // A head began but did not end in time: nginx logs 408.
                            state.unanswered.store(408, Ordering::Relaxed);
                        }
                        return None;
                    }
                }
            }
        }
    }
}

/// How long a draining, idle HTTP/1.1 connection waits for a request that
/// may already be in flight (closing at once would fail it).
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// How often the drain wait looks at the connection.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// The drain signal: HTTP/2 and busy HTTP/1.1 connections are asked to
/// finish now (GOAWAY / no keep-alive after the current request); an idle
/// HTTP/1.1 connection first waits [`DRAIN_GRACE`] for a request already on
/// its way. Returns until when to wait.
fn start_drain<C>(
    conn: std::pin::Pin<&mut C>,
    graceful: &impl Fn(std::pin::Pin<&mut C>),
    state: &ConnState,
    closing: &mut bool,
) -> Option<Instant> {
    if state.is_h2() || state.in_flight.load(Ordering::Relaxed) > 0 {
        graceful(conn);
        *closing = true;
        return None;
    }
    Some(Instant::now() + DRAIN_GRACE)
}

fn timeouts(slot: &ListenerSlot) -> Timeouts {
    let rt = slot.runtime.load();
    Timeouts {
        header: rt.custom.client_header_timeout,
        keepalive: rt.custom.keepalive_timeout,
        send: rt.custom.send_timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the connection's timer was woken (a permit is waiting).
    fn woken(state: &ConnState) -> bool {
        let notified = pin!(state.wake.notified());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        notified.poll(&mut cx).is_ready()
    }

    #[test]
    fn an_http2_answer_waiting_for_the_clients_window_is_timed_without_a_wake() {
        let state = Arc::new(ConnState::new());
        state.h2.store(true, Ordering::Relaxed);
        let t = Timeouts {
            header: Duration::from_secs(60),
            keepalive: Duration::from_secs(65),
            send: Duration::from_secs(60),
        };
        // Idle: looked at again within a send timeout, before keep-alive ends.
        let (first, expiry) = state.arm(&t);
        assert_eq!(expiry, Expiry::Recheck);
        let (_, guard) = state.start_request();
        assert!(guard.answer_waits());
        // The timer is armed early enough already: no wake per answer.
        assert!(!woken(&state));
        // When it looks again, the waiting answer sets the send deadline.
        let (deadline, expiry) = state.arm(&t);
        assert_eq!(expiry, Expiry::Send);
        assert!(first <= deadline && deadline <= state.now() + 60_000);
        guard.answer_resumed();
        assert_eq!(state.arm(&t).1, Expiry::Recheck);
    }
}
