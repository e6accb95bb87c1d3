//! HTTP/1.1 to targets, driven by the request's own task.
//!
//! A connection is a socket and a read buffer: sending a request writes its
//! head (and a buffered body) with as few writes as possible, then reads
//! the answer's head from the same task — no connection task, no channels,
//! no per-request header map copy. The answer's body is read by
//! [`H1Body`], which hands the connection back to its pool at the end.
//!
//! Framing follows RFC 9112 §6: `Transfer-Encoding` ending in `chunked`
//! wins over `Content-Length`; differing or malformed `Content-Length` is
//! an invalid answer; without either the body runs until the target closes
//! (and the connection is not reused).

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::RequestBody;
use super::pool::Pool;
use crate::hop_by_hop;
use crate::idle::IdleTimer;

/// Largest answer head accepted (DECISIONS: over 32 KiB → 502).
pub const MAX_HEAD: usize = 32 * 1024;
/// Header fields an answer head is parsed into without allocating.
const INLINE_FIELDS: usize = 128;
/// Most header fields accepted in an answer head: nginx bounds a head by
/// its bytes alone (`proxy_buffer_size`), and an application may set many
/// cookies. A head with more than [`INLINE_FIELDS`] is parsed again into
/// slots on the heap.
const MAX_FIELDS: usize = 2048;
/// Read buffer granularity.
const READ_CHUNK: usize = 8 * 1024;

/// A connection's byte stream: TCP, or TLS over TCP.
#[derive(Debug)]
pub enum UpstreamIo {
    /// Cleartext.
    Plain(TcpStream),
    /// TLS (boxed: the TLS state is large).
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for UpstreamIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_write(cx, data),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamIo::Plain(s) => s.is_write_vectored(),
            UpstreamIo::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One HTTP/1.1 connection to a target.
#[derive(Debug)]
pub struct H1Conn {
    io: UpstreamIo,
    rbuf: BytesMut,
    /// Most bytes read ahead of a slower client (`proxy_buffers`).
    read_ahead: usize,
    /// Requests sent on this connection so far.
    pub(super) requests: u32,
}

/// Why an exchange with a target failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The connection failed.
    #[error("target connection: {source}")]
    Io {
        /// The socket error (or an unexpected end of stream).
        source: io::Error,
        /// A byte of an answer had been read (never retry then).
        answered: bool,
        /// A byte of the request had been written.
        sent: bool,
        /// A piece of the body had been taken (the body cannot be reused).
        body_taken: bool,
    },
    /// The answer is not valid HTTP/1.1 (or its head is over 32 KiB).
    #[error("invalid answer from the target: {0}")]
    Invalid(&'static str),
    /// `proxy_send_timeout` (the target stopped taking the request) or
    /// `proxy_read_timeout` (no answer after the request was sent).
    #[error("the target timed out ({0})")]
    Timeout(&'static str),
    /// The client's body failed (too large, too slow, malformed).
    #[error("the client's request body failed: {0}")]
    ClientBody(String),
}

impl ExchangeError {}

/// How a request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
}

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
    body: BodyFraming,
    keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

impl H1Conn {
    /// A connection over `io`, reading ahead at most `read_ahead` bytes.
    pub fn new(io: UpstreamIo, read_ahead: usize) -> H1Conn {
        H1Conn {
            io,
            rbuf: BytesMut::new(),
            read_ahead: read_ahead.max(READ_CHUNK),
            requests: 0,
        }
    }

