//! stgw's own HTTP/1.1 server, for the requests that make most traffic:
//! GET and HEAD without a body, upgrade or `Expect`, and small bodies.
//!
//! POST, PUT, PATCH, DELETE and OPTIONS are taken too when their body has
//! a `Content-Length` and arrived whole with the head (as a small body
//! usually does), within the read buffer: it is passed on as it is, as
//! nginx's request buffering would.
//!
//! Such a request is parsed in place in the connection's one read buffer
//! (field values are slices of it) and its answer head is encoded into a
//! reused write buffer, with small bodies copied next to it so that an
//! answer usually leaves in one write. There is no dispatcher, no second
//! buffer and no per-request task: the request's future is polled right
//! here, watching the client for a close meanwhile (as hyper does).
//!
//! Any other head — a chunked, larger or unfinished body (hyper then
//! applies `client_body_timeout`), an upgrade, HTTP/1.0, another method,
//! more than 64 fields, a head over 8 KiB or one httparse refuses — is
//! handed to hyper together with every byte read and not yet consumed, and
//! hyper serves the rest of the connection: its answers (400, 431,
//! 100-continue, upgrades, request bodies) are unchanged.

mod date;
pub mod head;

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::Method;
use http_body::Body;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::ClientConn;
use super::io::ClientIo;
use crate::proxy::{self, ClientBody, ResponseBody};
use crate::upstream::h1::push_hex;
use head::{BodySize, Framing, Parsed};

/// The read buffer's size for a request that starts: most heads fit
/// (nginx's `client_header_buffer_size 1k`), and an idle keep-alive
/// connection holds no more.
const FIRST_READ: usize = 1024;
/// The most the read buffer grows to for a longer request, and the
/// longest request (head and body) served here (longer heads go to
/// hyper, which allows 40 KiB).
const READ_BUF: usize = head::MAX_REQUEST;
/// The least room a read into an unfinished head is given; with less,
/// the buffer grows to [`READ_BUF`].
const MIN_READ: usize = 512;
/// Body data is copied next to what is waiting to be written while the
/// two fit in this much; larger data is written from where it is.
const COALESCE: usize = 8 * 1024;
/// The write buffer's first size: most answer heads, with a small body.
const FIRST_OUT: usize = 1024;
/// A write buffer grown past this by a large head is not kept.
const KEEP_OUT: usize = 64 * 1024;

/// The HTTP/2 connection preface a prior-knowledge h2c client starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How [`serve`] ended.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The connection is over: closed by either side, or failed.
    Closed,
    /// A request for hyper: the connection, and the bytes read from it and
    /// not consumed yet (the request's head first), which hyper must see
    /// before anything else it reads.
    Handover(ClientIo<T>, Bytes),
    /// The client speaks HTTP/2 (it began with the h2c preface): the
    /// connection, and the bytes read from it so far.
    H2(ClientIo<T>, Bytes),
}

/// Serves HTTP/1.1 requests on `io` until the connection ends or a
/// request needs hyper. `keep_alive: false` closes after each answer.
/// `sniff_h2`: a cleartext connection, which may begin with the h2c
/// preface instead (HTTP/2 with prior knowledge).
pub async fn serve<T>(
    mut io: ClientIo<T>,
    conn: Arc<ClientConn>,
    keep_alive: bool,
    mut sniff_h2: bool,
) -> Outcome<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::new();
    // The buffer grew past FIRST_READ for a long request.
    let mut grown = false;
    let mut out = Vec::new();
    let mut storage = None;
    loop {
        let (parts, body, close) = loop {
            if sniff_h2 && !buf.is_empty() {
                let n = buf.len().min(H2_PREFACE.len());
                if buf[..n] != H2_PREFACE[..n] {
                    sniff_h2 = false;
                } else if n == H2_PREFACE.len() {
                    return Outcome::H2(io, buf.freeze());
                }
            }
            if !sniff_h2 && !buf.is_empty() {
                match head::parse(&mut buf, &mut storage) {
                    Parsed::Request { parts, body, close } => break (parts, body, close),
                    Parsed::Partial if buf.len() < READ_BUF => {}
                    _ => return Outcome::Handover(io, buf.freeze()),
                }
            }
            if buf.is_empty() {
                if grown {
                    // Not kept for the requests after a long one.
                    buf = BytesMut::new();
                    grown = false;
                }
                // In place once the last request's fields are gone.
                buf.reserve(FIRST_READ);
            } else if buf.capacity() - buf.len() < MIN_READ {
                buf.reserve(READ_BUF.saturating_sub(buf.len()));
                grown = true;
            }
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Outcome::Closed,
                Ok(_) => {}
            }
        };
        if buf.capacity() == 0 {
            // Room to notice the client closing meanwhile (rare: the
            // request filled the buffer to its last byte).
            buf.reserve(MIN_READ);
        }
        let head_request = parts.method == Method::HEAD;
        // Pinned here: the request's future is large, and every move of
        // it would be a copy.
        let body = body.map(ClientBody::Complete);
        let handled = pin!(proxy::handle(conn.clone(), parts, body));
        let Some(Ok(response)) = while_connected(&mut io, &mut buf, handled).await else {
            // The client went away: the request is abandoned.
            return Outcome::Closed;
        };
        let (mut parts, body) = response.into_parts();
        let closing = close || !keep_alive || conn.state.close_asked();
        out.clear();
        out.reserve(FIRST_OUT);
        let encoded = head::encode(
            &mut out,
            &mut parts,
            body_size(&body),
            head_request,
            closing,
        );
        storage = Some(parts.headers);
        if send(&mut io, &mut out, &mut buf, body, encoded.framing)
            .await
            .is_err()
        {
            return Outcome::Closed;
        }
        if encoded.last || conn.state.close_asked() {
            // Lingers first when the answer came early (ClientIo).
            let _ = io.shutdown().await;
            return Outcome::Closed;
        }
        if out.capacity() > KEEP_OUT {
            out = Vec::new();
        }
    }
}

