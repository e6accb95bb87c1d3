//! Splicing two byte streams after an upgrade (WebSocket), both ways, until
//! either side closes or nothing moves for the idle timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Copies `a` ↔ `b` until both directions end, until either fails, or
/// until no byte has moved either way for `idle`. Returns the bytes
/// delivered (a→b, b→a), however the tunnel ended.
pub(crate) async fn splice<A, B>(a: A, b: B, idle: Duration) -> (u64, u64)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let clock = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    let mut a = Stamped {
        inner: a,
        clock: clock.clone(),
        written: 0,
    };
    let mut b = Stamped {
        inner: b,
        clock: clock.clone(),
        written: 0,
    };
    {
        let copy = tokio::io::copy_bidirectional(&mut a, &mut b);
        tokio::select! {
            _ = copy => {}
            () = clock.idle_for(idle) => {}
        }
    }
    (b.written, a.written)
}

struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A stream that records when bytes move, and counts those written to it.
struct Stamped<T> {
    inner: T,
    clock: Arc<Activity>,
    written: u64,
}

impl<T: AsyncRead + Unpin> AsyncRead for Stamped<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.touch();
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stamped<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            this.written += n as u64;
            this.clock.touch();
        }
        res
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `up` from `client` to `server` and `down` back, through a
    /// tunnel between them, and checks both arrive whole.
    async fn exchange(
        client: &mut tokio::io::DuplexStream,
        server: &mut tokio::io::DuplexStream,
        up: &[u8],
        down: &[u8],
    ) {
        client.write_all(up).await.unwrap();
        let mut buf = vec![0u8; up.len()];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, up);
        server.write_all(down).await.unwrap();
        let mut buf = vec![0u8; down.len()];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, down);
    }

    #[tokio::test]
    async fn bytes_cross_both_ways_until_close() {
        let (mut client, a) = tokio::io::duplex(64);
        let (b, mut server) = tokio::io::duplex(64);
        let task = tokio::spawn(splice(a, b, Duration::from_secs(5)));
        exchange(&mut client, &mut server, b"ping", b"pong!").await;
        drop(client);
        drop(server);
        assert_eq!(task.await.unwrap(), (4, 5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_tunnel_closes_after_the_timeout() {
        let (_client, a) = tokio::io::duplex(64);
        let (b, _server) = tokio::io::duplex(64);
        let started = Instant::now();
        splice(a, b, Duration::from_secs(30)).await;
        assert!(started.elapsed() >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tunnel_closed_by_its_idle_timeout_still_counts_its_bytes() {
        let (mut client, a) = tokio::io::duplex(64);
        let (b, mut server) = tokio::io::duplex(64);
        let task = tokio::spawn(splice(a, b, Duration::from_secs(30)));
        exchange(&mut client, &mut server, b"hello", b"hi").await;
        // Both ends stay open: only the idle timeout ends the tunnel.
        assert_eq!(task.await.unwrap(), (5, 2));
    }
}