    /// Writes `head` (from [`encode_head`]) and `body`, and reads the
    /// answer's head. The target may answer before it has taken the whole
    /// body; the answer wins and the connection is not reused.
    /// `send_timeout` bounds a stall in taking the request,
    /// `read_timeout` the wait for the answer after it.
    ///
    /// The final answer's fields are parsed into `fields`' storage, which
    /// is taken (and cleared) then: the request's own map, once its head
    /// is encoded, so that an exchange allocates no map. It is left alone
    /// when no final answer arrives.
    pub async fn exchange(
        &mut self,
        head: &[u8],
        body: &mut RequestBody,
        method: &Method,
        send_timeout: Duration,
        read_timeout: Duration,
        fields: &mut HeaderMap,
    ) -> Result<AnswerHead, ExchangeError> {
        self.requests += 1;
        let framing = request_framing(method, body);
        let mut state = Exchange {
            head,
            written: 0,
            pending: Bytes::new(),
            framing,
            body_done: framing == Framing::None,
            finished: false,
            answered: false,
            body_taken: false,
            sent_at: None,
            stall_from: None,
            timer: None,
            deadline: None,
        };
        let timeouts = (send_timeout, read_timeout);
        let answer =
            poll_fn(|cx| self.poll_exchange(cx, &mut state, body, timeouts, fields)).await?;
        let keep_alive = answer.keep_alive && state.body_done && state.finished;
        Ok(AnswerHead {
            keep_alive,
            ..answer
        })
    }

