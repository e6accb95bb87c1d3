//! One health probe: a request on a fresh connection, over the same
//! transport as the rule's traffic (TLS with its SNI, verification and CA;
//! HTTP/2 for GRPC and GRPCS rules), so that a target real requests cannot
//! use is not reported alive, nor one they can use dead.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::config::HealthCheckConfig;
use crate::upstream::{ConnectError, Pool};

/// What a probe sends, where, and how often: probes with equal
/// [`key`](ProbeSpec::key)s are shared by every rule that needs them.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSpec {
    /// The target's pool for the rule's transport: its TLS settings and
    /// HTTP version. One pool per (target, transport), so equal transports
    /// are the same pool.
    pub transport: Arc<Pool>,
    /// HEAD instead of GET.
    pub head: bool,
    /// Request path.
    pub path: String,
    /// Host header (the target address when `None`).
    pub host: Option<String>,
    /// Period.
    pub interval: Duration,
    /// Bound on connect + response head.
    pub timeout: Duration,
}

impl ProbeSpec {
    /// The probe a rule's health check needs for the target that `pool`
    /// connects to.
    pub(crate) fn new(pool: Arc<Pool>, hc: &HealthCheckConfig) -> ProbeSpec {
        ProbeSpec {
            transport: pool,
            head: hc.head,
            path: hc.path.clone(),
            host: hc.host.clone(),
            interval: hc.interval,
            timeout: hc.timeout,
        }
    }

    /// The target.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.transport.addr()
    }

    /// What identifies the probe: equal keys are one probe. The
    /// transport (and with it the target) counts by identity: the registry
    /// hands out one pool per target and transport.
    pub(crate) fn key(&self) -> ProbeKey {
        ProbeKey {
            transport: Arc::as_ptr(&self.transport) as usize,
            head: self.head,
            path: self.path.clone(),
            host: self.host.clone(),
            interval: self.interval,
            timeout: self.timeout,
        }
    }
}

/// A [`ProbeSpec`]'s identity, for sharing probes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProbeKey {
    transport: usize,
    head: bool,
    path: String,
    host: Option<String>,
    interval: Duration,
    timeout: Duration,
}

/// How a probe went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeOutcome {
    /// The target answered with this status.
    Status(u16),
    /// No answer within the timeout.
    Timeout,
    /// The connection was refused or reset.
    Refused(String),
    /// Any other failure (TLS, malformed answer).
    Failed(String),
    /// stgw could not open a socket for the probe (out of descriptors,
    /// socket buffers or memory): it says nothing about the target.
    Unsent(String),
}

impl ProbeOutcome {
    /// Whether the outcome tells about the target (and is counted towards
    /// its health): not when the probe could not be sent at all.
    pub(crate) fn counts(&self) -> bool {
        !matches!(self, ProbeOutcome::Unsent(_))
    }

    /// Whether the outcome counts as healthy for these status classes
    /// (bit n-1 = `n`xx).
    pub(crate) fn healthy(&self, status_classes: u8) -> bool {
        match self {
            ProbeOutcome::Status(code) => {
                let class = code / 100;
                (1..=5).contains(&class) && status_classes & (1 << (class - 1)) != 0
            }
            _ => false,
        }
    }
}

impl fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeOutcome::Status(code) => write!(f, "status {code}"),
            ProbeOutcome::Timeout => f.write_str("timeout"),
            ProbeOutcome::Refused(e) => write!(f, "refused: {e}"),
            ProbeOutcome::Failed(e) => write!(f, "failed: {e}"),
            ProbeOutcome::Unsent(e) => write!(f, "not sent: {e}"),
        }
    }
}

/// Sends one probe.
pub(crate) async fn probe(spec: &ProbeSpec) -> ProbeOutcome {
    match tokio::time::timeout(spec.timeout, attempt(spec)).await {
        Ok(outcome) => outcome,
        Err(_) => ProbeOutcome::Timeout,
    }
}

async fn attempt(spec: &ProbeSpec) -> ProbeOutcome {
    // The whole probe is bounded by the timeout already (`probe`).
    match spec.transport.open(spec.timeout).await {
        Ok(io) => request(TokioIo::new(io), spec).await,
        Err(e) if e.is_local() => ProbeOutcome::Unsent(e.to_string()),
        Err(ConnectError::Io { source, .. }) => ProbeOutcome::Refused(source.to_string()),
        Err(ConnectError::Timeout { .. }) => ProbeOutcome::Timeout,
        Err(ConnectError::Tls { source, .. }) => ProbeOutcome::Failed(format!("TLS: {source}")),
        Err(e @ ConnectError::Handshake { .. }) => ProbeOutcome::Failed(e.to_string()),
    }
}

async fn request<T>(io: T, spec: &ProbeSpec) -> ProbeOutcome
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let host = spec.host.clone().unwrap_or_else(|| spec.addr().to_string());
    let method = if spec.head { Method::HEAD } else { Method::GET };
    let answer = if spec.transport.is_h2() {
        // HTTP/2 carries the host as :authority, from an absolute URI.
        let scheme = if spec.transport.is_tls() {
            "https"
        } else {
            "http"
        };
        let req = Request::builder()
            .method(method)
            .uri(format!("{scheme}://{host}{}", spec.path))
            .header(header::USER_AGENT, "stgw-health-check")
            .body(Empty::new());
        send_h2(io, req).await
    } else {
        let req = Request::builder()
            .method(method)
            .uri(spec.path.as_str())
            .header(header::HOST, host)
            .header(header::USER_AGENT, "stgw-health-check")
            .header(header::CONNECTION, "close")
            .body(Empty::new());
        send_h1(io, req).await
    };
    match answer {
        Ok(resp) => ProbeOutcome::Status(resp.status().as_u16()),
        Err(outcome) => outcome,
    }
}

type Probe = Request<Empty<Bytes>>;

async fn send_h1<T>(io: T, req: http::Result<Probe>) -> Result<Response<Incoming>, ProbeOutcome>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let req = req.map_err(|e| ProbeOutcome::Failed(e.to_string()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| ProbeOutcome::Failed(e.to_string()))?;
    tokio::spawn(conn);
    sender.send_request(req).await.map_err(failure)
}

async fn send_h2<T>(io: T, req: http::Result<Probe>) -> Result<Response<Incoming>, ProbeOutcome>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let req = req.map_err(|e| ProbeOutcome::Failed(e.to_string()))?;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(TokioExecutor::new(), io)
            .await
            .map_err(|e| ProbeOutcome::Failed(e.to_string()))?;
    tokio::spawn(conn);
    sender.send_request(req).await.map_err(failure)
}

fn failure(e: hyper::Error) -> ProbeOutcome {
    if e.is_incomplete_message() || e.is_closed() {
        ProbeOutcome::Refused(e.to_string())
    } else {
        ProbeOutcome::Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_decide_health() {
        let four = 0b01111;
        assert!(ProbeOutcome::Status(200).healthy(four));
        assert!(ProbeOutcome::Status(404).healthy(four));
        assert!(!ProbeOutcome::Status(503).healthy(four));
        assert!(ProbeOutcome::Status(503).healthy(0b10000));
        assert!(!ProbeOutcome::Timeout.healthy(0b11111));
        assert!(!ProbeOutcome::Refused("x".into()).healthy(0b11111));
    }

    #[test]
    fn only_a_probe_that_was_not_sent_goes_uncounted() {
        assert!(!ProbeOutcome::Unsent("x".into()).counts());
        assert!(ProbeOutcome::Refused("x".into()).counts());
        assert!(ProbeOutcome::Timeout.counts());
        assert!(ProbeOutcome::Status(503).counts());
    }
}
