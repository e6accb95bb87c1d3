//! Response bodies towards clients.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::balance::ActiveRequest;
use crate::idle::IdleTimer;
use crate::upstream::PooledConn;

/// Boxed error type of bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: stgw's own bytes or a target's stream.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    guard: Option<Box<dyn Send + Sync + std::fmt::Debug>>,
}

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Upstream(UpstreamStream),
}

/// A target's response body: read with `proxy_read_timeout` between pieces;
/// at its end the connection returns to its pool.
#[derive(Debug)]
struct UpstreamStream {
    body: Incoming,
    conn: Option<PooledConn>,
    timer: IdleTimer,
    _active: ActiveRequest,
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

    /// A target's body. `conn` goes back to its pool at the end;
    /// `read_timeout` bounds the wait for each piece.
    pub fn upstream(
        body: Incoming,
        conn: PooledConn,
        read_timeout: std::time::Duration,
        active: ActiveRequest,
    ) -> ResponseBody {
        ResponseBody {
            kind: Kind::Upstream(UpstreamStream {
                body,
                conn: Some(conn),
                timer: IdleTimer::new(read_timeout),
                _active: active,
            }),
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
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Upstream(s) => s.body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Upstream(s) => s.body.size_hint(),
        }
    }
}

impl UpstreamStream {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.activity();
                if self.body.is_end_stream() {
                    self.release();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.conn = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                self.release();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.timer.poll_expired(cx) {
                    self.conn = None;
                    return Poll::Ready(Some(Err(
                        "upstream read timed out (proxy_read_timeout)".into()
                    )));
                }
                Poll::Pending
            }
        }
    }

    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.release();
        }
    }
}
