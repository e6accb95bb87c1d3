//! Opens many HTTP/1.1 keep-alive connections to a proxy, sends one request
//! on each, reads the answer, and then keeps every connection open and idle,
//! so that the proxy's memory per idle connection can be read from /proc.
//!
//! ```text
//! cargo run --release --example idle_conns -- 127.0.0.1:19000 10000
//! ```
//!
//! Arguments: `ADDR N [PATH] [PARALLEL]` (PATH defaults to `/small`,
//! PARALLEL, the connections being opened at once, to 128).
//!
//! When all connections are open it prints one line on stdout,
//! `ready OK FAILED`, then holds them until stdin is closed (or reaches end
//! of file), at most `IDLE_HOLD_SECS` seconds (default 600); then it prints
//! `alive N` (connections the proxy had not closed meanwhile) and exits.
//! Errors go to stderr; the exit status is 1 when any connection failed.
//! The process needs N + a few file descriptors (`ulimit -n`).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Largest answer head read, in bytes.
const MAX_HEAD: usize = 16 * 1024;

fn usage() -> ! {
    eprintln!(
        "usage: idle_conns ADDR N [PATH] [PARALLEL]   (e.g. 127.0.0.1:19000 10000 /small 128)"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 4 {
        usage();
    }
    let addr: SocketAddr = args[0].parse().unwrap_or_else(|_| usage());
    let n: usize = args[1].parse().unwrap_or_else(|_| usage());
    let path = args.get(2).cloned().unwrap_or_else(|| "/small".into());
    let parallel: usize = args
        .get(3)
        .map(|p| p.parse().unwrap_or_else(|_| usage()))
        .unwrap_or(128)
        .max(1);
    let hold = std::env::var("IDLE_HOLD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600u64);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let failed = runtime.block_on(run(addr, n, path, parallel, Duration::from_secs(hold)));
    std::process::exit(i32::from(failed > 0));
}

async fn run(addr: SocketAddr, n: usize, path: String, parallel: usize, hold: Duration) -> usize {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: idle_conns\r\n\r\n");
    let request: &'static [u8] = Box::leak(request.into_bytes().into_boxed_slice());
    let mut open = Vec::with_capacity(n);
    let mut failed = 0usize;
    let mut first_error: Option<String> = None;
    let mut tasks = JoinSet::new();
    let mut started = 0;
    while open.len() + failed < n {
        while started < n && tasks.len() < parallel {
            tasks.spawn(one(addr, request));
            started += 1;
        }
        match tasks.join_next().await {
            Some(Ok(Ok(stream))) => open.push(stream),
            Some(Ok(Err(e))) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Some(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e.to_string());
            }
            None => break,
        }
    }
    if let Some(e) = &first_error {
        eprintln!("idle_conns: {failed} of {n} connections failed; first error: {e}");
    }
    println!("ready {} {failed}", open.len());
    let _ = std::io::stdout().flush();

    // Hold until stdin closes (the harness is done reading /proc) or `hold` passes.
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 256];
    let wait_stdin = async {
        loop {
            match stdin.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(hold, wait_stdin).await;

    // Count connections the proxy kept open: a non-blocking read must find no EOF.
    let mut alive = 0;
    for stream in &open {
        let mut b = [0u8; 1];
        match stream.try_read(&mut b) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => alive += 1,
            _ => {}
        }
    }
    println!("alive {alive}");
    let _ = std::io::stdout().flush();
    failed
}

/// Connects, sends one request, reads its whole answer (which must be a
/// 200 with a Content-Length) and returns the open connection.
async fn one(addr: SocketAddr, request: &'static [u8]) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let (head_len, body_len) = loop {
        if buf.len() > MAX_HEAD {
            return Err("answer head too large".into());
        }
        let mut chunk = [0u8; 4096];
        let got = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if got == 0 {
            return Err("connection closed before the answer ended".into());
        }
        buf.extend_from_slice(&chunk[..got]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| "answer head not UTF-8")?;
            let status = head.split(' ').nth(1).unwrap_or("");
            if status != "200" {
                return Err(format!(
                    "status {status}: {}",
                    head.lines().next().unwrap_or("")
                ));
            }
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .ok_or("answer without Content-Length")?;
            if head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .any(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("connection")
                        && v.trim().eq_ignore_ascii_case("close")
                })
            {
                return Err("answer closes the connection (keep-alive off?)".into());
            }
            break (end + 4, length);
        }
    };
    let mut have = buf.len() - head_len;
    while have < body_len {
        let mut chunk = [0u8; 4096];
        let got = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read body: {e}"))?;
        if got == 0 {
            return Err("connection closed inside the body".into());
        }
        have += got;
    }
    Ok(stream)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
