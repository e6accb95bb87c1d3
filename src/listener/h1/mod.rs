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
//! answer usually leaves in one write, in one TCP segment: a larger body
//! piece waits for the next one ready, and a head whose body has not
//! arrived waits one turn of the runtime for it (as nginx postpones
//! output). There is no dispatcher, no second buffer and no per-request
//! task: the request's future is polled right here, watching the client
//! for a close meanwhile (as hyper does).
//!
//! HTTP/1.0 requests are served here too, with an HTTP/1.1 status line as
//! nginx answers them, keep-alive only when asked for, and a body of
//! unknown length ended by closing the connection.
//!
//! Any other head — a chunked, larger or unfinished body (hyper then
//! applies `client_body_timeout`), an upgrade, another method,
//! more than 64 fields, a head over 8 KiB or one httparse refuses — is
//! handed to hyper together with every byte read and not yet consumed, and
//! hyper serves the rest of the connection: its answers (400, 431,
//! 100-continue, upgrades, request bodies) are unchanged. A request line
//! the parsers refuse and nginx takes (`HTTP/1.2`; a target with bytes a
//! URI may not hold) is mended first ([`head::mend_request_line`]),
//! whichever server then takes the request.

mod date;
pub mod head;

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{Method, Version};
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
/// Less than this waiting to be written (a head, say) is held back for a
/// moment when the body's next bytes are not there yet, so that the two
/// leave in one segment (nginx's `postpone_output 1460`).
const POSTPONE: usize = 1460;
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
                    // Parsed again (here, or by hyper) once mended.
                    Parsed::Hyper if head::mend_request_line(&mut buf) => continue,
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
        let answering = head::Answering {
            head: parts.method == Method::HEAD,
            http10: parts.version == Version::HTTP_10,
        };
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
        let encoded = head::encode(&mut out, &mut parts, body_size(&body), answering, closing);
        storage = Some(parts.headers);
        if send(&mut io, &mut out, &mut buf, body, encoded.framing)
            .await
            .is_err()
        {
            return Outcome::Closed;
        }
        if encoded.last || conn.state.close_asked() {
            // Over TLS the shutdown sends close_notify, and a connection
            // that answered early lingers first (ClientIo). Otherwise
            // closing the socket sends the FIN a shutdown would, in one
            // system call instead of two. (Here, not in ClientIo: a
            // tunnel's half-close needs the shutdown itself.)
            if conn.tls.is_some() || conn.state.lingers() {
                let _ = io.shutdown().await;
            }
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
    // A body piece too large to copy into `out`, waiting to be written
    // right after it (a `Content-Length` body's only).
    let mut held = Bytes::new();
    let mut left = match framing {
        Framing::None => {
            drop(body);
            return flush_waiting(io, out, &mut held).await;
        }
        Framing::Length(n) => n,
        Framing::Chunked | Framing::UntilClose => u64::MAX,
    };
    // What waits was held back once already for data about to arrive.
    let mut held_back = false;
    loop {
        // A frame ready now joins what is waiting; else what is waiting
        // goes out before the wait.
        let frame = match poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await {
            Poll::Ready(frame) => frame,
            Poll::Pending
                if !held_back && held.is_empty() && !out.is_empty() && out.len() < POSTPONE =>
            {
                // A target often writes its head and its body separately:
                // the body may be in the socket already, unseen until the
                // runtime next polls for I/O, which yielding lets it do.
                // Head and body then leave together.
                held_back = true;
                tokio::task::yield_now().await;
                continue;
            }
            Poll::Pending => {
                held_back = false;
                flush_waiting(io, out, &mut held).await?;
                let next = pin!(poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)));
                while_connected(io, buf, next)
                    .await
                    .ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionReset))?
            }
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                // The target cut its answer short: what was held back for
                // coalescing still goes out (the head, a first piece), so
                // the client sees a truncated answer, not an empty reply
                // that hides that the request reached the target (as
                // nginx does).
                let _ = flush_waiting(io, out, &mut held).await;
                return Err(io::Error::other(e));
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are not sent over HTTP/1.1.
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        if framing == Framing::Chunked {
            put_chunk(io, out, &data).await?;
            continue;
        }
        if data.len() as u64 > left {
            return Err(io::Error::other("answer body longer than announced"));
        }
        left -= data.len() as u64;
        if !held.is_empty() {
            write_waiting(io, out, &mut held, &data).await?;
        } else if out.len() + data.len() <= COALESCE {
            out.extend_from_slice(&data);
        } else {
            // Not written yet: the next piece may be ready too (a target's
            // answer often takes two reads), and then all leave in one
            // write, in one segment.
            held = data;
        }
    }
    drop(body);
    match framing {
        Framing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        Framing::Length(_) if left != 0 => {
            return Err(io::Error::other("answer body shorter than announced"));
        }
        _ => {}
    }
    flush_waiting(io, out, &mut held).await
}

