//! Request heads in, answer heads out, for stgw's own HTTP/1.1 server.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::response;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version, header};

use super::date;
use crate::upstream::h1::{TargetReason, decimal, list_items, push_decimal};

/// Most header fields in a head stgw's server takes itself (hyper, which
/// gets the rest, allows 100).
const MAX_FIELDS: usize = 64;

/// What the start of a connection's buffer holds.
#[derive(Debug)]
// Returned once per request and taken apart at once: boxing the head
// would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A whole request stgw serves itself, taken off the buffer: its
    /// head, and its body when it has a `Content-Length` (a body not
    /// wholly in the buffer with its head is left to hyper).
    Request {
        /// The request's head.
        parts: Parts,
        /// The whole body, when the head has a `Content-Length` (of 0
        /// too); `None` when it has none (no body).
        body: Option<Bytes>,
        /// Whether the connection closes after the answer: the client
        /// sent `Connection: close`, or it speaks HTTP/1.0 and did not ask
        /// for `keep-alive`.
        close: bool,
    },
    /// The head has not ended yet.
    Partial,
    /// A request for hyper, still in the buffer: it has a chunked body, a
    /// body not all in the buffer yet, one that would not fit in it with
    /// its head ([`MAX_REQUEST`]), an upgrade or `Expect`; or it is not
    /// HTTP/1.1 or HTTP/1.0, has a method other than GET, HEAD, POST, PUT, PATCH,
    /// DELETE or OPTIONS, more than 64 fields or an unusual
    /// `Content-Length`, or is malformed (hyper answers it with 400).
    Hyper,
}

/// The longest request (head and body) taken here: the connection's
/// read buffer.
pub const MAX_REQUEST: usize = 8 * 1024;

