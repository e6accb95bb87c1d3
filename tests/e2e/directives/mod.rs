//! Every directive of the personalized configuration, shown acting on real
//! traffic, one file per concern; the 30-second timeouts are in
//! `timeouts`, where they run side by side.

mod bodies;
mod connections;
mod error_pages;
mod request_headers;
mod response_headers;
mod timeouts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One listener on `port`, domain `h.test`, rule `/` over `target`, with
/// `custom` as the personalized configuration.
pub fn configured(port: u16, target: SocketAddr, custom: &str) -> String {
    with_custom(&one_rule(port, "h.test", "/", "", &[(target, 10)]), custom)
}

pub fn header<'a>(got: &'a Got, name: &str) -> Vec<&'a str> {
    got.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// Reads one HTTP/1.1 response with a Content-Length body from `stream`.
pub async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned();
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// How long until the peer closes `stream` (reading and discarding).
pub async fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

pub const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n";

/// What an uploading client saw.
pub struct Upload {
    pub response: Vec<u8>,
    /// Body bytes written when the first response byte arrived.
    pub written_at_answer: usize,
    /// Every body byte was written without error.
    pub completed: bool,
}

/// Sends `head`, then `total` body bytes in 64 KiB pieces paced by
/// `pause`, reading the answer at the same time.
pub async fn upload(port: u16, head: String, total: usize, pause: Duration) -> Upload {
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let piece = vec![b'x'; 64 * 1024];
        let mut left = total;
        while left > 0 {
            let n = left.min(piece.len());
            wr.write_all(&piece[..n]).await?;
            w.fetch_add(n, Ordering::Relaxed);
            left -= n;
            tokio::time::sleep(pause).await;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut written_at_answer = usize::MAX;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rd.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                if response.is_empty() {
                    written_at_answer = written.load(Ordering::Relaxed);
                }
                response.extend_from_slice(&chunk[..n]);
                if response.windows(4).any(|w| w == b"\r\n\r\n") && complete(&response) {
                    break;
                }
            }
            _ => break,
        }
    }
    let completed = matches!(writer.await, Ok(Ok(_)));
    Upload {
        response,
        written_at_answer,
        completed,
    }
}

/// Whether `bytes` holds a whole response with a Content-Length body.
pub fn complete(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + len
}

pub fn post_head(length: Option<usize>, extra: &str) -> String {
    match length {
        Some(n) => {
            format!("POST /app/up HTTP/1.1\r\nHost: h.test\r\nContent-Length: {n}\r\n{extra}\r\n")
        }
        None => format!(
            "POST /app/up HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
        ),
    }
}

pub const MIB: usize = 1024 * 1024;
