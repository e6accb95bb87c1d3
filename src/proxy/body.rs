//! Response bodies towards clients.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::gzip::GzipBody;
use crate::balance::ActiveRequest;
use crate::upstream::UpstreamBody;

/// Boxed error type of bodies.
pub use crate::upstream::BoxError;

/// A response body: stgw's own bytes or a target's stream, possibly
/// compressed.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    guard: Option<Box<dyn Send + Sync + std::fmt::Debug>>,
}

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Upstream(UpstreamStream),
    Gzip(Box<GzipBody<ResponseBody>>),
}

/// A target's response body. Dropped before its end (the client went
/// away), it closes the target connection, or, with
/// `proxy_ignore_client_abort on`, reads the rest in the background.
#[derive(Debug)]
struct UpstreamStream {
    body: Option<UpstreamBody>,
    idle: std::time::Duration,
    active: Option<ActiveRequest>,
    drain_on_drop: bool,
}

impl ResponseBody {
    /// A body of known bytes.
    pub fn full(bytes: Bytes) -> ResponseBody {
        ResponseBody {
            kind: Kind::Full(Some(bytes)).normalized(),
            guard: None,
        }
    }

    /// No body.
    pub fn empty() -> ResponseBody {
        ResponseBody {
            kind: Kind::Full(None),
            guard: None,
        }
    }

    /// A target's body (which bounds each read by `proxy_read_timeout`
    /// itself). With `drain_on_drop`, a body dropped before its end is read
    /// to the end in a background task, giving up after `idle` without
    /// data (`proxy_ignore_client_abort on`).
    pub fn upstream(
        body: UpstreamBody,
        idle: std::time::Duration,
        active: ActiveRequest,
        drain_on_drop: bool,
    ) -> ResponseBody {
        ResponseBody {
            kind: Kind::Upstream(UpstreamStream {
                body: Some(body),
                idle,
                active: Some(active),
                drain_on_drop,
            }),
            guard: None,
        }
    }

    /// Whether this is stgw's own answer (not a target's body).
    pub fn is_own(&self) -> bool {
        matches!(self.kind, Kind::Full(_))
    }

    /// This body compressed with gzip at `level` as it streams.
    pub fn gzip(self, level: u32) -> ResponseBody {
        ResponseBody {
            kind: Kind::Gzip(Box::new(GzipBody::new(self, level))),
            guard: None,
        }
    }

    /// Keeps `guard` alive until the body is dropped (after it was sent).
    pub fn with_guard(
        mut self,
        guard: impl Send + Sync + std::fmt::Debug + 'static,
    ) -> ResponseBody {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl Kind {
    fn normalized(self) -> Kind {
        match self {
            Kind::Full(Some(b)) if b.is_empty() => Kind::Full(None),
            k => k,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Upstream(s) => s.poll(cx),
            Kind::Gzip(g) => Pin::new(g.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Upstream(s) => s.body.as_ref().is_none_or(Body::is_end_stream),
            Kind::Gzip(g) => g.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Upstream(s) => s
                .body
                .as_ref()
                .map_or_else(SizeHint::default, Body::size_hint),
            Kind::Gzip(g) => g.size_hint(),
        }
    }
}

impl UpstreamStream {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(&mut *body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.body = None;
        }
        polled
    }
}

impl Drop for UpstreamStream {
    fn drop(&mut self) {
        if !self.drain_on_drop {
            return;
        }
        let Some(body) = self.body.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(drain(body, self.idle, self.active.take()));
    }
}

/// Reads a target's body to its end (nothing to send it to), so that its
/// connection can go back to its pool; gives up after `idle` without data.
async fn drain(mut body: UpstreamBody, idle: std::time::Duration, active: Option<ActiveRequest>) {
    use http_body_util::BodyExt;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(idle, body.frame()).await {}
    drop(active);
}
