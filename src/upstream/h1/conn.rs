//! One HTTP/1.1 connection to a target ([`H1Conn`]): sending a request and
//! reading its answer's head from the request's own task.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::Method;
use http::header::HeaderMap;
use http_body::Body;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::upstream::RequestBody;

use super::answer::{AnswerHead, is_interim, parse_answer_head};
use super::io::{Upgraded, UpstreamIo};
use super::request::{Framing, last_chunk, push_hex, request_framing};
use super::{MAX_HEAD, READ_CHUNK};

/// One HTTP/1.1 connection to a target.
#[derive(Debug)]
pub struct H1Conn {
    pub(super) io: UpstreamIo,
    pub(super) rbuf: BytesMut,
    /// Most bytes read ahead of a slower client (`proxy_buffers`).
    read_ahead: usize,
    /// Requests sent on this connection so far.
    pub(in crate::upstream) requests: u32,
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

    /// Writes `head` (from [`encode_head`](super::encode_head)) and `body`, and reads the
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
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
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