/// Parses the request at the start of `buf`. A request stgw serves itself
/// is split off `buf` with its body, if any; its field values and its
/// body are slices of its bytes. `storage` may hold an empty map to reuse
/// for its fields.
pub fn parse(buf: &mut BytesMut, storage: &mut Option<HeaderMap>) -> Parsed {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Hyper,
    };
    let method = match request.method {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        Some("OPTIONS") => Method::OPTIONS,
        _ => return Parsed::Hyper,
    };
    let http10 = match request.version {
        Some(1) => false,
        Some(0) => true,
        _ => return Parsed::Hyper,
    };
    let (Some(path), count) = (request.path, request.headers.len()) else {
        return Parsed::Hyper;
    };
    // Offsets into the head: fields are sliced out of it once it is split
    // off (the head is at most the buffer's 64 KiB).
    let base = buf.as_ptr() as usize;
    let offset = |field: &[u8]| (field.as_ptr() as usize - base) as u16;
    let target = (offset(path.as_bytes()), path.len() as u16);
    let mut spans = [(0u16, 0u16, 0u16, 0u16); MAX_FIELDS];
    let mut close = false;
    let mut keep_alive = false;
    let mut content_length = None;
    for (span, field) in spans.iter_mut().zip(request.headers.iter()) {
        let name = field.name.as_bytes();
        match name.len() {
            6 if name.eq_ignore_ascii_case(b"expect") => return Parsed::Hyper,
            7 if name.eq_ignore_ascii_case(b"upgrade") => return Parsed::Hyper,
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in list_items(field.value) {
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // One plain number that fits with the head; anything else
                // (a list, a repeat, a sign) is hyper's to judge.
                match decimal(field.value) {
                    Some(n)
                        if content_length.is_none()
                            && n <= MAX_REQUEST.saturating_sub(len) as u64 =>
                    {
                        content_length = Some(n as usize);
                    }
                    _ => return Parsed::Hyper,
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => return Parsed::Hyper,
            _ => {}
        }
        *span = (
            offset(name),
            name.len() as u16,
            offset(field.value),
            field.value.len() as u16,
        );
    }
    if buf.len() < len + content_length.unwrap_or(0) {
        // The rest of the body is hyper's to wait for, under
        // `client_body_timeout`.
        return Parsed::Hyper;
    }
    let head = buf.split_to(len).freeze();
    let slice = |at: u16, len: u16| head.slice(usize::from(at)..usize::from(at) + usize::from(len));
    let Ok(uri) = Uri::from_maybe_shared(slice(target.0, target.1)) else {
        restore(head, buf);
        return Parsed::Hyper;
    };
    let mut headers = storage.take().unwrap_or_default();
    headers.reserve(count);
    for &(name, name_len, value, value_len) in &spans[..count] {
        let name = &head[usize::from(name)..usize::from(name) + usize::from(name_len)];
        let Ok(name) = HeaderName::from_bytes(name) else {
            drop(headers);
            restore(head, buf);
            return Parsed::Hyper;
        };
        // SAFETY: httparse accepts a value only if every byte is a tab,
        // visible ASCII, a space or obs-text (0x80-0xFF): exactly the bytes
        // `HeaderValue` allows (checked again in debug builds).
        let value = unsafe { HeaderValue::from_maybe_shared_unchecked(slice(value, value_len)) };
        headers.append(name, value);
    }
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = if http10 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    parts.headers = headers;
    let body = content_length.map(|n| buf.split_to(n).freeze());
    // HTTP/1.0 connections are persistent only when asked (RFC 9112 §9.3).
    let close = close || (http10 && !keep_alive);
    Parsed::Request { parts, body, close }
}

/// Mends the request line at the start of `buf` where nginx takes what
/// the HTTP/1.1 parsers refuse, and returns whether it changed `buf` (the
/// request is then parsed again). Only a request [`parse`] did not take is
/// worth this.
/// * A later HTTP/1 minor version (`HTTP/1.2`) is read as HTTP/1.1, the
///   highest this server speaks (RFC 9112 §2.3).
/// * The target's bytes that a URI may not hold are percent-encoded:
///   bytes over 0x7F that are not UTF-8 (a GBK or Latin-1 path from an old
///   client), and `"`, `<`, `>`, `\`, `^`, `{`, `|`, `}` and the backtick.
///   `%FF` means the byte 0xFF to every target and to routing, which
///   decodes escapes as nginx does. A UTF-8 target without those
///   characters is left as it is.
pub fn mend_request_line(buf: &mut BytesMut) -> bool {
    let Some(line_end) = memchr::memchr(b'\n', buf) else {
        return false;
    };
    let line = &buf[..line_end];
    let (Some(start), Some(end)) = (
        memchr::memchr(b' ', line).map(|i| i + 1),
        memchr::memrchr(b' ', line),
    ) else {
        return false;
    };
    if start >= end {
        return false;
    }
    let version = line[end + 1..]
        .strip_suffix(b"\r")
        .unwrap_or(&line[end + 1..]);
    let later_minor = matches!(
        version,
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'2'..=b'9']
    );
    let target = &line[start..end];
    const REFUSED_ASCII: &[u8] = b"\"<>\\^`{|}";
    let escape =
        target.iter().any(|b| REFUSED_ASCII.contains(b)) || std::str::from_utf8(target).is_err();
    if later_minor {
        buf[end + 1 + 7] = b'1';
    }
    if escape {
        let refused = |b: u8| b > 0x7f || REFUSED_ASCII.contains(&b);
        let target = &buf[start..end];
        let count = target.iter().filter(|&&b| refused(b)).count();
        let mut escaped = BytesMut::with_capacity(buf.len() + 2 * count);
        escaped.extend_from_slice(&buf[..start]);
        for &b in target {
            if refused(b) {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                escaped.extend_from_slice(&[
                    b'%',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            } else {
                escaped.extend_from_slice(&[b]);
            }
        }
        escaped.extend_from_slice(&buf[end..]);
        *buf = escaped;
    }
    later_minor || escape
}

/// Puts a split-off head back in front of the buffer (a head left to
/// hyper after all; rare, so copied).
fn restore(head: Bytes, buf: &mut BytesMut) {
    let mut whole = BytesMut::with_capacity(head.len() + buf.len());
    whole.extend_from_slice(&head);
    whole.extend_from_slice(buf);
    *buf = whole;
}

/// What is known of an answer body's size before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySize {
    /// No body (it has ended already).
    Empty,
    /// Exactly this many bytes.
    Known(u64),
    /// Not known until it ends.
    Unknown,
}

/// How an answer's body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body bytes at all: the answer to HEAD, a 1xx, 204 or 304, or a
    /// body of length 0.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// The bytes as they come, ended by closing the connection: a body of
    /// unknown length for an HTTP/1.0 client, which has no chunked coding.
    UntilClose,
}

/// An encoded answer head: how its body follows, and whether the
/// connection closes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// The body's framing.
    pub framing: Framing,
    /// The connection closes after this answer.
    pub last: bool,
}