/// Writes what waits (`out`, then `held`), empties both, and flushes.
async fn flush_waiting<T>(
    io: &mut ClientIo<T>,
    out: &mut Vec<u8>,
    held: &mut Bytes,
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    write_waiting(io, out, held, &[]).await?;
    io.flush().await
}

/// Writes what waits (`out`, then `held`) and `more` after it, in one
/// vectored write where it can; empties `out` and `held`.
async fn write_waiting<T>(
    io: &mut ClientIo<T>,
    out: &mut Vec<u8>,
    held: &mut Bytes,
    more: &[u8],
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    write_slices(io, [out, held, more]).await?;
    out.clear();
    *held = Bytes::new();
    Ok(())
}

/// Adds `data` to what waits in `out` as one chunk: copied while both fit
/// in [`COALESCE`], else written together with it (one vectored write).
async fn put_chunk<T>(io: &mut ClientIo<T>, out: &mut Vec<u8>, data: &[u8]) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    push_hex(out, data.len());
    out.extend_from_slice(b"\r\n");
    if out.len() + data.len() <= COALESCE {
        out.extend_from_slice(data);
    } else {
        write_slices(io, [out, data, &[]]).await?;
        out.clear();
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes all of `parts` in order, in vectored writes where the stream
/// takes them (an empty part is skipped).
async fn write_slices<T>(io: &mut ClientIo<T>, mut parts: [&[u8]; 3]) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    if !io.is_write_vectored() {
        for part in parts {
            io.write_all(part).await?;
        }
        return Ok(());
    }
    while parts.iter().any(|part| !part.is_empty()) {
        let slices = parts.map(io::IoSlice::new);
        let mut n =
            poll_fn(|cx: &mut Context<'_>| Pin::new(&mut *io).poll_write_vectored(cx, &slices))
                .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        for part in &mut parts {
            let taken = n.min(part.len());
            *part = &part[taken..];
            n -= taken;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::conn::ConnState;

    /// A client stream that takes at most `most` bytes per write, and
    /// records the bytes and the number of writes.
    struct Chunky {
        most: usize,
        record: Arc<std::sync::Mutex<(Vec<u8>, usize)>>,
    }

    impl AsyncRead for Chunky {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Chunky {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            slices: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut record = self.record.lock().expect("not poisoned");
            record.1 += 1;
            let mut room = self.most;
            for slice in slices {
                let taken = room.min(slice.len());
                record.0.extend_from_slice(&slice[..taken]);
                room -= taken;
            }
            Poll::Ready(Ok(self.most - room))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    async fn written(most: usize, parts: [&[u8]; 3]) -> (Vec<u8>, usize) {
        let record = Arc::default();
        let chunky = Chunky {
            most,
            record: Arc::clone(&record),
        };
        let mut io = ClientIo::new(chunky, Arc::new(ConnState::new()));
        write_slices(&mut io, parts).await.expect("written");
        let record = record.lock().expect("not poisoned");
        record.clone()
    }

    #[tokio::test]
    async fn a_head_and_two_body_pieces_leave_in_one_write() {
        let (bytes, writes) = written(1 << 20, [b"head;", b"first piece;", b"second"]).await;
        assert_eq!(bytes, b"head;first piece;second");
        assert_eq!(writes, 1);
    }

    #[tokio::test]
    async fn short_writes_resume_inside_any_part_and_skip_empty_ones() {
        let (bytes, writes) = written(3, [b"abcd", b"", b"efghijk"]).await;
        assert_eq!(bytes, b"abcdefghijk");
        assert_eq!(writes, 4);
        let (bytes, _) = written(5, [b"", b"ab", b"cdefgh"]).await;
        assert_eq!(bytes, b"abcdefgh");
    }
}
