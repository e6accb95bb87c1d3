//! One health probe: an HTTP/1.1 request on a fresh connection.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::HealthCheckConfig;

/// What a probe sends, where, and how often: probes with equal specs are
/// shared by every rule that needs them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeSpec {
    /// The target.
    pub addr: SocketAddr,
    /// TLS (HTTPS / GRPCS rules).
    pub tls: bool,
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
    /// The probe a rule's health check needs for `addr`.
    pub fn new(addr: SocketAddr, tls: bool, hc: &HealthCheckConfig) -> ProbeSpec {
        ProbeSpec {
            addr,
            tls,
            head: hc.head,
            path: hc.path.clone(),
            host: hc.host.clone(),
            interval: hc.interval,
            timeout: hc.timeout,
        }
    }
}

/// How a probe went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The target answered with this status.
    Status(u16),
    /// No answer within the timeout.
    Timeout,
    /// The connection was refused or reset.
    Refused(String),
    /// Any other failure (TLS, malformed answer).
    Failed(String),
}

impl ProbeOutcome {
    /// Whether the outcome counts as healthy for these status classes
    /// (bit n-1 = `n`xx).
    pub fn healthy(&self, status_classes: u8) -> bool {
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
        }
    }
}

/// Sends one probe.
pub async fn probe(spec: &ProbeSpec) -> ProbeOutcome {
    match tokio::time::timeout(spec.timeout, attempt(spec)).await {
        Ok(outcome) => outcome,
        Err(_) => ProbeOutcome::Timeout,
    }
}

async fn attempt(spec: &ProbeSpec) -> ProbeOutcome {
    let stream = match TcpStream::connect(spec.addr).await {
        Ok(s) => s,
        Err(e) => return ProbeOutcome::Refused(e.to_string()),
    };
    let _ = stream.set_nodelay(true);
    if spec.tls {
        return match crate::tls::UpstreamConnector::insecure()
            .connect(stream, spec.addr)
            .await
        {
            Ok(tls) => request(TokioIo::new(tls), spec).await,
            Err(e) => ProbeOutcome::Failed(format!("TLS: {e}")),
        };
    }
    request(TokioIo::new(stream), spec).await
}

async fn request<T>(io: T, spec: &ProbeSpec) -> ProbeOutcome
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io).await {
            Ok(pair) => pair,
            Err(e) => return ProbeOutcome::Failed(e.to_string()),
        };
    tokio::spawn(conn);
    let host = spec.host.clone().unwrap_or_else(|| spec.addr.to_string());
    let req = Request::builder()
        .method(if spec.head { Method::HEAD } else { Method::GET })
        .uri(spec.path.as_str())
        .header(header::HOST, host)
        .header(header::USER_AGENT, "stgw-health-check")
        .header(header::CONNECTION, "close")
        .body(Empty::new());
    let req = match req {
        Ok(r) => r,
        Err(e) => return ProbeOutcome::Failed(e.to_string()),
    };
    match sender.send_request(req).await {
        Ok(resp) => ProbeOutcome::Status(resp.status().as_u16()),
        Err(e) if e.is_incomplete_message() || e.is_closed() => {
            ProbeOutcome::Refused(e.to_string())
        }
        Err(e) => ProbeOutcome::Failed(e.to_string()),
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
}
