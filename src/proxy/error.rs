//! Answers stgw gives itself, and the errors that produce them.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::body::ResponseBody;

/// Why stgw answers a request itself instead of a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProxyError {
    /// Malformed request, invalid or missing Host, bad path.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The client was too slow sending its body.
    #[error("request body timeout")]
    RequestTimeout,
    /// No domain or no rule matches.
    #[error("no rule matches")]
    NotFound,
    /// `TRACE`, which nginx never serves (it would echo the client's
    /// credentials back to a script: cross-site tracing).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Body larger than client_max_body_size.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Request line over 8 KiB.
    #[error("request URI too long")]
    UriTooLong,
    /// A header line over 8 KiB, or all headers over 32 KiB.
    #[error("request header fields too large")]
    HeaderTooLarge,
    /// HTTPS: the Host selects a domain this connection's SNI would not.
    #[error("misdirected request")]
    Misdirected,
    /// The target refused, reset, or sent something invalid.
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// The rule has no usable target.
    #[error("no usable target")]
    NoTarget,
    /// `limit_req` refused the client.
    #[error("request rate limit exceeded")]
    RateLimited,
    /// The target did not connect or answer in time.
    #[error("gateway timeout")]
    GatewayTimeout,
    /// stgw itself failed (a spill file could not be written).
    #[error("internal error: {0}")]
    Internal(String),
    /// The request's body is in a transfer coding stgw does not decode
    /// (RFC 9112 §6.1: anything but `chunked`).
    #[error("transfer coding not implemented")]
    NotImplemented,
}

impl ProxyError {
    /// The status this error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::NotFound => StatusCode::NOT_FOUND,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::UriTooLong => StatusCode::URI_TOO_LONG,
            ProxyError::HeaderTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ProxyError::NoTarget | ProxyError::RateLimited => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ProxyError::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// Whether the connection must close after this answer (the request
    /// body may not have been read).
    pub(crate) fn closes_connection(&self) -> bool {
        matches!(
            self,
            ProxyError::BadRequest(_)
                | ProxyError::RequestTimeout
                | ProxyError::PayloadTooLarge
                | ProxyError::UriTooLong
                | ProxyError::HeaderTooLarge
                | ProxyError::NotImplemented
                | ProxyError::MethodNotAllowed
        )
    }
}

/// A short HTML page for a status, as nginx sends.
pub(crate) fn status_page(status: StatusCode) -> Bytes {
    let reason = status.canonical_reason().unwrap_or("");
    Bytes::from(format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n",
        code = status.as_u16()
    ))
}

/// stgw's own answer with a status page.
pub(crate) fn generated(status: StatusCode, close: bool) -> Response<ResponseBody> {
    let body = status_page(status);
    let mut resp = Response::new(ResponseBody::full(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
