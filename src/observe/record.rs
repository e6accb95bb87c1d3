//! One access log record: what is known about a request once its answer
//! has been sent. Formatting happens in the writer thread, so the record
//! keeps values as they are (shared header values, the URI, addresses)
//! rather than text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Uri, Version};

/// The most upstream attempts a record lists (stgw tries at most 3 targets).
pub(crate) const MAX_TRIES: usize = 4;

/// One attempt at a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Try {
    /// The target.
    pub addr: SocketAddr,
    /// Its answer's status; stgw's status for a failed attempt (502 refused
    /// or reset, 504 timed out); 0 while unknown.
    pub status: u16,
    /// Time to get a connection (0 for a pooled one), if one was had.
    pub connect: Option<Duration>,
    /// Time to the answer's head, if one came.
    pub header: Option<Duration>,
    /// Time to the answer's end (or to giving up).
    pub response: Option<Duration>,
}

/// The attempts of a request, in order (at most [`MAX_TRIES`]; later ones
/// replace the last).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tries {
    tries: [Option<Try>; MAX_TRIES],
    len: usize,
}

impl Tries {
    /// Appends an attempt (replacing the last one when full).
    pub fn push(&mut self, t: Try) {
        if self.len == MAX_TRIES {
            self.tries[MAX_TRIES - 1] = Some(t);
        } else {
            self.tries[self.len] = Some(t);
            self.len += 1;
        }
    }

    /// The latest attempt.
    pub fn last_mut(&mut self) -> Option<&mut Try> {
        self.len.checked_sub(1).and_then(|i| self.tries[i].as_mut())
    }

    /// Forgets the latest attempt (a stale pooled connection, retried as
    /// the same attempt).
    pub fn pop(&mut self) {
        if let Some(i) = self.len.checked_sub(1) {
            self.tries[i] = None;
            self.len = i;
        }
    }

    /// The attempts in order.
    pub fn iter(&self) -> impl Iterator<Item = &Try> {
        self.tries[..self.len].iter().flatten()
    }

    /// Whether no target was tried.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the TLS handshake established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsFacts {
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// OpenSSL name of the cipher suite.
    pub cipher: &'static str,
    /// The session was resumed.
    pub resumed: bool,
    /// The handshake's duration.
    pub handshake: Duration,
}

/// `protocol_type`: how the client spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolType {
    /// HTTP/1.x over TCP.
    Http,
    /// HTTP/1.x over TLS.
    Https,
    /// HTTP/2 (cleartext or TLS).
    Http2,
    /// A WebSocket upgrade over TCP.
    Ws,
    /// A WebSocket upgrade over TLS.
    Wss,
}

impl ProtocolType {
    /// The value logged.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolType::Http => "http",
            ProtocolType::Https => "https",
            ProtocolType::Http2 => "http2",
            ProtocolType::Ws => "ws",
            ProtocolType::Wss => "wss",
        }
    }
}

/// The request as the client sent it (`None` parts: a head stgw refused
/// before it was parsed).
#[derive(Debug, Clone, Default)]
pub struct RequestLine {
    /// Method.
    pub method: Option<Method>,
    /// Target as received.
    pub uri: Option<Uri>,
    /// Protocol version.
    pub version: Option<Version>,
}

/// One request, answered.
#[derive(Debug, Clone)]
pub struct Record {
    /// When the answer ended (`time_local`).
    pub time: SystemTime,
    /// The client (`remote_addr`, `remote_port`): the PROXY header's
    /// source, else the TCP peer.
    pub remote: SocketAddr,
    /// The local address (`server_addr`).
    pub local: SocketAddr,
    /// The listener's port (`vport`).
    pub vport: u16,
    /// The matched domain as configured (`server_name`).
    pub server_name: Option<Arc<str>>,
    /// The Host header as sent (`http_host`); HTTP/2's `:authority` is
    /// taken from the URI.
    pub host: Option<HeaderValue>,
    /// `request`.
    pub request: RequestLine,
    /// `status`.
    pub status: u16,
    /// Response head and body bytes (`bytes_sent`).
    pub bytes_sent: u64,
    /// Response body bytes (`body_bytes_sent`, the combined format's).
    pub body_bytes_sent: u64,
    /// Request head and body bytes (`request_length`).
    pub request_length: u64,
    /// From the request's first byte to the answer's end (`request_time`).
    pub request_time: Duration,
    /// The targets tried (`upstream_*`).
    pub upstream: Tries,
    /// TLS facts on HTTPS listeners (`ssl_*`).
    pub tls: Option<TlsFacts>,
    /// `protocol_type`.
    pub protocol_type: ProtocolType,
    /// The request's number on its connection (`connection_requests`).
    pub connection_requests: u32,
    /// `http_user_agent`.
    pub user_agent: Option<HeaderValue>,
    /// `http_referer`.
    pub referer: Option<HeaderValue>,
    /// stgw's request id (`request_id`); empty for refused heads.
    pub request_id: HeaderValue,
    /// `listener_id`.
    pub listener_id: Arc<str>,
    /// The matched rule's id (`location_id`).
    pub location_id: Option<Arc<str>>,
}
