//! WebSocket proxying.
//!
//! HTTP/1.1 clients (ws, wss) upgrade with `Upgrade: websocket`; the
//! request is routed like any other and forwarded with its upgrade
//! headers. HTTP/2 clients use extended CONNECT (RFC 8441,
//! `:protocol = websocket`); stgw bridges it to an HTTP/1.1 upgrade
//! towards the target. After the target's 101 the two streams are spliced
//! both ways until either side closes or nothing moves for
//! `proxy_read_timeout`. A tunnel counts as one active request for
//! least-connections and as an open connection for draining. Its request
//! is counted and logged when the tunnel closes: `request_time` is the
//! tunnel's life and `bytes_sent` includes what it carried to the client,
//! as in nginx.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::body::ResponseBody;
use crate::balance::ActiveRequest;
use crate::listener::ListenerSlot;
use crate::upstream::h1::Upgraded;

static SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
static SEC_WEBSOCKET_VERSION: HeaderName = HeaderName::from_static("sec-websocket-version");
static SEC_WEBSOCKET_ACCEPT: HeaderName = HeaderName::from_static("sec-websocket-accept");

/// A client's WebSocket upgrade, taken from its request.
#[derive(Debug)]
pub(super) struct WsUpgrade {
    client: OnUpgrade,
    over_h2: bool,
}

impl WsUpgrade {
    /// Recognises a WebSocket upgrade and takes the client's upgrade handle
    /// from `parts`; an HTTP/2 CONNECT becomes the GET of an HTTP/1.1
    /// upgrade. `None` for any other request.
    pub(super) fn take(parts: &mut Parts) -> Option<WsUpgrade> {
        let over_h2 = parts.method == Method::CONNECT
            && parts
                .extensions
                .get::<hyper::ext::Protocol>()
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
        let over_h1 = parts.method == Method::GET
            && parts.version == http::Version::HTTP_11
            && has_token(&parts.headers, &header::UPGRADE, "websocket")
            && has_token(&parts.headers, &header::CONNECTION, "upgrade");
        if !(over_h1 || over_h2) {
            return None;
        }
        let client = parts.extensions.remove::<OnUpgrade>()?;
        if over_h2 {
            parts.method = Method::GET;
            if !parts.headers.contains_key(&SEC_WEBSOCKET_KEY) {
                let mut nonce = [0u8; 16];
                let _ = aws_lc_rs::rand::fill(&mut nonce);
                if let Ok(key) = HeaderValue::from_str(&crate::encoding::base64(&nonce)) {
                    parts.headers.insert(SEC_WEBSOCKET_KEY.clone(), key);
                }
            }
            parts
                .headers
                .entry(SEC_WEBSOCKET_VERSION.clone())
                .or_insert(HeaderValue::from_static("13"));
        }
        Some(WsUpgrade { client, over_h2 })
    }

    /// Whether the client asked over HTTP/2 (an extended CONNECT, RFC 8441).
    pub(super) fn over_h2(&self) -> bool {
        self.over_h2
    }

    /// Puts the upgrade headers back after hop-by-hop headers were removed.
    pub(super) fn restore_headers(headers: &mut HeaderMap) {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }

    /// The client's answer to the target's 101: the tunnel is started and
    /// the client gets 101 (HTTP/1.1) or 200 (HTTP/2). Any other answer of
    /// the target is forwarded as usual, not through here.
    pub(super) fn respond(
        self,
        resp: &http::response::Parts,
        target: Upgraded,
        active: ActiveRequest,
        idle: Duration,
        slot: Arc<ListenerSlot>,
    ) -> Response<ResponseBody> {
        let (body, end) = ResponseBody::tunnel();
        let mut answer = Response::new(body);
        *answer.status_mut() = if self.over_h2 {
            StatusCode::OK
        } else {
            StatusCode::SWITCHING_PROTOCOLS
        };
        // The target's fields pass (cookies set at the handshake, say), as
        // in nginx: its connection-specific ones, its Server and its Date
        // were left out as its head was read.
        let headers = answer.headers_mut();
        *headers = resp.headers.clone();
        crate::hop_by_hop::remove(headers);
        headers.remove(header::CONTENT_LENGTH);
        if self.over_h2 {
            // RFC 8441 §5: the 200 of an extended CONNECT has no accept key.
            headers.remove(&SEC_WEBSOCKET_ACCEPT);
        } else {
            Self::restore_headers(headers);
        }
        // The tunnel keeps the client connection open: count it so a drain
        // waits for it.
        slot.connections.fetch_add(1, Ordering::Relaxed);
        let client = self.client;
        tokio::spawn(async move {
            let _open = TunnelCount(slot);
            let _active = active;
            let sent = match client.await {
                Ok(client) => {
                    let io = TokioIo::new(client);
                    let (_, to_client) = crate::upstream::tunnel::splice(io, target, idle).await;
                    to_client
                }
                Err(e) => {
                    tracing::debug!(error = %e, "WebSocket upgrade did not complete");
                    0
                }
            };
            end.closed(sent).await;
        });
        answer
    }
}

/// An open tunnel counted among its listener's connections.
struct TunnelCount(Arc<ListenerSlot>);

impl Drop for TunnelCount {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a comma-separated header has `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}
