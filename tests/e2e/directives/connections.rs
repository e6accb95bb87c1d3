//! keepalive_timeout, keepalive_requests, send_timeout,
//! proxy_connect_timeout, proxy_buffers, proxy_ignore_client_abort, and
//! the values handed to the TLS work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::support::*;

#[tokio::test]
async fn keepalive_timeout_0_disables_keep_alive_and_1s_closes_an_idle_connection() {
    let b = Backend::start("b").await;
    let (zero, one, default) = (free_port(), free_port(), free_port());
    let _zero = Stgw::start(&configured(zero, b.addr, "keepalive_timeout 0;"));
    let _one = Stgw::start(&configured(one, b.addr, "keepalive_timeout 1s;"));
    let _default = Stgw::start(&configured(default, b.addr, ""));

    let mut s = TcpStream::connect(local(zero)).await.unwrap();
    s.write_all(GET).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert!(
        time_to_close(&mut s, Duration::from_secs(2))
            .await
            .is_some()
    );

    let mut s = TcpStream::connect(local(one)).await.unwrap();
    s.write_all(GET).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(
        !resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    let idle = time_to_close(&mut s, Duration::from_secs(5))
        .await
        .expect("closed when idle");
    assert!(
        idle >= Duration::from_millis(800) && idle < Duration::from_secs(3),
        "{idle:?}"
    );

    let mut s = TcpStream::connect(local(default)).await.unwrap();
    s.write_all(GET).await.unwrap();
    read_response(&mut s).await;
    assert!(
        time_to_close(&mut s, Duration::from_secs(3))
            .await
            .is_none(),
        "75 s by default"
    );
}

#[tokio::test]
async fn keepalive_requests_closes_the_connection_after_that_many_requests() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "keepalive_requests 2;"));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET).await.unwrap();
    let first = read_response(&mut s).await;
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    s.write_all(GET).await.unwrap();
    let second = read_response(&mut s).await;
    assert!(
        second.to_ascii_lowercase().contains("connection: close"),
        "{second}"
    );
    assert!(
        time_to_close(&mut s, Duration::from_secs(2))
            .await
            .is_some()
    );

    // An HTTP/1.0 client that asks for keep-alive (ab -k) is told plainly:
    // `keep-alive`, then `close` alone on the last answer.
    const GET_10: &[u8] = b"GET / HTTP/1.0\r\nHost: h.test\r\nConnection: keep-alive\r\n\r\n";
    let connection = |resp: &str| {
        resp.lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
            .map(|(_, value)| value.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET_10).await.unwrap();
    let first = read_response(&mut s).await;
    assert_eq!(connection(&first), ["keep-alive"], "{first}");
    s.write_all(GET_10).await.unwrap();
    let second = read_response(&mut s).await;
    assert_eq!(connection(&second), ["close"], "{second}");
    assert!(
        time_to_close(&mut s, Duration::from_secs(2))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn send_timeout_closes_a_connection_whose_client_stops_reading() {
    let written = Arc::new(AtomicUsize::new(0));
    let target = counting_target(64 * MIB, written, Arc::default()).await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, target.addr, "send_timeout 1s;"));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut total = 0usize;
    let mut chunk = vec![0u8; 65536];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(
        total > 0 && total < 64 * MIB,
        "read {total} bytes before stgw gave up on the client"
    );
}

#[tokio::test]
async fn send_timeout_closes_an_http2_connection_whose_client_opens_no_window() {
    // An HTTP/2 client that never reads its answer stalls it in flow
    // control, not in the socket: stgw's writes never block. As nginx,
    // send_timeout still ends it, and the target connection with it.
    let written = Arc::new(AtomicUsize::new(0));
    let target = counting_target(256 * MIB, written.clone(), Arc::default()).await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, target.addr, "send_timeout 1s;"));
    let tcp = TcpStream::connect(local(port)).await.unwrap();
    let mut h2 = h2_client(tcp).await;
    let request = http::Request::get("/")
        .header("host", "h.test")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    // The answer's body is never polled: the client sends no WINDOW_UPDATE.
    let answer = h2.send_request(request).await.unwrap();
    assert_eq!(answer.status(), 200);
    let started = Instant::now();
    while !h2.is_closed() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        h2.is_closed(),
        "the connection is still open after {:?} without a window",
        started.elapsed()
    );
    assert!(written.load(Ordering::Relaxed) < 256 * MIB);
    drop(answer);
}