/// What an answer's head depends on of the request it answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answering {
    /// The request is HEAD: no body follows, the length stays.
    pub head: bool,
    /// The client speaks HTTP/1.0.
    pub http10: bool,
}

/// Encodes an answer head into `out` (appended): the status line (with
/// the target's own reason phrase when it sent another than the standard
/// one, [`TargetReason`]), the fields (lower-case names, drained from `parts`), the framing stgw
/// chooses, `Date` unless present, and `Connection: close` when `closing`
/// or the fields ask to close. An answer to HEAD (`request.head`) sends
/// no body; an HTTP/1.0 client (`request.http10`) still gets an HTTP/1.1
/// status line (as nginx sends, RFC 9110 §6.2), `Connection: keep-alive`
/// when the connection stays open, and a body of unknown length ended by
/// the close instead of chunked.
///
/// Framing follows RFC 9112 §6: a body that can have one gets
/// `Content-Length` when its size is known (from the body, else from a
/// `Content-Length` field), else chunked coding; a `Transfer-Encoding`
/// field from elsewhere is not passed on. The answer to HEAD keeps the
/// `Content-Length` it carries (or gets the body's known size); 1xx, 204
/// and 304 carry neither.
pub fn encode(
    out: &mut Vec<u8>,
    parts: &mut response::Parts,
    size: BodySize,
    request: Answering,
    closing: bool,
) -> Encoded {
    let Answering {
        head: head_request,
        http10,
    } = request;
    let status = parts.status;
    let reason = TargetReason::for_status(&parts.extensions, status);
    if status == StatusCode::OK && reason.is_none() {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        let standard = status.canonical_reason().unwrap_or("").as_bytes();
        out.extend_from_slice(reason.unwrap_or(standard));
        out.extend_from_slice(b"\r\n");
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let mut last = closing;
    // The first `Content-Length` field's value, when it is a number.
    let mut declared: Option<u64> = None;
    let mut kept_length_field = false;
    let mut wrote_connection = false;
    let mut wrote_date = false;
    let mut current: Option<HeaderName> = None;
    for (name, value) in parts.headers.drain() {
        if let Some(name) = name {
            current = Some(name);
        }
        let Some(name) = current.as_ref() else {
            continue;
        };
        if *name == header::CONTENT_LENGTH {
            if bodiless || !head_request {
                // Replaced by the framing chosen below.
                if !kept_length_field {
                    declared = decimal(value.as_bytes());
                    kept_length_field = true;
                }
                continue;
            }
            kept_length_field = true;
        } else if *name == header::TRANSFER_ENCODING {
            continue;
        } else if *name == header::CONNECTION {
            wrote_connection = true;
            last |= list_items(value.as_bytes()).any(|t| t.eq_ignore_ascii_case(b"close"));
        } else if *name == header::DATE {
            wrote_date = true;
        }
        push_title_case(out, name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = if bodiless {
        Framing::None
    } else if head_request {
        if let (false, BodySize::Known(n @ 1..)) = (kept_length_field, size) {
            length_field(out, n);
        }
        Framing::None
    } else {
        match (size, declared) {
            (BodySize::Empty, _) => {
                length_field(out, 0);
                Framing::None
            }
            (BodySize::Known(n), _) | (BodySize::Unknown, Some(n)) => {
                length_field(out, n);
                if n == 0 {
                    Framing::None
                } else {
                    Framing::Length(n)
                }
            }
            (BodySize::Unknown, None) if http10 => {
                last = true;
                Framing::UntilClose
            }
            (BodySize::Unknown, None) => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                Framing::Chunked
            }
        }
    };
    if !wrote_connection {
        if last {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
    }
    if !wrote_date {
        out.extend_from_slice(b"Date: ");
        date::extend(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Encoded { framing, last }
}

/// Writes a field name the way nginx and most targets spell it, each
/// word capitalised (`content-type` → `Content-Type`): names are
/// case-insensitive, but scripts that grep `curl -i` output often are not.
/// (The header map keeps names in lower case.)
fn push_title_case(out: &mut Vec<u8>, name: &[u8]) {
    let start = out.len();
    out.extend_from_slice(name);
    let mut word_start = true;
    for byte in &mut out[start..] {
        if word_start {
            *byte = byte.to_ascii_uppercase();
        }
        word_start = *byte == b'-';
    }
}

fn length_field(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