/// What is known of `body`'s size before it is sent.
fn body_size(body: &ResponseBody) -> BodySize {
    if body.is_end_stream() {
        BodySize::Empty
    } else {
        body.size_hint()
            .exact()
            .map_or(BodySize::Unknown, BodySize::Known)
    }
}

/// Runs `task` while watching the client: `None` if it closed (or its
/// connection failed) first. Bytes it sends meanwhile (a pipelined
/// request) are kept in `buf`; watching stops then, as nothing more is
/// read before they are served.
async fn while_connected<T, F>(
    io: &mut ClientIo<T>,
    buf: &mut BytesMut,
    mut task: Pin<&mut F>,
) -> Option<F::Output>
where
    T: AsyncRead + AsyncWrite + Unpin,
    F: Future,
{
    poll_fn(|cx| {
        if let Poll::Ready(output) = task.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if buf.is_empty() && buf.capacity() > 0 {
            match pin!(io.read_buf(&mut *buf)).poll(cx) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(_)) | Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

/// Sends the head waiting in `out` and then `body` as `framing` says. An
/// error leaves the connection unusable (the client's answer is cut
/// short): the client went away, or the body failed, or it did not have
/// the length announced.
async fn send<T>(
    io: &mut ClientIo<T>,
    out: &mut Vec<u8>,
    buf: &mut BytesMut,
    mut body: ResponseBody,
    framing: Framing,
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut left = match framing {
        Framing::None => {
            drop(body);
            return finish(io, out).await;
        }
        Framing::Length(n) => n,
        Framing::Chunked => u64::MAX,
    };
    loop {
        // A frame ready now joins what is waiting; else what is waiting
        // goes out before the wait.
        let frame = match poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                write_all(io, out).await?;
                io.flush().await?;
                let next = pin!(poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)));
                while_connected(io, buf, next)
                    .await
                    .ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionReset))?
            }
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => return Err(io::Error::other(e)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are not sent over HTTP/1.1.
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        let chunked = framing == Framing::Chunked;
        if !chunked {
            if data.len() as u64 > left {
                return Err(io::Error::other("answer body longer than announced"));
            }
            left -= data.len() as u64;
        }
        put(io, out, &data, chunked).await?;
    }
    drop(body);
    match framing {
        Framing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        _ if left != 0 => return Err(io::Error::other("answer body shorter than announced")),
        _ => {}
    }
    finish(io, out).await
}

/// Adds `data` to what waits in `out` (as one chunk when `chunked`):
/// copied while both fit in [`COALESCE`], else written together with it
/// (one vectored write).
async fn put<T>(
    io: &mut ClientIo<T>,
    out: &mut Vec<u8>,
    data: &[u8],
    chunked: bool,
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    if chunked {
        push_hex(out, data.len());
        out.extend_from_slice(b"\r\n");
    }
    if out.len() + data.len() <= COALESCE {
        out.extend_from_slice(data);
    } else {
        write_pair(io, out, data).await?;
        out.clear();
    }
    if chunked {
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Writes what waits in `out` and flushes.
async fn finish<T>(io: &mut ClientIo<T>, out: &mut Vec<u8>) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    write_all(io, out).await?;
    io.flush().await
}

/// Writes all of `out` and empties it.
async fn write_all<T>(io: &mut ClientIo<T>, out: &mut Vec<u8>) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// Writes all of `first` and then all of `second`, in vectored writes
/// where the stream takes them.
async fn write_pair<T>(io: &mut ClientIo<T>, first: &[u8], second: &[u8]) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    if !io.is_write_vectored() {
        io.write_all(first).await?;
        return io.write_all(second).await;
    }
    let (mut first, mut second) = (first, second);
    while !first.is_empty() || !second.is_empty() {
        let slices = [io::IoSlice::new(first), io::IoSlice::new(second)];
        let n = poll_fn(|cx: &mut Context<'_>| Pin::new(&mut *io).poll_write_vectored(cx, &slices))
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_first = n.min(first.len());
        first = &first[from_first..];
        second = &second[n - from_first..];
    }
    Ok(())
}