    fn poll_exchange(
        &mut self,
        cx: &mut Context<'_>,
        st: &mut Exchange<'_>,
        body: &mut RequestBody,
        (send_timeout, read_timeout): (Duration, Duration),
        fields: &mut HeaderMap,
    ) -> Poll<Result<AnswerHead, ExchangeError>> {
        loop {
            // Send what can be sent.
            let wrote = self.poll_send(cx, st, body)?;
            // Read what has come.
            match self.poll_head(cx, st, fields)? {
                Poll::Ready(Some(answer)) => return Poll::Ready(Ok(answer)),
                Poll::Ready(None) => continue, // an interim 1xx answer was skipped
                Poll::Pending => {}
            }
            if wrote {
                continue;
            }
            // Nothing moved: the right timer decides how long that may last.
            // The clock is read only here, when the exchange first waits
            // after a change: the sending and the waiting happened within
            // this poll, so that is when the request was sent (or stalled).
            let deadline = if st.body_done && st.finished {
                let sent_at = *st.sent_at.get_or_insert_with(Instant::now);
                Some((sent_at + read_timeout, "proxy_read_timeout"))
            } else if st.has_output() {
                let stalled = *st.stall_from.get_or_insert_with(Instant::now);
                Some((stalled + send_timeout, "proxy_send_timeout"))
            } else {
                None // waiting for the client's body
            };
            if let Some((at, which)) = deadline {
                if st.deadline != Some(at) {
                    match &mut st.timer {
                        Some(timer) => timer.as_mut().reset(at),
                        None => st.timer = Some(Box::pin(tokio::time::sleep_until(at))),
                    }
                    st.deadline = Some(at);
                }
                if let Some(timer) = &mut st.timer
                    && timer.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(ExchangeError::Timeout(which)));
                }
            }
            return Poll::Pending;
        }
    }

    /// Writes the head and body as far as the socket takes them; `true`
    /// when some bytes were written.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        st: &mut Exchange<'_>,
        body: &mut RequestBody,
    ) -> Result<bool, ExchangeError> {
        let mut wrote = false;
        loop {
            if st.written < st.head.len() {
                // Head and the next body piece in one write when possible.
                if st.pending.is_empty() && !st.body_done {
                    // Ready or not, the head goes now.
                    let _ = self.next_piece(cx, st, body)?;
                }
                let bufs = [
                    io::IoSlice::new(&st.head[st.written..]),
                    io::IoSlice::new(&st.pending),
                ];
                match Pin::new(&mut self.io).poll_write_vectored(cx, &bufs) {
                    Poll::Ready(Ok(0)) => return Err(st.io_error(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        let head_part = n.min(st.head.len() - st.written);
                        st.written += head_part;
                        st.pending.advance(n - head_part);
                        st.progress();
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => return Err(st.io_error(e)),
                    Poll::Pending => return Ok(wrote),
                }
                continue;
            }
            if !st.pending.is_empty() {
                match Pin::new(&mut self.io).poll_write(cx, &st.pending) {
                    Poll::Ready(Ok(0)) => return Err(st.io_error(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        st.pending.advance(n);
                        st.progress();
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => return Err(st.io_error(e)),
                    Poll::Pending => return Ok(wrote),
                }
                continue;
            }
            if st.body_done {
                if !st.finished {
                    match Pin::new(&mut self.io).poll_flush(cx) {
                        Poll::Ready(Ok(())) => st.finished = true,
                        Poll::Ready(Err(e)) => return Err(st.io_error(e)),
                        Poll::Pending => return Ok(wrote),
                    }
                }
                return Ok(wrote);
            }
            match self.next_piece(cx, st, body)? {
                Poll::Ready(()) => continue,
                Poll::Pending => return Ok(wrote),
            }
        }
    }

    /// Takes the body's next piece into `st.pending`, framed.
    fn next_piece(
        &mut self,
        cx: &mut Context<'_>,
        st: &mut Exchange<'_>,
        body: &mut RequestBody,
    ) -> Result<Poll<()>, ExchangeError> {
        let frame = match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Pending => {
                // Waiting for the client: not the target's stall.
                st.stall_from = None;
                return Ok(Poll::Pending);
            }
            Poll::Ready(frame) => frame,
        };
        match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => {
                    st.body_taken = true;
                    st.pending = match st.framing {
                        Framing::Chunked => {
                            let mut chunk = BytesMut::with_capacity(data.len() + 12);
                            push_hex(&mut chunk, data.len());
                            chunk.extend_from_slice(b"\r\n");
                            chunk.extend_from_slice(&data);
                            chunk.extend_from_slice(b"\r\n");
                            chunk.freeze()
                        }
                        _ => data,
                    };
                }
                // Trailers end the body: in a chunked one they follow the
                // last chunk; a body of known length cannot carry them.
                Err(frame) => {
                    st.body_done = true;
                    if st.framing == Framing::Chunked {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        st.pending = last_chunk(&trailers);
                    }
                }
            },
            Some(Err(e)) => return Err(ExchangeError::ClientBody(e.to_string())),
            None => {
                st.body_done = true;
                if st.framing == Framing::Chunked {
                    st.pending = Bytes::from_static(b"0\r\n\r\n");
                }
            }
        }
        Ok(Poll::Ready(()))
    }

    /// Reads until an answer head is complete; `Ready(None)` after an
    /// interim (1xx) answer was skipped.
    fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        st: &mut Exchange<'_>,
        fields: &mut HeaderMap,
    ) -> Result<Poll<Option<AnswerHead>>, ExchangeError> {
        loop {
            if !self.rbuf.is_empty() {
                st.answered = true;
                if let Some(answer) = parse_answer_head(&mut self.rbuf, fields)? {
                    if is_interim(answer.parts.status) {
                        return Ok(Poll::Ready(None));
                    }
                    return Ok(Poll::Ready(Some(answer)));
                }
                if self.rbuf.len() >= MAX_HEAD {
                    return Err(ExchangeError::Invalid("answer head over 32 KiB"));
                }
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0)) => {
                    let eof = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the target closed the connection",
                    );
                    return Err(st.io_error(eof));
                }
                Poll::Ready(Ok(_)) => continue,
                Poll::Ready(Err(e)) => return Err(st.io_error(e)),
                Poll::Pending => return Ok(Poll::Pending),
            }
        }
    }

    /// Reads more bytes into the buffer (at most `read_ahead` held). The
    /// room left shrinks as answers are taken from its front; below
    /// [`READ_CHUNK`] it is renewed (in place once those are written), so
    /// that an answer of a few KiB is not cut into two reads by a sliver
    /// of room.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK {
            self.rbuf.reserve(self.read_ahead.min(64 * 1024));
        }
        let spare = self.rbuf.spare_capacity_mut();
        let mut buf = ReadBuf::uninit(spare);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        // SAFETY: `poll_read` initialised `n` bytes of the spare capacity.
        unsafe { self.rbuf.set_len(self.rbuf.len() + n) };
        Poll::Ready(Ok(n))
    }

    /// Whether an idle pooled connection still looks usable: a cleartext
    /// socket with nothing to read and not closed by the target.
    pub fn looks_alive(&self) -> bool {
        if !self.rbuf.is_empty() {
            return false;
        }
        match &self.io {
            UpstreamIo::Plain(s) => {
                let mut probe = [0u8; 1];
                matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            UpstreamIo::Tls(_) => true,
        }
    }

    /// The connection for a tunnel (after a 101): the socket and what was
    /// read past the answer's head.
    pub fn into_upgraded(self) -> Upgraded {
        Upgraded {
            io: self.io,
            pending: self.rbuf.freeze(),
        }
    }
}

