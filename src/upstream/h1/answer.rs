//! Reading an answer head: status line and fields parsed into an
//! `http::response::Parts`, with the body's framing (RFC 9112 §6).

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version, header};

use crate::hop_by_hop;

use super::conn::ExchangeError;
use super::{INLINE_FIELDS, MAX_FIELDS, MAX_HEAD};

/// A target's reason phrase where it is not the status code's standard
/// one (`200 Everything Fine`, `599 Custom`, an empty one), carried in the
/// answer's extensions so that an HTTP/1.1 client gets the status line
/// the target sent, as nginx passes it. It belongs to `status`: an answer
/// whose status stgw changes (an `error_page`) shows the standard phrase
/// of the new one.
#[derive(Debug, Clone)]
pub struct TargetReason {
    /// The status the phrase came with.
    pub status: StatusCode,
    /// The phrase as sent: bytes httparse accepted in a reason phrase
    /// (tab, space, visible ASCII, obs-text), possibly none.
    pub phrase: Bytes,
}

impl TargetReason {
    /// The phrase for an answer now carrying `status`: `None` when stgw
    /// changed the status since.
    pub fn for_status(extensions: &http::Extensions, status: StatusCode) -> Option<&[u8]> {
        extensions
            .get::<TargetReason>()
            .filter(|r| r.status == status)
            .map(|r| r.phrase.as_ref())
    }
}

/// An answer's head and how its body is framed.
#[derive(Debug)]
pub struct AnswerHead {
    /// Status, version and headers; no connection-specific field
    /// ([`hop_by_hop`]) is among them.
    pub parts: http::response::Parts,
    pub(super) body: BodyFraming,
    pub(super) keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Parses a complete answer head (a target's status line and fields) at
/// the front of `buf`, if there is one, and removes it from `buf`;
/// `Ok(None)` while it is incomplete. A final answer's fields go into
/// `storage` (taken); an interim answer's into a new map. Connection-specific
/// fields ([`hop_by_hop`]) are read for the framing and left out of the
/// map, with those a `Connection` field names, and so are the fields in
/// [`PROXYS_OWN`]; a line that is not a valid field is skipped. It reads
/// bytes a target sent: public for the fuzzer.
pub fn parse_answer_head(
    buf: &mut BytesMut,
    storage: &mut HeaderMap,
) -> Result<Option<AnswerHead>, ExchangeError> {
    // Neither array is zeroed: a head is parsed per request.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; INLINE_FIELDS];
    let mut inline_spans = [(0u16, 0u16, 0u16, 0u16); INLINE_FIELDS];
    let mut heap_spans = Vec::new();
    let scanned = match scan_answer_head(buf, &mut fields, &mut inline_spans) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut fields = Vec::new();
            fields.resize_with(MAX_FIELDS, MaybeUninit::uninit);
            heap_spans.resize(MAX_FIELDS, (0, 0, 0, 0));
            scan_answer_head(buf, &mut fields, &mut heap_spans)
        }
        other => other,
    };
    let spans = if heap_spans.is_empty() {
        &inline_spans[..]
    } else {
        &heap_spans[..]
    };
    let ScannedHead {
        len,
        code,
        version,
        reason,
        count,
    } = match scanned {
        Ok(Some(scan)) if scan.len <= MAX_HEAD => scan,
        Ok(Some(_)) => return Err(ExchangeError::Invalid("answer head over 32 KiB")),
        Ok(None) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ExchangeError::Invalid("too many header fields"));
        }
        Err(_) => return Err(ExchangeError::Invalid("malformed answer head")),
    };
    let status = code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(ExchangeError::Invalid("bad status code"))?;
    let version = if version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let head = buf.split_to(len).freeze();
    let mut headers = if is_interim(status) {
        HeaderMap::with_capacity(count)
    } else {
        let mut map = std::mem::take(storage);
        map.clear();
        map.reserve(count);
        map
    };
    let mut framing = FramingFields::default();
    // `Connection` values, kept once one names a field to drop (rare).
    let mut connection = Vec::new();
    for &(name, name_len, value, value_len) in &spans[..count] {
        let (name, name_len) = (usize::from(name), usize::from(name_len));
        let (value, value_len) = (usize::from(value), usize::from(value_len));
        let name = &head[name..name + name_len];
        let hop_by_hop = hop_by_hop::index(name).is_some();
        let name =
            HeaderName::from_bytes(name).map_err(|_| ExchangeError::Invalid("bad header name"))?;
        // SAFETY: httparse accepts a value only if every byte is a tab,
        // visible ASCII, a space or obs-text (0x80-0xFF): exactly the bytes
        // `HeaderValue` allows (checked again in debug builds).
        let value = unsafe {
            HeaderValue::from_maybe_shared_unchecked(head.slice(value..value + value_len))
        };
        framing.see(&name, &value);
        if !hop_by_hop && !PROXYS_OWN.contains(&name) {
            headers.append(name, value);
        } else if framing.lists_fields && name == header::CONNECTION {
            // Earlier `Connection` values named no field (else the flag
            // was already set then).
            connection.push(value);
        }
    }
    if framing.chunked.is_some() {
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, which
        // a proxy must then remove (the client's framing is stgw's own).
        headers.remove(header::CONTENT_LENGTH);
    }
    hop_by_hop::remove_listed(&mut headers, &connection);
    let (body, keep_alive) = framing.decide(status, version)?;
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    let (at, reason_len) = (usize::from(reason.0), usize::from(reason.1));
    let phrase = &head[at..at + reason_len];
    if status.canonical_reason().map(str::as_bytes) != Some(phrase) {
        parts.extensions.insert(TargetReason {
            status,
            phrase: head.slice(at..at + reason_len),
        });
    }
    Ok(Some(AnswerHead {
        parts,
        body,
        keep_alive,
    }))
}

