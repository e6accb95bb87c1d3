//! The client socket as hyper sees it: bytes sniffed before hyper started
//! are replayed, reads and blocked writes are time-stamped for the
//! connection's timeouts, and a connection closing after an early answer
//! lingers (reads and discards) so the client can read that answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::conn::ConnState;

/// How long a closing connection keeps reading and discarding (nginx's
/// lingering_timeout of 5 s).
pub const LINGER: Duration = Duration::from_secs(5);

/// A client connection's byte stream.
#[derive(Debug)]
pub struct ClientIo<T> {
    inner: T,
    prefix: Bytes,
    state: Arc<ConnState>,
    linger: Linger,
}

#[derive(Debug)]
enum Linger {
    No,
    Draining(Pin<Box<Sleep>>),
    Done,
}

impl<T> ClientIo<T> {
    /// Wraps `inner`; `prefix` holds bytes already read from it.
    pub fn new(inner: T, prefix: Bytes, state: Arc<ConnState>) -> ClientIo<T> {
        ClientIo {
            inner,
            prefix,
            state,
            linger: Linger::No,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClientIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            if this.prefix.is_empty() {
                // Free the sniffing buffer rather than keep it per connection.
                this.prefix = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.state.on_read();
        }
        res
    }
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
        loop {
            match &mut this.linger {
                Linger::No if this.state.lingers() => {
                    // Send our FIN first, then drain what the client still sends.
                    std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    this.linger = Linger::Draining(Box::pin(tokio::time::sleep(LINGER)));
                }
                Linger::No => return Pin::new(&mut this.inner).poll_shutdown(cx),
                Linger::Done => return Poll::Ready(Ok(())),
                Linger::Draining(timer) => {
                    if timer.as_mut().poll(cx).is_ready() {
                        this.linger = Linger::Done;
                        return Poll::Ready(Ok(()));
                    }
                    let mut scratch = [0u8; 4096];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                        Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                            this.linger = Linger::Done;
                            return Poll::Ready(Ok(()));
                        }
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(_)) => {
                            this.linger = Linger::Done;
                            return Poll::Ready(Ok(()));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
}
