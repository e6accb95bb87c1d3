//! Following one request from its head to the end of its answer.
//!
//! [`RequestTrace`] is created when a request's head has been read. The
//! pipeline tells it where the request was routed and which targets were
//! tried ([`RouteTrace`], borrowed mutably down the call chain: no lock,
//! no allocation). When the answer's head is ready the trace becomes a
//! [`Finish`], which rides in the response body; when the body is dropped
//! (sent, or abandoned) the finish counts the request in the metrics and
//! hands the access-log record to the writer. A trace dropped before that
//! (the client went away first) is logged as nginx's 499.
//!
//! Per request this costs a few atomic adds and, only when the access log
//! is on, one allocation (the boxed record, freed by the writer thread).
//! Header values are kept by reference count, never copied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::header::{HOST, REFERER, UPGRADE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Response};

use super::ListenerObserve;
use super::metrics::{RouteStats, Source, TargetStats};
use super::record::{ProtocolType, Record, RequestLine, TlsFacts, Tries, Try};
use crate::listener::conn::ClientConn;
use crate::runtime::snapshot::{DomainRuntime, ListenerRuntime, RuleRuntime, UpstreamTarget};

/// nginx's status for a request whose client closed the connection
/// before the answer.
pub(crate) const CLIENT_CLOSED: u16 = 499;

/// Where a request went and which targets were tried; filled in by the
/// pipeline.
#[derive(Debug, Default)]
pub(crate) struct RouteTrace {
    stats: Option<Arc<RouteStats>>,
    server_name: Option<Arc<str>>,
    location_id: Option<Arc<str>>,
    tries: Tries,
    /// The target of the attempt in progress.
    current: Option<Arc<TargetStats>>,
    /// The target whose answer is passed to the client.
    target: Option<Arc<TargetStats>>,
    try_started: Option<Instant>,
    body: BodyLen,
}

/// How much of the request body was read.
#[derive(Debug, Default, Clone)]
enum BodyLen {
    /// Not read by stgw (no target: redirects, 404…): its Content-Length
    /// is taken at its word.
    #[default]
    Unknown,
    /// Read completely before it was sent.
    Read(u64),
    /// Streamed to the target: the data bytes read so far, counted as
    /// they are read (the stream may go on after the answer's head).
    Streamed(Arc<AtomicU64>),
}

impl RouteTrace {
    /// The host selected `domain`, but no rule of it matched.
    pub(crate) fn domain(&mut self, domain: &DomainRuntime) {
        self.stats = Some(domain.stats.clone());
        self.server_name = Some(domain.name.clone());
    }

    /// The request matched `rule` of `domain`.
    pub(crate) fn rule(&mut self, domain: &DomainRuntime, rule: &RuleRuntime) {
        self.stats = Some(rule.stats.clone());
        self.server_name = Some(domain.name.clone());
        self.location_id = Some(rule.id.clone());
    }

    /// The name of the domain that took the request, once one did.
    pub(crate) fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The request body was read completely: `len` bytes.
    pub(crate) fn body_read(&mut self, len: u64) {
        self.body = BodyLen::Read(len);
    }

    /// The request body streams to the target; `read` counts its data
    /// bytes read from the client so far.
    pub(crate) fn body_streamed(&mut self, read: Arc<AtomicU64>) {
        self.body = BodyLen::Streamed(read);
    }

    /// An attempt at `target` starts (before getting a connection); returns
    /// when (now).
    pub(crate) fn try_start(&mut self, target: &UpstreamTarget) -> Instant {
        self.tries.push(Try {
            addr: target.addr,
            status: 0,
            connect: None,
            header: None,
            response: None,
        });
        self.current = Some(target.stats.clone());
        let now = Instant::now();
        self.try_started = Some(now);
        now
    }

    /// The attempt has its connection: a pooled one (`reused`) took no
    /// time to connect, as nginx counts it.
    pub(crate) fn connected(&mut self, reused: bool) {
        let took = if reused {
            Duration::ZERO
        } else {
            self.try_elapsed()
        };
        if let Some(t) = self.tries.last_mut() {
            t.connect = Some(took);
        }
    }

    /// The attempt failed: `status` is what stgw makes of it (502, 504);
    /// `timed_out` says whether the target was too slow.
    pub(crate) fn try_failed(&mut self, status: u16, timed_out: bool) {
        let took = self.try_elapsed();
        if let Some(t) = self.tries.last_mut() {
            t.status = status;
            t.response = Some(took);
        }
        if let Some(stats) = self.current.take() {
            if timed_out {
                stats.timeout();
            } else {
                stats.failure();
            }
        }
    }

    /// The attempt's pooled connection was found closed: it is retried
    /// and does not count as an attempt.
    pub(crate) fn try_stale(&mut self) {
        self.tries.pop();
        self.current = None;
    }