/// What [`scan_answer_head`] found of a complete head.
struct ScannedHead {
    /// The head's length in bytes.
    len: usize,
    /// The status code as sent.
    code: Option<u16>,
    /// The minor version (0: HTTP/1.0).
    version: Option<u8>,
    /// The reason phrase as offset and length in the head.
    reason: (u16, u16),
    /// Fields recorded in the spans.
    count: usize,
}

/// Parses the head at the front of `buf` into `fields`, and records each
/// field as offsets into `buf` in `spans` (as long as `fields`); `None`
/// while the head is incomplete. A head over [`MAX_HEAD`] records none.
///
/// A field line that is not a valid field (a bad character in its name or
/// value, no colon) is left out rather than failing the answer with 502,
/// as browsers do, unless it names a framing field: a target whose
/// `Transfer-Encoding : chunked` or `Content-Length: 5\x01` is skipped
/// would have its answer framed differently from how it meant it (the
/// rest of the body read as the next answer), so such a head fails, as
/// nginx fails it.
fn scan_answer_head<'b>(
    buf: &'b [u8],
    fields: &mut [MaybeUninit<httparse::Header<'b>>],
    spans: &mut [(u16, u16, u16, u16)],
) -> Result<Option<ScannedHead>, httparse::Error> {
    match parse_answer_fields(buf, fields, spans, false) {
        Err(e) if e != httparse::Error::TooManyHeaders && !bad_framing_line(buf) => {
            parse_answer_fields(buf, fields, spans, true)
        }
        other => other,
    }
}

/// Whether a field line of the head at the front of `buf` names
/// `Transfer-Encoding` or `Content-Length` but is not a valid field line:
/// whitespace around the name, a control character in the value, or an
/// obs-fold continuation line after it.
fn bad_framing_line(buf: &[u8]) -> bool {
    let mut lines = buf.split(|&b| b == b'\n').skip(1);
    let mut after_framing = false;
    for line in lines.by_ref() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if after_framing && matches!(line[0], b' ' | b'\t') {
            return true;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            after_framing = false;
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let trimmed = name.trim_ascii();
        after_framing = trimmed.eq_ignore_ascii_case(b"transfer-encoding")
            || trimmed.eq_ignore_ascii_case(b"content-length");
        let control = |b: &u8| (*b < 0x20 && *b != b'\t') || *b == 0x7f;
        if after_framing && (trimmed.len() != name.len() || value.iter().any(control)) {
            return true;
        }
    }
    false
}

