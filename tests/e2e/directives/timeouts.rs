//! Timeouts whose smallest allowed value is 30 s: each test waits once,
//! and the test harness runs them side by side.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::support::*;

/// Everything the server sends until it closes, and when it closed.
async fn read_until_close(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut chunk)).await {
            Err(_) => return (out, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(start.elapsed())),
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

fn about_30s(waited: Option<Duration>) -> bool {
    waited.is_some_and(|w| w >= Duration::from_secs(29) && w < Duration::from_secs(45))
}

#[tokio::test]
async fn client_header_timeout_closes_a_connection_whose_head_does_not_arrive() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "client_header_timeout 30s;"));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: h.t").await.unwrap();
    let (out, waited) = read_until_close(&mut s, Duration::from_secs(50)).await;
    assert!(about_30s(waited), "{waited:?}");
    assert!(
        out.is_empty(),
        "nginx closes without an answer (logged as 408)"
    );
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn client_header_timeout_bounds_the_next_head_on_a_keep_alive_connection() {
    // The header clock starts at the next request's first byte, earlier
    // than the 100 s keep-alive deadline the idle connection waits for.
    let b = Backend::start("b").await;
    let port = free_port();
    let custom = "client_header_timeout 30s; keepalive_timeout 100s;";
    let _stgw = Stgw::start(&configured(port, b.addr, custom));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: h.t").await.unwrap();
    let (out, waited) = read_until_close(&mut s, Duration::from_secs(60)).await;
    assert!(about_30s(waited), "{waited:?}");
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert_eq!(b.hits(), 1);
}

#[tokio::test]
async fn client_body_timeout_answers_408_and_closes_buffered_or_streamed() {
    let b = Backend::start("b").await;
    let (buffered, streamed) = (free_port(), free_port());
    let _a = Stgw::start(&configured(buffered, b.addr, "client_body_timeout 30s;"));
    let _b = Stgw::start(&configured(
        streamed,
        b.addr,
        "client_body_timeout 30s; proxy_request_buffering off;",
    ));
    let stall = |port: u16| async move {
        let mut s = TcpStream::connect(local(port)).await.unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 10\r\n\r\nhello")
            .await
            .unwrap();
        read_until_close(&mut s, Duration::from_secs(50)).await
    };
    let ((out_a, waited_a), (out_b, waited_b)) = tokio::join!(stall(buffered), stall(streamed));
    for (out, waited) in [(out_a, waited_a), (out_b, waited_b)] {
        assert!(about_30s(waited), "{waited:?}");
        assert_eq!(raw_status(&out), 408);
        assert!(
            String::from_utf8_lossy(&out)
                .to_ascii_lowercase()
                .contains("connection: close")
        );
    }
}

#[tokio::test]
async fn proxy_send_timeout_gives_504_when_the_target_stops_reading_the_body() {
    // Reads the head, then nothing.
    let target = RawBackend::start(|_req, stream: TcpStream| async move {
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(stream);
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(
        port,
        target.addr,
        "proxy_send_timeout 30s; client_max_body_size 64m;",
    ));
    let size = 48 * 1024 * 1024;
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b'p'; 1024 * 1024];
    for _ in 0..48 {
        s.write_all(&piece).await.unwrap();
    }
    let (out, waited) = read_until_close(&mut s, Duration::from_secs(60)).await;
    assert_eq!(raw_status(&out), 504, "{}", String::from_utf8_lossy(&out));
    // stgw took the whole body at once; the target stalled within it.
    assert!(about_30s(waited), "{waited:?}");
}

#[tokio::test]
async fn proxy_read_timeout_starts_once_the_body_is_sent() {
    // A streamed upload that takes longer than proxy_read_timeout must not
    // time out while the target is still reading it.
    let target = RawBackend::start(|req, mut stream: TcpStream| async move {
        let length: Option<usize> = req.header("content-length").and_then(|v| v.parse().ok());
        let mut body = req.rest.clone();
        let mut chunk = [0u8; 4096];
        let complete = |body: &[u8]| match length {
            Some(n) => body.len() >= n,
            None => body.ends_with(b"0\r\n\r\n"),
        };
        while !complete(&body) {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
            .await;
    })
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(
        port,
        target.addr,
        "proxy_read_timeout 30s; proxy_request_buffering off; client_body_timeout 60s;",
    ));
    let mut s = TcpStream::connect(local(port)).await.unwrap();
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\nContent-Length: 36\r\n\r\n",
    )
    .await
    .unwrap();
    let started = Instant::now();
    for _ in 0..36 {
        s.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(started.elapsed() > Duration::from_secs(35));
    let (out, _) = read_until_close(&mut s, Duration::from_secs(5)).await;
    assert_eq!(raw_status(&out), 200, "{}", String::from_utf8_lossy(&out));
}
