//! A client's request body as hyper delivers it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// How long an HTTP/2 stream whose body was left unread stays open after
/// its answer: long enough for a client to read the answer before the
/// reset, short enough that the data it may still send (at most the
/// stream's flow-control window, never released) is held briefly.
pub(super) const RESET_DELAY: Duration = Duration::from_millis(500);

/// The request body of one of hyper's requests.
///
/// Dropping an HTTP/2 body before its end resets the stream
/// (`RST_STREAM NO_ERROR`, RFC 9113 §8.1: the answer is complete, stop
/// sending). The HTTP/2 library writes that reset in the same write as an
/// answer sent at once, such as a 413 for a too-large `Content-Length`,
/// and a client that is still uploading can see the stream closed before
/// it reads the answer: curl 7.88 then fails with "Stream error in the
/// HTTP/2 framing layer" instead of showing the 413. So an unfinished
/// HTTP/2 body is dropped [`RESET_DELAY`] later, from a task of its own,
/// after the answer has left; nginx's reset likewise follows its answer.
/// An HTTP/1.1 body is dropped at once (the connection's lingering close
/// handles that case).
#[derive(Debug)]
pub enum IncomingBody {
    /// Dropped at once: an HTTP/1.1 body, or an HTTP/2 stream the client
    /// had already ended.
    Plain(Incoming),
    /// An HTTP/2 stream still open, whose reset is delayed. Boxed (`None`
    /// only while being dropped) so that this type stays the size of
    /// `Incoming`: it moves with every request's future, and eight bytes
    /// more cost about 2% more instructions per HTTP/1.1 request.
    Http2(Option<Box<Incoming>>),
}

impl IncomingBody {
    /// A body from an HTTP/1.1 connection.
    pub fn http1(body: Incoming) -> Self {
        IncomingBody::Plain(body)
    }

    /// A body from an HTTP/2 stream.
    pub fn http2(body: Incoming) -> Self {
        if body.is_end_stream() {
            IncomingBody::Plain(body)
        } else {
            IncomingBody::Http2(Some(Box::new(body)))
        }
    }

    fn inner(&self) -> Option<&Incoming> {
        match self {
            IncomingBody::Plain(body) => Some(body),
            IncomingBody::Http2(body) => body.as_deref(),
        }
    }
}

impl Body for IncomingBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let body = match self.get_mut() {
            IncomingBody::Plain(body) => body,
            IncomingBody::Http2(Some(body)) => body.as_mut(),
            IncomingBody::Http2(None) => return Poll::Ready(None),
        };
        Pin::new(body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for IncomingBody {
    fn drop(&mut self) {
        let IncomingBody::Http2(slot) = self else {
            return;
        };
        let Some(body) = slot.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // Outside a runtime (never, in stgw) the body is simply dropped.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(RESET_DELAY).await;
                drop(body);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_and_the_client_body_are_the_size_of_hypers_body() {
        let incoming = std::mem::size_of::<Incoming>();
        assert_eq!(std::mem::size_of::<IncomingBody>(), incoming);
        assert_eq!(std::mem::size_of::<crate::proxy::ClientBody>(), incoming);
    }
}