/// The state of one request being sent.
struct Exchange<'a> {
    head: &'a [u8],
    written: usize,
    /// Body bytes (framed) waiting to be written.
    pending: Bytes,
    framing: Framing,
    body_done: bool,
    /// Everything written and flushed.
    finished: bool,
    answered: bool,
    body_taken: bool,
    /// When the request was all written (stamped when first waited on).
    sent_at: Option<Instant>,
    /// Since when the target has not taken what we have to write; `None`
    /// while it takes it (stamped when the exchange next waits).
    stall_from: Option<Instant>,
    /// The timer of `deadline`, made when the exchange first waits.
    timer: Option<Pin<Box<Sleep>>>,
    deadline: Option<Instant>,
}

impl Exchange<'_> {
    fn has_output(&self) -> bool {
        self.written < self.head.len()
            || !self.pending.is_empty()
            || (self.body_done && !self.finished)
    }

    fn progress(&mut self) {
        self.stall_from = None;
    }

    fn io_error(&self, source: io::Error) -> ExchangeError {
        ExchangeError::Io {
            source,
            answered: self.answered,
            sent: self.written > 0,
            body_taken: self.body_taken,
        }
    }
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
fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

/// How the request body goes on the wire: its exact length when known,
/// chunked otherwise; nothing for a body-less method without a body.
fn request_framing(method: &Method, body: &RequestBody) -> Framing {
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
fn last_chunk(trailers: &HeaderMap) -> Bytes {
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

/// The answer's framing fields (`Connection`, `Transfer-Encoding`,
/// `Content-Length`), gathered in the one pass that builds its header map.
#[derive(Debug)]
struct FramingFields {
    /// A `Connection: close` token.
    close: bool,
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
    fn see(&mut self, name: &HeaderName, value: &HeaderValue) {
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
    fn decide(
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

/// The body of an answer, read from its connection; at its end the
/// connection goes back to `pool` when it can carry another request.
#[derive(Debug)]
pub struct H1Body {
    conn: Option<H1Conn>,
    pool: Arc<Pool>,
    state: Decode,
    keep_alive: bool,
    timer: IdleTimer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    /// `n` more bytes.
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// `n` more bytes of the current chunk, then CRLF.
    ChunkData(u64),
    /// The CRLF after a chunk.
    ChunkEnd,
    /// Trailer fields after the last chunk.
    Trailers,
    /// Until the target closes.
    UntilClose,
    /// Finished.
    Done,
}

impl H1Body {
    /// The body of `head` on `conn` (a HEAD request's answer has none).
    pub fn new(
        conn: H1Conn,
        pool: Arc<Pool>,
        head: &AnswerHead,
        method: &Method,
        read_timeout: Duration,
    ) -> H1Body {
        let state = match head.body {
            _ if *method == Method::HEAD => Decode::Done,
            BodyFraming::Empty => Decode::Done,
            BodyFraming::Length(n) => Decode::Length(n),
            BodyFraming::Chunked => Decode::ChunkSize,
            BodyFraming::UntilClose => Decode::UntilClose,
        };
        let mut body = H1Body {
            conn: Some(conn),
            pool,
            state,
            keep_alive: head.keep_alive,
            timer: IdleTimer::new(read_timeout),
        };
        if state == Decode::Done {
            body.finish();
        }
        body
    }

    /// The end of the body: the connection is reused when it can be.
    fn finish(&mut self) {
        self.state = Decode::Done;
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && conn.rbuf.is_empty()
        {
            self.pool.put_back_h1(conn);
        }
    }

    fn fail(&mut self, why: &'static str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        self.state = Decode::Done;
        Poll::Ready(Some(Err(why.into())))
    }
}

use super::body::BoxError;

impl Body for H1Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.state {
                Decode::Done => return Poll::Ready(None),
                Decode::Length(left) | Decode::ChunkData(left) if !conn.rbuf.is_empty() => {
                    let n = (conn.rbuf.len() as u64).min(left) as usize;
                    let data = conn.rbuf.split_to(n).freeze();
                    let left = left - n as u64;
                    this.timer.activity();
                    match this.state {
                        Decode::Length(_) if left == 0 => this.finish(),
                        Decode::Length(_) => this.state = Decode::Length(left),
                        _ if left == 0 => this.state = Decode::ChunkEnd,
                        _ => this.state = Decode::ChunkData(left),
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decode::UntilClose if !conn.rbuf.is_empty() => {
                    let data = conn.rbuf.split().freeze();
                    this.timer.activity();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decode::ChunkSize | Decode::ChunkEnd | Decode::Trailers => {
                    if let Some(line_end) = memchr::memchr(b'\n', &conn.rbuf) {
                        let line = conn.rbuf.split_to(line_end + 1);
                        let line = line.strip_suffix(b"\n").unwrap_or(&line);
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        match this.state {
                            Decode::ChunkEnd if line.is_empty() => this.state = Decode::ChunkSize,
                            Decode::ChunkEnd => return this.fail("bad chunk end"),
                            Decode::ChunkSize => match chunk_size(line) {
                                Some(0) => this.state = Decode::Trailers,
                                Some(n) => this.state = Decode::ChunkData(n),
                                None => return this.fail("bad chunk size"),
                            },
                            _ if line.is_empty() => {
                                this.finish();
                                return Poll::Ready(None);
                            }
                            // Trailer fields of an HTTP/1.1 target are dropped.
                            _ => {}
                        }
                        continue;
                    }
                    if conn.rbuf.len() > 8 * 1024 {
                        return this.fail("chunk framing line too long");
                    }
                }
                _ => {}
            }
            // Need more bytes.
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match conn.poll_fill(cx) {
                Poll::Ready(Ok(0)) => {
                    if this.state == Decode::UntilClose {
                        this.keep_alive = false;
                        this.finish();
                        return Poll::Ready(None);
                    }
                    return this
                        .fail("the target closed the connection before the end of the body");
                }
                Poll::Ready(Ok(_)) => this.timer.activity(),
                Poll::Ready(Err(e)) => {
                    this.conn = None;
                    this.state = Decode::Done;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Pending => {
                    if this.timer.poll_expired(cx) {
                        return this.fail("upstream read timed out (proxy_read_timeout)");
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == Decode::Done
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            Decode::Done => SizeHint::with_exact(0),
            Decode::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

/// The size of a chunk-size line (hex, extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?;
    let digits = std::str::from_utf8(digits)
        .ok()?
        .trim_end_matches([' ', '\t']);
    // Hex digits only: `from_str_radix` would take a sign (`+5`).
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// A target connection after a 101: its socket, with the bytes read past
/// the answer's head replayed first.
#[derive(Debug)]
pub struct Upgraded {
    io: UpstreamIo,
    pending: Bytes,
}

impl AsyncRead for Upgraded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending[..n]);
            this.pending.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
