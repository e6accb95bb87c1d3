//! Writing a request head: the request line, the fields and the framing
//! header the body needs.

use bytes::{Bytes, BytesMut};
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http_body::Body;

use crate::upstream::RequestBody;

/// How a request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// How the request body goes on the wire: its exact length when known,
/// chunked otherwise; nothing for a body-less method without a body.
pub(super) fn request_framing(method: &Method, body: &RequestBody) -> Framing {
    match body.size_hint().exact() {
        Some(0)
            if matches!(
                *method,
                Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS | Method::TRACE
            ) =>
        {
            Framing::None
        }
        Some(0) if body.is_end_stream() => Framing::Length(0),
        Some(n) => Framing::Length(n),
        None => Framing::Chunked,
    }
}

/// Serialises a request head into `out` (cleared first): request line,
/// `headers` and then the `added` fields (neither may hold a framing
/// header), then the framing header for `body` and the empty line.
pub fn encode_head<'a>(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &'a HeaderMap,
    added: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    body: &RequestBody,
) {
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers.iter().chain(added) {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match request_framing(method, body) {
        Framing::None => {}
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body: the last chunk, the trailer fields a
/// trailer may carry (none that frames, routes or controls the message,
/// RFC 9110 §6.5.1) and the empty line.
pub(super) fn last_chunk(trailers: &HeaderMap) -> Bytes {
    let mut out = BytesMut::from(&b"0\r\n"[..]);
    for (name, value) in trailers {
        let forbidden = crate::hop_by_hop::index(name.as_str().as_bytes()).is_some()
            || [
                http::header::CONTENT_LENGTH,
                http::header::CONTENT_TYPE,
                http::header::CONTENT_ENCODING,
                http::header::HOST,
                http::header::TRAILER,
                http::header::AUTHORIZATION,
                http::header::SET_COOKIE,
                http::header::COOKIE,
            ]
            .contains(name);
        if forbidden {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// Appends `n` in lower-case hexadecimal (a chunk's size) without the
/// formatting machinery.
pub(crate) fn push_hex(out: &mut impl bytes::BufMut, mut n: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = DIGITS[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Appends `n` in decimal without the formatting machinery.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
