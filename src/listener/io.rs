//! The client socket as the HTTP servers see it: bytes read before hyper
//! took the connection over are replayed, reads and blocked writes are
//! time-stamped for the connection's timeouts, and a connection closing
//! after an early answer lingers (reads and discards) so the client can
//! read that answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::conn::ConnState;
use super::head_scan::{HeadScan, Verdict};

/// How long a closing connection keeps reading and discarding (nginx's
/// lingering_timeout of 5 s).
pub(super) const LINGER: Duration = Duration::from_secs(5);

/// A client connection's byte stream.
#[derive(Debug)]
pub struct ClientIo<T> {
    inner: T,
    /// Bytes read through this wrapper already (stamped and scanned), to
    /// be read again first.
    replay: Bytes,
    state: Arc<ConnState>,
    linger: Linger,
    scan: HeadScan,
    /// An answer stgw writes itself before closing (a refused head).
    refusal: Option<Bytes>,
}

#[derive(Debug)]
enum Linger {
    No,
    Draining(Pin<Box<Sleep>>),
    Done,
}

impl<T> ClientIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, state: Arc<ConnState>) -> ClientIo<T> {
        ClientIo {
            inner,
            replay: Bytes::new(),
            state,
            linger: Linger::No,
            scan: HeadScan::default(),
            refusal: None,
        }
    }

    /// The same stream, replaying `bytes` (read through it already, and
    /// not consumed) before reading on: a connection stgw's own server
    /// hands to hyper.
    pub fn replayed(mut self, bytes: Bytes) -> ClientIo<T> {
        debug_assert!(self.replay.is_empty());
        self.replay = bytes;
        self
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for ClientIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            return this.poll_refuse(cx);
        }
        if crate::read_ahead::serve_pending(&mut this.replay, buf) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if buf.filled().len() == before {
            return Poll::Ready(Ok(()));
        }
        if !this.state.is_h2() {
            if this.state.head_expected() {
                this.scan.start();
            }
            if this.scan.active()
                && let Verdict::Refuse(status) = this.scan.feed(&buf.filled()[before..])
            {
                // hyper never sees these bytes: stgw answers and closes.
                buf.set_filled(before);
                this.refusal = Some(refusal(status));
                this.state.refused(status);
                return this.poll_refuse(cx);
            }
        }
        this.state.on_read();
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> ClientIo<T> {
    /// Writes the refusal, shuts down, and reports end of stream to hyper.
    fn poll_refuse(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.refusal.as_mut().filter(|r| !r.is_empty()) {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rest.advance(n);
        }
        std::task::ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        // The client is still sending the refused head: closing now would
        // reset the answer away.
        self.poll_close(cx, true)
    }

    /// Shuts down the write side; with `drain` (the client may still be
    /// sending), then reads and discards until the client closes or
    /// [`LINGER`] passes, as nginx's lingering close does.
    fn poll_close(&mut self, cx: &mut Context<'_>, drain: bool) -> Poll<io::Result<()>> {
        loop {
            match &mut self.linger {
                Linger::No if drain => {
                    // Send our FIN first, then drain what the client still sends.
                    std::task::ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
                    self.linger = Linger::Draining(Box::pin(tokio::time::sleep(LINGER)));
                }
                Linger::No => return Pin::new(&mut self.inner).poll_shutdown(cx),
                Linger::Done => return Poll::Ready(Ok(())),
                Linger::Draining(timer) => {
                    if timer.as_mut().poll(cx).is_ready() {
                        self.linger = Linger::Done;
                        return Poll::Ready(Ok(()));
                    }
                    let mut scratch = [0u8; 4096];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                        Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                            self.linger = Linger::Done;
                            return Poll::Ready(Ok(()));
                        }
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(_)) => {
                            self.linger = Linger::Done;
                            return Poll::Ready(Ok(()));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
}

/// The bytes of a refusal: status line, headers, nginx-like page.
fn refusal(status: u16) -> Bytes {
    let code = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    let body = crate::proxy::error::status_page(code);
    let head = format!(
        "HTTP/1.1 {} {}\r\nServer: stgw\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        code.as_u16(),
        code.canonical_reason().unwrap_or(""),
        body.len()
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&body);
    Bytes::from(out)
}

impl<T: AsyncWrite + AsyncRead + Unpin> AsyncWrite for ClientIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, data);
        this.state.on_write(res.is_pending());
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.state.on_write(res.is_pending());
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_flush(cx);
        this.state.on_write(res.is_pending());
        res
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let drain = this.state.lingers();
        this.poll_close(cx, drain)
    }
}