/// One parse of the head for [`scan_answer_head`]; `lenient` skips field
/// lines that are not valid fields.
fn parse_answer_fields<'b>(
    buf: &'b [u8],
    fields: &mut [MaybeUninit<httparse::Header<'b>>],
    spans: &mut [(u16, u16, u16, u16)],
    lenient: bool,
) -> Result<Option<ScannedHead>, httparse::Error> {
    let mut answer = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .ignore_invalid_headers_in_responses(lenient)
        .parse_response_with_uninit_headers(&mut answer, buf, fields)?;
    let httparse::Status::Complete(len) = parsed else {
        return Ok(None);
    };
    if len > MAX_HEAD {
        return Ok(Some(ScannedHead {
            len,
            code: None,
            version: None,
            reason: (0, 0),
            count: 0,
        }));
    }
    // Header values are slices of the head's bytes: no copy. Offsets
    // fit in u16 since the head is at most MAX_HEAD bytes.
    let base = buf.as_ptr() as usize;
    let offset = |field: &[u8]| (field.as_ptr() as usize - base) as u16;
    for (span, field) in spans.iter_mut().zip(answer.headers.iter()) {
        *span = (
            offset(field.name.as_bytes()),
            field.name.len() as u16,
            offset(field.value),
            field.value.len() as u16,
        );
    }
    // An empty phrase need not point into the head.
    let reason = match answer.reason {
        Some(r) if !r.is_empty() => (offset(r.as_bytes()), r.len() as u16),
        _ => (0, 0),
    };
    Ok(Some(ScannedHead {
        len,
        code: answer.code,
        version: answer.version,
        reason,
        count: answer.headers.len(),
    }))
}

/// A target's fields a proxy answers with its own, as nginx does (its
/// `proxy_hide_header` defaults): left out of an HTTP/1.1 answer at
/// parse, removed from an HTTP/2 one.
pub const PROXYS_OWN: [HeaderName; 2] = [header::SERVER, header::DATE];

/// Whether an answer with `status` is interim (1xx), one the client skips
/// for the final answer that follows; a 101 is final (a tunnel follows).
pub(super) fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

/// The answer's framing fields (`Connection`, `Transfer-Encoding`,
/// `Content-Length`), gathered in the one pass that builds its header map.
#[derive(Debug)]
pub(super) struct FramingFields {
    /// A `Connection: close` token.
    pub(super) close: bool,
    /// A `Connection: keep-alive` token.
    keep_alive: bool,
    /// A `Connection` token naming a field (not an option).
    lists_fields: bool,
    /// Whether the last `Transfer-Encoding` field ends in `chunked`, if
    /// there is one.
    chunked: Option<bool>,
    /// The `Content-Length`, or why it is unusable (reported only when no
    /// `Transfer-Encoding` overrides it).
    length: Result<Option<u64>, &'static str>,
}

impl Default for FramingFields {
    fn default() -> Self {
        FramingFields {
            close: false,
            keep_alive: false,
            lists_fields: false,
            chunked: None,
            length: Ok(None),
        }
    }
}

impl FramingFields {
    /// Takes note of one header field. Works on the value's bytes: the
    /// words that matter are ASCII, and a value with other bytes in it
    /// needs no UTF-8 check to be read.
    pub(super) fn see(&mut self, name: &HeaderName, value: &HeaderValue) {
        let value = value.as_bytes();
        if name == header::CONNECTION {
            for token in list_items(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if !token.is_empty() && !token.eq_ignore_ascii_case(b"upgrade") {
                    self.lists_fields = true;
                }
            }
        } else if name == header::TRANSFER_ENCODING {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            self.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == header::CONTENT_LENGTH {
            self.length = self.length.and_then(|mut length| {
                for part in list_items(value) {
                    let n = decimal(part).ok_or("bad Content-Length")?;
                    if length.is_some_and(|l| l != n) {
                        return Err("conflicting Content-Length");
                    }
                    length = Some(n);
                }
                Ok(length)
            });
        }
    }

    /// RFC 9112 §6.3: how the answer's body is delimited, and whether the
    /// connection can carry another request afterwards.
    pub(super) fn decide(
        self,
        status: StatusCode,
        version: Version,
    ) -> Result<(BodyFraming, bool), ExchangeError> {
        let keep_alive = !self.close && (version == Version::HTTP_11 || self.keep_alive);
        if status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok((BodyFraming::Empty, keep_alive));
        }
        match self.chunked {
            Some(true) => return Ok((BodyFraming::Chunked, keep_alive)),
            Some(false) => return Ok((BodyFraming::UntilClose, false)),
            None => {}
        }
        Ok(match self.length.map_err(ExchangeError::Invalid)? {
            Some(0) => (BodyFraming::Empty, keep_alive),
            Some(n) => (BodyFraming::Length(n), keep_alive),
            None => (BodyFraming::UntilClose, false),
        })
    }
}

impl AnswerHead {
    /// Whether the answer has no body (given the request's method).
    pub fn is_bodyless(&self, method: &Method) -> bool {
        *method == Method::HEAD || self.body == BodyFraming::Empty
    }
}

/// The items of a comma-separated field value, without surrounding spaces.
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// A decimal number of one or more ASCII digits (no sign, no spaces), if
/// it fits in a `u64`.
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}