#[tokio::test]
async fn proxy_connect_timeout_bounds_the_connect_to_a_target() {
    let blackhole = Blackhole::start().await;
    let port = free_port();
    let toml = with_custom(
        &one_rule(
            port,
            "h.test",
            "/",
            "health_check = { enabled = false }",
            &[(blackhole.addr, 10)],
        ),
        "proxy_connect_timeout 4s;",
    );
    let _stgw = Stgw::start(&toml);
    let started = Instant::now();
    let got = get(local(port), "h.test", "/").await;
    let waited = started.elapsed();
    assert_eq!(got.status, 504);
    assert!(
        waited >= Duration::from_millis(3900) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    drop(blackhole);
}

/// A target that reports, after receiving a request and being told the
/// client is gone, whether stgw closed the connection (`true`) or kept
/// it and read the answer (`false`).
async fn abort_watching_target(
    got_request: tokio::sync::mpsc::Sender<()>,
    client_gone: Arc<tokio::sync::Notify>,
    closed: tokio::sync::mpsc::Sender<bool>,
) -> RawBackend {
    RawBackend::start(move |_req, mut stream: TcpStream| {
        let (got_request, client_gone, closed) =
            (got_request.clone(), client_gone.clone(), closed.clone());
        async move {
            let _ = got_request.send(()).await;
            client_gone.notified().await;
            let mut buf = [0u8; 16];
            let eof = matches!(
                tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
                Ok(Ok(0)) | Ok(Err(_))
            );
            if eof {
                let _ = closed.send(true).await;
                return;
            }
            let body = vec![b'r'; 256 * 1024];
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let wrote = stream.write_all(head.as_bytes()).await.is_ok()
                && stream.write_all(&body).await.is_ok();
            // Read to the end, the connection goes back to stgw's pool: open.
            let kept = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf))
                .await
                .is_err();
            let _ = closed.send(!(wrote && kept)).await;
        }
    })
    .await
}

#[tokio::test]
async fn proxy_ignore_client_abort_decides_whether_a_client_abort_cancels_the_target_request() {
    for (setting, cancelled) in [("off", true), ("on", false)] {
        let (req_tx, mut req_rx) = tokio::sync::mpsc::channel(1);
        let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel(1);
        let gone = Arc::new(tokio::sync::Notify::new());
        let target = abort_watching_target(req_tx, gone.clone(), closed_tx).await;
        let port = free_port();
        let custom = format!("proxy_ignore_client_abort {setting};");
        let _stgw = Stgw::start(&configured(port, target.addr, &custom));
        let mut s = TcpStream::connect(local(port)).await.unwrap();
        s.write_all(GET).await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), req_rx.recv())
            .await
            .unwrap();
        drop(s);
        tokio::time::sleep(Duration::from_millis(200)).await;
        gone.notify_one();
        let closed = tokio::time::timeout(Duration::from_secs(5), closed_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed, cancelled, "proxy_ignore_client_abort {setting}");
    }
}

/// A target that answers `size` bytes and counts how many it has written.
async fn counting_target(
    size: usize,
    written: Arc<AtomicUsize>,
    finished: Arc<AtomicBool>,
) -> RawBackend {
    RawBackend::start(move |_req, mut stream: TcpStream| {
        let (written, finished) = (written.clone(), finished.clone());
        async move {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let piece = vec![b'd'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(piece.len());
                if stream.write_all(&piece[..n]).await.is_err() {
                    return;
                }
                written.fetch_add(n, Ordering::Relaxed);
                left -= n;
            }
            finished.store(true, Ordering::Relaxed);
        }
    })
    .await
}

#[tokio::test]
async fn proxy_buffers_bound_what_is_read_from_the_target_ahead_of_a_slow_client() {
    let written = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let size = 128 * MIB;
    let target = counting_target(size, written.clone(), finished.clone()).await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(
        port,
        target.addr,
        "proxy_buffers 3 4k; proxy_buffer_size 1k;",
    ));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(GET).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Only socket buffers (a few MiB per hop on loopback) and stgw's bounded
    // buffers hold the answer while the client does not read.
    let ahead = written.load(Ordering::Relaxed);
    assert!(
        ahead < 48 * MIB,
        "the target wrote {ahead} bytes ahead of the client"
    );
    assert!(!finished.load(Ordering::Relaxed));
    let mut total = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        total += n;
        if total >= size {
            break;
        }
    }
    assert!(
        total >= size,
        "the whole answer arrives once the client reads"
    );
}

#[tokio::test]
async fn ssl_verify_depth_and_the_other_values_reach_the_running_listener() {
    let b = Backend::start("b").await;
    let port = free_port();
    let stgw = Stgw::start(&configured(
        port,
        b.addr,
        "ssl_verify_depth 4; proxy_buffers 4 8k; proxy_buffer_size 8k;",
    ));
    let snapshot = stgw.runtime.snapshot();
    let custom = &snapshot.listeners[0].custom;
    assert_eq!(custom.ssl_verify_depth, 4);
    assert_eq!(
        (custom.proxy_buffers.count, custom.proxy_buffers.size),
        (4, 8 * 1024)
    );
    assert_eq!(custom.proxy_buffer_size, 8 * 1024);
}
