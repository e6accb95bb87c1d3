//! An answer's body ([`H1Body`]): by length, chunked or until the target
//! closes; at its end the connection goes back to its pool.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body::{Body, Frame, SizeHint};

use crate::idle::IdleTimer;
use crate::upstream::body::BoxError;
use crate::upstream::pool::Pool;

use super::answer::{AnswerHead, BodyFraming};
use super::conn::H1Conn;

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
pub(super) fn chunk_size(line: &[u8]) -> Option<u64> {
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
