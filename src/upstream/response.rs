//! A target's answer body, whichever protocol carried it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::h1::H1Body;
use crate::idle::IdleTimer;

use super::body::BoxError;

/// A target's answer body: HTTP/1.1 (stgw's client; its connection goes
/// back to the pool at the end) or HTTP/2 (a stream of the shared
/// connection), read with `proxy_read_timeout` between pieces.
#[derive(Debug)]
pub enum UpstreamBody {
    /// From an HTTP/1.1 target.
    H1(H1Body),
    /// From an HTTP/2 target.
    H2 {
        /// The stream.
        body: Incoming,
        /// `proxy_read_timeout` between pieces.
        timer: IdleTimer,
    },
}

impl UpstreamBody {
    /// An HTTP/2 answer body.
    pub fn h2(body: Incoming, read_timeout: Duration) -> UpstreamBody {
        UpstreamBody::H2 {
            body,
            timer: IdleTimer::new(read_timeout),
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            UpstreamBody::H1(b) => Pin::new(b).poll_frame(cx),
            UpstreamBody::H2 { body, timer } => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    timer.activity();
                    Poll::Ready(Some(Ok(frame)))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending if timer.poll_expired(cx) => Poll::Ready(Some(Err(
                    "upstream read timed out (proxy_read_timeout)".into(),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::H1(b) => b.is_end_stream(),
            UpstreamBody::H2 { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::H1(b) => b.size_hint(),
            UpstreamBody::H2 { body, .. } => body.size_hint(),
        }
    }
}