    /// The target answered with `status` (its head has arrived).
    pub(crate) fn answered(&mut self, status: u16) {
        let took = self.try_elapsed();
        if let Some(t) = self.tries.last_mut() {
            t.status = status;
            t.header = Some(took);
        }
        self.target = self.current.take();
    }

    fn try_elapsed(&self) -> Duration {
        self.try_started.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

/// One request being served.
#[derive(Debug)]
pub(crate) struct RequestTrace {
    /// stgw's id for the request (`Stgw-request-id`).
    pub request_id: HeaderValue,
    /// Filled in by routing and forwarding.
    pub route: RouteTrace,
    started: Instant,
    listener: Arc<ListenerRuntime>,
    remote: SocketAddr,
    local: SocketAddr,
    tls: Option<TlsFacts>,
    h2: bool,
    number: u32,
    request: RequestLine,
    host: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    referer: Option<HeaderValue>,
    websocket: bool,
    head_len: u64,
    content_length: Option<u64>,
    done: bool,
}

impl RequestTrace {
    /// Starts following `req`, the `number`-th request of `conn`, whose
    /// first byte arrived at `started`.
    pub(crate) fn start(
        conn: &ClientConn,
        listener: Arc<ListenerRuntime>,
        req: &http::request::Parts,
        number: u32,
        started: Instant,
        request_id: HeaderValue,
    ) -> RequestTrace {
        let headers = &req.headers;
        let websocket = headers
            .get(UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        // What only the log needs is kept only when it is on (shared
        // buffers: reference counts, no copies).
        let logging = listener.observe.log.enabled();
        let header = |name| {
            if logging {
                headers.get(name).cloned()
            } else {
                None
            }
        };
        let request = if logging {
            RequestLine {
                method: Some(req.method.clone()),
                uri: Some(req.uri.clone()),
                version: Some(req.version),
            }
        } else {
            RequestLine::default()
        };
        RequestTrace {
            request_id,
            route: RouteTrace::default(),
            started,
            listener,
            remote: conn.remote,
            local: conn.local,
            tls: conn.tls.as_ref().map(|t| TlsFacts {
                protocol: t.protocol,
                cipher: t.cipher,
                resumed: t.resumed,
                handshake: t.handshake_time,
            }),
            h2: conn.state.is_h2(),
            number,
            request,
            host: header(HOST),
            user_agent: header(USER_AGENT),
            referer: header(REFERER),
            websocket,
            head_len: request_head_len(req),
            content_length: headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
            done: false,
        }
    }

    /// The answer's head is ready: returns what the body carries until it
    /// has been sent. `source` says who answered. (Boxed: the trace is
    /// large, and taking it out of its box would copy it.)
    pub(crate) fn finish<B>(mut self: Box<Self>, resp: &Response<B>, source: Source) -> Finish {
        self.done = true;
        let status = resp.status().as_u16();
        let protocol = self.protocol_type(status);
        let head_bytes = response_head_len(resp.status(), resp.headers());
        self.complete(status, source, protocol, head_bytes)
    }

    fn protocol_type(&self, status: u16) -> ProtocolType {
        let tls = self.tls.is_some();
        match (self.h2, self.websocket && status == 101, tls) {
            (true, _, _) => ProtocolType::Http2,
            (false, true, false) => ProtocolType::Ws,
            (false, true, true) => ProtocolType::Wss,
            (false, false, false) => ProtocolType::Http,
            (false, false, true) => ProtocolType::Https,
        }
    }

    fn complete(
        &mut self,
        status: u16,
        source: Source,
        protocol_type: ProtocolType,
        head_bytes: u64,
    ) -> Finish {
        let observe = &self.listener.observe;
        // Taken field by field: the route trace is large, and what the
        // record alone needs is only moved when there is a record.
        let route = &mut self.route;
        let request_body = match std::mem::take(&mut route.body) {
            BodyLen::Unknown => BodyLen::Read(self.content_length.unwrap_or(0)),
            known => known,
        };
        let record = observe.log.enabled().then(|| {
            Box::new(Record {
                time: SystemTime::UNIX_EPOCH,
                remote: self.remote,
                local: self.local,
                vport: self.listener.addr.port(),
                server_name: route.server_name.clone(),
                host: self.host.take(),
                request: std::mem::take(&mut self.request),
                status,
                bytes_sent: 0,
                body_bytes_sent: 0,
                request_length: 0,
                request_time: Duration::ZERO,
                upstream: std::mem::take(&mut route.tries),
                tls: self.tls,
                protocol_type,
                connection_requests: self.number,
                user_agent: self.user_agent.take(),
                referer: self.referer.take(),
                request_id: std::mem::replace(&mut self.request_id, HeaderValue::from_static("")),
                listener_id: self.listener.id.clone(),
                location_id: route.location_id.clone(),
            })
        });
        Finish {
            record,
            stats: route
                .stats
                .take()
                .unwrap_or_else(|| observe.unrouted.clone()),
            target: route.target.take().zip(route.try_started),
            observe: observe.clone(),
            source,
            status,
            started: self.started,
            head_bytes,
            request_head: self.head_len,
            request_body,
        }
    }
}

impl Drop for RequestTrace {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The client went away before the answer (or the request was
        // cancelled): nginx logs 499.
        self.done = true;
        let protocol = self.protocol_type(CLIENT_CLOSED);
        let mut finish = self.complete(CLIENT_CLOSED, Source::Proxy, protocol, 0);
        finish.target = None;
        finish.done(0, None);
    }
}

/// What a request still needs once its answer's head is out: counted and
/// logged when the body ends ([`done`](Self::done)).
#[derive(Debug)]
pub(crate) struct Finish {
    record: Option<Box<Record>>,
    stats: Arc<RouteStats>,
    /// The target that answered and when its attempt started.
    target: Option<(Arc<TargetStats>, Instant)>,
    observe: Arc<ListenerObserve>,
    source: Source,
    status: u16,
    started: Instant,
    head_bytes: u64,
    /// The request head's bytes.
    request_head: u64,
    request_body: BodyLen,
}

impl Finish {
    /// The answer's body is over: `body_bytes` were sent; the target's
    /// answer ended at `upstream_end` (else now). Returns the time it read
    /// as now, for the request's other end-of-request bookkeeping.
    pub(crate) fn done(mut self, body_bytes: u64, upstream_end: Option<Instant>) -> Instant {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.started);
        let sent = self.head_bytes + body_bytes;
        let request_length = self.request_head
            + match &self.request_body {
                BodyLen::Unknown => 0,
                BodyLen::Read(len) => *len,
                BodyLen::Streamed(read) => read.load(Ordering::Relaxed),
            };
        self.stats
            .record(self.source, self.status, took, request_length, sent);
        let mut upstream_took = None;
        if let Some((target, try_started)) = self.target.take() {
            let end = upstream_end.unwrap_or(now);
            let t = end.saturating_duration_since(try_started);
            // The status of the target's own answer, which the client's
            // status may not be (an error page replaced it).
            target.response(self.status, t, now);
            upstream_took = Some(t);
        }
        if let Some(mut record) = self.record.take() {
            record.time = SystemTime::now();
            record.bytes_sent = sent;
            record.body_bytes_sent = body_bytes;
            record.request_length = request_length;
            record.request_time = took;
            if let (Some(t), Some(last)) = (upstream_took, record.upstream.last_mut()) {
                last.response = Some(t);
            }
            self.observe.log.log(record);
        }
        now
    }
}

/// Logs (and counts) an answer stgw gave on a connection without a parsed
/// request: a head refused by the IO layer (400, 414, 431) or a client
/// header timeout (408, nothing sent), as nginx logs them.
pub(crate) fn unanswered(conn: &ClientConn, status: u16, sent: u64) {
    let listener = conn.slot.runtime.load_full();
    let observe = listener.observe.clone();
    let took = Duration::ZERO;
    observe
        .unrouted
        .record(Source::Proxy, status, took, 0, sent);
    if !observe.log.enabled() {
        return;
    }
    let record = Box::new(Record {
        time: SystemTime::now(),
        remote: conn.remote,
        local: conn.local,
        vport: listener.addr.port(),
        server_name: None,
        host: None,
        request: RequestLine::default(),
        status,
        bytes_sent: sent,
        body_bytes_sent: 0,
        request_length: 0,
        request_time: took,
        upstream: Tries::default(),
        tls: conn.tls.as_ref().map(|t| TlsFacts {
            protocol: t.protocol,
            cipher: t.cipher,
            resumed: t.resumed,
            handshake: t.handshake_time,
        }),
        protocol_type: if conn.tls.is_some() {
            ProtocolType::Https
        } else {
            ProtocolType::Http
        },
        connection_requests: conn.state.requests_started() + 1,
        user_agent: None,
        referer: None,
        request_id: HeaderValue::from_static(""),
        listener_id: listener.id.clone(),
        location_id: None,
    });
    observe.log.log(record);
}

/// The request head's size as it came on the wire (HTTP/1.1 framing; an
/// HTTP/2 head is counted the same way, before HPACK).
fn request_head_len(req: &http::request::Parts) -> u64 {
    let target = req.uri.path_and_query().map_or(1, |pq| pq.as_str().len());
    // "METHOD TARGET HTTP/1.1\r\n" … "\r\n"
    let line = req.method.as_str().len() + 1 + target + 11;
    (line + headers_len(&req.headers) + 2) as u64
}

/// The response head's size in HTTP/1.1 framing (hyper adds Date and the
/// framing header; those few bytes are not counted).
fn response_head_len(status: http::StatusCode, headers: &HeaderMap) -> u64 {
    let reason = status.canonical_reason().map_or(0, str::len);
    // "HTTP/1.1 200 OK\r\n" … "\r\n"
    (9 + 3 + 1 + reason + 2 + headers_len(headers) + 2) as u64
}

fn headers_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
        .sum()
}
