//! `/metrics`, `/status` and `/status.json` on the admin listener.
//!
//! No credentials are asked when the admin listener is bound to loopback;
//! otherwise HTTP basic authentication with the API credentials
//! (SecretId as the user name, SecretKey as the password).

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::observe::metrics::live::Live;
use crate::observe::status;
use crate::runtime::Runtime;

/// What the admin listener knows about a request for one of the pages
/// (`/metrics`, `/status`, `/status.json`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest<'a> {
    /// The path (`/metrics`, `/status` or `/status.json`).
    pub path: &'a str,
    /// The query, if any.
    pub query: Option<&'a str>,
    /// The request's headers (for `Authorization`).
    pub headers: &'a HeaderMap,
    /// The admin listener is bound to a loopback address.
    pub loopback: bool,
}

/// Answers a request for one of the pages; `credentials` maps SecretId to
/// SecretKey.
pub(crate) fn serve(
    runtime: &Runtime,
    credentials: &HashMap<String, String>,
    req: PageRequest<'_>,
) -> Response<Full<Bytes>> {
    if !req.loopback && !authorized(req.headers, credentials) {
        let mut resp = text(StatusCode::UNAUTHORIZED, "credentials required\n".into());
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"stgw\", charset=\"UTF-8\""),
        );
        return resp;
    }
    let snapshot = runtime.snapshot();
    let slots = runtime.listener_slots();
    match req.path {
        "/metrics" => {
            let live = Live::new(snapshot, slots, runtime.store_status().summary());
            match runtime.state().observe.metrics.encode(live) {
                Ok(body) => with_type(
                    StatusCode::OK,
                    body.into(),
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "metrics could not be encoded\n".into(),
                ),
            }
        }
        "/status.json" => {
            let status = status::collect(&snapshot, &slots, runtime.store_status().summary());
            let body = serde_json::to_vec_pretty(&status).unwrap_or_default();
            with_type(StatusCode::OK, body.into(), "application/json")
        }
        _ => {
            let status = status::collect(&snapshot, &slots, runtime.store_status().summary());
            let fragment = req
                .query
                .is_some_and(|q| q.split('&').any(|p| p == "fragment"));
            let body = if fragment {
                let mut out = String::new();
                status::html::fragment(&status, &mut out);
                out
            } else {
                status::html::page(&status)
            };
            let mut resp = with_type(StatusCode::OK, body.into(), "text/html; charset=utf-8");
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
    }
}

fn text(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain; charset=utf-8")
}

fn with_type(status: StatusCode, body: Bytes, kind: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    resp
}

/// Whether `Authorization: Basic` names a SecretId with its SecretKey.
fn authorized(headers: &HeaderMap, credentials: &HashMap<String, String>) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(str::trim)
    else {
        return false;
    };
    credentials.iter().any(|(id, key)| {
        let expected = base64(format!("{id}:{key}").as_bytes());
        constant_time_eq(expected.as_bytes(), given.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn basic_credentials_must_name_a_secret_id_and_its_key() {
        let creds = HashMap::from([("AKID".to_owned(), "secret".to_owned())]);
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, &creds));
        let good = format!("Basic {}", base64(b"AKID:secret"));
        h.insert(header::AUTHORIZATION, good.parse().unwrap());
        assert!(authorized(&h, &creds));
        let bad = format!("Basic {}", base64(b"AKID:wrong"));
        h.insert(header::AUTHORIZATION, bad.parse().unwrap());
        assert!(!authorized(&h, &creds));
    }
}
