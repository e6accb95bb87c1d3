//! Response bodies towards clients.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use super::gzip::GzipBody;
use crate::balance::ActiveRequest;
use crate::listener::conn::RequestGuard;
use crate::observe::Finish;
use crate::upstream::UpstreamBody;

/// Boxed error type of bodies.
pub(crate) use crate::upstream::BoxError;

/// A response body: stgw's own bytes or a target's stream, possibly
/// compressed. An observed body (the client's answer) counts the bytes it
/// yields and, when dropped, tells its request's [`Finish`] (metrics and
/// the access log).
///
/// Kept small (the large parts are boxed): a response moves by value from
/// the pipeline into hyper, several times on every request.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    kind: Kind,
    /// Data bytes yielded so far.
    sent: u64,
    observed: Option<Box<Observed>>,
}

/// The end of a request, waiting for its body to be over.
#[derive(Debug)]
struct Observed {
    finish: Finish,
    /// Ended after `finish` is done.
    guard: RequestGuard,
    /// HTTP/2: a data frame was yielded and the next one not asked for
    /// yet (counted on the connection for `send_timeout`).
    waiting: bool,
}

impl Observed {
    /// The body is being asked for its next frame.
    fn resume(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.guard.answer_resumed();
        }
    }

    /// The body yielded a data frame: until the next poll, it waits for
    /// the client.
    fn wait(&mut self) {
        if !self.waiting {
            self.waiting = self.guard.answer_waits();
        }
    }

    /// The request is over: `sent` body bytes went to the client; the
    /// target's answer ended at `upstream_end` (else now).
    fn end(mut self, sent: u64, upstream_end: Option<std::time::Instant>) {
        self.resume();
        let now = self.finish.done(sent, upstream_end);
        self.guard.end_at(now);
    }
}

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Upstream(Box<UpstreamStream>),
    Gzip(Box<GzipBody<ResponseBody>>),
    /// The (empty) body of an answer that opens a tunnel: its request is
    /// finished by the tunnel when it closes, through this sender.
    Tunnel(Option<oneshot::Sender<Box<Observed>>>),
}

/// The tunnel's side of a [`ResponseBody::tunnel`]: once the tunnel has
/// closed, it finishes the request that opened it, so that its metrics and
/// access-log record cover the tunnel's life (as nginx's do). Until then
/// the request stays in flight on its connection: an HTTP/2 connection
/// whose only stream is a tunnel is not idle.
#[derive(Debug)]
pub(crate) struct TunnelEnd(oneshot::Receiver<Box<Observed>>);

impl TunnelEnd {
    /// The tunnel closed after sending `sent` bytes to the client: counts
    /// and logs its request (once the answer that opened it is done with).
    pub(crate) async fn closed(self, sent: u64) {
        if let Ok(observed) = self.0.await {
            observed.end(sent, None);
        }
    }
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
    /// When the target's body ended (`upstream_response_time`).
    ended: Option<std::time::Instant>,
}

impl ResponseBody {
    /// A body of known bytes.
    pub(crate) fn full(bytes: Bytes) -> ResponseBody {
        ResponseBody {
            kind: Kind::Full(Some(bytes)).normalized(),
            sent: 0,
            observed: None,
        }
    }

    /// A target's body (which bounds each read by `proxy_read_timeout`
    /// itself). With `drain_on_drop`, a body dropped before its end is read
    /// to the end in a background task, giving up after `idle` without
    /// data (`proxy_ignore_client_abort on`).
    pub(crate) fn upstream(
        body: UpstreamBody,
        idle: std::time::Duration,
        active: ActiveRequest,
        drain_on_drop: bool,
    ) -> ResponseBody {
        ResponseBody {
            kind: Kind::Upstream(Box::new(UpstreamStream {
                body: Some(body),
                idle,
                active: Some(active),
                drain_on_drop,
                ended: None,
            })),
            sent: 0,
            observed: None,
        }
    }

    /// The empty body of an answer that opens a tunnel (a 101, or HTTP/2's
    /// 200 to a CONNECT). When it is dropped, its request's [`Finish`]
    /// (and its place among the connection's requests in flight) goes to
    /// the returned [`TunnelEnd`] instead of being done at once.
    pub(crate) fn tunnel() -> (ResponseBody, TunnelEnd) {
        let (tx, rx) = oneshot::channel();
        let body = ResponseBody {
            kind: Kind::Tunnel(Some(tx)),
            sent: 0,
            observed: None,
        };
        (body, TunnelEnd(rx))
    }

    /// Whether this is stgw's own answer (not a target's body).
    pub(crate) fn is_own(&self) -> bool {
        matches!(self.kind, Kind::Full(_))
    }

    /// This body compressed with gzip at `level` as it streams.
    pub(crate) fn gzip(self, level: u32) -> ResponseBody {
        ResponseBody {
            kind: Kind::Gzip(Box::new(GzipBody::new(self, level))),
            sent: 0,
            observed: None,
        }
    }

    /// Counts this body's bytes and, when it is dropped (sent, or
    /// abandoned), completes its request with `finish`; `guard` lives
    /// until then.
    pub(crate) fn observed(mut self, finish: Finish, guard: RequestGuard) -> ResponseBody {
        self.observed = Some(Box::new(Observed {
            finish,
            guard,
            waiting: false,
        }));
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

    /// When the target's body ended, if this is a target's body that did.
    fn upstream_end(&self) -> Option<std::time::Instant> {
        match self {
            Kind::Full(_) | Kind::Tunnel(_) => None,
            Kind::Upstream(s) => s.ended,
            Kind::Gzip(g) => g.inner().kind.upstream_end(),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let Some(mut observed) = self.observed.take() else {
            return;
        };
        if let Kind::Tunnel(tunnel) = &mut self.kind
            && let Some(tunnel) = tunnel.take()
        {
            match tunnel.send(observed) {
                // The tunnel finishes the request when it closes.
                Ok(()) => return,
                // The tunnel is already gone.
                Err(unsent) => observed = unsent,
            }
        }
        observed.end(self.sent, self.kind.upstream_end());
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(observed) = this.observed.as_mut() {
            observed.resume();
        }
        let polled = match &mut this.kind {
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Upstream(s) => s.poll(cx),
            Kind::Gzip(g) => Pin::new(g.as_mut()).poll_frame(cx),
            Kind::Tunnel(_) => Poll::Ready(None),
        };
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.sent += data.len() as u64;
            if let Some(observed) = this.observed.as_mut() {
                observed.wait();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Upstream(s) => s.body.as_ref().is_none_or(Body::is_end_stream),
            Kind::Gzip(g) => g.is_end_stream(),
            Kind::Tunnel(_) => true,
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
            Kind::Tunnel(_) => SizeHint::with_exact(0),
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
            self.ended = Some(std::time::Instant::now());
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
